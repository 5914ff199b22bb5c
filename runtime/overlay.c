/* An overlay root: which layers, where its upper and work directories live, who mounts it, and what delete
 * removes.
 *
 * Where the mount lives: as root, create mounts the overlay in the host's mount namespace on
 * <root>/<id>/rootfs before it clones the init, as containerd's snapshotter mounts do: the init's new mount
 * namespace starts as a copy that holds it, prestart hooks and `state`'s rootfs see the container's files,
 * and a container without a mount namespace gets it too. Delete unmounts it, also after a create that was
 * killed half-way, because the state (saved before anything is made) names it. Rootless, only the
 * container's own user namespace lets us mount, so the init mounts the same overlay on the same path in its
 * mount namespace, which the kernel drops with the container; the host never holds it. Either way the
 * upper and work directories are plain directories that delete removes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "internal.h"
#include "../util/util.h"

#define MOUNT_POINT "rootfs"
#define OWN_UPPER "upper"
#define OWN_WORK "work"

void brig_root_layers_clear(struct brig_root_layers *layers)
{
    brig_overlay_clear(&layers->ov);
    memset(layers, 0, sizeof(*layers));
}

/* Appends the directory `path` (relative to `base` when not absolute, cwd when base is NULL) as the next
 * lower layer; `what` names it in errors ("--layer[1]"). */
static int add_lower(struct brig_overlay *ov, const char *base, const char *path, const char *what,
                     struct brig_err **err)
{
    cleanup_free char *joined = NULL;
    char *real, **grown;
    struct stat st;

    if (!*path)
        return brig_err_msg(err, EINVAL, "%s: empty path", what);
    if (path[0] != '/' && base && asprintf(&joined, "%s/%s", base, path) < 0)
        return brig_err_set(err, ENOMEM, "%s", what);
    real = realpath(joined ? joined : path, NULL);
    if (!real)
        return brig_err_sys(err, "%s `%s`", what, path);
    if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
        free(real);
        return brig_err_msg(err, ENOTDIR, "%s `%s`: not a directory", what, path);
    }
    grown = realloc(ov->lowers, (ov->n_lowers + 2) * sizeof(char *));
    if (!grown) {
        free(real);
        return brig_err_set(err, ENOMEM, "%s", what);
    }
    ov->lowers = grown;
    ov->lowers[ov->n_lowers++] = real;
    ov->lowers[ov->n_lowers] = NULL;
    return 0;
}

/* run.brig.rootfs.layers: `:`-separated, lowest first, relative to the bundle (as root.path is). */
static int add_annotation_layers(struct brig_overlay *ov, const char *bundle, const char *value,
                                 struct brig_err **err)
{
    cleanup_free char *copy = strdup(value);
    char *p, *next;
    size_t i = 0;

    if (!copy)
        return brig_err_set(err, ENOMEM, BRIG_ROOTFS_LAYERS_ANNOTATION);
    for (p = copy; p; p = next, i++) {
        char what[64];
        int ret;

        next = strchr(p, ':');
        if (next)
            *next++ = '\0';
        snprintf(what, sizeof(what), BRIG_ROOTFS_LAYERS_ANNOTATION "[%zu]", i);
        ret = add_lower(ov, bundle, p, what, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int parse_driver(const char *value, enum brig_overlay_driver *driver, struct brig_err **err)
{
    if (!value || !strcmp(value, "auto"))
        *driver = BRIG_OVERLAY_AUTO;
    else if (!strcmp(value, "kernel"))
        *driver = BRIG_OVERLAY_KERNEL;
    else if (!strcmp(value, "fuse-overlayfs"))
        *driver = BRIG_OVERLAY_FUSE;
    else
        return brig_err_msg(err, EINVAL, BRIG_ROOTFS_OVERLAY_DRIVER_ANNOTATION ": `%s` is not auto, kernel or "
                                         "fuse-overlayfs", value);
    return 0;
}

static int check_options(const char *value, struct brig_err **err)
{
    cleanup_free char *copy = strdup(value);
    char *save = NULL;

    if (!copy)
        return brig_err_set(err, ENOMEM, BRIG_ROOTFS_OVERLAY_OPTIONS_ANNOTATION);
    for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
        int ret = brig_overlay_check_option(opt, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, BRIG_ROOTFS_OVERLAY_OPTIONS_ANNOTATION);
    }
    return 0;
}

/* --upper DIR: DIR itself need not exist (create makes it), its parent must. Its work directory is the
 * sibling `.BASENAME-work`, on the same filesystem as overlay requires, and named so callers know it. */
static int resolve_upper(const char *arg, struct brig_root_layers *l, struct brig_err **err)
{
    cleanup_free char *copy = strdup(arg);
    cleanup_free char *parent_real = NULL;
    char *slash, *base;
    struct stat st;
    size_t len;

    if (!copy)
        return brig_err_set(err, ENOMEM, "--upper");
    len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    if (!len)
        return brig_err_msg(err, EINVAL, "--upper: empty path");
    if (lstat(copy, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return brig_err_msg(err, ENOTDIR, "--upper `%s`: not a directory", arg);
        l->ov.upper = realpath(copy, NULL);
        if (!l->ov.upper)
            return brig_err_sys(err, "--upper `%s`", arg);
    } else if (errno != ENOENT) {
        return brig_err_sys(err, "--upper `%s`", arg);
    } else {
        slash = strrchr(copy, '/');
        base = slash ? slash + 1 : copy;
        if (slash)
            *slash = '\0';
        parent_real = realpath(slash ? (slash == copy ? "/" : copy) : ".", NULL);
        if (!parent_real)
            return brig_err_sys(err, "--upper `%s`: its parent directory", arg);
        if (asprintf(&l->ov.upper, "%s/%s", strcmp(parent_real, "/") ? parent_real : "", base) < 0) {
            l->ov.upper = NULL;
            return brig_err_set(err, ENOMEM, "--upper");
        }
        l->made_upper = true;
    }
    if (!strcmp(l->ov.upper, "/"))
        return brig_err_msg(err, EINVAL, "--upper `%s`: `/` cannot hold a container's changes", arg);
    slash = strrchr(l->ov.upper, '/');
    if (asprintf(&l->ov.work, "%.*s/.%s-work", (int) (slash - l->ov.upper), l->ov.upper, slash + 1) < 0) {
        l->ov.work = NULL;
        return brig_err_set(err, ENOMEM, "--upper");
    }
    return 0;
}

static bool rootless(const struct brig_context *ctx)
{
    return ctx->rootless || geteuid() != 0;
}

int brig_root_layers_plan(const struct brig_context *ctx, const struct brig_spec *spec, const char *bundle,
                          const struct brig_create_opts *opts, struct brig_root_layers *out, struct brig_err **err)
{
    const char *annotated = brig_spec_annotation(spec, BRIG_ROOTFS_LAYERS_ANNOTATION);
    const char *options = brig_spec_annotation(spec, BRIG_ROOTFS_OVERLAY_OPTIONS_ANNOTATION);
    struct brig_root_layers *l = out;
    int ret;

    memset(l, 0, sizeof(*l));
    if (annotated && !*annotated)
        annotated = NULL;
    if (!annotated && !opts->n_layers && !opts->upper) {
        if (opts->keep_upper)
            return brig_err_msg(err, EINVAL, "--keep-upper: the root is not an overlay (no --layer, --upper or "
                                             BRIG_ROOTFS_LAYERS_ANNOTATION ")");
        return 0;
    }
    l->enabled = true;
    l->keep_upper = opts->keep_upper;
    l->in_init = rootless(ctx);
    ret = parse_driver(brig_spec_annotation(spec, BRIG_ROOTFS_OVERLAY_DRIVER_ANNOTATION), &l->ov.driver, err);
    if (ret == 0 && options && *options) {
        ret = check_options(options, err);
        if (ret == 0 && !(l->ov.options = strdup(options)))
            ret = brig_err_set(err, ENOMEM, BRIG_ROOTFS_OVERLAY_OPTIONS_ANNOTATION);
    }
    if (ret == 0 && l->ov.driver == BRIG_OVERLAY_FUSE && !l->in_init)
        ret = brig_err_msg(err, EINVAL, BRIG_ROOTFS_OVERLAY_DRIVER_ANNOTATION
                           ": fuse-overlayfs is for rootless containers (as root, the kernel's overlay is used)");
    if (ret == 0 && l->in_init &&
        (!brig_spec_namespace(spec, BRIG_NS_MOUNT) || !brig_spec_namespace(spec, BRIG_NS_USER)))
        ret = brig_err_msg(err, EINVAL, "overlay root: rootless, it is mounted inside the container, which needs a "
                                        "mount and a user namespace (linux.namespaces)");
    /* The lowers, lowest first, in this one place: root.path, the annotation's, then opts->layers, at whose
     * front image layers are prepended here (create's --image, before this call). */
    if (ret == 0 && spec->root_path && *spec->root_path)
        ret = add_lower(&l->ov, bundle, spec->root_path, "root.path", err);
    if (ret == 0 && annotated)
        ret = add_annotation_layers(&l->ov, bundle, annotated, err);
    for (size_t i = 0; ret == 0 && i < opts->n_layers; i++) {
        char what[32];
        snprintf(what, sizeof(what), "--layer[%zu]", i);
        ret = add_lower(&l->ov, NULL, opts->layers[i], what, err);
    }
    if (ret == 0 && !l->ov.n_lowers)
        ret = brig_err_msg(err, EINVAL, "--upper: no layers (root.path is empty and no --layer is given)");
    if (ret == 0 && spec->root_readonly && (opts->upper || opts->keep_upper))
        ret = brig_err_msg(err, EINVAL, "%s: root.readonly is true, so the overlay root has no upper directory",
                           opts->upper ? "--upper" : "--keep-upper");
    if (ret == 0 && asprintf(&l->ov.target, "%s/%s/" MOUNT_POINT, ctx->root, opts->id) < 0) {
        l->ov.target = NULL;
        ret = brig_err_set(err, ENOMEM, "overlay");
    }
    if (ret == 0 && !spec->root_readonly) {
        if (opts->upper) {
            ret = resolve_upper(opts->upper, l, err);
        } else {
            l->owns_upper = true;
            if (asprintf(&l->ov.upper, "%s/%s/" OWN_UPPER, ctx->root, opts->id) < 0 ||
                asprintf(&l->ov.work, "%s/%s/" OWN_WORK, ctx->root, opts->id) < 0)
                ret = brig_err_set(err, ENOMEM, "overlay");
        }
    }
    if (ret < 0)
        brig_root_layers_clear(l);
    return ret;
}

int brig_root_layers_record(const struct brig_root_layers *l, struct brig_state *state)
{
    if (!l->enabled)
        return 0;
    state->overlay_lowers = calloc(l->ov.n_lowers + 1, sizeof(char *));
    if (!state->overlay_lowers)
        return -ENOMEM;
    for (size_t i = 0; i < l->ov.n_lowers; i++)
        if (!(state->overlay_lowers[i] = strdup(l->ov.lowers[i])))
            return -ENOMEM;
    state->n_overlay_lowers = l->ov.n_lowers;
    if ((l->ov.upper && !(state->overlay_upper = strdup(l->ov.upper))) ||
        (l->ov.work && !(state->overlay_work = strdup(l->ov.work))))
        return -ENOMEM;
    state->overlay_owns_upper = l->owns_upper;
    state->keep_upper = l->keep_upper;
    return 0;
}

/* The upper's root becomes the container's `/`: it gets the top layer's mode and owner, which for a
 * user-namespaced container is its root (rootless, the user already is). */
static int like_top_layer(int fd, const struct brig_overlay *ov, bool rootless_user, struct brig_err **err)
{
    struct stat top, st;

    if (stat(ov->lowers[ov->n_lowers - 1], &top) < 0 || fstat(fd, &st) < 0)
        return brig_err_sys(err, "layer `%s`", ov->lowers[ov->n_lowers - 1]);
    /* Only when they differ: each is an inode update the filesystem may have to journal. */
    if ((st.st_mode & 07777) != (top.st_mode & 07777) && fchmod(fd, top.st_mode & 07777) < 0)
        return brig_err_sys(err, "upper directory `%s`: chmod", ov->upper);
    if ((st.st_uid != top.st_uid || st.st_gid != top.st_gid) && fchown(fd, top.st_uid, top.st_gid) < 0 &&
        !(rootless_user && errno == EPERM))
        return brig_err_sys(err, "upper directory `%s`: chown", ov->upper);
    return 0;
}

static int make_dir(int dirfd, const char *path, mode_t mode, bool exist_ok, int *fd, struct brig_err **err)
{
    if (mkdirat(dirfd, path, mode) < 0 && !(exist_ok && errno == EEXIST))
        return brig_err_sys(err, "mkdir `%s`", path);
    *fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        return brig_err_sys(err, "open `%s`", path);
    return 0;
}

int brig_root_layers_setup(const struct brig_container_dir *dir, struct brig_root_layers *l, struct brig_err **err)
{
    const struct brig_overlay *ov = &l->ov;
    cleanup_close int upper_fd = -1;
    cleanup_close int work_fd = -1;
    cleanup_close int target_fd = -1;
    int ret;

    ret = make_dir(dir->dir_fd, MOUNT_POINT, 0755, false, &target_fd, err);
    if (ret == 0 && ov->upper) {
        if (l->owns_upper)
            ret = make_dir(dir->dir_fd, OWN_UPPER, 0755, false, &upper_fd, err);
        else
            ret = make_dir(AT_FDCWD, ov->upper, 0755, !l->made_upper, &upper_fd, err);
        if (ret == 0 && (l->owns_upper || l->made_upper))
            ret = like_top_layer(upper_fd, ov, l->in_init, err);
        if (ret == 0)
            ret = make_dir(l->owns_upper ? dir->dir_fd : AT_FDCWD, l->owns_upper ? OWN_WORK : ov->work, 0700,
                           !l->owns_upper, &work_fd, err);
    }
    if (ret == 0 && !l->in_init)
        ret = brig_overlay_mount(ov, false, dir->dir_fd, err);
    return ret < 0 ? brig_err_wrap(err, ret, "overlay root") : 0;
}

/* Unmounts whatever is mounted on the mount point (create's overlay, stacked mounts on it too). Rootless,
 * nothing of ours is mounted in this namespace and umount fails with EPERM or EINVAL. */
static void unmount_target(const char *target)
{
    for (int i = 0; i < 16 && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
        ;
}

void brig_root_layers_undo(const struct brig_container_dir *dir, const struct brig_root_layers *l)
{
    cleanup_err struct brig_err *ignored = NULL;

    if (!l->enabled)
        return;
    unmount_target(l->ov.target);
    unlinkat(dir->dir_fd, MOUNT_POINT, AT_REMOVEDIR);
    if (l->owns_upper) {
        brig_remove_tree_at(dir->dir_fd, OWN_WORK, &ignored);
        brig_err_free(&ignored);
        brig_remove_tree_at(dir->dir_fd, OWN_UPPER, &ignored);
    } else if (l->ov.upper) {
        brig_remove_tree_at(AT_FDCWD, l->ov.work, &ignored);
        brig_err_free(&ignored);
        if (l->made_upper)
            brig_remove_tree_at(AT_FDCWD, l->ov.upper, &ignored);
    }
}

/* <root>/.upper/<id>, or <id>-2, -3... when an earlier container of that id was kept too. */
static int keep_own_upper(const struct brig_context *ctx, const struct brig_container_dir *dir, char **kept,
                          struct brig_err **err)
{
    char name[PATH_MAX];

    if (mkdirat(dir->root_fd, BRIG_KEPT_UPPER_DIR, 0700) < 0 && errno != EEXIST)
        return brig_err_sys(err, "keep upper directory: mkdir `%s/%s`", ctx->root, BRIG_KEPT_UPPER_DIR);
    for (int n = 1; n < 1000; n++) {
        if (n == 1)
            snprintf(name, sizeof(name), BRIG_KEPT_UPPER_DIR "/%s", dir->id);
        else
            snprintf(name, sizeof(name), BRIG_KEPT_UPPER_DIR "/%s-%d", dir->id, n);
        if (renameat2(dir->dir_fd, OWN_UPPER, dir->root_fd, name, RENAME_NOREPLACE) == 0) {
            if (kept && asprintf(kept, "%s/%s", ctx->root, name) < 0)
                *kept = NULL;
            return 0;
        }
        if (errno != EEXIST)
            return brig_err_sys(err, "keep upper directory as `%s/%s`", ctx->root, name);
    }
    return brig_err_msg(err, EEXIST, "keep upper directory: `%s/%s` has 999 of `%s` already", ctx->root,
                        BRIG_KEPT_UPPER_DIR, dir->id);
}

int brig_as_container_root(const struct brig_state *state, int (*fn)(void *data, struct brig_err **err), void *data,
                           struct brig_err **err)
{
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *spec_err = NULL;
    struct brig_id_maps maps;

    if (!state->config_path || brig_spec_load(state->config_path, &spec, &spec_err) < 0 ||
        !brig_spec_namespace(spec, BRIG_NS_USER) || !spec->linux_cfg || !spec->linux_cfg->n_uid_mappings)
        return brig_err_msg(err, EPERM, "no user namespace of the container to act in");
    maps = (struct brig_id_maps){spec->linux_cfg->uid_mappings, spec->linux_cfg->n_uid_mappings,
                                 spec->linux_cfg->gid_mappings, spec->linux_cfg->n_gid_mappings};
    return brig_ns_run_as_root(&maps, fn, data, err);
}

struct remove_args {
    int dirfd;
    const char *name;
};

static int remove_fn(void *data, struct brig_err **err)
{
    const struct remove_args *a = data;

    return brig_remove_tree_at(a->dirfd, a->name, err);
}

/* Removes `name` (under dirfd, or absolute); rootless, what the container made as its other ids is
 * removed from inside a user namespace with its id maps. */
static int remove_tree(const struct brig_state *state, int dirfd, const char *name, struct brig_err **err)
{
    struct remove_args args = {.dirfd = dirfd, .name = name};
    int ret = brig_remove_tree_at(dirfd, name, err);

    if ((ret == -EACCES || ret == -EPERM) && geteuid() != 0) {
        cleanup_err struct brig_err *again = NULL;
        if (brig_as_container_root(state, remove_fn, &args, &again) == 0) {
            brig_err_free(err);
            ret = 0;
        }
    }
    return ret;
}

/* An overlay root whose state is lost, taken down by the names create gives it in the state directory. The
 * upper holds the container's changes, which the lost state may have asked to keep: it is kept (as
 * --keep-upper does), never removed on a guess. An --upper elsewhere is not known and stays as it is. */
static int teardown_lost(const struct brig_context *ctx, const struct brig_container_dir *dir, char **kept,
                         struct brig_err **err)
{
    char target[64];
    struct stat st;
    int ret;

    if (fstatat(dir->dir_fd, MOUNT_POINT, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        /* Through the directory's fd: its name may be any, or none, by now. */
        snprintf(target, sizeof(target), "/proc/self/fd/%d/" MOUNT_POINT, dir->dir_fd);
        unmount_target(target);
        if (unlinkat(dir->dir_fd, MOUNT_POINT, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return brig_err_sys(err, "overlay root: remove mount point `%s/%s/%s`", ctx->root, dir->id, MOUNT_POINT);
    }
    if (fstatat(dir->dir_fd, OWN_WORK, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        ret = brig_remove_tree_at(dir->dir_fd, OWN_WORK, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "overlay root");
    }
    if (fstatat(dir->dir_fd, OWN_UPPER, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        ret = keep_own_upper(ctx, dir, kept, err);
        if (ret < 0)
            return brig_err_wrap(err, ret, "overlay root");
    }
    return 0;
}

int brig_root_layers_teardown(const struct brig_context *ctx, const struct brig_container_dir *dir,
                              const struct brig_state *state, bool keep, char **kept, struct brig_err **err)
{
    int ret = 0;

    if (kept)
        *kept = NULL;
    if (state && state->lost)
        return teardown_lost(ctx, dir, kept, err);
    if (!state || !state->n_overlay_lowers)
        return 0;
    if (state->rootfs)
        unmount_target(state->rootfs);
    if (unlinkat(dir->dir_fd, MOUNT_POINT, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return brig_err_sys(err, "overlay root: remove mount point `%s`", state->rootfs ? state->rootfs : "");
    if (state->overlay_owns_upper) {
        ret = remove_tree(state, dir->dir_fd, OWN_WORK, err);
        if (ret == 0 && keep)
            ret = keep_own_upper(ctx, dir, kept, err);
        else if (ret == 0)
            ret = remove_tree(state, dir->dir_fd, OWN_UPPER, err);
    } else if (state->overlay_upper) {
        if (state->overlay_work)
            ret = remove_tree(state, AT_FDCWD, state->overlay_work, err);
        if (ret == 0 && keep && kept && !(*kept = strdup(state->overlay_upper)))
            ret = brig_err_set(err, ENOMEM, "overlay root");
    }
    return ret < 0 ? brig_err_wrap(err, ret, "overlay root") : 0;
}
