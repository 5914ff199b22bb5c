/* /dev: the default device nodes, `linux.devices`, the /proc/self/fd links and /dev/ptmx. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "util/util.h"

struct default_device {
    const char *path;
    unsigned int major, minor;
};

static const struct default_device default_devices[] = {
    {"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static const struct {
    const char *name;
    const char *target;
} dev_links[] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

struct device_node {
    const char *path;
    mode_t mode; /* type and permission bits */
    dev_t dev;
    brig_opt_u64 uid, gid;
};

static int bind_host_device(int rootfd, const struct device_node *d, struct brig_err **err)
{
    char proc_path[BRIG_PROC_FD_LEN];
    cleanup_close int fd = brig_rootfs_mkdir_in_root(rootfd, d->path, true, err);

    if (fd < 0)
        return fd;
    if (mount(d->path, brig_proc_fd_path(proc_path, fd), NULL, MS_BIND, NULL) < 0)
        return brig_err_sys(err, "mount `%s` on `%s` (bind)", d->path, d->path);
    return 0;
}

static int create_device(const struct brig_rootfs_ctx *ctx, int rootfd, const struct device_node *d,
                         struct brig_err **err)
{
    const char *slash = strrchr(d->path, '/');
    char parent_path[PATH_MAX];
    cleanup_close int parent = -1;
    const char *name;

    if (ctx->in_user_ns)
        return bind_host_device(rootfd, d, err);
    if (!slash || !slash[1] || (size_t) (slash - d->path) >= sizeof(parent_path))
        return brig_err_set(err, EINVAL, "not a file path");
    name = slash + 1;
    memcpy(parent_path, d->path, (size_t) (slash - d->path));
    parent_path[slash - d->path] = '\0';
    parent = brig_rootfs_mkdir_in_root(rootfd, parent_path[0] ? parent_path : "/", false, err);
    if (parent < 0)
        return parent;
    /* An existing entry is kept, as in runc: the config's own /dev content wins. mknodat does not
     * follow a symlink at `name`, so this cannot create outside the rootfs. */
    if (mknodat(parent, name, d->mode, d->dev) < 0) {
        if (errno == EEXIST)
            return 0;
        if (errno == EPERM)
            return bind_host_device(rootfd, d, err);
        return brig_err_sys(err, "mknod");
    }
    if ((d->uid.set || d->gid.set) &&
        fchownat(parent, name, d->uid.set ? (uid_t) d->uid.value : (uid_t) -1,
                 d->gid.set ? (gid_t) d->gid.value : (gid_t) -1, AT_SYMLINK_NOFOLLOW) < 0)
        return brig_err_sys(err, "chown");
    return 0;
}

static int device_type_bits(const char *type, mode_t *bits)
{
    if (!type || !type[0] || type[1])
        return -EINVAL;
    switch (type[0]) {
    case 'c':
    case 'u':
        *bits = S_IFCHR;
        return 0;
    case 'b':
        *bits = S_IFBLK;
        return 0;
    case 'p':
        *bits = S_IFIFO;
        return 0;
    default:
        return -EINVAL;
    }
}

static int create_devices(const struct brig_rootfs_ctx *ctx, int rootfd, struct brig_err **err)
{
    const struct brig_linux *lin = ctx->spec->linux_cfg;

    for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
        const struct default_device *dd = &default_devices[i];
        struct device_node d = {
            .path = dd->path,
            .mode = S_IFCHR | 0666,
            .dev = makedev(dd->major, dd->minor),
        };
        int r = create_device(ctx, rootfd, &d, err);
        if (r < 0)
            return brig_err_wrap(err, r, "device `%s`", dd->path);
    }
    for (size_t i = 0; lin && i < lin->n_devices; i++) {
        const struct brig_device *cd = &lin->devices[i];
        struct device_node d = {.path = cd->path, .uid = cd->uid, .gid = cd->gid};
        mode_t type_bits;
        int r;

        if (!cd->path)
            return brig_err_set(err, EINVAL, "linux.devices[%zu]: no path", i);
        if (device_type_bits(cd->type, &type_bits) < 0)
            return brig_err_set(err, EINVAL, "device `%s`: type `%s` is not c, b, u or p", cd->path,
                                cd->type ? cd->type : "");
        d.mode = type_bits | (cd->file_mode.set ? (mode_t) (cd->file_mode.value & 07777) : 0666);
        d.dev = type_bits == S_IFIFO ? 0 : makedev((unsigned int) cd->major, (unsigned int) cd->minor);
        r = create_device(ctx, rootfd, &d, err);
        if (r < 0)
            return brig_err_wrap(err, r, "device `%s`", cd->path);
    }
    return 0;
}

static int create_links(const struct brig_rootfs_ctx *ctx, int devfd, struct brig_err **err)
{
    const struct brig_spec *spec = ctx->spec;
    bool has_devpts = false;

    for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
        if (symlinkat(dev_links[i].target, devfd, dev_links[i].name) < 0 && errno != EEXIST)
            return brig_err_sys(err, "symlink `/dev/%s`", dev_links[i].name);
    if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", devfd, "core") < 0 && errno != EEXIST)
        return brig_err_sys(err, "symlink `/dev/core`");

    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct brig_mount *m = &spec->mounts[i];
        if (m->type && strcmp(m->type, "devpts") == 0 && m->destination &&
            strcmp(m->destination, "/dev/pts") == 0)
            has_devpts = true;
    }
    if (!has_devpts)
        return 0;
    /* The container's pts instance has its own ptmx; a node for the host's multiplexer would hand out
     * ptys of the host's instance. */
    if (unlinkat(devfd, "ptmx", 0) < 0 && errno != ENOENT)
        return brig_err_sys(err, "remove `/dev/ptmx`");
    if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
        return brig_err_sys(err, "symlink `/dev/ptmx`");
    return 0;
}

/* A /dev bound from the host already has what the host gives it; it is not ours to fill. */
static bool dev_is_bound(const struct brig_spec *spec)
{
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct brig_mount *m = &spec->mounts[i];
        if (!m->destination || strcmp(m->destination, "/dev") != 0)
            continue;
        if (m->type && strcmp(m->type, "bind") == 0)
            return true;
        for (size_t j = 0; j < m->n_options; j++)
            if (strcmp(m->options[j], "bind") == 0 || strcmp(m->options[j], "rbind") == 0)
                return true;
    }
    return false;
}

int brig_rootfs_setup_dev(const struct brig_rootfs_ctx *ctx, int rootfd, struct brig_err **err)
{
    cleanup_close int devfd = -1;
    mode_t saved_umask;
    int r;

    if (dev_is_bound(ctx->spec))
        return 0;
    devfd = brig_rootfs_mkdir_in_root(rootfd, "/dev", false, err);
    if (devfd < 0)
        return brig_err_wrap(err, devfd, "/dev");
    /* File modes of devices are exact, as the config gives them. */
    saved_umask = umask(0);
    r = create_devices(ctx, rootfd, err);
    umask(saved_umask);
    if (r < 0)
        return r;
    return create_links(ctx, devfd, err);
}
