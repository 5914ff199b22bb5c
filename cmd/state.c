#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static const char usage[] = "Usage: brig state CONTAINER_ID\n"
                            "\n"
                            "Print the state of a container as JSON (runtime-spec state plus rootfs, created, owner).\n";

int cmd_state(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct brig_err *err = NULL;
    const char *id = NULL;
    char *json = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (opt == 'h') {
            cmd_print_help(usage);
            return 0;
        }
        return cmd_usage_error(ctx, "state", "unknown option `%s`", argv[optind - 1]);
    }
    if (cmd_take_id(ctx, "state", argc, argv, optind, &id))
        return 1;
    if (brig_container_state_json(ctx, id, &json, &err) < 0)
        return cmd_fail(ctx, err);
    fputs(json, stdout);
    fputc('\n', stdout);
    free(json);
    return 0;
}
