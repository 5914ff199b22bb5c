/* One layer's tar into a directory of the store, with libarchive reading and brig writing: every object is made
 * with *at() calls below the layer's directory, parents opened with openat2(RESOLVE_BENEATH), so no entry can
 * reach outside it (`..`, absolute names, writes through a symlink that points out, hard links to outside are
 * each refused with the entry's name). A later entry replaces an earlier one at the same name instead of
 * writing through it, as tar does.
 *
 * OCI whiteouts become overlay's: `.wh.NAME` a 0:0 character device (which the kernel lets anyone make since
 * 5.8; where even that is refused, an empty file with the overlay.whiteout xattr, its directory marked
 * overlay.opaque=x, as kernels since 6.7 read), `.wh..wh..opq` the overlay.opaque=y xattr on its directory.
 * Owners, modes, times, xattrs, hard links and symlinks are kept. Unpacking as root uses trusted.overlay.*;
 * rootless uses user.overlay.* (overlay's userxattr), refuses device nodes, and keeps owners it cannot give
 * in user.containers.override_stat, as containers/storage and fuse-overlayfs do. Rootless with subordinate
 * ids the unpack runs as root of a user namespace with the container's maps (image/store.c): owners are given
 * as in the image, and only those beyond the maps go to the xattr. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define READ_CHUNK (1u << 20)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERRIDE_XATTR "user.containers.override_stat"

/* A directory's mode and times, set once every entry is in: creating a child would change its mtime, and a
 * read-only mode would keep an unprivileged unpack from filling it. */
struct dir_fixup {
    char *path;
    size_t seq; /* order in the tar: the last entry for a path wins */
    mode_t mode;
    struct timespec times[2];
};

struct tar_source;

struct unpack {
    const struct image_libs *L;
    const struct image_unpack_opts *opts;
    const struct tar_source *src;
    bool ended_early; /* the stream ended right after the last file's data (see write_data) */
    int root;
    uid_t euid;
    const char *entry; /* the entry at hand, for messages */
    /* The parent directory of the last entry, which the next one usually shares. */
    char cached_dir[PATH_MAX];
    int cached_fd;
    struct dir_fixup *fixups;
    size_t n_fixups, cap_fixups;
};

/* The uncompressed tar stream: libarchive's tar reader pulls it through here, from the blob or from a second
 * archive that only decompresses, which pulls the blob through here too: every byte passes its digest. */
struct tar_source {
    const struct image_libs *L;
    int fd;
    struct archive *inflate; /* NULL for an uncompressed layer, whose blob is its tar */
    struct image_sha256 blob;
    struct image_sha256 tar; /* unused when uncompressed */
    char *buf;               /* tar bytes */
    char *raw;               /* compressed bytes */
    bool eof;                /* the tar stream has ended */
};

/* "layer sha256:...: `etc/passwd`: <what>[: strerror(errnum)]" */
static int entry_error(struct unpack *u, struct brig_err **err, int errnum, const char *what)
{
    if (errnum)
        return brig_err_set(err, errnum, "layer %s: `%s`: %s", u->opts->layer, u->entry, what);
    return brig_err_msg(err, EINVAL, "layer %s: `%s`: %s", u->opts->layer, u->entry, what);
}

static int open_beneath(int dir, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long) (flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd;

    do
        fd = syscall(SYS_openat2, dir, path, &how, sizeof(how));
    while (fd < 0 && (errno == EAGAIN || errno == EINTR));
    return fd < 0 ? -errno : (int) fd;
}

/* The entry's name made relative to the layer: "./a//b/" -> "a/b"; "" for the layer's root. */
static int clean_name(const char *raw, char *out, size_t cap, const char **why)
{
    size_t len = 0;

    if (!raw || !*raw) {
        *why = "has no name";
        return -EINVAL;
    }
    /* umoci names the layer's root "/"; any other absolute name is refused, not quietly made relative. */
    if (raw[0] == '/' && raw[strspn(raw, "/")] != '\0') {
        *why = "is an absolute path, which leads out of the layer";
        return -EINVAL;
    }
    for (const char *p = raw; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            *why = "leads out of the layer (`..`)";
            return -EINVAL;
        }
        if (n && !(n == 1 && p[0] == '.')) {
            if (len + n + 2 > cap) {
                *why = "is too long";
                return -ENAMETOOLONG;
            }
            if (len)
                out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    out[len] = '\0';
    return 0;
}

static void split_name(char *path, const char **dir, const char **base)
{
    char *slash = strrchr(path, '/');

    if (!slash) {
        *dir = "";
        *base = path;
        return;
    }
    *slash = '\0';
    *dir = path;
    *base = slash + 1;
}

static void drop_cache(struct unpack *u)
{
    if (u->cached_fd >= 0)
        close(u->cached_fd);
    u->cached_fd = -1;
    u->cached_dir[0] = '\0';
}

static int dir_open_error(struct unpack *u, int ret, const char *dir, struct brig_err **err)
{
    char what[PATH_MAX + 64];

    if (ret == -EXDEV)
        return entry_error(u, err, 0, "leads out of the layer through a symlink");
    if (ret == -ELOOP)
        return entry_error(u, err, 0, "its directory is reached through too many symlinks");
    snprintf(what, sizeof(what), "open directory `%s`", dir);
    return entry_error(u, err, -ret, what);
}

/* Makes the missing directories of `dir` (0755, ours), each reached from the root like any entry. */
static int make_parents(struct unpack *u, const char *dir, struct brig_err **err)
{
    char prefix[PATH_MAX];
    size_t len = strlen(dir);

    memcpy(prefix, dir, len + 1);
    for (size_t end = 0; end <= len; end++) {
        if (prefix[end] != '/' && prefix[end] != '\0')
            continue;
        char saved = prefix[end];
        prefix[end] = '\0';
        int fd = open_beneath(u->root, prefix, O_PATH | O_DIRECTORY);
        if (fd == -ENOENT) {
            char *slash = strrchr(prefix, '/');
            const char *base = slash ? slash + 1 : prefix;
            int parent = u->root;
            if (slash) {
                *slash = '\0';
                parent = open_beneath(u->root, prefix, O_PATH | O_DIRECTORY);
                *slash = '/';
                if (parent < 0)
                    return dir_open_error(u, parent, prefix, err);
            }
            int made = mkdirat(parent, base, 0755) < 0 && errno != EEXIST ? -errno : 0;
            if (made == 0)
                fd = open_beneath(u->root, prefix, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (made == 0 && fd >= 0 && fchmod(fd, 0755) < 0)
                made = -errno;
            if (parent != u->root)
                close(parent);
            if (made < 0)
                return entry_error(u, err, -made, "make its parent directory");
        }
        if (fd < 0)
            return dir_open_error(u, fd, prefix, err);
        close(fd);
        prefix[end] = saved;
    }
    return 0;
}

/* The directory an entry goes in, made when the tar did not list it first. Owned by the cache. */
static int parent_dir(struct unpack *u, const char *dir, int *out, struct brig_err **err)
{
    int fd;

    if (!*dir) {
        *out = u->root;
        return 0;
    }
    if (u->cached_fd >= 0 && !strcmp(u->cached_dir, dir)) {
        *out = u->cached_fd;
        return 0;
    }
    fd = open_beneath(u->root, dir, O_PATH | O_DIRECTORY);
    if (fd == -ENOENT) {
        int ret = make_parents(u, dir, err);
        if (ret < 0)
            return ret;
        fd = open_beneath(u->root, dir, O_PATH | O_DIRECTORY);
    }
    if (fd < 0)
        return dir_open_error(u, fd, dir, err);
    drop_cache(u);
    snprintf(u->cached_dir, sizeof(u->cached_dir), "%s", dir);
    u->cached_fd = fd;
    *out = fd;
    return 0;
}

/* Clears `name` for a new entry: an earlier non-directory is unlinked, an earlier directory removed with its
 * contents, unless `keep_dir` (a directory entry over a directory merges, as in tar). Returns 1 when a
 * directory was kept. */
static int clear_name(struct unpack *u, int parent, const char *name, bool keep_dir, struct brig_err **err)
{
    char path[64];
    struct stat st;

    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : entry_error(u, err, errno, "stat the earlier entry");
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir)
            return 1;
        /* The cached directory may sit below it, unless it is the parent itself. */
        if (u->cached_fd != parent)
            drop_cache(u);
        snprintf(path, sizeof(path), "/proc/self/fd/%d/", parent);
        cleanup_free char *full = NULL;
        if (asprintf(&full, "%s%s", path, name) < 0)
            return entry_error(u, err, ENOMEM, "replace the earlier directory");
        if (image_remove_tree(full) < 0)
            return entry_error(u, err, errno, "replace the earlier directory");
        return 0;
    }
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
        return entry_error(u, err, errno, "replace the earlier entry");
    return 0;
}

static bool is_overlay_xattr(const char *name)
{
    return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13);
}

/* Sets one xattr on the object: through its fd when it has one open, else by its name in `parent`. */
static int set_xattr(int fd, int parent, const char *name, const char *key, const void *value, size_t size)
{
    char path[PATH_MAX + 32];

    if (fd >= 0)
        return fsetxattr(fd, key, value, size, 0) < 0 ? -errno : 0;
    snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", parent, name);
    return lsetxattr(path, key, value, size, 0) < 0 ? -errno : 0;
}

/* The entry's own xattrs (SCHILY.xattr.* in the tar). brig's overlay markers are brig's to write, not the
 * layer's; rootless, trusted.* and security.* cannot be written and are left out. */
static int apply_xattrs(struct unpack *u, struct archive_entry *e, int fd, int parent, const char *name,
                        struct brig_err **err)
{
    const char *key;
    const void *value;
    size_t size;

    u->L->archive_entry_xattr_reset(e);
    while (u->L->archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
        if (is_overlay_xattr(key))
            continue;
        if (u->opts->rootless && (!strncmp(key, "trusted.", 8) || !strncmp(key, "security.", 9)))
            continue;
        int ret = set_xattr(fd, parent, name, key, value, size);
        if (ret < 0) {
            char what[320];
            snprintf(what, sizeof(what), "set xattr `%.256s`", key);
            return entry_error(u, err, -ret, what);
        }
    }
    return 0;
}

/* Owner: as given when root; rootless, the user's own ids stand for the container's root, and other owners are
 * kept in an xattr where they cannot be given (root in a user namespace gives the ids it maps). */
static int apply_owner(struct unpack *u, struct archive_entry *e, int fd, int parent, const char *name,
                       bool is_symlink, struct brig_err **err)
{
    uid_t uid = (uid_t) u->L->archive_entry_uid(e);
    gid_t gid = (gid_t) u->L->archive_entry_gid(e);
    int ret;

    if (!u->opts->rootless || u->euid == 0) {
        ret = fd >= 0 ? fchown(fd, uid, gid) : fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW);
        if (ret == 0)
            return 0;
        if (!u->opts->rootless || (errno != EINVAL && errno != EPERM))
            return entry_error(u, err, errno, "set its owner");
    } else if (uid == 0 && gid == 0) {
        return 0;
    }
    /* user.* xattrs cannot sit on symlinks: their owner is of no consequence anyway. */
    if (is_symlink)
        return 0;
    char value[64];
    int len = snprintf(value, sizeof(value), "%u:%u:0%o", (unsigned) uid, (unsigned) gid,
                       (unsigned) (u->L->archive_entry_mode(e) & 07777));
    ret = set_xattr(fd, parent, name, OVERRIDE_XATTR, value, (size_t) len);
    return ret < 0 ? entry_error(u, err, -ret, "keep its owner in " OVERRIDE_XATTR) : 0;
}

static void entry_times(const struct image_libs *L, struct archive_entry *e, struct timespec times[2])
{
    times[1].tv_sec = L->archive_entry_mtime(e);
    times[1].tv_nsec = L->archive_entry_mtime_nsec(e);
    /* Plain ustar has no atime: the mtime, so that an unpack gives the same tree every time. */
    if (L->archive_entry_atime_is_set(e)) {
        times[0].tv_sec = L->archive_entry_atime(e);
        times[0].tv_nsec = L->archive_entry_atime_nsec(e);
    } else {
        times[0] = times[1];
    }
}

static int write_data(struct unpack *u, struct archive *a, struct archive_entry *e, int fd, struct brig_err **err)
{
    const void *buf;
    size_t size;
    la_int64_t offset;
    off_t end = 0;
    int r;

    for (;;) {
        r = u->L->archive_read_data_block(a, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            break;
        /* umoci 0.4 ends some layers right after the last file's data, without its padding or the end-of-archive
         * blocks; Go's tar reader (so umoci itself, containerd, Podman) takes that as the end, and so does brig,
         * once the file is whole. The diff_id covers the stream as it is. */
        if (r < ARCHIVE_WARN && u->src->eof && end == u->L->archive_entry_size(e)) {
            u->ended_early = true;
            break;
        }
        if (r < ARCHIVE_WARN) {
            char what[512];
            snprintf(what, sizeof(what), "read its data: %s", u->L->archive_error_string(a));
            return entry_error(u, err, 0, what);
        }
        const char *p = buf;
        off_t at = (off_t) offset;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return entry_error(u, err, errno, "write");
            p += n;
            at += n;
            size -= (size_t) n;
        }
        if (at > end)
            end = at;
    }
    /* A sparse file's last hole has no data block. */
    if (u->L->archive_entry_size(e) > end && ftruncate(fd, (off_t) u->L->archive_entry_size(e)) < 0)
        return entry_error(u, err, errno, "write");
    return 0;
}

static int make_file(struct unpack *u, struct archive *a, struct archive_entry *e, int parent, const char *name,
                     struct brig_err **err)
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
    cleanup_close int fd = openat(parent, name, flags, 0600);
    struct timespec times[2];
    int ret;

    if (fd < 0 && errno == EEXIST) {
        ret = clear_name(u, parent, name, false, err);
        if (ret < 0)
            return ret;
        fd = openat(parent, name, flags, 0600);
    }
    if (fd < 0)
        return entry_error(u, err, errno, "create");
    ret = write_data(u, a, e, fd, err);
    /* chown clears set-id bits and file capabilities: owner first, then mode and xattrs. */
    if (ret == 0)
        ret = apply_owner(u, e, fd, parent, name, false, err);
    if (ret == 0 && fchmod(fd, u->L->archive_entry_mode(e) & 07777) < 0)
        ret = entry_error(u, err, errno, "set its mode");
    if (ret == 0)
        ret = apply_xattrs(u, e, fd, parent, name, err);
    entry_times(u->L, e, times);
    if (ret == 0 && futimens(fd, times) < 0)
        ret = entry_error(u, err, errno, "set its times");
    if (ret == 0 && close(steal_fd(fd)) < 0)
        ret = entry_error(u, err, errno, "write");
    return ret;
}

static int add_fixup(struct unpack *u, const char *path, struct archive_entry *e, struct brig_err **err)
{
    struct dir_fixup *f;

    if (u->n_fixups == u->cap_fixups) {
        size_t cap = u->cap_fixups ? u->cap_fixups * 2 : 256;
        struct dir_fixup *grown = realloc(u->fixups, cap * sizeof(*grown));
        if (!grown)
            return entry_error(u, err, ENOMEM, "directory");
        u->fixups = grown;
        u->cap_fixups = cap;
    }
    f = &u->fixups[u->n_fixups];
    f->path = strdup(path);
    if (!f->path)
        return entry_error(u, err, ENOMEM, "directory");
    f->seq = u->n_fixups++;
    f->mode = u->L->archive_entry_mode(e) & 07777;
    entry_times(u->L, e, f->times);
    return 0;
}

static int make_dir(struct unpack *u, struct archive_entry *e, const char *path, int parent, const char *name,
                    struct brig_err **err)
{
    cleanup_close int fd = -1;
    int ret = 0;

    if (mkdirat(parent, name, 0700) < 0) {
        if (errno != EEXIST)
            return entry_error(u, err, errno, "make directory");
        ret = clear_name(u, parent, name, true, err);
        if (ret < 0)
            return ret;
        if (ret == 0 && mkdirat(parent, name, 0700) < 0)
            return entry_error(u, err, errno, "make directory");
    }
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return entry_error(u, err, errno, "open the directory");
    ret = apply_owner(u, e, fd, parent, name, false, err);
    if (ret == 0)
        ret = apply_xattrs(u, e, fd, parent, name, err);
    if (ret == 0)
        ret = add_fixup(u, path, e, err);
    return ret;
}

static int make_symlink(struct unpack *u, struct archive_entry *e, int parent, const char *name,
                        struct brig_err **err)
{
    const char *target = u->L->archive_entry_symlink(e);
    struct timespec times[2];
    int ret;

    if (!target)
        target = u->L->archive_entry_symlink_utf8(e);
    if (!target || !*target)
        return entry_error(u, err, 0, "symlink has no target");
    if (symlinkat(target, parent, name) < 0) {
        if (errno != EEXIST)
            return entry_error(u, err, errno, "make symlink");
        ret = clear_name(u, parent, name, false, err);
        if (ret < 0)
            return ret;
        if (symlinkat(target, parent, name) < 0)
            return entry_error(u, err, errno, "make symlink");
    }
    ret = apply_owner(u, e, -1, parent, name, true, err);
    if (ret == 0)
        ret = apply_xattrs(u, e, -1, parent, name, err);
    entry_times(u->L, e, times);
    if (ret == 0 && utimensat(parent, name, times, AT_SYMLINK_NOFOLLOW) < 0)
        ret = entry_error(u, err, errno, "set its times");
    return ret;
}

static int make_hardlink(struct unpack *u, const char *raw_target, int parent, const char *name,
                         struct brig_err **err)
{
    char target[PATH_MAX];
    const char *why = NULL;
    const char *tdir, *tbase;
    cleanup_close int owned = -1;
    int tparent = u->root;
    int ret;

    if (clean_name(raw_target, target, sizeof(target), &why) < 0 || !*target) {
        char what[PATH_MAX + 64];
        snprintf(what, sizeof(what), "hard link target `%s` %s", raw_target ? raw_target : "",
                 why ? why : "is the layer's root");
        return entry_error(u, err, 0, what);
    }
    split_name(target, &tdir, &tbase);
    if (*tdir) {
        tparent = owned = open_beneath(u->root, tdir, O_PATH | O_DIRECTORY);
        if (owned == -EXDEV)
            return entry_error(u, err, 0, "hard link target leads out of the layer through a symlink");
        if (owned < 0)
            return entry_error(u, err, 0, "hard link target is not in the layer");
    }
    ret = linkat(tparent, tbase, parent, name, 0) < 0 ? -errno : 0;
    if (ret == -EEXIST) {
        ret = clear_name(u, parent, name, false, err);
        if (ret < 0)
            return ret;
        ret = linkat(tparent, tbase, parent, name, 0) < 0 ? -errno : 0;
    }
    if (ret == -ENOENT)
        return entry_error(u, err, 0, "hard link target is not in the layer");
    if (ret < 0)
        return entry_error(u, err, -ret, "make hard link");
    return 0;
}

static int make_node(struct unpack *u, struct archive_entry *e, mode_t type, int parent, const char *name,
                     struct brig_err **err)
{
    dev_t dev = type == S_IFIFO ? 0 : makedev(u->L->archive_entry_rdevmajor(e), u->L->archive_entry_rdevminor(e));
    mode_t mode = u->L->archive_entry_mode(e) & 07777;
    struct timespec times[2];
    int ret;

    /* A 0:0 character device is a whiteout, which anyone may make. */
    if (u->opts->rootless && type != S_IFIFO && !(type == S_IFCHR && dev == 0))
        return entry_error(u, err, 0, "device nodes cannot be unpacked rootless");
    if (mknodat(parent, name, type | 0600, dev) < 0) {
        if (errno != EEXIST)
            return entry_error(u, err, errno, "make device node");
        ret = clear_name(u, parent, name, false, err);
        if (ret < 0)
            return ret;
        if (mknodat(parent, name, type | 0600, dev) < 0)
            return entry_error(u, err, errno, "make device node");
    }
    ret = apply_owner(u, e, -1, parent, name, false, err);
    if (ret == 0 && fchmodat(parent, name, mode, AT_SYMLINK_NOFOLLOW) < 0)
        ret = entry_error(u, err, errno, "set its mode");
    if (ret == 0)
        ret = apply_xattrs(u, e, -1, parent, name, err);
    entry_times(u->L, e, times);
    if (ret == 0 && utimensat(parent, name, times, AT_SYMLINK_NOFOLLOW) < 0)
        ret = entry_error(u, err, errno, "set its times");
    return ret;
}

static const char *overlay_xattr(const struct unpack *u, const char *what)
{
    static const char *const names[][2] = {
        {"trusted.overlay.opaque", "user.overlay.opaque"},
        {"trusted.overlay.whiteout", "user.overlay.whiteout"},
    };

    return names[strcmp(what, "opaque") == 0 ? 0 : 1][u->opts->rootless ? 1 : 0];
}

/* Marks the directory `parent` opaque ("y") or as holding xattr whiteouts ("x"), never turning y into x. */
static int mark_dir(struct unpack *u, int parent, char value, struct brig_err **err)
{
    const char *key = overlay_xattr(u, "opaque");
    char path[64], old = 0;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", parent);
    if (value == 'x' && getxattr(path, key, &old, 1) == 1 && old == 'y')
        return 0;
    if (setxattr(path, key, &value, 1, 0) < 0)
        return entry_error(u, err, errno, value == 'y' ? "mark the directory opaque" : "mark the directory");
    return 0;
}

/* `.wh.NAME`: NAME of the lower layers is gone. A NAME of this same layer stays (the image-spec: a whiteout
 * hides only what lies below). */
static int make_whiteout(struct unpack *u, int parent, const char *name, struct brig_err **err)
{
    cleanup_close int fd = -1;

    if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return entry_error(u, err, 0, "is not a valid whiteout name");
    if (mknodat(parent, name, S_IFCHR, makedev(0, 0)) == 0 || errno == EEXIST)
        return 0;
    if (errno != EPERM)
        return entry_error(u, err, errno, "make whiteout");
    fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == EEXIST ? 0 : entry_error(u, err, errno, "make whiteout");
    if (fsetxattr(fd, overlay_xattr(u, "whiteout"), "", 0, 0) < 0)
        return entry_error(u, err, errno, "make whiteout");
    return mark_dir(u, parent, 'x', err);
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e, struct brig_err **err)
{
    const char *raw = u->L->archive_entry_pathname(e);
    const char *hardlink = u->L->archive_entry_hardlink(e);
    char path[PATH_MAX], split[PATH_MAX];
    const char *why = NULL, *dir, *base;
    mode_t type = u->L->archive_entry_filetype(e);
    int parent = -1;
    int ret;

    /* Names that are not valid in the locale (brig runs in "C") come as UTF-8: Linux names are bytes. */
    if (!raw)
        raw = u->L->archive_entry_pathname_utf8(e);
    if (!hardlink)
        hardlink = u->L->archive_entry_hardlink_utf8(e);
    u->entry = raw ? raw : "";
    if (clean_name(raw, path, sizeof(path), &why) < 0)
        return entry_error(u, err, 0, why);
    if (!*path) {
        /* The layer's root ("./"): its owner, mode, times and xattrs. */
        if (type != AE_IFDIR)
            return entry_error(u, err, 0, "the layer's root is not a directory");
        ret = apply_owner(u, e, -1, u->root, ".", false, err);
        if (ret == 0)
            ret = apply_xattrs(u, e, -1, u->root, ".", err);
        return ret == 0 ? add_fixup(u, "", e, err) : ret;
    }
    memcpy(split, path, strlen(path) + 1);
    split_name(split, &dir, &base);
    ret = parent_dir(u, dir, &parent, err);
    if (ret < 0)
        return ret;
    if (!strcmp(base, WHITEOUT_OPAQUE))
        return mark_dir(u, parent, 'y', err);
    if (!strncmp(base, WHITEOUT_PREFIX WHITEOUT_PREFIX, 8))
        return 0; /* aufs's own bookkeeping (.wh..wh.plnk...), meaningless here */
    if (!strncmp(base, WHITEOUT_PREFIX, 4))
        return make_whiteout(u, parent, base + 4, err);
    if (hardlink)
        return make_hardlink(u, hardlink, parent, base, err);
    switch (type) {
    case AE_IFREG:
        return make_file(u, a, e, parent, base, err);
    case AE_IFDIR:
        return make_dir(u, e, path, parent, base, err);
    case AE_IFLNK:
        return make_symlink(u, e, parent, base, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        return make_node(u, e, type, parent, base, err);
    default:
        return entry_error(u, err, 0, "has an entry type brig cannot unpack");
    }
}

static int compare_fixups(const void *a, const void *b)
{
    const struct dir_fixup *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Deepest first (in sorted order a directory's children follow it), the last entry of each path winning. */
static int apply_fixups(struct unpack *u, struct brig_err **err)
{
    const char *applied = NULL;

    if (u->n_fixups)
        qsort(u->fixups, u->n_fixups, sizeof(*u->fixups), compare_fixups);
    for (size_t i = u->n_fixups; i-- > 0;) {
        const struct dir_fixup *f = &u->fixups[i];
        if (applied && !strcmp(applied, f->path))
            continue;
        applied = f->path;
        cleanup_close int fd = *f->path ? open_beneath(u->root, f->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
                                        : dup(u->root);
        if (fd < 0)
            continue; /* replaced by a later non-directory entry */
        u->entry = *f->path ? f->path : ".";
        if (fchmod(fd, f->mode) < 0)
            return entry_error(u, err, errno, "set its mode");
        if (futimens(fd, f->times) < 0)
            return entry_error(u, err, errno, "set its times");
    }
    return 0;
}

/* The blob as stored: every byte passes its digest on the way to the decompressor (or the tar reader). */
static la_ssize_t read_blob(struct tar_source *s, struct archive *a, char *buf)
{
    la_ssize_t n;

    do
        n = read(s->fd, buf, READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        s->L->archive_set_error(a, errno, "read the blob");
        return -1;
    }
    image_sha256_update(&s->blob, buf, (size_t) n);
    return n;
}

static la_ssize_t read_compressed(struct archive *a, void *data, const void **out)
{
    struct tar_source *s = data;

    *out = s->raw;
    return read_blob(s, a, s->raw);
}

static la_ssize_t read_tar(struct archive *a, void *data, const void **out)
{
    struct tar_source *s = data;
    la_ssize_t n;

    if (!s->inflate) {
        n = read_blob(s, a, s->buf);
    } else {
        n = s->L->archive_read_data(s->inflate, s->buf, READ_CHUNK);
        if (n < 0)
            s->L->archive_set_error(a, s->L->archive_errno(s->inflate), "decompress: %s",
                                    s->L->archive_error_string(s->inflate));
        else
            image_sha256_update(&s->tar, s->buf, (size_t) n);
    }
    if (n < 0)
        return -1;
    s->eof = n == 0;
    *out = s->buf;
    return n;
}

static int open_inflate(struct tar_source *s, enum image_compression compression, const char *layer,
                        struct brig_err **err)
{
    const struct image_libs *L = s->L;
    struct archive_entry *e;
    int r;

    s->inflate = L->archive_read_new();
    s->raw = malloc(READ_CHUNK);
    if (!s->inflate || !s->raw)
        return brig_err_set(err, ENOMEM, "layer %s: decompress", layer);
    r = compression == IMAGE_COMPRESSION_GZIP ? L->archive_read_support_filter_gzip(s->inflate)
                                              : L->archive_read_support_filter_zstd(s->inflate);
    if (r == ARCHIVE_OK)
        r = L->archive_read_support_format_raw(s->inflate);
    if (r == ARCHIVE_OK)
        r = L->archive_read_open(s->inflate, s, NULL, read_compressed, NULL);
    if (r == ARCHIVE_OK)
        r = L->archive_read_next_header(s->inflate, &e);
    if (r != ARCHIVE_OK)
        return brig_err_msg(err, EINVAL, "layer %s: decompress: %s", layer, L->archive_error_string(s->inflate));
    return 0;
}

static int unpack_stream(struct unpack *u, struct tar_source *src, struct brig_err **err)
{
    const struct image_libs *L = u->L;
    struct archive *a = L->archive_read_new();
    struct archive_entry *e;
    int r, ret = 0;

    if (!a)
        return brig_err_set(err, ENOMEM, "layer %s", u->opts->layer);
    r = L->archive_read_support_format_tar(a);
    if (r == ARCHIVE_OK)
        r = L->archive_read_open(a, src, NULL, read_tar, NULL);
    while (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
        r = L->archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            break;
        ret = unpack_entry(u, a, e, err);
        if (ret < 0)
            break;
        if (u->ended_early)
            r = ARCHIVE_EOF;
    }
    if (ret == 0 && r != ARCHIVE_EOF)
        ret = brig_err_msg(err, EINVAL, "layer %s: read tar: %s", u->opts->layer, L->archive_error_string(a));
    /* The stream's end (padding after the end-of-archive blocks) counts towards the diff_id too. */
    while (ret == 0 && !src->eof) {
        const void *buf;
        if (read_tar(a, src, &buf) < 0)
            ret = brig_err_msg(err, EINVAL, "layer %s: read tar: %s", u->opts->layer, L->archive_error_string(a));
    }
    L->archive_read_free(a);
    return ret;
}

/* The rest of the blob, past the end of the compressed stream, into its digest. */
static int drain_blob(struct tar_source *s)
{
    ssize_t n;

    for (;;) {
        n = read(s->fd, s->buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : 0;
        image_sha256_update(&s->blob, s->buf, (size_t) n);
    }
}

/* The blob's digest is checked as it streams through, so a layer is read once. A blob that fails it explains
 * any error the unpack met (a damaged gzip stream, a broken tar), so that error gives way to the mismatch. */
int image_unpack_layer(const struct image_libs *libs, int fd, enum image_compression compression, int root_fd,
                       const char *diff_id, const struct image_unpack_opts *opts, struct brig_err **err)
{
    struct tar_source src = {.L = libs, .fd = fd};
    struct unpack u = {.L = libs, .opts = opts, .src = &src, .root = root_fd, .euid = geteuid(), .cached_fd = -1};
    char blob[IMAGE_DIGEST_LEN + 1], tar[IMAGE_DIGEST_LEN + 1];
    int ret, drained;

    src.buf = malloc(READ_CHUNK);
    if (!src.buf)
        return brig_err_set(err, ENOMEM, "layer %s", opts->layer);
    ret = image_sha256_init(&src.blob, libs, err);
    if (ret == 0 && compression != IMAGE_COMPRESSION_NONE) {
        ret = image_sha256_init(&src.tar, libs, err);
        if (ret == 0)
            ret = open_inflate(&src, compression, opts->layer, err);
    }
    if (ret == 0)
        ret = unpack_stream(&u, &src, err);
    if (ret == 0)
        ret = apply_fixups(&u, err);
    if (src.blob.ctx) {
        drained = drain_blob(&src);
        if (drained < 0 && ret == 0)
            ret = brig_err_set(err, -drained, "layer %s: read the blob", opts->layer);
        image_sha256_final(&src.blob, blob);
        if (drained == 0 && strcmp(blob, opts->layer) != 0) {
            brig_err_free(err);
            ret = brig_err_msg(err, EINVAL, "layer %s: digest mismatch: the blob's is %s", opts->layer, blob);
        }
    }
    if (ret == 0) {
        if (src.tar.ctx)
            image_sha256_final(&src.tar, tar);
        else
            memcpy(tar, blob, sizeof(tar));
        if (strcmp(tar, diff_id) != 0)
            ret = brig_err_msg(err, EINVAL, "layer %s: diff_id mismatch: the image config says %s, the tar's is %s",
                               opts->layer, diff_id, tar);
    }
    image_sha256_clear(&src.blob);
    image_sha256_clear(&src.tar);
    if (src.inflate)
        libs->archive_read_free(src.inflate);
    drop_cache(&u);
    for (size_t i = 0; i < u.n_fixups; i++)
        free(u.fixups[i].path);
    free(u.fixups);
    free(src.buf);
    free(src.raw);
    return ret;
}
