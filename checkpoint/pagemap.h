/* Private to checkpoint/ (and its unit tests): CRIU's pagemap images, read and written without protobuf-c,
 * and the plan that leaves a pre-dump chain's pages to a local `criu lazy-pages` (pagemap.c). */
#ifndef BRIG_CHECKPOINT_PAGEMAP_H
#define BRIG_CHECKPOINT_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

/* criu 3.17.1: criu/include/magic.h, criu/include/pagemap.h. */
#define CKPT_IMG_COMMON_MAGIC 0x54564319u
#define CKPT_PAGEMAP_MAGIC 0x56084025u
#define CKPT_PE_PARENT (1u << 0)  /* the pages are in the parent image */
#define CKPT_PE_LAZY (1u << 1)    /* a restore --lazy-pages leaves them to the daemon */
#define CKPT_PE_PRESENT (1u << 2) /* the pages are in this image's pages-ID.img, in entry order */

struct ckpt_pm_entry {
    uint64_t vaddr;
    uint32_t nr_pages;
    uint32_t flags;
};

/* pagemap-PID.img: a PagemapHead (the pages file's id), then the entries (sorted, not overlapping). */
struct ckpt_pagemap {
    uint32_t pages_id;
    size_t n;
    struct ckpt_pm_entry *e;
};

/* The file's bytes (magics, then u32-length-prefixed messages) to *pm; unknown fields are skipped, an
 * entry of an old CRIU without flags gets them as CRIU's own reader does (in_parent: PARENT, else PRESENT).
 * Refused: a bad magic, a truncated message, entries unsorted, overlapping, empty or not page aligned. */
int ckpt_pagemap_decode(const unsigned char *buf, size_t len, size_t page, struct ckpt_pagemap *pm,
                        struct brig_err **err);
/* *pm as a file's bytes (*out malloc()ed). */
int ckpt_pagemap_encode(const struct ckpt_pagemap *pm, unsigned char **out, size_t *len, struct brig_err **err);
void ckpt_pagemap_free(struct ckpt_pagemap *pm);

/* A copy from one pages file to another, in pages. */
struct ckpt_pm_copy {
    uint64_t from; /* page index in the newer image's pages file */
    uint64_t to;   /* page index in the base's */
    uint64_t n;
};
/* The pages `top` holds (PRESENT) that the base image (every entry PRESENT) has a place for: copied over
 * the base's, the base's pages file holds each page's newest value (*copies malloc()ed, *n of them). */
int ckpt_pagemap_patch(const struct ckpt_pagemap *top, const struct ckpt_pagemap *base, size_t page,
                       struct ckpt_pm_copy **copies, size_t *n, struct brig_err **err);

struct ckpt_pm_counts {
    uint64_t lazy;    /* PRESENT|LAZY in the plan: the daemon's */
    uint64_t present; /* PRESENT only (a thread's stack page): the restore reads it from the base's file */
    uint64_t parent;  /* PARENT: the restore reads it through the chain, as before */
};
/* The final image's pagemap rewritten over the base's pages file (patched with every newer image): chain[0]
 * is the final image's pagemap, chain[1..depth-1] its parents, chain[depth-1] the base (every entry
 * PRESENT). A page the base has a place for, in order, becomes PRESENT (LAZY as the image that holds its
 * newest value marked it); the others PARENT (read through the chain); once a base page is not the final
 * image's (freed since), every later page stays PARENT, since PRESENT pages are read in order from the
 * file. An error when a PARENT page is in no parent (a broken chain). */
int ckpt_pagemap_plan(const struct ckpt_pagemap *chain, size_t depth, size_t page, struct ckpt_pagemap *out,
                      struct ckpt_pm_counts *counts, struct brig_err **err);

#endif
