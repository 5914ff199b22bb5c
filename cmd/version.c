#include <stdio.h>

#include "cmd.h"

int cmd_version(struct brig_context *ctx, int argc, char **argv)
{
    (void) ctx;
    (void) argc;
    (void) argv;
    printf("brig version %s\ncommit: %s\nspec: %s\n", BRIG_VERSION, BRIG_COMMIT, BRIG_SPEC_VERSION);
    return 0;
}
