/* The source's half of post-copy: the final dump with lazy pages runs in a child of `migrate` (it returns only
 * once the destination's `criu lazy-pages` has fetched every page), while the parent sends its image and
 * waits for the restore. The child's page server listens on the migration connection's own local address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

/* A free port on the address the destination reaches us at: bound, read back, closed, then CRIU's to bind
 * (nothing else on this host is racing a migration for an ephemeral port in the same instant). */
static int page_server_address(int conn, char *out, size_t len, struct brig_err **err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    cleanup_close int s = -1;
    unsigned port;

    if (getsockname(conn, (struct sockaddr *) &ss, &sl) < 0)
        return brig_err_sys(err, "lazy pages: the connection's local address");
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *) &ss)->sin_port = 0;
    else if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *) &ss)->sin6_port = 0;
    else
        return brig_err_msg(err, EAFNOSUPPORT, "lazy pages: the connection is not over IP");
    s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || bind(s, (struct sockaddr *) &ss, sl) < 0 || getsockname(s, (struct sockaddr *) &ss, &sl) < 0)
        return brig_err_sys(err, "lazy pages: a port for the page server");
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
    }
    snprintf(out, len, "%s:%u", host, port);
    return 0;
}

/* The child: brig's checkpoint with lazy pages; its error goes back on err_fd. */
static __attribute__((noreturn)) void dump_child(const struct brig_context *ctx, const struct mig_lazy *l,
                                                 const char *id, const char *image, const char *work,
                                                 bool tcp_established, int status_fd, int err_fd)
{
    struct brig_ckpt_opts o = {.image_path = image, .work_path = work, .lazy_pages = true,
                               .page_server = l->page_server, .status_fd = status_fd,
                               .tcp_established = tcp_established};
    struct brig_err *cerr = NULL;
    char buf[4096];
    int ret = brig_container_checkpoint(ctx, id, &o, &cerr);

    if (ret < 0) {
        int n = brig_err_encode(cerr, buf, sizeof(buf));
        if (n > 0 && write(err_fd, buf, (size_t) n) != n)
            _exit(2);
    }
    _exit(ret < 0 ? 1 : 0);
}

/* The child's end: its encoded error, or its exit status. */
static int child_result(struct mig_lazy *l, struct brig_err **err)
{
    char buf[4096];
    size_t len = 0;
    int status = 0;

    for (;;) {
        ssize_t n = read(l->err_fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t) n) == sizeof(buf) - 1)
            break;
    }
    while (waitpid(l->child, &status, 0) < 0 && errno == EINTR)
        ;
    l->child = -1;
    close(l->err_fd);
    l->err_fd = -1;
    if (len > 0)
        return brig_err_decode(err, buf, (int) len);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    return brig_err_msg(err, EIO, "the lazy dump's process ended (status %d) with no result", status);
}

int mig_lazy_dump_start(const struct brig_context *ctx, const char *id, const char *image, const char *work,
                        int conn, bool tcp_established, struct mig_lazy *l, struct brig_err **err)
{
    int status[2], errp[2], ret;
    char byte = 1;

    *l = (struct mig_lazy){.child = -1, .err_fd = -1};
    ret = page_server_address(conn, l->page_server, sizeof(l->page_server), err);
    if (ret < 0)
        return ret;
    if (pipe2(status, O_CLOEXEC) < 0)
        return brig_err_sys(err, "lazy dump: pipe");
    if (pipe2(errp, O_CLOEXEC) < 0) {
        close(status[0]);
        close(status[1]);
        return brig_err_sys(err, "lazy dump: pipe");
    }
    l->child = fork();
    if (l->child < 0) {
        ret = brig_err_sys(err, "lazy dump: fork");
        close(status[0]);
        close(status[1]);
        close(errp[0]);
        close(errp[1]);
        return ret;
    }
    if (l->child == 0) {
        /* The connection is the parent's: our copy would keep it open past the parent's close. */
        close(conn);
        close(status[0]);
        close(errp[0]);
        dump_child(ctx, l, id, image, work, tcp_established, status[1], errp[1]);
    }
    close(status[1]);
    close(errp[1]);
    l->err_fd = errp[0];
    /* One \0 once the image is written and the page server listens; nothing if the dump failed first. */
    while (read(status[0], &byte, 1) < 0 && errno == EINTR)
        ;
    close(status[0]);
    if (byte == 0)
        return 0;
    ret = child_result(l, err);
    return ret < 0 ? ret : brig_err_msg(err, EIO, "the lazy dump ended before its page server was ready");
}

int mig_lazy_dump_wait(struct mig_lazy *l, struct brig_err **err)
{
    return l->child > 0 ? child_result(l, err) : 0;
}

void mig_lazy_abandon(struct mig_lazy *l)
{
    cleanup_err struct brig_err *ignored = NULL;

    if (l->child <= 0)
        return;
    /* brig's lazy dump takes a stop signal as "abandon": criu killed, the cgroup thawed, the tree runs on. */
    kill(l->child, SIGTERM);
    child_result(l, &ignored);
}
