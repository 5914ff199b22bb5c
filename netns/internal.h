/* Private to netns/: network configs, leases and port claims on disk, rtnetlink and nftables messages. */
#ifndef BRIG_NETNS_INTERNAL_H
#define BRIG_NETNS_INTERNAL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "netns.h"

struct mnl_socket;

/* ---- network configs (config.c) ---- */

struct net_config {
    char name[65];
    char bridge[IFNAMSIZ];
    struct in_addr subnet; /* network address */
    uint8_t prefix;
    struct in_addr gateway;
    bool has_v6;
    struct in6_addr subnet6;
    uint8_t prefix6;
    uint32_t mtu; /* 0: the kernel's default */
    bool keep_bridge;
};

int net_validate_name(const char *name, struct brig_err **err);
/* The built-in default network, overridable by a file of the same name. */
int net_config_load(const char *name, struct net_config *cfg, struct brig_err **err);
/* The file's text (`path` names it in messages) over the network's built-in values. */
int net_config_parse(const char *name, const char *path, const char *text, size_t len, struct net_config *cfg,
                     struct brig_err **err);
int net_parse_cidr4(const char *text, struct in_addr *addr, uint8_t *prefix);
int net_parse_cidr6(const char *text, struct in6_addr *addr, uint8_t *prefix);
uint32_t net_mask4(uint8_t prefix); /* host order */
/* The container's IPv6 address: the subnet6 prefix with the IPv4 address's host part. */
void net_addr6_for(const struct net_config *cfg, struct in_addr ip4, struct in6_addr *out);
void net_gateway6(const struct net_config *cfg, struct in6_addr *out);

/* "vb" + 8 hex digits of a hash of the id and `instance` (random per create): a container created again
 * under the same id must not meet the pair of its predecessor, which the kernel may still be removing.
 * The name is kept in the network record. */
void net_veth_name(const char *id, uint32_t instance, char name[IFNAMSIZ]);
uint32_t net_hash(const char *s);

/* ---- the record teardown reads (record.c) ---- */

struct net_record {
    char *id;
    char *network;
    char *bridge;
    char *veth;
    char *ip;    /* NULL until the lease is taken */
    char *ports; /* canonical brig_net_parse_ports() text, "" when none */
    char *subnet; /* "10.89.0.0/24": its element leaves the nft set with the bridge */
    char *subnet6; /* "fd99::/64", NULL when the network has none: the container's ports are in `ip6 brig` too */
    bool keep_bridge;
};

int net_record_write(int dir_fd, const struct net_record *rec, struct brig_err **err);
/* -ENOENT (without *err) when there is no record. */
int net_record_read(int dir_fd, struct net_record *rec, struct brig_err **err);
void net_record_clear(struct net_record *rec);
/* Canonical text of a port list, which brig_net_parse_ports() reads back. */
int net_ports_format(const struct brig_net_port *ports, size_t n, char **out);

/* ---- leases and port claims under <root>/.net (claims.c) ---- */

/* <root>/.net/networks/<name> (made when missing); `leases_fd` is its leases/ directory. */
int net_dir_open(const char *root, const char *network, int *net_fd, int *leases_fd, struct brig_err **err);
int net_ports_dir_open(const char *root, int *ports_fd, struct brig_err **err);

int net_lease_take(int leases_fd, const struct net_config *cfg, const char *id, const char *want,
                   struct in_addr *out, struct brig_err **err);
/* Removes the lease when it is this container's. */
void net_lease_release(int leases_fd, const char *ip, const char *id);
/* Finds this container's lease by scanning (the record lost it); 0 or -ENOENT. */
int net_lease_find(int leases_fd, const char *id, char *ip, size_t len);
bool net_leases_empty(int leases_fd);

/* Claims every host port of `ports` for `id` (O_EXCL files "tcp-8080"); on a conflict, releases what it took. */
int net_ports_claim(int ports_fd, const struct brig_net_port *ports, size_t n, const char *id,
                    struct brig_err **err);
bool net_port_owned(int ports_fd, uint8_t proto, uint16_t port, const char *id);
void net_port_release(int ports_fd, uint8_t proto, uint16_t port, const char *id);
const char *net_proto_name(uint8_t proto);

/* ---- netlink sockets and batches (netlink.c) ---- */

struct net_nl {
    struct mnl_socket *sock;
    uint32_t seq;
};

/* A socket of `bus` (NETLINK_ROUTE, NETLINK_NETFILTER) in the network namespace `netns_fd` (-1: ours). */
int net_nl_open(int bus, int netns_fd, struct net_nl *nl, struct brig_err **err);
void net_nl_close(struct net_nl *nl);
/* For an nfnetlink socket that has just deleted set elements: releasing it waits for nf_tables to free them
 * (the kernel flushes its destroy work, an RCU grace period: 5-10 ms on the development VM). A child that
 * does nothing else holds the last reference and pays that wait, off the caller's path; it closes every
 * other fd first, so nobody reading brig's output waits for it either. */
void net_nl_close_detached(struct net_nl *nl);

#define NET_MSGS_MAX 24

/* Messages sent in one sendmsg(); the kernel answers each failure with its errno and extended ack. */
struct net_msgs {
    char *buf;
    size_t cap;
    size_t len;
    unsigned n;
    struct {
        uint32_t seq;
        int ignore; /* an errno that counts as success (EEXIST, ENOENT...), or 0 */
        char what[160];
    } info[NET_MSGS_MAX];
};

int net_msgs_init(struct net_msgs *m, size_t cap);
void net_msgs_free(struct net_msgs *m);
/* Starts a message; `what` names it in errors ("create veth `vb12345678`"). NULL when full. */
struct nlmsghdr *net_msgs_put(struct net_msgs *m, struct net_nl *nl, uint16_t type, uint16_t flags, int ignore,
                              const char *what);
/* Ends the message started last (after its attributes were added). */
void net_msgs_end(struct net_msgs *m, struct nlmsghdr *nlh);
/* Marks bytes added by a library that wrote a whole message at the tail (libnftnl's batch begin/end). */
void net_msgs_add_raw(struct net_msgs *m, size_t len);
/* Sends all, then collects the answers: the first failure becomes *err ("<what>: <kernel message>: <errno>"). */
int net_msgs_send(struct net_nl *nl, struct net_msgs *m, struct brig_err **err);

/* ---- rtnetlink messages (link.c) ---- */

int net_link_bridge(struct net_msgs *m, struct net_nl *nl, const struct net_config *cfg);
int net_link_veth(struct net_msgs *m, struct net_nl *nl, const char *host_name, unsigned bridge_index,
                  uint32_t mtu, const char *peer_name, int peer_netns_fd);
int net_link_hairpin(struct net_msgs *m, struct net_nl *nl, const char *name);
int net_link_up(struct net_msgs *m, struct net_nl *nl, unsigned index, const char *name);
int net_link_delete(struct net_msgs *m, struct net_nl *nl, const char *name);
/* By name; a link that is already gone is not an error (nor for net_link_delete). */
int net_link_down(struct net_msgs *m, struct net_nl *nl, const char *name);
int net_addr_add(struct net_msgs *m, struct net_nl *nl, int family, unsigned index, const void *addr,
                 uint8_t prefix, const char *ifname);
int net_route_default(struct net_msgs *m, struct net_nl *nl, int family, const void *gateway);
/* The index of `name` in the namespace of `nl`'s socket; 0 when there is no such link. */
unsigned net_link_index(struct net_nl *nl, const char *name);

/* ---- nftables (nft.c) ---- */

#define NET_NFT_TABLE "brig"

/* One port forward as a map element: in `ip brig`, or in `ip6 brig` when `v6`. */
struct net_forward {
    uint8_t proto;
    bool v6;
    struct in_addr host_ip;   /* INADDR_ANY: the pf_any map */
    struct in6_addr host_ip6; /* the same for v6: in6addr_any means pf_any */
    uint16_t host_port;
    struct in_addr addr;
    struct in6_addr addr6;
    uint16_t port;
};

/* A network's subnets: `addr` in `ip brig`'s set, `addr6` in `ip6 brig`'s when `has_v6`. */
struct net_subnet {
    struct in_addr addr;
    uint8_t prefix;
    bool has_v6;
    struct in6_addr addr6;
    uint8_t prefix6;
};

/* Creates table `ip brig` with its maps, sets and rules unless it exists (`ip6 brig` is made by
 * net_nft_add() when an element needs it). */
/* A bridge with route_localnet accepts packets for 127.0.0.0/8 from its ports: without this guard a container
 * crafting one (CAP_NET_RAW is enough) reached the host's services bound to 127.0.0.1 (as kube-proxy's
 * CVE-2020-8558). The guard drops every such packet that did not come in on a loopback device, before
 * conntrack; the replies to 127.0.0.1:PORT forwards are addressed to the gateway until conntrack un-NATs them. */
int net_nft_ensure_localnet_guard(struct net_nl *nl, struct brig_err **err);
int net_nft_ensure_table(struct net_nl *nl, struct brig_err **err);
/* One atomic batch over both tables: adds `subnet` to the subnets sets (when not NULL) and the forwards to
 * the maps. Creates the tables first when they are missing. */
int net_nft_add(struct net_nl *nl, const struct net_subnet *subnet, const struct net_forward *fw, size_t n,
                struct brig_err **err);
/* One batch removing the forwards (and `subnet` from the set, when not NULL); elements already gone are
 * skipped. */
int net_nft_del(struct net_nl *nl, const struct net_subnet *subnet, const struct net_forward *fw, size_t n,
                struct brig_err **err);

/* ---- /etc/hosts and /etc/resolv.conf (etc.c) ---- */

int net_write_hosts(int dir_fd, const char *hostname, const char *ip, struct brig_err **err);
int net_write_resolv(int dir_fd, struct brig_err **err);
/* The host's resolv.conf without its nameservers, under `nameserver` (a user-mode helper's DNS address). */
int net_write_resolv_for(int dir_fd, const char *nameserver, struct brig_err **err);
/* resolv.conf text without loopback nameservers (which mean nothing inside the container). */
char *net_resolv_filter(const char *text);

/* ---- the prepared network (setup.c; usermode.c fills the user-mode part) ---- */

struct brig_net {
    char *id;
    int state_dir_fd;
    int net_fd; /* <root>/.net/networks/<name>, flock()ed around the bridge's life */
    struct net_config cfg;
    struct brig_net_port *ports;
    size_t n_ports;
    struct in_addr ip;
    char ip_text[INET_ADDRSTRLEN];
    char veth[IFNAMSIZ];
    char *hosts_path;
    char *resolv_path;
    /* user-mode */
    enum brig_net_backend backend;
    bool allow_host_loopback;
    char helper[4096]; /* the helper's absolute path */
    int commit_fd;     /* write end of the keeper's commit pipe, -1 when none */
};

int net_state_file_path(int dir_fd, const char *name, char **out);
/* hosts_path and resolv_path: the files written in the network's state directory. */
int net_etc_paths(struct brig_net *net, struct brig_err **err);

/* ---- user-mode helpers (usermode.c) ---- */

const char *net_backend_name(enum brig_net_backend backend);
/* The helper binary of `backend` in $PATH; "--network pasta: pasta not found (install passt)" when missing. */
int net_user_find_helper(enum brig_net_backend backend, char *path, size_t len, struct brig_err **err);
int net_user_prepare(struct brig_net *net, const char *hostname, const struct brig_net_opts *opts,
                     struct brig_err **err);
int net_user_attach(struct brig_net *net, pid_t pid, struct brig_err **err);
/* 0 with *handled false when the state directory holds no user-mode record. */
int net_user_teardown(int state_dir_fd, bool *handled, struct brig_err **err);

/* ---- sysctls in the caller's network namespace (sysctl.c) ---- */

int net_sysctl_ensure(const char *path, const char *value, struct brig_err **err);

#endif
