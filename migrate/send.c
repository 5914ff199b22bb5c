/* The source's side: the container is dumped through brig's checkpoint (pre-dumps first in live mode), its
 * images go over the connection, and its dump stands only once the receiver answers "restored". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "internal.h"
#include "../netns/netns.h"
#include "../util/util.h"

#define FINAL_DIR "final"

struct migration {
    const struct brig_context *ctx;
    const struct brig_migrate_opts *opts;
    struct brig_state *state;
    int conn;
    char *work;   /* <root>/.migrate-out/ID.XXXXXX: the images, until the receiver has restored them */
    int work_fd;
    bool dumped;  /* the container is gone here: a failure from now on restores it from FINAL_DIR */
    /* COMMIT sent and no DONE: the receiver may keep it or may not, so it is not restored here (it could
     * run twice) and its image stays for a restore by hand. */
    bool uncertain;
    int stop_fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool archive_made; /* export: removed again on failure */
    char *kept_upper;  /* an overlay root's upper, kept by the final dump: removed once the move succeeded */
    uint64_t rootfs_ms; /* packing the root's changes, in the downtime */
    uint64_t restored_at; /* RESTORED came (the downtime's end) */
};

static int open_archive(struct migration *m, struct brig_err **err)
{
    if (m->opts->live)
        return brig_err_msg(err, EINVAL, "export: --live makes no sense for an archive");
    m->conn = open(m->opts->export_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (m->conn < 0)
        return brig_err_sys(err, "export `%s`", m->opts->export_path);
    m->archive_made = true;
    return 0;
}

static int connect_to(const struct migration *m, int *fd, struct brig_err **err)
{
    struct timeval tv = {.tv_sec = MIG_IO_TIMEOUT};
    int ret, s = socket(m->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return brig_err_sys(err, "socket");
    /* Bounds connect() as well as every send: a peer that stops reading must not hang the source. */
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(s, (const struct sockaddr *) &m->addr, m->addr_len) < 0) {
        ret = brig_err_sys(err, "connect to `%s`", m->opts->target);
        close(s);
        return ret;
    }
    *fd = s;
    return 0;
}

/* The receiver's answer to HELLO, RESTORE: `want`, or its FAILED message as the error. */
static int expect(const struct migration *m, uint32_t want, unsigned timeout, char **data, struct brig_err **err)
{
    struct mig_frame f;
    cleanup_free char *text = NULL;
    int ret = mig_recv_frame(m->conn, timeout, &f, err);

    if (ret == 0)
        ret = mig_recv_data(m->conn, &f, &text, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "receiver `%s`", m->opts->target);
    if (f.type == MIG_FAILED)
        return brig_err_msg(err, ECANCELED, "receiver `%s`: %s", m->opts->target, text);
    if (f.type != want)
        return brig_err_msg(err, EPROTO, "receiver `%s`: frame %u where %u was due", m->opts->target, f.type, want);
    if (data)
        *data = steal_ptr(text);
    return 0;
}

/* An overlay root's lowest layer, root.path (absolute, as the receiver's bundle links it): the overlay
 * itself is mounted under our state directory, which the receiver has not. NULL for a plain root. */
static int root_of(const struct migration *m, char **root, struct brig_err **err)
{
    cleanup_spec struct brig_spec *spec = NULL;
    int ret;

    *root = NULL;
    if (!m->state->n_overlay_lowers)
        return 0;
    ret = brig_spec_load(m->state->config_path, &spec, err);
    if (ret < 0)
        return ret;
    if (!spec->root_path || !*spec->root_path)
        return brig_err_msg(err, EINVAL, "an overlay root without root.path");
    if (spec->root_path[0] == '/')
        *root = strdup(spec->root_path);
    else if (asprintf(root, "%s/%s", m->state->bundle, spec->root_path) < 0)
        *root = NULL;
    return *root ? 0 : brig_err_set(err, ENOMEM, "root");
}

static int send_config(const struct migration *m, struct brig_err **err)
{
    cleanup_free char *root = NULL;
    cleanup_free char *config = NULL;
    size_t len = 0;
    int ret = brig_read_file_at(AT_FDCWD, m->state->config_path, &config, &len, err);

    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_CONFIG, NULL, config, len, err);
    if (ret == 0)
        ret = root_of(m, &root, err);
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_ROOTFS, root ? root : m->state->rootfs, NULL, 0, err);
    return ret;
}

static int make_work_dir(struct migration *m, struct brig_err **err)
{
    cleanup_free char *parent = NULL;
    int ret;

    if (asprintf(&parent, "%s/.migrate-out", m->ctx->root) < 0 ||
        asprintf(&m->work, "%s/%s.XXXXXX", parent, m->opts->id) < 0)
        return brig_err_set(err, ENOMEM, "work directory");
    ret = brig_mkdir_p(parent, 0700, err);
    if (ret < 0)
        return ret;
    if (!mkdtemp(m->work))
        return brig_err_sys(err, "work directory `%s`", m->work);
    m->work_fd = open(m->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->work_fd < 0)
        return brig_err_sys(err, "work directory `%s`", m->work);
    return 0;
}

/* The bytes of CRIU's page files in <work>/dir (pages-N.img: the memory itself, 4 KiB a page). */
static uint64_t page_bytes(const struct migration *m, const char *dir)
{
    int fd = openat(m->work_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    uint64_t total = 0;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while ((e = readdir(d))) {
        struct stat st;
        if (strncmp(e->d_name, "pages-", 6) == 0 && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            total += (uint64_t) st.st_size;
    }
    closedir(d);
    return total;
}

/* One line per dump sent, for a person watching (the caller gives a terminal's fd, or -1). */
static void progress(const struct migration *m, const char *dir, bool pre_dump, uint64_t bytes, uint64_t ms)
{
    double mib = (double) bytes / (1024.0 * 1024.0);

    if (!m->opts->progress)
        return;
    dprintf(STDERR_FILENO, "migrate: iteration %s (%s): %llu pages, %.1f MiB sent in %.1f s, %.1f MB/s\n",
            dir, pre_dump ? "pre-dump" : "final dump", (unsigned long long) (page_bytes(m, dir) / 4096), mib,
            (double) ms / 1000.0, ms ? (double) bytes / 1000.0 / (double) ms : 0.0);
}

/* One dump into <work>/dir through brig's checkpoint (which keeps the container running after a pre-dump or a
 * failed dump), then its files on the connection. */
static int dump_and_send(struct migration *m, const char *dir, const char *parent, bool pre_dump, uint64_t *bytes,
                         uint64_t *send_ms, struct brig_err **err)
{
    cleanup_free char *image = NULL;
    cleanup_free char *parent_path = NULL;
    struct brig_ckpt_opts o = {.status_fd = -1, .pre_dump = pre_dump};
    uint64_t start;
    int ret;

    if (asprintf(&image, "%s/%s", m->work, dir) < 0 || (parent && asprintf(&parent_path, "../%s", parent) < 0))
        return brig_err_set(err, ENOMEM, "image path");
    o.image_path = image;
    o.parent_path = parent_path;
    o.tcp_established = m->opts->tcp_established;
    ret = brig_container_checkpoint(m->ctx, m->opts->id, &o, err);
    if (ret < 0)
        return ret;
    if (!pre_dump)
        m->dumped = true;
    /* A stop that came during the dump (checkpoint holds it back) ends the migration before anything of
     * this dump goes: a pre-dump left the container running, a final dump is restored here. */
    ret = mig_stop_check(pre_dump ? "pre-copy" : "final dump", err);
    if (ret < 0)
        return ret;
    if (!pre_dump) {
        start = mig_now_ms();
        ret = mig_pack_rootfs(m->state, image, &m->kept_upper, err);
        m->rootfs_ms = mig_now_ms() - start;
        if (ret < 0)
            return ret;
    }
    start = mig_now_ms();
    *bytes = 0;
    ret = mig_send_tree(m->conn, m->work_fd, dir, bytes, err);
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_ITERATION, dir, NULL, 0, err);
    *send_ms = mig_now_ms() - start;
    if (ret < 0)
        return brig_err_wrap(err, ret, "send image `%s` to `%s`", dir, m->opts->target);
    progress(m, dir, pre_dump, *bytes, *send_ms);
    return mig_stop_check(pre_dump ? "pre-copy" : "sending the final dump", err);
}

/* A receiver that failed says so at once (FAILED) while we still send: checked after each image. */
static int check_answer(const struct migration *m, struct brig_err **err)
{
    struct pollfd pfd = {.fd = m->conn, .events = POLLIN};

    if (poll(&pfd, 1, 0) != 1)
        return 0;
    return expect(m, MIG_ITERATION, MIG_IO_TIMEOUT, NULL, err);
}

/* Pre-dumps while the container runs, each holding the pages dirtied since the one before (CRIU's memory
 * tracking through --parent-path), until the dirty set stops shrinking, the last one would go within the
 * downtime target, or the iterations run out. *last: the last pre-dump's directory. */
static int pre_copy(struct migration *m, struct brig_migrate_figures *fig, char last[16], struct brig_err **err)
{
    unsigned max = m->opts->max_iterations ? m->opts->max_iterations : BRIG_MIGRATE_DEFAULT_ITERATIONS;

    if (max > BRIG_MIGRATE_MAX_ITERATIONS)
        max = BRIG_MIGRATE_MAX_ITERATIONS;
    last[0] = '\0';
    for (unsigned i = 1; i <= max; i++) {
        char dir[16];
        uint64_t bytes = 0, ms = 0;
        int ret;

        snprintf(dir, sizeof(dir), "%u", i);
        ret = dump_and_send(m, dir, last[0] ? last : NULL, true, &bytes, &ms, err);
        if (ret == 0)
            ret = check_answer(m, err);
        if (ret < 0)
            return ret;
        memcpy(last, dir, sizeof(dir));
        fig->bytes[fig->n_bytes++] = bytes;
        brig_log(m->ctx, BRIG_LOG_DEBUG, "migrate: pre-dump %u: %llu bytes in %llu ms", i, (unsigned long long) bytes,
                 (unsigned long long) ms);
        /* The next dirty set is about this one's size, and would take about as long to send. */
        if (m->opts->downtime_target_ms && ms <= m->opts->downtime_target_ms)
            break;
        if (i >= 2 && bytes * 10 >= fig->bytes[fig->n_bytes - 2] * 9)
            break;
    }
    return 0;
}

/* After a failure past the final dump: the container comes back here from its own image, with the same id,
 * bundle, network address and ports (brig's restore, detached). */
static int restore_here(struct migration *m, struct brig_err **err)
{
    cleanup_free char *image = NULL;
    struct brig_restore_opts r = {.id = m->opts->id, .bundle = m->state->bundle, .detach = true,
                                  .ckpt = {.status_fd = -1, .tcp_established = m->opts->tcp_established}};
    int status = 0;

    if (asprintf(&image, "%s/%s", m->work, FINAL_DIR) < 0)
        return brig_err_set(err, ENOMEM, "image path");
    r.ckpt.image_path = image;
    r.ckpt.work_path = m->work;
    return brig_container_restore(m->ctx, &r, &status, err);
}

/* Until the receiver's next frame is there (0), `timeout` s pass (0: mig_recv_frame then says so) or a stop
 * comes (-EINTR, consumed). */
static int await_answer(const struct migration *m, unsigned timeout, struct brig_err **err)
{
    uint64_t deadline = mig_now_ms() + (uint64_t) timeout * 1000u;

    for (;;) {
        struct pollfd p[2] = {{.fd = m->conn, .events = POLLIN}, {.fd = m->stop_fd, .events = POLLIN}};
        uint64_t now = mig_now_ms();
        int n;

        if (now >= deadline)
            return 0;
        n = poll(p, m->stop_fd >= 0 ? 2 : 1, (int) (deadline - now));
        if (n < 0 && errno != EINTR)
            return brig_err_sys(err, "poll");
        if (n > 0 && (p[1].revents & POLLIN))
            return mig_stop_check("waiting for the receiver's restore", err);
        if (n > 0 && p[0].revents)
            return 0;
    }
}

/* RESTORE sent: the receiver restores and answers RESTORED (or FAILED), we answer COMMIT, it confirms with
 * DONE. Only COMMIT lets it keep the container: until then (a stop, a failure, no answer) it deletes what it
 * restored, so a FAILED sent by us, or its own FAILED or end, means it does not run there. A stop while it
 * restores is answered once it has said so: restoring here before would run the container twice. */
static int commit(struct migration *m, char **pid, struct brig_err **err)
{
    int ret = await_answer(m, MIG_RESTORE_TIMEOUT, err);

    if (ret == -EINTR) {
        cleanup_err struct brig_err *ignored = NULL;
        struct mig_frame f;

        mig_send_frame(m->conn, MIG_FAILED, NULL, (*err)->msg, strlen((*err)->msg), &ignored);
        /* Its answer to the restore, then (after a RESTORED) its answer to our FAILED, or its end. */
        for (int i = 0; i < 2; i++) {
            cleanup_free char *data = NULL;
            brig_err_free(&ignored);
            if (mig_recv_frame(m->conn, MIG_RESTORE_TIMEOUT, &f, &ignored) < 0 || f.type != MIG_RESTORED ||
                mig_recv_data(m->conn, &f, &data, &ignored) < 0)
                break;
        }
        return ret;
    }
    if (ret == 0)
        ret = expect(m, MIG_RESTORED, MIG_RESTORE_TIMEOUT, pid, err);
    m->restored_at = mig_now_ms();
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_COMMIT, NULL, NULL, 0, err);
    if (ret < 0)
        return ret;
    /* Live: the receiver answers once its lazy-pages daemon has put every pre-copied page in (or says FAILED,
     * having deleted the container: then it is restored here). */
    ret = expect(m, MIG_DONE, m->opts->live && !m->opts->eager_restore ? MIG_RESTORE_TIMEOUT : MIG_IO_TIMEOUT,
                 NULL, err);
    /* Its FAILED says it let the container go (our COMMIT came too late); anything else leaves it unknown. */
    if (ret < 0 && !(*err && (*err)->errnum == ECANCELED))
        m->uncertain = true;
    return ret;
}

/* With --tcp-established, the container's inbound connections' conntrack entries (its address's here): the
 * destination makes them before its restore, so that whoever speaks first there finds its entry. Dumped, the
 * container no longer uses them here; they lapse with conntrack's timeouts. */
static int send_conntrack(const struct migration *m, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *warn = NULL;
    int ret;

    if (!m->opts->tcp_established || !m->state->net_ip)
        return 0;
    if (brig_net_conntrack_save(m->state->net_ip, &text, &warn) < 0) {
        brig_log(m->ctx, BRIG_LOG_WARNING, "migrate: %s (its TCP connections may not survive the move)", warn->msg);
        return 0;
    }
    if (!text)
        return 0;
    ret = mig_send_frame(m->conn, MIG_CONNTRACK, NULL, text, strlen(text), err);
    return ret < 0 ? brig_err_wrap(err, ret, "send the conntrack entries to `%s`", m->opts->target) : 0;
}

static int check_container(const struct migration *m, struct brig_err **err)
{
    cleanup_spec struct brig_spec *spec = NULL;
    int ret;

    if (strcmp(m->state->status, "running") != 0)
        return brig_err_msg(err, EINVAL, "it is %s, not running", m->state->status);
    /* The lazy dump keeps the overlay mounted until every page is fetched: its upper is not kept yet. */
    if (m->state->n_overlay_lowers && m->opts->lazy_pages)
        return brig_err_msg(err, ENOTSUP, "--lazy-pages: not supported yet for an overlay root (--layer, --image)");
    ret = brig_spec_load(m->state->config_path, &spec, err);
    if (ret == 0 && spec->process && spec->process->terminal)
        ret = brig_err_msg(err, ENOTSUP, "process.terminal: not supported yet (the new pty has no console socket)");
    return ret;
}

/* "<the error> (<what became of the container>)", the error's number kept. */
static int with_outcome(struct brig_err **err, int ret, const char *outcome)
{
    struct brig_err *joined = NULL;

    brig_err_msg(&joined, ret < 0 ? -ret : EIO, "%s (%s)", *err && (*err)->msg ? (*err)->msg : "?", outcome);
    brig_err_free(err);
    *err = joined;
    return ret;
}

/* RESTORED's data: "PID" or "PID RESTORE_MS [DAEMON_MS]" (the receiver's own measure of its restore, and of
 * the lazy-pages daemon's start within it). */
static uint64_t restore_ms_of(const char *answer, unsigned field)
{
    const char *p = answer;

    for (unsigned i = 0; p && i < field; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

/* Post-copy: the final dump leaves the memory in the frozen tree and serves it; the destination restores at
 * once and fetches it. Until "restored" a failure abandons the dump (the tree runs on here, nothing to
 * restore); after it the dump's own end decides: every page fetched (gone here), or CRIU resumed it here. */
static int lazy_move(struct migration *m, struct brig_migrate_figures *fig, uint64_t freeze, struct brig_err **err)
{
    cleanup_free char *image = NULL;
    cleanup_free char *logs = NULL;
    cleanup_free char *flags = NULL;
    cleanup_free char *pid = NULL;
    cleanup_err struct brig_err *answer_err = NULL;
    struct mig_lazy l;
    uint64_t bytes = 0, start, restored;
    int ret;

    /* The dump's logs apart from its image: CRIU still writes them while the image is being sent. */
    if (asprintf(&image, "%s/%s", m->work, FINAL_DIR) < 0 || asprintf(&logs, "%s/lazy-logs", m->work) < 0)
        return brig_err_set(err, ENOMEM, "image path");
    ret = mig_lazy_dump_start(m->ctx, m->opts->id, image, logs, m->conn, m->opts->tcp_established, &l, err);
    if (ret < 0)
        return ret;
    /* The tree is frozen from here on: its root changes no more. */
    start = mig_now_ms();
    ret = mig_pack_rootfs(m->state, image, &m->kept_upper, err);
    fig->rootfs_ms = mig_now_ms() - start;
    if (ret < 0) {
        mig_lazy_abandon(&l);
        return with_outcome(err, ret, "the lazy dump was abandoned: it runs on here");
    }
    start = mig_now_ms();
    fig->dump_ms = start - freeze - fig->rootfs_ms;
    ret = mig_send_tree(m->conn, m->work_fd, FINAL_DIR, &bytes, err);
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_ITERATION, FINAL_DIR, NULL, 0, err);
    fig->send_ms = mig_now_ms() - start;
    fig->bytes[fig->n_bytes++] = bytes;
    fig->iterations = fig->n_bytes;
    if (ret == 0 && asprintf(&flags, "%s%s\n%s", MIG_FLAG_LAZY, l.page_server,
                             m->opts->tcp_established ? "tcp-established\n" : "") < 0)
        ret = brig_err_set(err, ENOMEM, "restore flags");
    if (ret == 0)
        ret = send_conntrack(m, err);
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_RESTORE, FINAL_DIR, flags, strlen(flags), err);
    if (ret == 0)
        ret = expect(m, MIG_RESTORED, MIG_RESTORE_TIMEOUT, &pid, err);
    if (ret < 0) {
        mig_lazy_abandon(&l);
        return with_outcome(err, ret, "the lazy dump was abandoned: it runs on here");
    }
    restored = mig_now_ms();
    fig->downtime_ms = restored - freeze;
    fig->restore_ms = restore_ms_of(pid, 1);
    fig->daemon_ms = restore_ms_of(pid, 2);
    if (m->opts->progress)
        dprintf(STDERR_FILENO, "migrate: runs on `%s` (pid %.*s), downtime %llu ms; fetching its pages\n",
                m->opts->target, (int) strcspn(pid, " "), pid, (unsigned long long) fig->downtime_ms);
    brig_log(m->ctx, BRIG_LOG_DEBUG, "migrate: `%s` runs on `%s` as pid %s, its pages being fetched", m->opts->id,
             m->opts->target, pid);
    ret = mig_lazy_dump_wait(&l, err);
    if (ret < 0) {
        /* The receiver's FAILED says why the fetch stopped; its container there is deleted. */
        int a = expect(m, MIG_PAGES, MIG_IO_TIMEOUT, NULL, &answer_err);
        if (a < 0 && answer_err)
            brig_err_wrap(err, ret, "%s", answer_err->msg);
        brig_err_wrap(err, ret, "post-copy stopped before every page was fetched");
        return with_outcome(err, ret, "CRIU resumed it here");
    }
    fig->pages_ms = mig_now_ms() - restored;
    ret = expect(m, MIG_PAGES, MIG_IO_TIMEOUT, NULL, err);
    if (ret < 0)
        return with_outcome(err, ret, "every page was fetched, so it is gone here");
    return 0;
}

static int run_migration(struct migration *m, struct brig_migrate_figures *fig, struct brig_err **err)
{
    char last[16] = "";
    uint64_t freeze, bytes = 0, ms = 0;
    cleanup_free char *pid = NULL;
    cleanup_free char *flags = NULL;
    int ret;

    ret = m->opts->export_path ? 0 : brig_migrate_parse_address(m->opts->target, true, &m->addr, &m->addr_len, err);
    if (ret == 0)
        ret = brig_container_load_state(m->ctx, m->opts->id, &m->state, err);
    if (ret == 0)
        ret = check_container(m, err);
    if (ret == 0)
        ret = m->opts->export_path ? open_archive(m, err) : connect_to(m, &m->conn, err);
    /* After connect: a target nothing listens on is named as such, whatever this kernel is. */
    if (ret == 0)
        ret = brig_ckpt_probe(m->ctx->criu, err);
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_HELLO, m->opts->id, MIG_VERSION, strlen(MIG_VERSION), err);
    if (ret == 0 && !m->opts->export_path)
        ret = expect(m, MIG_HELLO, MIG_IO_TIMEOUT, NULL, err);
    if (ret == 0)
        ret = send_config(m, err);
    if (ret == 0)
        ret = make_work_dir(m, err);
    if (ret == 0 && m->opts->live)
        ret = pre_copy(m, fig, last, err);
    if (ret < 0)
        return ret;
    freeze = mig_now_ms();
    if (m->opts->lazy_pages)
        return lazy_move(m, fig, freeze, err);
    ret = dump_and_send(m, FINAL_DIR, last[0] ? last : NULL, false, &bytes, &ms, err);
    if (ret < 0)
        return ret;
    fig->send_ms = ms;
    fig->rootfs_ms = m->rootfs_ms;
    fig->dump_ms = mig_now_ms() - freeze - ms - m->rootfs_ms;
    fig->bytes[fig->n_bytes++] = bytes;
    fig->iterations = fig->n_bytes;
    ret = send_conntrack(m, err);
    /* Live: the receiver leaves the pre-copied pages to a local lazy-pages daemon (migrate/NOTES.md). */
    if (ret == 0 && asprintf(&flags, "%s%s", m->opts->tcp_established ? "tcp-established\n" : "",
                             m->opts->live && !m->opts->eager_restore ? MIG_FLAG_LOCAL_LAZY : "") < 0)
        ret = brig_err_set(err, ENOMEM, "restore flags");
    if (ret == 0)
        ret = mig_send_frame(m->conn, MIG_RESTORE, FINAL_DIR, flags, strlen(flags), err);
    if (ret == 0 && m->opts->export_path && fsync(m->conn) < 0)
        ret = brig_err_sys(err, "export `%s`", m->opts->export_path);
    if (ret == 0 && !m->opts->export_path)
        ret = commit(m, &pid, err);
    if (ret < 0)
        return ret;
    fig->downtime_ms = (m->restored_at ? m->restored_at : mig_now_ms()) - freeze;
    if (m->opts->progress)
        dprintf(STDERR_FILENO, "migrate: restored on `%s` (pid %.*s), downtime %llu ms\n", m->opts->target,
                (int) strcspn(pid, " "), pid, (unsigned long long) fig->downtime_ms);
    fig->restore_ms = restore_ms_of(pid, 1);
    brig_log(m->ctx, BRIG_LOG_DEBUG, "migrate: `%s` restored on `%s` as pid %s", m->opts->id, m->opts->target, pid);
    return 0;
}

int brig_migrate(const struct brig_context *ctx, const struct brig_migrate_opts *opts,
                 struct brig_migrate_figures *figures, struct brig_err **err)
{
    struct migration m = {.ctx = ctx, .opts = opts, .conn = -1, .work_fd = -1};
    uint64_t start = mig_now_ms();
    bool keep_work = false;
    sigset_t previous;
    int ret;

    memset(figures, 0, sizeof(*figures));
    mig_stop_block(&previous);
    m.stop_fd = mig_stop_fd();
    ret = brig_validate_id(opts->id, err);
    if (ret == 0 && opts->lazy_pages && (opts->live || opts->export_path))
        ret = brig_err_msg(err, EINVAL, "--lazy-pages: not with %s (%s)", opts->live ? "--live" : "export",
                           opts->live ? "pre-copied pages would be restored eagerly, the downtime post-copy saves"
                                      : "an archive has no page server to fetch from");
    if (ret == 0)
        ret = run_migration(&m, figures, err);
    if (ret < 0 && m.conn >= 0 && !opts->export_path) {
        /* Best effort: a receiver still there removes what it made at once rather than at its timeout. */
        const char *msg = *err && (*err)->msg ? (*err)->msg : "the source failed";
        cleanup_err struct brig_err *ignored = NULL;
        mig_send_frame(m.conn, MIG_FAILED, NULL, msg, strlen(msg), &ignored);
    }
    if (ret < 0 && m.uncertain && *err) {
        struct brig_err *joined = NULL;
        keep_work = true;
        brig_err_msg(&joined, (*err)->errnum, "%s: after our commit, so it may run there (not restored here, which "
                     "could run it twice; its image is kept in `%s`)", (*err)->msg, m.work);
        brig_err_free(err);
        *err = joined;
    } else if (ret < 0 && m.dumped && *err) {
        cleanup_err struct brig_err *local = NULL;
        struct brig_err *joined = NULL;
        if (restore_here(&m, &local) == 0) {
            brig_err_msg(&joined, (*err)->errnum, "%s (it runs here again: restored from its dump)", (*err)->msg);
        } else {
            keep_work = true;
            brig_err_msg(&joined, (*err)->errnum, "%s; restoring it here failed too: %s (its image is kept in `%s`)",
                         (*err)->msg, local ? local->msg : "?", m.work);
        }
        brig_err_free(err);
        *err = joined;
    }
    if (ret < 0 && m.archive_made && opts->export_path)
        unlink(opts->export_path);
    if (ret < 0)
        brig_err_wrap(err, ret, "%s container `%s`", opts->export_path ? "export" : "migrate", opts->id);
    if (m.conn >= 0)
        close(m.conn);
    if (m.work_fd >= 0)
        close(m.work_fd);
    if (m.work && !keep_work)
        brig_remove_tree_at(AT_FDCWD, m.work, NULL);
    /* Moved: its changes live in the receiver's upper now. */
    if (ret == 0 && m.kept_upper)
        brig_remove_tree_at(AT_FDCWD, m.kept_upper, NULL);
    free(m.kept_upper);
    free(m.work);
    brig_state_free(m.state);
    if (m.stop_fd >= 0)
        close(m.stop_fd);
    mig_stop_unblock(&previous);
    figures->total_ms = mig_now_ms() - start;
    return ret;
}
