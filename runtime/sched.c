/* linux.personality, process.scheduler (sched_setattr), process.ioPriority (ioprio_set) and
 * process.execCPUAffinity. Names and ranges are checked before the init is cloned; the init applies the
 * values while it still holds every capability (a real-time policy needs CAP_SYS_NICE, an RT I/O class
 * CAP_SYS_ADMIN). */
#include <errno.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>

#include "security.h"
#include "../util/util.h"

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13

struct name_value {
    const char *name;
    unsigned long value;
};

static int lookup(const struct name_value *table, size_t n, const char *name, unsigned long *value)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name)) {
            *value = table[i].value;
            return 0;
        }
    return -EINVAL;
}

static const struct name_value policies[] = {
    {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},       {"SCHED_BATCH", 3},
    {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
};

static const struct name_value sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},         {"SCHED_FLAG_DL_OVERRUN", 0x04},
    {"SCHED_FLAG_KEEP_POLICY", 0x08},   {"SCHED_FLAG_KEEP_PARAMS", 0x10},     {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

static const struct name_value io_classes[] = {
    {"IOPRIO_CLASS_RT", 1},
    {"IOPRIO_CLASS_BE", 2},
    {"IOPRIO_CLASS_IDLE", 3},
};

static const struct name_value domains[] = {
    {"LINUX", PER_LINUX},
    {"LINUX32", PER_LINUX32},
};

/* The spec defines no flags yet; Linux's own names are accepted. */
static const struct name_value personality_flags[] = {
    {"UNAME26", UNAME26},
    {"ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE},
    {"FDPIC_FUNCPTRS", FDPIC_FUNCPTRS},
    {"MMAP_PAGE_ZERO", MMAP_PAGE_ZERO},
    {"ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT},
    {"READ_IMPLIES_EXEC", READ_IMPLIES_EXEC},
    {"ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT},
    {"SHORT_INODE", SHORT_INODE},
    {"WHOLE_SECONDS", WHOLE_SECONDS},
    {"STICKY_TIMEOUTS", STICKY_TIMEOUTS},
    {"ADDR_LIMIT_3GB", ADDR_LIMIT_3GB},
};

static int build_personality(const struct brig_personality *pers, struct brig_sched_plan *plan,
                             struct brig_err **err)
{
    unsigned long value;

    if (lookup(domains, ARRAY_SIZE(domains), pers->domain, &value) < 0)
        return brig_err_msg(err, EINVAL, "linux.personality.domain: unknown domain `%s` (LINUX or LINUX32)",
                            pers->domain);
    plan->personality = value;
    for (size_t i = 0; i < pers->n_flags; i++) {
        if (lookup(personality_flags, ARRAY_SIZE(personality_flags), pers->flags[i], &value) < 0)
            return brig_err_msg(err, EINVAL, "linux.personality.flags[%zu]: unknown flag `%s`", i, pers->flags[i]);
        plan->personality |= value;
    }
    plan->set_personality = true;
    return 0;
}

static int build_scheduler(const struct brig_scheduler *s, struct brig_sched_plan *plan, struct brig_err **err)
{
    unsigned long policy, flag;
    bool realtime, deadline;

    if (lookup(policies, ARRAY_SIZE(policies), s->policy, &policy) < 0)
        return brig_err_msg(err, EINVAL, "process.scheduler.policy: unknown policy `%s`", s->policy);
    realtime = !strcmp(s->policy, "SCHED_FIFO") || !strcmp(s->policy, "SCHED_RR");
    deadline = !strcmp(s->policy, "SCHED_DEADLINE");
    memset(&plan->attr, 0, sizeof(plan->attr));
    for (size_t i = 0; i < s->n_flags; i++) {
        if (lookup(sched_flags, ARRAY_SIZE(sched_flags), s->flags[i], &flag) < 0)
            return brig_err_msg(err, EINVAL, "process.scheduler.flags[%zu]: unknown flag `%s`", i, s->flags[i]);
        plan->attr.flags |= flag;
    }
    if (s->nice < -20 || s->nice > 19)
        return brig_err_msg(err, EINVAL, "process.scheduler.nice: %d is out of range (-20 to 19)", s->nice);
    if (realtime && (s->priority < 1 || s->priority > 99))
        return brig_err_msg(err, EINVAL, "process.scheduler.priority: %d is out of range (1-99) for %s", s->priority,
                            s->policy);
    if (!realtime && s->priority != 0)
        return brig_err_msg(err, EINVAL, "process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, "
                            "not %s", s->policy);
    if (!deadline && (s->runtime || s->deadline || s->period))
        return brig_err_msg(err, EINVAL, "process.scheduler: runtime, deadline and period need SCHED_DEADLINE, not %s",
                            s->policy);
    plan->attr.size = sizeof(plan->attr);
    plan->attr.policy = (uint32_t) policy;
    plan->attr.nice = s->nice;
    plan->attr.priority = (uint32_t) s->priority;
    plan->attr.runtime = s->runtime;
    plan->attr.deadline = s->deadline;
    plan->attr.period = s->period;
    plan->set_scheduler = true;
    return 0;
}

static int build_ioprio(const struct brig_io_priority *io, struct brig_sched_plan *plan, struct brig_err **err)
{
    unsigned long class_value;

    if (lookup(io_classes, ARRAY_SIZE(io_classes), io->class_name, &class_value) < 0)
        return brig_err_msg(err, EINVAL, "process.ioPriority.class: unknown class `%s`", io->class_name);
    if (io->priority < 0 || io->priority > 7)
        return brig_err_msg(err, EINVAL, "process.ioPriority.priority: %d is out of range (0-7)", io->priority);
    plan->ioprio = (int) (class_value << IOPRIO_CLASS_SHIFT) | io->priority;
    plan->set_ioprio = true;
    return 0;
}

int brig_cpu_list_parse(const char *list, const char *field, cpu_set_t *set, struct brig_err **err)
{
    const char *p = list;

    CPU_ZERO(set);
    while (*p) {
        char *end;
        unsigned long first, last;

        if (*p < '0' || *p > '9')
            goto bad;
        first = strtoul(p, &end, 10);
        last = first;
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                goto bad;
            last = strtoul(end + 1, &end, 10);
        }
        if (last < first)
            goto bad;
        if (last >= CPU_SETSIZE)
            return brig_err_msg(err, EINVAL, "%s: CPU %lu in `%s` is out of range (0-%d)", field, last, list,
                                CPU_SETSIZE - 1);
        for (unsigned long cpu = first; cpu <= last; cpu++)
            CPU_SET(cpu, set);
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            goto bad;
        p = end;
    }
    return 0;
bad:
    return brig_err_msg(err, EINVAL, "%s: invalid CPU list `%s` (expected e.g. `0-3,7`)", field, list);
}

static int apply_affinity(const char *list, const char *field, pid_t pid, struct brig_err **err)
{
    cpu_set_t set;
    int ret;

    if (!list || !*list)
        return 0;
    ret = brig_cpu_list_parse(list, field, &set, err);
    if (ret < 0)
        return ret;
    if (sched_setaffinity(pid, sizeof(set), &set) < 0)
        return brig_err_sys(err, "%s: set CPU affinity `%s`", field, list);
    return 0;
}

int brig_exec_affinity_apply_initial(const struct brig_process *proc, pid_t pid, struct brig_err **err)
{
    if (!proc->exec_cpu_affinity)
        return 0;
    return apply_affinity(proc->exec_cpu_affinity->initial, "process.execCPUAffinity.initial", pid, err);
}

int brig_exec_affinity_apply_final(const struct brig_process *proc, pid_t pid, struct brig_err **err)
{
    if (!proc->exec_cpu_affinity)
        return 0;
    return apply_affinity(proc->exec_cpu_affinity->final, "process.execCPUAffinity.final", pid, err);
}

int brig_sched_plan_build(const struct brig_context *ctx, const struct brig_spec *spec, struct brig_sched_plan *plan,
                          struct brig_err **err)
{
    const struct brig_process *proc = spec->process;
    int ret;

    memset(plan, 0, sizeof(*plan));
    if (spec->linux_cfg && spec->linux_cfg->personality) {
        ret = build_personality(spec->linux_cfg->personality, plan, err);
        if (ret < 0)
            return ret;
    }
    if (proc->scheduler) {
        ret = build_scheduler(proc->scheduler, plan, err);
        if (ret < 0)
            return ret;
    }
    if (proc->io_priority) {
        ret = build_ioprio(proc->io_priority, plan, err);
        if (ret < 0)
            return ret;
    }
    if (proc->exec_cpu_affinity) {
        const struct brig_exec_cpu_affinity *a = proc->exec_cpu_affinity;
        cpu_set_t set;

        if (a->initial && *a->initial) {
            ret = brig_cpu_list_parse(a->initial, "process.execCPUAffinity.initial", &set, err);
            if (ret < 0)
                return ret;
        }
        if (a->final && *a->final) {
            ret = brig_cpu_list_parse(a->final, "process.execCPUAffinity.final", &set, err);
            if (ret < 0)
                return ret;
        }
        brig_log(ctx, BRIG_LOG_DEBUG, "process.execCPUAffinity: not applicable to the container's init, only to "
                 "exec'd processes");
    }
    return 0;
}

int brig_sched_apply(const struct brig_sched_plan *plan, struct brig_err **err)
{
    if (plan->set_scheduler && syscall(SYS_sched_setattr, 0, &plan->attr, 0) < 0)
        return brig_err_sys(err, "process.scheduler: sched_setattr policy %u", plan->attr.policy);
    if (plan->set_ioprio && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, plan->ioprio) < 0)
        return brig_err_sys(err, "process.ioPriority: ioprio_set");
    if (plan->set_personality && personality(plan->personality) < 0)
        return brig_err_sys(err, "linux.personality: set %#lx", plan->personality);
    return 0;
}
