/* The container lifecycle: create, start, run, state, list, kill, delete, and the state store under --root.
 * cmd/ parses flags into these structs and calls one function; everything else happens here. */
#ifndef BRIG_RUNTIME_RUNTIME_H
#define BRIG_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../checkpoint/checkpoint.h"
#include "../spec/spec.h"
#include "../spec/state.h"
#include "../util/error.h"
#include "../util/util.h"

#define BRIG_DEFAULT_ROOT "/run/brig"

enum brig_log_format {
    BRIG_LOG_TEXT,
    BRIG_LOG_JSON,
};

enum brig_log_level {
    BRIG_LOG_ERROR,
    BRIG_LOG_WARNING,
    BRIG_LOG_INFO,
    BRIG_LOG_DEBUG,
};

/* Global options, as given before the command. */
struct brig_context {
    const char *criu;    /* --criu PATH: the criu binary (NULL: `criu` in PATH) */
    const char *root;    /* state root, default BRIG_DEFAULT_ROOT (or $XDG_RUNTIME_DIR/brig when rootless) */
    int log_fd;          /* --log FILE, or -1: messages go to stderr */
    enum brig_log_format log_format;
    bool debug;
    bool systemd_cgroup;
    bool rootless;
    struct brig_fds caller_fds; /* the caller's fds from 3 up, listed before brig opened any (--preserve-fds) */
};

void brig_log(const struct brig_context *ctx, enum brig_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports a failed command: one line on stderr and, with --log, an error record in the log (containerd shows
 * the last `"level":"error"` line of a JSON log to its user). */
void brig_log_error(const struct brig_context *ctx, const struct brig_err *err);

/* Options of create and run. */
struct brig_create_opts {
    const char *id;
    const char *bundle;      /* default "." */
    const char *config_file; /* default "config.json", relative to the bundle */
    const char *pid_file;
    const char *console_socket;
    const char *pidfd_socket; /* receives a pidfd of the init (SCM_RIGHTS), as runc's --pidfd-socket */
    unsigned preserve_fds;
    bool no_pivot;
    bool no_new_keyring;
    bool detach; /* run only */
    bool keep;   /* run only: keep the container's state after it exits */
    /* brig's own networking, like the run.brig.* annotations: --network NAME|none, --ip, -p/--publish. */
    const char *network;
    const char *ip;
    char **publish;
    size_t n_publish;
    /* An overlay root: --layer DIR (repeatable, lowest first) over root.path and the run.brig.rootfs.layers
     * annotation's; --upper DIR keeps the changes there, --keep-upper keeps them on delete. */
    char **layers;
    size_t n_layers;
    const char *upper;
    bool keep_upper;
    /* --image LAYOUT[:REF]: its layers go below `layers` (else the config's run.brig.image annotation, which
     * `spec --image` writes); unpacked into `store` (--store; default: brig_image_store_path()). */
    const char *image;
    const char *store;
};

/* Ids: letters, digits, and `_ + - .`, not starting with `.`, at most 1024 bytes (no `/`, no `..`). */
int brig_validate_id(const char *id, struct brig_err **err);

int brig_container_create(const struct brig_context *ctx, const struct brig_create_opts *opts, struct brig_err **err);
int brig_container_start(const struct brig_context *ctx, const char *id, struct brig_err **err);
/* Creates, starts and (unless detached) waits for the container, forwarding signals to it. *exit_status is the
 * container's exit status, or 128+signal when it was killed. With --keep-upper, *kept_upper (when not NULL)
 * says where the upper directory was kept. */
int brig_container_run(const struct brig_context *ctx, const struct brig_create_opts *opts, int *exit_status,
                       char **kept_upper, struct brig_err **err);

/* Options of exec: the container's own process (config.json) overridden by these. */
struct brig_exec_opts {
    const char *id;
    const char *process_file; /* --process: a whole process.json replaces the container's process */
    char **args;              /* after the id; required unless process_file */
    size_t n_args;
    char **env;               /* --env KEY=VALUE, added to (or replacing) the container's */
    size_t n_env;
    const char *cwd;
    const char *user;         /* "UID[:GID]" */
    uint32_t *additional_gids;
    size_t n_additional_gids;
    char **caps;              /* --cap: added to every set */
    size_t n_caps;
    int tty;                  /* -1: as the process says; 0/1: -t given */
    bool detach;
    const char *pid_file;
    const char *console_socket;
    const char *pidfd_socket;
    unsigned preserve_fds;
    bool no_new_privs;
    const char *apparmor;
    const char *process_label;
    const char *cgroup;       /* --cgroup: a sub-cgroup of the container's */
    bool ignore_paused;
};

/* Runs a new process in a running container. *exit_status is its status (unless detached). */
int brig_container_exec(const struct brig_context *ctx, const struct brig_exec_opts *opts, int *exit_status,
                        struct brig_err **err);

/* The runtime-spec `features` document of this brig. */
int brig_features_print(const struct brig_context *ctx, char **json, struct brig_err **err);

/* Pretty runtime-spec state JSON of one container. */
int brig_container_state_json(const struct brig_context *ctx, const char *id, char **json, struct brig_err **err);
/* The stored state of container `id`, its status filled in (for migrate/, which works around checkpoint and
 * restore and needs the bundle, config and rootfs paths). */
int brig_container_load_state(const struct brig_context *ctx, const char *id, struct brig_state **out,
                              struct brig_err **err);

enum brig_list_format {
    BRIG_LIST_TABLE,
    BRIG_LIST_JSON,
    BRIG_LIST_QUIET,
};
int brig_container_list(const struct brig_context *ctx, enum brig_list_format format, int out_fd,
                        struct brig_err **err);

/* Parses "KILL", "SIGKILL", "9" (and "SIGRTMIN+1"...). */
int brig_parse_signal(const char *name, int *sig, struct brig_err **err);
int brig_container_kill(const struct brig_context *ctx, const char *id, int sig, bool all, struct brig_err **err);
/* `keep_upper`: an overlay root's upper directory (its changes) is moved out of the state directory instead
 * of removed; *kept_upper (when not NULL) then says where it is, NULL when there was none to keep. */
int brig_container_delete(const struct brig_context *ctx, const char *id, bool force, bool keep_upper,
                          char **kept_upper, struct brig_err **err);

/* `brig diff`: the changes of a container with an overlay root, as `podman diff` prints them ("A /path",
 * "C /path", "D /path", sorted by path), to out_fd. */
int brig_container_diff(const struct brig_context *ctx, const char *id, int out_fd, struct brig_err **err);

/* ---- cgroup commands (cgroup_ops.c) ---- */

/* Parses a memory size as runc's flags take it: "1024", "512k", "512m", "1g" (binary multiples, an optional
 * trailing b or ib), or "-1" for unlimited. Returns 0 or -EINVAL/-ERANGE. */
int brig_parse_memory_size(const char *text, int64_t *out);
/* Changes a live container's resources: those of the linux.resources JSON at `resources_path` ("-" for
 * standard input; NULL for none), with the ones set in `flags` (may be NULL) taking precedence. */
int brig_container_update(const struct brig_context *ctx, const char *id, const char *resources_path,
                          const struct brig_resources *flags, struct brig_err **err);
/* Freezes a running (or created) container / thaws a paused one; `state` then says "paused". */
int brig_container_pause(const struct brig_context *ctx, const char *id, struct brig_err **err);
int brig_container_resume(const struct brig_context *ctx, const char *id, struct brig_err **err);
/* The container's processes: `json` prints a JSON array of pids; otherwise runs `ps` with `ps_args`
 * (NULL-terminated; default -ef) and keeps the header and the container's lines. */
int brig_container_ps(const struct brig_context *ctx, const char *id, bool json, char *const *ps_args, int out_fd,
                      struct brig_err **err);
/* `stats_once`: one {"type":"stats","id":..,"data":{...}} line. Otherwise streams stats every `interval_ms`
 * (0: 5 s) and {"type":"oom","id":..} lines as OOM kills happen, until the container stops. */
int brig_container_events(const struct brig_context *ctx, const char *id, bool stats_once, unsigned interval_ms,
                          int out_fd, struct brig_err **err);

/* ---- checkpoint and restore with CRIU (checkpoint.c) ---- */

/* Dumps a running (or paused) container into opts->image_path. Unless --leave-running or --pre-dump, the
 * container is gone afterwards (deleted, as runc does); after a failed dump it runs on. */
int brig_container_checkpoint(const struct brig_context *ctx, const char *id, struct brig_ckpt_opts *opts,
                              struct brig_err **err);

struct brig_restore_opts {
    const char *id;
    const char *bundle;  /* default "." */
    const char *pid_file;
    const char *console_socket;
    bool detach;
    bool no_subreaper;
    /* The cgroup goes below this absolute path (the config's path under it), as on a host whose containers
     * live elsewhere in its hierarchy (migrate-receive --cgroup-parent); NULL: the config's path. */
    const char *cgroup_parent;
    struct brig_ckpt_opts ckpt;
};
/* Restores a checkpoint as container `id` of `bundle` (a new cgroup from its config, its rootfs). Unless
 * detached, waits for it as `run` does (*exit_status) and deletes it afterwards. On failure nothing is left. */
int brig_container_restore(const struct brig_context *ctx, struct brig_restore_opts *opts, int *exit_status,
                           struct brig_err **err);

#endif
