/* Making the rootfs the container's "/". */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "util/util.h"

/* The host's mount table as the init sees it after the rootfs moved onto "/", split in place. */
struct mount_table {
    char *text;
    struct brig_mountinfo_entry *entries;
    size_t n;
    int old_root_id; /* the mount the rootfs now sits on: the host's root */
    int new_root_id; /* the rootfs */
};

static void mount_table_free(struct mount_table *t)
{
    free(t->text);
    free(t->entries);
}

static int mount_id(int fd, int *id)
{
    struct statx stx;

    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0)
        return -errno;
    if (!(stx.stx_mask & STATX_MNT_ID))
        return -EOPNOTSUPP;
    *id = (int) stx.stx_mnt_id;
    return 0;
}

static int read_mount_table(struct mount_table *t, struct brig_err **err)
{
    size_t lines = 1;
    char *save = NULL;
    int r;

    r = brig_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &t->text, NULL, err);
    if (r < 0)
        return r;
    for (const char *p = t->text; *p; p++)
        lines += *p == '\n';
    t->entries = calloc(lines, sizeof(*t->entries));
    if (!t->entries)
        return brig_err_set(err, ENOMEM, "read the mount table");
    for (char *line = strtok_r(t->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (brig_mountinfo_parse_line(line, &t->entries[t->n]))
            t->n++;
    return 0;
}

static const struct brig_mountinfo_entry *find_mount(const struct mount_table *t, int id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->entries[i].id == id)
            return &t->entries[i];
    return NULL;
}

/* The child of the host's root that `e` hangs under (e itself when it is one); NULL for the rootfs and
 * what it holds, and for what hangs nowhere we can see. */
static const struct brig_mountinfo_entry *host_top(const struct mount_table *t,
                                                   const struct brig_mountinfo_entry *e)
{
    for (size_t hops = 0; e && hops <= t->n; hops++) {
        if (e->id == t->new_root_id || e->id == t->old_root_id)
            return NULL;
        if (e->parent_id == t->old_root_id)
            return e;
        e = find_mount(t, e->parent_id);
    }
    return NULL;
}

/* A mount stacked on `e`'s own root, at the same mount point. */
static const struct brig_mountinfo_entry *stacked_on(const struct mount_table *t,
                                                     const struct brig_mountinfo_entry *e)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->entries[i].parent_id == e->id && strcmp(t->entries[i].mount_point, e->mount_point) == 0)
            return &t->entries[i];
    return NULL;
}

/* Detaches the host mount `top` (a child of the host's root) with everything on and under it. An unmount
 * propagates to the peers of the unmounted mount's parent, the host's own mounts among them: each
 * subtree is made private first, and a stack whose lower mounts are shared is left alone. False when
 * something stays (mounts copied into a user namespace are locked to their parents). Paths resolve from
 * the host's root, which is still the init's root: the rootfs on top of it is not crossed. */
static bool detach_host_mount(const struct mount_table *t, const struct brig_mountinfo_entry *top)
{
    size_t depth = 1;

    for (const struct brig_mountinfo_entry *m = top, *up; (up = stacked_on(t, m)); m = up, depth++)
        if (m->shared || depth > t->n)
            return false;
    for (size_t i = 0; i < depth; i++)
        if (mount(NULL, top->mount_point, NULL, MS_PRIVATE | MS_REC, NULL) < 0 ||
            umount2(top->mount_point, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            return false;
    return true;
}

/* --no-pivot leaves the host's mount tree under the rootfs: the kernel lets a process that makes its own
 * user namespace mount a new proc or sysfs while a full one is anywhere in its mount namespace, and the
 * container could reach the rest by escaping the chroot. Every host mount but the root itself (which only
 * pivot_root can take away) is detached; what cannot be (locked, in a user namespace) gets its proc and
 * sysfs mounts covered with an empty read-only tmpfs, which a new user namespace cannot take off. */
static int detach_host_mounts(int old_root, int new_root, struct brig_err **err)
{
    char proc_path[BRIG_PROC_FD_LEN];
    struct mount_table t = {0};
    bool *stays = NULL;
    int r;

    r = mount_id(old_root, &t.old_root_id);
    if (r == 0)
        r = mount_id(new_root, &t.new_root_id);
    if (r < 0)
        return brig_err_set(err, -r, "--no-pivot: mount id of the old root");
    r = read_mount_table(&t, err);
    if (r < 0)
        goto out;
    stays = calloc(t.n ? t.n : 1, sizeof(*stays));
    if (!stays) {
        r = brig_err_set(err, ENOMEM, "--no-pivot: detach the host's mounts");
        goto out;
    }
    /* Neither host mounts made later nor our unmounts cross between the namespaces through the old root. */
    if (mount(NULL, brig_proc_fd_path(proc_path, old_root), NULL, MS_PRIVATE, NULL) < 0) {
        r = brig_err_sys(err, "--no-pivot: make the old root private");
        goto out;
    }
    for (size_t i = 0; i < t.n; i++) {
        const struct brig_mountinfo_entry *e = &t.entries[i];
        if (host_top(&t, e) == e && strcmp(e->mount_point, "/") != 0)
            stays[i] = !detach_host_mount(&t, e);
    }
    for (size_t i = 0; i < t.n; i++) {
        const struct brig_mountinfo_entry *e = &t.entries[i], *top = host_top(&t, e);
        if (!top || !stays[top - t.entries] || strcmp(e->root, "/") != 0 ||
            (strcmp(e->fstype, "proc") != 0 && strcmp(e->fstype, "sysfs") != 0))
            continue;
        if (mount("tmpfs", e->mount_point, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0") < 0) {
            r = brig_err_sys(err, "--no-pivot: cover the host's %s `%s`", e->fstype, e->mount_point);
            goto out;
        }
    }
out:
    free(stays);
    mount_table_free(&t);
    return r;
}

static int move_root(const char *rootfs, struct brig_err **err)
{
    cleanup_close int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    cleanup_close int new_root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int r;

    if (old_root < 0)
        return brig_err_sys(err, "open `/`");
    if (new_root < 0)
        return brig_err_sys(err, "open rootfs `%s`", rootfs);
    if (fchdir(new_root) < 0)
        return brig_err_sys(err, "chdir `%s`", rootfs);
    if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return brig_err_sys(err, "move rootfs `%s` to `/`", rootfs);
    r = detach_host_mounts(old_root, new_root, err);
    if (r < 0)
        return r;
    if (chroot(".") < 0)
        return brig_err_sys(err, "chroot `%s`", rootfs);
    return 0;
}

/* pivot_root(".", ".") stacks the old root on top of the new one, so no put_old directory has to
 * exist in the rootfs; the old root is then detached from the top of the stack. */
static int pivot(const char *rootfs, struct brig_err **err)
{
    cleanup_close int fd = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return brig_err_sys(err, "open rootfs `%s`", rootfs);
    if (fchdir(fd) < 0)
        return brig_err_sys(err, "chdir `%s`", rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return brig_err_sys(err, "pivot_root `%s`", rootfs);
    /* Unmount events of a shared old root would unmount the host's mounts too. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return brig_err_sys(err, "make the old root a slave");
    if (umount2(".", MNT_DETACH) < 0)
        return brig_err_sys(err, "detach the old root");
    return 0;
}

int brig_rootfs_pivot(const struct brig_rootfs_ctx *ctx, struct brig_err **err)
{
    int r = ctx->no_pivot ? move_root(ctx->rootfs, err) : pivot(ctx->rootfs, err);

    if (r < 0)
        return r;
    if (chdir("/") < 0)
        return brig_err_sys(err, "chdir `/`");
    return 0;
}
