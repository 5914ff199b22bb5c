#include <getopt.h>

#include "cmd.h"

static const char usage[] = "Usage: brig resume CONTAINER_ID\n"
                            "\n"
                            "Thaw a paused container.\n";

int cmd_resume(struct brig_context *ctx, int argc, char **argv)
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
        return cmd_usage_error(ctx, "resume", "unknown option `%s`", argv[optind - 1]);
    }
    if (cmd_take_id(ctx, "resume", argc, argv, optind, &id))
        return 1;
    if (brig_container_resume(ctx, id, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
