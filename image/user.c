/* The image's User as numbers, from its own /etc/passwd and /etc/group: the files as the container will see
 * them, the topmost layer's copy unless a layer above hides it (a whiteout, or an opaque /etc). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define ETC_FILE_MAX (4u << 20)

/* Whether `name` in `dir_fd` (the directory itself when NULL) has the xattr `key`, with the value `want`
 * when that is not NUL. */
static bool has_xattr(int dir_fd, const char *name, const char *key, char want)
{
    char path[PATH_MAX];
    char value[2] = "";

    if (name)
        snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir_fd, name);
    else
        snprintf(path, sizeof(path), "/proc/self/fd/%d", dir_fd);
    /* lgetxattr: not the named object's symlink target, but the fd's magic link is resolved as a parent. */
    if (name ? lgetxattr(path, key, value, sizeof(value)) < 0 : getxattr(path, key, value, sizeof(value)) < 0)
        return false;
    return !want || value[0] == want;
}

static bool is_opaque(int dir_fd)
{
    return has_xattr(dir_fd, NULL, "trusted.overlay.opaque", 'y') ||
           has_xattr(dir_fd, NULL, "user.overlay.opaque", 'y');
}

static bool is_xattr_whiteout(int dir_fd, const char *name)
{
    return has_xattr(dir_fd, name, "trusted.overlay.whiteout", 0) ||
           has_xattr(dir_fd, name, "user.overlay.whiteout", 0);
}

/* etc/<file> of the merged layers: its fd, or -ENOENT when the image has none. */
static int open_etc_file(char *const *layers, size_t n, const char *file)
{
    struct stat st;

    for (size_t i = n; i-- > 0;) {
        cleanup_close int layer = open(layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        cleanup_close int etc = -1;
        if (layer < 0)
            return -errno;
        if (fstatat(layer, "etc", &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        /* A whiteout, a file or a symlink at /etc hides every lower one. */
        if (!S_ISDIR(st.st_mode))
            return -ENOENT;
        etc = openat(layer, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (etc < 0)
            return -errno;
        if (fstatat(etc, file, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISLNK(st.st_mode))
                return -ELOOP;
            if (!S_ISREG(st.st_mode) || is_xattr_whiteout(etc, file))
                return -ENOENT;
            int fd = openat(etc, file, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
            return fd < 0 ? -errno : fd;
        }
        if (errno != ENOENT)
            return -errno;
        if (is_opaque(etc))
            return -ENOENT;
    }
    return -ENOENT;
}

/* The whole file, or NULL in *text when the image has none. */
static int read_etc_file(char *const *layers, size_t n, const char *file, char **text, struct brig_err **err)
{
    int fd = open_etc_file(layers, n, file);
    ssize_t len;

    *text = NULL;
    if (fd == -ENOENT)
        return 0;
    if (fd == -ELOOP)
        return brig_err_msg(err, ELOOP, "the image's /etc/%s is a symlink, which brig does not follow", file);
    if (fd < 0)
        return brig_err_set(err, -fd, "the image's /etc/%s", file);
    len = brig_read_all(fd, text, ETC_FILE_MAX);
    close(fd);
    if (len < 0)
        return brig_err_set(err, (int) -len, "read the image's /etc/%s", file);
    return 0;
}

static bool parse_id(const char *s, uint32_t *out)
{
    uint64_t v;

    if (brig_parse_u64(s, &v) < 0 || v >= UINT32_MAX)
        return false;
    *out = (uint32_t) v;
    return true;
}

/* Splits one line of a colon-separated file into at most `max` fields, in place. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;

    while (n < max) {
        fields[n++] = line;
        line = strchr(line, ':');
        if (!line)
            break;
        *line++ = '\0';
    }
    return n;
}

/* Walks the lines of a passwd or group text (modified in place), calling `fn` with each line's fields until it
 * returns true. */
static bool each_entry(char *text, size_t want, bool (*fn)(char **fields, void *data), void *data)
{
    char *save = NULL;

    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[7];
        if (line[0] == '#' || line[0] == '+' || line[0] == '-')
            continue;
        if (split_fields(line, fields, want) == want && fn(fields, data))
            return true;
    }
    return false;
}

struct passwd_query {
    const char *name; /* by name, or */
    uint32_t uid;     /* by uid */
    char found_name[256];
    uint32_t found_uid, found_gid;
};

static bool match_passwd(char **f, void *data)
{
    struct passwd_query *q = data;
    uint32_t uid, gid;

    if (!parse_id(f[2], &uid) || !parse_id(f[3], &gid))
        return false;
    if (q->name ? strcmp(f[0], q->name) != 0 : uid != q->uid)
        return false;
    snprintf(q->found_name, sizeof(q->found_name), "%s", f[0]);
    q->found_uid = uid;
    q->found_gid = gid;
    return true;
}

struct group_query {
    const char *name;   /* the group by name, or */
    const char *member; /* every group listing this user */
    uint32_t gid;
    struct image_user *user;
    int ret;
};

static bool match_group(char **f, void *data)
{
    struct group_query *q = data;
    uint32_t gid;

    if (!parse_id(f[2], &gid))
        return false;
    if (q->name) {
        q->gid = gid;
        return !strcmp(f[0], q->name);
    }
    for (char *save = NULL, *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (strcmp(m, q->member) != 0 || gid == q->user->gid)
            continue;
        for (size_t i = 0; i < q->user->n_gids; i++)
            if (q->user->gids[i] == gid)
                return false;
        uint32_t *grown = realloc(q->user->gids, (q->user->n_gids + 1) * sizeof(*grown));
        if (!grown) {
            q->ret = -ENOMEM;
            return true;
        }
        q->user->gids = grown;
        q->user->gids[q->user->n_gids++] = gid;
        return false;
    }
    return false;
}

static int resolve(const char *spec, char *const *layers, size_t n, struct image_user *out, struct brig_err **err)
{
    cleanup_free char *copy = strdup(spec);
    cleanup_free char *passwd = NULL;
    cleanup_free char *group = NULL;
    struct passwd_query pq = {0};
    char *user_part, *group_part;
    bool numeric_user, known;
    int ret;

    if (!copy)
        return brig_err_set(err, ENOMEM, "user");
    user_part = copy;
    group_part = strchr(copy, ':');
    if (group_part)
        *group_part++ = '\0';
    if (!*user_part || (group_part && !*group_part))
        return brig_err_msg(err, EINVAL, "`%s` is not USER[:GROUP]", spec);
    numeric_user = parse_id(user_part, &pq.uid);
    ret = read_etc_file(layers, n, "passwd", &passwd, err);
    if (ret < 0)
        return ret;
    pq.name = numeric_user ? NULL : user_part;
    known = each_entry(passwd, 7, match_passwd, &pq);
    if (!numeric_user && !known)
        return brig_err_msg(err, ENOENT, "user `%s` is not in the image's /etc/passwd%s", user_part,
                            passwd ? "" : " (it has none)");
    out->uid = known ? pq.found_uid : pq.uid;
    out->gid = known ? pq.found_gid : 0; /* a uid the image does not list: group 0, as Docker does */

    if (group_part && parse_id(group_part, &out->gid))
        return 0;
    if (!group_part && !known)
        return 0;
    ret = read_etc_file(layers, n, "group", &group, err);
    if (ret < 0)
        return ret;
    if (group_part) {
        struct group_query gq = {.name = group_part};
        cleanup_free char *scratch = group ? strdup(group) : NULL;
        if (!each_entry(scratch, 4, match_group, &gq))
            return brig_err_msg(err, ENOENT, "group `%s` is not in the image's /etc/group%s", group_part,
                                group ? "" : " (it has none)");
        out->gid = gq.gid;
        return 0;
    }
    /* Only the user given: its supplementary groups too, as Docker and Podman give them. */
    struct group_query gq = {.member = pq.found_name, .user = out};
    each_entry(group, 4, match_group, &gq);
    return gq.ret < 0 ? brig_err_set(err, ENOMEM, "user") : 0;
}

int image_resolve_user(const char *user, char *const *layers, size_t n_layers, struct image_user *out,
                       struct brig_err **err)
{
    int ret;

    memset(out, 0, sizeof(*out));
    if (!user || !*user)
        return 0;
    ret = resolve(user, layers, n_layers, out, err);
    if (ret < 0) {
        free(out->gids);
        memset(out, 0, sizeof(*out));
        return brig_err_wrap(err, ret, "image config: User");
    }
    return 0;
}
