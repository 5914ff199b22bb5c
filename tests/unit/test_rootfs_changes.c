/* brig_overlay_changes over layers made by hand, with every whiteout and opaque form it knows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "rootfs/rootfs.h"
#include "util/util.h"

struct lines {
    char *text[64];
    size_t n;
};

static int collect(const struct brig_change *c, void *data)
{
    struct lines *l = data;

    assert_true(l->n < 64);
    assert_int_not_equal(asprintf(&l->text[l->n++], "%c %s", (char) c->kind, c->path), -1);
    /* Only deletions that an opaque directory implies have no upper entry. */
    assert_true(c->st != NULL || (c->kind == BRIG_CHANGE_DELETED && c->dir_fd < 0));
    return 0;
}

static int compare(const void *a, const void *b)
{
    return strcmp(*(char *const *) a + 2, *(char *const *) b + 2);
}

static void put(const char *root, const char *path, const char *text)
{
    char full[256];
    struct brig_err *err = NULL;

    snprintf(full, sizeof(full), "%s/%s", root, path);
    assert_int_equal(brig_write_file_atomic_at(AT_FDCWD, full, text, strlen(text), 0644, &err), 0);
}

static void dir(const char *root, const char *path)
{
    char full[256];
    struct brig_err *err = NULL;

    snprintf(full, sizeof(full), "%s/%s", root, path);
    assert_int_equal(brig_mkdir_p(full, 0755, &err), 0);
}

static void xattr(const char *root, const char *path, const char *name, const char *value)
{
    char full[256];

    snprintf(full, sizeof(full), "%s/%s", root, path);
    assert_int_equal(lsetxattr(full, name, value, strlen(value), 0), 0);
}

static void test_changes(void **state)
{
    char base[] = "/tmp/brig-changes-XXXXXX";
    char bottom[64], top[64], upper[64], whiteout[128];
    char *lowers[2] = {bottom, top};
    struct brig_err *err = NULL;
    struct lines got = {0};
    static const char *const want[] = {
        "C /etc",       "D /etc/hosts", "D /etc/motd", "C /etc/passwd", "D /gone", "A /new",
        "C /opq",       "C /opq/a",     "A /opq/a/sub", "D /opq/c",     "C /var", "C /var/lib",
        "A /var/lib/x",
    };

    (void) state;
    if (geteuid() != 0)
        skip(); /* 0:0 devices and trusted.* xattrs */
    assert_non_null(mkdtemp(base));
    snprintf(bottom, sizeof(bottom), "%s/l0", base);
    snprintf(top, sizeof(top), "%s/l1", base);
    snprintf(upper, sizeof(upper), "%s/up", base);
    dir(bottom, "etc");
    dir(bottom, "var/lib");
    dir(bottom, "opq");
    put(bottom, "etc/passwd", "root");
    put(bottom, "etc/hosts", "localhost");
    put(bottom, "etc/motd", "hi");
    put(bottom, "var/lib/x", "x");
    put(bottom, "opq/a", "a");
    put(bottom, "opq/b", "b");
    put(bottom, "gone", "g");
    dir(top, "opq");
    dir(top, "var/lib");
    put(top, "opq/c", "c");
    /* A layer's own whiteout (b) and the whiteout form of layers on overlay (x). */
    snprintf(whiteout, sizeof(whiteout), "%s/opq/b", top);
    assert_int_equal(mknod(whiteout, S_IFCHR | 0, makedev(0, 0)), 0);
    put(top, "var/lib/x", "");
    xattr(top, "var/lib/x", "trusted.overlay.whiteout", "y");

    dir(upper, "etc");
    put(upper, "etc/passwd", "root:changed");
    put(upper, "new", "n");
    snprintf(whiteout, sizeof(whiteout), "%s/gone", upper);
    assert_int_equal(mknod(whiteout, S_IFCHR | 0, makedev(0, 0)), 0);
    put(upper, "etc/.wh.hosts", "");                             /* fuse-overlayfs's whiteout */
    put(upper, "etc/motd", "");                                  /* user.overlay.whiteout form */
    xattr(upper, "etc/motd", "user.overlay.whiteout", "y");
    dir(upper, "opq/a/sub");                                     /* a replaced a file, opaque parent */
    xattr(upper, "opq", "trusted.overlay.opaque", "y");
    dir(upper, "var/lib");
    put(upper, "var/lib/x", "new x");                            /* over a whiteout: added */

    assert_int_equal(brig_overlay_changes(upper, lowers, 2, collect, &got, &err), 0);
    assert_null(err);
    qsort(got.text, got.n, sizeof(char *), compare);
    for (size_t i = 0; i < got.n; i++)
        fprintf(stderr, "# %s\n", got.text[i]);
    assert_int_equal(got.n, ARRAY_SIZE(want));
    for (size_t i = 0; i < got.n; i++) {
        assert_string_equal(got.text[i], want[i]);
        free(got.text[i]);
    }
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, base, &err), 0);
}

static int stop_at_first(const struct brig_change *c, void *data)
{
    (void) c;
    (void) data;
    return -EIO;
}

static void test_changes_errors(void **state)
{
    char base[] = "/tmp/brig-changes-XXXXXX";
    char missing[64], upper[64];
    char *lowers[1] = {missing};
    struct brig_err *err = NULL;

    (void) state;
    assert_non_null(mkdtemp(base));
    snprintf(missing, sizeof(missing), "%s/nope", base);
    snprintf(upper, sizeof(upper), "%s/up", base);
    dir(upper, "a");
    assert_int_equal(brig_overlay_changes(upper, lowers, 1, collect, NULL, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "layer `"));
    brig_err_free(&err);
    lowers[0] = base;
    assert_int_equal(brig_overlay_changes(upper, lowers, 1, stop_at_first, NULL, &err), -EIO);
    assert_non_null(strstr(err->msg, "/a"));
    brig_err_free(&err);
    assert_int_equal(brig_remove_tree_at(AT_FDCWD, base, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_changes_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
