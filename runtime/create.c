/* The parent half of `create`: validate, make the state directory, clone the init straight into its new
 * namespaces, write its id maps and cgroup, wait until it is ready, and record the state. On any failure
 * everything made so far is undone (init killed, cgroup and state directory removed). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "internal.h"
#include "hooks.h"
#include "../image/image.h"
#include "../netns/netns.h"
#include "../rootfs/rootfs.h"
#include "process.h"
#include "security.h"
#include "../util/util.h"

/* clone3's argument struct up to `cgroup` (version 2, 88 bytes), declared here to avoid <linux/sched.h>. */
struct brig_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

/* What create has made so far, undone in reverse on failure. */
struct create_progress {
    struct brig_container_dir dir;
    bool dir_made;
    pid_t pid;
    int pidfd;
    enum brig_cgroup_mode cgroup_mode;
    char *cgroup_path;
    bool cgroup_made;
    bool cgroup_joined; /* it existed before: not this create's to kill or remove */
    bool systemd;       /* the cgroup is a systemd scope: stopping the unit removes it */
    const char *root;
    bool net_prepared;
    const struct brig_root_layers *layers; /* set once its directories may exist */
};

/* Waits for the killed init, at most a few seconds: a v1 task frozen in a cgroup that is not ours to thaw
 * dies only when someone thaws it. */
static void reap_init(pid_t pid, int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};

    if (pidfd >= 0 && poll(&p, 1, 5000) != 1)
        return;
    waitpid(pid, NULL, 0);
}

static void undo_create(struct create_progress *p)
{
    cleanup_err struct brig_err *ignored = NULL;

    if (p->pid > 0)
        kill(p->pid, SIGKILL);
    /* Before the wait: this thaws a frozen cgroup, so that the init acts on its SIGKILL. One that existed
     * before keeps its processes: only the init is this create's. */
    if (p->cgroup_made && p->systemd)
        brig_cgroup_systemd_stop(p->cgroup_mode, p->cgroup_path, &ignored);
    else if (p->cgroup_made && !p->cgroup_joined)
        brig_cgroup_destroy(p->cgroup_mode, p->cgroup_path, &ignored);
    brig_err_free(&ignored);
    if (p->pid > 0)
        reap_init(p->pid, p->pidfd);
    if (p->pidfd >= 0)
        close(p->pidfd);
    if (p->net_prepared)
        brig_net_teardown(p->root, p->dir.dir_fd, p->pid > 0 && p->cgroup_made && !p->cgroup_joined, &ignored);
    brig_err_free(&ignored);
    if (p->layers)
        brig_root_layers_undo(&p->dir, p->layers);
    if (p->dir_made)
        brig_store_remove(&p->dir, &ignored);
    brig_store_close(&p->dir);
    free(p->cgroup_path);
}

static int resolve_bundle(const struct brig_create_opts *opts, char **bundle, struct brig_err **err)
{
    const char *path = opts->bundle && *opts->bundle ? opts->bundle : ".";

    *bundle = realpath(path, NULL);
    if (!*bundle)
        return brig_err_sys(err, "bundle `%s`", path);
    return 0;
}

/* An image's layers go below the --layer ones. They live in `all` (the image's own directories owned in `dirs`,
 * the rest borrowed from the options). */
struct image_layers {
    char **dirs;
    size_t n_dirs;
    char **all;
};

static void image_layers_clear(struct image_layers *l)
{
    for (size_t i = 0; i < l->n_dirs; i++)
        free(l->dirs[i]);
    free(l->dirs);
    free(l->all);
}

/* `with` is `opts` with the layers of --image (or of the config's run.brig.image annotation, which `spec --image`
 * writes) prepended to `layers`, lowest first. Unpacks what the store lacks. */
static int add_image_layers(const struct brig_context *ctx, const struct brig_spec *spec,
                            const struct brig_create_opts *opts, struct brig_create_opts *with,
                            struct image_layers *layers, struct brig_err **err)
{
    const char *annotation = brig_spec_annotation(spec, BRIG_IMAGE_ANNOTATION);
    const char *ref = opts->image ? opts->image : annotation;
    const struct brig_namespace *user = brig_spec_namespace(spec, BRIG_NS_USER);
    cleanup_image struct brig_image *image = NULL;
    cleanup_free char *base = NULL;
    cleanup_free char *store = NULL;
    struct brig_id_maps maps = {0};
    int note_fd = -1;
    int ret;

    *with = *opts;
    if (!ref)
        return 0;
    ret = brig_image_store_path(opts->store, ctx->rootless, &base, err);
    /* The container's own maps pick the store (image.h): layers unpacked under other maps would show other
     * owners. A user namespace joined by path has maps of its own, which the config does not say. */
    if (ret == 0 && user && !(user->path && *user->path) && spec->linux_cfg)
        maps = (struct brig_id_maps){spec->linux_cfg->uid_mappings, spec->linux_cfg->n_uid_mappings,
                                     spec->linux_cfg->gid_mappings, spec->linux_cfg->n_gid_mappings};
    if (ret == 0)
        ret = brig_image_layers_store(base, ctx->rootless, maps.n_uid ? &maps : NULL, &store, err);
    if (ret == 0)
        ret = brig_image_open(ref, &image, err);
    if (ret == 0)
        ret = brig_store_note_unpack(ctx, store, &note_fd, err);
    if (ret == 0) {
        ret = brig_image_unpack(image, base, ctx->rootless, maps.n_uid ? &maps : NULL, &layers->dirs,
                                &layers->n_dirs, err);
        brig_store_unnote_unpack(ctx, &note_fd);
    }
    if (ret < 0)
        return opts->image ? ret : brig_err_wrap(err, ret, "config.json: annotations[\"%s\"]", BRIG_IMAGE_ANNOTATION);
    layers->all = calloc(layers->n_dirs + opts->n_layers + 1, sizeof(char *));
    if (!layers->all)
        return brig_err_set(err, ENOMEM, "image layers");
    memcpy(layers->all, layers->dirs, layers->n_dirs * sizeof(char *));
    if (opts->n_layers)
        memcpy(layers->all + layers->n_dirs, opts->layers, opts->n_layers * sizeof(char *));
    with->layers = layers->all;
    with->n_layers = layers->n_dirs + opts->n_layers;
    brig_log(ctx, BRIG_LOG_DEBUG, "create: image `%s`: %zu layers from %s", brig_image_pinned(image),
             layers->n_dirs, store);
    return 0;
}

int brig_resolve_rootfs(const char *bundle, const struct brig_spec *spec, char **rootfs, struct brig_err **err)
{
    cleanup_free char *joined = NULL;
    struct stat st;

    if (!*spec->root_path)
        return brig_err_msg(err, EINVAL,
                            "config.json: root.path: required unless the root is made of layers (--layer, --image)");
    if (spec->root_path[0] == '/')
        joined = strdup(spec->root_path);
    else if (asprintf(&joined, "%s/%s", bundle, spec->root_path) < 0)
        joined = NULL;
    if (!joined)
        return brig_err_set(err, ENOMEM, "root.path");
    *rootfs = realpath(joined, NULL);
    if (!*rootfs)
        return brig_err_sys(err, "root.path: `%s`", joined);
    if (stat(*rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(*rootfs);
        *rootfs = NULL;
        return brig_err_set(err, ENOTDIR, "root.path: `%s`", joined);
    }
    return 0;
}

/* fds handed to brig by systemd socket activation (LISTEN_FDS), which the container inherits at fd 3. */
static unsigned inherited_listen_fds(void)
{
    const char *fds = getenv("LISTEN_FDS");
    const char *pid = getenv("LISTEN_PID");
    uint64_t n = 0;
    int64_t listen_pid = 0;

    if (!fds || brig_parse_u64(fds, &n) < 0 || n > 4096)
        return 0;
    if (pid && (brig_parse_i64(pid, &listen_pid) < 0 || listen_pid != getpid()))
        return 0;
    return (unsigned) n;
}

static int make_exec_fifo(const struct brig_container_dir *dir, struct brig_err **err)
{
    /* Writable by anyone, as runc's: the init opens it after switching to the process's user (whatever its
     * user namespace maps it to), and the state directory's 0711 keeps it unlisted. */
    if (mkfifoat(dir->dir_fd, BRIG_EXEC_FIFO, 0622) < 0 || fchmodat(dir->dir_fd, BRIG_EXEC_FIFO, 0622, 0) < 0)
        return brig_err_sys(err, "create exec fifo");
    return 0;
}

static int send_go(int sync_fd, const char *payload, size_t len, struct brig_err **err)
{
    char go = BRIG_SYNC_GO;
    struct iovec iov[2] = {{.iov_base = &go, .iov_len = 1}, {.iov_base = (void *) payload, .iov_len = len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = payload ? 2 : 1};

    if (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0)
        return brig_err_sys(err, "release container init");
    return 0;
}

/* Where the init is placed, for wait_ready to notice a freeze (path NULL: no cgroup). */
struct init_cgroup {
    enum brig_cgroup_mode mode;
    const char *path;
};

/* Waits until the init has something to say, or fails when its cgroup was frozen meanwhile (create
 * refuses a frozen one, but anyone may freeze it afterwards): a frozen init would never answer. */
static int wait_init(int sync_fd, const struct init_cgroup *cg, struct brig_err **err)
{
    cleanup_close int stop_fd = brig_stop_fd();
    struct pollfd p[2] = {{.fd = sync_fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
    int n, ret;

    for (;;) {
        n = poll(p, 2, 1000);
        if (n > 0 && (p[1].revents & POLLIN))
            return brig_stop_check("waiting for the init", err);
        if (n > 0 || (n < 0 && errno != EINTR))
            return 0; /* recv says what happened */
        if (n < 0 || !cg->path)
            continue;
        ret = brig_cgroup_check_thawed(cg->mode, cg->path, err);
        if (ret == -EBUSY)
            return brig_err_wrap(err, ret, "frozen before the init was ready");
        brig_err_free(err);
    }
}

/* One BRIG_SYNC_SOURCES message: the `mounts[]` indices, and the fds as SCM_RIGHTS. */
static int send_sources(int sync_fd, const uint32_t *indices, const int *fds, size_t n, struct brig_err **err)
{
    char kind = BRIG_SYNC_SOURCES;
    union {
        char buf[CMSG_SPACE(BRIG_SYNC_MAX_SOURCES * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov[2] = {{.iov_base = &kind, .iov_len = 1},
                           {.iov_base = (void *) indices, .iov_len = n * sizeof(*indices)}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = control.buf,
                         .msg_controllen = CMSG_SPACE(n * sizeof(int))};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

    memset(&control, 0, sizeof(control));
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(cmsg), fds, n * sizeof(int));
    if (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0)
        return brig_err_sys(err, "send bind mount sources to the container init");
    return 0;
}

/* An init born in a new user namespace may not reach a bind mount's source (a directory only the host's
 * root can search): the sources are opened here, in its mount namespace, and handed over before it starts
 * on the rootfs. */
static int send_bind_sources(int sync_fd, const struct brig_spec *spec, const char *bundle, pid_t pid,
                             struct brig_err **err)
{
    cleanup_free int *fds = NULL;
    uint32_t indices[BRIG_SYNC_MAX_SOURCES];
    int batch[BRIG_SYNC_MAX_SOURCES];
    size_t n = 0;
    int ret = 0;

    if (!spec->n_mounts)
        return 0;
    fds = calloc(spec->n_mounts, sizeof(*fds));
    if (!fds)
        return brig_err_set(err, ENOMEM, "bind mount sources");
    brig_rootfs_open_bind_sources(spec, bundle, pid, fds);
    for (size_t i = 0; i < spec->n_mounts && ret == 0; i++) {
        if (fds[i] >= 0) {
            indices[n] = (uint32_t) i;
            batch[n++] = fds[i];
        }
        if (n == BRIG_SYNC_MAX_SOURCES || (n && i + 1 == spec->n_mounts)) {
            ret = send_sources(sync_fd, indices, batch, n, err);
            n = 0;
        }
    }
    for (size_t i = 0; i < spec->n_mounts; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return ret;
}

/* Waits for READY, running prestart and createRuntime hooks when the init asks for them. */
static int wait_ready(int sync_fd, pid_t pid, const struct init_cgroup *cg, const struct brig_spec *spec,
                      const char *state_json, struct brig_err **err)
{
    char buf[4200];
    ssize_t n;
    int ret;

    for (;;) {
        ret = wait_init(sync_fd, cg, err);
        if (ret < 0)
            return ret;
        do
            n = recv(sync_fd, buf, sizeof(buf), 0);
        while (n < 0 && errno == EINTR);
        if (n > 0 && buf[0] == BRIG_SYNC_READY)
            return 0;
        if (n > 1 && buf[0] == BRIG_SYNC_ERROR)
            return brig_err_decode(err, buf + 1, (int) n - 1);
        if (n == 1 && buf[0] == BRIG_SYNC_HOOKS) {
            ret = brig_hooks_run("prestart", spec->hooks.prestart, spec->hooks.n_prestart, state_json, NULL, err);
            if (ret == 0)
                ret = brig_hooks_run("createRuntime", spec->hooks.create_runtime, spec->hooks.n_create_runtime,
                                     state_json, NULL, err);
            if (ret == 0)
                ret = send_go(sync_fd, NULL, 0, err);
            if (ret < 0)
                return ret;
            continue;
        }
        break;
    }
    {
        int status = 0;
        if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
            return brig_err_msg(err, ECHILD, "container init was killed by signal %d", WTERMSIG(status));
        return brig_err_msg(err, ECHILD, "container init exited before it was ready (status %d)",
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/* The init's own error report, if it sent one, replaces `err` (ours is then only a consequence). */
static int prefer_init_error(int sync_fd, int ret, struct brig_err **err)
{
    char buf[4200];
    ssize_t n = recv(sync_fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n > 1 && buf[0] == BRIG_SYNC_ERROR)
        return brig_err_decode(err, buf + 1, (int) n - 1);
    return ret;
}

int brig_fill_state(const struct brig_spec *spec, const char *id, pid_t pid, const char *bundle,
                    const char *rootfs, const char *config_path, const char *cgroup_path, bool systemd_cgroup,
                    struct brig_state **out, struct brig_err **err)
{
    struct brig_state *st = calloc(1, sizeof(*st));
    char created[64];

    if (!st)
        return brig_err_set(err, ENOMEM, "state");
    brig_now_rfc3339(created, sizeof(created));
    st->oci_version = strdup(spec->oci_version);
    st->id = strdup(id);
    st->pid = pid;
    st->bundle = strdup(bundle);
    st->rootfs = strdup(rootfs);
    st->created = strdup(created);
    st->owner = strdup("");
    st->cgroup_path = strdup(cgroup_path);
    st->config_path = strdup(config_path);
    st->systemd_cgroup = systemd_cgroup;
    if (spec->n_annotations) {
        st->annotations = calloc(spec->n_annotations, sizeof(*st->annotations));
        if (st->annotations) {
            st->n_annotations = spec->n_annotations;
            for (size_t i = 0; i < spec->n_annotations; i++) {
                st->annotations[i].key = strdup(spec->annotations[i].key);
                st->annotations[i].value = strdup(spec->annotations[i].value);
            }
        }
    }
    *out = st;
    return 0;
}

/* The state learns the init once it is cloned (it was saved before, with pid 0, so that delete finds the
 * cgroup made in between). */
int brig_state_set_init(struct brig_state *st, pid_t pid, struct brig_err **err)
{
    st->pid = pid;
    if (brig_proc_start_time(pid, &st->init_start_time, NULL) < 0)
        return brig_err_msg(err, ESRCH, "container init %d is gone", pid);
    return 0;
}

static bool resources_requested(const struct brig_resources *r)
{
    return r && (r->memory || r->cpu || r->pids_limit.set || r->block_io || r->n_hugepage_limits ||
                 r->has_network || r->n_rdma || r->n_unified);
}

/* Rootless where the cgroup cannot be made (cgroup v1, or v2 not delegated to the user), as runc decides it:
 * with no cgroupsPath and no limits the container runs without a cgroup; limits, or a cgroupsPath the
 * config names (a delegated place the caller means), are an error. Returns true when the failure was
 * absorbed (and says so in debug output). */
static bool rootless_without_cgroups(const struct brig_context *ctx, const struct brig_spec *spec,
                                     const char *placed, int ret, struct brig_err **err)
{
    const char *asked = spec->linux_cfg ? spec->linux_cfg->cgroups_path : NULL;

    if (!(ctx->rootless || geteuid() != 0) || (ret != -EACCES && ret != -EPERM && ret != -EROFS))
        return false;
    if (asked && *asked && asked[0] != '/' && placed) {
        brig_err_wrap(err, ret, "linux.cgroupsPath `%s` (as `%s`, below the caller's cgroup's parent): rootless, "
                                "no permission for this cgroup (is it delegated to uid %u?)", asked, placed,
                      (unsigned) geteuid());
        return false;
    }
    if (asked && *asked) {
        brig_err_wrap(err, ret, "linux.cgroupsPath `%s`: rootless, no permission for this cgroup (is it "
                                "delegated to uid %u?)", asked, (unsigned) geteuid());
        return false;
    }
    if (resources_requested(spec->linux_cfg ? spec->linux_cfg->resources : NULL)) {
        brig_err_wrap(err, ret, "linux.resources: rootless, the limits cannot be applied without cgroups "
                                "(none delegated; a delegated cgroup v2 subtree can be named in linux.cgroupsPath)");
        return false;
    }
    brig_log(ctx, BRIG_LOG_DEBUG, "rootless: every cgroup controller skipped, the container runs without cgroups (%s)",
             (*err)->msg);
    brig_err_free(err);
    return true;
}

/* Rootless on cgroup v2, a relative cgroupsPath goes below the cgroup the user is delegated, the parent of
 * the caller's own (runc's rule; crun reads it from the root): brig's /brig parent is root's. Whether the
 * user may write there is found when it is made (rootless_without_cgroups). */
static int resolve_cgroup_path(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                               enum brig_cgroup_mode mode, char **out, struct brig_err **err)
{
    const char *asked = spec->linux_cfg ? spec->linux_cfg->cgroups_path : NULL;
    cleanup_free char *parent = NULL;
    int ret;

    if (ctx->systemd_cgroup)
        return brig_cgroup_systemd_path(asked, id, out, err);
    if (!(ctx->rootless || geteuid() != 0) || mode != BRIG_CGROUP_V2 || !asked || !*asked || asked[0] == '/')
        return brig_cgroup_resolve_path(asked, id, out, err);
    ret = brig_cgroup_own_parent(&parent, err);
    if (ret == 0)
        ret = brig_cgroup_resolve_path_in(asked, id, parent, out, err);
    return ret;
}

/* Opens what the terminal needs: the --console-socket, or for a foreground `run`, a private socket pair
 * whose other end receives the pty master. */
static int open_console(const struct brig_spec *spec, const struct brig_create_opts *opts, bool for_run,
                        int *init_end, int *our_end, struct brig_err **err)
{
    int pair[2];

    *init_end = *our_end = -1;
    if (!spec->process->terminal)
        return 0;
    if (opts->console_socket)
        return brig_console_connect(opts->console_socket, init_end, err);
    if (!for_run || opts->detach)
        return brig_err_set(err, EINVAL,
                            "process.terminal is true: --console-socket is required to create a detached container "
                            "with a terminal");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return brig_err_sys(err, "console socket pair");
    *init_end = pair[0];
    *our_end = pair[1];
    return 0;
}

static int clone_init(struct brig_init_args *args, int parent_sync_fd, pid_t *pid, int *pidfd,
                      struct brig_err **err)
{
    const struct brig_cgroup_entry *entry = args->cgroup_entry;
    struct brig_clone_args ca = {
        .flags = (uint64_t) args->ns_plan->clone_flags | CLONE_PIDFD,
        .pidfd = (uint64_t) (uintptr_t) pidfd,
        .exit_signal = SIGCHLD,
    };
    const char *born_into = NULL;
    long ret;

    if (entry && entry->clone_into_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t) entry->clone_into_fd;
        born_into = entry->path;
    }
    ret = syscall(SYS_clone3, &ca, sizeof(ca));
    if (ret < 0 && born_into)
        return brig_err_sys(err, "clone container init into cgroup `%s`", born_into);
    if (ret < 0)
        return brig_err_sys(err, "clone container init");
    if (ret == 0) {
        brig_protect_brig_binary(!(args->ns_plan->clone_flags & CLONE_NEWUSER) &&
                                 args->ns_plan->join_fds[BRIG_NS_USER] < 0);
        (void) parent_sync_fd; /* closed with every other inherited fd in brig_init_main() */
        brig_init_main(args);
    }
    *pid = (pid_t) ret;
    return 0;
}

static int network_options(const struct brig_context *ctx, const struct brig_spec *spec,
                           const struct brig_create_opts *opts, struct brig_net_opts *net_opts, struct brig_err **err)
{
    int ret = brig_net_opts_from_spec(spec, net_opts, err);

    if (ret == 0 && opts->network)
        ret = brig_net_opts_set_network(net_opts, opts->network, err);
    if (ret == 0 && opts->ip)
        ret = brig_net_opts_set_ip(net_opts, opts->ip, err);
    for (size_t i = 0; ret == 0 && i < opts->n_publish; i++)
        ret = brig_net_opts_add_ports(net_opts, opts->publish[i], err);
    if (ret == 0 && (opts->network || opts->ip || opts->n_publish))
        ret = brig_net_opts_check_spec(net_opts, spec, err);
    if (ret == 0 && (ctx->rootless || geteuid() != 0))
        ret = brig_net_opts_pick_usermode(net_opts, err);
    if (ret == 0 && net_opts->enabled && net_opts->backend == BRIG_NET_BRIDGE && (ctx->rootless || geteuid() != 0))
        ret = brig_err_msg(err, EPERM, "network `%s`: brig's bridge network needs root (rootless: --network "
                           "slirp4netns or pasta)", net_opts->network);
    return ret;
}

static bool spec_mounts(const struct brig_spec *spec, const char *destination)
{
    for (size_t i = 0; i < spec->n_mounts; i++)
        if (!strcmp(spec->mounts[i].destination, destination))
            return true;
    return false;
}

/* /etc/hosts and /etc/resolv.conf for brig's network, unless the config mounts its own. The array replaces
 * spec->mounts for this create only; *added owns it. */
static int add_network_files(struct brig_spec *spec, const struct brig_net *net, struct brig_mount **added)
{
    static char *ro_bind[] = {"rbind", "ro", NULL};
    const char *files[][2] = {{"/etc/hosts", brig_net_hosts_path(net)}, {"/etc/resolv.conf", brig_net_resolv_path(net)}};
    struct brig_mount *mounts = calloc(spec->n_mounts + 2, sizeof(*mounts));
    size_t n = spec->n_mounts;

    if (!mounts)
        return -ENOMEM;
    memcpy(mounts, spec->mounts, spec->n_mounts * sizeof(*mounts));
    for (size_t i = 0; i < 2; i++) {
        if (!files[i][1] || spec_mounts(spec, files[i][0]))
            continue;
        mounts[n++] = (struct brig_mount){.destination = (char *) files[i][0], .source = (char *) files[i][1],
                                          .type = "bind", .options = ro_bind, .n_options = 2};
    }
    spec->mounts = mounts;
    spec->n_mounts = n;
    *added = mounts;
    return 0;
}

static char *join_ports(char **items, size_t n, const char *annotation)
{
    size_t len = annotation ? strlen(annotation) + 1 : 0;
    char *out, *p;

    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    if (len == 0)
        return NULL;
    out = p = calloc(1, len + 1);
    if (!out)
        return NULL;
    if (annotation)
        p += sprintf(p, "%s", annotation);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", p == out ? "" : ",", items[i]);
    return out;
}

static int create_container(const struct brig_context *ctx, const struct brig_create_opts *opts, bool for_run,
                            struct brig_created *out, struct brig_err **err)
{
    struct create_progress progress = {.dir = {.root_fd = -1, .dir_fd = -1}, .pidfd = -1, .root = ctx->root};
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_free char *bundle = NULL;
    cleanup_free char *rootfs = NULL;
    cleanup_free char *config_path = NULL;
    struct brig_ns_plan ns_plan;
    cleanup_close int state_dir_path_fd = -1;
    cleanup_close int console_init_end = -1;
    cleanup_close int console_our_end = -1;
    int sync_fds[2] = {-1, -1};
    struct brig_state *state = NULL;
    struct brig_init_args init_args;
    cleanup_security struct brig_security security = {.seccomp.listener_sock = -1};
    cleanup_free char *hook_state = NULL;
    struct brig_net_opts net_opts = {0};
    cleanup_cgroup_entry struct brig_cgroup_entry cgroup_entry = {.clone_into_fd = -1};
    cleanup_net struct brig_net *net = NULL;
    cleanup_free struct brig_mount *net_mounts = NULL;
    unsigned listen_fds;
    __attribute__((cleanup(image_layers_clear))) struct image_layers image_layers = {0};
    struct brig_create_opts with_image;
    cleanup_root_layers struct brig_root_layers layers = {0};
    const char *placed;
    int ret;

    memset(&ns_plan, 0, sizeof(ns_plan));
    for (int i = 0; i < BRIG_NS__COUNT; i++)
        ns_plan.join_fds[i] = -1;
    ns_plan.own_pid_fd = ns_plan.own_time_fd = -1;
    out->console_master_fd = -1;
    ret = brig_validate_id(opts->id, err);
    if (ret < 0)
        return ret;
    ret = brig_runtime_check_systemd(ctx, err);
    if (ret < 0)
        return ret;
    ret = resolve_bundle(opts, &bundle, err);
    if (ret < 0)
        return ret;
    if (asprintf(&config_path, "%s/%s", bundle, opts->config_file ? opts->config_file : "config.json") < 0)
        return brig_err_set(err, ENOMEM, "config path");
    ret = brig_spec_load(config_path, &spec, err);
    if (ret < 0)
        return ret;
    if (!spec->process)
        return brig_err_msg(err, EINVAL, "config.json: process: required to create a container");
    ret = brig_process_validate(spec->process, err);
    if (ret == 0)
        ret = brig_validate_namespaced_settings(spec, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "config.json");
    ret = add_image_layers(ctx, spec, opts, &with_image, &image_layers, err);
    if (ret < 0)
        return ret;
    opts = &with_image; /* from here on, `layers` holds the image's too */
    ret = brig_security_prepare(ctx, spec, opts->id, bundle, &security, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "config.json");
    /* The root's layers, worked out once, here: root.path, the annotation's, then opts->layers. Image layers
     * are prepended here: --image puts them at the front of opts->layers before this call. */
    ret = brig_root_layers_plan(ctx, spec, bundle, opts, &layers, err);
    if (ret < 0)
        return ret;
    if (layers.enabled && !(rootfs = strdup(layers.ov.target)))
        return brig_err_set(err, ENOMEM, "rootfs");
    if (!layers.enabled) {
        ret = brig_resolve_rootfs(bundle, spec, &rootfs, err);
        if (ret < 0)
            return ret;
    }
    ret = brig_cgroup_detect(&progress.cgroup_mode, err);
    if (ret < 0)
        return ret;
    progress.systemd = ctx->systemd_cgroup;
    ret = resolve_cgroup_path(ctx, spec, opts->id, progress.cgroup_mode, &progress.cgroup_path, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "linux.cgroupsPath");
    ret = brig_ns_plan_init(spec, &ns_plan, err);
    if (ret < 0)
        goto fail;
    ret = network_options(ctx, spec, opts, &net_opts, err);
    if (ret < 0)
        goto fail;
    ret = open_console(spec, opts, for_run, &console_init_end, &console_our_end, err);
    if (ret < 0)
        goto fail;

    ret = brig_store_create(ctx, opts->id, &progress.dir, err);
    if (ret < 0)
        goto fail;
    progress.dir_made = true;
    ret = make_exec_fifo(&progress.dir, err);
    if (ret < 0)
        goto fail;
    if (net_opts.enabled) {
        progress.net_prepared = true;
        ret = brig_net_prepare(ctx->root, progress.dir.dir_fd, opts->id, spec->hostname, &net_opts, &net, err);
        if (ret < 0)
            goto fail;
        if (add_network_files(spec, net, &net_mounts) < 0) {
            ret = brig_err_msg(err, ENOMEM, "network files");
            goto fail;
        }
    }
    /* Recorded before anything else is made, so that if this process is killed from here on, `delete`
     * finds the cgroup, the network and (once cloned) the init to remove. */
    ret = brig_fill_state(spec, opts->id, 0, bundle, rootfs, config_path, progress.cgroup_path, ctx->systemd_cgroup,
                     &state, err);
    if (ret < 0)
        goto fail;
    state->creating = true;
    state->has_hooks = brig_hooks_any(&spec->hooks);
    if (brig_root_layers_record(&layers, state) < 0) {
        ret = brig_err_set(err, ENOMEM, "state");
        goto fail;
    }
    ret = brig_store_save(&progress.dir, state, err);
    if (ret < 0)
        goto fail;
    if (layers.enabled) {
        progress.layers = &layers;
        ret = brig_root_layers_setup(&progress.dir, &layers, err);
        if (ret < 0)
            goto fail;
        brig_log(ctx, BRIG_LOG_DEBUG, "create: overlay root of `%s` over %zu layers on %s, %s", opts->id,
                 layers.ov.n_lowers, layers.ov.target,
                 layers.in_init ? "to be mounted by the init" : "mounted in the host's mount namespace");
    }
    /* The cgroup and its limits before the clone: the init is born in it (cgroup2) or moves itself in
     * through the entry's fds (v1), neither of which waits for an RCU grace period as a pid write does. */
    ret = brig_runtime_cgroup_create(ctx, spec, opts->id, progress.cgroup_mode, progress.cgroup_path,
                                     &cgroup_entry, &progress.cgroup_joined, err);
    placed = progress.cgroup_mode == BRIG_CGROUP_V2 ? progress.cgroup_path : NULL;
    if (ret < 0 && rootless_without_cgroups(ctx, spec, placed, ret, err)) {
        free(state->cgroup_path);
        state->cgroup_path = NULL;
        ret = brig_store_save(&progress.dir, state, err);
    } else if (ret == 0) {
        progress.cgroup_made = true;
        /* At once: should this process die from here on, `delete` must still leave that cgroup alone. */
        if (progress.cgroup_joined) {
            state->cgroup_joined = true;
            ret = brig_store_save(&progress.dir, state, err);
        }
    }
    if (ret < 0)
        goto fail;

    state_dir_path_fd = openat(progress.dir.dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (state_dir_path_fd < 0) {
        ret = brig_err_sys(err, "open state directory");
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_fds) < 0) {
        ret = brig_err_sys(err, "sync socket pair");
        goto fail;
    }
    ret = brig_ns_prepare_parent(spec, &ns_plan, err);
    if (ret < 0)
        goto fail;

    listen_fds = inherited_listen_fds();
    init_args = (struct brig_init_args){
        .ctx = ctx,
        .spec = spec,
        .opts = opts,
        .ns_plan = &ns_plan,
        .rootfs = rootfs,
        .bundle = bundle,
        .sync_fd = sync_fds[1],
        .state_dir_fd = state_dir_path_fd,
        .console_fd = console_init_end,
        .listen_fds = listen_fds,
        .preserve = brig_fds_below(&ctx->caller_fds, 3 + listen_fds + opts->preserve_fds),
        /* Rootless may end up without cgroups: then the init reads /proc/self/cgroup itself. */
        .cgroup_path = ctx->rootless || geteuid() != 0 ? NULL : progress.cgroup_path,
        .cgroup_entry = progress.cgroup_made ? &cgroup_entry : NULL,
        .security = &security,
        .overlay = layers.enabled && layers.in_init ? &layers.ov : NULL,
    };
    ret = clone_init(&init_args, sync_fds[0], &progress.pid, &progress.pidfd, err);
    brig_ns_restore_parent(&ns_plan);
    close(sync_fds[1]);
    sync_fds[1] = -1;
    if (ret < 0)
        goto fail;
    brig_log(ctx, BRIG_LOG_DEBUG, "create: init %d of `%s` cloned%s%s", (int) progress.pid, opts->id,
             progress.cgroup_path ? " into cgroup " : " (no cgroup)", progress.cgroup_path ? progress.cgroup_path : "");
    brig_cgroup_entry_close(&cgroup_entry);
    ret = brig_state_set_init(state, progress.pid, err);
    if (ret < 0) {
        ret = prefer_init_error(sync_fds[0], ret, err);
        goto fail;
    }
    ret = brig_store_save(&progress.dir, state, err);
    if (ret < 0)
        goto fail;

    if (ns_plan.clone_flags & CLONE_NEWUSER) {
        ret = brig_ns_write_id_maps(spec, progress.pid, err);
        if (ret < 0)
            goto fail;
        if (ns_plan.clone_flags & CLONE_NEWNS) {
            ret = send_bind_sources(sync_fds[0], spec, bundle, progress.pid, err);
            if (ret < 0) {
                ret = prefer_init_error(sync_fds[0], ret, err);
                goto fail;
            }
        }
    }
    if (net) {
        state->net_ip = strdup(brig_net_ip(net));
        state->net_ports =
            join_ports(opts->publish, opts->n_publish, brig_spec_annotation(spec, BRIG_NET_ANNOTATION_PORTS));
    }
    if (state->has_hooks) {
        /* "created", as crun and the runtime-tools suite have it: the container exists by then. */
        ret = brig_hooks_state_json(state, "created", &hook_state, err);
        if (ret < 0)
            goto fail;
    }
    ret = send_go(sync_fds[0], hook_state, hook_state ? strlen(hook_state) + 1 : 0, err);
    if (ret < 0) {
        ret = prefer_init_error(sync_fds[0], ret, err);
        goto fail;
    }
    /* While the init works, the veth goes straight into its network namespace; when that fails because the
     * init died, the init's own report says why. */
    if (net) {
        ret = brig_net_attach(net, progress.pid, err);
        if (ret < 0) {
            ret = prefer_init_error(sync_fds[0], ret, err);
            goto fail;
        }
    }
    ret = wait_ready(sync_fds[0], progress.pid,
                     &(struct init_cgroup){.mode = progress.cgroup_mode, .path = state->cgroup_path}, spec,
                     hook_state, err);
    if (ret < 0)
        goto fail;

    if (console_our_end >= 0) {
        ret = brig_console_recv_fd(console_our_end, &out->console_master_fd, err);
        if (ret < 0)
            goto fail;
    }
    state->creating = false;
    ret = brig_store_save(&progress.dir, state, err);
    if (ret < 0)
        goto fail;
    if (opts->pid_file) {
        char pid_text[32];
        int len = snprintf(pid_text, sizeof(pid_text), "%d", progress.pid);
        ret = brig_write_file_atomic_at(AT_FDCWD, opts->pid_file, pid_text, (size_t) len, 0644, err);
        if (ret < 0) {
            brig_err_wrap(err, ret, "--pid-file");
            goto fail;
        }
    }

    if (opts->pidfd_socket) {
        cleanup_close int sock = -1;
        ret = brig_console_connect(opts->pidfd_socket, &sock, err);
        if (ret == 0)
            ret = brig_console_send_fd(sock, progress.pidfd, "pidfd", err);
        if (ret < 0) {
            brig_err_wrap(err, ret, "--pidfd-socket");
            goto fail;
        }
    }

    /* The last point of no return: a stop asked for before it undoes the whole create. */
    ret = brig_stop_check("create", err);
    if (ret < 0)
        goto fail;
    brig_net_commit(net);
    close(sync_fds[0]);
    brig_ns_plan_release(&ns_plan);
    brig_net_opts_clear(&net_opts);
    free(progress.cgroup_path);
    out->pid = progress.pid;
    out->pidfd = progress.pidfd;
    out->dir = progress.dir;
    out->state = state;
    return 0;

fail:
    if (out->console_master_fd >= 0) {
        close(out->console_master_fd);
        out->console_master_fd = -1;
    }
    brig_state_free(state);
    if (sync_fds[0] >= 0)
        close(sync_fds[0]);
    if (sync_fds[1] >= 0)
        close(sync_fds[1]);
    brig_ns_plan_release(&ns_plan);
    brig_net_opts_clear(&net_opts);
    undo_create(&progress);
    return brig_err_wrap(err, ret, "create container `%s`", opts->id);
}

/* SIGTERM, SIGINT and SIGHUP are held for the whole create: its waits end on them and its error path
 * undoes what it made (a default-action death would leave it all behind). The caller's mask comes back. */
int brig_create_container(const struct brig_context *ctx, const struct brig_create_opts *opts, bool for_run,
                          struct brig_created *out, struct brig_err **err)
{
    sigset_t stop, previous;
    int ret;

    brig_stop_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, &previous);
    ret = create_container(ctx, opts, for_run, out, err);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return ret;
}

int brig_container_create(const struct brig_context *ctx, const struct brig_create_opts *opts, struct brig_err **err)
{
    struct brig_created created = {.console_master_fd = -1};
    int ret = brig_create_container(ctx, opts, false, &created, err);

    if (ret < 0)
        return ret;
    close(created.pidfd);
    brig_state_free(created.state);
    brig_store_close(&created.dir);
    return 0;
}
