/* The container state as stored under --root (state.json) and as printed by `brig state`.
 * The printed form is the runtime-spec state (ociVersion, id, status, pid, bundle, annotations) plus
 * runc's rootfs, created and owner. The stored form adds what brig needs to find the container again. */
#ifndef BRIG_SPEC_STATE_H
#define BRIG_SPEC_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"

struct brig_state {
    char *oci_version;
    char *id;
    char *status; /* filled by the runtime when printing: creating|created|running|paused|stopped */
    pid_t pid;
    char *bundle;
    char *rootfs;
    char *created; /* RFC 3339 */
    char *owner;
    struct brig_kv *annotations;
    size_t n_annotations;
    char *net_ip;    /* brig's own network, when the container has one: printed as "ip" */
    char *net_ports; /* published ports as given ("8080:80/tcp,..."): printed as "ports" */

    /* Stored only. */
    uint64_t init_start_time; /* /proc/PID/stat starttime: detects pid reuse */
    char *cgroup_path;        /* absolute cgroup path (same below every v1 hierarchy) */
    bool cgroup_joined;       /* the cgroup existed before create: delete neither empties nor removes it */
    bool systemd_cgroup;
    bool rootless;
    bool creating;          /* written before the init is released; cleared once it is ready */
    bool has_hooks;         /* start and delete load the config only when it has hooks */
    char *config_path;      /* absolute path of the config.json used at create */
    char *start_error;      /* why the last start failed, if it did */
    /* An overlay root (rootfs is then its mount point): what delete unmounts and removes, diff reads. */
    char **overlay_lowers;  /* lowest first */
    size_t n_overlay_lowers;
    char *overlay_upper;    /* NULL: read-only */
    char *overlay_work;
    bool overlay_owns_upper; /* the upper is the state directory's: delete removes it unless kept */
    bool keep_upper;         /* create/run --keep-upper: delete keeps it */

    /* Never stored: rebuilt from the init record because state.json could not be read (delete --force). */
    bool lost;
};

/* JSON text of the stored form. */
int brig_state_to_json(const struct brig_state *state, char **out, size_t *len, struct brig_err **err);
/* JSON text printed by `brig state`: pretty, runtime-spec + runc fields only. */
int brig_state_to_public_json(const struct brig_state *state, char **out, size_t *len, struct brig_err **err);
int brig_state_from_json(const char *json, size_t len, struct brig_state **out, struct brig_err **err);
void brig_state_free(struct brig_state *state);
static inline void brig_state_freep(struct brig_state **state)
{
    brig_state_free(*state);
}
#define cleanup_state __attribute__((cleanup(brig_state_freep)))

#endif
