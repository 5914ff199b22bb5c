/* The JSON documents of an OCI image layout (image-spec 1.1) as typed C structs: index.json (or a nested
 * image index), image manifests and image configs, as skopeo, umoci, buildah and Podman write them (Docker's
 * schema 2 media types read alike). Unknown fields are ignored; absent strings are NULL, absent arrays have
 * n_* == 0. Each document lives in one arena, freed with its free function. image/ checks what the fields
 * mean (digests, media types, which manifest); this parser checks only their types. */
#ifndef BRIG_SPEC_IMAGE_H
#define BRIG_SPEC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "spec.h"

struct brig_oci_platform {
    char *os;
    char *architecture;
    char *variant;
};

struct brig_oci_descriptor {
    char *media_type; /* required */
    char *digest;     /* required: "algorithm:encoded", as written */
    uint64_t size;    /* required */
    struct brig_kv *annotations;
    size_t n_annotations;
    struct brig_oci_platform *platform; /* NULL when absent */
};

/* index.json, or an image index it points to. */
struct brig_oci_index {
    char *media_type;
    struct brig_oci_descriptor *manifests;
    size_t n_manifests;
    void *arena_;
};

struct brig_oci_manifest {
    char *media_type;
    struct brig_oci_descriptor config;
    struct brig_oci_descriptor *layers; /* lowest first */
    size_t n_layers;
    void *arena_;
};

/* The image config's members that a runtime uses (its `config` object and `rootfs`). */
struct brig_oci_image_config {
    char *os;
    char *architecture;
    char *user;
    char **env;
    size_t n_env;
    char **entrypoint;
    size_t n_entrypoint;
    char **cmd;
    size_t n_cmd;
    char *working_dir;
    struct brig_kv *labels;
    size_t n_labels;
    char *stop_signal;
    char **diff_ids; /* rootfs.diff_ids, lowest first: the sha256 of each layer's uncompressed tar */
    size_t n_diff_ids;
    void *arena_;
};

/* Each parses `len` bytes of JSON; `name` starts every message ("image manifest sha256:...: layers[1].digest:
 * expected a string"). */
int brig_oci_index_parse(const char *json, size_t len, const char *name, struct brig_oci_index **out,
                         struct brig_err **err);
int brig_oci_manifest_parse(const char *json, size_t len, const char *name, struct brig_oci_manifest **out,
                            struct brig_err **err);
int brig_oci_config_parse(const char *json, size_t len, const char *name, struct brig_oci_image_config **out,
                          struct brig_err **err);
void brig_oci_index_free(struct brig_oci_index *index);
void brig_oci_manifest_free(struct brig_oci_manifest *manifest);
void brig_oci_config_free(struct brig_oci_image_config *config);

/* The value of a descriptor's annotation, or NULL. */
const char *brig_oci_annotation(const struct brig_oci_descriptor *d, const char *key);

#define BRIG_OCI_REF_NAME "org.opencontainers.image.ref.name"

#endif
