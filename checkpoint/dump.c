/* Dump and pre-dump of a container's process tree. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "../util/util.h"

static void free_criu_opts(const struct ckpt_criu *criu, criu_opts *o)
{
    if (o)
        criu->criu_local_free_opts(o);
}

/* The targets of the init's fds 0-2 ("pipe:[123]", "/dev/null"...), which restore needs to plug its own
 * stdio in their place. */
static int write_descriptors(pid_t pid, int images_fd, struct brig_err **err)
{
    char target[3][4096];
    char *targets[3];
    cleanup_free char *json = NULL;
    int ret;

    for (int i = 0; i < 3; i++) {
        char link[64];
        ssize_t n;

        snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int) pid, i);
        n = readlink(link, target[i], sizeof(target[i]) - 1);
        target[i][n > 0 ? n : 0] = '\0';
        targets[i] = target[i];
    }
    ret = brig_json_strv_format(targets, 3, &json, err);
    if (ret == 0)
        ret = brig_write_file_atomic_at(images_fd, BRIG_CKPT_DESCRIPTORS, json, strlen(json), 0600, err);
    return ret < 0 ? brig_err_wrap(err, ret, "%s", BRIG_CKPT_DESCRIPTORS) : 0;
}

static int open_dir(const char *path, const char *flag, int *fd, struct brig_err **err)
{
    int ret = brig_mkdir_p(path, 0700, err);

    if (ret < 0)
        return brig_err_wrap(err, ret, "%s `%s`", flag, path);
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return brig_err_sys(err, "%s `%s`", flag, path);
    return 0;
}

static int freezer_path(const struct brig_ckpt_target *t, char **out)
{
    const char *base = t->cgroup_mode == BRIG_CGROUP_V2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/freezer";

    return asprintf(out, "%s%s", base, t->cgroup_path) < 0 ? -ENOMEM : 0;
}

int brig_ckpt_dump(const struct brig_ckpt_target *t, const struct brig_ckpt_opts *opts, struct brig_err **err)
{
    const char *work_path = opts->work_path ? opts->work_path : opts->image_path;
    const char *log_name = opts->pre_dump ? BRIG_CKPT_PRE_DUMP_LOG : BRIG_CKPT_DUMP_LOG;
    struct ckpt_criu criu;
    criu_opts *o = NULL;
    cleanup_close int images_fd = -1;
    cleanup_close int work_fd = -1;
    cleanup_free char *freezer = NULL;
    __attribute__((cleanup(ckpt_criu_conf_end))) struct ckpt_criu_conf conf = {.memfd = -1};
    size_t unused = 0;
    const struct brig_namespace *net = brig_spec_namespace(t->spec, BRIG_NS_NETWORK);
    /* --empty-ns network on the container's own namespace is CRIU's own, as runc passes it (runc restores
     * such an image; one with the namespace external would need an extRootNetNS it does not give). brig's
     * network keeps its namespace external: restore wires a new one before CRIU. */
    bool own_netns_empty = opts->empty_netns && !t->netns_external && net && !net->path;
    int ret;

    ret = ckpt_criu_load(&criu, err);
    if (ret == 0)
        ret = open_dir(opts->image_path, "--image-path", &images_fd, err);
    if (ret == 0)
        ret = open_dir(work_path, "--work-path", &work_fd, err);
    if (ret == 0)
        ret = write_descriptors(t->pid, images_fd, err);
    if (ret == 0)
        ret = ckpt_opts_common(&criu, opts, images_fd, work_fd, log_name, &o, err);
    if (ret < 0)
        goto out;
    criu.criu_local_set_pid(o, t->pid);
    if (criu.criu_local_set_root(o, t->rootfs) < 0) {
        ret = brig_err_set(err, ENOMEM, "libcriu options");
        goto out;
    }
    /* A terminal's master is outside the tree (the console socket's receiver has it): CRIU may dump its slave
     * only as an orphan, which restore gives a new master (runc sets this for every dump). */
    criu.criu_local_set_orphan_pts_master(o, true);
    criu.criu_local_set_leave_running(o, opts->leave_running);
    criu.criu_local_set_tcp_skip_in_flight(o, opts->tcp_skip_in_flight);
    criu.criu_local_set_link_remap(o, opts->link_remap);
    criu.criu_local_set_auto_dedup(o, opts->auto_dedup);
    /* Memory tracking: a pre-dump starts it, and a dump on top of one (--parent-path) writes only what the
     * tracking saw change. */
    criu.criu_local_set_track_mem(o, opts->pre_dump || opts->parent_path);
    if (opts->parent_path && criu.criu_local_set_parent_images(o, opts->parent_path) < 0) {
        ret = brig_err_set(err, ENOMEM, "--parent-path");
        goto out;
    }
    if (t->cgroup_path) {
        /* The whole tree stops at once: a dump is consistent even when processes fork meanwhile. */
        if (freezer_path(t, &freezer) < 0 || criu.criu_local_set_freeze_cgroup(o, freezer) < 0) {
            ret = brig_err_set(err, ENOMEM, "libcriu options");
            goto out;
        }
    }
    if (opts->page_server) {
        char addr[256];
        int port = 0;
        if (ckpt_page_server(opts, addr, sizeof(addr), &port) < 0) {
            ret = brig_err_msg(err, EINVAL, "--page-server: `%s` is not ADDRESS:PORT", opts->page_server);
            goto out;
        }
        /* Its result is no use: libcriu 3.17.1 returns -ENOMEM even when it set the address (criu.c). */
        (void) criu.criu_local_set_page_server_address_port(o, addr, port);
    }
    ret = ckpt_add_external_mounts(&criu, o, t, false, err);
    if (ret == 0)
        ret = ckpt_add_external_namespaces(&criu, o, t, false, t->netns_external, NULL, &unused, err);
    if (ret == 0)
        ret = ckpt_criu_conf_begin(opts, false, own_netns_empty, work_path, &conf, err);
    if (ret < 0)
        goto out;
    /* With --lazy-pages this returns once `criu lazy-pages` has fetched every page left behind. */
    ret = opts->pre_dump ? criu.criu_local_pre_dump(o) : criu.criu_local_dump(o);
    ckpt_criu_conf_end(&conf);
    if (ret < 0)
        ret = ckpt_criu_error(ret, opts->pre_dump ? "pre-dump" : "dump", work_path, log_name, err);
    else
        ret = 0;
out:
    free_criu_opts(&criu, o);
    return ret;
}

int brig_ckpt_image_check(const char *image_path, struct brig_err **err)
{
    cleanup_close int fd = open(image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;

    if (fd < 0)
        return brig_err_sys(err, "--image-path `%s`", image_path);
    if (fstatat(fd, "inventory.img", &st, 0) < 0)
        return brig_err_msg(err, ENOENT, "--image-path `%s`: no CRIU image there (no inventory.img)", image_path);
    if (fstatat(fd, BRIG_CKPT_DESCRIPTORS, &st, 0) < 0)
        return brig_err_msg(err, ENOENT, "--image-path `%s`: no %s (not a checkpoint of runc, crun or brig)",
                            image_path, BRIG_CKPT_DESCRIPTORS);
    return 0;
}
