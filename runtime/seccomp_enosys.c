/* The ENOSYS stub in front of a compiled seccomp filter. A profile refuses, with its default action, every
 * system call it does not name, including the ones added to the kernel after the profile was written. A
 * program tries such a call first and falls back to an older one only on ENOSYS (glibc's clone3 -> clone,
 * faccessat2, openat2, close_range ...); an EPERM breaks it. So, per architecture, a call numbered above the
 * highest one the profile names gets ENOSYS before the filter sees it, as runc does. Calls inside the range
 * keep the profile's default action: the stub knows nothing about holes in the syscall table. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "security.h"
#include "../util/util.h"

/* x32 calls arrive with the x86_64 audit token and this bit in their number (asm/unistd.h on x86). */
#define X32_SYSCALL_BIT 0x40000000u
/* "Nothing above": a jgt against it never jumps. */
#define NO_LIMIT UINT32_MAX
#define MAX_ARCHES 24
#define MAX_STUB 256

#define STMT(code_, k_) ((struct sock_filter){.code = (code_), .jt = 0, .jf = 0, .k = (k_)})
#define JUMP(code_, k_, jt_, jf_) ((struct sock_filter){.code = (code_), .jt = (jt_), .jf = (jf_), .k = (k_)})

/* One audit token and the highest number named for it; x86_64 has a second one for its x32 calls. */
struct token_limit {
    uint32_t token;
    uint32_t max;
    uint32_t max_x32;
};

/* The default actions that let an unknown call through, or already answer ENOSYS: no stub. A tracer
 * (SCMP_ACT_TRACE) decides for itself, and answers ENOSYS where it emulates nothing. */
static bool needs_stub(const struct brig_seccomp *sc)
{
    const char *a = sc->default_action;

    if (!strcmp(a, "SCMP_ACT_ALLOW") || !strcmp(a, "SCMP_ACT_LOG") || !strcmp(a, "SCMP_ACT_TRACE"))
        return false;
    return !(!strcmp(a, "SCMP_ACT_ERRNO") && sc->default_errno_ret.set && sc->default_errno_ret.value == ENOSYS);
}

/* The highest number of a call the profile names, for `arch`, or -1 when it names none libseccomp knows
 * there. Pseudo numbers (negative: a call that does not exist on the arch, or is multiplexed) do not count. */
static int64_t highest_named(const struct brig_seccomp *sc, uint32_t arch)
{
    int64_t max = -1;

    for (size_t i = 0; i < sc->n_syscalls; i++)
        for (size_t n = 0; n < sc->syscalls[i].n_names; n++) {
            int nr = seccomp_syscall_resolve_name_arch(arch, sc->syscalls[i].names[n]);
            if (nr >= 0 && nr > max)
                max = nr;
        }
    return max;
}

static void note_arch(const struct brig_seccomp *sc, uint32_t arch, struct token_limit *limits, size_t *n)
{
    uint32_t token = arch == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : arch;
    int64_t max = highest_named(sc, arch);
    struct token_limit *t = NULL;

    if (max < 0)
        return; /* nothing named: the filter alone answers (its default action) */
    for (size_t i = 0; i < *n; i++)
        if (limits[i].token == token)
            t = &limits[i];
    if (!t) {
        if (*n == MAX_ARCHES)
            return;
        t = &limits[(*n)++];
        *t = (struct token_limit){.token = token, .max = NO_LIMIT, .max_x32 = NO_LIMIT};
    }
    if (arch == SCMP_ARCH_X32)
        t->max_x32 = (uint32_t) max;
    else
        t->max = (uint32_t) max;
}

/* One block per token: not this token, go to the next block; a number above the limit, ENOSYS; else the
 * filter. Every conditional jump stays inside its block; the last one, `ja`, is patched once the stub's
 * length is known. Returns the block's length. */
static size_t emit_block(const struct token_limit *t, struct sock_filter *out, size_t *ja_at)
{
    struct sock_filter b[8];
    size_t n = 0, enosys, ja;
    bool x86_64 = t->token == SCMP_ARCH_X86_64;
    bool s390 = t->token == SCMP_ARCH_S390 || t->token == SCMP_ARCH_S390X;
    size_t len = 5 + (x86_64 ? 2 : 0) + (s390 ? 1 : 0);

    enosys = len - 2;
    ja = len - 1;
    b[n] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, t->token, 0, (uint8_t) (len - n - 1));
    n++;
    b[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    if (s390) {
        /* A number the kernel does not know reaches the filter as 0 (the multiplexer of large numbers). */
        b[n] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t) (enosys - n - 1), 0);
        n++;
    }
    if (x86_64) {
        /* x32 numbers carry their bit: they are compared with the x32 limit. */
        b[n] = JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 1, 0);
        n++;
        b[n] = JUMP(BPF_JMP | BPF_JGT | BPF_K, t->max, (uint8_t) (enosys - n - 1), (uint8_t) (ja - n - 1));
        n++;
        b[n] = JUMP(BPF_JMP | BPF_JGT | BPF_K, t->max_x32, (uint8_t) (enosys - n - 1), (uint8_t) (ja - n - 1));
        n++;
    } else {
        b[n] = JUMP(BPF_JMP | BPF_JGT | BPF_K, t->max, (uint8_t) (enosys - n - 1), (uint8_t) (ja - n - 1));
        n++;
    }
    b[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    b[n++] = STMT(BPF_JMP | BPF_JA, 0);
    memcpy(out, b, n * sizeof(*b));
    *ja_at = n - 1;
    return n;
}

int brig_seccomp_add_enosys_stub(const struct brig_seccomp *sc, struct brig_seccomp_plan *plan,
                                 struct brig_err **err)
{
    struct token_limit limits[MAX_ARCHES];
    struct sock_filter stub[MAX_STUB];
    size_t n_limits = 0, n = 0, jas[MAX_ARCHES], n_jas = 0;
    struct sock_filter *prog;

    if (!needs_stub(sc))
        return 0;
    /* libseccomp's filter always covers the native arch, whether the profile lists it or not. */
    note_arch(sc, seccomp_arch_native(), limits, &n_limits);
    for (size_t i = 0; i < sc->n_architectures; i++) {
        uint32_t arch = 0;
        if (brig_seccomp_arch_from_name(sc->architectures[i], &arch) == 0)
            note_arch(sc, arch, limits, &n_limits);
    }
    if (n_limits == 0)
        return 0;
    stub[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    for (size_t i = 0; i < n_limits; i++) {
        size_t ja_at = 0;
        size_t len = emit_block(&limits[i], stub + n, &ja_at);
        jas[n_jas++] = n + ja_at;
        n += len;
    }
    /* A token without a block falls through into the filter, which takes it as its own or as a bad arch. */
    for (size_t i = 0; i < n_jas; i++)
        stub[jas[i]].k = (uint32_t) (n - jas[i] - 1);
    if (plan->n_insns + n > BPF_MAXINSNS)
        return brig_err_msg(err, E2BIG, "linux.seccomp: the compiled filter has %zu instructions", plan->n_insns + n);
    prog = malloc((plan->n_insns + n) * sizeof(*prog));
    if (!prog)
        return brig_err_set(err, ENOMEM, "linux.seccomp");
    memcpy(prog, stub, n * sizeof(*prog));
    memcpy(prog + n, plan->insns, plan->n_insns * sizeof(*prog));
    free(plan->insns);
    plan->insns = prog;
    plan->n_insns += n;
    return 0;
}
