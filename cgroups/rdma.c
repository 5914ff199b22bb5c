/* linux.resources.rdma: rdma.max, the same file on v1 and v2. */
#include <stdio.h>

#include "controllers.h"

int brig_cg_apply_rdma(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;
    char buf[256], what[300];
    int ret;

    if (!r->n_rdma)
        return 0;
    h = brig_cg_find(a, "rdma", err);
    if (!h)
        return brig_cg_unsupported(err, "linux.resources.rdma", "no rdma controller");
    for (size_t i = 0; i < r->n_rdma; i++) {
        const struct brig_rdma *d = &r->rdma[i];
        int n = snprintf(buf, sizeof(buf), "%s", d->device);
        if (d->hca_handles.set)
            n += snprintf(buf + n, sizeof(buf) - (size_t) n, " hca_handle=%llu",
                          (unsigned long long) d->hca_handles.value);
        if (d->hca_objects.set && (size_t) n < sizeof(buf))
            snprintf(buf + n, sizeof(buf) - (size_t) n, " hca_object=%llu", (unsigned long long) d->hca_objects.value);
        if (!d->hca_handles.set && !d->hca_objects.set)
            continue;
        snprintf(what, sizeof(what), "linux.resources.rdma.%s", d->device);
        ret = brig_cg_write(a, h, "rdma.max", buf, what, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
