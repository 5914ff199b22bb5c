/* `checkpoint` and `restore`: the container's side (state store, cgroup, hooks) around checkpoint/'s CRIU calls. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks.h"
#include "internal.h"
#include "process.h"
#include "../netns/netns.h"
#include "../util/util.h"

/* What checkpoint cannot carry yet is refused before CRIU is asked: a half-working restore is worse. */
static int check_supported(const struct brig_context *ctx, const struct brig_spec *spec, bool rootless,
                           const char *what, struct brig_err **err)
{
    struct brig_net_opts net = {0};
    cleanup_err struct brig_err *ignored = NULL;
    bool networked;

    if (rootless || ctx->rootless || geteuid() != 0)
        return brig_err_msg(err, ENOTSUP, "%s: not supported for rootless containers yet", what);
    networked = brig_net_opts_from_spec(spec, &net, &ignored) == 0 && net.enabled;
    brig_net_opts_clear(&net);
    if (networked)
        return brig_err_msg(err, ENOTSUP,
                            "%s: not supported yet for a container on brig's own network (run.brig.network "
                            "annotations, --network, -p)",
                            what);
    return 0;
}

int brig_container_checkpoint(const struct brig_context *ctx, const char *id, struct brig_ckpt_opts *opts,
                              struct brig_err **err)
{
    struct brig_container_dir dir = {.root_fd = -1, .dir_fd = -1};
    cleanup_state struct brig_state *state = NULL;
    cleanup_spec struct brig_spec *spec = NULL;
    struct brig_ckpt_target target;
    enum brig_cgroup_mode mode = BRIG_CGROUP_V2;
    const char *status;
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
    if (ret == 0 && state->net_ip)
        ret = brig_err_msg(err, ENOTSUP, "checkpoint: not supported yet for a container on brig's own network");
    if (ret == 0)
        ret = check_supported(ctx, spec, state->rootless, "checkpoint", err);
    if (ret == 0)
        ret = brig_ckpt_probe(ctx->criu, err);
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
        .console_fd = -1,
    };
    ret = brig_ckpt_dump(&target, opts, err);
    if (ret < 0)
        goto wrap;
    brig_log(ctx, BRIG_LOG_DEBUG, "checkpoint: `%s` %s into %s", id, opts->pre_dump ? "pre-dumped" : "dumped",
             opts->image_path);
    /* runc's contract: what was dumped (without --leave-running) is gone, and its id is free for restore. */
    if (!opts->leave_running && !opts->pre_dump)
        ret = brig_destroy_container(ctx, &dir, state, false, NULL, err);
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
    pid_t pid;
};

static void undo_restore(struct restore_progress *p)
{
    cleanup_err struct brig_err *ignored = NULL;

    if (p->pid > 0)
        kill(p->pid, SIGKILL);
    if (p->cgroup_made && !p->cgroup_joined)
        brig_cgroup_destroy(p->cgroup_mode, p->cgroup_path, &ignored);
    if (p->pid > 0)
        waitpid(p->pid, NULL, 0);
    brig_err_free(&ignored);
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
    int ret;

    ret = brig_validate_id(opts->id, err);
    if (ret == 0)
        ret = brig_ckpt_opts_check(&opts->ckpt, true, err);
    if (ret == 0 && opts->console_socket)
        ret = brig_err_msg(err, ENOTSUP, "--console-socket: restoring a container with a terminal is not supported yet");
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
    if (ret == 0 && (brig_spec_annotation(spec, BRIG_ROOTFS_LAYERS_ANNOTATION) || !*spec->root_path))
        ret = brig_err_msg(err, ENOTSUP, "restore: not supported yet for an overlay root (layers or an image)");
    if (ret == 0)
        ret = check_supported(ctx, spec, false, "restore", err);
    if (ret == 0)
        ret = brig_resolve_rootfs(bundle, spec, &rootfs, err);
    if (ret == 0)
        ret = brig_ckpt_probe(ctx->criu, err);
    if (ret == 0)
        ret = brig_ckpt_image_check(opts->ckpt.image_path, err);
    if (ret == 0)
        ret = brig_ckpt_config_load(spec, &opts->ckpt, err);
    if (ret == 0)
        ret = brig_cgroup_detect(&p->cgroup_mode, err);
    if (ret == 0) {
        ret = brig_cgroup_resolve_path(spec->linux_cfg ? spec->linux_cfg->cgroups_path : NULL, opts->id,
                                       &p->cgroup_path, err);
        if (ret < 0)
            brig_err_wrap(err, ret, "linux.cgroupsPath");
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
    /* Saved before the cgroup is made: a restore killed from here on leaves what `delete` can find. */
    ret = brig_store_save(&p->dir, state, err);
    if (ret < 0)
        return ret;
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
        .console_fd = -1,
    };
    ret = brig_ckpt_restore(&target, &opts->ckpt, &pid, err);
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
        free(progress.cgroup_path);
        sigprocmask(SIG_SETMASK, &previous, NULL);
        return brig_err_wrap(err, ret, "restore container `%s`", opts->id);
    }
    free(progress.cgroup_path);
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
