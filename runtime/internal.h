/* Private to runtime/: the state store, the init process and the console. */
#ifndef BRIG_RUNTIME_INTERNAL_H
#define BRIG_RUNTIME_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../cgroups/cgroups.h"
#include "../namespaces/namespaces.h"
#include "../rootfs/rootfs.h"
#include "runtime.h"

#define BRIG_STATE_FILE "state.json"
#define BRIG_EXEC_FIFO "exec.fifo"
/* pid, start time and cgroup of the init, beside state.json and written before it at every save, in a
 * plain format of its own: what delete --force falls back to when state.json is corrupt or truncated. */
#define BRIG_INIT_RECORD "init-record"

/* ---- state store (store.c) ---- */

/* An open container directory under the root, locked with flock() for the life of the handle. */
struct brig_container_dir {
    int root_fd;
    int dir_fd;
    char *id;
};

int brig_store_open_root(const struct brig_context *ctx, bool create, int *root_fd, struct brig_err **err);
/* Makes <root>/<id> (EEXIST → "container `id` already exists"), locked before the id names it. */
int brig_store_create(const struct brig_context *ctx, const char *id, struct brig_container_dir *dir,
                      struct brig_err **err);
/* Opens an existing container ("container `id` does not exist" when missing), locked when `lock`: readers
 * (state, list) need no lock because state.json is replaced atomically and a removal renames the
 * directory away before emptying it. *state is NULL while a create is still under way (or died before
 * writing it). */
int brig_store_open(const struct brig_context *ctx, const char *id, bool lock, struct brig_container_dir *dir,
                    struct brig_state **state, struct brig_err **err);
/* brig_store_open locked, for delete --force: a state.json that cannot be read or parsed is replaced (with
 * a warning) by the minimal state of the init record (also when state.json is missing and a record is
 * there); with neither readable, the error names both. */
int brig_store_open_for_removal(const struct brig_context *ctx, const char *id, struct brig_container_dir *dir,
                                struct brig_state **state, struct brig_err **err);
/* Holds or releases the container's lock (a foreground `run` must not hold it while the container runs). */
int brig_store_lock(struct brig_container_dir *dir, bool lock, struct brig_err **err);
int brig_store_save(const struct brig_container_dir *dir, const struct brig_state *state, struct brig_err **err);
/* Removes the container directory and everything in it: renamed to a hidden name first, so readers see it
 * whole or not at all. Also removes what earlier removals that died midway left. */
int brig_store_remove(struct brig_container_dir *dir, struct brig_err **err);
void brig_store_close(struct brig_container_dir *dir);
/* Removes what removals and creates that died midway left (hidden directories nobody holds locked, and the
 * temporary directories of image unpacks noted by brig_store_note_unpack). */
void brig_store_sweep(const struct brig_context *ctx);
/* An image's layers are unpacked before the container's directory exists: <root>/.unpack-<pid>, locked for
 * as long as *note_fd is open, names the layer store meanwhile, so that if brig dies there, delete --force
 * finds the store to sweep. brig_store_unnote_unpack removes the note and closes *note_fd. */
int brig_store_note_unpack(const struct brig_context *ctx, const char *store, int *note_fd, struct brig_err **err);
void brig_store_unnote_unpack(const struct brig_context *ctx, int *note_fd);

/* Computes creating|created|running|paused|stopped from the process and the exec fifo. */
const char *brig_container_status(const struct brig_container_dir *dir, const struct brig_state *state);
bool brig_process_alive(pid_t pid, uint64_t start_time);

/* ---- the init process (init.c) ---- */

/* Messages on the sync socket between the parent (create) and the init. */
enum brig_sync_msg {
    BRIG_SYNC_GO = 'g',    /* parent → init: id maps written, cgroup joined */
    BRIG_SYNC_READY = 'r', /* init → parent: set up, waiting on the exec fifo */
    BRIG_SYNC_ERROR = 'e', /* init → parent: followed by an encoded brig_err */
    BRIG_SYNC_HOOKS = 'h', /* init → parent: mounts made, run prestart/createRuntime, then GO again */
    BRIG_SYNC_SOURCES = 's', /* parent → init, before the first GO: bind mount sources it opened, as u32
                              * `mounts[]` indices with one SCM_RIGHTS fd each */
};

/* Sources per BRIG_SYNC_SOURCES message (SCM_RIGHTS takes at most 253 fds). */
#define BRIG_SYNC_MAX_SOURCES 64

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

struct brig_init_args {
    const struct brig_context *ctx;
    const struct brig_spec *spec;
    const struct brig_create_opts *opts;
    struct brig_ns_plan *ns_plan;
    const char *rootfs;  /* absolute */
    const char *bundle;  /* absolute */
    int sync_fd;         /* init's end of the sync socket */
    int state_dir_fd;    /* O_PATH fd of <root>/<id>: the exec fifo is opened through it after pivot_root */
    int fifo_fd;         /* the init's own: O_PATH fd of the exec fifo once state_dir_fd is closed, or -1 */
    int console_fd;      /* connected console socket, or -1 */
    unsigned listen_fds; /* socket-activation fds (LISTEN_FDS) passed on before the --preserve-fds ones */
    struct brig_fds preserve; /* the caller's fds among 3..3+listen_fds+preserve_fds-1: what the process gets */
    const char *cgroup_path;   /* where the parent puts us, for the cgroup mount (NULL: unknown) */
    const struct brig_cgroup_entry *cgroup_entry; /* the init moves itself in first thing (NULL: no cgroup) */
    char *hook_state;          /* state JSON for createContainer and startContainer hooks, from GO */
    int *source_fds;           /* per `mounts[]` entry, a bind source from BRIG_SYNC_SOURCES or -1; NULL: none */
    struct brig_security *security; /* checked and compiled before the clone (security.h) */
    const struct brig_overlay *overlay; /* rootless: the overlay root the init mounts itself, or NULL */
};

struct brig_security;

/* Runs in the cloned child. Never returns: exec's the user process or exits. */
__attribute__((noreturn)) void brig_init_main(struct brig_init_args *args);

/* ---- console (console.c) ---- */

/* Sends `fd` over the unix socket `sock` with SCM_RIGHTS (as containerd and conmon expect). */
int brig_console_send_fd(int sock, int fd, const char *name, struct brig_err **err);
int brig_console_recv_fd(int sock, int *fd, struct brig_err **err);
/* Connects to the console socket path given with --console-socket. */
int brig_console_connect(const char *path, int *fd, struct brig_err **err);
/* Makes a pty in the container's devpts (the init also binds its slave to /dev/console), sends the master
 * over `console_fd`, and makes the slave the controlling terminal and stdio. */
int brig_console_setup_pty(const struct brig_process *proc, int console_fd, bool bind_dev_console,
                           struct brig_err **err);
/* In `brig run` with a terminal and no --console-socket: copies between our stdio and the pty master until
 * the container exits. */
int brig_console_proxy(int master_fd, int pidfd, int signal_fd, pid_t pid, int *exit_status, struct brig_err **err);

/* Every signal a user may send to a foreground `run` (or `restore`), which goes to the container instead. */
void brig_forwarded_signals(sigset_t *set);

/* Waits for the process behind `pidfd`, forwarding the signals in `forward` to it (and proxying its pty when
 * master_fd >= 0); *exit_status is its status, or 128+signal. */
int brig_wait_forwarding(int pidfd, pid_t pid, int master_fd, const sigset_t *forward, int *exit_status,
                         struct brig_err **err);

/* ---- lifecycle pieces shared by create, start and run ---- */

/* The parent half of create: everything up to "created". On success the init is waiting on the exec fifo,
 * *pid and *pidfd identify it, and state.json is written. On failure nothing is left behind. */
struct brig_created {
    pid_t pid;
    int pidfd;
    struct brig_container_dir dir;
    struct brig_state *state;
    int console_master_fd; /* run without --console-socket: the pty master, else -1 */
};
int brig_create_container(const struct brig_context *ctx, const struct brig_create_opts *opts, bool for_run,
                          struct brig_created *out, struct brig_err **err);
/* Releases the init through the exec fifo and waits until its user process is exec'd (or reports why not). */
int brig_start_created(const struct brig_context *ctx, struct brig_container_dir *dir, struct brig_state *state,
                       struct brig_err **err);
/* Runs the poststart or poststop hooks of a container (when it has any) with `status` in the state; a
 * failure is a warning. */
void brig_run_lifecycle_hooks(const struct brig_context *ctx, const struct brig_state *state, const char *phase,
                              const char *status);
/* Kills the container's processes, removes its cgroup (unless it joined one that existed: then only the
 * init is killed), overlay root and state directory. An overlay's upper directory is kept when `keep_upper`
 * or the state says so (*kept_upper, when not NULL, says where). */
int brig_destroy_container(const struct brig_context *ctx, struct brig_container_dir *dir,
                           const struct brig_state *state, bool keep_upper, char **kept_upper,
                           struct brig_err **err);

/* Pieces of create that restore shares. root.path made absolute and checked to be a directory. */
int brig_resolve_rootfs(const char *bundle, const struct brig_spec *spec, char **rootfs, struct brig_err **err);
/* A new state for the container (status, pid and start time to be set). */
int brig_fill_state(const struct brig_spec *spec, const char *id, pid_t pid, const char *bundle, const char *rootfs,
                    const char *config_path, const char *cgroup_path, bool systemd_cgroup, struct brig_state **out,
                    struct brig_err **err);
/* Records the init and its start time (pid reuse detection); ESRCH when it is gone already. */
int brig_state_set_init(struct brig_state *st, pid_t pid, struct brig_err **err);

/* ---- an overlay root (overlay.c) ---- */

#define BRIG_ROOTFS_LAYERS_ANNOTATION "run.brig.rootfs.layers"                  /* "DIR:DIR", lowest first */
#define BRIG_ROOTFS_OVERLAY_OPTIONS_ANNOTATION "run.brig.rootfs.overlay-options" /* "metacopy=on,..." */
#define BRIG_ROOTFS_OVERLAY_DRIVER_ANNOTATION "run.brig.rootfs.overlay-driver"   /* auto|kernel|fuse-overlayfs */
/* Under --root: where delete --keep-upper moves an upper directory (<root>/.upper/<id>). */
#define BRIG_KEPT_UPPER_DIR ".upper"

/* The overlay a create builds its root from. Its mount point, upper and work directories are the state
 * directory's (`rootfs`, `upper`, `work`), but for --upper DIR, whose work directory is DIR's sibling
 * `.BASENAME-work`. */
struct brig_root_layers {
    bool enabled;       /* false: root.path is bound as it is */
    struct brig_overlay ov;
    bool owns_upper;    /* the upper is the state directory's */
    bool made_upper;    /* --upper DIR did not exist: a failed create removes what it made */
    bool in_init;       /* rootless: the init mounts it, in the container's mount namespace */
    bool keep_upper;
};

/* Works out the overlay from root.path, the run.brig.rootfs.* annotations and opts (layers, upper,
 * keep_upper), checking every layer is a directory; nothing is made yet. */
int brig_root_layers_plan(const struct brig_context *ctx, const struct brig_spec *spec, const char *bundle,
                          const struct brig_create_opts *opts, struct brig_root_layers *out, struct brig_err **err);
/* What delete needs to find it again, into the state (saved before setup makes anything). */
int brig_root_layers_record(const struct brig_root_layers *layers, struct brig_state *state);
/* Makes the mount point, upper and work directories and, as root, mounts the overlay in the host's mount
 * namespace, where the init's new mount namespace gets a copy of it. */
int brig_root_layers_setup(const struct brig_container_dir *dir, struct brig_root_layers *layers,
                           struct brig_err **err);
/* A failed create: unmounts and removes everything setup made, an --upper DIR it made too. */
void brig_root_layers_undo(const struct brig_container_dir *dir, const struct brig_root_layers *layers);
/* delete: unmounts the overlay (when create mounted it, even if create was killed), removes the work
 * directory, and removes or (keep) moves the state directory's upper to <root>/.upper/<id>. */
int brig_root_layers_teardown(const struct brig_context *ctx, const struct brig_container_dir *dir,
                              const struct brig_state *state, bool keep, char **kept, struct brig_err **err);
void brig_root_layers_clear(struct brig_root_layers *layers);
/* Rootless, the container's processes may have made files as its other (subordinate) ids, which the user
 * cannot read or remove from here: runs fn in a child that is root of a new user namespace with the
 * container's id maps (from its config), where it can. fn's error comes back in *err. */
int brig_as_container_root(const struct brig_state *state, int (*fn)(void *data, struct brig_err **err), void *data,
                           struct brig_err **err);
#define cleanup_root_layers __attribute__((cleanup(brig_root_layers_clear)))

/* ---- cgroup setup at create (cgroup_ops.c) ---- */

/* --systemd-cgroup needs systemd as PID 1 and root: one line saying which is missing (create, restore). */
int brig_runtime_check_systemd(const struct brig_context *ctx, struct brig_err **err);
/* brig_cgroup_create with the config's linux.resources and linux.devices, warnings going to the log.
 * A cgroup that exists already is refused when it is another container's: one of --root's containers
 * (other than `id`) has it, or a cgroup above or below it, or it holds processes in other namespaces than
 * brig's. Processes of the host's namespaces get a warning, and the container joins them: *joined. */
int brig_runtime_cgroup_create(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                               enum brig_cgroup_mode mode, const char *path, struct brig_cgroup_entry *entry,
                               bool *joined, struct brig_err **err);

#endif
