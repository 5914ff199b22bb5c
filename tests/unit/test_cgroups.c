/* cgroups: path resolution, and real placement on the machine's hierarchies (root only). Every cgroup
 * made here lives under /brig-test-<pid> or /brig/brig-test-<pid>, never under anyone else's cgroup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroups/cgroups.h"
#include "util/util.h"

static void expect_resolved(const char *cgroups_path, const char *id, const char *want)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *out = NULL;

    assert_int_equal(brig_cgroup_resolve_path(cgroups_path, id, &out, &err), 0);
    assert_string_equal(out, want);
}

static void expect_rejected(const char *cgroups_path, const char *id, const char *msg_part)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *out = NULL;

    assert_int_equal(brig_cgroup_resolve_path(cgroups_path, id, &out, &err), -EINVAL);
    assert_null(out);
    assert_non_null(err);
    if (!strstr(err->msg, msg_part))
        fail_msg("error `%s` lacks `%s`", err->msg, msg_part);
}

static void test_resolve_path(void **state)
{
    expect_resolved(NULL, "web", "/brig/web");
    expect_resolved("", "web", "/brig/web");
    expect_resolved("/machine/web", "x", "/machine/web");
    expect_resolved("//machine///web/", "x", "/machine/web");
    expect_resolved("/machine/./web", "x", "/machine/web");
    expect_resolved("pods/web", "x", "/brig/pods/web");
    expect_resolved("./pods//web/", "x", "/brig/pods/web");
    expect_rejected("/machine/../etc", "x", "linux.cgroupsPath `/machine/../etc`: `..` is not allowed");
    expect_rejected("../escape", "x", "`..` is not allowed");
    expect_rejected("/", "x", "names no cgroup");
    expect_rejected(".", "x", "names no cgroup");
    expect_rejected("", "", "container id");
    {
        cleanup_err struct brig_err *err = NULL;
        cleanup_free char *a = NULL, *b = NULL, *c = NULL;
        /* Rootless v2: under the delegated parent; the root as a parent gives no "//". */
        assert_int_equal(brig_cgroup_resolve_path_in("ctr/x", "id", "/user.slice/u", &a, &err), 0);
        assert_string_equal(a, "/user.slice/u/ctr/x");
        assert_int_equal(brig_cgroup_resolve_path_in("ctr", "id", "/", &b, &err), 0);
        assert_string_equal(b, "/ctr");
        assert_int_equal(brig_cgroup_resolve_path_in("/abs", "id", "/user.slice/u", &c, &err), 0);
        assert_string_equal(c, "/abs");
    }
    expect_rejected(NULL, "a/b", "container id `a/b`");
    expect_rejected(NULL, "..", "container id");
}

static void test_detect(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    enum brig_cgroup_mode mode;
    struct stat st;

    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    if (stat("/sys/fs/cgroup/unified/cgroup.procs", &st) == 0)
        assert_int_equal(mode, BRIG_CGROUP_HYBRID); /* the development machine */
    else if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
        assert_int_equal(mode, BRIG_CGROUP_V2);
    else
        assert_int_equal(mode, BRIG_CGROUP_V1);
}

/* A child that sleeps until its pipe closes. */
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

/* Directory names under /sys/fs/cgroup (symlinks skipped), listed independently of the code under test. */
static size_t list_hierarchies(char names[][64], size_t max)
{
    DIR *dir = opendir("/sys/fs/cgroup");
    struct dirent *de;
    size_t n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)) && n < max) {
        if (de->d_type == DT_DIR && de->d_name[0] != '.')
            snprintf(names[n++], 64, "%.63s", de->d_name);
    }
    closedir(dir);
    return n;
}

static bool exists_anywhere(const char *path)
{
    char names[32][64], full[512];
    size_t n = list_hierarchies(names, 32);
    struct stat st;

    /* On v2 the one hierarchy is /sys/fs/cgroup itself (its directories are cgroups, not hierarchies). */
    snprintf(full, sizeof(full), "/sys/fs/cgroup%s", path);
    if (stat(full, &st) == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        snprintf(full, sizeof(full), "/sys/fs/cgroup/%s%s", names[i], path);
        if (stat(full, &st) == 0)
            return true;
    }
    return false;
}

static void rmdir_everywhere(const char *path)
{
    char names[32][64], full[512];
    size_t n = list_hierarchies(names, 32);

    for (size_t i = 0; i < n; i++) {
        snprintf(full, sizeof(full), "/sys/fs/cgroup/%s%s", names[i], path);
        rmdir(full);
    }
    snprintf(full, sizeof(full), "/sys/fs/cgroup%s", path);
    rmdir(full);
}

static bool is_v2(void)
{
    struct stat st;

    return stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
}

/* Checks /proc/PID/cgroup: every hierarchy (v1 and the unified "0::" line) places pid at `path`. */
static void expect_placed(pid_t pid, const char *path)
{
    char file[64];
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *err = NULL;
    size_t lines = 0;
    bool memory = false, unified = false;

    snprintf(file, sizeof(file), "/proc/%d/cgroup", (int) pid);
    assert_int_equal(brig_read_file_at(AT_FDCWD, file, &text, NULL, &err), 0);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        char *second = colon ? strchr(colon + 1, ':') : NULL;
        assert_non_null(second);
        if (strcmp(second + 1, path) != 0)
            fail_msg("pid %d not at `%s`: %s", (int) pid, path, line);
        memory = memory || strncmp(colon, ":memory:", 8) == 0;
        unified = unified || strncmp(line, "0::", 3) == 0;
        lines++;
    }
    assert_true(unified);
    if (!is_v2()) {
        assert_true(lines > 1);
        assert_true(memory);
    }
}

static void test_enter_pids_destroy(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free pid_t *pids = NULL;
    enum brig_cgroup_mode mode;
    char top[64], path[96];
    struct timespec t0, t1;
    size_t n = 0;
    int wfd, status;
    pid_t child;

    snprintf(top, sizeof(top), "/brig-test-%d", (int) getpid());
    snprintf(path, sizeof(path), "%s/a", top);
    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    child = spawn_sleeper(&wfd);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (brig_cgroup_enter(mode, path, child, NULL, &err) < 0)
        fail_msg("enter: %s", err->msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("enter took %ld us\n", (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
    expect_placed(child, path);

    assert_int_equal(brig_cgroup_pids(mode, path, &pids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], child);

    /* join: a second process lands in the same cgroup without mkdir. */
    {
        int wfd2;
        pid_t second = spawn_sleeper(&wfd2);
        assert_int_equal(brig_cgroup_join(mode, path, second, &err), 0);
        expect_placed(second, path);
        free(pids);
        pids = NULL;
        assert_int_equal(brig_cgroup_pids(mode, path, &pids, &n, &err), 0);
        assert_int_equal(n, 2);
        if (brig_cgroup_destroy(mode, path, &err) < 0)
            fail_msg("destroy: %s", err->msg);
        assert_int_equal(waitpid(second, &status, 0), second);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        close(wfd2);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(wfd);
    assert_false(exists_anywhere(path));
    /* Outside /brig the parents are not brig's: they stay. */
    assert_true(exists_anywhere(top));
    rmdir_everywhere(top);
    assert_false(exists_anywhere(top));

    /* Gone already: not an error. */
    assert_int_equal(brig_cgroup_destroy(mode, path, &err), 0);
    assert_null(err);
}

/* A process enters by itself through an entry the parent opened (cgroup2: it is born there), even when it
 * no longer has the rights to open the files: the kernel checks the opener's. */
static pid_t clone_into(const struct brig_cgroup_entry *entry)
{
    uint64_t args[11] = {0, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0};

    if (entry->clone_into_fd >= 0) {
        args[0] = 0x200000000ULL; /* CLONE_INTO_CGROUP */
        args[10] = (uint64_t) entry->clone_into_fd;
    }
    return (pid_t) syscall(SYS_clone3, args, sizeof(args));
}

static void test_entry_self(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_cgroup_entry struct brig_cgroup_entry entry = {.clone_into_fd = -1};
    enum brig_cgroup_mode mode;
    char top[64], path[96], byte = 0;
    int status, entered[2], release[2];
    pid_t child;

    snprintf(top, sizeof(top), "/brig-test-%d", (int) getpid());
    snprintf(path, sizeof(path), "%s/entry", top);
    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    if (brig_cgroup_create(mode, path, NULL, &entry, NULL, &err) < 0)
        fail_msg("create: %s", err->msg);
    assert_true(entry.n_tasks > 0 || entry.clone_into_fd >= 0);
    assert_int_equal(pipe(entered), 0);
    assert_int_equal(pipe(release), 0);
    child = clone_into(&entry);
    assert_true(child >= 0);
    if (child == 0) {
        struct brig_err *child_err = NULL;
        char ok = 'y';
        close(entered[0]);
        close(release[1]);
        /* As nobody: opening a tasks file itself would be refused. */
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            ok = 'u';
        else if (brig_cgroup_entry_self(&entry, &child_err) < 0)
            ok = 'e';
        if (write(entered[1], &ok, 1) != 1)
            _exit(4);
        while (read(release[0], &ok, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(entered[1]);
    close(release[0]);
    assert_int_equal(read(entered[0], &byte, 1), 1);
    if (byte == 'y')
        expect_placed(child, path);
    close(release[1]);
    assert_int_equal(waitpid(child, &status, 0), child);
    close(entered[0]);
    assert_int_equal(byte, 'y');
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    brig_cgroup_entry_close(&entry);
    assert_int_equal(brig_cgroup_destroy(mode, path, &err), 0);
    rmdir_everywhere(top);
    assert_false(exists_anywhere(top));
}

/* The container made a cgroup below its own, and a process lives there: destroy gets both. */
static void test_destroy_nested(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    enum brig_cgroup_mode mode;
    char path[96], sub[160], procs[192], pidbuf[16];
    int wfd, status;
    pid_t child;

    snprintf(path, sizeof(path), "/brig/brig-test-%d/x/y", (int) getpid());
    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    child = spawn_sleeper(&wfd);
    if (brig_cgroup_enter(mode, path, child, NULL, &err) < 0)
        fail_msg("enter: %s", err->msg);
    snprintf(sub, sizeof(sub), "/sys/fs/cgroup%s%s/inner", is_v2() ? "" : "/memory", path);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", sub);
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int) child);
    assert_int_equal(brig_write_file_at(AT_FDCWD, procs, pidbuf, strlen(pidbuf), &err), 0);

    if (brig_cgroup_destroy(mode, path, &err) < 0)
        fail_msg("destroy: %s", err->msg);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    close(wfd);
    /* Empty parents under /brig went with it. */
    snprintf(path, sizeof(path), "/brig/brig-test-%d", (int) getpid());
    assert_false(exists_anywhere(path));
}

static void expect_enter_fails(const char *path, pid_t pid, const char *msg_part, const char *leftover)
{
    cleanup_err struct brig_err *err = NULL;
    enum brig_cgroup_mode mode;

    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    assert_true(brig_cgroup_enter(mode, path, pid, NULL, &err) < 0);
    assert_non_null(err);
    if (!strstr(err->msg, msg_part))
        fail_msg("error `%s` lacks `%s`", err->msg, msg_part);
    assert_false(exists_anywhere(leftover));
}

static void test_enter_failure_leaves_nothing(void **state)
{
    char top[64], path[160], msg[256];
    int wfd, status;
    pid_t child, dead;

    snprintf(top, sizeof(top), "/brig-test-%d-bad", (int) getpid());

    /* A component that is a file: fails at mkdir, after the top directory was made everywhere. */
    child = spawn_sleeper(&wfd);
    snprintf(path, sizeof(path), "%s/cgroup.procs/x", top);
    expect_enter_fails(path, child, "mkdir `/sys/fs/cgroup/", top);
    expect_enter_fails("/a/../b", child, "`..`", "/b");
    close(wfd);
    waitpid(child, &status, 0);

    /* A pid that no longer exists: every directory is made, then the first write fails. */
    dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    waitpid(dead, &status, 0);
    snprintf(path, sizeof(path), "%s/a/b", top);
    snprintf(msg, sizeof(msg), "cgroup: write `%d` to `/sys/fs/cgroup/", (int) dead);
    expect_enter_fails(path, dead, msg, top);
    expect_enter_fails(path, dead, "/a/b/cgroup.procs`: No such process", top);
}

/* A write that fails after others succeeded: an RT task cannot join a v1 cpu cgroup without rt_runtime
 * (a new one has 0). The pid has moved in some hierarchies already; undo must still remove everything. */
static void test_enter_partial_undo(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    struct sched_param param = {.sched_priority = 1};
    enum brig_cgroup_mode mode;
    char top[64], path[96];
    int wfd, status;
    pid_t child;

    if (access("/sys/fs/cgroup/cpu/cpu.rt_runtime_us", F_OK) < 0)
        skip();
    snprintf(top, sizeof(top), "/brig-test-%d-rt", (int) getpid());
    snprintf(path, sizeof(path), "%s/a", top);
    child = spawn_sleeper(&wfd);
    assert_int_equal(sched_setscheduler(child, SCHED_FIFO, &param), 0);
    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    assert_true(brig_cgroup_enter(mode, path, child, NULL, &err) < 0);
    if (!strstr(err->msg, "/sys/fs/cgroup/cpu/brig-test-") || !strstr(err->msg, "/a/cgroup.procs`: Invalid argument"))
        fail_msg("unexpected error `%s`", err->msg);
    assert_false(exists_anywhere(top));
    close(wfd);
    assert_int_equal(waitpid(child, &status, 0), child);
}

/* An existing cgroup is used, and kept when placement fails. */
static void test_enter_existing_kept(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    enum brig_cgroup_mode mode;
    char top[64], full[128];
    int status;
    pid_t dead;

    snprintf(top, sizeof(top), "/brig-test-%d-keep", (int) getpid());
    snprintf(full, sizeof(full), "/sys/fs/cgroup%s%s", is_v2() ? "" : "/memory", top);
    assert_int_equal(mkdir(full, 0755), 0);
    dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, &status, 0);
    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    assert_true(brig_cgroup_enter(mode, top, dead, NULL, &err) < 0);
    assert_int_equal(access(full, F_OK), 0);
    /* On v1 the hierarchies that had no such cgroup do not keep the one this call made. */
    snprintf(full, sizeof(full), "/sys/fs/cgroup/pids%s", top);
    if (!is_v2())
        assert_int_not_equal(access(full, F_OK), 0);
    rmdir_everywhere(top);
}

struct seen {
    size_t calls, n;
    pid_t first;
    int answer;
};

static int record_existing(void *data, const char *path, const pid_t *pids, size_t n, struct brig_err **err)
{
    struct seen *seen = data;

    seen->calls++;
    seen->n = n;
    seen->first = n ? pids[0] : 0;
    return seen->answer ? brig_err_msg(err, seen->answer, "refused `%s`", path) : 0;
}

/* An existing cgroup is shown to the caller with what runs in it, before anything is written to it; a
 * frozen one (or one below a frozen parent) is refused, and only what the call made is removed. */
static void test_create_existing_and_frozen(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_cgroup_entry struct brig_cgroup_entry entry = {.clone_into_fd = -1};
    struct seen seen = {0};
    struct brig_cgroup_config cfg = {.existing = record_existing, .existing_data = &seen};
    enum brig_cgroup_mode mode;
    char top[64], path[96], sub[128];
    bool existed = false;
    int wfd, status;
    pid_t child;

    snprintf(top, sizeof(top), "/brig-test-%d-ex", (int) getpid());
    snprintf(path, sizeof(path), "%s/c", top);
    snprintf(sub, sizeof(sub), "%s/sub", path);
    assert_int_equal(brig_cgroup_detect(&mode, &err), 0);
    assert_int_equal(brig_cgroup_create(mode, path, &cfg, &entry, &existed, &err), 0);
    assert_false(existed);
    assert_int_equal(seen.calls, 0);
    brig_cgroup_entry_close(&entry);

    child = spawn_sleeper(&wfd);
    assert_int_equal(brig_cgroup_join(mode, path, child, &err), 0);
    assert_int_equal(brig_cgroup_create(mode, path, &cfg, &entry, &existed, &err), 0);
    assert_true(existed);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.first, child);
    brig_cgroup_entry_close(&entry);

    seen.answer = EBUSY;
    assert_int_equal(brig_cgroup_create(mode, path, &cfg, &entry, &existed, &err), -EBUSY);
    if (!strstr(err->msg, "refused `/brig-test-"))
        fail_msg("unexpected error `%s`", err->msg);
    brig_err_free(&err);
    expect_placed(child, path);

    assert_int_equal(brig_cgroup_freeze(mode, path, true, &err), 0);
    assert_int_equal(brig_cgroup_create(mode, path, NULL, &entry, &existed, &err), -EBUSY);
    if (!strstr(err->msg, "is frozen"))
        fail_msg("unexpected error `%s`", err->msg);
    brig_err_free(&err);
    assert_int_equal(brig_cgroup_check_thawed(mode, path, &err), -EBUSY);
    brig_err_free(&err);
    /* A new cgroup below a frozen one is frozen from birth. */
    assert_int_equal(brig_cgroup_create(mode, sub, NULL, &entry, &existed, &err), -EBUSY);
    if (!strstr(err->msg, "is frozen"))
        fail_msg("unexpected error `%s`", err->msg);
    brig_err_free(&err);
    assert_false(exists_anywhere(sub));
    assert_true(exists_anywhere(path));

    /* destroy thaws before it kills. */
    if (brig_cgroup_destroy(mode, path, &err) < 0)
        fail_msg("destroy: %s", err->msg);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(wfd);
    assert_int_equal(brig_cgroup_check_thawed(mode, path, &err), 0);
    rmdir_everywhere(top);
    assert_false(exists_anywhere(top));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_path),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_enter_pids_destroy),
        cmocka_unit_test(test_entry_self),
        cmocka_unit_test(test_destroy_nested),
        cmocka_unit_test(test_enter_failure_leaves_nothing),
        cmocka_unit_test(test_enter_partial_undo),
        cmocka_unit_test(test_enter_existing_kept),
        cmocka_unit_test(test_create_existing_and_frozen),
    };

    if (geteuid() != 0) {
        /* Placement needs root; path resolution does not. */
        const struct CMUnitTest unprivileged[] = {cmocka_unit_test(test_resolve_path)};
        return cmocka_run_group_tests(unprivileged, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
