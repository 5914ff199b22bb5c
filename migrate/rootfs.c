/* The container's root changes travel with its image, as a tar stream (GNU tar: numeric owners, every xattr,
 * device nodes) in the final image directory (MIG_ROOTFS_TAR), taken once the tree is dumped or frozen:
 * - an overlay root: its whole upper directory, whose whiteouts (0/0 devices) and opaque directories
 *   (trusted.overlay.opaque) are its deletions; the receiver unpacks it into a new upper of its own and points
 *   the image's rootfs record at it. The lowers must exist there at the same paths.
 * - a plain root (which must exist there at the same path): what changed since the container was created,
 *   by tar's --newer (data or status change at or after the creation second; ctime cannot be set back, so a
 *   file the container touched is never missed, one changed by the host since is sent too). Deletions are not
 *   carried: a plain root has no record of them (an overlay root's whiteouts are that record). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../checkpoint/checkpoint.h"
#include "../util/util.h"

extern char **environ;

/* Runs tar with argv, its stderr's first line the error. */
static int run_tar(char **argv, const char *what, struct brig_err **err)
{
    posix_spawn_file_actions_t actions;
    char out[1024];
    size_t used = 0;
    int fds[2], status = 0, ret;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return brig_err_sys(err, "%s: pipe", what);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    ret = posix_spawnp(&pid, "tar", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (ret != 0) {
        close(fds[0]);
        errno = ret;
        return brig_err_sys(err, "%s: run tar", what);
    }
    for (;;) {
        ssize_t n = read(fds[0], out + used, sizeof(out) - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (used += (size_t) n) == sizeof(out) - 1)
            break;
    }
    close(fds[0]);
    out[used] = '\0';
    out[strcspn(out, "\n")] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    return brig_err_msg(err, EIO, "%s: tar failed: %s", what, *out ? out : "(no message)");
}

/* The record's `upper=` line (malloc'd), NULL when the image has no overlay record. */
static int record_upper(const char *image, char **upper, struct brig_err **err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *text = NULL;
    size_t len = 0;
    char *line;

    *upper = NULL;
    if (asprintf(&path, "%s/%s", image, BRIG_CKPT_ROOTFS) < 0)
        return brig_err_set(err, ENOMEM, "rootfs record");
    if (access(path, F_OK) < 0)
        return 0;
    if (brig_read_file_at(AT_FDCWD, path, &text, &len, err) < 0)
        return -EIO;
    for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, "upper=", 6)) {
            *upper = strndup(line + 6, strcspn(line + 6, "\n"));
            return *upper ? 0 : brig_err_set(err, ENOMEM, "rootfs record");
        }
    return brig_err_msg(err, EINVAL, "`%s`: no upper= line", path);
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS..." as tar's "@EPOCH" (the second it falls in). */
static int created_epoch(const char *created, char *out, size_t len, struct brig_err **err)
{
    struct tm tm = {0};

    if (!created || sscanf(created, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                           &tm.tm_min, &tm.tm_sec) != 6)
        return brig_err_msg(err, EINVAL, "state: created `%s`: not an RFC 3339 time", created ? created : "");
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    snprintf(out, len, "@%lld", (long long) timegm(&tm));
    return 0;
}

int mig_pack_rootfs(const struct brig_state *state, const char *image, char **kept_upper, struct brig_err **err)
{
    cleanup_free char *tar = NULL;
    cleanup_free char *newer = NULL;
    char since[32];
    int ret;

    *kept_upper = NULL;
    if (asprintf(&tar, "%s/%s", image, MIG_ROOTFS_TAR) < 0)
        return brig_err_set(err, ENOMEM, "rootfs changes");
    if (state->n_overlay_lowers) {
        ret = record_upper(image, kept_upper, err);
        if (ret < 0)
            return ret;
        if (!*kept_upper || !**kept_upper)
            return 0; /* a read-only overlay root: nothing changed */
        {
            char *argv[] = {"tar", "--create", "--file", tar, "--directory", *kept_upper, "--numeric-owner",
                            "--xattrs", "--xattrs-include=*", "--one-file-system", ".", NULL};
            return run_tar(argv, "the overlay root's upper", err);
        }
    }
    ret = created_epoch(state->created, since, sizeof(since), err);
    if (ret < 0)
        return ret;
    if (asprintf(&newer, "--newer=%s", since) < 0)
        return brig_err_set(err, ENOMEM, "rootfs changes");
    {
        char *argv[] = {"tar", "--create", "--file", tar, "--directory", state->rootfs, "--numeric-owner",
                        "--xattrs", "--xattrs-include=*", "--one-file-system", "--warning=no-file-ignored",
                        newer, ".", NULL};
        return run_tar(argv, "the root's changes since create", err);
    }
}

/* The record's upper= line pointed at the receiver's own upper. */
static int rewrite_record(const char *image, const char *upper, struct brig_err **err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *text = NULL;
    cleanup_free char *out = NULL;
    size_t len = 0, out_len = 0;
    FILE *f;
    char *line, *next;
    int ret;

    if (asprintf(&path, "%s/%s", image, BRIG_CKPT_ROOTFS) < 0)
        return brig_err_set(err, ENOMEM, "rootfs record");
    ret = brig_read_file_at(AT_FDCWD, path, &text, &len, err);
    if (ret < 0)
        return ret;
    f = open_memstream(&out, &out_len);
    if (!f)
        return brig_err_set(err, ENOMEM, "rootfs record");
    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!strncmp(line, "upper=", 6))
            fprintf(f, "upper=%s\n", upper);
        else
            fprintf(f, "%s\n", line);
    }
    if (fclose(f) != 0)
        return brig_err_set(err, ENOMEM, "rootfs record");
    return brig_write_file_atomic_at(AT_FDCWD, path, out, out_len, 0600, err);
}

int mig_unpack_rootfs(const struct brig_context *ctx, const char *id, const char *image, const char *root,
                      char **made_upper, struct brig_err **err)
{
    cleanup_free char *tar = NULL;
    cleanup_free char *upper = NULL;
    cleanup_free char *parent = NULL;
    struct stat st;
    int ret;

    *made_upper = NULL;
    if (asprintf(&tar, "%s/%s", image, MIG_ROOTFS_TAR) < 0)
        return brig_err_set(err, ENOMEM, "rootfs changes");
    if (lstat(tar, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    ret = record_upper(image, &upper, err);
    if (ret < 0)
        return ret;
    if (!upper) {
        char *argv[] = {"tar", "--extract", "--file", tar, "--directory", (char *) root, "--numeric-owner",
                        "--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*", NULL};
        return run_tar(argv, "the root's changes", err);
    }
    /* A new upper of ours, beside those brig keeps (overlay wants its work directory on the same filesystem,
     * which restore makes beside it). */
    if (asprintf(&parent, "%s/.upper", ctx->root) < 0 || asprintf(made_upper, "%s/%s.XXXXXX", parent, id) < 0)
        return brig_err_set(err, ENOMEM, "upper directory");
    ret = brig_mkdir_p(parent, 0700, err);
    if (ret < 0)
        return ret;
    if (!mkdtemp(*made_upper)) {
        ret = brig_err_sys(err, "upper directory `%s`", *made_upper);
        free(*made_upper);
        *made_upper = NULL;
        return ret;
    }
    {
        char *argv[] = {"tar", "--extract", "--file", tar, "--directory", *made_upper, "--numeric-owner",
                        "--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*", NULL};
        ret = run_tar(argv, "the overlay root's upper", err);
    }
    if (ret == 0)
        ret = rewrite_record(image, *made_upper, err);
    return ret;
}
