/* What an overlay's upper directory changes over its lowers: `brig diff`, and the export of a container's
 * changes. Read from the directories themselves, so it works whether the overlay is mounted or not. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "internal.h"
#include "util/util.h"

#define MAX_DEPTH 1024
#define FUSE_WHITEOUT_PREFIX ".wh."
#define FUSE_OPAQUE_MARK ".wh..wh..opq"

/* Opaque-directory and whiteout xattrs: the kernel's as root and in a user namespace, fuse-overlayfs's. */
static const char *const opaque_xattrs[] = {"trusted.overlay.opaque", "user.overlay.opaque",
                                            "user.fuseoverlayfs.opaque"};
static const char *const whiteout_xattrs[] = {"trusted.overlay.whiteout", "user.overlay.whiteout"};

struct walk {
    brig_change_fn fn;
    void *data;
    char *path; /* the current directory in the container, without its trailing `/` ("" for the root) */
    size_t len, cap;
    struct brig_err **err;
};

static bool xattr_is_y(int fd, const char *attr)
{
    char value[4];

    return fgetxattr(fd, attr, value, sizeof(value)) == 1 && value[0] == 'y';
}

static bool dir_is_opaque(int dir_fd)
{
    struct stat st;

    for (size_t i = 0; i < ARRAY_SIZE(opaque_xattrs); i++)
        if (xattr_is_y(dir_fd, opaque_xattrs[i]))
            return true;
    return fstatat(dir_fd, FUSE_OPAQUE_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A whiteout: a 0:0 character device, or (overlay's form for layers that are themselves on an overlay) an
 * empty regular file with an overlay.whiteout xattr. */
static bool is_whiteout(int dir_fd, const char *name, const struct stat *st)
{
    char proc_path[BRIG_PROC_FD_LEN];
    bool found = false;
    int fd;

    if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
        return true;
    if (!S_ISREG(st->st_mode) || st->st_size != 0)
        return false;
    fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    brig_proc_fd_path(proc_path, fd);
    for (size_t i = 0; i < ARRAY_SIZE(whiteout_xattrs) && !found; i++)
        found = getxattr(proc_path, whiteout_xattrs[i], NULL, 0) >= 0;
    close(fd);
    return found;
}

/* The layer (index into `fds`, top first) whose entry `name` shows through, or -1 when none has it or a
 * whiteout hides it. */
static int lower_lookup(const int *fds, size_t n, const char *name, struct stat *st)
{
    for (size_t i = 0; i < n; i++) {
        if (fstatat(fds[i], name, st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        return is_whiteout(fds[i], name, st) ? -1 : (int) i;
    }
    return -1;
}

/* The lowers' directories `name`, top first, from layer `first` down to the first opaque one or the first
 * layer where something else hides it. */
static size_t child_lowers(const int *fds, size_t n, size_t first, const char *name, int *out)
{
    size_t n_out = 0;

    for (size_t i = first; i < n; i++) {
        struct stat st;
        int fd;

        if (fstatat(fds[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISDIR(st.st_mode))
            break;
        fd = openat(fds[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            break;
        out[n_out++] = fd;
        if (dir_is_opaque(fd))
            break;
    }
    return n_out;
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The names in directory `fd`, sorted. */
static int read_names(int fd, char ***names, size_t *n)
{
    DIR *d = brig_opendir_dup(fd);
    struct dirent *de;
    int ret = 0;

    *names = NULL;
    *n = 0;
    if (!d)
        return -errno;
    rewinddir(d);
    while ((de = readdir(d))) {
        char **grown;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        grown = realloc(*names, (*n + 1) * sizeof(char *));
        if (!grown) {
            ret = -ENOMEM;
            break;
        }
        *names = grown;
        if (!((*names)[*n] = strdup(de->d_name))) {
            ret = -ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (ret == 0 && *n > 1)
        qsort(*names, *n, sizeof(char *), compare_names);
    return ret;
}

static bool has_name(char *const *names, size_t n, const char *name)
{
    return bsearch(&name, names, n, sizeof(char *), compare_names) != NULL;
}

static int push_name(struct walk *w, const char *name, size_t *saved)
{
    size_t need = w->len + 1 + strlen(name) + 1;

    if (need > w->cap) {
        char *grown = realloc(w->path, need * 2);
        if (!grown)
            return brig_err_set(w->err, ENOMEM, "changes");
        w->path = grown;
        w->cap = need * 2;
    }
    *saved = w->len;
    w->len += (size_t) sprintf(w->path + w->len, "/%s", name);
    return 0;
}

static int report(struct walk *w, enum brig_change_kind kind, int dir_fd, const char *name, const struct stat *st,
                  bool whiteout, bool opaque)
{
    struct brig_change c = {.kind = kind, .path = w->path, .dir_fd = dir_fd, .name = name, .st = st,
                            .whiteout = whiteout, .opaque = opaque};
    int r = w->fn(&c, w->data);

    if (r != 0 && !*w->err)
        brig_err_set(w->err, r < 0 ? -r : ECANCELED, "changes: at `%s`", w->path);
    return r;
}

/* One entry of one layer under an opaque directory; sorted by name, then from the top layer down. */
struct layer_entry {
    char *name;
    size_t layer;
};

static int compare_layer_entries(const void *a, const void *b)
{
    const struct layer_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->layer > y->layer) - (x->layer < y->layer);
}

/* Under an opaque directory of the upper: what the lowers had there and the upper has not again. */
static int report_hidden(struct walk *w, const int *lowers, size_t n_lowers, char *const *upper_names,
                         size_t n_upper)
{
    struct layer_entry *all = NULL;
    size_t n_all = 0;
    int ret = 0;

    for (size_t i = 0; i < n_lowers && ret == 0; i++) {
        char **names;
        size_t n;
        struct layer_entry *grown;

        ret = read_names(lowers[i], &names, &n);
        if (ret < 0)
            return brig_err_set(w->err, -ret, "changes: read the layers under `%s`", w->path);
        grown = n ? realloc(all, (n_all + n) * sizeof(*all)) : all;
        if (!grown) {
            free_names(names, n);
            ret = brig_err_set(w->err, ENOMEM, "changes");
            break;
        }
        all = grown;
        for (size_t j = 0; j < n; j++)
            all[n_all++] = (struct layer_entry){.name = names[j], .layer = i};
        free(names);
    }
    if (n_all > 1)
        qsort(all, n_all, sizeof(*all), compare_layer_entries);
    for (size_t i = 0; i < n_all && ret == 0; i++) {
        struct stat st;
        size_t saved = w->len;

        /* The top layer holding a name decides: a whiteout there hides the ones below. */
        if ((i > 0 && !strcmp(all[i].name, all[i - 1].name)) || has_name(upper_names, n_upper, all[i].name) ||
            fstatat(lowers[all[i].layer], all[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            is_whiteout(lowers[all[i].layer], all[i].name, &st))
            continue;
        ret = push_name(w, all[i].name, &saved);
        if (ret == 0)
            ret = report(w, BRIG_CHANGE_DELETED, -1, all[i].name, NULL, false, false);
        w->len = saved;
        w->path[saved] = '\0';
    }
    for (size_t i = 0; i < n_all; i++)
        free(all[i].name);
    free(all);
    return ret;
}

static int walk_dir(struct walk *w, int upper_fd, const int *lowers, size_t n_lowers, bool hidden,
                    unsigned depth);

/* `hidden`: the directory holding `name` is opaque, so `lowers` only say whether `name` is new or replaces
 * an entry; nothing of theirs shows through below it. */
static int walk_entry(struct walk *w, int upper_fd, const int *lowers, size_t n_lowers, bool hidden,
                      const char *name, unsigned depth)
{
    struct stat st, lower_st;
    int found, ret;

    if (fstatat(upper_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return brig_err_sys(w->err, "changes: `%s/%s`", w->path, name);
    }
    if (is_whiteout(upper_fd, name, &st))
        return report(w, BRIG_CHANGE_DELETED, upper_fd, name, &st, true, false);
    found = lower_lookup(lowers, n_lowers, name, &lower_st);
    if (!S_ISDIR(st.st_mode))
        return report(w, found >= 0 ? BRIG_CHANGE_CHANGED : BRIG_CHANGE_ADDED, upper_fd, name, &st, false, false);
    {
        cleanup_close int child = openat(upper_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int *child_fds;
        size_t n_child = 0;
        bool opaque;

        if (child < 0)
            return brig_err_sys(w->err, "changes: open `%s`", w->path);
        child_fds = calloc(n_lowers ? n_lowers : 1, sizeof(int));
        if (!child_fds)
            return brig_err_set(w->err, ENOMEM, "changes");
        opaque = dir_is_opaque(child);
        if (found >= 0 && S_ISDIR(lower_st.st_mode) && !hidden)
            n_child = child_lowers(lowers, n_lowers, (size_t) found, name, child_fds);
        ret = report(w, found >= 0 ? BRIG_CHANGE_CHANGED : BRIG_CHANGE_ADDED, upper_fd, name, &st, false, opaque);
        if (ret == 0 && opaque && n_child) {
            char **names;
            size_t n;
            ret = read_names(child, &names, &n);
            if (ret < 0) {
                ret = brig_err_set(w->err, -ret, "changes: read `%s`", w->path);
            } else {
                ret = report_hidden(w, child_fds, n_child, names, n);
                free_names(names, n);
            }
        }
        if (ret == 0)
            ret = walk_dir(w, child, child_fds, n_child, opaque, depth + 1);
        close_all(child_fds, n_child);
        free(child_fds);
        return ret;
    }
}

static int walk_dir(struct walk *w, int upper_fd, const int *lowers, size_t n_lowers, bool hidden,
                    unsigned depth)
{
    char **names;
    size_t n;
    int ret;

    if (depth > MAX_DEPTH)
        return brig_err_msg(w->err, ELOOP, "changes: `%s`: more than %d directories deep", w->path, MAX_DEPTH);
    ret = read_names(upper_fd, &names, &n);
    if (ret < 0)
        return brig_err_set(w->err, -ret, "changes: read `%s/`", w->path);
    for (size_t i = 0; i < n && ret == 0; i++) {
        const char *name = names[i];
        size_t saved = w->len;
        struct stat st;

        /* The directory's own report said it is opaque (dir_is_opaque). */
        if (!strcmp(name, FUSE_OPAQUE_MARK))
            continue;
        /* fuse-overlayfs's whiteout where it cannot make a device: an empty `.wh.NAME` deletes NAME. */
        if (!strncmp(name, FUSE_WHITEOUT_PREFIX, strlen(FUSE_WHITEOUT_PREFIX)) && name[4] &&
            fstatat(upper_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
            ret = push_name(w, name + 4, &saved);
            if (ret == 0)
                ret = report(w, BRIG_CHANGE_DELETED, upper_fd, name, &st, true, false);
        } else {
            ret = push_name(w, name, &saved);
            if (ret == 0)
                ret = walk_entry(w, upper_fd, lowers, n_lowers, hidden, name, depth);
        }
        w->len = saved;
        w->path[saved] = '\0';
    }
    free_names(names, n);
    return ret;
}

int brig_overlay_changes(const char *upper, char *const *lowers, size_t n_lowers, brig_change_fn fn, void *data,
                         struct brig_err **err)
{
    struct walk w = {.fn = fn, .data = data, .err = err};
    cleanup_close int upper_fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int *fds = calloc(n_lowers ? n_lowers : 1, sizeof(int));
    size_t n_fds = 0;
    int ret = 0;

    if (!fds)
        return brig_err_set(err, ENOMEM, "changes");
    if (upper_fd < 0) {
        free(fds);
        return brig_err_sys(err, "upper directory `%s`", upper);
    }
    /* Top first, as overlay looks them up. */
    for (size_t i = n_lowers; i-- > 0 && ret == 0;) {
        fds[n_fds] = open(lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fds[n_fds] < 0)
            ret = brig_err_sys(err, "layer `%s`", lowers[i]);
        else
            n_fds++;
    }
    w.path = calloc(1, w.cap = 256);
    if (ret == 0 && !w.path)
        ret = brig_err_set(err, ENOMEM, "changes");
    if (ret == 0)
        ret = walk_dir(&w, upper_fd, fds, n_fds, false, 0);
    close_all(fds, n_fds);
    free(fds);
    free(w.path);
    return ret;
}
