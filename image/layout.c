/* An OCI image layout: the reference, index.json, the chosen manifest and its config, each blob verified. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

/* index.json, manifests and configs are a few KiB; anything this big is not one. */
#define IMAGE_DOC_MAX (16u << 20)

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

static bool is_index_type(const char *t)
{
    return t && (!strcmp(t, OCI_INDEX) || !strcmp(t, DOCKER_LIST));
}

static bool is_manifest_type(const char *t)
{
    return t && (!strcmp(t, OCI_MANIFEST) || !strcmp(t, DOCKER_MANIFEST));
}

/* Opens `path` below the layout without leaving it, whatever symlinks it holds. */
static int open_beneath(int dir_fd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long) (flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd;

    do
        fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
    while (fd < 0 && (errno == EAGAIN || errno == EINTR));
    return fd < 0 ? -errno : (int) fd;
}

int image_open_blob(const struct brig_image *img, const char *digest, uint64_t size, bool size_known,
                    const char *what, struct brig_err **err)
{
    char path[128];
    const char *hex;
    struct stat st;
    int fd;
    int ret = image_digest_hex(digest, what, &hex, err);

    if (ret < 0)
        return ret;
    snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
    fd = open_beneath(img->layout_fd, path, O_RDONLY | O_NOCTTY);
    if (fd < 0)
        return brig_err_set(err, -fd, "%s %s: open `%s`", what, digest, path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return brig_err_msg(err, EINVAL, "%s %s: `%s` is not a regular file", what, digest, path);
    }
    if (size_known && (uint64_t) st.st_size != size) {
        close(fd);
        return brig_err_msg(err, EINVAL, "%s %s: size mismatch: the descriptor says %llu bytes, `%s` has %lld", what,
                            digest, (unsigned long long) size, path, (long long) st.st_size);
    }
    return fd;
}

/* Reads `fd` to its end and checks its sha256 against `digest`; leaves the offset at the start again. */
static int verify_fd(const struct brig_image *img, int fd, const char *digest, const char *what,
                     struct brig_err **err)
{
    char buf[64 << 10];
    char got[IMAGE_DIGEST_LEN + 1];
    struct image_sha256 h;
    ssize_t n;
    int ret;

    ret = image_sha256_init(&h, &img->libs, err);
    if (ret < 0)
        return ret;
    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        image_sha256_update(&h, buf, (size_t) n);
    }
    if (n < 0) {
        ret = brig_err_sys(err, "%s %s: read", what, digest);
        image_sha256_clear(&h);
        return ret;
    }
    image_sha256_final(&h, got);
    if (strcmp(got, digest) != 0)
        return brig_err_msg(err, EINVAL, "%s %s: digest mismatch: the blob's is %s", what, digest, got);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return brig_err_sys(err, "%s %s: seek", what, digest);
    return 0;
}

/* A verified document blob, whole. */
static int read_doc(const struct brig_image *img, const char *digest, uint64_t size, bool size_known,
                    const char *what, char **text, size_t *len, struct brig_err **err)
{
    cleanup_close int fd = -1;
    ssize_t n;
    int ret;

    if (size_known && size > IMAGE_DOC_MAX)
        return brig_err_msg(err, EFBIG, "%s %s: %llu bytes is too big for one", what, digest,
                            (unsigned long long) size);
    fd = image_open_blob(img, digest, size, size_known, what, err);
    if (fd < 0)
        return fd;
    ret = verify_fd(img, fd, digest, what, err);
    if (ret < 0)
        return ret;
    n = brig_read_all(fd, text, IMAGE_DOC_MAX);
    if (n < 0)
        return brig_err_set(err, (int) -n, "%s %s: read", what, digest);
    *len = (size_t) n;
    return 0;
}

/* The image-spec names of this machine's architecture (Go's GOARCH). */
static const char *host_architecture(struct utsname *u)
{
    static const char *const names[][2] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"i686", "386"},     {"i386", "386"},
        {"armv7l", "arm"},   {"armv6l", "arm"},    {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
        {"riscv64", "riscv64"}, {"mips64", "mips64"}, {"loongarch64", "loong64"},
    };

    if (uname(u) < 0)
        return "";
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (!strcmp(u->machine, names[i][0]))
            return names[i][1];
    return u->machine;
}

/* In a nested index (a multi-platform image): the manifest for linux on this architecture. */
static int pick_platform(const struct brig_oci_index *index, const char *what, size_t *pick, struct brig_err **err)
{
    struct utsname u;
    const char *arch = host_architecture(&u);

    if (index->n_manifests == 1) {
        *pick = 0;
        return 0;
    }
    for (size_t i = 0; i < index->n_manifests; i++) {
        const struct brig_oci_platform *p = index->manifests[i].platform;
        if (p && p->os && !strcmp(p->os, "linux") && p->architecture && !strcmp(p->architecture, arch) &&
            is_manifest_type(index->manifests[i].media_type)) {
            *pick = i;
            return 0;
        }
    }
    return brig_err_msg(err, ENOENT, "%s: no manifest for linux/%s among its %zu", what, arch, index->n_manifests);
}

/* Lists the refs of index.json for a message: "a, b, c". */
static char *list_refs(const struct brig_oci_index *index)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    size_t n = 0;

    if (!f)
        return NULL;
    for (size_t i = 0; i < index->n_manifests; i++) {
        const char *ref = brig_oci_annotation(&index->manifests[i], BRIG_OCI_REF_NAME);
        if (ref)
            fprintf(f, "%s%s", n++ ? ", " : "", ref);
    }
    if (!n)
        fputs("none", f);
    fclose(f);
    return out;
}

/* The manifest of index.json that `ref` names (NULL: the only one, or `latest`). */
static int pick_ref(const struct brig_oci_index *index, const char *ref, size_t *pick, struct brig_err **err)
{
    const char *want = ref ? ref : "latest";
    cleanup_free char *refs = NULL;

    if (!ref && index->n_manifests == 1) {
        *pick = 0;
        return 0;
    }
    for (size_t i = 0; i < index->n_manifests; i++) {
        const char *name = brig_oci_annotation(&index->manifests[i], BRIG_OCI_REF_NAME);
        if (name && !strcmp(name, want)) {
            *pick = i;
            return 0;
        }
    }
    refs = list_refs(index);
    if (!index->n_manifests)
        return brig_err_msg(err, ENOENT, "index.json lists no manifest");
    if (!ref)
        return brig_err_msg(err, ENOENT,
                            "index.json lists %zu manifests and none is named `latest`: name one as LAYOUT:REF "
                            "(refs: %s)",
                            index->n_manifests, refs ? refs : "?");
    return brig_err_msg(err, ENOENT, "no manifest named `%s` in index.json (refs: %s)", ref, refs ? refs : "?");
}

static void index_freep(struct brig_oci_index **index)
{
    brig_oci_index_free(*index);
}

/* Reads index.json (which no digest covers) and follows it to one manifest descriptor: digest and size. */
static int resolve_manifest(struct brig_image *img, const char *ref, char **digest, uint64_t *size,
                            char **media_type, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    cleanup_free char *nested_text = NULL;
    __attribute__((cleanup(index_freep))) struct brig_oci_index *index = NULL;
    __attribute__((cleanup(index_freep))) struct brig_oci_index *nested = NULL;
    const struct brig_oci_descriptor *d;
    size_t len = 0, pick = 0;
    ssize_t n;
    int fd, ret;

    fd = open_beneath(img->layout_fd, "index.json", O_RDONLY | O_NOCTTY);
    if (fd < 0)
        return brig_err_set(err, -fd, "open `%s/index.json`", img->layout);
    n = brig_read_all(fd, &text, IMAGE_DOC_MAX);
    close(fd);
    if (n < 0)
        return brig_err_set(err, (int) -n, "read `%s/index.json`", img->layout);
    ret = brig_oci_index_parse(text, (size_t) n, "index.json", &index, err);
    if (ret < 0)
        return ret;
    ret = pick_ref(index, ref, &pick, err);
    if (ret < 0)
        return ret;
    d = &index->manifests[pick];
    /* A multi-platform image: index.json points at another index. */
    if (is_index_type(d->media_type)) {
        char what[96];
        snprintf(what, sizeof(what), "image index %.80s", d->digest);
        ret = read_doc(img, d->digest, d->size, true, "image index", &nested_text, &len, err);
        if (ret < 0)
            return ret;
        ret = brig_oci_index_parse(nested_text, len, what, &nested, err);
        if (ret < 0)
            return ret;
        ret = pick_platform(nested, what, &pick, err);
        if (ret < 0)
            return ret;
        d = &nested->manifests[pick];
    }
    if (!is_manifest_type(d->media_type))
        return brig_err_msg(err, ENOTSUP, "manifest %s: media type `%s` is not an image manifest", d->digest,
                            d->media_type);
    *digest = strdup(d->digest);
    *media_type = strdup(d->media_type);
    *size = d->size;
    if (!*digest || !*media_type)
        return brig_err_set(err, ENOMEM, "index.json");
    return 0;
}

/* Splits LAYOUT[:REF] and LAYOUT@sha256:HEX. *layout, *ref and *digest are malloc'd (NULL when absent). */
static int split_ref(const char *given, char **layout, char **ref, char **digest, struct brig_err **err)
{
    const char *at = strrchr(given, '@');
    const char *colon = NULL;

    *layout = *ref = *digest = NULL;
    if (at && !strncmp(at + 1, "sha256:", 7)) {
        *layout = strndup(given, (size_t) (at - given));
        *digest = strdup(at + 1);
        if (!*digest)
            return brig_err_set(err, ENOMEM, "image reference");
    } else if ((colon = strchr(given, ':'))) {
        /* As skopeo's oci: transport: the path ends at the first colon. */
        *layout = strndup(given, (size_t) (colon - given));
        *ref = strdup(colon + 1);
        if (!*ref)
            return brig_err_set(err, ENOMEM, "image reference");
        if (!**ref)
            return brig_err_msg(err, EINVAL, "empty reference after `:` (LAYOUT[:REF])");
    } else {
        *layout = strdup(given);
    }
    if (!*layout)
        return brig_err_set(err, ENOMEM, "image reference");
    if (!**layout)
        return brig_err_msg(err, EINVAL, "no layout directory (LAYOUT[:REF])");
    return 0;
}

static int check_layout(struct brig_image *img, struct brig_err **err)
{
    cleanup_free char *text = NULL;
    int fd = open_beneath(img->layout_fd, "oci-layout", O_RDONLY | O_NOCTTY);
    ssize_t n;

    if (fd == -ENOENT)
        return brig_err_msg(err, ENOENT, "`%s` is not an OCI image layout (no oci-layout file)", img->layout);
    if (fd < 0)
        return brig_err_set(err, -fd, "open `%s/oci-layout`", img->layout);
    n = brig_read_all(fd, &text, 4096);
    close(fd);
    if (n < 0)
        return brig_err_set(err, (int) -n, "read `%s/oci-layout`", img->layout);
    /* {"imageLayoutVersion": "1.0.0"}: a version check needs no JSON parser, a 2.x layout would say "2. */
    if (!strstr(text, "\"imageLayoutVersion\""))
        return brig_err_msg(err, EINVAL, "`%s/oci-layout` has no imageLayoutVersion", img->layout);
    return 0;
}

static int load_config(struct brig_image *img, struct brig_err **err)
{
    const struct brig_oci_descriptor *c = &img->manifest->config;
    cleanup_free char *text = NULL;
    char what[96];
    size_t len = 0;
    int ret;

    if (strcmp(c->media_type, OCI_CONFIG) != 0 && strcmp(c->media_type, DOCKER_CONFIG) != 0)
        return brig_err_msg(err, ENOTSUP, "manifest %s: config media type `%s` is not a container image's",
                            img->manifest_digest, c->media_type);
    ret = read_doc(img, c->digest, c->size, true, "image config", &text, &len, err);
    if (ret < 0)
        return ret;
    snprintf(what, sizeof(what), "image config %.80s", c->digest);
    ret = brig_oci_config_parse(text, len, what, &img->config, err);
    if (ret < 0)
        return ret;
    if (img->config->os && strcmp(img->config->os, "linux") != 0)
        return brig_err_msg(err, ENOTSUP, "%s: os `%s` is not linux", what, img->config->os);
    if (img->config->n_diff_ids != img->manifest->n_layers)
        return brig_err_msg(err, EINVAL, "%s: rootfs.diff_ids lists %zu layers, manifest %s has %zu", what,
                            img->config->n_diff_ids, img->manifest_digest, img->manifest->n_layers);
    return 0;
}

static int check_layers(const struct brig_image *img, struct brig_err **err)
{
    const struct brig_oci_manifest *m = img->manifest;
    enum image_compression compression;
    const char *hex;
    char what[64];

    for (size_t i = 0; i < m->n_layers; i++) {
        snprintf(what, sizeof(what), "manifest %.20s...: layers[%zu]", img->manifest_digest, i);
        int ret = image_digest_hex(m->layers[i].digest, what, &hex, err);
        if (ret == 0)
            ret = image_digest_hex(img->config->diff_ids[i], "image config: rootfs.diff_ids", &hex, err);
        if (ret < 0)
            return ret;
        if (image_layer_compression(m->layers[i].media_type, &compression) < 0)
            return brig_err_msg(err, ENOTSUP, "%s: media type `%s` is not a tar layer brig can read", what,
                                m->layers[i].media_type);
    }
    return 0;
}

static int open_image(struct brig_image *img, const char *given, struct brig_err **err)
{
    cleanup_free char *layout = NULL;
    cleanup_free char *ref = NULL;
    cleanup_free char *digest = NULL;
    cleanup_free char *media_type = NULL;
    cleanup_free char *text = NULL;
    const char *hex = NULL;
    uint64_t size = 0;
    size_t len = 0;
    char what[96];
    int ret;

    ret = split_ref(given, &layout, &ref, &digest, err);
    if (ret < 0)
        return ret;
    img->layout = realpath(layout, NULL);
    if (!img->layout)
        return brig_err_sys(err, "layout `%s`", layout);
    img->layout_fd = open(img->layout, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (img->layout_fd < 0)
        return brig_err_sys(err, "layout `%s`", img->layout);
    ret = check_layout(img, err);
    if (ret < 0)
        return ret;
    ret = image_libs_load(&img->libs, err);
    if (ret < 0)
        return ret;
    if (!digest) {
        ret = resolve_manifest(img, ref, &digest, &size, &media_type, err);
        if (ret < 0 || !digest)
            return ret < 0 ? ret : brig_err_set(err, ENOMEM, "index.json");
    }
    ret = image_digest_hex(digest, "manifest", &hex, err);
    if (ret < 0)
        return ret;
    snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", digest);
    /* A pinned digest needs no index.json entry: its size is the blob's and its type what it says. */
    ret = read_doc(img, digest, size, media_type != NULL, "manifest", &text, &len, err);
    if (ret < 0)
        return ret;
    snprintf(what, sizeof(what), "manifest %.80s", digest);
    ret = brig_oci_manifest_parse(text, len, what, &img->manifest, err);
    if (ret < 0)
        return ret;
    if (img->manifest->media_type && !is_manifest_type(img->manifest->media_type))
        return brig_err_msg(err, ENOTSUP, "%s: media type `%s` is not an image manifest", what,
                            img->manifest->media_type);
    if (img->manifest->media_type && media_type && strcmp(img->manifest->media_type, media_type) != 0)
        return brig_err_msg(err, EINVAL, "%s: media type `%s`, but index.json says `%s`", what,
                            img->manifest->media_type, media_type);
    ret = load_config(img, err);
    if (ret == 0)
        ret = check_layers(img, err);
    if (ret < 0)
        return ret;
    if (asprintf(&img->pinned, "%s@%s", img->layout, img->manifest_digest) < 0) {
        img->pinned = NULL;
        return brig_err_set(err, ENOMEM, "image");
    }
    return 0;
}

int brig_image_open(const char *ref, struct brig_image **out, struct brig_err **err)
{
    struct brig_image *img = calloc(1, sizeof(*img));
    int ret;

    *out = NULL;
    if (!img)
        return brig_err_set(err, ENOMEM, "image `%s`", ref);
    img->layout_fd = -1;
    img->given = strdup(ref);
    ret = img->given ? open_image(img, ref, err) : brig_err_set(err, ENOMEM, "image");
    if (ret < 0) {
        brig_image_free(img);
        return brig_err_wrap(err, ret, "image `%s`", ref);
    }
    *out = img;
    return 0;
}

void brig_image_free(struct brig_image *img)
{
    if (!img)
        return;
    if (img->layout_fd >= 0)
        close(img->layout_fd);
    brig_oci_manifest_free(img->manifest);
    brig_oci_config_free(img->config);
    free(img->given);
    free(img->layout);
    free(img->pinned);
    free(img);
}

const char *brig_image_pinned(const struct brig_image *image)
{
    return image->pinned;
}
