/* namespaces: plans built from hand-made specs (no parser), id maps of a real user namespace, joining a
 * namespace by path, and time namespace offsets. Work that changes the calling process's namespaces runs
 * in forked children, which report through their exit status. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "namespaces/namespaces.h"
#include "util/util.h"

struct test_spec {
    struct brig_spec spec;
    struct brig_linux linux_cfg;
    struct brig_namespace ns[BRIG_NS__COUNT];
    struct brig_id_mapping uids[4], gids[4];
};

static void spec_init(struct test_spec *t)
{
    memset(t, 0, sizeof(*t));
    t->spec.linux_cfg = &t->linux_cfg;
    t->linux_cfg.namespaces = t->ns;
    t->linux_cfg.uid_mappings = t->uids;
    t->linux_cfg.gid_mappings = t->gids;
}

static void add_ns(struct test_spec *t, enum brig_ns_type type, const char *path)
{
    t->ns[t->linux_cfg.n_namespaces++] = (struct brig_namespace){.type = type, .path = (char *) path};
}

static void add_maps(struct test_spec *t, uint32_t cid, uint32_t hid, uint32_t size)
{
    t->uids[t->linux_cfg.n_uid_mappings++] = (struct brig_id_mapping){cid, hid, size};
    t->gids[t->linux_cfg.n_gid_mappings++] = (struct brig_id_mapping){cid, hid, size};
}

static void expect_all_closed(const struct brig_ns_plan *plan)
{
    for (int i = 0; i < BRIG_NS__COUNT; i++)
        assert_int_equal(plan->join_fds[i], -1);
}

static void expect_plan_error(const struct test_spec *t, const char *want, bool exact)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_ns_plan plan;

    assert_true(brig_ns_plan_init(&t->spec, &plan, &err) < 0);
    assert_non_null(err);
    if (exact)
        assert_string_equal(err->msg, want);
    else if (!strstr(err->msg, want))
        fail_msg("error `%s` lacks `%s`", err->msg, want);
    expect_all_closed(&plan);
}

static void test_clone_flags(void **state)
{
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_PID), CLONE_NEWPID);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_NETWORK), CLONE_NEWNET);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_MOUNT), CLONE_NEWNS);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_IPC), CLONE_NEWIPC);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_UTS), CLONE_NEWUTS);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_USER), CLONE_NEWUSER);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_CGROUP), CLONE_NEWCGROUP);
    assert_int_equal(brig_ns_clone_flag(BRIG_NS_TIME), CLONE_NEWTIME);
}

static void test_plan_new(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    struct test_spec t;
    struct brig_ns_plan plan;

    spec_init(&t);
    for (int i = 0; i < BRIG_NS__COUNT; i++)
        add_ns(&t, (enum brig_ns_type) i, NULL);
    add_maps(&t, 0, 100000, 65536);
    assert_int_equal(brig_ns_plan_init(&t.spec, &plan, &err), 0);
    assert_int_equal(plan.clone_flags,
                     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWUSER);
    assert_true(plan.new_cgroup_ns);
    assert_true(plan.new_time_ns);
    expect_all_closed(&plan);
    brig_ns_plan_release(&plan);

    /* No linux section: no namespaces at all. */
    t.spec.linux_cfg = NULL;
    assert_int_equal(brig_ns_plan_init(&t.spec, &plan, &err), 0);
    assert_int_equal(plan.clone_flags, 0);
    assert_false(plan.new_cgroup_ns || plan.new_time_ns);
    expect_all_closed(&plan);
}

static void test_plan_paths(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    struct test_spec t;
    struct brig_ns_plan plan;

    spec_init(&t);
    add_ns(&t, BRIG_NS_PID, NULL);
    add_ns(&t, BRIG_NS_NETWORK, "/proc/self/ns/net");
    add_ns(&t, BRIG_NS_IPC, "/proc/self/ns/ipc");
    add_ns(&t, BRIG_NS_TIME, "/proc/self/ns/time");
    add_ns(&t, BRIG_NS_CGROUP, "/proc/self/ns/cgroup");
    assert_int_equal(brig_ns_plan_init(&t.spec, &plan, &err), 0);
    assert_int_equal(plan.clone_flags, CLONE_NEWPID);
    assert_false(plan.new_time_ns || plan.new_cgroup_ns);
    assert_true(plan.join_fds[BRIG_NS_NETWORK] >= 0);
    assert_true(plan.join_fds[BRIG_NS_IPC] >= 0);
    assert_true(plan.join_fds[BRIG_NS_TIME] >= 0);
    assert_true(plan.join_fds[BRIG_NS_CGROUP] >= 0);
    assert_int_equal(plan.join_fds[BRIG_NS_PID], -1);
    assert_int_equal(fcntl(plan.join_fds[BRIG_NS_NETWORK], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    brig_ns_plan_release(&plan);
    expect_all_closed(&plan);
}

static void test_plan_errors(void **state)
{
    struct test_spec t;

    spec_init(&t);
    add_ns(&t, BRIG_NS_IPC, "/proc/self/ns/ipc"); /* opened first, closed again on the error */
    add_ns(&t, BRIG_NS_NETWORK, "/proc/999999/ns/net");
    expect_plan_error(&t, "namespace network: open `/proc/999999/ns/net`: No such file or directory", true);

    spec_init(&t);
    add_ns(&t, BRIG_NS_NETWORK, "/proc/self/ns/ipc");
    expect_plan_error(&t, "namespace network: `/proc/self/ns/ipc` is not a network namespace", true);

    spec_init(&t);
    add_ns(&t, BRIG_NS_MOUNT, "/proc/self/status");
    expect_plan_error(&t, "namespace mount: `/proc/self/status` is not a mount namespace", true);

    spec_init(&t);
    add_ns(&t, BRIG_NS_NETWORK, "/proc/self/ns/net");
    add_ns(&t, BRIG_NS_NETWORK, "/proc/self/ns/net");
    expect_plan_error(&t, "linux.namespaces: `network` is listed twice", true);

    spec_init(&t);
    add_ns(&t, BRIG_NS_PID, NULL);
    add_maps(&t, 0, 100000, 65536);
    expect_plan_error(&t, "linux.uidMappings: id mappings need a user namespace", false);

    spec_init(&t);
    add_ns(&t, BRIG_NS_USER, NULL);
    t.gids[t.linux_cfg.n_gid_mappings++] = (struct brig_id_mapping){0, 100000, 65536};
    if (geteuid() == 0)
        expect_plan_error(&t, "namespace user: a new user namespace needs linux.uidMappings", true);
}

/* A child in a new user namespace that waits for its pipe to close, then exits 0 if it can become root
 * inside (which needs uid and gid 0 mapped). */
static char user_stack[64 * 1024] __attribute__((aligned(16)));

static int user_child(void *arg)
{
    int *fds = arg;
    char c;

    close(fds[1]);
    (void) !read(fds[0], &c, 1);
    /* Credentials keep their host values until changed: become the mapped root, as an init would. */
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        return 2;
    return getuid() == 0 && getgid() == 0 ? 0 : 3;
}

static pid_t clone_user_child(int *wfd)
{
    int fds[2];
    pid_t pid;

    *wfd = -1;
    if (pipe(fds) < 0)
        return -1;
    pid = clone(user_child, user_stack + sizeof(user_stack), CLONE_NEWUSER | SIGCHLD, fds);
    close(fds[0]);
    *wfd = fds[1];
    return pid;
}

static void expect_file(pid_t pid, const char *name, const char *want)
{
    char path[64];
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *err = NULL;
    char *p, *q;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
    assert_int_equal(brig_read_file_at(AT_FDCWD, path, &text, NULL, &err), 0);
    /* The kernel pads columns with spaces: squeeze them to compare. */
    for (p = q = text; *p; p++)
        if (!(*p == ' ' && (q == text || q[-1] == ' ' || q[-1] == '\n')))
            *q++ = *p;
    *q = '\0';
    for (p = q = text; *p; p++)
        if (!(*p == ' ' && p[1] == '\n'))
            *q++ = *p;
    *q = '\0';
    assert_string_equal(text, want);
}

static void test_write_id_maps(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    struct test_spec t;
    int wfd, status;
    pid_t pid;

    if (geteuid() != 0)
        skip();
    spec_init(&t);
    add_ns(&t, BRIG_NS_USER, NULL);
    add_maps(&t, 0, 100000, 1000);
    add_maps(&t, 1000, 300000, 10);
    pid = clone_user_child(&wfd);
    assert_true(pid > 0);
    if (brig_ns_write_id_maps(&t.spec, pid, &err) < 0)
        fail_msg("write id maps: %s", err->msg);
    expect_file(pid, "uid_map", "0 100000 1000\n1000 300000 10\n");
    expect_file(pid, "gid_map", "0 100000 1000\n1000 300000 10\n");
    expect_file(pid, "setgroups", "allow\n"); /* root keeps setgroups */

    /* Maps can be written only once: the second attempt names the map and the pid. */
    assert_true(brig_ns_write_id_maps(&t.spec, pid, &err) < 0);
    {
        char want[128];
        snprintf(want, sizeof(want), "write uid map `0 100000 1000, 1000 300000 10` for pid %d: ", (int) pid);
        if (strncmp(err->msg, want, strlen(want)) != 0)
            fail_msg("error `%s` does not start with `%s`", err->msg, want);
    }
    close(wfd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* As an unprivileged user: mapping one's own id is written directly (with setgroups denied); anything
 * else goes through newuidmap, whose complaint ends up in the error. */
static int unprivileged_maps(void)
{
    struct brig_err *err = NULL;
    struct test_spec t;
    char buf[64];
    int wfd, status, fd;
    ssize_t n;
    pid_t pid;

    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        return 10;
    /* Changing ids made us non-dumpable, which would leave our children's /proc files root's. */
    prctl(PR_SET_DUMPABLE, 1);
    spec_init(&t);
    add_ns(&t, BRIG_NS_USER, NULL);
    add_maps(&t, 0, 65534, 1);
    pid = clone_user_child(&wfd);
    if (pid < 0)
        return 11;
    if (brig_ns_write_id_maps(&t.spec, pid, &err) < 0) {
        fprintf(stderr, "self map: %s\n", err->msg);
        return 12;
    }
    snprintf(buf, sizeof(buf), "/proc/%d/setgroups", (int) pid);
    fd = open(buf, O_RDONLY);
    n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (n != 5 || strncmp(buf, "deny\n", 5) != 0)
        return 13;
    close(wfd);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 14;

    spec_init(&t);
    add_ns(&t, BRIG_NS_USER, NULL);
    add_maps(&t, 0, 100000, 65536);
    pid = clone_user_child(&wfd);
    if (pid < 0)
        return 15;
    if (brig_ns_write_id_maps(&t.spec, pid, &err) == 0)
        return 16;
    snprintf(buf, sizeof(buf), "write uid map `0 100000 65536` for pid %d: newuidmap: ", (int) pid);
    if (strncmp(err->msg, buf, strlen(buf)) != 0) {
        fprintf(stderr, "unexpected: %s\n", err->msg);
        return 17;
    }
    brig_err_free(&err);
    close(wfd);
    waitpid(pid, &status, 0);
    return 0;
}

static void test_write_id_maps_unprivileged(void **state)
{
    int status;
    pid_t pid;

    if (geteuid() != 0)
        skip(); /* needs a user to drop to */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(unprivileged_maps());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Joins the uts namespace of a holder process by path and sees its hostname. */
static int join_uts(pid_t holder)
{
    struct brig_err *err = NULL;
    struct test_spec t;
    struct brig_ns_plan plan;
    char path[64], name[64];

    snprintf(path, sizeof(path), "/proc/%d/ns/uts", (int) holder);
    spec_init(&t);
    add_ns(&t, BRIG_NS_UTS, path);
    if (brig_ns_plan_init(&t.spec, &plan, &err) < 0)
        return 20;
    if (plan.clone_flags != 0)
        return 21;
    if (brig_ns_join_in_child(&plan, &err) < 0) {
        fprintf(stderr, "join: %s\n", err->msg);
        return 22;
    }
    brig_ns_plan_release(&plan);
    if (gethostname(name, sizeof(name)) < 0 || strcmp(name, "brig-ns-test") != 0)
        return 23;
    return 0;
}

static void test_join_by_path(void **state)
{
    int fds[2], status;
    pid_t holder, joiner;
    char c;

    if (geteuid() != 0)
        skip();
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        close(fds[1]);
        if (unshare(CLONE_NEWUTS) < 0 || sethostname("brig-ns-test", 12) < 0)
            _exit(1);
        (void) !read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    /* Wait until the holder has its namespace: its uts inode differs from ours. */
    for (int i = 0; i < 1000; i++) {
        char path[64];
        struct stat mine, theirs;
        snprintf(path, sizeof(path), "/proc/%d/ns/uts", (int) holder);
        if (stat("/proc/self/ns/uts", &mine) == 0 && stat(path, &theirs) == 0 && mine.st_ino != theirs.st_ino)
            break;
        usleep(1000);
    }
    usleep(10000); /* and has set the hostname */
    joiner = fork();
    assert_true(joiner >= 0);
    if (joiner == 0)
        _exit(join_uts(holder));
    assert_int_equal(waitpid(joiner, &status, 0), joiner);
    close(fds[1]);
    waitpid(holder, NULL, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int plain_waiter(void *arg)
{
    int *fds = arg;
    char c;

    close(fds[1]);
    (void) !read(fds[0], &c, 1);
    return 0;
}

/* Joins the pid namespace of `target` (its init) for children, then forks: the child gets a small pid. */
static int join_pid(pid_t target)
{
    struct brig_err *err = NULL;
    struct test_spec t;
    struct brig_ns_plan plan;
    struct stat want, got;
    char path[64];
    int fds[2], status;
    pid_t inner, child;

    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) target);
    spec_init(&t);
    add_ns(&t, BRIG_NS_PID, path);
    if (brig_ns_plan_init(&t.spec, &plan, &err) < 0 || plan.clone_flags != 0)
        return 40;
    if (brig_ns_prepare_parent(&t.spec, &plan, &err) < 0) {
        fprintf(stderr, "prepare: %s\n", err->msg);
        return 41;
    }
    if (stat(path, &want) < 0 || stat("/proc/self/ns/pid_for_children", &got) < 0 || want.st_ino != got.st_ino)
        return 42;
    if (pipe(fds) < 0)
        return 43;
    child = fork();
    if (child == 0) {
        pid_t me = getpid();
        (void) !write(fds[1], &me, sizeof(me));
        _exit(0);
    }
    if (child < 0 || read(fds[0], &inner, sizeof(inner)) != sizeof(inner))
        return 44;
    waitpid(child, &status, 0);
    return inner > 1 && inner < 100 && inner != child ? 0 : 45;
}

static void test_join_pid_ns(void **state)
{
    static char stack[64 * 1024] __attribute__((aligned(16)));
    int fds[2], status;
    pid_t init, joiner;

    if (geteuid() != 0)
        skip();
    assert_int_equal(pipe(fds), 0);
    init = clone(plain_waiter, stack + sizeof(stack), CLONE_NEWPID | SIGCHLD, fds);
    assert_true(init > 0);
    close(fds[0]);
    joiner = fork();
    assert_true(joiner >= 0);
    if (joiner == 0)
        _exit(join_pid(init));
    assert_int_equal(waitpid(joiner, &status, 0), joiner);
    close(fds[1]);
    waitpid(init, NULL, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Creates a time namespace with offsets, then compares a grandchild's clocks with its own. */
static int time_offsets(void)
{
    struct brig_err *err = NULL;
    struct test_spec t;
    struct brig_ns_plan plan;
    int64_t seen[2], before[2], after[2];
    int fds[2], status;
    pid_t pid;

    spec_init(&t);
    add_ns(&t, BRIG_NS_TIME, NULL);
    t.linux_cfg.time_monotonic = (struct brig_time_offset){.set = true, .secs = 1000, .nanosecs = 0};
    t.linux_cfg.time_boottime = (struct brig_time_offset){.set = true, .secs = -5, .nanosecs = 0};
    if (brig_ns_plan_init(&t.spec, &plan, &err) < 0 || !plan.new_time_ns)
        return 30;
    if (brig_ns_prepare_parent(&t.spec, &plan, &err) < 0) {
        fprintf(stderr, "prepare: %s\n", err->msg);
        return 31;
    }
    if (pipe(fds) < 0)
        return 32;
    before[0] = clock_ns(CLOCK_MONOTONIC);
    before[1] = clock_ns(CLOCK_BOOTTIME);
    pid = fork();
    if (pid == 0) {
        int64_t now[2] = {clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_BOOTTIME)};
        (void) !write(fds[1], now, sizeof(now));
        _exit(0);
    }
    if (pid < 0 || read(fds[0], seen, sizeof(seen)) != sizeof(seen))
        return 33;
    after[0] = clock_ns(CLOCK_MONOTONIC);
    after[1] = clock_ns(CLOCK_BOOTTIME);
    waitpid(pid, &status, 0);
    if (seen[0] < before[0] + 1000000000000LL || seen[0] > after[0] + 1000000000000LL)
        return 34;
    if (seen[1] < before[1] - 5000000000LL || seen[1] > after[1] - 5000000000LL)
        return 35;
    return 0;
}

static void test_time_offsets(void **state)
{
    int status;
    pid_t pid;

    if (geteuid() != 0)
        skip();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(time_offsets());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clone_flags),
        cmocka_unit_test(test_plan_new),
        cmocka_unit_test(test_plan_paths),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_write_id_maps),
        cmocka_unit_test(test_write_id_maps_unprivileged),
        cmocka_unit_test(test_join_by_path),
        cmocka_unit_test(test_join_pid_ns),
        cmocka_unit_test(test_time_offsets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
