/* config.json: linux.seccomp. */
#include "parse.h"

static int parse_arg(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_seccomp_arg *a = dst;

    JTRY(jreq_u32(c, v, p, "index", &a->index));
    JTRY(jreq_u64v(c, v, p, "value", &a->value));
    JTRY(jopt_u64v(c, v, p, "valueTwo", &a->value_two));
    return jreq_str(c, v, p, "op", &a->op);
}

static int parse_syscall(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_seccomp_syscall *s = dst;

    JTRY(jopt_strv(c, v, p, "names", true, &s->names, &s->n_names));
    JTRY(jreq_str(c, v, p, "action", &s->action));
    JTRY(jopt_u64(c, v, p, "errnoRet", UINT32_MAX, &s->errno_ret));
    return jopt_objv(c, v, p, "args", sizeof(struct brig_seccomp_arg), parse_arg, (void **) &s->args, &s->n_args);
}

int spec_parse_seccomp(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_seccomp *s)
{
    JTRY(jreq_str(c, v, p, "defaultAction", &s->default_action));
    JTRY(jopt_u64(c, v, p, "defaultErrnoRet", UINT32_MAX, &s->default_errno_ret));
    JTRY(jopt_strv(c, v, p, "architectures", false, &s->architectures, &s->n_architectures));
    JTRY(jopt_strv(c, v, p, "flags", false, &s->flags, &s->n_flags));
    JTRY(jopt_str(c, v, p, "listenerPath", &s->listener_path));
    JTRY(jopt_str(c, v, p, "listenerMetadata", &s->listener_metadata));
    return jopt_objv(c, v, p, "syscalls", sizeof(struct brig_seccomp_syscall), parse_syscall,
                     (void **) &s->syscalls, &s->n_syscalls);
}
