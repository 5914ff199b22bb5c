/* Tearing a container cgroup down, and listing what is in it: both walk the cgroup's subtree, since the
 * container may have made cgroups of its own below it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hierarchy.h"
#include "../util/util.h"

#define DESTROY_TIMEOUT_NS (5LL * 1000 * 1000 * 1000)

struct walk {
    pid_t self;
    bool kill;      /* SIGKILL every pid seen */
    bool thaw;      /* v1 freezer hierarchy: thaw every cgroup before its pids are killed */
    size_t found;   /* pids seen */
    pid_t *pids;    /* collected when !kill */
    size_t cap;
    char path[4096]; /* of the cgroup being read, for messages */
};

static int take_pid(struct walk *w, pid_t pid, struct brig_err **err)
{
    if (w->kill) {
        if (pid == w->self)
            return brig_err_set(err, EBUSY, "cgroup: `%s` holds brig itself (pid %d)", w->path, (int) pid);
        if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
            return brig_err_sys(err, "cgroup: kill pid %d in `%s`", (int) pid, w->path);
        w->found++;
        return 0;
    }
    if (w->found == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        pid_t *bigger = realloc(w->pids, cap * sizeof(*bigger));
        if (!bigger)
            return brig_err_set(err, ENOMEM, "cgroup: list pids of `%s`", w->path);
        w->pids = bigger;
        w->cap = cap;
    }
    w->pids[w->found++] = pid;
    return 0;
}

/* Reads cgroup.procs of the cgroup open at `fd` and of every cgroup below it. Takes ownership of `fd`. */
static int walk_cgroup(struct walk *w, int fd, struct brig_err **err)
{
    cleanup_close int procs_fd = openat(fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    cleanup_free char *text = NULL;
    size_t path_len = strlen(w->path);
    struct dirent *de;
    DIR *dir;
    ssize_t n;
    int ret = 0;

    if (procs_fd < 0) {
        ret = brig_err_sys(err, "cgroup: open `%s/cgroup.procs`", w->path);
        close(fd);
        return ret;
    }
    if (w->thaw) {
        /* The container may have frozen a cgroup of its own below its top one. */
        cleanup_close int state_fd = openat(fd, "freezer.state", O_WRONLY | O_CLOEXEC);
        if (state_fd >= 0)
            (void) !write(state_fd, "THAWED", 6);
    }
    n = brig_read_all(procs_fd, &text, 64 << 20);
    if (n < 0) {
        close(fd);
        return brig_err_set(err, (int) -n, "cgroup: read `%s/cgroup.procs`", w->path);
    }
    for (char *line = text, *next; ret == 0 && *line; line = next) {
        int64_t pid;
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        if (brig_parse_i64(line, &pid) == 0 && pid > 0)
            ret = take_pid(w, (pid_t) pid, err);
    }
    dir = ret == 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (ret == 0)
            ret = brig_err_sys(err, "cgroup: open `%s`", w->path);
        close(fd);
        return ret;
    }
    while (ret == 0 && (de = readdir(dir))) {
        int child;
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        child = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (child < 0)
            continue; /* removed meanwhile */
        snprintf(w->path + path_len, sizeof(w->path) - path_len, "/%s", de->d_name);
        ret = walk_cgroup(w, child, err);
        w->path[path_len] = '\0';
    }
    closedir(dir);
    return ret;
}

static bool is_v1_freezer(const struct brig_cgroup_hierarchy *h)
{
    const char *base = strrchr(h->root, '/');

    return !h->unified && base && strstr(base, "freezer");
}

/* Walks `rel` in one hierarchy; -ENOENT (without an error) when it does not exist there. */
static int walk_in(struct walk *w, const struct brig_cgroup_hierarchy *h, const char *rel, struct brig_err **err)
{
    int fd = openat(h->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        return brig_err_sys(err, "cgroup: open `%s/%s`", h->root, rel);
    }
    snprintf(w->path, sizeof(w->path), "%s/%s", h->root, rel);
    w->thaw = w->kill && is_v1_freezer(h);
    return walk_cgroup(w, fd, err);
}

/* rmdir of `name` (relative to `parent_fd`) after its child cgroups, deepest first. */
static int rmdir_tree(int parent_fd, const char *name, const char *root, const char *rel, struct brig_err **err)
{
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *de;
    DIR *dir;
    int ret = 0;

    if (fd < 0)
        return errno == ENOENT ? 0 : brig_err_sys(err, "cgroup: open `%s/%s`", root, rel);
    dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return brig_err_sys(err, "cgroup: open `%s/%s`", root, rel);
    }
    while (ret == 0 && (de = readdir(dir))) {
        if (de->d_type == DT_DIR && de->d_name[0] != '.')
            ret = rmdir_tree(dirfd(dir), de->d_name, root, rel, err);
    }
    closedir(dir);
    if (ret == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        ret = brig_err_sys(err, "cgroup: rmdir `%s/%s` (or a cgroup below it)", root, rel);
    return ret;
}

/* Parents brig made for a relative cgroupsPath (/brig/a/b for "a/b/c") go once empty; /brig itself stays
 * so that a concurrent create never sees its parent vanish. Anything else is not brig's to remove. */
static void remove_brig_parents(const struct brig_cgroup_hierarchy *h, const char *rel)
{
    const char *owned = BRIG_CGROUP_PARENT + 1;
    size_t owned_len = strlen(owned);
    char buf[4096];
    size_t len = strlen(rel);

    if (len >= sizeof(buf) || strncmp(rel, owned, owned_len) != 0 || rel[owned_len] != '/')
        return;
    memcpy(buf, rel, len + 1);
    for (;;) {
        while (len > 0 && buf[len - 1] != '/')
            len--;
        if (len == 0 || --len <= owned_len)
            return;
        buf[len] = '\0';
        if (unlinkat(h->fd, buf, AT_REMOVEDIR) < 0)
            return; /* not empty: another container lives there */
    }
}

/* A v1 hierarchy of a controller systemd never realizes units in (freezer, cpuset, net_cls, perf_event,
 * hugetlb, rdma, misc): systemd manages cpu, cpuacct, blkio, memory, devices, pids and its own name=systemd
 * hierarchy on v1, and the unified one in hybrid mode. */
static bool systemd_manages(const struct brig_cgroup_hierarchy *h)
{
    static const char *const managed[] = {"cpu", "cpuacct", "blkio", "memory", "devices", "pids", "systemd"};
    const char *name = strrchr(h->root, '/');

    if (h->unified || !name)
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(managed); i++)
        if (brig_cgroup_list_has(name + 1, managed[i], ","))
            return true;
    return false;
}

void brig_cgroup_systemd_trim(enum brig_cgroup_mode mode, const char *path)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    char buf[4096];
    size_t len = strlen(path);

    if (mode == BRIG_CGROUP_V2 || len >= sizeof(buf) || brig_cgroup_set_open_for(mode, path, &set, NULL) < 0)
        return;
    for (size_t i = 0; i < set.n; i++) {
        if (systemd_manages(&set.h[i]))
            continue;
        memcpy(buf, path + 1, len);
        for (size_t n = len - 1;;) {
            while (n > 0 && buf[n - 1] != '/')
                n--;
            if (n == 0)
                break;
            buf[--n] = '\0';
            if (unlinkat(set.h[i].fd, buf, AT_REMOVEDIR) < 0)
                break; /* not empty: another container of the slice lives there */
        }
    }
}

/* A paused container is thawed before the kill. A frozen v1 task acts on SIGKILL only once thawed (the
 * walk thaws every v1 cgroup of the subtree); a frozen cgroup2 one dies, but thawed it dies at once. */
static void thaw(const struct brig_cgroup_set *set, const char *rel)
{
    char file[4096];

    for (size_t i = 0; i < set->n; i++) {
        const struct brig_cgroup_hierarchy *h = &set->h[i];
        bool v1_freezer = is_v1_freezer(h);
        if (!v1_freezer && !h->unified)
            continue;
        snprintf(file, sizeof(file), "%s/%s", rel, v1_freezer ? "freezer.state" : "cgroup.freeze");
        if (faccessat(h->fd, file, W_OK, 0) == 0)
            brig_cgroup_write(h, file, v1_freezer ? "THAWED" : "0", NULL);
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The usual case, a container whose processes have all exited and that made no cgroups of its own: one rmdir
 * per hierarchy. False at the first one the kernel refuses (processes or child cgroups there): the walk
 * below then kills and removes what is left. */
static bool remove_if_empty(const struct brig_cgroup_set *set, const char *rel)
{
    for (size_t i = 0; i < set->n; i++) {
        if (unlinkat(set->h[i].fd, rel, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return false;
    }
    return true;
}

int brig_cgroup_destroy(enum brig_cgroup_mode mode, const char *path, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    struct walk w = {.self = getpid(), .kill = true};
    const char *rel;
    int64_t deadline;
    long pause_ns = 1000000;
    int ret;

    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    rel = path + 1;
    if (remove_if_empty(&set, rel))
        goto removed;
    thaw(&set, rel);
    deadline = now_ns() + DESTROY_TIMEOUT_NS;
    for (;;) {
        cleanup_err struct brig_err *rmdir_err = NULL;

        w.found = 0;
        for (size_t i = 0; i < set.n; i++) {
            if (set.h[i].unified)
                brig_cgroup_v2_kill(&set.h[i], rel); /* atomic against forks; the walk below checks */
            ret = walk_in(&w, &set.h[i], rel, err);
            if (ret < 0 && ret != -ENOENT)
                return ret;
        }
        if (w.found == 0) {
            ret = 0;
            for (size_t i = 0; i < set.n && ret == 0; i++)
                ret = rmdir_tree(set.h[i].fd, rel, set.h[i].root, rel, &rmdir_err);
            if (ret == 0)
                break;
            /* EBUSY: a process was still on its way out, or one moved in meanwhile. */
            if (ret != -EBUSY) {
                *err = steal_ptr(rmdir_err);
                return ret;
            }
        }
        if (now_ns() > deadline) {
            if (rmdir_err) {
                *err = steal_ptr(rmdir_err);
                return ret;
            }
            return brig_err_set(err, EBUSY, "cgroup: `%s`: %zu processes still there %lld s after SIGKILL",
                                path, w.found, DESTROY_TIMEOUT_NS / 1000000000LL);
        }
        nanosleep(&(struct timespec){.tv_nsec = pause_ns}, NULL);
        if (pause_ns < 50000000)
            pause_ns *= 2;
    }
removed:
    for (size_t i = 0; i < set.n; i++)
        remove_brig_parents(&set.h[i], rel);
    return 0;
}

static int compare_pids(const void *a, const void *b)
{
    pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

    return (x > y) - (x < y);
}

int brig_cgroup_set_pids(const struct brig_cgroup_set *set, const char *rel, pid_t **pids, size_t *n,
                         struct brig_err **err)
{
    struct walk w = {.self = getpid(), .kill = false};
    size_t kept = 0;

    *pids = NULL;
    *n = 0;
    for (size_t i = 0; i < set->n; i++) {
        int ret = walk_in(&w, &set->h[i], rel, err);
        if (ret < 0 && ret != -ENOENT) {
            free(w.pids);
            return ret;
        }
    }
    if (w.found > 1)
        qsort(w.pids, w.found, sizeof(*w.pids), compare_pids);
    for (size_t i = 0; i < w.found; i++)
        if (kept == 0 || w.pids[kept - 1] != w.pids[i])
            w.pids[kept++] = w.pids[i];
    *pids = w.pids;
    *n = kept;
    return 0;
}

int brig_cgroup_pids(enum brig_cgroup_mode mode, const char *path, pid_t **pids, size_t *n, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    struct walk w = {.self = getpid(), .kill = false};
    int ret;

    *pids = NULL;
    *n = 0;
    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    /* Every hierarchy holds the same processes; the first one that has the cgroup answers. */
    for (size_t i = 0; i < set.n; i++) {
        ret = walk_in(&w, &set.h[i], path + 1, err);
        if (ret == -ENOENT)
            continue;
        if (ret < 0) {
            free(w.pids);
            return ret;
        }
        break;
    }
    *pids = w.pids;
    *n = w.found;
    return 0;
}
