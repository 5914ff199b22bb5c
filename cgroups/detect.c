#include <errno.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include "hierarchy.h"

int brig_cgroup_detect(enum brig_cgroup_mode *mode, struct brig_err **err)
{
    struct statfs fs;

    if (statfs(BRIG_CGROUP_MOUNT, &fs) < 0)
        return brig_err_sys(err, "cgroup: statfs `%s`", BRIG_CGROUP_MOUNT);
    if (fs.f_type == CGROUP2_SUPER_MAGIC) {
        *mode = BRIG_CGROUP_V2;
        return 0;
    }
    /* Absent or not a cgroup2 mount both mean plain v1. */
    if (statfs(BRIG_CGROUP_MOUNT "/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
        *mode = BRIG_CGROUP_HYBRID;
    else
        *mode = BRIG_CGROUP_V1;
    return 0;
}
