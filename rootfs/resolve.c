/* Path resolution inside the rootfs: openat2(RESOLVE_IN_ROOT) makes "/" and ".." of every component,
 * and of every symlink met on the way, stop at the rootfs, so a config path can never lead out of it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "util/util.h"

/* Symlinks followed while creating one path, as the kernel's own limit. */
#define MAX_SYMLINK_HOPS 40

static int open_how_in_root(int rootfs_fd, const char *path, int flags, mode_t mode, unsigned long long resolve)
{
    struct open_how how = {
        .flags = (unsigned long long) (flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
    };

    /* EAGAIN: a concurrent rename moved a ".." target; the kernel asks us to retry. */
    for (int attempt = 0; attempt < 32; attempt++) {
        long fd = syscall(SYS_openat2, rootfs_fd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int) fd;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    return -EAGAIN;
}

int brig_rootfs_open_in_root(int rootfs_fd, const char *path, int flags, mode_t mode)
{
    return open_how_in_root(rootfs_fd, path, flags, mode, 0);
}

int brig_rootfs_open_no_symlinks(int rootfs_fd, const char *path, int flags)
{
    return open_how_in_root(rootfs_fd, path, flags, 0, RESOLVE_NO_SYMLINKS);
}

/* Creates `name` in `parent`. Neither mkdirat() nor O_CREAT|O_EXCL follows a symlink at `name`. */
static int create_component(int parent, const char *name, bool as_file)
{
    if (as_file) {
        int fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
            return -errno;
        close(fd);
        return 0;
    }
    return mkdirat(parent, name, 0755) < 0 ? -errno : 0;
}

static int mkdir_walk(int rootfs_fd, const char *path, bool as_file, int hops, struct brig_err **err);

/* `name` in `parent` exists yet its prefix does not resolve: a dangling symlink. Create what it points
 * at, resolved in the root like the kernel would: relative targets against the link's directory. */
static int follow_dangling(int rootfs_fd, int parent, const char *prefix, size_t prefix_len, const char *name,
                           const char *rest, bool as_file, int hops, struct brig_err **err)
{
    char target[PATH_MAX];
    cleanup_free char *next = NULL;
    ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);

    if (n < 0) {
        if (errno == EINVAL) /* not a symlink: it appeared meanwhile, the caller retries */
            return -EINVAL;
        return brig_err_sys(err, "read link `%.*s%s` in the rootfs", (int) prefix_len, prefix, name);
    }
    target[n] = '\0';
    if (hops >= MAX_SYMLINK_HOPS)
        return brig_err_set(err, ELOOP, "create `%s` in the rootfs", prefix);
    if (asprintf(&next, "%.*s%s%s%s", target[0] == '/' ? 0 : (int) prefix_len, prefix, target,
                 *rest ? "/" : "", rest) < 0)
        return brig_err_set(err, ENOMEM, "create `%s` in the rootfs", prefix);
    return mkdir_walk(rootfs_fd, next, as_file, hops + 1, err);
}

/* The usual miss is only the last component (a mount point the image lacks): when the parent exists,
 * create it there without walking every component. -ENOENT sends the caller to the full walk. */
static int create_in_existing_parent(int rootfs_fd, char *buf, size_t len, bool as_file)
{
    cleanup_close int parent = -1;
    size_t end = len, start;
    char saved;
    int r;

    while (end > 0 && buf[end - 1] == '/')
        end--;
    start = end;
    while (start > 0 && buf[start - 1] != '/')
        start--;
    if (start == end || (end - start <= 2 && buf[start] == '.' && (end - start == 1 || buf[start + 1] == '.')))
        return -ENOENT;

    saved = buf[start];
    buf[start] = '\0';
    parent = brig_rootfs_open_in_root(rootfs_fd, start ? buf : ".", O_PATH | O_DIRECTORY, 0);
    buf[start] = saved;
    if (parent < 0)
        return parent == -ENOENT ? -ENOENT : parent;

    saved = buf[end];
    buf[end] = '\0';
    r = create_component(parent, buf + start, as_file);
    buf[end] = saved;
    if (r == -EEXIST) /* a dangling symlink, or a race: the full walk sorts out which */
        return -ENOENT;
    if (r < 0)
        return r;
    return brig_rootfs_open_in_root(rootfs_fd, buf, O_PATH, 0);
}

static int mkdir_walk(int rootfs_fd, const char *path, bool as_file, int hops, struct brig_err **err)
{
    cleanup_free char *buf = NULL;
    cleanup_close int current = -1;
    size_t len, pos = 0;
    int fd;

    /* The common case: everything exists already, one syscall. */
    fd = brig_rootfs_open_in_root(rootfs_fd, path, O_PATH, 0);
    if (fd != -ENOENT)
        return fd >= 0 ? fd : brig_err_set(err, -fd, "open `%s` in the rootfs", path);

    buf = strdup(path);
    if (!buf)
        return brig_err_set(err, ENOMEM, "create `%s` in the rootfs", path);
    len = strlen(buf);

    fd = create_in_existing_parent(rootfs_fd, buf, len, as_file);
    if (fd != -ENOENT)
        return fd >= 0 ? fd : brig_err_set(err, -fd, "create `%s` in the rootfs", path);
    while (pos < len) {
        size_t start, end;
        bool last;
        char saved;

        while (buf[pos] == '/')
            pos++;
        if (pos >= len)
            break;
        start = pos;
        while (pos < len && buf[pos] != '/')
            pos++;
        end = pos;
        while (pos < len && buf[pos] == '/')
            pos++;
        last = pos >= len;

        saved = buf[end];
        buf[end] = '\0';
        fd = brig_rootfs_open_in_root(rootfs_fd, buf, O_PATH, 0);
        for (int retry = 0; fd == -ENOENT && retry < 4; retry++) {
            int parent = current >= 0 ? current : rootfs_fd;
            const char *name = buf + start;
            int r = create_component(parent, name, last && as_file);

            if (r == -EEXIST) {
                r = follow_dangling(rootfs_fd, parent, buf, start, name, buf + pos, as_file, hops, err);
                if (r != -EINVAL)
                    return r; /* the rest of the path was created through the link, or failed */
            } else if (r < 0) {
                return brig_err_set(err, -r, "create `%s` in the rootfs", buf);
            }
            fd = brig_rootfs_open_in_root(rootfs_fd, buf, O_PATH, 0);
        }
        if (fd < 0)
            return brig_err_set(err, -fd, "open `%s` in the rootfs", buf);
        buf[end] = saved;
        if (current >= 0)
            close(current);
        current = fd;
    }
    if (current < 0) /* only slashes: the root itself, which the first open would have found */
        return brig_err_set(err, ENOENT, "open `%s` in the rootfs", path);
    return steal_fd(current);
}

int brig_rootfs_mkdir_in_root(int rootfs_fd, const char *path, bool as_file, struct brig_err **err)
{
    return mkdir_walk(rootfs_fd, path, as_file, 0, err);
}
