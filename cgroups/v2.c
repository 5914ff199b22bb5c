/* cgroup v2 specifics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "hierarchy.h"
#include "../util/util.h"

int brig_cgroup_v2_kill(const struct brig_cgroup_hierarchy *h, const char *rel)
{
    char file[4096];
    cleanup_close int fd = -1;

    if ((size_t) snprintf(file, sizeof(file), "%s/cgroup.kill", rel) >= sizeof(file))
        return -ENAMETOOLONG;
    fd = openat(h->fd, file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return brig_write_all(fd, "1", 1);
}
