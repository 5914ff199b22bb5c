/* A layer's tar entries: names (`..`, absolute, `./a//b`), types, hard links, symlinks, whiteouts and opaque
 * markers, owners, modes, xattrs, sparse and truncated data, repeated names. The first byte chooses the mode
 * (bit 0: rootless), the rest is the uncompressed tar blob, unpacked as brig_image_unpack does into a fresh
 * directory of a temp dir; its digest is filled in so that a good tar unpacks to the end, and so are the
 * checksums of the headers (a mutated header would almost never get past libarchive otherwise). Beside the layer's
 * directory lies an empty `outside`: anything that appears there, or next to it, left the layer, and stops the
 * fuzzer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "image/internal.h"
#include "util/util.h"

static char base[64];
static int base_fd = -1;
static struct image_libs libs;

static void remove_base(void)
{
    image_remove_tree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct brig_err *err = NULL;
    const char *tmp = getenv("TMPDIR");

    snprintf(base, sizeof(base), "%s/brig-fuzz-layer-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(base) || image_libs_load(&libs, &err) < 0) {
        fprintf(stderr, "fuzz_layer: set up `%s`: %s\n", base, err ? err->msg : strerror(errno));
        abort();
    }
    base_fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (base_fd < 0 || mkdirat(base_fd, "outside", 0755) < 0)
        abort();
    atexit(remove_base);
    return 0;
}

/* Only `layer` (gone again by now) and an empty `outside` may be there. */
static void check_nothing_escaped(void)
{
    const char *const dirs[] = {base, "outside"};

    for (size_t i = 0; i < 2; i++) {
        int fd = i == 0 ? open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                        : openat(base_fd, dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *e;

        if (!d) {
            fprintf(stderr, "fuzz_layer: `%s` is gone or replaced\n", dirs[i]);
            abort();
        }
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (i == 0 && !strcmp(e->d_name, "outside")))
                continue;
            fprintf(stderr, "fuzz_layer: `%s` appeared in `%s`, outside the layer\n", e->d_name, dirs[i]);
            abort();
        }
        closedir(d);
    }
}

/* A tar number field: octal digits (spaces and NULs around them), or base-256 when the high bit is set. */
static uint64_t tar_number(const unsigned char *field, size_t len)
{
    uint64_t value = 0;
    size_t i = 0;

    if (field[0] & 0x80) {
        for (i = 1; i < len && value >> 55 == 0; i++)
            value = value << 8 | field[i];
        return value;
    }
    while (i < len && field[i] == ' ')
        i++;
    for (; i < len && field[i] >= '0' && field[i] <= '7' && value >> 60 == 0; i++)
        value = value << 3 | (uint64_t) (field[i] - '0');
    return value;
}

/* Walks the headers as a tar reader does (each followed by its size's worth of 512-byte blocks) and gives
 * each the checksum it should have, until the end-of-archive block or the data runs out. */
static void fix_checksums(unsigned char *tar, size_t len)
{
    size_t off = 0;

    while (len - off >= 512) {
        unsigned char *h = tar + off;
        unsigned sum = 0;
        uint64_t data;

        if (h[0] == 0)
            break;
        memset(h + 148, ' ', 8);
        for (size_t i = 0; i < 512; i++)
            sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum & 0777777);
        h[155] = ' ';
        data = tar_number(h + 124, 12);
        if (data > len)
            break;
        off += 512 + (size_t) ((data + 511) / 512 * 512);
        if (off > len)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free unsigned char *tar = NULL;
    cleanup_err struct brig_err *err = NULL;
    cleanup_close int blob = -1;
    cleanup_close int root = -1;
    char digest[IMAGE_DIGEST_LEN + 1], layer[128];
    struct image_unpack_opts opts = {.layer = digest};
    struct image_sha256 h;

    if (size < 1)
        return 0;
    opts.rootless = data[0] & 1;
    size--;
    tar = malloc(size ? size : 1);
    if (!tar)
        abort();
    memcpy(tar, data + 1, size);
    fix_checksums(tar, size);
    if (image_sha256_init(&h, &libs, &err) < 0)
        abort();
    image_sha256_update(&h, tar, size);
    image_sha256_final(&h, digest);
    blob = memfd_create("layer", MFD_CLOEXEC);
    if (blob < 0 || brig_write_all(blob, tar, size) < 0 || lseek(blob, 0, SEEK_SET) < 0)
        abort();
    if (mkdirat(base_fd, "layer", 0700) < 0)
        abort();
    root = openat(base_fd, "layer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        abort();
    fuzz_check(image_unpack_layer(&libs, blob, IMAGE_COMPRESSION_NONE, root, digest, &opts, &err), &err);
    snprintf(layer, sizeof(layer), "%s/layer", base);
    if (image_remove_tree(layer) < 0) {
        fprintf(stderr, "fuzz_layer: remove `%s`: %s\n", layer, strerror(errno));
        abort();
    }
    check_nothing_escaped();
    return 0;
}
