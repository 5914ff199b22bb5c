/* pause/resume: the v1 freezer (freezer.state) or the v2 core freezer (cgroup.freeze, cgroup.events), and
 * signalling every process of a cgroup, which must thaw a frozen one for SIGKILL to take effect. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "controllers.h"
#include "../util/util.h"

#define FREEZE_TIMEOUT_MS 10000

/* The hierarchy the freezer works in: v1 freezer, else the unified one (core freezer, Linux 5.2+). */
static const struct brig_cgroup_hierarchy *freezer_of(const struct brig_cgroup_set *set, bool *v1)
{
    const struct brig_cgroup_hierarchy *h = brig_cg_find_v1(set, "freezer");

    *v1 = h != NULL;
    return h ? h : brig_cg_unified(set);
}

/* The first line of a file, or the value of `key` in a flat-keyed file ("frozen 1"). */
static bool file_says(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file, const char *key,
                      const char *want)
{
    cleanup_free char *text = NULL;

    if (brig_cg_read(h, rel, file, &text) < 0)
        return false;
    for (char *line = text, *next; *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        if (!key)
            return strcmp(line, want) == 0;
        if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ' ')
            return strcmp(line + strlen(key) + 1, want) == 0;
    }
    return false;
}

static int freeze_in(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, bool v1, bool frozen,
                     struct brig_err **err)
{
    const char *what = frozen ? "pause" : "resume";
    const char *file = v1 ? "freezer.state" : "cgroup.freeze";
    const char *value = v1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0");
    long waited_ms = 0, step_ms = 1;
    int ret;

    for (;;) {
        /* v1 can stop in FREEZING when a task is in an uninterruptible sleep: asking again moves it on. */
        ret = brig_cg_write(a, h, file, value, what, err);
        if (ret < 0)
            return ret;
        if (v1 ? file_says(h, a->rel, "freezer.state", NULL, value)
               : file_says(h, a->rel, "cgroup.events", "frozen", value))
            return 0;
        if (waited_ms >= FREEZE_TIMEOUT_MS)
            return brig_err_msg(err, ETIMEDOUT, "%s: `%s/%s` did not become %s within %d s", what, h->root, a->rel,
                                value, FREEZE_TIMEOUT_MS / 1000);
        nanosleep(&(struct timespec){.tv_nsec = step_ms * 1000000L}, NULL);
        waited_ms += step_ms;
        if (step_ms < 50)
            step_ms *= 2;
    }
}

int brig_cgroup_freeze(enum brig_cgroup_mode mode, const char *path, bool frozen, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    const struct brig_cgroup_hierarchy *h;
    struct brig_cg_apply a;
    bool v1;
    int ret;

    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    a = (struct brig_cg_apply){.set = &set, .rel = path + 1};
    h = freezer_of(&set, &v1);
    if (!h || (!v1 && !brig_cg_has_file(&a, h, "cgroup.freeze")))
        return brig_cg_unsupported(err, frozen ? "pause" : "resume", "no freezer");
    return freeze_in(&a, h, v1, frozen, err);
}

int brig_cgroup_set_check_thawed(const struct brig_cgroup_set *set, const char *rel, const char *path,
                             struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *v1 = brig_cg_find_v1(set, "freezer");
    const struct brig_cgroup_hierarchy *v2 = brig_cg_unified(set);
    cleanup_free char *text = NULL;

    if (v1 && brig_cg_read(v1, rel, "freezer.state", &text) > 0) {
        text[strcspn(text, "\n")] = '\0';
        if (strcmp(text, "THAWED") != 0)
            return brig_err_msg(err, EBUSY, "cgroup `%s`: is frozen (`%s/%s/freezer.state` is %s)", path, v1->root,
                                rel, text);
    }
    if (v2 && file_says(v2, rel, "cgroup.freeze", NULL, "1"))
        return brig_err_msg(err, EBUSY, "cgroup `%s`: is frozen (`%s/%s/cgroup.freeze` is 1)", path, v2->root, rel);
    if (v2 && file_says(v2, rel, "cgroup.events", "frozen", "1"))
        return brig_err_msg(err, EBUSY, "cgroup `%s`: is frozen (by a parent: `%s/%s/cgroup.events` says frozen 1)",
                            path, v2->root, rel);
    return 0;
}

int brig_cgroup_check_thawed(enum brig_cgroup_mode mode, const char *path, struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    int ret = brig_cgroup_set_open_for(mode, path, &set, err);

    return ret < 0 ? ret : brig_cgroup_set_check_thawed(&set, path + 1, path, err);
}

static int read_word(const char *path, char *buf, size_t size)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

bool brig_cgroup_is_frozen(enum brig_cgroup_mode mode, const char *path)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    const struct brig_cgroup_hierarchy *h;
    char file[4200], word[32];
    bool v1;

    if (brig_cgroup_path_check(path, NULL) < 0 || strlen(path) > 4000)
        return false;
    /* `state` and `list` ask for every container: read the one file directly where the layout is the usual. */
    if (mode != BRIG_CGROUP_V2) {
        snprintf(file, sizeof(file), BRIG_CGROUP_MOUNT "/freezer%s/freezer.state", path);
        if (read_word(file, word, sizeof(word)) == 0)
            return strcmp(word, "FROZEN") == 0 || strcmp(word, "FREEZING") == 0;
        if (access(BRIG_CGROUP_MOUNT "/freezer", F_OK) == 0)
            return false;
    } else {
        snprintf(file, sizeof(file), BRIG_CGROUP_MOUNT "%s/cgroup.freeze", path);
        return read_word(file, word, sizeof(word)) == 0 && strcmp(word, "1") == 0;
    }
    if (brig_cgroup_set_open(mode, &set, NULL) < 0)
        return false;
    h = freezer_of(&set, &v1);
    if (!h)
        return false;
    /* FREEZING counts: the container is on its way to paused and runs no user code meanwhile. */
    if (v1)
        return file_says(h, path + 1, "freezer.state", NULL, "FROZEN") ||
               file_says(h, path + 1, "freezer.state", NULL, "FREEZING");
    return file_says(h, path + 1, "cgroup.freeze", NULL, "1");
}

int brig_cgroup_signal_all(enum brig_cgroup_mode mode, const char *path, int sig, struct brig_err **err)
{
    cleanup_free pid_t *pids = NULL;
    bool frozen = sig == SIGKILL && brig_cgroup_is_frozen(mode, path);
    size_t n = 0;
    int ret;

    if (sig == SIGKILL && mode == BRIG_CGROUP_V2) {
        cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
        ret = brig_cgroup_set_open_for(mode, path, &set, err);
        if (ret < 0)
            return ret;
        /* One write kills the whole subtree, forks racing with it included. */
        ret = brig_cgroup_v2_kill(&set.h[0], path + 1);
        if (ret == 0)
            return 0;
        if (ret != -ENOENT)
            return brig_err_set(err, -ret, "kill: write `1` to `%s%s/cgroup.kill`", set.h[0].root, path);
    }
    ret = brig_cgroup_pids(mode, path, &pids, &n, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            return brig_err_sys(err, "kill: send signal %d to pid %d", sig, (int) pids[i]);
    if (frozen) {
        /* v1 frozen tasks act on the SIGKILL only once thawed. */
        ret = brig_cgroup_freeze(mode, path, false, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
