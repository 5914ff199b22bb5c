/* After the pivot: deferred read-only mounts, masked and read-only paths, a read-only root, the final root
 * propagation. Paths are plain ones now: "/" is the rootfs, so nothing resolves outside it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

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

static int mask_path(const char *path, struct brig_err **err)
{
    /* Binding /dev/null fails with ENOTDIR on a directory, which gets an empty read-only tmpfs. */
    if (mount("/dev/null", path, NULL, MS_BIND, NULL) == 0)
        return 0;
    if (errno == ENOENT)
        return 0;
    if (errno != ENOTDIR)
        return brig_err_sys(err, "mask `%s`", path);
    if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0) {
        if (missing(errno))
            return 0;
        return brig_err_sys(err, "mask `%s` (tmpfs)", path);
    }
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

    for (size_t i = 0; lin && i < lin->n_masked_paths; i++) {
        r = mask_path(lin->masked_paths[i], err);
        if (r < 0)
            return r;
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
