/* Making the rootfs the container's "/". */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "util/util.h"

static int move_root(const char *rootfs, struct brig_err **err)
{
    if (chdir(rootfs) < 0)
        return brig_err_sys(err, "chdir `%s`", rootfs);
    if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return brig_err_sys(err, "move rootfs `%s` to `/`", rootfs);
    if (chroot(".") < 0)
        return brig_err_sys(err, "chroot `%s`", rootfs);
    return 0;
}

/* pivot_root(".", ".") stacks the old root on top of the new one, so no put_old directory has to
 * exist in the rootfs; the old root is then detached from the top of the stack. */
static int pivot(const char *rootfs, struct brig_err **err)
{
    cleanup_close int fd = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return brig_err_sys(err, "open rootfs `%s`", rootfs);
    if (fchdir(fd) < 0)
        return brig_err_sys(err, "chdir `%s`", rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return brig_err_sys(err, "pivot_root `%s`", rootfs);
    /* Unmount events of a shared old root would unmount the host's mounts too. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return brig_err_sys(err, "make the old root a slave");
    if (umount2(".", MNT_DETACH) < 0)
        return brig_err_sys(err, "detach the old root");
    return 0;
}

int brig_rootfs_pivot(const struct brig_rootfs_ctx *ctx, struct brig_err **err)
{
    int r = ctx->no_pivot ? move_root(ctx->rootfs, err) : pivot(ctx->rootfs, err);

    if (r < 0)
        return r;
    if (chdir("/") < 0)
        return brig_err_sys(err, "chdir `/`");
    return 0;
}
