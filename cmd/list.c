#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const char usage[] = "Usage: brig list [options]\n"
                            "\n"
                            "List the containers under --root.\n"
                            "\n"
                            "Options:\n"
                            "  -f, --format table|json  output format (default table)\n"
                            "  -q, --quiet              print only the container ids\n";

int cmd_list(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum brig_list_format format = BRIG_LIST_TABLE;
    bool quiet = false;
    struct brig_err *err = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "f:qh", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (!strcmp(optarg, "json"))
                format = BRIG_LIST_JSON;
            else if (!strcmp(optarg, "table"))
                format = BRIG_LIST_TABLE;
            else
                return cmd_usage_error(ctx, "list", "--format: unknown format `%s` (table or json)", optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "list", "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cmd_usage_error(ctx, "list", "unexpected argument `%s`", argv[optind]);
    if (brig_container_list(ctx, quiet ? BRIG_LIST_QUIET : format, STDOUT_FILENO, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
