/* Turning the config's namespace list into clone flags and opened namespace files, once per container. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "namespaces.h"
#include "../util/util.h"

int brig_ns_clone_flag(enum brig_ns_type type)
{
    switch (type) {
    case BRIG_NS_PID:
        return CLONE_NEWPID;
    case BRIG_NS_NETWORK:
        return CLONE_NEWNET;
    case BRIG_NS_MOUNT:
        return CLONE_NEWNS;
    case BRIG_NS_IPC:
        return CLONE_NEWIPC;
    case BRIG_NS_UTS:
        return CLONE_NEWUTS;
    case BRIG_NS_USER:
        return CLONE_NEWUSER;
    case BRIG_NS_CGROUP:
        return CLONE_NEWCGROUP;
    case BRIG_NS_TIME:
        return CLONE_NEWTIME;
    default:
        return 0;
    }
}

/* The name of the namespace's file under /proc/self/ns. */
static const char *proc_ns_name(enum brig_ns_type type)
{
    switch (type) {
    case BRIG_NS_NETWORK:
        return "net";
    case BRIG_NS_MOUNT:
        return "mnt";
    default:
        return brig_ns_type_name(type);
    }
}

static int open_ns(const struct brig_namespace *ns, int *fd_out, struct brig_err **err)
{
    const char *name = brig_ns_type_name(ns->type);
    cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    int type;

    if (fd < 0)
        return brig_err_sys(err, "namespace %s: open `%s`", name, ns->path);
    /* Checked now so that a wrong file fails `create` with its name instead of a bare EINVAL from setns. */
    type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0 || type != brig_ns_clone_flag(ns->type))
        return brig_err_set(err, 0, "namespace %s: `%s` is not a %s namespace", name, ns->path, name);
    *fd_out = steal_fd(fd);
    return 0;
}

/* Kernels built without a namespace type have no /proc/self/ns entry for it. */
static int check_supported(enum brig_ns_type type, struct brig_err **err)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/self/ns/%s", proc_ns_name(type));
    if (access(path, F_OK) < 0)
        return brig_err_set(err, errno == ENOENT ? EOPNOTSUPP : errno, "namespace %s: not supported by this kernel",
                            brig_ns_type_name(type));
    return 0;
}

static int check_time_offsets(const struct brig_linux *cfg, struct brig_err **err)
{
    if (!cfg->time_monotonic.set && !cfg->time_boottime.set)
        return 0;
    for (size_t i = 0; i < cfg->n_namespaces; i++)
        if (cfg->namespaces[i].type == BRIG_NS_TIME && !cfg->namespaces[i].path)
            return 0;
    return brig_err_set(err, 0, "linux.timeOffsets: offsets need a new time namespace in linux.namespaces");
}

static int check_id_mappings(const struct brig_linux *cfg, struct brig_err **err)
{
    const struct brig_namespace *user = NULL;

    for (size_t i = 0; i < cfg->n_namespaces; i++)
        if (cfg->namespaces[i].type == BRIG_NS_USER)
            user = &cfg->namespaces[i];
    if (!user) {
        if (cfg->n_uid_mappings || cfg->n_gid_mappings)
            return brig_err_set(err, 0, "linux.%s: id mappings need a user namespace in linux.namespaces",
                                cfg->n_uid_mappings ? "uidMappings" : "gidMappings");
        return 0;
    }
    /* Unmapped, root inside would be the overflow uid and could do nothing useful. As non-root the
     * kernel still allows an unmapped namespace, and rootless setups decide that themselves. */
    if (!user->path && geteuid() == 0 && (!cfg->n_uid_mappings || !cfg->n_gid_mappings))
        return brig_err_set(err, 0, "namespace user: a new user namespace needs linux.%s",
                            !cfg->n_uid_mappings ? "uidMappings" : "gidMappings");
    return 0;
}

static int plan_one(const struct brig_namespace *ns, size_t index, unsigned *seen, struct brig_ns_plan *plan,
                    struct brig_err **err)
{
    int ret;

    if ((unsigned) ns->type >= BRIG_NS__COUNT)
        return brig_err_set(err, 0, "linux.namespaces[%zu]: unknown type %d", index, (int) ns->type);
    if (*seen & (1u << ns->type))
        return brig_err_set(err, 0, "linux.namespaces: `%s` is listed twice", brig_ns_type_name(ns->type));
    *seen |= 1u << ns->type;
    if (ns->path && *ns->path)
        return open_ns(ns, &plan->join_fds[ns->type], err);
    switch (ns->type) {
    case BRIG_NS_CGROUP:
        plan->new_cgroup_ns = true;
        return check_supported(ns->type, err);
    case BRIG_NS_TIME:
        plan->new_time_ns = true;
        return check_supported(ns->type, err);
    case BRIG_NS_USER:
        ret = check_supported(ns->type, err);
        break;
    default:
        ret = 0;
    }
    plan->clone_flags |= brig_ns_clone_flag(ns->type);
    return ret;
}

int brig_ns_plan_init(const struct brig_spec *spec, struct brig_ns_plan *plan, struct brig_err **err)
{
    const struct brig_linux *cfg = spec->linux_cfg;
    unsigned seen = 0;
    int ret = 0;

    plan->clone_flags = 0;
    plan->new_cgroup_ns = false;
    plan->new_time_ns = false;
    for (int i = 0; i < BRIG_NS__COUNT; i++)
        plan->join_fds[i] = -1;
    plan->own_pid_fd = plan->own_time_fd = -1;
    if (!cfg)
        return 0;
    for (size_t i = 0; i < cfg->n_namespaces && ret == 0; i++)
        ret = plan_one(&cfg->namespaces[i], i, &seen, plan, err);
    if (ret == 0)
        ret = check_id_mappings(cfg, err);
    if (ret == 0)
        ret = check_time_offsets(cfg, err);
    if (ret < 0)
        brig_ns_plan_release(plan);
    return ret;
}

void brig_ns_plan_release(struct brig_ns_plan *plan)
{
    brig_ns_restore_parent(plan);
    for (int i = 0; i < BRIG_NS__COUNT; i++) {
        if (plan->join_fds[i] >= 0)
            close(plan->join_fds[i]);
        plan->join_fds[i] = -1;
    }
}
