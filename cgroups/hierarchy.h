/* Internal to cgroups/: the mounted hierarchies one operation walks over, opened once per call so every
 * step works relative to a directory fd instead of re-resolving /sys/fs/cgroup/... each time. */
#ifndef BRIG_CGROUPS_HIERARCHY_H
#define BRIG_CGROUPS_HIERARCHY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroups.h"

#define BRIG_CGROUP_MOUNT "/sys/fs/cgroup"
/* v1 allows at most 16 controllers plus a few named hierarchies; more is a layout brig does not know. */
#define BRIG_CGROUP_MAX_HIERARCHIES 24

struct brig_cgroup_hierarchy {
    char root[96]; /* mount point, named in error messages: "/sys/fs/cgroup/memory" */
    int fd;        /* O_PATH directory fd on root */
    bool unified;  /* cgroup2 (the whole tree in V2 mode, /sys/fs/cgroup/unified in HYBRID mode) */
    bool cpuset;   /* v1 hierarchy with the cpuset controller: new cgroups start with no cpus/mems */
};

struct brig_cgroup_set {
    struct brig_cgroup_hierarchy h[BRIG_CGROUP_MAX_HIERARCHIES];
    size_t n;
};

/* Whether `list`, words separated by any of `seps`, holds `word` (a v1 mount's controllers "cpu,cpuacct" with
 * ",", cgroup.controllers with " \n"); a NULL list holds nothing. */
bool brig_cgroup_list_has(const char *list, const char *word, const char *seps);

/* Opens every hierarchy a container cgroup lives in for `mode`. */
int brig_cgroup_set_open(enum brig_cgroup_mode mode, struct brig_cgroup_set *set, struct brig_err **err);
void brig_cgroup_set_close(struct brig_cgroup_set *set);
#define cleanup_cgroup_set __attribute__((cleanup(brig_cgroup_set_close)))

/* Checks an absolute container cgroup path: "/" followed by non-empty components, none "." or "..".
 * The root cgroup itself is refused: destroying it would kill the whole machine. */
int brig_cgroup_path_check(const char *path, struct brig_err **err);
/* Both of the above: checks a container's cgroup path, then opens its hierarchies. */
int brig_cgroup_set_open_for(enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_set *set,
                             struct brig_err **err);

/* v1 cpuset: fills empty cpuset.cpus/cpuset.mems of `rel` (relative to the hierarchy root) and of its
 * empty ancestors from the nearest ancestor that has them. */
int brig_cgroup_v1_cpuset_prepare(const struct brig_cgroup_hierarchy *h, const char *rel, struct brig_err **err);

/* cgroup2: kills the whole subtree at once with cgroup.kill (Linux 5.14+). Returns 0 when done, -ENOENT
 * when the kernel has no cgroup.kill or the cgroup does not exist. */
int brig_cgroup_v2_kill(const struct brig_cgroup_hierarchy *h, const char *rel);

/* The distinct pids in `rel` and in every cgroup below it, over every hierarchy of `set` that has it (v1
 * hierarchies need not hold the same processes). malloc'd array, NULL when there are none. */
int brig_cgroup_set_pids(const struct brig_cgroup_set *set, const char *rel, pid_t **pids, size_t *n,
                         struct brig_err **err);

/* Fails with "cgroup `<path>`: is frozen (...)" when a process entering `rel` would be frozen: the v1
 * freezer.state is not THAWED, or cgroup2 freezes it (its cgroup.freeze, or a frozen parent, which
 * cgroup.events reports for a new cgroup too). */
int brig_cgroup_set_check_thawed(const struct brig_cgroup_set *set, const char *rel, const char *path,
                             struct brig_err **err);

/* Writes `data` to `file` (relative to the hierarchy root); the error names the full path and the value. */
int brig_cgroup_write(const struct brig_cgroup_hierarchy *h, const char *file, const char *data,
                      struct brig_err **err);

/* Writes `pid` to `rel`/cgroup.procs of one hierarchy; the error names the file. */
int brig_cgroup_write_pid(const struct brig_cgroup_hierarchy *h, const char *rel, pid_t pid, struct brig_err **err);

/* The systemd driver on v1 (V1, HYBRID): removes the empty ancestors of a scope's `path` that brig itself made
 * (with mkdir -p at create: the slices' directories) in the hierarchies systemd does not manage, once the
 * scope's cgroups are gone. Stops at the first one still in use; best effort. */
void brig_cgroup_systemd_trim(enum brig_cgroup_mode mode, const char *path);

#endif
