/* --lazy-pages and --status-fd through libcriu 3.17, whose criu_opts has no setter for either.
 *
 * criu's swrk (libcriu's service worker) parses the configuration file named by CRIU_CONFIG_FILE when it
 * starts, before it reads the RPC request, and the request overwrites lazy-pages, status-fd and the page
 * server's address only when it carries them (checked in criu 3.17.1: crtools.c parses the configuration files
 * for every mode, setup_opts_from_req sets opts.lazy_pages only for has_lazy_pages and, with lazy pages, takes
 * only the port of the page server). So brig names those options in a private file, a memfd, and points
 * CRIU_CONFIG_FILE at it for the one call. A file the caller named in CRIU_CONFIG_FILE is copied in first:
 * criu reads only one. */
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

int ckpt_lazy_begin(const struct brig_ckpt_opts *opts, bool restore, const char *work_path, struct ckpt_lazy *l,
                    struct brig_err **err)
{
    const char *previous = getenv(CKPT_CRIU_CONFIG_ENV);
    cleanup_free char *text = NULL;
    cleanup_free char *user = NULL;
    char path[64];
    size_t user_len = 0;
    int len;

    *l = (struct ckpt_lazy){.memfd = -1};
    if (!opts->lazy_pages)
        return 0;
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
    }
    if (previous && *previous) {
        int ret = brig_read_file_at(AT_FDCWD, previous, &user, &user_len, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "%s", CKPT_CRIU_CONFIG_ENV);
    }
    if (restore) {
        len = asprintf(&text, "%s\nlazy-pages\n", user ? user : "");
    } else {
        char addr[256];
        int port = 0;
        char status[32] = "";

        if (ckpt_page_server(opts, addr, sizeof(addr), &port) < 0)
            return brig_err_msg(err, EINVAL, "--page-server: `%s` is not ADDRESS:PORT", opts->page_server);
        if (opts->status_fd >= 0) {
            /* criu writes the notification itself, on its copy of the descriptor: it must survive the exec. */
            int flags = fcntl(opts->status_fd, F_GETFD);
            if (flags < 0 || fcntl(opts->status_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
                return brig_err_sys(err, "--status-fd %d", opts->status_fd);
            snprintf(status, sizeof(status), "status-fd %d\n", opts->status_fd);
        }
        len = asprintf(&text, "%s\nlazy-pages\naddress %s\nport %d\n%s", user ? user : "", addr, port, status);
    }
    if (len < 0) {
        text = NULL;
        return brig_err_set(err, ENOMEM, "--lazy-pages");
    }
    l->memfd = memfd_create("brig-criu-lazy", MFD_CLOEXEC);
    if (l->memfd < 0)
        return brig_err_sys(err, "--lazy-pages: memfd");
    if (brig_write_all(l->memfd, text, (size_t) len) < 0) {
        int saved = errno;
        ckpt_lazy_end(l);
        errno = saved;
        return brig_err_sys(err, "--lazy-pages: memfd");
    }
    if (previous) {
        l->previous = strdup(previous);
        if (!l->previous) {
            ckpt_lazy_end(l);
            return brig_err_set(err, ENOMEM, "--lazy-pages");
        }
    }
    /* criu is another process: the memfd is reached through ours. */
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) getpid(), l->memfd);
    if (setenv(CKPT_CRIU_CONFIG_ENV, path, 1) < 0) {
        ckpt_lazy_end(l);
        return brig_err_sys(err, "--lazy-pages: %s", CKPT_CRIU_CONFIG_ENV);
    }
    l->env_set = true;
    return 0;
}

void ckpt_lazy_end(struct ckpt_lazy *l)
{
    if (l->env_set) {
        if (l->previous)
            setenv(CKPT_CRIU_CONFIG_ENV, l->previous, 1);
        else
            unsetenv(CKPT_CRIU_CONFIG_ENV);
        l->env_set = false;
    }
    free(l->previous);
    l->previous = NULL;
    if (l->memfd >= 0)
        close(l->memfd);
    l->memfd = -1;
}
