#include <getopt.h>
#include <string.h>

#include "cmd.h"
#include "../migrate/migrate.h"

static const char usage[] =
    "Usage: brig migrate-receive --listen ADDR:PORT [options]\n"
    "\n"
    "Receive containers that `brig migrate` sends and restore them here with their network address and\n"
    "ports. The restored containers' stdio is this command's.\n"
    "\n"
    "Options:\n"
    "      --listen ADDR:PORT   where to listen (required)\n"
    "      --once               one migration, then exit with its result\n"
    "      --id NEW             restore under NEW instead of the source's id\n"
    "      --bundle-dir DIR     where each container's bundle goes, as DIR/ID (default <root>/.migrate)\n"
    "      --timeout SECONDS    how long a silent source is waited for, its commit included (default 120)\n"
    "      --cgroup-parent PATH each container's cgroup goes below PATH (its config's path under it)\n"
    "\n"
    "SIGTERM, SIGINT or SIGHUP ends it: idle at once (status 0, or 1 with --once), during a migration with\n"
    "what it made removed and the source told, so that the container runs on there.\n";

enum {
    OPT_LISTEN = 256,
    OPT_ONCE,
    OPT_ID,
    OPT_BUNDLE_DIR,
    OPT_TIMEOUT,
    OPT_CGROUP_PARENT,
};

int cmd_migrate_receive(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"once", no_argument, NULL, OPT_ONCE},
        {"id", required_argument, NULL, OPT_ID},
        {"bundle-dir", required_argument, NULL, OPT_BUNDLE_DIR},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_migrate_receive_opts opts = {0};
    struct brig_err *err = NULL;
    uint64_t timeout;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_LISTEN:
            opts.listen = optarg;
            break;
        case OPT_ONCE:
            opts.once = true;
            break;
        case OPT_ID:
            opts.new_id = optarg;
            break;
        case OPT_BUNDLE_DIR:
            opts.bundle_dir = optarg;
            break;
        case OPT_TIMEOUT:
            if (brig_parse_u64(optarg, &timeout) < 0 || timeout == 0 || timeout > 86400)
                return cmd_usage_error(ctx, "migrate-receive", "--timeout `%s`: not a number in 1..86400", optarg);
            opts.timeout = (unsigned) timeout;
            break;
        case OPT_CGROUP_PARENT:
            if (optarg[0] != '/' || strstr(optarg, ".."))
                return cmd_usage_error(ctx, "migrate-receive", "--cgroup-parent `%s`: not an absolute path "
                                                                "without `..`", optarg);
            opts.cgroup_parent = optarg;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "migrate-receive", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cmd_usage_error(ctx, "migrate-receive", "unexpected argument `%s`", argv[optind]);
    if (!opts.listen)
        return cmd_usage_error(ctx, "migrate-receive", "--listen ADDR:PORT is required");
    if (brig_migrate_receive(ctx, &opts, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
