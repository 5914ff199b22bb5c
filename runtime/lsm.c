/* process.apparmorProfile and process.selinuxLabel: the label the user process gets at execve, written to
 * /proc/self/attr by the init. When the host has the LSM disabled the field is ignored with a debug message,
 * as runc does; linux.mountLabel likewise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "security.h"
#include "../util/util.h"

static bool apparmor_enabled(void)
{
    char buf[4] = {0};
    cleanup_close int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

    return fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == 'Y';
}

static bool selinux_enabled(void)
{
    struct stat st;

    return stat("/sys/fs/selinux/enforce", &st) == 0;
}

int brig_lsm_plan_build(const struct brig_context *ctx, const struct brig_spec *spec, struct brig_lsm_plan *plan,
                        struct brig_err **err)
{
    const struct brig_process *proc = spec->process;
    const char *mount_label = spec->linux_cfg ? spec->linux_cfg->mount_label : NULL;
    bool selinux = false;

    memset(plan, 0, sizeof(*plan));
    plan->apparmor_fd = plan->selinux_fd = -1;
    plan->apparmor_field = "process.apparmorProfile";
    if (proc->apparmor_profile && *proc->apparmor_profile) {
        if (strchr(proc->apparmor_profile, '\n'))
            return brig_err_msg(err, EINVAL, "process.apparmorProfile: `%s` contains a newline",
                                proc->apparmor_profile);
        if (apparmor_enabled())
            plan->apparmor_profile = proc->apparmor_profile;
        else
            brig_log(ctx, BRIG_LOG_DEBUG, "process.apparmorProfile `%s` ignored: AppArmor is not enabled",
                     proc->apparmor_profile);
    }
    if ((proc->selinux_label && *proc->selinux_label) || (mount_label && *mount_label))
        selinux = selinux_enabled();
    if (proc->selinux_label && *proc->selinux_label) {
        if (selinux)
            plan->selinux_label = proc->selinux_label;
        else
            brig_log(ctx, BRIG_LOG_DEBUG, "process.selinuxLabel `%s` ignored: SELinux is not enabled",
                     proc->selinux_label);
    }
    if (mount_label && *mount_label && !selinux)
        brig_log(ctx, BRIG_LOG_DEBUG, "linux.mountLabel `%s` ignored: SELinux is not enabled", mount_label);
    return 0;
}

/* Newer kernels give every LSM its own attr directory; older ones only the shared file. Opened while brig
 * still sees the host's /proc: in the container's mount namespace a process allowed to mount (CAP_SYS_ADMIN
 * in a user namespace is enough) could cover /proc, and the label would go to a plain file of its making
 * while the process ran unconfined (runc's CVE-2019-19921, CVE-2025-52881). */
static int open_attr(const char *lsm, const char *field, struct brig_err **err)
{
    char path[64];
    cleanup_close int fd = -1;
    struct statfs sfs;

    snprintf(path, sizeof(path), "/proc/self/attr/%s/exec", lsm);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fd = open("/proc/self/attr/exec", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return brig_err_sys(err, "%s: open /proc/self/attr/exec", field);
    if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
        return brig_err_msg(err, EPERM, "%s: /proc/self/attr/exec is not on procfs", field);
    return steal_fd(fd);
}

int brig_lsm_open(struct brig_lsm_plan *plan, struct brig_err **err)
{
    if (plan->apparmor_profile && plan->apparmor_fd < 0) {
        plan->apparmor_fd = open_attr("apparmor", plan->apparmor_field, err);
        if (plan->apparmor_fd < 0)
            return plan->apparmor_fd;
    }
    if (plan->selinux_label && plan->selinux_fd < 0) {
        plan->selinux_fd = open_attr("selinux", "process.selinuxLabel", err);
        if (plan->selinux_fd < 0)
            return plan->selinux_fd;
    }
    return 0;
}

/* A zero-initialised plan (no label) holds no fd: its 0s are not descriptors. */
void brig_lsm_close(struct brig_lsm_plan *plan)
{
    if (plan->apparmor_profile && plan->apparmor_fd >= 0)
        close(plan->apparmor_fd);
    if (plan->selinux_label && plan->selinux_fd >= 0)
        close(plan->selinux_fd);
    plan->apparmor_fd = plan->selinux_fd = -1;
}

/* `label` is what the user asked for, for the message. */
static int write_attr(int fd, const char *lsm, const char *data, const char *field, const char *label,
                      struct brig_err **err)
{
    size_t len = strlen(data);

    if (write(fd, data, len) == (ssize_t) len)
        return 0;
    /* AppArmor answers ENOENT for a profile the kernel does not have: say so rather than "No such file". */
    if (errno == ENOENT && !strcmp(lsm, "apparmor"))
        return brig_err_msg(err, ENOENT, "%s: profile `%s` is not loaded (load it with apparmor_parser)", field,
                            label);
    if (errno == EINVAL && !strcmp(lsm, "selinux"))
        return brig_err_msg(err, EINVAL, "%s: `%s` is not a valid context for the loaded policy", field, label);
    return brig_err_sys(err, "%s: set `%s`", field, label);
}

int brig_lsm_apply(struct brig_lsm_plan *plan, struct brig_err **err)
{
    int ret = brig_lsm_open(plan, err);

    if (ret < 0)
        return ret;

    if (plan->apparmor_profile) {
        cleanup_free char *cmd = NULL;
        if (asprintf(&cmd, "exec %s", plan->apparmor_profile) < 0) {
            cmd = NULL;
            return brig_err_set(err, ENOMEM, "%s", plan->apparmor_field);
        }
        ret = write_attr(plan->apparmor_fd, "apparmor", cmd, plan->apparmor_field, plan->apparmor_profile, err);
        if (ret < 0)
            return ret;
    }
    if (plan->selinux_label) {
        ret = write_attr(plan->selinux_fd, "selinux", plan->selinux_label, "process.selinuxLabel", plan->selinux_label, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
