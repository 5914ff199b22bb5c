/* An OCI image layout's documents. The input is up to four parts separated by "\n@@\n": what follows the
 * layout's path in the reference (":REF", "@sha256:...", or nothing), index.json, the manifest and the image
 * config. Each document is parsed on its own, then the target writes them as a layout in a temp dir and opens
 * it as `--image` does (brig_image_open: the ref, the manifest choice, every digest and size, media types,
 * config checks, layer descriptors). So that the digests can match, the target puts the real ones where the
 * input says: @CD@/@CS@ in the manifest (the config's sha256 digest and size), @MD@/@MS@ in index.json and in
 * the reference (the manifest's). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "image/internal.h"
#include "spec/image.h"
#include "util/util.h"

#define SEPARATOR "\n@@\n"

struct part {
    const char *data;
    size_t len;
};

static char layout[64];
static struct image_libs libs;

static void remove_layout(void)
{
    image_remove_tree(layout);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct brig_err *err = NULL;
    const char *tmp = getenv("TMPDIR");
    char dir[64];

    snprintf(layout, sizeof(layout), "%s/brig-fuzz-image-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(layout) || image_libs_load(&libs, &err) < 0) {
        fprintf(stderr, "fuzz_image: set up `%s`: %s\n", layout, err ? err->msg : strerror(errno));
        abort();
    }
    snprintf(dir, sizeof(dir), "%s/blobs", layout);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/blobs/sha256", layout);
    mkdir(dir, 0755);
    atexit(remove_layout);
    return 0;
}

static void digest_of(const char *data, size_t len, char out[IMAGE_DIGEST_LEN + 1])
{
    struct brig_err *err = NULL;
    struct image_sha256 h;

    if (image_sha256_init(&h, &libs, &err) < 0)
        abort();
    image_sha256_update(&h, data, len);
    image_sha256_final(&h, out);
}

/* `in` with every `name` replaced by `value`; malloc'd, its length in *len. */
static char *substitute(const struct part *in, const char *const *names, const char *const *values, size_t n,
                        size_t *len)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);

    if (!f)
        abort();
    for (size_t i = 0; i < in->len;) {
        size_t k = 0;
        for (; k < n; k++)
            if (in->len - i >= strlen(names[k]) && !memcmp(in->data + i, names[k], strlen(names[k])))
                break;
        if (k < n) {
            fputs(values[k], f);
            i += strlen(names[k]);
        } else {
            fputc(in->data[i++], f);
        }
    }
    fclose(f);
    *len = out_len;
    return out;
}

static void write_file(const char *name, const char *data, size_t len)
{
    char path[160];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", layout, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || brig_write_all(fd, data, len) < 0)
        abort();
    close(fd);
}

static void parse_alone(const struct part *index, const struct part *manifest, const struct part *config)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_oci_index *i = NULL;
    struct brig_oci_manifest *m = NULL;
    struct brig_oci_image_config *c = NULL;

    fuzz_check(brig_oci_index_parse(index->data, index->len, "index.json", &i, &err), &err);
    brig_oci_index_free(i);
    fuzz_check(brig_oci_manifest_parse(manifest->data, manifest->len, "manifest", &m, &err), &err);
    brig_oci_manifest_free(m);
    fuzz_check(brig_oci_config_parse(config->data, config->len, "image config", &c, &err), &err);
    brig_oci_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct part parts[4] = {{"", 0}, {"", 0}, {"", 0}, {"", 0}};
    const char *p = (const char *) data, *end = p + size;
    char config_digest[IMAGE_DIGEST_LEN + 1], manifest_digest[IMAGE_DIGEST_LEN + 1];
    char config_size[24], manifest_size[24], blob[160];
    cleanup_free char *manifest = NULL;
    cleanup_free char *index = NULL;
    cleanup_free char *suffix = NULL;
    cleanup_free char *ref = NULL;
    cleanup_err struct brig_err *err = NULL;
    struct brig_image *img = NULL;
    size_t manifest_len = 0, index_len = 0, suffix_len = 0;

    for (size_t n = 0; n < 4; n++) {
        const char *sep = n < 3 ? memmem(p, (size_t) (end - p), SEPARATOR, strlen(SEPARATOR)) : NULL;
        parts[n] = (struct part){p, (size_t) ((sep ? sep : end) - p)};
        if (!sep)
            break;
        p = sep + strlen(SEPARATOR);
    }
    parse_alone(&parts[1], &parts[2], &parts[3]);

    digest_of(parts[3].data, parts[3].len, config_digest);
    snprintf(config_size, sizeof(config_size), "%zu", parts[3].len);
    manifest = substitute(&parts[2], (const char *[]){"@CD@", "@CS@"},
                          (const char *[]){config_digest, config_size}, 2, &manifest_len);
    digest_of(manifest, manifest_len, manifest_digest);
    snprintf(manifest_size, sizeof(manifest_size), "%zu", manifest_len);
    index = substitute(&parts[1], (const char *[]){"@MD@", "@MS@"},
                       (const char *[]){manifest_digest, manifest_size}, 2, &index_len);
    suffix = substitute(&parts[0], (const char *[]){"@MD@"}, (const char *[]){manifest_digest}, 1, &suffix_len);
    /* A reference is a command-line argument: a C string. */
    if (memchr(suffix, '\0', suffix_len))
        return 0;

    write_file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    write_file("index.json", index, index_len);
    snprintf(blob, sizeof(blob), "blobs/sha256/%s", config_digest + 7);
    write_file(blob, parts[3].data, parts[3].len);
    snprintf(blob, sizeof(blob), "blobs/sha256/%s", manifest_digest + 7);
    write_file(blob, manifest, manifest_len);

    if (asprintf(&ref, "%s%s", layout, suffix) < 0)
        abort();
    fuzz_check(brig_image_open(ref, &img, &err), &err);
    brig_image_free(img);

    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", layout, config_digest + 7);
    unlink(blob);
    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", layout, manifest_digest + 7);
    unlink(blob);
    return 0;
}
