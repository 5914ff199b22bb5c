/* config.json parsing: a config using every field reads into the right struct values; the default config
 * parses back; lookups; speed. Bad inputs are in test_spec_errors.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spec/spec.h"
#include "util/util.h"

static char *data_path(const char *name)
{
    const char *dir = getenv("BRIG_TEST_DATA");
    char *path = NULL;

    assert_non_null(dir);
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    return path;
}

static struct brig_spec *load_full(void)
{
    cleanup_free char *path = data_path("config-full.json");
    cleanup_err struct brig_err *err = NULL;
    struct brig_spec *spec = NULL;
    int ret = brig_spec_load(path, &spec, &err);

    if (ret < 0)
        fail_msg("%s", err->msg);
    assert_non_null(spec);
    return spec;
}

static void test_full_top_level(void **state)
{
    cleanup_spec struct brig_spec *s = load_full();

    assert_string_equal(s->oci_version, "1.2.0");
    assert_string_equal(s->root_path, "rootfs");
    assert_true(s->root_readonly);
    assert_string_equal(s->hostname, "box");
    assert_string_equal(s->domainname, "example.org");

    assert_int_equal(s->n_mounts, 3);
    assert_string_equal(s->mounts[0].destination, "/proc");
    assert_string_equal(s->mounts[0].type, "proc");
    assert_string_equal(s->mounts[0].source, "proc");
    assert_int_equal(s->mounts[0].n_options, 0);
    assert_null(s->mounts[0].options);
    assert_string_equal(s->mounts[1].source, "/srv/data");
    assert_int_equal(s->mounts[1].n_options, 2);
    assert_string_equal(s->mounts[1].options[0], "rbind");
    assert_string_equal(s->mounts[1].options[1], "rw");
    assert_null(s->mounts[1].options[2]);
    assert_int_equal(s->mounts[1].n_uid_mappings, 1);
    assert_int_equal(s->mounts[1].uid_mappings[0].container_id, 0);
    assert_int_equal(s->mounts[1].uid_mappings[0].host_id, 100000);
    assert_int_equal(s->mounts[1].uid_mappings[0].size, 65536);
    assert_int_equal(s->mounts[1].n_gid_mappings, 1);
    assert_int_equal(s->mounts[1].gid_mappings[0].host_id, 200000);
    assert_string_equal(s->mounts[2].destination, "/relative/dest");
    assert_null(s->mounts[2].type);
    assert_null(s->mounts[2].source);

    assert_int_equal(s->n_annotations, 2);
    assert_string_equal(brig_spec_annotation(s, "org.example.key"), "value");
    assert_string_equal(brig_spec_annotation(s, "plain"), "x");
    assert_null(brig_spec_annotation(s, "missing"));
}

static void test_full_process(void **state)
{
    cleanup_spec struct brig_spec *s = load_full();
    struct brig_process *p = s->process;

    assert_non_null(p);
    assert_true(p->terminal);
    assert_true(p->has_console_size);
    assert_int_equal(p->console_height, 25);
    assert_int_equal(p->console_width, 80);
    assert_int_equal(p->user.uid, 1000);
    assert_int_equal(p->user.gid, 1001);
    assert_true(p->user.umask.set);
    assert_int_equal(p->user.umask.value, 18);
    assert_int_equal(p->user.n_additional_gids, 3);
    assert_int_equal(p->user.additional_gids[0], 5);
    assert_int_equal(p->user.additional_gids[1], 6);
    assert_int_equal(p->user.additional_gids[2], UINT32_MAX - 1);
    assert_string_equal(p->user.username, "alice");
    assert_int_equal(p->n_args, 3);
    assert_string_equal(p->args[0], "/bin/sh");
    assert_string_equal(p->args[2], "echo hi");
    assert_null(p->args[3]);
    assert_int_equal(p->n_env, 2);
    assert_string_equal(p->env[1], "TERM=xterm");
    assert_null(p->env[2]);
    assert_string_equal(p->cwd, "/home/alice");

    assert_true(p->has_capabilities);
    assert_int_equal(p->capabilities.n_bounding, 2);
    assert_string_equal(p->capabilities.bounding[1], "CAP_KILL");
    assert_int_equal(p->capabilities.n_effective, 1);
    assert_int_equal(p->capabilities.n_inheritable, 0);
    assert_int_equal(p->capabilities.n_permitted, 3);
    assert_string_equal(p->capabilities.permitted[2], "CAP_NET_RAW");
    assert_int_equal(p->capabilities.n_ambient, 1);
    assert_string_equal(p->capabilities.ambient[0], "CAP_NET_BIND_SERVICE");

    assert_int_equal(p->n_rlimits, 2);
    assert_string_equal(p->rlimits[0].type, "RLIMIT_NOFILE");
    assert_int_equal(p->rlimits[0].hard, 1024);
    assert_int_equal(p->rlimits[0].soft, 512);
    assert_string_equal(p->rlimits[1].type, "RLIMIT_CORE");
    assert_true(p->rlimits[1].hard == UINT64_MAX);
    assert_int_equal(p->rlimits[1].soft, 0);

    assert_string_equal(p->apparmor_profile, "brig-default");
    assert_true(p->no_new_privileges);
    assert_true(p->oom_score_adj.set);
    assert_int_equal(p->oom_score_adj.value, -500);

    assert_non_null(p->scheduler);
    assert_string_equal(p->scheduler->policy, "SCHED_DEADLINE");
    assert_int_equal(p->scheduler->nice, -5);
    assert_int_equal(p->scheduler->priority, 7);
    assert_int_equal(p->scheduler->n_flags, 1);
    assert_string_equal(p->scheduler->flags[0], "SCHED_FLAG_RESET_ON_FORK");
    assert_int_equal(p->scheduler->runtime, 10000000);
    assert_int_equal(p->scheduler->deadline, 20000000);
    assert_int_equal(p->scheduler->period, 30000000);

    assert_string_equal(p->selinux_label, "system_u:system_r:container_t:s0");
    assert_non_null(p->io_priority);
    assert_string_equal(p->io_priority->class_name, "IOPRIO_CLASS_BE");
    assert_int_equal(p->io_priority->priority, 4);
    assert_non_null(p->exec_cpu_affinity);
    assert_string_equal(p->exec_cpu_affinity->initial, "0");
    assert_string_equal(p->exec_cpu_affinity->final, "0-1");
}

static void test_full_hooks(void **state)
{
    cleanup_spec struct brig_spec *s = load_full();
    const struct brig_hooks *h = &s->hooks;

    assert_int_equal(h->n_prestart, 1);
    assert_string_equal(h->prestart[0].path, "/usr/bin/pre");
    assert_int_equal(h->prestart[0].n_args, 2);
    assert_string_equal(h->prestart[0].args[1], "x");
    assert_int_equal(h->prestart[0].n_env, 1);
    assert_string_equal(h->prestart[0].env[0], "A=1");
    assert_true(h->prestart[0].timeout.set);
    assert_int_equal(h->prestart[0].timeout.value, 5);
    assert_int_equal(h->n_create_runtime, 2);
    assert_string_equal(h->create_runtime[1].path, "/usr/bin/cr2");
    assert_false(h->create_runtime[1].timeout.set);
    assert_int_equal(h->n_create_container, 1);
    assert_string_equal(h->create_container[0].path, "/usr/bin/cc");
    assert_int_equal(h->n_start_container, 1);
    assert_string_equal(h->start_container[0].path, "/usr/bin/sc");
    assert_int_equal(h->n_poststart, 1);
    assert_string_equal(h->poststart[0].path, "/usr/bin/ps");
    assert_int_equal(h->n_poststop, 1);
    assert_string_equal(h->poststop[0].path, "/usr/bin/stop");
    assert_int_equal(h->poststop[0].timeout.value, 30);
}

static void test_full_linux(void **state)
{
    cleanup_spec struct brig_spec *s = load_full();
    const struct brig_linux *l = s->linux_cfg;
    static const enum brig_ns_type order[] = { BRIG_NS_PID, BRIG_NS_NETWORK, BRIG_NS_MOUNT, BRIG_NS_IPC,
                                               BRIG_NS_UTS, BRIG_NS_USER,    BRIG_NS_CGROUP, BRIG_NS_TIME };

    assert_non_null(l);
    assert_int_equal(l->n_namespaces, 8);
    for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
        assert_int_equal(l->namespaces[i].type, order[i]);
        assert_ptr_equal(brig_spec_namespace(s, order[i]), &l->namespaces[i]);
    }
    assert_string_equal(l->namespaces[1].path, "/var/run/netns/n1");
    assert_null(l->namespaces[0].path);

    assert_int_equal(l->n_uid_mappings, 2);
    assert_int_equal(l->uid_mappings[1].container_id, 1);
    assert_int_equal(l->uid_mappings[1].host_id, 100000);
    assert_int_equal(l->uid_mappings[1].size, 65535);
    assert_int_equal(l->n_gid_mappings, 1);
    assert_int_equal(l->gid_mappings[0].host_id, 1001);

    assert_true(l->time_monotonic.set);
    assert_int_equal(l->time_monotonic.secs, -3600);
    assert_int_equal(l->time_monotonic.nanosecs, 500);
    assert_true(l->time_boottime.set);
    assert_int_equal(l->time_boottime.secs, 86400);
    assert_int_equal(l->time_boottime.nanosecs, 0);

    assert_int_equal(l->n_devices, 2);
    assert_string_equal(l->devices[0].type, "c");
    assert_string_equal(l->devices[0].path, "/dev/fuse");
    assert_int_equal(l->devices[0].major, 10);
    assert_int_equal(l->devices[0].minor, 229);
    assert_true(l->devices[0].file_mode.set);
    assert_int_equal(l->devices[0].file_mode.value, 0666);
    assert_true(l->devices[0].uid.set);
    assert_int_equal(l->devices[0].uid.value, 0);
    assert_true(l->devices[0].gid.set);
    assert_string_equal(l->devices[1].type, "p");
    assert_false(l->devices[1].file_mode.set);
    assert_false(l->devices[1].uid.set);

    assert_int_equal(l->n_net_devices, 2);
    assert_string_equal(l->net_devices[0].key, "eth1");
    assert_string_equal(l->net_devices[0].value, "net0");
    assert_string_equal(l->net_devices[1].key, "dummy0");
    assert_null(l->net_devices[1].value);

    assert_string_equal(l->cgroups_path, "/brig-test/full");
    assert_string_equal(l->rootfs_propagation, "rslave");
    assert_int_equal(l->n_masked_paths, 2);
    assert_string_equal(l->masked_paths[1], "/sys/firmware");
    assert_null(l->masked_paths[2]);
    assert_int_equal(l->n_readonly_paths, 1);
    assert_string_equal(l->readonly_paths[0], "/proc/sys");
    assert_string_equal(l->mount_label, "system_u:object_r:container_file_t:s0");
    assert_int_equal(l->n_sysctl, 2);
    assert_string_equal(l->sysctl[0].key, "net.ipv4.ip_forward");
    assert_string_equal(l->sysctl[0].value, "1");
    assert_string_equal(l->sysctl[1].key, "kernel.shm_rmid_forced");

    assert_non_null(l->intel_rdt);
    assert_string_equal(l->intel_rdt->clos_id, "clos1");
    assert_string_equal(l->intel_rdt->l3_cache_schema, "L3:0=ff");
    assert_string_equal(l->intel_rdt->mem_bw_schema, "MB:0=50");
    assert_true(l->intel_rdt->enable_cmt);
    assert_true(l->intel_rdt->enable_mbm);
    assert_non_null(l->personality);
    assert_string_equal(l->personality->domain, "LINUX32");
    assert_int_equal(l->personality->n_flags, 1);
    assert_string_equal(l->personality->flags[0], "ADDR_NO_RANDOMIZE");
    assert_non_null(l->memory_policy);
    assert_string_equal(l->memory_policy->mode, "MPOL_BIND");
    assert_string_equal(l->memory_policy->nodes, "0-1");
    assert_string_equal(l->memory_policy->flags[0], "MPOL_F_STATIC_NODES");
}

static void test_full_seccomp(void **state)
{
    cleanup_spec struct brig_spec *s = load_full();
    const struct brig_seccomp *sc = s->linux_cfg->seccomp;

    assert_non_null(sc);
    assert_string_equal(sc->default_action, "SCMP_ACT_ERRNO");
    assert_true(sc->default_errno_ret.set);
    assert_int_equal(sc->default_errno_ret.value, 38);
    assert_int_equal(sc->n_architectures, 2);
    assert_string_equal(sc->architectures[1], "SCMP_ARCH_X86");
    assert_int_equal(sc->n_flags, 1);
    assert_string_equal(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG");
    assert_string_equal(sc->listener_path, "/run/seccomp.sock");
    assert_string_equal(sc->listener_metadata, "meta");
    assert_int_equal(sc->n_syscalls, 3);
    assert_int_equal(sc->syscalls[0].n_names, 2);
    assert_string_equal(sc->syscalls[0].names[1], "write");
    assert_string_equal(sc->syscalls[0].action, "SCMP_ACT_ALLOW");
    assert_false(sc->syscalls[0].errno_ret.set);
    assert_int_equal(sc->syscalls[0].n_args, 0);
    assert_int_equal(sc->syscalls[1].n_args, 2);
    assert_int_equal(sc->syscalls[1].args[0].index, 0);
    assert_int_equal(sc->syscalls[1].args[0].value, 8);
    assert_int_equal(sc->syscalls[1].args[0].value_two, 0);
    assert_string_equal(sc->syscalls[1].args[0].op, "SCMP_CMP_EQ");
    assert_int_equal(sc->syscalls[1].args[1].index, 1);
    assert_true(sc->syscalls[1].args[1].value == UINT64_MAX);
    assert_int_equal(sc->syscalls[1].args[1].value_two, 4);
    assert_string_equal(sc->syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
    assert_true(sc->syscalls[2].errno_ret.set);
    assert_int_equal(sc->syscalls[2].errno_ret.value, 1);
}

static void test_full_resources(void **state)
{
    cleanup_spec struct brig_spec *s = load_full();
    const struct brig_resources *r = s->linux_cfg->resources;

    assert_non_null(r);
    assert_int_equal(r->n_devices, 3);
    assert_false(r->devices[0].allow);
    assert_null(r->devices[0].type);
    assert_false(r->devices[0].major.set);
    assert_string_equal(r->devices[0].access, "rwm");
    assert_true(r->devices[1].allow);
    assert_string_equal(r->devices[1].type, "c");
    assert_true(r->devices[1].major.set);
    assert_int_equal(r->devices[1].major.value, 10);
    assert_int_equal(r->devices[1].minor.value, 229);
    assert_int_equal(r->devices[2].major.value, -1);

    assert_non_null(r->memory);
    assert_true(r->memory->limit.set);
    assert_int_equal(r->memory->limit.value, 536870912);
    assert_int_equal(r->memory->reservation.value, 268435456);
    assert_true(r->memory->swap.set);
    assert_int_equal(r->memory->swap.value, -1);
    assert_int_equal(r->memory->kernel.value, 1048576);
    assert_int_equal(r->memory->kernel_tcp.value, 2097152);
    assert_int_equal(r->memory->swappiness.value, 60);
    assert_true(r->memory->disable_oom_killer.set);
    assert_false(r->memory->disable_oom_killer.value);
    assert_true(r->memory->use_hierarchy.value);
    assert_true(r->memory->check_before_update.value);

    assert_non_null(r->cpu);
    assert_int_equal(r->cpu->shares.value, 1024);
    assert_int_equal(r->cpu->quota.value, 50000);
    assert_int_equal(r->cpu->burst.value, 1000);
    assert_int_equal(r->cpu->period.value, 100000);
    assert_int_equal(r->cpu->realtime_runtime.value, 950000);
    assert_int_equal(r->cpu->realtime_period.value, 1000000);
    assert_string_equal(r->cpu->cpus, "0-1");
    assert_string_equal(r->cpu->mems, "0");
    assert_true(r->cpu->idle.set);
    assert_int_equal(r->cpu->idle.value, 1);

    assert_true(r->pids_limit.set);
    assert_int_equal(r->pids_limit.value, 64);

    assert_non_null(r->block_io);
    assert_int_equal(r->block_io->weight.value, 500);
    assert_int_equal(r->block_io->leaf_weight.value, 300);
    assert_int_equal(r->block_io->n_weight_device, 2);
    assert_int_equal(r->block_io->weight_device[0].major, 8);
    assert_int_equal(r->block_io->weight_device[0].weight.value, 600);
    assert_int_equal(r->block_io->weight_device[0].leaf_weight.value, 200);
    assert_int_equal(r->block_io->weight_device[1].minor, 16);
    assert_false(r->block_io->weight_device[1].weight.set);
    assert_int_equal(r->block_io->n_throttle_read_bps, 1);
    assert_int_equal(r->block_io->throttle_read_bps[0].rate, 1048576);
    assert_int_equal(r->block_io->throttle_write_bps[0].rate, 2097152);
    assert_int_equal(r->block_io->throttle_read_iops[0].rate, 100);
    assert_int_equal(r->block_io->n_throttle_write_iops, 1);
    assert_int_equal(r->block_io->throttle_write_iops[0].rate, 200);

    assert_int_equal(r->n_hugepage_limits, 2);
    assert_string_equal(r->hugepage_limits[0].page_size, "2MB");
    assert_int_equal(r->hugepage_limits[0].limit, 209715200);
    assert_string_equal(r->hugepage_limits[1].page_size, "1GB");

    assert_true(r->has_network);
    assert_true(r->net_class_id.set);
    assert_int_equal(r->net_class_id.value, 1048577);
    assert_int_equal(r->n_net_priorities, 2);
    assert_string_equal(r->net_priorities[1].name, "eth1");
    assert_int_equal(r->net_priorities[1].priority, 1000);

    assert_int_equal(r->n_rdma, 1);
    assert_string_equal(r->rdma[0].device, "mlx5_1");
    assert_int_equal(r->rdma[0].hca_handles.value, 3);
    assert_int_equal(r->rdma[0].hca_objects.value, 10000);

    assert_int_equal(r->n_unified, 2);
    assert_string_equal(r->unified[0].key, "memory.high");
    assert_string_equal(r->unified[0].value, "1073741824");
    assert_string_equal(r->unified[1].value, "default 100");
}

static void test_minimal(void **state)
{
    static const char json[] = "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"/r\"},\"hostname\":null,"
                               "\"process\":{\"cwd\":\"/\",\"args\":[\"true\"]}}";
    cleanup_err struct brig_err *err = NULL;
    cleanup_spec struct brig_spec *s = NULL;

    assert_int_equal(brig_spec_parse(json, strlen(json), &s, &err), 0);
    assert_null(err);
    assert_string_equal(s->root_path, "/r");
    assert_false(s->root_readonly);
    assert_null(s->hostname);
    assert_int_equal(s->n_mounts, 0);
    assert_null(s->mounts);
    assert_null(s->linux_cfg);
    assert_null(brig_spec_namespace(s, BRIG_NS_PID));
    assert_int_equal(s->process->user.uid, 0);
    assert_false(s->process->has_capabilities);
    assert_false(s->process->has_console_size);
    assert_false(s->process->oom_score_adj.set);
    assert_null(s->process->scheduler);
    assert_null(s->process->env);
    assert_int_equal(s->hooks.n_prestart, 0);
}

/* A length that stops short of the NUL must be honoured: the parser copies exactly `len` bytes. */
static void test_parse_respects_length(void **state)
{
    static const char json[] = "{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"}}GARBAGE";
    cleanup_err struct brig_err *err = NULL;
    cleanup_spec struct brig_spec *s = NULL;

    assert_int_equal(brig_spec_parse(json, strlen(json) - strlen("GARBAGE"), &s, &err), 0);
    assert_string_equal(s->oci_version, "1");
}

static void test_default_config(bool rootless)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    cleanup_spec struct brig_spec *s = NULL;
    const struct brig_mount *sys = NULL, *pts = NULL;

    assert_int_equal(brig_spec_default_json(rootless, 1234, 5678, &json, &err), 0);
    assert_non_null(json);
    if (brig_spec_parse(json, strlen(json), &s, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(s->oci_version, BRIG_OCI_VERSION);
    assert_string_equal(s->root_path, "rootfs");
    assert_true(s->root_readonly);
    assert_string_equal(s->hostname, "brig");
    assert_true(s->process->terminal);
    assert_int_equal(s->process->n_args, 1);
    assert_string_equal(s->process->args[0], "sh");
    assert_string_equal(s->process->cwd, "/");
    assert_int_equal(s->process->n_env, 2);
    assert_string_equal(s->process->env[0], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    assert_string_equal(s->process->env[1], "TERM=xterm");
    assert_true(s->process->no_new_privileges);
    assert_int_equal(s->process->capabilities.n_bounding, 3);
    assert_string_equal(s->process->capabilities.bounding[0], "CAP_AUDIT_WRITE");
    assert_string_equal(s->process->capabilities.bounding[1], "CAP_KILL");
    assert_string_equal(s->process->capabilities.bounding[2], "CAP_NET_BIND_SERVICE");
    assert_int_equal(s->process->capabilities.n_effective, 3);
    assert_int_equal(s->process->capabilities.n_permitted, 3);
    assert_int_equal(s->process->n_rlimits, 1);
    assert_string_equal(s->process->rlimits[0].type, "RLIMIT_NOFILE");
    assert_int_equal(s->process->rlimits[0].soft, 1024);
    assert_int_equal(s->process->rlimits[0].hard, 1024);
    assert_int_equal(s->n_mounts, 7);
    for (size_t i = 0; i < s->n_mounts; i++) {
        if (strcmp(s->mounts[i].destination, "/sys") == 0)
            sys = &s->mounts[i];
        if (strcmp(s->mounts[i].destination, "/dev/pts") == 0)
            pts = &s->mounts[i];
    }
    assert_non_null(sys);
    assert_non_null(pts);
    assert_string_equal(s->mounts[0].destination, "/proc");
    assert_string_equal(s->mounts[6].destination, "/sys/fs/cgroup");
    assert_int_equal(s->linux_cfg->n_masked_paths, 11);
    assert_int_equal(s->linux_cfg->n_readonly_paths, 5);
    assert_non_null(brig_spec_namespace(s, BRIG_NS_PID));
    assert_non_null(brig_spec_namespace(s, BRIG_NS_IPC));
    assert_non_null(brig_spec_namespace(s, BRIG_NS_UTS));
    assert_non_null(brig_spec_namespace(s, BRIG_NS_MOUNT));
    assert_null(brig_spec_namespace(s, BRIG_NS_CGROUP));
    if (!rootless) {
        assert_int_equal(s->linux_cfg->n_namespaces, 5);
        assert_non_null(brig_spec_namespace(s, BRIG_NS_NETWORK));
        assert_null(brig_spec_namespace(s, BRIG_NS_USER));
        assert_int_equal(s->linux_cfg->n_uid_mappings, 0);
        assert_string_equal(sys->type, "sysfs");
        assert_string_equal(pts->options[pts->n_options - 1], "gid=5");
        assert_non_null(s->linux_cfg->resources);
        assert_int_equal(s->linux_cfg->resources->n_devices, 1);
        assert_false(s->linux_cfg->resources->devices[0].allow);
        assert_string_equal(s->linux_cfg->resources->devices[0].access, "rwm");
        /* Tab-indented and pretty, as `runc spec` writes. */
        assert_non_null(strstr(json, "\n\t\"ociVersion\": \"1.2.0\""));
    } else {
        assert_int_equal(s->linux_cfg->n_namespaces, 5);
        assert_null(brig_spec_namespace(s, BRIG_NS_NETWORK));
        assert_non_null(brig_spec_namespace(s, BRIG_NS_USER));
        assert_int_equal(s->linux_cfg->n_uid_mappings, 1);
        assert_int_equal(s->linux_cfg->uid_mappings[0].container_id, 0);
        assert_int_equal(s->linux_cfg->uid_mappings[0].host_id, 1234);
        assert_int_equal(s->linux_cfg->uid_mappings[0].size, 1);
        assert_int_equal(s->linux_cfg->n_gid_mappings, 1);
        assert_int_equal(s->linux_cfg->gid_mappings[0].host_id, 5678);
        assert_string_equal(sys->type, "none");
        assert_string_equal(sys->source, "/sys");
        assert_int_equal(sys->n_options, 5);
        assert_string_equal(sys->options[0], "rbind");
        assert_string_equal(sys->options[4], "ro");
        for (size_t i = 0; i < pts->n_options; i++)
            assert_true(strncmp(pts->options[i], "gid=", 4) != 0);
        assert_int_equal(pts->n_options, 5);
        assert_null(s->linux_cfg->resources);
    }
}

static void test_default(void **state)
{
    test_default_config(false);
}

static void test_default_rootless(void **state)
{
    test_default_config(true);
}

static void test_ns_names(void **state)
{
    assert_string_equal(brig_ns_type_name(BRIG_NS_PID), "pid");
    assert_string_equal(brig_ns_type_name(BRIG_NS_NETWORK), "network");
    assert_string_equal(brig_ns_type_name(BRIG_NS_MOUNT), "mount");
    assert_string_equal(brig_ns_type_name(BRIG_NS_IPC), "ipc");
    assert_string_equal(brig_ns_type_name(BRIG_NS_UTS), "uts");
    assert_string_equal(brig_ns_type_name(BRIG_NS_USER), "user");
    assert_string_equal(brig_ns_type_name(BRIG_NS_CGROUP), "cgroup");
    assert_string_equal(brig_ns_type_name(BRIG_NS_TIME), "time");
    assert_string_equal(brig_ns_type_name(BRIG_NS__COUNT), "unknown");
}

static void test_load_missing_file(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_spec *s = (struct brig_spec *) 0x1;

    assert_int_equal(brig_spec_load("/nonexistent/brig/config.json", &s, &err), -ENOENT);
    assert_null(s);
    assert_string_equal(err->msg, "open `/nonexistent/brig/config.json`: No such file or directory");
}

static void test_process_json(void **state)
{
    static const char json[] = "{\"terminal\":false,\"user\":{\"uid\":7,\"gid\":8},\"args\":[\"ls\",\"-l\"],"
                               "\"env\":[\"A=b\"],\"cwd\":\"/tmp\",\"capabilities\":{\"bounding\":[\"CAP_KILL\"]}}";
    cleanup_err struct brig_err *err = NULL;
    cleanup_spec struct brig_spec *s = NULL;

    if (brig_spec_parse_process(json, strlen(json), &s, &err) < 0)
        fail_msg("%s", err->msg);
    assert_null(s->oci_version);
    assert_null(s->root_path);
    assert_null(s->linux_cfg);
    assert_non_null(s->process);
    assert_int_equal(s->process->user.uid, 7);
    assert_int_equal(s->process->user.gid, 8);
    assert_int_equal(s->process->n_args, 2);
    assert_string_equal(s->process->args[1], "-l");
    assert_string_equal(s->process->cwd, "/tmp");
    assert_true(s->process->has_capabilities);
    assert_string_equal(s->process->capabilities.bounding[0], "CAP_KILL");
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Parsing sits on the container start path: the default config must take far less than a millisecond. */
static void test_parse_speed(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    const int rounds = 2000;
    double start, per_parse;

    assert_int_equal(brig_spec_default_json(false, 0, 0, &json, &err), 0);
    start = now_us();
    for (int i = 0; i < rounds; i++) {
        struct brig_spec *s = NULL;
        assert_int_equal(brig_spec_parse(json, strlen(json), &s, &err), 0);
        brig_spec_free(s);
    }
    per_parse = (now_us() - start) / rounds;
    print_message("parse of the default config: %.1f us\n", per_parse);
#ifdef __SANITIZE_ADDRESS__
    assert_true(per_parse < 5000.0); /* instrumented code is several times slower */
#else
    assert_true(per_parse < 1000.0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_top_level),
        cmocka_unit_test(test_full_process),
        cmocka_unit_test(test_full_hooks),
        cmocka_unit_test(test_full_linux),
        cmocka_unit_test(test_full_seccomp),
        cmocka_unit_test(test_full_resources),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_parse_respects_length),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_default_rootless),
        cmocka_unit_test(test_ns_names),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_process_json),
        cmocka_unit_test(test_parse_speed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
