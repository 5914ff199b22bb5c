/* Shared by the files of image/: the libraries it loads, digests, blobs and the layer unpacker. */
#ifndef BRIG_IMAGE_INTERNAL_H
#define BRIG_IMAGE_INTERNAL_H

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "../spec/image.h"

/* Every libarchive and libcrypto function image/ calls. They are loaded with dlopen() when an image is first
 * used: linked normally, the two and their dozen dependencies (libxml2, ICU, libstdc++...) would cost every
 * brig command milliseconds of loading and relocation, and most never touch an image. */
#define IMAGE_ARCHIVE_FUNCS(X)                                                                                \
    X(archive_read_new)                                                                                        \
    X(archive_read_free)                                                                                       \
    X(archive_read_support_format_tar)                                                                         \
    X(archive_read_support_format_raw)                                                                         \
    X(archive_read_support_filter_gzip)                                                                        \
    X(archive_read_support_filter_zstd)                                                                        \
    X(archive_read_open)                                                                                       \
    X(archive_read_open_fd)                                                                                    \
    X(archive_read_next_header)                                                                                \
    X(archive_read_data)                                                                                       \
    X(archive_read_data_block)                                                                                 \
    X(archive_error_string)                                                                                    \
    X(archive_errno)                                                                                           \
    X(archive_set_error)                                                                                       \
    X(archive_entry_pathname)                                                                                  \
    X(archive_entry_pathname_utf8)                                                                             \
    X(archive_entry_hardlink)                                                                                  \
    X(archive_entry_hardlink_utf8)                                                                             \
    X(archive_entry_symlink)                                                                                   \
    X(archive_entry_symlink_utf8)                                                                              \
    X(archive_entry_filetype)                                                                                  \
    X(archive_entry_mode)                                                                                      \
    X(archive_entry_uid)                                                                                       \
    X(archive_entry_gid)                                                                                       \
    X(archive_entry_size)                                                                                      \
    X(archive_entry_rdevmajor)                                                                                 \
    X(archive_entry_rdevminor)                                                                                 \
    X(archive_entry_mtime)                                                                                     \
    X(archive_entry_mtime_nsec)                                                                                \
    X(archive_entry_atime)                                                                                     \
    X(archive_entry_atime_nsec)                                                                                \
    X(archive_entry_atime_is_set)                                                                              \
    X(archive_entry_xattr_reset)                                                                               \
    X(archive_entry_xattr_next)

#define IMAGE_CRYPTO_FUNCS(X)                                                                                 \
    X(EVP_MD_CTX_new)                                                                                          \
    X(EVP_MD_CTX_free)                                                                                         \
    X(EVP_DigestInit_ex)                                                                                       \
    X(EVP_DigestUpdate)                                                                                        \
    X(EVP_DigestFinal_ex)                                                                                      \
    X(EVP_sha256)

struct image_libs {
#define IMAGE_DECLARE_FN(name) __typeof__(name) *name;
    IMAGE_ARCHIVE_FUNCS(IMAGE_DECLARE_FN)
    IMAGE_CRYPTO_FUNCS(IMAGE_DECLARE_FN)
#undef IMAGE_DECLARE_FN
};

/* Fills `libs` (the libraries stay loaded for the life of the process). */
int image_libs_load(struct image_libs *libs, struct brig_err **err);

/* SHA-256, as image digests are. */
struct image_sha256 {
    const struct image_libs *libs;
    EVP_MD_CTX *ctx;
};
int image_sha256_init(struct image_sha256 *h, const struct image_libs *libs, struct brig_err **err);
void image_sha256_update(struct image_sha256 *h, const void *data, size_t len);
/* Finishes as "sha256:<64 hex>" into `out` (at least IMAGE_DIGEST_LEN + 1 bytes) and frees the context. */
void image_sha256_final(struct image_sha256 *h, char *out);
void image_sha256_clear(struct image_sha256 *h);

#define IMAGE_DIGEST_LEN (7 + 64)

/* A digest as image/ accepts it, "sha256:" and 64 lowercase hex digits: 0 with *hex at the digits, or an
 * error naming `what`. */
int image_digest_hex(const char *digest, const char *what, const char **hex, struct brig_err **err);

/* The compression a layer media type says its blob has. */
enum image_compression {
    IMAGE_COMPRESSION_NONE,
    IMAGE_COMPRESSION_GZIP,
    IMAGE_COMPRESSION_ZSTD,
};
int image_layer_compression(const char *media_type, enum image_compression *out);

struct brig_image {
    struct image_libs libs;
    char *given;  /* the reference as given, for messages */
    char *layout; /* absolute */
    int layout_fd;
    char *pinned; /* "<layout>@sha256:<manifest>" */
    char manifest_digest[IMAGE_DIGEST_LEN + 1];
    struct brig_oci_manifest *manifest;
    struct brig_oci_image_config *config;
};

/* Opens the blob `digest` of the layout, which must be a regular file of `size` bytes (any size when
 * `size_known` is false). Returns the fd or a negative errno with *err set. */
int image_open_blob(const struct brig_image *img, const char *digest, uint64_t size, bool size_known,
                    const char *what, struct brig_err **err);

/* How a layer is written: as root (owners, devices, trusted.overlay.* markers) or as an unprivileged user
 * (owners that cannot be given kept in user.containers.override_stat, no devices, user.overlay.* markers). */
struct image_unpack_opts {
    bool rootless;
    const char *layer; /* the layer's digest, which every message names */
};

/* Unpacks the tar stream of the layer blob `fd` into the empty directory `root_fd`, converting OCI whiteouts to
 * overlay ones, and checks the blob's sha256 (opts->layer) and that of the uncompressed stream (`diff_id`). */
int image_unpack_layer(const struct image_libs *libs, int fd, enum image_compression compression, int root_fd,
                       const char *diff_id, const struct image_unpack_opts *opts, struct brig_err **err);

/* Removes `path` and everything below it, without following symlinks. */
int image_remove_tree(const char *path);

/* The image's process user ("NAME", "UID", "NAME:GROUP", "UID:GID"...), names looked up in /etc/passwd and
 * /etc/group as the layers (lowest first) stack them. *gids is malloc'd. */
struct image_user {
    uint32_t uid;
    uint32_t gid;
    uint32_t *gids; /* supplementary groups */
    size_t n_gids;
};
int image_resolve_user(const char *user, char *const *layers, size_t n_layers, struct image_user *out,
                       struct brig_err **err);

#endif
