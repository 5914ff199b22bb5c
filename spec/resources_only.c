/* A lone linux.resources object, as `update --resources` takes it. */
#include <errno.h>

#include "../util/util.h"
#include "parse.h"
#include "spec.h"

int brig_spec_parse_resources(const char *json, size_t len, const char *name, struct brig_spec **out,
                              struct brig_err **err)
{
    struct brig_arena *arena;
    struct brig_spec *s;
    struct jctx c;
    yajl_val doc;
    int ret;

    *out = NULL;
    JTRY(json_parse_tree(json, len, name, &doc, err));
    arena = brig_arena_new(len + 2048);
    s = arena ? brig_arena_zalloc(arena, sizeof(*s)) : NULL;
    if (s) {
        s->arena_ = arena;
        s->linux_cfg = brig_arena_zalloc(arena, sizeof(*s->linux_cfg));
        if (s->linux_cfg)
            s->linux_cfg->resources = brig_arena_zalloc(arena, sizeof(*s->linux_cfg->resources));
    }
    if (!s || !s->linux_cfg || !s->linux_cfg->resources) {
        brig_arena_free(arena);
        json_tree_free(doc);
        return brig_err_set(err, ENOMEM, "%s", name);
    }
    c = (struct jctx){.file = name, .arena = arena, .err = err};
    ret = jexpect_obj(&c, doc, NULL);
    if (ret == 0)
        ret = spec_parse_resources(&c, doc, NULL, s->linux_cfg->resources);
    json_tree_free(doc);
    if (ret < 0) {
        brig_spec_free(s);
        return ret;
    }
    *out = s;
    return 0;
}
