/* linux.resources.unified: raw cgroup v2 files, written as given. On a v1 or hybrid host only keys whose
 * controller the unified hierarchy has are accepted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers.h"
#include "../util/util.h"

int brig_cg_apply_unified(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h = brig_cg_unified(a->set);
    char what[300], controller[64];
    int ret;

    for (size_t i = 0; i < r->n_unified; i++) {
        const char *key = r->unified[i].key, *value = r->unified[i].value ? r->unified[i].value : "";
        size_t clen = strcspn(key, ".");

        snprintf(what, sizeof(what), "linux.resources.unified.%s", key);
        if (!*key || strchr(key, '/') || key[0] == '.' || key[clen] != '.' || clen >= sizeof(controller))
            return brig_err_msg(err, EINVAL, "%s: not a cgroup file name", what);
        memcpy(controller, key, clen);
        controller[clen] = '\0';
        if (!h)
            return brig_cg_unsupported(err, what, "cgroup v1 only: no unified hierarchy");
        if (strcmp(controller, "cgroup") != 0) {
            /* cgroup.* files exist without a controller; the others need theirs in the unified hierarchy. */
            char cause[160];
            if (brig_cg_find_v1(a->set, controller)) {
                snprintf(cause, sizeof(cause), "controller `%s` is bound to cgroup v1 here", controller);
                return brig_cg_unsupported(err, what, cause);
            }
            if (brig_cg_find(a, controller, err) != h) {
                snprintf(cause, sizeof(cause), "controller `%s` is not in the unified hierarchy", controller);
                return brig_cg_unsupported(err, what, cause);
            }
        }
        ret = brig_cg_write(a, h, key, value, what, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
