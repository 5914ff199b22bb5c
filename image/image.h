/* OCI image layouts (oci-layout, index.json, blobs/sha256/...: what skopeo, umoci, buildah and `podman save
 * --format oci-dir` write). brig picks a manifest, verifies the digest of every blob it reads (manifest,
 * config, each layer, and each layer's uncompressed diff_id), and unpacks each layer once into a
 * content-addressed store, <store>/<diff_id hex>, shared by every container: the layers are then the lower
 * directories of an overlay root. OCI whiteouts become overlay's. */
#ifndef BRIG_IMAGE_IMAGE_H
#define BRIG_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../namespaces/namespaces.h"
#include "../util/error.h"

/* The annotation a config from `spec --image` carries: the image it was made from, pinned to its manifest
 * ("<absolute layout>@sha256:<manifest digest>"). create uses it when no --image is given. */
#define BRIG_IMAGE_ANNOTATION "run.brig.image"

#define BRIG_IMAGE_STORE "/var/lib/brig/layers"

struct brig_image;

/* The layer store: `dir` when given (--store), else BRIG_IMAGE_STORE, or when rootless
 * $XDG_DATA_HOME/brig/layers (~/.local/share/brig/layers). Made absolute; *path is malloc'd. */
int brig_image_store_path(const char *dir, bool rootless, char **path, struct brig_err **err);

/* Opens `ref`: LAYOUT[:REF] (REF matched against the org.opencontainers.image.ref.name annotations of
 * index.json; without it the only manifest, or the one named `latest`) or LAYOUT@sha256:DIGEST (a manifest by
 * digest). Reads and verifies the manifest and the image config. Messages start "image `REF`: ". */
int brig_image_open(const char *ref, struct brig_image **out, struct brig_err **err);
void brig_image_free(struct brig_image *image);
static inline void brig_image_freep(struct brig_image **image)
{
    brig_image_free(*image);
}
#define cleanup_image __attribute__((cleanup(brig_image_freep)))

/* "<absolute layout>@sha256:<manifest digest>": the same image, whatever its ref names later. */
const char *brig_image_pinned(const struct brig_image *image);

/* Unpacks every layer of the image the store does not hold yet (concurrent unpacks of one layer wait for each
 * other; a failed one leaves nothing) and returns the layers' directories, lowest first, as a malloc'd
 * NULL-terminated vector. `rootless`: unpack as an unprivileged user (see image/unpack.c); `maps`: the
 * container's user namespace maps (NULL: none), which pick the store below `store` (brig_image_layers_store). */
int brig_image_unpack(const struct brig_image *image, const char *store, bool rootless, const struct brig_id_maps *maps,
                      char ***dirs, size_t *n_dirs, struct brig_err **err);

/* Where the layers of a container with user namespace `maps` go. Rootless with maps beyond the user's own
 * ids (its subordinate ones, as rootless Podman has them): <store>/idmap-<the maps>, unpacked as root of a
 * user namespace with those maps, so the image's owners are those ids on disk and the container sees them
 * as in the image. Else (root, no maps, or only the user's own ids) `store` itself, where a rootless unpack
 * keeps the user's own ids and other owners in an xattr. A store is thus never used under other maps than
 * its own. *out is malloc'd. */
int brig_image_layers_store(const char *store, bool rootless, const struct brig_id_maps *maps, char **out,
                            struct brig_err **err);

/* Removes what unpacks into `store` that died left (a temporary directory, lock files) and no live unpack
 * holds. brig_image_unpack does it first; delete --force does it for a create killed while unpacking. */
void brig_image_store_sweep(const char *store);

/* The config.json of `spec --image REF`: runc's defaults (`rootless_config` as `spec --rootless`) with the
 * image config's process (Entrypoint + Cmd, Env, WorkingDir, User resolved to numbers in the image's own
 * /etc/passwd and /etc/group), its labels as annotations, BRIG_IMAGE_ANNOTATION, and no root.path. Unpacks the
 * image on the way, into `store` (NULL: the default store; `rootless`: the caller is unprivileged). Rootless
 * with `rootless_config`, the maps are rootless Podman's (brig_ns_subid_maps) where the user has subordinate
 * ids; where not, its own ids only, as `spec --rootless`, and *notice (malloc'd, else NULL) says so in a line. */
int brig_image_spec_json(const char *ref, const char *store, bool rootless, bool rootless_config, uid_t uid,
                         gid_t gid, char **json, char **notice, struct brig_err **err);

#endif
