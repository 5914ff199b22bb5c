#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static const char usage[] = "Usage: brig state CONTAINER_ID\n"
                            "\n"
                            "Print the state of a container as JSON (runtime-spec state plus rootfs, created, owner).\n";

int cmd_state(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_err *err = NULL;
    const char *id = NULL;
    char *json = NULL;
    int ret = cmd_parse_id_only(ctx, "state", usage, argc, argv, &id);

    if (ret || !id)
        return ret;
    if (brig_container_state_json(ctx, id, &json, &err) < 0)
        return cmd_fail(ctx, err);
    fputs(json, stdout);
    fputc('\n', stdout);
    free(json);
    return 0;
}
