/* The container's filesystem: every OCI mount, devices, pivot_root, masked and read-only paths.
 * Runs inside the container's init, in its own mount namespace, before the user process is exec'd.
 * Every path taken from the config is resolved inside the rootfs: a symlink in the rootfs never makes
 * brig mount or create anything outside it. */
#ifndef BRIG_ROOTFS_ROOTFS_H
#define BRIG_ROOTFS_ROOTFS_H

#include <stdbool.h>
#include <sys/types.h>

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
    const int *source_fds;   /* per `mounts[]` entry, the bind source the parent opened
                              * (brig_rootfs_open_bind_sources), or -1; NULL: none */
    int *readonly_later;     /* set by prepare, released by finalize: per `mounts[]` entry, the root of a
                              * read-only mount left writable until then, or -1 */
};

/* Makes the mounts private (or as `linux.rootfsPropagation` asks), bind-mounts the rootfs onto itself,
 * performs every `mounts` entry, creates the default devices and `linux.devices`, the /dev symlinks, and
 * /dev/pts/ptmx wiring. The caller's cwd is unspecified afterwards. */
int brig_rootfs_prepare(struct brig_rootfs_ctx *ctx, struct brig_err **err);

/* In the parent, once the init is cloned into new user and mount namespaces and before it starts on the
 * rootfs: opens the source of every bind mount (O_PATH) with the parent's credentials, through the init's
 * root, i.e. in its mount namespace, where the init can mount from the fd. A source that the container's
 * user namespace may not reach (a directory only the host's root can search) then still mounts. fds[i] is
 * for mounts[i]; -1 when it is no bind mount or did not open (the init then finds out why itself). */
void brig_rootfs_open_bind_sources(const struct brig_spec *spec, const char *bundle, pid_t init_pid, int *fds);

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
