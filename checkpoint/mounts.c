/* What CRIU must be told about the container's mounts and namespaces: every bind mount and masked file is
 * an external mount (CRIU cannot dump what lies outside the container), keyed as runc and crun key them. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "../rootfs/rootfs.h"
#include "../util/util.h"

bool ckpt_mount_is_bind(const struct brig_mount *m)
{
    if (m->type && !strcmp(m->type, "bind"))
        return true;
    for (size_t i = 0; i < m->n_options; i++)
        if (!strcmp(m->options[i], "bind") || !strcmp(m->options[i], "rbind"))
            return true;
    return false;
}

char *ckpt_resolve_destination(int rootfs_fd, const char *rootfs, const char *destination)
{
    char link[64], resolved[PATH_MAX];
    size_t root_len = strlen(rootfs);
    ssize_t n;
    int fd;

    fd = rootfs_fd >= 0 ? brig_rootfs_open_in_root(rootfs_fd, destination, O_PATH | O_CLOEXEC, 0) : -1;
    if (fd < 0)
        return strdup(destination);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, resolved, sizeof(resolved) - 1);
    close(fd);
    if (n <= 0)
        return strdup(destination);
    resolved[n] = '\0';
    if ((size_t) n == root_len && !strcmp(resolved, rootfs))
        return strdup("/");
    if ((size_t) n > root_len && !strncmp(resolved, rootfs, root_len) && resolved[root_len] == '/')
        return strdup(resolved + root_len);
    return strdup(destination);
}

/* The absolute source of a bind mount (a relative one is the bundle's, as create takes it). */
static char *bind_source(const char *bundle, const char *source)
{
    char *out = NULL;

    if (!source)
        return NULL;
    if (source[0] == '/' || !bundle)
        return strdup(source);
    if (asprintf(&out, "%s/%s", bundle, source) < 0)
        return NULL;
    return out;
}

static int add_bind(const struct ckpt_criu *criu, criu_opts *o, const struct brig_ckpt_target *t, int rootfs_fd,
                    const struct brig_mount *m, bool restore, struct brig_err **err)
{
    cleanup_free char *key = ckpt_resolve_destination(rootfs_fd, t->rootfs, m->destination);
    cleanup_free char *source = restore ? bind_source(t->bundle, m->source) : NULL;

    if (!key || (restore && !source))
        return brig_err_set(err, ENOMEM, "mount `%s`", m->destination);
    /* Dump: the mount point names itself in the image. Restore: that name is given its host source. */
    if (criu->criu_local_add_ext_mount(o, key, restore ? source : key) < 0)
        return brig_err_set(err, ENOMEM, "mount `%s`", m->destination);
    return 0;
}

/* A masked path that is a file is /dev/null bound over it. Directories get a tmpfs, which CRIU dumps. */
static bool masked_file(const struct brig_ckpt_target *t, const char *path)
{
    char proc_path[PATH_MAX];
    struct stat st;

    if ((size_t) snprintf(proc_path, sizeof(proc_path), "/proc/%d/root%s", (int) t->pid, path) >= sizeof(proc_path))
        return false;
    return stat(proc_path, &st) == 0 && !S_ISDIR(st.st_mode);
}

int ckpt_add_external_mounts(const struct ckpt_criu *criu, criu_opts *o, const struct brig_ckpt_target *t,
                             bool restore, struct brig_err **err)
{
    const struct brig_spec *spec = t->spec;
    cleanup_close int rootfs_fd = open(t->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int ret;

    for (size_t i = 0; i < spec->n_mounts; i++) {
        if (!ckpt_mount_is_bind(&spec->mounts[i]))
            continue;
        ret = add_bind(criu, o, t, rootfs_fd, &spec->mounts[i], restore, err);
        if (ret < 0)
            return ret;
    }
    for (size_t i = 0; i < t->n_extra_mounts; i++) {
        ret = add_bind(criu, o, t, rootfs_fd, &t->extra_mounts[i], restore, err);
        if (ret < 0)
            return ret;
    }
    if (!spec->linux_cfg)
        return 0;
    for (size_t i = 0; i < spec->linux_cfg->n_masked_paths; i++) {
        const char *path = spec->linux_cfg->masked_paths[i];
        /* On restore every one is named: a key the image does not use is ignored. */
        if (!restore && !masked_file(t, path))
            continue;
        if (criu->criu_local_add_ext_mount(o, path, "/dev/null") < 0)
            return brig_err_set(err, ENOMEM, "masked path `%s`", path);
    }
    if (restore && criu->criu_local_add_ext_mount(o, "/dev/null", "/dev/null") < 0)
        return brig_err_set(err, ENOMEM, "masked paths");
    return 0;
}

/* `path` lies strictly below the directory `dir`. */
static bool below(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    while (n > 1 && dir[n - 1] == '/')
        n--;
    return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1];
}

/* Below a tmpfs of the config (CRIU restores its content, mount points too) or below another bind mount
 * (the mount point is in that mount's source, not in the rootfs). */
static bool below_other_mount(const struct brig_spec *spec, const char *destination)
{
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct brig_mount *m = &spec->mounts[i];
        if (((m->type && !strcmp(m->type, "tmpfs")) || ckpt_mount_is_bind(m)) && below(destination, m->destination))
            return true;
    }
    return false;
}

static int make_mountpoint(int rootfs_fd, const struct brig_ckpt_target *t, const struct brig_mount *m,
                           struct brig_err **err)
{
    cleanup_free char *source = bind_source(t->bundle, m->source);
    struct stat st;
    int fd;

    if (!source)
        return brig_err_set(err, ENOMEM, "mount `%s`", m->destination);
    if (below_other_mount(t->spec, m->destination))
        return 0;
    /* A source that is gone fails in CRIU's restore, which names it. */
    if (stat(source, &st) < 0)
        return 0;
    fd = brig_rootfs_mkdir_in_root(rootfs_fd, m->destination, !S_ISDIR(st.st_mode), err);
    if (fd < 0)
        return brig_err_wrap(err, fd, "mount point `%s` in `%s`", m->destination, t->rootfs);
    close(fd);
    return 0;
}

int ckpt_make_mountpoints(const struct brig_ckpt_target *t, struct brig_err **err)
{
    const struct brig_spec *spec = t->spec;
    cleanup_close int rootfs_fd = open(t->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int ret;

    if (rootfs_fd < 0)
        return brig_err_sys(err, "rootfs `%s`", t->rootfs);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        if (!ckpt_mount_is_bind(&spec->mounts[i]))
            continue;
        ret = make_mountpoint(rootfs_fd, t, &spec->mounts[i], err);
        if (ret < 0)
            return ret;
    }
    for (size_t i = 0; i < t->n_extra_mounts; i++) {
        ret = make_mountpoint(rootfs_fd, t, &t->extra_mounts[i], err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The keys under which runc and crun name a joined network and pid namespace. */
static const struct {
    enum brig_ns_type type;
    const char *prefix;
    const char *key;
} external_namespaces[] = {
    {BRIG_NS_NETWORK, "net", "extRootNetNS"},
    {BRIG_NS_PID, "pid", "extRootPidNS"},
};

/* lo up, as a container's new network namespace has it (a restored socket may be bound to 127.0.0.1). */
static void loopback_up(void)
{
    cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};

    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (sock >= 0 && ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(sock, SIOCSIFFLAGS, &ifr);
    }
}

/* A new network namespace with nothing in it but lo, as an fd: made here and left at once (brig is one
 * thread, so unshare and setns back move only us). */
static int empty_netns(struct brig_err **err)
{
    cleanup_close int ours = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd;

    if (ours < 0)
        return brig_err_sys(err, "--empty-ns network: open our network namespace");
    if (unshare(CLONE_NEWNET) < 0)
        return brig_err_sys(err, "--empty-ns network: new network namespace");
    fd = open("/proc/self/ns/net", O_RDONLY);
    loopback_up();
    if (setns(ours, CLONE_NEWNET) < 0) {
        if (fd >= 0)
            close(fd);
        return brig_err_sys(err, "--empty-ns network: back to our network namespace");
    }
    if (fd < 0)
        return brig_err_sys(err, "--empty-ns network: open the new network namespace");
    return fd;
}

int ckpt_add_external_namespaces(const struct ckpt_criu *criu, criu_opts *o, const struct brig_ckpt_target *t,
                                 bool restore, bool empty_net, int *inherited, size_t *n_inherited,
                                 struct brig_err **err)
{
    const struct brig_namespace *net = brig_spec_namespace(t->spec, BRIG_NS_NETWORK);

    /* brig's network: the container's own network namespace is left out of the image like a joined one
     * (dump), and restore hands CRIU the new one brig wired in its place. Restore also hands an empty one
     * to an image of an older brig, which left every own namespace out so. (A plain own namespace is dumped
     * with CRIU's --empty-ns network, as runc dumps it: criu_conf.c.) */
    if (empty_net && net && !net->path) {
        char external[128];
        char path[64];
        struct stat st;
        int fd;

        if (!restore) {
            snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) t->pid);
            if (stat(path, &st) < 0)
                return brig_err_sys(err, "--empty-ns network: `%s`", path);
            snprintf(external, sizeof(external), "net[%lu]:extRootNetNS", (unsigned long) st.st_ino);
            if (criu->criu_local_add_external(o, external) < 0)
                return brig_err_set(err, ENOMEM, "external namespace");
        } else if (t->netns_fd >= 0) {
            /* Not close-on-exec: criu is exec'd and takes it by number. */
            fd = dup(t->netns_fd);
            if (fd < 0)
                return brig_err_sys(err, "network namespace");
            inherited[(*n_inherited)++] = fd;
            if (criu->criu_local_add_inherit_fd(o, fd, "extRootNetNS") < 0)
                return brig_err_set(err, ENOMEM, "external namespace");
        } else {
            fd = empty_netns(err);
            if (fd < 0)
                return fd;
            inherited[(*n_inherited)++] = fd;
            if (criu->criu_local_add_inherit_fd(o, fd, "extRootNetNS") < 0)
                return brig_err_set(err, ENOMEM, "external namespace");
        }
    }
    for (size_t i = 0; i < sizeof(external_namespaces) / sizeof(external_namespaces[0]); i++) {
        const struct brig_namespace *ns = brig_spec_namespace(t->spec, external_namespaces[i].type);
        char external[128];
        struct stat st;
        int fd;

        if (!ns || !ns->path)
            continue;
        if (!restore) {
            if (stat(ns->path, &st) < 0)
                return brig_err_sys(err, "linux.namespaces: %s `%s`", external_namespaces[i].prefix, ns->path);
            snprintf(external, sizeof(external), "%s[%lu]:%s", external_namespaces[i].prefix,
                     (unsigned long) st.st_ino, external_namespaces[i].key);
            if (criu->criu_local_add_external(o, external) < 0)
                return brig_err_set(err, ENOMEM, "external namespace");
            continue;
        }
        /* Not close-on-exec: criu is exec'd and takes it by number. */
        fd = open(ns->path, O_RDONLY);
        if (fd < 0)
            return brig_err_sys(err, "linux.namespaces: %s `%s`", external_namespaces[i].prefix, ns->path);
        inherited[(*n_inherited)++] = fd;
        if (criu->criu_local_add_inherit_fd(o, fd, external_namespaces[i].key) < 0)
            return brig_err_set(err, ENOMEM, "external namespace");
    }
    return 0;
}
