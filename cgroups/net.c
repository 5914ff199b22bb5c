/* linux.resources.network: v1 net_cls.classid and net_prio.ifpriomap. cgroup v2 has neither (network
 * classification moved to eBPF), so asking for them there is an error. */
#include <stdio.h>

#include "controllers.h"

int brig_cg_apply_net(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;
    char buf[128], what[128];
    int ret;

    if (!r->has_network)
        return 0;
    if (r->net_class_id.set) {
        h = brig_cg_find_v1(a->set, "net_cls");
        if (!h)
            return brig_cg_unsupported(err, "linux.resources.network.classID", "no net_cls controller");
        ret = brig_cg_write_i64(a, h, "net_cls.classid", (int64_t) r->net_class_id.value,
                                "linux.resources.network.classID", err);
        if (ret < 0)
            return ret;
    }
    if (r->n_net_priorities) {
        h = brig_cg_find_v1(a->set, "net_prio");
        if (!h)
            return brig_cg_unsupported(err, "linux.resources.network.priorities", "no net_prio controller");
        for (size_t i = 0; i < r->n_net_priorities; i++) {
            snprintf(what, sizeof(what), "linux.resources.network.priorities[%zu]", i);
            snprintf(buf, sizeof(buf), "%s %u", r->net_priorities[i].name, r->net_priorities[i].priority);
            ret = brig_cg_write(a, h, "net_prio.ifpriomap", buf, what, err);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}
