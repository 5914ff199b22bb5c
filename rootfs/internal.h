/* Private helpers shared by the rootfs/ files; not part of the public contract. */
#ifndef BRIG_ROOTFS_INTERNAL_H
#define BRIG_ROOTFS_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/mount.h>

#include "rootfs.h"

#define BRIG_MAX_PROPAGATION 4

/* One `mounts[].options` list, split into what mount(2) takes and what needs extra calls. */
struct brig_mount_opts {
    unsigned long flags;         /* MS_* to set (MS_BIND|MS_REC for bind/rbind) */
    unsigned long propagation[BRIG_MAX_PROPAGATION]; /* each applied with its own mount(2) call */
    size_t n_propagation;
    struct mount_attr rec_attr;  /* r* options, applied with mount_setattr(AT_RECURSIVE) */
    bool has_rec_attr;
    char *data;                  /* unknown options joined by ',' for the filesystem; NULL when none */
};

void brig_mount_opts_free(struct brig_mount_opts *opts);
#define cleanup_mount_opts __attribute__((cleanup(brig_mount_opts_free)))

/* Parses `options` into *out (zeroed first). Fails only on a malformed option list. */
int brig_mount_opts_parse(char *const *options, size_t n_options, struct brig_mount_opts *out,
                          struct brig_err **err);

/* Maps an OCI propagation name ("rslave", "private", ...) to MS_* flags; 0 when unknown. */
unsigned long brig_propagation_flags(const char *name);

/* statvfs() f_flag bits that are MS_* flags a bind remount must keep (locked in a user namespace). */
unsigned long brig_statvfs_mount_flags(unsigned long f_flag);

/* One line of /proc/self/mountinfo, split in place (strings point into the line, unescaped). */
struct brig_mountinfo_entry {
    int id, parent_id;
    char *root;        /* of the mount, inside its filesystem */
    char *mount_point; /* relative to the reader's root */
    char *fstype;
    char *super_opts;
    bool shared;       /* a member of a peer group (its events propagate) */
};

/* Splits `line` into *e; false when it is malformed. */
bool brig_mountinfo_parse_line(char *line, struct brig_mountinfo_entry *e);

/* "/proc/self/fd/N": the host's /proc is still mounted while the rootfs is prepared, and mounting on
 * this path mounts on exactly the inode the fd holds, wherever its path may lead. */
#define BRIG_PROC_FD_LEN 32
static inline const char *brig_proc_fd_path(char buf[BRIG_PROC_FD_LEN], int fd)
{
    snprintf(buf, BRIG_PROC_FD_LEN, "/proc/self/fd/%d", fd);
    return buf;
}

/* brig_rootfs_open_in_root() that fails with ELOOP on any symlink on the way, the last component's too. */
int brig_rootfs_open_no_symlinks(int rootfs_fd, const char *path, int flags);

/* Bind remount of the mount `fd` is the root of, with `flags`; when `keep_current` the flags the mount
 * already has are kept, and on EPERM (locked flags in a user namespace) they are added and retried. */
int brig_remount_bind(int fd, unsigned long flags, bool keep_current);

/* Applies propagation and recursive attributes of `opts` to the mount whose root `fd` is. */
int brig_apply_mount_extras(int fd, const struct brig_mount_opts *opts, const char **failed_step);

/* Performs `spec->mounts[idx]` inside the rootfs. A read-only mount that what comes after must still write
 * into is made read-write, and *readonly_fd gets its root for the caller to make it read-only then. */
int brig_rootfs_mount_entry(const struct brig_rootfs_ctx *ctx, int rootfd, size_t idx, int *readonly_fd,
                            struct brig_err **err);

/* Closes and frees ctx->readonly_later (finalize, or prepare when it fails). */
void brig_rootfs_readonly_later_close(struct brig_rootfs_ctx *ctx);

/* The `cgroup` mount type: cgroup2 on a cgroup2-only host, else a tmpfs with one bind per v1 hierarchy. */
int brig_rootfs_mount_cgroup(const struct brig_rootfs_ctx *ctx, int rootfd, const struct brig_mount *m,
                             const struct brig_mount_opts *opts, struct brig_err **err);

/* Mounts a non-bind filesystem of `type` on `dest` inside the rootfs. */
int brig_rootfs_mount_fs(const struct brig_rootfs_ctx *ctx, int rootfd, const char *source, const char *dest,
                         const char *type, const struct brig_mount_opts *opts, struct brig_err **err);

/* Default devices, `linux.devices`, the /dev symlinks and /dev/ptmx. */
int brig_rootfs_setup_dev(const struct brig_rootfs_ctx *ctx, int rootfd, struct brig_err **err);

#endif
