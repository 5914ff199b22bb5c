#include <getopt.h>

#include "cmd.h"
#include "../migrate/migrate.h"

static const char usage[] =
    "Usage: brig export [options] CONTAINER_ID FILE\n"
    "\n"
    "Dump a running container with CRIU into FILE (a new file: the frames `migrate` sends, in one archive) for\n"
    "`brig import` on this or another host; the container is gone afterwards. On failure it runs on here.\n"
    "\n"
    "Options:\n"
    "      --tcp-established    keep established TCP connections\n";

enum {
    OPT_TCP_ESTABLISHED = 256,
};

int cmd_export(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_migrate_opts opts = {0};
    struct brig_migrate_figures figures;
    struct brig_err *err = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_TCP_ESTABLISHED:
            opts.tcp_established = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "export", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        return cmd_usage_error(ctx, "export", argc - optind ? "missing FILE" : "missing container id");
    if (argc - optind > 2)
        return cmd_usage_error(ctx, "export", "unexpected argument `%s`", argv[optind + 2]);
    opts.id = argv[optind];
    opts.export_path = argv[optind + 1];
    if (brig_migrate(ctx, &opts, &figures, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
