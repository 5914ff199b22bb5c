/* linux.resources.blockIO: v1 blkio.* (weights with BFQ's names as a fallback, throttle.*), v2 io.weight or
 * io.bfq.weight and io.max. */
#include <errno.h>
#include <stdio.h>

#include "controllers.h"
#include "../util/util.h"

#define WHAT "linux.resources.blockIO."

uint64_t brig_cg_blkio_to_io_weight(uint64_t weight)
{
    if (weight < 10)
        weight = 10;
    return 1 + (weight - 10) * 9999 / 990;
}

/* Writes to the first of `files` that exists; when none does, to the first, which names it in the error. */
static int write_first(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *const *files,
                       size_t n, const char *value, const char *what, struct brig_err **err)
{
    for (size_t i = 0; i < n; i++)
        if (brig_cg_has_file(a, h, files[i]))
            return brig_cg_write(a, h, files[i], value, what, err);
    return brig_cg_write(a, h, files[0], value, what, err);
}

struct throttle {
    const char *key;      /* in the OCI config */
    const char *v1_file;  /* blkio.throttle.* */
    const char *v2_key;   /* in io.max */
};

static const struct throttle throttles[] = {
    {"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"},
    {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"},
    {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"},
    {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"},
};

static void throttle_list(const struct brig_block_io *b, size_t i, const struct brig_throttle_device **list, size_t *n)
{
    switch (i) {
    case 0: *list = b->throttle_read_bps; *n = b->n_throttle_read_bps; break;
    case 1: *list = b->throttle_write_bps; *n = b->n_throttle_write_bps; break;
    case 2: *list = b->throttle_read_iops; *n = b->n_throttle_read_iops; break;
    default: *list = b->throttle_write_iops; *n = b->n_throttle_write_iops; break;
    }
}

static int apply_v1(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const struct brig_block_io *b,
                    struct brig_err **err)
{
    static const char *const weight_files[] = {"blkio.weight", "blkio.bfq.weight"};
    static const char *const weight_device_files[] = {"blkio.weight_device", "blkio.bfq.weight_device"};
    char buf[96], what[128];
    int ret;

    if (b->weight.set && b->weight.value) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) b->weight.value);
        ret = write_first(a, h, weight_files, 2, buf, WHAT "weight", err);
        if (ret < 0)
            return ret;
    }
    if (b->leaf_weight.set && b->leaf_weight.value) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) b->leaf_weight.value);
        ret = brig_cg_write(a, h, "blkio.leaf_weight", buf, WHAT "leafWeight", err);
        if (ret < 0)
            return ret;
    }
    for (size_t i = 0; i < b->n_weight_device; i++) {
        const struct brig_weight_device *w = &b->weight_device[i];
        if (w->weight.set) {
            snprintf(what, sizeof(what), WHAT "weightDevice[%zu].weight", i);
            snprintf(buf, sizeof(buf), "%lld:%lld %llu", (long long) w->major, (long long) w->minor,
                     (unsigned long long) w->weight.value);
            ret = write_first(a, h, weight_device_files, 2, buf, what, err);
            if (ret < 0)
                return ret;
        }
        if (w->leaf_weight.set) {
            snprintf(what, sizeof(what), WHAT "weightDevice[%zu].leafWeight", i);
            snprintf(buf, sizeof(buf), "%lld:%lld %llu", (long long) w->major, (long long) w->minor,
                     (unsigned long long) w->leaf_weight.value);
            ret = brig_cg_write(a, h, "blkio.leaf_weight_device", buf, what, err);
            if (ret < 0)
                return ret;
        }
    }
    for (size_t t = 0; t < ARRAY_SIZE(throttles); t++) {
        const struct brig_throttle_device *list;
        size_t n;
        throttle_list(b, t, &list, &n);
        for (size_t i = 0; i < n; i++) {
            snprintf(what, sizeof(what), WHAT "%s[%zu]", throttles[t].key, i);
            snprintf(buf, sizeof(buf), "%lld:%lld %llu", (long long) list[i].major, (long long) list[i].minor,
                     (unsigned long long) list[i].rate);
            ret = brig_cg_write(a, h, throttles[t].v1_file, buf, what, err);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

static int apply_v2(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const struct brig_block_io *b,
                    struct brig_err **err)
{
    bool bfq = brig_cg_has_file(a, h, "io.bfq.weight");
    char buf[128], what[128];
    int ret;

    if (b->weight.set && b->weight.value) {
        if (bfq)
            snprintf(buf, sizeof(buf), "%llu", (unsigned long long) b->weight.value);
        else
            snprintf(buf, sizeof(buf), "default %llu", (unsigned long long) brig_cg_blkio_to_io_weight(b->weight.value));
        ret = brig_cg_write(a, h, bfq ? "io.bfq.weight" : "io.weight", buf, WHAT "weight", err);
        if (ret < 0)
            return ret;
    }
    if (b->leaf_weight.set && b->leaf_weight.value)
        brig_cg_warn(a, WHAT "leafWeight: cgroup v2 has no leaf weight: ignored");
    for (size_t i = 0; i < b->n_weight_device; i++) {
        const struct brig_weight_device *w = &b->weight_device[i];
        if (w->leaf_weight.set)
            brig_cg_warn(a, WHAT "weightDevice[%zu].leafWeight: cgroup v2 has no leaf weight: ignored", i);
        if (!w->weight.set)
            continue;
        snprintf(what, sizeof(what), WHAT "weightDevice[%zu].weight", i);
        snprintf(buf, sizeof(buf), "%lld:%lld %llu", (long long) w->major, (long long) w->minor,
                 (unsigned long long) (bfq ? w->weight.value : brig_cg_blkio_to_io_weight(w->weight.value)));
        ret = brig_cg_write(a, h, bfq ? "io.bfq.weight" : "io.weight", buf, what, err);
        if (ret < 0)
            return ret;
    }
    for (size_t t = 0; t < ARRAY_SIZE(throttles); t++) {
        const struct brig_throttle_device *list;
        size_t n;
        throttle_list(b, t, &list, &n);
        for (size_t i = 0; i < n; i++) {
            snprintf(what, sizeof(what), WHAT "%s[%zu]", throttles[t].key, i);
            /* 0 lifts the limit, as it does on v1. */
            if (list[i].rate)
                snprintf(buf, sizeof(buf), "%lld:%lld %s=%llu", (long long) list[i].major, (long long) list[i].minor,
                         throttles[t].v2_key, (unsigned long long) list[i].rate);
            else
                snprintf(buf, sizeof(buf), "%lld:%lld %s=max", (long long) list[i].major, (long long) list[i].minor,
                         throttles[t].v2_key);
            ret = brig_cg_write(a, h, "io.max", buf, what, err);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

int brig_cg_apply_blkio(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_block_io *b = r->block_io;
    const struct brig_cgroup_hierarchy *h;

    if (!b)
        return 0;
    if (!(b->weight.set && b->weight.value) && !(b->leaf_weight.set && b->leaf_weight.value) && !b->n_weight_device &&
        !b->n_throttle_read_bps && !b->n_throttle_write_bps && !b->n_throttle_read_iops && !b->n_throttle_write_iops)
        return 0;
    h = brig_cg_find(a, brig_cg_find_v1(a->set, "blkio") ? "blkio" : "io", err);
    if (!h)
        return brig_cg_unsupported(err, "linux.resources.blockIO", "no blkio or io controller");
    return h->unified ? apply_v2(a, h, b, err) : apply_v1(a, h, b, err);
}
