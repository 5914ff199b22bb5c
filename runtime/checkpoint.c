/* `checkpoint` and `restore`: the container's side (state store, cgroup, hooks) around checkpoint/'s CRIU calls. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks.h"
#include "internal.h"
#include "process.h"
#include "../netns/netns.h"
#include "../util/util.h"

/* What checkpoint cannot carry yet is refused before CRIU is asked: a half-working restore is worse. */
static int check_supported(const struct brig_context *ctx, bool rootless, const char *what, struct brig_err **err)
{
    if (rootless || ctx->rootless || geteuid() != 0)
        return brig_ckpt_rootless_refusal(what, err);
    return 0;
}

static bool spec_mounts_at(const struct brig_spec *spec, const char *destination)
{
    for (size_t i = 0; i < spec->n_mounts; i++)
        if (!strcmp(spec->mounts[i].destination, destination))
            return true;
    return false;
}

/* /etc/hosts and /etc/resolv.conf, which brig's network binds from the state directory unless the config
 * mounts its own: two bind mounts CRIU must be told of. `dir` is the state directory's path. */
static size_t network_mounts(const struct brig_spec *spec, const char *dir, char paths[2][4200],
                             struct brig_mount mounts[2])
{
    static char *ro_bind[] = {"rbind", "ro", NULL};
    const char *files[][2] = {{"/etc/hosts", BRIG_NET_HOSTS_FILE}, {"/etc/resolv.conf", BRIG_NET_RESOLV_FILE}};
    size_t n = 0;

    for (size_t i = 0; i < 2; i++) {
        if (spec_mounts_at(spec, files[i][0]))
            continue;
        snprintf(paths[n], sizeof(paths[n]), "%s/%s", dir, files[i][1]);
        mounts[n] = (struct brig_mount){.destination = (char *) files[i][0], .source = paths[n], .type = "bind",
                                        .options = ro_bind, .n_options = 2};
        n++;
    }
    return n;
}

/* The container's network record goes beside the image: restore gives the container the same network,
 * address and published ports (a TCP connection survives only at the same address). */
static int save_network_record(const struct brig_container_dir *dir, const char *image_path, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    cleanup_close int images_fd = -1;
    size_t len = 0;
    int ret = brig_read_file_at(dir->dir_fd, BRIG_NET_RECORD_FILE, &text, &len, err);

    if (ret == 0)
        ret = brig_mkdir_p(image_path, 0700, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "network record");
    images_fd = open(image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (images_fd < 0)
        return brig_err_sys(err, "--image-path `%s`", image_path);
    return brig_write_file_atomic_at(images_fd, BRIG_CKPT_NETWORK, text, len, 0600, err);
}

/* How many of an overlay root's lowers its config gives (root.path and the layers annotation): the rest came
 * from --layer and --image, which only the state knew. */
static size_t spec_lower_count(const struct brig_spec *spec)
{
    const char *annotated = brig_spec_annotation(spec, BRIG_ROOTFS_LAYERS_ANNOTATION);
    size_t n = spec->root_path && *spec->root_path ? 1 : 0;

    if (annotated && *annotated) {
        n++;
        for (const char *p = annotated; (p = strchr(p, ':')); p++)
            n++;
    }
    return n;
}

/* An overlay root's record beside the image (BRIG_CKPT_ROOTFS): the lowers its config does not give, lowest
 * first, and the upper directory that holds its changes. */
static int save_rootfs_record(const struct brig_spec *spec, const struct brig_state *state, const char *kept,
                              const char *image_path, struct brig_err **err)
{
    size_t from = spec_lower_count(spec);
    const char *upper = kept ? kept : state->overlay_upper;
    cleanup_close int images_fd = -1;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int ret;

    if (from > state->n_overlay_lowers)
        return brig_err_msg(err, EINVAL, "overlay root: the config gives more layers than the container had");
    f = open_memstream(&text, &len);
    if (!f)
        return brig_err_set(err, ENOMEM, "rootfs record");
    for (size_t i = from; i < state->n_overlay_lowers; i++)
        fprintf(f, "layer=%s\n", state->overlay_lowers[i]);
    fprintf(f, "upper=%s\n", upper ? upper : "");
    fclose(f);
    images_fd = open(image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ret = images_fd < 0 ? brig_err_sys(err, "--image-path `%s`", image_path)
                        : brig_write_file_atomic_at(images_fd, BRIG_CKPT_ROOTFS, text, len, 0600, err);
    free(text);
    return ret < 0 ? brig_err_wrap(err, ret, "overlay root record") : 0;
}

/* No probe before a dump (runc has none: `criu check` costs a tenth of a small dump): criu stops at its kernel
 * checks before it touches any process, and a failed dump is explained here. When criu cannot work on this
 * kernel at all, that is the one line to show, and the directories the attempt made go again (their log
 * says no more than the probe). */
static int explain_dump_failure(const struct brig_context *ctx, const struct brig_ckpt_opts *opts,
                                bool image_existed, bool work_existed, int ret, struct brig_err **err)
{
    struct brig_err *probe = NULL;
    int probe_ret = brig_ckpt_probe(ctx->criu, &probe);

    if (probe_ret == 0)
        return ret;
    brig_err_free(err);
    *err = probe;
    if (!image_existed)
        brig_remove_tree_at(AT_FDCWD, opts->image_path, NULL);
    if (!work_existed)
        brig_remove_tree_at(AT_FDCWD, opts->work_path, NULL);
    return probe_ret;
}

static int checkpoint_container(const struct brig_context *ctx, const char *id, struct brig_ckpt_opts *opts,
                                struct brig_err **err);

/* After criu is killed: its group gone (the kernel has then ended its ptrace, so the tasks run again), and the
 * cgroup thawed unless the container was paused before (CRIU's freezer would leave it frozen). Bounded: a
 * zombie nobody reaps still answers kill(). */
static void lazy_dump_undo(const struct brig_ckpt_target *t, pid_t group, bool paused)
{
    for (int i = 0; i < 100 && kill(-group, 0) == 0; i++)
        usleep(20000);
    if (t->cgroup_path && !paused)
        brig_cgroup_freeze(t->cgroup_mode, t->cgroup_path, false, NULL);
}

/* What a lazy dump that is given up must undo besides criu itself. */
struct lazy_undo {
    bool paused;
    bool image_existed;
    bool work_existed;
};

#define LAZY_ABANDONED 3

/* Runs the dump in a grandchild leading a process group of its own (criu swrk, its child, is in it) and
 * watches both it and brig: when brig lets go of `alive_fd` (a stop signal, or brig was killed) before the
 * dump ended, it kills the group and undoes it. It is a process apart from brig so that a SIGKILLed brig does
 * not leave criu serving pages for ever with the container frozen. */
static int lazy_dump_keeper(const struct brig_ckpt_target *t, const struct brig_ckpt_opts *opts,
                            const struct lazy_undo *undo, int result_fd, int alive_fd)
{
    cleanup_close int pidfd = -1;
    int status = 0;
    pid_t dumper = fork();

    if (dumper < 0)
        return 2;
    if (dumper == 0) {
        struct brig_err *cerr = NULL;
        char buf[4096];
        int ret, n;

        close(alive_fd);
        setpgid(0, 0);
        ret = brig_ckpt_dump(t, opts, &cerr);
        if (ret < 0) {
            n = brig_err_encode(cerr, buf, sizeof(buf));
            if (n > 0 && write(result_fd, buf, (size_t) n) != n)
                _exit(2);
        }
        _exit(ret < 0 ? 1 : 0);
    }
    /* Both sides set the group: a kill that comes before the dumper ran must still find it. */
    setpgid(dumper, dumper);
    close(result_fd);
    pidfd = (int) syscall(SYS_pidfd_open, dumper, 0);
    for (;;) {
        struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = alive_fd, .events = POLLIN}};

        if (pidfd >= 0 && poll(p, 2, -1) < 0 && errno == EINTR)
            continue;
        if (pidfd >= 0 && (p[0].revents & POLLIN))
            break;
        if (pidfd < 0 || (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            kill(-dumper, SIGKILL);
            waitpid(dumper, NULL, 0);
            lazy_dump_undo(t, dumper, undo->paused);
            if (!undo->image_existed)
                brig_remove_tree_at(AT_FDCWD, opts->image_path, NULL);
            if (!undo->work_existed)
                brig_remove_tree_at(AT_FDCWD, opts->work_path, NULL);
            return LAZY_ABANDONED;
        }
    }
    while (waitpid(dumper, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

/* A lazy dump returns only once `criu lazy-pages` has fetched every page, which may be never: brig waits for
 * its result or a stop signal, on which it lets its keeper (lazy_dump_keeper) kill and undo it. The keeper's
 * dumper keeps the caller's --status-fd. */
static int lazy_dump(const struct brig_ckpt_target *t, const struct brig_ckpt_opts *opts,
                     const struct lazy_undo *undo, bool *abandoned, struct brig_err **err)
{
    cleanup_close int stop_fd = brig_stop_fd();
    cleanup_close int rd = -1;
    cleanup_close int alive = -1;
    struct signalfd_siginfo si = {0};
    char buf[4096];
    size_t len = 0;
    int fds[2], alive_fds[2], status = 0;
    bool stopped = false;
    pid_t child;

    if (stop_fd < 0)
        return brig_err_sys(err, "lazy dump: signalfd");
    if (pipe2(fds, O_CLOEXEC) < 0)
        return brig_err_sys(err, "lazy dump: pipe");
    if (pipe2(alive_fds, O_CLOEXEC) < 0) {
        close(fds[0]);
        close(fds[1]);
        return brig_err_sys(err, "lazy dump: pipe");
    }
    child = fork();
    if (child < 0) {
        close(fds[0]);
        close(fds[1]);
        close(alive_fds[0]);
        close(alive_fds[1]);
        return brig_err_sys(err, "lazy dump: fork");
    }
    if (child == 0) {
        close(fds[0]);
        close(alive_fds[1]);
        _exit(lazy_dump_keeper(t, opts, undo, fds[1], alive_fds[0]));
    }
    close(fds[1]);
    close(alive_fds[0]);
    rd = fds[0];
    alive = alive_fds[1];
    while (!stopped) {
        struct pollfd p[2] = {{.fd = rd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        ssize_t n;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            si.ssi_signo = 0;
            stopped = true;
            break;
        }
        if (p[1].revents & POLLIN) {
            if (read(stop_fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
                si.ssi_signo = SIGTERM;
            stopped = true;
            break;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP)))
            continue;
        n = read(rd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t) n) == sizeof(buf) - 1)
            break;
    }
    if (stopped) {
        close(alive);
        alive = -1;
    }
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == LAZY_ABANDONED) {
        const char *name = sigabbrev_np((int) si.ssi_signo);

        *abandoned = true;
        if (!si.ssi_signo)
            return brig_err_sys(err, "lazy dump: poll");
        return brig_err_msg(err, EINTR,
                            "interrupted by SIG%s before the lazy pages were fetched: the dump was abandoned, "
                            "the container runs on",
                            name ? name : "?");
    }
    /* The dump ended just as the stop came: its result (if any) is whole in the pipe now. */
    while (stopped && len < sizeof(buf) - 1) {
        ssize_t n = read(rd, buf + len, sizeof(buf) - 1 - len);

        if (n <= 0)
            break;
        len += (size_t) n;
    }
    buf[len] = '\0';
    if (len > 0)
        return brig_err_decode(err, buf, (int) len);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    lazy_dump_undo(t, child, undo->paused);
    return brig_err_msg(err, EIO, "lazy dump: its process ended (status %d) with no result", status);
}

/* SIGTERM, SIGINT and SIGHUP wait until the checkpoint is over: libcriu's call cannot be interrupted, and criu
 * (our child) would finish the dump anyway, killing the container behind a brig that is gone and leaving its
 * state behind. Bounded by CRIU's own timeouts, but for a lazy dump (lazy_dump: a stop abandons it). */
int brig_container_checkpoint(const struct brig_context *ctx, const char *id, struct brig_ckpt_opts *opts,
                              struct brig_err **err)
{
    sigset_t stop, previous;
    int ret;

    brig_stop_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, &previous);
    ret = checkpoint_container(ctx, id, opts, err);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return ret;
}

static int checkpoint_container(const struct brig_context *ctx, const char *id, struct brig_ckpt_opts *opts,
                                struct brig_err **err)
{
    struct brig_container_dir dir = {.root_fd = -1, .dir_fd = -1};
    cleanup_state struct brig_state *state = NULL;
    cleanup_spec struct brig_spec *spec = NULL;
    struct brig_ckpt_target target;
    enum brig_cgroup_mode mode = BRIG_CGROUP_V2;
    const char *status;
    cleanup_free char *state_dir = NULL;
    char net_paths[2][4200];
    struct brig_mount net_mounts[2];
    bool image_existed, work_existed, abandoned = false;
    int ret;

    opts->criu_binary = ctx->criu;
    ret = brig_ckpt_opts_check(opts, false, err);
    if (ret < 0)
        return ret;
    ret = brig_store_open(ctx, id, true, &dir, &state, err);
    if (ret < 0)
        return ret;
    status = brig_container_status(&dir, state);
    if (strcmp(status, "running") != 0 && strcmp(status, "paused") != 0) {
        ret = brig_err_msg(err, EINVAL, "checkpoint container `%s`: it is %s, not running", id, status);
        goto out;
    }
    ret = brig_spec_load(state->config_path, &spec, err);
    if (ret == 0)
        ret = check_supported(ctx, state->rootless, "checkpoint", err);
    /* A clone of a running overlay root would share its upper directory with it. */
    if (ret == 0 && state->n_overlay_lowers && opts->leave_running)
        ret = brig_err_msg(err, ENOTSUP, "--leave-running: not supported yet for an overlay root (--layer, --image): "
                                         "the running container and a restored one would share its changes");
    if (ret == 0 && state->n_overlay_lowers && state->rootless)
        ret = brig_err_msg(err, ENOTSUP, "not supported yet for a rootless overlay root");
    if (ret == 0)
        ret = brig_ckpt_config_load(spec, opts, err);
    if (ret == 0 && state->cgroup_path)
        ret = brig_cgroup_detect(&mode, err);
    if (ret < 0)
        goto wrap;
    target = (struct brig_ckpt_target){
        .id = id,
        .pid = state->pid,
        .spec = spec,
        .rootfs = state->rootfs,
        .cgroup_path = state->cgroup_path,
        .cgroup_mode = mode,
        .netns_fd = -1,
    };
    image_existed = access(opts->image_path, F_OK) == 0;
    work_existed = !opts->work_path || access(opts->work_path, F_OK) == 0;
    /* As runc (which always adds CLONE_NEWNET to --empty-ns): the network namespace's devices and addresses
     * are the runtime's to make again, not CRIU's to dump. */
    opts->empty_netns = true;
    if (state->net_ip) {
        if (asprintf(&state_dir, "%s/%s", ctx->root, id) < 0) {
            ret = brig_err_set(err, ENOMEM, "state directory");
            goto wrap;
        }
        target.netns_external = true;
        target.extra_mounts = net_mounts;
        target.n_extra_mounts = network_mounts(spec, state_dir, net_paths, net_mounts);
        ret = save_network_record(&dir, opts->image_path, err);
        if (ret < 0)
            goto wrap;
    }
    if (opts->lazy_pages) {
        struct lazy_undo undo = {!strcmp(status, "paused"), image_existed, work_existed};

        ret = lazy_dump(&target, opts, &undo, &abandoned, err);
    } else {
        ret = brig_ckpt_dump(&target, opts, err);
    }
    if (abandoned)
        goto wrap;
    if (ret < 0) {
        ret = explain_dump_failure(ctx, opts, image_existed, work_existed, ret, err);
        goto wrap;
    }
    brig_log(ctx, BRIG_LOG_DEBUG, "checkpoint: `%s` %s into %s", id, opts->pre_dump ? "pre-dumped" : "dumped",
             opts->image_path);
    /* runc's contract: what was dumped (without --leave-running) is gone, and its id is free for restore.
     * An overlay root's changes are kept (as --keep-upper keeps them), for restore to mount again. */
    if (!opts->leave_running && !opts->pre_dump) {
        cleanup_free char *kept = NULL;
        ret = brig_destroy_container(ctx, &dir, state, state->n_overlay_lowers > 0, &kept, err);
        if (ret == 0 && state->n_overlay_lowers)
            ret = save_rootfs_record(spec, state, kept, opts->image_path, err);
    }
    goto out;
wrap:
    brig_err_wrap(err, ret, "checkpoint container `%s`", id);
out:
    brig_store_close(&dir);
    brig_ckpt_opts_clear(opts);
    return ret;
}

/* What restore has made so far, undone on failure. */
struct restore_progress {
    struct brig_container_dir dir;
    bool dir_made;
    enum brig_cgroup_mode cgroup_mode;
    char *cgroup_path;
    bool cgroup_made;
    bool cgroup_joined;
    bool systemd;  /* the cgroup is a systemd scope: stopping the unit removes it */
    pid_t holder;  /* systemd: keeps the new scope alive until the restored tree is in it */
    pid_t pid;
    const char *root;
    struct brig_root_layers layers; /* an overlay root */
    bool layers_made;
    bool net_prepared;
    pid_t netns_holder; /* holds the new network namespace until the restored tree is in it */
};

static void stop_netns_holder(struct restore_progress *p)
{
    if (p->netns_holder <= 0)
        return;
    kill(p->netns_holder, SIGKILL);
    waitpid(p->netns_holder, NULL, 0);
    p->netns_holder = 0;
}

static void undo_restore(struct restore_progress *p)
{
    cleanup_err struct brig_err *ignored = NULL;

    if (p->pid > 0)
        kill(p->pid, SIGKILL);
    brig_cgroup_systemd_holder_end(p->holder);
    p->holder = 0;
    if (p->cgroup_made && p->systemd)
        brig_cgroup_systemd_stop(p->cgroup_mode, p->cgroup_path, &ignored);
    else if (p->cgroup_made && !p->cgroup_joined)
        brig_cgroup_destroy(p->cgroup_mode, p->cgroup_path, &ignored);
    if (p->pid > 0)
        waitpid(p->pid, NULL, 0);
    brig_err_free(&ignored);
    stop_netns_holder(p);
    if (p->net_prepared)
        brig_net_teardown(p->root, p->dir.dir_fd, false, &ignored);
    brig_err_free(&ignored);
    if (p->layers_made)
        brig_root_layers_undo(&p->dir, &p->layers);
    if (p->dir_made)
        brig_store_remove(&p->dir, &ignored);
    brig_store_close(&p->dir);
}

static int write_pid_file(const char *path, pid_t pid, struct brig_err **err)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "%d", (int) pid);
    int ret = brig_write_file_atomic_at(AT_FDCWD, path, text, (size_t) len, 0644, err);

    return ret < 0 ? brig_err_wrap(err, ret, "--pid-file") : 0;
}

/* A child that only holds a new network namespace for brig_net_attach to wire (it takes a pid): the
 * restored tree then joins that namespace (CRIU's extRootNetNS) and the holder goes. */
static int start_netns_holder(pid_t *pid, struct brig_err **err)
{
    int fds[2];
    char ok = 0;
    pid_t child;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return brig_err_sys(err, "network namespace holder: pipe");
    child = fork();
    if (child < 0) {
        close(fds[0]);
        close(fds[1]);
        return brig_err_sys(err, "network namespace holder: fork");
    }
    if (child == 0) {
        char one = 1;
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (unshare(CLONE_NEWNET) < 0 || write(fds[1], &one, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    *pid = child;
    if (read(fds[0], &ok, 1) != 1 || ok != 1) {
        close(fds[0]);
        return brig_err_msg(err, EPERM, "network namespace holder: could not make a network namespace");
    }
    close(fds[0]);
    return 0;
}

/* The network the restored container gets: the one saved beside the image (same network, address and
 * ports) when there is one, else whatever the config's annotations ask for. *ports: the record's ports. */
static int restore_network_opts(const struct brig_spec *spec, const char *image_path, struct brig_net_opts *o,
                                char **ports, struct brig_err **err)
{
    __attribute__((cleanup(brig_net_saved_clear))) struct brig_net_saved saved = {0};
    cleanup_close int images_fd = -1;
    int ret = brig_net_opts_from_spec(spec, o, err);

    if (ret < 0)
        return ret;
    images_fd = open(image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (images_fd < 0)
        return brig_err_sys(err, "--image-path `%s`", image_path);
    ret = brig_net_record_load(images_fd, BRIG_CKPT_NETWORK, &saved, err);
    if (ret == -ENOENT)
        return 0;
    if (ret < 0)
        return brig_err_wrap(err, ret, "`%s/%s`", image_path, BRIG_CKPT_NETWORK);
    *ports = strdup(saved.ports ? saved.ports : "");
    if (!*ports)
        return brig_err_set(err, ENOMEM, "network record");
    brig_net_opts_clear(o);
    memset(o, 0, sizeof(*o));
    ret = brig_net_opts_set_network(o, saved.network, err);
    if (ret == 0 && saved.ip)
        ret = brig_net_opts_set_ip(o, saved.ip, err);
    if (ret == 0 && **ports)
        ret = brig_net_opts_add_ports(o, *ports, err);
    if (ret == 0)
        ret = brig_net_opts_check_spec(o, spec, err);
    return ret < 0 ? brig_err_wrap(err, ret, "`%s/%s`", image_path, BRIG_CKPT_NETWORK) : 0;
}

/* The root the restored container gets: root.path, or the overlay its config and the record beside the image
 * (BRIG_CKPT_ROOTFS: the --layer/--image lowers and the upper holding its changes) describe. */
static int plan_root(const struct brig_context *ctx, const struct brig_spec *spec, const char *bundle,
                     const struct brig_restore_opts *opts, struct brig_root_layers *layers, struct brig_err **err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *text = NULL;
    cleanup_free char **lowers = NULL;
    struct brig_create_opts co = {.id = opts->id};
    size_t len = 0, n = 0;
    char *line, *next;
    int ret;

    if (asprintf(&path, "%s/%s", opts->ckpt.image_path, BRIG_CKPT_ROOTFS) < 0)
        return brig_err_set(err, ENOMEM, "rootfs record");
    if (access(path, F_OK) == 0) {
        ret = brig_read_file_at(AT_FDCWD, path, &text, &len, err);
        if (ret < 0)
            return ret;
        lowers = calloc(len / 7 + 1, sizeof(char *)); /* every "layer=X\n" takes at least 8 bytes */
        if (!lowers)
            return brig_err_set(err, ENOMEM, "rootfs record");
        for (line = text; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            if (!strncmp(line, "layer=", 6) && line[6])
                lowers[n++] = line + 6;
            else if (!strncmp(line, "upper=", 6) && line[6])
                co.upper = line + 6;
            else if (*line)
                return brig_err_msg(err, EINVAL, "`%s`: unexpected line `%s`", path, line);
        }
        co.layers = lowers;
        co.n_layers = n;
    }
    ret = brig_root_layers_plan(ctx, spec, bundle, &co, layers, err);
    return ret < 0 && text ? brig_err_wrap(err, ret, "`%s`", path) : ret;
}

static int restore_container(const struct brig_context *ctx, struct brig_restore_opts *opts,
                             struct restore_progress *p, struct brig_state **out, struct brig_err **err)
{
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_free char *bundle = NULL;
    cleanup_free char *config_path = NULL;
    cleanup_free char *rootfs = NULL;
    cleanup_free char *scratch = NULL;
    cleanup_cgroup_entry struct brig_cgroup_entry entry = {.clone_into_fd = -1};
    struct brig_state *state = NULL;
    struct brig_ckpt_target target;
    pid_t pid = -1;
    __attribute__((cleanup(brig_net_opts_clear))) struct brig_net_opts net_opts = {0};
    cleanup_net struct brig_net *net = NULL;
    cleanup_free char *net_ports = NULL;
    cleanup_close int netns_fd = -1;
    cleanup_close int console_fd = -1;
    cleanup_close int pty_master = -1;
    char net_paths[2][4200];
    struct brig_mount net_mounts[2];
    int ret;

    p->root = ctx->root;
    ret = brig_validate_id(opts->id, err);
    if (ret == 0)
        ret = brig_ckpt_opts_check(&opts->ckpt, true, err);
    if (ret < 0)
        return ret;
    bundle = realpath(opts->bundle && *opts->bundle ? opts->bundle : ".", NULL);
    if (!bundle)
        return brig_err_sys(err, "bundle `%s`", opts->bundle ? opts->bundle : ".");
    if (asprintf(&config_path, "%s/config.json", bundle) < 0)
        return brig_err_set(err, ENOMEM, "config path");
    ret = brig_spec_load(config_path, &spec, err);
    if (ret == 0 && !spec->process)
        ret = brig_err_msg(err, EINVAL, "config.json: process: required to restore a container");
    if (ret == 0)
        ret = check_supported(ctx, false, "restore", err);
    if (ret == 0)
        ret = brig_runtime_check_systemd(ctx, err);
    /* systemd names the scope's place from the cgroupsPath: a parent of brig's own has no part in it. */
    if (ret == 0 && ctx->systemd_cgroup && opts->cgroup_parent)
        ret = brig_err_msg(err, EINVAL, "--cgroup-parent: not with --systemd-cgroup (the cgroupsPath's slice "
                                        "places the scope)");
    if (ret == 0)
        ret = plan_root(ctx, spec, bundle, opts, &p->layers, err);
    if (ret == 0 && p->layers.enabled && !(rootfs = strdup(p->layers.ov.target)))
        ret = brig_err_set(err, ENOMEM, "rootfs");
    if (ret == 0 && !p->layers.enabled)
        ret = brig_resolve_rootfs(bundle, spec, &rootfs, err);
    if (ret == 0)
        ret = brig_ckpt_probe(ctx->criu, err);
    if (ret == 0)
        ret = brig_ckpt_image_check(opts->ckpt.image_path, err);
    if (ret == 0)
        ret = brig_ckpt_config_load(spec, &opts->ckpt, err);
    if (ret == 0)
        ret = restore_network_opts(spec, opts->ckpt.image_path, &net_opts, &net_ports, err);
    if (ret == 0)
        ret = brig_cgroup_detect(&p->cgroup_mode, err);
    if (ret == 0) {
        /* With --systemd-cgroup the tree goes into a new scope with the properties, as create makes one. */
        p->systemd = ctx->systemd_cgroup;
        ret = (ctx->systemd_cgroup ? brig_cgroup_systemd_path : brig_cgroup_resolve_path)(
            spec->linux_cfg ? spec->linux_cfg->cgroups_path : NULL, opts->id, &p->cgroup_path, err);
        if (ret < 0)
            brig_err_wrap(err, ret, "linux.cgroupsPath");
    }
    if (ret == 0 && opts->cgroup_parent) {
        char *below = NULL;
        if (opts->cgroup_parent[0] != '/' || strstr(opts->cgroup_parent, "..") ||
            asprintf(&below, "%s%s", opts->cgroup_parent, p->cgroup_path) < 0) {
            below = NULL;
            ret = brig_err_msg(err, EINVAL, "cgroup parent `%s`: not an absolute path without `..`",
                               opts->cgroup_parent);
        }
        if (below) {
            free(p->cgroup_path);
            p->cgroup_path = below;
        }
    }
    if (ret < 0)
        return ret;

    ret = brig_store_create(ctx, opts->id, &p->dir, err);
    if (ret < 0)
        return ret;
    p->dir_made = true;
    ret = brig_fill_state(spec, opts->id, 0, bundle, rootfs, config_path, p->cgroup_path, ctx->systemd_cgroup,
                          &state, err);
    if (ret < 0)
        return ret;
    *out = state;
    state->creating = true;
    state->has_hooks = brig_hooks_any(&spec->hooks);
    if (brig_root_layers_record(&p->layers, state) < 0)
        return brig_err_set(err, ENOMEM, "state");
    /* Saved before the cgroup is made: a restore killed from here on leaves what `delete` can find. */
    ret = brig_store_save(&p->dir, state, err);
    if (ret < 0)
        return ret;
    if (p->layers.enabled) {
        p->layers_made = true;
        ret = brig_root_layers_setup(&p->dir, &p->layers, err);
        if (ret < 0)
            return ret;
    }
    ret = brig_runtime_cgroup_create(ctx, spec, opts->id, p->cgroup_mode, p->cgroup_path, &entry,
                                     &p->cgroup_joined, err);
    if (ret < 0)
        return ret;
    p->cgroup_made = true;
    if (p->cgroup_joined) {
        state->cgroup_joined = true;
        ret = brig_store_save(&p->dir, state, err);
        if (ret < 0)
            return ret;
    }
    /* systemd stops a scope once it is empty: its placeholder stays until the tree is in (undo_restore or
     * the end of this function ends it). */
    p->holder = entry.holder;
    entry.holder = 0;
    brig_cgroup_entry_close(&entry);
    if (asprintf(&scratch, "%s/%s", ctx->root, opts->id) < 0)
        return brig_err_set(err, ENOMEM, "restore root");
    target = (struct brig_ckpt_target){
        .id = opts->id,
        .spec = spec,
        .rootfs = rootfs,
        .bundle = bundle,
        .cgroup_path = p->cgroup_path,
        .cgroup_mode = p->cgroup_mode,
        .scratch_dir = scratch,
        .netns_fd = -1,
        .terminal = spec->process->terminal,
    };
    if (spec->process->terminal && !opts->console_socket)
        return brig_err_msg(err, EINVAL, "process.terminal is true: --console-socket is required to restore it");
    if (opts->console_socket) {
        ret = brig_console_connect(opts->console_socket, &console_fd, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "--console-socket");
    }
    if (net_opts.enabled) {
        char proc_net[64];

        p->net_prepared = true;
        ret = brig_net_prepare(ctx->root, p->dir.dir_fd, opts->id, spec->hostname, &net_opts, &net, err);
        if (ret == 0)
            ret = start_netns_holder(&p->netns_holder, err);
        if (ret == 0)
            ret = brig_net_attach(net, p->netns_holder, err);
        /* Down until the tree is back: a client's retransmission reaching the namespace before its socket
         * does would be answered with a reset. */
        if (ret == 0)
            ret = brig_net_host_link(net, false, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "network");
        snprintf(proc_net, sizeof(proc_net), "/proc/%d/ns/net", (int) p->netns_holder);
        netns_fd = open(proc_net, O_RDONLY | O_CLOEXEC);
        if (netns_fd < 0)
            return brig_err_sys(err, "network namespace `%s`", proc_net);
        target.netns_fd = netns_fd;
        target.extra_mounts = net_mounts;
        target.n_extra_mounts = network_mounts(spec, scratch, net_paths, net_mounts);
        state->net_ip = strdup(brig_net_ip(net));
        state->net_ports = net_ports && *net_ports ? strdup(net_ports) : NULL;
        ret = brig_store_save(&p->dir, state, err);
        if (ret < 0)
            return ret;
    }
    /* Without brig's network the tree gets a new empty network namespace, as runc's restore gives it. */
    opts->ckpt.empty_netns = true;
    ret = brig_ckpt_restore(&target, &opts->ckpt, &pid, &pty_master, err);
    stop_netns_holder(p);
    if (ret == 0) {
        brig_cgroup_systemd_holder_end(p->holder);
        p->holder = 0;
    }
    if (pid > 0)
        p->pid = pid;
    if (ret == 0 && net)
        ret = brig_net_host_link(net, true, err);
    if (ret == 0 && pty_master >= 0)
        ret = brig_console_send_fd(console_fd, pty_master, "console", err);
    if (ret < 0)
        return ret;
    p->pid = pid;
    ret = brig_state_set_init(state, pid, err);
    if (ret < 0)
        return ret;
    state->creating = false;
    ret = brig_store_save(&p->dir, state, err);
    if (ret == 0 && opts->pid_file)
        ret = write_pid_file(opts->pid_file, pid, err);
    if (ret < 0)
        return ret;
    brig_log(ctx, BRIG_LOG_DEBUG, "restore: `%s` restored from %s, init %d", opts->id, opts->ckpt.image_path,
             (int) pid);
    /* The last point of no return: a stop asked for before it undoes the whole restore. */
    return brig_stop_check("restore", err);
}

int brig_container_restore(const struct brig_context *ctx, struct brig_restore_opts *opts, int *exit_status,
                           struct brig_err **err)
{
    struct restore_progress progress = {.dir = {.root_fd = -1, .dir_fd = -1}};
    cleanup_state struct brig_state *state = NULL;
    sigset_t stop, forward, previous;
    cleanup_close int pidfd = -1;
    int ret;

    *exit_status = 0;
    opts->ckpt.criu_binary = ctx->criu;
    /* As in create: a stop ends the restore with everything undone. Only those are blocked while criu
     * runs: it inherits our signal mask. A foreground restore then forwards every signal to the container. */
    brig_stop_signals(&stop);
    brig_forwarded_signals(&forward);
    sigprocmask(SIG_BLOCK, &stop, &previous);
    if (!opts->detach && !opts->no_subreaper)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    ret = restore_container(ctx, opts, &progress, &state, err);
    brig_ckpt_opts_clear(&opts->ckpt);
    if (ret < 0) {
        undo_restore(&progress);
        brig_root_layers_clear(&progress.layers);
        free(progress.cgroup_path);
        sigprocmask(SIG_SETMASK, &previous, NULL);
        return brig_err_wrap(err, ret, "restore container `%s`", opts->id);
    }
    free(progress.cgroup_path);
    brig_root_layers_clear(&progress.layers);
    if (state->has_hooks)
        brig_run_lifecycle_hooks(ctx, state, "poststart", "running");
    if (opts->detach)
        goto out;
    sigprocmask(SIG_BLOCK, &forward, NULL);
    pidfd = (int) syscall(SYS_pidfd_open, state->pid, 0);
    if (pidfd < 0) {
        ret = brig_err_sys(err, "restore container `%s`: pidfd of init %d", opts->id, (int) state->pid);
        goto out;
    }
    /* `state`, `kill` and `delete` from other shells must not wait for this container to exit. */
    brig_store_lock(&progress.dir, false, NULL);
    ret = brig_wait_forwarding(pidfd, state->pid, -1, &forward, exit_status, err);
    {
        cleanup_err struct brig_err *cleanup_error = NULL;
        int dret = brig_store_lock(&progress.dir, true, &cleanup_error);
        if (dret == 0)
            dret = brig_destroy_container(ctx, &progress.dir, state, false, NULL, &cleanup_error);
        if (dret < 0 && ret == 0) {
            *err = steal_ptr(cleanup_error);
            ret = dret;
        }
    }
out:
    brig_store_close(&progress.dir);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return ret;
}
