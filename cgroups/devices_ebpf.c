/* cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program built from the rule list, loaded and
 * attached with the raw bpf() system call (no libbpf: the program is a few instructions per rule). */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "controllers.h"
#include "../util/util.h"

/* Registers of the program: r1 the context, then what is read from it once at the start. */
enum { R0, R1, R_ACCESS_TYPE, R_TYPE, R_ACCESS, R_MAJOR, R_MINOR, R_SCRATCH };

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define MOV64_REG(dst, src) INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define AND64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm)
#define RSH64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm)
#define JNE32_IMM(dst, imm, off) INSN(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JEQ32_IMM(dst, imm, off) INSN(BPF_JMP32 | BPF_JEQ | BPF_K, dst, 0, off, imm)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define ACC_ALL 7u

/* Instructions of one rule's block: each test jumps past the block when the request does not match.
 * *always is set when the block matches every request (nothing after it is reachable). */
static size_t emit_rule(const struct brig_dev_rule *rule, struct bpf_insn *out, bool *always)
{
    struct bpf_insn block[16];
    size_t n = 0, jumps[8], n_jumps = 0;

    if (rule->type != 'a') {
        jumps[n_jumps++] = n;
        block[n++] = JNE32_IMM(R_TYPE, rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
    }
    if (rule->major >= 0) {
        jumps[n_jumps++] = n;
        block[n++] = JNE32_IMM(R_MAJOR, (int32_t) (uint32_t) rule->major, 0);
    }
    if (rule->minor >= 0) {
        jumps[n_jumps++] = n;
        block[n++] = JNE32_IMM(R_MINOR, (int32_t) (uint32_t) rule->minor, 0);
    }
    if (rule->allow && (rule->access & ACC_ALL) != ACC_ALL) {
        /* Allowed only when every access asked for is in the rule. */
        block[n++] = MOV64_REG(R_SCRATCH, R_ACCESS);
        block[n++] = AND64_IMM(R_SCRATCH, (int32_t) (~rule->access & ACC_ALL));
        jumps[n_jumps++] = n;
        block[n++] = JNE32_IMM(R_SCRATCH, 0, 0);
    } else if (!rule->allow && (rule->access & ACC_ALL) != ACC_ALL) {
        /* Denied when any access asked for is in the rule. */
        block[n++] = MOV64_REG(R_SCRATCH, R_ACCESS);
        block[n++] = AND64_IMM(R_SCRATCH, (int32_t) rule->access);
        jumps[n_jumps++] = n;
        block[n++] = JEQ32_IMM(R_SCRATCH, 0, 0);
    }
    block[n++] = MOV64_IMM(R0, rule->allow ? 1 : 0);
    block[n++] = EXIT();
    for (size_t i = 0; i < n_jumps; i++)
        block[jumps[i]].off = (int16_t) (n - jumps[i] - 1);
    *always = n_jumps == 0;
    if (out)
        memcpy(out, block, n * sizeof(*block));
    return n;
}

int brig_dev_bpf_build(const struct brig_dev_rule *rules, size_t n, void **insns, size_t *n_insns,
                       struct brig_err **err)
{
    static const struct bpf_insn prologue[] = {
        LDX_W(R_ACCESS_TYPE, R1, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
        MOV64_REG(R_TYPE, R_ACCESS_TYPE),
        AND64_IMM(R_TYPE, 0xffff),
        MOV64_REG(R_ACCESS, R_ACCESS_TYPE),
        RSH64_IMM(R_ACCESS, 16),
        LDX_W(R_MAJOR, R1, offsetof(struct bpf_cgroup_dev_ctx, major)),
        LDX_W(R_MINOR, R1, offsetof(struct bpf_cgroup_dev_ctx, minor)),
    };
    struct bpf_insn *prog;
    size_t count = ARRAY_SIZE(prologue), at;
    bool always = false;

    /* The last matching rule decides: test them from the end, the first match returns. The verifier
     * refuses unreachable code, so emission stops at a rule that matches everything (the deny-all that
     * starts every list, usually). */
    for (size_t i = n; i-- > 0 && !always;)
        count += emit_rule(&rules[i], NULL, &always);
    if (!always)
        count += 2;
    /* BPF_MAXINSNS is what an unprivileged verifier takes; far more than any real rule list needs. */
    if (count > BPF_MAXINSNS)
        return brig_err_msg(err, E2BIG, "linux.resources.devices: %zu rules make too large a program", n);
    prog = calloc(count, sizeof(*prog));
    if (!prog)
        return brig_err_set(err, ENOMEM, "linux.resources.devices");
    memcpy(prog, prologue, sizeof(prologue));
    at = ARRAY_SIZE(prologue);
    always = false;
    for (size_t i = n; i-- > 0 && !always;)
        at += emit_rule(&rules[i], prog + at, &always);
    if (!always) {
        prog[at++] = MOV64_IMM(R0, 0);
        prog[at++] = EXIT();
    }
    *insns = prog;
    *n_insns = at;
    return 0;
}

static int bpf(int cmd, union bpf_attr *attr)
{
    return (int) syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_id_of(int prog_fd, uint32_t *id)
{
    struct bpf_prog_info info;
    union bpf_attr attr;

    memset(&info, 0, sizeof(info));
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t) prog_fd;
    attr.info.info_len = sizeof(info);
    attr.info.info = (uint64_t) (uintptr_t) &info;
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
        return -errno;
    *id = info.id;
    return 0;
}

int brig_dev_bpf_attach(int dirfd, const void *insns, size_t n_insns, const char *where, struct brig_err **err)
{
    char log[4096] = "";
    uint32_t old_ids[64], new_id = 0, n_old = ARRAY_SIZE(old_ids);
    cleanup_close int prog_fd = -1;
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t) (uintptr_t) insns;
    attr.insn_cnt = (uint32_t) n_insns;
    attr.license = (uint64_t) (uintptr_t) "Apache";
    attr.log_buf = (uint64_t) (uintptr_t) log;
    attr.log_size = sizeof(log);
    attr.log_level = 1;
    prog_fd = bpf(BPF_PROG_LOAD, &attr);
    if (prog_fd < 0 && errno == ENOSPC) {
        /* The verifier's log did not fit: load again without it, for the error alone. */
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        prog_fd = bpf(BPF_PROG_LOAD, &attr);
    }
    if (prog_fd < 0) {
        /* The verifier's reason is the last line before its statistics ("processed N insns ..."). */
        const char *reason = "";
        for (char *line = log, *next; *line; line = next) {
            next = line + strcspn(line, "\n");
            if (*next)
                *next++ = '\0';
            if (strncmp(line, "processed ", 10) && strncmp(line, "verification time", 17) && *line)
                reason = line;
        }
        return brig_err_sys(err, "load device program for `%s`%s%s", where, *reason ? ": verifier: " : "", reason);
    }

    /* The programs attached before (an update, or someone else's): detached once ours is in place. */
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t) dirfd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t) (uintptr_t) old_ids;
    attr.query.prog_cnt = n_old;
    if (bpf(BPF_PROG_QUERY, &attr) < 0)
        n_old = 0;
    else
        n_old = attr.query.prog_cnt < n_old ? attr.query.prog_cnt : n_old;

    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t) dirfd;
    attr.attach_bpf_fd = (uint32_t) prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, &attr) < 0)
        return brig_err_sys(err, "attach device program to `%s`", where);
    prog_id_of(prog_fd, &new_id);

    for (uint32_t i = 0; i < n_old; i++) {
        cleanup_close int old_fd = -1;
        if (old_ids[i] == new_id)
            continue;
        memset(&attr, 0, sizeof(attr));
        attr.prog_id = old_ids[i];
        old_fd = bpf(BPF_PROG_GET_FD_BY_ID, &attr);
        if (old_fd < 0)
            continue;
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t) dirfd;
        attr.attach_bpf_fd = (uint32_t) old_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
            return brig_err_sys(err, "detach the old device program %u from `%s`", old_ids[i], where);
    }
    return 0;
}
