/* checkpoint/pagemap.c: CRIU's pagemap images, and a live migration's chain rewritten for a local
 * `criu lazy-pages` (every page must read the same through the new image as through the old chain). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/pagemap.h"
#include "util/error.h"
#include "util/util.h"

#define PG 4096u
#define PRESENT CKPT_PE_PRESENT
#define LAZY CKPT_PE_LAZY
#define PARENT CKPT_PE_PARENT

static struct ckpt_pagemap pm_of(uint32_t id, struct ckpt_pm_entry *e, size_t n)
{
    return (struct ckpt_pagemap){.pages_id = id, .n = n, .e = e};
}

static void round_trip(void **unused)
{
    struct ckpt_pm_entry e[] = {{0x400000, 3, PRESENT}, {0x7f0000000000, 70000, PRESENT | LAZY},
                                {0x7ffff0000000, 1, PARENT}};
    struct ckpt_pagemap in = pm_of(7, e, 3), out;
    unsigned char *bytes = NULL;
    size_t len = 0;
    struct brig_err *err = NULL;

    (void) unused;
    assert_int_equal(ckpt_pagemap_encode(&in, &bytes, &len, &err), 0);
    assert_int_equal(ckpt_pagemap_decode(bytes, len, PG, &out, &err), 0);
    assert_int_equal(out.pages_id, 7);
    assert_int_equal(out.n, 3);
    assert_memory_equal(out.e, e, sizeof(e));
    ckpt_pagemap_free(&out);
    /* Cut anywhere inside a message: refused, not read short. */
    assert_true(ckpt_pagemap_decode(bytes, len - 1, PG, &out, &err) < 0);
    assert_non_null(strstr(err->msg, "truncated"));
    brig_err_free(&err);
    bytes[0] ^= 1;
    assert_int_equal(ckpt_pagemap_decode(bytes, len, PG, &out, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "magic"));
    brig_err_free(&err);
    free(bytes);
}

/* An image as an older CRIU writes it: in_parent instead of flags, and fields this reader does not know. */
static void compat_and_unknown_fields(void **unused)
{
    unsigned char img[] = {
        0x19, 0x43, 0x56, 0x54, 0x25, 0x40, 0x08, 0x56, /* the two magics */
        2, 0, 0, 0, 0x08, 0x01,                         /* head: pages_id 1 */
        /* vaddr 0x1000, nr 2, field 9 (length-delimited, 2 bytes), no flags: PRESENT */
        10, 0, 0, 0, 0x08, 0x80, 0x20, 0x10, 0x02, 0x4a, 0x02, 0xaa, 0xbb, 0x00,
        /* vaddr 0x3000, nr 1, in_parent true: PARENT */
        7, 0, 0, 0, 0x08, 0x80, 0x60, 0x10, 0x01, 0x18, 0x01,
    };
    struct ckpt_pagemap pm;
    struct brig_err *err = NULL;

    (void) unused;
    /* The first entry's stray trailing 0x00 is a zero tag: not protobuf. */
    assert_int_equal(ckpt_pagemap_decode(img, sizeof(img), PG, &pm, &err), -EINVAL);
    brig_err_free(&err);
    img[14] = 9;
    memmove(img + 27, img + 28, sizeof(img) - 28);
    assert_int_equal(ckpt_pagemap_decode(img, sizeof(img) - 1, PG, &pm, &err), 0);
    assert_int_equal(pm.n, 2);
    assert_int_equal(pm.e[0].vaddr, 0x1000);
    assert_int_equal(pm.e[0].nr_pages, 2);
    assert_int_equal(pm.e[0].flags, PRESENT);
    assert_int_equal(pm.e[1].vaddr, 0x3000);
    assert_int_equal(pm.e[1].flags, PARENT);
    ckpt_pagemap_free(&pm);
}

static void refuses_unsorted_and_unaligned(void **unused)
{
    struct ckpt_pm_entry overlap[] = {{0x10000, 4, PRESENT}, {0x12000, 1, PRESENT}};
    struct ckpt_pm_entry unaligned[] = {{0x10010, 1, PRESENT}};
    struct ckpt_pm_entry both[] = {{0x10000, 1, PRESENT | PARENT}};
    struct ckpt_pagemap cases[] = {pm_of(1, overlap, 2), pm_of(1, unaligned, 1), pm_of(1, both, 1)};

    (void) unused;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char *bytes = NULL;
        size_t len = 0;
        struct ckpt_pagemap out;
        struct brig_err *err = NULL;
        assert_int_equal(ckpt_pagemap_encode(&cases[i], &bytes, &len, &err), 0);
        assert_int_equal(ckpt_pagemap_decode(bytes, len, PG, &out, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "entry"));
        brig_err_free(&err);
        free(bytes);
    }
}

static void patch_copies_what_the_base_has_a_place_for(void **unused)
{
    /* base: pages 0x10..0x13 (file 0-3), 0x20..0x21 (file 4-5). */
    struct ckpt_pm_entry base[] = {{0x10 * PG, 4, PRESENT | LAZY}, {0x20 * PG, 2, PRESENT | LAZY}};
    /* top: 0x12..0x14 present (file 0-2; 0x14 new), 0x15 parent, 0x21..0x22 present (file 3-4). */
    struct ckpt_pm_entry top[] = {{0x12 * PG, 3, PRESENT | LAZY}, {0x15 * PG, 1, PARENT},
                                  {0x21 * PG, 2, PRESENT | LAZY}};
    struct ckpt_pagemap b = pm_of(1, base, 2), t = pm_of(2, top, 3);
    struct ckpt_pm_copy *c = NULL;
    size_t n = 0;
    struct brig_err *err = NULL;

    (void) unused;
    assert_int_equal(ckpt_pagemap_patch(&t, &b, PG, &c, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(c[0].from, 0);
    assert_int_equal(c[0].to, 2);
    assert_int_equal(c[0].n, 2);
    assert_int_equal(c[1].from, 3);
    assert_int_equal(c[1].to, 5);
    assert_int_equal(c[1].n, 1);
    free(c);
    /* A base that is itself incremental cannot hold the pages. */
    base[1].flags = PARENT;
    assert_int_equal(ckpt_pagemap_patch(&t, &b, PG, &c, &n, &err), -EINVAL);
    brig_err_free(&err);
}

static void plan_marks_base_pages_lazy(void **unused)
{
    /* base (first pre-dump): 0x10..0x17; 0x17 was a thread's stack page (not lazy). */
    struct ckpt_pm_entry base[] = {{0x10 * PG, 7, PRESENT | LAZY}, {0x17 * PG, 1, PRESENT}};
    /* pre-dump 2: 0x11 dirty, the rest unchanged. */
    struct ckpt_pm_entry mid[] = {{0x10 * PG, 1, PARENT}, {0x11 * PG, 1, PRESENT | LAZY}, {0x12 * PG, 6, PARENT}};
    /* final: 0x12 dirty (the stack page now: not lazy), 0x18 new, the rest from the parents. */
    struct ckpt_pm_entry fin[] = {{0x10 * PG, 2, PARENT}, {0x12 * PG, 1, PRESENT}, {0x13 * PG, 5, PARENT},
                                  {0x18 * PG, 1, PRESENT | LAZY}};
    struct ckpt_pagemap chain[] = {pm_of(3, fin, 4), pm_of(2, mid, 3), pm_of(1, base, 2)}, out;
    struct ckpt_pm_counts counts;
    struct brig_err *err = NULL;

    (void) unused;
    assert_int_equal(ckpt_pagemap_plan(chain, 3, PG, &out, &counts, &err), 0);
    assert_int_equal(out.pages_id, 3);
    assert_int_equal(out.n, 5);
    assert_int_equal(out.e[0].vaddr, 0x10 * PG);
    assert_int_equal(out.e[0].nr_pages, 2);
    assert_int_equal(out.e[0].flags, PRESENT | LAZY);
    assert_int_equal(out.e[1].vaddr, 0x12 * PG);
    assert_int_equal(out.e[1].flags, PRESENT);
    assert_int_equal(out.e[2].nr_pages, 4);
    assert_int_equal(out.e[2].flags, PRESENT | LAZY);
    assert_int_equal(out.e[3].vaddr, 0x17 * PG);
    assert_int_equal(out.e[3].flags, PRESENT);
    assert_int_equal(out.e[4].vaddr, 0x18 * PG);
    assert_int_equal(out.e[4].flags, PARENT);
    assert_int_equal(counts.lazy, 6);
    assert_int_equal(counts.present, 2);
    assert_int_equal(counts.parent, 1);
    ckpt_pagemap_free(&out);

    /* 0x13 freed since the base: its place in the file cannot be skipped, so every page after it stays in
     * the chain. */
    struct ckpt_pm_entry fin2[] = {{0x10 * PG, 3, PARENT}, {0x14 * PG, 4, PARENT}};
    chain[0] = pm_of(3, fin2, 2);
    assert_int_equal(ckpt_pagemap_plan(chain, 3, PG, &out, &counts, &err), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.e[0].nr_pages, 3);
    assert_int_equal(out.e[0].flags, PRESENT | LAZY);
    assert_int_equal(out.e[1].vaddr, 0x14 * PG);
    assert_int_equal(out.e[1].nr_pages, 4);
    assert_int_equal(out.e[1].flags, PARENT);
    assert_int_equal(counts.lazy, 3);
    assert_int_equal(counts.parent, 4);
    ckpt_pagemap_free(&out);

    /* A parent page no parent has: a broken chain, refused. */
    struct ckpt_pm_entry fin3[] = {{0x30 * PG, 1, PARENT}};
    chain[0] = pm_of(3, fin3, 1);
    assert_int_equal(ckpt_pagemap_plan(chain, 3, PG, &out, &counts, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "no image"));
    brig_err_free(&err);
}

/* --- On disk: images with known page contents, read back as CRIU does. --- */

static size_t page_size(void)
{
    return (size_t) sysconf(_SC_PAGESIZE);
}

/* Writes DIR/pagemap-PID.img and DIR/pages-ID.img; a PRESENT page's content is its value `tag` | vaddr. */
static void write_image(int images, const char *dir, const char *parent, uint32_t pages_id,
                        struct ckpt_pm_entry *e, size_t n, unsigned tag)
{
    struct ckpt_pagemap pm = pm_of(pages_id, e, n);
    unsigned char *bytes = NULL;
    size_t len = 0, pg = page_size();
    char name[64];
    char *buf = calloc(1, pg);
    struct brig_err *err = NULL;
    int dfd, fd;

    assert_non_null(buf);
    assert_int_equal(mkdirat(images, dir, 0700), 0);
    dfd = openat(images, dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    if (parent)
        assert_int_equal(symlinkat(parent, dfd, "parent"), 0);
    assert_int_equal(ckpt_pagemap_encode(&pm, &bytes, &len, &err), 0);
    assert_int_equal(brig_write_file_atomic_at(dfd, "pagemap-1.img", (const char *) bytes, len, 0600, &err), 0);
    free(bytes);
    snprintf(name, sizeof(name), "pages-%u.img", pages_id);
    fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (size_t i = 0; i < n; i++) {
        if (!(e[i].flags & PRESENT))
            continue;
        for (uint32_t p = 0; p < e[i].nr_pages; p++) {
            uint64_t v = e[i].vaddr + (uint64_t) p * pg;
            snprintf(buf, pg, "%u:%llx", tag, (unsigned long long) v);
            assert_int_equal(write(fd, buf, pg), (ssize_t) pg);
        }
    }
    close(fd);
    close(dfd);
    free(buf);
}

/* What a restore reads for page v of DIR's pagemap-1.img (its chain followed as CRIU does), into out: 1 when
 * DIR's entry leaves it to the lazy-pages daemon, 0 when the restore reads it. */
static int criu_read(int images, const char *dir, uint64_t v, char *out)
{
    size_t pg = page_size(), len = 0;
    char *data = NULL, link[256];
    struct ckpt_pagemap pm;
    struct brig_err *err = NULL;
    uint64_t off = 0;
    int dfd = openat(images, dir, O_RDONLY | O_DIRECTORY), ret = -ENOENT;

    assert_true(dfd >= 0);
    assert_int_equal(brig_read_file_at(dfd, "pagemap-1.img", &data, &len, &err), 0);
    assert_int_equal(ckpt_pagemap_decode((unsigned char *) data, len, pg, &pm, &err), 0);
    free(data);
    for (size_t i = 0; i < pm.n; i++) {
        uint64_t end = pm.e[i].vaddr + (uint64_t) pm.e[i].nr_pages * pg;
        if (v >= pm.e[i].vaddr && v < end) {
            if (pm.e[i].flags & PARENT) {
                ssize_t k = readlinkat(dfd, "parent", link, sizeof(link) - 1);
                assert_true(k > 3);
                link[k] = '\0';
                /* Lazy or not is the top image's entry's to say. */
                ret = criu_read(images, link + 3, v, out);
                ret = ret > 0 ? 0 : ret;
            } else {
                char name[64];
                int fd;
                snprintf(name, sizeof(name), "pages-%u.img", pm.pages_id);
                fd = openat(dfd, name, O_RDONLY);
                assert_true(fd >= 0);
                assert_int_equal(pread(fd, out, pg, (off_t) ((off + (v - pm.e[i].vaddr) / pg) * pg)), (ssize_t) pg);
                close(fd);
                ret = (pm.e[i].flags & LAZY) ? 1 : 0;
            }
            break;
        }
        if (pm.e[i].flags & PRESENT)
            off += pm.e[i].nr_pages;
    }
    ckpt_pagemap_free(&pm);
    close(dfd);
    return ret;
}

static void images_rewritten_read_the_same(void **unused)
{
    char tmpl[] = "/tmp/brig-pagemap.XXXXXX";
    size_t pg = page_size();
    uint64_t P = pg;
    struct ckpt_pm_entry base[] = {{0x10 * P, 8, PRESENT | LAZY}, {0x40 * P, 4, PRESENT | LAZY}};
    struct ckpt_pm_entry two[] = {{0x10 * P, 2, PARENT}, {0x12 * P, 2, PRESENT | LAZY}, {0x14 * P, 4, PARENT},
                                  {0x30 * P, 1, PRESENT | LAZY}, {0x40 * P, 4, PARENT}};
    struct ckpt_pm_entry fin[] = {{0x10 * P, 3, PARENT}, {0x13 * P, 1, PRESENT | LAZY}, {0x14 * P, 4, PARENT},
                                  {0x30 * P, 1, PARENT}, {0x40 * P, 1, PRESENT}, {0x41 * P, 3, PARENT}};
    uint64_t pages[] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x30, 0x40, 0x41, 0x42, 0x43};
    char before[sizeof(pages) / sizeof(pages[0])][64];
    char *buf = calloc(1, pg);
    struct brig_ckpt_local_lazy st;
    struct brig_err *err = NULL;
    char link[256];
    ssize_t k;
    int images, lazy = 0;

    (void) unused;
    assert_non_null(mkdtemp(tmpl));
    images = open(tmpl, O_RDONLY | O_DIRECTORY);
    write_image(images, "1", NULL, 1, base, 2, 1);
    write_image(images, "2", "../1", 1, two, 5, 2);
    assert_int_equal(brig_ckpt_local_lazy_merge(images, "2", &err), 0);
    write_image(images, "final", "../2", 1, fin, 6, 3);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        assert_true(criu_read(images, "final", pages[i] * P, buf) >= 0);
        memcpy(before[i], buf, sizeof(before[i]));
    }
    assert_string_equal(before[2], "2:12000");
    assert_string_equal(before[3], "3:13000");
    assert_string_equal(before[9], "3:40000");

    assert_int_equal(brig_ckpt_local_lazy_prepare(images, "final", &st, &err), 0);
    assert_int_equal(st.tasks, 1);
    /* 0x30 is not the base's (it came in pre-dump 2), 0x40 the final dump's stack page. */
    assert_int_equal(st.lazy_pages, 11);
    assert_int_equal(st.eager_pages, 2);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        int r = criu_read(images, "final", pages[i] * P, buf);
        assert_true(r >= 0);
        lazy += r;
        assert_string_equal(buf, before[i]);
    }
    assert_int_equal(lazy, 11);
    k = readlinkat(images, "final/parent", link, sizeof(link) - 1);
    assert_true(k > 0);
    link[k] = '\0';
    assert_string_equal(link, "../final.orig");
    /* A second task whose chain is broken (a parent page no parent has) is left as it came; the first is
     * still rewritten. */
    {
        struct ckpt_pm_entry bad[] = {{0x90 * P, 1, PARENT}};
        struct ckpt_pm_entry fin2[] = {{0x10 * P, 1, PARENT}};
        unsigned char *bytes = NULL;
        size_t blen = 0;
        struct ckpt_pagemap pm = pm_of(2, bad, 1);
        int fd2;
        write_image(images, "3", "../2", 1, fin2, 1, 4);
        fd2 = openat(images, "3", O_RDONLY | O_DIRECTORY);
        assert_true(fd2 >= 0);
        assert_int_equal(ckpt_pagemap_encode(&pm, &bytes, &blen, &err), 0);
        assert_int_equal(brig_write_file_atomic_at(fd2, "pagemap-2.img", (const char *) bytes, blen, 0600, &err), 0);
        free(bytes);
        close(fd2);
        /* Its base, in "2", has another page only. */
        struct ckpt_pm_entry other[] = {{0x80 * P, 1, PRESENT}};
        pm = pm_of(2, other, 1);
        fd2 = openat(images, "2", O_RDONLY | O_DIRECTORY);
        assert_true(fd2 >= 0);
        assert_int_equal(ckpt_pagemap_encode(&pm, &bytes, &blen, &err), 0);
        assert_int_equal(brig_write_file_atomic_at(fd2, "pagemap-2.img", (const char *) bytes, blen, 0600, &err), 0);
        free(bytes);
        close(fd2);
        assert_int_equal(brig_ckpt_local_lazy_prepare(images, "3", &st, &err), 0);
        assert_int_equal(st.tasks, 1);
        assert_int_equal(st.skipped, 1);
        assert_non_null(strstr(st.why, "pagemap-2.img"));
        assert_int_equal(criu_read(images, "3", 0x10 * P, buf), 1);
        assert_string_equal(buf, "1:10000");
    }
    /* Nothing to do for an image without parents. */
    assert_int_equal(brig_ckpt_local_lazy_prepare(images, "1", &st, &err), 0);
    assert_int_equal(st.tasks, 0);
    close(images);
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, tmpl, &err), 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(compat_and_unknown_fields),
        cmocka_unit_test(refuses_unsorted_and_unaligned),
        cmocka_unit_test(patch_copies_what_the_base_has_a_place_for),
        cmocka_unit_test(plan_marks_base_pages_lazy),
        cmocka_unit_test(images_rewritten_read_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
