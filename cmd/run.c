#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "create_opts.h"

int cmd_run(struct brig_context *ctx, int argc, char **argv)
{
    struct brig_create_opts opts;
    struct brig_err *err = NULL;
    int exit_status = 0;
    char *kept_upper = NULL;
    bool help;
    int ret = cmd_parse_create_opts(ctx, true, argc, argv, &opts, &help);

    if (ret || help)
        return ret;
    ret = brig_container_run(ctx, &opts, &exit_status, &kept_upper, &err) < 0 ? cmd_fail(ctx, err) : exit_status;
    /* On stderr: the container's own output shares stdout. */
    if (kept_upper)
        fprintf(stderr, "brig: the upper directory of `%s` is kept at %s\n", opts.id, kept_upper);
    free(kept_upper);
    free(opts.publish);
    free(opts.layers);
    return ret;
}
