/* Applying linux.resources: finding each controller's hierarchy, writing its files with errors that name
 * the resource, and the order in which the controllers are applied. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "controllers.h"
#include "../util/util.h"

const struct brig_cgroup_hierarchy *brig_cg_find_v1(const struct brig_cgroup_set *set, const char *controller)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *base = strrchr(set->h[i].root, '/');
        if (!set->h[i].unified && base && brig_cgroup_list_has(base + 1, controller, ","))
            return &set->h[i];
    }
    return NULL;
}

const struct brig_cgroup_hierarchy *brig_cg_unified(const struct brig_cgroup_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->h[i].unified)
            return &set->h[i];
    return NULL;
}

bool brig_cg_is_v2(const struct brig_cgroup_set *set)
{
    return set->n == 1 && set->h[0].unified;
}

int brig_cg_read(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file, char **out)
{
    char path[4096];
    cleanup_close int fd = -1;
    ssize_t n;

    *out = NULL;
    if ((size_t) snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", file) >= sizeof(path))
        return -ENAMETOOLONG;
    fd = openat(h->fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = brig_read_all(fd, out, 16 << 20);
    if (n < 0) {
        free(*out);
        *out = NULL;
        return (int) n;
    }
    return (int) n;
}

int brig_cg_read_i64(const struct brig_cgroup_hierarchy *h, const char *rel, const char *file, int64_t *out)
{
    cleanup_free char *text = NULL;
    int ret = brig_cg_read(h, rel, file, &text);

    if (ret < 0 || !text)
        return ret < 0 ? ret : -EIO;
    text[strcspn(text, "\n")] = '\0';
    if (strcmp(text, "max") == 0) {
        *out = -1;
        return 0;
    }
    return brig_parse_i64(text, out);
}

/* Is `controller` one of those the cgroup at `rel` may use (its cgroup.controllers)? */
static bool v2_offers(const struct brig_cgroup_hierarchy *h, const char *rel, const char *controller)
{
    cleanup_free char *list = NULL;

    return brig_cg_read(h, rel, "cgroup.controllers", &list) >= 0 &&
           brig_cgroup_list_has(list, controller, " \n");
}

static int enable_in(const struct brig_cgroup_hierarchy *h, const char *dir, const char *controller, bool strict,
                     struct brig_err **err)
{
    cleanup_free char *offered = NULL, *enabled = NULL;
    char file[4096], word[64];
    int ret;

    snprintf(file, sizeof(file), "%s%scgroup.subtree_control", dir, *dir ? "/" : "");
    ret = brig_cg_read(h, dir, "cgroup.controllers", &offered);
    if (ret < 0)
        return strict ? brig_err_set(err, -ret, "cgroup: read `%s/%s%scgroup.controllers`", h->root, dir,
                                     *dir ? "/" : "")
                      : 0;
    if (brig_cg_read(h, dir, "cgroup.subtree_control", &enabled) < 0)
        enabled = NULL;
    for (char *p = offered; p && *p;) {
        size_t len = strcspn(p, " \n");
        if (len > 0 && len < sizeof(word) - 1) {
            memcpy(word + 1, p, len);
            word[len + 1] = '\0';
            if ((!controller || strcmp(word + 1, controller) == 0) &&
                !(enabled && brig_cgroup_list_has(enabled, word + 1, " \n"))) {
                cleanup_err struct brig_err *werr = NULL;
                word[0] = '+';
                ret = brig_cgroup_write(h, file, word, &werr);
                if (ret < 0 && strict) {
                    *err = steal_ptr(werr);
                    return ret;
                }
            }
        }
        p += len;
        p += strspn(p, " \n");
    }
    return 0;
}

int brig_cg_v2_enable(const struct brig_cgroup_hierarchy *h, const char *rel, const char *controller,
                      struct brig_err **err)
{
    char dir[4096];
    bool strict = controller != NULL;
    int ret;

    if (strlen(rel) >= sizeof(dir))
        return brig_err_set(err, ENAMETOOLONG, "cgroup: path `%s/%s`", h->root, rel);
    /* Root first: a controller reaches a cgroup only when every ancestor passes it down. */
    ret = enable_in(h, "", controller, strict, err);
    for (size_t end = 0; ret == 0 && rel[end]; end++) {
        if (rel[end] != '/')
            continue;
        memcpy(dir, rel, end);
        dir[end] = '\0';
        ret = enable_in(h, dir, controller, strict, err);
    }
    return ret;
}

const struct brig_cgroup_hierarchy *brig_cg_find(const struct brig_cg_apply *a, const char *controller,
                                                 struct brig_err **err)
{
    const struct brig_cgroup_hierarchy *h = brig_cg_find_v1(a->set, controller);

    if (h)
        return h;
    h = brig_cg_unified(a->set);
    if (!h || !v2_offers(h, "", controller))
        return NULL;
    /* Best effort here; the write of the controller's own file reports what went wrong. */
    if (brig_cg_v2_enable(h, a->rel, controller, err) < 0)
        brig_err_free(err);
    return h;
}

bool brig_cg_has_file(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file)
{
    char path[4096];

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", a->rel, file) >= sizeof(path))
        return false;
    return faccessat(h->fd, path, F_OK, 0) == 0;
}

int brig_cg_unsupported(struct brig_err **err, const char *what, const char *cause)
{
    return brig_err_msg(err, ENOTSUP, "%s: not supported by this host (%s)", what, cause);
}

int brig_cg_write(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file,
                  const char *value, const char *what, struct brig_err **err)
{
    char path[4096];
    cleanup_close int fd = -1;
    int ret;

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", a->rel, file) >= sizeof(path))
        return brig_err_set(err, ENAMETOOLONG, "%s: path `%s/%s/%s`", what, h->root, a->rel, file);
    fd = openat(h->fd, path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            char cause[256];
            snprintf(cause, sizeof(cause), "no %s", file);
            return brig_cg_unsupported(err, what, cause);
        }
        return brig_err_sys(err, "%s: open `%s/%s`", what, h->root, path);
    }
    ret = brig_write_all(fd, value, strlen(value));
    if (ret < 0)
        return brig_err_set(err, -ret, "%s: write `%s` to `%s/%s`", what, value, h->root, path);
    return 0;
}

int brig_cg_write_i64(const struct brig_cg_apply *a, const struct brig_cgroup_hierarchy *h, const char *file,
                      int64_t value, const char *what, struct brig_err **err)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long) value);
    return brig_cg_write(a, h, file, buf, what, err);
}

void brig_cg_warn(const struct brig_cg_apply *a, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!a->cfg || !a->cfg->log.warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->cfg->log.warn(a->cfg->log.data, msg);
}

void brig_cg_limit_text(char *buf, size_t size, int64_t value)
{
    if (value < 0)
        snprintf(buf, size, "max");
    else
        snprintf(buf, size, "%lld", (long long) value);
}

/* Every controller in turn, all before the init moves in (an RT task cannot join a cpu cgroup without
 * rt_runtime, a process must not run unlimited for a moment). Devices come last. */
int brig_cgroup_apply_set(struct brig_cgroup_set *set, const char *rel, const struct brig_resources *r,
                          const struct brig_cgroup_config *cfg, bool update, struct brig_err **err)
{
    static int (*const steps[])(const struct brig_cg_apply *, const struct brig_resources *, struct brig_err **) = {
        brig_cg_apply_memory, brig_cg_apply_cpuset, brig_cg_apply_cpu,     brig_cg_apply_pids,
        brig_cg_apply_blkio,  brig_cg_apply_hugetlb, brig_cg_apply_net,    brig_cg_apply_rdma,
        brig_cg_apply_unified, brig_cg_apply_devices,
    };
    struct brig_cg_apply a = {.set = set, .rel = rel, .update = update, .cfg = cfg};
    static const struct brig_resources none;
    int ret;

    if (!r)
        r = &none;
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        ret = steps[i](&a, r, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
