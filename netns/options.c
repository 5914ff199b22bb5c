/* Network options: the run.brig.* annotations and the CLI flags that cmd/ translates into the same struct. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

void brig_net_opts_clear(struct brig_net_opts *opts)
{
    free(opts->network);
    free(opts->ip);
    free(opts->ports);
    memset(opts, 0, sizeof(*opts));
}

/* "80" or "9000-9005". */
static int parse_range(const char *text, uint16_t *first, uint16_t *count)
{
    char buf[16];
    const char *dash = strchr(text, '-');
    uint64_t a, b;

    if (strlen(text) >= sizeof(buf))
        return -EINVAL;
    if (!dash) {
        if (brig_parse_u64(text, &a) < 0 || a == 0 || a > 65535)
            return -EINVAL;
        *first = (uint16_t) a;
        *count = 1;
        return 0;
    }
    memcpy(buf, text, (size_t) (dash - text));
    buf[dash - text] = '\0';
    if (brig_parse_u64(buf, &a) < 0 || brig_parse_u64(dash + 1, &b) < 0 || a == 0 || b > 65535 || b < a)
        return -EINVAL;
    *first = (uint16_t) a;
    *count = (uint16_t) (b - a + 1);
    return 0;
}

static int parse_proto(const char *text, uint8_t *proto)
{
    if (!strcmp(text, "tcp"))
        *proto = IPPROTO_TCP;
    else if (!strcmp(text, "udp"))
        *proto = IPPROTO_UDP;
    else if (!strcmp(text, "sctp"))
        *proto = IPPROTO_SCTP;
    else
        return -EINVAL;
    return 0;
}

static int parse_one(char *item, struct brig_net_port *port, struct brig_err **err)
{
    char *fields[3];
    size_t n = 0;
    char *slash = strchr(item, '/');
    char *p = item;

    memset(port, 0, sizeof(*port));
    port->proto = IPPROTO_TCP;
    if (slash) {
        *slash = '\0';
        if (parse_proto(slash + 1, &port->proto) < 0)
            return brig_err_set(err, EINVAL, "protocol `%s`: expected tcp, udp or sctp", slash + 1);
    }
    if (*p == '[') {
        char *close = strchr(p, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        *close = '\0';
        if (inet_pton(AF_INET6, p + 1, &port->host_ip6) != 1)
            return brig_err_set(err, EINVAL, "host address `%s`: expected an IPv6 address in brackets", p + 1);
        /* A packet from ::1 cannot leave through the bridge: IPv6 has no route_localnet. */
        if (IN6_IS_ADDR_LOOPBACK(&port->host_ip6))
            return brig_err_set(err, EINVAL, "host address `::1`: IPv6 loopback cannot be forwarded to a container");
        port->host_v6 = true;
        p = close + 2;
    }
    while (n < 3) {
        char *colon = strchr(p, ':');
        fields[n++] = p;
        if (!colon)
            break;
        *colon = '\0';
        p = colon + 1;
        if (n == 3)
            return -EINVAL;
    }
    if (port->host_v6 && n != 2)
        return -EINVAL;
    if (n == 1) {
        if (parse_range(fields[0], &port->host_port, &port->count) < 0)
            return -EINVAL;
        port->container_port = port->host_port;
        return 0;
    }
    if (n == 3 && inet_pton(AF_INET, fields[0], &port->host_ip) != 1)
        return brig_err_set(err, EINVAL, "host address `%s`: expected an IPv4 address or an IPv6 one in brackets",
                            fields[0]);
    {
        uint16_t host_count, container_count;
        if (parse_range(fields[n - 2], &port->host_port, &host_count) < 0 ||
            parse_range(fields[n - 1], &port->container_port, &container_count) < 0)
            return -EINVAL;
        if (host_count != container_count)
            return brig_err_set(err, EINVAL, "host range of %u ports and container range of %u ports differ",
                                host_count, container_count);
        port->count = host_count;
    }
    return 0;
}

int brig_net_parse_ports(const char *list, struct brig_net_port **ports, size_t *n_ports, struct brig_err **err)
{
    cleanup_free char *copy = strdup(list);
    char *save = NULL;

    if (!copy)
        return brig_err_set(err, ENOMEM, "ports");
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char original[128];
        struct brig_net_port port, *grown;
        int ret;

        while (*item == ' ')
            item++;
        if (!*item)
            continue;
        snprintf(original, sizeof(original), "%s", item);
        ret = parse_one(item, &port, err);
        if (ret < 0) {
            if (*err)
                return brig_err_wrap(err, ret, "port `%s`", original);
            return brig_err_set(err, EINVAL,
                                "port `%s`: expected [HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END][/tcp|udp|sctp]",
                                original);
        }
        grown = realloc(*ports, (*n_ports + 1) * sizeof(**ports));
        if (!grown)
            return brig_err_set(err, ENOMEM, "ports");
        *ports = grown;
        (*ports)[(*n_ports)++] = port;
    }
    return 0;
}

static bool asks_new_netns(const struct brig_spec *spec)
{
    const struct brig_namespace *ns = brig_spec_namespace(spec, BRIG_NS_NETWORK);

    return ns && !ns->path;
}

int brig_net_opts_check_spec(const struct brig_net_opts *opts, const struct brig_spec *spec, struct brig_err **err)
{
    if (opts->enabled && !asks_new_netns(spec))
        return brig_err_set(err, EINVAL,
                            "network `%s`: the config does not create a new network namespace (linux.namespaces "
                            "has no `network` entry without a path)",
                            opts->network);
    return 0;
}

/* "slirp4netns" or "pasta", with ":OPT[,OPT]" options. 1 when `network` names neither. */
static int set_usermode(struct brig_net_opts *opts, const char *network, struct brig_err **err)
{
    static const char *const names[] = {[BRIG_NET_SLIRP4NETNS] = "slirp4netns", [BRIG_NET_PASTA] = "pasta"};
    const char *colon = strchr(network, ':');
    size_t len = colon ? (size_t) (colon - network) : strlen(network);
    enum brig_net_backend backend = BRIG_NET_BRIDGE;
    char path[4096];
    int ret;

    for (size_t i = BRIG_NET_SLIRP4NETNS; i < ARRAY_SIZE(names); i++)
        if (strlen(names[i]) == len && !strncmp(network, names[i], len))
            backend = (enum brig_net_backend) i;
    if (backend == BRIG_NET_BRIDGE)
        return 1;
    opts->allow_host_loopback = false;
    if (colon) {
        cleanup_free char *list = strdup(colon + 1);
        char *save = NULL;
        if (!list)
            return brig_err_set(err, ENOMEM, "network");
        for (char *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
            if (strcmp(o, "allow-host-loopback"))
                return brig_err_msg(err, EINVAL, "--network %s: unknown option `%s` (expected allow-host-loopback)",
                                    names[backend], o);
            opts->allow_host_loopback = true;
        }
    }
    ret = net_user_find_helper(backend, path, sizeof(path), err);
    if (ret < 0)
        return ret;
    opts->network = strdup(names[backend]);
    if (!opts->network)
        return brig_err_set(err, ENOMEM, "network");
    opts->backend = backend;
    opts->named = true;
    opts->enabled = true;
    return 0;
}

int brig_net_opts_pick_usermode(struct brig_net_opts *opts, struct brig_err **err)
{
    static const char *const order[] = {"pasta", "slirp4netns"};

    if (!opts->enabled || opts->named || opts->backend != BRIG_NET_BRIDGE)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        cleanup_err struct brig_err *missing = NULL;
        char path[4096];
        enum brig_net_backend b = i == 0 ? BRIG_NET_PASTA : BRIG_NET_SLIRP4NETNS;
        if (net_user_find_helper(b, path, sizeof(path), &missing) < 0)
            continue;
        free(opts->network);
        opts->network = NULL;
        return set_usermode(opts, order[i], err);
    }
    return brig_err_msg(err, ENOENT, "network: rootless, published ports need pasta (install passt) or slirp4netns; "
                                     "neither is installed");
}

int brig_net_opts_set_network(struct brig_net_opts *opts, const char *network, struct brig_err **err)
{
    free(opts->network);
    opts->network = NULL;
    opts->backend = BRIG_NET_BRIDGE;
    opts->named = false;
    if (!strcmp(network, "none")) {
        opts->enabled = false;
        return 0;
    }
    int ret = set_usermode(opts, network, err);
    if (ret <= 0)
        return ret;
    ret = net_validate_name(network, err);
    if (ret < 0)
        return ret;
    opts->network = strdup(network);
    if (!opts->network)
        return brig_err_set(err, ENOMEM, "network");
    opts->named = true;
    opts->enabled = true;
    return 0;
}

static int default_network(struct brig_net_opts *opts, struct brig_err **err)
{
    if (opts->network)
        return 0;
    opts->network = strdup(BRIG_NET_DEFAULT_NETWORK);
    if (!opts->network)
        return brig_err_set(err, ENOMEM, "network");
    opts->enabled = true;
    return 0;
}

int brig_net_opts_set_ip(struct brig_net_opts *opts, const char *ip, struct brig_err **err)
{
    struct in_addr addr;

    if (inet_pton(AF_INET, ip, &addr) != 1)
        return brig_err_set(err, EINVAL, "address `%s`: expected an IPv4 address", ip);
    free(opts->ip);
    opts->ip = strdup(ip);
    if (!opts->ip)
        return brig_err_set(err, ENOMEM, "address");
    return default_network(opts, err);
}

int brig_net_opts_add_ports(struct brig_net_opts *opts, const char *list, struct brig_err **err)
{
    int ret = brig_net_parse_ports(list, &opts->ports, &opts->n_ports, err);

    if (ret < 0)
        return ret;
    return opts->n_ports ? default_network(opts, err) : 0;
}

int brig_net_opts_from_spec(const struct brig_spec *spec, struct brig_net_opts *opts, struct brig_err **err)
{
    const char *network = brig_spec_annotation(spec, BRIG_NET_ANNOTATION_NETWORK);
    const char *ports = brig_spec_annotation(spec, BRIG_NET_ANNOTATION_PORTS);
    const char *ip = brig_spec_annotation(spec, BRIG_NET_ANNOTATION_IP);
    int ret = 0;

    memset(opts, 0, sizeof(*opts));
    if (network)
        ret = brig_net_opts_set_network(opts, network, err);
    if (ret == 0 && ip)
        ret = brig_net_opts_set_ip(opts, ip, err);
    if (ret == 0 && ports)
        ret = brig_net_opts_add_ports(opts, ports, err);
    if (ret == 0 && network && !strcmp(network, "none")) {
        if (opts->n_ports || opts->ip)
            ret = brig_err_set(err, EINVAL, "network `none` takes no published ports and no address");
        opts->enabled = false;
    }
    if (ret == 0)
        ret = brig_net_opts_check_spec(opts, spec, err);
    if (ret < 0) {
        brig_net_opts_clear(opts);
        return brig_err_wrap(err, ret, "annotations");
    }
    return 0;
}
