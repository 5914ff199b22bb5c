/* Bridge networking for containers that get a new network namespace: a veth pair into the container, an
 * address from a lease file (and an IPv6 one when the network has a subnet6), masquerade and published ports
 * in brig's own nftables tables (`ip brig`, `ip6 brig`), all spoken over netlink (no `ip`/`nft` processes).
 *
 * Life of a container's network, as create and delete drive it:
 *   brig_net_opts_from_spec()  before anything is made: reads the run.brig.* annotations (cmd/ adds its flags
 *                              with brig_net_opts_set_*); false `enabled` means "leave the namespace empty".
 *   brig_net_prepare()         once the state directory exists, before clone: writes the record that teardown
 *                              reads, claims the host ports and the address (files under <root>/.net, O_EXCL),
 *                              and writes hosts and resolv.conf into the state directory. Fails early with
 *                              "port 8080/tcp is already published by container `web`".
 *   brig_net_attach()          after clone, before GO: bridge, veth, addresses, routes, nft elements.
 *   brig_net_teardown()        on delete and on any create failure, from the record alone: idempotent, and
 *                              complete whatever point an earlier brig was killed at. */
#ifndef BRIG_NETNS_NETNS_H
#define BRIG_NETNS_NETNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../spec/spec.h"
#include "../util/error.h"

#define BRIG_NET_ANNOTATION_NETWORK "run.brig.network" /* network name, or "none" */
#define BRIG_NET_ANNOTATION_PORTS "run.brig.ports"     /* "8080:80/tcp,127.0.0.1:5353:53/udp,[fd00::1]:53:53/udp" */
#define BRIG_NET_ANNOTATION_IP "run.brig.ip"           /* a static IPv4 address inside the network's subnet */

/* The network used when ports are published without naming one: bridge brig0, 10.89.0.0/24, gateway .1. */
#define BRIG_NET_DEFAULT_NETWORK "brig"
/* Named networks live in <dir>/networks/NAME.json; <dir> is $BRIG_CONFIG_DIR or this. */
#define BRIG_NET_CONFIG_DIR "/etc/brig"
/* The record in the container's state directory that teardown reads. */
#define BRIG_NET_RECORD_FILE "network"
#define BRIG_NET_HOSTS_FILE "hosts"
#define BRIG_NET_RESOLV_FILE "resolv.conf"

/* What a network record says of a container's network (for a copy of it kept elsewhere: checkpoint keeps one
 * beside its image): malloc'd, ip and ports NULL when it had none. */
struct brig_net_saved {
    char *network;
    char *ip;
    char *ports; /* brig_net_opts_add_ports() text */
};
/* Reads the record `name` in dir_fd (BRIG_NET_RECORD_FILE in a state directory). -ENOENT without *err when
 * there is none; -EINVAL when it is incomplete. */
int brig_net_record_load(int dir_fd, const char *name, struct brig_net_saved *saved, struct brig_err **err);
void brig_net_saved_clear(struct brig_net_saved *saved);

/* One published port or range: host_port..host_port+count-1 → container_port..container_port+count-1.
 * Unbound (INADDR_ANY) it is published on every IPv4 address of the host and, when the container has an
 * IPv6 address (its network has a subnet6), on every IPv6 one but ::1. */
struct brig_net_port {
    uint8_t proto;             /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
    bool host_v6;              /* bound to host_ip6 ("[fd00::1]:8080:80"; "[::]" is every IPv6 address) */
    struct in_addr host_ip;    /* INADDR_ANY: every local address of the host */
    struct in6_addr host_ip6;  /* when host_v6 */
    uint16_t host_port;
    uint16_t container_port;
    uint16_t count;          /* >= 1 */
};

/* Who wires the container's network namespace: brig itself (a bridge, needs root), or a user-mode helper
 * process that brig starts, for rootless containers (usermode.c). */
enum brig_net_backend {
    BRIG_NET_BRIDGE = 0,
    BRIG_NET_SLIRP4NETNS,
    BRIG_NET_PASTA,
};

struct brig_net_opts {
    bool enabled;     /* false: no networking (no annotations, "none", or a netns joined by path) */
    enum brig_net_backend backend;
    bool named;       /* the network was named (--network, annotation), not implied by -p or --ip */
    bool allow_host_loopback; /* user-mode: the container may reach the host's 127.0.0.1 (slirp4netns at
                               * 10.0.2.2, pasta at the gateway address) */
    char *network;    /* network name; BRIG_NET_DEFAULT_NETWORK when only ports or an address were given */
    char *ip;         /* static address, or NULL for the next free one */
    struct brig_net_port *ports;
    size_t n_ports;
};

void brig_net_opts_clear(struct brig_net_opts *opts);

/* Parses "[HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END][/tcp|udp|sctp]" items separated by commas
 * (a single "PORT[-END]" publishes the same port). HOST_IP is IPv4, or IPv6 in brackets ("[fd00::1]"),
 * which needs a network with a subnet6; [::1] is refused. Appends to *ports. */
int brig_net_parse_ports(const char *list, struct brig_net_port **ports, size_t *n_ports, struct brig_err **err);

/* Reads the annotations into *opts (zeroed first). When the config joins an existing network namespace
 * (`path` set) or asks for none, networking stays off; annotations then are an error only if they ask for
 * ports or an address on a namespace brig does not create. */
int brig_net_opts_from_spec(const struct brig_spec *spec, struct brig_net_opts *opts, struct brig_err **err);
/* For cmd/: --network NAME (or "none", or "slirp4netns[:allow-host-loopback]", "pasta[:allow-host-loopback]":
 * a user-mode helper, which must be installed), --ip ADDR, -p/--publish LIST override or add to the annotations.
 * Call after brig_net_opts_from_spec() with the same spec (the check for a new namespace is repeated). */
int brig_net_opts_set_network(struct brig_net_opts *opts, const char *network, struct brig_err **err);
int brig_net_opts_set_ip(struct brig_net_opts *opts, const char *ip, struct brig_err **err);
int brig_net_opts_add_ports(struct brig_net_opts *opts, const char *list, struct brig_err **err);
/* Rootless, ports or an address without a named network: the user-mode backend that is installed (pasta,
 * else slirp4netns), or a clear error when neither is. */
int brig_net_opts_pick_usermode(struct brig_net_opts *opts, struct brig_err **err);
/* Fails when networking was asked for but the config does not create a new network namespace. */
int brig_net_opts_check_spec(const struct brig_net_opts *opts, const struct brig_spec *spec, struct brig_err **err);

/* A prepared container network (opaque). */
struct brig_net;

/* `root` is the state root (--root), `state_dir_fd` the container's directory <root>/<id>, `hostname` the
 * spec's (NULL: the id's first 12 characters). Nothing is made when opts->enabled is false (*out = NULL).
 * On failure, call brig_net_teardown() to undo whatever was claimed (create's undo path does). */
int brig_net_prepare(const char *root, int state_dir_fd, const char *id, const char *hostname,
                     const struct brig_net_opts *opts, struct brig_net **out, struct brig_err **err);
/* Runs in the host's network namespace (the caller's); `pid` is the init, whose /proc/PID/ns/net gets eth0. */
int brig_net_attach(struct brig_net *net, pid_t pid, struct brig_err **err);
/* The create that attached `net` has committed: a user-mode helper then lives as long as the container's init
 * (until then, the create's death stops it). Nothing for the bridge. */
void brig_net_commit(struct brig_net *net);
/* Sets the host end of the container's veth down or up again: restore keeps it down while CRIU brings the
 * container's sockets back, so that a client's retransmission meets no socket-less namespace (which would
 * answer with a reset). */
int brig_net_host_link(const struct brig_net *net, bool up, struct brig_err **err);
void brig_net_free(struct brig_net *net);
static inline void brig_net_freep(struct brig_net **net)
{
    brig_net_free(*net);
}
#define cleanup_net __attribute__((cleanup(brig_net_freep)))

/* The container's address ("10.89.0.5") and the two generated files' absolute paths, for the state and for
 * bind mounts onto /etc/hosts and /etc/resolv.conf (read-only). Valid while `net` lives. */
const char *brig_net_ip(const struct brig_net *net);
const char *brig_net_hosts_path(const struct brig_net *net);
const char *brig_net_resolv_path(const struct brig_net *net);

/* Removes this container's nft map elements, its port claims and lease, the veth, and the bridge when its
 * last container goes (unless the network keeps it). `netns_gone`: every process of the container is dead,
 * so its network namespace is going and the kernel removes the veth pair with it (moments later, in the
 * background); otherwise the veth is deleted here. Reads the record in `state_dir_fd`; 0 when there is
 * none. Runs in the host's network namespace. Safe to repeat. */
int brig_net_teardown(const char *root, int state_dir_fd, bool netns_gone, struct brig_err **err);

/* Conntrack (conntrack.c): a container's inbound TCP connections (whose replies come from `ip`) in this
 * network namespace's conntrack, as text (NULL when there are none), for brig_net_conntrack_restore on the
 * host the container moves to (migrate --tcp-established): the same entries, established, with the published
 * port's DNAT. _forget deletes what _restore added (a migration that failed there). */
int brig_net_conntrack_save(const char *ip, char **text, struct brig_err **err);
int brig_net_conntrack_restore(const char *text, struct brig_err **err);
int brig_net_conntrack_forget(const char *text, struct brig_err **err);

/* User-mode networking (usermode.c): the helper is started by brig_net_attach() through a small keeper
 * process, which holds slirp4netns' --exit-fd (pasta's pid) and stops the helper when the container's init
 * exits, or when the create dies before brig_net_commit(). Both pids are recorded in the state directory
 * (file BRIG_NET_HELPER_FILE) for teardown, which kills them. */
#define BRIG_NET_HELPER_FILE "network-helper"

#endif
