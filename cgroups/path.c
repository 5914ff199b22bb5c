#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "hierarchy.h"
#include "../util/util.h"

static bool is_dot_or_dotdot(const char *s, size_t len)
{
    return (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
}

int brig_cgroup_path_check(const char *path, struct brig_err **err)
{
    const char *p;

    if (!path || path[0] != '/')
        return brig_err_set(err, 0, "cgroup: path `%s` is not absolute", path ? path : "");
    if (path[1] == '\0')
        return brig_err_set(err, 0, "cgroup: refusing to use the root cgroup `/`");
    for (p = path + 1;;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || is_dot_or_dotdot(p, len))
            return brig_err_set(err, 0, "cgroup: path `%s` has an empty, `.` or `..` component", path);
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* Appends the components of `in` to `out` (which has room for them), one "/" before each, dropping empty
 * and "." components. Returns the number appended or -EINVAL on "..". */
static int append_components(char *out, size_t *out_len, const char *in)
{
    int count = 0;

    for (const char *p = in; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return -EINVAL;
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            out[(*out_len)++] = '/';
            memcpy(out + *out_len, p, len);
            *out_len += len;
            count++;
        }
        p += len;
        if (*p == '/')
            p++;
    }
    out[*out_len] = '\0';
    return count;
}

int brig_cgroup_resolve_path(const char *cgroups_path, const char *id, char **out, struct brig_err **err)
{
    return brig_cgroup_resolve_path_in(cgroups_path, id, BRIG_CGROUP_PARENT, out, err);
}

int brig_cgroup_resolve_path_in(const char *cgroups_path, const char *id, const char *parent, char **out,
                                struct brig_err **err)
{
    /* The root cgroup as the parent: its children are "/x", not "//x". */
    size_t parent_len = strcmp(parent, "/") ? strlen(parent) : 0;

    cleanup_free char *buf = NULL;
    size_t len = 0;
    int n;

    if (!cgroups_path || !*cgroups_path) {
        if (!id || !*id || strchr(id, '/') || is_dot_or_dotdot(id, strlen(id)))
            return brig_err_set(err, 0, "cgroup: container id `%s` cannot name a cgroup", id ? id : "");
        if (asprintf(&buf, "%s/%s", BRIG_CGROUP_PARENT, id) < 0)
            return brig_err_set(err, ENOMEM, "cgroup: resolve path for `%s`", id);
        *out = steal_ptr(buf);
        return 0;
    }

    buf = malloc(parent_len + strlen(cgroups_path) + 2);
    if (!buf)
        return brig_err_set(err, ENOMEM, "cgroup: resolve path `%s`", cgroups_path);
    if (cgroups_path[0] != '/') {
        len = parent_len;
        memcpy(buf, parent, len);
    }
    n = append_components(buf, &len, cgroups_path);
    if (n < 0)
        return brig_err_set(err, 0, "linux.cgroupsPath `%s`: `..` is not allowed", cgroups_path);
    if (n == 0)
        return brig_err_set(err, 0, "linux.cgroupsPath `%s`: names no cgroup below the root", cgroups_path);
    *out = steal_ptr(buf);
    return 0;
}

int brig_cgroup_own_parent(char **out, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    int ret = brig_read_file_at(AT_FDCWD, "/proc/self/cgroup", &text, &len, err);

    if (ret < 0)
        return ret;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n'), *slash;

        if (next)
            *next++ = '\0';
        if (strncmp(line, "0::/", 4) != 0) {
            line = next;
            continue;
        }
        /* Its parent: the own cgroup holds processes, so on v2 it cannot also have controllers enabled for a
         * child; the delegated cgroup is the one above (runc's rootless rule; systemd's user@.service too). */
        line += 3;
        slash = strrchr(line, '/');
        if (slash == line)
            slash[1] = '\0'; /* in "/x" or "/": the root */
        else
            *slash = '\0';
        *out = strdup(line);
        return *out ? 0 : brig_err_set(err, ENOMEM, "cgroup: own cgroup");
    }
    return brig_err_msg(err, ENOENT, "cgroup: /proc/self/cgroup has no cgroup2 entry");
}
