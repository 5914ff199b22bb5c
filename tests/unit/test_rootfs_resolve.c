/* brig_rootfs_open_in_root / brig_rootfs_mkdir_in_root: nothing a rootfs symlink says leads out of it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs/rootfs.h"
#include "util/util.h"

struct fixture {
    char tmp[64];
    char root[128];
    char outside[128];
    int rootfd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->tmp, "/tmp/brig-rootfs-resolve-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->root, sizeof(f->root), "%s/root", f->tmp);
    snprintf(f->outside, sizeof(f->outside), "%s/outside", f->tmp);
    assert_int_equal(mkdir(f->root, 0755), 0);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    close(f->rootfd);
    nftw(f->tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static bool exists_at(const char *dir, const char *rel, mode_t type)
{
    cleanup_close int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;

    return dirfd >= 0 && fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == type;
}

static void test_absolute_symlink_stays_inside(void **state)
{
    struct fixture *f = *state;
    char inside[PATH_MAX];
    int fd;

    /* rootfs/abs -> the host's `outside` directory, by its absolute host path. */
    assert_int_equal(symlinkat(f->outside, f->rootfd, "abs"), 0);
    close(open(strcat(strcpy(inside, f->outside), "/secret"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));

    assert_int_equal(brig_rootfs_open_in_root(f->rootfd, "abs/secret", O_RDONLY, 0), -ENOENT);
    assert_int_equal(brig_rootfs_open_in_root(f->rootfd, "/abs/secret", O_PATH, 0), -ENOENT);

    fd = brig_rootfs_mkdir_in_root(f->rootfd, "/abs/newdir", false, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_false(exists_at(f->outside, "newdir", S_IFDIR));
    snprintf(inside, sizeof(inside), "%s%s/newdir", f->root, f->outside);
    assert_true(exists_at(inside, ".", S_IFDIR));

    fd = brig_rootfs_mkdir_in_root(f->rootfd, "abs/file", true, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_false(exists_at(f->outside, "file", S_IFREG));
    snprintf(inside, sizeof(inside), "%s%s", f->root, f->outside);
    assert_true(exists_at(inside, "file", S_IFREG));
}

static void test_relative_symlink_stays_inside(void **state)
{
    struct fixture *f = *state;
    int fd;

    assert_int_equal(symlinkat("../../../../../../../../..", f->rootfd, "up"), 0);
    assert_int_equal(symlinkat("../outside", f->rootfd, "sibling"), 0);

    fd = brig_rootfs_mkdir_in_root(f->rootfd, "up/brig-escape-test", false, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_at(f->root, "brig-escape-test", S_IFDIR));
    assert_false(exists_at("/", "brig-escape-test", S_IFDIR));

    fd = brig_rootfs_mkdir_in_root(f->rootfd, "sibling/x", true, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_false(exists_at(f->outside, "x", S_IFREG));
    assert_true(exists_at(f->root, "outside/x", S_IFREG));

    /* The opened fd is the inside one. */
    fd = brig_rootfs_open_in_root(f->rootfd, "up/up/up/outside/x", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
}

static void test_dotdot_components(void **state)
{
    struct fixture *f = *state;
    int fd = brig_rootfs_mkdir_in_root(f->rootfd, "/../../a/../b/./c/", false, NULL);

    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_at(f->root, "a", S_IFDIR));
    assert_true(exists_at(f->root, "b/c", S_IFDIR));
    assert_false(exists_at(f->tmp, "b", S_IFDIR));
}

static void test_nested_file_and_dir(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    int fd = brig_rootfs_mkdir_in_root(f->rootfd, "d1/d2/f", true, NULL);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    close(fd);
    assert_true(exists_at(f->root, "d1/d2", S_IFDIR));

    /* Existing: returned as is. */
    fd = brig_rootfs_mkdir_in_root(f->rootfd, "d1/d2/f", true, NULL);
    assert_true(fd >= 0);
    close(fd);
    fd = brig_rootfs_mkdir_in_root(f->rootfd, "d1", false, NULL);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    close(fd);
}

static void test_file_in_the_way(void **state)
{
    struct fixture *f = *state;
    cleanup_err struct brig_err *err = NULL;
    int fd = brig_rootfs_mkdir_in_root(f->rootfd, "d/f", true, NULL);

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(brig_rootfs_mkdir_in_root(f->rootfd, "d/f/sub", false, &err), -ENOTDIR);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "d/f/sub"));
}

static void test_dangling_symlinks_are_created_inside(void **state)
{
    struct fixture *f = *state;
    int fd;

    assert_int_equal(symlinkat("/made/here", f->rootfd, "dang"), 0);
    fd = brig_rootfs_mkdir_in_root(f->rootfd, "dang/sub", false, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_at(f->root, "made/here/sub", S_IFDIR));

    assert_int_equal(mkdirat(f->rootfd, "x", 0755), 0);
    assert_int_equal(symlinkat("../../../rt", f->rootfd, "x/rl"), 0);
    fd = brig_rootfs_mkdir_in_root(f->rootfd, "x/rl", true, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_at(f->root, "rt", S_IFREG));
    assert_false(exists_at(f->tmp, "rt", S_IFREG));
}

static void test_symlink_loop(void **state)
{
    struct fixture *f = *state;
    cleanup_err struct brig_err *err = NULL;

    assert_int_equal(symlinkat("loop2", f->rootfd, "loop1"), 0);
    assert_int_equal(symlinkat("loop1", f->rootfd, "loop2"), 0);
    assert_int_equal(brig_rootfs_mkdir_in_root(f->rootfd, "loop1/x", false, &err), -ELOOP);
    assert_non_null(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_absolute_symlink_stays_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_symlink_stays_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_components, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_file_and_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_in_the_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling_symlinks_are_created_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
