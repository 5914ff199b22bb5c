#include <getopt.h>

#include "cmd.h"

static const char usage[] = "Usage: brig start CONTAINER_ID\n"
                            "\n"
                            "Start the user process of a created container; returns once it is exec'd.\n";

int cmd_start(struct brig_context *ctx, int argc, char **argv)
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
        return cmd_usage_error(ctx, "start", "unknown option `%s`", argv[optind - 1]);
    }
    if (cmd_take_id(ctx, "start", argc, argv, optind, &id))
        return 1;
    if (brig_container_start(ctx, id, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
