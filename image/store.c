/* The layer store: <store>/<diff_id hex> holds each unpacked layer, whole or not at all. A layer is unpacked
 * into <store>/.tmp-<hex> under an flock() of <store>/.locks/<hex> and renamed into place, so a second create
 * wanting the same layer waits and then finds it. The temporary directory's owner is whoever holds that lock:
 * one found with the lock free was left by an unpack that died (SIGKILL leaves no chance to clean up), and is
 * removed by the next unpack into the store, or by `delete --force` (runtime/store.c notes which store a
 * create was unpacking into). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define LOCKS_DIR ".locks"
#define TMP_PREFIX ".tmp-"

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int image_remove_tree(const char *path)
{
    /* FTW_PHYS: symlinks are removed, never followed; nftw reopens directories by path beyond 32 fds. */
    return nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -1 : 0;
}

int brig_image_store_path(const char *dir, bool rootless, char **path, struct brig_err **err)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    cleanup_free char *joined = NULL;
    char cwd[4096];

    if (!dir && rootless) {
        if (xdg && xdg[0] == '/') {
            if (asprintf(&joined, "%s/brig/layers", xdg) < 0)
                joined = NULL;
        } else {
            if (!home || home[0] != '/') {
                struct passwd *pw = getpwuid(geteuid());
                home = pw ? pw->pw_dir : NULL;
            }
            if (!home || home[0] != '/')
                return brig_err_msg(err, ENOENT,
                                    "layer store: rootless, and neither $XDG_DATA_HOME nor $HOME says where (--store)");
            if (asprintf(&joined, "%s/.local/share/brig/layers", home) < 0)
                joined = NULL;
        }
        dir = joined;
        if (!dir)
            return brig_err_set(err, ENOMEM, "layer store");
    } else if (!dir) {
        dir = BRIG_IMAGE_STORE;
    }
    if (dir[0] == '/') {
        *path = strdup(dir);
    } else {
        if (!getcwd(cwd, sizeof(cwd)))
            return brig_err_sys(err, "layer store `%s`", dir);
        if (asprintf(path, "%s/%s", cwd, dir) < 0)
            *path = NULL;
    }
    if (!*path)
        return brig_err_set(err, ENOMEM, "layer store");
    return 0;
}

static bool have_layer(int store_fd, const char *hex)
{
    struct stat st;

    return fstatat(store_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Takes the lock of layer `hex`, <store>/.locks/<hex>. Its holder unlinks it when done (the store keeps no
 * lock files), so a lock taken on a file no longer linked under that name is no lock: open and take it again.
 * `wait` false: -EWOULDBLOCK while someone holds it. */
static int take_lock(int store_fd, const char *hex, bool wait, int *lock_fd)
{
    char path[sizeof(LOCKS_DIR) + 72];
    struct stat held, named;

    if (mkdirat(store_fd, LOCKS_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    snprintf(path, sizeof(path), LOCKS_DIR "/%s", hex);
    for (;;) {
        cleanup_close int fd = openat(store_fd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        int ret;

        if (fd < 0)
            return -errno;
        while ((ret = flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
            ;
        if (ret < 0)
            return -errno;
        if (fstat(fd, &held) == 0 && fstatat(store_fd, path, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
            held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
            *lock_fd = steal_fd(fd);
            return 0;
        }
    }
}

/* Unlinked before it is released: whoever waits on this file then finds it gone and locks a fresh one. */
static void drop_lock(int store_fd, const char *hex, int lock_fd)
{
    char path[sizeof(LOCKS_DIR) + 72];

    snprintf(path, sizeof(path), LOCKS_DIR "/%s", hex);
    unlinkat(store_fd, path, 0);
    close(lock_fd);
}

static bool is_hex64(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* What unpacks killed midway left (their temporary directories and lock files, a lock of each nobody holds):
 * removed, under that lock, so that no live unpack loses its own. */
static void sweep_store(int store_fd, const char *store)
{
    const char *kinds[] = {".", LOCKS_DIR};

    for (size_t i = 0; i < 2; i++) {
        int fd = openat(store_fd, kinds[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        struct dirent *de;

        if (!d) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        while ((de = readdir(d))) {
            const char *hex = i == 0 ? de->d_name + strlen(TMP_PREFIX) : de->d_name;
            cleanup_free char *tmp_path = NULL;
            int lock_fd = -1;

            if ((i == 0 && strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) || !is_hex64(hex) ||
                take_lock(store_fd, hex, false, &lock_fd) < 0)
                continue;
            if (asprintf(&tmp_path, "%s/" TMP_PREFIX "%s", store, hex) < 0)
                tmp_path = NULL;
            if (tmp_path)
                image_remove_tree(tmp_path);
            drop_lock(store_fd, hex, lock_fd);
        }
        closedir(d);
    }
}

void brig_image_store_sweep(const char *store)
{
    cleanup_close int store_fd = open(store, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (store_fd >= 0)
        sweep_store(store_fd, store);
}

/* Under the layer's lock: <store>/.tmp-<hex> can only be what an unpack that died left. */
static int unpack_locked(const struct brig_image *img, size_t i, const char *store, int store_fd, bool rootless,
                         struct brig_err **err)
{
    const struct brig_oci_descriptor *d = &img->manifest->layers[i];
    const char *diff_id = img->config->diff_ids[i];
    const char *hex = diff_id + 7; /* checked when the image was opened */
    struct image_unpack_opts opts = {.rootless = rootless, .layer = d->digest};
    enum image_compression compression = IMAGE_COMPRESSION_NONE;
    char tmp[sizeof(TMP_PREFIX) + 72];
    cleanup_free char *tmp_path = NULL;
    cleanup_close int blob_fd = -1;
    cleanup_close int root_fd = -1;
    int ret = 0;

    snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", hex);
    if (asprintf(&tmp_path, "%s/%s", store, tmp) < 0)
        return brig_err_set(err, ENOMEM, "layer store");
    if (image_remove_tree(tmp_path) < 0 && errno != ENOENT)
        return brig_err_sys(err, "layer store: remove `%s` left by an earlier unpack", tmp_path);

    image_layer_compression(d->media_type, &compression);
    blob_fd = image_open_blob(img, d->digest, d->size, true, "layer", err);
    if (blob_fd < 0)
        return blob_fd;
    if (mkdirat(store_fd, tmp, 0700) < 0)
        return brig_err_sys(err, "layer store: make `%s`", tmp_path);
    root_fd = openat(store_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    /* A layer without a "./" entry gets the usual root directory. */
    if (root_fd < 0 || fchmod(root_fd, 0755) < 0)
        ret = brig_err_sys(err, "layer store: open `%s`", tmp_path);
    if (ret == 0)
        ret = image_unpack_layer(&img->libs, blob_fd, compression, root_fd, diff_id, &opts, err);
    if (ret == 0 && renameat(store_fd, tmp, store_fd, hex) < 0)
        ret = brig_err_sys(err, "layer store: rename `%s` into place", tmp_path);
    if (ret < 0)
        image_remove_tree(tmp_path);
    return ret;
}

static int store_layer(const struct brig_image *img, size_t i, const char *store, int store_fd, bool rootless,
                       struct brig_err **err)
{
    const char *hex = img->config->diff_ids[i] + 7;
    int lock_fd = -1;
    int ret;

    if (have_layer(store_fd, hex))
        return 0;
    ret = take_lock(store_fd, hex, true, &lock_fd);
    if (ret < 0)
        return brig_err_set(err, -ret, "layer store `%s`: lock `" LOCKS_DIR "/%s`", store, hex);
    /* Whoever held the lock before may have unpacked it. */
    if (!have_layer(store_fd, hex))
        ret = unpack_locked(img, i, store, store_fd, rootless, err);
    drop_lock(store_fd, hex, lock_fd);
    return ret;
}

int brig_image_unpack(const struct brig_image *img, const char *store, bool rootless, char ***dirs,
                      size_t *n_dirs, struct brig_err **err)
{
    size_t n = img->manifest->n_layers;
    cleanup_close int store_fd = -1;
    char **out;
    int ret = brig_mkdir_p(store, 0700, err);

    *dirs = NULL;
    *n_dirs = 0;
    if (ret < 0)
        return brig_err_wrap(err, ret, "image `%s`: layer store", img->given);
    store_fd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store_fd < 0)
        return brig_err_sys(err, "image `%s`: layer store `%s`", img->given, store);
    sweep_store(store_fd, store);
    out = calloc(n + 1, sizeof(*out));
    if (!out)
        return brig_err_set(err, ENOMEM, "image `%s`", img->given);
    for (size_t i = 0; i < n; i++) {
        ret = store_layer(img, i, store, store_fd, rootless, err);
        if (ret == 0 && asprintf(&out[i], "%s/%s", store, img->config->diff_ids[i] + 7) < 0)
            ret = brig_err_set(err, ENOMEM, "image");
        if (ret < 0) {
            out[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return brig_err_wrap(err, ret, "image `%s`", img->given);
        }
    }
    *dirs = out;
    *n_dirs = n;
    return 0;
}
