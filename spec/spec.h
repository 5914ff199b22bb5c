/* The OCI runtime-spec (1.2, Linux) as typed C structs, parsed once from config.json with yajl.
 * Nothing outside spec/ touches JSON. Absent strings are NULL; absent arrays have n_* == 0 and NULL;
 * string vectors are NULL-terminated (n_* gives the count); optional numbers carry a `set` flag. */
#ifndef BRIG_SPEC_SPEC_H
#define BRIG_SPEC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../util/error.h"
#include "features.h"

#define BRIG_OCI_VERSION "1.2.0"

typedef struct {
    bool set;
    int64_t value;
} brig_opt_i64;

typedef struct {
    bool set;
    uint64_t value;
} brig_opt_u64;

typedef struct {
    bool set;
    bool value;
} brig_opt_bool;

struct brig_kv {
    char *key;
    char *value;
};

struct brig_id_mapping {
    uint32_t container_id;
    uint32_t host_id;
    uint32_t size;
};

struct brig_mount {
    char *destination; /* required */
    char *source;
    char *type;
    char **options;
    size_t n_options;
    struct brig_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    struct brig_id_mapping *gid_mappings;
    size_t n_gid_mappings;
};

struct brig_rlimit {
    char *type; /* "RLIMIT_NOFILE" ... */
    uint64_t soft;
    uint64_t hard;
};

struct brig_capabilities {
    char **bounding;
    size_t n_bounding;
    char **effective;
    size_t n_effective;
    char **inheritable;
    size_t n_inheritable;
    char **permitted;
    size_t n_permitted;
    char **ambient;
    size_t n_ambient;
};

struct brig_user {
    uint32_t uid;
    uint32_t gid;
    brig_opt_u64 umask;
    uint32_t *additional_gids;
    size_t n_additional_gids;
    char *username;
};

struct brig_scheduler {
    char *policy; /* required when present: "SCHED_OTHER" ... */
    int32_t nice;
    int32_t priority;
    char **flags;
    size_t n_flags;
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
};

struct brig_io_priority {
    char *class_name; /* "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE" */
    int32_t priority;
};

struct brig_exec_cpu_affinity {
    char *initial;
    char *final;
};

struct brig_process {
    bool terminal;
    bool has_console_size;
    uint32_t console_height;
    uint32_t console_width;
    char *cwd; /* required */
    char **env;
    size_t n_env;
    char **args; /* required, non-empty */
    size_t n_args;
    struct brig_rlimit *rlimits;
    size_t n_rlimits;
    char *apparmor_profile;
    bool has_capabilities;
    struct brig_capabilities capabilities;
    bool no_new_privileges;
    brig_opt_i64 oom_score_adj;
    struct brig_scheduler *scheduler;
    char *selinux_label;
    struct brig_io_priority *io_priority;
    struct brig_exec_cpu_affinity *exec_cpu_affinity;
    struct brig_user user;
};

struct brig_hook {
    char *path; /* required */
    char **args;
    size_t n_args;
    char **env;
    size_t n_env;
    brig_opt_i64 timeout; /* seconds, > 0 */
};

struct brig_hooks {
    struct brig_hook *prestart;
    size_t n_prestart;
    struct brig_hook *create_runtime;
    size_t n_create_runtime;
    struct brig_hook *create_container;
    size_t n_create_container;
    struct brig_hook *start_container;
    size_t n_start_container;
    struct brig_hook *poststart;
    size_t n_poststart;
    struct brig_hook *poststop;
    size_t n_poststop;
};

enum brig_ns_type {
    BRIG_NS_PID,
    BRIG_NS_NETWORK,
    BRIG_NS_MOUNT,
    BRIG_NS_IPC,
    BRIG_NS_UTS,
    BRIG_NS_USER,
    BRIG_NS_CGROUP,
    BRIG_NS_TIME,
    BRIG_NS__COUNT,
};

struct brig_namespace {
    enum brig_ns_type type;
    char *path; /* NULL: create a new namespace */
};

struct brig_time_offset {
    bool set;
    int64_t secs;
    uint32_t nanosecs;
};

struct brig_device {
    char *type; /* "c", "b", "u" or "p" */
    char *path;
    int64_t major;
    int64_t minor;
    brig_opt_u64 file_mode;
    brig_opt_u64 uid;
    brig_opt_u64 gid;
};

struct brig_device_cgroup {
    bool allow;
    char *type; /* "a", "c", "b"; NULL means all */
    brig_opt_i64 major;
    brig_opt_i64 minor;
    char *access; /* "rwm" subset; NULL means all */
};

struct brig_memory {
    brig_opt_i64 limit;
    brig_opt_i64 reservation;
    brig_opt_i64 swap;
    brig_opt_i64 kernel;
    brig_opt_i64 kernel_tcp;
    brig_opt_u64 swappiness;
    brig_opt_bool disable_oom_killer;
    brig_opt_bool use_hierarchy;
    brig_opt_bool check_before_update;
};

struct brig_cpu {
    brig_opt_u64 shares;
    brig_opt_i64 quota;
    brig_opt_u64 burst;
    brig_opt_u64 period;
    brig_opt_i64 realtime_runtime;
    brig_opt_u64 realtime_period;
    char *cpus;
    char *mems;
    brig_opt_i64 idle;
};

struct brig_weight_device {
    int64_t major;
    int64_t minor;
    brig_opt_u64 weight;
    brig_opt_u64 leaf_weight;
};

struct brig_throttle_device {
    int64_t major;
    int64_t minor;
    uint64_t rate;
};

struct brig_block_io {
    brig_opt_u64 weight;
    brig_opt_u64 leaf_weight;
    struct brig_weight_device *weight_device;
    size_t n_weight_device;
    struct brig_throttle_device *throttle_read_bps;
    size_t n_throttle_read_bps;
    struct brig_throttle_device *throttle_write_bps;
    size_t n_throttle_write_bps;
    struct brig_throttle_device *throttle_read_iops;
    size_t n_throttle_read_iops;
    struct brig_throttle_device *throttle_write_iops;
    size_t n_throttle_write_iops;
};

struct brig_hugepage_limit {
    char *page_size; /* "2MB" ... */
    uint64_t limit;
};

struct brig_net_priority {
    char *name;
    uint32_t priority;
};

struct brig_rdma {
    char *device;
    brig_opt_u64 hca_handles;
    brig_opt_u64 hca_objects;
};

struct brig_resources {
    struct brig_device_cgroup *devices;
    size_t n_devices;
    struct brig_memory *memory;
    struct brig_cpu *cpu;
    brig_opt_i64 pids_limit; /* set when linux.resources.pids is present */
    struct brig_block_io *block_io;
    struct brig_hugepage_limit *hugepage_limits;
    size_t n_hugepage_limits;
    bool has_network;
    brig_opt_u64 net_class_id;
    struct brig_net_priority *net_priorities;
    size_t n_net_priorities;
    struct brig_rdma *rdma;
    size_t n_rdma;
    struct brig_kv *unified;
    size_t n_unified;
};

struct brig_seccomp_arg {
    uint32_t index;
    uint64_t value;
    uint64_t value_two;
    char *op; /* "SCMP_CMP_EQ" ... */
};

struct brig_seccomp_syscall {
    char **names;
    size_t n_names;
    char *action;
    brig_opt_u64 errno_ret;
    struct brig_seccomp_arg *args;
    size_t n_args;
};

struct brig_seccomp {
    char *default_action; /* required */
    brig_opt_u64 default_errno_ret;
    char **architectures;
    size_t n_architectures;
    char **flags;
    size_t n_flags;
    char *listener_path;
    char *listener_metadata;
    struct brig_seccomp_syscall *syscalls;
    size_t n_syscalls;
};

struct brig_intel_rdt {
    char *clos_id;
    char *l3_cache_schema;
    char *mem_bw_schema;
    bool enable_cmt;
    bool enable_mbm;
};

struct brig_personality {
    char *domain; /* "LINUX" | "LINUX32" */
    char **flags;
    size_t n_flags;
};

struct brig_memory_policy {
    char *mode;
    char *nodes;
    char **flags;
    size_t n_flags;
};

struct brig_linux {
    struct brig_namespace *namespaces;
    size_t n_namespaces;
    struct brig_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    struct brig_id_mapping *gid_mappings;
    size_t n_gid_mappings;
    struct brig_time_offset time_monotonic;
    struct brig_time_offset time_boottime;
    struct brig_device *devices;
    size_t n_devices;
    struct brig_kv *net_devices; /* host name -> name in the container (NULL value: same name) */
    size_t n_net_devices;
    char *cgroups_path;
    struct brig_resources *resources;
    char *rootfs_propagation;
    char **masked_paths;
    size_t n_masked_paths;
    char **readonly_paths;
    size_t n_readonly_paths;
    char *mount_label;
    struct brig_kv *sysctl;
    size_t n_sysctl;
    struct brig_seccomp *seccomp;
    struct brig_intel_rdt *intel_rdt;
    struct brig_personality *personality;
    struct brig_memory_policy *memory_policy;
};

struct brig_spec {
    char *oci_version; /* required */
    char *root_path;   /* "" when absent: then the root is made of layers (--layer, --image) */
    bool root_readonly;
    struct brig_mount *mounts;
    size_t n_mounts;
    struct brig_process *process; /* required for create/run */
    char *hostname;
    char *domainname;
    struct brig_hooks hooks;
    struct brig_kv *annotations;
    size_t n_annotations;
    struct brig_linux *linux_cfg; /* NULL when absent */

    void *arena_; /* owned by the parser; freed by brig_spec_free() */
};

/* Parses config.json text. On error returns negative and sets *err to a message that names the JSON path:
 *   "config.json: process.args: expected a non-empty array of strings"
 * Unknown fields are ignored. */
int brig_spec_parse(const char *json, size_t len, struct brig_spec **out, struct brig_err **err);
/* Reads and parses `path` (the message names the file). */
int brig_spec_load(const char *path, struct brig_spec **out, struct brig_err **err);
/* Reads a lone process object, as `exec --process` takes it, into a spec whose only member set is
 * `process` (free it with brig_spec_free). Messages name the field without a "process." prefix:
 *   "process.json: args: expected a non-empty array of strings" */
int brig_spec_parse_process(const char *json, size_t len, struct brig_spec **out, struct brig_err **err);
int brig_spec_load_process(const char *path, struct brig_spec **out, struct brig_err **err);
/* Reads a lone linux.resources object (`update --resources`) into a spec whose only member set is
 * linux_cfg->resources. `name` starts every message: "<name>: memory.limit: expected an integer". */
int brig_spec_parse_resources(const char *json, size_t len, const char *name, struct brig_spec **out,
                              struct brig_err **err);
void brig_spec_free(struct brig_spec *spec);
static inline void brig_spec_freep(struct brig_spec **spec)
{
    brig_spec_free(*spec);
}
#define cleanup_spec __attribute__((cleanup(brig_spec_freep)))

/* Looks up an annotation; NULL when absent. */
const char *brig_spec_annotation(const struct brig_spec *spec, const char *key);
/* The namespace entry of `type`, or NULL when the config does not ask for it. */
const struct brig_namespace *brig_spec_namespace(const struct brig_spec *spec, enum brig_ns_type type);
/* "pid", "network", "mount", ... */
const char *brig_ns_type_name(enum brig_ns_type type);

/* The default config.json that `brig spec` writes (runc's defaults, `sh` as the process; `rootless`
 * adds a user namespace mapping the caller's uid/gid and drops what needs privilege). Returns a
 * malloc'd, pretty-printed JSON text. */
int brig_spec_default_json(bool rootless, uid_t uid, gid_t gid, char **out, struct brig_err **err);

/* What `spec --image` takes from an image instead of runc's defaults: the process, and annotations recording
 * the image. Such a config has no root.path (the root is the image's layers) and a writable root. */
struct brig_spec_image {
    char *const *args;
    size_t n_args;
    char *const *env;
    size_t n_env;
    const char *cwd;
    uint32_t uid;
    uint32_t gid;
    const uint32_t *additional_gids;
    size_t n_additional_gids;
    const struct brig_kv *annotations;
    size_t n_annotations;
    /* Rootless: the user namespace's maps (n 0: 0 the caller's uid and gid, as `spec --rootless`). */
    const struct brig_id_mapping *uid_mappings;
    size_t n_uid_mappings;
    const struct brig_id_mapping *gid_mappings;
    size_t n_gid_mappings;
};
int brig_spec_image_json(bool rootless, uid_t uid, gid_t gid, const struct brig_spec_image *image, char **out,
                         struct brig_err **err);

/* A named network's file (<config dir>/networks/NAME.json), which netns/ reads: {"bridge", "subnet",
 * "gateway", "subnet6", "mtu", "keepBridge"}, every member optional. Strings are malloc'd. */
struct brig_network_file {
    char *bridge;
    char *subnet;
    char *gateway;
    char *subnet6;
    uint32_t mtu;
    bool keep_bridge;
};
int brig_network_file_parse(const char *json, size_t len, const char *file, struct brig_network_file *out,
                            struct brig_err **err);
void brig_network_file_clear(struct brig_network_file *f);

/* A JSON array of strings (CRIU's descriptors.json): parsed into a NULL-terminated vector (freed with
 * brig_strv_free), and formatted back. `file` names the document in errors. */
int brig_json_strv_parse(const char *json, size_t len, const char *file, char ***out, size_t *n,
                         struct brig_err **err);
int brig_json_strv_format(char *const *strv, size_t n, char **out, struct brig_err **err);
void brig_strv_free(char **strv);

#endif
