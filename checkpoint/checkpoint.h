/* Checkpoint and restore of a container's process tree with CRIU, as runc and crun do it, so that images are
 * interchangeable with theirs: every bind mount, device node and masked file is an external mount keyed by
 * its destination, a network or pid namespace joined by path is `extRootNetNS` / `extRootPidNS`, and the
 * stdio targets are kept in `descriptors.json` in the image directory.
 *
 * libcriu is dlopen()ed here, on a checkpoint or restore only: create and run never load it. This library
 * knows nothing of brig's state store; runtime/ gives it the container as a brig_ckpt_target. */
#ifndef BRIG_CHECKPOINT_CHECKPOINT_H
#define BRIG_CHECKPOINT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../cgroups/cgroups.h"
#include "../spec/spec.h"
#include "../util/error.h"

#define BRIG_CKPT_DESCRIPTORS "descriptors.json"
/* brig's network record of the dumped container (its network, address and ports), beside the image. */
#define BRIG_CKPT_NETWORK "brig-network"
/* An overlay root's record beside the image: the layers its config does not give, and its upper directory. */
#define BRIG_CKPT_ROOTFS "brig-rootfs"
#define BRIG_CKPT_CONFIG_ANNOTATION "org.criu.config"
#define BRIG_CKPT_CONFIG_BRIG "/etc/criu/brig.conf"
#define BRIG_CKPT_CONFIG_RUNC "/etc/criu/runc.conf"
#define BRIG_CKPT_DUMP_LOG "dump.log"
#define BRIG_CKPT_PRE_DUMP_LOG "pre-dump.log"
#define BRIG_CKPT_RESTORE_LOG "restore.log"

/* --manage-cgroups-mode. UNSET is ours: CRIU's own IGNORE is 0, which must still reach CRIU when asked. */
enum brig_ckpt_cg_mode {
    BRIG_CKPT_CG_UNSET,
    BRIG_CKPT_CG_SOFT,
    BRIG_CKPT_CG_FULL,
    BRIG_CKPT_CG_STRICT,
    BRIG_CKPT_CG_IGNORE,
};

/* Parses soft|full|strict|ignore; -EINVAL otherwise. */
int brig_ckpt_parse_cg_mode(const char *text, enum brig_ckpt_cg_mode *mode);

/* The flags of `checkpoint` and `restore` (runc's, plus crun's --tcp-close). */
struct brig_ckpt_opts {
    const char *criu_binary; /* NULL: `criu` in PATH (the global --criu) */
    const char *image_path; /* required */
    const char *work_path;  /* logs go here; NULL: image_path */
    const char *parent_path; /* a pre-dump's image directory (relative to image_path, as CRIU takes it) */
    bool leave_running;
    bool tcp_established;
    bool tcp_skip_in_flight;
    bool tcp_close;
    bool link_remap;
    bool ext_unix_sk;
    bool shell_job;
    bool lazy_pages;
    bool file_locks;
    bool pre_dump;
    bool auto_dedup;
    int status_fd; /* -1: none */
    const char *page_server; /* "ADDR:PORT" */
    enum brig_ckpt_cg_mode cg_mode;
    bool empty_netns; /* --empty-ns network: CRIU leaves the network namespace out of the image */
    /* Restore only. */
    const char *lsm_profile;
    const char *lsm_mount_context;
    bool no_pivot;
    /* Filled from a CRIU configuration file (brig_ckpt_config_apply). */
    unsigned ghost_limit;  /* 0: CRIU's default */
    unsigned timeout;      /* seconds, 0: CRIU's default */
    bool weak_sysctls;
    bool evasive_devices;
    bool orphan_pts_master;
    int log_level;         /* 0: 4 (debug) */
    char **skip_mounts;    /* owned; NULL-terminated */
    char **enable_fs;      /* owned; NULL-terminated */
    char **externals;      /* owned; NULL-terminated */
};

/* Frees what brig_ckpt_config_apply() added. */
void brig_ckpt_opts_clear(struct brig_ckpt_opts *opts);

/* Checks flags that cannot go together (--pre-dump with --lazy-pages, a bad --page-server...). */
int brig_ckpt_opts_check(const struct brig_ckpt_opts *opts, bool restore, struct brig_err **err);

/* What a dump or a restore works on. */
struct brig_ckpt_target {
    const char *id;
    pid_t pid;                       /* dump: the container's init */
    const struct brig_spec *spec;    /* mounts, devices, masked paths, namespaces, annotations */
    const char *rootfs;              /* absolute */
    const char *bundle;              /* restore: relative bind sources are its */
    const char *cgroup_path;         /* absolute; NULL: none */
    enum brig_cgroup_mode cgroup_mode;
    const char *scratch_dir;         /* restore: a directory of brig's for the temporary root mount point */
    /* Bind mounts brig adds to the config's (the network's /etc/hosts and /etc/resolv.conf). */
    const struct brig_mount *extra_mounts;
    size_t n_extra_mounts;
    /* brig's own network: the container's network namespace is left out of the image (dump), and restore
     * puts the tree into netns_fd, made and wired by brig beforehand (-1: none). */
    bool netns_external;
    int netns_fd;
    /* Restore: the container had a terminal; CRIU makes a new pty (its slave where the old one was) and
     * brig_ckpt_restore hands its master back for the --console-socket. */
    bool terminal;
};

/* Whether checkpoint and restore can be asked for, for `features` and `--version`: libcriu loads and the criu
 * binary is there (cheap: whether this kernel suits CRIU is brig_ckpt_probe's to say). */
bool brig_ckpt_available(const char *criu_binary);

/* For a rootless container (`what`: "checkpoint" or "restore"): CRIU run by the user needs its unprivileged
 * mode (`--unprivileged`, CAP_CHECKPOINT_RESTORE on the criu binary), which libcriu offers only from criu 3.18
 * on (criu_local_set_unprivileged); Debian 12's criu 3.17.1 has none. Always an error today, saying which of
 * the two is missing: the criu's mode, or brig's use of it. */
int brig_ckpt_rootless_refusal(const char *what, struct brig_err **err);

/* Loads libcriu and runs CRIU's own kernel check: "criu cannot work here: `criu check`: <its first error>".
 * Fast, and bounded (10 s): used by checkpoint and restore before anything is made. */
int brig_ckpt_probe(const char *criu_binary, struct brig_err **err);

/* Dumps (or pre-dumps) the process tree of t->pid into opts->image_path, the cgroup frozen meanwhile, and
 * writes descriptors.json. Unless leave_running (or a pre-dump), the tree is gone afterwards. Errors name the
 * CRIU log. */
int brig_ckpt_dump(const struct brig_ckpt_target *t, const struct brig_ckpt_opts *opts, struct brig_err **err);

/* Restores the image as a child of the caller, in t->cgroup_path (which must exist), with the caller's own
 * stdio pipes standing in for the ones saved in descriptors.json. *pid is the restored init; with
 * t->terminal, *pty_master the master of its new terminal (else -1). */
int brig_ckpt_restore(const struct brig_ckpt_target *t, const struct brig_ckpt_opts *opts, pid_t *pid,
                      int *pty_master, struct brig_err **err);

/* Post-copy's destination: starts `criu lazy-pages` fetching from the lazy dump's page server ("ADDR:PORT")
 * the pages the image at image_path left behind, and returns once its socket listens in work_path (where a
 * restore --lazy-pages with that --work-path finds it), with its pid. Its log is work_path/lazy-pages.log.
 * page_server NULL: the daemon reads the lazy pages from image_path itself (brig_ckpt_local_lazy_prepare). */
int brig_ckpt_lazy_daemon_start(const char *criu_binary, const char *image_path, const char *work_path,
                                const char *page_server, pid_t *pid, struct brig_err **err);
/* The same in two steps, for work in between (criu's start takes a second or two under TCG): spawn (the
 * daemon reads the image's pstree.img as it starts, its pagemaps only when the restore connects), then
 * ready, which closes ready_fd and on failure reaps the daemon (*pid -1). */
int brig_ckpt_lazy_daemon_spawn(const char *criu_binary, const char *image_path, const char *work_path,
                                const char *page_server, pid_t *pid, int *ready_fd, struct brig_err **err);
int brig_ckpt_lazy_daemon_ready(pid_t *pid, int ready_fd, const char *work_path, struct brig_err **err);
/* Waits for it to end (at most timeout_s, then kills it): 0 once every page was fetched, else its error. */
int brig_ckpt_lazy_daemon_wait(pid_t pid, const char *work_path, unsigned timeout_s, struct brig_err **err);
/* Kills and reaps it (a restore that failed: nothing will ask it for pages). */
void brig_ckpt_lazy_daemon_kill(pid_t pid);

/* A live migration's destination (pagemap.c says why): the pre-copied memory is left to a local
 * `criu lazy-pages` instead of being read by the restore. brig_ckpt_local_lazy_merge is called for each
 * image (a directory under images_fd) once it has arrived, in order: its pages go into the base's (the first
 * pre-dump's) pages file, which then holds every page's newest value. brig_ckpt_local_lazy_prepare, before
 * the restore, rewrites the final image so that the pages the base has a place for are PRESENT|LAZY there
 * (served from the base's file), the others still read through the chain (the image as it came becomes
 * FINAL.orig, the final image's parent). Nothing to do (no parent link): *out all 0. Both leave a chain a
 * plain restore reads the same as before. */
struct brig_ckpt_local_lazy {
    unsigned tasks;       /* pagemaps rewritten */
    uint64_t lazy_pages;  /* left to the daemon */
    uint64_t eager_pages; /* the restore still reads them */
    unsigned skipped;     /* tasks left as they came (their chain could not be planned), the first's why: */
    char why[256];
};
int brig_ckpt_local_lazy_merge(int images_fd, const char *dir, struct brig_err **err);
int brig_ckpt_local_lazy_prepare(int images_fd, const char *final, struct brig_ckpt_local_lazy *out,
                                 struct brig_err **err);

/* The image directory holds a CRIU image (inventory.img and descriptors.json): a clear error otherwise. */
int brig_ckpt_image_check(const char *image_path, struct brig_err **err);

/* A CRIU configuration file's text (one option a line, `--` optional, `#` comments), applied to opts on top
 * of the flags. An option brig cannot pass to CRIU is refused with `origin` and the line number. */
int brig_ckpt_config_apply(const char *text, const char *origin, struct brig_ckpt_opts *opts, struct brig_err **err);
/* Reads the configuration chosen as runc does: the file named by the org.criu.config annotation (empty:
 * none), else /etc/criu/brig.conf, else /etc/criu/runc.conf; none is fine. */
int brig_ckpt_config_load(const struct brig_spec *spec, struct brig_ckpt_opts *opts, struct brig_err **err);

#endif
