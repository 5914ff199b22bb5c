/* The commands that work on a container's cgroup: update, pause, resume, ps, events; and the create step
 * that sets the cgroup up with the config's resources. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

static void warn_to_log(void *data, const char *msg)
{
    brig_log(data, BRIG_LOG_WARNING, "%s", msg);
}

/* The same cgroup, or one below the other: deleting either container would kill the other's processes. */
static bool cgroups_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > lb)
        return cgroups_overlap(b, a);
    return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

struct cgroup_user {
    char *id;
    char *cgroup_path;
    char status[16];
};

/* A container of --root other than `self` whose cgroup overlaps `path`, whatever its status: a stopped
 * one's delete still removes its cgroup, and a concurrent create saved its state before making it. */
static int find_cgroup_user(const struct brig_context *ctx, const char *self, const char *path,
                            struct cgroup_user *user, struct brig_err **err)
{
    cleanup_close int root_fd = -1;
    struct dirent *de;
    DIR *d;
    int ret = brig_store_open_root(ctx, false, &root_fd, err);

    if (ret < 0)
        return ret;
    d = brig_opendir_dup(root_fd);
    if (!d)
        return brig_err_sys(err, "read state root `%s`", ctx->root);
    while (!user->id && (de = readdir(d))) {
        cleanup_err struct brig_err *ignored = NULL;
        struct brig_container_dir dir;
        cleanup_state struct brig_state *state = NULL;

        if (de->d_name[0] == '.' || !strcmp(de->d_name, self))
            continue;
        if (brig_store_open(ctx, de->d_name, false, &dir, &state, &ignored) < 0)
            continue;
        if (state && state->cgroup_path && cgroups_overlap(state->cgroup_path, path)) {
            snprintf(user->status, sizeof(user->status), "%s", brig_container_status(&dir, state));
            user->id = strdup(de->d_name);
            user->cgroup_path = steal_ptr(state->cgroup_path);
        }
        brig_store_close(&dir);
    }
    closedir(d);
    return 0;
}

/* Whether `pid` lives in another mount or pid namespace than brig's (one that cannot be looked at counts
 * as another; one that is gone does not). */
static bool in_other_namespaces(pid_t pid, const struct stat own[2])
{
    static const char *const kinds[2] = {"mnt", "pid"};

    for (int i = 0; i < 2; i++) {
        char link[64];
        struct stat st;
        snprintf(link, sizeof(link), "/proc/%d/ns/%s", (int) pid, kinds[i]);
        if (stat(link, &st) < 0)
            return errno != ENOENT && errno != ESRCH;
        if (st.st_ino != own[i].st_ino || st.st_dev != own[i].st_dev)
            return true;
    }
    return false;
}

struct existing_check {
    const struct brig_context *ctx;
    const char *id;
};

/* runc 1.1 warns about a non-empty cgroup and joins it, whoever's it is; brig refuses another
 * container's: two containers in one cgroup share its limits and freezer, and the delete of either kills
 * the other. Host processes that were put there on purpose get runc's warning. */
static int check_existing(void *data, const char *path, const pid_t *pids, size_t n, struct brig_err **err)
{
    const struct existing_check *c = data;
    struct cgroup_user user = {0};
    struct stat own[2];
    size_t foreign = 0;
    pid_t example = 0;
    int ret = find_cgroup_user(c->ctx, c->id, path, &user, err);

    if (ret < 0)
        return ret;
    if (user.id) {
        if (!strcmp(user.cgroup_path, path))
            ret = brig_err_msg(err, EBUSY, "cgroup `%s`: in use by container `%s` (%s)", path, user.id, user.status);
        else
            ret = brig_err_msg(err, EBUSY, "cgroup `%s`: overlaps the cgroup `%s` of container `%s` (%s)", path,
                               user.cgroup_path, user.id, user.status);
        free(user.id);
        free(user.cgroup_path);
        return ret;
    }
    if (n && (stat("/proc/self/ns/mnt", &own[0]) < 0 || stat("/proc/self/ns/pid", &own[1]) < 0))
        return brig_err_sys(err, "cgroup `%s`: look at brig's own namespaces", path);
    for (size_t i = 0; i < n; i++) {
        if (in_other_namespaces(pids[i], own)) {
            foreign++;
            example = example ? example : pids[i];
        }
    }
    if (foreign)
        return brig_err_msg(err, EBUSY,
                            "cgroup `%s`: holds %zu process(es) of another container (in other namespaces than "
                            "brig's, pid %d among them)",
                            path, foreign, (int) example);
    if (n)
        brig_log(c->ctx, BRIG_LOG_WARNING,
                 "container's cgroup is not empty: %zu process(es) in `%s`; the container joins them, and its "
                 "delete leaves them and the cgroup",
                 n, path);
    return 0;
}

int brig_runtime_check_systemd(const struct brig_context *ctx, struct brig_err **err)
{
    struct stat st;

    if (!ctx->systemd_cgroup)
        return 0;
    if (stat("/run/systemd/system", &st) < 0)
        return brig_err_set(err, ENOTSUP,
                            "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); "
                            "use the default cgroupfs driver");
    /* The user's own systemd instance (runc's --rootless with systemd) is not brig's yet. */
    if (ctx->rootless || geteuid() != 0)
        return brig_err_msg(err, ENOTSUP, "--systemd-cgroup: rootless containers are not supported; "
                                          "use the default cgroupfs driver");
    return 0;
}

int brig_runtime_cgroup_create(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                               enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_entry *entry,
                               bool *joined, struct brig_err **err)
{
    const struct brig_linux *l = spec->linux_cfg;
    struct existing_check check = {.ctx = ctx, .id = id};
    struct brig_cgroup_config cfg = {
        .resources = l ? l->resources : NULL,
        .log = {.warn = warn_to_log, .data = (void *) ctx},
        .existing = check_existing,
        .existing_data = &check,
        .systemd = ctx->systemd_cgroup,
        .rootless = ctx->rootless || geteuid() != 0,
    };

    return brig_cgroup_create(mode, path, &cfg, entry, joined, err);
}

int brig_parse_memory_size(const char *text, int64_t *out)
{
    static const struct {
        char suffix;
        int shift;
    } units[] = {{'k', 10}, {'m', 20}, {'g', 30}, {'t', 40}, {'p', 50}};
    char number[32];
    size_t len = strlen(text), digits;
    int shift = 0;
    uint64_t value;

    if (strcmp(text, "-1") == 0) {
        *out = -1;
        return 0;
    }
    /* 512, 512k, 512kb, 512KiB ... as docker's and runc's units read them (binary multiples). */
    digits = strspn(text, "0123456789");
    if (digits == 0 || digits >= sizeof(number))
        return -EINVAL;
    if (digits < len) {
        const char *unit = text + digits;
        char c = (char) (unit[0] | 0x20);
        size_t i;
        if (c == 'b' && unit[1] == '\0')
            goto number;
        for (i = 0; i < ARRAY_SIZE(units) && units[i].suffix != c; i++)
            ;
        if (i == ARRAY_SIZE(units))
            return -EINVAL;
        if (unit[1] && strcasecmp(unit + 1, "b") && strcasecmp(unit + 1, "ib"))
            return -EINVAL;
        shift = units[i].shift;
    }
number:
    memcpy(number, text, digits);
    number[digits] = '\0';
    if (brig_parse_u64(number, &value) < 0 || value > ((uint64_t) INT64_MAX >> shift))
        return -ERANGE;
    *out = (int64_t) (value << shift);
    return 0;
}

/* Opens a container that must have live processes for a cgroup command. */
static int open_live(const struct brig_context *ctx, const char *id, bool lock, struct brig_container_dir *dir,
                     struct brig_state **state, const char **status, struct brig_err **err)
{
    int ret = brig_store_open(ctx, id, lock, dir, state, err);

    if (ret < 0)
        return ret;
    *status = brig_container_status(dir, *state);
    if (!*state || !strcmp(*status, "stopped") || !(*state)->cgroup_path) {
        brig_store_close(dir);
        return brig_err_msg(err, EINVAL, "container `%s` is %s", id, *state ? *status : "still being created");
    }
    return 0;
}

/* Copies the values set in `from` over `into` (flags win over the --resources file). */
static void overlay_resources(struct brig_resources *into, const struct brig_resources *from)
{
#define TAKE(field)                                                                                           \
    do {                                                                                                       \
        if (from_part->field.set)                                                                              \
            into_part->field = from_part->field;                                                               \
    } while (0)
    if (from->memory) {
        if (!into->memory)
            into->memory = from->memory;
        else {
            struct brig_memory *into_part = into->memory;
            const struct brig_memory *from_part = from->memory;
            TAKE(limit);
            TAKE(reservation);
            TAKE(swap);
            TAKE(kernel);
            TAKE(kernel_tcp);
        }
    }
    if (from->cpu) {
        if (!into->cpu)
            into->cpu = from->cpu;
        else {
            struct brig_cpu *into_part = into->cpu;
            const struct brig_cpu *from_part = from->cpu;
            TAKE(shares);
            TAKE(quota);
            TAKE(period);
            TAKE(realtime_runtime);
            TAKE(realtime_period);
            if (from_part->cpus)
                into_part->cpus = from_part->cpus;
            if (from_part->mems)
                into_part->mems = from_part->mems;
        }
    }
    if (from->block_io) {
        if (!into->block_io)
            into->block_io = from->block_io;
        else if (from->block_io->weight.set)
            into->block_io->weight = from->block_io->weight;
    }
    if (from->pids_limit.set)
        into->pids_limit = from->pids_limit;
#undef TAKE
}

static int read_resources(const char *path, struct brig_spec **out, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    int ret;

    if (strcmp(path, "-") == 0) {
        ssize_t n = brig_read_all(STDIN_FILENO, &text, 16 << 20);
        if (n < 0)
            return brig_err_set(err, (int) -n, "--resources: read standard input");
        len = (size_t) n;
        return brig_spec_parse_resources(text, len, "--resources", out, err);
    }
    ret = brig_read_file_at(AT_FDCWD, path, &text, &len, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "--resources");
    return brig_spec_parse_resources(text, len, path, out, err);
}

int brig_container_update(const struct brig_context *ctx, const char *id, const char *resources_path,
                          const struct brig_resources *flags, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    cleanup_spec struct brig_spec *file = NULL;
    struct brig_resources merged = {.memory = NULL};
    struct brig_cgroup_log log = {.warn = warn_to_log, .data = (void *) ctx};
    enum brig_cgroup_mode mode;
    const char *status;
    int ret;

    if (resources_path) {
        ret = read_resources(resources_path, &file, err);
        if (ret < 0)
            return ret;
        if (!file || !file->linux_cfg || !file->linux_cfg->resources)
            return brig_err_msg(err, EINVAL, "--resources `%s`: no resources in it", resources_path);
        merged = *file->linux_cfg->resources;
    }
    if (flags)
        overlay_resources(&merged, flags);
    ret = open_live(ctx, id, true, &dir, &state, &status, err);
    if (ret < 0)
        return ret;
    ret = brig_cgroup_detect(&mode, err);
    /* systemd first: it rewrites the files of what it knows on a property change. */
    if (ret == 0 && state->systemd_cgroup)
        ret = brig_cgroup_systemd_update(state->cgroup_path, &merged, err);
    if (ret == 0)
        ret = brig_cgroup_update(mode, state->cgroup_path, &merged, &log, err);
    brig_store_close(&dir);
    return ret < 0 ? brig_err_wrap(err, ret, "update container `%s`", id) : 0;
}

static int set_paused(const struct brig_context *ctx, const char *id, bool pause, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    enum brig_cgroup_mode mode;
    const char *status;
    int ret;

    ret = open_live(ctx, id, true, &dir, &state, &status, err);
    if (ret < 0)
        return ret;
    if (pause && strcmp(status, "running") && strcmp(status, "created"))
        ret = brig_err_msg(err, EINVAL, "cannot pause container `%s` that is %s", id, status);
    else if (!pause && strcmp(status, "paused"))
        ret = brig_err_msg(err, EINVAL, "cannot resume container `%s` that is %s, not paused", id, status);
    if (ret == 0)
        ret = brig_cgroup_detect(&mode, err);
    if (ret == 0) {
        ret = brig_cgroup_freeze(mode, state->cgroup_path, pause, err);
        if (ret < 0)
            brig_err_wrap(err, ret, "%s container `%s`", pause ? "pause" : "resume", id);
    }
    brig_store_close(&dir);
    return ret;
}

int brig_container_pause(const struct brig_context *ctx, const char *id, struct brig_err **err)
{
    return set_paused(ctx, id, true, err);
}

int brig_container_resume(const struct brig_context *ctx, const char *id, struct brig_err **err)
{
    return set_paused(ctx, id, false, err);
}

static int container_pids(const struct brig_context *ctx, const char *id, pid_t **pids, size_t *n,
                          struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    enum brig_cgroup_mode mode;
    const char *status;
    int ret;

    *pids = NULL;
    *n = 0;
    ret = brig_store_open(ctx, id, false, &dir, &state, err);
    if (ret < 0)
        return ret;
    status = brig_container_status(&dir, state);
    brig_store_close(&dir);
    if (!state)
        return brig_err_msg(err, EINVAL, "container `%s` is still being created", id);
    /* As runc: a stopped container has no processes, which is an empty list rather than an error. */
    if (!strcmp(status, "stopped") || !state->cgroup_path)
        return 0;
    ret = brig_cgroup_detect(&mode, err);
    return ret < 0 ? ret : brig_cgroup_pids(mode, state->cgroup_path, pids, n, err);
}

/* `ps` output lines whose PID column names one of `pids`; the header is kept. */
static void filter_ps(const char *text, const pid_t *pids, size_t n, FILE *out)
{
    const char *header_end = strchr(text, '\n');
    int pid_col = -1, col = 0;
    char word[64];

    if (!header_end)
        return;
    fwrite(text, 1, (size_t) (header_end - text + 1), out);
    for (const char *p = text; p < header_end; col++) {
        size_t len;
        p += strspn(p, " \t");
        len = strcspn(p, " \t\n");
        if (len == 3 && !strncmp(p, "PID", 3))
            pid_col = col;
        p += len;
    }
    if (pid_col < 0)
        return;
    for (const char *line = header_end + 1; *line;) {
        const char *end = strchr(line, '\n'), *p = line;
        int64_t pid = -1;
        if (!end)
            end = line + strlen(line);
        for (col = 0; p < end && col <= pid_col; col++) {
            size_t len;
            p += strspn(p, " \t");
            len = strcspn(p, " \t\n");
            if (col == pid_col && len < sizeof(word)) {
                memcpy(word, p, len);
                word[len] = '\0';
                if (brig_parse_i64(word, &pid) < 0)
                    pid = -1;
            }
            p += len;
        }
        for (size_t i = 0; i < n; i++)
            if (pids[i] == pid) {
                fwrite(line, 1, (size_t) (end - line), out);
                fputc('\n', out);
                break;
            }
        line = *end ? end + 1 : end;
    }
}

int brig_container_ps(const struct brig_context *ctx, const char *id, bool json, char *const *ps_args, int out_fd,
                      struct brig_err **err)
{
    cleanup_free pid_t *pids = NULL;
    cleanup_free char *text = NULL;
    char *buf = NULL;
    size_t n = 0, len = 0;
    FILE *out;
    int ret, pipe_fds[2], status;
    pid_t child;

    ret = container_pids(ctx, id, &pids, &n, err);
    if (ret < 0)
        return ret;
    out = open_memstream(&buf, &len);
    if (!out)
        return brig_err_sys(err, "ps");
    if (json) {
        fputc('[', out);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%s%d", i ? "," : "", (int) pids[i]);
        fputs("]\n", out);
    } else {
        size_t n_args = 0;
        while (ps_args && ps_args[n_args])
            n_args++;
        if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
            fclose(out);
            free(buf);
            return brig_err_sys(err, "ps: pipe");
        }
        child = fork();
        if (child == 0) {
            char **argv = calloc(n_args + 3, sizeof(*argv));
            dup2(pipe_fds[1], STDOUT_FILENO);
            if (argv) {
                argv[0] = (char *) "ps";
                if (n_args == 0)
                    argv[1] = (char *) "-ef";
                for (size_t i = 0; i < n_args; i++)
                    argv[i + 1] = ps_args[i];
                execvp("ps", argv);
            }
            _exit(127);
        }
        close(pipe_fds[1]);
        if (child < 0) {
            close(pipe_fds[0]);
            fclose(out);
            free(buf);
            return brig_err_sys(err, "ps: fork");
        }
        ret = (int) brig_read_all(pipe_fds[0], &text, 64 << 20);
        close(pipe_fds[0]);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        if (ret < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fclose(out);
            free(buf);
            return brig_err_msg(err, EIO, "ps: `ps` failed (exit status %d)",
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        filter_ps(text, pids, n, out);
    }
    fclose(out);
    ret = buf ? brig_write_all(out_fd, buf, len) : 0;
    free(buf);
    return ret < 0 ? brig_err_set(err, -ret, "ps: write output") : 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int print_stats(enum brig_cgroup_mode mode, const struct brig_state *state, int out_fd, struct brig_err **err)
{
    cleanup_free char *data = NULL;
    cleanup_free char *line = NULL;
    int ret = brig_cgroup_stats_json(mode, state->cgroup_path, &data, err);

    if (ret < 0)
        return ret;
    /* Ids are letters, digits and _+-. only: no escaping needed. */
    if (asprintf(&line, "{\"type\":\"stats\",\"id\":\"%s\",\"data\":%s}\n", state->id, data) < 0)
        return brig_err_set(err, ENOMEM, "events");
    ret = brig_write_all(out_fd, line, strlen(line));
    return ret < 0 ? brig_err_set(err, -ret, "events: write") : 0;
}

int brig_container_events(const struct brig_context *ctx, const char *id, bool stats_once, unsigned interval_ms,
                          int out_fd, struct brig_err **err)
{
    struct brig_container_dir dir;
    cleanup_state struct brig_state *state = NULL;
    struct brig_cgroup_oom_watch watch = {.fd = -1, .counter_fd = -1};
    cleanup_err struct brig_err *watch_err = NULL;
    enum brig_cgroup_mode mode;
    const char *status;
    int64_t next_stats;
    int ret;

    ret = open_live(ctx, id, false, &dir, &state, &status, err);
    if (ret < 0)
        return ret;
    brig_store_close(&dir);
    ret = brig_cgroup_detect(&mode, err);
    if (ret < 0)
        return ret;
    if (stats_once)
        return print_stats(mode, state, out_fd, err);
    if (interval_ms == 0)
        interval_ms = 5000;
    if (brig_cgroup_oom_watch_open(mode, state->cgroup_path, &watch, &watch_err) < 0)
        brig_log(ctx, BRIG_LOG_WARNING, "no OOM events: %s", watch_err->msg);
    next_stats = now_ms() + interval_ms;
    for (;;) {
        struct pollfd p = {.fd = watch.fd, .events = watch.events};
        int64_t wait_ms = next_stats - now_ms();
        uint64_t new_events = 0;

        /* Wake at least once a second to notice that the container is gone. */
        if (wait_ms > 1000)
            wait_ms = 1000;
        if (wait_ms < 0)
            wait_ms = 0;
        ret = poll(&p, 1, (int) wait_ms);
        if (ret < 0 && errno != EINTR) {
            ret = brig_err_sys(err, "events: poll");
            break;
        }
        ret = 0;
        if (watch.fd >= 0 && brig_cgroup_oom_check(&watch, &new_events) == 0) {
            char line[1200];
            int len = snprintf(line, sizeof(line), "{\"type\":\"oom\",\"id\":\"%s\"}\n", state->id);
            for (uint64_t i = 0; i < new_events && ret == 0; i++)
                ret = brig_write_all(out_fd, line, (size_t) len);
            if (ret < 0) {
                ret = brig_err_set(err, -ret, "events: write");
                break;
            }
        }
        if (!brig_process_alive(state->pid, state->init_start_time))
            break;
        if (now_ms() >= next_stats) {
            cleanup_err struct brig_err *stats_err = NULL;
            if (print_stats(mode, state, out_fd, &stats_err) < 0) {
                if (!brig_process_alive(state->pid, state->init_start_time))
                    break;
                ret = -stats_err->errnum;
                *err = steal_ptr(stats_err);
                break;
            }
            next_stats += interval_ms;
        }
    }
    brig_cgroup_oom_watch_close(&watch);
    return ret;
}
