/* linux.resources.pids: pids.max, the same file on v1 and v2. */
#include <stdio.h>

#include "controllers.h"

int brig_cg_apply_pids(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;
    char buf[32];

    if (!r->pids_limit.set)
        return 0;
    h = brig_cg_find(a, "pids", err);
    if (!h)
        return brig_cg_unsupported(err, "linux.resources.pids.limit", "no pids controller");
    /* 0 and -1 both mean no limit, as runc reads them. */
    brig_cg_limit_text(buf, sizeof(buf), r->pids_limit.value <= 0 ? -1 : r->pids_limit.value);
    return brig_cg_write(a, h, "pids.max", buf, "linux.resources.pids.limit", err);
}
