/* libarchive and libcrypto, loaded on first use (see internal.h for why not at link time). */
#include <dlfcn.h>
#include <errno.h>
#include <openssl/opensslv.h>
#include <string.h>

#include "internal.h"

#if defined(ARCHIVE_VERSION_NUMBER) && (ARCHIVE_VERSION_NUMBER < 3000000 || ARCHIVE_VERSION_NUMBER >= 4000000)
#error "libarchive 3 (soname libarchive.so.13) is required"
#endif

#define IMAGE_STR2(x) #x
#define IMAGE_STR(x) IMAGE_STR2(x)

static const char archive_soname[] = "libarchive.so.13";
static const char crypto_soname[] = "libcrypto.so." IMAGE_STR(OPENSSL_SHLIB_VERSION);

static void *open_library(const char *soname, const char *package, struct brig_err **err)
{
    /* Never closed: OpenSSL is nodelete anyway, and the process is short-lived. */
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    if (!handle)
        brig_err_msg(err, ENOENT, "images need %s (Debian package %s): %s", soname, package, dlerror());
    return handle;
}

int image_libs_load(struct image_libs *libs, struct brig_err **err)
{
    void *archive = open_library(archive_soname, "libarchive13", err);
    void *crypto = archive ? open_library(crypto_soname, "libssl3", err) : NULL;
    const char *missing = NULL;

    if (!crypto)
        return -ENOENT;
    /* dlsym() hands out void *; the member types come from the libraries' own headers. */
#define IMAGE_LOAD_FN(lib, name)                                                                              \
    if (!missing) {                                                                                            \
        void *sym_ = dlsym(lib, #name);                                                                        \
        if (sym_)                                                                                              \
            memcpy(&libs->name, &sym_, sizeof(sym_));                                                          \
        else                                                                                                   \
            missing = #name;                                                                                   \
    }
#define IMAGE_LOAD_ARCHIVE(name) IMAGE_LOAD_FN(archive, name)
#define IMAGE_LOAD_CRYPTO(name) IMAGE_LOAD_FN(crypto, name)
    IMAGE_ARCHIVE_FUNCS(IMAGE_LOAD_ARCHIVE)
    IMAGE_CRYPTO_FUNCS(IMAGE_LOAD_CRYPTO)
#undef IMAGE_LOAD_FN
#undef IMAGE_LOAD_ARCHIVE
#undef IMAGE_LOAD_CRYPTO
    if (missing)
        return brig_err_msg(err, ENOENT, "images: %s or %s lacks `%s`", archive_soname, crypto_soname, missing);
    return 0;
}
