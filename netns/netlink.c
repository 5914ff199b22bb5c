/* Netlink sockets and batches of messages sent in one sendmsg(). The kernel handles rtnetlink and nfnetlink
 * requests synchronously inside sendmsg(), so once it returns every answer is queued: the messages ask for
 * no ack, and reading until the queue is empty collects all failures, each with the kernel's extended ack
 * text when it gave one. */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static int open_here(int bus, struct net_nl *nl)
{
    int one = 1;

    nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (!nl->sock)
        return -errno;
    /* Failures then carry the kernel's text and not a copy of our request. */
    mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int saved = errno;
        mnl_socket_close(nl->sock);
        nl->sock = NULL;
        return -saved;
    }
    return 0;
}

int net_nl_open(int bus, int netns_fd, struct net_nl *nl, struct brig_err **err)
{
    cleanup_close int ours = -1;
    int ret;

    nl->sock = NULL;
    nl->seq = 1;
    if (netns_fd < 0) {
        ret = open_here(bus, nl);
        return ret < 0 ? brig_err_set(err, -ret, "open netlink socket") : 0;
    }
    /* A socket stays in the namespace it was made in: enter the container's only to make it. */
    ours = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ours < 0)
        return brig_err_sys(err, "open `/proc/thread-self/ns/net`");
    if (setns(netns_fd, CLONE_NEWNET) < 0)
        return brig_err_sys(err, "enter the container's network namespace");
    ret = open_here(bus, nl);
    if (setns(ours, CLONE_NEWNET) < 0) {
        int saved = errno;
        net_nl_close(nl);
        return brig_err_set(err, saved, "return to the host's network namespace");
    }
    return ret < 0 ? brig_err_set(err, -ret, "open netlink socket in the container's network namespace") : 0;
}

void net_nl_close(struct net_nl *nl)
{
    if (nl->sock)
        mnl_socket_close(nl->sock);
    nl->sock = NULL;
}

void net_nl_close_detached(struct net_nl *nl)
{
    int parent_done[2];
    pid_t child;

    if (!nl->sock || pipe2(parent_done, O_CLOEXEC) < 0) {
        net_nl_close(nl);
        return;
    }
    child = fork();
    if (child == 0) {
        int keep[2] = {mnl_socket_get_fd(nl->sock), parent_done[0]};
        char byte;

        brig_close_fds_except(keep, ARRAY_SIZE(keep), 0);
        /* Only once the parent has dropped its reference is ours the last one. */
        while (read(parent_done[0], &byte, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(parent_done[0]);
    net_nl_close(nl);
    close(parent_done[1]);
}

int net_msgs_init(struct net_msgs *m, size_t cap)
{
    memset(m, 0, sizeof(*m));
    m->buf = calloc(1, cap);
    if (!m->buf)
        return -ENOMEM;
    m->cap = cap;
    return 0;
}

void net_msgs_free(struct net_msgs *m)
{
    free(m->buf);
    m->buf = NULL;
}

struct nlmsghdr *net_msgs_put(struct net_msgs *m, struct net_nl *nl, uint16_t type, uint16_t flags, int ignore,
                              const char *what)
{
    struct nlmsghdr *nlh;

    /* Room for the header and the largest message built here; big element lists size the buffer. */
    if (m->n >= NET_MSGS_MAX || m->len + 1024 > m->cap)
        return NULL;
    nlh = mnl_nlmsg_put_header(m->buf + m->len);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = nl->seq++;
    m->info[m->n].seq = nlh->nlmsg_seq;
    m->info[m->n].ignore = ignore;
    snprintf(m->info[m->n].what, sizeof(m->info[m->n].what), "%s", what);
    m->n++;
    return nlh;
}

void net_msgs_end(struct net_msgs *m, struct nlmsghdr *nlh)
{
    m->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void net_msgs_add_raw(struct net_msgs *m, size_t len)
{
    m->len += NLMSG_ALIGN(len);
}

struct extack {
    const char *msg;
};

static int extack_attr(const struct nlattr *attr, void *data)
{
    struct extack *ack = data;

    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
        ack->msg = mnl_attr_get_str(attr);
    return MNL_CB_OK;
}

/* Turns one NLMSG_ERROR into *err unless it is a success or an ignored errno. */
static int answer(struct net_msgs *m, const struct nlmsghdr *nlh, struct brig_err **err)
{
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    struct extack ack = {NULL};
    const char *what = "netlink request";
    int errnum = -e->error;

    if (e->error == 0)
        return 0;
    for (unsigned i = 0; i < m->n; i++)
        if (m->info[i].seq == e->msg.nlmsg_seq) {
            if (m->info[i].ignore == errnum)
                return 0;
            what = m->info[i].what;
        }
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        size_t offset = sizeof(*e);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
            offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        if (MNL_NLMSG_HDRLEN + offset < nlh->nlmsg_len)
            mnl_attr_parse_payload((const char *) e + offset, nlh->nlmsg_len - MNL_NLMSG_HDRLEN - offset,
                                   extack_attr, &ack);
    }
    if (*err)
        return -errnum; /* the first failure is the one reported */
    if (ack.msg && *ack.msg)
        return brig_err_set(err, errnum, "%s: %s", what, ack.msg);
    return brig_err_set(err, errnum, "%s", what);
}

int net_msgs_send(struct net_nl *nl, struct net_msgs *m, struct brig_err **err)
{
    char buf[8192];
    int fd = mnl_socket_get_fd(nl->sock);
    int first = 0;
    ssize_t n;

    if (m->len == 0)
        return 0;
    if (mnl_socket_sendto(nl->sock, m->buf, m->len) < 0)
        return brig_err_sys(err, "send netlink request (%s)", m->info[0].what);
    for (;;) {
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            if (!first)
                first = brig_err_sys(err, "read netlink answer (%s)", m->info[0].what);
            break;
        }
        int left = (int) n;
        for (const struct nlmsghdr *nlh = (const void *) buf; mnl_nlmsg_ok(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left)) {
            if (nlh->nlmsg_type == NLMSG_ERROR) {
                int ret = answer(m, nlh, err);
                if (ret < 0 && !first)
                    first = ret;
            }
        }
    }
    return first;
}
