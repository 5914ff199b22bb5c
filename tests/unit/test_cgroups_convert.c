/* cgroups: the pure parts of applying resources, checked without a cgroup: v1 <-> v2 conversions, the
 * device rule list, and the v2 device eBPF program, run here on a small interpreter of the instructions
 * brig emits so that the v2 logic is tested on any host. */
#include <errno.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgroups/cgroups.h"
#include "cgroups/controllers.h"
#include "runtime/runtime.h"
#include "util/util.h"

static void test_shares_to_weight(void **state)
{
    assert_int_equal(brig_cg_shares_to_weight(0), 0);
    assert_int_equal(brig_cg_shares_to_weight(2), 1);
    assert_int_equal(brig_cg_shares_to_weight(1024), 39);
    assert_int_equal(brig_cg_shares_to_weight(262144), 10000);
    assert_int_equal(brig_cg_shares_to_weight(1), 1);
    assert_int_equal(brig_cg_shares_to_weight(1000000), 10000);
}

static void systemd_path_is(const char *cgroups_path, const char *want)
{
    struct brig_err *err = NULL;
    char *out = NULL;

    assert_int_equal(brig_cgroup_systemd_path(cgroups_path, "c1", &out, &err), 0);
    assert_string_equal(out, want);
    free(out);
}

static void systemd_path_refused(const char *cgroups_path, const char *words)
{
    struct brig_err *err = NULL;
    char *out = NULL;

    assert_true(brig_cgroup_systemd_path(cgroups_path, "c1", &out, &err) < 0);
    assert_null(out);
    assert_non_null(strstr(err->msg, words));
    brig_err_free(&err);
}

/* runc's reading of "slice:prefix:name" and systemd's slice nesting. */
static void test_systemd_path(void **state)
{
    systemd_path_is(NULL, "/system.slice/brig-c1.scope");
    systemd_path_is("", "/system.slice/brig-c1.scope");
    systemd_path_is(":crio:abc", "/system.slice/crio-abc.scope");
    systemd_path_is("machine.slice:docker:x", "/machine.slice/docker-x.scope");
    systemd_path_is("kubepods-besteffort-pod1.slice:cri-containerd:x",
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-x.scope");
    systemd_path_is("-.slice:p:x", "/p-x.scope");
    systemd_path_is("user.slice::x", "/user.slice/x.scope");
    systemd_path_refused("/abs/path", "slice:prefix:name");
    systemd_path_refused("a:b", "slice:prefix:name");
    systemd_path_refused("a:b:c:d", "slice:prefix:name");
    systemd_path_refused("system.slice:brig:", "name");
    systemd_path_refused("nodot:brig:x", "not a slice unit name");
    systemd_path_refused("a--b.slice:brig:x", "empty part");
    systemd_path_refused("-a.slice:brig:x", "empty part");
    systemd_path_refused("a/b.slice:brig:x", "not a slice unit name");
    systemd_path_refused("system.slice:brig:a/b", "letters, digits");
    systemd_path_refused("system.slice:brig:x.slice", "not supported");
    (void) state;
}

static void test_cpu_max(void **state)
{
    char buf[64];

    brig_cg_cpu_max(buf, sizeof(buf), true, 50000, true, 100000);
    assert_string_equal(buf, "50000 100000");
    brig_cg_cpu_max(buf, sizeof(buf), true, 20000, false, 0);
    assert_string_equal(buf, "20000 100000");
    brig_cg_cpu_max(buf, sizeof(buf), true, -1, true, 250000);
    assert_string_equal(buf, "max 250000");
    brig_cg_cpu_max(buf, sizeof(buf), false, 0, true, 50000);
    assert_string_equal(buf, "max 50000");
}

static void expect_swap(bool swap_set, int64_t swap, bool limit_set, int64_t limit, int want_ret, bool want_set,
                        int64_t want)
{
    const char *why = NULL;
    bool set = true;
    int64_t out = 12345;

    assert_int_equal(brig_cg_swap_v2(swap_set, swap, limit_set, limit, &set, &out, &why), want_ret);
    if (want_ret < 0) {
        assert_non_null(why);
        return;
    }
    assert_int_equal(set, want_set);
    if (want_set)
        assert_int_equal(out, want);
}

static void test_swap_v2(void **state)
{
    expect_swap(true, 200 << 20, true, 100 << 20, 0, true, 100 << 20); /* memsw 200M = 100M + 100M swap */
    expect_swap(true, 100 << 20, true, 100 << 20, 0, true, 0);         /* no swap at all */
    expect_swap(true, -1, true, 100 << 20, 0, true, -1);
    expect_swap(false, 0, true, -1, 0, true, -1); /* unlimited memory: unlimited swap too */
    expect_swap(false, 0, true, 100 << 20, 0, false, 0);
    expect_swap(true, 0, true, 100 << 20, 0, false, 0);
    expect_swap(true, 50 << 20, true, 100 << 20, -EINVAL, false, 0); /* below the limit */
    expect_swap(true, 50 << 20, false, 0, -EINVAL, false, 0);        /* no limit */
    expect_swap(true, -2, true, 100, -EINVAL, false, 0);
}

static void test_limit_text_and_hugetlb(void **state)
{
    char buf[32];

    brig_cg_limit_text(buf, sizeof(buf), -1);
    assert_string_equal(buf, "max");
    brig_cg_limit_text(buf, sizeof(buf), 4096);
    assert_string_equal(buf, "4096");
    assert_int_equal(brig_cg_hugetlb_size_ok("2MB"), 0);
    assert_int_equal(brig_cg_hugetlb_size_ok("1GB"), 0);
    assert_int_equal(brig_cg_hugetlb_size_ok("64KB"), 0);
    assert_int_equal(brig_cg_hugetlb_size_ok("2mb"), -EINVAL);
    assert_int_equal(brig_cg_hugetlb_size_ok("MB"), -EINVAL);
    assert_int_equal(brig_cg_hugetlb_size_ok("2MB/../x"), -EINVAL);
}

static void test_memory_size(void **state)
{
    int64_t v = 0;

    assert_int_equal(brig_parse_memory_size("1024", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(brig_parse_memory_size("512m", &v), 0);
    assert_int_equal(v, 512LL << 20);
    assert_int_equal(brig_parse_memory_size("1g", &v), 0);
    assert_int_equal(v, 1LL << 30);
    assert_int_equal(brig_parse_memory_size("64K", &v), 0);
    assert_int_equal(v, 64 << 10);
    assert_int_equal(brig_parse_memory_size("2MiB", &v), 0);
    assert_int_equal(v, 2 << 20);
    assert_int_equal(brig_parse_memory_size("3mb", &v), 0);
    assert_int_equal(v, 3 << 20);
    assert_int_equal(brig_parse_memory_size("100b", &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(brig_parse_memory_size("-1", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(brig_parse_memory_size("", &v), -EINVAL);
    assert_int_equal(brig_parse_memory_size("m", &v), -EINVAL);
    assert_int_equal(brig_parse_memory_size("12x", &v), -EINVAL);
    assert_int_equal(brig_parse_memory_size("-2", &v), -EINVAL);
    assert_int_equal(brig_parse_memory_size("99999999999999p", &v), -ERANGE);
}

/* ---- device rules ---- */

static struct brig_device_cgroup rule(bool allow, const char *type, int64_t major, int64_t minor, const char *access)
{
    struct brig_device_cgroup r = {.allow = allow, .type = (char *) type, .access = (char *) access};

    r.major.set = major >= 0;
    r.major.value = major;
    r.minor.set = minor >= 0;
    r.minor.value = minor;
    return r;
}

static void test_rule_text(void **state)
{
    struct brig_dev_rule r = {true, 'c', 1, 3, 7};
    char buf[64];

    brig_dev_rule_text(&r, buf, sizeof(buf));
    assert_string_equal(buf, "c 1:3 rwm");
    r = (struct brig_dev_rule){false, 'b', 8, -1, 2};
    brig_dev_rule_text(&r, buf, sizeof(buf));
    assert_string_equal(buf, "b 8:* r");
    r = (struct brig_dev_rule){false, 'a', -1, -1, 7};
    brig_dev_rule_text(&r, buf, sizeof(buf));
    assert_string_equal(buf, "a");
}

static void test_rules_build_errors(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_dev_rule *rules = NULL;
    struct brig_device_cgroup bad_type = rule(true, "x", 1, 3, "rwm");
    struct brig_device_cgroup bad_access = rule(true, "c", 1, 3, "rwx");
    size_t n = 0;

    assert_int_equal(brig_dev_rules_build(&bad_type, 1, &rules, &n, &err), -EINVAL);
    assert_string_equal(err->msg, "linux.resources.devices[0].type: `x` is not a, b or c");
    brig_err_free(&err);
    assert_int_equal(brig_dev_rules_build(&bad_access, 1, &rules, &n, &err), -EINVAL);
    assert_string_equal(err->msg, "linux.resources.devices[0].access: `rwx`: unknown access `x` (expected r, w, m or a)");
}

/* ---- a tiny interpreter of the instructions brig emits ---- */

static int run_prog(const struct bpf_insn *prog, size_t n, uint32_t type, uint32_t access, uint32_t major, uint32_t minor)
{
    struct bpf_cgroup_dev_ctx ctx = {.access_type = (access << 16) | type, .major = major, .minor = minor};
    uint64_t reg[11] = {0};

    for (size_t pc = 0; pc < n; pc++) {
        const struct bpf_insn *i = &prog[pc];
        uint8_t cls = BPF_CLASS(i->code), op = BPF_OP(i->code);
        bool taken = false;
        switch (cls) {
        case BPF_LDX:
            assert_int_equal(i->src_reg, 1);
            assert_int_equal(BPF_SIZE(i->code), BPF_W);
            reg[i->dst_reg] = *(const uint32_t *) ((const char *) &ctx + i->off);
            break;
        case BPF_ALU64: {
            uint64_t src = BPF_SRC(i->code) == BPF_X ? reg[i->src_reg] : (uint64_t) (int64_t) i->imm;
            switch (op) {
            case BPF_MOV: reg[i->dst_reg] = src; break;
            case BPF_AND: reg[i->dst_reg] &= src; break;
            case BPF_RSH: reg[i->dst_reg] >>= src; break;
            default: fail_msg("unexpected ALU op %#x at %zu", op, pc);
            }
            break;
        }
        case BPF_JMP32:
            assert_int_equal(BPF_SRC(i->code), BPF_K);
            if (op == BPF_JNE)
                taken = (uint32_t) reg[i->dst_reg] != (uint32_t) i->imm;
            else if (op == BPF_JEQ)
                taken = (uint32_t) reg[i->dst_reg] == (uint32_t) i->imm;
            else
                fail_msg("unexpected JMP32 op %#x at %zu", op, pc);
            if (taken) {
                assert_true(i->off >= 0 && pc + 1 + (size_t) i->off < n);
                pc += (size_t) i->off;
            }
            break;
        case BPF_JMP:
            assert_int_equal(op, BPF_EXIT);
            return (int) reg[0];
        default:
            fail_msg("unexpected class %#x at %zu", cls, pc);
        }
    }
    fail_msg("program ran off its end");
    return -1;
}

#define CHR BPF_DEVCG_DEV_CHAR
#define BLK BPF_DEVCG_DEV_BLOCK
#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD

struct prog {
    struct bpf_insn *insns;
    size_t n;
};

static struct prog build(const struct brig_device_cgroup *cfg, size_t n_cfg)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_dev_rule *rules = NULL;
    struct prog p = {0};
    void *insns = NULL;
    size_t n = 0;

    assert_int_equal(brig_dev_rules_build(cfg, n_cfg, &rules, &n, &err), 0);
    assert_int_equal(brig_dev_bpf_build(rules, n, &insns, &p.n, &err), 0);
    p.insns = insns;
    return p;
}

/* runc's default config: deny everything, the defaults come back on top. */
static void test_bpf_default_config(void **state)
{
    struct brig_device_cgroup cfg[] = {rule(false, NULL, -1, -1, "rwm")};
    struct prog p = build(cfg, 1);

    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 1, 3), 1);   /* /dev/null */
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 9), 1);       /* /dev/urandom */
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 136, 7), 1); /* a pts */
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 10, 229), 0); /* fuse: no rule allows it */
    assert_int_equal(run_prog(p.insns, p.n, CHR, M, 4, 1), 1);       /* mknod of any char device */
    assert_int_equal(run_prog(p.insns, p.n, BLK, M, 8, 0), 1);
    assert_int_equal(run_prog(p.insns, p.n, BLK, R, 8, 0), 0);       /* but not using it */
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 4, 1), 0);   /* tty1 */
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 1), 0);       /* /dev/mem */
    free(p.insns);
}

static void test_bpf_deny_default_device(void **state)
{
    struct brig_device_cgroup cfg[] = {rule(false, NULL, -1, -1, "rwm"), rule(false, "c", 1, 3, "rwm")};
    struct prog p = build(cfg, 2);

    assert_int_equal(run_prog(p.insns, p.n, CHR, W, 1, 3), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 3), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, M, 1, 3), 1); /* the node can still be made */
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 1, 5), 1);
    free(p.insns);
}

/* Any order and combination of r, w and m; `a` is all three. */
static void test_bpf_access_letters(void **state)
{
    struct brig_device_cgroup cfg[] = {rule(true, "c", 1, 11, "mr"), rule(true, "c", 1, 12, "wm"),
                                       rule(true, "c", 1, 13, "a"), rule(false, "c", 1, 5, "a"),
                                       rule(true, "c", 1, 14, "")};
    struct prog p = build(cfg, 5);

    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 11), 1);
    assert_int_equal(run_prog(p.insns, p.n, CHR, W, 1, 11), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, W, 1, 12), 1);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 12), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 1, 13), 1);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 5), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 14), 0);
    free(p.insns);
}

static void test_bpf_partial_access(void **state)
{
    struct brig_device_cgroup cfg[] = {
        rule(true, "b", 8, -1, "r"),  /* read any sd disk */
        rule(false, "c", 1, 5, "w"),  /* /dev/zero read-only */
    };
    struct prog p = build(cfg, 2);

    assert_int_equal(run_prog(p.insns, p.n, BLK, R, 8, 16), 1);
    assert_int_equal(run_prog(p.insns, p.n, BLK, R | W, 8, 16), 0);
    assert_int_equal(run_prog(p.insns, p.n, BLK, W, 8, 0), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 1, 5), 1);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 1, 5), 0);
    free(p.insns);
}

static void test_bpf_allow_all(void **state)
{
    struct brig_device_cgroup cfg[] = {rule(true, "a", -1, -1, NULL)};
    struct prog p = build(cfg, 1);

    assert_int_equal(run_prog(p.insns, p.n, BLK, R | W | M, 253, 4), 1);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R | W, 4, 1), 1);
    free(p.insns);
}

static void test_bpf_large_numbers(void **state)
{
    struct brig_device_cgroup cfg[] = {rule(true, "c", 4000000000LL, 7, "rw")};
    struct prog p = build(cfg, 1);

    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 4000000000U, 7), 1);
    assert_int_equal(run_prog(p.insns, p.n, CHR, R, 4000000001U, 7), 0);
    assert_int_equal(run_prog(p.insns, p.n, CHR, M, 4000000000U, 7), 1); /* mknod comes from the default */
    free(p.insns);
}

/* ---- the rules as systemd's DeviceAllow: never narrower than brig's program, equal when exact ---- */

static bool sd_allows(const struct brig_dev_sd *l, uint32_t type, uint32_t access, uint32_t major, uint32_t minor)
{
    if (l->allow_all)
        return true;
    for (size_t i = 0; i < l->n; i++) {
        const struct brig_dev_sd_entry *e = &l->entries[i];
        if ((e->type == 'b') != (type == BLK))
            continue;
        if ((e->major >= 0 && (uint32_t) e->major != major) || (e->minor >= 0 && (uint32_t) e->minor != minor))
            continue;
        if ((access & e->access) == access)
            return true;
    }
    return false;
}

/* Every request of a grid through both: returns the systemd list (to be freed) for more checks. */
static struct brig_dev_sd sd_compare(const struct brig_device_cgroup *cfg, size_t n_cfg, bool want_exact)
{
    static const uint32_t majors[] = {1, 5, 7, 8, 10, 136, 200}, minors[] = {0, 1, 3, 5, 7, 9, 11, 200};
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_dev_rule *rules = NULL;
    struct brig_dev_sd l;
    struct prog p = build(cfg, n_cfg);
    size_t n = 0;

    assert_int_equal(brig_dev_rules_build(cfg, n_cfg, &rules, &n, &err), 0);
    assert_int_equal(brig_dev_rules_systemd(rules, n, &l, &err), 0);
    assert_int_equal(l.exact, want_exact);
    for (uint32_t type = BLK; type <= CHR; type++)
        for (size_t a = 0; a < ARRAY_SIZE(majors); a++)
            for (size_t b = 0; b < ARRAY_SIZE(minors); b++)
                for (uint32_t acc = 1; acc <= 7; acc++) {
                    int prog = run_prog(p.insns, p.n, type, acc, majors[a], minors[b]);
                    bool sd = sd_allows(&l, type, acc, majors[a], minors[b]);
                    if ((prog && !sd) || (want_exact && !prog && sd))
                        fail_msg("%c %u:%u access %u: program %d, systemd %d", type == BLK ? 'b' : 'c', majors[a],
                                 minors[b], acc, prog, sd);
                }
    free(p.insns);
    return l;
}

static void sd_has(const struct brig_dev_sd *l, const char *want_path, const char *want_access)
{
    char path[64], access[4];

    for (size_t i = 0; i < l->n; i++) {
        brig_dev_sd_entry_text(&l->entries[i], path, sizeof(path), access, sizeof(access));
        if (!strcmp(path, want_path) && !strcmp(access, want_access))
            return;
    }
    fail_msg("no DeviceAllow %s %s", want_path, want_access);
}

static void test_devices_systemd(void **state)
{
    struct brig_device_cgroup usual[] = {rule(false, NULL, -1, -1, "rwm"), rule(true, "c", 10, 229, "rwm"),
                                         rule(true, "b", 7, -1, "r"), rule(false, "c", 1, 3, "rwm"),
                                         rule(false, "c", 1, 7, "w")};
    struct brig_device_cgroup wild_major[] = {rule(true, "c", -1, 11, "rw")};
    struct brig_device_cgroup hole[] = {rule(true, "c", 1, -1, "rw"), rule(false, "c", 1, 9, "rwm")};
    struct brig_device_cgroup all[] = {rule(true, "a", -1, -1, "rwm")};
    struct brig_device_cgroup all_but[] = {rule(true, NULL, -1, -1, "rwm"), rule(false, "b", 8, 0, "w")};
    struct brig_device_cgroup both_types[] = {rule(true, "a", 9, 1, "r"), rule(true, "c", 1, 20, "r"),
                                              rule(true, "c", 1, 20, "w")};
    struct brig_dev_sd l;

    l = sd_compare(usual, ARRAY_SIZE(usual), true);
    assert_false(l.allow_all);
    sd_has(&l, "/dev/char/10:229", "rwm");
    sd_has(&l, "block-7", "r");
    sd_has(&l, "/dev/char/1:3", "m");   /* a denied default: the node may be made, not opened */
    sd_has(&l, "/dev/char/1:7", "rm");
    sd_has(&l, "/dev/char/1:5", "rwm");
    sd_has(&l, "char-136", "rwm");
    sd_has(&l, "char-*", "m");
    sd_has(&l, "block-*", "m");
    free(l.entries);
    l = sd_compare(wild_major, ARRAY_SIZE(wild_major), false);
    sd_has(&l, "char-*", "rw");
    free(l.entries);
    l = sd_compare(hole, ARRAY_SIZE(hole), false);
    free(l.entries);
    l = sd_compare(all, ARRAY_SIZE(all), true);
    assert_true(l.allow_all);
    l = sd_compare(all_but, ARRAY_SIZE(all_but), false);
    assert_true(l.allow_all);
    l = sd_compare(both_types, ARRAY_SIZE(both_types), true);
    sd_has(&l, "/dev/char/9:1", "r");
    sd_has(&l, "/dev/block/9:1", "r");
    free(l.entries);
    l = sd_compare(NULL, 0, true);
    assert_int_equal(l.n, 12);
    free(l.entries);
}

/* update --resources: a lone linux.resources object through the spec parser. */
static void test_parse_resources(void **state)
{
    static const char good[] = "{\"memory\": {\"limit\": 1048576, \"swap\": -1}, \"pids\": {\"limit\": 9},"
                               " \"unified\": {\"memory.high\": \"max\"}}";
    static const char bad[] = "{\"cpu\": {\"shares\": -5}}";
    cleanup_err struct brig_err *err = NULL;
    struct brig_spec *spec = NULL;
    const struct brig_resources *r;

    assert_int_equal(brig_spec_parse_resources(good, strlen(good), "r.json", &spec, &err), 0);
    r = spec->linux_cfg->resources;
    assert_true(r->memory->limit.set);
    assert_int_equal(r->memory->limit.value, 1048576);
    assert_int_equal(r->memory->swap.value, -1);
    assert_int_equal(r->pids_limit.value, 9);
    assert_int_equal(r->n_unified, 1);
    assert_string_equal(r->unified[0].key, "memory.high");
    brig_spec_free(spec);
    spec = NULL;
    assert_true(brig_spec_parse_resources(bad, strlen(bad), "r.json", &spec, &err) < 0);
    assert_null(spec);
    if (strncmp(err->msg, "r.json: cpu.shares: expected", 28) != 0)
        fail_msg("%s", err->msg);
    brig_err_free(&err);
    assert_true(brig_spec_parse_resources("[]", 2, "-", &spec, &err) < 0);
    assert_string_equal(err->msg, "-: expected an object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares_to_weight),
        cmocka_unit_test(test_cpu_max),
        cmocka_unit_test(test_swap_v2),
        cmocka_unit_test(test_systemd_path),
        cmocka_unit_test(test_limit_text_and_hugetlb),
        cmocka_unit_test(test_memory_size),
        cmocka_unit_test(test_rule_text),
        cmocka_unit_test(test_rules_build_errors),
        cmocka_unit_test(test_bpf_default_config),
        cmocka_unit_test(test_bpf_deny_default_device),
        cmocka_unit_test(test_bpf_access_letters),
        cmocka_unit_test(test_bpf_partial_access),
        cmocka_unit_test(test_bpf_allow_all),
        cmocka_unit_test(test_bpf_large_numbers),
        cmocka_unit_test(test_devices_systemd),
        cmocka_unit_test(test_parse_resources),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
