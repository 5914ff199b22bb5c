/* One `mounts[]` entry: bind mounts and filesystems, each on a target resolved inside the rootfs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <sched.h>
#include <unistd.h>

#include "internal.h"
#include "util/util.h"

/* The flags a bind mount can only get through a remount. */
#define BIND_REMOUNT_FLAGS(flags) ((flags) & ~(unsigned long) (MS_BIND | MS_REC | MS_REMOUNT))

int brig_remount_bind(int fd, unsigned long flags, bool keep_current)
{
    char proc_path[BRIG_PROC_FD_LEN];
    struct statvfs sv;

    brig_proc_fd_path(proc_path, fd);
    if (!keep_current) {
        if (mount(NULL, proc_path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
            return 0;
        if (errno != EPERM)
            return -errno;
    }
    if (fstatvfs(fd, &sv) < 0)
        return -errno;
    flags |= brig_statvfs_mount_flags(sv.f_flag);
    return mount(NULL, proc_path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0 ? -errno : 0;
}

int brig_apply_mount_extras(int fd, const struct brig_mount_opts *opts, const char **failed_step)
{
    char proc_path[BRIG_PROC_FD_LEN];

    brig_proc_fd_path(proc_path, fd);
    for (size_t i = 0; i < opts->n_propagation; i++) {
        if (mount(NULL, proc_path, NULL, opts->propagation[i], NULL) < 0) {
            *failed_step = "set propagation";
            return -errno;
        }
    }
    if (opts->has_rec_attr) {
        struct mount_attr attr = opts->rec_attr;
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
            *failed_step = "set recursive attributes";
            return -errno;
        }
    }
    return 0;
}

/* A mount hides the inode the target fd holds; what comes after acts on the new mount's root, which
 * only a fresh lookup of the destination returns. */
static int reopen_target(int rootfd, const char *dest, const char *what, struct brig_err **err)
{
    int fd = brig_rootfs_open_in_root(rootfd, dest, O_PATH, 0);
    if (fd < 0)
        return brig_err_set(err, -fd, "%s: reopen `%s`", what, dest);
    return fd;
}

static int finish_mount(int rootfd, const char *source, const char *dest, const char *type,
                        const struct brig_mount_opts *opts, bool bind_remount, struct brig_err **err)
{
    cleanup_close int fd = -1;
    const char *step = NULL;
    int r;

    if (!bind_remount && !opts->n_propagation && !opts->has_rec_attr)
        return 0;
    fd = reopen_target(rootfd, dest, "mount", err);
    if (fd < 0)
        return fd;
    if (bind_remount) {
        r = brig_remount_bind(fd, BIND_REMOUNT_FLAGS(opts->flags), false);
        if (r < 0)
            return brig_err_set(err, -r, "remount `%s` on `%s` (%s)", source, dest, type);
    }
    r = brig_apply_mount_extras(fd, opts, &step);
    if (r < 0)
        return brig_err_set(err, -r, "mount `%s` on `%s` (%s): %s", source, dest, type, step);
    return 0;
}

static int target_error(const char *dest, int r, struct brig_err **err)
{
    if (r == -EXDEV) {
        brig_err_set(err, 0, "destination `%s` resolves outside the rootfs", dest);
        return -EXDEV;
    }
    return brig_err_wrap(err, r, "destination `%s`", dest);
}

/* A relative bind source is relative to the bundle. *joined owns the result when one is made. */
static const char *bind_source_path(const char *bundle, const char *source, char **joined)
{
    if (source[0] == '/' || !bundle)
        return source;
    if (asprintf(joined, "%s/%s", bundle, source) < 0) {
        *joined = NULL;
        return NULL;
    }
    return *joined;
}

/* The bind source the parent opened for mounts[idx] (brig_rootfs_open_bind_sources), or -1. */
static int source_fd(const struct brig_rootfs_ctx *ctx, size_t idx)
{
    return ctx->source_fds ? ctx->source_fds[idx] : -1;
}

static int stat_source(int fd, const char *source, struct stat *st, struct brig_err **err)
{
    if ((fd >= 0 ? fstat(fd, st) : stat(source, st)) < 0)
        return brig_err_sys(err, "bind mount source `%s`", source);
    return 0;
}

static int mount_bind(const struct brig_rootfs_ctx *ctx, int rootfd, size_t idx, const char *dest,
                      const struct brig_mount_opts *opts, struct brig_err **err)
{
    char proc_path[BRIG_PROC_FD_LEN], source_proc_path[BRIG_PROC_FD_LEN];
    cleanup_free char *joined = NULL;
    cleanup_close int fd = -1;
    int opened = source_fd(ctx, idx);
    const char *source = ctx->spec->mounts[idx].source;
    struct stat st;
    int r;

    if (!source)
        return brig_err_set(err, EINVAL, "bind mount on `%s`: no source", dest);
    source = bind_source_path(ctx->bundle, source, &joined);
    if (!source)
        return brig_err_set(err, ENOMEM, "bind mount on `%s`", dest);
    r = stat_source(opened, source, &st, err);
    if (r < 0)
        return r;
    fd = brig_rootfs_mkdir_in_root(rootfd, dest, !S_ISDIR(st.st_mode), err);
    if (fd < 0)
        return target_error(dest, fd, err);
    if (mount(opened >= 0 ? brig_proc_fd_path(source_proc_path, opened) : source, brig_proc_fd_path(proc_path, fd),
              NULL, MS_BIND | (opts->flags & MS_REC), NULL) < 0)
        return brig_err_sys(err, "mount `%s` on `%s` (bind)", source, dest);
    return finish_mount(rootfd, source, dest, "bind", opts, BIND_REMOUNT_FLAGS(opts->flags) != 0, err);
}

/* In a user namespace that does not own the network (sysfs), IPC (mqueue) or cgroup (cgroup2) namespace
 * the kernel refuses a new instance; the host's one bound in its place is what runc does too. */
static const char *userns_fallback_source(const char *type)
{
    if (strcmp(type, "sysfs") == 0)
        return "/sys";
    if (strcmp(type, "cgroup2") == 0)
        return "/sys/fs/cgroup";
    if (strcmp(type, "mqueue") == 0)
        return "/dev/mqueue";
    return NULL;
}

/* proc or sysfs where the image put a symlink would land wherever the image points it (CVE-2019-19921:
 * proc over a directory the image controls, where the writes meant for /proc/self/attr go to plain files):
 * their destination must be a directory reached through no symlink. Missing directories are made, and
 * only when no symlink leads to them. */
static int ordinary_dir_target(int rootfd, const char *dest, struct brig_err **err)
{
    cleanup_close int fd = brig_rootfs_open_no_symlinks(rootfd, dest, O_PATH);
    struct stat st;

    if (fd == -ENOENT) {
        cleanup_close int made = brig_rootfs_mkdir_in_root(rootfd, dest, false, err);
        if (made < 0)
            return target_error(dest, made, err);
        fd = brig_rootfs_open_no_symlinks(rootfd, dest, O_PATH);
    }
    if (fd == -ELOOP)
        return brig_err_msg(err, ELOOP, "destination `%s`: must be mounted on an ordinary directory, not through "
                                        "a symlink", dest);
    if (fd < 0 && fd != -ENOTDIR)
        return brig_err_set(err, -fd, "destination `%s`: open in the rootfs", dest);
    if (fd == -ENOTDIR || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
        return brig_err_msg(err, ENOTDIR, "destination `%s`: must be mounted on an ordinary directory", dest);
    return steal_fd(fd);
}

int brig_rootfs_mount_fs(const struct brig_rootfs_ctx *ctx, int rootfd, const char *source, const char *dest,
                         const char *type, const struct brig_mount_opts *opts, struct brig_err **err)
{
    char proc_path[BRIG_PROC_FD_LEN];
    cleanup_close int fd = -1;
    const char *fallback;

    if (!source)
        source = type;
    if (strcmp(type, "proc") == 0 || strcmp(type, "sysfs") == 0) {
        fd = ordinary_dir_target(rootfd, dest, err);
        if (fd < 0)
            return fd;
    } else {
        fd = brig_rootfs_mkdir_in_root(rootfd, dest, false, err);
        if (fd < 0)
            return target_error(dest, fd, err);
    }
    brig_proc_fd_path(proc_path, fd);
    if (mount(source, proc_path, type, opts->flags, opts->data) == 0)
        return finish_mount(rootfd, source, dest, type, opts, false, err);
    if (errno != EPERM || !ctx->in_user_ns || !(fallback = userns_fallback_source(type)))
        return brig_err_sys(err, "mount `%s` on `%s` (%s)", source, dest, type);
    if (mount(fallback, proc_path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return brig_err_sys(err, "mount `%s` on `%s` (bind in place of %s)", fallback, dest, type);
    return finish_mount(rootfd, fallback, dest, "bind", opts, BIND_REMOUNT_FLAGS(opts->flags) != 0, err);
}

static int write_id_map(pid_t pid, const char *file, const struct brig_id_mapping *maps, size_t n,
                        struct brig_err **err)
{
    char path[64], text[4096];
    size_t len = 0;

    /* An id mapping of a mount reads on-disk ids (hostID) and shows container ids: the mount's user
     * namespace has the on-disk ids inside and the container's ids outside. */
    for (size_t i = 0; i < n && len < sizeof(text); i++)
        len += (size_t) snprintf(text + len, sizeof(text) - len, "%u %u %u\n", maps[i].host_id,
                                 maps[i].container_id, maps[i].size);
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
    return brig_write_file_at(AT_FDCWD, path, text, len, err);
}

/* A user namespace holding the mount's mappings, for MOUNT_ATTR_IDMAP: a child is born in it, its maps are
 * written, and the namespace outlives it through the returned fd. */
static int idmap_userns(const struct brig_mount *m, struct brig_err **err)
{
    int ready[2], report[2];
    char path[64], proc_pid[32] = {0};
    pid_t pid, proc_id;
    int fd = -1, ret;

    /* The init may have a pid namespace of its own while /proc is still the host's: the child tells us the
     * pid under which /proc knows it. */
    if (pipe2(ready, O_CLOEXEC) < 0)
        return brig_err_sys(err, "idmapped mount: pipe");
    if (pipe2(report, O_CLOEXEC) < 0) {
        close(ready[0]);
        close(ready[1]);
        return brig_err_sys(err, "idmapped mount: pipe");
    }
    pid = (pid_t) syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        ret = brig_err_sys(err, "idmapped mount: create user namespace");
        close(ready[0]);
        close(ready[1]);
        close(report[0]);
        close(report[1]);
        return ret;
    }
    if (pid == 0) {
        char c, self[32] = {0};
        close(ready[1]);
        close(report[0]);
        if (readlink("/proc/self", self, sizeof(self) - 1) > 0)
            (void) !write(report[1], self, strlen(self));
        close(report[1]);
        (void) !read(ready[0], &c, 1);
        _exit(0);
    }
    close(ready[0]);
    close(report[1]);
    (void) !read(report[0], proc_pid, sizeof(proc_pid) - 1);
    close(report[0]);
    proc_id = (pid_t) atoi(proc_pid);
    ret = proc_id > 0 ? 0 : brig_err_set(err, ESRCH, "idmapped mount: user namespace helper is gone");
    if (ret == 0)
        ret = write_id_map(proc_id, "uid_map", m->uid_mappings, m->n_uid_mappings, err);
    if (ret == 0)
        ret = write_id_map(proc_id, "gid_map", m->gid_mappings, m->n_gid_mappings, err);
    if (ret == 0) {
        snprintf(path, sizeof(path), "/proc/%d/ns/user", proc_id);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            ret = brig_err_sys(err, "idmapped mount: open `%s`", path);
    }
    close(ready[1]);
    waitpid(pid, NULL, 0);
    return ret < 0 ? ret : fd;
}

/* uidMappings/gidMappings on a bind mount: a detached copy of the source gets the id mapping, then is moved
 * onto the target (open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount). */
static int mount_idmapped(const struct brig_rootfs_ctx *ctx, int rootfd, size_t idx, const struct brig_mount_opts *opts,
                          struct brig_err **err)
{
    const struct brig_mount *m = &ctx->spec->mounts[idx];
    bool recursive = opts->flags & MS_REC;
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
    cleanup_free char *joined = NULL;
    cleanup_close int userns = -1;
    cleanup_close int tree = -1;
    cleanup_close int target = -1;
    int opened = source_fd(ctx, idx);
    const char *source = m->source;
    struct stat st;
    int r;

    if (!source)
        return brig_err_set(err, EINVAL, "idmapped mount on `%s`: no source", m->destination);
    if (!m->n_uid_mappings || !m->n_gid_mappings)
        return brig_err_set(err, 0, "idmapped mount on `%s`: both uidMappings and gidMappings are needed",
                            m->destination);
    source = bind_source_path(ctx->bundle, source, &joined);
    if (!source)
        return brig_err_set(err, ENOMEM, "idmapped mount on `%s`", m->destination);
    r = stat_source(opened, source, &st, err);
    if (r < 0)
        return r;
    target = brig_rootfs_mkdir_in_root(rootfd, m->destination, !S_ISDIR(st.st_mode), err);
    if (target < 0)
        return target_error(m->destination, target, err);
    userns = idmap_userns(m, err);
    if (userns < 0)
        return userns;
    tree = (int) open_tree(opened >= 0 ? opened : AT_FDCWD, opened >= 0 ? "" : source,
                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) |
                               (opened >= 0 ? AT_EMPTY_PATH : 0));
    if (tree < 0)
        return brig_err_sys(err, "idmapped mount: clone `%s`", source);
    attr.userns_fd = (uint64_t) userns;
    if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
        return brig_err_sys(err, "idmapped mount: map ids of `%s`", source);
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return brig_err_sys(err, "idmapped mount: move `%s` onto `%s`", source, m->destination);
    return finish_mount(rootfd, source, m->destination, "bind", opts, BIND_REMOUNT_FLAGS(opts->flags) != 0, err);
}

static bool is_bind(const struct brig_mount *m, const struct brig_mount_opts *opts)
{
    return (opts->flags & MS_BIND) || (m->type && strcmp(m->type, "bind") == 0);
}

/* Length of `path` without trailing slashes ("/" keeps its one). */
static size_t trimmed_len(const char *path)
{
    size_t len = strlen(path);

    while (len > 1 && path[len - 1] == '/')
        len--;
    return len;
}

static bool path_is_below(const char *path, const char *dir)
{
    size_t len = trimmed_len(dir);

    if (strncmp(path, dir, len) != 0 || (len > 1 && path[len] != '/'))
        return false;
    return path[len + strspn(path + len, "/")] != '\0';
}

/* A read-only tmpfs that later mounts need mount points in, or a read-only /dev that its nodes, links and
 * the terminal's /dev/console go into, is mounted read-write and made read-only by finalize, once all that
 * is made (runc defers /dev the same way). */
static bool readonly_later(const struct brig_spec *spec, size_t idx, const struct brig_mount_opts *opts)
{
    const struct brig_mount *m = &spec->mounts[idx];

    if (!(opts->flags & MS_RDONLY))
        return false;
    if (trimmed_len(m->destination) == 4 && strncmp(m->destination, "/dev", 4) == 0)
        return true;
    if (strcmp(m->type, "tmpfs") != 0)
        return false;
    for (size_t j = idx + 1; j < spec->n_mounts; j++)
        if (spec->mounts[j].destination && path_is_below(spec->mounts[j].destination, m->destination))
            return true;
    return false;
}

int brig_rootfs_mount_entry(const struct brig_rootfs_ctx *ctx, int rootfd, size_t idx, int *readonly_fd,
                            struct brig_err **err)
{
    const struct brig_mount *m = &ctx->spec->mounts[idx];
    cleanup_mount_opts struct brig_mount_opts opts = {0};
    int r;

    if (!m->destination)
        return brig_err_set(err, EINVAL, "mounts[%zu]: no destination", idx);
    r = brig_mount_opts_parse(m->options, m->n_options, &opts, err);
    if (r < 0)
        return brig_err_wrap(err, r, "mounts[%zu]", idx);

    if (m->n_uid_mappings || m->n_gid_mappings) {
        if (!is_bind(m, &opts))
            r = brig_err_set(err, 0, "destination `%s`: id mappings are only supported on bind mounts",
                             m->destination);
        else
            r = mount_idmapped(ctx, rootfd, idx, &opts, err);
    } else if (is_bind(m, &opts))
        r = mount_bind(ctx, rootfd, idx, m->destination, &opts, err);
    else if (!m->type)
        r = brig_err_set(err, EINVAL, "destination `%s`: no type", m->destination);
    else if (strcmp(m->type, "cgroup") == 0)
        r = brig_rootfs_mount_cgroup(ctx, rootfd, m, &opts, err);
    else if (readonly_later(ctx->spec, idx, &opts)) {
        opts.flags &= ~(unsigned long) MS_RDONLY;
        r = brig_rootfs_mount_fs(ctx, rootfd, m->source, m->destination, m->type, &opts, err);
        if (r == 0) {
            *readonly_fd = reopen_target(rootfd, m->destination, "mount", err);
            r = *readonly_fd < 0 ? *readonly_fd : 0;
        }
    } else
        r = brig_rootfs_mount_fs(ctx, rootfd, m->source, m->destination, m->type, &opts, err);
    if (r < 0)
        return brig_err_wrap(err, r, "mounts[%zu]", idx);
    return 0;
}

void brig_rootfs_open_bind_sources(const struct brig_spec *spec, const char *bundle, pid_t init_pid, int *fds)
{
    cleanup_close int root = -1;
    char root_path[64];

    for (size_t i = 0; i < spec->n_mounts; i++)
        fds[i] = -1;
    snprintf(root_path, sizeof(root_path), "/proc/%d/root", (int) init_pid);
    root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return;
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct brig_mount *m = &spec->mounts[i];
        cleanup_mount_opts struct brig_mount_opts opts = {0};
        cleanup_free char *joined = NULL;
        cleanup_err struct brig_err *ignored = NULL;
        const char *source;

        if (!m->source || !m->destination || brig_mount_opts_parse(m->options, m->n_options, &opts, &ignored) < 0 ||
            !is_bind(m, &opts))
            continue;
        source = bind_source_path(bundle, m->source, &joined);
        /* The init's root is where the parent's was: resolved in it, the source is the same path, in the
         * init's mount namespace. */
        if (source)
            fds[i] = brig_rootfs_open_in_root(root, source, O_PATH, 0);
        if (fds[i] < 0)
            fds[i] = -1;
    }
}
