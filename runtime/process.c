/* The OCI `process` fields applied in the init right before exec: rlimits, oom score, user, cwd, and the
 * executable's lookup in the container's PATH. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>

#include "process.h"
#include "../rootfs/rootfs.h"
#include "../util/util.h"

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},       {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},   {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

int brig_rlimit_from_name(const char *name, int *resource)
{
    for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++) {
        if (!strcmp(rlimit_names[i].name, name)) {
            *resource = rlimit_names[i].resource;
            return 0;
        }
    }
    return -EINVAL;
}

int brig_process_validate(const struct brig_process *proc, struct brig_err **err)
{
    for (size_t i = 0; i < proc->n_rlimits; i++) {
        int resource;
        if (brig_rlimit_from_name(proc->rlimits[i].type, &resource) < 0)
            return brig_err_msg(err, EINVAL, "process.rlimits[%zu].type: unknown rlimit `%s`", i,
                                proc->rlimits[i].type);
        if (proc->rlimits[i].soft > proc->rlimits[i].hard)
            return brig_err_msg(err, EINVAL, "process.rlimits[%zu]: soft limit %llu exceeds hard limit %llu", i,
                                (unsigned long long) proc->rlimits[i].soft,
                                (unsigned long long) proc->rlimits[i].hard);
    }
    if (proc->cwd[0] != '/')
        return brig_err_msg(err, EINVAL, "process.cwd: `%s` is not an absolute path", proc->cwd);
    return 0;
}

int brig_process_apply_rlimits(const struct brig_process *proc, struct brig_err **err)
{
    for (size_t i = 0; i < proc->n_rlimits; i++) {
        struct rlimit rl = {.rlim_cur = proc->rlimits[i].soft, .rlim_max = proc->rlimits[i].hard};
        int resource = 0;

        brig_rlimit_from_name(proc->rlimits[i].type, &resource);
        if (setrlimit(resource, &rl) < 0)
            return brig_err_sys(err, "process.rlimits: set %s to %llu:%llu", proc->rlimits[i].type,
                                (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max);
    }
    return 0;
}

int brig_process_apply_oom_score(const struct brig_process *proc, struct brig_err **err)
{
    char value[32];
    int len;

    if (!proc->oom_score_adj.set)
        return 0;
    len = snprintf(value, sizeof(value), "%lld", (long long) proc->oom_score_adj.value);
    return brig_err_wrap(err, brig_write_file_at(AT_FDCWD, "/proc/self/oom_score_adj", value, (size_t) len, err),
                         "process.oomScoreAdj");
}

static bool setgroups_allowed(void)
{
    char buf[16] = {0};
    cleanup_close int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return true;
    if (read(fd, buf, sizeof(buf) - 1) <= 0)
        return true;
    return strncmp(buf, "deny", 4) != 0;
}

int brig_process_set_user(const struct brig_process *proc, struct brig_err **err)
{
    const struct brig_user *user = &proc->user;

    /* The parsers refuse it already; set*id would take it as "keep root", so never hand it on. */
    if (user->uid == BRIG_ID_UNCHANGED || user->gid == BRIG_ID_UNCHANGED)
        return brig_err_msg(err, EINVAL, "process.user.%s: %u is not a valid id: " BRIG_ID_UNCHANGED_WHY,
                            user->uid == BRIG_ID_UNCHANGED ? "uid" : "gid", BRIG_ID_UNCHANGED);
    for (size_t i = 0; i < user->n_additional_gids; i++)
        if (user->additional_gids[i] == BRIG_ID_UNCHANGED)
            return brig_err_msg(err, EINVAL,
                                "process.user.additionalGids[%zu]: %u is not a valid id: " BRIG_ID_UNCHANGED_WHY, i,
                                BRIG_ID_UNCHANGED);
    if (setgroups_allowed()) {
        if (setgroups(user->n_additional_gids, (const gid_t *) user->additional_gids) < 0)
            return brig_err_sys(err, "process.user.additionalGids: setgroups");
    } else if (user->n_additional_gids > 0) {
        return brig_err_msg(err, EPERM, "process.user.additionalGids: setgroups is denied in this user namespace");
    }
    if (setresgid(user->gid, user->gid, user->gid) < 0)
        return brig_err_sys(err, "process.user.gid: setgid %u", user->gid);
    if (setresuid(user->uid, user->uid, user->uid) < 0)
        return brig_err_sys(err, "process.user.uid: setuid %u", user->uid);
    if (user->umask.set)
        umask((mode_t) user->umask.value);
    if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return brig_err_sys(err, "process.noNewPrivileges");
    return 0;
}

static const char *env_lookup(char *const *env, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; env && env[i]; i++)
        if (!strncmp(env[i], name, len) && env[i][len] == '=')
            return env[i] + len + 1;
    return NULL;
}

static bool is_executable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int brig_process_find_executable(const struct brig_process *proc, char *out, size_t len, struct brig_err **err)
{
    const char *name = proc->args[0];
    const char *path;

    if (strchr(name, '/')) {
        if (snprintf(out, len, "%s", name) >= (int) len)
            return brig_err_set(err, ENAMETOOLONG, "process.args[0] `%s`", name);
        if (!is_executable(out))
            return brig_err_sys(err, "exec `%s`", name);
        return 0;
    }
    path = env_lookup(proc->env, "PATH");
    if (!path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    while (*path) {
        const char *end = strchrnul(path, ':');
        int dir_len = (int) (end - path);

        if (snprintf(out, len, "%.*s%s%s", dir_len, path, dir_len ? "/" : "", name) < (int) len &&
            is_executable(out))
            return 0;
        path = *end ? end + 1 : end;
    }
    return brig_err_msg(err, ENOENT, "exec `%s`: executable file not found in $PATH", name);
}

int brig_apply_sysctl(const struct brig_linux *linux_cfg, struct brig_err **err)
{
    for (size_t i = 0; linux_cfg && i < linux_cfg->n_sysctl; i++) {
        const char *key = linux_cfg->sysctl[i].key;
        const char *value = linux_cfg->sysctl[i].value;
        char path[512];
        int ret;

        if (strstr(key, "..") || key[0] == '/' || key[0] == '.')
            return brig_err_msg(err, EINVAL, "linux.sysctl: invalid key `%s`", key);
        snprintf(path, sizeof(path), "/proc/sys/%s", key);
        /* With slashes, dots are part of names (an interface like eth0.100). */
        for (char *p = path + 10; !strchr(key, '/') && *p; p++)
            if (*p == '.')
                *p = '/';
        ret = brig_write_file_at(AT_FDCWD, path, value, strlen(value), err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "linux.sysctl `%s`", key);
    }
    return 0;
}

int brig_seal_fds(int *preserve, size_t n, struct brig_err **err)
{
    brig_cloexec_fds_except(preserve, n, 3);
    for (size_t i = 0; i < n; i++) {
        int flags = fcntl(preserve[i], F_GETFD);
        if (flags < 0 || fcntl(preserve[i], F_SETFD, flags & ~FD_CLOEXEC) < 0)
            return brig_err_sys(err, "pass file descriptor %d on", preserve[i]);
    }
    return 0;
}

void brig_reset_signals(void)
{
    sigset_t none;
    struct sigaction dfl = {.sa_handler = SIG_DFL};

    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void brig_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

int brig_stop_fd(void)
{
    sigset_t stop;

    brig_stop_signals(&stop);
    return signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
}

int brig_stop_check(const char *what, struct brig_err **err)
{
    sigset_t stop;
    struct timespec now = {0, 0};
    int sig;

    brig_stop_signals(&stop);
    sig = sigtimedwait(&stop, NULL, &now);
    if (sig <= 0)
        return 0;
    return brig_err_msg(err, EINTR, "%s: interrupted by SIG%s", what, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
}

static bool sysctl_in_ipc_ns(const char *key)
{
    static const char *const ipc_keys[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                           "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                                           "kernel.shm_rmid_forced"};

    for (size_t i = 0; i < ARRAY_SIZE(ipc_keys); i++)
        if (!strcmp(key, ipc_keys[i]))
            return true;
    return !strncmp(key, "fs.mqueue.", 10);
}

int brig_validate_namespaced_settings(const struct brig_spec *spec, struct brig_err **err)
{
    const struct brig_linux *cfg = spec->linux_cfg;
    bool uts = brig_spec_namespace(spec, BRIG_NS_UTS) != NULL;

    if (spec->hostname && *spec->hostname && !uts)
        return brig_err_msg(err, EINVAL, "hostname: setting it needs a uts namespace in linux.namespaces");
    if (spec->domainname && *spec->domainname && !uts)
        return brig_err_msg(err, EINVAL, "domainname: setting it needs a uts namespace in linux.namespaces");
    for (size_t i = 0; cfg && i < cfg->n_sysctl; i++) {
        char key[256];
        enum brig_ns_type needs;

        /* "net/ipv4/ip_forward" is the same key as "net.ipv4.ip_forward". */
        snprintf(key, sizeof(key), "%s", cfg->sysctl[i].key);
        for (char *p = key; *p; p++)
            if (*p == '/')
                *p = '.';

        if (sysctl_in_ipc_ns(key))
            needs = BRIG_NS_IPC;
        else if (!strncmp(key, "net.", 4))
            needs = BRIG_NS_NETWORK;
        else if (!strcmp(key, "kernel.hostname") || !strcmp(key, "kernel.domainname"))
            /* As runc and crun: the names have fields of their own, and a sysctl would race with them. */
            return brig_err_msg(err, EINVAL, "linux.sysctl: `%s` conflicts with the `%s` field: set the name there",
                                key, key + strlen("kernel."));
        else
            return brig_err_msg(err, EINVAL, "linux.sysctl: `%s` is not namespaced: it would change the host", key);
        if (!brig_spec_namespace(spec, needs))
            return brig_err_msg(err, EINVAL, "linux.sysctl: `%s` needs a %s namespace in linux.namespaces", key,
                                brig_ns_type_name(needs));
    }
    return 0;
}

/* The home directory of `uid` in the container's /etc/passwd, read without NSS (no host modules). */
static bool passwd_home(uid_t uid, char *home, size_t len)
{
    cleanup_free char *text = NULL;
    cleanup_err struct brig_err *ignored = NULL;
    char *line, *save = NULL;

    if (brig_read_file_at(AT_FDCWD, "/etc/passwd", &text, NULL, &ignored) < 0)
        return false;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[7];
        int n = 0;
        char *p = line;
        uint64_t id;

        while (n < 7) {
            fields[n++] = p;
            p = strchr(p, ':');
            if (!p)
                break;
            *p++ = '\0';
        }
        if (n == 7 && brig_parse_u64(fields[2], &id) == 0 && id == uid) {
            snprintf(home, len, "%s", fields[5]);
            return true;
        }
    }
    return false;
}

int brig_process_default_home(struct brig_process *proc, struct brig_err **err)
{
    static char home_env[4200];
    char home[4096];
    char **env;

    for (size_t i = 0; i < proc->n_env; i++)
        if (!strncmp(proc->env[i], "HOME=", 5))
            return 0;
    if (!passwd_home(proc->user.uid, home, sizeof(home)) || !*home)
        snprintf(home, sizeof(home), "/");
    snprintf(home_env, sizeof(home_env), "HOME=%s", home);
    /* The init is a short-lived copy of brig: this allocation lives until exec. */
    env = calloc(proc->n_env + 2, sizeof(char *));
    if (!env)
        return brig_err_msg(err, ENOMEM, "process.env");
    for (size_t i = 0; i < proc->n_env; i++)
        env[i] = proc->env[i];
    env[proc->n_env] = home_env;
    proc->env = env;
    proc->n_env++;
    return 0;
}

int brig_process_make_cwd(const struct brig_process *proc, struct brig_err **err)
{
    cleanup_close int root = -1;
    cleanup_close int made = -1;
    struct stat st;

    if (stat(proc->cwd, &st) == 0)
        return 0;
    /* Made by a walk that stays in the root and refuses magic links: a plain mkdir of
     * "/proc/self/fd/N/../../x" goes through a descriptor the init still holds (its state directory) and
     * creates x on the host (the image's WORKDIR of CVE-2024-21626). */
    root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return brig_err_sys(err, "process.cwd: open `/`");
    made = brig_rootfs_mkdir_in_root(root, proc->cwd, false, err);
    return made < 0 ? brig_err_wrap(err, made, "process.cwd") : 0;
}

void brig_protect_brig_binary(bool no_user_ns)
{
    if (no_user_ns)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int brig_process_enter_cwd(const struct brig_process *proc, bool *deferred, struct brig_err **err)
{
    char cwd[4096];

    if (deferred)
        *deferred = false;
    if (chdir(proc->cwd) < 0) {
        /* As runc: a directory only the container's user may enter (a volume chowned to it, which root in a
         * user namespace cannot search) is entered again once we are that user. */
        if (deferred && (errno == EACCES || errno == EPERM)) {
            *deferred = true;
            return 0;
        }
        return brig_err_sys(err, "process.cwd: chdir to `%s`", proc->cwd);
    }
    /* getcwd() fails with ENOENT when the directory is not reachable from our root. */
    if (!getcwd(cwd, sizeof(cwd))) {
        /* A seccomp filter loaded early may deny getcwd: the check already passed before it was loaded. */
        if (errno == EPERM || errno == ENOSYS)
            return 0;
        return brig_err_msg(err, EPERM, "process.cwd: `%s` is outside the container", proc->cwd);
    }
    if (cwd[0] != '/')
        return brig_err_msg(err, EPERM, "process.cwd: `%s` is outside the container", proc->cwd);
    return 0;
}
