/* The runtime-spec `features` document. Part of spec/'s public interface (spec.h includes it). */
#ifndef BRIG_SPEC_FEATURES_H
#define BRIG_SPEC_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/error.h"

struct brig_kv;

struct brig_features {
    const char *const *hooks;
    size_t n_hooks;
    const char *const *mount_options;
    size_t n_mount_options;
    const char *const *namespaces;
    size_t n_namespaces;
    const char *const *capabilities;
    size_t n_capabilities;
    bool cgroup_v1, cgroup_v2, cgroup_rdma;
    const char *const *seccomp_actions;
    size_t n_seccomp_actions;
    const char *const *seccomp_operators;
    size_t n_seccomp_operators;
    const char *const *seccomp_archs;
    size_t n_seccomp_archs;
    const char *const *seccomp_flags;
    size_t n_seccomp_flags;
    bool apparmor, selinux, idmap_mounts;
    const struct brig_kv *annotations;
    size_t n_annotations;
    const char *const *unsafe_annotations;
    size_t n_unsafe_annotations;
};

/* Pretty JSON as `features` prints it. */
int brig_features_json(const struct brig_features *features, char **out, struct brig_err **err);

#endif
