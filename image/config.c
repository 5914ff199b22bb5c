/* `spec --image`: the image config's process as config.json's, as the image-spec's conversion document maps
 * it (Entrypoint + Cmd, Env, WorkingDir, User; Labels as annotations). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "../spec/spec.h"
#include "../util/util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define STOP_SIGNAL_ANNOTATION "org.opencontainers.image.stopSignal"

static bool env_has(char *const *env, size_t n, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++)
        if (!strncmp(env[i], name, len) && env[i][len] == '=')
            return true;
    return false;
}

struct image_process {
    char **args;
    size_t n_args;
    char **env;
    size_t n_env;
    struct brig_kv *annotations;
    size_t n_annotations;
    struct image_user user;
};

static void image_process_clear(struct image_process *p)
{
    free(p->args);
    free(p->env);
    free(p->annotations);
    free(p->user.gids);
}

/* What can be said before the layers are unpacked. */
static int check_config(const struct brig_oci_image_config *c, struct brig_err **err)
{
    if (c->n_entrypoint + c->n_cmd == 0)
        return brig_err_msg(err, EINVAL, "image config: neither Entrypoint nor Cmd: nothing to run");
    if (c->working_dir && *c->working_dir && c->working_dir[0] != '/')
        return brig_err_msg(err, EINVAL, "image config: WorkingDir `%s` is not an absolute path", c->working_dir);
    return 0;
}

/* The vectors borrow the config's strings. */
static int build_process(const struct brig_image *img, char *const *layers, size_t n_layers,
                         struct image_process *p, struct brig_err **err)
{
    const struct brig_oci_image_config *c = img->config;
    size_t n = 0;
    int ret;

    p->args = calloc(c->n_entrypoint + c->n_cmd + 1, sizeof(char *));
    p->env = calloc(c->n_env + 3, sizeof(char *));
    p->annotations = calloc(c->n_labels + 2, sizeof(*p->annotations));
    if (!p->args || !p->env || !p->annotations)
        return brig_err_set(err, ENOMEM, "image config");
    for (size_t i = 0; i < c->n_entrypoint; i++)
        p->args[p->n_args++] = c->entrypoint[i];
    for (size_t i = 0; i < c->n_cmd; i++)
        p->args[p->n_args++] = c->cmd[i];
    /* runc's defaults where the image says nothing: a PATH, and TERM for the terminal `spec` asks for. */
    if (!env_has(c->env, c->n_env, "PATH"))
        p->env[p->n_env++] = DEFAULT_PATH;
    for (size_t i = 0; i < c->n_env; i++)
        p->env[p->n_env++] = c->env[i];
    if (!env_has(c->env, c->n_env, "TERM"))
        p->env[p->n_env++] = "TERM=xterm";
    for (size_t i = 0; i < c->n_labels; i++)
        if (strcmp(c->labels[i].key, BRIG_IMAGE_ANNOTATION) != 0 && strcmp(c->labels[i].key, STOP_SIGNAL_ANNOTATION))
            p->annotations[n++] = c->labels[i];
    if (c->stop_signal)
        p->annotations[n++] = (struct brig_kv){.key = STOP_SIGNAL_ANNOTATION, .value = c->stop_signal};
    p->annotations[n++] = (struct brig_kv){.key = BRIG_IMAGE_ANNOTATION, .value = img->pinned};
    p->n_annotations = n;
    ret = image_resolve_user(c->user, layers, n_layers, &p->user, err);
    return ret;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

int brig_image_spec_json(const char *ref, const char *store, bool rootless, bool rootless_config, uid_t uid,
                         gid_t gid, char **json, char **notice, struct brig_err **err)
{
    struct brig_subid_maps subid;
    const struct brig_id_maps *maps = NULL;
    char why[160] = "";
    cleanup_image struct brig_image *img = NULL;
    cleanup_free char *store_path = NULL;
    struct image_process p = {0};
    char **layers = NULL;
    size_t n_layers = 0;
    int ret;

    ret = brig_image_store_path(store, rootless, &store_path, err);
    if (ret < 0)
        return ret;
    ret = brig_image_open(ref, &img, err);
    if (ret < 0)
        return ret;
    ret = check_config(img->config, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "image `%s`", ref);
    *notice = NULL;
    if (rootless && rootless_config && geteuid() != 0) {
        brig_ns_subid_maps(&subid, why, sizeof(why));
        if (subid.subordinate)
            maps = &subid.maps;
        else if (asprintf(notice, "spec --rootless --image: %s: the container maps only uid %u and gid %u (files "
                                  "of the image's other owners are the user's, their owners kept in an xattr)",
                          why, (unsigned) uid, (unsigned) gid) < 0)
            *notice = NULL;
    }
    ret = brig_image_unpack(img, store_path, rootless, maps, &layers, &n_layers, err);
    if (ret < 0)
        return ret;
    ret = build_process(img, layers, n_layers, &p, err);
    if (ret < 0) {
        brig_err_wrap(err, ret, "image `%s`", ref);
    } else {
        struct brig_spec_image s = {
            .args = p.args,
            .n_args = p.n_args,
            .env = p.env,
            .n_env = p.n_env,
            .cwd = img->config->working_dir && *img->config->working_dir ? img->config->working_dir : "/",
            .uid = p.user.uid,
            .gid = p.user.gid,
            .additional_gids = p.user.gids,
            .n_additional_gids = p.user.n_gids,
            .annotations = p.annotations,
            .n_annotations = p.n_annotations,
            .uid_mappings = maps ? maps->uid : NULL,
            .n_uid_mappings = maps ? maps->n_uid : 0,
            .gid_mappings = maps ? maps->gid : NULL,
            .n_gid_mappings = maps ? maps->n_gid : 0,
        };
        /* A user's config is rootless even without --rootless: it could not run otherwise. */
        ret = brig_spec_image_json(rootless || rootless_config, uid, gid, &s, json, err);
    }
    image_process_clear(&p);
    free_strv(layers);
    return ret;
}
