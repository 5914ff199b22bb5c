/* A named network's file (<config dir>/networks/NAME.json), read here so only spec/ sees JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "spec.h"

static int parse_network(struct jctx *c, yajl_val doc, struct brig_network_file *f)
{
    JTRY(jexpect_obj(c, doc, NULL));
    JTRY(jopt_str(c, doc, NULL, "bridge", &f->bridge));
    JTRY(jopt_str(c, doc, NULL, "subnet", &f->subnet));
    JTRY(jopt_str(c, doc, NULL, "gateway", &f->gateway));
    JTRY(jopt_str(c, doc, NULL, "subnet6", &f->subnet6));
    JTRY(jopt_u32(c, doc, NULL, "mtu", &f->mtu));
    JTRY(jopt_bool(c, doc, NULL, "keepBridge", &f->keep_bridge));
    return 0;
}

int brig_network_file_parse(const char *json, size_t len, const char *file, struct brig_network_file *out,
                            struct brig_err **err)
{
    struct jctx c = {.file = file, .arena = NULL, .err = err};
    yajl_val doc;
    int ret;

    memset(out, 0, sizeof(*out));
    JTRY(json_parse_tree(json, len, file, &doc, err));
    ret = parse_network(&c, doc, out);
    json_tree_free(doc);
    if (ret < 0)
        brig_network_file_clear(out);
    return ret;
}

void brig_network_file_clear(struct brig_network_file *f)
{
    free(f->bridge);
    free(f->subnet);
    free(f->gateway);
    free(f->subnet6);
    memset(f, 0, sizeof(*f));
}
