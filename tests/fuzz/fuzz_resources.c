/* `update -r FILE`: a lone linux.resources object. The parser, the device rules and their v2 eBPF program
 * (built, never loaded), the pure v2 conversions, then the whole update as brig_cgroup_update applies it,
 * onto a cgroup2 tree faked with plain files in a temp dir (writes never create files, so nothing else is
 * touched; no device program is attached). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/controllers.h"
#include "fuzz.h"
#include "image/internal.h"
#include "spec/spec.h"
#include "util/util.h"

static char tree[64];
static struct brig_cgroup_set set;

/* The files each update may read, with what a fresh cgroup holds; the others start empty. */
static const char *const files[][2] = {
    {"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"},
    {"cgroup.subtree_control", "cpuset cpu io memory hugetlb pids rdma misc\n"},
    {"memory.max", "max\n"}, {"memory.current", "0\n"}, {"memory.swap.max", "max\n"}, {"memory.low", "0\n"},
    {"memory.high", "max\n"}, {"cpu.weight", "100\n"}, {"cpu.max", "max 100000\n"}, {"cpu.max.burst", "0\n"},
    {"cpu.idle", "0\n"}, {"cpuset.cpus", ""}, {"cpuset.mems", ""}, {"cpuset.cpus.effective", "0-1\n"},
    {"cpuset.mems.effective", "0\n"}, {"io.weight", "default 100\n"}, {"io.max", ""}, {"pids.max", "max\n"},
    {"rdma.max", ""}, {"hugetlb.2MB.max", "max\n"}, {"hugetlb.2MB.rsvd.max", "max\n"},
    {"hugetlb.1GB.max", "max\n"}, {"hugetlb.1GB.rsvd.max", "max\n"}, {"cgroup.freeze", "0\n"},
};

static void remove_tree(void)
{
    image_remove_tree(tree);
}

static void reset_files(void)
{
    char path[160];

    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        snprintf(path, sizeof(path), "%s/c/%s", tree, files[i][0]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || brig_write_all(fd, files[i][1], strlen(files[i][1])) < 0)
            abort();
        close(fd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    char path[160];

    snprintf(tree, sizeof(tree), "%s/brig-fuzz-cgroup-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(tree))
        abort();
    atexit(remove_tree);
    snprintf(path, sizeof(path), "%s/c", tree);
    if (mkdir(path, 0755) < 0)
        abort();
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", tree, files[i][0]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || brig_write_all(fd, files[i][1], strlen(files[i][1])) < 0)
            abort();
        close(fd);
    }
    snprintf(set.h[0].root, sizeof(set.h[0].root), "%s", tree);
    set.h[0].fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
    set.h[0].unified = true;
    set.n = 1;
    if (set.h[0].fd < 0)
        abort();
    return 0;
}

static void check_devices(const struct brig_resources *r)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free struct brig_dev_rule *rules = NULL;
    cleanup_free void *insns = NULL;
    size_t n = 0, n_insns = 0;
    char text[64];
    int ret;

    ret = brig_dev_rules_build(r->devices, r->n_devices, &rules, &n, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return;
    for (size_t i = 0; i < n; i++)
        brig_dev_rule_text(&rules[i], text, sizeof(text));
    fuzz_check(brig_dev_bpf_build(rules, n, &insns, &n_insns, &err), &err);
}

static void check_conversions(const struct brig_resources *r)
{
    char buf[64];

    if (r->cpu) {
        brig_cg_shares_to_weight(r->cpu->shares.value);
        brig_cg_cpu_max(buf, sizeof(buf), r->cpu->quota.set, r->cpu->quota.value, r->cpu->period.set,
                        r->cpu->period.value);
    }
    if (r->memory) {
        const char *why = NULL;
        bool set_swap = false;
        int64_t swap = 0;

        if (brig_cg_swap_v2(r->memory->swap.set, r->memory->swap.value, r->memory->limit.set,
                            r->memory->limit.value, &set_swap, &swap, &why) < 0 && !why) {
            fprintf(stderr, "fuzz: brig_cg_swap_v2 failed without a reason\n");
            abort();
        }
        brig_cg_limit_text(buf, sizeof(buf), r->memory->limit.value);
    }
    for (size_t i = 0; i < r->n_hugepage_limits; i++)
        brig_cg_hugetlb_size_ok(r->hugepage_limits[i].page_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *err = NULL;
    struct brig_resources r;
    struct brig_cgroup_config cfg = {.resources = &r};
    int ret;

    ret = brig_spec_parse_resources((const char *) data, size, "--resources", &spec, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return 0;
    r = *spec->linux_cfg->resources;
    check_devices(&r);
    check_conversions(&r);
    /* Device rules would load and attach a real eBPF program: built above, left out here. */
    r.devices = NULL;
    r.n_devices = 0;
    reset_files();
    fuzz_check(brig_cgroup_apply_set(&set, "c", &r, &cfg, true, &err), &err);
    return 0;
}
