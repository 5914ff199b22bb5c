/* brig's nftables table, spoken through libnftnl. The rules are fixed and few; containers only add and
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
 *   }
 * Postrouting knows no input interface, so containers are recognised by their source subnet. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
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
#define TYPE_INET_PROTOCOL 12
#define TYPE_INET_SERVICE 13
#define CONCAT(a, b) (((a) << 6) | (b))

/* Every message of a batch carries this header; the batch begin/end carry the subsystem in res_id. */
static struct nlmsghdr *put_nft(struct net_msgs *m, struct net_nl *nl, uint16_t type, uint16_t flags, int ignore,
                                const char *what, uint16_t res_id)
{
    struct nlmsghdr *nlh = net_msgs_put(m, nl, type, flags, ignore, what);
    struct nfgenmsg *nfg;

    if (!nlh)
        return NULL;
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = res_id ? AF_UNSPEC : NFPROTO_IPV4;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(res_id);
    return nlh;
}

static int batch_edge(struct net_msgs *m, struct net_nl *nl, uint16_t type)
{
    struct nlmsghdr *nlh = put_nft(m, nl, type, 0, 0, "nftables batch", NFNL_SUBSYS_NFTABLES);

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

/* The looked-up value is address . port in two registers, as `dnat ip to ... map` loads them. */
static void dnat_from_reg(struct nftnl_rule *r)
{
    struct nftnl_expr *e = expr("nat");

    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
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

#define IP_SADDR_OFFSET 12
#define IP_DADDR_OFFSET 16
#define TH_DPORT_OFFSET 2

typedef void (*rule_fn)(struct nftnl_rule *r);

static void rule_pf_ip(struct nftnl_rule *r)
{
    meta(r, NFT_META_L4PROTO, NFT_REG32_00);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, IP_DADDR_OFFSET, 4, NFT_REG32_01);
    payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, TH_DPORT_OFFSET, 2, NFT_REG32_02);
    lookup(r, MAP_PF_IP, ID_PF_IP, NFT_REG32_00, NFT_REG32_00, false);
    dnat_from_reg(r);
}

static void rule_pf_any(struct nftnl_rule *r)
{
    fib_daddr_local(r);
    meta(r, NFT_META_L4PROTO, NFT_REG32_00);
    payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, TH_DPORT_OFFSET, 2, NFT_REG32_01);
    lookup(r, MAP_PF_ANY, ID_PF_ANY, NFT_REG32_00, NFT_REG32_00, false);
    dnat_from_reg(r);
}

static void rule_jump_pf(struct nftnl_rule *r)
{
    jump(r, "pf");
}

static void rule_masq_outbound(struct nftnl_rule *r)
{
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, IP_SADDR_OFFSET, 4, NFT_REG32_00);
    lookup(r, SET_SUBNETS, ID_SUBNETS, NFT_REG32_00, -1, false);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, IP_DADDR_OFFSET, 4, NFT_REG32_00);
    lookup(r, SET_SUBNETS, ID_SUBNETS, NFT_REG32_00, -1, true);
    masquerade(r);
}

static void rule_masq_hairpin(struct nftnl_rule *r)
{
    ct_dnat(r);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, IP_SADDR_OFFSET, 4, NFT_REG32_00);
    lookup(r, SET_SUBNETS, ID_SUBNETS, NFT_REG32_00, -1, false);
    masquerade(r);
}

static void rule_masq_localhost(struct nftnl_rule *r)
{
    uint32_t net8 = htonl(0xff000000u), loopback = htonl(0x7f000000u);

    ct_dnat(r);
    payload(r, NFT_PAYLOAD_NETWORK_HEADER, IP_SADDR_OFFSET, 4, NFT_REG32_00);
    mask(r, NFT_REG32_00, &net8, sizeof(net8));
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &loopback, sizeof(loopback));
    masquerade(r);
}

static int put_rule(struct net_msgs *m, struct net_nl *nl, const char *chain, rule_fn fn)
{
    struct nftnl_rule *r = nftnl_rule_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!r)
        return -ENOMEM;
    snprintf(what, sizeof(what), "add a rule to nftables chain `ip brig %s`", chain);
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NET_NFT_TABLE);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
    fn(r);
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND, EEXIST, what, 0);
    if (nlh) {
        nftnl_rule_nlmsg_build_payload(nlh, r);
        net_msgs_end(m, nlh);
    }
    nftnl_rule_free(r);
    return nlh ? 0 : -ENOBUFS;
}

static int put_set(struct net_msgs *m, struct net_nl *nl, const char *name, uint32_t id, uint32_t key_len,
                   uint32_t key_type, uint32_t data_len, uint32_t data_type, uint32_t flags)
{
    struct nftnl_set *s = nftnl_set_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!s)
        return -ENOMEM;
    snprintf(what, sizeof(what), "create nftables set `ip brig %s`", name);
    nftnl_set_set_str(s, NFTNL_SET_TABLE, NET_NFT_TABLE);
    nftnl_set_set_str(s, NFTNL_SET_NAME, name);
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
    nftnl_set_set_u32(s, NFTNL_SET_ID, id);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags | (data_len ? NFT_SET_MAP : 0));
    if (data_len) {
        nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, data_len);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
    }
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWSET), NLM_F_CREATE, EEXIST, what, 0);
    if (nlh) {
        nftnl_set_nlmsg_build_payload(nlh, s);
        net_msgs_end(m, nlh);
    }
    nftnl_set_free(s);
    return nlh ? 0 : -ENOBUFS;
}

static int put_chain(struct net_msgs *m, struct net_nl *nl, const char *name, int hook, int prio)
{
    struct nftnl_chain *c = nftnl_chain_alloc();
    struct nlmsghdr *nlh;
    char what[64];

    if (!c)
        return -ENOMEM;
    snprintf(what, sizeof(what), "create nftables chain `ip brig %s`", name);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NET_NFT_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_IPV4);
    if (hook >= 0) {
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t) hook);
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
    }
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWCHAIN), NLM_F_CREATE, EEXIST, what, 0);
    if (nlh) {
        nftnl_chain_nlmsg_build_payload(nlh, c);
        net_msgs_end(m, nlh);
    }
    nftnl_chain_free(c);
    return nlh ? 0 : -ENOBUFS;
}

static int put_table(struct net_msgs *m, struct net_nl *nl)
{
    struct nftnl_table *t = nftnl_table_alloc();
    struct nlmsghdr *nlh;

    if (!t)
        return -ENOMEM;
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, NET_NFT_TABLE);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_IPV4);
    /* Exclusive: when another brig made the table first, the whole batch (and its rules) is dropped. */
    nlh = put_nft(m, nl, nft_type(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_EXCL, EEXIST,
                  "create nftables table `ip " NET_NFT_TABLE "`", 0);
    if (nlh) {
        nftnl_table_nlmsg_build_payload(nlh, t);
        net_msgs_end(m, nlh);
    }
    nftnl_table_free(t);
    return nlh ? 0 : -ENOBUFS;
}

int net_nft_ensure_table(struct net_nl *nl, struct brig_err **err)
{
    struct net_msgs m;
    int ret;

    if (net_msgs_init(&m, 16384) < 0)
        return brig_err_set(err, ENOMEM, "nftables batch");
    ret = batch_edge(&m, nl, NFNL_MSG_BATCH_BEGIN);
    if (!ret)
        ret = put_table(&m, nl);
    if (!ret)
        ret = put_set(&m, nl, SET_SUBNETS, ID_SUBNETS, 4, TYPE_IPADDR, 0, 0, NFT_SET_INTERVAL);
    if (!ret)
        ret = put_set(&m, nl, MAP_PF_IP, ID_PF_IP, 12,
                      CONCAT(CONCAT(TYPE_INET_PROTOCOL, TYPE_IPADDR), TYPE_INET_SERVICE), 8,
                      CONCAT(TYPE_IPADDR, TYPE_INET_SERVICE), 0);
    if (!ret)
        ret = put_set(&m, nl, MAP_PF_ANY, ID_PF_ANY, 8, CONCAT(TYPE_INET_PROTOCOL, TYPE_INET_SERVICE), 8,
                      CONCAT(TYPE_IPADDR, TYPE_INET_SERVICE), 0);
    if (!ret)
        ret = put_chain(&m, nl, "pf", -1, 0);
    if (!ret)
        ret = put_chain(&m, nl, "prerouting", NF_INET_PRE_ROUTING, -100);
    if (!ret)
        ret = put_chain(&m, nl, "output", NF_INET_LOCAL_OUT, -100);
    if (!ret)
        ret = put_chain(&m, nl, "postrouting", NF_INET_POST_ROUTING, 100);
    if (!ret)
        ret = put_rule(&m, nl, "pf", rule_pf_ip);
    if (!ret)
        ret = put_rule(&m, nl, "pf", rule_pf_any);
    if (!ret)
        ret = put_rule(&m, nl, "prerouting", rule_jump_pf);
    if (!ret)
        ret = put_rule(&m, nl, "output", rule_jump_pf);
    if (!ret)
        ret = put_rule(&m, nl, "postrouting", rule_masq_outbound);
    if (!ret)
        ret = put_rule(&m, nl, "postrouting", rule_masq_hairpin);
    if (!ret)
        ret = put_rule(&m, nl, "postrouting", rule_masq_localhost);
    if (!ret)
        ret = batch_edge(&m, nl, NFNL_MSG_BATCH_END);
    if (ret < 0) {
        net_msgs_free(&m);
        return brig_err_set(err, -ret, "build nftables table `ip " NET_NFT_TABLE "`");
    }
    ret = net_msgs_send(nl, &m, err);
    net_msgs_free(&m);
    return ret;
}

/* ---- elements ---- */

struct fw_key_ip {
    uint32_t proto;
    uint32_t addr;
    uint32_t port;
};
struct fw_key_any {
    uint32_t proto;
    uint32_t port;
};
struct fw_value {
    uint32_t addr;
    uint32_t port;
};

/* Registers hold one component per 32-bit word: protocol in the first byte, port in the first two (network
 * order), zero padding after. */
static uint32_t reg_u8(uint8_t v)
{
    uint32_t r = 0;

    memcpy(&r, &v, 1);
    return r;
}

static uint32_t reg_port(uint16_t port)
{
    uint32_t r = 0;
    uint16_t be = htons(port);

    memcpy(&r, &be, 2);
    return r;
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

/* Fills the two maps' element lists from `fw` . Data only when adding. */
static int fill_elems(struct nftnl_set *pf_ip, struct nftnl_set *pf_any, const struct net_forward *fw, size_t n,
                      bool with_data)
{
    for (size_t i = 0; i < n; i++) {
        struct fw_value value = {.addr = fw[i].addr.s_addr, .port = reg_port(fw[i].port)};
        int ret;
        if (fw[i].host_ip.s_addr != INADDR_ANY) {
            struct fw_key_ip key = {reg_u8(fw[i].proto), fw[i].host_ip.s_addr, reg_port(fw[i].host_port)};
            ret = add_elem(pf_ip, &key, sizeof(key), with_data ? &value : NULL, sizeof(value), false);
        } else {
            struct fw_key_any key = {reg_u8(fw[i].proto), reg_port(fw[i].host_port)};
            ret = add_elem(pf_any, &key, sizeof(key), with_data ? &value : NULL, sizeof(value), false);
        }
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* One batch of element adds or deletes over the subnets set and the two maps. */
static int run_elems(struct net_nl *nl, int cmd, int ignore, const struct net_subnet *subnet,
                     const struct net_forward *fw, size_t n, const char *what, struct brig_err **err)
{
    struct nftnl_set *sets[3] = {elem_set(SET_SUBNETS), elem_set(MAP_PF_IP), elem_set(MAP_PF_ANY)};
    size_t counts[3] = {subnet ? 1 : 0, 0, 0};
    bool adding = cmd == NFT_MSG_NEWSETELEM;
    struct net_msgs m = {.buf = NULL};
    int ret = -ENOMEM;

    for (size_t i = 0; i < n; i++)
        counts[fw[i].host_ip.s_addr != INADDR_ANY ? 1 : 2]++;
    if (!sets[0] || !sets[1] || !sets[2] || net_msgs_init(&m, 4096 + n * 128) < 0)
        goto out;
    if (subnet) {
        /* An interval is two elements: its start, and the first address after it marked as the end. */
        uint32_t start = subnet->addr.s_addr & htonl(net_mask4(subnet->prefix));
        uint32_t end = htonl(ntohl(start) + (uint32_t) (~net_mask4(subnet->prefix)) + 1);
        if (add_elem(sets[0], &start, sizeof(start), NULL, 0, false) < 0 ||
            (end != 0 && add_elem(sets[0], &end, sizeof(end), NULL, 0, true) < 0))
            goto out;
    }
    if (fill_elems(sets[1], sets[2], fw, n, adding) < 0)
        goto out;
    ret = batch_edge(&m, nl, NFNL_MSG_BATCH_BEGIN);
    for (int k = 0; k < 3 && ret == 0; k++) {
        /* The subnet may already be in the set (its other containers); a port may not be in a map. */
        uint16_t flags = adding ? (uint16_t) (NLM_F_CREATE | (k ? NLM_F_EXCL : 0)) : 0;
        struct nlmsghdr *nlh;
        if (!counts[k])
            continue;
        nlh = put_nft(&m, nl, nft_type(cmd), flags, ignore, what, 0);
        if (!nlh) {
            ret = -ENOBUFS;
            break;
        }
        nftnl_set_elems_nlmsg_build_payload(nlh, sets[k]);
        net_msgs_end(&m, nlh);
    }
    if (ret == 0)
        ret = batch_edge(&m, nl, NFNL_MSG_BATCH_END);
out:
    if (ret < 0)
        ret = brig_err_set(err, -ret, "%s", what);
    else
        ret = net_msgs_send(nl, &m, err);
    net_msgs_free(&m);
    for (int k = 0; k < 3; k++)
        if (sets[k])
            nftnl_set_free(sets[k]);
    return ret;
}

int net_nft_add(struct net_nl *nl, const struct net_subnet *subnet, const struct net_forward *fw, size_t n,
                struct brig_err **err)
{
    int ret = run_elems(nl, NFT_MSG_NEWSETELEM, 0, subnet, fw, n, "publish ports in nftables table `ip brig`", err);

    if (ret != -ENOENT)
        return ret;
    /* The first container on this host: make the table, then try again. */
    brig_err_free(err);
    ret = net_nft_ensure_table(nl, err);
    if (ret < 0)
        return ret;
    return run_elems(nl, NFT_MSG_NEWSETELEM, 0, subnet, fw, n, "publish ports in nftables table `ip brig`", err);
}

int net_nft_del(struct net_nl *nl, const struct net_subnet *subnet, const struct net_forward *fw, size_t n,
                struct brig_err **err)
{
    int ret = run_elems(nl, NFT_MSG_DELSETELEM, 0, subnet, fw, n, "remove ports from nftables table `ip brig`",
                        err);

    if (ret != -ENOENT)
        return ret;
    /* Some element is already gone (an earlier teardown was interrupted, or the table was never made): the
     * batch was dropped whole, so remove the rest one by one. */
    brig_err_free(err);
    ret = 0;
    if (subnet)
        ret = run_elems(nl, NFT_MSG_DELSETELEM, ENOENT, subnet, NULL, 0, "remove a subnet from nftables set", err);
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = run_elems(nl, NFT_MSG_DELSETELEM, ENOENT, NULL, &fw[i], 1,
                        "remove a port from nftables table `ip brig`", err);
    return ret;
}
