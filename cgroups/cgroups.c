/* Placement: creating the container's cgroup in every hierarchy, applying its resources and moving a
 * process into it; and updating the resources later. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "controllers.h"
#include "../util/util.h"

/* What enter did in one hierarchy, so a failure can undo exactly that. */
struct placement {
    bool created;
    size_t created_len; /* length of the `rel` prefix naming the topmost directory this call created */
    bool pid_written;
};

static int try_mkdir(int dirfd, const char *rel, bool *made)
{
    if (mkdirat(dirfd, rel, 0755) == 0) {
        *made = true;
        return 0;
    }
    return errno == EEXIST ? 0 : -errno;
}

/* mkdir -p of the first `len` bytes of `rel`, trying the leaf first: the parent usually exists, so the
 * common case is one mkdirat. *failed_len names the directory that could not be made. */
static int mkdir_prefix(int dirfd, char *rel, size_t len, struct placement *pl, size_t *failed_len)
{
    char saved = rel[len];
    size_t parent = len;
    bool made = false;
    int ret;

    rel[len] = '\0';
    ret = try_mkdir(dirfd, rel, &made);
    if (ret == -ENOENT) {
        while (parent > 0 && rel[parent - 1] != '/')
            parent--;
        if (parent > 0) {
            rel[len] = saved;
            ret = mkdir_prefix(dirfd, rel, parent - 1, pl, failed_len);
            if (ret < 0)
                return ret;
            rel[len] = '\0';
            ret = try_mkdir(dirfd, rel, &made);
        }
    }
    rel[len] = saved;
    if (ret < 0) {
        *failed_len = len;
        return ret;
    }
    if (made && (!pl->created || len < pl->created_len)) {
        pl->created = true;
        pl->created_len = len;
    }
    return 0;
}

static int create_in(const struct brig_cgroup_hierarchy *h, const char *rel, struct placement *pl,
                     struct brig_err **err)
{
    char buf[4096];
    size_t len = strlen(rel), failed_len = 0;
    int ret;

    if (len >= sizeof(buf))
        return brig_err_set(err, ENAMETOOLONG, "cgroup: path `%s/%s`", h->root, rel);
    memcpy(buf, rel, len + 1);
    /* A parent may vanish between its mkdir and the child's: the systemd driver's delete of another container
     * removes the slices' empty directories it made in the v1 hierarchies systemd leaves alone. */
    for (int tries = 0; tries < 3; tries++) {
        ret = mkdir_prefix(h->fd, buf, len, pl, &failed_len);
        if (ret != -ENOENT)
            break;
    }
    if (ret < 0)
        return brig_err_set(err, -ret, "cgroup: mkdir `%s/%.*s`", h->root, (int) failed_len, rel);
    if (h->cpuset)
        return brig_cgroup_v1_cpuset_prepare(h, rel, err);
    return 0;
}

/* Undoes one hierarchy: moves the pid out of what this call created (the caller kills it anyway, but a
 * populated cgroup cannot be removed), then removes the created directories deepest first. */
static void undo_in(const struct brig_cgroup_hierarchy *h, const char *rel, const struct placement *pl, pid_t pid)
{
    char buf[4096];
    size_t len = strlen(rel);

    if (!pl->created || len >= sizeof(buf))
        return;
    memcpy(buf, rel, len + 1);
    if (pl->pid_written) {
        size_t parent = pl->created_len;
        while (parent > 0 && buf[parent - 1] != '/')
            parent--;
        buf[parent > 0 ? parent - 1 : 0] = '\0';
        brig_cgroup_write_pid(h, buf, pid, NULL);
        memcpy(buf, rel, len + 1);
    }
    for (;;) {
        unlinkat(h->fd, buf, AT_REMOVEDIR);
        if (len <= pl->created_len)
            break;
        while (len > 0 && buf[len - 1] != '/')
            len--;
        buf[--len] = '\0';
    }
}

static int open_entry_in(const struct brig_cgroup_set *set, const char *path, struct brig_cgroup_entry *entry,
                         struct brig_err **err);

/* The cgroup was there before: the caller decides, from what runs in it, whether to use it. */
static int check_existing(const struct brig_cgroup_set *set, const char *rel, const char *path,
                          const struct brig_cgroup_config *cfg, struct brig_err **err)
{
    cleanup_free pid_t *pids = NULL;
    size_t n = 0;
    int ret = brig_cgroup_set_pids(set, rel, &pids, &n, err);

    return ret < 0 ? ret : cfg->existing(cfg->existing_data, path, pids, n, err);
}

/* brig_cgroup_enter(), and with `entry` also brig_cgroup_create(): the entry is opened from the hierarchies
 * already open, and a failure to open it undoes the cgroup like any other. */
static int enter(enum brig_cgroup_mode mode, const char *path, pid_t pid, const struct brig_cgroup_config *cfg,
                 struct brig_cgroup_entry *entry, bool *existed_out, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    struct placement pl[BRIG_CGROUP_MAX_HIERARCHIES] = {{0}};
    bool existed = false;
    const char *rel;
    size_t i;
    int ret;

    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    rel = path + 1;
    /* Every directory first, then the pid: a bad path fails before the process has moved anywhere. */
    for (i = 0; i < set.n && ret == 0; i++) {
        ret = create_in(&set.h[i], rel, &pl[i], err);
        existed = existed || !pl[i].created;
    }
    /* Before any limit is written: a cgroup that is refused keeps the values it had. */
    if (ret == 0 && existed && cfg && cfg->existing)
        ret = check_existing(&set, rel, path, cfg, err);
    /* A process entering a frozen cgroup stops at once (and with it whoever waits for it). */
    if (ret == 0)
        ret = brig_cgroup_set_check_thawed(&set, rel, path, err);
    /* A V2 container gets every controller its parent offers, as runc and crun give it (stats need them). */
    if (ret == 0 && mode == BRIG_CGROUP_V2 && brig_cg_v2_enable(&set.h[0], rel, NULL, err) < 0)
        brig_err_free(err);
    if (ret == 0 && cfg)
        ret = brig_cgroup_apply_set(&set, rel, cfg->resources, cfg, false, err);
    for (i = 0; i < set.n && ret == 0 && pid > 0; i++) {
        ret = brig_cgroup_write_pid(&set.h[i], rel, pid, err);
        pl[i].pid_written = ret == 0;
    }
    if (ret == 0 && entry)
        ret = open_entry_in(&set, path, entry, err);
    if (ret < 0) {
        for (i = set.n; i-- > 0;)
            undo_in(&set.h[i], rel, &pl[i], pid);
    } else if (existed_out) {
        *existed_out = existed;
    }
    return ret;
}

int brig_cgroup_enter(enum brig_cgroup_mode mode, const char *path, pid_t pid, const struct brig_cgroup_config *cfg,
                      struct brig_err **err)
{
    return enter(mode, path, pid, cfg, NULL, NULL, err);
}

int brig_cgroup_create(enum brig_cgroup_mode mode, const char *path, const struct brig_cgroup_config *cfg,
                       struct brig_cgroup_entry *entry, bool *existed, struct brig_err **err)
{
    struct brig_cgroup_config files;
    pid_t holder = 0;
    int ret;

    if (!cfg || !cfg->systemd)
        return enter(mode, path, 0, cfg, entry, existed, err);
    ret = brig_cgroup_systemd_start(path, cfg->resources, &holder, err);
    if (ret < 0)
        return ret;
    /* The scope is systemd's new cgroup, its only process our placeholder: nothing to check there. */
    files = *cfg;
    files.existing = NULL;
    ret = enter(mode, path, 0, &files, entry, NULL, err);
    if (ret < 0) {
        brig_cgroup_systemd_holder_end(holder);
        brig_cgroup_systemd_stop(mode, path, NULL);
        return ret;
    }
    entry->holder = holder;
    if (existed)
        *existed = false;
    return 0;
}

int brig_cgroup_join(enum brig_cgroup_mode mode, const char *path, pid_t pid, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    int ret;

    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    for (size_t i = 0; i < set.n && ret == 0; i++)
        ret = brig_cgroup_write_pid(&set.h[i], path + 1, pid, err);
    return ret;
}

static int open_entry_in(const struct brig_cgroup_set *set, const char *path, struct brig_cgroup_entry *entry,
                         struct brig_err **err)
{
    int ret = 0;

    entry->clone_into_fd = -1;
    entry->n_tasks = 0;
    entry->path = path;
    for (size_t i = 0; i < set->n && ret == 0; i++) {
        const struct brig_cgroup_hierarchy *h = &set->h[i];
        char file[4096];
        int fd;

        if ((size_t) snprintf(file, sizeof(file), "%s%s", path + 1, h->unified ? "" : "/tasks") >= sizeof(file)) {
            ret = brig_err_set(err, ENAMETOOLONG, "cgroup: path `%s%s`", h->root, path);
            break;
        }
        fd = openat(h->fd, file, (h->unified ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
        if (fd < 0) {
            ret = brig_err_sys(err, "cgroup: open `%s/%s`", h->root, file);
        } else if (h->unified) {
            entry->clone_into_fd = fd;
        } else if (entry->n_tasks == BRIG_CGROUP_ENTRY_MAX) {
            close(fd);
            ret = brig_err_set(err, E2BIG, "cgroup: more than %d hierarchies", BRIG_CGROUP_ENTRY_MAX);
        } else {
            entry->tasks_fds[entry->n_tasks++] = fd;
        }
    }
    if (ret < 0)
        brig_cgroup_entry_close(entry);
    return ret;
}

int brig_cgroup_entry_open(enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_entry *entry,
                           struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    int ret = brig_cgroup_set_open_for(mode, path, &set, err);

    entry->clone_into_fd = -1;
    entry->n_tasks = 0;
    return ret < 0 ? ret : open_entry_in(&set, path, entry, err);
}

int brig_cgroup_entry_self(const struct brig_cgroup_entry *entry, struct brig_err **err)
{
    for (size_t i = 0; i < entry->n_tasks; i++) {
        int ret = brig_write_all(entry->tasks_fds[i], "0", 1);
        if (ret < 0)
            return brig_err_set(err, -ret, "cgroup: enter `%s` (write 0 to a v1 tasks file)", entry->path);
    }
    return 0;
}

void brig_cgroup_entry_close(struct brig_cgroup_entry *entry)
{
    for (size_t i = 0; i < entry->n_tasks; i++)
        close(entry->tasks_fds[i]);
    entry->n_tasks = 0;
    if (entry->clone_into_fd >= 0)
        close(entry->clone_into_fd);
    entry->clone_into_fd = -1;
    /* Once the init is in the scope (or create failed): the scope no longer needs it. */
    brig_cgroup_systemd_holder_end(entry->holder);
    entry->holder = 0;
}

int brig_cgroup_update(enum brig_cgroup_mode mode, const char *path, const struct brig_resources *resources,
                       const struct brig_cgroup_log *log, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    struct brig_cgroup_config cfg = {.resources = resources};
    struct stat st;
    int ret;

    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    if (fstatat(set.h[0].fd, path + 1, &st, 0) < 0)
        return brig_err_sys(err, "cgroup `%s/%s`", set.h[0].root, path + 1);
    if (log)
        cfg.log = *log;
    return brig_cgroup_apply_set(&set, path + 1, resources, &cfg, true, err);
}
