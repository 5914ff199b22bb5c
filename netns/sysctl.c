/* Per-namespace sysctls: /proc/sys/net answers for the network namespace of the thread that opens it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"
#include "../util/util.h"

/* Writes only when the value differs: a write to ip_forward resets every interface's forwarding setting. */
int net_sysctl_ensure(const char *path, const char *value, struct brig_err **err)
{
    cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
    char buf[32];
    ssize_t n;
    size_t len = strlen(value);

    if (fd < 0)
        return brig_err_sys(err, "open `%s`", path);
    n = read(fd, buf, sizeof(buf) - 1);
    if (n > 0 && (size_t) n >= len && !strncmp(buf, value, len) && (buf[len] == '\n' || (size_t) n == len))
        return 0;
    if (lseek(fd, 0, SEEK_SET) < 0 || brig_write_all(fd, value, len) < 0)
        return brig_err_sys(err, "write %s to `%s`", value, path);
    return 0;
}
