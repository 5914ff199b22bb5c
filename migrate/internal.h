/* The migration protocol's frames, shared by the sending and the receiving side (NOTES.md describes them). */
#ifndef BRIG_MIGRATE_INTERNAL_H
#define BRIG_MIGRATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "migrate.h"

/* 2: the source commits (COMMIT, DONE) after the receiver's RESTORED. */
#define MIG_VERSION "brig-migrate/2"
#define MIG_NAME_MAX 4096
/* Frames other than files are held in memory: a config or a message, never this big. */
#define MIG_SMALL_MAX (16u << 20)
/* Seconds a peer may stay silent: a restore under TCG takes tens of seconds, a transfer step far less. */
#define MIG_IO_TIMEOUT 120
#define MIG_RESTORE_TIMEOUT 600

enum mig_frame_type {
    MIG_HELLO = 1,    /* name: the container's id; data: MIG_VERSION. The receiver answers HELLO or FAILED */
    MIG_CONFIG = 2,   /* data: the bundle's config.json */
    MIG_ROOTFS = 3,   /* name: the source's absolute root (a plain root: the same path on the destination) */
    MIG_DIR = 4,      /* name: a directory of the image tree, relative */
    MIG_FILE = 5,     /* name: a file of the image tree; data: its bytes */
    MIG_LINK = 6,     /* name: a symlink of the image tree; data: its target (CRIU's "parent" link) */
    MIG_ITERATION = 7, /* name: the image directory just sent in full (a pre-dump's or the final one) */
    MIG_RESTORE = 8,  /* name: the final image directory; data: restore flags, one a line */
    MIG_RESTORED = 9, /* the receiver's answer: data: the new init's pid */
    MIG_FAILED = 10,  /* either side's refusal or failure: data: the one-line message */
    MIG_COMMIT = 11,  /* the source, after RESTORED: its dump is dropped, the receiver keeps the container */
    MIG_DONE = 12,    /* the receiver, after COMMIT: it keeps the container whatever comes next */
    MIG_CONNTRACK = 13, /* before RESTORE: data: its inbound TCP connections' conntrack lines (netns.h) */
    MIG_PAGES = 14,   /* lazy pages: the receiver's second answer (before COMMIT), every page fetched */
};

/* RESTORE's flag for post-copy: the line is MIG_FLAG_LAZY "ADDR:PORT" (the source's page server). */
#define MIG_FLAG_LAZY "lazy-pages "
/* RESTORE's flag for a live migration: the pre-copied pages are left to a local lazy-pages daemon. */
#define MIG_FLAG_LOCAL_LAZY "local-lazy\n"

struct mig_frame {
    uint32_t type;
    uint64_t data_len;
    char name[MIG_NAME_MAX + 1];
};

int mig_send_frame(int fd, uint32_t type, const char *name, const void *data, size_t len, struct brig_err **err);
/* Sends dir (relative to base_fd) and everything below it; *bytes grows by the file bytes sent. */
int mig_send_tree(int fd, int base_fd, const char *dir, uint64_t *bytes, struct brig_err **err);
/* Waits up to timeout seconds for the next frame's header (name included). */
int mig_recv_frame(int fd, unsigned timeout, struct mig_frame *f, struct brig_err **err);
/* The frame's data in memory (NUL-terminated), at most MIG_SMALL_MAX bytes. */
int mig_recv_data(int fd, const struct mig_frame *f, char **out, struct brig_err **err);
/* DIR, FILE or LINK applied below base_fd, the name checked to stay inside. */
int mig_recv_tree_entry(int fd, int base_fd, const struct mig_frame *f, struct brig_err **err);
/* A relative name without `..`, empty or absolute components. */
bool mig_name_ok(const char *name);

uint64_t mig_now_ms(void);

/* The stop signals (SIGTERM, SIGINT, SIGHUP) are blocked for a whole migration, so that a stop ends it at the
 * next step with its undo path run; the pending signal is the only record (no handler, no global state). */
void mig_stop_block(sigset_t *previous);
/* Back to *previous; a stop still pending is consumed first (it was answered by the failure it caused). */
void mig_stop_unblock(const sigset_t *previous);
/* A signalfd readable while a stop is pending, or -1. */
int mig_stop_fd(void);
/* -EINTR ("`what`: interrupted by SIGTERM") when a stop is pending, consuming it; else 0. */
int mig_stop_check(const char *what, struct brig_err **err);
/* The root's changes in the final image directory (rootfs.c says what they are for each kind of root). */
#define MIG_ROOTFS_TAR "brig-rootfs.tar"
/* Source, the tree dumped or frozen: writes image/MIG_ROOTFS_TAR; *kept_upper: an overlay root's upper kept
 * by the dump (malloc'd; removed here once the move succeeded), else NULL. */
int mig_pack_rootfs(const struct brig_state *state, const char *image, char **kept_upper, struct brig_err **err);
/* Receiver: unpacks image/MIG_ROOTFS_TAR, if any: over root (a plain root), or into a new upper
 * (*made_upper, malloc'd: removed again if the restore fails) that the image's rootfs record then names. */
int mig_unpack_rootfs(const struct brig_context *ctx, const char *id, const char *image, const char *root,
                      char **made_upper, struct brig_err **err);

/* The source's lazy final dump (lazy.c), in a child of ours. */
struct mig_lazy {
    pid_t child;
    int err_fd;
    char page_server[80]; /* "ADDR:PORT": the connection's local address, a free port */
};
/* Forks the dump of `id` into image (logs in work) with its page server on the connection's local address,
 * and returns once the image is written and the page server listens (or the dump's error). */
int mig_lazy_dump_start(const struct brig_context *ctx, const char *id, const char *image, const char *work,
                        int conn, bool tcp_established, struct mig_lazy *l, struct brig_err **err);
/* Waits for the dump's end: 0 once every page was fetched (the container is gone here), else its error (CRIU
 * resumed the tree here). */
int mig_lazy_dump_wait(struct mig_lazy *l, struct brig_err **err);
/* Before the destination restored: the dump abandoned, the container runs on here. */
void mig_lazy_abandon(struct mig_lazy *l);

#endif
