/* `migrate` and `migrate-receive` (issue 14): a running container moves to another host over one TCP connection,
 * through checkpoint/restore's own paths (runtime/checkpoint.c): the source dumps it (after pre-dumps sent while
 * it runs, in live mode), the receiver restores it under brig's restore with the image's network record (same
 * network, address and ports), and only its "restored" answer lets the source's dump stand. Any failure before
 * that answer restores the container on the source from its own dump; the receiver removes what it made.
 *
 * The protocol (framing, frame types, limits) is in NOTES.md. */
#ifndef BRIG_MIGRATE_MIGRATE_H
#define BRIG_MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../runtime/runtime.h"
#include "../util/error.h"

#define BRIG_MIGRATE_DEFAULT_ITERATIONS 5
#define BRIG_MIGRATE_MAX_ITERATIONS 64

struct brig_migrate_opts {
    const char *id;
    const char *target;          /* "tcp:HOST:PORT" */
    bool live;                   /* iterative pre-dumps before the final one */
    unsigned max_iterations;     /* live: pre-dumps at most; 0: BRIG_MIGRATE_DEFAULT_ITERATIONS */
    unsigned downtime_target_ms; /* live: stop pre-dumping once the last dirty set would go in this; 0: none */
    /* live: the receiver's restore reads the pre-dump chain itself, instead of leaving it to a local
     * `criu lazy-pages` (migrate/NOTES.md, "Live mode"): a small container, where the daemon's start costs
     * more than the read, or a comparison. */
    bool eager_restore;
    bool tcp_established;
    bool progress; /* a line on stderr per dump sent and at the end (cmd/ sets it when stderr is a terminal) */
    /* Post-copy: the final dump leaves the memory behind and serves it from a page server here; the
     * destination restores at once and `criu lazy-pages` there fetches it (on fault, then the rest). The
     * container is gone here only once every page was fetched. Not with live or export_path. */
    bool lazy_pages;
    /* Export instead: the same frames into this new file (offline only); the container is gone afterwards,
     * its dump in the archive. */
    const char *export_path;
};

/* What a migration measured: bytes[i] is what iteration i sent (the pre-dumps, then the final dump). */
struct brig_migrate_figures {
    unsigned iterations;
    uint64_t bytes[BRIG_MIGRATE_MAX_ITERATIONS + 1];
    unsigned n_bytes;
    uint64_t downtime_ms; /* from the final dump's start to the receiver's "restored" */
    uint64_t total_ms;
    /* Where the downtime went: the final dump (freeze to image written; lazy: to the page server ready), the
     * root's changes packed, the image's send, the receiver's restore (as it measured it, with the root's
     * changes unpacked and, live, its local lazy-pages start and image rewrite; 0 if it did not say), the rest
     * is the round trips. */
    uint64_t dump_ms, rootfs_ms, send_ms, restore_ms;
    uint64_t pages_ms;  /* lazy: from "restored" to every page fetched */
    uint64_t daemon_ms; /* lazy: the start of `criu lazy-pages`, within restore_ms */
};

/* The one JSON line `migrate` prints: {"iterations":N,"bytes":[...],"downtime_ms":D,"total_ms":T,
 * "dump_ms":..,"rootfs_ms":..,"send_ms":..,"restore_ms":..} (and "pages_ms", "daemon_ms" with lazy pages). */
int brig_migrate_figures_json(const struct brig_migrate_figures *f, char **json, struct brig_err **err);

/* Parses "tcp:HOST:PORT" (HOST a name, an IPv4 address or a bracketed IPv6 one) for migrate, or "ADDR:PORT"
 * for --listen (with_scheme false). */
int brig_migrate_parse_address(const char *text, bool with_scheme, struct sockaddr_storage *addr, socklen_t *len,
                               struct brig_err **err);

/* Moves container opts->id to the receiver at opts->target. On success the container is gone here and runs
 * there; on failure it runs here (never dumped, or restored from its dump) and the error says which. */
int brig_migrate(const struct brig_context *ctx, const struct brig_migrate_opts *opts,
                 struct brig_migrate_figures *figures, struct brig_err **err);

struct brig_migrate_receive_opts {
    const char *listen;     /* "ADDR:PORT" */
    bool once;              /* one migration, then return its result */
    const char *new_id;     /* restore under this id instead of the source's */
    const char *bundle_dir; /* where each received container's bundle goes (DIR/ID); NULL: <root>/.migrate */
    unsigned timeout;       /* s a silent source is waited for (a frame, the commit); 0: 120 */
    const char *cgroup_parent; /* restored containers' cgroups go below it (their config's path under it) */
};

/* Restores an archive `brig export` wrote (opts->listen and once unused). */
int brig_migrate_import(const struct brig_context *ctx, const struct brig_migrate_receive_opts *opts,
                        const char *path, struct brig_err **err);

/* Listens and restores what each connection brings. With once, returns after the first migration (its error,
 * if it failed); otherwise serves until a stop signal. */
int brig_migrate_receive(const struct brig_context *ctx, const struct brig_migrate_receive_opts *opts,
                         struct brig_err **err);

#endif
