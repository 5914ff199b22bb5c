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

#define MAX_KEY_RANGES 8

/* The maps an idmap_key() names ("idmap-0-1000-1.1-100000-65536_0-1000-1.1-100000-65536"). */
static bool parse_idmap_key(const char *name, struct brig_id_mapping *uid, struct brig_id_mapping *gid,
                            struct brig_id_maps *maps)
{
    const char *p = name + strlen("idmap-");

    if (strncmp(name, "idmap-", strlen("idmap-")) != 0)
        return false;
    *maps = (struct brig_id_maps){uid, 0, gid, 0};
    for (int g = 0; g < 2; g++) {
        struct brig_id_mapping *m = g ? gid : uid;
        size_t *n = g ? &maps->n_gid : &maps->n_uid;

        for (;;) {
            unsigned c, h, sz;
            int used = 0;

            if (*n == MAX_KEY_RANGES || sscanf(p, "%u-%u-%u%n", &c, &h, &sz, &used) != 3)
                return false;
            m[(*n)++] = (struct brig_id_mapping){c, h, sz};
            p += used;
            if (*p != '.')
                break;
            p++;
        }
        if (*p != (g ? '\0' : '_'))
            return false;
        p++;
    }
    return true;
}

struct sweep_args {
    const char *store;
};

static int sweep_fn(void *data, struct brig_err **err)
{
    const struct sweep_args *a = data;
    cleanup_close int store_fd = open(a->store, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    (void) err;
    if (store_fd >= 0)
        sweep_store(store_fd, a->store);
    return 0;
}

void brig_image_store_sweep(const char *store)
{
    const char *base = strrchr(store, '/');
    struct brig_id_mapping uid[MAX_KEY_RANGES], gid[MAX_KEY_RANGES];
    struct brig_id_maps maps;
    struct sweep_args args = {.store = store};
    cleanup_err struct brig_err *ignored = NULL;

    /* A store of a user namespace's maps holds files of its ids, which only its root may remove; the maps
     * are in its name (and newuidmap checks them against the user's own ranges). */
    if (geteuid() != 0 && base && parse_idmap_key(base + 1, uid, gid, &maps) && !brig_ns_maps_self_only(&maps) &&
        brig_ns_run_as_root(&maps, sweep_fn, &args, &ignored) == 0)
        return;
    sweep_fn(&args, &ignored);
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

struct unpack_all {
    const struct brig_image *img;
    const char *store;
    bool rootless;
};

/* Every layer the store lacks: in this process, or as root of the user namespace of the maps (layers_in). */
static int unpack_all(void *data, struct brig_err **err)
{
    const struct unpack_all *a = data;
    cleanup_close int store_fd = -1;
    int ret = brig_mkdir_p(a->store, 0700, err);

    if (ret < 0)
        return brig_err_wrap(err, ret, "layer store");
    store_fd = open(a->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store_fd < 0)
        return brig_err_sys(err, "layer store `%s`", a->store);
    sweep_store(store_fd, a->store);
    for (size_t i = 0; ret == 0 && i < a->img->manifest->n_layers; i++)
        ret = store_layer(a->img, i, a->store, store_fd, a->rootless, err);
    return ret;
}

/* "idmap-0-1000-1.1-100000-65536_0-1000-1.1-100000-65536": the uid then the gid ranges, each
 * "container-host-size". No `:` or `,`, which overlay's lowerdir option would split at. */
static int idmap_key(const struct brig_id_maps *maps, char *out, size_t size)
{
    size_t len = (size_t) snprintf(out, size, "idmap-");

    for (int g = 0; g < 2; g++) {
        const struct brig_id_mapping *m = g ? maps->gid : maps->uid;
        size_t n = g ? maps->n_gid : maps->n_uid;

        for (size_t i = 0; i < n && len < size; i++)
            len += (size_t) snprintf(out + len, size - len, "%s%u-%u-%u", i ? "." : g ? "_" : "",
                                     (unsigned) m[i].container_id, (unsigned) m[i].host_id, (unsigned) m[i].size);
    }
    return len < size ? 0 : -ENAMETOOLONG;
}

int brig_image_layers_store(const char *store, bool rootless, const struct brig_id_maps *maps, char **out,
                            struct brig_err **err)
{
    char key[256];

    if (!rootless || !maps || geteuid() == 0 || brig_ns_maps_self_only(maps))
        *out = strdup(store);
    else if (idmap_key(maps, key, sizeof(key)) < 0)
        return brig_err_msg(err, ENAMETOOLONG, "layer store: too many id ranges in linux.uidMappings and "
                                               "linux.gidMappings to name a store after");
    else if (asprintf(out, "%s/%s", store, key) < 0)
        *out = NULL;
    return *out ? 0 : brig_err_set(err, ENOMEM, "layer store");
}

int brig_image_unpack(const struct brig_image *img, const char *store, bool rootless, const struct brig_id_maps *maps,
                      char ***dirs, size_t *n_dirs, struct brig_err **err)
{
    size_t n = img->manifest->n_layers;
    cleanup_free char *where = NULL;
    struct unpack_all all = {.img = img, .rootless = rootless};
    char **out;
    int ret;

    *dirs = NULL;
    *n_dirs = 0;
    ret = brig_image_layers_store(store, rootless, maps, &where, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "image `%s`", img->given);
    all.store = where;
    if (strcmp(where, store) != 0) {
        /* The store itself is the user's; below it, the layers keep the image's owners as the maps give them,
         * which only root of a namespace with those maps can write. */
        ret = brig_mkdir_p(store, 0700, err);
        if (ret < 0)
            brig_err_wrap(err, ret, "layer store");
        if (ret == 0)
            ret = brig_ns_run_as_root(maps, unpack_all, &all, err);
    } else {
        ret = unpack_all(&all, err);
    }
    if (ret < 0)
        return brig_err_wrap(err, ret, "image `%s`", img->given);
    out = calloc(n + 1, sizeof(*out));
    if (!out)
        return brig_err_set(err, ENOMEM, "image `%s`", img->given);
    for (size_t i = 0; i < n; i++) {
        if (asprintf(&out[i], "%s/%s", where, img->config->diff_ids[i] + 7) < 0) {
            out[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return brig_err_set(err, ENOMEM, "image `%s`", img->given);
        }
    }
    *dirs = out;
    *n_dirs = n;
    return 0;
}
