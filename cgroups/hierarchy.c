#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "hierarchy.h"
#include "../util/util.h"

bool brig_cgroup_list_has(const char *list, const char *word, const char *seps)
{
    size_t wlen = strlen(word);

    if (!list)
        return false;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, seps);
        if (len == wlen && strncmp(p, word, len) == 0)
            return true;
        p += len;
        p += strspn(p, seps);
    }
    return false;
}

static int add_hierarchy(struct brig_cgroup_set *set, int fd, const char *root, bool unified, bool cpuset,
                         struct brig_err **err)
{
    struct brig_cgroup_hierarchy *h;

    if (set->n == BRIG_CGROUP_MAX_HIERARCHIES) {
        close(fd);
        return brig_err_set(err, E2BIG, "cgroup: more than %d hierarchies under `%s`",
                            BRIG_CGROUP_MAX_HIERARCHIES, BRIG_CGROUP_MOUNT);
    }
    h = &set->h[set->n];
    if ((size_t) snprintf(h->root, sizeof(h->root), "%s", root) >= sizeof(h->root)) {
        close(fd);
        return brig_err_set(err, ENAMETOOLONG, "cgroup: hierarchy `%s`", root);
    }
    h->fd = fd;
    h->unified = unified;
    h->cpuset = cpuset;
    set->n++;
    return 0;
}

static int open_unified(struct brig_cgroup_set *set, const char *root, struct brig_err **err)
{
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return brig_err_sys(err, "cgroup: open `%s`", root);
    return add_hierarchy(set, fd, root, true, false, err);
}

/* Every v1 hierarchy appears as a directory of /sys/fs/cgroup that is a cgroup mount. Symlinks (the
 * "cpu" -> "cpu,cpuacct" aliases) and a second mount of the same hierarchy are skipped so that each
 * hierarchy is handled exactly once. */
static int open_v1(struct brig_cgroup_set *set, struct brig_err **err)
{
    DIR *dir = opendir(BRIG_CGROUP_MOUNT);
    dev_t seen[BRIG_CGROUP_MAX_HIERARCHIES];
    size_t n_seen = 0;
    struct dirent *de;
    int ret = 0;

    if (!dir)
        return brig_err_sys(err, "cgroup: open `%s`", BRIG_CGROUP_MOUNT);
    while ((errno = 0, de = readdir(dir))) {
        char root[sizeof(set->h[0].root)];
        struct statfs fs;
        struct stat st;
        bool dup = false;
        int fd;

        if (de->d_name[0] == '.' || strcmp(de->d_name, "unified") == 0)
            continue;
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
            continue;
        fd = openat(dirfd(dir), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue; /* a symlink (DT_UNKNOWN) or gone meanwhile */
        if (fstatfs(fd, &fs) < 0 || fs.f_type != CGROUP_SUPER_MAGIC || fstat(fd, &st) < 0) {
            close(fd);
            continue;
        }
        for (size_t i = 0; i < n_seen; i++)
            dup = dup || seen[i] == st.st_dev;
        if (dup || n_seen == ARRAY_SIZE(seen)) {
            close(fd);
            continue;
        }
        if ((size_t) snprintf(root, sizeof(root), "%s/%s", BRIG_CGROUP_MOUNT, de->d_name) >= sizeof(root)) {
            close(fd);
            continue; /* no controller has so long a name */
        }
        seen[n_seen++] = st.st_dev;
        ret = add_hierarchy(set, fd, root, false, brig_cgroup_list_has(de->d_name, "cpuset", ","), err);
        if (ret < 0)
            break;
    }
    if (ret == 0 && errno != 0)
        ret = brig_err_sys(err, "cgroup: read `%s`", BRIG_CGROUP_MOUNT);
    closedir(dir);
    if (ret == 0 && set->n == 0)
        ret = brig_err_set(err, ENOENT, "cgroup: no cgroup hierarchy is mounted under `%s`", BRIG_CGROUP_MOUNT);
    return ret;
}

int brig_cgroup_set_open(enum brig_cgroup_mode mode, struct brig_cgroup_set *set, struct brig_err **err)
{
    int ret;

    set->n = 0;
    switch (mode) {
    case BRIG_CGROUP_V2:
        ret = open_unified(set, BRIG_CGROUP_MOUNT, err);
        break;
    case BRIG_CGROUP_V1:
        ret = open_v1(set, err);
        break;
    case BRIG_CGROUP_HYBRID:
        ret = open_v1(set, err);
        if (ret == 0)
            ret = open_unified(set, BRIG_CGROUP_MOUNT "/unified", err);
        break;
    default:
        ret = brig_err_set(err, EINVAL, "cgroup: unknown mode %d", (int) mode);
    }
    if (ret < 0)
        brig_cgroup_set_close(set);
    return ret;
}

void brig_cgroup_set_close(struct brig_cgroup_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        close(set->h[i].fd);
    set->n = 0;
}

int brig_cgroup_write(const struct brig_cgroup_hierarchy *h, const char *file, const char *data,
                      struct brig_err **err)
{
    cleanup_close int fd = openat(h->fd, file, O_WRONLY | O_CLOEXEC);
    int ret;

    if (fd < 0)
        return brig_err_sys(err, "cgroup: open `%s/%s`", h->root, file);
    ret = brig_write_all(fd, data, strlen(data));
    if (ret < 0)
        return brig_err_set(err, -ret, "cgroup: write `%s` to `%s/%s`", data, h->root, file);
    return 0;
}

int brig_cgroup_write_pid(const struct brig_cgroup_hierarchy *h, const char *rel, pid_t pid, struct brig_err **err)
{
    char file[4096], buf[24];

    /* An empty `rel` is the hierarchy root, where a failed placement moves a pid back to. */
    if ((size_t) snprintf(file, sizeof(file), "%s%scgroup.procs", rel, *rel ? "/" : "") >= sizeof(file))
        return brig_err_set(err, ENAMETOOLONG, "cgroup: path `%s/%s`", h->root, rel);
    snprintf(buf, sizeof(buf), "%d", (int) pid);
    return brig_cgroup_write(h, file, buf, err);
}

int brig_cgroup_set_open_for(enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_set *set,
                             struct brig_err **err)
{
    int ret = brig_cgroup_path_check(path, err);

    return ret < 0 ? ret : brig_cgroup_set_open(mode, set, err);
}
