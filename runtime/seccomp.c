/* linux.seccomp: checked and compiled to BPF by libseccomp in the parent before the init is cloned (the clone
 * inherits the program, so the init never runs libseccomp), with the ENOSYS stub of seccomp_enosys.c in front;
 * loaded by the init with seccomp(2) directly so every SECCOMP_FILTER_FLAG_* works whatever libseccomp's
 * version. A compiled program is cached under <root>/.cache/seccomp, keyed by a hash of a canonical
 * serialization of the profile; the file also holds the serialization itself, and a hit needs it to match
 * byte for byte, so a hash collision can never load another profile's program. With SCMP_ACT_NOTIFY rules
 * the listener fd goes to linux.seccomp.listenerPath together with the container process state (runtime-spec
 * config-linux.md). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>

#include "security.h"
#include "../util/util.h"

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define CACHE_DIR ".cache/seccomp"
#define CACHE_MAGIC "BRIGBPF1"

/* ---- names ---- */

int brig_seccomp_action_from_name(const char *name, uint32_t errno_ret, uint32_t *action)
{
    if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
        *action = SCMP_ACT_KILL_THREAD;
    else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
        *action = SCMP_ACT_KILL_PROCESS;
    else if (!strcmp(name, "SCMP_ACT_TRAP"))
        *action = SCMP_ACT_TRAP;
    else if (!strcmp(name, "SCMP_ACT_ERRNO"))
        *action = SCMP_ACT_ERRNO(errno_ret);
    else if (!strcmp(name, "SCMP_ACT_TRACE"))
        *action = SCMP_ACT_TRACE(errno_ret);
    else if (!strcmp(name, "SCMP_ACT_ALLOW"))
        *action = SCMP_ACT_ALLOW;
    else if (!strcmp(name, "SCMP_ACT_LOG"))
        *action = SCMP_ACT_LOG;
    else if (!strcmp(name, "SCMP_ACT_NOTIFY"))
        *action = SCMP_ACT_NOTIFY;
    else
        return -EINVAL;
    return 0;
}

static bool action_takes_errno(const char *name)
{
    return !strcmp(name, "SCMP_ACT_ERRNO") || !strcmp(name, "SCMP_ACT_TRACE");
}

int brig_seccomp_op_from_name(const char *name, int *op)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    };

    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (!strcmp(ops[i].name, name)) {
            *op = (int) ops[i].op;
            return 0;
        }
    return -EINVAL;
}

/* SCMP_ARCH_X86_64 -> libseccomp's "x86_64": the OCI names are libseccomp's, upper-cased and prefixed. */
int brig_seccomp_arch_from_name(const char *name, uint32_t *arch)
{
    char lower[32];
    size_t i;

    if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof(lower) || !name[10])
        return -EINVAL;
    for (i = 0; name[10 + i]; i++) {
        char c = name[10 + i];
        if (c >= 'a' && c <= 'z')
            return -EINVAL;
        lower[i] = (char) (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    lower[i] = '\0';
    *arch = seccomp_arch_resolve_name(lower);
    return *arch ? 0 : -EINVAL;
}

int brig_seccomp_flag_from_name(const char *name, unsigned *flag)
{
    static const struct {
        const char *name;
        unsigned flag;
    } flags[] = {
        {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
        {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
        {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
        {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
    };

    for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
        if (!strcmp(flags[i].name, name)) {
            *flag = flags[i].flag;
            return 0;
        }
    return -EINVAL;
}

/* ---- validation ---- */

static int errno_ret_of(const brig_opt_u64 *opt, const char *field, size_t idx, bool indexed, uint32_t *out,
                        struct brig_err **err)
{
    *out = EPERM;
    if (!opt->set)
        return 0;
    if (opt->value > 0xffff) {
        if (indexed)
            return brig_err_msg(err, EINVAL, "linux.seccomp.syscalls[%zu].errnoRet: %llu is out of range", idx,
                                (unsigned long long) opt->value);
        return brig_err_msg(err, EINVAL, "linux.seccomp.%s: %llu is out of range", field,
                            (unsigned long long) opt->value);
    }
    *out = (uint32_t) opt->value;
    return 0;
}

int brig_seccomp_validate(const struct brig_seccomp *sc, struct brig_err **err)
{
    uint32_t action, errno_ret, arch;
    unsigned flag;
    bool notify = false;
    int op, ret;

    ret = errno_ret_of(&sc->default_errno_ret, "defaultErrnoRet", 0, false, &errno_ret, err);
    if (ret < 0)
        return ret;
    if (brig_seccomp_action_from_name(sc->default_action, errno_ret, &action) < 0)
        return brig_err_msg(err, EINVAL, "linux.seccomp.defaultAction: unknown action `%s`", sc->default_action);
    if (!strcmp(sc->default_action, "SCMP_ACT_NOTIFY"))
        return brig_err_msg(err, EINVAL, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    if (sc->default_errno_ret.set && !action_takes_errno(sc->default_action))
        return brig_err_msg(err, EINVAL,
                            "linux.seccomp.defaultErrnoRet: only allowed with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, "
                            "not `%s`", sc->default_action);
    for (size_t i = 0; i < sc->n_architectures; i++)
        if (brig_seccomp_arch_from_name(sc->architectures[i], &arch) < 0)
            return brig_err_msg(err, EINVAL, "linux.seccomp.architectures[%zu]: unknown architecture `%s`", i,
                                sc->architectures[i]);
    for (size_t i = 0; i < sc->n_flags; i++)
        if (brig_seccomp_flag_from_name(sc->flags[i], &flag) < 0)
            return brig_err_msg(err, EINVAL, "linux.seccomp.flags[%zu]: unknown flag `%s`", i, sc->flags[i]);
    for (size_t i = 0; i < sc->n_syscalls; i++) {
        const struct brig_seccomp_syscall *s = &sc->syscalls[i];

        ret = errno_ret_of(&s->errno_ret, NULL, i, true, &errno_ret, err);
        if (ret < 0)
            return ret;
        if (brig_seccomp_action_from_name(s->action, errno_ret, &action) < 0)
            return brig_err_msg(err, EINVAL, "linux.seccomp.syscalls[%zu].action: unknown action `%s`", i, s->action);
        if (s->errno_ret.set && !action_takes_errno(s->action))
            return brig_err_msg(err, EINVAL,
                                "linux.seccomp.syscalls[%zu].errnoRet: only allowed with SCMP_ACT_ERRNO and "
                                "SCMP_ACT_TRACE, not `%s`", i, s->action);
        if (s->n_names == 0)
            return brig_err_msg(err, EINVAL, "linux.seccomp.syscalls[%zu].names: expected at least one name", i);
        if (!strcmp(s->action, "SCMP_ACT_NOTIFY"))
            notify = true;
        for (size_t a = 0; a < s->n_args; a++) {
            if (brig_seccomp_op_from_name(s->args[a].op, &op) < 0)
                return brig_err_msg(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu].op: unknown operator `%s`", i,
                                    a, s->args[a].op);
            if (s->args[a].index > 5)
                return brig_err_msg(err, EINVAL,
                                    "linux.seccomp.syscalls[%zu].args[%zu].index: %u is out of range (0-5)", i, a,
                                    s->args[a].index);
        }
    }
    if (notify && !sc->listener_path)
        return brig_err_msg(err, EINVAL, "linux.seccomp.listenerPath: required by the SCMP_ACT_NOTIFY rules");
    return 0;
}

/* ---- canonical form and hash ---- */

uint64_t brig_fnv1a64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ? seed : 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_u64(FILE *f, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char) (v >> (8 * i));
    fwrite(b, 1, sizeof(b), f);
}

/* Length-prefixed, so no two different profiles serialize alike. NULL differs from "". */
static void put_str(FILE *f, const char *s)
{
    if (!s) {
        put_u64(f, UINT64_MAX);
        return;
    }
    put_u64(f, strlen(s));
    fwrite(s, 1, strlen(s), f);
}

static void put_strv(FILE *f, char *const *v, size_t n)
{
    put_u64(f, n);
    for (size_t i = 0; i < n; i++)
        put_str(f, v[i]);
}

static void put_opt(FILE *f, const brig_opt_u64 *o)
{
    put_u64(f, o->set);
    put_u64(f, o->set ? o->value : 0);
}

int brig_seccomp_canonical(const struct brig_seccomp *sc, char **out, size_t *len)
{
    const struct scmp_version *ver = seccomp_version();
    struct utsname uts;
    FILE *f;

    *out = NULL;
    *len = 0;
    f = open_memstream(out, len);
    if (!f)
        return -ENOMEM;
    /* What else shapes the program: how brig builds it (2: with the ENOSYS stub), libseccomp's version
     * (its syscall tables), the native arch, and the kernel (API level). */
    put_str(f, "brig-seccomp-2");
    put_u64(f, ver ? ((uint64_t) ver->major << 32 | ver->minor << 16 | ver->micro) : 0);
    put_u64(f, seccomp_arch_native());
    put_str(f, uname(&uts) == 0 ? uts.release : "");
    put_str(f, sc->default_action);
    put_opt(f, &sc->default_errno_ret);
    put_strv(f, sc->architectures, sc->n_architectures);
    put_u64(f, sc->n_syscalls);
    for (size_t i = 0; i < sc->n_syscalls; i++) {
        const struct brig_seccomp_syscall *s = &sc->syscalls[i];
        put_strv(f, s->names, s->n_names);
        put_str(f, s->action);
        put_opt(f, &s->errno_ret);
        put_u64(f, s->n_args);
        for (size_t a = 0; a < s->n_args; a++) {
            put_u64(f, s->args[a].index);
            put_u64(f, s->args[a].value);
            put_u64(f, s->args[a].value_two);
            put_str(f, s->args[a].op);
        }
    }
    if (fclose(f) != 0 || !*out) {
        free(*out);
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* ---- compile ---- */

static void filter_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

static bool distinct_arg_indexes(const struct brig_seccomp_syscall *s)
{
    unsigned seen = 0;

    for (size_t a = 0; a < s->n_args; a++) {
        if (seen & (1U << s->args[a].index))
            return false;
        seen |= 1U << s->args[a].index;
    }
    return true;
}

/* ipc(2) and socketcall(2): on x86 and s390, libseccomp rewrites a rule on one of their subcalls (msgsnd,
 * bind, ...) into a rule on them. */
static bool is_multiplexer(const char *name)
{
    return !strcmp(name, "ipc") || !strcmp(name, "socketcall");
}

/* `multiplexers`: adds only the rules on ipc and socketcall, else only the others. */
static int add_rules_pass(const struct brig_context *bctx, scmp_filter_ctx ctx, const struct brig_seccomp *sc,
                          uint32_t default_action, bool multiplexers, struct brig_err **err)
{
    for (size_t i = 0; i < sc->n_syscalls; i++) {
        const struct brig_seccomp_syscall *s = &sc->syscalls[i];
        struct scmp_arg_cmp cmps[6];
        uint32_t errno_ret = s->errno_ret.set ? (uint32_t) s->errno_ret.value : EPERM;
        uint32_t action = SCMP_ACT_KILL_PROCESS; /* validated before: never kept */
        bool together = distinct_arg_indexes(s);

        brig_seccomp_action_from_name(s->action, errno_ret, &action);
        /* libseccomp refuses a rule that repeats the default action; it would change nothing anyway. */
        if (action == default_action)
            continue;
        for (size_t a = 0; a < s->n_args && a < ARRAY_SIZE(cmps); a++) {
            int op = 0;
            brig_seccomp_op_from_name(s->args[a].op, &op);
            cmps[a] = (struct scmp_arg_cmp){.arg = s->args[a].index,
                                            .op = (enum scmp_compare) op,
                                            .datum_a = s->args[a].value,
                                            .datum_b = s->args[a].value_two};
        }
        for (size_t n = 0; n < s->n_names; n++) {
            int nr;
            int rc = 0;

            if (is_multiplexer(s->names[n]) != multiplexers)
                continue;
            nr = seccomp_syscall_resolve_name(s->names[n]);

            if (nr == __NR_SCMP_ERROR) {
                brig_log(bctx, BRIG_LOG_DEBUG, "linux.seccomp.syscalls[%zu]: syscall `%s` is unknown to libseccomp: "
                         "skipped", i, s->names[n]);
                continue;
            }
            if (s->n_args == 0)
                rc = seccomp_rule_add_array(ctx, action, nr, 0, NULL);
            else if (together)
                /* Conditions on distinct arguments must all hold (AND). */
                rc = seccomp_rule_add_array(ctx, action, nr, (unsigned) s->n_args, cmps);
            else
                /* libseccomp cannot AND two conditions on one argument: as runc, each is a rule of its own (OR). */
                for (size_t a = 0; a < s->n_args && rc == 0; a++)
                    rc = seccomp_rule_add_array(ctx, action, nr, 1, &cmps[a]);
            if (rc < 0)
                return brig_err_set(err, -rc, "linux.seccomp.syscalls[%zu]: add a rule for `%s`", i, s->names[n]);
        }
    }
    return 0;
}

/* The rules on the multiplexers go first: libseccomp 2.5.4 leaks tree nodes when a rule with arguments on one
 * of them (same action) is added after rules with arguments on two or more of its subcalls (found by
 * fuzz_seccomp; tests/fuzz/corpus/seccomp/leak-multiplexer-after-subcalls). Rules of one action make the same
 * filter in any order; a multiplexer's and a subcall's of different actions overlap only on the 32-bit ABIs. */
static int add_rules(const struct brig_context *bctx, scmp_filter_ctx ctx, const struct brig_seccomp *sc,
                     uint32_t default_action, struct brig_err **err)
{
    int ret = add_rules_pass(bctx, ctx, sc, default_action, true, err);

    return ret < 0 ? ret : add_rules_pass(bctx, ctx, sc, default_action, false, err);
}

static int export_bpf(scmp_filter_ctx ctx, struct brig_seccomp_plan *plan, struct brig_err **err)
{
    cleanup_close int fd = memfd_create("brig-seccomp", MFD_CLOEXEC);
    struct stat st;
    int rc;

    if (fd < 0)
        return brig_err_sys(err, "linux.seccomp: memfd");
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0)
        return brig_err_set(err, -rc, "linux.seccomp: export the compiled filter");
    if (fstat(fd, &st) < 0)
        return brig_err_sys(err, "linux.seccomp: export the compiled filter");
    if (st.st_size <= 0 || st.st_size % (off_t) sizeof(struct sock_filter) != 0 ||
        st.st_size / (off_t) sizeof(struct sock_filter) > BPF_MAXINSNS)
        return brig_err_msg(err, E2BIG, "linux.seccomp: compiled filter has %lld bytes", (long long) st.st_size);
    plan->insns = malloc((size_t) st.st_size);
    if (!plan->insns)
        return brig_err_set(err, ENOMEM, "linux.seccomp");
    if (pread(fd, plan->insns, (size_t) st.st_size, 0) != st.st_size)
        return brig_err_sys(err, "linux.seccomp: read the compiled filter");
    plan->n_insns = (size_t) st.st_size / sizeof(struct sock_filter);
    return 0;
}

int brig_seccomp_compile(const struct brig_context *bctx, const struct brig_seccomp *sc,
                         struct brig_seccomp_plan *plan, struct brig_err **err)
{
    __attribute__((cleanup(filter_releasep))) scmp_filter_ctx ctx = NULL;
    uint32_t errno_ret = sc->default_errno_ret.set ? (uint32_t) sc->default_errno_ret.value : EPERM;
    uint32_t default_action = SCMP_ACT_KILL_PROCESS; /* validated before: never kept */
    int ret;

    brig_seccomp_action_from_name(sc->default_action, errno_ret, &default_action);
    ctx = seccomp_init(default_action);
    if (!ctx)
        return brig_err_msg(err, EINVAL, "linux.seccomp.defaultAction: libseccomp rejects `%s`", sc->default_action);
    for (size_t i = 0; i < sc->n_architectures; i++) {
        uint32_t arch = 0;
        brig_seccomp_arch_from_name(sc->architectures[i], &arch);
        ret = seccomp_arch_add(ctx, arch);
        if (ret < 0 && ret != -EEXIST)
            return brig_err_set(err, -ret, "linux.seccomp.architectures[%zu]: add `%s`", i, sc->architectures[i]);
    }
    ret = add_rules(bctx, ctx, sc, default_action, err);
    if (ret < 0)
        return ret;
    ret = export_bpf(ctx, plan, err);
    if (ret < 0)
        return ret;
    return brig_seccomp_add_enosys_stub(sc, plan, err);
}

/* ---- cache ---- */

static int cache_path(const struct brig_context *ctx, uint64_t hash, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s/%016llx", ctx->root, CACHE_DIR, (unsigned long long) hash);

    return n > 0 && (size_t) n < len ? 0 : -ENAMETOOLONG;
}

static bool cache_load(const char *path, const char *key, size_t key_len, struct brig_seccomp_plan *plan)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    cleanup_free char *data = NULL;
    struct stat st;
    uint64_t stored_key_len, n_insns;
    size_t off = sizeof(CACHE_MAGIC) - 1;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t) (off + 16) ||
        st.st_size > (off_t) (16 << 20))
        return false;
    data = malloc((size_t) st.st_size);
    if (!data || pread(fd, data, (size_t) st.st_size, 0) != st.st_size)
        return false;
    if (memcmp(data, CACHE_MAGIC, off) != 0)
        return false;
    memcpy(&stored_key_len, data + off, 8);
    off += 8;
    if (stored_key_len != key_len || (size_t) st.st_size - off < key_len + 8 || memcmp(data + off, key, key_len))
        return false;
    off += key_len;
    memcpy(&n_insns, data + off, 8);
    off += 8;
    if (n_insns == 0 || n_insns > BPF_MAXINSNS || (size_t) st.st_size - off != n_insns * sizeof(struct sock_filter))
        return false;
    plan->insns = malloc((size_t) n_insns * sizeof(struct sock_filter));
    if (!plan->insns)
        return false;
    memcpy(plan->insns, data + off, (size_t) n_insns * sizeof(struct sock_filter));
    plan->n_insns = (size_t) n_insns;
    return true;
}

/* A private temporary file renamed into place: concurrent creates of one profile never see half a file. */
static int write_cache_file(const char *dir, const char *path, const char *data, size_t len)
{
    cleanup_free char *tmp = NULL;
    int fd, ret = 0;

    if (asprintf(&tmp, "%s/.tmp-XXXXXX", dir) < 0) {
        tmp = NULL;
        return -ENOMEM;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ret = brig_write_all(fd, data, len);
    close(fd);
    if (ret == 0 && rename(tmp, path) < 0)
        ret = -errno;
    if (ret < 0)
        unlink(tmp);
    return ret;
}

static void cache_store(const struct brig_context *ctx, const char *path, const char *key, size_t key_len,
                        const struct brig_seccomp_plan *plan)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *dir = NULL;
    cleanup_free char *data = NULL;
    size_t insns_len = plan->n_insns * sizeof(struct sock_filter);
    size_t magic_len = sizeof(CACHE_MAGIC) - 1;
    size_t len = magic_len + 8 + key_len + 8 + insns_len;
    uint64_t v;
    char *p;
    int ret;

    if (asprintf(&dir, "%s/%s", ctx->root, CACHE_DIR) < 0) {
        dir = NULL;
        return;
    }
    data = malloc(len);
    if (!data)
        return;
    p = data;
    memcpy(p, CACHE_MAGIC, magic_len);
    p += magic_len;
    v = key_len;
    memcpy(p, &v, 8);
    p += 8;
    memcpy(p, key, key_len);
    p += key_len;
    v = plan->n_insns;
    memcpy(p, &v, 8);
    p += 8;
    memcpy(p, plan->insns, insns_len);
    /* The state root as the store makes it (others traverse it), the cache private to root. */
    if (brig_mkdir_p(ctx->root, 0711, &err) < 0 || brig_mkdir_p(dir, 0700, &err) < 0) {
        brig_log(ctx, BRIG_LOG_DEBUG, "seccomp cache: %s", err->msg);
        return;
    }
    ret = write_cache_file(dir, path, data, len);
    if (ret < 0)
        brig_log(ctx, BRIG_LOG_DEBUG, "seccomp cache: write `%s`: %s", path, strerror(-ret));
}

/* ---- listener ---- */

static int json_escape(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
    return 0;
}

static char *memstream_done(FILE *f, char **buf)
{
    if (fclose(f) != 0) {
        free(*buf);
        *buf = NULL;
    }
    return *buf;
}

/* The container process state, cut around the two pids and the status the init fills in. */
static int build_state_parts(const struct brig_spec *spec, const char *id, const char *bundle,
                             struct brig_seccomp_plan *plan, struct brig_err **err)
{
    const struct brig_seccomp *sc = spec->linux_cfg->seccomp;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (asprintf(&plan->state_head, "{\"ociVersion\":\"%s\",\"fds\":[\"seccompFd\"],\"pid\":", BRIG_OCI_VERSION) < 0) {
        plan->state_head = NULL;
        return brig_err_set(err, ENOMEM, "linux.seccomp.listenerPath");
    }
    f = open_memstream(&buf, &len);
    if (!f)
        return brig_err_set(err, ENOMEM, "linux.seccomp.listenerPath");
    if (sc->listener_metadata) {
        fputs(",\"metadata\":", f);
        json_escape(f, sc->listener_metadata);
    }
    fputs(",\"state\":{\"ociVersion\":", f);
    json_escape(f, spec->oci_version);
    fputs(",\"id\":", f);
    json_escape(f, id);
    fputs(",\"status\":\"", f);
    plan->state_mid = memstream_done(f, &buf);
    if (!plan->state_mid)
        return brig_err_set(err, ENOMEM, "linux.seccomp.listenerPath");

    buf = NULL;
    f = open_memstream(&buf, &len);
    if (!f)
        return brig_err_set(err, ENOMEM, "linux.seccomp.listenerPath");
    fputs(",\"bundle\":", f);
    json_escape(f, bundle);
    fputs(",\"annotations\":{", f);
    for (size_t i = 0; i < spec->n_annotations; i++) {
        if (i)
            fputc(',', f);
        json_escape(f, spec->annotations[i].key);
        fputc(':', f);
        json_escape(f, spec->annotations[i].value);
    }
    fputs("}}}", f);
    plan->state_tail = memstream_done(f, &buf);
    if (!plan->state_tail)
        return brig_err_set(err, ENOMEM, "linux.seccomp.listenerPath");
    return 0;
}

static int connect_listener(const char *path, int *sock, struct brig_err **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    cleanup_close int fd = -1;

    if (strlen(path) >= sizeof(addr.sun_path))
        return brig_err_msg(err, ENAMETOOLONG, "linux.seccomp.listenerPath: `%s`", path);
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return brig_err_sys(err, "linux.seccomp.listenerPath: socket");
    if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0)
        return brig_err_sys(err, "linux.seccomp.listenerPath: connect to `%s`", path);
    *sock = steal_fd(fd);
    return 0;
}

/* ---- the plan ---- */

static bool has_notify_rules(const struct brig_seccomp *sc)
{
    for (size_t i = 0; i < sc->n_syscalls; i++)
        if (!strcmp(sc->syscalls[i].action, "SCMP_ACT_NOTIFY"))
            return true;
    return false;
}

int brig_seccomp_plan_build(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                            const char *bundle, struct brig_seccomp_plan *plan, struct brig_err **err)
{
    const struct brig_seccomp *sc = spec->linux_cfg ? spec->linux_cfg->seccomp : NULL;
    cleanup_free char *key = NULL;
    size_t key_len = 0;
    char path[4096];
    bool cacheable;
    int ret;

    memset(plan, 0, sizeof(*plan));
    plan->listener_sock = -1;
    if (!sc)
        return 0;
    ret = brig_seccomp_validate(sc, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < sc->n_flags; i++) {
        unsigned flag = 0;
        brig_seccomp_flag_from_name(sc->flags[i], &flag);
        plan->flags |= flag;
    }
    plan->notify = has_notify_rules(sc);
    if (plan->notify) {
        plan->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        /* The init has one thread, but TSYNC alone cannot be combined with a listener. */
        if (plan->flags & SECCOMP_FILTER_FLAG_TSYNC)
            plan->flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }

    cacheable = brig_seccomp_canonical(sc, &key, &key_len) == 0 &&
                cache_path(ctx, brig_fnv1a64(key, key_len, 0), path, sizeof(path)) == 0;
    if (cacheable && cache_load(path, key, key_len, plan)) {
        plan->from_cache = true;
    } else {
        ret = brig_seccomp_compile(ctx, sc, plan, err);
        if (ret < 0)
            return ret;
        if (cacheable)
            cache_store(ctx, path, key, key_len, plan);
    }
    brig_log(ctx, BRIG_LOG_DEBUG, "seccomp: %zu BPF instructions (%s)", plan->n_insns,
             plan->from_cache ? "cached" : "compiled");

    if (plan->notify) {
        ret = connect_listener(sc->listener_path, &plan->listener_sock, err);
        if (ret < 0)
            return ret;
        ret = build_state_parts(spec, id, bundle, plan, err);
        if (ret < 0)
            return ret;
    }
    plan->active = true;
    return 0;
}

void brig_seccomp_plan_release(struct brig_seccomp_plan *plan)
{
    free(plan->insns);
    free(plan->state_head);
    free(plan->state_mid);
    free(plan->state_tail);
    /* Zero-initialised plans hold no socket: fd 0 is never ours. */
    if (plan->listener_sock > 0)
        close(plan->listener_sock);
    memset(plan, 0, sizeof(*plan));
    plan->listener_sock = -1;
}

/* ---- in the init ---- */

static int send_to_listener(const struct brig_seccomp_plan *plan, int notify_fd, const char *status,
                            struct brig_err **err)
{
    cleanup_free char *json = NULL;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cmsg;
    int len;
    ssize_t n;

    len = asprintf(&json, "%s%d%s%s\",\"pid\":%d%s", plan->state_head, plan->host_pid, plan->state_mid, status,
                   plan->host_pid, plan->state_tail);
    if (len < 0) {
        json = NULL;
        return brig_err_set(err, ENOMEM, "linux.seccomp.listenerPath");
    }
    memset(&control, 0, sizeof(control));
    iov = (struct iovec){.iov_base = json, .iov_len = (size_t) len};
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &notify_fd, sizeof(int));
    do
        n = sendmsg(plan->listener_sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return brig_err_sys(err, "linux.seccomp.listenerPath: send the seccomp fd");
    /* The fd went with the first bytes; the rest of a long state follows without it. */
    if (n < len && brig_write_all(plan->listener_sock, json + n, (size_t) (len - n)) < 0)
        return brig_err_sys(err, "linux.seccomp.listenerPath: send the container state");
    return 0;
}

int brig_seccomp_load(struct brig_seccomp_plan *plan, const char *status, struct brig_err **err)
{
    struct sock_fprog prog = {.len = (unsigned short) plan->n_insns, .filter = plan->insns};
    cleanup_close int notify_fd = -1;
    long rc;
    int ret;

    if (!plan->active)
        return 0;
    rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->flags, &prog);
    if (rc < 0)
        return brig_err_sys(err, "linux.seccomp: load the filter (flags %#x)", plan->flags);
    if (!plan->notify)
        return 0;
    notify_fd = (int) rc;
    ret = send_to_listener(plan, notify_fd, status, err);
    /* One state per connection, then closed (runtime-spec). */
    brig_closep(&plan->listener_sock);
    plan->listener_sock = -1;
    return ret;
}
