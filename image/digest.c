/* SHA-256 digests ("sha256:<hex>") with OpenSSL's EVP interface, and layer media types. */
#include <errno.h>
#include <string.h>

#include "internal.h"

int image_sha256_init(struct image_sha256 *h, const struct image_libs *libs, struct brig_err **err)
{
    h->libs = libs;
    h->ctx = libs->EVP_MD_CTX_new();
    if (!h->ctx)
        return brig_err_set(err, ENOMEM, "sha256");
    if (libs->EVP_DigestInit_ex(h->ctx, libs->EVP_sha256(), NULL) != 1) {
        image_sha256_clear(h);
        return brig_err_msg(err, EINVAL, "sha256: OpenSSL cannot initialise the digest");
    }
    return 0;
}

void image_sha256_update(struct image_sha256 *h, const void *data, size_t len)
{
    if (len)
        h->libs->EVP_DigestUpdate(h->ctx, data, len);
}

void image_sha256_final(struct image_sha256 *h, char *out)
{
    static const char hexdigits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int len = 0;

    memset(md, 0, sizeof(md));
    h->libs->EVP_DigestFinal_ex(h->ctx, md, &len);
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < sizeof(md); i++) {
        out[7 + 2 * i] = hexdigits[md[i] >> 4];
        out[7 + 2 * i + 1] = hexdigits[md[i] & 15];
    }
    out[IMAGE_DIGEST_LEN] = '\0';
    image_sha256_clear(h);
}

void image_sha256_clear(struct image_sha256 *h)
{
    if (h->ctx)
        h->libs->EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int image_digest_hex(const char *digest, const char *what, const char **hex, struct brig_err **err)
{
    const char *colon = digest ? strchr(digest, ':') : NULL;

    if (!colon)
        return brig_err_msg(err, EINVAL, "%s: `%s` is not a digest (algorithm:hex)", what, digest ? digest : "");
    if ((size_t) (colon - digest) != 6 || strncmp(digest, "sha256", 6) != 0)
        return brig_err_msg(err, ENOTSUP, "%s: digest algorithm `%.*s` is not supported (only sha256)", what,
                            (int) (colon - digest), digest);
    /* The hex also names a file under blobs/ and the store: nothing but 64 lowercase hex digits passes. */
    if (strlen(colon + 1) != 64 || strspn(colon + 1, "0123456789abcdef") != 64)
        return brig_err_msg(err, EINVAL, "%s: `%s` is not a sha256 digest (64 lowercase hex digits)", what, digest);
    *hex = colon + 1;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int image_layer_compression(const char *media_type, enum image_compression *out)
{
    /* OCI's layer types (distributable or not) end in .tar, .tar+gzip or .tar+zstd; Docker's in .tar.gzip. */
    if (ends_with(media_type, ".tar"))
        *out = IMAGE_COMPRESSION_NONE;
    else if (ends_with(media_type, ".tar+gzip") || ends_with(media_type, ".tar.gzip"))
        *out = IMAGE_COMPRESSION_GZIP;
    else if (ends_with(media_type, ".tar+zstd"))
        *out = IMAGE_COMPRESSION_ZSTD;
    else
        return -ENOTSUP;
    return 0;
}
