/* OCI image layout documents: index, manifest and image config. */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "image.h"
#include "json.h"

static int parse_platform(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_oci_platform *platform)
{
    JTRY(jopt_str(c, v, p, "os", &platform->os));
    JTRY(jopt_str(c, v, p, "architecture", &platform->architecture));
    return jopt_str(c, v, p, "variant", &platform->variant);
}

static int parse_descriptor(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_oci_descriptor *d = dst;

    JTRY(jreq_str(c, v, p, "mediaType", &d->media_type));
    JTRY(jreq_str(c, v, p, "digest", &d->digest));
    JTRY(jreq_u64v(c, v, p, "size", &d->size));
    JTRY(jopt_kv(c, v, p, "annotations", &d->annotations, &d->n_annotations));
    JPARSE_SUB(c, v, p, "platform", d->platform, parse_platform);
    return 0;
}

/* Both the index and the manifest say schemaVersion 2; anything else is another format. */
static int check_schema(struct jctx *c, yajl_val doc)
{
    uint64_t version = 0;

    JTRY(jreq_u64v(c, doc, NULL, "schemaVersion", &version));
    if (version != 2)
        return jfail(c, JKEY(NULL, "schemaVersion"), "%llu is not supported (expected 2)",
                     (unsigned long long) version);
    return 0;
}

static int parse_index(struct jctx *c, yajl_val doc, void *dst)
{
    struct brig_oci_index *index = dst;
    yajl_val manifests;

    JTRY(jexpect_obj(c, doc, NULL));
    JTRY(check_schema(c, doc));
    JTRY(jopt_str(c, doc, NULL, "mediaType", &index->media_type));
    JTRY(jopt_arr(c, doc, NULL, "manifests", &manifests));
    if (!manifests)
        return jfail(c, JKEY(NULL, "manifests"), "expected an array");
    return jopt_objv(c, doc, NULL, "manifests", sizeof(struct brig_oci_descriptor), parse_descriptor,
                     (void **) &index->manifests, &index->n_manifests);
}

static int parse_manifest(struct jctx *c, yajl_val doc, void *dst)
{
    struct brig_oci_manifest *m = dst;
    yajl_val config, layers;

    JTRY(jexpect_obj(c, doc, NULL));
    JTRY(check_schema(c, doc));
    JTRY(jopt_str(c, doc, NULL, "mediaType", &m->media_type));
    JTRY(jopt_obj(c, doc, NULL, "config", &config));
    if (!config)
        return jfail(c, JKEY(NULL, "config"), "expected an object");
    JTRY(parse_descriptor(c, config, JKEY(NULL, "config"), &m->config));
    JTRY(jopt_arr(c, doc, NULL, "layers", &layers));
    if (!layers)
        return jfail(c, JKEY(NULL, "layers"), "expected an array");
    return jopt_objv(c, doc, NULL, "layers", sizeof(struct brig_oci_descriptor), parse_descriptor,
                     (void **) &m->layers, &m->n_layers);
}

static int parse_config(struct jctx *c, yajl_val doc, void *dst)
{
    struct brig_oci_image_config *cfg = dst;
    const struct jpath *rp = JKEY(NULL, "rootfs");
    const struct jpath *cp = JKEY(NULL, "config");
    yajl_val config, rootfs;
    char *type = NULL;

    JTRY(jexpect_obj(c, doc, NULL));
    JTRY(jopt_str(c, doc, NULL, "os", &cfg->os));
    JTRY(jopt_str(c, doc, NULL, "architecture", &cfg->architecture));
    JTRY(jopt_obj(c, doc, NULL, "config", &config));
    if (config) {
        JTRY(jopt_str(c, config, cp, "User", &cfg->user));
        JTRY(jopt_strv(c, config, cp, "Env", false, &cfg->env, &cfg->n_env));
        JTRY(jopt_strv(c, config, cp, "Entrypoint", false, &cfg->entrypoint, &cfg->n_entrypoint));
        JTRY(jopt_strv(c, config, cp, "Cmd", false, &cfg->cmd, &cfg->n_cmd));
        JTRY(jopt_str(c, config, cp, "WorkingDir", &cfg->working_dir));
        JTRY(jopt_kv(c, config, cp, "Labels", &cfg->labels, &cfg->n_labels));
        JTRY(jopt_str(c, config, cp, "StopSignal", &cfg->stop_signal));
    }
    JTRY(jopt_obj(c, doc, NULL, "rootfs", &rootfs));
    if (!rootfs)
        return jfail(c, rp, "expected an object");
    JTRY(jreq_str(c, rootfs, rp, "type", &type));
    if (strcmp(type, "layers") != 0)
        return jfail(c, JKEY(rp, "type"), "`%s` is not supported (expected \"layers\")", type);
    if (!jget(rootfs, "diff_ids"))
        return jfail(c, JKEY(rp, "diff_ids"), "expected an array of strings");
    return jopt_strv(c, rootfs, rp, "diff_ids", false, &cfg->diff_ids, &cfg->n_diff_ids);
}

typedef int (*doc_fn)(struct jctx *c, yajl_val doc, void *dst);

/* Parses into a struct of `size` bytes at the start of a new arena; its `arena_` member sits at
 * `arena_offset`. */
static int parse_doc(const char *json, size_t len, const char *name, size_t size, size_t arena_offset, doc_fn fn,
                     void **out, struct brig_err **err)
{
    struct brig_arena *arena;
    struct jctx c;
    yajl_val doc;
    void *s;
    int ret;

    *out = NULL;
    JTRY(json_parse_tree(json, len, name, &doc, err));
    arena = brig_arena_new(len + len / 2 + 1024);
    s = arena ? brig_arena_zalloc(arena, size) : NULL;
    if (!s) {
        brig_arena_free(arena);
        json_tree_free(doc);
        return brig_err_set(err, ENOMEM, "%s", name);
    }
    *(void **) ((char *) s + arena_offset) = arena;
    c = (struct jctx){ .file = name, .arena = arena, .err = err };
    ret = fn(&c, doc, s);
    json_tree_free(doc);
    if (ret < 0) {
        brig_arena_free(arena);
        return ret;
    }
    *out = s;
    return 0;
}

int brig_oci_index_parse(const char *json, size_t len, const char *name, struct brig_oci_index **out,
                         struct brig_err **err)
{
    return parse_doc(json, len, name, sizeof(**out), offsetof(struct brig_oci_index, arena_), parse_index,
                     (void **) out, err);
}

int brig_oci_manifest_parse(const char *json, size_t len, const char *name, struct brig_oci_manifest **out,
                            struct brig_err **err)
{
    return parse_doc(json, len, name, sizeof(**out), offsetof(struct brig_oci_manifest, arena_), parse_manifest,
                     (void **) out, err);
}

int brig_oci_config_parse(const char *json, size_t len, const char *name, struct brig_oci_image_config **out,
                          struct brig_err **err)
{
    return parse_doc(json, len, name, sizeof(**out), offsetof(struct brig_oci_image_config, arena_), parse_config,
                     (void **) out, err);
}

void brig_oci_index_free(struct brig_oci_index *index)
{
    if (index)
        brig_arena_free(index->arena_);
}

void brig_oci_manifest_free(struct brig_oci_manifest *manifest)
{
    if (manifest)
        brig_arena_free(manifest->arena_);
}

void brig_oci_config_free(struct brig_oci_image_config *config)
{
    if (config)
        brig_arena_free(config->arena_);
}

const char *brig_oci_annotation(const struct brig_oci_descriptor *d, const char *key)
{
    for (size_t i = d->n_annotations; i-- > 0;)
        if (strcmp(d->annotations[i].key, key) == 0)
            return d->annotations[i].value;
    return NULL;
}
