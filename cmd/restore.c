#include "ckpt_opts.h"

int cmd_restore(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_restore_opts opts;
    struct brig_err *err = NULL;
    int exit_status = 0;
    bool help;
    int ret = cmd_parse_ckpt_opts(ctx, true, argc, argv, &opts, &help);

    if (ret || help)
        return ret;
    if (brig_container_restore(ctx, &opts, &exit_status, &err) < 0)
        return cmd_fail(ctx, err);
    return exit_status;
}
