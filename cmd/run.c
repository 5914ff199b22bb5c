#include <stdlib.h>

#include "cmd.h"
#include "create_opts.h"

int cmd_run(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_create_opts opts;
    struct brig_err *err = NULL;
    int exit_status = 0;
    bool help;
    int ret = cmd_parse_create_opts(ctx, true, argc, argv, &opts, &help);

    if (ret || help)
        return ret;
    ret = brig_container_run(ctx, &opts, &exit_status, &err) < 0 ? cmd_fail(ctx, err) : exit_status;
    free(opts.publish);
    return ret;
}
