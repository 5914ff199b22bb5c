/* config.json: process. */
#include <string.h>

#include "parse.h"

static int parse_rlimit(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_rlimit *r = dst;

    JTRY(jreq_str(c, v, p, "type", &r->type));
    JTRY(jreq_u64v(c, v, p, "soft", &r->soft));
    return jreq_u64v(c, v, p, "hard", &r->hard);
}

static int parse_capabilities(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_capabilities *caps)
{
    JTRY(jopt_strv(c, v, p, "bounding", false, &caps->bounding, &caps->n_bounding));
    JTRY(jopt_strv(c, v, p, "effective", false, &caps->effective, &caps->n_effective));
    JTRY(jopt_strv(c, v, p, "inheritable", false, &caps->inheritable, &caps->n_inheritable));
    JTRY(jopt_strv(c, v, p, "permitted", false, &caps->permitted, &caps->n_permitted));
    return jopt_strv(c, v, p, "ambient", false, &caps->ambient, &caps->n_ambient);
}

static int parse_user(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_user *u)
{
    yajl_val gids;

    JTRY(jreq_id(c, v, p, "uid", &u->uid));
    JTRY(jreq_id(c, v, p, "gid", &u->gid));
    JTRY(jopt_u64(c, v, p, "umask", UINT32_MAX, &u->umask));
    JTRY(jopt_str(c, v, p, "username", &u->username));
    JTRY(jopt_arr(c, v, p, "additionalGids", &gids));
    if (gids && gids->u.array.len > 0) {
        const struct jpath *gp = JKEY(p, "additionalGids");
        u->additional_gids = jalloc(c, gids->u.array.len, sizeof(*u->additional_gids));
        if (!u->additional_gids)
            return jnomem(c);
        for (size_t i = 0; i < gids->u.array.len; i++)
            JTRY(jint_id(c, gids->u.array.values[i], JIDX(gp, i), &u->additional_gids[i]));
        u->n_additional_gids = gids->u.array.len;
    }
    return 0;
}

static int parse_scheduler(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_scheduler *s)
{
    JTRY(jreq_str(c, v, p, "policy", &s->policy));
    JTRY(jopt_i32(c, v, p, "nice", &s->nice));
    JTRY(jopt_i32(c, v, p, "priority", &s->priority));
    JTRY(jopt_strv(c, v, p, "flags", false, &s->flags, &s->n_flags));
    JTRY(jopt_u64v(c, v, p, "runtime", &s->runtime));
    JTRY(jopt_u64v(c, v, p, "deadline", &s->deadline));
    return jopt_u64v(c, v, p, "period", &s->period);
}

static int parse_io_priority(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_io_priority *io)
{
    JTRY(jreq_str(c, v, p, "class", &io->class_name));
    return jopt_i32(c, v, p, "priority", &io->priority);
}

static int parse_exec_cpu_affinity(struct jctx *c, yajl_val v, const struct jpath *p,
                                   struct brig_exec_cpu_affinity *a)
{
    JTRY(jopt_str(c, v, p, "initial", &a->initial));
    return jopt_str(c, v, p, "final", &a->final);
}

int spec_parse_process(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_process *proc)
{
    yajl_val sub;

    JTRY(jopt_bool(c, v, p, "terminal", &proc->terminal));
    JTRY(jopt_obj(c, v, p, "consoleSize", &sub));
    if (sub) {
        const struct jpath *sp = JKEY(p, "consoleSize");
        JTRY(jreq_u32(c, sub, sp, "height", &proc->console_height));
        JTRY(jreq_u32(c, sub, sp, "width", &proc->console_width));
        proc->has_console_size = true;
    }
    JTRY(jreq_str(c, v, p, "cwd", &proc->cwd));
    if (proc->cwd[0] != '/')
        return jfail(c, JKEY(p, "cwd"), "expected an absolute path, got \"%s\"", proc->cwd);
    JTRY(jopt_strv(c, v, p, "env", false, &proc->env, &proc->n_env));
    JTRY(jopt_strv(c, v, p, "args", true, &proc->args, &proc->n_args));
    JTRY(jopt_objv(c, v, p, "rlimits", sizeof(struct brig_rlimit), parse_rlimit, (void **) &proc->rlimits,
                   &proc->n_rlimits));
    JTRY(jopt_str(c, v, p, "apparmorProfile", &proc->apparmor_profile));
    JTRY(jopt_obj(c, v, p, "capabilities", &sub));
    if (sub) {
        JTRY(parse_capabilities(c, sub, JKEY(p, "capabilities"), &proc->capabilities));
        proc->has_capabilities = true;
    }
    JTRY(jopt_bool(c, v, p, "noNewPrivileges", &proc->no_new_privileges));
    JTRY(jopt_i64(c, v, p, "oomScoreAdj", INT32_MIN, INT32_MAX, &proc->oom_score_adj));
    JPARSE_SUB(c, v, p, "scheduler", proc->scheduler, parse_scheduler);
    JTRY(jopt_str(c, v, p, "selinuxLabel", &proc->selinux_label));
    JPARSE_SUB(c, v, p, "ioPriority", proc->io_priority, parse_io_priority);
    JPARSE_SUB(c, v, p, "execCPUAffinity", proc->exec_cpu_affinity, parse_exec_cpu_affinity);
    JTRY(jopt_obj(c, v, p, "user", &sub));
    if (sub)
        JTRY(parse_user(c, sub, JKEY(p, "user"), &proc->user));
    return 0;
}
