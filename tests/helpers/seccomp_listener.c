/* A seccomp agent for the tests: listens on a unix socket, receives one container process state with its
 * seccomp fd (SCM_RIGHTS), prints the state as one line, then answers every notification with success
 * (return value 0) without running the syscall, printing "notify <nr>" for each, until the container is gone.
 * Usage: seccomp_listener SOCKET_PATH */
#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int receive_state(int conn, char *buf, size_t cap, int *fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = cap - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cmsg;
    size_t len;
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);

    if (n <= 0)
        return -1;
    len = (size_t) n;
    *fd = -1;
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
            memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
    /* The rest of a long state comes without the fd; the runtime closes the connection after it. */
    while (len < cap - 1 && (n = read(conn, buf + len, cap - 1 - len)) > 0)
        len += (size_t) n;
    buf[len] = '\0';
    return *fd >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    static char state[1 << 16];
    int sock, conn, fd;

    if (argc != 2 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "usage: seccomp_listener SOCKET_PATH\n");
        return 2;
    }
    strcpy(addr.sun_path, argv[1]);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(sock, 1) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    conn = accept(sock, NULL, NULL);
    if (conn < 0 || receive_state(conn, state, sizeof(state), &fd) < 0) {
        fprintf(stderr, "no seccomp fd received\n");
        return 1;
    }
    close(conn);
    printf("state %s\n", state);
    fflush(stdout);
    for (;;) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;

        memset(&req, 0, sizeof(req));
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ENOENT: no process uses the filter any more */
        }
        printf("notify %d\n", req.data.nr);
        fflush(stdout);
        memset(&resp, 0, sizeof(resp));
        resp.id = req.id;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    printf("done\n");
    return 0;
}
