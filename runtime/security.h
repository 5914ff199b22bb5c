/* Private to runtime/: process security applied by the container init — capabilities, seccomp, LSM labels,
 * personality, scheduler and I/O priority.
 *
 * Everything that can fail on bad input is checked and compiled by brig_security_prepare() in the parent before
 * the init is cloned (the clone inherits the result, there is no re-exec), so the init only issues the few
 * system calls that apply it, at these points of its setup:
 *
 *   brig_security_init_begin()   first thing: notes what must be read before the rootfs changes
 *   brig_security_before_user()  personality, scheduler, ioprio, LSM exec labels, bounding set, keepcaps,
 *                                and seccomp when it cannot wait (no noNewPrivileges and no CAP_SYS_ADMIN left)
 *   brig_process_set_user()      (process.c) groups, gid, uid, umask, noNewPrivileges
 *   brig_security_after_user()   effective/permitted/inheritable/ambient capabilities
 *   brig_security_before_exec()  after the exec fifo, before the startContainer hooks (which run under the
 *                                filter) and the exec: seccomp, as late as possible, and its notify listener */
#ifndef BRIG_RUNTIME_SECURITY_H
#define BRIG_RUNTIME_SECURITY_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime.h"

/* ---- capabilities (capabilities.c) ---- */

enum brig_cap_set {
    BRIG_CAP_BOUNDING,
    BRIG_CAP_EFFECTIVE,
    BRIG_CAP_PERMITTED,
    BRIG_CAP_INHERITABLE,
    BRIG_CAP_AMBIENT,
    BRIG_CAP__COUNT,
};

struct brig_caps_plan {
    bool apply; /* false when process.capabilities is absent: the init's capabilities are left as they are */
    uint64_t sets[BRIG_CAP__COUNT]; /* bit N = capability N */
};

/* "CAP_SYS_ADMIN" -> 21; only the upper-case CAP_ names of capabilities libcap knows. */
int brig_cap_from_name(const char *name, int *cap);
/* Turns process.capabilities into masks. `host_bounding` is the bounding set brig runs with: a capability
 * outside it is ignored in `bounding` and an error elsewhere. Ambient capabilities that the kernel would
 * refuse to raise (not both permitted and inheritable) are dropped, with a warning in `warnings` (a malloc'd
 * line, or NULL), as runc does. */
int brig_caps_plan_build(const struct brig_process *proc, uint64_t host_bounding, struct brig_caps_plan *plan,
                         char **warnings, struct brig_err **err);
/* The bounding set of the calling process (PR_CAPBSET_READ). */
uint64_t brig_caps_read_bounding(void);
int brig_caps_drop_bounding(const struct brig_caps_plan *plan, struct brig_err **err);
int brig_caps_apply(const struct brig_caps_plan *plan, struct brig_err **err);

/* ---- seccomp (seccomp.c, seccomp_enosys.c) ---- */

struct brig_seccomp_plan {
    bool active;
    void *insns; /* struct sock_filter[n_insns], compiled by libseccomp in the parent */
    size_t n_insns;
    unsigned flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
    bool notify;    /* has SCMP_ACT_NOTIFY rules: the listener fd goes to listenerPath */
    bool from_cache;
    int listener_sock; /* connected to listenerPath in the parent, or -1 */
    /* The container process state sent to the listener, in three parts around the pid (known in the init). */
    char *state_head, *state_mid, *state_tail;
    pid_t host_pid; /* the init's pid in brig's pid namespace */
};

/* Name tables, exposed for the unit tests. */
int brig_seccomp_action_from_name(const char *name, uint32_t errno_ret, uint32_t *action);
int brig_seccomp_op_from_name(const char *name, int *op);
int brig_seccomp_arch_from_name(const char *name, uint32_t *arch);
int brig_seccomp_flag_from_name(const char *name, unsigned *flag);
/* Checks every name and value of linux.seccomp; the message names the field. */
int brig_seccomp_validate(const struct brig_seccomp *sc, struct brig_err **err);
/* Compiles a validated linux.seccomp into plan->insns, with no cache (the fuzz target's entry). */
int brig_seccomp_compile(const struct brig_context *ctx, const struct brig_seccomp *sc,
                         struct brig_seccomp_plan *plan, struct brig_err **err);
/* Validates and compiles linux.seccomp into BPF (from the cache under <root>/.cache/seccomp when possible). */
int brig_seccomp_plan_build(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                            const char *bundle, struct brig_seccomp_plan *plan, struct brig_err **err);
void brig_seccomp_plan_release(struct brig_seccomp_plan *plan);
/* In the init: loads the filter and, with a listener, sends the notify fd and the container process state. */
int brig_seccomp_load(struct brig_seccomp_plan *plan, const char *status, struct brig_err **err);
/* Puts, in front of the compiled filter in `plan`, the stub that answers ENOSYS for a call numbered above the
 * highest one the profile names (per architecture), unless the default action lets calls through
 * (seccomp_enosys.c). */
int brig_seccomp_add_enosys_stub(const struct brig_seccomp *sc, struct brig_seccomp_plan *plan,
                                 struct brig_err **err);
/* 64-bit FNV-1a, the cache key's hash. */
uint64_t brig_fnv1a64(const void *data, size_t len, uint64_t seed);
/* A canonical byte serialization of linux.seccomp (what the cache compares, not just hashes). */
int brig_seccomp_canonical(const struct brig_seccomp *sc, char **out, size_t *len);

/* ---- LSM (lsm.c) ---- */

struct brig_lsm_plan {
    const char *apparmor_profile; /* NULL when absent or AppArmor is not enabled */
    const char *apparmor_field;   /* where it came from, for errors: process.apparmorProfile or --apparmor */
    const char *selinux_label;    /* NULL when absent or SELinux is not enabled */
    int apparmor_fd, selinux_fd;  /* their /proc/self/attr files, opened on the host's /proc, or -1 */
};

int brig_lsm_plan_build(const struct brig_context *ctx, const struct brig_spec *spec, struct brig_lsm_plan *plan,
                        struct brig_err **err);
/* Opens the attr files the plan writes, while /proc is still the host's (brig_security_init_begin). */
int brig_lsm_open(struct brig_lsm_plan *plan, struct brig_err **err);
void brig_lsm_close(struct brig_lsm_plan *plan);
int brig_lsm_apply(struct brig_lsm_plan *plan, struct brig_err **err);

/* ---- personality, scheduler, I/O priority, CPU affinity (sched.c) ---- */

struct brig_sched_plan {
    bool set_personality;
    unsigned long personality;
    bool set_scheduler;
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } attr; /* struct sched_attr, version 0 (48 bytes) */
    bool set_ioprio;
    int ioprio;
};

int brig_sched_plan_build(const struct brig_context *ctx, const struct brig_spec *spec, struct brig_sched_plan *plan,
                          struct brig_err **err);
int brig_sched_apply(const struct brig_sched_plan *plan, struct brig_err **err);
/* "0-3,7" -> a CPU set; the message names `field`. */
int brig_cpu_list_parse(const char *list, const char *field, cpu_set_t *set, struct brig_err **err);
/* execCPUAffinity is not applicable to the container's init (runtime-spec config.md): these apply it to an
 * exec'd process, `initial` before it joins the container's cgroup and `final` after. */
int brig_exec_affinity_apply_initial(const struct brig_process *proc, pid_t pid, struct brig_err **err);
int brig_exec_affinity_apply_final(const struct brig_process *proc, pid_t pid, struct brig_err **err);

/* ---- all of it (security.c) ---- */

struct brig_security {
    struct brig_caps_plan caps;
    struct brig_seccomp_plan seccomp;
    struct brig_lsm_plan lsm;
    struct brig_sched_plan sched;
    bool seccomp_early; /* load before the user change: without NNP, seccomp needs CAP_SYS_ADMIN */
};

/* Validates and compiles; zero-initialise `sec` first (release is then always safe). */
int brig_security_prepare(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                          const char *bundle, struct brig_security *sec, struct brig_err **err);
void brig_security_release(struct brig_security *sec);
static inline void brig_security_releasep(struct brig_security *sec)
{
    brig_security_release(sec);
}
#define cleanup_security __attribute__((cleanup(brig_security_releasep)))

int brig_security_init_begin(struct brig_security *sec, struct brig_err **err);
int brig_security_before_user(struct brig_security *sec, struct brig_err **err);
int brig_security_after_user(struct brig_security *sec, struct brig_err **err);
int brig_security_before_exec(struct brig_security *sec, struct brig_err **err);

#endif
