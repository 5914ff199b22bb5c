/* The destination's side: one migration per connection, restored through brig's restore (which gives it the
 * image's network record: the same network, address and ports); whatever a failed one made is removed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "../netns/netns.h"
#include "../util/util.h"

#define IMAGES_DIR "images"
#define FINAL_IMAGE "final"

struct arrival {
    const struct brig_context *ctx;
    const struct brig_migrate_receive_opts *opts;
    int conn;
    char id[256];
    char *bundle;     /* <bundle_dir>/ID, made here: removed on failure */
    int images_fd;    /* <bundle>/images */
    char *rootfs;     /* the source's root (MIG_ROOTFS) */
    char *made_upper; /* an overlay root's upper unpacked here: removed on failure */
    bool config_seen;
    bool restored;
    bool committed;
    char *conntrack;       /* MIG_CONNTRACK's lines */
    bool conntrack_added;  /* removed again by undo */
    bool archive; /* import: no one to answer */
    int stop_fd;
    unsigned timeout; /* s a silent source is waited for (a frame, the COMMIT) */
    /* Live: each pre-dump merged into the first one's pages file as it came (brig_ckpt_local_lazy_merge);
     * one that failed leaves the restore reading the chain as it is. */
    bool merge_failed;
};

/* Until a frame is there (or a timeout: mig_recv_frame then says so), or a stop comes: -EINTR. */
static int next_frame(const struct arrival *a, struct mig_frame *f, struct brig_err **err)
{
    struct pollfd p[2] = {{.fd = a->conn, .events = POLLIN}, {.fd = a->stop_fd, .events = POLLIN}};
    int n;

    if (!a->archive) {
        do
            n = poll(p, a->stop_fd >= 0 ? 2 : 1, (int) a->timeout * 1000);
        while (n < 0 && errno == EINTR);
        if (n > 0 && (p[1].revents & POLLIN))
            return mig_stop_check("the receiver was stopped", err);
    }
    return mig_recv_frame(a->conn, a->timeout, f, err);
}

static int answer(const struct arrival *a, uint32_t type, const char *text, struct brig_err **err)
{
    if (a->archive)
        return 0;
    return mig_send_frame(a->conn, type, type == MIG_HELLO ? a->id : NULL, text, strlen(text), err);
}

static int make_bundle(struct arrival *a, struct brig_err **err)
{
    cleanup_free char *parent = NULL;
    cleanup_free char *images = NULL;
    int ret;

    if (a->opts->bundle_dir)
        parent = strdup(a->opts->bundle_dir);
    else if (asprintf(&parent, "%s/.migrate", a->ctx->root) < 0)
        parent = NULL;
    if (!parent || asprintf(&a->bundle, "%s/%s", parent, a->id) < 0)
        return brig_err_set(err, ENOMEM, "bundle directory");
    ret = brig_mkdir_p(parent, 0711, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "--bundle-dir");
    if (mkdir(a->bundle, 0700) < 0) {
        ret = errno == EEXIST ? brig_err_msg(err, EEXIST, "bundle `%s` exists (another migration of `%s`?)",
                                            a->bundle, a->id)
                              : brig_err_sys(err, "bundle `%s`", a->bundle);
        free(a->bundle);
        a->bundle = NULL;
        return ret;
    }
    if (asprintf(&images, "%s/%s", a->bundle, IMAGES_DIR) < 0)
        return brig_err_set(err, ENOMEM, "bundle directory");
    if (mkdir(images, 0700) < 0 || (a->images_fd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return brig_err_sys(err, "`%s`", images);
    return 0;
}

static int hello(struct arrival *a, struct brig_err **err)
{
    struct mig_frame f;
    cleanup_free char *version = NULL;
    cleanup_state struct brig_state *existing = NULL;
    cleanup_err struct brig_err *probe = NULL;
    const char *id;
    int ret = next_frame(a, &f, err);

    if (ret == 0)
        ret = mig_recv_data(a->conn, &f, &version, err);
    if (ret < 0 || !version)
        return ret < 0 ? ret : -EIO;
    if (f.type != MIG_HELLO || strcmp(version, MIG_VERSION) != 0)
        return brig_err_msg(err, EPROTO, "not a %s source (frame %u, `%.40s`)", MIG_VERSION, f.type,
                            version);
    id = a->opts->new_id ? a->opts->new_id : f.name;
    if (strlen(id) >= sizeof(a->id))
        return brig_err_msg(err, EINVAL, "container id `%.40s...`: too long", id);
    memcpy(a->id, id, strlen(id) + 1);
    ret = brig_validate_id(a->id, err);
    if (ret < 0)
        return ret;
    if (brig_container_load_state(a->ctx, a->id, &existing, &probe) == 0 || (probe && probe->errnum != ENOENT))
        return brig_err_msg(err, EEXIST, "container `%s` exists on this host", a->id);
    ret = make_bundle(a, err);
    if (ret == 0)
        ret = answer(a, MIG_HELLO, MIG_VERSION, err);
    return ret;
}

/* The bundle the container is restored from: the source's config.json, and for a relative root.path a
 * symlink there to the source's root, which must exist here (a plain root is not sent). */
static int prepare_root(const struct arrival *a, struct brig_err **err)
{
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_free char *config = NULL;
    cleanup_free char *link = NULL;
    struct stat st;
    int ret;

    if (!a->config_seen || !a->rootfs)
        return brig_err_msg(err, EPROTO, "restore asked for before the config and root were sent");
    if (asprintf(&config, "%s/config.json", a->bundle) < 0)
        return brig_err_set(err, ENOMEM, "config");
    ret = brig_spec_load(config, &spec, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "the source's config");
    if (!spec->process || spec->process->terminal)
        return brig_err_msg(err, ENOTSUP, "the source's config: a process with a terminal is not supported yet");
    if (stat(a->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
        return brig_err_msg(err, ENOENT, "root `%s` does not exist on this host (a plain root is not sent)",
                            a->rootfs);
    if (!spec->root_path || !*spec->root_path || spec->root_path[0] == '/')
        return 0;
    if (!mig_name_ok(spec->root_path))
        return brig_err_msg(err, EINVAL, "the source's config: root.path `%s`: not a plain relative path",
                            spec->root_path);
    if (asprintf(&link, "%s/%s", a->bundle, spec->root_path) < 0)
        return brig_err_set(err, ENOMEM, "root");
    if (strchr(spec->root_path, '/')) {
        cleanup_free char *dir = strdup(link);
        if (!dir)
            return brig_err_set(err, ENOMEM, "root");
        *strrchr(dir, '/') = '\0';
        ret = brig_mkdir_p(dir, 0711, err);
        if (ret < 0)
            return ret;
    }
    if (symlink(a->rootfs, link) < 0)
        return brig_err_sys(err, "root `%s`", link);
    return 0;
}

/* The container runs here, the source's dump still stands: only its COMMIT lets this one stay. Its FAILED,
 * its end, silence or a stop deletes it (undo), so that a source that restores its own never meets it. */
static int await_commit(struct arrival *a, struct brig_err **err)
{
    struct mig_frame f;
    cleanup_free char *data = NULL;
    cleanup_err struct brig_err *ignored = NULL;
    int ret = next_frame(a, &f, err);

    if (ret == 0)
        ret = mig_recv_data(a->conn, &f, &data, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "no commit from the source");
    if (f.type == MIG_FAILED)
        return brig_err_msg(err, ECANCELED, "the source gave up: %s", data);
    if (f.type != MIG_COMMIT)
        return brig_err_msg(err, EPROTO, "frame %u where the commit was due", f.type);
    /* Committed: the source has let its dump go, so the container stays whatever becomes of this answer. */
    a->committed = true;
    answer(a, MIG_DONE, "", &ignored);
    return 0;
}

/* A pre-dump with a parent, as it arrives (while the container still runs on the source): its pages into the
 * first pre-dump's file, for a local lazy restore (checkpoint/pagemap.c). The final image is merged at the
 * restore. */
static void merge_iteration(struct arrival *a, const char *dir)
{
    cleanup_err struct brig_err *e = NULL;
    char link[8];
    uint64_t start = mig_now_ms();

    if (a->merge_failed || strcmp(dir, FINAL_IMAGE) == 0 || !mig_name_ok(dir) || strchr(dir, '/'))
        return;
    {
        cleanup_free char *path = NULL;
        if (asprintf(&path, "%s/parent", dir) < 0 || readlinkat(a->images_fd, path, link, sizeof(link)) < 0)
            return;
    }
    if (brig_ckpt_local_lazy_merge(a->images_fd, dir, &e) < 0) {
        brig_log(a->ctx, BRIG_LOG_WARNING, "migrate-receive: `%s`: %s (its restore reads the pre-dumps)", a->id,
                 e->msg);
        a->merge_failed = true;
        return;
    }
    brig_log(a->ctx, BRIG_LOG_DEBUG, "migrate-receive: `%s`: image `%s` merged in %llu ms", a->id, dir,
             (unsigned long long) (mig_now_ms() - start));
}

/* RESTORE's lazy-pages line: the source's page server, checked to be a plain address. */
static int lazy_source(const char *flags, char *out, size_t len, struct brig_err **err)
{
    const char *line = strstr(flags, MIG_FLAG_LAZY);
    size_t n;

    out[0] = '\0';
    if (!line)
        return 0;
    line += strlen(MIG_FLAG_LAZY);
    n = strcspn(line, "\n");
    if (n == 0 || n >= len || strspn(line, "0123456789abcdefABCDEF.:[]") < n)
        return brig_err_msg(err, EPROTO, "restore flags: lazy pages from `%.*s`: not ADDRESS:PORT", (int) n, line);
    memcpy(out, line, n);
    out[n] = '\0';
    return 0;
}

/* Live, before the restore: the daemon started (it reads only the tree's pstree.img at its start, the
 * pagemaps once the restore connects), the final image merged and rewritten meanwhile. Nothing to leave to it
 * (no parent image): the daemon goes again, *lazy -1, the restore reads the image as it is. */
static int local_lazy_prepare(struct arrival *a, const char *final, const char *image, pid_t *lazy, int *ready_fd,
                              struct brig_err **err)
{
    struct brig_ckpt_local_lazy st;
    cleanup_err struct brig_err *why = NULL;
    int ret = brig_ckpt_lazy_daemon_spawn(a->ctx->criu, image, a->bundle, NULL, lazy, ready_fd, &why);

    /* No daemon: the image stays as it came, read by the restore. */
    if (ret < 0) {
        brig_log(a->ctx, BRIG_LOG_WARNING, "migrate-receive: `%s`: %s (the restore reads every page)", a->id,
                 why->msg);
        return 0;
    }
    ret = brig_ckpt_local_lazy_prepare(a->images_fd, final, &st, err);
    if (ret == 0 && st.skipped)
        brig_log(a->ctx, BRIG_LOG_WARNING, "migrate-receive: `%s`: %u of its processes' memory read by the restore "
                 "(%s)", a->id, st.skipped, st.why);
    if (ret < 0 || st.tasks == 0) {
        close(*ready_fd);
        *ready_fd = -1;
        brig_ckpt_lazy_daemon_kill(*lazy);
        *lazy = -1;
        return ret;
    }
    brig_log(a->ctx, BRIG_LOG_DEBUG, "migrate-receive: `%s`: %llu pages left to the local lazy-pages daemon, %llu "
             "read by the restore", a->id, (unsigned long long) st.lazy_pages, (unsigned long long) st.eager_pages);
    return 0;
}

static int restore(struct arrival *a, const struct mig_frame *f, struct brig_err **err)
{
    cleanup_free char *flags = NULL;
    cleanup_free char *image = NULL;
    char pid[64];
    struct brig_restore_opts r = {.id = a->id, .bundle = a->bundle, .detach = true, .ckpt = {.status_fd = -1}};
    cleanup_state struct brig_state *state = NULL;
    char page_server[128] = "";
    uint64_t start, took, daemon_ms = 0;
    pid_t lazy = -1;
    int ready_fd = -1;
    bool local_lazy;
    int status = 0;
    int ret = mig_recv_data(a->conn, f, &flags, err);

    if (ret < 0)
        return ret;
    if (!mig_name_ok(f->name) || strchr(f->name, '/'))
        return brig_err_msg(err, EPROTO, "restore of image `%s`: not an image directory's name", f->name);
    r.ckpt.tcp_established = strstr(flags, "tcp-established\n") != NULL;
    r.cgroup_parent = a->opts->cgroup_parent;
    ret = lazy_source(flags, page_server, sizeof(page_server), err);
    if (ret == 0)
        ret = prepare_root(a, err);
    if (ret < 0)
        return ret;
    if (asprintf(&image, "%s/%s/%s", a->bundle, IMAGES_DIR, f->name) < 0)
        return brig_err_set(err, ENOMEM, "image path");
    start = mig_now_ms();
    local_lazy = strstr(flags, MIG_FLAG_LOCAL_LAZY) && !page_server[0] && !a->archive && !a->merge_failed;
    if (local_lazy) {
        ret = local_lazy_prepare(a, f->name, image, &lazy, &ready_fd, err);
        if (ret < 0)
            return ret;
        local_lazy = lazy > 0;
    }
    ret = mig_unpack_rootfs(a->ctx, a->id, image, a->rootfs, &a->made_upper, err);
    if (local_lazy && ret < 0)
        close(ready_fd);
    if (local_lazy && ret == 0) {
        cleanup_err struct brig_err *why = NULL;
        /* The rewritten image is a plain one too (its lazy pages are in its own pages file): without the
         * daemon the restore reads them. */
        if (brig_ckpt_lazy_daemon_ready(&lazy, ready_fd, a->bundle, &why) < 0) {
            brig_log(a->ctx, BRIG_LOG_WARNING, "migrate-receive: `%s`: %s (the restore reads every page)", a->id,
                     why->msg);
            local_lazy = false;
        }
        r.ckpt.lazy_pages = local_lazy;
        daemon_ms = mig_now_ms() - start;
    }
    if (ret < 0) {
        brig_ckpt_lazy_daemon_kill(lazy);
        return ret;
    }
    r.ckpt.image_path = image;
    r.ckpt.work_path = a->bundle;
    /* Post-copy: the daemon listens first (restore hands it the userfaultfds), in restore's work path. */
    if (page_server[0]) {
        if (a->archive)
            return brig_err_msg(err, EPROTO, "an archive's restore asks for lazy pages");
        ret = brig_ckpt_lazy_daemon_start(a->ctx->criu, image, a->bundle, page_server, &lazy, err);
        if (ret < 0)
            return ret;
        r.ckpt.lazy_pages = true;
        daemon_ms = mig_now_ms() - start;
    }
    /* Before the restore: the restored socket may speak first (see netns/conntrack.c). */
    if (a->conntrack && r.ckpt.tcp_established) {
        cleanup_err struct brig_err *warn = NULL;
        if (brig_net_conntrack_restore(a->conntrack, &warn) < 0)
            brig_log(a->ctx, BRIG_LOG_WARNING, "migrate-receive: `%s`: %s (its TCP connections may not survive)",
                     a->id, warn->msg);
        a->conntrack_added = true;
    }
    ret = brig_container_restore(a->ctx, &r, &status, err);
    if (ret < 0) {
        brig_ckpt_lazy_daemon_kill(lazy);
        return ret;
    }
    a->restored = true;
    took = mig_now_ms() - start;
    /* A stop during the restore (which holds it back) undoes it: the source restores its own. */
    ret = mig_stop_check("the receiver was stopped", err);
    if (ret < 0 || a->archive) {
        brig_ckpt_lazy_daemon_kill(lazy);
        return ret;
    }
    ret = brig_container_load_state(a->ctx, a->id, &state, err);
    snprintf(pid, sizeof(pid), "%d %llu %llu", ret == 0 ? (int) state->pid : 0, (unsigned long long) took,
             (unsigned long long) daemon_ms);
    brig_err_free(err);
    ret = answer(a, MIG_RESTORED, pid, err);
    if (ret == 0 && local_lazy) {
        /* Every page is here already, in the images; the daemon puts them in. The source waits for DONE
         * meanwhile: a daemon that fails leaves pages that would read as zeros, so the container is deleted
         * (undo) and FAILED lets the source restore its own. */
        ret = brig_ckpt_lazy_daemon_wait(lazy, a->bundle, MIG_RESTORE_TIMEOUT - 60, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "live: the lazy-pages daemon failed (the container here had only part "
                                           "of its memory and is deleted)");
        brig_log(a->ctx, BRIG_LOG_DEBUG, "migrate-receive: `%s`: every pre-copied page in after %llu ms", a->id,
                 (unsigned long long) (mig_now_ms() - start - took));
        return await_commit(a, err);
    }
    if (ret < 0 || lazy < 0) {
        brig_ckpt_lazy_daemon_kill(lazy);
        return ret < 0 ? ret : await_commit(a, err);
    }
    /* The tree runs, its memory not all here: the daemon's end says whether it ever will be. A fetch that
     * failed leaves pages that would read as zeros, so undo() deletes the container. */
    ret = brig_ckpt_lazy_daemon_wait(lazy, a->bundle, MIG_RESTORE_TIMEOUT, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "post-copy: the source's pages stopped coming (the container here had only "
                                       "part of its memory and is deleted)");
    brig_log(a->ctx, BRIG_LOG_DEBUG, "migrate-receive: `%s`: every page fetched in %llu ms", a->id,
             (unsigned long long) (mig_now_ms() - start - took));
    /* Every page fetched: the source's dump has ended and its tree is gone, so this one stays (no COMMIT
     * comes: there is nothing left there to restore). */
    a->committed = true;
    return answer(a, MIG_PAGES, "", err);
}

static int write_config(const struct arrival *a, const char *data, size_t len, struct brig_err **err)
{
    cleanup_free char *path = NULL;

    if (asprintf(&path, "%s/config.json", a->bundle) < 0)
        return brig_err_set(err, ENOMEM, "config");
    return brig_write_file_atomic_at(AT_FDCWD, path, data, len, 0600, err);
}

static int serve(struct arrival *a, struct brig_err **err)
{
    int ret = hello(a, err);

    while (ret == 0) {
        struct mig_frame f;
        cleanup_free char *data = NULL;

        ret = next_frame(a, &f, err);
        if (ret < 0)
            break;
        switch (f.type) {
        case MIG_CONFIG:
            ret = mig_recv_data(a->conn, &f, &data, err);
            if (ret == 0)
                ret = write_config(a, data, f.data_len, err);
            a->config_seen = ret == 0;
            break;
        case MIG_ROOTFS:
            ret = mig_recv_data(a->conn, &f, &data, err);
            if (ret == 0 && f.name[0] != '/')
                ret = brig_err_msg(err, EPROTO, "root `%s`: not absolute", f.name);
            if (ret == 0 && !(a->rootfs = strdup(f.name)))
                ret = brig_err_set(err, ENOMEM, "root");
            break;
        case MIG_DIR:
        case MIG_FILE:
        case MIG_LINK:
            ret = mig_recv_tree_entry(a->conn, a->images_fd, &f, err);
            break;
        case MIG_CONNTRACK:
            ret = mig_recv_data(a->conn, &f, &data, err);
            if (ret == 0) {
                free(a->conntrack);
                a->conntrack = steal_ptr(data);
            }
            break;
        case MIG_ITERATION:
            brig_log(a->ctx, BRIG_LOG_DEBUG, "migrate-receive: `%s`: image `%s` received", a->id, f.name);
            merge_iteration(a, f.name);
            break;
        case MIG_RESTORE:
            return restore(a, &f, err);
        case MIG_FAILED:
            ret = mig_recv_data(a->conn, &f, &data, err);
            if (ret == 0)
                ret = brig_err_msg(err, ECANCELED, "the source gave up: %s", data);
            break;
        default:
            ret = brig_err_msg(err, EPROTO, "unexpected frame %u", f.type);
        }
    }
    return ret;
}

static void undo(struct arrival *a)
{
    cleanup_err struct brig_err *ignored = NULL;

    /* Restored but not committed: the source restores its own (or has its own still), so this one goes. */
    if (a->restored && !a->committed)
        brig_container_delete(a->ctx, a->id, true, false, NULL, &ignored);
    if (a->conntrack_added && !a->committed)
        brig_net_conntrack_forget(a->conntrack, &ignored);
    if (a->bundle)
        brig_remove_tree_at(AT_FDCWD, a->bundle, NULL);
    if (a->made_upper)
        brig_remove_tree_at(AT_FDCWD, a->made_upper, NULL);
}

/* After FAILED: what the source still sends is read and dropped until it reads our answer and goes. Closing
 * with its data unread would reset the connection, and the reset can discard the answer before it is read. */
static void drain(int conn)
{
    char buf[16384];
    struct pollfd pfd = {.fd = conn, .events = POLLIN};

    shutdown(conn, SHUT_WR);
    while (poll(&pfd, 1, 10000) == 1 && recv(conn, buf, sizeof(buf), 0) > 0)
        ;
}

static int receive_one(const struct brig_context *ctx, const struct brig_migrate_receive_opts *opts, int conn,
                       int stop_fd, bool archive, struct brig_err **err)
{
    struct arrival a = {.ctx = ctx, .opts = opts, .conn = conn, .images_fd = -1, .archive = archive,
                        .stop_fd = stop_fd, .timeout = opts->timeout ? opts->timeout : MIG_IO_TIMEOUT};
    struct timeval tv = {.tv_sec = a.timeout};
    int ret;

    setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ret = serve(&a, err);
    if (ret < 0 && archive && *err && (*err)->errnum == ECONNRESET) {
        brig_err_free(err);
        ret = brig_err_msg(err, EPROTO, "the archive ends before its restore frame (truncated?)");
    }
    if (ret < 0) {
        cleanup_err struct brig_err *ignored = NULL;
        if (*err && (*err)->msg)
            answer(&a, MIG_FAILED, (*err)->msg, &ignored);
        undo(&a);
        if (!a.archive)
            drain(conn);
        brig_err_wrap(err, ret, "migration of `%s`", a.id[0] ? a.id : "?");
    } else {
        cleanup_free char *images = NULL;
        if (asprintf(&images, "%s/%s", a.bundle, IMAGES_DIR) >= 0)
            brig_remove_tree_at(AT_FDCWD, images, NULL);
    }
    if (a.images_fd >= 0)
        close(a.images_fd);
    free(a.bundle);
    free(a.rootfs);
    free(a.conntrack);
    free(a.made_upper);
    return ret;
}

int brig_migrate_import(const struct brig_context *ctx, const struct brig_migrate_receive_opts *opts,
                        const char *path, struct brig_err **err)
{
    cleanup_close int fd = -1;
    sigset_t previous;
    int ret = opts->new_id ? brig_validate_id(opts->new_id, err) : 0;

    if (ret == 0)
        ret = brig_ckpt_probe(ctx->criu, err);
    if (ret < 0)
        return ret;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return brig_err_sys(err, "import `%s`", path);
    mig_stop_block(&previous);
    ret = receive_one(ctx, opts, fd, -1, true, err);
    mig_stop_unblock(&previous);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return ret < 0 ? brig_err_wrap(err, ret, "import `%s`", path) : 0;
}

/* Listens until a migration comes (*conn) or a stop does (*conn -1). */
static int wait_connection(int s, int stop_fd, const char *listen, int *conn, struct brig_err **err)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int n = poll(p, stop_fd >= 0 ? 2 : 1, -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return brig_err_sys(err, "poll on `%s`", listen);
        if (p[1].revents & POLLIN) {
            *conn = -1;
            return 0;
        }
        *conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (*conn >= 0)
            return 0;
        if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
            return brig_err_sys(err, "accept on `%s`", listen);
    }
}

static int serve_connections(const struct brig_context *ctx, const struct brig_migrate_receive_opts *opts, int s,
                             int stop_fd, struct brig_err **err)
{
    for (;;) {
        struct brig_err *one_err = NULL;
        int conn = -1, ret = wait_connection(s, stop_fd, opts->listen, &conn, err);

        if (ret < 0)
            return ret;
        /* A stop while idle: nothing was made. With --once the one migration never came: an error. */
        if (conn < 0) {
            ret = mig_stop_check("--listen", err);
            if (opts->once)
                return brig_err_wrap(err, ret < 0 ? ret : -EINTR, "`%s`: before a migration came", opts->listen);
            brig_err_free(err);
            return 0;
        }
        ret = receive_one(ctx, opts, conn, stop_fd, false, &one_err);
        close(conn);
        /* Restored containers are our children until we go: their exits must not pile up as zombies. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        /* A stop ends the serving too, after the migration it ended. */
        if (opts->once || (ret < 0 && one_err && one_err->errnum == EINTR)) {
            *err = one_err;
            return ret;
        }
        if (ret < 0)
            brig_log_error(ctx, one_err);
        brig_err_free(&one_err);
    }
}

int brig_migrate_receive(const struct brig_context *ctx, const struct brig_migrate_receive_opts *opts,
                         struct brig_err **err)
{
    struct sockaddr_storage addr;
    socklen_t len = 0;
    cleanup_close int s = -1;
    cleanup_close int stop_fd = -1;
    sigset_t previous;
    int one = 1;
    int ret = brig_migrate_parse_address(opts->listen, false, &addr, &len, err);

    if (ret == 0 && opts->new_id)
        ret = brig_validate_id(opts->new_id, err);
    /* Before listening: a host where criu cannot work is told at once, not after a transfer. */
    if (ret == 0)
        ret = brig_ckpt_probe(ctx->criu, err);
    if (ret < 0)
        return ret;
    s = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return brig_err_sys(err, "socket");
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *) &addr, len) < 0)
        return brig_err_sys(err, "--listen `%s`", opts->listen);
    if (listen(s, 4) < 0)
        return brig_err_sys(err, "--listen `%s`", opts->listen);
    brig_log(ctx, BRIG_LOG_INFO, "migrate-receive: listening on %s", opts->listen);
    mig_stop_block(&previous);
    stop_fd = mig_stop_fd();
    ret = serve_connections(ctx, opts, s, stop_fd, err);
    mig_stop_unblock(&previous);
    return ret;
}
