/* cgroups: one interface over the v2 (unified), v1 and hybrid layouts, detected at run time.
 * Placement for now (create the container's cgroup, move the init in, remove it on delete); resource
 * limits come through the same interface later. */
#ifndef BRIG_CGROUPS_CGROUPS_H
#define BRIG_CGROUPS_CGROUPS_H

#include <stdbool.h>
#include <sys/types.h>

#include "../spec/spec.h"
#include "../util/error.h"

enum brig_cgroup_mode {
    BRIG_CGROUP_V1,
    BRIG_CGROUP_V2,
    BRIG_CGROUP_HYBRID, /* v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified */
};

/* Where containers with no or a relative cgroupsPath go: never beside the caller, whose own cgroup may
 * belong to something else (on the development machine that is the machine's init). */
#define BRIG_CGROUP_PARENT "/brig"

int brig_cgroup_detect(enum brig_cgroup_mode *mode, struct brig_err **err);

/* The absolute cgroup path for a container: an absolute cgroupsPath is used as is; an empty one becomes
 * BRIG_CGROUP_PARENT/<id>; a relative one BRIG_CGROUP_PARENT/<path>. Rejects "..". Returns a malloc'd string. */
int brig_cgroup_resolve_path(const char *cgroups_path, const char *id, char **out, struct brig_err **err);

/* Creates the cgroup `path` (in every v1 hierarchy, or in the unified one) and moves `pid` into it.
 * On failure nothing is left behind. */
int brig_cgroup_enter(enum brig_cgroup_mode mode, const char *path, pid_t pid, struct brig_err **err);

/* Moves `pid` into an existing container cgroup (for exec). */
int brig_cgroup_join(enum brig_cgroup_mode mode, const char *path, pid_t pid, struct brig_err **err);

/* Kills whatever is left in the cgroup (SIGKILL, waiting until it is empty) and removes it everywhere.
 * A cgroup that does not exist is not an error. */
int brig_cgroup_destroy(enum brig_cgroup_mode mode, const char *path, struct brig_err **err);

/* Pids in the container's cgroup (the first v1 hierarchy that has it, or unified). malloc'd array. */
int brig_cgroup_pids(enum brig_cgroup_mode mode, const char *path, pid_t **pids, size_t *n, struct brig_err **err);

#endif
