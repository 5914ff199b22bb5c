/* brig's nftables tables, spoken through libnftnl. The rules are fixed and few; containers only add and
 * remove map elements, so starting or removing one is a single atomic batch and the rule set never grows:
 *
 *   table ip brig {
 *     set subnets { type ipv4_addr; flags interval }     # one element per brig network
 *     map pf_ip  { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service }
 *     map pf_any { type inet_proto . inet_service : ipv4_addr . inet_service }
 *     chain pf { dnat ip to meta l4proto . ip daddr . th dport map @pf_ip
 *                fib daddr type local dnat ip to meta l4proto . th dport map @pf_any }
 *     chain prerouting  { type nat hook prerouting priority dstnat; jump pf }
 *     chain output      { type nat hook output priority -100; jump pf }
 *     chain postrouting { type nat hook postrouting priority srcnat;
 *        ip saddr @subnets ip daddr != @subnets masquerade       # outbound from the containers
 *        ct status dnat ip saddr @subnets masquerade             # hairpin: container → host port → container
 *        ct status dnat ip saddr 127.0.0.0/8 masquerade }        # 127.0.0.1:port (with route_localnet)
 *     chain localnet { type filter hook prerouting priority raw;
 *        meta iiftype != loopback ip daddr 127.0.0.0/8 drop }    # see net_nft_ensure_localnet_guard
 *   }
 *   table ip6 brig {      # made with the first container of a network with a subnet6
 *     the same set, maps (ipv6_addr) and chains, except:
 *     chain pf { ... fib daddr type local ip6 daddr != ::1 dnat ip6 to meta l4proto . th dport map @pf_any }
 *     chain postrouting { the first two rules, with ip6 }
 *   }
 * Postrouting knows no input interface, so containers are recognised by their source subnet. A host with no
 * subnet6 gets no `ip6 brig`, so its IPv6 traffic stays out of nat.
 *
 * IPv6 follows netavark: a container with an IPv6 address (its network has a subnet6) gets its unbound ports
 * in both tables' pf_any; a port bound to an IPv4 address stays in `ip brig`, one bound to "[ADDR]" is in
 * `ip6 brig` only. [::1]:PORT is never forwarded: IPv6 has no route_localnet, so a packet from ::1 cannot
 * leave through the bridge; the rule skips ::1, and a host service on [::1]:PORT keeps its connections. A
 * container's v4 and v6 elements go in and out in one batch. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <net/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

#define SET_SUBNETS "subnets"
#define MAP_PF_IP "pf_ip"
#define MAP_PF_ANY "pf_any"

/* nft's datatype numbers, so `nft list ruleset` shows the maps' types. */
#define TYPE_IPADDR 7
#define TYPE_IP6ADDR 8
#define TYPE_INET_PROTOCOL 12
#define TYPE_INET_SERVICE 13
#define CONCAT(a, b) (((a) << 6) | (b))

/* What differs between the two tables. */
struct nft_family {
    uint8_t nfproto;
    const char *name; /* as nft names the family */
    uint32_t addr_len;
    uint32_t addr_type;
    uint32_t saddr_offset; /* in the network header */
    uint32_t daddr_offset;
};

enum { FAM_IP, FAM_IP6, N_FAMS };

static const struct nft_family FAMILIES[N_FAMS] = {
    [FAM_IP] = {NFPROTO_IPV4, "ip", 4, TYPE_IPADDR, 12, 16},
    [FAM_IP6] = {NFPROTO_IPV6, "ip6", 16, TYPE_IP6ADDR, 8, 24},
};

/* Every message of a batch carries this header; the batch begin/end carry the subsystem in res_id. */
static struct nlmsghdr *put_nft(struct net_msgs *m, struct net_nl *nl, uint16_t type, uint16_t flags, int ignore,
                                const char *what, uint8_t family, uint16_t res_id)
{
    struct nlmsghdr *nlh = net_msgs_put(m, nl, type, flags, ignore, what);
    struct nfgenmsg *nfg;

    if (!nlh)
        return NULL;
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = res_id ? AF_UNSPEC : family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(res_id);
    return nlh;
}

static int batch_edge(struct net_msgs *m, struct net_nl *nl, uint16_t type)
{
    struct nlmsghdr *nlh = put_nft(m, nl, type, 0, 0, "nftables batch", AF_UNSPEC, NFNL_SUBSYS_NFTABLES);

    if (!nlh)
        return -ENOBUFS;
    net_msgs_end(m, nlh);
    return 0;
}

static uint16_t nft_type(int cmd)
{
    return (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | cmd);
}

/* ---- the table ---- */

static void add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
    nftnl_rule_add_expr(r, e);
}

static struct nftnl_expr *expr(const char *name)
{
    return nftnl_expr_alloc(name);
}

static void meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
    struct nftnl_expr *e = expr("meta");

    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    add_expr(r, e);
}

static void payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg)
{
    struct nftnl_expr *e = expr("payload");

    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    add_expr(r, e);
}

static void lookup(struct nftnl_rule *r, const char *set, uint32_t set_id, uint32_t sreg, int dreg, bool invert)
{
    struct nftnl_expr *e = expr("lookup");

    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    if (dreg >= 0)
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t) dreg);
    if (invert)
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    add_expr(r, e);
}

static void cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
    struct nftnl_expr *e = expr("cmp");

    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    add_expr(r, e);
}

static void mask(struct nftnl_rule *r, uint32_t reg, const void *bits, uint32_t len)
{
    static const uint8_t zero[16];
    struct nftnl_expr *e = expr("bitwise");

    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, bits, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
    add_expr(r, e);
}

static void ct_dnat(struct nftnl_rule *r)
{
    struct nftnl_expr *e = expr("ct");
    uint32_t bit = IPS_DST_NAT, none = 0;

    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG32_00);
    add_expr(r, e);
    mask(r, NFT_REG32_00, &bit, sizeof(bit));
    cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &none, sizeof(none));
}

static void masquerade(struct nftnl_rule *r)
{
    add_expr(r, expr("masq"));
}

/* Registers hold one component per 32-bit word; an IPv6 address fills four. */
static uint32_t reg_after(uint32_t reg, uint32_t len)
{
    return reg + len / 4;
}

/* The looked-up value is address . port, as `dnat ip to ... map` loads it: the port in the register after
 * the address. */
static void dnat_from_reg(struct nftnl_rule *r, const struct nft_family *fam)
{
    struct nftnl_expr *e = expr("nat");

    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, fam->nfproto);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_after(NFT_REG32_00, fam->addr_len));
    add_expr(r, e);
}

static void jump(struct nftnl_rule *r, const char *chain)
{
    struct nftnl_expr *e = expr("immediate");

    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) NFT_JUMP);
    nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
    add_expr(r, e);
}

static void fib_daddr_local(struct nftnl_rule *r)
{
    struct nftnl_expr *e = expr("fib");
    uint32_t local = RTN_LOCAL;

    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG32_00);
    add_expr(r, e);
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &local, sizeof(local));
}

enum { ID_SUBNETS = 1, ID_PF_IP, ID_PF_ANY };

#define TH_DPORT_OFFSET 2

typedef void (*rule_fn)(struct nftnl_rule *r, const struct nft_family *fam);

static void rule_pf_ip(struct nftnl_rule *r, const struct nft_family *fam)
{
    uint32_t port_reg = reg_after(NFT_REG32_01, fam->addr_len);

    meta(r, NFT_META_L4PROTO, NFT_REG32_00);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->daddr_offset, fam->addr_len, NFT_REG32_01);
    payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, TH_DPORT_OFFSET, 2, port_reg);
    lookup(r, MAP_PF_IP, ID_PF_IP, NFT_REG32_00, NFT_REG32_00, false);
    dnat_from_reg(r, fam);
}

static void rule_pf_any(struct nftnl_rule *r, const struct nft_family *fam)
{
    fib_daddr_local(r);
    if (fam->nfproto == NFPROTO_IPV6) {
        /* A packet from ::1 cannot leave through the bridge (no route_localnet for IPv6): leave [::1]:PORT
         * to whatever listens on the host. */
        payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->daddr_offset, fam->addr_len, NFT_REG32_00);
        cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &in6addr_loopback, sizeof(in6addr_loopback));
    }
    meta(r, NFT_META_L4PROTO, NFT_REG32_00);
    payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, TH_DPORT_OFFSET, 2, NFT_REG32_01);
    lookup(r, MAP_PF_ANY, ID_PF_ANY, NFT_REG32_00, NFT_REG32_00, false);
    dnat_from_reg(r, fam);
}

static void rule_jump_pf(struct nftnl_rule *r, const struct nft_family *fam)
{
    (void) fam;
    jump(r, "pf");
}

static void rule_masq_outbound(struct nftnl_rule *r, const struct nft_family *fam)
{
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->saddr_offset, fam->addr_len, NFT_REG32_00);
    lookup(r, SET_SUBNETS, ID_SUBNETS, NFT_REG32_00, -1, false);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->daddr_offset, fam->addr_len, NFT_REG32_00);
    lookup(r, SET_SUBNETS, ID_SUBNETS, NFT_REG32_00, -1, true);
    masquerade(r);
}

static void rule_masq_hairpin(struct nftnl_rule *r, const struct nft_family *fam)
{
    ct_dnat(r);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->saddr_offset, fam->addr_len, NFT_REG32_00);
    lookup(r, SET_SUBNETS, ID_SUBNETS, NFT_REG32_00, -1, false);
    masquerade(r);
}

static void rule_masq_localhost(struct nftnl_rule *r, const struct nft_family *fam)
{
    uint32_t net8 = htonl(0xff000000u), loopback = htonl(0x7f000000u);

    ct_dnat(r);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->saddr_offset, 4, NFT_REG32_00);
    mask(r, NFT_REG32_00, &net8, sizeof(net8));
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &loopback, sizeof(loopback));
    masquerade(r);
}

static void rule_drop_foreign_loopback(struct nftnl_rule *r, const struct nft_family *fam)
{
    uint32_t net8 = htonl(0xff000000u), loopback = htonl(0x7f000000u);
    uint16_t loopback_type = ARPHRD_LOOPBACK;
    struct nftnl_expr *e;

    meta(r, NFT_META_IIFTYPE, NFT_REG32_00);
    cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &loopback_type, sizeof(loopback_type));
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam->daddr_offset, 4, NFT_REG32_00);
    mask(r, NFT_REG32_00, &net8, sizeof(net8));
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &loopback, sizeof(loopback));
    e = expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
    add_expr(r, e);
}

static int put_rule(struct net_msgs *m, struct net_nl *nl, const struct nft_family *fam, const char *chain,
                    rule_fn fn)
{
    struct nftnl_rule *r = nftnl_rule_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!r)
        return -ENOMEM;
    snprintf(what, sizeof(what), "add a rule to nftables chain `%s brig %s`", fam->name, chain);
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NET_NFT_TABLE);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, fam->nfproto);
    fn(r, fam);
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND, EEXIST, what, fam->nfproto, 0);
    if (nlh) {
        nftnl_rule_nlmsg_build_payload(nlh, r);
        net_msgs_end(m, nlh);
    }
    nftnl_rule_free(r);
    return nlh ? 0 : -ENOBUFS;
}

static int put_set(struct net_msgs *m, struct net_nl *nl, const struct nft_family *fam, const char *name,
                   uint32_t id, uint32_t key_len, uint32_t key_type, uint32_t data_len, uint32_t data_type,
                   uint32_t flags, uint16_t nl_flags)
{
    struct nftnl_set *s = nftnl_set_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!s)
        return -ENOMEM;
    snprintf(what, sizeof(what), "create nftables set `%s brig %s`", fam->name, name);
    nftnl_set_set_str(s, NFTNL_SET_TABLE, NET_NFT_TABLE);
    nftnl_set_set_str(s, NFTNL_SET_NAME, name);
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, fam->nfproto);
    nftnl_set_set_u32(s, NFTNL_SET_ID, id);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags | (data_len ? NFT_SET_MAP : 0));
    if (data_len) {
        nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, data_len);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
    }
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWSET), NLM_F_CREATE | nl_flags, EEXIST, what, fam->nfproto, 0);
    if (nlh) {
        nftnl_set_nlmsg_build_payload(nlh, s);
        net_msgs_end(m, nlh);
    }
    nftnl_set_free(s);
    return nlh ? 0 : -ENOBUFS;
}

static int put_chain(struct net_msgs *m, struct net_nl *nl, const struct nft_family *fam, const char *name,
                     const char *type, int hook, int prio, uint16_t flags, int ignore)
{
    struct nftnl_chain *c = nftnl_chain_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!c)
        return -ENOMEM;
    snprintf(what, sizeof(what), "create nftables chain `%s brig %s`", fam->name, name);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NET_NFT_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, fam->nfproto);
    if (hook >= 0) {
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t) hook);
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
    }
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWCHAIN), NLM_F_CREATE | flags, ignore, what, fam->nfproto, 0);
    if (nlh) {
        nftnl_chain_nlmsg_build_payload(nlh, c);
        net_msgs_end(m, nlh);
    }
    nftnl_chain_free(c);
    return nlh ? 0 : -ENOBUFS;
}

static int put_table(struct net_msgs *m, struct net_nl *nl, const struct nft_family *fam)
{
    struct nftnl_table *t = nftnl_table_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!t)
        return -ENOMEM;
    snprintf(what, sizeof(what), "create nftables table `%s " NET_NFT_TABLE "`", fam->name);
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, NET_NFT_TABLE);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, fam->nfproto);
    /* Not exclusive: the localnet guard may have made it already. */
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWTABLE), NLM_F_CREATE, EEXIST, what, fam->nfproto, 0);
    if (nlh) {
        nftnl_table_nlmsg_build_payload(nlh, t);
        net_msgs_end(m, nlh);
    }
    nftnl_table_free(t);
    return nlh ? 0 : -ENOBUFS;
}

static int ensure_family(struct net_nl *nl, const struct nft_family *fam, struct brig_err **err)
{
    uint32_t value_type = CONCAT(fam->addr_type, TYPE_INET_SERVICE), value_len = fam->addr_len + 4;
    struct net_msgs m;
    int ret;

    if (net_msgs_init(&m, 16384) < 0)
        return brig_err_set(err, ENOMEM, "nftables batch");
    ret = batch_edge(&m, nl, NFNL_MSG_BATCH_BEGIN);
    if (!ret)
        ret = put_table(&m, nl, fam);
    if (!ret)
        /* Exclusive: when another brig made the sets first, the whole batch (and its rules) is dropped. */
        ret = put_set(&m, nl, fam, SET_SUBNETS, ID_SUBNETS, fam->addr_len, fam->addr_type, 0, 0, NFT_SET_INTERVAL,
                      NLM_F_EXCL);
    if (!ret)
        ret = put_set(&m, nl, fam, MAP_PF_IP, ID_PF_IP, 4 + fam->addr_len + 4,
                      CONCAT(CONCAT(TYPE_INET_PROTOCOL, fam->addr_type), TYPE_INET_SERVICE), value_len, value_type,
                      0, 0);
    if (!ret)
        ret = put_set(&m, nl, fam, MAP_PF_ANY, ID_PF_ANY, 8, CONCAT(TYPE_INET_PROTOCOL, TYPE_INET_SERVICE),
                      value_len, value_type, 0, 0);
    if (!ret)
        ret = put_chain(&m, nl, fam, "pf", NULL, -1, 0, 0, EEXIST);
    if (!ret)
        ret = put_chain(&m, nl, fam, "prerouting", "nat", NF_INET_PRE_ROUTING, -100, 0, EEXIST);
    if (!ret)
        ret = put_chain(&m, nl, fam, "output", "nat", NF_INET_LOCAL_OUT, -100, 0, EEXIST);
    if (!ret)
        ret = put_chain(&m, nl, fam, "postrouting", "nat", NF_INET_POST_ROUTING, 100, 0, EEXIST);
    if (!ret)
        ret = put_rule(&m, nl, fam, "pf", rule_pf_ip);
    if (!ret)
        ret = put_rule(&m, nl, fam, "pf", rule_pf_any);
    if (!ret)
        ret = put_rule(&m, nl, fam, "prerouting", rule_jump_pf);
    if (!ret)
        ret = put_rule(&m, nl, fam, "output", rule_jump_pf);
    if (!ret)
        ret = put_rule(&m, nl, fam, "postrouting", rule_masq_outbound);
    if (!ret)
        ret = put_rule(&m, nl, fam, "postrouting", rule_masq_hairpin);
    if (!ret && fam->nfproto == NFPROTO_IPV4)
        ret = put_rule(&m, nl, fam, "postrouting", rule_masq_localhost);
    if (!ret)
        ret = batch_edge(&m, nl, NFNL_MSG_BATCH_END);
    if (ret < 0) {
        net_msgs_free(&m);
        return brig_err_set(err, -ret, "build nftables table `%s " NET_NFT_TABLE "`", fam->name);
    }
    ret = net_msgs_send(nl, &m, err);
    net_msgs_free(&m);
    return ret;
}

/* A read, no transaction: 0 when the chain is there, -ENOENT when it (or the table) is not. */
static int chain_exists(struct net_nl *nl, const struct nft_family *fam, const char *name, struct brig_err **err)
{
    struct nftnl_chain *c = nftnl_chain_alloc();
    struct nlmsghdr *nlh;
    struct net_msgs m;
    int ret;

    if (!c || net_msgs_init(&m, 4096) < 0) {
        nftnl_chain_free(c);
        return brig_err_set(err, ENOMEM, "nftables request");
    }
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NET_NFT_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
    nlh = put_nft(&m, nl, nft_type(NFT_MSG_GETCHAIN), 0, 0, "nftables chain", fam->nfproto, 0);
    if (nlh) {
        nftnl_chain_nlmsg_build_payload(nlh, c);
        net_msgs_end(&m, nlh);
    }
    nftnl_chain_free(c);
    ret = nlh ? net_msgs_send(nl, &m, err) : brig_err_set(err, ENOBUFS, "nftables request");
    net_msgs_free(&m);
    return ret;
}

int net_nft_ensure_localnet_guard(struct net_nl *nl, struct brig_err **err)
{
    const struct nft_family *fam = &FAMILIES[FAM_IP];
    struct net_msgs m;
    int ret;

    /* Asked first: a batch that finds the chain made is aborted, which costs milliseconds. */
    ret = chain_exists(nl, fam, "localnet", err);
    if (ret != -ENOENT)
        return ret;
    brig_err_free(err);
    if (net_msgs_init(&m, 4096) < 0)
        return brig_err_set(err, ENOMEM, "nftables batch");
    ret = batch_edge(&m, nl, NFNL_MSG_BATCH_BEGIN);
    if (!ret)
        ret = put_table(&m, nl, fam);
    /* Exclusive: a guard made before (by any brig) drops the batch, so the rule is never there twice. */
    if (!ret)
        ret = put_chain(&m, nl, fam, "localnet", "filter", NF_INET_PRE_ROUTING, NF_IP_PRI_RAW, NLM_F_EXCL, EEXIST);
    if (!ret)
        ret = put_rule(&m, nl, fam, "localnet", rule_drop_foreign_loopback);
    if (!ret)
        ret = batch_edge(&m, nl, NFNL_MSG_BATCH_END);
    if (ret < 0) {
        net_msgs_free(&m);
        return brig_err_set(err, -ret, "build nftables chain `ip " NET_NFT_TABLE " localnet`");
    }
    ret = net_msgs_send(nl, &m, err);
    net_msgs_free(&m);
    return ret;
}

int net_nft_ensure_table(struct net_nl *nl, struct brig_err **err)
{
    return ensure_family(nl, &FAMILIES[FAM_IP], err);
}

/* ---- elements ---- */

enum { SUBNETS, PF_IP, PF_ANY, N_SETS };

static const char *const SET_NAMES[N_SETS] = {[SUBNETS] = SET_SUBNETS, [PF_IP] = MAP_PF_IP, [PF_ANY] = MAP_PF_ANY};

/* A key or value as the registers hold it: one component per 32-bit word (an IPv6 address fills four),
 * protocol in the first byte, port in the first two (network order), zero padding after. */
struct reg_data {
    uint8_t bytes[32];
    uint32_t len;
};

static void put_u8(struct reg_data *d, uint8_t v)
{
    d->bytes[d->len] = v;
    d->len += 4;
}

static void put_port(struct reg_data *d, uint16_t port)
{
    uint16_t be = htons(port);

    memcpy(d->bytes + d->len, &be, 2);
    d->len += 4;
}

static void put_addr(struct reg_data *d, const void *addr, uint32_t len)
{
    memcpy(d->bytes + d->len, addr, len);
    d->len += len;
}

static int add_elem(struct nftnl_set *s, const void *key, uint32_t key_len, const void *data, uint32_t data_len,
                    bool interval_end)
{
    struct nftnl_set_elem *e = nftnl_set_elem_alloc();

    if (!e)
        return -ENOMEM;
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, key_len);
    if (interval_end)
        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    if (data)
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, data_len);
    nftnl_set_elem_add(s, e);
    return 0;
}

static struct nftnl_set *elem_set(const char *name)
{
    struct nftnl_set *s = nftnl_set_alloc();

    if (s) {
        nftnl_set_set_str(s, NFTNL_SET_TABLE, NET_NFT_TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, name);
    }
    return s;
}

/* The element lists of one batch, per table and set. */
struct elem_lists {
    struct nftnl_set *set[N_FAMS][N_SETS];
    size_t count[N_FAMS][N_SETS];
};

static int lists_init(struct elem_lists *l)
{
    memset(l, 0, sizeof(*l));
    for (int f = 0; f < N_FAMS; f++)
        for (int k = 0; k < N_SETS; k++)
            if (!(l->set[f][k] = elem_set(SET_NAMES[k])))
                return -ENOMEM;
    return 0;
}

static void lists_free(struct elem_lists *l)
{
    for (int f = 0; f < N_FAMS; f++)
        for (int k = 0; k < N_SETS; k++)
            if (l->set[f][k])
                nftnl_set_free(l->set[f][k]);
}

static int list_add(struct elem_lists *l, int fam, int set, const struct reg_data *key, const struct reg_data *value,
                    bool interval_end)
{
    int ret = add_elem(l->set[fam][set], key->bytes, key->len, value ? value->bytes : NULL, value ? value->len : 0,
                       interval_end);

    if (ret == 0)
        l->count[fam][set]++;
    return ret;
}

/* Adds 2^bit to a big-endian address; false when it wraps past the last address. */
static bool addr_add_pow2(uint8_t *addr, uint32_t len, uint32_t bit)
{
    unsigned carry = 1u << (bit % 8);

    for (int i = (int) len - 1 - (int) (bit / 8); i >= 0 && carry; i--) {
        unsigned v = addr[i] + carry;
        addr[i] = (uint8_t) v;
        carry = v >> 8;
    }
    return carry == 0;
}

/* An interval is two elements: its start, and the first address after it marked as the end (none when the
 * interval reaches the last address). */
static int fill_subnet(struct elem_lists *l, int fam, const void *addr, uint8_t prefix)
{
    uint32_t len = FAMILIES[fam].addr_len;
    struct reg_data start = {.len = 0}, end;
    int ret;

    put_addr(&start, addr, len);
    for (uint32_t bit = prefix; bit < len * 8; bit++)
        start.bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    end = start;
    ret = list_add(l, fam, SUBNETS, &start, NULL, false);
    if (ret == 0 && addr_add_pow2(end.bytes, len, len * 8 - prefix))
        ret = list_add(l, fam, SUBNETS, &end, NULL, true);
    return ret;
}

/* The maps' elements for `fw`; values only when adding. */
static int fill_forwards(struct elem_lists *l, const struct net_forward *fw, size_t n, bool with_data)
{
    for (size_t i = 0; i < n; i++) {
        int fam = fw[i].v6 ? FAM_IP6 : FAM_IP;
        uint32_t addr_len = FAMILIES[fam].addr_len;
        const void *host = fw[i].v6 ? (const void *) &fw[i].host_ip6 : (const void *) &fw[i].host_ip;
        bool any = fw[i].v6 ? IN6_IS_ADDR_UNSPECIFIED(&fw[i].host_ip6) : fw[i].host_ip.s_addr == INADDR_ANY;
        struct reg_data key = {.len = 0}, value = {.len = 0};
        int ret;

        put_u8(&key, fw[i].proto);
        if (!any)
            put_addr(&key, host, addr_len);
        put_port(&key, fw[i].host_port);
        put_addr(&value, fw[i].v6 ? (const void *) &fw[i].addr6 : (const void *) &fw[i].addr, addr_len);
        put_port(&value, fw[i].port);
        ret = list_add(l, fam, any ? PF_ANY : PF_IP, &key, with_data ? &value : NULL, false);
        if (ret < 0)
            return ret;
    }
    return 0;
}

#define FAM_BIT(f) (1u << (f))
#define FAM_BITS_ALL (FAM_BIT(FAM_IP) | FAM_BIT(FAM_IP6))

/* One batch of element adds or deletes over both tables: `subnet`'s parts in `subnet_fams` and the forwards.
 * `verb` starts each message's name ("publish ports in"). */
static int run_elems(struct net_nl *nl, int cmd, int ignore, const struct net_subnet *subnet, unsigned subnet_fams,
                     const struct net_forward *fw, size_t n, const char *verb, struct brig_err **err)
{
    bool adding = cmd == NFT_MSG_NEWSETELEM;
    struct net_msgs m = {.buf = NULL};
    struct elem_lists l;
    int ret = lists_init(&l);

    if (ret == 0 && net_msgs_init(&m, 4096 + n * 128) < 0)
        ret = -ENOMEM;
    if (ret == 0 && subnet && (subnet_fams & FAM_BIT(FAM_IP)))
        ret = fill_subnet(&l, FAM_IP, &subnet->addr, subnet->prefix);
    if (ret == 0 && subnet && subnet->has_v6 && (subnet_fams & FAM_BIT(FAM_IP6)))
        ret = fill_subnet(&l, FAM_IP6, &subnet->addr6, subnet->prefix6);
    if (ret == 0)
        ret = fill_forwards(&l, fw, n, adding);
    if (ret == 0)
        ret = batch_edge(&m, nl, NFNL_MSG_BATCH_BEGIN);
    for (int f = 0; f < N_FAMS && ret == 0; f++) {
        for (int k = 0; k < N_SETS && ret == 0; k++) {
            /* The subnet may already be in the set (its other containers); a port may not be in a map. */
            uint16_t flags = adding ? (uint16_t) (NLM_F_CREATE | (k != SUBNETS ? NLM_F_EXCL : 0)) : 0;
            struct nlmsghdr *nlh;
            char what[128];
            if (!l.count[f][k])
                continue;
            snprintf(what, sizeof(what), "%s nftables %s `%s " NET_NFT_TABLE " %s`", verb,
                     k == SUBNETS ? "set" : "map", FAMILIES[f].name, SET_NAMES[k]);
            nlh = put_nft(&m, nl, nft_type(cmd), flags, ignore, what, FAMILIES[f].nfproto, 0);
            if (!nlh) {
                ret = -ENOBUFS;
                break;
            }
            nftnl_set_elems_nlmsg_build_payload(nlh, l.set[f][k]);
            net_msgs_end(&m, nlh);
        }
    }
    if (ret == 0)
        ret = batch_edge(&m, nl, NFNL_MSG_BATCH_END);
    if (ret < 0)
        ret = brig_err_set(err, -ret, "%s nftables table `" NET_NFT_TABLE "`", verb);
    else
        ret = net_msgs_send(nl, &m, err);
    net_msgs_free(&m);
    lists_free(&l);
    return ret;
}

static bool needs_v6(const struct net_subnet *subnet, const struct net_forward *fw, size_t n)
{
    if (subnet && subnet->has_v6)
        return true;
    for (size_t i = 0; i < n; i++)
        if (fw[i].v6)
            return true;
    return false;
}

int net_nft_add(struct net_nl *nl, const struct net_subnet *subnet, const struct net_forward *fw, size_t n,
                struct brig_err **err)
{
    int ret = run_elems(nl, NFT_MSG_NEWSETELEM, 0, subnet, FAM_BITS_ALL, fw, n, "publish ports in", err);

    if (ret != -ENOENT)
        return ret;
    /* The first container on this host (or the first with IPv6): make the tables, then try again. The IPv6
     * table waits for a network with a subnet6, so hosts without one keep their IPv6 traffic out of nat. */
    brig_err_free(err);
    ret = net_nft_ensure_table(nl, err);
    if (ret == 0 && needs_v6(subnet, fw, n))
        ret = ensure_family(nl, &FAMILIES[FAM_IP6], err);
    if (ret < 0)
        return ret;
    return run_elems(nl, NFT_MSG_NEWSETELEM, 0, subnet, FAM_BITS_ALL, fw, n, "publish ports in", err);
}

int net_nft_del(struct net_nl *nl, const struct net_subnet *subnet, const struct net_forward *fw, size_t n,
                struct brig_err **err)
{
    int ret = run_elems(nl, NFT_MSG_DELSETELEM, 0, subnet, FAM_BITS_ALL, fw, n, "remove ports from", err);

    if (ret != -ENOENT)
        return ret;
    /* Some element is already gone (an earlier teardown was interrupted, or a table was never made): the
     * batch was dropped whole, so remove the rest one by one, each table's part of the subnet apart. */
    brig_err_free(err);
    ret = 0;
    for (int f = 0; f < N_FAMS && subnet && ret == 0; f++)
        if (f == FAM_IP || subnet->has_v6)
            ret = run_elems(nl, NFT_MSG_DELSETELEM, ENOENT, subnet, FAM_BIT(f), NULL, 0, "remove a subnet from", err);
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = run_elems(nl, NFT_MSG_DELSETELEM, ENOENT, NULL, 0, &fw[i], 1, "remove a port from", err);
    return ret;
}
