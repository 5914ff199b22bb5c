/* rtnetlink messages: bridge, veth pair, addresses, routes. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "internal.h"

#ifndef IFLA_BRPORT_MODE
#define IFLA_BRPORT_MODE 4
#endif

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, unsigned index, bool up)
{
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = (int) index;
    if (up) {
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
    }
    return ifi;
}

int net_link_bridge(struct net_msgs *m, struct net_nl *nl, const struct net_config *cfg)
{
    char what[64];
    struct nlmsghdr *nlh;
    struct nlattr *info;

    snprintf(what, sizeof(what), "create bridge `%s`", cfg->bridge);
    /* A concurrent create may win the race: its bridge is as good as ours. */
    nlh = net_msgs_put(m, nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, EEXIST, what);
    if (!nlh)
        return -ENOBUFS;
    put_ifinfo(nlh, 0, true);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, cfg->bridge);
    if (cfg->mtu)
        mnl_attr_put_u32(nlh, IFLA_MTU, cfg->mtu);
    info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, info);
    net_msgs_end(m, nlh);
    return 0;
}

int net_link_veth(struct net_msgs *m, struct net_nl *nl, const char *host_name, unsigned bridge_index,
                  uint32_t mtu, const char *peer_name, int peer_netns_fd)
{
    char what[64];
    struct nlmsghdr *nlh;
    struct nlattr *info, *data, *peer;

    snprintf(what, sizeof(what), "create veth `%s`", host_name);
    nlh = net_msgs_put(m, nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, what);
    if (!nlh)
        return -ENOBUFS;
    put_ifinfo(nlh, 0, true);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
    mnl_attr_put_u32(nlh, IFLA_MASTER, bridge_index);
    if (mtu)
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    /* The peer is born inside the container's namespace, already named: it never exists on the host. It
     * cannot be born up (its own peer is not linked yet when the kernel configures it). */
    peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    put_ifinfo(nlh, 0, false);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) peer_netns_fd);
    if (mtu)
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    net_msgs_end(m, nlh);
    return 0;
}

/* Hairpin lets a packet leave by the bridge port it came in on: a container reaching its own published port. */
int net_link_hairpin(struct net_msgs *m, struct net_nl *nl, const char *name)
{
    char what[64];
    struct nlmsghdr *nlh;
    struct nlattr *info, *slave;

    snprintf(what, sizeof(what), "turn hairpin on for `%s`", name);
    nlh = net_msgs_put(m, nl, RTM_NEWLINK, 0, 0, what);
    if (!nlh)
        return -ENOBUFS;
    put_ifinfo(nlh, 0, false);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    slave = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
    mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
    mnl_attr_nest_end(nlh, slave);
    mnl_attr_nest_end(nlh, info);
    net_msgs_end(m, nlh);
    return 0;
}

int net_link_up(struct net_msgs *m, struct net_nl *nl, unsigned index, const char *name)
{
    char what[64];
    struct nlmsghdr *nlh;

    snprintf(what, sizeof(what), "set `%s` up", name);
    nlh = net_msgs_put(m, nl, RTM_NEWLINK, 0, 0, what);
    if (!nlh)
        return -ENOBUFS;
    put_ifinfo(nlh, index, true);
    net_msgs_end(m, nlh);
    return 0;
}

int net_link_down(struct net_msgs *m, struct net_nl *nl, const char *name)
{
    char what[64];
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;

    snprintf(what, sizeof(what), "set `%s` down", name);
    nlh = net_msgs_put(m, nl, RTM_NEWLINK, 0, ENODEV, what);
    if (!nlh)
        return -ENOBUFS;
    ifi = put_ifinfo(nlh, 0, false);
    ifi->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    net_msgs_end(m, nlh);
    return 0;
}

int net_link_delete(struct net_msgs *m, struct net_nl *nl, const char *name)
{
    char what[64];
    struct nlmsghdr *nlh;

    snprintf(what, sizeof(what), "delete link `%s`", name);
    nlh = net_msgs_put(m, nl, RTM_DELLINK, 0, ENODEV, what);
    if (!nlh)
        return -ENOBUFS;
    put_ifinfo(nlh, 0, false);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    net_msgs_end(m, nlh);
    return 0;
}

int net_addr_add(struct net_msgs *m, struct net_nl *nl, int family, unsigned index, const void *addr,
                 uint8_t prefix, const char *ifname)
{
    char what[64];
    struct nlmsghdr *nlh;
    struct ifaddrmsg *ifa;
    size_t len = family == AF_INET ? 4 : 16;

    snprintf(what, sizeof(what), "add an IPv%c address to `%s`", family == AF_INET ? '4' : '6', ifname);
    nlh = net_msgs_put(m, nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, 0, what);
    if (!nlh)
        return -ENOBUFS;
    ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = (uint8_t) family;
    ifa->ifa_prefixlen = prefix;
    ifa->ifa_index = index;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    mnl_attr_put(nlh, IFA_LOCAL, len, addr);
    mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
    if (family == AF_INET6)
        /* Usable at once: duplicate detection would hold the address back for a second or more. */
        mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
    net_msgs_end(m, nlh);
    return 0;
}

int net_route_default(struct net_msgs *m, struct net_nl *nl, int family, const void *gateway)
{
    struct nlmsghdr *nlh;
    struct rtmsg *rtm;

    nlh = net_msgs_put(m, nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, 0,
                       family == AF_INET ? "add the default route" : "add the IPv6 default route");
    if (!nlh)
        return -ENOBUFS;
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = (uint8_t) family;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put(nlh, RTA_GATEWAY, family == AF_INET ? 4 : 16, gateway);
    net_msgs_end(m, nlh);
    return 0;
}

/* SIOCGIFINDEX on any socket resolves in that socket's namespace: the netlink socket made inside the
 * container answers for the container without entering it again. */
unsigned net_link_index(struct net_nl *nl, const char *name)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(mnl_socket_get_fd(nl->sock), SIOCGIFINDEX, &ifr) < 0)
        return 0;
    return (unsigned) ifr.ifr_ifindex;
}
