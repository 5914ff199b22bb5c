/* Helpers of util/ and the id rules of runtime/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdio.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "util/util.h"

static void test_now_rfc3339_is_utc(void **state)
{
    char ours[64], theirs[64];
    time_t before = time(NULL);
    struct tm tm;

    (void) state;
    assert_int_equal(brig_now_rfc3339(ours, sizeof(ours)), 0);
    gmtime_r(&before, &tm);
    strftime(theirs, sizeof(theirs), "%Y-%m-%dT%H:%M", &tm);
    /* Same minute (the test does not straddle one in practice), nanoseconds and a Z. */
    assert_memory_equal(ours, theirs, strlen(theirs));
    assert_int_equal(strlen(ours), strlen("2026-01-01T00:00:00.000000000Z"));
    assert_int_equal(ours[strlen(ours) - 1], 'Z');
    assert_int_equal(brig_now_rfc3339(ours, 10), -ENAMETOOLONG);
}

static void test_error_chain(void **state)
{
    struct brig_err *err = NULL;

    (void) state;
    assert_int_equal(brig_err_set(&err, ENOENT, "open `%s`", "/x"), -ENOENT);
    assert_string_equal(err->msg, "open `/x`: No such file or directory");
    assert_int_equal(brig_err_wrap(&err, -ENOENT, "mounts[%d]", 2), -ENOENT);
    assert_string_equal(err->msg, "mounts[2]: open `/x`: No such file or directory");
    brig_err_free(&err);
    assert_null(err);
    assert_int_equal(brig_err_msg(&err, EEXIST, "container `%s` already exists", "a"), -EEXIST);
    assert_string_equal(err->msg, "container `a` already exists");
    brig_err_free(&err);
    assert_int_equal(brig_err_set(&err, 0, "plain"), -EINVAL);
    assert_string_equal(err->msg, "plain");
    brig_err_free(&err);
}

static void test_error_encoding(void **state)
{
    struct brig_err *err = NULL, *back = NULL;
    char buf[256];
    int len;

    (void) state;
    brig_err_msg(&err, EPERM, "mount `proc` on `/proc`");
    len = brig_err_encode(err, buf, sizeof(buf));
    assert_int_equal(brig_err_decode(&back, buf, len), -EPERM);
    assert_string_equal(back->msg, "mount `proc` on `/proc`");
    brig_err_free(&err);
    brig_err_free(&back);
    assert_true(brig_err_decode(&back, "garbage", 7) < 0);
    brig_err_free(&back);
}

static void test_parse_numbers(void **state)
{
    uint64_t u = 0;
    int64_t i = 0;

    (void) state;
    assert_int_equal(brig_parse_u64("42", &u), 0);
    assert_int_equal(u, 42);
    assert_int_equal(brig_parse_u64("-1", &u), -EINVAL);
    assert_int_equal(brig_parse_u64("4x", &u), -EINVAL);
    assert_int_equal(brig_parse_u64("", &u), -EINVAL);
    assert_int_equal(brig_parse_u64("99999999999999999999999", &u), -ERANGE);
    assert_int_equal(brig_parse_i64("-7", &i), 0);
    assert_int_equal(i, -7);
}

static void test_container_ids(void **state)
{
    struct brig_err *err = NULL;
    const char *good[] = {"a", "web-1", "x.y_z+1", "ABC"};
    const char *bad[] = {"", "a/b", "..", ".hidden", "a b", "a\nb", "é"};

    (void) state;
    for (size_t i = 0; i < ARRAY_SIZE(good); i++)
        assert_int_equal(brig_validate_id(good[i], &err), 0);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_true(brig_validate_id(bad[i], &err) < 0);
        assert_non_null(err);
        assert_null(strchr(err->msg, 0x0a));
        brig_err_free(&err);
    }
}

static void test_signals(void **state)
{
    struct brig_err *err = NULL;
    int sig = 0;

    (void) state;
    assert_int_equal(brig_parse_signal("KILL", &sig, &err), 0);
    assert_int_equal(sig, 9);
    assert_int_equal(brig_parse_signal("sigterm", &sig, &err), 0);
    assert_int_equal(sig, 15);
    assert_int_equal(brig_parse_signal("10", &sig, &err), 0);
    assert_int_equal(sig, 10);
    assert_int_equal(brig_parse_signal("RTMIN+2", &sig, &err), 0);
    assert_true(sig > 32);
    assert_true(brig_parse_signal("NOPE", &sig, &err) < 0);
    assert_string_equal(err->msg, "unknown signal `NOPE`");
    brig_err_free(&err);
    assert_true(brig_parse_signal("999", &sig, &err) < 0);
    brig_err_free(&err);
}

/* Signal 0 probes; realtime offsets are plain digits within SIGRTMIN..SIGRTMAX; anything else is refused
 * rather than read as some other signal. */
static void test_signal_forms(void **state)
{
    enum { ABS, FROM_MIN, FROM_MAX };
    static const struct {
        const char *name;
        int base, n;
    } good[] = {
        {"0", ABS, 0},          {"64", ABS, 64},           {"RTMIN", FROM_MIN, 0},     {"RTMIN+0", FROM_MIN, 0},
        {"rtmin+3", FROM_MIN, 3}, {"SIGRTMIN+30", FROM_MIN, 30}, {"RTMAX", FROM_MAX, 0}, {"SIGRTMAX-0", FROM_MAX, 0},
        {"RTMAX-2", FROM_MAX, 2}, {"sigRtMax-30", FROM_MAX, 30},
    };
    static const char *const bad[] = {
        "RTMIN+-5", "RTMIN+", "RTMAX-", "RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMAX+1", "RTMIN+ 1", "RTMIN++1",
        "RTMIN+0x1", "RTMIN+1x", "RTMIN+99999999999999999999", "RTMAX--3", "RTMINX", "SIGRTMIN+\t1",
        "+9", "-9", "-0", "9x", " 9", "\t9", "65", "99999999999999999999", "0x9", "", "SIG",
        "SIGRTMIN+000000000000000000000000001",
    };

    (void) state;
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        cleanup_err struct brig_err *err = NULL;
        int sig = -1;
        int want = good[i].base == ABS ? good[i].n : good[i].base == FROM_MIN ? SIGRTMIN + good[i].n
                                                                              : SIGRTMAX - good[i].n;

        if (brig_parse_signal(good[i].name, &sig, &err) != 0)
            fail_msg("`%s` was refused: %s", good[i].name, err->msg);
        if (sig != want)
            fail_msg("`%s` is signal %d, expected %d", good[i].name, sig, want);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        cleanup_err struct brig_err *err = NULL;
        int sig = -1;

        if (brig_parse_signal(bad[i], &sig, &err) == 0)
            fail_msg("`%s` was accepted as signal %d", bad[i], sig);
        assert_non_null(err);
        assert_null(strchr(err->msg, '\n'));
    }
}

static void test_atomic_write(void **state)
{
    char dir[] = "/tmp/brig-util-XXXXXX";
    struct brig_err *err = NULL;
    char *text = NULL;
    size_t len = 0;
    char path[64];

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(brig_write_file_atomic_at(AT_FDCWD, path, "hello", 5, 0600, &err), 0);
    assert_int_equal(brig_read_file_at(AT_FDCWD, path, &text, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(text, "hello");
    free(text);
    unlink(path);
    assert_int_equal(brig_read_file_at(AT_FDCWD, path, &text, &len, &err), -ENOENT);
    brig_err_free(&err);
    rmdir(dir);
}

static bool inheritable(int fd)
{
    return fd == 12 || fd == 15 || fd == 17;
}

/* fds 10..19 on /dev/null, close-on-exec but 12, 15 and 17. */
static void open_test_fds(void)
{
    for (int fd = 10; fd < 20; fd++) {
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup3(null_fd, fd, inheritable(fd) ? 0 : O_CLOEXEC) < 0)
            _exit(2);
        close(null_fd);
    }
}

/* In a child: sealing and closing all but some fds, with close_range failing with `errnum` (0: working).
 * The exit status names the first fd found in the wrong state. */
static int close_and_seal_in_child(int errnum)
{
    pid_t pid = fork();
    int status = -1;

    if (pid == 0) {
        int keep[] = {17, 12, -1};
        int keep_inheritable[] = {15};

        if (errnum) {
            scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
            if (!filter || seccomp_rule_add(filter, SCMP_ACT_ERRNO((uint32_t) errnum), SCMP_SYS(close_range), 0) < 0 ||
                prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(filter) < 0)
                _exit(3);
        }
        open_test_fds();
        brig_cloexec_fds_except(keep_inheritable, ARRAY_SIZE(keep_inheritable), 10);
        for (int fd = 10; fd < 20; fd++)
            if (fcntl(fd, F_GETFD) != (fd == 15 ? 0 : FD_CLOEXEC))
                _exit(100 + fd);
        brig_close_fds_except(keep, ARRAY_SIZE(keep), 11);
        for (int fd = 10; fd < 20; fd++)
            if ((fcntl(fd, F_GETFD) >= 0) != (fd == 10 || fd == 12 || fd == 17))
                _exit(120 + fd);
        _exit(0);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

static void test_close_fds_except(void **state)
{
    (void) state;
    assert_int_equal(close_and_seal_in_child(0), 0);
    /* Before Linux 5.9, and under a seccomp profile that denies it. */
    assert_int_equal(close_and_seal_in_child(ENOSYS), 0);
    assert_int_equal(close_and_seal_in_child(EPERM), 0);
}

static void test_fds_below(void **state)
{
    int list[] = {3, 5, 9, 40};
    struct brig_fds fds = {.fds = list, .n = ARRAY_SIZE(list)};

    (void) state;
    assert_int_equal(brig_fds_below(&fds, 3).n, 0);
    assert_int_equal(brig_fds_below(&fds, 6).n, 2);
    assert_int_equal(brig_fds_below(&fds, 41).n, 4);
    assert_int_equal(brig_fds_below(&(struct brig_fds){0}, 10).n, 0);
}


/* A deep tree (far more levels than fds), a directory its owner cannot enter, a symlink out of the tree:
 * everything goes, what the symlink points at stays. */
static void test_remove_tree(void **state)
{
    char dir[] = "/tmp/brig-rmtree-XXXXXX";
    struct brig_err *err = NULL;
    char path[128], outside[128];
    struct stat st;
    int fd;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t", dir);
    snprintf(outside, sizeof(outside), "%s/outside", dir);
    assert_int_equal(brig_write_file_atomic_at(AT_FDCWD, outside, "x", 1, 0644, &err), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    fd = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(symlinkat(outside, fd, "link"), 0);
    assert_int_equal(mkdirat(fd, "locked", 0700), 0);
    assert_int_equal(brig_write_file_atomic_at(fd, "locked/f", "y", 1, 0644, &err), 0);
    assert_int_equal(fchmodat(fd, "locked", 0, 0), 0);
    for (int i = 0; i < 3000; i++) {
        int next;
        assert_int_equal(mkdirat(fd, "d", 0755), 0);
        assert_int_equal(brig_write_file_atomic_at(fd, "f", "z", 1, 0644, &err), 0);
        next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    close(fd);
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, path, &err), 0);
    assert_null(err);
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(stat(outside, &st), 0);
    /* Missing is fine; a file is removed as is. */
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, path, &err), 0);
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, outside, &err), 0);
    assert_int_equal(lstat(outside, &st), -1);
    assert_int_equal(rmdir(dir), 0);
}

/* Another filesystem mounted inside the tree stops the removal there. */
static void test_remove_tree_stops_at_mounts(void **state)
{
    char dir[] = "/tmp/brig-rmtree-XXXXXX";
    struct brig_err *err = NULL;
    char path[128];
    pid_t pid;
    int status;

    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a/m", dir);
    assert_int_equal(brig_mkdir_p(path, 0755, &err), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ret;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", path, "tmpfs", 0, NULL) < 0)
            _exit(77);
        snprintf(path, sizeof(path), "%s/a", dir);
        ret = brig_remove_tree_at(AT_FDCWD, path, &err);
        _exit(ret == -EBUSY && err && strstr(err->msg, "mount point") ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 77)
        assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, dir, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_rfc3339_is_utc), cmocka_unit_test(test_error_chain),
        cmocka_unit_test(test_error_encoding),     cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_container_ids),      cmocka_unit_test(test_signals),
        cmocka_unit_test(test_signal_forms),       cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_close_fds_except),   cmocka_unit_test(test_fds_below),
        cmocka_unit_test(test_remove_tree),        cmocka_unit_test(test_remove_tree_stops_at_mounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
