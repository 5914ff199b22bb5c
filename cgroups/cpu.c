/* linux.resources.cpu: v1 cpu (shares, CFS quota/period/burst, realtime, idle) and cpuset; v2 cpu.weight,
 * cpu.max, cpu.max.burst, cpu.idle and cpuset. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers.h"
#include "../util/util.h"

#define WHAT "linux.resources.cpu."
#define DEFAULT_PERIOD_US 100000

uint64_t brig_cg_shares_to_weight(uint64_t shares)
{
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    /* Linear map of [2, 262144] onto [1, 10000], the conversion runc and crun share. */
    return 1 + ((shares - 2) * 9999) / 262142;
}

void brig_cg_cpu_max(char *buf, size_t size, bool quota_set, int64_t quota, bool period_set, uint64_t period)
{
    int n;

    if (quota_set && quota > 0)
        n = snprintf(buf, size, "%lld", (long long) quota);
    else
        n = snprintf(buf, size, "max");
    if (n > 0 && (size_t) n < size)
        snprintf(buf + n, size - (size_t) n, " %llu", (unsigned long long) (period_set && period ? period
                                                                                               : DEFAULT_PERIOD_US));
}

static int apply_v1(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const struct brig_cpu *c,
                    struct brig_err **err)
{
    bool period_pending = false;
    int ret;

    if (c->shares.set && c->shares.value != 0) {
        ret = brig_cg_write_i64(a, h, "cpu.shares", (int64_t) c->shares.value, WHAT "shares", err);
        if (ret < 0)
            return ret;
    }
    if (c->period.set && c->period.value != 0) {
        cleanup_err struct brig_err *perr = NULL;
        ret = brig_cg_write_i64(a, h, "cpu.cfs_period_us", (int64_t) c->period.value, WHAT "period", &perr);
        /* A shorter period can be refused until the quota that goes with it is written: retry after. */
        if (ret == -EINVAL && c->quota.set && c->quota.value != 0)
            period_pending = true;
        else if (ret < 0) {
            *err = steal_ptr(perr);
            return ret;
        }
    }
    if (c->quota.set && c->quota.value != 0) {
        ret = brig_cg_write_i64(a, h, "cpu.cfs_quota_us", c->quota.value, WHAT "quota", err);
        if (ret < 0)
            return ret;
        if (period_pending) {
            ret = brig_cg_write_i64(a, h, "cpu.cfs_period_us", (int64_t) c->period.value, WHAT "period", err);
            if (ret < 0)
                return ret;
        }
    }
    if (c->burst.set) {
        ret = brig_cg_write_i64(a, h, "cpu.cfs_burst_us", (int64_t) c->burst.value, WHAT "burst", err);
        if (ret < 0)
            return ret;
    }
    if (c->realtime_period.set && c->realtime_period.value != 0) {
        ret = brig_cg_write_i64(a, h, "cpu.rt_period_us", (int64_t) c->realtime_period.value, WHAT "realtimePeriod",
                                err);
        if (ret < 0)
            return ret;
    }
    if (c->realtime_runtime.set && c->realtime_runtime.value != 0) {
        ret = brig_cg_write_i64(a, h, "cpu.rt_runtime_us", c->realtime_runtime.value, WHAT "realtimeRuntime", err);
        if (ret < 0)
            return ret;
    }
    if (c->idle.set) {
        ret = brig_cg_write_i64(a, h, "cpu.idle", c->idle.value, WHAT "idle", err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int apply_v2(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const struct brig_cpu *c,
                    struct brig_err **err)
{
    char buf[64];
    int ret;

    if ((c->realtime_period.set && c->realtime_period.value) || (c->realtime_runtime.set && c->realtime_runtime.value))
        return brig_cg_unsupported(err, WHAT "realtimeRuntime", "cgroup v2 has no realtime cpu limits");
    /* The kernel refuses a weight for an idle group: leaving idle comes first, entering it last. */
    if (c->idle.set && c->idle.value == 0) {
        ret = brig_cg_write_i64(a, h, "cpu.idle", 0, WHAT "idle", err);
        if (ret < 0)
            return ret;
    }
    if (c->shares.set && c->shares.value != 0) {
        ret = brig_cg_write_i64(a, h, "cpu.weight", (int64_t) brig_cg_shares_to_weight(c->shares.value),
                                WHAT "shares", err);
        if (ret < 0)
            return ret;
    }
    if ((c->quota.set && c->quota.value != 0) || (c->period.set && c->period.value != 0)) {
        bool quota_set = c->quota.set && c->quota.value != 0;
        bool period_set = c->period.set && c->period.value != 0;
        int64_t quota = c->quota.value;
        uint64_t period = c->period.value;
        cleanup_free char *current = NULL;

        /* An update of one of the two keeps the other in force ("QUOTA PERIOD", or "max PERIOD"). */
        if ((!quota_set || !period_set) && a->update && brig_cg_read(h, a->rel, "cpu.max", &current) >= 0) {
            char *second = current + strcspn(current, " \n");
            if (*second == ' ')
                *second++ = '\0';
            second[strcspn(second, " \n")] = '\0';
            if (!quota_set)
                quota_set = brig_parse_i64(current, &quota) == 0;
            if (!period_set)
                period_set = brig_parse_u64(second, &period) == 0 && period != 0;
        }
        brig_cg_cpu_max(buf, sizeof(buf), quota_set, quota, period_set, period);
        ret = brig_cg_write(a, h, "cpu.max", buf, c->quota.set ? WHAT "quota" : WHAT "period", err);
        if (ret < 0)
            return ret;
    }
    if (c->burst.set) {
        ret = brig_cg_write_i64(a, h, "cpu.max.burst", (int64_t) c->burst.value, WHAT "burst", err);
        if (ret < 0)
            return ret;
    }
    if (c->idle.set && c->idle.value != 0) {
        ret = brig_cg_write_i64(a, h, "cpu.idle", c->idle.value, WHAT "idle", err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static bool wants_cpu(const struct brig_cpu *c)
{
    return (c->shares.set && c->shares.value) || (c->quota.set && c->quota.value) || c->burst.set ||
           (c->period.set && c->period.value) || (c->realtime_runtime.set && c->realtime_runtime.value) ||
           (c->realtime_period.set && c->realtime_period.value) || c->idle.set;
}

int brig_cg_apply_cpu(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;

    if (!r->cpu || !wants_cpu(r->cpu))
        return 0;
    h = brig_cg_find(a, "cpu", err);
    if (!h)
        return brig_cg_unsupported(err, "linux.resources.cpu", "no cpu controller");
    return h->unified ? apply_v2(a, h, r->cpu, err) : apply_v1(a, h, r->cpu, err);
}

int brig_cg_apply_cpuset(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;
    int ret;

    if (!r->cpu || (!(r->cpu->cpus && *r->cpu->cpus) && !(r->cpu->mems && *r->cpu->mems)))
        return 0;
    h = brig_cg_find(a, "cpuset", err);
    if (!h)
        return brig_cg_unsupported(err, WHAT "cpus", "no cpuset controller");
    if (r->cpu->cpus && *r->cpu->cpus) {
        ret = brig_cg_write(a, h, "cpuset.cpus", r->cpu->cpus, WHAT "cpus", err);
        if (ret < 0)
            return ret;
    }
    if (r->cpu->mems && *r->cpu->mems) {
        ret = brig_cg_write(a, h, "cpuset.mems", r->cpu->mems, WHAT "mems", err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
