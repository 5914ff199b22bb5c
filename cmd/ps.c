#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const char usage[] = "Usage: brig ps [options] CONTAINER_ID [-- PS_ARGS...]\n"
                            "\n"
                            "List the processes of a container.\n"
                            "\n"
                            "Options:\n"
                            "  -f, --format table|json  table runs ps (PS_ARGS, default -ef) and keeps the\n"
                            "                           container's lines; json prints an array of pids\n";

int cmd_ps(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_err *err = NULL;
    bool json = false;
    const char *id;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+f:h", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (!strcmp(optarg, "json"))
                json = true;
            else if (!strcmp(optarg, "table"))
                json = false;
            else
                return cmd_usage_error(ctx, "ps", "--format: unknown format `%s` (table or json)", optarg);
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "ps", "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(ctx, "ps", "missing container id");
    id = argv[optind++];
    /* Everything after the id goes to ps; a "--" before it is optional. */
    if (optind < argc && !strcmp(argv[optind], "--"))
        optind++;
    if (json && optind < argc)
        return cmd_usage_error(ctx, "ps", "ps arguments do not go with --format json");
    if (brig_container_ps(ctx, id, json, argv + optind, STDOUT_FILENO, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
