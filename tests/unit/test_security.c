/* Process security: capability, seccomp, scheduler, I/O priority and personality names and values are checked
 * before the init is cloned, with messages that name the field; seccomp profiles compile and hit the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/security.h"
#include "spec/spec.h"
#include "util/util.h"

static struct brig_spec *parse(const char *process_extra, const char *linux_extra)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    struct brig_spec *spec = NULL;

    assert_true(asprintf(&json,
                         "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                         "\"process\":{\"cwd\":\"/\",\"args\":[\"true\"]%s%s},"
                         "\"linux\":{\"namespaces\":[]%s%s}}",
                         process_extra ? "," : "", process_extra ? process_extra : "", linux_extra ? "," : "",
                         linux_extra ? linux_extra : "") > 0);
    if (brig_spec_parse(json, strlen(json), &spec, &err) < 0)
        fail_msg("parse: %s", err->msg);
    return spec;
}

static struct brig_context test_ctx(const char *root)
{
    return (struct brig_context){.root = root, .log_fd = -1};
}

/* Runs the whole prepare step and returns its error message (NULL on success). */
static char *prepare_error(const char *process_extra, const char *linux_extra)
{
    cleanup_spec struct brig_spec *spec = parse(process_extra, linux_extra);
    struct brig_context ctx = test_ctx("/proc/brig-test-no-cache");
    cleanup_security struct brig_security sec = {.seccomp.listener_sock = -1};
    struct brig_err *err = NULL;
    char *msg = NULL;

    if (brig_security_prepare(&ctx, spec, "c1", "/bundle", &sec, &err) < 0) {
        msg = strdup(err->msg);
        brig_err_free(&err);
    }
    return msg;
}

#define assert_prepare_error(process_extra, linux_extra, expected)                                            \
    do {                                                                                                       \
        cleanup_free char *msg_ = prepare_error(process_extra, linux_extra);                                   \
        if (!msg_)                                                                                             \
            fail_msg("expected an error: %s", expected);                                                      \
        assert_string_equal(msg_, expected);                                                                   \
    } while (0)

/* ---- capabilities ---- */

static void test_cap_names(void **state)
{
    int cap = -1;

    assert_int_equal(brig_cap_from_name("CAP_CHOWN", &cap), 0);
    assert_int_equal(cap, 0);
    assert_int_equal(brig_cap_from_name("CAP_SYS_ADMIN", &cap), 0);
    assert_int_equal(cap, 21);
    assert_int_equal(brig_cap_from_name("CAP_CHECKPOINT_RESTORE", &cap), 0);
    assert_int_equal(cap, 40);
    assert_int_equal(brig_cap_from_name("cap_chown", &cap), -EINVAL);
    assert_int_equal(brig_cap_from_name("CAP_chown", &cap), -EINVAL);
    assert_int_equal(brig_cap_from_name("SYS_ADMIN", &cap), -EINVAL);
    assert_int_equal(brig_cap_from_name("CAP_FOO", &cap), -EINVAL);
    assert_int_equal(brig_cap_from_name("CAP_", &cap), -EINVAL);
    assert_int_equal(brig_cap_from_name("12", &cap), -EINVAL);
}

static void test_caps_plan(void **state)
{
    cleanup_spec struct brig_spec *spec = parse(
        "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_SYS_RESOURCE\"],\"effective\":[\"CAP_KILL\"],"
        "\"permitted\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],\"inheritable\":[\"CAP_NET_BIND_SERVICE\"],"
        "\"ambient\":[\"CAP_NET_BIND_SERVICE\",\"CAP_KILL\"]}",
        NULL);
    uint64_t host = ~0ULL & ~(1ULL << 24); /* no CAP_SYS_RESOURCE, as on the test machine */
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *warnings = NULL;
    struct brig_caps_plan plan;

    assert_int_equal(brig_caps_plan_build(spec->process, host, &plan, &warnings, &err), 0);
    assert_true(plan.apply);
    assert_int_equal(plan.sets[BRIG_CAP_BOUNDING], 1ULL << 5); /* CAP_SYS_RESOURCE silently left out */
    assert_int_equal(plan.sets[BRIG_CAP_EFFECTIVE], 1ULL << 5);
    assert_int_equal(plan.sets[BRIG_CAP_PERMITTED], (1ULL << 5) | (1ULL << 10));
    assert_int_equal(plan.sets[BRIG_CAP_INHERITABLE], 1ULL << 10);
    /* CAP_KILL is not inheritable: the kernel would refuse it, so it is dropped with a warning. */
    assert_int_equal(plan.sets[BRIG_CAP_AMBIENT], 1ULL << 10);
    assert_non_null(warnings);
    assert_non_null(strstr(warnings, "process.capabilities.ambient: `CAP_KILL` ignored"));
}

static void test_caps_absent(void **state)
{
    cleanup_spec struct brig_spec *spec = parse(NULL, NULL);
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *warnings = NULL;
    struct brig_caps_plan plan;

    assert_int_equal(brig_caps_plan_build(spec->process, ~0ULL, &plan, &warnings, &err), 0);
    assert_false(plan.apply);
}

static void test_caps_errors(void **state)
{
    cleanup_spec struct brig_spec *spec =
        parse("\"capabilities\":{\"permitted\":[\"CAP_KILL\",\"CAP_SYS_RESOURCE\"]}", NULL);
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *warnings = NULL;
    struct brig_caps_plan plan;

    assert_true(brig_caps_plan_build(spec->process, ~0ULL & ~(1ULL << 24), &plan, &warnings, &err) < 0);
    assert_string_equal(err->msg, "process.capabilities.permitted: `CAP_SYS_RESOURCE` is not in brig's bounding set");

    assert_prepare_error("\"capabilities\":{\"effective\":[\"CAP_KILL\"]}", NULL,
                         "process.capabilities.effective: `CAP_KILL` is not in the permitted set");
}

static void test_caps_unknown_skipped(void **state)
{
    cleanup_spec struct brig_spec *spec =
        parse("\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_FOO\"],\"permitted\":[\"cap_kill\"]}", NULL);
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *warnings = NULL;
    struct brig_caps_plan plan;

    (void) state;
    assert_int_equal(brig_caps_plan_build(spec->process, ~0ULL, &plan, &warnings, &err), 0);
    assert_true(plan.sets[BRIG_CAP_BOUNDING] == 1ULL << 5);
    assert_true(plan.sets[BRIG_CAP_PERMITTED] == 0);
    assert_non_null(warnings);
    assert_non_null(strstr(warnings, "process.capabilities.bounding: `CAP_FOO` ignored: unknown capability"));
    assert_non_null(strstr(warnings, "process.capabilities.permitted: `cap_kill` ignored: unknown capability"));
}

/* ---- seccomp ---- */

static void test_seccomp_names(void **state)
{
    uint32_t action, arch;
    unsigned flag;
    int op;

    assert_int_equal(brig_seccomp_action_from_name("SCMP_ACT_ERRNO", 13, &action), 0);
    assert_int_equal(action, 0x00050000U | 13);
    assert_int_equal(brig_seccomp_action_from_name("SCMP_ACT_KILL_PROCESS", 0, &action), 0);
    assert_int_equal(action, 0x80000000U);
    assert_int_equal(brig_seccomp_action_from_name("SCMP_ACT_KILL", 0, &action), 0);
    assert_int_equal(action, 0U);
    assert_int_equal(brig_seccomp_action_from_name("SCMP_ACT_NOTIFY", 0, &action), 0);
    assert_int_equal(brig_seccomp_action_from_name("SCMP_ACT_FOO", 0, &action), -EINVAL);
    assert_int_equal(brig_seccomp_op_from_name("SCMP_CMP_MASKED_EQ", &op), 0);
    assert_int_equal(brig_seccomp_op_from_name("SCMP_CMP_XX", &op), -EINVAL);
    assert_int_equal(brig_seccomp_arch_from_name("SCMP_ARCH_X86_64", &arch), 0);
    assert_int_equal(brig_seccomp_arch_from_name("SCMP_ARCH_AARCH64", &arch), 0);
    assert_int_equal(brig_seccomp_arch_from_name("SCMP_ARCH_x86_64", &arch), -EINVAL);
    assert_int_equal(brig_seccomp_arch_from_name("SCMP_ARCH_FOO", &arch), -EINVAL);
    assert_int_equal(brig_seccomp_arch_from_name("X86_64", &arch), -EINVAL);
    assert_int_equal(brig_seccomp_flag_from_name("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", &flag), 0);
    assert_int_equal(flag, 32);
    assert_int_equal(brig_seccomp_flag_from_name("SECCOMP_FILTER_FLAG_NEW_LISTENER", &flag), -EINVAL);
}

static void test_seccomp_errors(void **state)
{
    assert_prepare_error(NULL,
                         "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                         "{\"names\":[\"a\"],\"action\":\"SCMP_ACT_ERRNO\"},{\"names\":[\"b\"],\"action\":\"SCMP_ACT_LOG\"},"
                         "{\"names\":[\"c\"],\"action\":\"SCMP_ACT_TRAP\"},{\"names\":[\"d\"],\"action\":\"SCMP_ACT_FOO\"}]}",
                         "linux.seccomp.syscalls[3].action: unknown action `SCMP_ACT_FOO`");
    assert_prepare_error(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_BAR\"}",
                         "linux.seccomp.defaultAction: unknown action `SCMP_ACT_BAR`");
    assert_prepare_error(NULL,
                         "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"personality\"],"
                         "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_FOO\"}]}]}",
                         "linux.seccomp.syscalls[0].args[0].op: unknown operator `SCMP_CMP_FOO`");
    assert_prepare_error(NULL,
                         "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"personality\"],"
                         "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                         "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)");
    assert_prepare_error(NULL,
                         "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
                         "\"SCMP_ARCH_PDP11\"]}",
                         "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_PDP11`");
    assert_prepare_error(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_X\"]}",
                         "linux.seccomp.flags[0]: unknown flag `SECCOMP_FILTER_FLAG_X`");
    assert_prepare_error(NULL,
                         "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                         "\"action\":\"SCMP_ACT_KILL\",\"errnoRet\":1}]}",
                         "linux.seccomp.syscalls[0].errnoRet: only allowed with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, "
                         "not `SCMP_ACT_KILL`");
    assert_prepare_error(NULL,
                         "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                         "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                         "linux.seccomp.listenerPath: required by the SCMP_ACT_NOTIFY rules");
    assert_prepare_error(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}",
                         "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
}

static void test_fnv1a(void **state)
{
    assert_int_equal(brig_fnv1a64("", 0, 0), 0xcbf29ce484222325ULL);
    assert_int_equal(brig_fnv1a64("a", 1, 0), 0xaf63dc4c8601ec8cULL);
    assert_int_equal(brig_fnv1a64("foobar", 6, 0), 0x85944171f73967e8ULL);
}

static void test_seccomp_canonical(void **state)
{
    cleanup_spec struct brig_spec *a = parse(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
                                                   "[{\"names\":[\"mkdir\",\"rmdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
    cleanup_spec struct brig_spec *b = parse(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
                                                   "[{\"names\":[\"mkdir\",\"rmdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
    /* Same names, split differently: must not serialize alike. */
    cleanup_spec struct brig_spec *c = parse(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
                                                   "[{\"names\":[\"mkdirrmdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
    cleanup_free char *ka = NULL, *kb = NULL, *kc = NULL;
    size_t la, lb, lc;

    assert_int_equal(brig_seccomp_canonical(a->linux_cfg->seccomp, &ka, &la), 0);
    assert_int_equal(brig_seccomp_canonical(b->linux_cfg->seccomp, &kb, &lb), 0);
    assert_int_equal(brig_seccomp_canonical(c->linux_cfg->seccomp, &kc, &lc), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ka, kb, la);
    assert_true(la != lc || memcmp(ka, kc, la) != 0);
}

static void test_seccomp_compile_and_cache(void **state)
{
    cleanup_spec struct brig_spec *spec =
        parse(NULL, "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
                    "\"SCMP_ARCH_X86\"],\"syscalls\":[{\"names\":[\"mkdir\",\"no_such_syscall\"],"
                    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},{\"names\":[\"personality\"],"
                    "\"action\":\"SCMP_ACT_KILL_PROCESS\",\"args\":[{\"index\":0,\"value\":4294967295,"
                    "\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":255,\"valueTwo\":9,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}");
    char root[] = "/tmp/brig-test-seccomp.XXXXXX";
    cleanup_err struct brig_err *err = NULL;
    struct brig_seccomp_plan first, second;
    struct brig_context ctx;
    char cmd[128];

    assert_non_null(mkdtemp(root));
    ctx = test_ctx(root);
    if (brig_seccomp_plan_build(&ctx, spec, "c1", "/b", &first, &err) < 0)
        fail_msg("%s", err->msg);
    assert_true(first.active);
    assert_false(first.from_cache);
    assert_true(first.n_insns > 10);
    assert_int_equal(brig_seccomp_plan_build(&ctx, spec, "c1", "/b", &second, &err), 0);
    assert_true(second.from_cache);
    assert_int_equal(first.n_insns, second.n_insns);
    assert_memory_equal(first.insns, second.insns, first.n_insns * 8);
    brig_seccomp_plan_release(&first);
    brig_seccomp_plan_release(&second);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* ---- the ENOSYS stub: the compiled program run by a small classic-BPF interpreter ---- */

static uint32_t run_filter(const struct brig_seccomp_plan *plan, uint32_t arch, uint32_t nr)
{
    const struct sock_filter *prog = plan->insns;
    struct seccomp_data data = {.nr = (int) nr, .arch = arch};
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};

    for (size_t pc = 0; pc < plan->n_insns; pc++) {
        const struct sock_filter *i = &prog[pc];
        uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
        bool taken;

        switch (BPF_CLASS(i->code)) {
        case BPF_LD:
            if (BPF_MODE(i->code) == BPF_ABS) {
                assert_true(BPF_SIZE(i->code) == BPF_W && i->k + 4 <= sizeof(data));
                memcpy(&a, (const char *) &data + i->k, 4);
            } else if (BPF_MODE(i->code) == BPF_MEM) {
                a = mem[i->k];
            } else {
                assert_int_equal(BPF_MODE(i->code), BPF_IMM);
                a = i->k;
            }
            break;
        case BPF_LDX:
            x = BPF_MODE(i->code) == BPF_MEM ? mem[i->k] : i->k;
            break;
        case BPF_ST: mem[i->k] = a; break;
        case BPF_STX: mem[i->k] = x; break;
        case BPF_ALU:
            switch (BPF_OP(i->code)) {
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_AND: a &= src; break;
            case BPF_OR: a |= src; break;
            case BPF_XOR: a ^= src; break;
            case BPF_LSH: a <<= src; break;
            case BPF_RSH: a >>= src; break;
            default: fail_msg("ALU op %#x at %zu", BPF_OP(i->code), pc);
            }
            break;
        case BPF_JMP:
            if (BPF_OP(i->code) == BPF_JA) {
                pc += i->k;
                break;
            }
            switch (BPF_OP(i->code)) {
            case BPF_JEQ: taken = a == src; break;
            case BPF_JGT: taken = a > src; break;
            case BPF_JGE: taken = a >= src; break;
            case BPF_JSET: taken = (a & src) != 0; break;
            default: fail_msg("JMP op %#x at %zu", BPF_OP(i->code), pc); return 0;
            }
            pc += taken ? i->jt : i->jf;
            break;
        case BPF_RET: return BPF_RVAL(i->code) == BPF_A ? a : i->k;
        case BPF_MISC:
            if (BPF_MISCOP(i->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default: fail_msg("class %#x at %zu", BPF_CLASS(i->code), pc);
        }
    }
    fail_msg("the program ran off its end");
    return 0;
}

static void plan_for(const char *seccomp, struct brig_seccomp_plan *plan)
{
    cleanup_spec struct brig_spec *spec = parse(NULL, seccomp);
    struct brig_context ctx = test_ctx("/proc/brig-test-no-cache");
    cleanup_err struct brig_err *err = NULL;

    if (brig_seccomp_plan_build(&ctx, spec, "c1", "/b", plan, &err) < 0)
        fail_msg("%s", err->msg);
}

#define X32 0x40000000u
#define ENOSYS_RET (SECCOMP_RET_ERRNO | ENOSYS)
#define EPERM_RET (SECCOMP_RET_ERRNO | EPERM)

static void test_seccomp_enosys_stub(void **state)
{
    struct brig_seccomp_plan plan;

    if (seccomp_arch_native() != SCMP_ARCH_X86_64)
        skip();
    /* rseq: 334 on x86_64, 386 on i386, x32's 334 with its bit. */
    plan_for("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86_64\","
             "\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],\"syscalls\":[{\"names\":[\"read\",\"rseq\",\"no_such_call\"],"
             "\"action\":\"SCMP_ACT_ALLOW\"}]}",
             &plan);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 1000), ENOSYS_RET);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 335), ENOSYS_RET);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 334), SECCOMP_RET_ALLOW);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 83), EPERM_RET); /* mkdir: known, not allowed */
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, X32 | 1000), ENOSYS_RET);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, X32 | 334), SECCOMP_RET_ALLOW);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, X32 | 83), EPERM_RET);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_I386, 387), ENOSYS_RET);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_I386, 386), SECCOMP_RET_ALLOW);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_I386, 39), EPERM_RET);
    /* An arch the profile does not list gets libseccomp's bad-arch action, not ENOSYS. */
    assert_int_not_equal(run_filter(&plan, AUDIT_ARCH_AARCH64, 1000), ENOSYS_RET);
    brig_seccomp_plan_release(&plan);

    /* Without x32 in the profile, x32 calls are the filter's to refuse; the native arch needs no listing. */
    plan_for("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":[{\"names\":[\"rseq\"],"
             "\"action\":\"SCMP_ACT_ALLOW\"}]}",
             &plan);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 1000), ENOSYS_RET);
    assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 83), SECCOMP_RET_KILL_PROCESS);
    assert_int_not_equal(run_filter(&plan, AUDIT_ARCH_X86_64, X32 | 1000), ENOSYS_RET);
    brig_seccomp_plan_release(&plan);
}

/* Default actions that let calls through, or answer ENOSYS already, get no stub. */
static void test_seccomp_no_enosys_stub(void **state)
{
    static const char *const profiles[] = {
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
        "\"action\":\"SCMP_ACT_ERRNO\"}]}",
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_LOG\",\"syscalls\":[{\"names\":[\"mkdir\"],"
        "\"action\":\"SCMP_ACT_ERRNO\"}]}",
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_TRACE\",\"syscalls\":[{\"names\":[\"mkdir\"],"
        "\"action\":\"SCMP_ACT_ERRNO\"}]}",
        "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":[{\"names\":"
        "[\"mkdir\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
    };
    static const uint32_t want[] = {SECCOMP_RET_ALLOW, SECCOMP_RET_LOG, SECCOMP_RET_TRACE | EPERM, ENOSYS_RET};

    for (size_t i = 0; i < ARRAY_SIZE(profiles); i++) {
        struct brig_seccomp_plan plan;

        plan_for(profiles[i], &plan);
        assert_int_equal(run_filter(&plan, AUDIT_ARCH_X86_64, 1000), want[i]);
        brig_seccomp_plan_release(&plan);
    }
}

/* ---- scheduler, I/O priority, personality, CPU lists ---- */

static void test_sched_errors(void **state)
{
    assert_prepare_error("\"scheduler\":{\"policy\":\"SCHED_FOO\"}", NULL,
                         "process.scheduler.policy: unknown policy `SCHED_FOO`");
    assert_prepare_error("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"nice\":20}", NULL,
                         "process.scheduler.nice: 20 is out of range (-20 to 19)");
    assert_prepare_error("\"scheduler\":{\"policy\":\"SCHED_BATCH\",\"priority\":3}", NULL,
                         "process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, not SCHED_BATCH");
    assert_prepare_error("\"scheduler\":{\"policy\":\"SCHED_FIFO\"}", NULL,
                         "process.scheduler.priority: 0 is out of range (1-99) for SCHED_FIFO");
    assert_prepare_error("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"runtime\":100}", NULL,
                         "process.scheduler: runtime, deadline and period need SCHED_DEADLINE, not SCHED_OTHER");
    assert_prepare_error("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_NOPE\"]}", NULL,
                         "process.scheduler.flags[0]: unknown flag `SCHED_FLAG_NOPE`");
    assert_prepare_error("\"ioPriority\":{\"class\":\"IOPRIO_CLASS_XX\"}", NULL,
                         "process.ioPriority.class: unknown class `IOPRIO_CLASS_XX`");
    assert_prepare_error("\"ioPriority\":{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":8}", NULL,
                         "process.ioPriority.priority: 8 is out of range (0-7)");
    assert_prepare_error(NULL, "\"personality\":{\"domain\":\"LINUX64\"}",
                         "linux.personality.domain: unknown domain `LINUX64` (LINUX or LINUX32)");
    assert_prepare_error(NULL, "\"personality\":{\"domain\":\"LINUX\",\"flags\":[\"NOPE\"]}",
                         "linux.personality.flags[0]: unknown flag `NOPE`");
    assert_prepare_error("\"execCPUAffinity\":{\"initial\":\"0-x\"}", NULL,
                         "process.execCPUAffinity.initial: invalid CPU list `0-x` (expected e.g. `0-3,7`)");
}

static void test_sched_plan(void **state)
{
    cleanup_spec struct brig_spec *spec =
        parse("\"scheduler\":{\"policy\":\"SCHED_BATCH\",\"nice\":5,\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\"]},"
              "\"ioPriority\":{\"class\":\"IOPRIO_CLASS_IDLE\",\"priority\":7}",
              "\"personality\":{\"domain\":\"LINUX32\",\"flags\":[\"ADDR_NO_RANDOMIZE\"]}");
    struct brig_context ctx = test_ctx("/proc/brig-test-no-cache");
    cleanup_err struct brig_err *err = NULL;
    struct brig_sched_plan plan;

    assert_int_equal(brig_sched_plan_build(&ctx, spec, &plan, &err), 0);
    assert_true(plan.set_scheduler);
    assert_int_equal(sizeof(plan.attr), 48);
    assert_int_equal(plan.attr.policy, 3);
    assert_int_equal(plan.attr.nice, 5);
    assert_int_equal(plan.attr.flags, 1);
    assert_true(plan.set_ioprio);
    assert_int_equal(plan.ioprio, (3 << 13) | 7);
    assert_true(plan.set_personality);
    assert_int_equal(plan.personality, 0x0008 | 0x0040000);
}

static void test_cpu_list(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cpu_set_t set;

    assert_int_equal(brig_cpu_list_parse("0-3,7", "f", &set, &err), 0);
    assert_int_equal(CPU_COUNT(&set), 5);
    assert_true(CPU_ISSET(7, &set));
    assert_false(CPU_ISSET(4, &set));
    assert_int_equal(brig_cpu_list_parse("5", "f", &set, &err), 0);
    assert_int_equal(CPU_COUNT(&set), 1);
    static const char *const bad[] = {"3-1", "a", "1,", ",1", "1-", "-1", "1 2"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_true(brig_cpu_list_parse(bad[i], "f", &set, &err) < 0);
        brig_err_free(&err);
    }
    assert_true(brig_cpu_list_parse("0-5000", "process.execCPUAffinity.final", &set, &err) < 0);
    assert_string_equal(err->msg, "process.execCPUAffinity.final: CPU 5000 in `0-5000` is out of range (0-1023)");
}

/* What `exec` will use: the affinity is really applied. */
static void test_exec_affinity(void **state)
{
    cleanup_spec struct brig_spec *spec = parse("\"execCPUAffinity\":{\"initial\":\"0\",\"final\":\"0\"}", NULL);
    cleanup_err struct brig_err *err = NULL;
    cpu_set_t before, now;

    assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
    if (!CPU_ISSET(0, &before))
        skip();
    assert_int_equal(brig_exec_affinity_apply_initial(spec->process, 0, &err), 0);
    assert_int_equal(sched_getaffinity(0, sizeof(now), &now), 0);
    assert_int_equal(CPU_COUNT(&now), 1);
    assert_int_equal(brig_exec_affinity_apply_final(spec->process, 0, &err), 0);
    assert_int_equal(sched_setaffinity(0, sizeof(before), &before), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_names),
        cmocka_unit_test(test_caps_plan),
        cmocka_unit_test(test_caps_absent),
        cmocka_unit_test(test_caps_errors),
        cmocka_unit_test(test_caps_unknown_skipped),
        cmocka_unit_test(test_seccomp_names),
        cmocka_unit_test(test_seccomp_errors),
        cmocka_unit_test(test_fnv1a),
        cmocka_unit_test(test_seccomp_canonical),
        cmocka_unit_test(test_seccomp_compile_and_cache),
        cmocka_unit_test(test_seccomp_enosys_stub),
        cmocka_unit_test(test_seccomp_no_enosys_stub),
        cmocka_unit_test(test_sched_errors),
        cmocka_unit_test(test_sched_plan),
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_exec_affinity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
