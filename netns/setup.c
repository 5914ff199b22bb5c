/* A container's network from prepare to teardown. Every kernel object made here has one undo path,
 * brig_net_teardown(), which reads only the record written before anything was claimed. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define CONTAINER_IFNAME "eth0"

void brig_net_free(struct brig_net *net)
{
    if (!net)
        return;
    if (net->state_dir_fd >= 0)
        close(net->state_dir_fd);
    if (net->net_fd >= 0)
        close(net->net_fd);
    if (net->commit_fd >= 0)
        close(net->commit_fd);
    free(net->id);
    free(net->ports);
    free(net->hosts_path);
    free(net->resolv_path);
    free(net);
}

const char *brig_net_ip(const struct brig_net *net)
{
    return net->ip_text;
}

const char *brig_net_hosts_path(const struct brig_net *net)
{
    return net->hosts_path;
}

const char *brig_net_resolv_path(const struct brig_net *net)
{
    return net->resolv_path;
}

int net_state_file_path(int dir_fd, const char *name, char **out)
{
    char link[64], dir[4096];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", dir_fd);
    n = readlink(link, dir, sizeof(dir) - 1);
    if (n < 0)
        return -errno;
    dir[n] = '\0';
    return asprintf(out, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

int net_etc_paths(struct brig_net *net, struct brig_err **err)
{
    if (net_state_file_path(net->state_dir_fd, BRIG_NET_HOSTS_FILE, &net->hosts_path) < 0 ||
        net_state_file_path(net->state_dir_fd, BRIG_NET_RESOLV_FILE, &net->resolv_path) < 0)
        return brig_err_set(err, ENOMEM, "network: state file paths");
    return 0;
}

static int copy_ports(const struct brig_net_opts *opts, struct brig_net *net)
{
    if (!opts->n_ports)
        return 0;
    net->ports = calloc(opts->n_ports, sizeof(*net->ports));
    if (!net->ports)
        return -ENOMEM;
    memcpy(net->ports, opts->ports, opts->n_ports * sizeof(*net->ports));
    net->n_ports = opts->n_ports;
    return 0;
}

static int write_record(const struct brig_net *net, const char *ip, struct brig_err **err)
{
    cleanup_free char *ports = NULL;
    char subnet[INET_ADDRSTRLEN + 4], addr[INET_ADDRSTRLEN];
    char subnet6[INET6_ADDRSTRLEN + 5], addr6[INET6_ADDRSTRLEN];
    struct net_record rec = {
        .id = net->id,
        .network = (char *) net->cfg.name,
        .bridge = (char *) net->cfg.bridge,
        .veth = (char *) net->veth,
        .ip = (char *) ip,
        .keep_bridge = net->cfg.keep_bridge,
    };

    if (net_ports_format(net->ports, net->n_ports, &ports) < 0)
        return brig_err_set(err, ENOMEM, "network record");
    rec.ports = ports;
    inet_ntop(AF_INET, &net->cfg.subnet, addr, sizeof(addr));
    snprintf(subnet, sizeof(subnet), "%s/%u", addr, net->cfg.prefix);
    rec.subnet = subnet;
    if (net->cfg.has_v6) {
        inet_ntop(AF_INET6, &net->cfg.subnet6, addr6, sizeof(addr6));
        snprintf(subnet6, sizeof(subnet6), "%s/%u", addr6, net->cfg.prefix6);
        rec.subnet6 = subnet6;
    }
    return net_record_write(net->state_dir_fd, &rec, err);
}

/* A port bound to an IPv6 address needs the container to have one. */
static int check_v6_ports(const struct brig_net *net, struct brig_err **err)
{
    for (size_t i = 0; i < net->n_ports; i++) {
        char addr[INET6_ADDRSTRLEN];
        if (!net->ports[i].host_v6 || net->cfg.has_v6)
            continue;
        inet_ntop(AF_INET6, &net->ports[i].host_ip6, addr, sizeof(addr));
        return brig_err_set(err, EINVAL, "port [%s]:%u/%s: network `%s` has no subnet6, so the container has no "
                            "IPv6 address", addr, (unsigned) net->ports[i].host_port,
                            net_proto_name(net->ports[i].proto), net->cfg.name);
    }
    return 0;
}

int brig_net_prepare(const char *root, int state_dir_fd, const char *id, const char *hostname,
                     const struct brig_net_opts *opts, struct brig_net **out, struct brig_err **err)
{
    cleanup_net struct brig_net *net = NULL;
    cleanup_close int leases_fd = -1;
    cleanup_close int ports_fd = -1;
    char short_id[13];
    int ret;

    *out = NULL;
    if (!opts->enabled)
        return 0;
    net = calloc(1, sizeof(*net));
    if (!net)
        return brig_err_set(err, ENOMEM, "network");
    net->state_dir_fd = net->net_fd = net->commit_fd = -1;
    if (opts->backend != BRIG_NET_BRIDGE) {
        net->id = strdup(id);
        if (!net->id || copy_ports(opts, net) < 0)
            return brig_err_set(err, ENOMEM, "network");
        net->state_dir_fd = fcntl(state_dir_fd, F_DUPFD_CLOEXEC, 3);
        if (net->state_dir_fd < 0)
            return brig_err_sys(err, "network: duplicate the state directory fd");
        snprintf(short_id, sizeof(short_id), "%s", id);
        ret = net_user_prepare(net, hostname && *hostname ? hostname : short_id, opts, err);
        if (ret < 0)
            return ret;
        *out = steal_ptr(net);
        return 0;
    }
    ret = net_config_load(opts->network ? opts->network : BRIG_NET_DEFAULT_NETWORK, &net->cfg, err);
    if (ret < 0)
        return ret;
    net->id = strdup(id);
    if (!net->id || copy_ports(opts, net) < 0)
        return brig_err_set(err, ENOMEM, "network");
    ret = check_v6_ports(net, err);
    if (ret < 0)
        return ret;
    net->state_dir_fd = fcntl(state_dir_fd, F_DUPFD_CLOEXEC, 3);
    if (net->state_dir_fd < 0)
        return brig_err_sys(err, "network: duplicate the state directory fd");
    {
        uint32_t instance = 0;
        if (getrandom(&instance, sizeof(instance), GRND_NONBLOCK) != (ssize_t) sizeof(instance))
            instance = (uint32_t) getpid() ^ (uint32_t) time(NULL);
        net_veth_name(id, instance, net->veth);
    }

    ret = net_dir_open(root, net->cfg.name, &net->net_fd, &leases_fd, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "network `%s`", net->cfg.name);
    ret = net_ports_dir_open(root, &ports_fd, err);
    if (ret < 0)
        return ret;
    /* Written before the first claim: whatever happens next, teardown knows where to look. */
    ret = write_record(net, NULL, err);
    if (ret < 0)
        return ret;
    ret = net_ports_claim(ports_fd, net->ports, net->n_ports, id, err);
    if (ret < 0)
        return ret;
    ret = net_lease_take(leases_fd, &net->cfg, id, opts->ip, &net->ip, err);
    if (ret < 0)
        return ret;
    inet_ntop(AF_INET, &net->ip, net->ip_text, sizeof(net->ip_text));
    ret = write_record(net, net->ip_text, err);
    if (ret < 0)
        return ret;

    snprintf(short_id, sizeof(short_id), "%s", id);
    ret = net_write_hosts(net->state_dir_fd, hostname && *hostname ? hostname : short_id, net->ip_text, err);
    if (ret == 0)
        ret = net_write_resolv(net->state_dir_fd, err);
    if (ret < 0)
        return ret;
    ret = net_etc_paths(net, err);
    if (ret < 0)
        return ret;
    *out = steal_ptr(net);
    return 0;
}

static int ensure_localnet_guard(struct brig_err **err)
{
    struct net_nl nl = {NULL};
    int ret = net_nl_open(NETLINK_NETFILTER, -1, &nl, err);

    if (ret == 0)
        ret = net_nft_ensure_localnet_guard(&nl, err);
    net_nl_close(&nl);
    return ret;
}

/* Creates the bridge when missing, with the gateway address, and the sysctls the port forwards need. */
static int ensure_bridge(struct brig_net *net, struct net_nl *host, unsigned *index, struct brig_err **err)
{
    const struct net_config *cfg = &net->cfg;
    char path[128];
    struct net_msgs m;
    int ret;

    *index = net_link_index(host, cfg->bridge);
    if (*index == 0) {
        if (net_msgs_init(&m, 4096) < 0)
            return brig_err_set(err, ENOMEM, "bridge");
        ret = net_link_bridge(&m, host, cfg);
        if (ret == 0)
            ret = net_msgs_send(host, &m, err);
        net_msgs_free(&m);
        if (ret < 0)
            return ret;
        *index = net_link_index(host, cfg->bridge);
        if (*index == 0)
            return brig_err_set(err, ENODEV, "bridge `%s` vanished after it was created", cfg->bridge);
        if (net_msgs_init(&m, 4096) < 0)
            return brig_err_set(err, ENOMEM, "bridge");
        ret = net_addr_add(&m, host, AF_INET, *index, &cfg->gateway, cfg->prefix, cfg->bridge);
        if (ret == 0 && cfg->has_v6) {
            struct in6_addr gw6;
            net_gateway6(cfg, &gw6);
            ret = net_addr_add(&m, host, AF_INET6, *index, &gw6, cfg->prefix6, cfg->bridge);
        }
        if (ret == 0)
            ret = net_msgs_send(host, &m, err);
        else
            ret = brig_err_set(err, -ret, "bridge `%s`: build address request", cfg->bridge);
        net_msgs_free(&m);
        if (ret < 0)
            return ret;
    }
    /* 127.0.0.1:PORT is DNATed to a container: the packet leaves through the bridge with a loopback source,
     * which the kernel drops unless the bridge allows it. */
    snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", cfg->bridge);
    ret = ensure_localnet_guard(err);
    if (ret == 0)
        ret = net_sysctl_ensure(path, "1", err);
    if (ret == 0)
        ret = net_sysctl_ensure("/proc/sys/net/ipv4/ip_forward", "1", err);
    if (ret == 0 && cfg->has_v6)
        ret = net_sysctl_ensure("/proc/sys/net/ipv6/conf/all/forwarding", "1", err);
    return ret;
}

/* Deletes the link, or only sets it down: enough for a veth whose pair goes with a dying namespace. */
static int remove_link(const char *name, bool only_down, struct brig_err **err)
{
    struct net_nl nl = {NULL};
    struct net_msgs m = {.buf = NULL};
    int ret = net_nl_open(NETLINK_ROUTE, -1, &nl, err);

    if (ret < 0)
        return ret;
    if (net_msgs_init(&m, 4096) < 0)
        ret = brig_err_set(err, ENOMEM, "delete link");
    else if ((ret = only_down ? net_link_down(&m, &nl, name) : net_link_delete(&m, &nl, name)) < 0)
        ret = brig_err_set(err, -ret, "%s link `%s`", only_down ? "set down" : "delete", name);
    else
        ret = net_msgs_send(&nl, &m, err);
    net_msgs_free(&m);
    net_nl_close(&nl);
    return ret;
}


void brig_net_commit(struct brig_net *net)
{
    if (!net || net->commit_fd < 0)
        return;
    /* One byte, then the close: the keeper tells a commit from a create that died (EOF alone). */
    if (brig_write_all(net->commit_fd, "c", 1) < 0)
        return;
    close(net->commit_fd);
    net->commit_fd = -1;
}

int brig_net_host_link(const struct brig_net *net, bool up, struct brig_err **err)
{
    if (net->backend != BRIG_NET_BRIDGE)
        return brig_err_msg(err, ENOTSUP, "network `%s`: a user-mode network has no host link",
                            net_backend_name(net->backend));
    struct net_nl nl = {NULL};
    struct net_msgs m = {.buf = NULL};
    unsigned index;
    int ret;

    if (!up)
        return remove_link(net->veth, true, err);
    index = if_nametoindex(net->veth);
    if (!index)
        return brig_err_sys(err, "veth `%s`", net->veth);
    ret = net_nl_open(NETLINK_ROUTE, -1, &nl, err);
    if (ret < 0)
        return ret;
    if (net_msgs_init(&m, 4096) < 0)
        ret = brig_err_set(err, ENOMEM, "set link up");
    else if ((ret = net_link_up(&m, &nl, index, net->veth)) < 0)
        ret = brig_err_set(err, -ret, "set `%s` up", net->veth);
    else
        ret = net_msgs_send(&nl, &m, err);
    net_msgs_free(&m);
    net_nl_close(&nl);
    return ret;
}

static int attach_host(struct brig_net *net, int netns_fd, struct brig_err **err)
{
    struct net_nl host = {NULL};
    struct net_msgs m = {.buf = NULL};
    unsigned bridge_index;
    int ret;

    ret = net_nl_open(NETLINK_ROUTE, -1, &host, err);
    if (ret < 0)
        return ret;
    /* Shared: the last container's teardown removes the bridge under the exclusive lock. */
    if (flock(net->net_fd, LOCK_SH) < 0) {
        ret = brig_err_sys(err, "lock network `%s`", net->cfg.name);
        goto out;
    }
    ret = ensure_bridge(net, &host, &bridge_index, err);
    if (ret < 0)
        goto out;
    if (net_msgs_init(&m, 4096) < 0) {
        ret = brig_err_set(err, ENOMEM, "veth");
        goto out;
    }
    ret = net_link_veth(&m, &host, net->veth, bridge_index, net->cfg.mtu, CONTAINER_IFNAME, netns_fd);
    if (ret == 0)
        ret = net_link_hairpin(&m, &host, net->veth);
    if (ret == 0)
        ret = net_msgs_send(&host, &m, err);
    else
        ret = brig_err_set(err, -ret, "veth `%s`: build request", net->veth);
out:
    flock(net->net_fd, LOCK_UN);
    net_msgs_free(&m);
    net_nl_close(&host);
    return ret;
}

static int attach_container(struct brig_net *net, int netns_fd, struct brig_err **err)
{
    const struct net_config *cfg = &net->cfg;
    struct net_nl nl = {NULL};
    struct net_msgs m = {.buf = NULL};
    unsigned index;
    int ret;

    ret = net_nl_open(NETLINK_ROUTE, netns_fd, &nl, err);
    if (ret < 0)
        return ret;
    index = net_link_index(&nl, CONTAINER_IFNAME);
    if (index == 0) {
        ret = brig_err_set(err, ENODEV, "no `" CONTAINER_IFNAME "` in the container's network namespace");
        goto out;
    }
    if (net_msgs_init(&m, 4096) < 0) {
        ret = brig_err_set(err, ENOMEM, "container network");
        goto out;
    }
    ret = net_link_up(&m, &nl, 1, "lo"); /* the loopback device is index 1 in every namespace */
    if (ret == 0)
        ret = net_addr_add(&m, &nl, AF_INET, index, &net->ip, cfg->prefix, CONTAINER_IFNAME);
    if (ret == 0)
        ret = net_link_up(&m, &nl, index, CONTAINER_IFNAME);
    if (ret == 0)
        ret = net_route_default(&m, &nl, AF_INET, &cfg->gateway);
    if (ret == 0 && cfg->has_v6) {
        struct in6_addr addr6, gw6;
        net_addr6_for(cfg, net->ip, &addr6);
        net_gateway6(cfg, &gw6);
        ret = net_addr_add(&m, &nl, AF_INET6, index, &addr6, cfg->prefix6, CONTAINER_IFNAME);
        if (ret == 0)
            ret = net_route_default(&m, &nl, AF_INET6, &gw6);
    }
    if (ret == 0)
        ret = net_msgs_send(&nl, &m, err);
    else
        ret = brig_err_set(err, -ret, "container network: build request");
out:
    net_msgs_free(&m);
    net_nl_close(&nl);
    return ret;
}

/* Whether a port has a forward in `ip brig` and in `ip6 brig`, for a container with (`v6`) or without an
 * IPv6 address: an unbound port is published in both, a bound one only in its address's family. */
static bool port_in_v4(const struct brig_net_port *port)
{
    return !port->host_v6;
}

static bool port_in_v6(const struct brig_net_port *port, bool v6)
{
    return v6 && (port->host_v6 || port->host_ip.s_addr == INADDR_ANY);
}

/* Expands port ranges into one forward per port and family. `addr6` only when `v6`. */
static int forwards_of(const struct brig_net_port *ports, size_t n, struct in_addr addr, bool v6,
                       const struct in6_addr *addr6, struct net_forward **out, size_t *n_out)
{
    size_t total = 0, k = 0;

    for (size_t i = 0; i < n; i++)
        total += ports[i].count * ((size_t) port_in_v4(&ports[i]) + (size_t) port_in_v6(&ports[i], v6));
    *out = calloc(total ? total : 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < ports[i].count; j++) {
            struct net_forward fw = {
                .proto = ports[i].proto,
                .host_ip = ports[i].host_ip,
                .host_ip6 = ports[i].host_ip6,
                .host_port = (uint16_t) (ports[i].host_port + j),
                .addr = addr,
                .port = (uint16_t) (ports[i].container_port + j),
            };
            if (port_in_v4(&ports[i]))
                (*out)[k++] = fw;
            if (port_in_v6(&ports[i], v6)) {
                fw.v6 = true;
                fw.addr6 = *addr6;
                (*out)[k++] = fw;
            }
        }
    }
    *n_out = total;
    return 0;
}

static int attach_nft(struct brig_net *net, struct brig_err **err)
{
    const struct net_config *cfg = &net->cfg;
    cleanup_free struct net_forward *fw = NULL;
    struct net_subnet subnet = {cfg->subnet, cfg->prefix, cfg->has_v6, cfg->subnet6, cfg->prefix6};
    struct net_nl nl = {NULL};
    struct in6_addr addr6 = IN6ADDR_ANY_INIT;
    size_t n = 0;
    int ret;

    if (cfg->has_v6)
        net_addr6_for(cfg, net->ip, &addr6);
    if (forwards_of(net->ports, net->n_ports, net->ip, cfg->has_v6, &addr6, &fw, &n) < 0)
        return brig_err_set(err, ENOMEM, "port forwards");
    ret = net_nl_open(NETLINK_NETFILTER, -1, &nl, err);
    if (ret < 0)
        return ret;
    ret = net_nft_add(&nl, &subnet, fw, n, err);
    net_nl_close(&nl);
    return ret;
}

int brig_net_attach(struct brig_net *net, pid_t pid, struct brig_err **err)
{
    cleanup_close int netns_fd = -1;
    char path[64];
    int ret;

    if (!net)
        return 0;
    if (net->backend != BRIG_NET_BRIDGE)
        return net_user_attach(net, pid, err);
    snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
    netns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0)
        return brig_err_sys(err, "network: open `%s`", path);
    ret = attach_host(net, netns_fd, err);
    if (ret == 0)
        ret = attach_container(net, netns_fd, err);
    if (ret == 0)
        ret = attach_nft(net, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "network `%s`", net->cfg.name);
    return 0;
}

/* ---- teardown ---- */

/* Keeps the first failure of a sequence of steps that all run. */
static void keep_first(int ret, struct brig_err **step_err, int *first, struct brig_err **err)
{
    if (ret < 0 && *first == 0) {
        *first = ret;
        *err = steal_ptr(*step_err);
    }
    brig_err_free(step_err);
}

/* Only ports whose claim file still names this container: a failed create must not remove the forward of
 * the container whose port it collided with. */
/* The one nfnetlink socket of a teardown, opened on first use: its release waits for nf_tables' destroy work
 * (see net_nl_close_detached), and holds nf_tables' commit lock meanwhile, which a second socket's batch
 * in the same teardown would then wait for. */
static int teardown_nft(struct net_nl *nl, struct brig_err **err)
{
    return nl->sock ? 0 : net_nl_open(NETLINK_NETFILTER, -1, nl, err);
}

static int teardown_ports(const char *root, const struct net_record *rec, struct net_nl *nl, struct brig_err **err)
{
    cleanup_free struct brig_net_port *ports = NULL;
    cleanup_free struct net_forward *fw = NULL;
    cleanup_close int ports_fd = -1;
    size_t n_ports = 0, n_fw = 0, owned = 0;
    int ret;

    if (!rec->ports || !*rec->ports)
        return 0;
    ret = brig_net_parse_ports(rec->ports, &ports, &n_ports, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "network record");
    ret = net_ports_dir_open(root, &ports_fd, err);
    if (ret < 0)
        return ret;
    /* Keys are all a delete needs: no addresses. */
    if (forwards_of(ports, n_ports, (struct in_addr){0}, rec->subnet6 != NULL, &in6addr_any, &fw, &n_fw) < 0)
        return brig_err_set(err, ENOMEM, "port forwards");
    for (size_t i = 0; i < n_fw; i++)
        if (net_port_owned(ports_fd, fw[i].proto, fw[i].host_port, rec->id))
            fw[owned++] = fw[i];
    if (owned) {
        ret = teardown_nft(nl, err);
        if (ret == 0)
            ret = net_nft_del(nl, NULL, fw, owned, err);
        if (ret < 0)
            return ret;
    }
    for (size_t i = 0; i < owned; i++)
        net_port_release(ports_fd, fw[i].proto, fw[i].host_port, rec->id);
    return 0;
}

/* Deleting a bridge waits for its unregistration (about 40 ms on the development VM), which the last
 * container's `run` or `delete` would otherwise pay. A child deletes it instead, holding the network's lock:
 * a flock belongs to the open file, which the child shares, so the next create on this network waits for the
 * lock and never meets a bridge on its way out. The caller must neither unlock nor wait. False when no child
 * could be made (the caller then deletes the bridge itself). */
static bool remove_bridge_detached(const char *bridge, int locked_fd)
{
    pid_t child = fork();

    if (child < 0)
        return false;
    if (child == 0) {
        struct brig_err *child_err = NULL;
        brig_close_fds_except(&locked_fd, 1, 0);
        _exit(remove_link(bridge, false, &child_err) < 0 ? 1 : 0);
    }
    return true;
}

static int teardown_bridge(const struct net_record *rec, int net_fd, int leases_fd, struct net_nl *nl,
                           struct brig_err **err)
{
    int ret = 0;

    if (rec->keep_bridge)
        return 0;
    if (flock(net_fd, LOCK_EX) < 0)
        return brig_err_sys(err, "lock network `%s`", rec->network);
    if (net_leases_empty(leases_fd)) {
        struct net_subnet subnet = {.has_v6 = rec->subnet6 != NULL};
        if (net_parse_cidr4(rec->subnet, &subnet.addr, &subnet.prefix) < 0)
            ret = brig_err_set(err, EINVAL, "network record: subnet `%s`", rec->subnet);
        if (ret == 0 && subnet.has_v6 && net_parse_cidr6(rec->subnet6, &subnet.addr6, &subnet.prefix6) < 0)
            ret = brig_err_set(err, EINVAL, "network record: subnet6 `%s`", rec->subnet6);
        if (ret == 0)
            ret = teardown_nft(nl, err);
        if (ret == 0)
            ret = net_nft_del(nl, &subnet, NULL, 0, err);
        if (ret == 0 && remove_bridge_detached(rec->bridge, net_fd))
            return 0; /* the child unlocks, by exiting */
        if (ret == 0)
            ret = remove_link(rec->bridge, false, err);
    }
    flock(net_fd, LOCK_UN);
    return ret;
}

int brig_net_teardown(const char *root, int state_dir_fd, bool netns_gone, struct brig_err **err)
{
    struct net_record rec;
    struct brig_err *step_err = NULL;
    cleanup_close int net_fd = -1;
    cleanup_close int leases_fd = -1;
    struct net_nl nft = {NULL};
    int first = 0, ret;
    bool handled = false;

    ret = net_user_teardown(state_dir_fd, &handled, err);
    if (ret < 0 || handled)
        return ret;
    ret = net_record_read(state_dir_fd, &rec, err);
    if (ret == -ENOENT)
        return 0;
    if (ret < 0)
        return ret;
    /* Each step runs even when an earlier one failed; the first failure is the one reported. */
    keep_first(teardown_ports(root, &rec, &nft, &step_err), &step_err, &first, err);
    /* Deleting the host end waits for the device's unregistration (RCU grace periods: 10-30 ms on the
     * development VM). When the container's namespace is going, the kernel removes the pair with it, in
     * the background; setting the host end down (cheap) takes it off the bridge at once, so the dying
     * namespace cannot answer for the address that the next container may get. */
    keep_first(remove_link(rec.veth, netns_gone, &step_err), &step_err, &first, err);
    ret = net_dir_open(root, rec.network, &net_fd, &leases_fd, &step_err);
    keep_first(ret, &step_err, &first, err);
    if (ret == 0) {
        char found[INET_ADDRSTRLEN];
        if (rec.ip)
            net_lease_release(leases_fd, rec.ip, rec.id);
        else if (net_lease_find(leases_fd, rec.id, found, sizeof(found)) == 0)
            net_lease_release(leases_fd, found, rec.id);
        keep_first(teardown_bridge(&rec, net_fd, leases_fd, &nft, &step_err), &step_err, &first, err);
    }
    net_nl_close_detached(&nft);
    if (first == 0) {
        unlinkat(state_dir_fd, BRIG_NET_HOSTS_FILE, 0);
        unlinkat(state_dir_fd, BRIG_NET_RESOLV_FILE, 0);
        unlinkat(state_dir_fd, BRIG_NET_RECORD_FILE, 0);
    }
    net_record_clear(&rec);
    if (first < 0)
        return brig_err_wrap(err, first, "network teardown");
    return 0;
}
