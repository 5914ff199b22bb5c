/* cgroups: applying linux.resources to real cgroups of this machine (root only), updates, the freezer,
 * stats, and the v2 device eBPF program attached to a cgroup of the unified hierarchy. Every cgroup made
 * here lives under /brig-test-<pid>-*, and is removed. On a V2 host the same tests check the v2 files. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroups/cgroups.h"
#include "cgroups/controllers.h"
#include "util/util.h"

static enum brig_cgroup_mode mode;

static pid_t spawn_sleeper(int *wfd)
{
    int fds[2];
    pid_t pid;
    char c;

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        (void) !read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    *wfd = fds[1];
    return pid;
}

static void stop_sleeper(pid_t pid, int wfd)
{
    int status;

    close(wfd);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* The file `name` of cgroup `path` in the v1 hierarchy `controller`, or in the unified tree on V2. */
static char *cg_file(const char *controller, const char *path, const char *name)
{
    char *out = NULL;

    if (mode == BRIG_CGROUP_V2)
        assert_true(asprintf(&out, "/sys/fs/cgroup%s/%s", path, name) > 0);
    else
        assert_true(asprintf(&out, "/sys/fs/cgroup/%s%s/%s", controller, path, name) > 0);
    return out;
}

static void expect_file(const char *controller, const char *path, const char *name, const char *want)
{
    cleanup_free char *file = cg_file(controller, path, name);
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *err = NULL;

    if (brig_read_file_at(AT_FDCWD, file, &text, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    text[strcspn(text, "\n")] = '\0';
    if (strcmp(text, want) != 0)
        fail_msg("`%s` holds `%s`, not `%s`", file, text, want);
}

static bool gone_everywhere(const char *path)
{
    static const char *const roots[] = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                                        "unified", ""};
    char full[512];
    struct stat st;

    for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
        snprintf(full, sizeof(full), "/sys/fs/cgroup/%s%s%s", roots[i], *roots[i] ? "" : "", path);
        if (*roots[i] == '\0' && mode != BRIG_CGROUP_V2)
            continue;
        if (stat(full, &st) == 0)
            return false;
    }
    return true;
}

static void test_memory_pids_cpu_applied(void **state)
{
    struct brig_memory memory = {.limit = {true, 64 << 20}, .swap = {true, 96 << 20}, .reservation = {true, 32 << 20}};
    struct brig_cpu cpu = {.shares = {true, 512}, .quota = {true, 30000}, .period = {true, 60000},
                           .cpus = (char *) "0", .mems = (char *) "0"};
    struct brig_resources r = {.memory = &memory, .cpu = &cpu, .pids_limit = {true, 33}};
    struct brig_cgroup_config cfg = {.resources = &r};
    cleanup_err struct brig_err *err = NULL;
    char path[96];
    int wfd;
    pid_t child = spawn_sleeper(&wfd);

    snprintf(path, sizeof(path), "/brig-test-%d-apply/c", (int) getpid());
    if (brig_cgroup_enter(mode, path, child, &cfg, &err) < 0)
        fail_msg("%s", err->msg);
    if (mode == BRIG_CGROUP_V2) {
        expect_file("", path, "memory.max", "67108864");
        expect_file("", path, "memory.swap.max", "33554432");
        expect_file("", path, "memory.low", "33554432");
        expect_file("", path, "cpu.weight", "20");
        expect_file("", path, "cpu.max", "30000 60000");
    } else {
        expect_file("memory", path, "memory.limit_in_bytes", "67108864");
        expect_file("memory", path, "memory.memsw.limit_in_bytes", "100663296");
        expect_file("memory", path, "memory.soft_limit_in_bytes", "33554432");
        expect_file("cpu", path, "cpu.shares", "512");
        expect_file("cpu", path, "cpu.cfs_quota_us", "30000");
        expect_file("cpu", path, "cpu.cfs_period_us", "60000");
    }
    expect_file("pids", path, "pids.max", "33");
    expect_file("cpuset", path, "cpuset.cpus", "0");

    /* An update changes what it names and nothing else. */
    {
        struct brig_memory grow = {.limit = {true, 128 << 20}, .swap = {true, 256 << 20}};
        struct brig_resources u = {.memory = &grow, .pids_limit = {true, -1}};
        if (brig_cgroup_update(mode, path, &u, NULL, &err) < 0)
            fail_msg("%s", err->msg);
        expect_file("pids", path, "pids.max", "max");
        expect_file("memory", path, mode == BRIG_CGROUP_V2 ? "memory.max" : "memory.limit_in_bytes", "134217728");
        if (mode != BRIG_CGROUP_V2)
            expect_file("memory", path, "memory.memsw.limit_in_bytes", "268435456");
        expect_file("cpuset", path, "cpuset.cpus", "0");
    }
    stop_sleeper(child, wfd);
    assert_int_equal(brig_cgroup_destroy(mode, path, &err), 0);
    snprintf(path, sizeof(path), "/brig-test-%d-apply", (int) getpid());
    assert_int_equal(brig_cgroup_destroy(mode, path, &err), 0);
    assert_true(gone_everywhere(path));
}

/* A refused value fails with resource, value and file named, and leaves no cgroup behind. */
static void expect_enter_error(const struct brig_resources *r, const char *want_prefix, const char *want_suffix)
{
    struct brig_cgroup_config cfg = {.resources = r};
    cleanup_err struct brig_err *err = NULL;
    char top[96], path[128];
    int wfd;
    pid_t child = spawn_sleeper(&wfd);

    snprintf(top, sizeof(top), "/brig-test-%d-bad", (int) getpid());
    snprintf(path, sizeof(path), "%s/c", top);
    assert_true(brig_cgroup_enter(mode, path, child, &cfg, &err) < 0);
    if (strncmp(err->msg, want_prefix, strlen(want_prefix)) != 0 ||
        (want_suffix && !strstr(err->msg, want_suffix)))
        fail_msg("unexpected error `%s` (want `%s...%s`)", err->msg, want_prefix, want_suffix ? want_suffix : "");
    assert_true(gone_everywhere(top));
    stop_sleeper(child, wfd);
}

static void test_refused_values(void **state)
{
    struct brig_memory small_swap = {.limit = {true, 64 << 20}, .swap = {true, 32 << 20}};
    struct brig_resources r1 = {.memory = &small_swap};
    struct brig_cpu bad_cpus = {.cpus = (char *) "4095"};
    struct brig_resources r2 = {.cpu = &bad_cpus};
    struct brig_cpu tiny_quota = {.quota = {true, 10}, .period = {true, 100000}};
    struct brig_resources r3 = {.cpu = &tiny_quota};

    if (mode == BRIG_CGROUP_V2)
        expect_enter_error(&r1, "linux.resources.memory.swap: 33554432: memory+swap must not be below", NULL);
    else
        expect_enter_error(&r1, "linux.resources.memory.swap: write `33554432` to `/sys/fs/cgroup/memory/brig-test-",
                           "/c/memory.memsw.limit_in_bytes`: Invalid argument");
    expect_enter_error(&r2, "linux.resources.cpu.cpus: write `4095` to `/sys/fs/cgroup/", "cpuset.cpus`: ");
    expect_enter_error(&r3, "linux.resources.cpu.quota: write `", "`: Invalid argument");
}

static bool has_bfq_weight(void)
{
    char dir[96], file[128];
    struct stat st;
    bool found;

    snprintf(dir, sizeof(dir), "/sys/fs/cgroup/blkio/brig-test-%d-probe", (int) getpid());
    if (mkdir(dir, 0755) < 0)
        return false;
    snprintf(file, sizeof(file), "%s/blkio.bfq.weight", dir);
    found = stat(file, &st) == 0;
    rmdir(dir);
    return found;
}

static void test_unsupported_when_asked(void **state)
{
    struct brig_resources net = {.has_network = true, .net_class_id = {true, 0x100001}};
    struct brig_block_io weight = {.weight = {true, 500}};
    struct brig_resources blk = {.block_io = &weight};
    struct brig_kv bogus_kv = {(char *) "bogus.file", (char *) "1"};
    struct brig_resources bogus = {.unified = &bogus_kv, .n_unified = 1};
    struct stat st;

    if (mode == BRIG_CGROUP_V2)
        expect_enter_error(&net, "linux.resources.network.classID: not supported by this host (no net_cls", NULL);
    else if (stat("/sys/fs/cgroup/net_cls", &st) < 0)
        expect_enter_error(&net, "linux.resources.network.classID: not supported by this host (no net_cls controller)",
                           NULL);
    /* Only the root cgroup is looked at here: BFQ puts its weight files in the others alone. */
    if (mode != BRIG_CGROUP_V2 && stat("/sys/fs/cgroup/blkio/blkio.weight", &st) < 0 && !has_bfq_weight())
        expect_enter_error(&blk, "linux.resources.blockIO.weight: not supported by this host (no blkio.weight)", NULL);
    expect_enter_error(&bogus, "linux.resources.unified.bogus.file: not supported by this host", NULL);
}

static void test_unified_on_hybrid(void **state)
{
    struct brig_kv memory_kv = {(char *) "memory.max", (char *) "1000000"};
    struct brig_resources r = {.unified = &memory_kv, .n_unified = 1};

    if (mode != BRIG_CGROUP_HYBRID || access("/sys/fs/cgroup/memory", F_OK) < 0)
        skip();
    expect_enter_error(&r, "linux.resources.unified.memory.max: not supported by this host (controller `memory` is bound "
                           "to cgroup v1 here)", NULL);
}

static void test_freeze_stats_signal(void **state)
{
    struct brig_cgroup_config cfg = {.resources = NULL};
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    char path[96], want[64];
    int wfd, status;
    pid_t child = spawn_sleeper(&wfd);

    snprintf(path, sizeof(path), "/brig-test-%d-freeze", (int) getpid());
    if (brig_cgroup_enter(mode, path, child, &cfg, &err) < 0)
        fail_msg("%s", err->msg);
    assert_false(brig_cgroup_is_frozen(mode, path));
    if (brig_cgroup_freeze(mode, path, true, &err) < 0)
        fail_msg("%s", err->msg);
    assert_true(brig_cgroup_is_frozen(mode, path));
    if (brig_cgroup_freeze(mode, path, false, &err) < 0)
        fail_msg("%s", err->msg);
    assert_false(brig_cgroup_is_frozen(mode, path));

    if (brig_cgroup_stats_json(mode, path, &json, &err) < 0)
        fail_msg("%s", err->msg);
    snprintf(want, sizeof(want), "\"pids\":{\"current\":1,");
    if (!strstr(json, want) || strncmp(json, "{\"cpu\":{\"usage\":{\"total\":", 25) || !strstr(json, "\"memory\":{") ||
        !strstr(json, "\"blkio\":{") || !strstr(json, "\"hugetlb\":{"))
        fail_msg("stats: %s", json);

    /* SIGKILL to a frozen cgroup still kills. */
    assert_int_equal(brig_cgroup_freeze(mode, path, true, &err), 0);
    if (brig_cgroup_signal_all(mode, path, SIGKILL, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(wfd);
    assert_int_equal(brig_cgroup_destroy(mode, path, &err), 0);
    assert_true(gone_everywhere(path));
}

/* A paused cgroup is destroyed: thawed so that its processes die. */
static void test_destroy_frozen(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    char path[96];
    int wfd, status;
    pid_t child = spawn_sleeper(&wfd);

    snprintf(path, sizeof(path), "/brig-test-%d-frozen", (int) getpid());
    assert_int_equal(brig_cgroup_enter(mode, path, child, NULL, &err), 0);
    assert_int_equal(brig_cgroup_freeze(mode, path, true, &err), 0);
    if (brig_cgroup_destroy(mode, path, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(waitpid(child, &status, 0), child);
    close(wfd);
    assert_true(gone_everywhere(path));
}

/* The v2 device program, loaded and attached for real to a cgroup of the unified hierarchy (which this
 * hybrid host has too): a child moved there may use /dev/zero but not /dev/null. */
static void test_ebpf_device_program(void **state)
{
    struct brig_device_cgroup deny_null = {.allow = false, .type = (char *) "c", .major = {true, 1},
                                           .minor = {true, 3}, .access = (char *) "rwm"};
    struct brig_device_cgroup deny_all = {.allow = false, .access = (char *) "rwm"};
    struct brig_device_cgroup cfg_rules[] = {deny_all, deny_null};
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_dev_rule *rules = NULL;
    cleanup_free void *insns = NULL;
    const char *root = mode == BRIG_CGROUP_V2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    char dir[256], procs[300];
    size_t n = 0, n_insns = 0;
    int dirfd, status;
    pid_t child;

    if (mode == BRIG_CGROUP_V1)
        skip();
    snprintf(dir, sizeof(dir), "%s/brig-test-%d-bpf", root, (int) getpid());
    assert_int_equal(mkdir(dir, 0755), 0);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    assert_int_equal(brig_dev_rules_build(cfg_rules, 2, &rules, &n, &err), 0);
    assert_int_equal(brig_dev_bpf_build(rules, n, &insns, &n_insns, &err), 0);
    if (brig_dev_bpf_attach(dirfd, insns, n_insns, dir, &err) < 0)
        fail_msg("%s", err->msg);
    /* Attaching again (an update) replaces the program instead of stacking a second one. */
    if (brig_dev_bpf_attach(dirfd, insns, n_insns, dir, &err) < 0)
        fail_msg("%s", err->msg);

    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = open(procs, O_WRONLY);
        if (fd < 0 || write(fd, "0", 1) != 1)
            _exit(10);
        close(fd);
        fd = open("/dev/zero", O_RDONLY);
        if (fd < 0)
            _exit(11);
        close(fd);
        fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            _exit(12);
        _exit(errno == EPERM ? 0 : 13);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    close(dirfd);
    rmdir(dir);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_pids_cpu_applied),
        cmocka_unit_test(test_refused_values),
        cmocka_unit_test(test_unsupported_when_asked),
        cmocka_unit_test(test_unified_on_hybrid),
        cmocka_unit_test(test_freeze_stats_signal),
        cmocka_unit_test(test_destroy_frozen),
        cmocka_unit_test(test_ebpf_device_program),
    };
    struct brig_err *err = NULL;

    if (geteuid() != 0) {
        fprintf(stderr, "test_cgroups_apply: needs root, skipped\n");
        return 0;
    }
    if (brig_cgroup_detect(&mode, &err) < 0) {
        fprintf(stderr, "%s\n", err->msg);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
