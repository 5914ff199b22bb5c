/* Small helpers shared by every brig library: cleanup attributes, file I/O, string vectors. */
#ifndef BRIG_UTIL_UTIL_H
#define BRIG_UTIL_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

static inline void brig_freep(void *p)
{
    free(*(void **) p);
}

static inline void brig_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void brig_closedirp(DIR **d)
{
    if (*d) {
        int saved = errno;
        closedir(*d);
        errno = saved;
    }
}

#define cleanup_free __attribute__((cleanup(brig_freep)))
#define cleanup_close __attribute__((cleanup(brig_closep)))
#define cleanup_closedir __attribute__((cleanup(brig_closedirp)))

/* Hands ownership out of a cleanup variable. */
#define steal_ptr(p)                                                                                          \
    ({                                                                                                         \
        __typeof__(p) stolen_ = (p);                                                                           \
        (p) = NULL;                                                                                            \
        stolen_;                                                                                               \
    })
#define steal_fd(fd)                                                                                          \
    ({                                                                                                         \
        int stolen_ = (fd);                                                                                    \
        (fd) = -1;                                                                                             \
        stolen_;                                                                                               \
    })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* NULL-terminated string vectors, as execve() takes them. */
size_t brig_strv_len(char *const *strv);

/* File descriptors, in ascending order. */
struct brig_fds {
    int *fds;
    size_t n;
};

/* First thing in main, before brig opens anything: opens `/dev/null` on any of fds 0-2 the caller left
 * closed, so that no fd of brig's can become a standard stream (its own, or a container's), and lists the
 * fds the caller passed from 3 up. What --preserve-fds and LISTEN_FDS pass on is taken from this list, never
 * from a range of numbers, in which brig's own fds fill whatever the caller left free. */
int brig_fds_from_caller(struct brig_fds *caller, struct brig_err **err);
void brig_fds_free(struct brig_fds *fds);
/* The first entries of `fds`, those below `end` (a view into the same array). */
struct brig_fds brig_fds_below(const struct brig_fds *fds, unsigned end);

/* Closes every fd from `first` up, but those in `keep` (negative entries are ignored; the array is sorted in
 * place). For a child that must hold only what it was given: the parent's fds carry its flock()s. Where
 * close_range fails, it closes them one by one. */
void brig_close_fds_except(int *keep, size_t n, unsigned first);
/* The same, marking them close-on-exec instead of closing them. */
void brig_cloexec_fds_except(int *keep, size_t n, unsigned first);

/* Writes all of `len` bytes, retrying on EINTR and short writes. Returns 0 or -errno. */
int brig_write_all(int fd, const void *buf, size_t len);
/* Reads until EOF (at most `max` bytes). Returns the count or -errno; *out is NUL-terminated. */
ssize_t brig_read_all(int fd, char **out, size_t max);

/* File helpers: relative to `dirfd` (AT_FDCWD for plain paths). Return 0 or -errno with *err set. */
int brig_write_file_at(int dirfd, const char *path, const char *data, size_t len, struct brig_err **err);
int brig_read_file_at(int dirfd, const char *path, char **out, size_t *len, struct brig_err **err);
/* Writes a file atomically (temporary file + rename) so readers never see half of it. */
int brig_write_file_atomic_at(int dirfd, const char *path, const char *data, size_t len, mode_t mode,
                              struct brig_err **err);
/* mkdir -p; existing directories are fine. */
int brig_mkdir_p(const char *path, mode_t mode, struct brig_err **err);

/* rm -rf of `name` under `dirfd`: never follows a symlink or enters another mount (EBUSY), opens up
 * directories their owner cannot search or write (overlay leaves its work/work at mode 0), and holds one fd
 * (no recursion) however deep the tree, which a container may have made as deep as it likes. A missing
 * `name` is fine. Returns 0 or -errno with *err naming the entry that stayed. */
int brig_remove_tree_at(int dirfd, const char *name, struct brig_err **err);
/* A directory stream on a close-on-exec duplicate of `fd` (which stays the caller's), or NULL with errno set. */
DIR *brig_opendir_dup(int fd);

/* Current time as RFC 3339 with nanoseconds, as runc writes `created`. */
int brig_now_rfc3339(char *buf, size_t len);

/* Parses a non-negative decimal integer; returns 0 or -EINVAL/-ERANGE. */
int brig_parse_u64(const char *s, uint64_t *out);
int brig_parse_i64(const char *s, int64_t *out);

/* (uid_t)-1 and (gid_t)-1: "leave unchanged" to setresuid, setresgid and chown, and never mapped into a
 * user namespace, so no process, file or id map may be given it: a process "set" to it keeps root. */
#define BRIG_ID_UNCHANGED UINT32_MAX
/* What every message refusing it says after "4294967295 is not a valid id". */
#define BRIG_ID_UNCHANGED_WHY "the kernel reads it as -1, \"unchanged\""
/* A uid or gid in decimal: 0, -EINVAL when not an integer from 0 to 4294967295, -ERANGE for
 * BRIG_ID_UNCHANGED. */
int brig_parse_id(const char *s, uint32_t *out);

/* Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): together with the
 * pid it identifies a process across pid reuse. Also gives its state letter (R, S, Z...) when `state` is
 * not NULL. Returns 0, or -errno. */
int brig_proc_start_time(pid_t pid, uint64_t *start_time, char *state);

/* Re-executes brig from a sealed memfd copy of its binary (util/sealed_exe.c says why), with `argv`; returns 0
 * when it already runs from one, or an error when no copy could be made or run. */
int brig_run_sealed_copy(char **argv, struct brig_err **err);

#endif
