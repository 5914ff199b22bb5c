/* The container's filesystem: every OCI mount, devices, pivot_root, masked and read-only paths.
 * Runs inside the container's init, in its own mount namespace, before the user process is exec'd.
 * Every path taken from the config is resolved inside the rootfs: a symlink in the rootfs never makes
 * brig mount or create anything outside it. */
#ifndef BRIG_ROOTFS_ROOTFS_H
#define BRIG_ROOTFS_ROOTFS_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <sys/stat.h>

#include "../spec/spec.h"
#include "../util/error.h"

struct brig_overlay;

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
    const struct brig_overlay *overlay; /* mounted on `rootfs` first (rootless: the init mounts it), or NULL */
    int state_dir_fd;    /* where fuse-overlayfs writes its log (with `overlay`), or -1 */
};

/* Makes the mounts private (or as `linux.rootfsPropagation` asks), mounts the overlay on the rootfs or
 * bind-mounts the rootfs onto itself,
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

/* ---- the root as an overlay of layers (overlay.c) ---- */

enum brig_overlay_driver {
    BRIG_OVERLAY_AUTO,   /* the kernel's overlay; in a user namespace, fuse-overlayfs when the kernel refuses */
    BRIG_OVERLAY_KERNEL, /* the kernel's only */
    BRIG_OVERLAY_FUSE,   /* fuse-overlayfs only (in a user namespace) */
};

struct brig_overlay {
    char **lowers;   /* absolute directories, lowest first */
    size_t n_lowers;
    char *upper;     /* NULL: a read-only root (no upper, no work directory) */
    char *work;      /* on the upper's filesystem */
    char *target;    /* the mount point */
    char *options;   /* overlay options asked for ("metacopy=on,index=on"), validated; NULL: none */
    enum brig_overlay_driver driver;
};

void brig_overlay_clear(struct brig_overlay *ov);

/* Mounts `ov` on ov->target: the kernel's overlay through fsopen/fsconfig/fsmount (each lower its own
 * `lowerdir+`, so neither the list's length nor `:` or `,` in a path matter; paths over fsconfig's 255 bytes
 * as /proc/self/fd links), or mount(2) on kernels before 6.5; index, metacopy and redirect_dir off unless ov->options asks, where this kernel has them. Read-only
 * with one lower: a read-only bind mount of it. `in_user_ns`: userxattr, and fuse-overlayfs as the driver
 * says, which writes its messages to `fuse-overlayfs.log` in `log_dir_fd` and runs as a child that dies
 * with the caller (the container's init). */
int brig_overlay_mount(const struct brig_overlay *ov, bool in_user_ns, int log_dir_fd, struct brig_err **err);

/* Checks one extra option of run.brig.rootfs.overlay-options ("index=on"): only options that change how
 * the layers are used, not the layers themselves. */
int brig_overlay_check_option(const char *option, struct brig_err **err);

/* ---- the changes in an overlay's upper directory (changes.c) ---- */

enum brig_change_kind {
    BRIG_CHANGE_ADDED = 'A',
    BRIG_CHANGE_CHANGED = 'C',
    BRIG_CHANGE_DELETED = 'D',
};

struct brig_change {
    enum brig_change_kind kind;
    const char *path;       /* in the container: "/etc/passwd" */
    int dir_fd;             /* the upper's directory holding the entry, or -1 (see `st`) */
    const char *name;       /* the entry's name in dir_fd */
    const struct stat *st;  /* the upper's entry; NULL for a lower entry that an opaque directory hides */
    bool whiteout;          /* the entry is a whiteout (a 0:0 device, an overlay.whiteout xattr, .wh.NAME) */
    bool opaque;            /* a directory that hides what the lowers hold under it */
};

/* Called for each change in no particular order; a non-zero return stops the walk and is returned. */
typedef int (*brig_change_fn)(const struct brig_change *change, void *data);

/* Walks the upper directory `upper` of an overlay over `lowers` (lowest first) and reports what it adds,
 * changes and deletes, as `podman diff` does: a new entry is added, one that a lower has is changed (a
 * directory is in the upper only when something under it, or itself, changed), a whiteout is a deletion, and
 * so is each entry of the lowers under an opaque directory that the upper does not have again. Whiteouts
 * and opaque directories of every form: the kernel's (0:0 devices, trusted. and user.overlay.* xattrs) and
 * fuse-overlayfs's (.wh. files, user.fuseoverlayfs.opaque). */
int brig_overlay_changes(const char *upper, char *const *lowers, size_t n_lowers, brig_change_fn fn, void *data,
                         struct brig_err **err);

#endif
