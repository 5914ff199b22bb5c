/* A live migration's restore with the pre-copied memory left to a local `criu lazy-pages`.
 *
 * Why the rewrite (criu 3.17.1): a restore --lazy-pages leaves to the daemon only the final image's entries
 * marked PE_LAZY (mem.c, restore_priv_vma_content) and reads every PE_PARENT entry through the pre-dump chain
 * at once, which is most of a live migration's downtime. Marking those PE_PARENT|PE_LAZY does not work: the
 * daemon (uffd.c) reads a parent's page through the parent's page_read, whose io_complete is unset, so the
 * page is read but never copied into the process (its request stays queued; the faulting thread waits).
 * The daemon serves only pages of the top image's own pages file. So the receiver keeps, in the first
 * pre-dump's pages file (the base: every page the first pre-dump saw, in address order), each page's newest
 * value as the later images arrive (ckpt_pagemap_patch), and before the restore points the final image's
 * pagemap at that file: its pages there PRESENT|LAZY, the rest (pages the base has no place for) PE_PARENT
 * through the original final image, now a parent of its own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "pagemap.h"
#include "../util/util.h"

/* Live migration's iterations are at most 64, plus the final image. */
#define CHAIN_MAX 80
#define ORIG_SUFFIX ".orig"

void ckpt_pagemap_free(struct ckpt_pagemap *pm)
{
    free(pm->e);
    pm->e = NULL;
    pm->n = 0;
}

static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        *v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* One message's fields: 1, 2, 3, 4 as varints into f[1..4] (seen[i] set); anything else skipped. */
static int fields(const unsigned char *p, const unsigned char *end, uint64_t f[5], bool seen[5])
{
    while (p < end) {
        uint64_t tag, v;
        if (varint(&p, end, &tag) < 0)
            return -1;
        switch (tag & 7) {
        case 0:
            if (varint(&p, end, &v) < 0)
                return -1;
            if ((tag >> 3) >= 1 && (tag >> 3) <= 4) {
                f[tag >> 3] = v;
                seen[tag >> 3] = true;
            }
            break;
        case 1:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 2:
            if (varint(&p, end, &v) < 0 || v > (uint64_t) (end - p))
                return -1;
            p += v;
            break;
        case 5:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

int ckpt_pagemap_decode(const unsigned char *buf, size_t len, size_t page, struct ckpt_pagemap *pm,
                        struct brig_err **err)
{
    const unsigned char *p = buf, *end = buf + len;
    uint32_t magic[2], size;
    size_t cap = 0;
    bool head = true;

    *pm = (struct ckpt_pagemap){0};
    if (len < sizeof(magic))
        return brig_err_msg(err, EINVAL, "pagemap: %zu bytes, no magic", len);
    memcpy(magic, p, sizeof(magic));
    p += sizeof(magic);
    if (magic[0] != CKPT_IMG_COMMON_MAGIC || magic[1] != CKPT_PAGEMAP_MAGIC)
        return brig_err_msg(err, EINVAL, "pagemap: magic %#x %#x is not CRIU's pagemap's", magic[0], magic[1]);
    while (p < end) {
        uint64_t f[5] = {0};
        bool seen[5] = {false};

        if (end - p < (ptrdiff_t) sizeof(size) || (memcpy(&size, p, sizeof(size)), size > (size_t) (end - p) - 4)) {
            ckpt_pagemap_free(pm);
            return brig_err_msg(err, EINVAL, "pagemap: message at byte %zu truncated", (size_t) (p - buf));
        }
        p += sizeof(size);
        if (fields(p, p + size, f, seen) < 0) {
            ckpt_pagemap_free(pm);
            return brig_err_msg(err, EINVAL, "pagemap: message at byte %zu is not protobuf",
                                (size_t) (p - buf - 4));
        }
        p += size;
        if (head) {
            if (!seen[1] || f[1] > UINT32_MAX)
                return brig_err_msg(err, EINVAL, "pagemap: head without pages_id");
            pm->pages_id = (uint32_t) f[1];
            head = false;
            continue;
        }
        if (!seen[1] || !seen[2] || f[2] == 0 || f[2] > UINT32_MAX || f[1] % page ||
            f[1] + f[2] * page < f[1]) {
            ckpt_pagemap_free(pm);
            return brig_err_msg(err, EINVAL, "pagemap: entry %zu: no address or page count, or not aligned", pm->n);
        }
        struct ckpt_pm_entry e = {.vaddr = f[1], .nr_pages = (uint32_t) f[2], .flags = (uint32_t) f[4]};
        /* CRIU's own compatibility for images older than the flags (pagemap.c, init_compat_pagemap_entry). */
        if (seen[3] && f[3])
            e.flags |= CKPT_PE_PARENT;
        else if (!seen[4])
            e.flags = CKPT_PE_PRESENT;
        if ((e.flags & CKPT_PE_PARENT) && (e.flags & CKPT_PE_PRESENT)) {
            ckpt_pagemap_free(pm);
            return brig_err_msg(err, EINVAL, "pagemap: entry %zu at %#llx: both in the parent and present", pm->n,
                                (unsigned long long) e.vaddr);
        }
        if (pm->n && e.vaddr < pm->e[pm->n - 1].vaddr + (uint64_t) pm->e[pm->n - 1].nr_pages * page) {
            ckpt_pagemap_free(pm);
            return brig_err_msg(err, EINVAL, "pagemap: entry %zu at %#llx: unsorted or overlapping", pm->n,
                                (unsigned long long) e.vaddr);
        }
        if (pm->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct ckpt_pm_entry *ne = realloc(pm->e, ncap * sizeof(*ne));
            if (!ne) {
                ckpt_pagemap_free(pm);
                return brig_err_set(err, ENOMEM, "pagemap");
            }
            pm->e = ne;
            cap = ncap;
        }
        pm->e[pm->n++] = e;
    }
    if (head)
        return brig_err_msg(err, EINVAL, "pagemap: no head");
    return 0;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    do {
        p[n++] = (unsigned char) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

int ckpt_pagemap_encode(const struct ckpt_pagemap *pm, unsigned char **out, size_t *len, struct brig_err **err)
{
    /* Per message: its length, and at most three tagged varints. */
    size_t max = 8 + (pm->n + 1) * (4 + 3 * 11), n = 0;
    unsigned char *buf = malloc(max);
    uint32_t magic[2] = {CKPT_IMG_COMMON_MAGIC, CKPT_PAGEMAP_MAGIC};

    if (!buf)
        return brig_err_set(err, ENOMEM, "pagemap");
    memcpy(buf, magic, sizeof(magic));
    n = sizeof(magic);
    for (size_t i = 0; i <= pm->n; i++) {
        unsigned char *size_at = buf + n;
        uint32_t size;
        n += 4;
        size_t start = n;
        if (i == 0) {
            buf[n++] = 1 << 3;
            n += put_varint(buf + n, pm->pages_id);
        } else {
            const struct ckpt_pm_entry *e = &pm->e[i - 1];
            buf[n++] = 1 << 3;
            n += put_varint(buf + n, e->vaddr);
            buf[n++] = 2 << 3;
            n += put_varint(buf + n, e->nr_pages);
            buf[n++] = 4 << 3;
            n += put_varint(buf + n, e->flags);
        }
        size = (uint32_t) (n - start);
        memcpy(size_at, &size, sizeof(size));
    }
    *out = buf;
    *len = n;
    return 0;
}

static uint64_t entry_end(const struct ckpt_pm_entry *e, size_t page)
{
    return e->vaddr + (uint64_t) e->nr_pages * page;
}

static int base_check(const struct ckpt_pagemap *base, struct brig_err **err)
{
    for (size_t i = 0; i < base->n; i++)
        if (!(base->e[i].flags & CKPT_PE_PRESENT))
            return brig_err_msg(err, EINVAL, "base pagemap: entry %zu at %#llx is not in its pages file", i,
                                (unsigned long long) base->e[i].vaddr);
    return 0;
}

static int add_copy(struct ckpt_pm_copy **c, size_t *n, size_t *cap, uint64_t from, uint64_t to, uint64_t count)
{
    if (*n && (*c)[*n - 1].from + (*c)[*n - 1].n == from && (*c)[*n - 1].to + (*c)[*n - 1].n == to) {
        (*c)[*n - 1].n += count;
        return 0;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct ckpt_pm_copy *nc = realloc(*c, ncap * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        *c = nc;
        *cap = ncap;
    }
    (*c)[(*n)++] = (struct ckpt_pm_copy){.from = from, .to = to, .n = count};
    return 0;
}

int ckpt_pagemap_patch(const struct ckpt_pagemap *top, const struct ckpt_pagemap *base, size_t page,
                       struct ckpt_pm_copy **copies, size_t *n, struct brig_err **err)
{
    size_t cap = 0, j = 0;
    uint64_t from = 0, base_at = 0; /* pages before top's entry i, before base's entry j */
    int ret = base_check(base, err);

    *copies = NULL;
    *n = 0;
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < top->n; i++) {
        const struct ckpt_pm_entry *t = &top->e[i];
        uint64_t ts = t->vaddr, te = entry_end(t, page), at;

        if (!(t->flags & CKPT_PE_PRESENT))
            continue;
        while (j < base->n && entry_end(&base->e[j], page) <= ts)
            base_at += base->e[j++].nr_pages;
        at = base_at;
        for (size_t k = j; k < base->n && base->e[k].vaddr < te; k++) {
            const struct ckpt_pm_entry *b = &base->e[k];
            uint64_t lo = ts > b->vaddr ? ts : b->vaddr, hi = te < entry_end(b, page) ? te : entry_end(b, page);
            if (lo < hi && add_copy(copies, n, &cap, from + (lo - ts) / page, at + (lo - b->vaddr) / page,
                                    (hi - lo) / page) < 0) {
                free(*copies);
                *copies = NULL;
                *n = 0;
                return brig_err_set(err, ENOMEM, "pagemap patch");
            }
            at += b->nr_pages;
        }
        from += t->nr_pages;
    }
    return 0;
}

static int plan_add(struct ckpt_pagemap *out, size_t *cap, uint64_t v, uint32_t flags, size_t page)
{
    struct ckpt_pm_entry *last = out->n ? &out->e[out->n - 1] : NULL;

    if (last && last->flags == flags && entry_end(last, page) == v && last->nr_pages < UINT32_MAX) {
        last->nr_pages++;
        return 0;
    }
    if (out->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct ckpt_pm_entry *ne = realloc(out->e, ncap * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        out->e = ne;
        *cap = ncap;
    }
    out->e[out->n++] = (struct ckpt_pm_entry){.vaddr = v, .nr_pages = 1, .flags = flags};
    return 0;
}

/* The flags of the entry holding page v's newest value: chain[1..] searched with cursors that only move
 * forward (v grows). 0 when no parent has it. */
static uint32_t resolve(const struct ckpt_pagemap *chain, size_t depth, size_t *cursor, uint64_t v, size_t page)
{
    for (size_t d = 1; d < depth; d++) {
        const struct ckpt_pagemap *pm = &chain[d];
        while (cursor[d] < pm->n && entry_end(&pm->e[cursor[d]], page) <= v)
            cursor[d]++;
        if (cursor[d] == pm->n || pm->e[cursor[d]].vaddr > v)
            return 0;
        if (pm->e[cursor[d]].flags & CKPT_PE_PRESENT)
            return pm->e[cursor[d]].flags;
        if (!(pm->e[cursor[d]].flags & CKPT_PE_PARENT))
            return 0;
    }
    return 0;
}

int ckpt_pagemap_plan(const struct ckpt_pagemap *chain, size_t depth, size_t page, struct ckpt_pagemap *out,
                      struct ckpt_pm_counts *counts, struct brig_err **err)
{
    const struct ckpt_pagemap *top = &chain[0], *base = &chain[depth - 1];
    size_t cursor[CHAIN_MAX] = {0}, cap = 0, bi = 0;
    uint64_t bo = 0; /* page bo of base entry bi: the next place in the base's file */
    bool broken = false;
    int ret;

    *out = (struct ckpt_pagemap){.pages_id = top->pages_id};
    *counts = (struct ckpt_pm_counts){0};
    if (depth < 2 || depth > CHAIN_MAX)
        return brig_err_msg(err, EINVAL, "pagemap plan: a chain of %zu images", depth);
    ret = base_check(base, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < top->n; i++) {
        const struct ckpt_pm_entry *t = &top->e[i];
        for (uint64_t p = 0; p < t->nr_pages; p++) {
            uint64_t v = t->vaddr + p * page;
            uint32_t src = t->flags & CKPT_PE_PRESENT ? t->flags
                           : t->flags & CKPT_PE_PARENT ? resolve(chain, depth, cursor, v, page)
                                                       : 0;
            uint32_t flags = CKPT_PE_PARENT;

            if (!src) {
                ckpt_pagemap_free(out);
                return brig_err_msg(err, EINVAL, "pagemap plan: page %#llx is in no image of the chain",
                                    (unsigned long long) v);
            }
            if (!broken && bi < base->n) {
                uint64_t slot = base->e[bi].vaddr + bo * page;
                if (slot < v) {
                    broken = true;
                } else if (slot == v) {
                    flags = CKPT_PE_PRESENT | (src & CKPT_PE_LAZY);
                    if (++bo == base->e[bi].nr_pages) {
                        bi++;
                        bo = 0;
                    }
                }
            }
            if (plan_add(out, &cap, v, flags, page) < 0) {
                ckpt_pagemap_free(out);
                return brig_err_set(err, ENOMEM, "pagemap plan");
            }
            if (flags & CKPT_PE_LAZY)
                counts->lazy++;
            else if (flags & CKPT_PE_PRESENT)
                counts->present++;
            else
                counts->parent++;
        }
    }
    return 0;
}

/* --- The image directories. --- */

struct chain {
    size_t depth;
    struct ckpt_pagemap pm[CHAIN_MAX];
    int dfd[CHAIN_MAX];
};

static void chain_free(struct chain *c)
{
    for (size_t i = 0; i < c->depth; i++) {
        ckpt_pagemap_free(&c->pm[i]);
        close(c->dfd[i]);
    }
    c->depth = 0;
}

/* dir's `parent` link: CRIU's "../NAME" (the only form the receiver accepts), NAME to out. -ENOENT: none. */
static int parent_name(int dfd, char *out, size_t len)
{
    char link[512];
    ssize_t n = readlinkat(dfd, "parent", link, sizeof(link) - 1);

    if (n < 0)
        return -errno;
    link[n] = '\0';
    if (strncmp(link, "../", 3) != 0 || !link[3] || strchr(link + 3, '/') || strlen(link + 3) >= len)
        return -EINVAL;
    strcpy(out, link + 3);
    return 0;
}

static int read_pagemap_at(int dfd, const char *name, size_t page, struct ckpt_pagemap *pm, struct brig_err **err)
{
    cleanup_free char *data = NULL;
    size_t len = 0;
    int ret = brig_read_file_at(dfd, name, &data, &len, err);

    if (ret == 0)
        ret = ckpt_pagemap_decode((const unsigned char *) data, len, page, pm, err);
    return ret < 0 ? brig_err_wrap(err, ret, "`%s`", name) : 0;
}

/* Task `file`'s pagemaps from dir down its parents, as far as they have it. */
static int chain_load(int images_fd, const char *dir, const char *file, size_t page, struct chain *c,
                      struct brig_err **err)
{
    char name[256];
    int ret;

    c->depth = 0;
    if (strlen(dir) >= sizeof(name))
        return brig_err_msg(err, ENAMETOOLONG, "image `%s`", dir);
    strcpy(name, dir);
    for (;;) {
        int dfd;
        if (c->depth == CHAIN_MAX) {
            chain_free(c);
            return brig_err_msg(err, ELOOP, "image `%s`: more than %d parents", dir, CHAIN_MAX);
        }
        dfd = openat(images_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            ret = brig_err_sys(err, "image `%s`", name);
            chain_free(c);
            return ret;
        }
        if (faccessat(dfd, file, F_OK, 0) < 0) {
            close(dfd);
            break;
        }
        c->dfd[c->depth] = dfd;
        ret = read_pagemap_at(dfd, file, page, &c->pm[c->depth], err);
        c->depth++;
        if (ret < 0) {
            chain_free(c);
            return brig_err_wrap(err, ret, "image `%s`", name);
        }
        ret = parent_name(dfd, name, sizeof(name));
        if (ret == -ENOENT)
            break;
        if (ret < 0) {
            chain_free(c);
            return brig_err_msg(err, EINVAL, "image `%s`: its parent link is not ../NAME", dir);
        }
    }
    return 0;
}

/* pread/pwrite through one buffer: on tmpfs (the receiver's images under the guest lane) copy_file_range
 * goes a page at a time through a pipe, several times slower. */
static int copy_pages(int from_fd, int to_fd, const struct ckpt_pm_copy *c, size_t n, size_t page,
                      struct brig_err **err)
{
    const size_t chunk = 1 << 20;
    cleanup_free char *buf = malloc(chunk);

    if (!buf)
        return brig_err_set(err, ENOMEM, "copying pages");
    for (size_t i = 0; i < n; i++) {
        off_t in = (off_t) (c[i].from * page), out = (off_t) (c[i].to * page);
        size_t left = c[i].n * page;
        while (left) {
            ssize_t k = pread(from_fd, buf, left < chunk ? left : chunk, in);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                return k < 0 ? brig_err_sys(err, "reading pages") : brig_err_msg(err, EIO, "pages file: truncated");
            if (pwrite(to_fd, buf, (size_t) k, out) != k)
                return brig_err_sys(err, "writing pages");
            in += k;
            out += k;
            left -= (size_t) k;
        }
    }
    return 0;
}

static int open_pages(int dfd, uint32_t id, int flags, struct brig_err **err)
{
    char name[64];
    int fd;

    snprintf(name, sizeof(name), "pages-%u.img", id);
    fd = openat(dfd, name, flags | O_CLOEXEC);
    return fd < 0 ? brig_err_sys(err, "`%s`", name) : fd;
}

/* chain[0]'s pages into the base's file. */
static int patch_base(const struct chain *c, size_t page, struct brig_err **err)
{
    cleanup_free struct ckpt_pm_copy *copies = NULL;
    cleanup_close int from = -1;
    cleanup_close int to = -1;
    size_t n = 0;
    int ret = ckpt_pagemap_patch(&c->pm[0], &c->pm[c->depth - 1], page, &copies, &n, err);

    if (ret < 0 || n == 0)
        return ret;
    from = open_pages(c->dfd[0], c->pm[0].pages_id, O_RDONLY, err);
    if (from < 0)
        return from;
    to = open_pages(c->dfd[c->depth - 1], c->pm[c->depth - 1].pages_id, O_WRONLY, err);
    if (to < 0)
        return to;
    return copy_pages(from, to, copies, n, page, err);
}

/* A task's pagemap (pagemap-PID.img; not the shared memory's pagemap-shmem-ID.img). */
static bool task_pagemap(const char *name)
{
    size_t digits = strspn(name + (strncmp(name, "pagemap-", 8) == 0 ? 8 : 0), "0123456789");

    return strncmp(name, "pagemap-", 8) == 0 && digits > 0 && strcmp(name + 8 + digits, ".img") == 0;
}

/* The names in dir that `want` accepts (NULL-terminated, malloc()ed). */
static int list_dir(int images_fd, const char *dir, bool (*want)(const char *), char ***out, struct brig_err **err)
{
    int dfd = openat(images_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cleanup_closedir DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    size_t n = 0;
    char **names = calloc(1, sizeof(*names));
    struct dirent *de;

    if (!d) {
        int ret = brig_err_sys(err, "image `%s`", dir);
        if (dfd >= 0)
            close(dfd);
        free(names);
        return ret;
    }
    if (!names)
        return brig_err_set(err, ENOMEM, "image `%s`", dir);
    while ((de = readdir(d))) {
        char **nn;
        if (!want(de->d_name))
            continue;
        nn = realloc(names, (n + 2) * sizeof(*nn));
        if (!nn || !(nn[n] = strdup(de->d_name))) {
            names = nn ? nn : names;
            names[n] = NULL;
            for (size_t i = 0; i < n; i++)
                free(names[i]);
            free(names);
            return brig_err_set(err, ENOMEM, "image `%s`", dir);
        }
        names = nn;
        names[++n] = NULL;
    }
    *out = names;
    return 0;
}

static void names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

int brig_ckpt_local_lazy_merge(int images_fd, const char *dir, struct brig_err **err)
{
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    char **tasks = NULL;
    int ret = list_dir(images_fd, dir, task_pagemap, &tasks, err);

    for (size_t i = 0; ret == 0 && tasks[i]; i++) {
        struct chain c = {0};
        ret = chain_load(images_fd, dir, tasks[i], page, &c, err);
        if (ret == 0 && c.depth > 1)
            ret = patch_base(&c, page, err);
        chain_free(&c);
    }
    names_free(tasks);
    return ret < 0 ? brig_err_wrap(err, ret, "image `%s` into its base", dir) : 0;
}

static bool chain_file(const char *name)
{
    size_t l = strlen(name);
    return (strncmp(name, "pagemap-", 8) == 0 || strncmp(name, "pages-", 6) == 0) && l > 4 &&
           strcmp(name + l - 4, ".img") == 0;
}

struct planned {
    char *file;            /* pagemap-PID.img */
    struct ckpt_pagemap t; /* its new content */
    int base_fd;           /* the base's directory */
    uint32_t base_pages;   /* the base's pages file's id */
};

static int write_planned(int final_fd, const struct planned *p, struct brig_err **err)
{
    cleanup_free unsigned char *bytes = NULL;
    char from[64], to[64], tmp[80];
    size_t len = 0;
    int ret = ckpt_pagemap_encode(&p->t, &bytes, &len, err);

    if (ret == 0)
        ret = brig_write_file_atomic_at(final_fd, p->file, (const char *) bytes, len, 0600, err);
    if (ret < 0)
        return ret;
    snprintf(from, sizeof(from), "pages-%u.img", p->base_pages);
    snprintf(to, sizeof(to), "pages-%u.img", p->t.pages_id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    unlinkat(final_fd, tmp, 0);
    if (linkat(p->base_fd, from, final_fd, tmp, 0) < 0 || renameat(final_fd, tmp, final_fd, to) < 0)
        return brig_err_sys(err, "`%s` as the base's `%s`", to, from);
    return 0;
}

int brig_ckpt_local_lazy_prepare(int images_fd, const char *final, struct brig_ckpt_local_lazy *out,
                                 struct brig_err **err)
{
    size_t page = (size_t) sysconf(_SC_PAGESIZE), n = 0;
    char **tasks = NULL, **files = NULL, parent[256], orig[256], link[300];
    struct planned *plans = NULL;
    cleanup_close int final_fd = -1;
    cleanup_close int orig_fd = -1;
    int ret;

    *out = (struct brig_ckpt_local_lazy){0};
    final_fd = openat(images_fd, final, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (final_fd < 0)
        return brig_err_sys(err, "image `%s`", final);
    ret = parent_name(final_fd, parent, sizeof(parent));
    if (ret == -ENOENT)
        return 0;
    if (ret < 0 || snprintf(orig, sizeof(orig), "%s" ORIG_SUFFIX, final) >= (int) sizeof(orig))
        return brig_err_msg(err, EINVAL, "image `%s`: its parent link is not ../NAME", final);
    ret = list_dir(images_fd, final, task_pagemap, &tasks, err);
    if (ret == 0) {
        for (n = 0; tasks[n]; n++)
            ;
        plans = calloc(n + 1, sizeof(*plans));
        if (!plans)
            ret = brig_err_set(err, ENOMEM, "image `%s`", final);
        n = 0;
    }
    /* Every task's plan first (and the final image's own pages into the base): nothing is renamed until
     * every one is made. */
    for (size_t i = 0; ret == 0 && tasks[i]; i++) {
        struct chain c = {0};
        struct ckpt_pm_counts counts = {0};
        struct brig_err *skip = NULL;
        int r = chain_load(images_fd, final, tasks[i], page, &c, &skip);

        if (r == 0 && c.depth > 1)
            r = patch_base(&c, page, &skip);
        if (r == 0 && c.depth > 1)
            r = ckpt_pagemap_plan(c.pm, c.depth, page, &plans[n].t, &counts, &skip);
        /* A task whose chain cannot be planned keeps its pagemap as it came (its parent, FINAL.orig, is the
         * image as it came too): the restore reads its pages. A base patched on the way stays right for the
         * chain (a page overwritten there is one a newer image holds). */
        if (r < 0) {
            if (!out->skipped++ && out->why[0] == '\0')
                snprintf(out->why, sizeof(out->why), "%s: %s", tasks[i], skip->msg);
            brig_err_free(&skip);
        } else if (c.depth > 1) {
            plans[n].file = tasks[i];
            plans[n].base_pages = c.pm[c.depth - 1].pages_id;
            plans[n].base_fd = dup(c.dfd[c.depth - 1]);
            if (plans[n].base_fd < 0)
                ret = brig_err_sys(err, "image");
            n++;
            out->tasks++;
            out->lazy_pages += counts.lazy;
            out->eager_pages += counts.present + counts.parent;
        }
        chain_free(&c);
    }
    if (ret == 0 && n > 0) {
        /* The final image as it came, as the rewritten one's parent: its pages the base has no place for. */
        ret = list_dir(images_fd, final, chain_file, &files, err);
        if (ret == 0 && (mkdirat(images_fd, orig, 0700) < 0 ||
                         (orig_fd = openat(images_fd, orig, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
            ret = brig_err_sys(err, "image `%s`", orig);
        for (size_t i = 0; ret == 0 && files[i]; i++)
            if (linkat(final_fd, files[i], orig_fd, files[i], 0) < 0)
                ret = brig_err_sys(err, "image `%s/%s`", orig, files[i]);
        snprintf(link, sizeof(link), "../%s", parent);
        if (ret == 0 && symlinkat(link, orig_fd, "parent") < 0)
            ret = brig_err_sys(err, "image `%s`: parent", orig);
        for (size_t i = 0; ret == 0 && i < n; i++)
            ret = write_planned(final_fd, &plans[i], err);
        snprintf(link, sizeof(link), "../%s", orig);
        unlinkat(final_fd, "parent.tmp", 0);
        if (ret == 0 && (symlinkat(link, final_fd, "parent.tmp") < 0 ||
                         renameat(final_fd, "parent.tmp", final_fd, "parent") < 0))
            ret = brig_err_sys(err, "image `%s`: parent", final);
    }
    for (size_t i = 0; plans && i < n; i++) {
        ckpt_pagemap_free(&plans[i].t);
        close(plans[i].base_fd);
    }
    free(plans);
    names_free(tasks);
    names_free(files);
    if (ret < 0)
        *out = (struct brig_ckpt_local_lazy){0};
    return ret < 0 ? brig_err_wrap(err, ret, "image `%s` for local lazy pages", final) : 0;
}
