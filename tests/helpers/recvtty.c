/* Console-socket receiver for the integration tests: listens on a unix socket, accepts one connection
 * from the runtime, receives the pty master over SCM_RIGHTS, optionally types a string into it, then
 * copies everything the container writes to stdout until the pty closes.
 *
 *   recvtty [--dump] [--input STRING] [--no-dump] SOCKET_PATH
 *
 * SOCKET_PATH appears only once it is bound and listening, so a test can start recvtty in the
 * background and wait for the path to exist before calling the runtime. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int die(const char *what)
{
    fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
    return 1;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Returns the received fd, or -1. */
static int receive_fd(int conn)
{
    char name[256];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof(control)};
    ssize_t n;
    do
        n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof(fd));
            return fd;
        }
    }
    errno = EBADMSG;
    return -1;
}

int main(int argc, char **argv)
{
    const char *input = NULL;
    const char *path = NULL;
    int dump = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dump") == 0)
            dump = 1;
        else if (strcmp(argv[i], "--no-dump") == 0)
            dump = 0;
        else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
            input = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: recvtty [--dump|--no-dump] [--input STRING] SOCKET_PATH\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: recvtty [--dump|--no-dump] [--input STRING] SOCKET_PATH\n");
        return 2;
    }

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "recvtty: socket path too long: %s\n", path);
        return 2;
    }
    strcpy(addr.sun_path, path);

    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return die("socket");
    unlink(path);
    if (bind(sock, (struct sockaddr *) &addr, sizeof(addr)) < 0)
        return die(path);
    if (listen(sock, 1) < 0)
        return die("listen");

    int conn;
    do
        conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
    while (conn < 0 && errno == EINTR);
    if (conn < 0)
        return die("accept");
    int master = receive_fd(conn);
    if (master < 0)
        return die("receive the pty master");
    close(conn);
    close(sock);
    unlink(path);

    if (input && write_all(master, input, strlen(input)) < 0)
        return die("write to the pty");

    char buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        /* EIO: every slave end is closed, the container is gone. */
        if (n <= 0)
            break;
        if (dump && write_all(STDOUT_FILENO, buf, (size_t) n) < 0)
            return die("write to stdout");
    }
    return 0;
}
