/* A JSON array of strings, for documents that are nothing more (CRIU's descriptors.json). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void brig_strv_free(char **strv)
{
    for (char **p = strv; p && *p; p++)
        free(*p);
    free(strv);
}

int brig_json_strv_parse(const char *json, size_t len, const char *file, char ***out, size_t *n,
                         struct brig_err **err)
{
    yajl_val tree = NULL;
    char **strv;
    size_t count;
    int ret = json_parse_tree(json, len, file, &tree, err);

    if (ret < 0)
        return ret;
    if (!YAJL_IS_ARRAY(tree)) {
        json_tree_free(tree);
        return brig_err_msg(err, EINVAL, "%s: expected an array of strings", file);
    }
    count = tree->u.array.len;
    strv = calloc(count + 1, sizeof(char *));
    if (!strv) {
        json_tree_free(tree);
        return brig_err_set(err, ENOMEM, "%s", file);
    }
    for (size_t i = 0; i < count; i++) {
        yajl_val v = tree->u.array.values[i];
        const char *text;

        if (!YAJL_IS_STRING(v)) {
            brig_strv_free(strv);
            json_tree_free(tree);
            return brig_err_msg(err, EINVAL, "%s: [%zu]: expected a string", file, i);
        }
        text = YAJL_GET_STRING(v);
        strv[i] = strdup(text ? text : "");
        if (!strv[i]) {
            brig_strv_free(strv);
            json_tree_free(tree);
            return brig_err_set(err, ENOMEM, "%s", file);
        }
    }
    json_tree_free(tree);
    *out = strv;
    *n = count;
    return 0;
}

int brig_json_strv_format(char *const *strv, size_t n, char **out, struct brig_err **err)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_status st;
    size_t len;
    int ret;

    if (!g)
        return brig_err_set(err, ENOMEM, "JSON");
    st = yajl_gen_array_open(g);
    for (size_t i = 0; st == yajl_gen_status_ok && i < n; i++)
        st = jgen_str(g, strv[i] ? strv[i] : "");
    if (st == yajl_gen_status_ok)
        st = yajl_gen_array_close(g);
    if (st != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return brig_err_msg(err, EINVAL, "JSON: cannot format (status %d)", (int) st);
    }
    ret = jgen_finish(g, "JSON", out, &len, err);
    yajl_gen_free(g);
    return ret;
}
