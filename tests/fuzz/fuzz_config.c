/* config.json: the parser and every check create makes on the parsed config before it touches the system
 * (process, namespaced settings, capabilities, scheduler, seccomp names, network annotations, cgroupsPath,
 * overlay options annotation). */
#include <stdlib.h>
#include <string.h>

#include "cgroups/cgroups.h"
#include "fuzz.h"
#include "netns/netns.h"
#include "rootfs/rootfs.h"
#include "runtime/internal.h"
#include "runtime/process.h"
#include "runtime/security.h"
#include "spec/spec.h"

static void check_process(const struct brig_context *ctx, const struct brig_spec *spec)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_caps_plan caps;
    struct brig_sched_plan sched;
    char *warnings = NULL;

    fuzz_check(brig_process_validate(spec->process, &err), &err);
    fuzz_check(brig_caps_plan_build(spec->process, UINT64_MAX, &caps, &warnings, &err), &err);
    free(warnings);
    fuzz_check(brig_sched_plan_build(ctx, spec, &sched, &err), &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct brig_context ctx = {.root = "/nonexistent", .log_fd = -1};
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *err = NULL;
    struct brig_net_opts net;
    const char *overlay_options;
    char *cgroup = NULL;
    int ret;

    ret = brig_spec_parse((const char *) data, size, &spec, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return 0;
    if (spec->process)
        check_process(&ctx, spec);
    fuzz_check(brig_validate_namespaced_settings(spec, &err), &err);
    if (spec->linux_cfg && spec->linux_cfg->seccomp)
        fuzz_check(brig_seccomp_validate(spec->linux_cfg->seccomp, &err), &err);
    ret = brig_net_opts_from_spec(spec, &net, &err);
    fuzz_check(ret, &err);
    if (ret == 0)
        brig_net_opts_clear(&net);
    ret = brig_cgroup_resolve_path(spec->linux_cfg ? spec->linux_cfg->cgroups_path : NULL, "fuzz", &cgroup, &err);
    fuzz_check(ret, &err);
    free(cgroup);
    overlay_options = brig_spec_annotation(spec, BRIG_ROOTFS_OVERLAY_OPTIONS_ANNOTATION);
    if (overlay_options) {
        char *copy = strdup(overlay_options), *save = NULL;
        for (char *opt = copy ? strtok_r(copy, ",", &save) : NULL; opt; opt = strtok_r(NULL, ",", &save))
            fuzz_check(brig_overlay_check_option(opt, &err), &err);
        free(copy);
    }
    return 0;
}
