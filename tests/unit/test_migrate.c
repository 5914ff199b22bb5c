/* migrate/'s protocol without CRIU: an image tree sent and received over a socketpair comes back byte for
 * byte, names and link targets that would leave the image directory are refused, addresses and the figures
 * line; the conntrack entries a migration carries, made and read back in a network namespace of their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sched.h>

#include "migrate/internal.h"
#include "netns/netns.h"
#include "util/util.h"

static void test_names(void **state)
{
    (void) state;
    assert_true(mig_name_ok("final"));
    assert_true(mig_name_ok("1/pages-1.img"));
    assert_true(mig_name_ok("a/.hidden"));
    assert_false(mig_name_ok(""));
    assert_false(mig_name_ok("/etc/passwd"));
    assert_false(mig_name_ok(".."));
    assert_false(mig_name_ok("1/../../x"));
    assert_false(mig_name_ok("1//x"));
    assert_false(mig_name_ok("1/"));
    assert_false(mig_name_ok("./x"));
}

static void test_addresses(void **state)
{
    struct sockaddr_storage addr;
    socklen_t len = 0;
    struct brig_err *err = NULL;

    (void) state;
    assert_int_equal(brig_migrate_parse_address("tcp:127.0.0.1:7000", true, &addr, &len, &err), 0);
    assert_int_equal(addr.ss_family, AF_INET);
    assert_int_equal(brig_migrate_parse_address("tcp:[::1]:7000", true, &addr, &len, &err), 0);
    assert_int_equal(addr.ss_family, AF_INET6);
    assert_int_equal(brig_migrate_parse_address("0.0.0.0:7000", false, &addr, &len, &err), 0);
    const char *bad[][2] = {{"127.0.0.1:7000", "not tcp:HOST:PORT"}, {"tcp:127.0.0.1", "not tcp:HOST:PORT"},
                            {"tcp:127.0.0.1:0", "not a number in 1..65535"}, {"tcp:127.0.0.1:+5", "not a number"}};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_true(brig_migrate_parse_address(bad[i][0], true, &addr, &len, &err) < 0);
        assert_non_null(strstr(err->msg, bad[i][1]));
        brig_err_free(&err);
    }
    /* --listen takes a numeric address only: no resolver behind a bind. */
    assert_true(brig_migrate_parse_address("localhost:7000", false, &addr, &len, &err) < 0);
    brig_err_free(&err);
}

static void test_figures(void **state)
{
    struct brig_migrate_figures f = {.iterations = 2, .bytes = {100, 7}, .n_bytes = 2, .downtime_ms = 5,
                                     .total_ms = 9};
    struct brig_err *err = NULL;
    char *json = NULL;

    (void) state;
    assert_int_equal(brig_migrate_figures_json(&f, &json, &err), 0);
    assert_string_equal(json, "{\"iterations\":2,\"bytes\":[100,7],\"downtime_ms\":5,\"total_ms\":9,"
                              "\"dump_ms\":0,\"rootfs_ms\":0,\"send_ms\":0,\"restore_ms\":0}");
    free(json);
    f.dump_ms = 3;
    f.send_ms = 1;
    f.restore_ms = 1;
    f.pages_ms = 40;
    assert_int_equal(brig_migrate_figures_json(&f, &json, &err), 0);
    assert_string_equal(json, "{\"iterations\":2,\"bytes\":[100,7],\"downtime_ms\":5,\"total_ms\":9,"
                              "\"dump_ms\":3,\"rootfs_ms\":0,\"send_ms\":1,\"restore_ms\":1,\"pages_ms\":40,\"daemon_ms\":0}");
    free(json);
}

static void write_file(const char *path, size_t len)
{
    char *data = malloc(len + 1);
    FILE *f = fopen(path, "w");

    assert_non_null(data);
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        data[i] = (char) (i * 7 + 3);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

static void assert_same_file(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t lx = 0, ly = 0;
    struct brig_err *err = NULL;

    assert_int_equal(brig_read_file_at(AT_FDCWD, a, &x, &lx, &err), 0);
    assert_int_equal(brig_read_file_at(AT_FDCWD, b, &y, &ly, &err), 0);
    assert_int_equal(lx, ly);
    assert_memory_equal(x, y, lx);
    free(x);
    free(y);
}

/* The receiving side, as receive.c runs it: tree entries until ITERATION. */
static int receive_until_iteration(int fd, int base_fd, struct brig_err **err)
{
    struct mig_frame f;
    int ret;

    while ((ret = mig_recv_frame(fd, 10, &f, err)) == 0) {
        if (f.type == MIG_ITERATION)
            return 0;
        ret = mig_recv_tree_entry(fd, base_fd, &f, err);
        if (ret < 0)
            return ret;
    }
    return ret;
}

static void test_tree_roundtrip(void **state)
{
    char src[] = "/tmp/brig-mig-src.XXXXXX", dst[] = "/tmp/brig-mig-dst.XXXXXX", path[256], other[256], link[64];
    int sv[2], src_fd, dst_fd;
    uint64_t bytes = 0;
    struct brig_err *err = NULL;
    pid_t child;
    int status;
    ssize_t n;

    (void) state;
    assert_non_null(mkdtemp(src));
    assert_non_null(mkdtemp(dst));
    snprintf(path, sizeof(path), "%s/1", src);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/2", src);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/1/pages-1.img", src);
    write_file(path, 1000003); /* more than a chunk, not a multiple of one */
    snprintf(path, sizeof(path), "%s/2/empty.img", src);
    write_file(path, 0);
    snprintf(path, sizeof(path), "%s/2/parent", src);
    assert_int_equal(symlink("../1", path), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    src_fd = open(src, O_RDONLY | O_DIRECTORY);
    dst_fd = open(dst, O_RDONLY | O_DIRECTORY);
    /* A child sends: a socketpair's buffer is far smaller than the image. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int ok = mig_send_tree(sv[0], src_fd, "1", &bytes, &err) == 0 &&
                 mig_send_frame(sv[0], MIG_ITERATION, "1", NULL, 0, &err) == 0 &&
                 mig_send_tree(sv[0], src_fd, "2", &bytes, &err) == 0 &&
                 mig_send_frame(sv[0], MIG_ITERATION, "2", NULL, 0, &err) == 0 && bytes == 1000003;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(receive_until_iteration(sv[1], dst_fd, &err), 0);
    assert_int_equal(receive_until_iteration(sv[1], dst_fd, &err), 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(status, 0);
    snprintf(path, sizeof(path), "%s/1/pages-1.img", src);
    snprintf(other, sizeof(other), "%s/1/pages-1.img", dst);
    assert_same_file(path, other);
    snprintf(path, sizeof(path), "%s/2/empty.img", src);
    snprintf(other, sizeof(other), "%s/2/empty.img", dst);
    assert_same_file(path, other);
    snprintf(other, sizeof(other), "%s/2/parent", dst);
    n = readlink(other, link, sizeof(link) - 1);
    assert_int_equal(n, 4);
    link[n] = '\0';
    assert_string_equal(link, "../1");

    /* A link out of the image, a name climbing out, a file that exists: refused, nothing written outside. */
    const struct {
        uint32_t type;
        const char *name, *data, *want;
    } bad[] = {
        {MIG_LINK, "2/evil", "/etc", "only a sibling image directory"},
        {MIG_LINK, "2/evil", "../../x", "only a sibling image directory"},
        {MIG_FILE, "../escape", "x", "not a plain relative name"},
        {MIG_FILE, "1/pages-1.img", "x", "File exists"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct mig_frame f;
        assert_int_equal(mig_send_frame(sv[0], bad[i].type, bad[i].name, bad[i].data, strlen(bad[i].data), &err), 0);
        assert_int_equal(mig_recv_frame(sv[1], 10, &f, &err), 0);
        assert_true(mig_recv_tree_entry(sv[1], dst_fd, &f, &err) < 0);
        assert_non_null(strstr(err->msg, bad[i].want));
        brig_err_free(&err);
        /* What a refused entry left unread: drained so the next frame starts clean. */
        if (i >= 2) {
            char c;
            assert_int_equal(recv(sv[1], &c, 1, 0), 1);
        }
    }
    snprintf(other, sizeof(other), "%s/2/evil", dst);
    assert_int_equal(access(other, F_OK), -1);

    /* A peer closing mid-frame is one clear error. */
    assert_int_equal(mig_send_frame(sv[0], MIG_HELLO, "x", NULL, 0, &err), 0);
    close(sv[0]);
    {
        struct mig_frame f;
        assert_int_equal(mig_recv_frame(sv[1], 10, &f, &err), 0);
        assert_true(mig_recv_frame(sv[1], 10, &f, &err) < 0);
        assert_non_null(strstr(err->msg, "closed the connection"));
        brig_err_free(&err);
    }
    close(sv[1]);
    close(src_fd);
    close(dst_fd);
    brig_remove_tree_at(AT_FDCWD, src, NULL);
    brig_remove_tree_at(AT_FDCWD, dst, NULL);
}

/* In a child's own network namespace: 0 when every check held, 77 when there is no namespace or conntrack to
 * try it in, the failed check's number otherwise. */
static int conntrack_checks(void)
{
    const char *lines = "tcp 10.251.23.2 43071 10.251.24.1 8080 10.89.0.2 80\n"
                        "tcp 10.251.23.2 40000 10.89.0.2 80 10.89.0.2 80\n";
    struct brig_err *err = NULL;
    char *text = NULL;

    if (unshare(CLONE_NEWNET) < 0)
        return 77;
    if (brig_net_conntrack_restore(lines, &err) < 0)
        return err && (err->errnum == EPROTONOSUPPORT || err->errnum == ENOENT) ? 77 : 1;
    /* Read back as the source would: both, the first with the DNAT's reply tuple from the container. */
    if (brig_net_conntrack_save("10.89.0.2", &text, &err) < 0 || !text)
        return 2;
    if (!strstr(text, "tcp 10.251.23.2 43071 10.251.24.1 8080 10.89.0.2 80\n") ||
        !strstr(text, "tcp 10.251.23.2 40000 10.89.0.2 80 10.89.0.2 80\n"))
        return 3;
    free(text);
    text = NULL;
    /* Another container's address: none of these. */
    if (brig_net_conntrack_save("10.89.0.3", &text, &err) < 0 || text)
        return 4;
    /* Made twice (a retried migration): not an error. */
    if (brig_net_conntrack_restore(lines, &err) < 0)
        return 5;
    if (brig_net_conntrack_forget(lines, &err) < 0 || brig_net_conntrack_forget(lines, &err) < 0)
        return 6;
    if (brig_net_conntrack_save("10.89.0.2", &text, &err) < 0 || text)
        return 7;
    if (brig_net_conntrack_restore("tcp 10.251.23.2 x\n", &err) != -EINVAL || !strstr(err->msg, "not a connection line"))
        return 8;
    brig_err_free(&err);
    return 0;
}

static void test_conntrack(void **state)
{
    int status = 0;
    pid_t pid;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(conntrack_checks());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_tree_roundtrip),
        cmocka_unit_test(test_conntrack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
