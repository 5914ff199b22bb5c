/* Small helpers shared by every brig library: cleanup attributes, file I/O, string vectors. */
#ifndef BRIG_UTIL_UTIL_H
#define BRIG_UTIL_UTIL_H

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

#define cleanup_free __attribute__((cleanup(brig_freep)))
#define cleanup_close __attribute__((cleanup(brig_closep)))

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

/* Closes every fd from `first` up, but those in `keep` (negative entries are ignored; the array is sorted in
 * place). For a child that must hold only what it was given: the parent's fds carry its flock()s. */
void brig_close_fds_except(int *keep, size_t n, unsigned first);

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

/* Current time as RFC 3339 with nanoseconds, as runc writes `created`. */
int brig_now_rfc3339(char *buf, size_t len);

/* Parses a non-negative decimal integer; returns 0 or -EINVAL/-ERANGE. */
int brig_parse_u64(const char *s, uint64_t *out);
int brig_parse_i64(const char *s, int64_t *out);

/* Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): together with the
 * pid it identifies a process across pid reuse. Also gives its state letter (R, S, Z...) when `state` is
 * not NULL. Returns 0, or -errno. */
int brig_proc_start_time(pid_t pid, uint64_t *start_time, char *state);

#endif
