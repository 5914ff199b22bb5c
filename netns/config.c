/* Network definitions: the built-in default network and named ones in <config dir>/networks/NAME.json. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

#define DEFAULT_BRIDGE "brig0"
#define DEFAULT_SUBNET "10.89.0.0/24"

int net_validate_name(const char *name, struct brig_err **err)
{
    size_t len = strlen(name);

    if (len == 0 || len > 64 || name[0] == '.' || !strcmp(name, "none"))
        goto bad;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            goto bad;
    return 0;
bad:
    return brig_err_set(err, EINVAL,
                        "network name `%s`: expected 1 to 64 letters, digits, `_`, `-` or `.`, not starting with `.`",
                        name);
}

uint32_t net_mask4(uint8_t prefix)
{
    return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int net_parse_cidr4(const char *text, struct in_addr *addr, uint8_t *prefix)
{
    char buf[INET_ADDRSTRLEN + 4];
    const char *slash = strchr(text, '/');
    uint64_t len;

    if (!slash || (size_t) (slash - text) >= INET_ADDRSTRLEN || brig_parse_u64(slash + 1, &len) < 0 || len > 32)
        return -EINVAL;
    memcpy(buf, text, (size_t) (slash - text));
    buf[slash - text] = '\0';
    if (inet_pton(AF_INET, buf, addr) != 1)
        return -EINVAL;
    *prefix = (uint8_t) len;
    return 0;
}

int net_parse_cidr6(const char *text, struct in6_addr *addr, uint8_t *prefix)
{
    char buf[INET6_ADDRSTRLEN + 4];
    const char *slash = strchr(text, '/');
    uint64_t len;

    if (!slash || (size_t) (slash - text) >= INET6_ADDRSTRLEN || brig_parse_u64(slash + 1, &len) < 0 || len > 128)
        return -EINVAL;
    memcpy(buf, text, (size_t) (slash - text));
    buf[slash - text] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return -EINVAL;
    *prefix = (uint8_t) len;
    return 0;
}

void net_addr6_for(const struct net_config *cfg, struct in_addr ip4, struct in6_addr *out)
{
    uint32_t host = ntohl(ip4.s_addr) & ~net_mask4(cfg->prefix);

    *out = cfg->subnet6;
    out->s6_addr[12] |= (uint8_t) (host >> 24);
    out->s6_addr[13] |= (uint8_t) (host >> 16);
    out->s6_addr[14] |= (uint8_t) (host >> 8);
    out->s6_addr[15] |= (uint8_t) host;
}

void net_gateway6(const struct net_config *cfg, struct in6_addr *out)
{
    *out = cfg->subnet6;
    out->s6_addr[15] |= 1;
}

uint32_t net_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s; s++) {
        h ^= (uint8_t) *s;
        h *= 16777619u;
    }
    return h;
}

void net_veth_name(const char *id, uint32_t instance, char name[IFNAMSIZ])
{
    char key[512];

    snprintf(key, sizeof(key), "%s/%08x", id, instance);
    snprintf(name, IFNAMSIZ, "vb%08x", net_hash(key));
}

static const char *config_dir(void)
{
    const char *dir = getenv("BRIG_CONFIG_DIR");

    return dir && *dir ? dir : BRIG_NET_CONFIG_DIR;
}

static int apply_file(const char *path, const struct brig_network_file *f, struct net_config *cfg,
                      struct brig_err **err)
{
    if (f->bridge) {
        if (!*f->bridge || strlen(f->bridge) >= IFNAMSIZ || strchr(f->bridge, '/') || strchr(f->bridge, ' '))
            return brig_err_set(err, EINVAL, "%s: bridge `%s`: expected an interface name of 1 to 15 characters",
                                path, f->bridge);
        snprintf(cfg->bridge, sizeof(cfg->bridge), "%s", f->bridge);
    }
    if (f->subnet) {
        if (net_parse_cidr4(f->subnet, &cfg->subnet, &cfg->prefix) < 0 || cfg->prefix < 8 || cfg->prefix > 30)
            return brig_err_set(err, EINVAL, "%s: subnet `%s`: expected an IPv4 CIDR with a prefix of 8 to 30",
                                path, f->subnet);
        cfg->subnet.s_addr &= htonl(net_mask4(cfg->prefix));
        cfg->gateway.s_addr = htonl(ntohl(cfg->subnet.s_addr) + 1);
    } else if (!cfg->subnet.s_addr) {
        return brig_err_set(err, EINVAL, "%s: subnet: required", path);
    }
    if (f->gateway) {
        struct in_addr gw;
        uint32_t mask = net_mask4(cfg->prefix);
        if (inet_pton(AF_INET, f->gateway, &gw) != 1 || (ntohl(gw.s_addr) & mask) != ntohl(cfg->subnet.s_addr) ||
            (ntohl(gw.s_addr) & ~mask) == 0 || (ntohl(gw.s_addr) & ~mask) == ~mask)
            return brig_err_set(err, EINVAL, "%s: gateway `%s`: expected a host address inside %s", path,
                                f->gateway, f->subnet ? f->subnet : "the subnet");
        cfg->gateway = gw;
    }
    if (f->subnet6) {
        if (net_parse_cidr6(f->subnet6, &cfg->subnet6, &cfg->prefix6) < 0 || cfg->prefix6 < 64 ||
            cfg->prefix6 > 120)
            return brig_err_set(err, EINVAL, "%s: subnet6 `%s`: expected an IPv6 CIDR with a prefix of 64 to 120",
                                path, f->subnet6);
        for (int i = cfg->prefix6; i < 128; i++)
            cfg->subnet6.s6_addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
        cfg->has_v6 = true;
    }
    if (f->mtu && (f->mtu < 576 || f->mtu > 65535))
        return brig_err_set(err, EINVAL, "%s: mtu %u: expected 576 to 65535", path, f->mtu);
    cfg->mtu = f->mtu;
    cfg->keep_bridge = f->keep_bridge;
    return 0;
}

/* The built-in values a network starts from: the default network's own, or a bridge named after it. */
static int config_defaults(const char *name, struct net_config *cfg, struct brig_err **err)
{
    int ret = net_validate_name(name, err);

    if (ret < 0)
        return ret;
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "%s", name);
    if (!strcmp(name, BRIG_NET_DEFAULT_NETWORK)) {
        snprintf(cfg->bridge, sizeof(cfg->bridge), DEFAULT_BRIDGE);
        net_parse_cidr4(DEFAULT_SUBNET, &cfg->subnet, &cfg->prefix);
        cfg->gateway.s_addr = htonl(ntohl(cfg->subnet.s_addr) + 1);
    } else if (strlen(name) + 5 < IFNAMSIZ) {
        snprintf(cfg->bridge, sizeof(cfg->bridge), "brig-%s", name);
    }
    return 0;
}

int net_config_parse(const char *name, const char *path, const char *text, size_t len, struct net_config *cfg,
                     struct brig_err **err)
{
    struct brig_network_file file;
    int ret;

    ret = config_defaults(name, cfg, err);
    if (ret < 0)
        return ret;
    ret = brig_network_file_parse(text, len, path, &file, err);
    if (ret < 0)
        return ret;
    ret = apply_file(path, &file, cfg, err);
    brig_network_file_clear(&file);
    if (ret < 0)
        return ret;
    if (!cfg->bridge[0])
        return brig_err_set(err, EINVAL, "%s: bridge: required when the network name is longer than 10 characters",
                            path);
    return 0;
}

int net_config_load(const char *name, struct net_config *cfg, struct brig_err **err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *text = NULL;
    bool is_default = !strcmp(name, BRIG_NET_DEFAULT_NETWORK);
    size_t len = 0;
    int ret;

    ret = config_defaults(name, cfg, err);
    if (ret < 0)
        return ret;
    if (asprintf(&path, "%s/networks/%s.json", config_dir(), name) < 0)
        return brig_err_set(err, ENOMEM, "network `%s`", name);
    {
        cleanup_err struct brig_err *read_err = NULL;
        ret = brig_read_file_at(AT_FDCWD, path, &text, &len, &read_err);
        if (ret == -ENOENT && is_default)
            return 0;
        if (ret == -ENOENT)
            return brig_err_set(err, ENOENT, "network `%s`: no such network (no `%s`)", name, path);
        if (ret < 0)
            return brig_err_set(err, -ret, "network `%s`: read `%s`", name, path);
    }
    return net_config_parse(name, path, text, len, cfg, err);
}
