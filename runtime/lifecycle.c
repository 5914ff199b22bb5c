/* state, list, kill and delete: the commands that act on an existing container. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hooks.h"
#include "internal.h"
#include "../netns/netns.h"
#include "../util/util.h"

static void set_status(struct brig_state *state, const char *status)
{
    free(state->status);
    state->status = strdup(status);
    if (!strcmp(status, "stopped"))
        state->pid = 0;
}

int brig_container_state_json(const struct brig_context *ctx, const char *id, char **json, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    size_t len = 0;
    int ret;

    ret = brig_store_open(ctx, id, false, &dir, &state, err);
    if (ret < 0)
        return ret;
    if (!state) {
        brig_store_close(&dir);
        return brig_err_msg(err, EAGAIN, "container `%s` is still being created", id);
    }
    set_status(state, brig_container_status(&dir, state));
    brig_store_close(&dir);
    return brig_state_to_public_json(state, json, &len, err);
}

int brig_container_load_state(const struct brig_context *ctx, const char *id, struct brig_state **out,
                              struct brig_err **err)
{
    struct brig_container_dir dir;
    struct brig_state *state = NULL;
    int ret = brig_store_open(ctx, id, false, &dir, &state, err);

    if (ret < 0)
        return ret;
    if (!state) {
        brig_store_close(&dir);
        return brig_err_msg(err, EAGAIN, "container `%s` is still being created", id);
    }
    set_status(state, brig_container_status(&dir, state));
    brig_store_close(&dir);
    *out = state;
    return 0;
}

static int signal_number_from_name(const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {
        {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},
        {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},       {"BUS", SIGBUS},
        {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},     {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},
        {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
        {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},     {"PWR", SIGPWR},
        {"SYS", SIGSYS},
    };

    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (!strcmp(names[i].name, name))
            return names[i].sig;
    return -1;
}

/* A count in plain decimal digits: no sign, blank or base prefix, which strtoull would take. */
static bool parse_digits(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    return brig_parse_u64(s, out) == 0;
}

/* RTMIN, RTMIN+N, RTMAX and RTMAX-N (upper case, without SIG): 0 when `name` is none of them, 1 when it is
 * one in range, -1 when it is one of them malformed or out of range. */
static int realtime_signal(const char *name, int *sig)
{
    int rtmin = SIGRTMIN, rtmax = SIGRTMAX;
    bool from_min = !strncmp(name, "RTMIN", 5);
    uint64_t off = 0;

    if (!from_min && strncmp(name, "RTMAX", 5) != 0)
        return 0;
    if (!name[5]) {
        *sig = from_min ? rtmin : rtmax;
        return 1;
    }
    if (name[5] != (from_min ? '+' : '-') || !parse_digits(name + 6, &off) || off > (uint64_t) (rtmax - rtmin))
        return -1;
    *sig = from_min ? rtmin + (int) off : rtmax - (int) off;
    return 1;
}

int brig_parse_signal(const char *name, int *sig, struct brig_err **err)
{
    const char *bare;
    uint64_t number;
    char upper[32] = "";
    size_t len = strlen(name);
    int rt;

    /* Signal 0 checks that the container's process exists, as kill(1) and runc allow. */
    if ((name[0] >= '0' && name[0] <= '9') || name[0] == '+' || name[0] == '-') {
        if (!parse_digits(name, &number) || number >= NSIG)
            return brig_err_msg(err, EINVAL, "invalid signal `%s`: expected a number from 0 to %d or a name", name,
                                NSIG - 1);
        *sig = (int) number;
        return 0;
    }
    /* Longer than any name: cutting it to fit could turn it into a different, valid one. */
    if (len >= sizeof(upper))
        return brig_err_msg(err, EINVAL, "unknown signal `%.40s...`", name);
    for (size_t i = 0; i <= len; i++)
        upper[i] = (char) (name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    bare = strncmp(upper, "SIG", 3) ? upper : upper + 3;
    rt = realtime_signal(bare, sig);
    if (rt < 0)
        return brig_err_msg(err, EINVAL, "invalid signal `%s`: expected RTMIN+N or RTMAX-N with N from 0 to %d", name,
                            SIGRTMAX - SIGRTMIN);
    if (rt > 0)
        return 0;
    *sig = signal_number_from_name(bare);
    if (*sig < 0)
        return brig_err_msg(err, EINVAL, "unknown signal `%s`", name);
    return 0;
}

int brig_container_kill(const struct brig_context *ctx, const char *id, int sig, bool all, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    const char *status;
    int ret;

    ret = brig_store_open(ctx, id, true, &dir, &state, err);
    if (ret < 0)
        return ret;
    status = brig_container_status(&dir, state);
    if (!state || !strcmp(status, "stopped")) {
        brig_store_close(&dir);
        /* runc's obsolete --all suppressed this; keep that for callers that rely on it. */
        if (all)
            return 0;
        /* "container not running": containerd's shim matches these words to tell "already exited" apart. */
        return brig_err_msg(err, ESRCH, "container not running: `%s` has stopped", id);
    }
    brig_log(ctx, BRIG_LOG_DEBUG, "kill: signal %d to %s of `%s`", sig, all ? "every process" : "the init", id);
    if (all) {
        enum brig_cgroup_mode mode;

        ret = brig_cgroup_detect(&mode, err);
        if (ret == 0)
            ret = brig_cgroup_signal_all(mode, state->cgroup_path, sig, err);
    } else if (kill(state->pid, sig) < 0) {
        ret = brig_err_sys(err, "send signal %d to container `%s` (pid %d)", sig, id, state->pid);
    }
    brig_store_close(&dir);
    return ret;
}

/* Kills the init and waits until it is gone. True when it is gone. */
static bool kill_init(const struct brig_state *state)
{
    struct pollfd p = {.events = POLLIN};
    int exited;

    if (state->pid <= 0)
        return true;
    p.fd = (int) syscall(SYS_pidfd_open, state->pid, 0);
    if (p.fd < 0)
        return errno == ESRCH;
    /* Checked once the pidfd holds the process: a start time that matches then is the init's, not that of a
     * process that took its pid since, and the signal goes to that process whatever happens to the pid. */
    if (!brig_process_alive(state->pid, state->init_start_time)) {
        close(p.fd);
        return true;
    }
    syscall(SYS_pidfd_send_signal, p.fd, SIGKILL, NULL, 0);
    exited = poll(&p, 1, 5000);
    close(p.fd);
    return exited == 1;
}

int brig_destroy_container(const struct brig_context *ctx, struct brig_container_dir *dir,
                           const struct brig_state *state, bool keep_upper, char **kept_upper,
                           struct brig_err **err)
{
    /* Only then is the network namespace surely going: a process outside any cgroup of ours may hold it. */
    bool all_gone = false;
    int ret;

    if (state) {
        enum brig_cgroup_mode mode;
        bool init_gone;

        ret = brig_cgroup_detect(&mode, err);
        /* A paused init would not die before the 5 s wait in kill_init ends. */
        if (ret == 0 && state->cgroup_path && brig_cgroup_is_frozen(mode, state->cgroup_path))
            brig_cgroup_freeze(mode, state->cgroup_path, false, NULL);
        init_gone = kill_init(state);
        /* runc kills every process of the cgroup; of a cgroup that existed before the container, only the
         * init is the container's (with its own pid namespace, the rest dies with it). */
        if (ret == 0 && state->cgroup_path && state->systemd_cgroup)
            ret = brig_cgroup_systemd_stop(mode, state->cgroup_path, err);
        else if (ret == 0 && state->cgroup_path && !state->cgroup_joined)
            ret = brig_cgroup_destroy(mode, state->cgroup_path, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "delete container `%s`", dir->id);
        all_gone = init_gone && state->cgroup_path && !state->cgroup_joined;
    }
    ret = brig_net_teardown(ctx->root, dir->dir_fd, all_gone, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "delete container `%s`", dir->id);
    /* After the processes, which may still write to the overlay. */
    ret = brig_root_layers_teardown(ctx, dir, state, keep_upper || (state && state->keep_upper), kept_upper, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "delete container `%s`", dir->id);
    ret = brig_store_remove(dir, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "delete container `%s`", dir->id);
    brig_log(ctx, BRIG_LOG_DEBUG, "container %s deleted", dir->id);
    if (state)
        brig_run_lifecycle_hooks(ctx, state, "poststop", "stopped");
    return 0;
}

/* The container's lock may be held by a process frozen in its cgroup (the init of a create that froze
 * before it closed brig's fds), which would hold it until thawed: --force thaws the cgroup first. */
static void thaw_lock_holder(const struct brig_context *ctx, const char *id)
{
    cleanup_err struct brig_err *ignored = NULL;
    cleanup_state struct brig_state *state = NULL;
    struct brig_container_dir dir;
    enum brig_cgroup_mode mode;
    cleanup_close int fd = -1;
    char path[4096];

    if (brig_validate_id(id, NULL) < 0 ||
        (size_t) snprintf(path, sizeof(path), "%s/%s", ctx->root, id) >= sizeof(path))
        return;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Taken at once (the usual case): closing the fd drops it again. */
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
        return;
    if (brig_store_open(ctx, id, false, &dir, &state, &ignored) < 0)
        return;
    if (state && state->cgroup_path && brig_cgroup_detect(&mode, NULL) == 0 &&
        brig_cgroup_is_frozen(mode, state->cgroup_path))
        brig_cgroup_freeze(mode, state->cgroup_path, false, NULL);
    brig_store_close(&dir);
}

int brig_container_delete(const struct brig_context *ctx, const char *id, bool force, bool keep_upper,
                          char **kept_upper, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    const char *status;
    int ret;

    if (force)
        thaw_lock_holder(ctx, id);
    /* Forced, a state.json that cannot be read still leaves the init record to find the init and cgroup by. */
    if (force)
        ret = brig_store_open_for_removal(ctx, id, &dir, &state, err);
    else
        ret = brig_store_open(ctx, id, true, &dir, &state, err);
    if (ret == -ENOENT && force) {
        /* runc's contract, relied on by containerd: forcing away what is already gone succeeds. A create
         * of it killed before its directory took the id may have left one under a hidden name. */
        brig_err_free(err);
        brig_store_sweep(ctx);
        return 0;
    }
    if (ret < 0)
        return ret;
    status = brig_container_status(&dir, state);
    /* A created container is destroyed without --force, as runc does; a running one needs it. */
    if (!force && (!strcmp(status, "running") || !strcmp(status, "paused"))) {
        brig_store_close(&dir);
        return brig_err_msg(err, EBUSY, "cannot delete container `%s` that is %s: stop it or use --force", id,
                            status);
    }
    ret = brig_destroy_container(ctx, &dir, state, keep_upper, kept_upper, err);
    brig_store_close(&dir);
    return ret;
}

/* ---- list ---- */

struct list_entry {
    struct brig_state *state;
    char owner[64];
};

static void owner_of(int root_fd, const char *id, char *out, size_t len)
{
    struct stat st;
    struct passwd *pw;

    if (fstatat(root_fd, id, &st, 0) < 0) {
        snprintf(out, len, "?");
        return;
    }
    pw = getpwuid(st.st_uid);
    if (pw)
        snprintf(out, len, "%s", pw->pw_name);
    else
        snprintf(out, len, "#%u", st.st_uid);
}

static int load_entries(const struct brig_context *ctx, struct list_entry **entries, size_t *n,
                        struct brig_err **err)
{
    cleanup_close int root_fd = -1;
    DIR *d;
    struct dirent *de;
    int ret;

    *entries = NULL;
    *n = 0;
    ret = brig_store_open_root(ctx, false, &root_fd, err);
    if (ret == -ENOENT) {
        brig_err_free(err);
        return 0;
    }
    if (ret < 0)
        return ret;
    d = brig_opendir_dup(root_fd);
    if (!d)
        return brig_err_sys(err, "read state root `%s`", ctx->root);
    while ((de = readdir(d))) {
        struct brig_container_dir dir;
        struct brig_state *state = NULL;
        cleanup_err struct brig_err *ignored = NULL;
        struct list_entry *grown;

        if (de->d_name[0] == '.')
            continue;
        ret = brig_store_open(ctx, de->d_name, false, &dir, &state, &ignored);
        if (ret < 0 || !state) {
            /* A container that went meanwhile is no news; one whose state cannot be read is, by its id,
             * so that its owner can delete --force it (the listing itself stays parseable). */
            if (ret < 0 && ret != -ENOENT && ignored)
                brig_log(ctx, BRIG_LOG_WARNING, "container `%s`: %s", de->d_name, ignored->msg);
            if (!ignored)
                brig_store_close(&dir);
            continue;
        }
        set_status(state, brig_container_status(&dir, state));
        brig_store_close(&dir);
        grown = realloc(*entries, (*n + 1) * sizeof(**entries));
        if (!grown) {
            brig_state_free(state);
            break;
        }
        *entries = grown;
        (*entries)[*n].state = state;
        owner_of(root_fd, de->d_name, (*entries)[*n].owner, sizeof((*entries)[*n].owner));
        (*n)++;
    }
    closedir(d);
    return 0;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct list_entry *) a)->state->id, ((const struct list_entry *) b)->state->id);
}

int brig_container_list(const struct brig_context *ctx, enum brig_list_format format, int out_fd,
                        struct brig_err **err)
{
    struct list_entry *entries = NULL;
    size_t n = 0;
    char *buf = NULL;
    size_t buf_len = 0;
    FILE *out;
    int ret;

    ret = load_entries(ctx, &entries, &n, err);
    if (ret < 0)
        return ret;
    if (n > 1)
        qsort(entries, n, sizeof(*entries), compare_entries);
    out = open_memstream(&buf, &buf_len);
    if (!out) {
        ret = brig_err_sys(err, "list");
        goto done;
    }
    if (format == BRIG_LIST_QUIET) {
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%s\n", entries[i].state->id);
    } else if (format == BRIG_LIST_JSON) {
        fputc('[', out);
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *json = NULL;
            size_t len = 0;
            free(entries[i].state->owner);
            entries[i].state->owner = strdup(entries[i].owner);
            if (brig_state_to_public_json(entries[i].state, &json, &len, NULL) == 0) {
                /* One object per element, compact like runc's list output. */
                char *src = json, *dst = json;
                bool in_string = false;
                for (; *src; src++) {
                    if (*src == '"' && (src == json || src[-1] != '\\'))
                        in_string = !in_string;
                    if (!in_string && (*src == '\n' || *src == ' '))
                        continue;
                    *dst++ = *src;
                }
                *dst = '\0';
                fprintf(out, "%s%s", i ? "," : "", json);
            }
        }
        fputs("]\n", out);
    } else {
        size_t w_id = 2, w_bundle = 6;
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(entries[i].state->id);
            w_id = l > w_id ? l : w_id;
            l = strlen(entries[i].state->bundle ? entries[i].state->bundle : "");
            w_bundle = l > w_bundle ? l : w_bundle;
        }
        fprintf(out, "%-*s   %-10s %-10s %-*s   %-30s   %s\n", (int) w_id, "ID", "PID", "STATUS", (int) w_bundle,
                "BUNDLE", "CREATED", "OWNER");
        for (size_t i = 0; i < n; i++) {
            const struct brig_state *s = entries[i].state;
            fprintf(out, "%-*s   %-10d %-10s %-*s   %-30s   %s\n", (int) w_id, s->id, s->pid, s->status,
                    (int) w_bundle, s->bundle ? s->bundle : "", s->created ? s->created : "", entries[i].owner);
        }
    }
    fclose(out);
    if (buf)
        brig_write_all(out_fd, buf, buf_len);
    free(buf);
done:
    for (size_t i = 0; i < n; i++)
        brig_state_free(entries[i].state);
    free(entries);
    return ret;
}

void brig_run_lifecycle_hooks(const struct brig_context *ctx, const struct brig_state *state, const char *phase,
                              const char *status)
{
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    const struct brig_hook *hooks;
    size_t n;

    if (!state->has_hooks || !state->config_path)
        return;
    if (brig_spec_load(state->config_path, &spec, &err) < 0) {
        brig_log(ctx, BRIG_LOG_WARNING, "%s hooks of `%s` not run: %s", phase, state->id, err->msg);
        return;
    }
    hooks = strcmp(phase, "poststart") ? spec->hooks.poststop : spec->hooks.poststart;
    n = strcmp(phase, "poststart") ? spec->hooks.n_poststop : spec->hooks.n_poststart;
    if (!n)
        return;
    /* A failing poststart or poststop hook is reported; the lifecycle goes on (runtime-spec). */
    if (brig_hooks_state_json(state, status, &json, &err) < 0) {
        brig_log(ctx, BRIG_LOG_WARNING, "%s hooks of `%s` not run: %s", phase, state->id, err->msg);
        return;
    }
    /* Each hook runs even after an earlier one failed. */
    for (size_t i = 0; i < n; i++) {
        cleanup_err struct brig_err *hook_err = NULL;

        if (brig_hook_run(phase, i, &hooks[i], json, NULL, &hook_err) < 0)
            brig_log(ctx, BRIG_LOG_WARNING, "%s", hook_err->msg);
    }
}
