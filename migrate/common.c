/* What both sides share: the addresses and the figures line. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include "internal.h"
#include "../util/util.h"

int brig_migrate_parse_address(const char *text, bool with_scheme, struct sockaddr_storage *addr, socklen_t *len,
                               struct brig_err **err)
{
    const char *what = with_scheme ? "migration target" : "--listen";
    const char *rest = text, *colon;
    cleanup_free char *host = NULL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    uint64_t port;
    int gai;

    if (with_scheme) {
        if (strncmp(text, "tcp:", 4) != 0)
            return brig_err_msg(err, EINVAL, "%s `%s`: not tcp:HOST:PORT", what, text);
        rest = text + 4;
    } else {
        hints.ai_flags |= AI_NUMERICHOST | AI_PASSIVE;
    }
    colon = strrchr(rest, ':');
    if (!colon || colon == rest)
        return brig_err_msg(err, EINVAL, "%s `%s`: not %sHOST:PORT", what, text, with_scheme ? "tcp:" : "");
    if (brig_parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535)
        return brig_err_msg(err, EINVAL, "%s `%s`: port `%s`: not a number in 1..65535", what, text, colon + 1);
    if (rest[0] == '[' && colon[-1] == ']')
        host = strndup(rest + 1, (size_t) (colon - rest - 2));
    else
        host = strndup(rest, (size_t) (colon - rest));
    if (!host)
        return brig_err_set(err, ENOMEM, "%s", what);
    gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0)
        return brig_err_msg(err, EINVAL, "%s `%s`: host `%s`: %s", what, text, host, gai_strerror(gai));
    if (res->ai_addrlen > sizeof(*addr)) {
        freeaddrinfo(res);
        return brig_err_msg(err, EINVAL, "%s `%s`: address too long", what, text);
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int brig_migrate_figures_json(const struct brig_migrate_figures *f, char **json, struct brig_err **err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    if (!out)
        return brig_err_set(err, ENOMEM, "figures");
    fprintf(out, "{\"iterations\":%u,\"bytes\":[", f->iterations);
    for (unsigned i = 0; i < f->n_bytes; i++)
        fprintf(out, "%s%llu", i ? "," : "", (unsigned long long) f->bytes[i]);
    fprintf(out, "],\"downtime_ms\":%llu,\"total_ms\":%llu,\"dump_ms\":%llu,\"rootfs_ms\":%llu,"
                 "\"send_ms\":%llu,\"restore_ms\":%llu",
            (unsigned long long) f->downtime_ms, (unsigned long long) f->total_ms, (unsigned long long) f->dump_ms,
            (unsigned long long) f->rootfs_ms, (unsigned long long) f->send_ms, (unsigned long long) f->restore_ms);
    if (f->pages_ms)
        fprintf(out, ",\"pages_ms\":%llu,\"daemon_ms\":%llu", (unsigned long long) f->pages_ms,
                (unsigned long long) f->daemon_ms);
    fputc('}', out);
    if (fclose(out) != 0) {
        free(text);
        return brig_err_set(err, ENOMEM, "figures");
    }
    *json = text;
    return 0;
}

static void stop_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

void mig_stop_block(sigset_t *previous)
{
    sigset_t stop;

    stop_set(&stop);
    sigprocmask(SIG_BLOCK, &stop, previous);
}

void mig_stop_unblock(const sigset_t *previous)
{
    sigset_t stop;
    struct timespec now = {0, 0};

    stop_set(&stop);
    while (sigtimedwait(&stop, NULL, &now) > 0)
        ;
    sigprocmask(SIG_SETMASK, previous, NULL);
}

int mig_stop_fd(void)
{
    sigset_t stop;

    stop_set(&stop);
    return signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
}

int mig_stop_check(const char *what, struct brig_err **err)
{
    sigset_t stop;
    struct timespec now = {0, 0};
    const char *name;
    int sig;

    stop_set(&stop);
    sig = sigtimedwait(&stop, NULL, &now);
    if (sig <= 0)
        return 0;
    name = sigabbrev_np(sig);
    return brig_err_msg(err, EINTR, "%s: interrupted by SIG%s", what, name ? name : "?");
}
