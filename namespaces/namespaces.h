/* Namespaces: which ones a container gets, joining existing ones by path, and the id maps and time
 * offsets a new user or time namespace needs before anything runs in it. */
#ifndef BRIG_NAMESPACES_NAMESPACES_H
#define BRIG_NAMESPACES_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "../spec/spec.h"
#include "../util/error.h"

/* What the config asks for, resolved once before the container is cloned. */
struct brig_ns_plan {
    int clone_flags;              /* CLONE_NEW* for namespaces created by clone() */
    bool new_cgroup_ns;           /* unshared by the init after it is placed in its cgroup */
    bool new_time_ns;             /* unshared by the parent before clone (offsets need an empty ns) */
    int join_fds[BRIG_NS__COUNT]; /* opened `path` namespaces, -1 when not joined */
    int own_pid_fd;               /* the parent's own pid/time namespaces for children, saved by */
    int own_time_fd;              /* brig_ns_prepare_parent() when it changes them, else -1 */
};

/* Validates the namespace list (known types, no duplicates, user/time/cgroup support), opens every `path`
 * (a bad path is an error naming it and the namespace type) and fills `plan`. */
int brig_ns_plan_init(const struct brig_spec *spec, struct brig_ns_plan *plan, struct brig_err **err);
void brig_ns_plan_release(struct brig_ns_plan *plan);

/* In the parent, before clone: joins a pid or time namespace given by path (they apply to children only),
 * and creates a new time namespace with the configured offsets. */
int brig_ns_prepare_parent(const struct brig_spec *spec, struct brig_ns_plan *plan, struct brig_err **err);

/* In the parent right after clone: back to its own pid and time namespaces for children, so that hooks and
 * anything else it starts later run in the runtime's namespaces. */
void brig_ns_restore_parent(struct brig_ns_plan *plan);

/* In the init right after clone: joins the user namespace given by path (first, so the others are joined
 * with its privileges), then every other namespace given by path except pid and time. */
int brig_ns_join_in_child(struct brig_ns_plan *plan, struct brig_err **err);

/* In the parent: writes uid_map/gid_map (and "deny" to setgroups when needed) of `pid`'s new user ns.
 * As non-root, goes through newuidmap/newgidmap. */
int brig_ns_write_id_maps(const struct brig_spec *spec, pid_t pid, struct brig_err **err);

/* A user namespace's uid and gid maps. */
struct brig_id_maps {
    const struct brig_id_mapping *uid;
    size_t n_uid;
    const struct brig_id_mapping *gid;
    size_t n_gid;
};
int brig_ns_write_maps(pid_t pid, const struct brig_id_maps *maps, struct brig_err **err);
/* Maps nothing but the caller's own uid and gid (to any one id; no map at all counts too): what an
 * unprivileged user may write alone. */
bool brig_ns_maps_self_only(const struct brig_id_maps *maps);

/* Runs fn(data) in a child made root of a new user namespace with `maps` (through newuidmap/newgidmap
 * unless they map only the caller), and returns its result, its error message carried back. */
int brig_ns_run_as_root(const struct brig_id_maps *maps, int (*fn)(void *data, struct brig_err **err), void *data,
                        struct brig_err **err);

/* The maps rootless Podman gives the calling user: 0 the user, 1..N its first range in /etc/subuid and
 * /etc/subgid. Without such ranges (or without newuidmap/newgidmap), only 0 the user, `subordinate` false
 * and `why` says what is missing, in one phrase. */
struct brig_subid_maps {
    struct brig_id_mapping uid[2];
    struct brig_id_mapping gid[2];
    struct brig_id_maps maps; /* points into uid[] and gid[]: not to be copied */
    bool subordinate;
};
int brig_ns_subid_maps(struct brig_subid_maps *out, char *why, size_t why_size);


int brig_ns_clone_flag(enum brig_ns_type type);

#endif
