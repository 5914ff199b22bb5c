/* netns/ without the kernel: option parsing, records, leases and port claims on disk, network files and
 * resolv.conf filtering. The kernel side is covered by integration/network.bats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netns/internal.h"
#include "util/util.h"

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/brig-netns-unit.XXXXXX");

    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_parse_ports(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_net_port *ports = NULL;
    size_t n = 0;
    char ip[INET_ADDRSTRLEN];

    assert_int_equal(brig_net_parse_ports("8080:80/tcp,127.0.0.1:5353:53/udp,9000-9005:9100-9105,443,7/sctp",
                                          &ports, &n, &err),
                     0);
    assert_int_equal(n, 5);
    assert_int_equal(ports[0].proto, IPPROTO_TCP);
    assert_int_equal(ports[0].host_port, 8080);
    assert_int_equal(ports[0].container_port, 80);
    assert_int_equal(ports[0].count, 1);
    assert_int_equal(ports[0].host_ip.s_addr, INADDR_ANY);
    assert_int_equal(ports[1].proto, IPPROTO_UDP);
    inet_ntop(AF_INET, &ports[1].host_ip, ip, sizeof(ip));
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(ports[2].host_port, 9000);
    assert_int_equal(ports[2].container_port, 9100);
    assert_int_equal(ports[2].count, 6);
    assert_int_equal(ports[3].host_port, 443);
    assert_int_equal(ports[3].container_port, 443);
    assert_int_equal(ports[4].proto, IPPROTO_SCTP);
}

static void test_parse_ports_ipv6(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_net_port *ports = NULL;
    cleanup_free struct brig_net_port *again = NULL;
    cleanup_free char *text = NULL;
    size_t n = 0, m = 0;
    char ip[INET6_ADDRSTRLEN];

    assert_int_equal(brig_net_parse_ports("[fd00::1]:8080:80,[::]:53:53/udp,8081:81", &ports, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(ports[0].host_v6);
    inet_ntop(AF_INET6, &ports[0].host_ip6, ip, sizeof(ip));
    assert_string_equal(ip, "fd00::1");
    assert_int_equal(ports[0].host_port, 8080);
    assert_int_equal(ports[0].container_port, 80);
    assert_true(ports[1].host_v6);
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&ports[1].host_ip6));
    assert_int_equal(ports[1].proto, IPPROTO_UDP);
    assert_false(ports[2].host_v6);
    assert_int_equal(net_ports_format(ports, n, &text), 0);
    assert_string_equal(text, "[fd00::1]:8080-8080:80-80/tcp,[::]:53-53:53-53/udp,0.0.0.0:8081-8081:81-81/tcp");
    assert_int_equal(brig_net_parse_ports(text, &again, &m, &err), 0);
    assert_int_equal(m, n);
    assert_memory_equal(again, ports, n * sizeof(*ports));
}

static void expect_port_error(const char *list, const char *message)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_net_port *ports = NULL;
    size_t n = 0;

    assert_int_equal(brig_net_parse_ports(list, &ports, &n, &err), -EINVAL);
    assert_non_null(err);
    if (!strstr(err->msg, message))
        fail_msg("`%s`: got `%s`, expected `%s`", list, err->msg, message);
}

static void test_parse_port_errors(void **state)
{
    expect_port_error("0:80", "port `0:80`: expected [HOST_IP:]HOST_PORT");
    expect_port_error("70000:80", "port `70000:80`");
    expect_port_error("80:80/icmp", "port `80:80/icmp`: protocol `icmp`: expected tcp, udp or sctp");
    expect_port_error("9000-9005:9000-9001", "host range of 6 ports and container range of 2 ports differ");
    expect_port_error("host:80:80", "host address `host`: expected an IPv4 address");
    expect_port_error("1:2:3:4", "port `1:2:3:4`");
    expect_port_error("9005-9000:1", "port `9005-9000:1`");
    expect_port_error("[::1]:8080:80", "host address `::1`: IPv6 loopback cannot be forwarded to a container");
    expect_port_error("[fd00::zz]:8080:80", "host address `fd00::zz`: expected an IPv6 address in brackets");
    expect_port_error("[fd00::1]:8080", "port `[fd00::1]:8080`: expected [HOST_IP:]HOST_PORT");
    expect_port_error("[fd00::1]8080:80", "port `[fd00::1]8080:80`");
    expect_port_error("fd00::1:8080:80", "port `fd00::1:8080:80`");
}

static void test_ports_format_round_trip(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_net_port *ports = NULL;
    cleanup_free struct brig_net_port *again = NULL;
    cleanup_free char *text = NULL;
    size_t n = 0, m = 0;

    assert_int_equal(brig_net_parse_ports("8080:80,127.0.0.1:5353:53/udp,9000-9005:9100-9105/sctp", &ports, &n, &err), 0);
    assert_int_equal(net_ports_format(ports, n, &text), 0);
    assert_string_equal(text, "0.0.0.0:8080-8080:80-80/tcp,127.0.0.1:5353-5353:53-53/udp,"
                              "0.0.0.0:9000-9005:9100-9105/sctp");
    assert_int_equal(brig_net_parse_ports(text, &again, &m, &err), 0);
    assert_int_equal(m, n);
    assert_memory_equal(again, ports, n * sizeof(*ports));
}

static struct brig_spec *spec_with(const char *annotations, const char *netns)
{
    struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *err = NULL;
    char json[2048];

    snprintf(json, sizeof(json),
             "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"}, \"annotations\": {%s},"
             " \"linux\": {\"namespaces\": [%s]}}",
             annotations, netns);
    if (brig_spec_parse(json, strlen(json), &spec, &err) < 0)
        fail_msg("%s", err->msg);
    return spec;
}

static void test_opts_from_spec(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_spec struct brig_spec *none = spec_with("", "{\"type\": \"network\"}");
    cleanup_spec struct brig_spec *ports = spec_with("\"run.brig.ports\": \"8080:80\"", "{\"type\": \"network\"}");
    cleanup_spec struct brig_spec *named =
        spec_with("\"run.brig.network\": \"backend\", \"run.brig.ip\": \"10.1.0.9\"", "{\"type\": \"network\"}");
    cleanup_spec struct brig_spec *off = spec_with("\"run.brig.network\": \"none\"", "{\"type\": \"network\"}");
    cleanup_spec struct brig_spec *joined =
        spec_with("\"run.brig.ports\": \"8080:80\"", "{\"type\": \"network\", \"path\": \"/run/netns/x\"}");
    cleanup_spec struct brig_spec *bad =
        spec_with("\"run.brig.network\": \"none\", \"run.brig.ports\": \"80\"", "{\"type\": \"network\"}");
    struct brig_net_opts opts;

    assert_int_equal(brig_net_opts_from_spec(none, &opts, &err), 0);
    assert_false(opts.enabled); /* no annotations: the namespace stays empty, as with runc */
    brig_net_opts_clear(&opts);

    assert_int_equal(brig_net_opts_from_spec(ports, &opts, &err), 0);
    assert_true(opts.enabled);
    assert_string_equal(opts.network, BRIG_NET_DEFAULT_NETWORK);
    assert_int_equal(opts.n_ports, 1);
    /* cmd/ flags: --network none wins over the annotations. */
    assert_int_equal(brig_net_opts_set_network(&opts, "none", &err), 0);
    assert_false(opts.enabled);
    brig_net_opts_clear(&opts);

    assert_int_equal(brig_net_opts_from_spec(named, &opts, &err), 0);
    assert_string_equal(opts.network, "backend");
    assert_string_equal(opts.ip, "10.1.0.9");
    assert_int_equal(brig_net_opts_add_ports(&opts, "1000-1001", &err), 0);
    assert_int_equal(opts.n_ports, 1);
    brig_net_opts_clear(&opts);

    assert_int_equal(brig_net_opts_from_spec(off, &opts, &err), 0);
    assert_false(opts.enabled);
    brig_net_opts_clear(&opts);

    assert_int_equal(brig_net_opts_from_spec(joined, &opts, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "does not create a new network namespace"));
    brig_err_free(&err);

    assert_int_equal(brig_net_opts_from_spec(bad, &opts, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "network `none` takes no published ports"));
}

static void test_record_round_trip(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *dir = temp_dir();
    cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY);
    struct net_record rec = {
        .id = (char *) "web",
        .network = (char *) "brig",
        .bridge = (char *) "brig0",
        .subnet = (char *) "10.89.0.0/24",
        .veth = (char *) "vb01234567",
        .ports = (char *) "0.0.0.0:8080-8080:80-80/tcp",
        .keep_bridge = true,
    };
    struct net_record back;

    assert_int_equal(net_record_read(fd, &back, &err), -ENOENT);
    assert_null(err);
    assert_int_equal(net_record_write(fd, &rec, &err), 0);
    assert_int_equal(net_record_read(fd, &back, &err), 0);
    assert_string_equal(back.id, "web");
    assert_string_equal(back.subnet, "10.89.0.0/24");
    assert_string_equal(back.ports, rec.ports);
    assert_null(back.ip); /* not leased yet */
    assert_null(back.subnet6); /* a network without IPv6, or a record from before it */
    assert_true(back.keep_bridge);
    net_record_clear(&back);

    rec.subnet6 = (char *) "fd99::/64";
    assert_int_equal(net_record_write(fd, &rec, &err), 0);
    assert_int_equal(net_record_read(fd, &back, &err), 0);
    assert_string_equal(back.subnet6, "fd99::/64");
    net_record_clear(&back);

    /* The public reader, on a copy under another name (checkpoint keeps one beside its image). */
    {
        struct brig_net_saved saved;
        assert_int_equal(brig_net_record_load(fd, "copy", &saved, &err), -ENOENT);
        assert_null(err);
        assert_int_equal(renameat(fd, BRIG_NET_RECORD_FILE, fd, "copy"), 0);
        assert_int_equal(brig_net_record_load(fd, "copy", &saved, &err), 0);
        assert_string_equal(saved.network, "brig");
        assert_string_equal(saved.ports, rec.ports);
        assert_null(saved.ip);
        brig_net_saved_clear(&saved);
        assert_int_equal(brig_write_file_at(fd, "copy", "network=brig\n", 13, &err), 0);
        assert_int_equal(brig_net_record_load(fd, "copy", &saved, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "`copy`: incomplete"));
        brig_err_free(&err);
    }
    remove_tree(dir);
}

static void small_network(struct net_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "small");
    assert_int_equal(net_parse_cidr4("10.99.0.0/29", &cfg->subnet, &cfg->prefix), 0);
    cfg->gateway.s_addr = htonl(ntohl(cfg->subnet.s_addr) + 1);
}

static void test_leases(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *dir = temp_dir();
    cleanup_close int net_fd = -1;
    cleanup_close int leases_fd = -1;
    struct net_config cfg;
    struct in_addr got[5];
    char ip[INET_ADDRSTRLEN], id[16];

    small_network(&cfg);
    assert_int_equal(net_dir_open(dir, "small", &net_fd, &leases_fd, &err), 0);
    assert_int_equal(net_lease_take(leases_fd, &cfg, "static", "10.99.0.6", &got[0], &err), 0);
    for (int i = 1; i < 5; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        assert_int_equal(net_lease_take(leases_fd, &cfg, id, NULL, &got[i], &err), 0);
        assert_int_not_equal(got[i].s_addr, cfg.gateway.s_addr);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(got[i].s_addr, got[j].s_addr);
    }
    assert_int_equal(net_lease_take(leases_fd, &cfg, "full", NULL, &got[0], &err), -ENOSPC);
    assert_string_equal(err->msg, "network `small`: no free address left in 10.99.0.0/29 (5 leased): "
                                  "No space left on device");
    brig_err_free(&err);
    assert_int_equal(net_lease_take(leases_fd, &cfg, "again", "10.99.0.6", &got[0], &err), -EADDRINUSE);
    assert_non_null(strstr(err->msg, "address 10.99.0.6 of network `small` is already leased to container `static`"));
    brig_err_free(&err);
    assert_int_equal(net_lease_take(leases_fd, &cfg, "x", "10.99.0.1", &got[0], &err), -EINVAL); /* gateway */
    brig_err_free(&err);
    assert_int_equal(net_lease_take(leases_fd, &cfg, "x", "10.99.0.7", &got[0], &err), -EINVAL); /* broadcast */
    brig_err_free(&err);

    /* Only the owner releases, and a lost lease is found by id. */
    net_lease_release(leases_fd, "10.99.0.6", "someone-else");
    assert_int_equal(net_lease_find(leases_fd, "static", ip, sizeof(ip)), 0);
    assert_string_equal(ip, "10.99.0.6");
    net_lease_release(leases_fd, "10.99.0.6", "static");
    assert_int_equal(net_lease_find(leases_fd, "static", ip, sizeof(ip)), -ENOENT);
    assert_false(net_leases_empty(leases_fd));
    remove_tree(dir);
}

static void test_port_claims(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *dir = temp_dir();
    cleanup_free struct brig_net_port *web = NULL;
    cleanup_free struct brig_net_port *other = NULL;
    cleanup_close int ports_fd = -1;
    size_t n_web = 0, n_other = 0;

    assert_int_equal(net_ports_dir_open(dir, &ports_fd, &err), 0);
    assert_int_equal(brig_net_parse_ports("8080:80,9000-9002:9000-9002/udp", &web, &n_web, &err), 0);
    assert_int_equal(brig_net_parse_ports("7000:70,9002:1/udp", &other, &n_other, &err), 0);
    assert_int_equal(net_ports_claim(ports_fd, web, n_web, "web", &err), 0);
    assert_int_equal(net_ports_claim(ports_fd, web, n_web, "web", &err), 0); /* a retry keeps its own */
    assert_int_equal(net_ports_claim(ports_fd, other, n_other, "other", &err), -EADDRINUSE);
    assert_string_equal(err->msg, "port 9002/udp is already published by container `web`: Address already in use");
    brig_err_free(&err);
    /* The failed claim took nothing with it. */
    assert_false(net_port_owned(ports_fd, IPPROTO_TCP, 7000, "other"));
    assert_true(net_port_owned(ports_fd, IPPROTO_UDP, 9002, "web"));
    net_port_release(ports_fd, IPPROTO_UDP, 9002, "other");
    assert_true(net_port_owned(ports_fd, IPPROTO_UDP, 9002, "web"));
    net_port_release(ports_fd, IPPROTO_UDP, 9002, "web");
    assert_int_equal(net_ports_claim(ports_fd, other, n_other, "other", &err), 0);

    free(other);
    other = NULL;
    n_other = 0;
    assert_int_equal(brig_net_parse_ports("5000-5010:5000-5010,5005:1", &other, &n_other, &err), 0);
    assert_int_equal(net_ports_claim(ports_fd, other, n_other, "dup", &err), -EINVAL);
    assert_non_null(strstr(err->msg, "port 5005/tcp is published twice"));
    remove_tree(dir);
}

static void test_network_files(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *dir = temp_dir();
    char path[512];
    struct net_config cfg;
    char text[64];
    static const char good[] = "{\"bridge\": \"brback\", \"subnet\": \"10.7.0.77/24\", \"gateway\": \"10.7.0.254\","
                               " \"subnet6\": \"fd07::/64\", \"mtu\": 1400, \"keepBridge\": true}";
    static const char bad[] = "{\"subnet\": \"10.7.0.0/31\"}";

    setenv("BRIG_CONFIG_DIR", dir, 1);
    snprintf(path, sizeof(path), "%s/networks", dir);
    assert_int_equal(brig_mkdir_p(path, 0755, &err), 0);
    snprintf(path, sizeof(path), "%s/networks/back.json", dir);
    assert_int_equal(brig_write_file_atomic_at(AT_FDCWD, path, good, strlen(good), 0644, &err), 0);
    snprintf(path, sizeof(path), "%s/networks/bad.json", dir);
    assert_int_equal(brig_write_file_atomic_at(AT_FDCWD, path, bad, strlen(bad), 0644, &err), 0);

    assert_int_equal(net_config_load("brig", &cfg, &err), 0);
    assert_string_equal(cfg.bridge, "brig0");
    assert_int_equal(cfg.prefix, 24);
    inet_ntop(AF_INET, &cfg.gateway, text, sizeof(text));
    assert_string_equal(text, "10.89.0.1");

    assert_int_equal(net_config_load("back", &cfg, &err), 0);
    assert_string_equal(cfg.bridge, "brback");
    inet_ntop(AF_INET, &cfg.subnet, text, sizeof(text));
    assert_string_equal(text, "10.7.0.0");
    inet_ntop(AF_INET, &cfg.gateway, text, sizeof(text));
    assert_string_equal(text, "10.7.0.254");
    assert_true(cfg.has_v6);
    assert_int_equal(cfg.mtu, 1400);
    assert_true(cfg.keep_bridge);
    {
        struct in6_addr a6;
        net_addr6_for(&cfg, (struct in_addr){htonl(0x0a070005)}, &a6);
        inet_ntop(AF_INET6, &a6, text, sizeof(text));
        assert_string_equal(text, "fd07::5");
    }

    assert_int_equal(net_config_load("bad", &cfg, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "subnet `10.7.0.0/31`: expected an IPv4 CIDR with a prefix of 8 to 30"));
    brig_err_free(&err);
    assert_int_equal(net_config_load("nosuch", &cfg, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "network `nosuch`: no such network"));
    brig_err_free(&err);
    assert_int_equal(net_config_load("../etc", &cfg, &err), -EINVAL);
    unsetenv("BRIG_CONFIG_DIR");
    remove_tree(dir);
}

static void test_resolv_filter(void **state)
{
    cleanup_free char *out = net_resolv_filter("# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                                               "nameserver ::1\nsearch example.com\noptions edns0\n"
                                               "nameserver\t127.0.0.1");

    assert_string_equal(out, "# generated\nnameserver 10.0.0.2\nsearch example.com\noptions edns0\n");
}

static void test_veth_name(void **state)
{
    char a[IFNAMSIZ], b[IFNAMSIZ];

    net_veth_name("web", 7, a);
    net_veth_name("web", 7, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 10);
    assert_memory_equal(a, "vb", 2);
    net_veth_name("web2", 7, b);
    assert_string_not_equal(a, b);
    /* The same id created again gets another pair. */
    net_veth_name("web", 8, b);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ports),
        cmocka_unit_test(test_parse_ports_ipv6),
        cmocka_unit_test(test_parse_port_errors),
        cmocka_unit_test(test_ports_format_round_trip),
        cmocka_unit_test(test_opts_from_spec),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_leases),
        cmocka_unit_test(test_port_claims),
        cmocka_unit_test(test_network_files),
        cmocka_unit_test(test_resolv_filter),
        cmocka_unit_test(test_veth_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
