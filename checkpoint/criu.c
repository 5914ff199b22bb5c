/* Loading libcriu, CRIU's kernel check, and what dump and restore set alike. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

extern char **environ;

int ckpt_criu_load(struct ckpt_criu *criu, struct brig_err **err)
{
    /* Never closed: the process is short-lived and libcriu keeps no state between calls we make. */
    void *handle = dlopen(CKPT_CRIU_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;

    if (!handle)
        return brig_err_msg(err, ENOENT, "checkpoint needs %s (Debian package criu): %s", CKPT_CRIU_SONAME, dlerror());
    /* dlsym() hands out void *; the member types come from criu.h. */
#define CKPT_LOAD_FN(name)                                                                                     \
    if (!missing) {                                                                                            \
        void *sym_ = dlsym(handle, #name);                                                                     \
        if (sym_)                                                                                              \
            memcpy(&criu->name, &sym_, sizeof(sym_));                                                          \
        else                                                                                                   \
            missing = #name;                                                                                   \
    }
    CKPT_CRIU_FUNCS(CKPT_LOAD_FN)
#undef CKPT_LOAD_FN
    if (missing)
        return brig_err_msg(err, ENOSYS, "%s has no %s: criu 3.17 or newer is needed", CKPT_CRIU_SONAME, missing);
    return 0;
}

static bool criu_binary_found(const char *binary)
{
    const char *path = getenv("PATH");
    char candidate[4096];

    if (strchr(binary, '/'))
        return access(binary, X_OK) == 0;
    if (!path || !*path)
        path = "/usr/sbin:/usr/bin:/sbin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len && (size_t) snprintf(candidate, sizeof(candidate), "%.*s/%s", (int) len, path, binary) <
                       sizeof(candidate) &&
            access(candidate, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

bool brig_ckpt_available(const char *criu_binary)
{
    void *handle;

    if (!criu_binary_found(criu_binary ? criu_binary : "criu"))
        return false;
    handle = dlopen(CKPT_CRIU_SONAME, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    if (!handle)
        handle = dlopen(CKPT_CRIU_SONAME, RTLD_LAZY | RTLD_LOCAL);
    return handle != NULL;
}

int brig_ckpt_rootless_refusal(const char *what, struct brig_err **err)
{
    void *handle = dlopen(CKPT_CRIU_SONAME, RTLD_LAZY | RTLD_LOCAL);

    /* As root, CRIU restores the namespaces, ids and pids the dump saw; as the user it can only in its
     * unprivileged mode, which leaves out what needs the host's privilege (cgroups, some mounts). */
    if (!handle || !dlsym(handle, "criu_local_set_unprivileged"))
        return brig_err_msg(err, ENOTSUP,
                            "%s: a rootless container needs criu's unprivileged mode (--unprivileged with "
                            "CAP_CHECKPOINT_RESTORE, criu 3.18 and later), which this criu lacks (%s has no "
                            "criu_local_set_unprivileged: criu 3.17 or older)",
                            what, CKPT_CRIU_SONAME);
    return brig_err_msg(err, ENOTSUP,
                        "%s: rootless containers are not supported yet (brig does not drive criu's "
                        "--unprivileged mode)", what);
}

/* The line of criu's output that says why it failed: its first "Error", else its last line. */
static void first_error_line(char *text, char *line, size_t len)
{
    char *found = strstr(text, "Error");
    char *end;

    if (found) {
        while (found > text && found[-1] != '\n')
            found--;
    } else {
        size_t n = strlen(text);
        while (n && text[n - 1] == '\n')
            text[--n] = '\0';
        found = strrchr(text, '\n');
        found = found ? found + 1 : text;
    }
    end = strchr(found, '\n');
    snprintf(line, len, "%.*s", end ? (int) (end - found) : (int) strlen(found), found);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int brig_ckpt_probe(const char *criu_binary, struct brig_err **err)
{
    const char *binary = criu_binary ? criu_binary : "criu";
    char *argv[] = {(char *) binary, "check", NULL};
    struct ckpt_criu criu;
    posix_spawn_file_actions_t actions;
    char output[16384];
    size_t used = 0;
    int pipe_fds[2];
    int64_t deadline;
    pid_t pid;
    int status = 0;
    int ret;

    ret = ckpt_criu_load(&criu, err);
    if (ret < 0)
        return ret;
    if (!criu_binary_found(binary))
        return brig_err_msg(err, ENOENT, "checkpoint needs the criu binary (`%s`; Debian package criu): not found",
                            binary);
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return brig_err_sys(err, "criu check: pipe");
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    ret = posix_spawnp(&pid, binary, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (ret != 0) {
        close(pipe_fds[0]);
        errno = ret;
        return brig_err_sys(err, "run `%s check`", binary);
    }
    /* Bounded: a criu that hangs must not hang brig (its output may also stay open in its children). */
    deadline = now_ms() + 10000;
    for (;;) {
        struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
        int64_t left = deadline - now_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int) left) == 0) {
            kill(pid, SIGKILL);
            break;
        }
        n = read(pipe_fds[0], output + used, sizeof(output) - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t) n;
        if (used == sizeof(output) - 1)
            break;
    }
    output[used] = '\0';
    close(pipe_fds[0]);
    if (now_ms() >= deadline)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    {
        char line[512];
        first_error_line(output, line, sizeof(line));
        if (WIFSIGNALED(status))
            return brig_err_msg(err, ENOTSUP, "criu cannot work here: `%s check` %s", binary,
                                WTERMSIG(status) == SIGKILL ? "did not answer within 10 s" : "was killed");
        return brig_err_msg(err, ENOTSUP, "criu cannot work here: `%s check` failed: %s", binary,
                            *line ? line : "(no output)");
    }
}

int ckpt_criu_error(int ret, const char *what, const char *work_path, const char *log_name, struct brig_err **err)
{
    cleanup_free char *log_path = NULL;
    cleanup_free char *text = NULL;
    size_t len = 0;
    char line[512] = "";
    int errnum = ret < 0 ? -ret : EIO;

    if (asprintf(&log_path, "%s/%s", work_path, log_name) < 0)
        log_path = NULL;
    if (log_path && brig_read_file_at(AT_FDCWD, log_path, &text, &len, NULL) == 0 && text)
        first_error_line(text, line, sizeof(line));
    /* libcriu's own failures (criu missing, a broken connection) come as -errno with nothing in the log. */
    if (!*line)
        return brig_err_msg(err, errnum, "%s: criu failed: %s (log: %s)", what, strerror(errnum),
                            log_path ? log_path : log_name);
    return brig_err_msg(err, errnum, "%s: criu failed: %s (log: %s)", what, line, log_path ? log_path : log_name);
}

static enum criu_cg_mode criu_cg_mode(enum brig_ckpt_cg_mode mode)
{
    switch (mode) {
    case BRIG_CKPT_CG_FULL:
        return CRIU_CG_MODE_FULL;
    case BRIG_CKPT_CG_STRICT:
        return CRIU_CG_MODE_STRICT;
    case BRIG_CKPT_CG_IGNORE:
        return CRIU_CG_MODE_IGNORE;
    case BRIG_CKPT_CG_SOFT:
    case BRIG_CKPT_CG_UNSET:
    default:
        return CRIU_CG_MODE_SOFT;
    }
}

int ckpt_opts_common(const struct ckpt_criu *criu, const struct brig_ckpt_opts *opts, int images_fd, int work_fd,
                     const char *log_name, criu_opts **o, struct brig_err **err)
{
    criu_opts *c = NULL;
    int ret = criu->criu_local_init_opts(&c);

    if (ret < 0 || !c)
        return brig_err_set(err, ret < 0 ? -ret : ENOMEM, "libcriu options");
    *o = c;
    if (criu->criu_local_set_service_binary(c, opts->criu_binary ? opts->criu_binary : "criu") < 0 ||
        criu->criu_local_set_log_file(c, log_name) < 0)
        return brig_err_set(err, ENOMEM, "libcriu options");
    criu->criu_local_set_images_dir_fd(c, images_fd);
    criu->criu_local_set_work_dir_fd(c, work_fd);
    criu->criu_local_set_log_level(c, opts->log_level ? opts->log_level : CRIU_LOG_DEBUG);
    criu->criu_local_set_tcp_established(c, opts->tcp_established);
    criu->criu_local_set_ext_unix_sk(c, opts->ext_unix_sk);
    criu->criu_local_set_shell_job(c, opts->shell_job);
    criu->criu_local_set_file_locks(c, opts->file_locks);
    criu->criu_local_set_weak_sysctls(c, opts->weak_sysctls);
    criu->criu_local_set_evasive_devices(c, opts->evasive_devices);
    criu->criu_local_set_orphan_pts_master(c, opts->orphan_pts_master);
    /* Always: CRIU's IGNORE is 0, which an unset field would also be. */
    criu->criu_local_set_manage_cgroups(c, true);
    criu->criu_local_set_manage_cgroups_mode(c, criu_cg_mode(opts->cg_mode));
    if (opts->ghost_limit)
        criu->criu_local_set_ghost_limit(c, opts->ghost_limit);
    if (opts->timeout)
        criu->criu_local_set_timeout(c, opts->timeout);
    for (char **p = opts->skip_mounts; p && *p; p++)
        if (criu->criu_local_add_skip_mnt(c, *p) < 0)
            return brig_err_set(err, ENOMEM, "libcriu options");
    for (char **p = opts->enable_fs; p && *p; p++)
        if (criu->criu_local_add_enable_fs(c, *p) < 0)
            return brig_err_set(err, ENOMEM, "libcriu options");
    for (char **p = opts->externals; p && *p; p++)
        if (criu->criu_local_add_external(c, *p) < 0)
            return brig_err_set(err, ENOMEM, "libcriu options");
    return 0;
}
