/* User-mode networking for rootless containers: slirp4netns or pasta (Debian's passt) wires the container's
 * network namespace from the user's side, with no privilege over the host's.
 *
 * The helper must live exactly as long as the container, and brig leaves no process behind between its
 * commands. A keeper, a small fork of brig that is nobody's child once started, does the waiting: it starts
 * the helper, reports when it is ready (slirp4netns' --ready-fd, pasta's return once it has daemonized), then
 * watches the init's pidfd and the create's commit pipe. When the init exits, or the create dies before its
 * commit, the keeper stops the helper: slirp4netns by the end of its --exit-fd (which the keeper holds open),
 * pasta by a signal to its pidfd. Neither helper (in Debian 12's versions) leaves on its own when the
 * namespace of a pid it was given goes. Teardown kills both by the pids recorded in the state directory. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define LOG_FILE "network-helper.log"
#define PASTA_PID_FILE "pasta.pid"
#define SLIRP_SOCKET_FILE "slirp4netns.sock"
#define SLIRP_GUEST_ADDR "10.0.2.100"
#define SLIRP_DNS "10.0.2.3"
/* pasta answers DNS sent here with the host's resolver (--dns-forward); link-local, so no host has it. */
#define PASTA_DNS "169.254.1.1"
#define READY_TIMEOUT_MS 10000
#define API_TIMEOUT_MS 3000

const char *net_backend_name(enum brig_net_backend backend)
{
    switch (backend) {
    case BRIG_NET_SLIRP4NETNS:
        return "slirp4netns";
    case BRIG_NET_PASTA:
        return "pasta";
    default:
        return "bridge";
    }
}

int net_user_find_helper(enum brig_net_backend backend, char *path, size_t len, struct brig_err **err)
{
    const char *name = net_backend_name(backend);
    const char *env = getenv("PATH");
    cleanup_free char *dirs = strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;

    if (!dirs)
        return brig_err_set(err, ENOMEM, "network");
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (*d != '/')
            continue; /* a relative PATH entry would depend on where brig was started */
        if (snprintf(path, len, "%s/%s", d, name) < (int) len && access(path, X_OK) == 0)
            return 0;
    }
    return brig_err_msg(err, ENOENT, "--network %s: %s not found (install %s)", name, name,
                        backend == BRIG_NET_PASTA ? "passt" : "slirp4netns");
}

static int check_ports(const struct brig_net *net, struct brig_err **err)
{
    const char *name = net_backend_name(net->backend);

    for (size_t i = 0; i < net->n_ports; i++) {
        const struct brig_net_port *p = &net->ports[i];
        if (p->proto == IPPROTO_SCTP)
            return brig_err_msg(err, EINVAL, "port %u/sctp: network `%s` forwards only tcp and udp",
                                (unsigned) p->host_port, name);
        if (p->host_v6)
            return brig_err_msg(err, EINVAL, "port %u/%s: network `%s` publishes on IPv4 addresses only",
                                (unsigned) p->host_port, net_proto_name(p->proto), name);
    }
    return 0;
}

struct user_record {
    enum brig_net_backend backend;
    pid_t keeper, helper;
    uint64_t keeper_start, helper_start;
};

static int record_write(const struct brig_net *net, const struct user_record *rec, struct brig_err **err)
{
    char text[256];
    int len = snprintf(text, sizeof(text), "backend=%s\nkeeper=%d %llu\nhelper=%d %llu\n",
                       net_backend_name(rec->backend), (int) rec->keeper, (unsigned long long) rec->keeper_start,
                       (int) rec->helper, (unsigned long long) rec->helper_start);

    return brig_write_file_atomic_at(net->state_dir_fd, BRIG_NET_HELPER_FILE, text, (size_t) len, 0600, err);
}

int net_user_prepare(struct brig_net *net, const char *hostname, const struct brig_net_opts *opts,
                     struct brig_err **err)
{
    const char *name = net_backend_name(opts->backend);
    struct user_record rec = {.backend = opts->backend};
    int ret;

    net->backend = opts->backend;
    net->allow_host_loopback = opts->allow_host_loopback;
    snprintf(net->cfg.name, sizeof(net->cfg.name), "%s", name);
    if (opts->ip)
        return brig_err_msg(err, EINVAL, "--ip %s: network `%s` gives the container its address itself", opts->ip,
                            name);
    ret = check_ports(net, err);
    if (ret == 0)
        ret = net_user_find_helper(net->backend, net->helper, sizeof(net->helper), err);
    if (ret < 0)
        return ret;
    /* slirp4netns gives the container a fixed address; pasta copies the host's, unknown until it runs. */
    snprintf(net->ip_text, sizeof(net->ip_text), "%s", net->backend == BRIG_NET_SLIRP4NETNS ? SLIRP_GUEST_ADDR : "");
    /* Before anything runs: teardown then knows this is a user-mode network. */
    ret = record_write(net, &rec, err);
    if (ret == 0)
        ret = net_write_hosts(net->state_dir_fd, hostname,
                              net->backend == BRIG_NET_SLIRP4NETNS ? SLIRP_GUEST_ADDR : "127.0.1.1", err);
    if (ret == 0)
        ret = net_write_resolv_for(net->state_dir_fd, net->backend == BRIG_NET_SLIRP4NETNS ? SLIRP_DNS : PASTA_DNS,
                                   err);
    if (ret < 0)
        return ret;
    return net_etc_paths(net, err);
}

/* ---- the keeper ---- */

/* What the keeper tells the create once the helper is ready, or why it is not. */
struct keeper_report {
    int32_t error; /* 0 or an errno */
    int32_t keeper;
    int32_t helper;
    char message[400];
};

static int pidfd_open_(pid_t pid)
{
    return (int) syscall(SYS_pidfd_open, pid, 0);
}

static void pidfd_kill(int pidfd, int sig)
{
    if (pidfd >= 0)
        syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* The helper's last words in the log: its last line that is not about the system logger (pasta tries
 * syslog first and says so for every line it prints). */
static void last_log_line(int dir_fd, char *out, size_t len)
{
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *ignored = NULL;
    const char *best = NULL;
    size_t best_len = 0;

    out[0] = '\0';
    if (brig_read_file_at(dir_fd, LOG_FILE, &text, NULL, &ignored) < 0)
        return;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t) (end - line) : strlen(line);
        if (line_len && !strstr(line, "to syslog") && strncmp(line, "sent tapfd", 10) &&
            strncmp(line, "received tapfd", 14)) {
            best = line;
            best_len = line_len;
        }
        line += line_len + (end ? 1 : 0);
    }
    if (best)
        snprintf(out, len, "%.*s", (int) (best_len < len ? best_len : len - 1), best);
}

static void report_failure(struct keeper_report *r, int dir_fd, int error, const char *what)
{
    char last[256];

    last_log_line(dir_fd, last, sizeof(last));
    r->error = error;
    snprintf(r->message, sizeof(r->message), "%s%s%s", what, *last ? ": " : "", last);
}

/* Waits for `fd` to become readable, at most `ms`; also returns when `other` (>= 0) does. 1: `fd` is,
 * 2: `other` is, 0: time is up. */
static int wait_readable(int fd, int other, int ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = other, .events = POLLIN}};
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long spent;
        int n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (spent >= ms)
            return 0;
        n = poll(p, other >= 0 ? 2 : 1, (int) (ms - spent));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (p[0].revents)
            return 1;
        if (p[1].revents)
            return 2;
    }
}

static void exec_helper(const struct brig_net *net, char **argv, int *keep, size_t n_keep, int log_fd)
{
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (null_fd >= 0) {
        dup2(null_fd, 0);
        dup2(null_fd, 1);
    }
    dup2(log_fd, 2);
    signal(SIGPIPE, SIG_DFL);
    for (size_t i = 0; i < n_keep; i++)
        fcntl(keep[i], F_SETFD, 0);
    brig_close_fds_except(keep, n_keep, 3);
    execv(net->helper, argv);
    _exit(127);
}

struct helper {
    pid_t pid;
    int pidfd;
    int exit_w; /* slirp4netns' --exit-fd, held open until the helper must go */
};

static void format_port_spec(const struct brig_net_port *p, char *out, size_t len)
{
    char addr[INET_ADDRSTRLEN] = "";

    if (p->host_ip.s_addr != INADDR_ANY) {
        inet_ntop(AF_INET, &p->host_ip, addr, sizeof(addr));
        strcat(addr, "/");
    }
    snprintf(out, len, "%s%u-%u:%u-%u", addr, (unsigned) p->host_port, (unsigned) (p->host_port + p->count - 1),
             (unsigned) p->container_port, (unsigned) (p->container_port + p->count - 1));
}

static int start_pasta(const struct brig_net *net, pid_t init, int log_fd, struct helper *h,
                       struct keeper_report *r)
{
    char pid_text[16], pid_path[4200], specs[64][64];
    char *argv[160];
    size_t n = 0, n_specs = 0;
    bool tcp = false, udp = false;
    cleanup_close int child_pidfd = -1;
    pid_t child;
    int status = 0;

    {
        cleanup_free char *path = NULL;
        int ret = net_state_file_path(net->state_dir_fd, PASTA_PID_FILE, &path);

        if (ret < 0) {
            report_failure(r, net->state_dir_fd, -ret, "pasta: state directory");
            return -1;
        }
        snprintf(pid_path, sizeof(pid_path), "%s", path);
    }
    snprintf(pid_text, sizeof(pid_text), "%d", (int) init);
    argv[n++] = "pasta";
    argv[n++] = "--config-net";
    argv[n++] = "--quiet";
    /* Only what was published: pasta's default would forward every port the container binds, both ways. */
    for (size_t i = 0; i < net->n_ports && n_specs < ARRAY_SIZE(specs); i++) {
        bool is_tcp = net->ports[i].proto == IPPROTO_TCP;
        format_port_spec(&net->ports[i], specs[n_specs], sizeof(specs[n_specs]));
        argv[n++] = is_tcp ? "-t" : "-u";
        argv[n++] = specs[n_specs++];
        tcp |= is_tcp;
        udp |= !is_tcp;
    }
    if (!tcp) {
        argv[n++] = "-t";
        argv[n++] = "none";
    }
    if (!udp) {
        argv[n++] = "-u";
        argv[n++] = "none";
    }
    argv[n++] = "-T";
    argv[n++] = "none";
    argv[n++] = "-U";
    argv[n++] = "none";
    if (!net->allow_host_loopback)
        argv[n++] = "--no-map-gw";
    argv[n++] = "--dns-forward";
    argv[n++] = PASTA_DNS;
    argv[n++] = "--pid";
    argv[n++] = pid_path;
    argv[n++] = pid_text;
    argv[n] = NULL;

    child = fork();
    if (child < 0) {
        report_failure(r, net->state_dir_fd, errno, "pasta: fork");
        return -1;
    }
    if (child == 0)
        exec_helper(net, argv, &log_fd, 1, log_fd);
    child_pidfd = pidfd_open_(child);
    /* pasta returns once the namespace is configured and its ports are bound, leaving its daemon. */
    if (child_pidfd >= 0 && wait_readable(child_pidfd, -1, READY_TIMEOUT_MS) != 1) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        report_failure(r, net->state_dir_fd, ETIMEDOUT, "pasta: not ready after 10 s");
        return -1;
    }
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char what[64];
        snprintf(what, sizeof(what), "pasta exited with status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        report_failure(r, net->state_dir_fd, EIO, what);
        return -1;
    }
    {
        cleanup_free char *text = NULL;
        cleanup_err struct brig_err *ignored = NULL;
        uint64_t pid;
        if (brig_read_file_at(net->state_dir_fd, PASTA_PID_FILE, &text, NULL, &ignored) < 0 ||
            (text[strcspn(text, "\n")] = '\0', brig_parse_u64(text, &pid) < 0)) {
            report_failure(r, net->state_dir_fd, EIO, "pasta: no pid in its pid file");
            return -1;
        }
        h->pid = (pid_t) pid;
        h->pidfd = pidfd_open_(h->pid);
    }
    return 0;
}

static int start_slirp4netns(const struct brig_net *net, pid_t init, int log_fd, struct helper *h,
                             struct keeper_report *r)
{
    char pid_text[16], ready_arg[32], exit_arg[32], api_arg[4200];
    char *argv[16];
    size_t n = 0;
    int ready[2], exits[2];
    char byte;

    {
        cleanup_free char *path = NULL;
        int ret = net_state_file_path(net->state_dir_fd, SLIRP_SOCKET_FILE, &path);

        if (ret < 0) {
            report_failure(r, net->state_dir_fd, -ret, "slirp4netns: state directory");
            return -1;
        }
        snprintf(api_arg, sizeof(api_arg), "--api-socket=%s", path);
    }
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(exits, O_CLOEXEC) < 0) {
        report_failure(r, net->state_dir_fd, errno, "slirp4netns: pipes");
        return -1;
    }
    snprintf(pid_text, sizeof(pid_text), "%d", (int) init);
    snprintf(ready_arg, sizeof(ready_arg), "--ready-fd=%d", ready[1]);
    snprintf(exit_arg, sizeof(exit_arg), "--exit-fd=%d", exits[0]);
    argv[n++] = "slirp4netns";
    argv[n++] = "--configure";
    argv[n++] = "--mtu=65520";
    if (!net->allow_host_loopback)
        argv[n++] = "--disable-host-loopback";
    argv[n++] = ready_arg;
    argv[n++] = exit_arg;
    argv[n++] = api_arg;
    argv[n++] = pid_text;
    argv[n++] = "tap0";
    argv[n] = NULL;

    h->pid = fork();
    if (h->pid < 0) {
        report_failure(r, net->state_dir_fd, errno, "slirp4netns: fork");
        return -1;
    }
    if (h->pid == 0) {
        int keep[] = {ready[1], exits[0], log_fd};
        exec_helper(net, argv, keep, ARRAY_SIZE(keep), log_fd);
    }
    close(ready[1]);
    close(exits[0]);
    h->exit_w = exits[1];
    h->pidfd = pidfd_open_(h->pid);
    /* It writes "1" once the tap device is configured; an exit first closes the pipe. */
    if (wait_readable(ready[0], -1, READY_TIMEOUT_MS) != 1) {
        close(ready[0]);
        report_failure(r, net->state_dir_fd, ETIMEDOUT, "slirp4netns: not ready after 10 s");
        return -1;
    }
    if (read(ready[0], &byte, 1) != 1) {
        int status = 0;
        close(ready[0]);
        waitpid(h->pid, &status, 0);
        h->pid = 0;
        char what[64];
        snprintf(what, sizeof(what), "slirp4netns exited with status %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        report_failure(r, net->state_dir_fd, EIO, what);
        return -1;
    }
    close(ready[0]);
    return 0;
}

static void stop_helper(struct helper *h)
{
    if (h->exit_w >= 0)
        close(h->exit_w); /* slirp4netns leaves at once */
    h->exit_w = -1;
    pidfd_kill(h->pidfd, SIGTERM);
}

/* Never returns. Holds only its own fds. */
static void keeper_main(const struct brig_net *net, pid_t init, int report_w, int commit_r, int log_fd)
{
    struct keeper_report r = {.keeper = getpid()};
    struct helper h = {.pidfd = -1, .exit_w = -1};
    int init_fd = pidfd_open_(init);
    bool committed = false;
    int ret;

    prctl(PR_SET_NAME, "brig-netkeeper", 0, 0, 0);
    setsid();
    if (init_fd < 0) {
        report_failure(&r, net->state_dir_fd, errno, "the container's init is gone");
        brig_write_all(report_w, &r, sizeof(r));
        _exit(1);
    }
    ret = net->backend == BRIG_NET_PASTA ? start_pasta(net, init, log_fd, &h, &r)
                                         : start_slirp4netns(net, init, log_fd, &h, &r);
    if (ret < 0) {
        stop_helper(&h);
        if (h.pid > 0)
            kill(h.pid, SIGKILL);
        brig_write_all(report_w, &r, sizeof(r));
        _exit(1);
    }
    r.helper = h.pid;
    brig_write_all(report_w, &r, sizeof(r));
    close(report_w);
    {
        int keep[] = {init_fd, commit_r, h.pidfd, h.exit_w};
        brig_close_fds_except(keep, ARRAY_SIZE(keep), 3);
    }
    for (;;) {
        struct pollfd p[3] = {{.fd = init_fd, .events = POLLIN},
                              {.fd = h.pidfd, .events = POLLIN},
                              {.fd = committed ? -1 : commit_r, .events = POLLIN}};
        char byte;
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents || p[1].revents)
            break; /* the container, or the helper, is gone */
        if (p[2].revents) {
            if (read(commit_r, &byte, 1) == 1) {
                committed = true;
                close(commit_r);
                continue;
            }
            break; /* the create died before its commit */
        }
    }
    stop_helper(&h);
    /* slirp4netns is ours: reap it, lest it linger as a zombie while we exit. */
    if (net->backend == BRIG_NET_SLIRP4NETNS && h.pid > 0)
        waitpid(h.pid, NULL, 0);
    _exit(0);
}

/* ---- port forwards through slirp4netns' API socket ---- */

static int api_call(int dir_fd, const char *request, char *answer, size_t len, struct brig_err **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char link[64], dir[4096];
    cleanup_close int fd = -1;
    size_t got = 0;
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", dir_fd);
    n = readlink(link, dir, sizeof(dir) - 1);
    if (n < 0)
        return brig_err_sys(err, "slirp4netns API: state directory");
    dir[n] = '\0';
    if ((size_t) snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", dir, SLIRP_SOCKET_FILE) >=
        sizeof(addr.sun_path))
        return brig_err_msg(err, ENAMETOOLONG, "slirp4netns API: socket path `%s/%s` is too long", dir,
                            SLIRP_SOCKET_FILE);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0)
        return brig_err_sys(err, "slirp4netns API: connect `%s`", addr.sun_path);
    if (brig_write_all(fd, request, strlen(request)) < 0)
        return brig_err_sys(err, "slirp4netns API: send");
    shutdown(fd, SHUT_WR);
    while (got + 1 < len) {
        if (wait_readable(fd, -1, API_TIMEOUT_MS) != 1)
            return brig_err_msg(err, ETIMEDOUT, "slirp4netns API: no answer in 3 s");
        n = read(fd, answer + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    answer[got] = '\0';
    return 0;
}

static int slirp_forward(const struct brig_net *net, struct brig_err **err)
{
    for (size_t i = 0; i < net->n_ports; i++) {
        const struct brig_net_port *p = &net->ports[i];
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &p->host_ip, host, sizeof(host));
        for (unsigned j = 0; j < p->count; j++) {
            char request[320], answer[1024];
            unsigned hport = p->host_port + j;
            int ret;
            snprintf(request, sizeof(request),
                     "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"%s\", \"host_addr\": \"%s\", "
                     "\"host_port\": %u, \"guest_addr\": \"" SLIRP_GUEST_ADDR "\", \"guest_port\": %u}}",
                     net_proto_name(p->proto), host, hport, (unsigned) (p->container_port + j));
            ret = api_call(net->state_dir_fd, request, answer, sizeof(answer), err);
            if (ret == 0 && !strstr(answer, "\"return\"")) {
                char *desc = strstr(answer, "\"desc\"");
                ret = brig_err_msg(err, EADDRINUSE, "slirp4netns refused it: %s", desc ? desc : answer);
            }
            if (ret < 0)
                return brig_err_wrap(err, ret, "port %s:%u/%s", host, hport, net_proto_name(p->proto));
        }
    }
    return 0;
}

int net_user_attach(struct brig_net *net, pid_t pid, struct brig_err **err)
{
    const char *name = net_backend_name(net->backend);
    struct user_record rec = {.backend = net->backend};
    struct keeper_report r = {0};
    cleanup_close int log_fd = -1;
    int report[2] = {-1, -1}, commit[2] = {-1, -1};
    pid_t first;
    ssize_t n;
    int ret;

    log_fd = openat(net->state_dir_fd, LOG_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return brig_err_sys(err, "network `%s`: open %s", name, LOG_FILE);
    if (pipe2(report, O_CLOEXEC) < 0)
        return brig_err_sys(err, "network `%s`: pipe", name);
    if (pipe2(commit, O_CLOEXEC) < 0) {
        ret = brig_err_sys(err, "network `%s`: pipe", name);
        close(report[0]);
        close(report[1]);
        return ret;
    }
    /* Forked twice: the keeper is no child of brig's (whose `run` waits for its own children). */
    first = fork();
    if (first < 0) {
        ret = brig_err_sys(err, "network `%s`: fork the keeper", name);
        goto out;
    }
    if (first == 0) {
        pid_t keeper = fork();
        if (keeper == 0) {
            int keep[] = {net->state_dir_fd, report[1], commit[0], log_fd};
            int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null_fd >= 0) {
                dup2(null_fd, 0);
                dup2(null_fd, 1);
                dup2(null_fd, 2);
            }
            sigset_t none;
            /* create holds SIGTERM, SIGINT and SIGHUP: the keeper and its helper must not. */
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
            /* A create that died must not take the keeper with it when the report finds no reader. */
            signal(SIGPIPE, SIG_IGN);
            brig_close_fds_except(keep, ARRAY_SIZE(keep), 3);
            keeper_main(net, pid, report[1], commit[0], log_fd);
        }
        _exit(keeper < 0 ? 1 : 0);
    }
    waitpid(first, NULL, 0);
    close(report[1]);
    report[1] = -1;
    close(commit[0]);
    commit[0] = -1;
    if (wait_readable(report[0], -1, READY_TIMEOUT_MS + 2000) != 1) {
        ret = brig_err_msg(err, ETIMEDOUT, "network `%s`: the keeper did not report", name);
        goto out;
    }
    n = read(report[0], &r, sizeof(r));
    if (n != (ssize_t) sizeof(r)) {
        ret = brig_err_msg(err, EIO, "network `%s`: the keeper died before it reported", name);
        goto out;
    }
    r.message[sizeof(r.message) - 1] = '\0';
    /* Both pids, as soon as they are known: from here on a teardown must kill them. */
    rec.keeper = r.keeper;
    rec.helper = r.helper;
    if (rec.keeper > 0)
        brig_proc_start_time(rec.keeper, &rec.keeper_start, NULL);
    if (rec.helper > 0)
        brig_proc_start_time(rec.helper, &rec.helper_start, NULL);
    ret = record_write(net, &rec, err);
    if (ret == 0 && r.error)
        ret = brig_err_msg(err, r.error, "%s", r.message);
    if (ret == 0 && net->backend == BRIG_NET_SLIRP4NETNS)
        ret = slirp_forward(net, err);
    if (ret == 0) {
        net->commit_fd = commit[1];
        commit[1] = -1;
    }
out:
    for (int i = 0; i < 2; i++) {
        if (report[i] >= 0)
            close(report[i]);
        if (commit[i] >= 0)
            close(commit[i]);
    }
    if (ret < 0)
        return brig_err_wrap(err, ret, "network `%s`", name);
    return 0;
}

/* ---- teardown ---- */

static void kill_recorded(pid_t pid, uint64_t start)
{
    uint64_t now;
    int fd;

    if (pid <= 0)
        return;
    fd = pidfd_open_(pid);
    if (fd < 0)
        return;
    /* The pidfd pins the process: checked after it is open, the start time names the one we recorded. */
    if (brig_proc_start_time(pid, &now, NULL) == 0 && now == start) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        pidfd_kill(fd, SIGKILL);
        poll(&p, 1, 1000);
    }
    close(fd);
}

static int parse_pid_line(const char *text, const char *key, pid_t *pid, uint64_t *start)
{
    const char *p = strstr(text, key);
    int v;
    unsigned long long s;

    if (!p || sscanf(p + strlen(key), "%d %llu", &v, &s) != 2)
        return -EINVAL;
    *pid = v;
    *start = s;
    return 0;
}

int net_user_teardown(int state_dir_fd, bool *handled, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *read_err = NULL;
    pid_t keeper = 0, helper = 0;
    uint64_t keeper_start = 0, helper_start = 0;
    int ret;

    (void) err;
    *handled = false;
    ret = brig_read_file_at(state_dir_fd, BRIG_NET_HELPER_FILE, &text, NULL, &read_err);
    if (ret == -ENOENT)
        return 0;
    *handled = true;
    if (ret == 0) {
        parse_pid_line(text, "\nhelper=", &helper, &helper_start);
        parse_pid_line(text, "\nkeeper=", &keeper, &keeper_start);
        /* The helper first: the keeper's end would stop it too, but not at once. */
        kill_recorded(helper, helper_start);
        kill_recorded(keeper, keeper_start);
    }
    unlinkat(state_dir_fd, SLIRP_SOCKET_FILE, 0);
    unlinkat(state_dir_fd, PASTA_PID_FILE, 0);
    unlinkat(state_dir_fd, LOG_FILE, 0);
    unlinkat(state_dir_fd, BRIG_NET_HOSTS_FILE, 0);
    unlinkat(state_dir_fd, BRIG_NET_RESOLV_FILE, 0);
    unlinkat(state_dir_fd, BRIG_NET_HELPER_FILE, 0);
    return 0;
}
