#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "internal.h"
#include "../util/util.h"

int brig_console_send_fd(int sock, int fd, const char *name, struct brig_err **err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = (void *) name, .iov_len = strlen(name)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cmsg;

    memset(control.buf, 0, sizeof(control.buf));
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return brig_err_sys(err, "send console fd over the console socket");
    }
    return 0;
}

int brig_console_recv_fd(int sock, int *fd, struct brig_err **err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    char name[256];
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cmsg;
    ssize_t n;

    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return brig_err_sys(err, "receive console fd");
    cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
        return brig_err_msg(err, EPROTO, "receive console fd: no file descriptor in the message");
    memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
    return 0;
}

int brig_console_connect(const char *path, int *fd, struct brig_err **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    cleanup_close int sock = -1;

    if (strlen(path) >= sizeof(addr.sun_path))
        return brig_err_set(err, ENAMETOOLONG, "console socket `%s`", path);
    strcpy(addr.sun_path, path);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return brig_err_sys(err, "console socket `%s`: socket", path);
    if (connect(sock, (struct sockaddr *) &addr, sizeof(addr)) < 0)
        return brig_err_sys(err, "connect to console socket `%s`", path);
    *fd = steal_fd(sock);
    return 0;
}

/* /dev/console must be the terminal, as in runc and crun; a missing /dev, or a /dev/console that is a symlink,
 * just skips it. The mount goes from the slave we hold onto the node as opened here: no path is looked up
 * again, so a symlink swapped in meanwhile cannot move the terminal onto another file, nor another file onto
 * /dev/console (CVE-2025-52565). */
static int bind_dev_console_to(int slave, const char *slave_name, struct brig_err **err)
{
    cleanup_close int node = -1;
    cleanup_close int tree = -1;
    struct stat st;
    int made;

    made = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (made >= 0)
        close(made);
    node = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (node < 0 || fstat(node, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
        return 0;
    tree = (int) open_tree(slave, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0 || move_mount(tree, "", node, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return brig_err_sys(err, "bind `%s` to `/dev/console`", slave_name);
    return 0;
}

int brig_console_setup_pty(const struct brig_process *proc, int console_fd, bool bind_dev_console,
                           struct brig_err **err)
{
    cleanup_close int master = -1;
    cleanup_close int slave = -1;
    char slave_name[64];
    int ret;

    master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return brig_err_sys(err, "open `/dev/ptmx` in the container");
    if (unlockpt(master) < 0 || ptsname_r(master, slave_name, sizeof(slave_name)) != 0)
        return brig_err_sys(err, "unlock pty");
    /* From the master, not by name: a /dev/pts/N that a process sharing the container's /dev swapped for a
     * symlink would give the process (and /dev/console) whatever that leads to, opened by brig with all its
     * privileges (runc's CVE-2025-52565). By name only before Linux 4.13. */
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0 && errno == EINVAL)
        slave = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return brig_err_sys(err, "open pty slave `%s`", slave_name);
    /* As runc: the process's user owns its terminal, so it can use it (the devpts mount's gid= gives the group).
     * EINVAL: the uid is not mapped in this user namespace; EPERM, EROFS: devpts will not change; then the
     * terminal stays as the kernel made it rather than the container failing. */
    if (fchown(slave, proc->user.uid, (gid_t) -1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
        return brig_err_sys(err, "give pty slave `%s` to uid %u", slave_name, proc->user.uid);
    if (proc->has_console_size) {
        struct winsize ws = {.ws_row = (unsigned short) proc->console_height,
                             .ws_col = (unsigned short) proc->console_width};
        ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (bind_dev_console) {
        ret = bind_dev_console_to(slave, slave_name, err);
        if (ret < 0)
            return ret;
    }
    ret = brig_console_send_fd(console_fd, master, slave_name, err);
    if (ret < 0)
        return ret;
    if (setsid() < 0)
        return brig_err_sys(err, "setsid");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return brig_err_sys(err, "make `%s` the controlling terminal", slave_name);
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return brig_err_sys(err, "dup pty slave to fd %d", fd);
    return 0;
}

static void copy_winsize(int from_fd, int to_fd)
{
    struct winsize ws;

    if (ioctl(from_fd, TIOCGWINSZ, &ws) == 0)
        ioctl(to_fd, TIOCSWINSZ, &ws);
}

/* Moves what is readable from `in` to `out`; returns false at EOF or error of `in`. */
static bool pump(int in, int out)
{
    char buf[8192];
    ssize_t n = read(in, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    brig_write_all(out, buf, (size_t) n);
    return true;
}

int brig_console_proxy(int master_fd, int pidfd, int signal_fd, pid_t pid, int *exit_status, struct brig_err **err)
{
    struct termios saved, raw;
    bool restore = false;
    bool stdin_open = true;
    bool master_open = true;

    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        cfmakeraw(&raw); /* the container's pty does the line discipline, ours must not do it twice */
        restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        copy_winsize(STDIN_FILENO, master_fd);
    }
    for (;;) {
        struct pollfd fds[4] = {
            {.fd = master_open ? master_fd : -1, .events = POLLIN},
            {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
            {.fd = pidfd, .events = POLLIN},
            {.fd = signal_fd, .events = POLLIN},
        };
        if (poll(fds, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            master_open = pump(master_fd, STDOUT_FILENO);
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
            stdin_open = pump(STDIN_FILENO, master_fd);
        if (fds[3].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGWINCH)
                    copy_winsize(STDIN_FILENO, master_fd);
                else if (si.ssi_signo != SIGCHLD)
                    kill(pid, (int) si.ssi_signo);
            }
        }
        if (fds[2].revents & POLLIN) {
            /* Drain what the container wrote before it exited. */
            while (master_open) {
                struct pollfd m = {.fd = master_fd, .events = POLLIN};
                if (poll(&m, 1, 0) <= 0 || !(m.revents & POLLIN))
                    break;
                master_open = pump(master_fd, STDOUT_FILENO);
            }
            break;
        }
    }
    if (restore)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    {
        siginfo_t info = {0};
        if (waitid(P_PIDFD, (id_t) pidfd, &info, WEXITED) < 0)
            return brig_err_sys(err, "wait for container process %d", pid);
        *exit_status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
    }
    return 0;
}
