/* linux.resources.hugepageLimits: v1 hugetlb.<size>.limit_in_bytes, v2 hugetlb.<size>.max and, where the
 * kernel has it, the reservation limit hugetlb.<size>.rsvd.max. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controllers.h"

int brig_cg_hugetlb_size_ok(const char *page_size)
{
    size_t digits = strspn(page_size, "0123456789");

    if (digits == 0 || digits > 8)
        return -EINVAL;
    if (strcmp(page_size + digits, "KB") && strcmp(page_size + digits, "MB") && strcmp(page_size + digits, "GB"))
        return -EINVAL;
    return 0;
}

int brig_cg_apply_hugetlb(const struct brig_cg_apply *a, const struct brig_resources *r, struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h;
    char file[96], what[128];
    int ret;

    if (!r->n_hugepage_limits)
        return 0;
    h = brig_cg_find(a, "hugetlb", err);
    for (size_t i = 0; i < r->n_hugepage_limits; i++) {
        const struct brig_hugepage_limit *l = &r->hugepage_limits[i];

        snprintf(what, sizeof(what), "linux.resources.hugepageLimits[%zu]", i);
        if (brig_cg_hugetlb_size_ok(l->page_size) < 0)
            return brig_err_msg(err, EINVAL, "%s.pageSize: `%s` is not a size like 2MB or 1GB", what, l->page_size);
        if (!h)
            return brig_cg_unsupported(err, what, "no hugetlb controller");
        snprintf(file, sizeof(file), h->unified ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes", l->page_size);
        ret = brig_cg_write_i64(a, h, file, (int64_t) l->limit, what, err);
        if (ret < 0)
            return ret;
        snprintf(file, sizeof(file), h->unified ? "hugetlb.%s.rsvd.max" : "hugetlb.%s.rsvd.limit_in_bytes",
                 l->page_size);
        if (brig_cg_has_file(a, h, file)) {
            ret = brig_cg_write_i64(a, h, file, (int64_t) l->limit, what, err);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}
