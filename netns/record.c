/* The record of a container's network in its state directory: written before anything is claimed, so a
 * teardown after a crash at any point knows what to look for. One `key=value` per line. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

const char *net_proto_name(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP:
        return "tcp";
    case IPPROTO_UDP:
        return "udp";
    case IPPROTO_SCTP:
        return "sctp";
    default:
        return "?";
    }
}

int net_ports_format(const struct brig_net_port *ports, size_t n, char **out)
{
    size_t cap = n * 96 + 1, len = 0; /* "[IPv6]:65535-65535:65535-65535/sctp," fits */
    char *text = malloc(cap);

    if (!text)
        return -ENOMEM;
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char ip[INET6_ADDRSTRLEN + 2];
        if (ports[i].host_v6) {
            char addr[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &ports[i].host_ip6, addr, sizeof(addr));
            snprintf(ip, sizeof(ip), "[%s]", addr);
        } else {
            inet_ntop(AF_INET, &ports[i].host_ip, ip, sizeof(ip));
        }
        len += (size_t) snprintf(text + len, cap - len, "%s%s:%u-%u:%u-%u/%s", i ? "," : "", ip,
                                 (unsigned) ports[i].host_port, (unsigned) (ports[i].host_port + ports[i].count - 1),
                                 (unsigned) ports[i].container_port,
                                 (unsigned) (ports[i].container_port + ports[i].count - 1),
                                 net_proto_name(ports[i].proto));
    }
    *out = text;
    return 0;
}

int net_record_write(int dir_fd, const struct net_record *rec, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    int len = asprintf(&text,
                       "id=%s\nnetwork=%s\nbridge=%s\nsubnet=%s\nsubnet6=%s\nveth=%s\nkeep=%d\nports=%s\nip=%s\n",
                       rec->id, rec->network, rec->bridge, rec->subnet, rec->subnet6 ? rec->subnet6 : "", rec->veth,
                       rec->keep_bridge, rec->ports ? rec->ports : "", rec->ip ? rec->ip : "");

    if (len < 0)
        return brig_err_set(err, ENOMEM, "network record");
    return brig_write_file_atomic_at(dir_fd, BRIG_NET_RECORD_FILE, text, (size_t) len, 0600, err);
}

static int take(char **field, const char *value)
{
    free(*field);
    *field = *value ? strdup(value) : NULL;
    return *value && !*field ? -ENOMEM : 0;
}

static int record_read_file(int dir_fd, const char *name, struct net_record *rec, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *read_err = NULL;
    char *save = NULL;
    int ret;

    memset(rec, 0, sizeof(*rec));
    ret = brig_read_file_at(dir_fd, name, &text, NULL, &read_err);
    if (ret == -ENOENT)
        return ret;
    if (ret < 0) {
        *err = steal_ptr(read_err);
        return ret;
    }
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *value = eq + 1;
        if (!strcmp(line, "id"))
            ret = take(&rec->id, value);
        else if (!strcmp(line, "network"))
            ret = take(&rec->network, value);
        else if (!strcmp(line, "bridge"))
            ret = take(&rec->bridge, value);
        else if (!strcmp(line, "subnet"))
            ret = take(&rec->subnet, value);
        else if (!strcmp(line, "subnet6"))
            ret = take(&rec->subnet6, value);
        else if (!strcmp(line, "veth"))
            ret = take(&rec->veth, value);
        else if (!strcmp(line, "ports"))
            ret = take(&rec->ports, value);
        else if (!strcmp(line, "ip"))
            ret = take(&rec->ip, value);
        else if (!strcmp(line, "keep"))
            rec->keep_bridge = !strcmp(value, "1");
        if (ret < 0) {
            net_record_clear(rec);
            return brig_err_set(err, ENOMEM, "network record");
        }
    }
    if (!rec->id || !rec->network || !rec->bridge || !rec->veth || !rec->subnet) {
        net_record_clear(rec);
        return brig_err_set(err, EINVAL, "network record `%s`: incomplete", name);
    }
    return 0;
}

int net_record_read(int dir_fd, struct net_record *rec, struct brig_err **err)
{
    return record_read_file(dir_fd, BRIG_NET_RECORD_FILE, rec, err);
}

int brig_net_record_load(int dir_fd, const char *name, struct brig_net_saved *saved, struct brig_err **err)
{
    struct net_record rec;
    int ret = record_read_file(dir_fd, name, &rec, err);

    memset(saved, 0, sizeof(*saved));
    if (ret < 0)
        return ret;
    saved->network = steal_ptr(rec.network);
    saved->ip = steal_ptr(rec.ip);
    saved->ports = steal_ptr(rec.ports);
    net_record_clear(&rec);
    return 0;
}

void brig_net_saved_clear(struct brig_net_saved *saved)
{
    free(saved->network);
    free(saved->ip);
    free(saved->ports);
    memset(saved, 0, sizeof(*saved));
}

void net_record_clear(struct net_record *rec)
{
    free(rec->id);
    free(rec->network);
    free(rec->bridge);
    free(rec->veth);
    free(rec->subnet);
    free(rec->subnet6);
    free(rec->ip);
    free(rec->ports);
    memset(rec, 0, sizeof(*rec));
}
