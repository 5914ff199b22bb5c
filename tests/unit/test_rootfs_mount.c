/* brig_rootfs_prepare + pivot + finalize for real, each run in a child in its own mount namespace that
 * checks the result from inside and reports through its exit status. Also mount option parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs/internal.h"
#include "rootfs/rootfs.h"
#include "util/util.h"

#define CHECK(cond)                                                                                           \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s (errno: %s)\n", __FILE__, __LINE__, #cond,               \
                    strerror(errno));                                                                          \
            return 1;                                                                                          \
        }                                                                                                      \
    } while (0)

struct fixture {
    char tmp[64];
    char bundle[128];
    char rootfs[160];
    struct brig_spec spec;
    struct brig_linux lin;
    struct brig_rootfs_ctx ctx;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void make_dirs(int dirfd, const char *const *dirs)
{
    for (; *dirs; dirs++)
        assert_int_equal(mkdirat(dirfd, *dirs, 0755), 0);
}

static void touch(int dirfd, const char *path)
{
    int fd = openat(dirfd, path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static int setup(void **state)
{
    static const char *const dirs[] = {"proc", "dev", "sys", "tmp", "etc", "secret", "rodir", "mnt", NULL};
    struct fixture *f = calloc(1, sizeof(*f));
    int rootfd, bundlefd;

    assert_non_null(f);
    strcpy(f->tmp, "/tmp/brig-rootfs-mount-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->bundle, sizeof(f->bundle), "%s/bundle", f->tmp);
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->bundle);
    assert_int_equal(mkdir(f->bundle, 0755), 0);
    assert_int_equal(mkdir(f->rootfs, 0755), 0);
    rootfd = open(f->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    bundlefd = open(f->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    make_dirs(rootfd, dirs);
    touch(rootfd, "secret/hidden");
    touch(rootfd, "etc/hostname");
    assert_int_equal(mkdirat(bundlefd, "data", 0755), 0);
    touch(bundlefd, "data/hello");
    close(rootfd);
    close(bundlefd);

    f->spec.linux_cfg = &f->lin;
    f->ctx = (struct brig_rootfs_ctx){.spec = &f->spec, .rootfs = f->rootfs, .bundle = f->bundle};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    nftw(f->tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Runs `fn` in a child in a new mount namespace; returns its exit status. */
static int run_in_mount_ns(int (*fn)(struct fixture *), struct fixture *f)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0) {
            perror("unshare");
            _exit(99);
        }
        _exit(fn(f));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int report(const char *step, struct brig_err *err)
{
    fprintf(stderr, "%s: %s\n", step, err ? err->msg : "(no message)");
    return 1;
}

static bool is_fs(const char *path, long magic)
{
    struct statfs sfs;
    return statfs(path, &sfs) == 0 && sfs.f_type == magic;
}

static bool is_readonly(const char *path)
{
    struct statvfs sv;
    return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

static bool is_char_dev(const char *path, unsigned int major, unsigned int minor, mode_t perm)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(major, minor) &&
           (st.st_mode & 07777) == perm;
}

static bool link_is(const char *path, const char *target)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);

    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, target) == 0;
}

static int prepare_pivot_finalize(struct fixture *f)
{
    cleanup_err struct brig_err *err = NULL;

    if (brig_rootfs_prepare(&f->ctx, &err) < 0)
        return report("prepare", err);
    if (brig_rootfs_pivot(&f->ctx, &err) < 0)
        return report("pivot", err);
    if (brig_rootfs_finalize(&f->ctx, &err) < 0)
        return report("finalize", err);
    return 0;
}

static struct brig_mount full_mounts[] = {
    {.destination = "/proc", .type = "proc", .source = "proc"},
    {.destination = "/dev", .type = "tmpfs", .source = "tmpfs",
     .options = (char *[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL}, .n_options = 4},
    {.destination = "/dev/pts", .type = "devpts", .source = "devpts",
     .options = (char *[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL},
     .n_options = 5},
    {.destination = "/dev/shm", .type = "tmpfs", .source = "shm",
     .options = (char *[]){"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}, .n_options = 5},
    {.destination = "/sys", .type = "sysfs", .source = "sysfs",
     .options = (char *[]){"nosuid", "noexec", "nodev", "ro", NULL}, .n_options = 4},
    {.destination = "/sys/fs/cgroup", .type = "cgroup", .source = "cgroup",
     .options = (char *[]){"nosuid", "noexec", "nodev", "relatime", "ro", NULL}, .n_options = 5},
    /* Relative source: relative to the bundle; the destination's parent does not exist yet. */
    {.destination = "/mnt/data/deep", .type = "bind", .source = "data",
     .options = (char *[]){"rbind", "ro", "rprivate", NULL}, .n_options = 3},
    {.destination = "/mnt/hello", .type = "none", .source = "data/hello",
     .options = (char *[]){"bind", "rro", "rnosuid", NULL}, .n_options = 3},
};

static struct brig_device full_devices[] = {
    {.type = "c", .path = "/dev/mydev", .major = 1, .minor = 3, .file_mode = {true, 0600}},
    {.type = "p", .path = "/dev/sub/fifo", .file_mode = {true, 0640}, .uid = {true, 1000}, .gid = {true, 1001}},
};

static void use_full_config(struct fixture *f)
{
    static char *masked[] = {"/secret", "/etc/hostname", "/nonexistent", "/proc/kcore", NULL};
    static char *readonly[] = {"/rodir", "/proc/sys", "/missing", NULL};

    f->spec.mounts = full_mounts;
    f->spec.n_mounts = ARRAY_SIZE(full_mounts);
    f->lin.devices = full_devices;
    f->lin.n_devices = ARRAY_SIZE(full_devices);
    f->lin.masked_paths = masked;
    f->lin.n_masked_paths = 4;
    f->lin.readonly_paths = readonly;
    f->lin.n_readonly_paths = 3;
}

static int check_full(struct fixture *f)
{
    char cwd[PATH_MAX];
    struct stat st;
    int fd;

    if (prepare_pivot_finalize(f))
        return 1;

    CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
    /* The host's root is gone: its files are not reachable. */
    CHECK(access("/etc/debian_version", F_OK) < 0 && errno == ENOENT);
    CHECK(access("/mnt/sandboxing", F_OK) < 0);

    CHECK(is_fs("/proc", PROC_SUPER_MAGIC));
    CHECK(access("/proc/self/status", R_OK) == 0);
    CHECK(is_fs("/dev", TMPFS_MAGIC));
    CHECK(is_fs("/dev/pts", DEVPTS_SUPER_MAGIC));
    CHECK(is_fs("/dev/shm", TMPFS_MAGIC));
    CHECK(is_char_dev("/dev/null", 1, 3, 0666));
    CHECK(is_char_dev("/dev/urandom", 1, 9, 0666));
    CHECK(is_char_dev("/dev/tty", 5, 0, 0666));
    CHECK(is_char_dev("/dev/mydev", 1, 3, 0600));
    CHECK(stat("/dev/sub/fifo", &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640 &&
          st.st_uid == 1000 && st.st_gid == 1001);
    CHECK(link_is("/dev/fd", "/proc/self/fd"));
    CHECK(link_is("/dev/stdin", "/proc/self/fd/0"));
    CHECK(link_is("/dev/stderr", "/proc/self/fd/2"));
    CHECK(link_is("/dev/ptmx", "pts/ptmx"));
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1);
    close(fd);

    CHECK(is_fs("/sys", SYSFS_MAGIC) && is_readonly("/sys"));
    CHECK(is_fs("/sys/fs/cgroup", TMPFS_MAGIC) && is_readonly("/sys/fs/cgroup"));
    CHECK(is_fs("/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC) && is_readonly("/sys/fs/cgroup/memory"));
    CHECK(access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0);
    CHECK(access("/sys/fs/cgroup/systemd", F_OK) == 0);

    CHECK(access("/mnt/data/deep/hello", F_OK) == 0 && is_readonly("/mnt/data/deep"));
    CHECK(!is_readonly("/mnt/data"));
    CHECK(stat("/mnt/hello", &st) == 0 && S_ISREG(st.st_mode) && is_readonly("/mnt/hello"));

    CHECK(is_fs("/secret", TMPFS_MAGIC) && is_readonly("/secret"));
    CHECK(access("/secret/hidden", F_OK) < 0 && errno == ENOENT);
    CHECK(is_char_dev("/etc/hostname", 1, 3, 0666));
    CHECK(access("/nonexistent", F_OK) < 0);
    CHECK(is_readonly("/rodir") && !is_readonly("/"));
    CHECK(is_readonly("/proc/sys") && !is_readonly("/proc"));
    CHECK(mkdir("/tmp/writable", 0755) == 0);
    return 0;
}

static void test_full_rootfs(void **state)
{
    struct fixture *f = *state;

    use_full_config(f);
    assert_int_equal(run_in_mount_ns(check_full, f), 0);
}

static int check_full_shared(struct fixture *f)
{
    cleanup_free char *mountinfo = NULL;
    char *root_line;

    if (check_full(f))
        return 1;
    CHECK(brig_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mountinfo, NULL, NULL) == 0);
    /* The first entry is the root mount. */
    root_line = strtok(mountinfo, "\n");
    CHECK(root_line && strstr(root_line, " / ") && strstr(root_line, "shared:"));
    return 0;
}

static void test_full_rootfs_rshared(void **state)
{
    struct fixture *f = *state;

    use_full_config(f);
    f->lin.rootfs_propagation = "rshared";
    assert_int_equal(run_in_mount_ns(check_full_shared, f), 0);
}

static int check_readonly_no_pivot_userns_devices(struct fixture *f)
{
    char cwd[PATH_MAX];

    if (prepare_pivot_finalize(f))
        return 1;
    CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
    CHECK(access("/etc/debian_version", F_OK) < 0);
    CHECK(is_readonly("/"));
    CHECK(mkdir("/tmp/x", 0755) < 0 && errno == EROFS);
    /* in_user_ns: devices are the host's nodes bound onto files in /dev. */
    CHECK(is_char_dev("/dev/null", 1, 3, 0666));
    CHECK(is_char_dev("/dev/zero", 1, 5, 0666));
    CHECK(is_fs("/dev", TMPFS_MAGIC));
    CHECK(is_fs("/proc", PROC_SUPER_MAGIC));
    return 0;
}

static void test_readonly_root_no_pivot(void **state)
{
    struct fixture *f = *state;
    static struct brig_mount mounts[] = {
        {.destination = "/proc", .type = "proc", .source = "proc"},
        {.destination = "/dev", .type = "tmpfs", .source = "tmpfs"},
    };

    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    f->spec.root_readonly = true;
    f->ctx.no_pivot = true;
    f->ctx.in_user_ns = true;
    assert_int_equal(run_in_mount_ns(check_readonly_no_pivot_userns_devices, f), 0);
}

/* --no-pivot keeps the host's root under the rootfs (only pivot_root takes it away), but nothing mounted on
 * it: back on it (through an fd kept from before), neither the host's proc nor its sysfs is there. */
static int check_no_pivot_detaches_host_mounts(struct fixture *f)
{
    cleanup_close int host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

    CHECK(host_root >= 0 && is_fs("/proc", PROC_SUPER_MAGIC) && is_fs("/sys", SYSFS_MAGIC));
    if (prepare_pivot_finalize(f))
        return 1;
    CHECK(is_fs("/proc", PROC_SUPER_MAGIC));
    CHECK(fchdir(host_root) == 0 && chroot(".") == 0);
    CHECK(access("/tmp", F_OK) == 0);
    CHECK(!is_fs("/proc", PROC_SUPER_MAGIC));
    CHECK(!is_fs("/sys", SYSFS_MAGIC));
    return 0;
}

static void test_no_pivot_detaches_host_mounts(void **state)
{
    struct fixture *f = *state;
    static struct brig_mount mounts[] = {
        {.destination = "/proc", .type = "proc", .source = "proc"},
        {.destination = "/dev", .type = "tmpfs", .source = "tmpfs"},
    };

    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    f->ctx.no_pivot = true;
    assert_int_equal(run_in_mount_ns(check_no_pivot_detaches_host_mounts, f), 0);
}

/* A read-only /dev and a read-only tmpfs stay writable until their submount points, nodes and links are
 * made, and are read-only after finalize. */
static int check_readonly_with_submounts(struct fixture *f)
{
    if (prepare_pivot_finalize(f))
        return 1;
    CHECK(is_fs("/dev", TMPFS_MAGIC) && is_readonly("/dev"));
    CHECK(mkdir("/dev/x", 0755) < 0 && errno == EROFS);
    CHECK(is_fs("/dev/pts", DEVPTS_SUPER_MAGIC));
    CHECK(is_fs("/dev/shm", TMPFS_MAGIC) && !is_readonly("/dev/shm"));
    CHECK(is_char_dev("/dev/null", 1, 3, 0666));
    CHECK(link_is("/dev/ptmx", "pts/ptmx"));
    CHECK(is_fs("/tmp", TMPFS_MAGIC) && is_readonly("/tmp"));
    CHECK(is_fs("/tmp/sub/deeper", TMPFS_MAGIC) && !is_readonly("/tmp/sub/deeper"));
    return 0;
}

static void test_readonly_with_submounts(void **state)
{
    struct fixture *f = *state;
    struct brig_mount mounts[] = {
        {.destination = "/proc", .type = "proc", .source = "proc"},
        {.destination = "/dev/", .type = "tmpfs", .source = "tmpfs", .options = (char *[]){"ro", NULL}, .n_options = 1},
        {.destination = "/dev/pts", .type = "devpts", .source = "devpts",
         .options = (char *[]){"newinstance", "ptmxmode=0666", NULL}, .n_options = 2},
        {.destination = "/dev/shm", .type = "tmpfs", .source = "shm"},
        {.destination = "/tmp", .type = "tmpfs", .source = "tmpfs", .options = (char *[]){"ro", NULL}, .n_options = 1},
        {.destination = "/tmp/sub/deeper", .type = "tmpfs", .source = "tmpfs"},
    };

    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    assert_int_equal(run_in_mount_ns(check_readonly_with_submounts, f), 0);
}

/* proc is not mounted where a symlink in the image points (CVE-2019-19921). */
static int check_proc_symlink_refused(struct fixture *f)
{
    cleanup_err struct brig_err *err = NULL;
    char tmp_in_rootfs[256];

    CHECK(brig_rootfs_prepare(&f->ctx, &err) == -ELOOP && err);
    CHECK(strcmp(err->msg, "mounts[0]: destination `/proc`: must be mounted on an ordinary directory, not "
                           "through a symlink") == 0);
    snprintf(tmp_in_rootfs, sizeof(tmp_in_rootfs), "%s/tmp", f->rootfs);
    CHECK(!is_fs(tmp_in_rootfs, PROC_SUPER_MAGIC));
    return 0;
}

static void test_proc_symlink_refused(void **state)
{
    struct fixture *f = *state;
    static struct brig_mount mounts[] = {
        {.destination = "/proc", .type = "proc", .source = "proc"},
    };
    int rootfd = open(f->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

    assert_true(rootfd >= 0);
    assert_int_equal(unlinkat(rootfd, "proc", AT_REMOVEDIR), 0);
    assert_int_equal(symlinkat("/tmp", rootfd, "proc"), 0);
    close(rootfd);
    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    assert_int_equal(run_in_mount_ns(check_proc_symlink_refused, f), 0);
}

static void test_parse_mountinfo_line(void **state)
{
    char line[] = "36 25 0:32 /sub /mnt/with\\040space rw,nosuid master:1 shared:7 - tmpfs none rw,size=8k";
    char private_line[] = "22 1 0:21 / /proc rw - proc proc rw";
    struct brig_mountinfo_entry e;

    assert_true(brig_mountinfo_parse_line(line, &e));
    assert_int_equal(e.id, 36);
    assert_int_equal(e.parent_id, 25);
    assert_string_equal(e.root, "/sub");
    assert_string_equal(e.mount_point, "/mnt/with space");
    assert_string_equal(e.fstype, "tmpfs");
    assert_string_equal(e.super_opts, "rw,size=8k");
    assert_true(e.shared);
    assert_true(brig_mountinfo_parse_line(private_line, &e));
    assert_false(e.shared);
    assert_string_equal(e.mount_point, "/proc");
}

/* An image mounted at the rootfs path (as an overlay would be) and shared: pivot_root must still work. */
static int check_shared_rootfs_mount(struct fixture *f)
{
    char proc_dir[256];

    snprintf(proc_dir, sizeof(proc_dir), "%s/proc", f->rootfs);
    CHECK(mount("tmpfs", f->rootfs, "tmpfs", 0, "mode=755") == 0);
    CHECK(mount(NULL, f->rootfs, NULL, MS_SHARED, NULL) == 0);
    CHECK(mkdir(proc_dir, 0755) == 0);
    if (prepare_pivot_finalize(f))
        return 1;
    CHECK(is_fs("/", TMPFS_MAGIC));
    CHECK(is_fs("/proc", PROC_SUPER_MAGIC));
    CHECK(is_char_dev("/dev/null", 1, 3, 0666));
    return 0;
}

static void test_shared_rootfs_mount_point(void **state)
{
    struct fixture *f = *state;
    static struct brig_mount mounts[] = {
        {.destination = "/proc", .type = "proc", .source = "proc"},
        {.destination = "/dev", .type = "tmpfs", .source = "tmpfs"},
    };

    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    f->lin.rootfs_propagation = "shared";
    assert_int_equal(run_in_mount_ns(check_shared_rootfs_mount, f), 0);
}

/* Set by the escape test: host paths a rootfs symlink points at. */
static char escape_abs[128], escape_rel[128];

static int check_escape(struct fixture *f)
{
    cleanup_err struct brig_err *err = NULL;
    char inside[PATH_MAX];
    struct stat st;

    if (brig_rootfs_prepare(&f->ctx, &err) < 0)
        return report("prepare", err);
    /* Nothing was mounted or created on the host's paths... */
    CHECK(!is_fs(escape_abs, TMPFS_MAGIC) && !is_fs(escape_rel, TMPFS_MAGIC));
    snprintf(inside, sizeof(inside), "%s/devnode", escape_rel);
    CHECK(lstat(inside, &st) < 0 && errno == ENOENT);
    snprintf(inside, sizeof(inside), "%s/file", escape_abs);
    CHECK(lstat(inside, &st) < 0 && errno == ENOENT);
    /* ...but on the same paths taken inside the rootfs. */
    snprintf(inside, sizeof(inside), "%s%s", f->rootfs, escape_abs);
    CHECK(is_fs(inside, TMPFS_MAGIC));
    snprintf(inside, sizeof(inside), "%s%s/file", f->rootfs, escape_abs);
    CHECK(stat(inside, &st) == 0 && S_ISREG(st.st_mode));
    snprintf(inside, sizeof(inside), "%s/hostside-rel", f->rootfs);
    CHECK(is_fs(inside, TMPFS_MAGIC));
    snprintf(inside, sizeof(inside), "%s/hostside-rel/devnode", f->rootfs);
    CHECK(stat(inside, &st) == 0 && S_ISCHR(st.st_mode));
    return 0;
}

static void test_symlinked_destinations_stay_inside(void **state)
{
    struct fixture *f = *state;
    struct brig_mount mounts[] = {
        {.destination = "/abs", .type = "tmpfs", .source = "tmpfs"},
        {.destination = "/rel", .type = "tmpfs", .source = "tmpfs"},
        {.destination = "/abs/file", .type = "bind", .source = "data/hello", .options = (char *[]){"bind", NULL},
         .n_options = 1},
    };
    static struct brig_device devices[] = {
        {.type = "c", .path = "/rel/devnode", .major = 1, .minor = 3},
    };
    int rootfd;
    struct stat st;

    snprintf(escape_abs, sizeof(escape_abs), "%s/hostside-abs", f->tmp);
    snprintf(escape_rel, sizeof(escape_rel), "%s/hostside-rel", f->tmp);
    assert_int_equal(mkdir(escape_abs, 0755), 0);
    assert_int_equal(mkdir(escape_rel, 0755), 0);
    rootfd = open(f->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(symlinkat(escape_abs, rootfd, "abs"), 0);
    assert_int_equal(symlinkat("../../hostside-rel", rootfd, "rel"), 0);
    close(rootfd);

    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    f->lin.devices = devices;
    f->lin.n_devices = ARRAY_SIZE(devices);
    assert_int_equal(run_in_mount_ns(check_escape, f), 0);

    /* And the host saw nothing in its own namespace either. */
    assert_int_equal(rmdir(escape_abs), 0);
    assert_int_equal(rmdir(escape_rel), 0);
    assert_int_equal(lstat("/dev/null", &st), 0);
}

static int check_mount_error(struct fixture *f)
{
    cleanup_err struct brig_err *err = NULL;
    int r = brig_rootfs_prepare(&f->ctx, &err);

    CHECK(r == -EINVAL && err);
    fprintf(stderr, "expected error: %s\n", err->msg);
    CHECK(strcmp(err->msg, "mounts[1]: mount `tmpfs` on `/dev` (tmpfs): Invalid argument") == 0);
    return 0;
}

static void test_mount_error_names_the_mount(void **state)
{
    struct fixture *f = *state;
    struct brig_mount mounts[] = {
        {.destination = "/proc", .type = "proc", .source = "proc"},
        {.destination = "/dev", .type = "tmpfs", .source = "tmpfs",
         .options = (char *[]){"size=bogus", NULL}, .n_options = 1},
    };

    f->spec.mounts = mounts;
    f->spec.n_mounts = ARRAY_SIZE(mounts);
    assert_int_equal(run_in_mount_ns(check_mount_error, f), 0);
}

static void test_parse_options(void **state)
{
    char *options[] = {"ro", "nosuid", "rbind", "rprivate", "rro", "rnoatime", "mode=755",
                       "tmpcopyup", "size=1m", "rw", "noexec", "shared"};
    cleanup_mount_opts struct brig_mount_opts opts = {0};

    assert_int_equal(brig_mount_opts_parse(options, ARRAY_SIZE(options), &opts, NULL), 0);
    assert_int_equal(opts.flags, MS_NOSUID | MS_BIND | MS_REC | MS_NOEXEC);
    assert_int_equal(opts.n_propagation, 2);
    assert_int_equal(opts.propagation[0], MS_PRIVATE | MS_REC);
    assert_int_equal(opts.propagation[1], MS_SHARED);
    assert_true(opts.has_rec_attr);
    assert_int_equal(opts.rec_attr.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
    assert_int_equal(opts.rec_attr.attr_clr, MOUNT_ATTR__ATIME);
    assert_string_equal(opts.data, "mode=755,size=1m");
}

static void test_parse_no_data(void **state)
{
    char *options[] = {"nosuid", "nodev", "strictatime"};
    cleanup_mount_opts struct brig_mount_opts opts = {0};

    assert_int_equal(brig_mount_opts_parse(options, ARRAY_SIZE(options), &opts, NULL), 0);
    assert_null(opts.data);
    assert_false(opts.has_rec_attr);
    assert_int_equal(opts.flags, MS_NOSUID | MS_NODEV | MS_STRICTATIME);
    assert_int_equal(brig_propagation_flags("rslave"), MS_SLAVE | MS_REC);
    assert_int_equal(brig_propagation_flags("bogus"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_parse_no_data),
        cmocka_unit_test_setup_teardown(test_full_rootfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_rootfs_rshared, setup, teardown),
        cmocka_unit_test(test_parse_mountinfo_line),
        cmocka_unit_test_setup_teardown(test_readonly_root_no_pivot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_pivot_detaches_host_mounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_with_submounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proc_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_rootfs_mount_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_destinations_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_error_names_the_mount, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
