/* The container's filesystem: every OCI mount, devices, pivot_root, masked and read-only paths.
 * Runs inside the container's init, in its own mount namespace, before the user process is exec'd.
 * Every path taken from the config is resolved inside the rootfs: a symlink in the rootfs never makes
 * brig mount or create anything outside it. */
#ifndef BRIG_ROOTFS_ROOTFS_H
#define BRIG_ROOTFS_ROOTFS_H

#include <stdbool.h>

#include "../spec/spec.h"
#include "../util/error.h"

struct brig_rootfs_ctx {
    const struct brig_spec *spec;
    const char *rootfs;  /* absolute path of the rootfs on the host */
    const char *bundle;  /* absolute bundle path: relative mount sources are relative to it */
    bool no_pivot;       /* --no-pivot: chroot instead of pivot_root */
    bool in_user_ns;     /* devices are bind-mounted from the host instead of mknod */
    bool new_cgroup_ns;  /* a cgroup mount shows the container's own cgroup as root */
    const char *cgroup_path; /* the container's cgroup (same in every hierarchy), when the init may not be
                              * in it yet; NULL: read /proc/self/cgroup */
    int *readonly_later;     /* set by prepare, released by finalize: per `mounts[]` entry, the root of a
                              * read-only mount left writable until then, or -1 */
};

/* Makes the mounts private (or as `linux.rootfsPropagation` asks), bind-mounts the rootfs onto itself,
 * performs every `mounts` entry, creates the default devices and `linux.devices`, the /dev symlinks, and
 * /dev/pts/ptmx wiring. The caller's cwd is unspecified afterwards. */
int brig_rootfs_prepare(struct brig_rootfs_ctx *ctx, struct brig_err **err);

/* pivot_root into the rootfs (chroot with no_pivot), detach the old root, chdir("/"). */
int brig_rootfs_pivot(const struct brig_rootfs_ctx *ctx, struct brig_err **err);

/* After the pivot: the read-only mounts prepare left writable (a read-only /dev, a read-only tmpfs with
 * submounts), `linux.maskedPaths`, `linux.readonlyPaths`, `root.readonly`, and the final
 * `rootfsPropagation`. */
int brig_rootfs_finalize(struct brig_rootfs_ctx *ctx, struct brig_err **err);

/* Opens `path` (absolute or relative) inside `rootfs_fd` with every component resolved inside it,
 * as openat2(RESOLVE_IN_ROOT) does. `flags` are open(2) flags (O_PATH welcome). Returns the fd or -errno. */
int brig_rootfs_open_in_root(int rootfs_fd, const char *path, int flags, mode_t mode);

/* Creates the missing components of `path` inside `rootfs_fd` (directories, and a final empty file when
 * `as_file`), resolving inside the root, and returns an O_PATH fd of the final component, or -errno. */
int brig_rootfs_mkdir_in_root(int rootfs_fd, const char *path, bool as_file, struct brig_err **err);

/* Every mount option brig accepts (for `features`): fills out[0..max) and returns the count. */
size_t brig_rootfs_mount_option_names(const char **out, size_t max);

#endif
