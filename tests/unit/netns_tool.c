/* Test driver for netns/ until the runtime calls it: sets a container's network up or down for a given
 * pid, from inside a network namespace that stands for the host, and measures setup and port-forward
 * costs. Never run it without --host-netns outside a test: it would change the machine's own network.
 *
 *   netns_tool --host-netns PATH setup --root DIR --id ID --pid PID [--network N] [--ip A] [-p LIST]...
 *   netns_tool --host-netns PATH teardown --root DIR --id ID
 *   netns_tool --host-netns PATH bench-setup --root DIR [-n COUNT] [-p LIST]
 *   netns_tool --host-netns PATH bench-ports --root DIR [-n PUBLISHED] [-r ROUNDS] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "netns/internal.h"
#include "util/util.h"

struct tool_opts {
    const char *root;
    const char *id;
    const char *hostname;
    pid_t pid;
    unsigned count;
    unsigned rounds;
    struct brig_net_opts net;
};

static int fail(struct brig_err *err)
{
    fprintf(stderr, "netns_tool: %s\n", err ? err->msg : "failed");
    brig_err_free(&err);
    return 1;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n ? v[n / 2] : 0;
}

static int open_state_dir(const char *root, const char *id, bool create)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", root, id);
    if (create) {
        struct brig_err *err = NULL;
        if (brig_mkdir_p(path, 0700, &err) < 0)
            return fail(err), -1;
    }
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int do_setup(struct tool_opts *o)
{
    struct brig_err *err = NULL;
    struct brig_net *net = NULL;
    cleanup_close int dir = open_state_dir(o->root, o->id, true);
    int ret;

    if (dir < 0)
        return 1;
    if (!o->net.enabled && !o->net.network)
        brig_net_opts_set_network(&o->net, BRIG_NET_DEFAULT_NETWORK, &err);
    ret = brig_net_prepare(o->root, dir, o->id, o->hostname, &o->net, &net, &err);
    if (ret == 0)
        ret = brig_net_attach(net, o->pid, &err);
    if (ret < 0) {
        struct brig_err *ignored = NULL;
        brig_net_teardown(o->root, dir, false, &ignored); /* as create's undo path does */
        brig_err_free(&ignored);
        brig_net_free(net);
        return fail(err);
    }
    printf("ip=%s\nhosts=%s\nresolv=%s\n", brig_net_ip(net), brig_net_hosts_path(net), brig_net_resolv_path(net));
    brig_net_free(net);
    return 0;
}

static int do_teardown(struct tool_opts *o)
{
    struct brig_err *err = NULL;
    cleanup_close int dir = open_state_dir(o->root, o->id, false);

    if (dir < 0)
        return 0; /* nothing was ever set up */
    if (brig_net_teardown(o->root, dir, false, &err) < 0)
        return fail(err);
    return 0;
}

/* A child in a fresh network namespace, the way clone(CLONE_NEWNET) leaves the container's init. */
static pid_t spawn_netns_child(int *ready_fd)
{
    int pipefd[2];
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (unshare(CLONE_NEWNET) < 0)
            _exit(1);
        if (write(pipefd[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(pipefd[1]);
    *ready_fd = pipefd[0];
    return pid;
}

static int do_bench_setup(struct tool_opts *o)
{
    unsigned n = o->count ? o->count : 50;
    double *setup = calloc(n, sizeof(double)), *teardown = calloc(n, sizeof(double));
    double *prepare = calloc(n, sizeof(double));
    pid_t *pids = calloc(n, sizeof(pid_t));
    int rc = 0;

    if (!setup || !teardown || !prepare || !pids)
        return 1;
    if (!o->net.network)
        brig_net_opts_set_network(&o->net, BRIG_NET_DEFAULT_NETWORK, NULL);
    for (unsigned i = 0; i < n && rc == 0; i++) {
        char id[64], c;
        struct brig_err *err = NULL;
        struct brig_net *net = NULL;
        struct brig_net_opts opts = o->net;
        int ready = -1, dir;
        double t0, t1, t2;

        snprintf(id, sizeof(id), "bench-%u", i);
        pids[i] = spawn_netns_child(&ready);
        if (pids[i] < 0 || read(ready, &c, 1) != 1)
            return 1;
        close(ready);
        dir = open_state_dir(o->root, id, true);
        /* Only the first container publishes the ports (they would conflict). */
        if (i > 0)
            opts.n_ports = 0;
        t0 = now_ms();
        if (brig_net_prepare(o->root, dir, id, NULL, &opts, &net, &err) < 0)
            rc = fail(err);
        t1 = now_ms();
        if (rc == 0 && brig_net_attach(net, pids[i], &err) < 0)
            rc = fail(err);
        t2 = now_ms();
        prepare[i] = t1 - t0;
        setup[i] = t2 - t0;
        brig_net_free(net);
        close(dir);
    }
    for (unsigned i = 0; i < n; i++) {
        char id[64];
        struct brig_err *err = NULL;
        int dir;
        double t0;

        snprintf(id, sizeof(id), "bench-%u", i);
        dir = open_state_dir(o->root, id, false);
        t0 = now_ms();
        if (dir >= 0 && brig_net_teardown(o->root, dir, false, &err) < 0)
            rc = fail(err);
        teardown[i] = now_ms() - t0;
        if (dir >= 0)
            close(dir);
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    }
    /* The first setup creates the bridge and the table: report it apart. */
    printf("first setup: %.3f ms\n", setup[0]);
    printf("setup median (n=%u, after the first): %.3f ms (prepare %.3f ms)\n", n - 1,
           median(setup + 1, n - 1), median(prepare + 1, n - 1));
    printf("teardown median: %.3f ms\n", median(teardown, n - 1));
    free(setup);
    free(teardown);
    free(prepare);
    free(pids);
    return rc;
}

/* Adds `published` containers' forwards straight into the maps, then times adding and removing one more. */
static int do_bench_ports(struct tool_opts *o)
{
    unsigned published = o->count, rounds = o->rounds ? o->rounds : 200;
    struct net_forward *fw = calloc(published ? published : 1, sizeof(*fw));
    double *times = calloc(rounds, sizeof(double));
    struct brig_err *err = NULL;
    struct net_nl nl = {NULL};
    int rc = 0;

    if (!fw || !times || net_nl_open(NETLINK_NETFILTER, -1, &nl, &err) < 0)
        return fail(err);
    for (unsigned i = 0; i < published; i++)
        fw[i] = (struct net_forward){.proto = IPPROTO_TCP, .host_port = (uint16_t) (20000 + i),
                                     .addr.s_addr = htonl(0x0a590000u + 2 + i % 250), .port = 80};
    if (net_nft_ensure_table(&nl, &err) < 0 || (published && net_nft_add(&nl, NULL, fw, published, &err) < 0))
        return fail(err);
    for (unsigned r = 0; r < rounds && rc == 0; r++) {
        struct net_forward one = {.proto = IPPROTO_TCP, .host_port = 10000, .addr.s_addr = htonl(0x0a590063u),
                                  .port = 80};
        double t0 = now_ms();
        if (net_nft_add(&nl, NULL, &one, 1, &err) < 0 || net_nft_del(&nl, NULL, &one, 1, &err) < 0)
            rc = fail(err);
        times[r] = now_ms() - t0;
    }
    if (published && net_nft_del(&nl, NULL, fw, published, &err) < 0)
        rc = fail(err);
    printf("add+remove one port forward with %u published: median %.3f ms (%u rounds)\n", published,
           median(times, rounds), rounds);
    net_nl_close(&nl);
    free(fw);
    free(times);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host-netns", required_argument, NULL, 'H'}, {"root", required_argument, NULL, 'R'},
        {"id", required_argument, NULL, 'i'},         {"pid", required_argument, NULL, 'P'},
        {"network", required_argument, NULL, 'N'},    {"ip", required_argument, NULL, 'I'},
        {"publish", required_argument, NULL, 'p'},    {"hostname", required_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct tool_opts o = {.root = NULL};
    struct brig_err *err = NULL;
    bool host_netns_entered = false;
    const char *cmd;
    int c, rc;

    while ((c = getopt_long(argc, argv, "p:n:r:", longopts, NULL)) != -1) {
        switch (c) {
        case 'H': {
            cleanup_close int fd = open(optarg, O_RDONLY | O_CLOEXEC);
            struct stat target, machine;
            if (fd < 0 || fstat(fd, &target) < 0 || stat("/proc/self/ns/net", &machine) < 0) {
                perror(optarg);
                return 1;
            }
            if (target.st_ino == machine.st_ino && target.st_dev == machine.st_dev) {
                fprintf(stderr, "netns_tool: %s is the namespace netns_tool runs in: give a test namespace\n", optarg);
                return 2;
            }
            if (setns(fd, CLONE_NEWNET) < 0) {
                perror(optarg);
                return 1;
            }
            host_netns_entered = true;
            break;
        }
        case 'R':
            o.root = optarg;
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'P':
            o.pid = atoi(optarg);
            break;
        case 'h':
            o.hostname = optarg;
            break;
        case 'n':
            o.count = (unsigned) atoi(optarg);
            break;
        case 'r':
            o.rounds = (unsigned) atoi(optarg);
            break;
        case 'N':
            if (brig_net_opts_set_network(&o.net, optarg, &err) < 0)
                return fail(err);
            break;
        case 'I':
            if (brig_net_opts_set_ip(&o.net, optarg, &err) < 0)
                return fail(err);
            break;
        case 'p':
            if (brig_net_opts_add_ports(&o.net, optarg, &err) < 0)
                return fail(err);
            break;
        default:
            return 2;
        }
    }
    if (!host_netns_entered) {
        fprintf(stderr, "netns_tool: --host-netns is required (never the machine's own namespace)\n");
        return 2;
    }
    if (optind >= argc || !o.root) {
        fprintf(stderr, "usage: netns_tool --host-netns PATH {setup|teardown|bench-setup|bench-ports} --root DIR ...\n");
        return 2;
    }
    cmd = argv[optind];
    if (!strcmp(cmd, "setup") && o.id && o.pid > 0)
        rc = do_setup(&o);
    else if (!strcmp(cmd, "teardown") && o.id)
        rc = do_teardown(&o);
    else if (!strcmp(cmd, "bench-setup"))
        rc = do_bench_setup(&o);
    else if (!strcmp(cmd, "bench-ports"))
        rc = do_bench_ports(&o);
    else {
        fprintf(stderr, "netns_tool: unknown command or missing --id/--pid\n");
        rc = 2;
    }
    brig_net_opts_clear(&o.net);
    return rc;
}
