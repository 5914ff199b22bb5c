/* A container's inbound TCP connections in conntrack, carried to another host with the container (migrate
 * --tcp-established). Without them the destination's conntrack meets the connection mid-stream; when the
 * restored socket speaks first (a retransmission), that opens the entry the wrong way round: the masquerade
 * rewrites the reply's source, the published port's DNAT is not undone, and the client resets the
 * connection. An entry made beforehand with the same tuple and DNAT gives both directions their own.
 *
 * The text is a line per connection: `tcp CLIENT CLIENT_PORT DST DST_PORT CONTAINER CONTAINER_PORT` (DST:DST_PORT
 * is what the client connected to: a host address and published port, or the container's own). */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "internal.h"
#include "../util/util.h"

/* Refreshed by the first packet to conntrack's own timeout for the state: only a bound for an entry of a
 * connection that never comes. */
#define CT_TIMEOUT 600

struct ct_tuple {
    uint32_t src, dst; /* network order */
    uint16_t sport, dport;
    uint8_t proto;
};

struct ct_dump {
    uint32_t ip;
    char *text;
    size_t len;
    int ret;
};

static int parse_nested(const struct nlattr *attr, const struct nlattr **tb, int max)
{
    const struct nlattr *a;

    for (int i = 0; i <= max; i++)
        tb[i] = NULL;
    mnl_attr_for_each_nested(a, attr) {
        int type = mnl_attr_get_type(a);
        if (type <= max)
            tb[type] = a;
    }
    return 0;
}

static int parse_tuple(const struct nlattr *attr, struct ct_tuple *t)
{
    const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *proto[CTA_PROTO_MAX + 1];

    parse_nested(attr, tb, CTA_TUPLE_MAX);
    if (!tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO])
        return -1;
    parse_nested(tb[CTA_TUPLE_IP], ip, CTA_IP_MAX);
    parse_nested(tb[CTA_TUPLE_PROTO], proto, CTA_PROTO_MAX);
    if (!ip[CTA_IP_V4_SRC] || !ip[CTA_IP_V4_DST] || !proto[CTA_PROTO_NUM] || !proto[CTA_PROTO_SRC_PORT] ||
        !proto[CTA_PROTO_DST_PORT])
        return -1;
    t->src = mnl_attr_get_u32(ip[CTA_IP_V4_SRC]);
    t->dst = mnl_attr_get_u32(ip[CTA_IP_V4_DST]);
    t->proto = mnl_attr_get_u8(proto[CTA_PROTO_NUM]);
    t->sport = mnl_attr_get_u16(proto[CTA_PROTO_SRC_PORT]);
    t->dport = mnl_attr_get_u16(proto[CTA_PROTO_DST_PORT]);
    return 0;
}

static int dump_entry(const struct nlmsghdr *nlh, void *data)
{
    struct ct_dump *d = data;
    const struct nlattr *a, *orig = NULL, *reply = NULL;
    struct ct_tuple o, r;
    char line[160], os[INET_ADDRSTRLEN], od[INET_ADDRSTRLEN], rs[INET_ADDRSTRLEN];
    char *grown;
    int n;

    mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
        if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
            orig = a;
        else if (mnl_attr_get_type(a) == CTA_TUPLE_REPLY)
            reply = a;
    }
    /* Inbound: its replies come from the container. Its own connections out are masqueraded to this
     * host's address, which another host cannot answer for. */
    if (!orig || !reply || parse_tuple(orig, &o) < 0 || parse_tuple(reply, &r) < 0 || o.proto != IPPROTO_TCP ||
        r.src != d->ip || o.src == d->ip)
        return MNL_CB_OK;
    inet_ntop(AF_INET, &o.src, os, sizeof(os));
    inet_ntop(AF_INET, &o.dst, od, sizeof(od));
    inet_ntop(AF_INET, &r.src, rs, sizeof(rs));
    n = snprintf(line, sizeof(line), "tcp %s %u %s %u %s %u\n", os, ntohs(o.sport), od, ntohs(o.dport), rs,
                 ntohs(r.sport));
    grown = realloc(d->text, d->len + (size_t) n + 1);
    if (!grown) {
        d->ret = -ENOMEM;
        return MNL_CB_ERROR;
    }
    d->text = grown;
    memcpy(d->text + d->len, line, (size_t) n + 1);
    d->len += (size_t) n;
    return MNL_CB_OK;
}

static struct nlmsghdr *ct_msg(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct nfgenmsg *g;

    nlh->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_CTNETLINK << 8) | type);
    nlh->nlmsg_flags = (uint16_t) (NLM_F_REQUEST | flags);
    nlh->nlmsg_seq = seq;
    g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->nfgen_family = AF_INET;
    g->version = NFNETLINK_V0;
    g->res_id = 0;
    return nlh;
}

/* An nfnetlink socket and a receive buffer for it, both or neither. */
static int ct_open(struct net_nl *nl, char **buf, struct brig_err **err)
{
    int ret;

    *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
    if (!*buf)
        return brig_err_set(err, ENOMEM, "conntrack");
    ret = net_nl_open(NETLINK_NETFILTER, -1, nl, err);
    if (ret < 0) {
        free(*buf);
        *buf = NULL;
    }
    return ret;
}

int brig_net_conntrack_save(const char *ip, char **text, struct brig_err **err)
{
    struct net_nl nl;
    struct ct_dump d = {.ret = 0};
    char *buf;
    struct nlmsghdr *nlh;
    int ret, n;

    *text = NULL;
    if (inet_pton(AF_INET, ip, &d.ip) != 1)
        return brig_err_msg(err, EINVAL, "conntrack: `%s`: not an IPv4 address", ip);
    ret = ct_open(&nl, &buf, err);
    if (ret < 0)
        return ret;
    nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, nl.seq);
    ret = mnl_socket_sendto(nl.sock, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
    while (ret == 0) {
        n = (int) mnl_socket_recvfrom(nl.sock, buf, MNL_SOCKET_BUFFER_SIZE);
        if (n < 0) {
            ret = -errno;
            break;
        }
        n = mnl_cb_run(buf, (size_t) n, nl.seq, mnl_socket_get_portid(nl.sock), dump_entry, &d);
        if (n == MNL_CB_STOP)
            break;
        if (n < 0)
            ret = d.ret ? d.ret : -errno;
    }
    net_nl_close(&nl);
    free(buf);
    /* No conntrack here (the module not loaded): nothing to carry. */
    if (ret == -ENOENT || ret == -EOPNOTSUPP || ret == -EPROTONOSUPPORT) {
        free(d.text);
        return 0;
    }
    if (ret < 0) {
        free(d.text);
        return brig_err_set(err, -ret, "conntrack: list the connections of `%s`", ip);
    }
    *text = d.text;
    return 0;
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t type, const struct ct_tuple *t)
{
    struct nlattr *tuple = mnl_attr_nest_start(nlh, type), *n;

    n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, t->src);
    mnl_attr_put_u32(nlh, CTA_IP_V4_DST, t->dst);
    mnl_attr_nest_end(nlh, n);
    n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, t->sport);
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, t->dport);
    mnl_attr_nest_end(nlh, n);
    mnl_attr_nest_end(nlh, tuple);
}

/* One line into the tuple the client sent (o) and what the container answers from (c). */
static int parse_line(const char *line, struct ct_tuple *o, struct ct_tuple *c)
{
    char os[64], od[64], cs[64];
    unsigned op, dp, cp;

    if (sscanf(line, "tcp %63s %u %63s %u %63s %u", os, &op, od, &dp, cs, &cp) != 6 || op > 65535 ||
        dp > 65535 || cp > 65535 || inet_pton(AF_INET, os, &o->src) != 1 || inet_pton(AF_INET, od, &o->dst) != 1 ||
        inet_pton(AF_INET, cs, &c->src) != 1)
        return -EINVAL;
    o->proto = c->proto = IPPROTO_TCP;
    o->sport = htons((uint16_t) op);
    o->dport = htons((uint16_t) dp);
    c->sport = htons((uint16_t) cp);
    c->dst = o->src;
    c->dport = o->sport;
    return 0;
}

/* Each line as an established entry: the client's tuple, its plain reverse as the reply, and DNAT to the
 * container when the client connected to something else (the kernel then rewrites the reply tuple). */
static int conntrack_each(const char *text, bool add, struct brig_err **err)
{
    struct net_nl nl;
    char *buf;
    const char *line = text;
    int ret;

    if (!text || !*text)
        return 0;
    ret = ct_open(&nl, &buf, err);
    if (ret < 0)
        return ret;
    for (; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        struct ct_tuple o, c, r;
        struct nlmsghdr *nlh;
        int n;

        if (parse_line(line, &o, &c) < 0) {
            ret = brig_err_msg(err, EINVAL, "conntrack: `%.60s`: not a connection line", line);
            break;
        }
        r = (struct ct_tuple){.src = o.dst, .dst = o.src, .sport = o.dport, .dport = o.sport, .proto = o.proto};
        nlh = ct_msg(buf, add ? IPCTNL_MSG_CT_NEW : IPCTNL_MSG_CT_DELETE,
                     (uint16_t) (NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0)), ++nl.seq);
        put_tuple(nlh, CTA_TUPLE_ORIG, &o);
        if (add) {
            struct nlattr *info, *tcp;
            struct nf_ct_tcp_flags liberal = {.flags = IP_CT_TCP_FLAG_BE_LIBERAL, .mask = IP_CT_TCP_FLAG_BE_LIBERAL};

            put_tuple(nlh, CTA_TUPLE_REPLY, &r);
            mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(CT_TIMEOUT));
            info = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
            tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
            mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
            mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof(liberal), &liberal);
            mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(liberal), &liberal);
            mnl_attr_nest_end(nlh, tcp);
            mnl_attr_nest_end(nlh, info);
            if (o.dst != c.src || o.dport != c.sport) {
                struct nlattr *nat = mnl_attr_nest_start(nlh, CTA_NAT_DST), *p;
                mnl_attr_put_u32(nlh, CTA_NAT_V4_MINIP, c.src);
                mnl_attr_put_u32(nlh, CTA_NAT_V4_MAXIP, c.src);
                p = mnl_attr_nest_start(nlh, CTA_NAT_PROTO);
                mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MIN, c.sport);
                mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MAX, c.sport);
                mnl_attr_nest_end(nlh, p);
                mnl_attr_nest_end(nlh, nat);
            }
        }
        if (mnl_socket_sendto(nl.sock, nlh, nlh->nlmsg_len) < 0) {
            ret = brig_err_sys(err, "conntrack: send");
            break;
        }
        n = (int) mnl_socket_recvfrom(nl.sock, buf, MNL_SOCKET_BUFFER_SIZE);
        if (n >= 0)
            n = mnl_cb_run(buf, (size_t) n, nl.seq, mnl_socket_get_portid(nl.sock), NULL, NULL);
        /* Already there (a retry), or already gone: as wanted. */
        if (n < 0 && !(add && errno == EEXIST) && !(!add && errno == ENOENT)) {
            ret = brig_err_sys(err, "conntrack: %s the entry of `%.*s`", add ? "add" : "delete",
                               (int) strcspn(line, "\n"), line);
            break;
        }
    }
    net_nl_close(&nl);
    free(buf);
    return ret;
}

int brig_net_conntrack_restore(const char *text, struct brig_err **err)
{
    return conntrack_each(text, true, err);
}

int brig_net_conntrack_forget(const char *text, struct brig_err **err)
{
    return conntrack_each(text, false, err);
}
