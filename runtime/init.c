/* The container's init: a clone of brig (no re-exec) that is born in the container's new namespaces, builds
 * its filesystem, reports "ready" to the parent, waits on the exec fifo for `start`, and exec's the user
 * process. Everything it does is undone by the kernel when it dies, so on error it only reports and exits. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "hooks.h"
#include "process.h"
#include "security.h"
#include "../rootfs/rootfs.h"
#include "../util/util.h"

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

extern char **environ;

__attribute__((noreturn)) static void report_and_exit(int sync_fd, struct brig_err *err)
{
    char buf[4096];
    int len;

    buf[0] = BRIG_SYNC_ERROR;
    len = brig_err_encode(err, buf + 1, (int) sizeof(buf) - 1);
    send(sync_fd, buf, (size_t) len + 1, MSG_NOSIGNAL);
    _exit(1);
}

/* BRIG_SYNC_SOURCES: each fd goes to the `mounts[]` entry its index names. */
static int keep_sources(struct brig_init_args *args, const char *indices, size_t len, struct msghdr *msg,
                        struct brig_err **err)
{
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg);
    size_t n_mounts = args->spec->n_mounts, n_fds = 0;
    int fds[BRIG_SYNC_MAX_SOURCES];

    if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
        n_fds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (n_fds > BRIG_SYNC_MAX_SOURCES)
            n_fds = BRIG_SYNC_MAX_SOURCES;
        memcpy(fds, CMSG_DATA(cmsg), n_fds * sizeof(int));
    }
    if (!args->source_fds && n_mounts) {
        args->source_fds = malloc(n_mounts * sizeof(int));
        for (size_t i = 0; args->source_fds && i < n_mounts; i++)
            args->source_fds[i] = -1;
    }
    for (size_t i = 0; i < n_fds; i++) {
        uint32_t idx = UINT32_MAX;

        if ((i + 1) * sizeof(idx) <= len)
            memcpy(&idx, indices + i * sizeof(idx), sizeof(idx));
        if (!args->source_fds || idx >= n_mounts || args->source_fds[idx] >= 0) {
            close(fds[i]);
            continue;
        }
        args->source_fds[idx] = fds[i];
    }
    if (!args->source_fds && n_fds)
        return brig_err_set(err, ENOMEM, "container init: bind mount sources");
    return 0;
}

static void close_sources(struct brig_init_args *args)
{
    for (size_t i = 0; args->source_fds && i < args->spec->n_mounts; i++)
        if (args->source_fds[i] >= 0)
            close(args->source_fds[i]);
    free(args->source_fds);
    args->source_fds = NULL;
}

/* GO may carry the state JSON for the hooks that run in here; bind mount sources may come before it. */
static int wait_for_go(struct brig_init_args *args, struct brig_err **err)
{
    static char buf[256 * 1024];
    union {
        char buf[CMSG_SPACE(BRIG_SYNC_MAX_SOURCES * sizeof(int))];
        struct cmsghdr align;
    } control;
    ssize_t n;
    int ret;

    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};

        do
            n = recvmsg(args->sync_fd, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 1 || buf[0] != BRIG_SYNC_SOURCES)
            break;
        ret = keep_sources(args, buf + 1, (size_t) n - 1, &msg, err);
        if (ret < 0)
            return ret;
    }
    if (n < 1 || buf[0] != BRIG_SYNC_GO)
        return brig_err_msg(err, EPIPE, "container init: parent went away");
    buf[n] = '\0';
    if (n > 1) {
        /* Copied: the next GO (after the createRuntime hooks) reuses the buffer. */
        args->hook_state = strdup(buf + 1);
    }
    return 0;
}

/* Standard streams on the caller's /dev/null (conmon gives one for stdin) become the container's own, as
 * runc's init does: CRIU cannot dump an fd on a mount outside the container's mount namespace, so Podman's
 * checkpoint failed with "Can't lookup mount=N for fd=0 path=/dev/null". A container without a null device
 * at /dev/null keeps what it was given. */
static int reopen_dev_null(struct brig_err **err)
{
    struct stat null_st, st;
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    int ret = 0;

    if (null_fd < 0)
        return 0;
    if (fstat(null_fd, &null_st) < 0 || !S_ISCHR(null_st.st_mode) || null_st.st_rdev != makedev(1, 3)) {
        close(null_fd);
        return 0;
    }
    for (int fd = 0; fd < 3 && ret == 0; fd++) {
        if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != null_st.st_rdev)
            continue;
        if (st.st_dev == null_st.st_dev && st.st_ino == null_st.st_ino)
            continue;
        if (dup3(null_fd, fd, 0) < 0)
            ret = brig_err_sys(err, "reopen fd %d on the container's /dev/null", fd);
    }
    close(null_fd);
    return ret;
}

/* prestart and createRuntime run in the runtime's namespaces: the parent runs them while we wait, after the
 * mounts are made and before pivot_root; createContainer then runs here, in the container's namespaces. */
static int run_create_hooks(struct brig_init_args *args, struct brig_err **err)
{
    const struct brig_hooks *hooks = &args->spec->hooks;
    char msg = BRIG_SYNC_HOOKS;
    int ret;

    if (hooks->n_prestart || hooks->n_create_runtime) {
        if (send(args->sync_fd, &msg, 1, MSG_NOSIGNAL) != 1)
            return brig_err_sys(err, "container init: ask for the createRuntime hooks");
        ret = wait_for_go(args, err);
        if (ret < 0)
            return ret;
    }
    if (!hooks->n_create_container)
        return 0;
    /* In the container's root (not yet pivoted into), as runc and the runtime-spec expect. */
    return brig_hooks_run("createContainer", hooks->create_container, hooks->n_create_container,
                          args->hook_state ? args->hook_state : "{}", args->rootfs, err);
}

static int become_root_in_user_ns(struct brig_err **err)
{
    if (setresgid(0, 0, 0) < 0)
        return brig_err_sys(err, "setgid 0 in the user namespace (is gid 0 mapped?)");
    if (setresuid(0, 0, 0) < 0)
        return brig_err_sys(err, "setuid 0 in the user namespace (is uid 0 mapped?)");
    return 0;
}

static int set_names(const struct brig_spec *spec, struct brig_err **err)
{
    if (spec->hostname && *spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
        return brig_err_sys(err, "hostname: set `%s`", spec->hostname);
    if (spec->domainname && *spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
        return brig_err_sys(err, "domainname: set `%s`", spec->domainname);
    return 0;
}

/* The state directory is the host's: while the container waits for `start`, a process of it that may look
 * at our fds (CAP_SYS_PTRACE passes the non-dumpable check) would reach the host's tree through
 * /proc/1/fd/N/.. (the leaked-directory escape of CVE-2024-21626). From here on the init holds only the fifo,
 * which leads nowhere, and reopens it through its own /proc/self/fd. Without the container's proc there the
 * directory stays: nothing in the container can look at our fds either. */
static int keep_only_fifo(struct brig_init_args *args, struct brig_err **err)
{
    cleanup_close int fifo = openat(args->state_dir_fd, BRIG_EXEC_FIFO, O_PATH | O_CLOEXEC);
    struct stat fifo_st, st;
    char path[64];

    if (fifo < 0)
        return brig_err_sys(err, "container init: open the exec fifo");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fifo);
    if (fstat(fifo, &fifo_st) < 0 || stat(path, &st) < 0 || st.st_dev != fifo_st.st_dev ||
        st.st_ino != fifo_st.st_ino)
        return 0;
    close(args->state_dir_fd);
    args->state_dir_fd = -1;
    args->fifo_fd = steal_fd(fifo);
    return 0;
}

static int setup(struct brig_init_args *args, char *exe, size_t exe_len, struct brig_err **err)
{
    const struct brig_spec *spec = args->spec;
    const struct brig_process *proc = spec->process;
    bool cwd_deferred = false;
    bool new_user_ns = args->ns_plan->clone_flags & CLONE_NEWUSER;
    bool has_mount_ns = brig_spec_namespace(spec, BRIG_NS_MOUNT) != NULL;
    struct brig_rootfs_ctx rootfs = {
        .spec = spec,
        .rootfs = args->rootfs,
        .bundle = args->bundle,
        .no_pivot = args->opts->no_pivot,
        .in_user_ns = new_user_ns || args->ns_plan->join_fds[BRIG_NS_USER] >= 0,
        .new_cgroup_ns = args->ns_plan->new_cgroup_ns,
        .cgroup_path = args->cgroup_path,
        .overlay = args->overlay,
        .state_dir_fd = args->state_dir_fd,
    };
    int ret;

    ret = wait_for_go(args, err);
    if (ret < 0)
        return ret;
    rootfs.source_fds = args->source_fds;
    ret = brig_security_init_begin(args->security, err);
    if (ret < 0)
        return ret;
    if (new_user_ns) {
        ret = become_root_in_user_ns(err);
        if (ret < 0)
            return ret;
    }
    ret = brig_ns_join_in_child(args->ns_plan, err);
    if (ret < 0)
        return ret;
    if (args->ns_plan->join_fds[BRIG_NS_USER] >= 0) {
        ret = become_root_in_user_ns(err);
        if (ret < 0)
            return ret;
    }
    if (args->ns_plan->new_cgroup_ns) {
        /* The namespace's root is the cgroup we are in when we create it: ours, entered first thing. */
        if (unshare(CLONE_NEWCGROUP) < 0)
            return brig_err_sys(err, "create cgroup namespace");
    }
    ret = set_names(spec, err);
    if (ret < 0)
        return ret;
    if (has_mount_ns) {
        ret = brig_rootfs_prepare(&rootfs, err);
        close_sources(args);
        rootfs.source_fds = NULL;
        if (ret < 0)
            return ret;
    }
    ret = run_create_hooks(args, err);
    if (ret < 0)
        return ret;
    if (has_mount_ns) {
        ret = brig_rootfs_pivot(&rootfs, err);
        if (ret == 0 && !proc->terminal)
            ret = reopen_dev_null(err);
        if (ret < 0)
            return ret;
    } else if (chroot(args->rootfs) < 0 || chdir("/") < 0) {
        return brig_err_sys(err, "chroot into `%s`", args->rootfs);
    }
    ret = keep_only_fifo(args, err);
    if (ret < 0)
        return ret;
    ret = brig_apply_sysctl(spec->linux_cfg, err);
    if (ret < 0)
        return ret;
    /* Before finalize, which may make the root read-only. */
    ret = brig_process_make_cwd(proc, err);
    if (ret < 0)
        return ret;
    if (proc->terminal) {
        ret = brig_console_setup_pty(spec->process, args->console_fd, true, err);
        if (ret < 0)
            return ret;
        close(args->console_fd);
        args->console_fd = -1;
    } else if (setsid() < 0) {
        /* A session of its own, as runc's init has: CRIU dumps only a tree that leads its session (the
         * caller's is outside the container), and the caller's terminal signals are not the container's. */
        return brig_err_sys(err, "setsid");
    }
    if (has_mount_ns) {
        ret = brig_rootfs_finalize(&rootfs, err);
        if (ret < 0)
            return ret;
    }
    if (!args->opts->no_new_keyring &&
        syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, args->opts->id, 0, 0, 0) < 0 && errno != ENOSYS &&
        errno != EACCES && errno != EDQUOT)
        return brig_err_sys(err, "create session keyring");
    /* Before an early seccomp filter (no noNewPrivileges), which may deny close_range, and before
     * RLIMIT_NOFILE may drop below fds we hold (which closing one by one, without /proc, counts up to). */
    ret = brig_seal_fds(args->preserve.fds, args->preserve.n, err);
    if (ret < 0)
        return ret;
    ret = brig_process_apply_rlimits(proc, err);
    if (ret < 0)
        return ret;
    ret = brig_process_apply_oom_score(proc, err);
    if (ret < 0)
        return ret;
    /* Checked here, before a seccomp filter that might deny getcwd() is loaded. */
    ret = brig_process_enter_cwd(proc, &cwd_deferred, err);
    if (ret < 0)
        return ret;
    ret = brig_process_default_home(spec->process, err);
    if (ret < 0)
        return ret;
    ret = brig_security_before_user(args->security, err);
    if (ret < 0)
        return ret;
    ret = brig_process_set_user(proc, err);
    if (ret < 0)
        return ret;
    ret = brig_security_after_user(args->security, err);
    if (ret < 0)
        return ret;
    /* Again as the user when root could not enter it; checked to be inside the container the same way. */
    if (cwd_deferred) {
        ret = brig_process_enter_cwd(proc, NULL, err);
        if (ret < 0)
            return ret;
    }
    return brig_process_find_executable(proc, exe, exe_len, err);
}

/* The init is a clone of the parent: it holds every fd the parent had open, and with them the parent's
 * flock()s (the container's state lock, network locks...). Only what the init was given stays open: its own
 * fds and the caller's that it passes on, known by the list made at brig's start, since brig's own fds fill
 * whatever numbers of the preserved range the caller left free. */
static int close_inherited_fds(const struct brig_init_args *args, struct brig_err **err)
{
    cleanup_free int *keep = calloc(BRIG_NS__COUNT + 4 + args->preserve.n, sizeof(int));
    size_t n = 0;

    if (!keep)
        return brig_err_set(err, ENOMEM, "container init: file descriptors to keep");
    keep[n++] = args->sync_fd;
    keep[n++] = args->state_dir_fd;
    keep[n++] = args->console_fd;
    if (args->security)
        keep[n++] = args->security->seccomp.listener_sock;
    for (int i = 0; i < BRIG_NS__COUNT; i++)
        keep[n++] = args->ns_plan->join_fds[i];
    for (size_t i = 0; i < args->preserve.n; i++)
        keep[n++] = args->preserve.fds[i];
    brig_close_fds_except(keep, n, 3);
    return 0;
}

void brig_init_main(struct brig_init_args *args)
{
    struct brig_err *err = NULL;
    char exe[4096];
    char ready = BRIG_SYNC_READY;
    char go = '0';
    int fifo;
    char **env;

    args->fifo_fd = -1;
    /* Before anything else, so that all the init does is accounted to the container (and limited). */
    if (args->cgroup_entry && brig_cgroup_entry_self(args->cgroup_entry, &err) < 0)
        report_and_exit(args->sync_fd, err);
    if (close_inherited_fds(args, &err) < 0)
        report_and_exit(args->sync_fd, err);
    if (setup(args, exe, sizeof(exe), &err) < 0)
        report_and_exit(args->sync_fd, err);
    if (send(args->sync_fd, &ready, 1, MSG_NOSIGNAL) != 1)
        _exit(1);
    close(args->sync_fd);

    /* Blocks until `start` opens the read end. */
    do {
        if (args->fifo_fd >= 0) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/self/fd/%d", args->fifo_fd);
            fifo = open(path, O_WRONLY | O_CLOEXEC);
        } else {
            fifo = openat(args->state_dir_fd, BRIG_EXEC_FIFO, O_WRONLY | O_CLOEXEC);
        }
    } while (fifo < 0 && errno == EINTR);
    if (fifo < 0)
        _exit(1);
    if (args->state_dir_fd >= 0)
        close(args->state_dir_fd);
    if (args->fifo_fd >= 0)
        close(args->fifo_fd);
    if (write(fifo, &go, 1) != 1)
        _exit(1);

    brig_reset_signals();
    env = args->spec->process->env ? args->spec->process->env : (char *[]){NULL};
    if (args->listen_fds > 0) {
        /* sd_listen_fds(3): brig was socket-activated; the container's init gets the fds at 3... */
        static char listen_fds[32], listen_pid[] = "LISTEN_PID=1";
        size_t n = brig_strv_len(env);
        char **with_listen = calloc(n + 3, sizeof(char *));
        if (with_listen) {
            memcpy(with_listen, env, n * sizeof(char *));
            snprintf(listen_fds, sizeof(listen_fds), "LISTEN_FDS=%u", args->listen_fds);
            with_listen[n] = listen_fds;
            with_listen[n + 1] = listen_pid;
            env = with_listen;
        }
    }
    /* As late as can be, so the seccomp filter sees nothing of brig's own work, but before the startContainer
     * hooks: the runtime-spec runs them in the container as it is set up for its process, filter included.
     * `start` reads why either failed. */
    if (brig_security_before_exec(args->security, &err) < 0) {
        brig_write_all(fifo, err->msg, strlen(err->msg));
        _exit(1);
    }
    if (args->spec->hooks.n_start_container &&
        brig_hooks_run("startContainer", args->spec->hooks.start_container, args->spec->hooks.n_start_container,
                       args->hook_state ? args->hook_state : "{}", "/", &err) < 0) {
        brig_write_all(fifo, err->msg, strlen(err->msg));
        _exit(1);
    }
    execve(exe, args->spec->process->args, env);

    /* `start` is reading the fifo: tell it why. */
    {
        char msg[4200];
        int len = snprintf(msg, sizeof(msg), "exec `%s`: %s", exe, strerror(errno));
        if (len > 0)
            brig_write_all(fifo, msg, (size_t) len);
    }
    _exit(127);
}
