/* File descriptors: which ones the caller passed, and closing or sealing all but some, with or without
 * close_range (Linux 5.9; 5.11 for CLOSE_RANGE_CLOEXEC; seccomp profiles may deny it). */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

/* Where /proc cannot be read: no fd is at or above the hard limit, unless the limit was lowered after it
 * was opened (brig never lowers its own before it has closed or sealed what it holds). */
static unsigned fd_probe_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1U << 30))
        return 1U << 20;
    return (unsigned) rl.rlim_max;
}

/* Calls fn for every open fd from `first` up (the one that reads /proc/self/fd left out). fn may close the
 * fd it is given: the directory is read by fd number, which closing does not move. */
static int for_each_open_fd(unsigned first, int (*fn)(int fd, void *data), void *data)
{
    DIR *dir = opendir("/proc/self/fd");
    struct statfs fs;
    struct dirent *de;
    int ret = 0;

    /* In a container without a proc mount, /proc is the image's own directory: a list it holds means nothing. */
    if (dir && (fstatfs(dirfd(dir), &fs) < 0 || fs.f_type != PROC_SUPER_MAGIC)) {
        closedir(dir);
        dir = NULL;
    }
    if (!dir) {
        unsigned limit = fd_probe_limit();
        for (unsigned fd = first; ret == 0 && fd < limit; fd++)
            if (fcntl((int) fd, F_GETFD) >= 0)
                ret = fn((int) fd, data);
        return ret;
    }
    while (ret == 0 && (de = readdir(dir))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);

        if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || fd < (long) first || fd > INT_MAX ||
            fd == dirfd(dir))
            continue;
        ret = fn((int) fd, data);
    }
    closedir(dir);
    return ret;
}

static int append_fd(int fd, void *data)
{
    struct brig_fds *fds = data;

    if ((fds->n & (fds->n - 1)) == 0) {
        int *grown = realloc(fds->fds, (fds->n ? fds->n * 2 : 8) * sizeof(int));
        if (!grown)
            return -ENOMEM;
        fds->fds = grown;
    }
    fds->fds[fds->n++] = fd;
    return 0;
}

static int compare_ints(const void *a, const void *b)
{
    return *(const int *) a - *(const int *) b;
}

int brig_fds_from_caller(struct brig_fds *caller, struct brig_err **err)
{
    int ret;

    caller->fds = NULL;
    caller->n = 0;
    for (int fd = 0; fd < 3; fd++) {
        int null_fd;

        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        /* The lowest free fd: this one, since those below are open by now. */
        null_fd = open("/dev/null", O_RDWR);
        if (null_fd != fd) {
            ret = brig_err_sys(err, "standard stream %d is closed and `/dev/null` cannot stand in for it", fd);
            if (null_fd >= 0)
                close(null_fd);
            return ret;
        }
    }
    ret = for_each_open_fd(3, append_fd, caller);
    if (ret < 0) {
        brig_fds_free(caller);
        return brig_err_set(err, -ret, "list the file descriptors brig was given");
    }
    if (caller->n)
        qsort(caller->fds, caller->n, sizeof(int), compare_ints);
    return 0;
}

void brig_fds_free(struct brig_fds *fds)
{
    free(fds->fds);
    fds->fds = NULL;
    fds->n = 0;
}

struct brig_fds brig_fds_below(const struct brig_fds *fds, unsigned end)
{
    struct brig_fds prefix = {.fds = fds->fds, .n = 0};

    while (prefix.n < fds->n && (unsigned) fds->fds[prefix.n] < end)
        prefix.n++;
    return prefix;
}

struct fds_except {
    const int *keep;
    size_t n;
    bool cloexec;
};

static int close_or_seal_unkept(int fd, void *data)
{
    const struct fds_except *ex = data;
    int flags;

    if (ex->n && bsearch(&fd, ex->keep, ex->n, sizeof(int), compare_ints))
        return 0;
    if (!ex->cloexec) {
        close(fd);
        return 0;
    }
    flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC))
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    return 0;
}

static void fds_except(int *keep, size_t n, unsigned first, bool cloexec)
{
    struct fds_except ex = {.keep = keep, .n = n, .cloexec = cloexec};
    unsigned flags = cloexec ? CLOSE_RANGE_CLOEXEC : 0U;
    unsigned from = first;

    if (n)
        qsort(keep, n, sizeof(*keep), compare_ints);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && (keep[i] < 0 || (unsigned) keep[i] < from))
            continue;
        if ((i == n || (unsigned) keep[i] > from) &&
            syscall(SYS_close_range, from, i < n ? (unsigned) keep[i] - 1 : ~0U, flags) < 0) {
            /* ENOSYS before Linux 5.9, EINVAL for the flag before 5.11, EPERM from a seccomp filter: the same,
             * one fd at a time. */
            for_each_open_fd(first, close_or_seal_unkept, &ex);
            return;
        }
        if (i < n)
            from = (unsigned) keep[i] + 1;
    }
}

void brig_close_fds_except(int *keep, size_t n, unsigned first)
{
    fds_except(keep, n, first, false);
}

void brig_cloexec_fds_except(int *keep, size_t n, unsigned first)
{
    fds_except(keep, n, first, true);
}
