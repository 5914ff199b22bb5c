/* Before the pivot: propagation of the new mount namespace, the rootfs as a mount, every `mounts[]`
 * entry, then /dev. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "internal.h"
#include "util/util.h"

/* pivot_root refuses a new root that is, or hangs under, a shared mount, and a shared parent would also
 * carry the rootfs bind to the host's peers. Only needed when the requested propagation can leave it
 * shared. */
static int make_parent_mount_private(const char *rootfs, struct brig_err **err)
{
    cleanup_free char *mountinfo = NULL;
    char best[PATH_MAX] = "/";
    size_t best_len = 1;
    char *save = NULL;
    int r;

    r = brig_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mountinfo, NULL, err);
    if (r < 0)
        return r;
    for (char *line = strtok_r(mountinfo, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *mount_point = line;
        size_t len;

        for (int field = 0; field < 4 && mount_point; field++) {
            mount_point = strchr(mount_point, ' ');
            if (mount_point)
                mount_point++;
        }
        if (!mount_point)
            continue;
        len = strcspn(mount_point, " ");
        /* The innermost mount holding the rootfs path, the rootfs itself when it is a mount point (an
         * overlay): the self-bind below hangs under it and copies its propagation. */
        if (len <= best_len || len >= sizeof(best) || strncmp(rootfs, mount_point, len) != 0 ||
            (rootfs[len] != '/' && rootfs[len] != '\0'))
            continue;
        memcpy(best, mount_point, len);
        best[len] = '\0';
        best_len = len;
    }
    if (mount(NULL, best, NULL, MS_PRIVATE, NULL) < 0)
        return brig_err_sys(err, "make `%s` private", best);
    return 0;
}

static void readonly_later_release(struct brig_rootfs_ctx **ctx)
{
    if (*ctx)
        brig_rootfs_readonly_later_close(*ctx);
}

int brig_rootfs_prepare(struct brig_rootfs_ctx *ctx, struct brig_err **err)
{
    const struct brig_linux *lin = ctx->spec->linux_cfg;
    const char *propagation = lin ? lin->rootfs_propagation : NULL;
    unsigned long root_flags = MS_REC | MS_SLAVE;
    /* Released on failure; finalize uses and releases it. */
    __attribute__((cleanup(readonly_later_release))) struct brig_rootfs_ctx *release = ctx;
    cleanup_close int rootfd = -1;
    int r;

    if (!ctx->rootfs || ctx->rootfs[0] != '/')
        return brig_err_set(err, EINVAL, "rootfs `%s`: not an absolute path", ctx->rootfs ? ctx->rootfs : "");
    if (propagation) {
        root_flags = brig_propagation_flags(propagation);
        if (!root_flags)
            return brig_err_set(err, EINVAL, "linux.rootfsPropagation: unknown value `%s`", propagation);
    }
    /* Slave by default: host mounts still reach the container, nothing done here reaches the host. */
    if (mount(NULL, "/", NULL, root_flags, NULL) < 0)
        return brig_err_sys(err, "set propagation of `/` to `%s`", propagation ? propagation : "rslave");
    if ((root_flags & MS_SHARED) || !(root_flags & MS_REC)) {
        r = make_parent_mount_private(ctx->rootfs, err);
        if (r < 0)
            return r;
    }
    if (ctx->overlay) {
        struct stat ns_before, ns_after;
        bool have_ns = stat("/proc/self/ns/mnt", &ns_before) == 0;

        /* The overlay is a mount of its own, so no self-bind: pivot_root takes it as it is. */
        r = brig_overlay_mount(ctx->overlay, ctx->in_user_ns, ctx->state_dir_fd, err);
        if (r < 0)
            return r;
        /* fuse-overlayfs leaves its daemon the namespace and moves us to a copy: the bind sources the parent
         * opened belong to the old one, which the kernel will not mount from, so they are found by path again. */
        if (ctx->source_fds &&
            (!have_ns || stat("/proc/self/ns/mnt", &ns_after) < 0 || ns_after.st_ino != ns_before.st_ino))
            ctx->source_fds = NULL;
    } else if (mount(ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
        return brig_err_sys(err, "bind mount rootfs `%s`", ctx->rootfs);
    }
    rootfd = open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return brig_err_sys(err, "open rootfs `%s`", ctx->rootfs);

    ctx->readonly_later = malloc((ctx->spec->n_mounts ? ctx->spec->n_mounts : 1) * sizeof(int));
    if (!ctx->readonly_later)
        return brig_err_set(err, ENOMEM, "mounts");
    for (size_t i = 0; i < ctx->spec->n_mounts; i++)
        ctx->readonly_later[i] = -1;
    for (size_t i = 0; i < ctx->spec->n_mounts; i++) {
        r = brig_rootfs_mount_entry(ctx, rootfd, i, &ctx->readonly_later[i], err);
        if (r < 0)
            return r;
    }
    r = brig_rootfs_setup_dev(ctx, rootfd, err);
    if (r < 0)
        return r;
    release = NULL;
    return 0;
}
