/* config.json: the top level (root, mounts, hooks, annotations) and the public lookups. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include "../util/util.h"
#include "parse.h"
#include "spec.h"

static const char *const ns_names[BRIG_NS__COUNT] = {
    [BRIG_NS_PID] = "pid",   [BRIG_NS_NETWORK] = "network", [BRIG_NS_MOUNT] = "mount",
    [BRIG_NS_IPC] = "ipc",   [BRIG_NS_UTS] = "uts",         [BRIG_NS_USER] = "user",
    [BRIG_NS_CGROUP] = "cgroup", [BRIG_NS_TIME] = "time",
};

const char *brig_ns_type_name(enum brig_ns_type type)
{
    return (unsigned) type < BRIG_NS__COUNT ? ns_names[type] : "unknown";
}

static int parse_id_mapping(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_id_mapping *m = dst;
    uint64_t size = 0;

    JTRY(jreq_id(c, v, p, "containerID", &m->container_id));
    JTRY(jreq_id(c, v, p, "hostID", &m->host_id));
    JTRY(jint_u_min(c, jget(v, "size"), JKEY(p, "size"), 1, UINT32_MAX, &size));
    m->size = (uint32_t) size;
    /* The kernel refuses a range that would reach (uid_t)-1 or wrap; say which end does. */
    if (m->container_id + size > BRIG_ID_UNCHANGED)
        return jfail(c, p, "containerID %" PRIu32 " + size %" PRIu64 " runs past %" PRIu32 ", the highest id",
                     m->container_id, size, BRIG_ID_UNCHANGED - 1);
    if (m->host_id + size > BRIG_ID_UNCHANGED)
        return jfail(c, p, "hostID %" PRIu32 " + size %" PRIu64 " runs past %" PRIu32 ", the highest id", m->host_id,
                     size, BRIG_ID_UNCHANGED - 1);
    return 0;
}

int spec_parse_id_mappings(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key,
                           struct brig_id_mapping **out, size_t *n)
{
    return jopt_objv(c, obj, p, key, sizeof(**out), parse_id_mapping, (void **) out, n);
}

static int parse_mount(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_mount *m = dst;

    JTRY(jreq_str(c, v, p, "destination", &m->destination));
    if (m->destination[0] != '/')
        return jfail(c, JKEY(p, "destination"), "`%s` is not an absolute path", m->destination);
    JTRY(jopt_str(c, v, p, "source", &m->source));
    JTRY(jopt_str(c, v, p, "type", &m->type));
    JTRY(jopt_strv(c, v, p, "options", false, &m->options, &m->n_options));
    JTRY(spec_parse_id_mappings(c, v, p, "uidMappings", &m->uid_mappings, &m->n_uid_mappings));
    return spec_parse_id_mappings(c, v, p, "gidMappings", &m->gid_mappings, &m->n_gid_mappings);
}

static int parse_hook(struct jctx *c, yajl_val v, const struct jpath *p, void *dst)
{
    struct brig_hook *h = dst;

    JTRY(jreq_str(c, v, p, "path", &h->path));
    JTRY(jopt_strv(c, v, p, "args", false, &h->args, &h->n_args));
    JTRY(jopt_strv(c, v, p, "env", false, &h->env, &h->n_env));
    JTRY(jopt_i64(c, v, p, "timeout", INT64_MIN, INT64_MAX, &h->timeout));
    /* The spec requires a positive timeout when one is given. */
    if (h->timeout.set && h->timeout.value <= 0)
        return jfail(c, JKEY(p, "timeout"), "expected a positive integer");
    return 0;
}

static int parse_hooks(struct jctx *c, yajl_val v, const struct jpath *p, struct brig_hooks *h)
{
    static const struct {
        const char *key;
        size_t list, count;
    } kinds[] = {
        { "prestart", offsetof(struct brig_hooks, prestart), offsetof(struct brig_hooks, n_prestart) },
        { "createRuntime", offsetof(struct brig_hooks, create_runtime),
          offsetof(struct brig_hooks, n_create_runtime) },
        { "createContainer", offsetof(struct brig_hooks, create_container),
          offsetof(struct brig_hooks, n_create_container) },
        { "startContainer", offsetof(struct brig_hooks, start_container),
          offsetof(struct brig_hooks, n_start_container) },
        { "poststart", offsetof(struct brig_hooks, poststart), offsetof(struct brig_hooks, n_poststart) },
        { "poststop", offsetof(struct brig_hooks, poststop), offsetof(struct brig_hooks, n_poststop) },
    };

    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
        JTRY(jopt_objv(c, v, p, kinds[i].key, sizeof(struct brig_hook), parse_hook,
                       (void **) ((char *) h + kinds[i].list), (size_t *) ((char *) h + kinds[i].count)));
    return 0;
}

static int parse_root(struct jctx *c, yajl_val doc, struct brig_spec *s)
{
    yajl_val root = jget(doc, "root");
    const struct jpath *p = JKEY(NULL, "root");

    /* Without a path the root is assembled from layers; create says so when none are given. */
    if (root) {
        JTRY(jexpect_obj(c, root, p));
        JTRY(jopt_str(c, root, p, "path", &s->root_path));
        JTRY(jopt_bool(c, root, p, "readonly", &s->root_readonly));
    }
    if (!s->root_path)
        s->root_path = jstrdup(c, "");
    return s->root_path ? 0 : jnomem(c);
}

static int parse_document(struct jctx *c, yajl_val doc, struct brig_spec *s)
{
    yajl_val v;

    JTRY(jexpect_obj(c, doc, NULL));
    JTRY(jreq_str(c, doc, NULL, "ociVersion", &s->oci_version));
    JTRY(parse_root(c, doc, s));
    JTRY(jopt_objv(c, doc, NULL, "mounts", sizeof(struct brig_mount), parse_mount, (void **) &s->mounts,
                   &s->n_mounts));
    JTRY(jopt_obj(c, doc, NULL, "process", &v));
    if (v) {
        s->process = jalloc(c, 1, sizeof(*s->process));
        if (!s->process)
            return jnomem(c);
        JTRY(spec_parse_process(c, v, JKEY(NULL, "process"), s->process));
    }
    JTRY(jopt_str(c, doc, NULL, "hostname", &s->hostname));
    JTRY(jopt_str(c, doc, NULL, "domainname", &s->domainname));
    JTRY(jopt_obj(c, doc, NULL, "hooks", &v));
    if (v)
        JTRY(parse_hooks(c, v, JKEY(NULL, "hooks"), &s->hooks));
    JTRY(jopt_kv(c, doc, NULL, "annotations", &s->annotations, &s->n_annotations));
    JTRY(jopt_obj(c, doc, NULL, "linux", &v));
    if (v) {
        s->linux_cfg = jalloc(c, 1, sizeof(*s->linux_cfg));
        if (!s->linux_cfg)
            return jnomem(c);
        JTRY(spec_parse_linux(c, v, JKEY(NULL, "linux"), s->linux_cfg));
    }
    return 0;
}

/* A process.json holds just the process object: read it into an otherwise empty spec. */
static int parse_process_document(struct jctx *c, yajl_val doc, struct brig_spec *s)
{
    JTRY(jexpect_obj(c, doc, NULL));
    s->process = jalloc(c, 1, sizeof(*s->process));
    if (!s->process)
        return jnomem(c);
    return spec_parse_process(c, doc, NULL, s->process);
}

static int parse_named(const char *json, size_t len, const char *file, bool process_only, struct brig_spec **out,
                       struct brig_err **err)
{
    struct brig_arena *arena;
    struct brig_spec *s;
    struct jctx c;
    yajl_val doc;
    int ret;

    *out = NULL;
    JTRY(json_parse_tree(json, len, file, &doc, err));
    /* The parsed form takes roughly as much memory as the text: size the first chunk to hold it all. */
    arena = brig_arena_new(len + len / 2 + 2048);
    s = arena ? brig_arena_zalloc(arena, sizeof(*s)) : NULL;
    if (!s) {
        brig_arena_free(arena);
        json_tree_free(doc);
        return brig_err_set(err, ENOMEM, "%s", file);
    }
    s->arena_ = arena;
    c = (struct jctx){ .file = file, .arena = arena, .err = err };
    ret = process_only ? parse_process_document(&c, doc, s) : parse_document(&c, doc, s);
    json_tree_free(doc);
    if (ret < 0) {
        brig_spec_free(s);
        return ret;
    }
    *out = s;
    return 0;
}

int brig_spec_parse(const char *json, size_t len, struct brig_spec **out, struct brig_err **err)
{
    return parse_named(json, len, "config.json", false, out, err);
}

static int load(const char *path, bool process_only, struct brig_spec **out, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    const char *base = strrchr(path, '/');
    size_t len = 0;

    *out = NULL;
    JTRY(brig_read_file_at(AT_FDCWD, path, &text, &len, err));
    return parse_named(text, len, base && base[1] ? base + 1 : path, process_only, out, err);
}

int brig_spec_load(const char *path, struct brig_spec **out, struct brig_err **err)
{
    return load(path, false, out, err);
}

int brig_spec_parse_process(const char *json, size_t len, struct brig_spec **out, struct brig_err **err)
{
    return parse_named(json, len, "process.json", true, out, err);
}

int brig_spec_load_process(const char *path, struct brig_spec **out, struct brig_err **err)
{
    return load(path, true, out, err);
}

void brig_spec_free(struct brig_spec *spec)
{
    /* The spec itself lives in its arena. */
    if (spec)
        brig_arena_free(spec->arena_);
}

const char *brig_spec_annotation(const struct brig_spec *spec, const char *key)
{
    /* Backwards, so a key given twice reads as its last value, like the rest of the parse. */
    for (size_t i = spec->n_annotations; i-- > 0;)
        if (strcmp(spec->annotations[i].key, key) == 0)
            return spec->annotations[i].value;
    return NULL;
}

const struct brig_namespace *brig_spec_namespace(const struct brig_spec *spec, enum brig_ns_type type)
{
    if (!spec->linux_cfg)
        return NULL;
    for (size_t i = 0; i < spec->linux_cfg->n_namespaces; i++)
        if (spec->linux_cfg->namespaces[i].type == type)
            return &spec->linux_cfg->namespaces[i];
    return NULL;
}

int spec_ns_type_from_name(const char *name, enum brig_ns_type *type)
{
    for (int i = 0; i < BRIG_NS__COUNT; i++)
        if (strcmp(ns_names[i], name) == 0) {
            *type = (enum brig_ns_type) i;
            return 0;
        }
    return -EINVAL;
}
