#include <getopt.h>

#include "cmd.h"

static const char usage[] = "Usage: brig pause CONTAINER_ID\n"
                            "\n"
                            "Freeze every process of a running container (state then says \"paused\").\n";

int cmd_pause(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct brig_err *err = NULL;
    const char *id = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (opt == 'h') {
            cmd_print_help(usage);
            return 0;
        }
        return cmd_usage_error(ctx, "pause", "unknown option `%s`", argv[optind - 1]);
    }
    if (cmd_take_id(ctx, "pause", argc, argv, optind, &id))
        return 1;
    if (brig_container_pause(ctx, id, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
