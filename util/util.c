#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

size_t brig_strv_len(char *const *strv)
{
    size_t n = 0;

    while (strv && strv[n])
        n++;
    return n;
}

int brig_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

ssize_t brig_read_all(int fd, char **out, size_t max)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n;
        if (len == cap) {
            char *bigger;
            if (cap >= max) {
                free(buf);
                return -EFBIG;
            }
            cap *= 2;
            bigger = realloc(buf, cap + 1);
            if (!bigger) {
                free(buf);
                return -ENOMEM;
            }
            buf = bigger;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            n = -errno;
            free(buf);
            return n;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    buf[len] = '\0';
    *out = buf;
    return (ssize_t) len;
}

int brig_write_file_at(int dirfd, const char *path, const char *data, size_t len, struct brig_err **err)
{
    cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_TRUNC);
    int ret;

    if (fd < 0)
        return brig_err_sys(err, "open `%s`", path);
    ret = brig_write_all(fd, data, len);
    if (ret < 0)
        return brig_err_set(err, -ret, "write `%.*s` to `%s`", (int) (len > 64 ? 64 : len), data, path);
    return 0;
}

int brig_read_file_at(int dirfd, const char *path, char **out, size_t *len, struct brig_err **err)
{
    cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return brig_err_sys(err, "open `%s`", path);
    n = brig_read_all(fd, out, 64 << 20);
    if (n < 0)
        return brig_err_set(err, (int) -n, "read `%s`", path);
    if (len)
        *len = (size_t) n;
    return 0;
}

int brig_write_file_atomic_at(int dirfd, const char *path, const char *data, size_t len, mode_t mode,
                              struct brig_err **err)
{
    char tmp[4096];
    cleanup_close int fd = -1;
    int ret;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
        return brig_err_set(err, ENAMETOOLONG, "write `%s`", path);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return brig_err_sys(err, "create `%s`", tmp);
    ret = brig_write_all(fd, data, len);
    if (ret < 0) {
        unlinkat(dirfd, tmp, 0);
        return brig_err_set(err, -ret, "write `%s`", tmp);
    }
    if (renameat(dirfd, tmp, dirfd, path) < 0) {
        ret = brig_err_sys(err, "rename `%s` to `%s`", tmp, path);
        unlinkat(dirfd, tmp, 0);
        return ret;
    }
    return 0;
}

int brig_mkdir_p(const char *path, mode_t mode, struct brig_err **err)
{
    cleanup_free char *copy = strdup(path);
    char *p;

    if (!copy)
        return brig_err_set(err, ENOMEM, "mkdir `%s`", path);
    for (p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return brig_err_sys(err, "mkdir `%s`", copy);
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
        return brig_err_sys(err, "mkdir `%s`", copy);
    return 0;
}

int brig_now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    int64_t days, secs, era, doe, yoe, doy, mp, year, month, day;

    /* By hand: glibc's gmtime_r() and strftime() load /etc/localtime, a file read on every container start
     * for a UTC time. Days to civil date as in Howard Hinnant's algorithm. */
    clock_gettime(CLOCK_REALTIME, &ts);
    days = ts.tv_sec / 86400;
    secs = ts.tv_sec % 86400;
    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    day = doy - (153 * mp + 2) / 5 + 1;
    month = mp < 10 ? mp + 3 : mp - 9;
    year = yoe + era * 400 + (month <= 2);
    return snprintf(buf, len, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", (long long) year,
                    (long long) month, (long long) day, (long long) (secs / 3600), (long long) (secs / 60 % 60),
                    (long long) (secs % 60), ts.tv_nsec) < (int) len
               ? 0
               : -ENAMETOOLONG;
}

int brig_parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -errno;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

int brig_parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (!s || !*s || *s == ' ')
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno)
        return -errno;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

int brig_parse_id(const char *s, uint32_t *out)
{
    uint64_t id = 0;

    if (brig_parse_u64(s, &id) < 0 || id > UINT32_MAX)
        return -EINVAL;
    if (id == BRIG_ID_UNCHANGED)
        return -ERANGE;
    *out = (uint32_t) id;
    return 0;
}

int brig_proc_start_time(pid_t pid, uint64_t *start_time, char *state)
{
    char path[64], buf[1024];
    cleanup_close int fd = -1;
    ssize_t n;
    char *p;
    int field;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return n < 0 ? -errno : -EIO;
    buf[n] = '\0';
    /* comm (field 2) may hold spaces and parentheses: count fields from the last ')'. */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -EIO;
    if (state)
        *state = p[2];
    for (field = 2; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (field != 22)
        return -EIO;
    return sscanf(p, "%" SCNu64, start_time) == 1 ? 0 : -EIO;
}

/* ---- brig_remove_tree_at ---- */

/* One directory on the way down: its name in its parent, and the subdirectories still to remove. */
struct rm_level {
    char *name;
    char **pending;
    size_t n_pending;
};

static void rm_level_free(struct rm_level *l)
{
    free(l->name);
    for (size_t i = 0; i < l->n_pending; i++)
        free(l->pending[i]);
    free(l->pending);
}

static bool rm_same_mount(int dirfd, const char *name, const struct statx *top)
{
    struct statx stx;

    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
        return false;
    if ((stx.stx_mask & STATX_MNT_ID) && (top->stx_mask & STATX_MNT_ID))
        return stx.stx_mnt_id == top->stx_mnt_id;
    return stx.stx_dev_major == top->stx_dev_major && stx.stx_dev_minor == top->stx_dev_minor;
}

/* Opens directory `name` of `dirfd` for reading and unlinking, giving its owner rwx when it lacks them. */
static int rm_open_dir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700 && st.st_uid == geteuid())
        fchmod(fd, (st.st_mode & 07777) | 0700);
    return fd;
}

DIR *brig_opendir_dup(int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;

    if (!d && dup_fd >= 0) {
        int saved = errno;
        close(dup_fd);
        errno = saved;
    }
    return d;
}

/* Unlinks every non-directory of `fd` and lists its subdirectories into `level`. */
static int rm_scan(int fd, struct rm_level *level)
{
    DIR *d = brig_opendir_dup(fd);
    struct dirent *de;
    int ret = 0;

    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        struct stat st;
        char **grown;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            ret = -errno;
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
                ret = -errno;
                break;
            }
            continue;
        }
        grown = realloc(level->pending, (level->n_pending + 1) * sizeof(char *));
        if (!grown || !(grown[level->n_pending] = strdup(de->d_name))) {
            if (grown)
                level->pending = grown;
            ret = -ENOMEM;
            break;
        }
        level->pending = grown;
        level->n_pending++;
    }
    closedir(d);
    return ret;
}

struct rm_stack {
    struct rm_level *levels;
    size_t depth, cap;
    int fd; /* the deepest level's directory */
};

/* Enters subdirectory `name` (owned from here on) of the current level, or of `dirfd` at the top. */
static int rm_push(struct rm_stack *s, int dirfd, char *name, const struct statx *top, const char *what,
                   struct brig_err **err)
{
    int parent = s->depth ? s->fd : dirfd;
    int fd, ret;

    if (s->depth == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct rm_level *grown = realloc(s->levels, cap * sizeof(*grown));
        if (!grown) {
            free(name);
            return brig_err_set(err, ENOMEM, "remove `%s`", what);
        }
        s->levels = grown;
        s->cap = cap;
    }
    if (!rm_same_mount(parent, name, top)) {
        ret = brig_err_set(err, EBUSY, "remove `%s`: `%s` is a mount point", what, name);
        free(name);
        return ret;
    }
    fd = rm_open_dir(parent, name);
    if (fd < 0) {
        ret = brig_err_sys(err, "remove `%s`: open `%s`", what, name);
        free(name);
        return ret;
    }
    if (s->depth)
        close(s->fd);
    s->fd = fd;
    s->levels[s->depth++] = (struct rm_level){.name = name};
    ret = rm_scan(fd, &s->levels[s->depth - 1]);
    if (ret < 0)
        return brig_err_set(err, -ret, "remove `%s`: inside `%s`", what, name);
    return 0;
}

int brig_remove_tree_at(int dirfd, const char *name, struct brig_err **err)
{
    struct rm_stack s = {.fd = -1};
    struct statx top;
    char *first;
    int ret;

    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID, &top) < 0)
        return errno == ENOENT ? 0 : brig_err_sys(err, "remove `%s`", name);
    if (!S_ISDIR(top.stx_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return brig_err_sys(err, "remove `%s`", name);
        return 0;
    }
    first = strdup(name);
    ret = first ? rm_push(&s, dirfd, first, &top, name, err) : brig_err_set(err, ENOMEM, "remove `%s`", name);
    /* Down into a pending subdirectory each time, back up through ".." once a level is empty: each
     * directory is read once, and only the deepest level holds an fd. */
    while (ret == 0 && s.depth > 0) {
        struct rm_level *l = &s.levels[s.depth - 1];
        int parent;

        if (l->n_pending > 0) {
            ret = rm_push(&s, dirfd, l->pending[--l->n_pending], &top, name, err);
            continue;
        }
        parent = s.depth > 1 ? openat(s.fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dirfd;
        if (s.depth > 1 && parent < 0) {
            ret = brig_err_sys(err, "remove `%s`: back up from `%s`", name, l->name);
            break;
        }
        close(s.fd);
        s.fd = s.depth > 1 ? parent : -1;
        if (unlinkat(parent, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            ret = brig_err_sys(err, "remove `%s`: `%s`", name, l->name);
        rm_level_free(l);
        s.depth--;
    }
    if (s.depth > 0 && s.fd >= 0)
        close(s.fd);
    while (s.depth > 0)
        rm_level_free(&s.levels[--s.depth]);
    free(s.levels);
    return ret;
}
