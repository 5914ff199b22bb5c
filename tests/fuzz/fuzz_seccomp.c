/* The seccomp profile (linux.seccomp): the input is the profile object alone, read as a config.json's
 * linux.seccomp, then checked and compiled to BPF by libseccomp as create does (nothing is loaded). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "runtime/security.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char head[] = "{\"ociVersion\":\"1.2.0\",\"linux\":{\"seccomp\":";
    static const char tail[] = "}}";
    const struct brig_context ctx = {.root = "/nonexistent", .log_fd = -1};
    cleanup_spec struct brig_spec *spec = NULL;
    cleanup_err struct brig_err *err = NULL;
    struct brig_seccomp_plan plan = {.listener_sock = -1};
    char *json;
    size_t len = sizeof(head) - 1 + size + sizeof(tail) - 1;
    int ret;

    json = malloc(len);
    if (!json)
        return 0;
    memcpy(json, head, sizeof(head) - 1);
    memcpy(json + sizeof(head) - 1, data, size);
    memcpy(json + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
    ret = brig_spec_parse(json, len, &spec, &err);
    free(json);
    fuzz_check(ret, &err);
    if (ret < 0 || !spec->linux_cfg || !spec->linux_cfg->seccomp)
        return 0;
    ret = brig_seccomp_validate(spec->linux_cfg->seccomp, &err);
    fuzz_check(ret, &err);
    if (ret < 0)
        return 0;
    fuzz_check(brig_seccomp_compile(&ctx, spec->linux_cfg->seccomp, &plan, &err), &err);
    brig_seccomp_plan_release(&plan);
    return 0;
}
