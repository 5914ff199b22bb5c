/* The destination's half of post-copy: `criu lazy-pages` fetching a lazy dump's memory from its page server,
 * for a restore --lazy-pages to hand its userfaultfds to. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define CKPT_LAZY_LOG "lazy-pages.log"
/* Under TCG the daemon's start (criu's exec, its kernel data cached) takes well under this. */
#define CKPT_LAZY_START_TIMEOUT_MS 60000

extern char **environ;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* The daemon's end: its exit status, or its log's first error. */
static int daemon_result(int status, const char *work_path, struct brig_err **err)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        return brig_err_msg(err, EIO, "criu lazy-pages was killed by signal %d (log: %s/%s)", WTERMSIG(status),
                            work_path, CKPT_LAZY_LOG);
    return ckpt_criu_error(-EIO, "criu lazy-pages", work_path, CKPT_LAZY_LOG, err);
}

int brig_ckpt_lazy_daemon_spawn(const char *criu_binary, const char *image_path, const char *work_path,
                                const char *page_server, pid_t *pid, int *ready_fd, struct brig_err **err)
{
    const char *binary = criu_binary ? criu_binary : "criu";
    char addr[256], port_text[16], status_text[16];
    char *remote[] = {(char *) binary, "lazy-pages", "--page-server", "--address", addr, "--port", port_text,
                      "-D", (char *) image_path, "-W", (char *) work_path, "-o", CKPT_LAZY_LOG, "-v4",
                      "--status-fd", status_text, NULL};
    /* Local: the pages are in image_path's own pages files (and its parents'). */
    char *local[] = {(char *) binary, "lazy-pages", "-D", (char *) image_path, "-W", (char *) work_path,
                     "-o", CKPT_LAZY_LOG, "-v4", "--status-fd", status_text, NULL};
    char **argv = page_server ? remote : local;
    struct brig_ckpt_opts o = {.page_server = page_server};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int fds[2], port = 0, ret;

    *pid = -1;
    *ready_fd = -1;
    if (page_server && ckpt_page_server(&o, addr, sizeof(addr), &port) < 0)
        return brig_err_msg(err, EINVAL, "lazy pages: page server `%s` is not ADDRESS:PORT",
                            page_server ? page_server : "");
    snprintf(port_text, sizeof(port_text), "%d", port);
    /* The write end without close-on-exec: criu writes its "ready" byte on it once its socket listens. */
    if (pipe2(fds, O_CLOEXEC) < 0)
        return brig_err_sys(err, "lazy pages: pipe");
    snprintf(status_text, sizeof(status_text), "%d", fds[1]);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    /* dup2 onto itself clears close-on-exec in the child only. */
    posix_spawn_file_actions_adddup2(&actions, fds[1], fds[1]);
    posix_spawnattr_init(&attr);
    /* A group of its own: a terminal's ^C to the caller is the caller's to handle (it kills the daemon). */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    ret = posix_spawnp(pid, binary, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (ret != 0) {
        close(fds[0]);
        *pid = -1;
        errno = ret;
        return brig_err_sys(err, "run `%s lazy-pages`", binary);
    }
    *ready_fd = fds[0];
    return 0;
}

int brig_ckpt_lazy_daemon_ready(pid_t *pid, int ready_fd, const char *work_path, struct brig_err **err)
{
    int fds[1] = {ready_fd}, status = 0, ret;
    int64_t deadline;
    char byte = 1;

    deadline = mono_ms() + CKPT_LAZY_START_TIMEOUT_MS;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int64_t left = deadline - mono_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int) left) == 0) {
            close(fds[0]);
            reap(*pid);
            *pid = -1;
            return brig_err_msg(err, ETIMEDOUT, "criu lazy-pages: not ready within %d s (log: %s/%s)",
                                CKPT_LAZY_START_TIMEOUT_MS / 1000, work_path, CKPT_LAZY_LOG);
        }
        n = read(fds[0], &byte, 1);
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    close(fds[0]);
    if (byte == 0)
        return 0;
    /* No byte: it ended before it listened. */
    while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
        ;
    *pid = -1;
    ret = daemon_result(status, work_path, err);
    return ret < 0 ? ret : brig_err_msg(err, EIO, "criu lazy-pages ended before it was ready");
}

int brig_ckpt_lazy_daemon_start(const char *criu_binary, const char *image_path, const char *work_path,
                                const char *page_server, pid_t *pid, struct brig_err **err)
{
    int ready_fd = -1;
    int ret = brig_ckpt_lazy_daemon_spawn(criu_binary, image_path, work_path, page_server, pid, &ready_fd, err);

    return ret < 0 ? ret : brig_ckpt_lazy_daemon_ready(pid, ready_fd, work_path, err);
}

int brig_ckpt_lazy_daemon_wait(pid_t pid, const char *work_path, unsigned timeout_s, struct brig_err **err)
{
    cleanup_close int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    int64_t deadline = mono_ms() + (int64_t) timeout_s * 1000;
    int status = 0;

    if (pidfd < 0) {
        int ret = brig_err_sys(err, "criu lazy-pages (pid %d)", (int) pid);
        reap(pid);
        return ret;
    }
    for (;;) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int64_t left = deadline - mono_ms();
        int n;

        if (left <= 0) {
            reap(pid);
            return brig_err_msg(err, ETIMEDOUT, "criu lazy-pages: not every page fetched within %u s (log: %s/%s)",
                                timeout_s, work_path, CKPT_LAZY_LOG);
        }
        n = poll(&p, 1, (int) (left > 1000000 ? 1000000 : left));
        if (n < 0 && errno != EINTR) {
            int ret = brig_err_sys(err, "criu lazy-pages: poll");
            reap(pid);
            return ret;
        }
        if (n > 0)
            break;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return daemon_result(status, work_path, err);
}

void brig_ckpt_lazy_daemon_kill(pid_t pid)
{
    if (pid > 0)
        reap(pid);
}
