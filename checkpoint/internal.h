/* Private to checkpoint/: libcriu's functions, loaded with dlopen() on a checkpoint or restore only. */
#ifndef BRIG_CHECKPOINT_INTERNAL_H
#define BRIG_CHECKPOINT_INTERNAL_H

#include <criu/criu.h>

#include "checkpoint.h"

#define CKPT_CRIU_SONAME "libcriu.so.2"

#define CKPT_CRIU_FUNCS(X)                                                                                    \
    X(criu_local_init_opts)                                                                                    \
    X(criu_local_free_opts)                                                                                    \
    X(criu_local_set_service_binary)                                                                           \
    X(criu_local_set_pid)                                                                                      \
    X(criu_local_set_images_dir_fd)                                                                            \
    X(criu_local_set_work_dir_fd)                                                                              \
    X(criu_local_set_parent_images)                                                                            \
    X(criu_local_set_leave_running)                                                                            \
    X(criu_local_set_ext_unix_sk)                                                                              \
    X(criu_local_set_tcp_established)                                                                          \
    X(criu_local_set_tcp_skip_in_flight)                                                                       \
    X(criu_local_set_tcp_close)                                                                                \
    X(criu_local_set_weak_sysctls)                                                                             \
    X(criu_local_set_evasive_devices)                                                                          \
    X(criu_local_set_shell_job)                                                                                \
    X(criu_local_set_orphan_pts_master)                                                                        \
    X(criu_local_set_file_locks)                                                                               \
    X(criu_local_set_track_mem)                                                                                \
    X(criu_local_set_auto_dedup)                                                                               \
    X(criu_local_set_link_remap)                                                                               \
    X(criu_local_set_log_level)                                                                                \
    X(criu_local_set_log_file)                                                                                 \
    X(criu_local_set_root)                                                                                     \
    X(criu_local_set_manage_cgroups)                                                                           \
    X(criu_local_set_manage_cgroups_mode)                                                                      \
    X(criu_local_set_freeze_cgroup)                                                                            \
    X(criu_local_set_lsm_profile)                                                                              \
    X(criu_local_set_lsm_mount_context)                                                                        \
    X(criu_local_set_timeout)                                                                                  \
    X(criu_local_set_ghost_limit)                                                                              \
    X(criu_local_add_ext_mount)                                                                                \
    X(criu_local_add_cg_root)                                                                                  \
    X(criu_local_add_enable_fs)                                                                                \
    X(criu_local_add_skip_mnt)                                                                                 \
    X(criu_local_add_inherit_fd)                                                                               \
    X(criu_local_add_external)                                                                                 \
    X(criu_local_set_page_server_address_port)                                                                 \
    X(criu_local_dump)                                                                                         \
    X(criu_local_pre_dump)                                                                                     \
    X(criu_local_restore_child)                                                                                \
    X(criu_local_set_notify_cb)                                                                                \
    X(criu_get_orphan_pts_master_fd)

struct ckpt_criu {
#define CKPT_DECLARE_FN(name) __typeof__(name) *name;
    CKPT_CRIU_FUNCS(CKPT_DECLARE_FN)
#undef CKPT_DECLARE_FN
};

/* Fills `criu` (libcriu stays loaded for the life of the process). */
int ckpt_criu_load(struct ckpt_criu *criu, struct brig_err **err);

/* libcriu's options with what dump and restore share set: the criu binary, the image and work directories,
 * the log, and the options of a configuration file. *o is freed with criu->criu_local_free_opts. */
int ckpt_opts_common(const struct ckpt_criu *criu, const struct brig_ckpt_opts *opts, int images_fd, int work_fd,
                     const char *log_name, criu_opts **o, struct brig_err **err);

/* The error of a failed CRIU call: "<what>: criu failed (<ret>): <the first error of its log> (log: PATH)". */
int ckpt_criu_error(int ret, const char *what, const char *work_path, const char *log_name, struct brig_err **err);

/* A mount destination as the container's mount table shows it: its symlinks resolved inside the rootfs
 * (brig mounts on the resolved path). Falls back to `destination` when it cannot be resolved. */
char *ckpt_resolve_destination(int rootfs_fd, const char *rootfs, const char *destination);

/* Every bind mount (the config's and t->extra_mounts) and masked file as an external mount. */
int ckpt_add_external_mounts(const struct ckpt_criu *criu, criu_opts *o, const struct brig_ckpt_target *t,
                             bool restore, struct brig_err **err);
/* A network or pid namespace joined by path: declared external on dump; on restore opened and inherited
 * (the fds, at most 3, go to inherited[] for the caller to close). With `empty_net`, the container's own
 * network namespace is treated as a joined one (brig's network), and restore gets t->netns_fd or a new
 * empty one. */
int ckpt_add_external_namespaces(const struct ckpt_criu *criu, criu_opts *o, const struct brig_ckpt_target *t,
                                 bool restore, bool empty_net, int *inherited, size_t *n_inherited,
                                 struct brig_err **err);

/* --page-server ADDR:PORT split (checked by brig_ckpt_opts_check). */
int ckpt_page_server(const struct brig_ckpt_opts *opts, char *addr, size_t len, int *port);

/* Options libcriu has no setter for, for one CRIU call: --lazy-pages (with --status-fd and the lazy dump's
 * address) and, with `empty_netns`, --empty-ns network as CRIU's own. They go in a private configuration file
 * named by CRIU_CONFIG_FILE, which criu's swrk reads before the RPC request (criu_conf.c). */
#define CKPT_CRIU_CONFIG_ENV "CRIU_CONFIG_FILE"
struct ckpt_criu_conf {
    int memfd;      /* -1: nothing to pass */
    char *previous; /* the caller's CRIU_CONFIG_FILE, put back by ckpt_criu_conf_end */
    bool env_set;
};
/* A restore with --lazy-pages first checks that `criu lazy-pages` listens in work_path. */
int ckpt_criu_conf_begin(const struct brig_ckpt_opts *opts, bool restore, bool empty_netns, const char *work_path,
                         struct ckpt_criu_conf *c, struct brig_err **err);
void ckpt_criu_conf_end(struct ckpt_criu_conf *c);

/* Whether a config mount is a bind mount (CRIU must be told of it as an external mount). */
bool ckpt_mount_is_bind(const struct brig_mount *m);

/* Restore into a rootfs the container never ran in (Podman's --import unpacks a fresh copy, containerd's
 * restore gets a new snapshot): the mount points create made are missing, and CRIU cannot bind its external
 * mounts there ("Can't stat mountpoint .../etc/hosts"). Makes them as create does (a file for a
 * non-directory source, else a directory; none below a tmpfs of the config, whose content CRIU restores, or
 * below another bind mount, whose source holds it),
 * inside the rootfs, as runc does before a restore. They stay after a failed restore, as create's do. */
int ckpt_make_mountpoints(const struct brig_ckpt_target *t, struct brig_err **err);

#endif
