/* Address leases and host-port claims, one file each under <root>/.net, created with O_EXCL: the file
 * system makes them atomic between concurrent brig processes without a daemon. Each file holds the id of
 * the container that owns it, so a conflict can name it and a teardown removes only its own. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "../util/util.h"

/* ".net" is not a valid container id, so it never meets a container directory in the root. */
#define NET_STATE_DIR ".net"

static int open_dir_p(const char *path, int *fd, struct brig_err **err)
{
    int ret;

    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd >= 0)
        return 0;
    ret = brig_mkdir_p(path, 0700, err);
    if (ret < 0)
        return ret;
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return brig_err_sys(err, "open `%s`", path);
    return 0;
}

int net_dir_open(const char *root, const char *network, int *net_fd, int *leases_fd, struct brig_err **err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *leases = NULL;
    int ret;

    if (asprintf(&path, "%s/" NET_STATE_DIR "/networks/%s", root, network) < 0 ||
        asprintf(&leases, "%s/leases", path) < 0)
        return brig_err_set(err, ENOMEM, "network `%s`", network);
    ret = open_dir_p(leases, leases_fd, err);
    if (ret < 0)
        return ret;
    ret = open_dir_p(path, net_fd, err);
    if (ret < 0) {
        close(*leases_fd);
        *leases_fd = -1;
    }
    return ret;
}

int net_ports_dir_open(const char *root, int *ports_fd, struct brig_err **err)
{
    cleanup_free char *path = NULL;

    if (asprintf(&path, "%s/" NET_STATE_DIR "/ports", root) < 0)
        return brig_err_set(err, ENOMEM, "ports");
    return open_dir_p(path, ports_fd, err);
}

/* Creates `name` holding `id`, whole or not at all; -EEXIST when someone holds it. The id is written to an
 * unnamed file (O_TMPFILE) that is then linked under the name: a claim named before its id was written, by a
 * brig killed in between, would name nobody, so no teardown would remove it and the port or address would stay
 * taken for good. */
static int claim(int dir_fd, const char *name, const char *id)
{
    cleanup_close int fd = openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    char path[40];
    int ret;

    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        /* A file system without O_TMPFILE: named first, as before. */
        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        ret = brig_write_all(fd, id, strlen(id));
        if (ret < 0)
            unlinkat(dir_fd, name, 0);
        return ret;
    }
    if (fd < 0)
        return -errno;
    ret = brig_write_all(fd, id, strlen(id));
    if (ret < 0)
        return ret;
    /* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link needs nothing (rootless too). */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, path, dir_fd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

/* The owner's id, or "" while the owner is still writing it. */
static void owner_of(int dir_fd, const char *name, char *buf, size_t len)
{
    cleanup_close int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

    buf[n > 0 ? n : 0] = '\0';
}

static bool owned_by(int dir_fd, const char *name, const char *id)
{
    char owner[1100];

    owner_of(dir_fd, name, owner, sizeof(owner));
    return !strcmp(owner, id);
}

static void release(int dir_fd, const char *name, const char *id)
{
    if (owned_by(dir_fd, name, id))
        unlinkat(dir_fd, name, 0);
}

static int lease_at(int leases_fd, uint32_t host_order, const char *id, struct in_addr *out)
{
    char name[INET_ADDRSTRLEN];
    struct in_addr addr = {.s_addr = htonl(host_order)};
    int ret;

    inet_ntop(AF_INET, &addr, name, sizeof(name));
    ret = claim(leases_fd, name, id);
    if (ret == 0)
        *out = addr;
    return ret;
}

int net_lease_take(int leases_fd, const struct net_config *cfg, const char *id, const char *want,
                   struct in_addr *out, struct brig_err **err)
{
    uint32_t mask = net_mask4(cfg->prefix);
    uint32_t base = ntohl(cfg->subnet.s_addr);
    uint32_t gateway = ntohl(cfg->gateway.s_addr);
    uint32_t hosts = ~mask - 1; /* without the network and broadcast addresses */
    int ret;

    if (want) {
        struct in_addr addr;
        uint32_t host;
        char owner[1100];
        if (inet_pton(AF_INET, want, &addr) != 1)
            return brig_err_set(err, EINVAL, "address `%s`: expected an IPv4 address", want);
        host = ntohl(addr.s_addr);
        if ((host & mask) != base || (host & ~mask) == 0 || (host & ~mask) == ~mask || host == gateway)
            return brig_err_set(err, EINVAL, "address %s: not a free host address of network `%s`", want,
                                cfg->name);
        ret = lease_at(leases_fd, host, id, out);
        if (ret == -EEXIST) {
            owner_of(leases_fd, want, owner, sizeof(owner));
            return brig_err_set(err, EADDRINUSE, "address %s of network `%s` is already leased to container `%s`",
                                want, cfg->name, owner);
        }
        return ret < 0 ? brig_err_set(err, -ret, "lease address %s", want) : 0;
    }
    /* Starting from a point picked by the id spreads concurrent creates over the subnet, so they rarely
     * race for the same file; the walk then visits every host address once. */
    for (uint32_t i = 0, start = net_hash(id) % hosts; i < hosts; i++) {
        uint32_t host = base + 1 + (start + i) % hosts;
        if (host == gateway)
            continue;
        ret = lease_at(leases_fd, host, id, out);
        if (ret == 0)
            return 0;
        if (ret != -EEXIST)
            return brig_err_set(err, -ret, "network `%s`: lease an address", cfg->name);
    }
    {
        char subnet[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &cfg->subnet, subnet, sizeof(subnet));
        return brig_err_set(err, ENOSPC, "network `%s`: no free address left in %s/%u (%u leased)", cfg->name,
                            subnet, cfg->prefix, hosts - 1);
    }
}

void net_lease_release(int leases_fd, const char *ip, const char *id)
{
    release(leases_fd, ip, id);
}

int net_lease_find(int leases_fd, const char *id, char *ip, size_t len)
{
    int fd = openat(leases_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    int ret = -ENOENT;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return -ENOENT;
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (owned_by(leases_fd, de->d_name, id)) {
            snprintf(ip, len, "%s", de->d_name);
            ret = 0;
            break;
        }
    }
    closedir(d);
    return ret;
}

bool net_leases_empty(int leases_fd)
{
    int fd = openat(leases_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    bool empty = true;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return true;
    }
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            empty = false;
            break;
        }
    closedir(d);
    return empty;
}

static void port_name(uint8_t proto, uint16_t port, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%u", net_proto_name(proto), port);
}

bool net_port_owned(int ports_fd, uint8_t proto, uint16_t port, const char *id)
{
    char name[32];

    port_name(proto, port, name, sizeof(name));
    return owned_by(ports_fd, name, id);
}

void net_port_release(int ports_fd, uint8_t proto, uint16_t port, const char *id)
{
    char name[32];

    port_name(proto, port, name, sizeof(name));
    release(ports_fd, name, id);
}

static int check_duplicates(const struct brig_net_port *ports, size_t n, struct brig_err **err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            uint32_t a0 = ports[i].host_port, a1 = a0 + ports[i].count;
            uint32_t b0 = ports[j].host_port, b1 = b0 + ports[j].count;
            if (ports[i].proto == ports[j].proto && a0 < b1 && b0 < a1)
                return brig_err_set(err, EINVAL, "port %u/%s is published twice", a0 > b0 ? a0 : b0,
                                    net_proto_name(ports[i].proto));
        }
    return 0;
}

/* Host ports are claimed whatever host address they bind: a port published on every address and the same
 * port on one address would otherwise both match. A claim that already names this container is a leftover
 * of an earlier attempt with the same id (ids are unique while the state directory exists): it is kept. */
int net_ports_claim(int ports_fd, const struct brig_net_port *ports, size_t n, const char *id,
                    struct brig_err **err)
{
    int ret = check_duplicates(ports, n, err);

    if (ret < 0)
        return ret;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < ports[i].count; k++) {
            uint16_t port = (uint16_t) (ports[i].host_port + k);
            char name[32], owner[1100];

            port_name(ports[i].proto, port, name, sizeof(name));
            ret = claim(ports_fd, name, id);
            if (ret == 0)
                continue;
            if (ret == -EEXIST) {
                owner_of(ports_fd, name, owner, sizeof(owner));
                if (!strcmp(owner, id))
                    continue;
            }
            /* Undo this call's claims: teardown would too, but the caller may not run it. */
            for (size_t j = 0; j <= i; j++)
                for (uint32_t m = 0; m < (j < i ? ports[j].count : k); m++)
                    net_port_release(ports_fd, ports[j].proto, (uint16_t) (ports[j].host_port + m), id);
            if (ret == -EEXIST)
                return brig_err_set(err, EADDRINUSE, "port %u/%s is already published by container `%s`", port,
                                    net_proto_name(ports[i].proto), *owner ? owner : "(being created)");
            return brig_err_set(err, -ret, "claim port %u/%s", port, net_proto_name(ports[i].proto));
        }
    }
    return 0;
}
