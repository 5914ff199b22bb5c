#include <getopt.h>

#include "cmd.h"
#include "../migrate/migrate.h"

static const char usage[] =
    "Usage: brig import [options] FILE\n"
    "\n"
    "Restore a container from an archive `brig export` wrote, with its network address and ports, detached;\n"
    "its stdio is this command's. On failure nothing is left.\n"
    "\n"
    "Options:\n"
    "      --id NEW             restore under NEW instead of the exported id\n"
    "      --bundle-dir DIR     where the container's bundle goes, as DIR/ID (default <root>/.migrate)\n";

enum {
    OPT_ID = 256,
    OPT_BUNDLE_DIR,
};

int cmd_import(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"id", required_argument, NULL, OPT_ID},
        {"bundle-dir", required_argument, NULL, OPT_BUNDLE_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_migrate_receive_opts opts = {0};
    struct brig_err *err = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_ID:
            opts.new_id = optarg;
            break;
        case OPT_BUNDLE_DIR:
            opts.bundle_dir = optarg;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "import", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(ctx, "import", "missing FILE");
    if (argc - optind > 1)
        return cmd_usage_error(ctx, "import", "unexpected argument `%s`", argv[optind + 1]);
    if (brig_migrate_import(ctx, &opts, argv[optind], &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
