#include "cmd.h"

static const char usage[] = "Usage: brig start CONTAINER_ID\n"
                            "\n"
                            "Start the user process of a created container; returns once it is exec'd.\n";

int cmd_start(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_err *err = NULL;
    const char *id = NULL;
    int ret = cmd_parse_id_only(ctx, "start", usage, argc, argv, &id);

    if (ret || !id)
        return ret;
    if (brig_container_start(ctx, id, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
