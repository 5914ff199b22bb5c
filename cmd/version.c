#include <stdio.h>

#include "cmd.h"

int cmd_version(struct brig_context *ctx, int argc, char **argv)
{
    (void) argc;
    (void) argv;
    printf("brig version %s\ncommit: %s\nspec: %s\n", BRIG_VERSION, BRIG_COMMIT, BRIG_SPEC_VERSION);
    /* As crun lists its build's features: Podman and users look for CRIU here. */
    printf("features: %cCRIU +SECCOMP +CAP +YAJL\n", brig_ckpt_available(ctx->criu) ? '+' : '-');
    return 0;
}
