/* The runtime-spec `features` document (features.md), written from facts the runtime gathers. */
#include <errno.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "features.h"
#include "json.h"

static yajl_gen_status gen_enabled(yajl_gen g, const char *key, bool enabled)
{
    yajl_gen_status s = jgen_str(g, key);

    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = jgen_key_bool(g, "enabled", enabled);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s;
}

#define STEP(expr)                                                                                             \
    do {                                                                                                       \
        if (s == yajl_gen_status_ok)                                                                           \
            s = (expr);                                                                                        \
    } while (0)

static yajl_gen_status gen_linux(yajl_gen g, const struct brig_features *f)
{
    yajl_gen_status s = jgen_str(g, "linux");

    STEP(yajl_gen_map_open(g));
    STEP(jgen_key_strv(g, "namespaces", f->namespaces, f->n_namespaces));
    STEP(jgen_key_strv(g, "capabilities", f->capabilities, f->n_capabilities));
    STEP(jgen_str(g, "cgroup"));
    STEP(yajl_gen_map_open(g));
    STEP(jgen_key_bool(g, "v1", f->cgroup_v1));
    STEP(jgen_key_bool(g, "v2", f->cgroup_v2));
    STEP(jgen_key_bool(g, "systemd", true)); /* --systemd-cgroup (cgroups/systemd.c), not for rootless */
    STEP(jgen_key_bool(g, "systemdUser", false));
    STEP(jgen_key_bool(g, "rdma", f->cgroup_rdma));
    STEP(yajl_gen_map_close(g));
    STEP(jgen_str(g, "seccomp"));
    STEP(yajl_gen_map_open(g));
    STEP(jgen_key_bool(g, "enabled", true));
    STEP(jgen_key_strv(g, "actions", f->seccomp_actions, f->n_seccomp_actions));
    STEP(jgen_key_strv(g, "operators", f->seccomp_operators, f->n_seccomp_operators));
    STEP(jgen_key_strv(g, "archs", f->seccomp_archs, f->n_seccomp_archs));
    STEP(jgen_key_strv(g, "knownFlags", f->seccomp_flags, f->n_seccomp_flags));
    STEP(jgen_key_strv(g, "supportedFlags", f->seccomp_flags, f->n_seccomp_flags));
    STEP(yajl_gen_map_close(g));
    STEP(gen_enabled(g, "apparmor", f->apparmor));
    STEP(gen_enabled(g, "selinux", f->selinux));
    STEP(gen_enabled(g, "intelRdt", false));
    STEP(jgen_str(g, "mountExtensions"));
    STEP(yajl_gen_map_open(g));
    STEP(gen_enabled(g, "idmap", f->idmap_mounts));
    STEP(yajl_gen_map_close(g));
    STEP(gen_enabled(g, "netDevices", false));
    STEP(yajl_gen_map_close(g));
    return s;
}

int brig_features_json(const struct brig_features *f, char **out, struct brig_err **err)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_status s;
    size_t len = 0;
    int ret;

    if (!g)
        return brig_err_msg(err, ENOMEM, "features");
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_indent_string, "    ");
    s = yajl_gen_map_open(g);
    STEP(jgen_key_str(g, "ociVersionMin", "1.0.0"));
    STEP(jgen_key_str(g, "ociVersionMax", BRIG_OCI_VERSION));
    STEP(jgen_key_strv(g, "hooks", f->hooks, f->n_hooks));
    STEP(jgen_key_strv(g, "mountOptions", f->mount_options, f->n_mount_options));
    STEP(gen_linux(g, f));
    STEP(jgen_str(g, "annotations"));
    STEP(yajl_gen_map_open(g));
    for (size_t i = 0; i < f->n_annotations; i++)
        STEP(jgen_key_str(g, f->annotations[i].key, f->annotations[i].value));
    STEP(yajl_gen_map_close(g));
    STEP(jgen_key_strv(g, "potentiallyUnsafeConfigAnnotations", f->unsafe_annotations, f->n_unsafe_annotations));
    STEP(yajl_gen_map_close(g));
    if (s != yajl_gen_status_ok)
        ret = brig_err_msg(err, EINVAL, "generate features");
    else
        ret = jgen_finish(g, "features", out, &len, err);
    yajl_gen_free(g);
    return ret;
}
