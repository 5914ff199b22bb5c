/* uid_map/gid_map of a new user namespace, written by the parent while the init waits. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

int brig_ns_write_maps(pid_t pid, const struct brig_id_maps *maps, struct brig_err **err)
{
    int ret = 0;

    if (maps->n_uid)
        ret = write_map("uid", pid, maps->uid, maps->n_uid, err);
    if (ret == 0 && maps->n_gid)
        ret = write_map("gid", pid, maps->gid, maps->n_gid, err);
    return ret;
}

int brig_ns_write_id_maps(const struct brig_spec *spec, pid_t pid, struct brig_err **err)
{
    const struct brig_namespace *user = brig_spec_namespace(spec, BRIG_NS_USER);
    const struct brig_linux *cfg = spec->linux_cfg;
    struct brig_id_maps maps = {cfg->uid_mappings, cfg->n_uid_mappings, cfg->gid_mappings, cfg->n_gid_mappings};

    /* A joined user namespace already has its maps. */
    if (!user || (user->path && *user->path))
        return 0;
    return brig_ns_write_maps(pid, &maps, err);
}

bool brig_ns_maps_self_only(const struct brig_id_maps *maps)
{
    return (!maps->n_uid || self_map_only(maps->uid, maps->n_uid, geteuid())) &&
           (!maps->n_gid || self_map_only(maps->gid, maps->n_gid, getegid()));
}

int brig_ns_run_as_root(const struct brig_id_maps *maps, int (*fn)(void *data, struct brig_err **err), void *data,
                        struct brig_err **err)
{
    int sv[2];
    char buf[4096];
    pid_t pid;
    ssize_t n;
    int ret, status = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return brig_err_sys(err, "socketpair");
    pid = fork();
    if (pid < 0) {
        ret = brig_err_sys(err, "fork");
        close(sv[0]);
        close(sv[1]);
        return ret;
    }
    if (pid == 0) {
        struct brig_err *child_err = NULL;
        char go;

        close(sv[0]);
        /* The maps are written from outside (newuidmap checks the caller, not the namespace's members). */
        if (unshare(CLONE_NEWUSER) < 0 || send(sv[1], "u", 1, MSG_NOSIGNAL) != 1 || recv(sv[1], &go, 1, 0) != 1 ||
            setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            _exit(2);
        if (fn(data, &child_err) < 0) {
            buf[0] = 'e';
            n = brig_err_encode(child_err, buf + 1, (int) sizeof(buf) - 1);
            send(sv[1], buf, (size_t) n + 1, MSG_NOSIGNAL);
            _exit(1);
        }
        _exit(0);
    }
    close(sv[1]);
    ret = recv(sv[0], buf, 1, 0) == 1 ? brig_ns_write_maps(pid, maps, err)
                                      : brig_err_msg(err, EPERM, "user namespace: cannot make one");
    if (ret == 0 && send(sv[0], "g", 1, MSG_NOSIGNAL) != 1)
        ret = brig_err_sys(err, "user namespace child");
    if (ret < 0)
        kill(pid, SIGKILL);
    n = ret == 0 ? recv(sv[0], buf, sizeof(buf), 0) : 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(sv[0]);
    if (ret < 0)
        return ret;
    if (n > 1 && buf[0] == 'e')
        return brig_err_decode(err, buf + 1, (int) n - 1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return brig_err_msg(err, EPERM, "user namespace child exited with status %d", WEXITSTATUS(status));
    return 0;
}

/* The first range of `name` (or of its number, as shadow's tools accept) in /etc/subuid or /etc/subgid;
 * false when there is none (or no file). */
static bool find_subid(const char *file, const char *name, unsigned long id, uint32_t *start, uint32_t *count)
{
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *ignored = NULL;
    char number[24];
    size_t len = 0;

    if (brig_read_file_at(AT_FDCWD, file, &text, &len, &ignored) < 0)
        return false;
    snprintf(number, sizeof(number), "%lu", id);
    for (char *line = text, *next; line && *line; line = next) {
        char *f1, *f2, *end;
        unsigned long a, b;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        f1 = strchr(line, ':');
        f2 = f1 ? strchr(f1 + 1, ':') : NULL;
        if (!f2)
            continue;
        *f1 = '\0';
        if (strcmp(line, number) != 0 && (!name || strcmp(line, name) != 0))
            continue;
        errno = 0;
        a = strtoul(f1 + 1, &end, 10);
        if (errno || end != f2)
            continue;
        b = strtoul(f2 + 1, &end, 10);
        if (errno || *end || b == 0 || a > UINT32_MAX || b > UINT32_MAX - a)
            continue;
        *start = (uint32_t) a;
        *count = (uint32_t) b;
        return true;
    }
    return false;
}

static bool have_helper(const char *helper)
{
    const char *path = getenv("PATH");
    cleanup_free char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;

    for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir; dir = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];
        snprintf(full, sizeof(full), "%s/%s", dir, helper);
        if (access(full, X_OK) == 0)
            return true;
    }
    return false;
}

int brig_ns_subid_maps(struct brig_subid_maps *out, char *why, size_t why_size)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    struct passwd *pw = getpwuid(uid);
    const char *name = pw ? pw->pw_name : NULL;
    uint32_t us, uc, gs, gc;

    memset(out, 0, sizeof(*out));
    out->uid[0] = (struct brig_id_mapping){0, (uint32_t) uid, 1};
    out->gid[0] = (struct brig_id_mapping){0, (uint32_t) gid, 1};
    out->maps = (struct brig_id_maps){out->uid, 1, out->gid, 1};
    if (!find_subid("/etc/subuid", name, uid, &us, &uc) || !find_subid("/etc/subgid", name, uid, &gs, &gc)) {
        snprintf(why, why_size, "no subordinate ids for `%s` in /etc/subuid and /etc/subgid", name ? name : "?");
        return 0;
    }
    if (!have_helper("newuidmap") || !have_helper("newgidmap")) {
        snprintf(why, why_size, "no newuidmap/newgidmap (the uidmap package) to map the subordinate ids");
        return 0;
    }
    /* As rootless Podman: the user is root, its subordinate range the ids from 1 on. */
    out->uid[1] = (struct brig_id_mapping){1, us, uc};
    out->gid[1] = (struct brig_id_mapping){1, gs, gc};
    out->maps.n_uid = out->maps.n_gid = 2;
    out->subordinate = true;
    return 0;
}
