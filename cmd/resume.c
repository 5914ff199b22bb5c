#include "cmd.h"

static const char usage[] = "Usage: brig resume CONTAINER_ID\n"
                            "\n"
                            "Thaw a paused container.\n";

int cmd_resume(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_err *err = NULL;
    const char *id = NULL;
    int ret = cmd_parse_id_only(ctx, "resume", usage, argc, argv, &id);

    if (ret || !id)
        return ret;
    if (brig_container_resume(ctx, id, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
