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
#include "../util/util.h"

static int pidfd_open_pid(pid_t pid)
{
    return (int) syscall(SYS_pidfd_open, pid, 0);
}

/* Reads the fifo until EOF or until the init dies. Returns the bytes read. */
static int read_fifo(int fifo, int pidfd, char *buf, size_t cap, size_t *len, bool *init_died)
{
    *len = 0;
    *init_died = false;
    for (;;) {
        struct pollfd fds[2] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        ssize_t n;

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = read(fifo, buf + *len, cap - 1 - *len);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n < 0)
                return -errno;
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
    ret = read_fifo(fifo, pidfd, buf, sizeof(buf), &len, &init_died);
    if (ret < 0)
        return brig_err_set(err, -ret, "container `%s`: read exec fifo", dir->id);
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
    int ret;

    ret = brig_store_open(ctx, id, true, &dir, &state, err);
    if (ret < 0)
        return ret;
    ret = brig_start_created(ctx, &dir, state, err);
    brig_store_close(&dir);
    return ret;
}
