/* Entering namespaces: the parent's part (pid and time apply to children only, so the parent joins or
 * creates them before clone) and the init's part (everything else given by path). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>

#include "namespaces.h"
#include "../util/util.h"

static const char *ns_path(const struct brig_spec *spec, enum brig_ns_type type)
{
    const struct brig_namespace *ns = brig_spec_namespace(spec, type);

    return ns && ns->path ? ns->path : "";
}

/* Offsets can only be written while the new time namespace is still empty, i.e. before clone. */
static int create_time_ns(const struct brig_spec *spec, struct brig_err **err)
{
    const struct brig_linux *cfg = spec->linux_cfg;
    cleanup_close int fd = -1;
    char offsets[128], file[64];
    int len = 0, ret;

    if (unshare(CLONE_NEWTIME) < 0)
        return brig_err_sys(err, "namespace time: unshare");
    if (cfg && cfg->time_monotonic.set)
        len += snprintf(offsets + len, sizeof(offsets) - len, "monotonic %" PRId64 " %" PRIu32 "\n",
                        cfg->time_monotonic.secs, cfg->time_monotonic.nanosecs);
    if (cfg && cfg->time_boottime.set)
        len += snprintf(offsets + len, sizeof(offsets) - len, "boottime %" PRId64 " %" PRIu32 "\n",
                        cfg->time_boottime.secs, cfg->time_boottime.nanosecs);
    if (len == 0)
        return 0;
    /* The namespace for children belongs to the calling thread, and /proc/self would name the main one
     * (timens_offsets has no /proc/thread-self entry, but /proc/<tid> reaches any thread). */
    snprintf(file, sizeof(file), "/proc/%d/timens_offsets", (int) gettid());
    fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return brig_err_sys(err, "namespace time: open `%s`", file);
    ret = brig_write_all(fd, offsets, (size_t) len);
    if (ret < 0) {
        for (int i = 0; i < len - 1; i++)
            if (offsets[i] == '\n')
                offsets[i] = ',';
        return brig_err_set(err, -ret, "namespace time: write offsets `%.*s`", len - 1, offsets);
    }
    return 0;
}

int brig_ns_prepare_parent(const struct brig_spec *spec, struct brig_ns_plan *plan, struct brig_err **err)
{
    static const enum brig_ns_type for_children[] = {BRIG_NS_PID, BRIG_NS_TIME};

    if (plan->join_fds[BRIG_NS_PID] >= 0)
        plan->own_pid_fd = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
    if (plan->join_fds[BRIG_NS_TIME] >= 0 || plan->new_time_ns)
        plan->own_time_fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < ARRAY_SIZE(for_children); i++) {
        enum brig_ns_type type = for_children[i];
        if (plan->join_fds[type] < 0)
            continue;
        if (setns(plan->join_fds[type], brig_ns_clone_flag(type)) < 0)
            return brig_err_sys(err, "namespace %s: join `%s`", brig_ns_type_name(type), ns_path(spec, type));
    }
    if (plan->new_time_ns)
        return create_time_ns(spec, err);
    return 0;
}

void brig_ns_restore_parent(struct brig_ns_plan *plan)
{
    if (plan->own_pid_fd >= 0) {
        setns(plan->own_pid_fd, CLONE_NEWPID);
        close(plan->own_pid_fd);
        plan->own_pid_fd = -1;
    }
    if (plan->own_time_fd >= 0) {
        setns(plan->own_time_fd, CLONE_NEWTIME);
        close(plan->own_time_fd);
        plan->own_time_fd = -1;
    }
}

int brig_ns_join_in_child(struct brig_ns_plan *plan, struct brig_err **err)
{
    /* User first: joining it grants the capabilities the other setns calls need. Mount last: it changes
     * the root and working directory under everything that follows. */
    static const enum brig_ns_type order[] = {
        BRIG_NS_USER, BRIG_NS_NETWORK, BRIG_NS_IPC, BRIG_NS_UTS, BRIG_NS_CGROUP, BRIG_NS_MOUNT,
    };

    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        int fd = plan->join_fds[order[i]];
        if (fd < 0)
            continue;
        if (setns(fd, 0) < 0)
            return brig_err_sys(err, "namespace %s: join", brig_ns_type_name(order[i]));
    }
    return 0;
}
