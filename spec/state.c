/* state.json (stored under --root) and the JSON `brig state` prints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "state.h"

#define STATE_FILE "state.json"

static yajl_gen_status gen_annotations(yajl_gen g, const struct brig_state *st)
{
    yajl_gen_status s = jgen_str(g, "annotations");

    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_open(g);
    for (size_t i = 0; i < st->n_annotations && s == yajl_gen_status_ok; i++)
        s = jgen_key_str(g, st->annotations[i].key, st->annotations[i].value);
    return s == yajl_gen_status_ok ? yajl_gen_map_close(g) : s;
}

/* Stored strings are written only when set, so a NULL reads back as NULL. */
#define GEN_OPT_STR(g, s, key, value)                                                                        \
    do {                                                                                                       \
        if ((s) == yajl_gen_status_ok && (value))                                                              \
            (s) = jgen_key_str((g), (key), (value));                                                           \
    } while (0)

static int stored_json(yajl_gen g, const struct brig_state *st)
{
    yajl_gen_status s = yajl_gen_map_open(g);

    GEN_OPT_STR(g, s, "ociVersion", st->oci_version);
    GEN_OPT_STR(g, s, "id", st->id);
    GEN_OPT_STR(g, s, "status", st->status);
    if (s == yajl_gen_status_ok)
        s = jgen_key_i64(g, "pid", st->pid);
    GEN_OPT_STR(g, s, "bundle", st->bundle);
    GEN_OPT_STR(g, s, "rootfs", st->rootfs);
    GEN_OPT_STR(g, s, "created", st->created);
    GEN_OPT_STR(g, s, "owner", st->owner);
    if (s == yajl_gen_status_ok && st->n_annotations > 0)
        s = gen_annotations(g, st);
    if (s == yajl_gen_status_ok)
        s = jgen_key_u64(g, "initStartTime", st->init_start_time);
    GEN_OPT_STR(g, s, "cgroupPath", st->cgroup_path);
    if (s == yajl_gen_status_ok && st->cgroup_joined)
        s = jgen_key_bool(g, "cgroupJoined", st->cgroup_joined);
    if (s == yajl_gen_status_ok)
        s = jgen_key_bool(g, "systemdCgroup", st->systemd_cgroup);
    if (s == yajl_gen_status_ok)
        s = jgen_key_bool(g, "rootless", st->rootless);
    if (s == yajl_gen_status_ok && st->creating)
        s = jgen_key_bool(g, "creating", st->creating);
    if (s == yajl_gen_status_ok && st->has_hooks)
        s = jgen_key_bool(g, "hooks", st->has_hooks);
    GEN_OPT_STR(g, s, "configPath", st->config_path);
    GEN_OPT_STR(g, s, "ip", st->net_ip);
    GEN_OPT_STR(g, s, "ports", st->net_ports);
    GEN_OPT_STR(g, s, "startError", st->start_error);
    if (s == yajl_gen_status_ok && st->n_overlay_lowers > 0)
        s = jgen_key_strv(g, "overlayLowers", (const char *const *) st->overlay_lowers, st->n_overlay_lowers);
    GEN_OPT_STR(g, s, "overlayUpper", st->overlay_upper);
    GEN_OPT_STR(g, s, "overlayWork", st->overlay_work);
    if (s == yajl_gen_status_ok && st->overlay_owns_upper)
        s = jgen_key_bool(g, "overlayOwnsUpper", true);
    if (s == yajl_gen_status_ok && st->keep_upper)
        s = jgen_key_bool(g, "keepUpper", true);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s == yajl_gen_status_ok ? 0 : -EINVAL;
}

static int public_json(yajl_gen g, const struct brig_state *st)
{
    yajl_gen_status s = yajl_gen_map_open(g);

    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "ociVersion", st->oci_version ? st->oci_version : BRIG_OCI_VERSION);
    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "id", st->id);
    if (s == yajl_gen_status_ok)
        s = jgen_key_i64(g, "pid", st->pid);
    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "status", st->status);
    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "bundle", st->bundle);
    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "rootfs", st->rootfs);
    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "created", st->created);
    if (s == yajl_gen_status_ok)
        s = jgen_key_str(g, "owner", st->owner);
    if (s == yajl_gen_status_ok && st->n_annotations > 0)
        s = gen_annotations(g, st);
    GEN_OPT_STR(g, s, "ip", st->net_ip);
    GEN_OPT_STR(g, s, "ports", st->net_ports);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s == yajl_gen_status_ok ? 0 : -EINVAL;
}

static int generate(const struct brig_state *st, bool pretty, char **out, size_t *len, struct brig_err **err)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    int ret;

    if (!g)
        return brig_err_set(err, ENOMEM, "generate %s", STATE_FILE);
    if (pretty) {
        yajl_gen_config(g, yajl_gen_beautify, 1);
        yajl_gen_config(g, yajl_gen_indent_string, "  ");
    }
    ret = pretty ? public_json(g, st) : stored_json(g, st);
    if (ret < 0)
        ret = brig_err_set(err, EINVAL, "generate %s for `%s`", STATE_FILE, st->id ? st->id : "");
    else
        ret = jgen_finish(g, STATE_FILE, out, len, err);
    yajl_gen_free(g);
    return ret;
}

int brig_state_to_json(const struct brig_state *state, char **out, size_t *len, struct brig_err **err)
{
    return generate(state, false, out, len, err);
}

int brig_state_to_public_json(const struct brig_state *state, char **out, size_t *len, struct brig_err **err)
{
    return generate(state, true, out, len, err);
}

static int parse_state(struct jctx *c, yajl_val doc, struct brig_state *st)
{
    int64_t pid = 0;

    JTRY(jexpect_obj(c, doc, NULL));
    JTRY(jopt_str(c, doc, NULL, "ociVersion", &st->oci_version));
    JTRY(jreq_str(c, doc, NULL, "id", &st->id));
    JTRY(jopt_str(c, doc, NULL, "status", &st->status));
    if (jget(doc, "pid"))
        JTRY(jint_s(c, jget(doc, "pid"), JKEY(NULL, "pid"), 0, INT32_MAX, &pid));
    st->pid = (pid_t) pid;
    JTRY(jopt_str(c, doc, NULL, "bundle", &st->bundle));
    JTRY(jopt_str(c, doc, NULL, "rootfs", &st->rootfs));
    JTRY(jopt_str(c, doc, NULL, "created", &st->created));
    JTRY(jopt_str(c, doc, NULL, "owner", &st->owner));
    JTRY(jopt_kv(c, doc, NULL, "annotations", &st->annotations, &st->n_annotations));
    JTRY(jopt_str(c, doc, NULL, "ip", &st->net_ip));
    JTRY(jopt_str(c, doc, NULL, "ports", &st->net_ports));
    JTRY(jopt_u64v(c, doc, NULL, "initStartTime", &st->init_start_time));
    JTRY(jopt_str(c, doc, NULL, "cgroupPath", &st->cgroup_path));
    JTRY(jopt_bool(c, doc, NULL, "cgroupJoined", &st->cgroup_joined));
    JTRY(jopt_bool(c, doc, NULL, "systemdCgroup", &st->systemd_cgroup));
    JTRY(jopt_bool(c, doc, NULL, "rootless", &st->rootless));
    JTRY(jopt_bool(c, doc, NULL, "creating", &st->creating));
    JTRY(jopt_bool(c, doc, NULL, "hooks", &st->has_hooks));
    JTRY(jopt_str(c, doc, NULL, "configPath", &st->config_path));
    JTRY(jopt_str(c, doc, NULL, "startError", &st->start_error));
    JTRY(jopt_strv(c, doc, NULL, "overlayLowers", false, &st->overlay_lowers, &st->n_overlay_lowers));
    JTRY(jopt_str(c, doc, NULL, "overlayUpper", &st->overlay_upper));
    JTRY(jopt_str(c, doc, NULL, "overlayWork", &st->overlay_work));
    JTRY(jopt_bool(c, doc, NULL, "overlayOwnsUpper", &st->overlay_owns_upper));
    return jopt_bool(c, doc, NULL, "keepUpper", &st->keep_upper);
}

int brig_state_from_json(const char *json, size_t len, struct brig_state **out, struct brig_err **err)
{
    struct jctx c = { .file = STATE_FILE, .arena = NULL, .err = err };
    struct brig_state *st;
    yajl_val doc;
    int ret;

    *out = NULL;
    JTRY(json_parse_tree(json, len, STATE_FILE, &doc, err));
    st = calloc(1, sizeof(*st));
    if (!st) {
        json_tree_free(doc);
        return brig_err_set(err, ENOMEM, "%s", STATE_FILE);
    }
    ret = parse_state(&c, doc, st);
    json_tree_free(doc);
    if (ret < 0) {
        brig_state_free(st);
        return ret;
    }
    *out = st;
    return 0;
}

void brig_state_free(struct brig_state *st)
{
    if (!st)
        return;
    free(st->oci_version);
    free(st->id);
    free(st->status);
    free(st->bundle);
    free(st->rootfs);
    free(st->created);
    free(st->owner);
    for (size_t i = 0; i < st->n_annotations; i++) {
        free(st->annotations[i].key);
        free(st->annotations[i].value);
    }
    free(st->annotations);
    free(st->cgroup_path);
    free(st->config_path);
    free(st->start_error);
    free(st->net_ip);
    free(st->net_ports);
    if (st->overlay_lowers)
        for (size_t i = 0; st->overlay_lowers[i]; i++)
            free(st->overlay_lowers[i]);
    free(st->overlay_lowers);
    free(st->overlay_upper);
    free(st->overlay_work);
    free(st);
}
