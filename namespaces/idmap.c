/* uid_map/gid_map of a new user namespace, written by the parent while the init waits. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "namespaces.h"
#include "../util/util.h"

/* "cid hid size" per range, joined by `sep`. */
static char *format_map(const struct brig_id_mapping *maps, size_t n, const char *sep)
{
    size_t cap = n * ((size_t) 3 * 11 + strlen(sep)) + 1, len = 0;
    char *buf = malloc(cap);

    if (!buf)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t) snprintf(buf + len, cap - len, "%s%" PRIu32 " %" PRIu32 " %" PRIu32, i ? sep : "",
                                 maps[i].container_id, maps[i].host_id, maps[i].size);
    return buf;
}

static int write_proc_file(pid_t pid, const char *file, const char *data)
{
    char path[64];
    cleanup_close int fd = -1;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* One write: the kernel accepts a map only whole, and only once. */
    return brig_write_all(fd, data, strlen(data));
}

/* newuidmap/newgidmap PID cid hid size...: the setuid helpers check /etc/subuid and /etc/subgid. Their
 * stderr is kept for the error message. */
static int run_helper(const char *helper, pid_t pid, const struct brig_id_mapping *maps, size_t n,
                      char *why, size_t why_size)
{
    cleanup_free char **argv = calloc(3 * n + 3, sizeof(char *));
    cleanup_free char *numbers = malloc((3 * n + 1) * 12);
    char *p = numbers;
    int pipefd[2], status, ret;
    pid_t child;
    ssize_t got;
    size_t len = 0;

    if (!argv || !numbers)
        return -ENOMEM;
    argv[0] = (char *) helper;
    argv[1] = p;
    p += sprintf(p, "%d", (int) pid) + 1;
    for (size_t i = 0; i < n; i++) {
        const uint32_t v[3] = {maps[i].container_id, maps[i].host_id, maps[i].size};
        for (int j = 0; j < 3; j++) {
            argv[2 + 3 * i + j] = p;
            p += sprintf(p, "%" PRIu32, v[j]) + 1;
        }
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    child = fork();
    if (child < 0) {
        ret = -errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return ret;
    }
    if (child == 0) {
        static const char msg[] = "cannot execute it (is the uidmap package installed?)";
        if (dup2(pipefd[1], STDERR_FILENO) >= 0)
            execvp(helper, argv);
        (void) !write(pipefd[1], msg, sizeof(msg) - 1);
        _exit(127);
    }
    close(pipefd[1]);
    while (len < why_size - 1 && (got = read(pipefd[0], why + len, why_size - 1 - len)) != 0) {
        if (got < 0 && errno != EINTR)
            break;
        if (got > 0)
            len += (size_t) got;
    }
    close(pipefd[0]);
    while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
        len--;
    why[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (why[i] == '\n')
            why[i] = ' ';
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    return -EPERM;
}

/* Unprivileged users may map their own id, once, without a helper. */
static bool self_map_only(const struct brig_id_mapping *maps, size_t n, uint32_t own)
{
    return n == 1 && maps[0].size == 1 && maps[0].host_id == own;
}

static int write_map(const char *kind, pid_t pid, const struct brig_id_mapping *maps, size_t n,
                     struct brig_err **err)
{
    bool gid = kind[0] == 'g';
    uid_t euid = geteuid();
    cleanup_free char *text = format_map(maps, n, "\n");
    cleanup_free char *shown = format_map(maps, n, ", ");
    char why[512] = "";
    int ret;

    if (!text || !shown)
        return brig_err_set(err, ENOMEM, "write %s map for pid %d", kind, (int) pid);
    if (euid == 0 || self_map_only(maps, n, gid ? getegid() : euid)) {
        /* Without privilege a gid map is allowed only once setgroups is denied for good. */
        if (gid && euid != 0) {
            ret = write_proc_file(pid, "setgroups", "deny");
            if (ret < 0)
                return brig_err_set(err, -ret, "write `deny` to /proc/%d/setgroups", (int) pid);
        }
        ret = write_proc_file(pid, gid ? "gid_map" : "uid_map", text);
        if (ret < 0)
            return brig_err_set(err, -ret, "write %s map `%s` for pid %d", kind, shown, (int) pid);
        return 0;
    }
    ret = run_helper(gid ? "newgidmap" : "newuidmap", pid, maps, n, why, sizeof(why));
    if (ret == -EPERM)
        return brig_err_set(err, 0, "write %s map `%s` for pid %d: %s: %s", kind, shown, (int) pid,
                            gid ? "newgidmap" : "newuidmap", *why ? why : "failed");
    if (ret < 0)
        return brig_err_set(err, -ret, "write %s map `%s` for pid %d: run %s", kind, shown, (int) pid,
                            gid ? "newgidmap" : "newuidmap");
    return 0;
}

int brig_ns_write_id_maps(const struct brig_spec *spec, pid_t pid, struct brig_err **err)
{
    const struct brig_namespace *user = brig_spec_namespace(spec, BRIG_NS_USER);
    const struct brig_linux *cfg = spec->linux_cfg;
    int ret = 0;

    /* A joined user namespace already has its maps. */
    if (!user || (user->path && *user->path))
        return 0;
    if (cfg->n_uid_mappings)
        ret = write_map("uid", pid, cfg->uid_mappings, cfg->n_uid_mappings, err);
    if (ret == 0 && cfg->n_gid_mappings)
        ret = write_map("gid", pid, cfg->gid_mappings, cfg->n_gid_mappings, err);
    return ret;
}
