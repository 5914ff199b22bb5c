/* `features`: what this brig supports, gathered from the same tables the code uses, so it cannot claim
 * more than it does (tests/unit/test_features.c checks each list against the parsers). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "runtime.h"
#include "security.h"
#include "../netns/netns.h"
#include "../rootfs/rootfs.h"
#include "../util/util.h"

const char *const brig_feature_seccomp_actions[] = {
    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",   "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",   "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
};
const size_t brig_feature_n_seccomp_actions = ARRAY_SIZE(brig_feature_seccomp_actions);

const char *const brig_feature_seccomp_operators[] = {
    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
};
const size_t brig_feature_n_seccomp_operators = ARRAY_SIZE(brig_feature_seccomp_operators);

const char *const brig_feature_seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};
const size_t brig_feature_n_seccomp_flags = ARRAY_SIZE(brig_feature_seccomp_flags);

/* The OCI names of every architecture; only those this libseccomp resolves are advertised. */
static const char *const all_archs[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",      "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",        "SCMP_ARCH_SHEB",
};

static const char *const hooks[] = {"prestart",  "createRuntime", "createContainer",
                                    "startContainer", "poststart", "poststop"};
static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
/* "run.brig.rootfs.": a prefix (the spec's trailing-dot form) for the overlay root's layers and options. */
static const char *const unsafe_annotations[] = {BRIG_NET_ANNOTATION_NETWORK, BRIG_NET_ANNOTATION_PORTS,
                                                 BRIG_NET_ANNOTATION_IP, "run.brig.rootfs."};

static int last_cap(void)
{
    char buf[16] = {0};
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    int value = CAP_LAST_CAP;

    if (fd >= 0) {
        if (read(fd, buf, sizeof(buf) - 1) > 0)
            value = atoi(buf);
        close(fd);
    }
    return value;
}

int brig_features_print(const struct brig_context *ctx, char **json, struct brig_err **err)
{
    const char *mount_options[128];
    const char *archs[ARRAY_SIZE(all_archs)];
    char *caps[64] = {0};
    char libseccomp_version[32];
    const struct scmp_version *v = seccomp_version();
    struct brig_kv annotations[] = {
        {"io.github.seccomp.libseccomp.version", libseccomp_version},
        /* As runc means it: the runtime can drive CRIU (libcriu and criu are installed). Whether this kernel
         * suits CRIU, `checkpoint` says in one line. */
        {"org.opencontainers.runc.checkpoint.enabled", brig_ckpt_available(ctx->criu) ? "true" : "false"},
        {"run.brig.network.enabled", "true"},
    };
    struct brig_features f = {
        .hooks = hooks,
        .n_hooks = ARRAY_SIZE(hooks),
        .namespaces = namespaces,
        .n_namespaces = ARRAY_SIZE(namespaces),
        .cgroup_v1 = true,
        .cgroup_v2 = true,
        .cgroup_rdma = true,
        .seccomp_actions = brig_feature_seccomp_actions,
        .n_seccomp_actions = brig_feature_n_seccomp_actions,
        .seccomp_operators = brig_feature_seccomp_operators,
        .n_seccomp_operators = brig_feature_n_seccomp_operators,
        .seccomp_flags = brig_feature_seccomp_flags,
        .n_seccomp_flags = brig_feature_n_seccomp_flags,
        .seccomp_archs = archs,
        /* Labels are written when the LSM is enabled on the host. */
        .apparmor = true,
        .selinux = true,
        .idmap_mounts = true,
        .annotations = annotations,
        .n_annotations = ARRAY_SIZE(annotations),
        .unsafe_annotations = unsafe_annotations,
        .n_unsafe_annotations = ARRAY_SIZE(unsafe_annotations),
    };
    int n_caps = 0, ret;

    snprintf(libseccomp_version, sizeof(libseccomp_version), "%u.%u.%u", v ? v->major : 0, v ? v->minor : 0,
             v ? v->micro : 0);
    f.n_mount_options = brig_rootfs_mount_option_names(mount_options, ARRAY_SIZE(mount_options));
    f.mount_options = mount_options;
    /* Only what a filter on this machine can take: libseccomp knows big-endian architectures too, but a
     * little-endian filter refuses them. */
    {
        scmp_filter_ctx probe = seccomp_init(SCMP_ACT_ALLOW);
        for (size_t i = 0; probe && i < ARRAY_SIZE(all_archs); i++) {
            uint32_t arch;
            int r;
            if (brig_seccomp_arch_from_name(all_archs[i], &arch) < 0)
                continue;
            r = seccomp_arch_add(probe, arch);
            if (r == 0 || r == -EEXIST)
                archs[f.n_seccomp_archs++] = all_archs[i];
        }
        if (probe)
            seccomp_release(probe);
    }
    for (int c = 0; c <= last_cap() && c < (int) ARRAY_SIZE(caps); c++) {
        char *name = cap_to_name(c);
        if (!name)
            continue;
        caps[n_caps] = strdup(name);
        cap_free(name);
        if (!caps[n_caps] || strncmp(caps[n_caps], "cap_", 4))
            continue; /* a number: libcap older than the kernel */
        for (char *p = caps[n_caps]; *p; p++)
            *p = (char) toupper((unsigned char) *p);
        n_caps++;
    }
    f.capabilities = (const char *const *) caps;
    f.n_capabilities = (size_t) n_caps;
    ret = brig_features_json(&f, json, err);
    for (int i = 0; i < (int) ARRAY_SIZE(caps); i++)
        free(caps[i]);
    return ret;
}
