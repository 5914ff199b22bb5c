/* linux.resources.memory on v1 (memory.limit_in_bytes, memsw, kmem...) and v2 (memory.max, memory.swap.max,
 * memory.low). The OCI `swap` is memory+swap, as v1's memsw; v2 takes the swap alone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers.h"
#include "../util/util.h"

#define WHAT "linux.resources.memory."

int brig_cg_swap_v2(bool swap_set, int64_t swap, bool limit_set, int64_t limit, bool *set, int64_t *out,
                    const char **why)
{
    *set = false;
    *why = NULL;
    /* "memory unlimited" with swap left alone means both unlimited, as on v1. */
    if (limit_set && limit == -1 && (!swap_set || swap == 0)) {
        *set = true;
        *out = -1;
        return 0;
    }
    if (!swap_set || swap == 0)
        return 0;
    if (swap == -1) {
        *set = true;
        *out = -1;
        return 0;
    }
    if (swap < 0) {
        *why = "a negative value other than -1";
        return -EINVAL;
    }
    if (!limit_set || limit <= 0) {
        *why = "a swap limit needs a memory limit";
        return -EINVAL;
    }
    if (swap < limit) {
        *why = "memory+swap must not be below the memory limit";
        return -EINVAL;
    }
    *set = true;
    *out = swap - limit;
    return 0;
}

/* Usage now must not exceed the new limit (checkBeforeUpdate). */
static int check_usage(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file,
                       int64_t limit, struct brig_err **err)
{
    int64_t usage;

    if (limit < 0 || brig_cg_read_i64(h, a->rel, file, &usage) < 0)
        return 0;
    if (usage > limit)
        return brig_err_msg(err, EBUSY, WHAT "limit: %lld is below the current usage %lld (%s/%s/%s) and "
                            "checkBeforeUpdate is set", (long long) limit, (long long) usage, h->root, a->rel, file);
    return 0;
}

static int apply_v1(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const struct brig_memory *m,
                    struct brig_err **err)
{
    bool limit_set = m->limit.set && m->limit.value != 0, swap_set = m->swap.set && m->swap.value != 0;
    int64_t limit = m->limit.value, swap = m->swap.value;
    bool swap_first = false;
    int ret;

    if (a->update && m->check_before_update.set && m->check_before_update.value && limit_set) {
        ret = check_usage(a, h, "memory.usage_in_bytes", limit, err);
        if (ret < 0)
            return ret;
    }
    if (limit_set && limit == -1 && !swap_set && brig_cg_has_file(a, h, "memory.memsw.limit_in_bytes")) {
        swap_set = true;
        swap = -1;
    }
    if (limit_set && swap_set) {
        /* The kernel keeps limit <= memsw at every step: raise memsw first when growing. */
        int64_t current = 0;
        if (brig_cg_read_i64(h, a->rel, "memory.limit_in_bytes", &current) < 0)
            current = 0;
        swap_first = swap == -1 || current < swap;
    }
    if (swap_set && swap_first) {
        ret = brig_cg_write_i64(a, h, "memory.memsw.limit_in_bytes", swap, WHAT "swap", err);
        if (ret < 0)
            return ret;
    }
    if (limit_set) {
        ret = brig_cg_write_i64(a, h, "memory.limit_in_bytes", limit, WHAT "limit", err);
        if (ret < 0)
            return ret;
    }
    if (swap_set && !swap_first) {
        ret = brig_cg_write_i64(a, h, "memory.memsw.limit_in_bytes", swap, WHAT "swap", err);
        if (ret < 0)
            return ret;
    }
    if (m->reservation.set && m->reservation.value != 0) {
        ret = brig_cg_write_i64(a, h, "memory.soft_limit_in_bytes", m->reservation.value, WHAT "reservation", err);
        if (ret < 0)
            return ret;
    }
    /* Kernel memory limits are gone from newer kernels: the container works without them. */
    if (m->kernel.set && m->kernel.value != 0) {
        cleanup_err struct brig_err *kerr = NULL;
        ret = brig_cg_write_i64(a, h, "memory.kmem.limit_in_bytes", m->kernel.value, WHAT "kernel", &kerr);
        if (ret < 0)
            brig_cg_warn(a, "%s: ignored", kerr->msg);
    }
    if (m->kernel_tcp.set && m->kernel_tcp.value != 0) {
        cleanup_err struct brig_err *kerr = NULL;
        ret = brig_cg_write_i64(a, h, "memory.kmem.tcp.limit_in_bytes", m->kernel_tcp.value, WHAT "kernelTCP",
                                &kerr);
        if (ret < 0)
            brig_cg_warn(a, "%s: ignored", kerr->msg);
    }
    if (m->swappiness.set) {
        if (m->swappiness.value > 100)
            return brig_err_msg(err, EINVAL, WHAT "swappiness: %llu is not within 0..100",
                                (unsigned long long) m->swappiness.value);
        ret = brig_cg_write_i64(a, h, "memory.swappiness", (int64_t) m->swappiness.value, WHAT "swappiness", err);
        if (ret < 0)
            return ret;
    }
    if (m->disable_oom_killer.set && (m->disable_oom_killer.value || a->update)) {
        ret = brig_cg_write(a, h, "memory.oom_control", m->disable_oom_killer.value ? "1" : "0",
                            WHAT "disableOOMKiller", err);
        if (ret < 0)
            return ret;
    }
    if (m->use_hierarchy.set) {
        ret = brig_cg_write(a, h, "memory.use_hierarchy", m->use_hierarchy.value ? "1" : "0", WHAT "useHierarchy",
                            err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int apply_v2(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const struct brig_memory *m,
                    struct brig_err **err)
{
    bool limit_set = m->limit.set && m->limit.value != 0;
    bool base_set = limit_set;
    int64_t base = m->limit.value;
    const char *why = NULL;
    bool swap_set;
    int64_t swap;
    char buf[32];
    int ret;

    /* The OCI swap counts memory too: an update of the swap alone splits it with the limit in force
     * (v1's memsw needs no such thing, it takes the total as is). */
    if (!limit_set && a->update && m->swap.set && m->swap.value > 0 &&
        brig_cg_read_i64(h, a->rel, "memory.max", &base) == 0 && base > 0)
        base_set = true;
    if (brig_cg_swap_v2(m->swap.set, m->swap.value, base_set, base, &swap_set, &swap, &why) < 0)
        return brig_err_msg(err, EINVAL, WHAT "swap: %lld: %s", (long long) m->swap.value, why);
    if (a->update && m->check_before_update.set && m->check_before_update.value && limit_set) {
        ret = check_usage(a, h, "memory.current", m->limit.value, err);
        if (ret < 0)
            return ret;
    }
    if (swap_set) {
        brig_cg_limit_text(buf, sizeof(buf), swap);
        /* "max" on a host without swap accounting asks for nothing. */
        if (swap >= 0 || brig_cg_has_file(a, h, "memory.swap.max")) {
            ret = brig_cg_write(a, h, "memory.swap.max", buf, WHAT "swap", err);
            if (ret < 0)
                return ret;
        }
    }
    if (limit_set) {
        brig_cg_limit_text(buf, sizeof(buf), m->limit.value);
        ret = brig_cg_write(a, h, "memory.max", buf, WHAT "limit", err);
        if (ret < 0)
            return ret;
    }
    if (m->reservation.set && m->reservation.value != 0) {
        brig_cg_limit_text(buf, sizeof(buf), m->reservation.value);
        ret = brig_cg_write(a, h, "memory.low", buf, WHAT "reservation", err);
        if (ret < 0)
            return ret;
    }
    if (m->kernel.set && m->kernel.value != 0)
        brig_cg_warn(a, WHAT "kernel: cgroup v2 has no kernel memory limit: ignored");
    if (m->kernel_tcp.set && m->kernel_tcp.value != 0)
        brig_cg_warn(a, WHAT "kernelTCP: cgroup v2 has no kernel TCP memory limit: ignored");
    if (m->swappiness.set)
        brig_cg_warn(a, WHAT "swappiness: cgroup v2 has no per-cgroup swappiness: ignored");
    if (m->disable_oom_killer.set && m->disable_oom_killer.value)
        brig_cg_warn(a, WHAT "disableOOMKiller: cgroup v2 cannot disable the OOM killer: ignored");
    if (m->use_hierarchy.set && !m->use_hierarchy.value)
        brig_cg_warn(a, WHAT "useHierarchy: cgroup v2 is always hierarchical: ignored");
    return 0;
}

int brig_cg_apply_memory(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;

    if (!r->memory)
        return 0;
    h = brig_cg_find(a, "memory", err);
    if (!h) {
        const struct brig_memory *m = r->memory;
        if (!m->limit.set && !m->reservation.set && !m->swap.set && !m->kernel.set && !m->kernel_tcp.set &&
            !m->swappiness.set && !m->disable_oom_killer.set && !m->use_hierarchy.set)
            return 0;
        return brig_cg_unsupported(err, "linux.resources.memory", "no memory controller");
    }
    return h->unified ? apply_v2(a, h, r->memory, err) : apply_v1(a, h, r->memory, err);
}
