/* `start`: open the exec fifo for reading, which releases the init blocked on its write end; the init
 * writes one byte and exec's, and its close-on-exec write end gives us EOF once the exec happened. Anything
 * after the byte is the init's account of a failed exec. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "internal.h"
#include "process.h"
#include "../util/util.h"

static int pidfd_open_pid(pid_t pid)
{
    return (int) syscall(SYS_pidfd_open, pid, 0);
}

static void pidfd_send_signal(int pidfd, int sig)
{
    syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* The init's cgroup, for read_fifo to notice a freeze (path NULL: no cgroup). */
struct start_cgroup {
    enum brig_cgroup_mode mode;
    const char *path;
};

/* Reads the fifo until EOF or until the init dies. Returns the bytes read, or fails when the init's cgroup is
 * frozen meanwhile (a frozen init never writes nor exec's: `start` would wait for ever) or a stop signal is
 * pending (`run` blocks them while it waits). */
static int read_fifo(int fifo, int pidfd, const struct start_cgroup *cg, char *buf, size_t cap, size_t *len,
                     bool *init_died, struct brig_err **err)
{
    cleanup_close int stop_fd = brig_stop_fd();

    *len = 0;
    *init_died = false;
    for (;;) {
        struct pollfd fds[3] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN},
                                {.fd = stop_fd, .events = POLLIN}};
        ssize_t n;
        int ret;

        n = poll(fds, 3, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return brig_err_sys(err, "read exec fifo");
        }
        if (n == 0) {
            if (!cg->path)
                continue;
            ret = brig_cgroup_check_thawed(cg->mode, cg->path, err);
            if (ret == -EBUSY)
                return brig_err_wrap(err, ret, "frozen before the process was started");
            brig_err_free(err);
            continue;
        }
        if (fds[2].revents & POLLIN) {
            ret = brig_stop_check("waiting for the process to start", err);
            if (ret < 0)
                return ret;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = read(fifo, buf + *len, cap - 1 - *len);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n < 0)
                return brig_err_sys(err, "read exec fifo");
            if (n == 0 && *len > 0)
                break; /* EOF after the byte: exec'd (or failed and exited) */
            *len += (size_t) n;
            if (*len >= cap - 1)
                break;
            if (n > 0)
                continue;
        }
        if (fds[1].revents & POLLIN) {
            /* Collect what it managed to write before it went. */
            n = read(fifo, buf + *len, cap - 1 - *len);
            if (n > 0)
                *len += (size_t) n;
            *init_died = true;
            break;
        }
    }
    buf[*len] = '\0';
    return 0;
}

int brig_start_created(const struct brig_context *ctx, struct brig_container_dir *dir, struct brig_state *state,
                       struct brig_err **err)
{
    const char *status = brig_container_status(dir, state);
    cleanup_close int fifo = -1;
    cleanup_close int pidfd = -1;
    char buf[4300];
    size_t len = 0;
    bool init_died = false;
    struct start_cgroup cg = {.path = NULL};
    int ret;

    if (strcmp(status, "created") != 0) {
        if (state && state->start_error && !strcmp(status, "stopped"))
            return brig_err_msg(err, EINVAL, "container `%s` is stopped: its start failed: %s", dir->id,
                                state->start_error);
        return brig_err_msg(err, EINVAL, "container `%s` is %s, not created: cannot start it", dir->id, status);
    }
    pidfd = pidfd_open_pid(state->pid);
    if (pidfd < 0)
        return brig_err_sys(err, "container `%s`: open its init process %d", dir->id, state->pid);
    /* Non-blocking, so a dead init (no writer will ever come) cannot hang us. */
    fifo = openat(dir->dir_fd, BRIG_EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo < 0)
        return brig_err_sys(err, "container `%s`: open exec fifo", dir->id);
    if (state->cgroup_path && brig_cgroup_detect(&cg.mode, NULL) == 0)
        cg.path = state->cgroup_path;
    ret = read_fifo(fifo, pidfd, &cg, buf, sizeof(buf), &len, &init_died, err);
    if (ret < 0) {
        /* Left alone, a frozen init would go on once thawed (to its exec, or to a SIGPIPE): the start failed,
         * so it must not. Stopped with the reason, as after any failed start; delete cleans up. */
        pidfd_send_signal(pidfd, SIGKILL);
        free(state->start_error);
        state->start_error = strdup((*err)->msg);
        brig_store_save(dir, state, NULL);
        return brig_err_wrap(err, ret, "start container `%s`", dir->id);
    }
    unlinkat(dir->dir_fd, BRIG_EXEC_FIFO, 0);
    if (len > 1 || len == 0) {
        char *why = len > 1 ? buf + 1 : (char *) "the container init exited before it was started";
        free(state->start_error);
        state->start_error = strdup(why);
        brig_store_save(dir, state, NULL);
        return brig_err_msg(err, ENOEXEC, "start container `%s`: %s", dir->id, why);
    }
    (void) init_died;
    brig_log(ctx, BRIG_LOG_DEBUG, "container %s started (pid %d)", dir->id, state->pid);
    brig_run_lifecycle_hooks(ctx, state, "poststart", "running");
    return 0;
}

int brig_container_start(const struct brig_context *ctx, const char *id, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    sigset_t stop, previous;
    int ret;

    ret = brig_store_open(ctx, id, true, &dir, &state, err);
    if (ret < 0)
        return ret;
    /* A stop during the wait (a startContainer hook that never ends) is then a failed start, whose init is
     * killed, instead of a death after which the init would go on to exec what nobody started. */
    brig_stop_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, &previous);
    ret = brig_start_created(ctx, &dir, state, err);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    brig_store_close(&dir);
    return ret;
}
