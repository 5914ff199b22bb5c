/* config.json: linux (everything but resources and seccomp). */
#include <string.h>

#include "parse.h"

static int parse_namespaces(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_linux *l)
{
    unsigned seen = 0;

    if (!v || v->u.array.len == 0)
        return 0;
    l->namespaces = jalloc(c, v->u.array.len, sizeof(*l->namespaces));
    if (!l->namespaces)
        return jnomem(c);
    for (size_t i = 0; i < v->u.array.len; i++) {
        const struct jpath *ip = JIDX(p, i);
        struct brig_namespace *ns = &l->namespaces[i];
        yajl_val item = v->u.array.values[i];
        char *name = NULL;

        JTRY(jexpect_obj(c, item, ip));
        JTRY(jreq_str(c, item, ip, "type", &name));
        if (spec_ns_type_from_name(name, &ns->type) < 0)
            return jfail(c, JKEY(ip, "type"), "unknown namespace type \"%s\"", name);
        if (seen & (1u << ns->type))
            return jfail(c, JKEY(ip, "type"), "duplicate namespace type \"%s\"", name);
        seen |= 1u << ns->type;
        JTRY(jopt_str(c, item, ip, "path", &ns->path));
    }
    l->n_namespaces = v->u.array.len;
    return 0;
}

static int parse_time_offsets(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_linux *l)
{
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *clock = v->u.object.keys[i];
        const struct jpath *cp = JKEY(p, clock);
        yajl_val item = v->u.object.values[i];
        struct brig_time_offset *off;
        uint64_t nsecs = 0;

        if (strcmp(clock, "monotonic") == 0)
            off = &l->time_monotonic;
        else if (strcmp(clock, "boottime") == 0)
            off = &l->time_boottime;
        else
            return jfail(c, p, "unknown clock \"%s\" (expected \"monotonic\" or \"boottime\")", clock);
        JTRY(jexpect_obj(c, item, cp));
        JTRY(jopt_i64v(c, item, cp, "secs", &off->secs));
        if (jget(item, "nanosecs"))
            JTRY(jint_u(c, jget(item, "nanosecs"), JKEY(cp, "nanosecs"), 999999999, &nsecs));
        off->nanosecs = (uint32_t) nsecs;
        off->set = true;
    }
    return 0;
}

static int parse_device(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_device *d = dst;

    JTRY(jreq_str(c, v, p, "type", &d->type));
    if (strcmp(d->type, "c") != 0 && strcmp(d->type, "b") != 0 && strcmp(d->type, "u") != 0 &&
        strcmp(d->type, "p") != 0)
        return jfail(c, JKEY(p, "type"), "unknown device type \"%s\" (expected c, b, u or p)", d->type);
    JTRY(jreq_str(c, v, p, "path", &d->path));
    JTRY(jopt_i64v(c, v, p, "major", &d->major));
    JTRY(jopt_i64v(c, v, p, "minor", &d->minor));
    JTRY(jopt_u64(c, v, p, "fileMode", UINT32_MAX, &d->file_mode));
    JTRY(jopt_oid(c, v, p, "uid", &d->uid));
    return jopt_oid(c, v, p, "gid", &d->gid);
}

static int parse_net_devices(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_linux *l)
{
    if (v->u.object.len == 0)
        return 0;
    l->net_devices = jalloc(c, v->u.object.len, sizeof(*l->net_devices));
    if (!l->net_devices)
        return jnomem(c);
    for (size_t i = 0; i < v->u.object.len; i++) {
        const struct jpath *dp = JKEY(p, v->u.object.keys[i]);
        yajl_val item = v->u.object.values[i];

        JTRY(jexpect_obj(c, item, dp));
        l->net_devices[i].key = jstrdup(c, v->u.object.keys[i]);
        if (!l->net_devices[i].key)
            return jnomem(c);
        JTRY(jopt_str(c, item, dp, "name", &l->net_devices[i].value));
    }
    l->n_net_devices = v->u.object.len;
    return 0;
}

static int parse_intel_rdt(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_intel_rdt *rdt)
{
    JTRY(jopt_str(c, v, p, "closID", &rdt->clos_id));
    JTRY(jopt_str(c, v, p, "l3CacheSchema", &rdt->l3_cache_schema));
    JTRY(jopt_str(c, v, p, "memBwSchema", &rdt->mem_bw_schema));
    JTRY(jopt_bool(c, v, p, "enableCMT", &rdt->enable_cmt));
    return jopt_bool(c, v, p, "enableMBM", &rdt->enable_mbm);
}

static int parse_personality(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_personality *pers)
{
    JTRY(jreq_str(c, v, p, "domain", &pers->domain));
    return jopt_strv(c, v, p, "flags", false, &pers->flags, &pers->n_flags);
}

static int parse_memory_policy(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_memory_policy *mp)
{
    JTRY(jreq_str(c, v, p, "mode", &mp->mode));
    JTRY(jopt_str(c, v, p, "nodes", &mp->nodes));
    return jopt_strv(c, v, p, "flags", false, &mp->flags, &mp->n_flags);
}

int spec_parse_linux(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_linux *l)
{
    yajl_val sub;

    JTRY(jopt_arr(c, v, p, "namespaces", &sub));
    JTRY(parse_namespaces(c, sub, JKEY(p, "namespaces"), l));
    JTRY(spec_parse_id_mappings(c, v, p, "uidMappings", &l->uid_mappings, &l->n_uid_mappings));
    JTRY(spec_parse_id_mappings(c, v, p, "gidMappings", &l->gid_mappings, &l->n_gid_mappings));
    JTRY(jopt_obj(c, v, p, "timeOffsets", &sub));
    if (sub)
        JTRY(parse_time_offsets(c, sub, JKEY(p, "timeOffsets"), l));
    JTRY(jopt_objv(c, v, p, "devices", sizeof(struct brig_device), parse_device, (void **) &l->devices,
                   &l->n_devices));
    JTRY(jopt_obj(c, v, p, "netDevices", &sub));
    if (sub)
        JTRY(parse_net_devices(c, sub, JKEY(p, "netDevices"), l));
    JTRY(jopt_str(c, v, p, "cgroupsPath", &l->cgroups_path));
    JPARSE_SUB(c, v, p, "resources", l->resources, spec_parse_resources);
    JTRY(jopt_str(c, v, p, "rootfsPropagation", &l->rootfs_propagation));
    JTRY(jopt_strv(c, v, p, "maskedPaths", false, &l->masked_paths, &l->n_masked_paths));
    JTRY(jopt_strv(c, v, p, "readonlyPaths", false, &l->readonly_paths, &l->n_readonly_paths));
    JTRY(jopt_str(c, v, p, "mountLabel", &l->mount_label));
    JTRY(jopt_kv(c, v, p, "sysctl", &l->sysctl, &l->n_sysctl));
    JPARSE_SUB(c, v, p, "seccomp", l->seccomp, spec_parse_seccomp);
    JPARSE_SUB(c, v, p, "intelRdt", l->intel_rdt, parse_intel_rdt);
    JPARSE_SUB(c, v, p, "personality", l->personality, parse_personality);
    JPARSE_SUB(c, v, p, "memoryPolicy", l->memory_policy, parse_memory_policy);
    return 0;
}
