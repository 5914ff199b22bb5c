/* What libcriu 3.17 has no setter for (--lazy-pages, --status-fd, a lazy dump's address, --empty-ns network),
 * passed to criu all the same.
 *
 * criu's swrk (libcriu's service worker) parses the configuration file named by CRIU_CONFIG_FILE when it
 * starts, before it reads the RPC request, and the request overwrites those options only when it carries them
 * (checked in criu 3.17.1: crtools.c parses the configuration files for every mode; setup_opts_from_req sets
 * lazy_pages, status_fd and empty_ns only for has_*, and with lazy pages takes only the port of the page
 * server). So brig names them in a private file, a memfd, and points CRIU_CONFIG_FILE at it for the one call.
 * A file the caller named in CRIU_CONFIG_FILE is copied in first: criu reads only one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define CKPT_LAZY_SOCKET "lazy-pages.socket"

/* The lines for --lazy-pages (malloc'd, "" without it). A restore first checks that `criu lazy-pages` listens
 * in work_path. */
static int lazy_lines(const struct brig_ckpt_opts *opts, bool restore, const char *work_path, char **out,
                      struct brig_err **err)
{
    char addr[256];
    char status[32] = "";
    int port = 0;

    *out = NULL;
    if (!opts->lazy_pages)
        return (*out = strdup("")) ? 0 : brig_err_set(err, ENOMEM, "criu options");
    if (restore) {
        cleanup_free char *socket_path = NULL;
        struct stat st;

        /* CRIU's restore hands the userfaultfds to `criu lazy-pages` through this socket in its work directory:
         * without the daemon, say so instead of quoting a failed connect() from the log. */
        if (asprintf(&socket_path, "%s/%s", work_path, CKPT_LAZY_SOCKET) < 0)
            return brig_err_set(err, ENOMEM, "--lazy-pages");
        if (stat(socket_path, &st) < 0 || !S_ISSOCK(st.st_mode))
            return brig_err_msg(err, ENOENT,
                                "--lazy-pages: no `criu lazy-pages` daemon for this work path (no socket `%s`; run "
                                "it with the same -W, default its -D, as restore's --work-path)",
                                socket_path);
        return (*out = strdup("lazy-pages\n")) ? 0 : brig_err_set(err, ENOMEM, "--lazy-pages");
    }
    if (ckpt_page_server(opts, addr, sizeof(addr), &port) < 0)
        return brig_err_msg(err, EINVAL, "--page-server: `%s` is not ADDRESS:PORT", opts->page_server);
    if (opts->status_fd >= 0) {
        /* criu writes the notification itself, on its copy of the descriptor: it must survive the exec. */
        int flags = fcntl(opts->status_fd, F_GETFD);
        if (flags < 0 || fcntl(opts->status_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
            return brig_err_sys(err, "--status-fd %d", opts->status_fd);
        snprintf(status, sizeof(status), "status-fd %d\n", opts->status_fd);
    }
    if (asprintf(out, "lazy-pages\naddress %s\nport %d\n%s", addr, port, status) < 0) {
        *out = NULL;
        return brig_err_set(err, ENOMEM, "--lazy-pages");
    }
    return 0;
}

int ckpt_criu_conf_begin(const struct brig_ckpt_opts *opts, bool restore, bool empty_netns, const char *work_path,
                         struct ckpt_criu_conf *c, struct brig_err **err)
{
    const char *previous = getenv(CKPT_CRIU_CONFIG_ENV);
    cleanup_free char *lazy = NULL;
    cleanup_free char *user = NULL;
    cleanup_free char *text = NULL;
    char path[64];
    size_t user_len = 0;
    int len, ret;

    *c = (struct ckpt_criu_conf){.memfd = -1};
    ret = lazy_lines(opts, restore, work_path, &lazy, err);
    if (ret < 0)
        return ret;
    if (!*lazy && !empty_netns)
        return 0;
    if (previous && *previous) {
        ret = brig_read_file_at(AT_FDCWD, previous, &user, &user_len, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "%s", CKPT_CRIU_CONFIG_ENV);
    }
    len = asprintf(&text, "%s\n%s%s", user ? user : "", lazy, empty_netns ? "empty-ns net\n" : "");
    if (len < 0) {
        text = NULL;
        return brig_err_set(err, ENOMEM, "criu options");
    }
    c->memfd = memfd_create("brig-criu-conf", MFD_CLOEXEC);
    if (c->memfd < 0)
        return brig_err_sys(err, "criu options: memfd");
    if (brig_write_all(c->memfd, text, (size_t) len) < 0) {
        int saved = errno;
        ckpt_criu_conf_end(c);
        errno = saved;
        return brig_err_sys(err, "criu options: memfd");
    }
    if (previous) {
        c->previous = strdup(previous);
        if (!c->previous) {
            ckpt_criu_conf_end(c);
            return brig_err_set(err, ENOMEM, "criu options");
        }
    }
    /* criu is another process: the memfd is reached through ours. */
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) getpid(), c->memfd);
    if (setenv(CKPT_CRIU_CONFIG_ENV, path, 1) < 0) {
        ckpt_criu_conf_end(c);
        return brig_err_sys(err, "criu options: %s", CKPT_CRIU_CONFIG_ENV);
    }
    c->env_set = true;
    return 0;
}

void ckpt_criu_conf_end(struct ckpt_criu_conf *c)
{
    if (c->env_set) {
        if (c->previous)
            setenv(CKPT_CRIU_CONFIG_ENV, c->previous, 1);
        else
            unsetenv(CKPT_CRIU_CONFIG_ENV);
        c->env_set = false;
    }
    free(c->previous);
    c->previous = NULL;
    if (c->memfd >= 0)
        close(c->memfd);
    c->memfd = -1;
}
