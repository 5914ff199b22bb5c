/* Internal to cgroups/: applying linux.resources one controller at a time, on v1 or v2. Each controller
 * file (memory.c, cpu.c, ...) exports one apply function; the pure conversions they use are declared here
 * too so the unit tests can check them without a cgroup. */
#ifndef BRIG_CGROUPS_CONTROLLERS_H
#define BRIG_CGROUPS_CONTROLLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hierarchy.h"

/* One apply (create or update) of resources to one container cgroup. */
struct brig_cg_apply {
    struct brig_cgroup_set *set;
    const char *rel; /* the container cgroup, relative to every hierarchy root */
    bool update;     /* changing a running container rather than setting up a new one */
    const struct brig_cgroup_config *cfg;
};

/* The hierarchy a controller lives in: its v1 hierarchy, or the unified one when the controller is
 * listed in its cgroup.controllers (always so in V2 mode; hugetlb in this host's hybrid layout). For the
 * unified one the controller is enabled in the ancestors' cgroup.subtree_control first. NULL when the
 * host has it nowhere. */
const struct brig_cgroup_hierarchy *brig_cg_find(const struct brig_cg_apply *a, const char *controller,
                                                 struct brig_err **err);
/* Only the v1 hierarchy of `controller` (NULL when none). */
const struct brig_cgroup_hierarchy *brig_cg_find_v1(const struct brig_cgroup_set *set, const char *controller);
/* The unified hierarchy (NULL on plain v1). */
const struct brig_cgroup_hierarchy *brig_cg_unified(const struct brig_cgroup_set *set);
/* The unified hierarchy holds the whole tree (V2 mode): v2 files are used for every controller. */
bool brig_cg_is_v2(const struct brig_cgroup_set *set);

/* Enables `controller` (NULL: every controller the parent offers, ignoring the ones it refuses) in the
 * cgroup.subtree_control of every ancestor of `rel`, from the root down. */
int brig_cg_v2_enable(const struct brig_cgroup_hierarchy *h, const char *rel, const char *controller,
                      struct brig_err **err);

/* Writes `value` to `file` of the container cgroup. `what` names the resource ("linux.resources.pids.limit")
 * in the error: "<what>: write `<value>` to `<full path>`: <cause>", or, when the file does not exist,
 * "<what>: not supported by this host (no <file>)". */
int brig_cg_write(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file,
                  const char *value, const char *what, struct brig_err **err);
/* The same with a number. */
int brig_cg_write_i64(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file,
                      int64_t value, const char *what, struct brig_err **err);
/* Whether the container cgroup has `file` in `h`. */
bool brig_cg_has_file(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file);
/* Reads a file of the container cgroup (`rel`/`file`); returns the length or -errno, no error message. */
int brig_cg_read(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file, char **out);
/* Reads a single number ("max" reads as -1). */
int brig_cg_read_i64(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file, int64_t *out);

/* A warning for a resource brig cannot apply as asked but that does not fail the container. */
void brig_cg_warn(const struct brig_cg_apply *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<what>: not supported by this host (<cause>)" */
int brig_cg_unsupported(struct brig_err **err, const char *what, const char *cause);

/* Applies every controller's part of `r` (NULL: none, but the device defaults still) to `rel`. */
int brig_cgroup_apply_set(struct brig_cgroup_set *set, const char *rel, const struct brig_resources *r,
                          const struct brig_cgroup_config *cfg, bool update, struct brig_err **err);

/* ---- controllers: each applies its part of `r`, doing nothing when the part is absent ---- */
int brig_cg_apply_memory(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_cpu(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_cpuset(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_pids(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_blkio(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_hugetlb(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_net(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_rdma(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
int brig_cg_apply_unified(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);
/* Devices take linux.devices too (a->cfg); nothing is done when the config has no device rules on update. */
int brig_cg_apply_devices(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err);

/* ---- conversions (pure) ---- */

/* cpu.shares (v1, 2..262144) to cpu.weight (v2, 1..10000), as runc maps them; 0 stays 0 (unset). */
uint64_t brig_cg_shares_to_weight(uint64_t shares);
/* blkio weights (10..1000; below 10 counts as 10) onto io.weight (1..10000). */
uint64_t brig_cg_blkio_to_io_weight(uint64_t weight);
/* cpu.max text from quota and period ("max 100000", "50000 100000"); a missing period is 100000. */
void brig_cg_cpu_max(char *buf, size_t size, bool quota_set, int64_t quota, bool period_set, uint64_t period);
/* v2 memory.swap.max from the OCI swap (memory+swap total, v1 style) and memory limit: *out is -1 for
 * "max", or the swap alone; *set is false when nothing is to be written. Fails (with the reason in `why`)
 * for a swap without a limit or below it. */
int brig_cg_swap_v2(bool swap_set, int64_t swap, bool limit_set, int64_t limit, bool *set, int64_t *out,
                    const char **why);
/* "max" for -1 (or any negative), else the number. */
void brig_cg_limit_text(char *buf, size_t size, int64_t value);
/* hugetlb file prefix for a page size: "2MB" -> "hugetlb.2MB" on both versions; checks the size's form. */
int brig_cg_hugetlb_size_ok(const char *page_size);

/* ---- devices ---- */

/* One rule after defaults were merged in: type 'a', 'b' or 'c'; major/minor -1 for any; access bits
 * 1 = mknod, 2 = read, 4 = write (as BPF_DEVCG_ACC_*). */
struct brig_dev_rule {
    bool allow;
    char type;
    int64_t major;
    int64_t minor;
    unsigned access;
};

/* The effective rule list, in order, starting with deny-all: the config's rules, then brig's default
 * devices (null, zero, full, random, urandom, tty, console, ptmx, pts, tun), then the config's deny rules
 * that name particular devices again (without mknod), so that a config can take a default away, and last
 * mknod of any node. linux.devices nodes are allowed only by rules that cover them. malloc'd array. */
int brig_dev_rules_build(const struct brig_device_cgroup *cfg, size_t n_cfg, struct brig_dev_rule **rules, size_t *n,
                         struct brig_err **err);
/* "c 1:3 rwm" / "a *:* rwm", as v1 devices.allow and devices.deny take it. */
void brig_dev_rule_text(const struct brig_dev_rule *rule, char *buf, size_t size);

/* The rule list as systemd's unit properties: DevicePolicy=auto when it allows everything (allow_all),
 * else DevicePolicy=strict with `entries` as DeviceAllow. A rule systemd cannot say exactly (a "*:N"
 * number, a deny of part of an allowed range) makes systemd's list wider than the rules, never narrower
 * (exact is false then): brig's own device program, attached after systemd's, refuses the rest. */
struct brig_dev_sd_entry {
    char type; /* 'c' or 'b' */
    int64_t major; /* -1: any */
    int64_t minor; /* -1: any */
    unsigned access;
};
struct brig_dev_sd {
    bool allow_all;
    bool exact;
    struct brig_dev_sd_entry *entries; /* malloc'd */
    size_t n;
};
int brig_dev_rules_systemd(const struct brig_dev_rule *rules, size_t n, struct brig_dev_sd *out, struct brig_err **err);
/* "char-*", "block-8" or "/dev/char/1:3" (systemd v240+ reads the numbers from such a path without the node),
 * and "rwm". */
void brig_dev_sd_entry_text(const struct brig_dev_sd_entry *e, char *path, size_t path_size, char *access,
                            size_t access_size);

/* A BPF_PROG_TYPE_CGROUP_DEVICE program equivalent to the rule list (last matching rule decides, nothing
 * matching is denied). `insns` is a malloc'd array of 8-byte struct bpf_insn. */
int brig_dev_bpf_build(const struct brig_dev_rule *rules, size_t n, void **insns, size_t *n_insns,
                       struct brig_err **err);
/* Loads the program and attaches it to the cgroup `dirfd` (BPF_F_ALLOW_MULTI), then detaches the programs
 * that were there before, so that an update never leaves the cgroup unprotected. */
int brig_dev_bpf_attach(int dirfd, const void *insns, size_t n_insns, const char *where, struct brig_err **err);

#endif
