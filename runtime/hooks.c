/* OCI hooks: each runs with the container state JSON on stdin, its own args and env (with none, only brig's
 * PATH, so that a hook finds the programs it runs as it would under runc), and an optional timeout. What a failing hook means is the caller's business (fatal for the create and
 * start phases, a warning for poststart and poststop). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "hooks.h"
#include "process.h"
#include "../util/util.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define BRIG_HOOK_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

__attribute__((noreturn)) static void hook_child(const struct brig_hook *hook, const char *cwd, int stdin_fd,
                                                 int stderr_fd)
{
    char *default_argv[] = {hook->path, NULL};
    char path_env[4096];
    char *path_only_env[] = {path_env, NULL};
    const char *path = getenv("PATH");

    dup2(stdin_fd, STDIN_FILENO);
    /* The hook's stdout goes to our stderr: brig's stdout belongs to the caller's protocol (state JSON...). */
    dup2(stderr_fd, STDOUT_FILENO);
    dup2(stderr_fd, STDERR_FILENO);
    brig_reset_signals();
    brig_seal_fds(NULL, 0, NULL);
    if (cwd && chdir(cwd) < 0) {
        dprintf(STDERR_FILENO, "chdir to `%s`: %s", cwd, strerror(errno));
        _exit(127);
    }
    snprintf(path_env, sizeof(path_env), "PATH=%s", path && *path ? path : BRIG_HOOK_DEFAULT_PATH);
    execve(hook->path, hook->n_args ? hook->args : default_argv, hook->env ? hook->env : path_only_env);
    dprintf(STDERR_FILENO, "exec: %s", strerror(errno));
    _exit(127);
}

/* clone3 hands over the pidfd with the child. A seccomp profile may refuse clone3 (Docker's answers ENOSYS,
 * so that programs fall back), and startContainer hooks run under the container's filter: then fork, and
 * open the child's pidfd, which is race-free while the child is ours and not waited for. */
static long spawn(int *pidfd)
{
    uint64_t args[8] = {CLONE_PIDFD, (uint64_t) (uintptr_t) pidfd, 0, 0, SIGCHLD, 0, 0, 0};
    long pid = syscall(SYS_clone3, args, sizeof(args));
    int saved;

    if (pid >= 0 || (errno != ENOSYS && errno != EPERM))
        return pid;
    pid = fork();
    if (pid <= 0)
        return pid;
    *pidfd = (int) syscall(SYS_pidfd_open, (pid_t) pid, 0);
    if (*pidfd >= 0)
        return pid;
    saved = errno;
    kill((pid_t) pid, SIGKILL);
    waitpid((pid_t) pid, NULL, 0);
    errno = saved;
    return -1;
}

/* The last non-empty line of what the hook printed, for the one-line error. */
static void last_line(char *text, size_t len, char *out, size_t out_len)
{
    char *end = text + len;
    char *start;

    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    start = end;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(out, out_len, "%.*s", (int) (end - start), start);
}

int brig_hook_run(const char *phase, size_t index, const struct brig_hook *hook, const char *state_json,
                  const char *cwd, struct brig_err **err)
{
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    cleanup_close int pidfd = -1;
    cleanup_close int stop_fd = -1;
    bool stopped = false;
    char output[4096];
    size_t out_len = 0;
    int64_t deadline = hook->timeout.set ? now_ms() + hook->timeout.value * 1000 : -1;
    bool timed_out = false;
    siginfo_t info = {0};
    long pid;
    int ret = 0;

    if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
        ret = brig_err_sys(err, "hook %s[%zu]: pipe", phase, index);
        goto out;
    }
    pid = spawn(&pidfd);
    if (pid < 0) {
        ret = brig_err_sys(err, "hook %s[%zu] `%s`: fork", phase, index, hook->path);
        goto out;
    }
    if (pid == 0)
        hook_child(hook, cwd, in_pipe[0], out_pipe[1]);
    close(in_pipe[0]);
    close(out_pipe[1]);
    in_pipe[0] = out_pipe[1] = -1;
    /* A hook that does not read its stdin must not block us: the state is small, but ignore EPIPE. The
     * disposition is put back: the container init exec's its process after the startContainer hooks. */
    {
        struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
        int flags = fcntl(in_pipe[1], F_GETFL);
        bool restore = sigaction(SIGPIPE, &ign, &old_pipe) == 0;

        fcntl(in_pipe[1], F_SETFL, flags | O_NONBLOCK);
        /* Short writes are fine: a hook may ignore its stdin. */
        (void) !write(in_pipe[1], state_json, strlen(state_json));
        close(in_pipe[1]);
        in_pipe[1] = -1;
        if (restore)
            sigaction(SIGPIPE, &old_pipe, NULL);
    }
    stop_fd = brig_stop_fd();
    for (;;) {
        struct pollfd fds[3] = {{.fd = out_pipe[0], .events = POLLIN}, {.fd = pidfd, .events = POLLIN},
                                {.fd = stop_fd, .events = POLLIN}};
        int wait_ms = -1;

        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                timed_out = true;
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                break;
            }
            wait_ms = (int) left;
        }
        if (poll(fds, 3, wait_ms) < 0 && errno != EINTR)
            break;
        /* A stop of the command (held by create): the hook goes with it, whether it has a timeout or not. */
        if (fds[2].revents & POLLIN) {
            stopped = true;
            syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
            break;
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            char buf[1024];
            ssize_t n = read(out_pipe[0], buf, sizeof(buf));
            if (n > 0) {
                /* Keep the tail: the end of a hook's output says why it failed. */
                if (out_len + (size_t) n >= sizeof(output)) {
                    size_t drop = out_len + (size_t) n - sizeof(output) + 1;
                    drop = drop > out_len ? out_len : drop;
                    memmove(output, output + drop, out_len - drop);
                    out_len -= drop;
                }
                memcpy(output + out_len, buf, (size_t) n);
                out_len += (size_t) n;
                brig_write_all(STDERR_FILENO, buf, (size_t) n);
            } else {
                close(out_pipe[0]);
                out_pipe[0] = -1;
            }
        }
        if (fds[1].revents & POLLIN)
            break;
    }
    if (waitid(P_PIDFD, (id_t) pidfd, &info, WEXITED) < 0) {
        ret = brig_err_sys(err, "hook %s[%zu] `%s`: wait", phase, index, hook->path);
        goto out;
    }
    if (stopped) {
        ret = brig_stop_check("killed", err);
        if (ret < 0)
            brig_err_wrap(err, ret, "hook %s[%zu] `%s`", phase, index, hook->path);
        else
            ret = brig_err_msg(err, EINTR, "hook %s[%zu] `%s`: killed by a stop", phase, index, hook->path);
    } else if (timed_out) {
        ret = brig_err_msg(err, ETIMEDOUT, "hook %s[%zu] `%s` timed out after %lld s", phase, index, hook->path,
                           (long long) hook->timeout.value);
    } else if (info.si_code != CLD_EXITED || info.si_status != 0) {
        char line[512];
        output[out_len] = '\0';
        last_line(output, out_len, line, sizeof(line));
        if (info.si_code == CLD_EXITED)
            ret = brig_err_msg(err, EIO, "hook %s[%zu] `%s` exited with status %d%s%s", phase, index, hook->path,
                               info.si_status, *line ? ": " : "", line);
        else
            ret = brig_err_msg(err, EIO, "hook %s[%zu] `%s` was killed by signal %d", phase, index, hook->path,
                               info.si_status);
    }
out:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
    }
    return ret;
}

int brig_hooks_run(const char *phase, const struct brig_hook *hooks, size_t n, const char *state_json,
                   const char *cwd, struct brig_err **err)
{
    for (size_t i = 0; i < n; i++) {
        int ret = brig_hook_run(phase, i, &hooks[i], state_json, cwd, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int brig_hooks_state_json(const struct brig_state *state, const char *status, char **json, struct brig_err **err)
{
    struct brig_state copy = *state;
    size_t len = 0;

    copy.status = (char *) status;
    return brig_state_to_public_json(&copy, json, &len, err);
}

bool brig_hooks_any(const struct brig_hooks *hooks)
{
    return hooks->n_prestart || hooks->n_create_runtime || hooks->n_create_container || hooks->n_start_container ||
           hooks->n_poststart || hooks->n_poststop;
}
