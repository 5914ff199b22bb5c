/* The config.json that `brig spec` writes: the same defaults `runc spec` uses, so bundles made for one run
 * on the other. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../util/util.h"
#include "json.h"
#include "spec.h"

struct default_mount {
    const char *destination;
    const char *type;
    const char *source;
    const char *options[8]; /* NULL-terminated; an empty list writes no "options" */
};

static const struct default_mount default_mounts[] = {
    { "/proc", "proc", "proc", { NULL } },
    { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
    { "/dev/pts", "devpts", "devpts",
      { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
    { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
    { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
    { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
    { "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro" } },
};

/* Without privilege sysfs cannot be mounted afresh (no network namespace of our own): bind the host's. */
static const struct default_mount rootless_sys = { "/sys", "none", "/sys",
                                                   { "rbind", "nosuid", "noexec", "nodev", "ro" } };

static const char *const default_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
};
static const char *const default_caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };
static const char *const default_masked[] = {
    "/proc/acpi",       "/proc/asound",      "/proc/kcore",        "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/sys/firmware",    "/proc/scsi",        "/sys/devices/virtual/tpm",
};
static const char *const default_readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

#define GEN(expr)                                                                                             \
    do {                                                                                                       \
        if ((expr) != yajl_gen_status_ok)                                                                      \
            return -EINVAL;                                                                                    \
    } while (0)

static int gen_user(yajl_gen g, const struct brig_spec_image *image)
{
    GEN(jgen_str(g, "user"));
    GEN(yajl_gen_map_open(g));
    GEN(jgen_key_u64(g, "uid", image ? image->uid : 0));
    GEN(jgen_key_u64(g, "gid", image ? image->gid : 0));
    if (image && image->n_additional_gids) {
        GEN(jgen_str(g, "additionalGids"));
        GEN(yajl_gen_array_open(g));
        for (size_t i = 0; i < image->n_additional_gids; i++) {
            char num[16];
            int len = snprintf(num, sizeof(num), "%u", (unsigned) image->additional_gids[i]);
            GEN(yajl_gen_number(g, num, (size_t) len));
        }
        GEN(yajl_gen_array_close(g));
    }
    GEN(yajl_gen_map_close(g));
    return 0;
}

static int gen_process(yajl_gen g, const struct brig_spec_image *image)
{
    static const char *const args[] = { "sh" };

    GEN(jgen_str(g, "process"));
    GEN(yajl_gen_map_open(g));
    GEN(jgen_key_bool(g, "terminal", true));
    JTRY(gen_user(g, image));
    if (image) {
        GEN(jgen_key_strv(g, "args", (const char *const *) image->args, image->n_args));
        GEN(jgen_key_strv(g, "env", (const char *const *) image->env, image->n_env));
        GEN(jgen_key_str(g, "cwd", image->cwd));
    } else {
        GEN(jgen_key_strv(g, "args", args, ARRAY_SIZE(args)));
        GEN(jgen_key_strv(g, "env", default_env, ARRAY_SIZE(default_env)));
        GEN(jgen_key_str(g, "cwd", "/"));
    }
    GEN(jgen_str(g, "capabilities"));
    GEN(yajl_gen_map_open(g));
    GEN(jgen_key_strv(g, "bounding", default_caps, ARRAY_SIZE(default_caps)));
    GEN(jgen_key_strv(g, "effective", default_caps, ARRAY_SIZE(default_caps)));
    GEN(jgen_key_strv(g, "permitted", default_caps, ARRAY_SIZE(default_caps)));
    GEN(yajl_gen_map_close(g));
    GEN(jgen_str(g, "rlimits"));
    GEN(yajl_gen_array_open(g));
    GEN(yajl_gen_map_open(g));
    GEN(jgen_key_str(g, "type", "RLIMIT_NOFILE"));
    GEN(jgen_key_u64(g, "hard", 1024));
    GEN(jgen_key_u64(g, "soft", 1024));
    GEN(yajl_gen_map_close(g));
    GEN(yajl_gen_array_close(g));
    GEN(jgen_key_bool(g, "noNewPrivileges", true));
    GEN(yajl_gen_map_close(g));
    return 0;
}

static int gen_mount(yajl_gen g, const struct default_mount *m, bool rootless)
{
    GEN(yajl_gen_map_open(g));
    GEN(jgen_key_str(g, "destination", m->destination));
    GEN(jgen_key_str(g, "type", m->type));
    GEN(jgen_key_str(g, "source", m->source));
    if (m->options[0]) {
        GEN(jgen_str(g, "options"));
        GEN(yajl_gen_array_open(g));
        for (size_t i = 0; i < ARRAY_SIZE(m->options) && m->options[i]; i++) {
            /* A user namespace maps only the caller's ids: a uid=/gid= option would name an unmapped one. */
            if (rootless && (strncmp(m->options[i], "uid=", 4) == 0 || strncmp(m->options[i], "gid=", 4) == 0))
                continue;
            GEN(jgen_str(g, m->options[i]));
        }
        GEN(yajl_gen_array_close(g));
    }
    GEN(yajl_gen_map_close(g));
    return 0;
}

static int gen_mounts(yajl_gen g, bool rootless)
{
    GEN(jgen_str(g, "mounts"));
    GEN(yajl_gen_array_open(g));
    for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
        const struct default_mount *m = &default_mounts[i];
        if (rootless && strcmp(m->destination, "/sys") == 0)
            m = &rootless_sys;
        JTRY(gen_mount(g, m, rootless));
    }
    GEN(yajl_gen_array_close(g));
    return 0;
}

/* `maps` when given, else the one range 0 -> host_id. */
static int gen_id_mapping(yajl_gen g, const char *key, uint32_t host_id, const struct brig_id_mapping *maps, size_t n)
{
    const struct brig_id_mapping own = {0, host_id, 1};

    if (!n) {
        maps = &own;
        n = 1;
    }
    GEN(jgen_str(g, key));
    GEN(yajl_gen_array_open(g));
    for (size_t i = 0; i < n; i++) {
        GEN(yajl_gen_map_open(g));
        GEN(jgen_key_u64(g, "containerID", maps[i].container_id));
        GEN(jgen_key_u64(g, "hostID", maps[i].host_id));
        GEN(jgen_key_u64(g, "size", maps[i].size));
        GEN(yajl_gen_map_close(g));
    }
    GEN(yajl_gen_array_close(g));
    return 0;
}

static int gen_linux(yajl_gen g, bool rootless, uid_t uid, gid_t gid, const struct brig_spec_image *image)
{
    static const char *const namespaces[] = { "pid", "network", "ipc", "uts", "mount" };
    static const char *const rootless_namespaces[] = { "pid", "ipc", "uts", "mount", "user" };
    const char *const *ns = rootless ? rootless_namespaces : namespaces;
    size_t n_ns = rootless ? ARRAY_SIZE(rootless_namespaces) : ARRAY_SIZE(namespaces);

    GEN(jgen_str(g, "linux"));
    GEN(yajl_gen_map_open(g));
    if (rootless) {
        JTRY(gen_id_mapping(g, "uidMappings", uid, image ? image->uid_mappings : NULL,
                            image ? image->n_uid_mappings : 0));
        JTRY(gen_id_mapping(g, "gidMappings", gid, image ? image->gid_mappings : NULL,
                            image ? image->n_gid_mappings : 0));
    } else {
        /* Rootless containers usually cannot write a device cgroup, so only the privileged config asks. */
        GEN(jgen_str(g, "resources"));
        GEN(yajl_gen_map_open(g));
        GEN(jgen_str(g, "devices"));
        GEN(yajl_gen_array_open(g));
        GEN(yajl_gen_map_open(g));
        GEN(jgen_key_bool(g, "allow", false));
        GEN(jgen_key_str(g, "access", "rwm"));
        GEN(yajl_gen_map_close(g));
        GEN(yajl_gen_array_close(g));
        GEN(yajl_gen_map_close(g));
    }
    GEN(jgen_str(g, "namespaces"));
    GEN(yajl_gen_array_open(g));
    for (size_t i = 0; i < n_ns; i++) {
        GEN(yajl_gen_map_open(g));
        GEN(jgen_key_str(g, "type", ns[i]));
        GEN(yajl_gen_map_close(g));
    }
    GEN(yajl_gen_array_close(g));
    GEN(jgen_key_strv(g, "maskedPaths", default_masked, ARRAY_SIZE(default_masked)));
    GEN(jgen_key_strv(g, "readonlyPaths", default_readonly, ARRAY_SIZE(default_readonly)));
    GEN(yajl_gen_map_close(g));
    return 0;
}

static int gen_config(yajl_gen g, bool rootless, uid_t uid, gid_t gid, const struct brig_spec_image *image)
{
    GEN(yajl_gen_map_open(g));
    GEN(jgen_key_str(g, "ociVersion", BRIG_OCI_VERSION));
    JTRY(gen_process(g, image));
    GEN(jgen_str(g, "root"));
    GEN(yajl_gen_map_open(g));
    /* From an image the root is its layers (and a writable upper, as every image runtime gives): no path. */
    if (!image)
        GEN(jgen_key_str(g, "path", "rootfs"));
    GEN(jgen_key_bool(g, "readonly", !image));
    GEN(yajl_gen_map_close(g));
    GEN(jgen_key_str(g, "hostname", "brig"));
    JTRY(gen_mounts(g, rootless));
    if (image && image->n_annotations) {
        GEN(jgen_str(g, "annotations"));
        GEN(yajl_gen_map_open(g));
        for (size_t i = 0; i < image->n_annotations; i++)
            GEN(jgen_key_str(g, image->annotations[i].key, image->annotations[i].value));
        GEN(yajl_gen_map_close(g));
    }
    JTRY(gen_linux(g, rootless, uid, gid, image));
    GEN(yajl_gen_map_close(g));
    return 0;
}

static int generate(bool rootless, uid_t uid, gid_t gid, const struct brig_spec_image *image, char **out,
                    struct brig_err **err)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    int ret;

    if (!g)
        return brig_err_set(err, ENOMEM, "generate default config.json");
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_indent_string, "\t");
    ret = gen_config(g, rootless, uid, gid, image);
    if (ret < 0)
        ret = brig_err_set(err, EINVAL, "generate default config.json");
    else
        ret = jgen_finish(g, "default config.json", out, NULL, err);
    yajl_gen_free(g);
    return ret;
}

int brig_spec_default_json(bool rootless, uid_t uid, gid_t gid, char **out, struct brig_err **err)
{
    return generate(rootless, uid, gid, NULL, out, err);
}

int brig_spec_image_json(bool rootless, uid_t uid, gid_t gid, const struct brig_spec_image *image, char **out,
                         struct brig_err **err)
{
    return generate(rootless, uid, gid, image, out, err);
}
