#include <stdio.h>
#include <unistd.h>

#include "cmd.h"

static const char usage[] = "Usage: brig diff CONTAINER_ID\n"
                            "\n"
                            "Print what a container with an overlay root changed, running or stopped, one line per path\n"
                            "as `podman diff` does: `A /path` added, `C /path` changed, `D /path` deleted; sorted.\n";

int cmd_diff(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_err *err = NULL;
    const char *id = NULL;
    int ret = cmd_parse_id_only(ctx, "diff", usage, argc, argv, &id);

    if (ret || !id)
        return ret;
    if (brig_container_diff(ctx, id, STDOUT_FILENO, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
