/* The `cgroup` mount type. On a cgroup2-only host it is a cgroup2 mount. On a v1 (or hybrid) host it is
 * a tmpfs holding one directory per v1 hierarchy, where the container's own cgroup of that hierarchy is
 * bound (or, in a new cgroup namespace, the hierarchy is mounted afresh, which roots it there). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "internal.h"
#include "util/util.h"

#define CGROUP_MOUNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static bool has_token(const char *list, const char *tok, size_t tok_len)
{
    for (const char *p = list; p && *p;) {
        const char *end = strchrnul(p, ',');
        if ((size_t) (end - p) == tok_len && strncmp(p, tok, tok_len) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

static bool has_all_controllers(const char *super_opts, const char *controllers)
{
    for (const char *p = controllers; *p;) {
        const char *end = strchrnul(p, ',');
        if (!has_token(super_opts, p, (size_t) (end - p)))
            return false;
        p = *end ? end + 1 : end;
    }
    return true;
}

/* The host path of cgroup `path` in the v1 hierarchy of `controllers`, or NULL when it is not mounted. */
static char *v1_source(const char *mountinfo, const char *controllers, const char *path)
{
    cleanup_free char *copy = strdup(mountinfo);
    char *save = NULL;

    if (!copy)
        return NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct brig_mountinfo_entry e;
        size_t root_len;
        char *source;

        if (!brig_mountinfo_parse_line(line, &e) || strcmp(e.fstype, "cgroup") != 0 ||
            !has_all_controllers(e.super_opts, controllers))
            continue;
        root_len = strcmp(e.root, "/") == 0 ? 0 : strlen(e.root);
        if (strncmp(path, e.root, root_len) != 0 || (path[root_len] && path[root_len] != '/'))
            continue;
        if (asprintf(&source, "%s%s", e.mount_point, path + root_len) < 0)
            return NULL;
        return source;
    }
    return NULL;
}

static int mount_hierarchy(const struct brig_rootfs_ctx *ctx, int rootfd, const char *dest, const char *mountinfo,
                           const char *controllers, const char *path, bool readonly, struct brig_err **err)
{
    const bool named = strncmp(controllers, "name=", 5) == 0;
    char proc_path[BRIG_PROC_FD_LEN];
    cleanup_free char *sub = NULL;
    cleanup_free char *source = NULL;
    cleanup_close int fd = -1;
    int r;

    if (!ctx->new_cgroup_ns) {
        source = v1_source(mountinfo, controllers, path);
        if (!source)
            return 0; /* a hierarchy the host does not mount has nothing to show */
    }
    if (asprintf(&sub, "%s/%s", dest, named ? controllers + 5 : controllers) < 0)
        return brig_err_set(err, ENOMEM, "cgroup `%s`", controllers);
    fd = brig_rootfs_mkdir_in_root(rootfd, sub, false, err);
    if (fd < 0)
        return fd;
    brig_proc_fd_path(proc_path, fd);

    if (ctx->new_cgroup_ns) {
        cleanup_free char *data = NULL;
        if (asprintf(&data, "%s%s", named ? "none," : "", controllers) < 0)
            return brig_err_set(err, ENOMEM, "cgroup `%s`", controllers);
        /* Read-only comes from the bind remount below: it changes this mount only, never the
         * hierarchy's superblock that the host shares. */
        if (mount("cgroup", proc_path, "cgroup", CGROUP_MOUNT_FLAGS, data) < 0)
            return brig_err_sys(err, "mount `cgroup` on `%s` (cgroup, %s)", sub, data);
    } else if (mount(source, proc_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        return brig_err_sys(err, "mount `%s` on `%s` (bind)", source, sub);
    }
    close(fd);
    fd = brig_rootfs_open_in_root(rootfd, sub, O_PATH, 0);
    if (fd < 0)
        return brig_err_set(err, -fd, "reopen `%s`", sub);
    r = brig_remount_bind(fd, CGROUP_MOUNT_FLAGS | (readonly ? MS_RDONLY : 0), false);
    if (r < 0)
        return brig_err_set(err, -r, "remount `%s`", sub);
    return 0;
}

/* Comounted controllers ("cpu,cpuacct") get one link per name, as hosts lay them out. */
static void link_comounted(int tmpfs_fd, const char *controllers)
{
    if (!strchr(controllers, ',') || strncmp(controllers, "name=", 5) == 0)
        return;
    for (const char *p = controllers; *p;) {
        const char *end = strchrnul(p, ',');
        char name[64];

        if ((size_t) (end - p) < sizeof(name)) {
            memcpy(name, p, (size_t) (end - p));
            name[end - p] = '\0';
            symlinkat(controllers, tmpfs_fd, name); /* best effort: a missing alias hides nothing */
        }
        p = *end ? end + 1 : end;
    }
}

static int mount_v1(const struct brig_rootfs_ctx *ctx, int rootfd, const char *dest,
                    const struct brig_mount_opts *opts, struct brig_err **err)
{
    const bool readonly = opts->flags & MS_RDONLY;
    char proc_path[BRIG_PROC_FD_LEN];
    cleanup_free char *cgroups = NULL;
    cleanup_free char *mountinfo = NULL;
    cleanup_close int fd = -1;
    const char *step = NULL;
    char *save = NULL;
    int r;

    fd = brig_rootfs_mkdir_in_root(rootfd, dest, false, err);
    if (fd < 0)
        return brig_err_wrap(err, fd, "destination `%s`", dest);
    if (mount("tmpfs", brig_proc_fd_path(proc_path, fd), "tmpfs", CGROUP_MOUNT_FLAGS, "mode=755") < 0)
        return brig_err_sys(err, "mount `tmpfs` on `%s` (tmpfs for cgroup)", dest);
    close(fd);
    fd = brig_rootfs_open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return brig_err_set(err, -fd, "reopen `%s`", dest);

    r = brig_read_file_at(AT_FDCWD, "/proc/self/cgroup", &cgroups, NULL, err);
    if (r < 0)
        return r;
    if (!ctx->new_cgroup_ns) {
        r = brig_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mountinfo, NULL, err);
        if (r < 0)
            return r;
    }
    for (char *line = strtok_r(cgroups, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *controllers = strchr(line, ':');
        char *path = controllers ? strchr(controllers + 1, ':') : NULL;

        if (!path)
            continue;
        *controllers++ = '\0';
        *path++ = '\0';
        if (!*controllers) /* the cgroup2 line of a hybrid host */
            continue;
        if (ctx->cgroup_path && !ctx->new_cgroup_ns)
            path = (char *) ctx->cgroup_path;
        r = mount_hierarchy(ctx, rootfd, dest, mountinfo, controllers, path, readonly, err);
        if (r < 0)
            return r;
        link_comounted(fd, controllers);
    }

    if (readonly) {
        r = brig_remount_bind(fd, CGROUP_MOUNT_FLAGS | MS_RDONLY, false);
        if (r < 0)
            return brig_err_set(err, -r, "remount `tmpfs` on `%s` read-only", dest);
    }
    r = brig_apply_mount_extras(fd, opts, &step);
    if (r < 0)
        return brig_err_set(err, -r, "mount `cgroup` on `%s`: %s", dest, step);
    return 0;
}

int brig_rootfs_mount_cgroup(const struct brig_rootfs_ctx *ctx, int rootfd, const struct brig_mount *m,
                             const struct brig_mount_opts *opts, struct brig_err **err)
{
    struct statfs sfs;

    if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
        return brig_rootfs_mount_fs(ctx, rootfd, "cgroup2", m->destination, "cgroup2", opts, err);
    return mount_v1(ctx, rootfd, m->destination, opts, err);
}
