/* Process security as a whole: what brig_security_prepare() checks and compiles in the parent, and the order in
 * which the init applies it (see security.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "security.h"
#include "../util/util.h"

/* seccomp(2) without NO_NEW_PRIVS needs CAP_SYS_ADMIN. Loading right before execve is best (the filter then
 * sees none of the init's own work), but only possible when the process still has CAP_SYS_ADMIN there;
 * otherwise the filter goes in before the user change and capability drop, as runc does, and it must allow
 * what the init still does after it (setgroups, setres[ug]id, capset, prctl, chdir, the exec fifo, execve). */
static bool can_load_late(const struct brig_process *proc, const struct brig_caps_plan *caps)
{
    if (proc->no_new_privileges)
        return true;
    if (caps->apply)
        return caps->sets[BRIG_CAP_EFFECTIVE] & (1ULL << CAP_SYS_ADMIN);
    return proc->user.uid == 0;
}

int brig_security_prepare(const struct brig_context *ctx, const struct brig_spec *spec, const char *id,
                          const char *bundle, struct brig_security *sec, struct brig_err **err)
{
    cleanup_free char *warnings = NULL;
    int ret;

    memset(sec, 0, sizeof(*sec));
    sec->seccomp.listener_sock = -1;
    sec->lsm.apparmor_fd = sec->lsm.selinux_fd = -1;
    ret = brig_caps_plan_build(spec->process, brig_caps_read_bounding(), &sec->caps, &warnings, err);
    if (ret < 0)
        return ret;
    if (warnings)
        brig_log(ctx, BRIG_LOG_WARNING, "%s", warnings);
    ret = brig_sched_plan_build(ctx, spec, &sec->sched, err);
    if (ret < 0)
        return ret;
    ret = brig_lsm_plan_build(ctx, spec, &sec->lsm, err);
    if (ret < 0)
        return ret;
    /* Last: it may connect to the seccomp listener, which should only hear from a container that can start. */
    ret = brig_seccomp_plan_build(ctx, spec, id, bundle, &sec->seccomp, err);
    if (ret < 0)
        return ret;
    sec->seccomp_early = sec->seccomp.active && !can_load_late(spec->process, &sec->caps);
    if (sec->seccomp_early)
        brig_log(ctx, BRIG_LOG_DEBUG, "seccomp: loaded before the user change (no noNewPrivileges, no CAP_SYS_ADMIN)");
    return 0;
}

void brig_security_release(struct brig_security *sec)
{
    brig_lsm_close(&sec->lsm);
    brig_seccomp_plan_release(&sec->seccomp);
}

int brig_security_init_begin(struct brig_security *sec, struct brig_err **err)
{
    char link[32];
    ssize_t n;
    int64_t pid;
    int ret;

    if (!sec)
        return 0;
    ret = brig_lsm_open(&sec->lsm, err);
    if (ret < 0 || !sec->seccomp.notify)
        return ret;
    /* Still on the host's /proc: /proc/self names us in brig's pid namespace, as the listener expects. */
    n = readlink("/proc/self", link, sizeof(link) - 1);
    if (n <= 0)
        return brig_err_sys(err, "linux.seccomp.listenerPath: find the init's pid");
    link[n] = '\0';
    if (brig_parse_i64(link, &pid) < 0)
        return brig_err_msg(err, EINVAL, "linux.seccomp.listenerPath: find the init's pid (`%s`)", link);
    sec->seccomp.host_pid = (pid_t) pid;
    return 0;
}

int brig_security_before_user(struct brig_security *sec, struct brig_err **err)
{
    int ret;

    if (!sec)
        return 0;
    ret = brig_sched_apply(&sec->sched, err);
    if (ret < 0)
        return ret;
    ret = brig_lsm_apply(&sec->lsm, err);
    if (ret < 0)
        return ret;
    ret = brig_caps_drop_bounding(&sec->caps, err);
    if (ret < 0)
        return ret;
    /* Keep the permitted set through setresuid(); the sets are installed right after it. */
    if (sec->caps.apply && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return brig_err_sys(err, "process.capabilities: keep capabilities across the user change");
    if (sec->seccomp_early)
        return brig_seccomp_load(&sec->seccomp, "creating", err);
    return 0;
}

int brig_security_after_user(struct brig_security *sec, struct brig_err **err)
{
    if (!sec || !sec->caps.apply)
        return 0;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return brig_err_sys(err, "process.capabilities: clear keepcaps");
    return brig_caps_apply(&sec->caps, err);
}

int brig_security_before_exec(struct brig_security *sec, struct brig_err **err)
{
    if (!sec || sec->seccomp_early)
        return 0;
    return brig_seccomp_load(&sec->seccomp, "running", err);
}
