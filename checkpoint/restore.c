/* Restore of a dumped process tree as a child of the caller. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

#define CKPT_ROOT_DIR "criu-root"
#define CKPT_MAX_INHERITED 8

struct restore_run {
    const struct ckpt_criu *criu;
    criu_opts *o;
    int inherited[CKPT_MAX_INHERITED];
    size_t n_inherited;
    char *root;        /* the bind mount of the rootfs CRIU restores into */
    bool root_mounted;
    char self_cgroup[4096]; /* v2: where we were before joining the container's cgroup ("" if not moved) */
};

static void restore_run_clear(struct restore_run *r)
{
    for (size_t i = 0; i < r->n_inherited; i++)
        close(r->inherited[i]);
    if (r->o)
        r->criu->criu_local_free_opts(r->o);
    if (r->root_mounted)
        umount2(r->root, MNT_DETACH);
    if (r->root)
        rmdir(r->root);
    free(r->root);
}

/* The pipes the dumped init had for stdio are replaced by ours, fd for fd (runc's contract with its callers:
 * containerd and Podman give restore the pipes the restored container is to use). */
static int inherit_stdio(struct restore_run *r, const char *image_path, struct brig_err **err)
{
    cleanup_free char *path = NULL;
    cleanup_free char *json = NULL;
    char **targets = NULL;
    size_t len = 0, n = 0;
    int ret;

    if (asprintf(&path, "%s/%s", image_path, BRIG_CKPT_DESCRIPTORS) < 0)
        return brig_err_set(err, ENOMEM, "%s", BRIG_CKPT_DESCRIPTORS);
    ret = brig_read_file_at(AT_FDCWD, path, &json, &len, err);
    if (ret == 0)
        ret = brig_json_strv_parse(json, len, path, &targets, &n, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < n && i < 3 && ret == 0; i++) {
        if (strncmp(targets[i], "pipe:", 5) != 0)
            continue;
        if (fcntl((int) i, F_GETFD) < 0) {
            ret = brig_err_msg(err, EBADF, "restore: the container's fd %zu was a pipe, and restore has no fd %zu",
                               i, i);
            break;
        }
        if (r->criu->criu_local_add_inherit_fd(r->o, (int) i, targets[i]) < 0)
            ret = brig_err_set(err, ENOMEM, "inherit fd %zu", i);
    }
    brig_strv_free(targets);
    return ret;
}

/* CRIU wants the root it restores into to be a mount point of its own. */
static int mount_root(struct restore_run *r, const struct brig_ckpt_target *t, struct brig_err **err)
{
    if (asprintf(&r->root, "%s/%s", t->scratch_dir, CKPT_ROOT_DIR) < 0) {
        r->root = NULL;
        return brig_err_set(err, ENOMEM, "restore root");
    }
    if (mkdir(r->root, 0700) < 0 && errno != EEXIST)
        return brig_err_sys(err, "restore root `%s`", r->root);
    if (mount(t->rootfs, r->root, NULL, MS_BIND | MS_REC, NULL) < 0)
        return brig_err_sys(err, "bind rootfs `%s` on `%s`", t->rootfs, r->root);
    r->root_mounted = true;
    return 0;
}

/* cgroup v2: criu and the tree it forks start in the container's cgroup, so that what the tree allocates
 * while it is restored is charged there (runc does the same). v1 hierarchies are left to CRIU. */
static int enter_cgroup(struct restore_run *r, const struct brig_ckpt_target *t, struct brig_err **err)
{
    cleanup_free char *self = NULL;
    size_t len = 0;
    char procs[4200];
    char pid[32];
    int ret;

    if (!t->cgroup_path || t->cgroup_mode != BRIG_CGROUP_V2)
        return 0;
    ret = brig_read_file_at(AT_FDCWD, "/proc/self/cgroup", &self, &len, err);
    if (ret < 0)
        return ret;
    if (strncmp(self, "0::", 3) != 0)
        return 0;
    snprintf(r->self_cgroup, sizeof(r->self_cgroup), "%.*s", (int) strcspn(self + 3, "\n"), self + 3);
    snprintf(pid, sizeof(pid), "%d", (int) getpid());
    snprintf(procs, sizeof(procs), "/sys/fs/cgroup%s/cgroup.procs", t->cgroup_path);
    ret = brig_write_file_at(AT_FDCWD, procs, pid, strlen(pid), err);
    if (ret < 0) {
        r->self_cgroup[0] = '\0';
        return brig_err_wrap(err, ret, "join cgroup `%s`", t->cgroup_path);
    }
    return 0;
}

static void leave_cgroup(struct restore_run *r)
{
    char procs[4200];
    char pid[32];

    if (!r->self_cgroup[0])
        return;
    snprintf(pid, sizeof(pid), "%d", (int) getpid());
    snprintf(procs, sizeof(procs), "/sys/fs/cgroup%s/cgroup.procs", r->self_cgroup);
    brig_write_file_at(AT_FDCWD, procs, pid, strlen(pid), NULL);
    r->self_cgroup[0] = '\0';
}

/* libcriu asks for notifications only when a callback is set, and only a notification brings the master of
 * a restored pty: nothing to do here, the fd is fetched afterwards. */
static int accept_notification(char *action, criu_notify_arg_t na)
{
    (void) action;
    (void) na;
    return 0;
}

int brig_ckpt_restore(const struct brig_ckpt_target *t, const struct brig_ckpt_opts *opts, pid_t *pid,
                      int *pty_master, struct brig_err **err)
{
    const char *work_path = opts->work_path ? opts->work_path : opts->image_path;
    struct ckpt_criu criu;
    __attribute__((cleanup(restore_run_clear))) struct restore_run r = {.criu = &criu};
    cleanup_close int images_fd = -1;
    cleanup_close int work_fd = -1;
    __attribute__((cleanup(ckpt_criu_conf_end))) struct ckpt_criu_conf conf = {.memfd = -1};
    int ret;

    *pid = -1;
    *pty_master = -1;
    ret = ckpt_criu_load(&criu, err);
    if (ret == 0)
        ret = brig_ckpt_image_check(opts->image_path, err);
    if (ret < 0)
        return ret;
    images_fd = open(opts->image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (images_fd < 0)
        return brig_err_sys(err, "--image-path `%s`", opts->image_path);
    ret = brig_mkdir_p(work_path, 0700, err);
    if (ret < 0)
        return brig_err_wrap(err, ret, "--work-path `%s`", work_path);
    work_fd = open(work_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (work_fd < 0)
        return brig_err_sys(err, "--work-path `%s`", work_path);
    ret = ckpt_opts_common(&criu, opts, images_fd, work_fd, BRIG_CKPT_RESTORE_LOG, &r.o, err);
    if (ret == 0)
        ret = inherit_stdio(&r, opts->image_path, err);
    if (ret == 0)
        ret = ckpt_add_external_mounts(&criu, r.o, t, true, err);
    if (ret == 0)
        ret = ckpt_add_external_namespaces(&criu, r.o, t, true, opts->empty_netns || t->netns_fd >= 0, r.inherited, &r.n_inherited, err);
    if (ret < 0)
        return ret;
    criu.criu_local_set_tcp_close(r.o, opts->tcp_close);
    if ((opts->lsm_profile && criu.criu_local_set_lsm_profile(r.o, opts->lsm_profile) < 0) ||
        (opts->lsm_mount_context && criu.criu_local_set_lsm_mount_context(r.o, opts->lsm_mount_context) < 0))
        return brig_err_set(err, ENOMEM, "libcriu options");
    /* The image's cgroup is the old container's: the tree goes to this container's instead. */
    if (t->cgroup_path && criu.criu_local_add_cg_root(r.o, NULL, t->cgroup_path) < 0)
        return brig_err_set(err, ENOMEM, "libcriu options");
    ret = ckpt_make_mountpoints(t, err);
    if (ret == 0)
        ret = mount_root(&r, t, err);
    if (ret < 0)
        return ret;
    if (criu.criu_local_set_root(r.o, r.root) < 0)
        return brig_err_set(err, ENOMEM, "libcriu options");
    ret = ckpt_criu_conf_begin(opts, true, false, work_path, &conf, err);
    if (ret == 0)
        ret = enter_cgroup(&r, t, err);
    if (ret < 0)
        return ret;
    if (t->terminal) {
        criu.criu_local_set_orphan_pts_master(r.o, true);
        criu.criu_local_set_notify_cb(r.o, accept_notification);
    }
    ret = criu.criu_local_restore_child(r.o);
    ckpt_criu_conf_end(&conf);
    leave_cgroup(&r);
    if (ret <= 0)
        return ckpt_criu_error(ret < 0 ? ret : -EIO, "restore", work_path, BRIG_CKPT_RESTORE_LOG, err);
    *pid = ret;
    if (t->terminal) {
        *pty_master = criu.criu_get_orphan_pts_master_fd();
        if (*pty_master < 0)
            return brig_err_msg(err, ENOTTY, "--console-socket: CRIU restored no terminal (the image has none)");
    }
    return 0;
}
