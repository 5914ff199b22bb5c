/* cgroups: one interface over the v2 (unified), v1 and hybrid layouts, detected at run time.
 * Placement (create the container's cgroup, move the init in, remove it on delete), linux.resources,
 * the freezer, stats and OOM events. */
#ifndef BRIG_CGROUPS_CGROUPS_H
#define BRIG_CGROUPS_CGROUPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../spec/spec.h"
#include "../util/error.h"

enum brig_cgroup_mode {
    BRIG_CGROUP_V1,
    BRIG_CGROUP_V2,
    BRIG_CGROUP_HYBRID, /* v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified */
};

/* Where containers with no or a relative cgroupsPath go: never beside the caller, whose own cgroup may
 * belong to something else (on the development machine that is the machine's init). Rootless on v2 a
 * relative one goes below the caller's cgroup's parent instead (brig_cgroup_own_parent), the delegated one. */
#define BRIG_CGROUP_PARENT "/brig"

int brig_cgroup_detect(enum brig_cgroup_mode *mode, struct brig_err **err);

/* The absolute cgroup path for a container: an absolute cgroupsPath is used as is; an empty one becomes
 * BRIG_CGROUP_PARENT/<id>; a relative one BRIG_CGROUP_PARENT/<path>. Rejects "..". Returns a malloc'd string. */
int brig_cgroup_resolve_path(const char *cgroups_path, const char *id, char **out, struct brig_err **err);
/* The same with relative paths placed under `parent` (an absolute cgroup path, "/" for the root). */
int brig_cgroup_resolve_path_in(const char *cgroups_path, const char *id, const char *parent, char **out,
                                struct brig_err **err);
/* The parent of the calling process's own cgroup2 cgroup (from /proc/self/cgroup), malloc'd: where a rootless
 * user is delegated cgroups, as runc and systemd's user@.service have it. */
int brig_cgroup_own_parent(char **out, struct brig_err **err);

/* Where a resource cannot be applied exactly as asked but the container still works (kernel memory on v2,
 * ...), the cgroups library says so through this callback; NULL drops the message. */
struct brig_cgroup_log {
    void (*warn)(void *data, const char *msg);
    void *data;
};

/* What a container's cgroup is set up with. */
struct brig_cgroup_config {
    const struct brig_resources *resources; /* NULL: no limits */
    struct brig_cgroup_log log;
    /* When the cgroup existed before (in any hierarchy), called with the distinct pids found in it and
     * below it (n may be 0) before anything is written to it: a negative return refuses the cgroup (then
     * only what this call made is removed). NULL: an existing cgroup is used as it is. */
    int (*existing)(void *data, const char *path, const pid_t *pids, size_t n, struct brig_err **err);
    void *existing_data;
    /* The systemd driver: `path` (from brig_cgroup_systemd_path) is made by systemd as a transient scope
     * with the resources it can express as unit properties; the rest is written to its files. */
    bool systemd;
    /* Rootless: the device rules are not set (runc ignores their errors then): loading a v2 device program
     * needs privileges the user lacks, and a user namespace cannot make device nodes anyway. */
    bool rootless;
};

/* Creates the cgroup `path` (in every v1 hierarchy, or in the unified one), applies cfg->resources (when
 * `cfg` is not NULL) and then moves `pid` into it. A value the kernel refuses fails with
 *   "linux.resources.memory.limit: write `1` to `/sys/fs/cgroup/memory/x/memory.limit_in_bytes`: ..."
 * and a resource the host lacks, only when asked for, with
 *   "linux.resources.blockIO.weight: not supported by this host (no blkio.weight)".
 * A cgroup that is frozen (itself or through a frozen parent), where the process would stop at once, is
 * refused: "cgroup `/x`: is frozen (`/sys/fs/cgroup/freezer/x/freezer.state` is FROZEN)".
 * On failure nothing is left behind (an existing cgroup is kept, not removed). */
int brig_cgroup_enter(enum brig_cgroup_mode mode, const char *path, pid_t pid, const struct brig_cgroup_config *cfg,
                      struct brig_err **err);

/* An existing container cgroup opened so that a new process gets into it without a pid write. Writing a pid
 * to cgroup.procs takes the kernel's global threadgroup lock, which waits for an RCU grace period (several
 * ms); a single thread moving itself ("0" to a v1 `tasks` file) skips that lock, and a process cloned with
 * CLONE_INTO_CGROUP is born in its cgroup2 cgroup. The fds are opened here, by the caller: the kernel checks
 * a v1 write against the credentials of the open, so an init already in a user namespace may use them. */
#define BRIG_CGROUP_ENTRY_MAX 24
struct brig_cgroup_entry {
    int clone_into_fd;                      /* cgroup2 directory for clone3's CLONE_INTO_CGROUP, or -1 */
    int tasks_fds[BRIG_CGROUP_ENTRY_MAX];   /* v1: <hierarchy>/<path>/tasks, open for writing */
    size_t n_tasks;
    const char *path;                       /* the container cgroup, for error messages (not owned) */
    pid_t holder; /* systemd driver: the process keeping the new scope alive until the init is in (or 0) */
};
/* For an existing cgroup (exec). */
int brig_cgroup_entry_open(enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_entry *entry,
                           struct brig_err **err);
/* brig_cgroup_enter() with no process to move: creates the cgroup, applies the limits and opens its entry
 * from the hierarchies that creation opened (create's path: one walk over /sys/fs/cgroup, not two).
 * *existed (when not NULL) says whether the cgroup was there before in some hierarchy: then it is not the
 * caller's to kill or remove. */
int brig_cgroup_create(enum brig_cgroup_mode mode, const char *path, const struct brig_cgroup_config *cfg,
                       struct brig_cgroup_entry *entry, bool *existed, struct brig_err **err);
/* With cfg->systemd the scope is started first (see brig_cgroup_systemd_start), the entry holds its
 * placeholder until closed, *existed is false, and a failure stops the unit again. */
/* In the entering process, which must be single-threaded: moves itself into every v1 hierarchy. `path` must
 * outlive the entry. */
int brig_cgroup_entry_self(const struct brig_cgroup_entry *entry, struct brig_err **err);
void brig_cgroup_entry_close(struct brig_cgroup_entry *entry);
#define cleanup_cgroup_entry __attribute__((cleanup(brig_cgroup_entry_close)))

/* Applies changed resources to an existing container cgroup (`update`). Device rules are left alone. */
int brig_cgroup_update(enum brig_cgroup_mode mode, const char *path, const struct brig_resources *resources,
                       const struct brig_cgroup_log *log, struct brig_err **err);

/* Freezes (or thaws) every process of the cgroup and waits until the kernel says it is done: v1
 * freezer.state FROZEN/THAWED, v2 cgroup.freeze and the `frozen` key of cgroup.events. */
int brig_cgroup_freeze(enum brig_cgroup_mode mode, const char *path, bool frozen, struct brig_err **err);
/* Whether the cgroup is frozen (false when it does not exist or the host has no freezer). */
bool brig_cgroup_is_frozen(enum brig_cgroup_mode mode, const char *path);

/* Fails with "cgroup `/x`: is frozen (...)" when a process in the cgroup would be frozen (by the cgroup or
 * by a parent); a cgroup that does not exist is not frozen. */
int brig_cgroup_check_thawed(enum brig_cgroup_mode mode, const char *path, struct brig_err **err);

/* Sends `sig` to every process of the cgroup: with cgroup.kill (v2, SIGKILL) at once, else pid by pid.
 * A frozen cgroup is thawed after a SIGKILL so that the processes die. */
int brig_cgroup_signal_all(enum brig_cgroup_mode mode, const char *path, int sig, struct brig_err **err);

/* The cgroup's statistics as the JSON object runc's `events --stats` puts under "data":
 *   {"cpu":{...},"memory":{...},"pids":{...},"blkio":{...},"hugetlb":{...}}  (malloc'd text) */
int brig_cgroup_stats_json(enum brig_cgroup_mode mode, const char *path, char **json, struct brig_err **err);

/* Watches the cgroup for OOM kills: v1 through an eventfd registered on memory.oom_control, v2 through
 * memory.events. Poll `fd` for `events`; when it fires, brig_cgroup_oom_check says how many new OOM kills
 * there were. */
struct brig_cgroup_oom_watch {
    int fd;
    short events;   /* POLLIN (v1 eventfd) or POLLPRI (v2 memory.events) */
    int counter_fd; /* the file with the oom_kill counter: memory.oom_control or memory.events */
    uint64_t count; /* OOM kills seen so far */
};
int brig_cgroup_oom_watch_open(enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_oom_watch *w,
                               struct brig_err **err);
/* Sets *new_events to the OOM kills since the last call; -ENOENT once the cgroup is gone. */
int brig_cgroup_oom_check(struct brig_cgroup_oom_watch *w, uint64_t *new_events);
void brig_cgroup_oom_watch_close(struct brig_cgroup_oom_watch *w);

/* Moves `pid` into an existing container cgroup (for exec). */
int brig_cgroup_join(enum brig_cgroup_mode mode, const char *path, pid_t pid, struct brig_err **err);

/* Kills whatever is left in the cgroup (SIGKILL, waiting until it is empty) and removes it everywhere.
 * Frozen v1 cgroups in the subtree are thawed first, as their tasks act on SIGKILL only once thawed.
 * A cgroup that does not exist is not an error. */
int brig_cgroup_destroy(enum brig_cgroup_mode mode, const char *path, struct brig_err **err);

/* Pids in the container's cgroup (the first v1 hierarchy that has it, or unified). malloc'd array. */
int brig_cgroup_pids(enum brig_cgroup_mode mode, const char *path, pid_t **pids, size_t *n, struct brig_err **err);

/* ---- the systemd driver (systemd.c): libsystemd is loaded only when one of these is called ---- */

/* The scope's cgroup path for a cgroupsPath in systemd's form "slice:prefix:name", as runc reads it: an
 * empty one is "system.slice:brig:<id>", an empty slice "system.slice"; the slice expands as systemd's
 * ("a-b.slice" -> "/a.slice/a-b.slice") and the unit is "<prefix>-<name>.scope":
 * "/a.slice/a-b.slice/brig-x.scope". Returns a malloc'd string. */
int brig_cgroup_systemd_path(const char *cgroups_path, const char *id, char **out, struct brig_err **err);
/* StartTransientUnit of the scope that `path` names (Delegate=yes, resources as properties) holding a new
 * placeholder process (*holder, to be ended with brig_cgroup_systemd_holder_end), waiting for the job.
 * A slice that has no unit is made by systemd. Without systemd: "--systemd-cgroup: cannot reach systemd
 * (neither /run/systemd/private nor the system bus): ...". On failure no unit is left. */
int brig_cgroup_systemd_start(const char *path, const struct brig_resources *r, pid_t *holder, struct brig_err **err);
void brig_cgroup_systemd_holder_end(pid_t holder);
/* StopUnit of the scope (waiting for the job; a unit already gone is no error), ResetFailedUnit, then
 * brig_cgroup_destroy() for anything left below it. */
int brig_cgroup_systemd_stop(enum brig_cgroup_mode mode, const char *path, struct brig_err **err);
/* SetUnitProperties (runtime) with the resources systemd can express; the caller writes the files too. */
int brig_cgroup_systemd_update(const char *path, const struct brig_resources *r, struct brig_err **err);

#endif
