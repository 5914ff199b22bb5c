/* After the pivot: deferred read-only mounts, masked and read-only paths, a read-only root, the final root
 * propagation. Paths are plain ones now: "/" is the rootfs, so nothing resolves outside it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "internal.h"
#include "util/util.h"

/* Locked flags in a user namespace must be kept by a remount, and the others should stay as they were. */
static int remount_keeping(const char *path, unsigned long flags)
{
    struct statvfs sv;

    if (statvfs(path, &sv) < 0)
        return -errno;
    flags |= brig_statvfs_mount_flags(sv.f_flag);
    return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0 ? -errno : 0;
}

static bool missing(int errnum)
{
    return errnum == ENOENT || errnum == ENOTDIR;
}

/* The node masks are bound from. Without brig's /dev tmpfs, /dev/null is whatever the image put there: a
 * symlink to /proc/sys/kernel/core_pattern would bind that host-wide file, writable, over a masked path
 * (runc's CVE-2025-31133). Only the null device itself will do, opened without following a link. */
static int open_null_device(struct brig_err **err)
{
    cleanup_close int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd < 0)
        return brig_err_sys(err, "linux.maskedPaths: open `/dev/null` in the container");
    if (fstat(fd, &st) < 0)
        return brig_err_sys(err, "linux.maskedPaths: stat `/dev/null` in the container");
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
        return brig_err_msg(err, EPERM,
                            "linux.maskedPaths: `/dev/null` in the container is not the null device (%s): refused "
                            "to mask with it",
                            S_ISLNK(st.st_mode) ? "a symlink" : S_ISCHR(st.st_mode) ? "another device" : "not a device");
    return steal_fd(fd);
}

static int mask_path(int null_fd, const char *path, struct brig_err **err)
{
    cleanup_close int tree = -1;
    struct stat st;

    if (stat(path, &st) < 0) {
        if (missing(errno))
            return 0;
        return brig_err_sys(err, "mask `%s`", path);
    }
    /* A directory gets an empty read-only tmpfs. */
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
            return brig_err_sys(err, "mask `%s` (tmpfs)", path);
        return 0;
    }
    tree = (int) open_tree(null_fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0)
        return brig_err_sys(err, "mask `%s`: clone `/dev/null`", path);
    if (move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return brig_err_sys(err, "mask `%s`", path);
    return 0;
}

static int readonly_path(const char *path, struct brig_err **err)
{
    int r;

    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (missing(errno))
            return 0;
        return brig_err_sys(err, "bind readonly path `%s`", path);
    }
    r = remount_keeping(path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (r < 0)
        return brig_err_set(err, -r, "remount `%s` read-only", path);
    return 0;
}

void brig_rootfs_readonly_later_close(struct brig_rootfs_ctx *ctx)
{
    for (size_t i = 0; ctx->readonly_later && i < ctx->spec->n_mounts; i++)
        if (ctx->readonly_later[i] >= 0)
            close(ctx->readonly_later[i]);
    free(ctx->readonly_later);
    ctx->readonly_later = NULL;
}

/* The read-only mounts prepare left writable for what went into them (/dev's nodes and links, submount
 * points, the terminal's /dev/console). */
static int make_readonly_later(struct brig_rootfs_ctx *ctx, struct brig_err **err)
{
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    int r = 0;

    for (size_t i = 0; ctx->readonly_later && i < ctx->spec->n_mounts && r == 0; i++)
        if (ctx->readonly_later[i] >= 0 &&
            mount_setattr(ctx->readonly_later[i], "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
            r = brig_err_sys(err, "mounts[%zu]: make `%s` read-only", i, ctx->spec->mounts[i].destination);
    brig_rootfs_readonly_later_close(ctx);
    return r;
}

int brig_rootfs_finalize(struct brig_rootfs_ctx *ctx, struct brig_err **err)
{
    const struct brig_linux *lin = ctx->spec->linux_cfg;
    int r;

    r = make_readonly_later(ctx, err);
    if (r < 0)
        return r;

    if (lin && lin->n_masked_paths) {
        cleanup_close int null_fd = open_null_device(err);

        if (null_fd < 0)
            return null_fd;
        for (size_t i = 0; i < lin->n_masked_paths; i++) {
            r = mask_path(null_fd, lin->masked_paths[i], err);
            if (r < 0)
                return r;
        }
    }
    for (size_t i = 0; lin && i < lin->n_readonly_paths; i++) {
        r = readonly_path(lin->readonly_paths[i], err);
        if (r < 0)
            return r;
    }
    if (ctx->spec->root_readonly) {
        r = remount_keeping("/", MS_RDONLY);
        if (r < 0)
            return brig_err_set(err, -r, "remount `/` read-only");
    }
    if (lin && lin->rootfs_propagation) {
        unsigned long flags = brig_propagation_flags(lin->rootfs_propagation);
        if (!flags)
            return brig_err_set(err, EINVAL, "linux.rootfsPropagation: unknown value `%s`",
                                lin->rootfs_propagation);
        if (mount(NULL, "/", NULL, flags, NULL) < 0)
            return brig_err_sys(err, "set propagation of `/` to `%s`", lin->rootfs_propagation);
    }
    return 0;
}
