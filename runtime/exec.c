/* `exec`: a new process in a running container, without re-exec'ing brig. The parent joins the container's
 * pid and time namespaces for its children only, clones the process, puts it in the container's cgroup, and
 * the child joins the other namespaces itself, applies its process config and exec's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "internal.h"
#include "process.h"
#include "security.h"
#include "../util/util.h"

static const struct {
    const char *proc_name;
    int flag;
} ns_order[] = {
    /* user first: the others are then joined with its privileges; mnt last: it changes our root. */
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
};

struct exec_ns {
    int fds[ARRAY_SIZE(ns_order)];
    int pid_fd;
    int time_fd;
    bool user_joined_by_parent; /* rootless: fds[user] is closed, the child is born in the user namespace */
};

static void exec_ns_close(struct exec_ns *ns)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++)
        if (ns->fds[i] >= 0)
            close(ns->fds[i]);
    if (ns->pid_fd >= 0)
        close(ns->pid_fd);
    if (ns->time_fd >= 0)
        close(ns->time_fd);
}

/* Joins the container's pid (and time) namespace for our children. Without privileges over it (rootless:
 * it belongs to the container's user namespace) we first join that user namespace ourselves, as root in
 * it, and the child then skips it: we only wait and relay from then on, and need nothing of the host's. */
static int exec_join_pid_ns(struct exec_ns *ns, struct brig_err **err)
{
    const size_t user = 0; /* ns_order starts with the user namespace */

    if (ns->pid_fd >= 0 && setns(ns->pid_fd, CLONE_NEWPID) < 0) {
        if (errno != EPERM || ns->fds[user] < 0)
            return brig_err_sys(err, "join the container's pid namespace");
        if (setns(ns->fds[user], CLONE_NEWUSER) < 0)
            return brig_err_sys(err, "join the container's user namespace");
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            return brig_err_sys(err, "become root in the container's user namespace");
        close(ns->fds[user]);
        ns->fds[user] = -1;
        ns->user_joined_by_parent = true;
        if (setns(ns->pid_fd, CLONE_NEWPID) < 0)
            return brig_err_sys(err, "join the container's pid namespace");
    }
    if (ns->time_fd >= 0 && setns(ns->time_fd, CLONE_NEWTIME) < 0)
        return brig_err_sys(err, "join the container's time namespace");
    return 0;
}

/* Opens the container init's namespace `name`, or -1 when it is the one we are already in. */
static int open_ns_if_different(pid_t pid, const char *name, struct brig_err **err)
{
    char path[64], self[64];
    struct stat theirs, ours;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
    snprintf(self, sizeof(self), "/proc/self/ns/%s", name);
    if (stat(path, &theirs) < 0) {
        if (errno == ENOENT && strcmp(name, "time") == 0)
            return -1;
        return brig_err_sys(err, "namespace `%s` of pid %d", name, pid);
    }
    if (stat(self, &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return brig_err_sys(err, "open `%s`", path);
    return fd;
}

static int exec_ns_open(pid_t pid, struct exec_ns *ns, struct brig_err **err)
{
    ns->pid_fd = ns->time_fd = -1;
    ns->user_joined_by_parent = false;
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++)
        ns->fds[i] = -1;
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++) {
        int fd = open_ns_if_different(pid, ns_order[i].proc_name, err);
        if (fd < -1)
            return fd;
        ns->fds[i] = fd;
    }
    ns->pid_fd = open_ns_if_different(pid, "pid_for_children", err);
    if (ns->pid_fd < -1)
        return ns->pid_fd;
    ns->time_fd = open_ns_if_different(pid, "time_for_children", err);
    return ns->time_fd < -1 ? ns->time_fd : 0;
}

/* The container's process, overridden by what exec was given. */
/* What build_process allocates beside the specs' arenas: the three grown capability sets and the env. */
#define BRIG_EXEC_OWNED_ENV 3
#define BRIG_EXEC_OWNED_N 4

static void free_owned_arrays(char **(*arrays)[BRIG_EXEC_OWNED_N])
{
    for (size_t i = 0; i < BRIG_EXEC_OWNED_N; i++)
        free((*arrays)[i]);
}

static int build_process(const struct brig_exec_opts *opts, struct brig_spec *config, struct brig_spec **owned,
                         char **owned_arrays[BRIG_EXEC_OWNED_N], struct brig_process **out, struct brig_err **err)
{
    struct brig_process *proc;
    int ret;

    if (opts->process_file) {
        ret = brig_spec_load_process(opts->process_file, owned, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "--process");
        proc = (*owned)->process;
    } else {
        proc = config->process;
        if (!proc)
            return brig_err_msg(err, EINVAL, "the container's config has no process to base exec on");
        proc->args = opts->args;
        proc->n_args = opts->n_args;
        proc->terminal = false;
        /* Flags win over the container's own: later entries of the same name replace earlier ones. */
        if (opts->n_env) {
            size_t n = proc->n_env + opts->n_env;
            char **env = calloc(n + 1, sizeof(char *));
            size_t k = 0;
            if (!env)
                return brig_err_msg(err, ENOMEM, "exec environment");
            for (size_t i = 0; i < proc->n_env; i++) {
                const char *eq = strchr(proc->env[i], '=');
                size_t len = eq ? (size_t) (eq - proc->env[i]) : strlen(proc->env[i]);
                bool overridden = false;
                for (size_t j = 0; j < opts->n_env && !overridden; j++)
                    overridden = !strncmp(opts->env[j], proc->env[i], len) && opts->env[j][len] == '=';
                if (!overridden)
                    env[k++] = proc->env[i];
            }
            for (size_t j = 0; j < opts->n_env; j++)
                env[k++] = opts->env[j];
            owned_arrays[BRIG_EXEC_OWNED_ENV] = env;
            proc->env = env;
            proc->n_env = k;
        }
        if (opts->cwd)
            proc->cwd = (char *) opts->cwd;
        if (opts->user) {
            uint32_t uid = 0, gid = 0;
            char buf[64];
            char *colon;
            int r;
            snprintf(buf, sizeof(buf), "%s", opts->user);
            colon = strchr(buf, ':');
            if (colon)
                *colon = '\0';
            r = brig_parse_id(buf, &uid);
            if (r == 0 && colon)
                r = brig_parse_id(colon + 1, &gid);
            if (r == -ERANGE)
                return brig_err_msg(err, EINVAL, "--user: `%s`: %u is not a valid id: " BRIG_ID_UNCHANGED_WHY,
                                    opts->user, BRIG_ID_UNCHANGED);
            if (r < 0 || strlen(opts->user) >= sizeof(buf))
                return brig_err_msg(err, EINVAL, "--user: `%s` is not UID[:GID]", opts->user);
            proc->user.uid = uid;
            proc->user.gid = gid;
        }
        if (opts->n_additional_gids) {
            proc->user.additional_gids = opts->additional_gids;
            proc->user.n_additional_gids = opts->n_additional_gids;
        }
        if (opts->no_new_privs)
            proc->no_new_privileges = true;
        if (opts->apparmor)
            proc->apparmor_profile = (char *) opts->apparmor;
        if (opts->process_label)
            proc->selinux_label = (char *) opts->process_label;
    }
    if (opts->tty >= 0)
        proc->terminal = opts->tty;
    if (opts->n_caps) {
        struct brig_capabilities *caps = &proc->capabilities;
        /* As runc since CVE-2022-29162: not inheritable (nor ambient, which needs it), so that a file's
         * inheritable capabilities give an exec'd program nothing beyond these. */
        char ***sets[] = {&caps->bounding, &caps->effective, &caps->permitted};
        size_t *counts[] = {&caps->n_bounding, &caps->n_effective, &caps->n_permitted};
        proc->has_capabilities = true;
        for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
            char **grown = calloc(*counts[i] + opts->n_caps + 1, sizeof(char *));
            if (!grown)
                return brig_err_msg(err, ENOMEM, "--cap");
            owned_arrays[i] = grown;
            if (*counts[i])
                memcpy(grown, *sets[i], *counts[i] * sizeof(char *));
            memcpy(grown + *counts[i], opts->caps, opts->n_caps * sizeof(char *));
            *sets[i] = grown;
            *counts[i] += opts->n_caps;
        }
    }
    *out = proc;
    return 0;
}

struct exec_child {
    const struct brig_exec_opts *opts;
    struct brig_process *proc;
    struct brig_security *security;
    struct exec_ns *ns;
    int sync_fd;
    int console_fd;
    struct brig_fds preserve; /* the caller's fds among 3..3+preserve_fds-1 */
    const struct brig_cgroup_entry *cgroup_entry; /* entered right after GO (NULL: none, or the parent joins) */
};

static int exec_child_setup(struct exec_child *c, char *exe, size_t exe_len, struct brig_err **err)
{
    bool cwd_deferred = false;
    char go = 0;
    ssize_t n;
    int ret;

    do
        n = recv(c->sync_fd, &go, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n != 1 || go != BRIG_SYNC_GO)
        return brig_err_msg(err, EPIPE, "exec: parent went away");
    /* After GO: execCPUAffinity.initial is set before the process is in the container's cgroup. */
    if (c->cgroup_entry) {
        ret = brig_cgroup_entry_self(c->cgroup_entry, err);
        if (ret < 0)
            return ret;
    }
    ret = brig_security_init_begin(c->security, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++) {
        if (c->ns->fds[i] < 0)
            continue;
        if (setns(c->ns->fds[i], ns_order[i].flag) < 0)
            return brig_err_sys(err, "join the container's %s namespace", ns_order[i].proc_name);
        if (ns_order[i].flag == CLONE_NEWUSER && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
            return brig_err_sys(err, "become root in the container's user namespace");
    }
    if (c->proc->terminal) {
        ret = brig_console_setup_pty(c->proc, c->console_fd, false, err);
        if (ret < 0)
            return ret;
    }
    /* Before an early seccomp filter (no noNewPrivileges), which may deny close_range, and before
     * RLIMIT_NOFILE may drop below fds we hold (which closing one by one, without /proc, counts up to). */
    ret = brig_seal_fds(c->preserve.fds, c->preserve.n, err);
    if (ret < 0)
        return ret;
    ret = brig_process_apply_rlimits(c->proc, err);
    if (ret == 0)
        ret = brig_process_apply_oom_score(c->proc, err);
    if (ret < 0)
        return ret;
    /* As create does, and runc for exec: HOME from the container's passwd when the process sets none. */
    ret = brig_process_default_home(c->proc, err);
    if (ret < 0)
        return ret;
    /* Checked here, before a seccomp filter that might deny getcwd() is loaded. */
    ret = brig_process_enter_cwd(c->proc, &cwd_deferred, err);
    if (ret < 0)
        return ret;
    ret = brig_security_before_user(c->security, err);
    if (ret < 0)
        return ret;
    ret = brig_process_set_user(c->proc, err);
    if (ret < 0)
        return ret;
    ret = brig_security_after_user(c->security, err);
    if (ret < 0)
        return ret;
    if (cwd_deferred) {
        ret = brig_process_enter_cwd(c->proc, NULL, err);
        if (ret < 0)
            return ret;
    }
    ret = brig_process_find_executable(c->proc, exe, exe_len, err);
    if (ret < 0)
        return ret;
    return 0;
}

/* The child is born in the container's pid namespace holding every fd of brig's: the state directory, --root,
 * a cgroup directory. A process there that may read our fds (CAP_SYS_PTRACE) would reach the host's tree
 * through /proc/PID/fd/N/.. until we exec (the leaked-directory escape of CVE-2024-21626). Only what the
 * child uses stays, none of it a directory: the sync and console sockets, namespace fds, the v1 tasks files,
 * the seccomp listener, the caller's preserved fds. */
static void close_unneeded_fds(const struct exec_child *c)
{
    cleanup_free int *keep = calloc(ARRAY_SIZE(ns_order) + BRIG_CGROUP_ENTRY_MAX + 3 + c->preserve.n, sizeof(int));
    size_t n = 0;

    if (!keep) /* the exec fails soon enough for want of memory */
        return;
    keep[n++] = c->sync_fd;
    keep[n++] = c->console_fd;
    keep[n++] = c->security->seccomp.listener_sock;
    for (size_t i = 0; i < ARRAY_SIZE(ns_order); i++)
        keep[n++] = c->ns->fds[i];
    for (size_t i = 0; c->cgroup_entry && i < c->cgroup_entry->n_tasks; i++)
        keep[n++] = c->cgroup_entry->tasks_fds[i];
    for (size_t i = 0; i < c->preserve.n; i++)
        keep[n++] = c->preserve.fds[i];
    brig_close_fds_except(keep, n, 3);
}

__attribute__((noreturn)) static void exec_child_main(struct exec_child *c)
{
    struct brig_err *err = NULL;
    char exe[4096];
    char buf[4200];
    int len;

    close_unneeded_fds(c);
    if (exec_child_setup(c, exe, sizeof(exe), &err) == 0 &&
        brig_exec_affinity_apply_final(c->proc, 0, &err) == 0 && brig_security_before_exec(c->security, &err) == 0) {
        brig_reset_signals();
        execve(exe, c->proc->args, c->proc->env ? c->proc->env : (char *[]){NULL});
        brig_err_sys(&err, "exec `%s`", exe);
    }
    buf[0] = BRIG_SYNC_ERROR;
    len = brig_err_encode(err, buf + 1, (int) sizeof(buf) - 1);
    send(c->sync_fd, buf, (size_t) len + 1, MSG_NOSIGNAL);
    _exit(127);
}

/* The child's sync socket is close-on-exec: EOF without a message means the exec happened. Waits for the
 * process's report. It ends on a stop signal (held, as all are, while exec forwards them) and
 * when the container's cgroup is frozen meanwhile: a process stopped there would never report. */
static int wait_exec(int sync_fd, enum brig_cgroup_mode mode, const char *cgroup_path, struct brig_err **err)
{
    cleanup_close int stop_fd = brig_stop_fd();
    struct pollfd p[2] = {{.fd = sync_fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
    char buf[4200];
    ssize_t n;
    int ret;

    for (;;) {
        n = poll(p, 2, 1000);
        if (n > 0 && (p[1].revents & POLLIN)) {
            ret = brig_stop_check("waiting for the exec process", err);
            if (ret < 0)
                return ret;
            continue;
        }
        if (n > 0 || (n < 0 && errno != EINTR))
            break;
        if (n == 0 && cgroup_path) {
            ret = brig_cgroup_check_thawed(mode, cgroup_path, err);
            if (ret == -EBUSY)
                return brig_err_wrap(err, ret, "frozen before the exec process started");
            brig_err_free(err);
        }
    }
    do
        n = recv(sync_fd, buf, sizeof(buf), 0);
    while (n < 0 && errno == EINTR);
    if (n > 1 && buf[0] == BRIG_SYNC_ERROR)
        return brig_err_decode(err, buf + 1, (int) n - 1);
    return 0;
}

int brig_container_exec(const struct brig_context *ctx, const struct brig_exec_opts *opts, int *exit_status,
                        struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    cleanup_spec struct brig_spec *config = NULL;
    cleanup_spec struct brig_spec *process_spec = NULL;
    __attribute__((cleanup(free_owned_arrays))) char **owned_arrays[BRIG_EXEC_OWNED_N] = {NULL};
    struct brig_process *proc = NULL;
    cleanup_security struct brig_security security = {.seccomp.listener_sock = -1};
    struct exec_ns ns = {.pid_fd = -1, .time_fd = -1};
    enum brig_cgroup_mode mode;
    cleanup_free char *cgroup_path = NULL;
    cleanup_cgroup_entry struct brig_cgroup_entry cgroup_entry = {.clone_into_fd = -1};
    bool parent_joins;
    cleanup_close int console_ours = -1;
    cleanup_close int console_child = -1;
    cleanup_close int pidfd = -1;
    cleanup_close int master_fd = -1;
    cleanup_close int own_pid_ns = -1;
    cleanup_close int own_time_ns = -1;
    int sync_fds[2] = {-1, -1};
    sigset_t all, previous, forward;
    const char *status;
    pid_t pid = -1;
    int ret;

    *exit_status = 0;
    for (size_t i = 0; i < ARRAY_SIZE(ns.fds); i++)
        ns.fds[i] = -1;
    if (!opts->process_file && opts->n_args == 0)
        return brig_err_msg(err, EINVAL, "exec: no command given (pass it after the container id, or --process)");
    ret = brig_store_open(ctx, opts->id, false, &dir, &state, err);
    if (ret < 0)
        return ret;
    status = brig_container_status(&dir, state);
    brig_store_close(&dir);
    if (!strcmp(status, "paused") && !opts->ignore_paused)
        return brig_err_msg(err, EBUSY, "cannot exec in container `%s`: it is paused", opts->id);
    if (strcmp(status, "running") && strcmp(status, "created") && strcmp(status, "paused"))
        return brig_err_msg(err, ESRCH, "cannot exec in container `%s`: it is %s", opts->id, status);
    ret = brig_spec_load(state->config_path, &config, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "container `%s`", opts->id);
    ret = build_process(opts, config, &process_spec, owned_arrays, &proc, err);
    if (ret < 0)
        return ret;
    ret = brig_process_validate(proc, err);
    if (ret < 0)
        return ret;
    /* The container's security config (seccomp, LSM...) with this process's capabilities and user. */
    config->process = proc;
    ret = brig_security_prepare(ctx, config, opts->id, state->bundle, &security, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "exec in container `%s`", opts->id);
    if (opts->apparmor)
        security.lsm.apparmor_field = "--apparmor";
    if (proc->terminal) {
        int pair[2];
        if (opts->console_socket) {
            ret = brig_console_connect(opts->console_socket, &console_child, err);
            if (ret < 0)
                return ret;
        } else if (opts->detach) {
            return brig_err_msg(err, EINVAL, "exec: a terminal with --detach needs --console-socket");
        } else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
            return brig_err_sys(err, "console socket pair");
        } else {
            console_child = pair[0];
            console_ours = pair[1];
        }
    }
    if (!state->cgroup_path) {
        /* A rootless container that runs without cgroups: so does the new process. */
        if (opts->cgroup)
            return brig_err_msg(err, EINVAL, "--cgroup: container `%s` runs without cgroups (rootless)", opts->id);
    } else if (opts->cgroup) {
        if (opts->cgroup[0] == '/' || strstr(opts->cgroup, ".."))
            return brig_err_msg(err, EINVAL, "--cgroup: `%s` must be a relative path below the container's cgroup",
                                opts->cgroup);
        if (asprintf(&cgroup_path, "%s/%s", state->cgroup_path, opts->cgroup) < 0)
            return brig_err_msg(err, ENOMEM, "--cgroup");
    } else {
        cgroup_path = strdup(state->cgroup_path);
    }
    ret = brig_cgroup_detect(&mode, err);
    if (ret < 0)
        return ret;
    /* The process enters its cgroup by itself, which spares the RCU grace period of a pid write (see
     * brig_cgroup_entry); with an initial CPU affinity it is born outside and the parent moves it after. */
    parent_joins = cgroup_path && proc->exec_cpu_affinity && proc->exec_cpu_affinity->initial;
    if (cgroup_path && !parent_joins) {
        ret = brig_cgroup_entry_open(mode, cgroup_path, &cgroup_entry, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "exec in container `%s`", opts->id);
    }
    ret = exec_ns_open(state->pid, &ns, err);
    if (ret < 0)
        goto out;
    /* Both only apply to our children; ours are restored right after the clone, so nothing brig (or a
     * sanitizer's helper thread) starts later lands in the container. */
    own_pid_ns = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
    own_time_ns = ns.time_fd >= 0 ? open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC) : -1;
    ret = exec_join_pid_ns(&ns, err);
    if (ret < 0) {
        ret = brig_err_wrap(err, ret, "exec in container `%s`", opts->id);
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_fds) < 0) {
        ret = brig_err_sys(err, "sync socket pair");
        goto out;
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &previous);
    forward = all;
    sigdelset(&forward, SIGKILL);
    sigdelset(&forward, SIGSTOP);
    {
        /* clone3's struct up to `cgroup` (version 2): flags, pidfd, ..., exit_signal, ..., cgroup. */
        uint64_t args[11] = {CLONE_PIDFD, (uint64_t) (uintptr_t) &pidfd, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0};
        if (cgroup_entry.clone_into_fd >= 0) {
            args[0] |= CLONE_INTO_CGROUP;
            args[10] = (uint64_t) cgroup_entry.clone_into_fd;
        }
        long r = syscall(SYS_clone3, args, sizeof(args));
        if (r == 0) {
            brig_protect_brig_binary(ns.fds[0] < 0 && !ns.user_joined_by_parent);
            struct exec_child child = {.opts = opts, .proc = proc, .security = &security, .ns = &ns,
                                       .sync_fd = sync_fds[1], .console_fd = console_child,
                                       .preserve = brig_fds_below(&ctx->caller_fds, 3 + opts->preserve_fds),
                                       .cgroup_entry = cgroup_path && !parent_joins ? &cgroup_entry : NULL};
            close(sync_fds[0]);
            exec_child_main(&child);
        }
        if (r < 0) {
            ret = brig_err_sys(err, "clone exec process");
            goto out_mask;
        }
        pid = (pid_t) r;
    }
    brig_log(ctx, BRIG_LOG_DEBUG, "exec: process %d cloned into the namespaces of `%s` (init %d)%s%s", (int) pid,
             opts->id, (int) state->pid, cgroup_path ? ", cgroup " : "", cgroup_path ? cgroup_path : "");
    close(sync_fds[1]);
    sync_fds[1] = -1;
    if (ns.pid_fd >= 0 && own_pid_ns >= 0)
        setns(own_pid_ns, CLONE_NEWPID);
    if (own_time_ns >= 0)
        setns(own_time_ns, CLONE_NEWTIME);
    ret = brig_exec_affinity_apply_initial(proc, pid, err);
    if (ret < 0)
        goto kill_child;
    brig_cgroup_entry_close(&cgroup_entry);
    ret = parent_joins ? brig_cgroup_join(mode, cgroup_path, pid, err) : 0;
    if (ret < 0)
        goto kill_child;
    {
        char go = BRIG_SYNC_GO;
        if (send(sync_fds[0], &go, 1, MSG_NOSIGNAL) != 1) {
            ret = brig_err_sys(err, "release exec process");
            goto kill_child;
        }
    }
    ret = wait_exec(sync_fds[0], mode, cgroup_path, err);
    if (ret < 0) {
        /* Killed in case it still runs; a frozen one dies only when thawed, so the reap is bounded. */
        struct pollfd reap = {.fd = pidfd, .events = POLLIN};
        kill(pid, SIGKILL);
        if (pidfd < 0 || poll(&reap, 1, 2000) == 1)
            waitpid(pid, NULL, 0);
        goto out_mask;
    }
    brig_log(ctx, BRIG_LOG_DEBUG, "exec: process %d runs `%s`", (int) pid, proc->args && proc->args[0] ? proc->args[0] : "");
    if (console_ours >= 0) {
        ret = brig_console_recv_fd(console_ours, &master_fd, err);
        if (ret < 0)
            goto kill_child;
    }
    if (opts->pid_file) {
        char text[32];
        int len = snprintf(text, sizeof(text), "%d", pid);
        ret = brig_write_file_atomic_at(AT_FDCWD, opts->pid_file, text, (size_t) len, 0644, err);
        if (ret < 0) {
            brig_err_wrap(err, ret, "--pid-file");
            goto kill_child;
        }
    }
    if (opts->pidfd_socket) {
        cleanup_close int sock = -1;
        ret = brig_console_connect(opts->pidfd_socket, &sock, err);
        if (ret == 0)
            ret = brig_console_send_fd(sock, pidfd, "pidfd", err);
        if (ret < 0)
            goto kill_child;
    }
    if (!opts->detach) {
        ret = brig_wait_forwarding(pidfd, pid, master_fd, &forward, exit_status, err);
        if (ret == 0)
            brig_log(ctx, BRIG_LOG_DEBUG, "exec: process %d exited with status %d", (int) pid, *exit_status);
    }
    goto out_mask;

kill_child:
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
out_mask:
    sigprocmask(SIG_SETMASK, &previous, NULL);
out:
    if (sync_fds[0] >= 0)
        close(sync_fds[0]);
    if (sync_fds[1] >= 0)
        close(sync_fds[1]);
    exec_ns_close(&ns);
    if (ret < 0)
        return brig_err_wrap(err, ret, "exec in container `%s`", opts->id);
    return 0;
}
