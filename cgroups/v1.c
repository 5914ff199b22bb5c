/* cgroup v1 specifics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "hierarchy.h"
#include "../util/util.h"

/* `dir` is relative to the hierarchy root ("" is the root itself). */
static int join_rel(char *buf, size_t size, const char *dir, size_t dir_len, const char *file)
{
    int n = dir_len ? snprintf(buf, size, "%.*s/%s", (int) dir_len, dir, file) : snprintf(buf, size, "%s", file);
    return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* Reads a small cpuset file, without the trailing newline. */
static int read_value(int dirfd, const char *file, char *buf, size_t size)
{
    cleanup_close int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    if (n < 0)
        return -errno;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    return (int) n;
}

static int prepare_one(const struct brig_cgroup_hierarchy *h, const char *rel, const char *name,
                       struct brig_err **err)
{
    char file[4096], value[4096];
    size_t ends[256]; /* length of `rel` prefix of each level, leaf first */
    size_t n_levels = 0, level;
    int ret;

    /* Walk up until a level has a value: usually the leaf (existing cgroup) or its parent. */
    for (size_t len = strlen(rel);; ) {
        if (n_levels == ARRAY_SIZE(ends))
            return brig_err_set(err, ENAMETOOLONG, "cgroup: path `%s/%s` is too deep", h->root, rel);
        ends[n_levels++] = len;
        if (join_rel(file, sizeof(file), rel, len, name) < 0)
            return brig_err_set(err, ENAMETOOLONG, "cgroup: path `%s/%s`", h->root, rel);
        ret = read_value(h->fd, file, value, sizeof(value));
        if (ret < 0)
            return brig_err_set(err, -ret, "cgroup: read `%s/%s`", h->root, file);
        if (ret > 0)
            break;
        if (len == 0)
            return brig_err_set(err, ENOSPC, "cgroup: `%s/%s` is empty all the way up", h->root, name);
        while (len > 0 && rel[len - 1] != '/')
            len--;
        if (len > 0)
            len--; /* drop the '/' */
    }
    if (n_levels == 1)
        return 0;
    /* Copy the value down into every empty level below the one that has it. */
    for (level = n_levels - 1; level-- > 0;) {
        join_rel(file, sizeof(file), rel, ends[level], name);
        ret = brig_cgroup_write(h, file, value, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int brig_cgroup_v1_cpuset_prepare(const struct brig_cgroup_hierarchy *h, const char *rel, struct brig_err **err)
{
    int ret = prepare_one(h, rel, "cpuset.cpus", err);

    return ret < 0 ? ret : prepare_one(h, rel, "cpuset.mems", err);
}
