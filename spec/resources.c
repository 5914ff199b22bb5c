/* config.json: linux.resources. Values are only read here; their meaning is the cgroups library's. */
#include "parse.h"

static int parse_device_rule(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_device_cgroup *d = dst;

    JTRY(jopt_bool(c, v, p, "allow", &d->allow));
    JTRY(jopt_str(c, v, p, "type", &d->type));
    JTRY(jopt_i64(c, v, p, "major", INT64_MIN, INT64_MAX, &d->major));
    JTRY(jopt_i64(c, v, p, "minor", INT64_MIN, INT64_MAX, &d->minor));
    return jopt_str(c, v, p, "access", &d->access);
}

static int parse_memory(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_memory *m)
{
    JTRY(jopt_i64(c, v, p, "limit", INT64_MIN, INT64_MAX, &m->limit));
    JTRY(jopt_i64(c, v, p, "reservation", INT64_MIN, INT64_MAX, &m->reservation));
    JTRY(jopt_i64(c, v, p, "swap", INT64_MIN, INT64_MAX, &m->swap));
    JTRY(jopt_i64(c, v, p, "kernel", INT64_MIN, INT64_MAX, &m->kernel));
    JTRY(jopt_i64(c, v, p, "kernelTCP", INT64_MIN, INT64_MAX, &m->kernel_tcp));
    JTRY(jopt_u64(c, v, p, "swappiness", UINT64_MAX, &m->swappiness));
    JTRY(jopt_obool(c, v, p, "disableOOMKiller", &m->disable_oom_killer));
    JTRY(jopt_obool(c, v, p, "useHierarchy", &m->use_hierarchy));
    return jopt_obool(c, v, p, "checkBeforeUpdate", &m->check_before_update);
}

static int parse_cpu(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_cpu *cpu)
{
    JTRY(jopt_u64(c, v, p, "shares", UINT64_MAX, &cpu->shares));
    JTRY(jopt_i64(c, v, p, "quota", INT64_MIN, INT64_MAX, &cpu->quota));
    JTRY(jopt_u64(c, v, p, "burst", UINT64_MAX, &cpu->burst));
    JTRY(jopt_u64(c, v, p, "period", UINT64_MAX, &cpu->period));
    JTRY(jopt_i64(c, v, p, "realtimeRuntime", INT64_MIN, INT64_MAX, &cpu->realtime_runtime));
    JTRY(jopt_u64(c, v, p, "realtimePeriod", UINT64_MAX, &cpu->realtime_period));
    JTRY(jopt_str(c, v, p, "cpus", &cpu->cpus));
    JTRY(jopt_str(c, v, p, "mems", &cpu->mems));
    return jopt_i64(c, v, p, "idle", INT64_MIN, INT64_MAX, &cpu->idle);
}

static int parse_weight_device(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_weight_device *w = dst;

    JTRY(jreq_i64v(c, v, p, "major", &w->major));
    JTRY(jreq_i64v(c, v, p, "minor", &w->minor));
    JTRY(jopt_u64(c, v, p, "weight", UINT16_MAX, &w->weight));
    return jopt_u64(c, v, p, "leafWeight", UINT16_MAX, &w->leaf_weight);
}

static int parse_throttle_device(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_throttle_device *t = dst;

    JTRY(jreq_i64v(c, v, p, "major", &t->major));
    JTRY(jreq_i64v(c, v, p, "minor", &t->minor));
    return jreq_u64v(c, v, p, "rate", &t->rate);
}

static int parse_block_io(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_block_io *b)
{
    const size_t td = sizeof(struct brig_throttle_device);

    JTRY(jopt_u64(c, v, p, "weight", UINT16_MAX, &b->weight));
    JTRY(jopt_u64(c, v, p, "leafWeight", UINT16_MAX, &b->leaf_weight));
    JTRY(jopt_objv(c, v, p, "weightDevice", sizeof(struct brig_weight_device), parse_weight_device,
                   (void **) &b->weight_device, &b->n_weight_device));
    JTRY(jopt_objv(c, v, p, "throttleReadBpsDevice", td, parse_throttle_device, (void **) &b->throttle_read_bps,
                   &b->n_throttle_read_bps));
    JTRY(jopt_objv(c, v, p, "throttleWriteBpsDevice", td, parse_throttle_device,
                   (void **) &b->throttle_write_bps, &b->n_throttle_write_bps));
    JTRY(jopt_objv(c, v, p, "throttleReadIOPSDevice", td, parse_throttle_device,
                   (void **) &b->throttle_read_iops, &b->n_throttle_read_iops));
    return jopt_objv(c, v, p, "throttleWriteIOPSDevice", td, parse_throttle_device,
                     (void **) &b->throttle_write_iops, &b->n_throttle_write_iops);
}

static int parse_hugepage_limit(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_hugepage_limit *h = dst;

    JTRY(jreq_str(c, v, p, "pageSize", &h->page_size));
    return jreq_u64v(c, v, p, "limit", &h->limit);
}

static int parse_net_priority(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_net_priority *n = dst;

    JTRY(jreq_str(c, v, p, "name", &n->name));
    return jreq_u32(c, v, p, "priority", &n->priority);
}

static int parse_rdma(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_resources *r)
{
    if (v->u.object.len == 0)
        return 0;
    r->rdma = jalloc(c, v->u.object.len, sizeof(*r->rdma));
    if (!r->rdma)
        return jnomem(c);
    for (size_t i = 0; i < v->u.object.len; i++) {
        const struct jpath *dp = JKEY(p, v->u.object.keys[i]);
        yajl_val item = v->u.object.values[i];
        struct brig_rdma *rdma = &r->rdma[i];

        JTRY(jexpect_obj(c, item, dp));
        rdma->device = jstrdup(c, v->u.object.keys[i]);
        if (!rdma->device)
            return jnomem(c);
        JTRY(jopt_u64(c, item, dp, "hcaHandles", UINT32_MAX, &rdma->hca_handles));
        JTRY(jopt_u64(c, item, dp, "hcaObjects", UINT32_MAX, &rdma->hca_objects));
    }
    r->n_rdma = v->u.object.len;
    return 0;
}

int spec_parse_resources(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_resources *r)
{
    yajl_val sub;

    JTRY(jopt_objv(c, v, p, "devices", sizeof(struct brig_device_cgroup), parse_device_rule,
                   (void **) &r->devices, &r->n_devices));
    JPARSE_SUB(c, v, p, "memory", r->memory, parse_memory);
    JPARSE_SUB(c, v, p, "cpu", r->cpu, parse_cpu);
    JTRY(jopt_obj(c, v, p, "pids", &sub));
    if (sub) {
        JTRY(jreq_i64v(c, sub, JKEY(p, "pids"), "limit", &r->pids_limit.value));
        r->pids_limit.set = true;
    }
    JPARSE_SUB(c, v, p, "blockIO", r->block_io, parse_block_io);
    JTRY(jopt_objv(c, v, p, "hugepageLimits", sizeof(struct brig_hugepage_limit), parse_hugepage_limit,
                   (void **) &r->hugepage_limits, &r->n_hugepage_limits));
    JTRY(jopt_obj(c, v, p, "network", &sub));
    if (sub) {
        const struct jpath *np = JKEY(p, "network");
        r->has_network = true;
        JTRY(jopt_u64(c, sub, np, "classID", UINT32_MAX, &r->net_class_id));
        JTRY(jopt_objv(c, sub, np, "priorities", sizeof(struct brig_net_priority), parse_net_priority,
                       (void **) &r->net_priorities, &r->n_net_priorities));
    }
    JTRY(jopt_obj(c, v, p, "rdma", &sub));
    if (sub)
        JTRY(parse_rdma(c, sub, JKEY(p, "rdma"), r));
    return jopt_kv(c, v, p, "unified", &r->unified, &r->n_unified);
}
