/* `run`: create + start in one process, then (unless detached) wait for the container, forwarding the
 * signals we receive to it, and remove it afterwards unless --keep. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "internal.h"
#include "process.h"
#include "../util/util.h"

/* Every signal a user may send to `brig run` goes to the container instead. */
void brig_forwarded_signals(sigset_t *set)
{
    sigfillset(set);
    sigdelset(set, SIGKILL);
    sigdelset(set, SIGSTOP);
    sigdelset(set, SIGSEGV);
    sigdelset(set, SIGBUS);
    sigdelset(set, SIGILL);
    sigdelset(set, SIGFPE);
    sigdelset(set, SIGTRAP);
    sigdelset(set, SIGSYS);
    sigdelset(set, SIGTTOU);
    sigdelset(set, SIGTTIN);
    sigdelset(set, SIGTSTP);
}

int brig_wait_forwarding(int pidfd, pid_t pid, int master_fd, const sigset_t *forward, int *exit_status,
                         struct brig_err **err)
{
    cleanup_close int signal_fd = signalfd(-1, forward, SFD_CLOEXEC);

    if (signal_fd < 0)
        return brig_err_sys(err, "signalfd");
    if (master_fd >= 0)
        return brig_console_proxy(master_fd, pidfd, signal_fd, pid, exit_status, err);
    for (;;) {
        struct pollfd fds[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = signal_fd, .events = POLLIN}};

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return brig_err_sys(err, "wait for process %d", pid);
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(signal_fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD &&
                si.ssi_signo != SIGWINCH)
                kill(pid, (int) si.ssi_signo);
        }
        if (fds[0].revents & POLLIN) {
            siginfo_t info = {0};
            if (waitid(P_PIDFD, (id_t) pidfd, &info, WEXITED) < 0)
                return brig_err_sys(err, "wait for process %d", pid);
            *exit_status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
            return 0;
        }
    }
}

int brig_container_run(const struct brig_context *ctx, const struct brig_create_opts *opts, int *exit_status,
                       char **kept_upper, struct brig_err **err)
{
    struct brig_created created = {.pidfd = -1, .console_master_fd = -1};
    sigset_t forward, previous;
    int ret;

    *exit_status = 0;
    if (kept_upper)
        *kept_upper = NULL;
    brig_forwarded_signals(&forward);
    /* Blocked before the clone so no signal falls between creation and the wait; the init unblocks them.
     * Detached, only the stop signals, until the start is done: a stop between create and start, or during
     * start's wait, is then an error that undoes the container rather than a death that leaves it. */
    if (opts->detach)
        brig_stop_signals(&forward);
    sigprocmask(SIG_BLOCK, &forward, &previous);
    ret = brig_create_container(ctx, opts, true, &created, err);
    if (ret < 0)
        goto out;
    ret = brig_start_created(ctx, &created.dir, created.state, err);
    if (ret < 0) {
        cleanup_err struct brig_err *ignored = NULL;
        brig_destroy_container(ctx, &created.dir, created.state, false, kept_upper, &ignored);
        goto out;
    }
    if (opts->detach)
        goto out;
    /* `state`, `kill` and `delete` from other shells must not wait for this container to exit. */
    brig_store_lock(&created.dir, false, NULL);

    ret = brig_wait_forwarding(created.pidfd, created.pid, created.console_master_fd, &forward, exit_status, err);
    if (!opts->keep) {
        cleanup_err struct brig_err *cleanup_error = NULL;
        int dret = brig_store_lock(&created.dir, true, &cleanup_error);
        if (dret == 0)
            dret = brig_destroy_container(ctx, &created.dir, created.state, false, kept_upper, &cleanup_error);
        if (dret < 0 && ret == 0) {
            *err = steal_ptr(cleanup_error);
            ret = dret;
        }
    }

out:
    sigprocmask(SIG_SETMASK, &previous, NULL);
    if (created.console_master_fd >= 0)
        close(created.console_master_fd);
    if (created.pidfd >= 0)
        close(created.pidfd);
    brig_state_free(created.state);
    brig_store_close(&created.dir);
    return ret;
}
