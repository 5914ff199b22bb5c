/* Frames on the migration connection: a 16-byte header (type, name length, data length; big-endian), the
 * name, the data. Every send uses MSG_NOSIGNAL: a receiver that dies must be an error, not our SIGPIPE. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define MIG_CHUNK (256u << 10)

uint64_t mig_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static int send_all(int fd, const void *buf, size_t len, struct brig_err **err)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        /* An export archive: the same frames into a file. */
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return brig_err_msg(err, ETIMEDOUT, "send: the peer took nothing for %d s", MIG_IO_TIMEOUT);
            return brig_err_sys(err, "send");
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Reads exactly len bytes; the peer closing first is "connection closed". */
static int recv_all(int fd, void *buf, size_t len, struct brig_err **err)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == ENOTSOCK)
            n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return brig_err_msg(err, ETIMEDOUT, "receive: the peer sent nothing for %d s", MIG_IO_TIMEOUT);
            return brig_err_sys(err, "receive");
        }
        if (n == 0)
            return brig_err_msg(err, ECONNRESET, "the peer closed the connection");
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int send_header(int fd, uint32_t type, const char *name, uint64_t data_len, struct brig_err **err)
{
    size_t name_len = name ? strlen(name) : 0;
    unsigned char hdr[16];
    uint32_t t = htobe32(type), nl = htobe32((uint32_t) name_len);
    uint64_t dl = htobe64(data_len);
    int ret;

    if (name_len > MIG_NAME_MAX)
        return brig_err_msg(err, ENAMETOOLONG, "frame name `%.40s...`: longer than %d bytes", name, MIG_NAME_MAX);
    memcpy(hdr, &t, 4);
    memcpy(hdr + 4, &nl, 4);
    memcpy(hdr + 8, &dl, 8);
    ret = send_all(fd, hdr, sizeof(hdr), err);
    if (ret == 0 && name_len)
        ret = send_all(fd, name, name_len, err);
    return ret;
}

int mig_send_frame(int fd, uint32_t type, const char *name, const void *data, size_t len, struct brig_err **err)
{
    int ret = send_header(fd, type, name, len, err);

    if (ret == 0 && len)
        ret = send_all(fd, data, len, err);
    return ret;
}

static int send_file(int fd, int dir_fd, const char *entry, const char *name, uint64_t *bytes,
                     struct brig_err **err)
{
    cleanup_close int file = openat(dir_fd, entry, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_free char *buf = NULL;
    struct stat st;
    uint64_t left;
    int ret;

    if (file < 0 || fstat(file, &st) < 0)
        return brig_err_sys(err, "`%s`", name);
    buf = malloc(MIG_CHUNK);
    if (!buf)
        return brig_err_set(err, ENOMEM, "`%s`", name);
    ret = send_header(fd, MIG_FILE, name, (uint64_t) st.st_size, err);
    /* The length is fixed by the header: a file that changed size meanwhile is an error, not a short frame. */
    for (left = (uint64_t) st.st_size; ret == 0 && left > 0;) {
        ssize_t n = read(file, buf, left < MIG_CHUNK ? left : MIG_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? brig_err_sys(err, "read `%s`", name)
                         : brig_err_msg(err, EIO, "`%s` shrank while it was sent", name);
        ret = send_all(fd, buf, (size_t) n, err);
        left -= (uint64_t) n;
    }
    if (ret == 0)
        *bytes += (uint64_t) st.st_size;
    return ret;
}

int mig_send_tree(int fd, int base_fd, const char *dir, uint64_t *bytes, struct brig_err **err)
{
    cleanup_close int dir_fd = openat(base_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    int ret;

    if (dir_fd < 0)
        return brig_err_sys(err, "image directory `%s`", dir);
    ret = mig_send_frame(fd, MIG_DIR, dir, NULL, 0, err);
    if (ret < 0)
        return ret;
    d = brig_opendir_dup(dir_fd);
    if (!d)
        return brig_err_sys(err, "image directory `%s`", dir);
    while (ret == 0 && (errno = 0, e = readdir(d))) {
        char name[MIG_NAME_MAX + 1];
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if ((size_t) snprintf(name, sizeof(name), "%s/%s", dir, e->d_name) >= sizeof(name)) {
            ret = brig_err_msg(err, ENAMETOOLONG, "`%s/%s`: name too long", dir, e->d_name);
            break;
        }
        if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            ret = brig_err_sys(err, "`%s`", name);
            break;
        }
        if (S_ISREG(st.st_mode)) {
            ret = send_file(fd, dir_fd, e->d_name, name, bytes, err);
        } else if (S_ISDIR(st.st_mode)) {
            ret = mig_send_tree(fd, base_fd, name, bytes, err);
        } else if (S_ISLNK(st.st_mode)) {
            char target[MIG_NAME_MAX + 1];
            ssize_t n = readlinkat(dir_fd, e->d_name, target, sizeof(target) - 1);
            if (n < 0)
                ret = brig_err_sys(err, "`%s`", name);
            else
                ret = mig_send_frame(fd, MIG_LINK, name, target, (size_t) n, err);
        }
        /* Sockets and fifos: CRIU leaves none in an image directory, and they carry nothing to send. */
    }
    if (ret == 0 && errno)
        ret = brig_err_sys(err, "image directory `%s`", dir);
    closedir(d);
    return ret;
}

int mig_recv_frame(int fd, unsigned timeout, struct mig_frame *f, struct brig_err **err)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    unsigned char hdr[16];
    uint32_t t, nl;
    uint64_t dl;
    int n, ret;

    do
        n = poll(&pfd, 1, (int) timeout * 1000);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return brig_err_sys(err, "poll");
    if (n == 0)
        return brig_err_msg(err, ETIMEDOUT, "the peer sent nothing for %u s", timeout);
    ret = recv_all(fd, hdr, sizeof(hdr), err);
    if (ret < 0)
        return ret;
    memcpy(&t, hdr, 4);
    memcpy(&nl, hdr + 4, 4);
    memcpy(&dl, hdr + 8, 8);
    f->type = be32toh(t);
    f->data_len = be64toh(dl);
    nl = be32toh(nl);
    if (f->type < MIG_HELLO || f->type > MIG_PAGES)
        return brig_err_msg(err, EPROTO, "unknown frame type %u (not brig's migration protocol?)", f->type);
    if (nl > MIG_NAME_MAX)
        return brig_err_msg(err, EPROTO, "frame name of %u bytes: longer than %d", nl, MIG_NAME_MAX);
    ret = recv_all(fd, f->name, nl, err);
    f->name[ret == 0 ? nl : 0] = '\0';
    return ret;
}

int mig_recv_data(int fd, const struct mig_frame *f, char **out, struct brig_err **err)
{
    char *buf;
    int ret;

    if (f->data_len > MIG_SMALL_MAX)
        return brig_err_msg(err, EPROTO, "frame of %llu bytes: more than %u", (unsigned long long) f->data_len,
                            MIG_SMALL_MAX);
    buf = calloc(1, f->data_len + 1);
    if (!buf)
        return brig_err_set(err, ENOMEM, "frame");
    ret = recv_all(fd, buf, f->data_len, err);
    if (ret < 0) {
        free(buf);
        return ret;
    }
    buf[f->data_len] = '\0';
    *out = buf;
    return 0;
}

bool mig_name_ok(const char *name)
{
    const char *p = name;

    if (!*name || *name == '/')
        return false;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += len;
        if (*p == '/')
            p++;
        if (!*p && p[-1] == '/')
            return false;
    }
    return true;
}

/* CRIU's parent link names a sibling image directory: "../NAME" (what --parent-path gave) and nothing else. */
static bool link_target_ok(const char *target)
{
    return !strncmp(target, "../", 3) && mig_name_ok(target + 3) && !strchr(target + 3, '/');
}

static int recv_file(int fd, int base_fd, const struct mig_frame *f, struct brig_err **err)
{
    cleanup_close int file = openat(base_fd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    cleanup_free char *buf = NULL;
    uint64_t left = f->data_len;
    int ret;

    if (file < 0)
        return brig_err_sys(err, "`%s`", f->name);
    buf = malloc(MIG_CHUNK);
    if (!buf)
        return brig_err_set(err, ENOMEM, "`%s`", f->name);
    while (left > 0) {
        size_t want = left < MIG_CHUNK ? (size_t) left : MIG_CHUNK;
        ret = recv_all(fd, buf, want, err);
        if (ret < 0)
            return ret;
        ret = brig_write_all(file, buf, want);
        if (ret < 0)
            return brig_err_set(err, -ret, "write `%s`", f->name);
        left -= want;
    }
    return 0;
}

int mig_recv_tree_entry(int fd, int base_fd, const struct mig_frame *f, struct brig_err **err)
{
    cleanup_free char *target = NULL;
    int ret;

    if (!mig_name_ok(f->name))
        return brig_err_msg(err, EPROTO, "image entry `%s`: not a plain relative name", f->name);
    if (f->type == MIG_FILE)
        return recv_file(fd, base_fd, f, err);
    if (f->type == MIG_DIR) {
        if (f->data_len)
            return brig_err_msg(err, EPROTO, "image directory `%s`: a directory frame with data", f->name);
        if (mkdirat(base_fd, f->name, 0700) < 0)
            return brig_err_sys(err, "image directory `%s`", f->name);
        return 0;
    }
    ret = mig_recv_data(fd, f, &target, err);
    if (ret < 0 || !target)
        return ret < 0 ? ret : -EIO;
    if (!link_target_ok(target))
        return brig_err_msg(err, EPROTO, "image link `%s` -> `%s`: only a sibling image directory is accepted",
                            f->name, target);
    if (symlinkat(target, base_fd, f->name) < 0)
        return brig_err_sys(err, "image link `%s`", f->name);
    return 0;
}
