#include "cmd.h"

static const char usage[] = "Usage: brig pause CONTAINER_ID\n"
                            "\n"
                            "Freeze every process of a running container (state then says \"paused\").\n";

int cmd_pause(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_err *err = NULL;
    const char *id = NULL;
    int ret = cmd_parse_id_only(ctx, "pause", usage, argc, argv, &id);

    if (ret || !id)
        return ret;
    if (brig_container_pause(ctx, id, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
