/* OOM notifications for `events`: v1 registers an eventfd for memory.oom_control through
 * cgroup.event_control; v2 memory.events wakes pollers (POLLPRI) whenever a counter changes. Both count
 * with the oom_kill key, so several kills between two wake-ups are all reported. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "controllers.h"
#include "../util/util.h"

static int read_oom_kills(int fd, uint64_t *count, bool *has_counter)
{
    char buf[1024], *at;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n < 0)
        return -errno;
    buf[n] = '\0';
    at = strstr(buf, "oom_kill ");
    *has_counter = at != NULL;
    *count = at ? strtoull(at + strlen("oom_kill "), NULL, 10) : 0;
    return 0;
}

int brig_cgroup_oom_watch_open(enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_oom_watch *w,
                               struct brig_err **err)
{
    cleanup_cgroup_set struct brig_cgroup_set set = {.n = 0};
    const struct brig_cgroup_hierarchy *h;
    cleanup_close int counter_fd = -1, event_fd = -1;
    char file[4096];
    bool has_counter;
    int ret;

    *w = (struct brig_cgroup_oom_watch){.fd = -1, .counter_fd = -1};
    ret = brig_cgroup_set_open_for(mode, path, &set, err);
    if (ret < 0)
        return ret;
    h = brig_cg_find_v1(&set, "memory");
    if (!h && brig_cg_is_v2(&set))
        h = brig_cg_unified(&set);
    if (!h)
        return brig_cg_unsupported(err, "events", "no memory controller");
    snprintf(file, sizeof(file), "%s/%s", path + 1, h->unified ? "memory.events" : "memory.oom_control");
    counter_fd = openat(h->fd, file, O_RDONLY | O_CLOEXEC);
    if (counter_fd < 0)
        return brig_err_sys(err, "events: open `%s/%s`", h->root, file);
    if (read_oom_kills(counter_fd, &w->count, &has_counter) < 0)
        return brig_err_sys(err, "events: read `%s/%s`", h->root, file);
    if (h->unified) {
        w->fd = steal_fd(counter_fd);
        w->counter_fd = -1;
        w->events = POLLPRI;
        return 0;
    }
    event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd < 0)
        return brig_err_sys(err, "events: eventfd");
    {
        char line[64], control[4096];
        snprintf(line, sizeof(line), "%d %d", event_fd, counter_fd);
        snprintf(control, sizeof(control), "%s/cgroup.event_control", path + 1);
        ret = brig_cgroup_write(h, control, line, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "events");
    }
    w->fd = steal_fd(event_fd);
    w->counter_fd = steal_fd(counter_fd);
    w->events = POLLIN;
    return 0;
}

int brig_cgroup_oom_check(struct brig_cgroup_oom_watch *w, uint64_t *new_events)
{
    uint64_t now = 0, fired = 0;
    bool has_counter = false;
    int ret;

    *new_events = 0;
    if (w->counter_fd >= 0) {
        /* v1: the eventfd also fires when the cgroup is removed. */
        if (read(w->fd, &fired, sizeof(fired)) != sizeof(fired))
            fired = 0;
        ret = read_oom_kills(w->counter_fd, &now, &has_counter);
        if (ret < 0)
            return ret == -ENODEV ? -ENOENT : ret;
        if (!has_counter) {
            *new_events = fired;
            return 0;
        }
    } else {
        ret = read_oom_kills(w->fd, &now, &has_counter);
        if (ret < 0)
            return ret == -ENODEV ? -ENOENT : ret;
    }
    if (now > w->count)
        *new_events = now - w->count;
    w->count = now;
    return 0;
}

void brig_cgroup_oom_watch_close(struct brig_cgroup_oom_watch *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->counter_fd >= 0)
        close(w->counter_fd);
    w->fd = w->counter_fd = -1;
}
