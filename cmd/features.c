#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static const char usage[] = "Usage: brig features\n"
                            "\n"
                            "Print what this runtime supports, as the runtime-spec's features JSON.\n";

int cmd_features(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct brig_err *err = NULL;
    char *json = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'h') {
            cmd_print_help(usage);
            return 0;
        }
        return cmd_usage_error(ctx, "features", "unknown option `%s`", argv[optind - 1]);
    }
    if (optind < argc)
        return cmd_usage_error(ctx, "features", "unexpected argument `%s`", argv[optind]);
    if (brig_features_print(ctx, &json, &err) < 0)
        return cmd_fail(ctx, err);
    puts(json);
    free(json);
    return 0;
}
