/* process.json for `exec --process`: the parser and the checks exec makes before it forks. */
#include <stdlib.h>

#include "fuzz.h"
#include "runtime/process.h"
#include "runtime/security.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct brig_context ctx = {.root = "/nonexistent", .log_fd = -1};
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *err = NULL;
    struct brig_caps_plan caps;
    struct brig_sched_plan sched;
    char *warnings = NULL;
    int ret;

    ret = brig_spec_parse_process((const char *) data, size, &spec, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return 0;
    fuzz_check(brig_process_validate(spec->process, &err), &err);
    fuzz_check(brig_caps_plan_build(spec->process, UINT64_MAX, &caps, &warnings, &err), &err);
    free(warnings);
    fuzz_check(brig_sched_plan_build(&ctx, spec, &sched, &err), &err);
    return 0;
}
