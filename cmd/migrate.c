#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "../migrate/migrate.h"

static const char usage[] =
    "Usage: brig migrate [options] CONTAINER_ID tcp:HOST:PORT\n"
    "\n"
    "Move a running container to the `brig migrate-receive` listening at HOST:PORT: it is dumped with CRIU,\n"
    "restored there with the same network address and ports, and removed here once the receiver answers that\n"
    "it runs. On any failure before that it runs on here. Prints one JSON line of figures.\n"
    "\n"
    "Options:\n"
    "      --offline              freeze, dump, send, restore there (the default)\n"
    "      --live                 send pre-dumps while it runs, then a final dump of what changed since\n"
    "      --max-iterations N     live: pre-dumps at most (default 5)\n"
    "      --downtime-target MS   live: stop pre-dumping once the last dirty set was sent within MS\n"
    "      --eager-restore        live: the restore there reads the pre-copied memory before the container\n"
    "                             runs (by default a local criu lazy-pages puts it in afterwards)\n"
    "      --lazy-pages           post-copy: restore there at once, its memory fetched from here afterwards\n"
    "                             (removed here once every page is fetched; a source lost before that loses it)\n"
    "      --tcp-established      keep established TCP connections\n"
    "\n"
    "Progress (a line per dump sent: pages, MiB, MB/s) goes to stderr when it is a terminal. SIGTERM, SIGINT\n"
    "or SIGHUP ends it at the next step (a dump under way is finished first), the container running here.\n";

enum {
    OPT_OFFLINE = 256,
    OPT_LIVE,
    OPT_MAX_ITERATIONS,
    OPT_DOWNTIME_TARGET,
    OPT_TCP_ESTABLISHED,
    OPT_LAZY_PAGES,
    OPT_EAGER_RESTORE,
};

static int parse_count(const struct brig_context *ctx, const char *flag, const char *text, unsigned max,
                       unsigned *out)
{
    uint64_t v;

    if (brig_parse_u64(text, &v) < 0 || v == 0 || v > max)
        return cmd_usage_error(ctx, "migrate", "%s `%s`: not a number in 1..%u", flag, text, max);
    *out = (unsigned) v;
    return 0;
}

int cmd_migrate(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"offline", no_argument, NULL, OPT_OFFLINE},
        {"live", no_argument, NULL, OPT_LIVE},
        {"max-iterations", required_argument, NULL, OPT_MAX_ITERATIONS},
        {"downtime-target", required_argument, NULL, OPT_DOWNTIME_TARGET},
        {"tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED},
        {"lazy-pages", no_argument, NULL, OPT_LAZY_PAGES},
        {"eager-restore", no_argument, NULL, OPT_EAGER_RESTORE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_migrate_opts opts = {0};
    struct brig_migrate_figures figures;
    struct brig_err *err = NULL;
    char *json = NULL;
    bool offline = false;
    int opt, ret;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_OFFLINE:
            offline = true;
            break;
        case OPT_LIVE:
            opts.live = true;
            break;
        case OPT_MAX_ITERATIONS:
            ret = parse_count(ctx, "--max-iterations", optarg, BRIG_MIGRATE_MAX_ITERATIONS, &opts.max_iterations);
            if (ret)
                return ret;
            break;
        case OPT_DOWNTIME_TARGET:
            ret = parse_count(ctx, "--downtime-target", optarg, 3600000, &opts.downtime_target_ms);
            if (ret)
                return ret;
            break;
        case OPT_TCP_ESTABLISHED:
            opts.tcp_established = true;
            break;
        case OPT_LAZY_PAGES:
            opts.lazy_pages = true;
            break;
        case OPT_EAGER_RESTORE:
            opts.eager_restore = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "migrate", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (offline && opts.live)
        return cmd_usage_error(ctx, "migrate", "--offline and --live: choose one");
    if (opts.lazy_pages && opts.live)
        return cmd_usage_error(ctx, "migrate", "--lazy-pages and --live: choose one (pre-copied pages would be "
                                               "restored eagerly, the downtime post-copy saves)");
    if (!opts.live && (opts.max_iterations || opts.downtime_target_ms || opts.eager_restore))
        return cmd_usage_error(ctx, "migrate", "--max-iterations, --downtime-target and --eager-restore need --live");
    if (argc - optind < 2)
        return cmd_usage_error(ctx, "migrate", argc - optind ? "missing tcp:HOST:PORT" : "missing container id");
    if (argc - optind > 2)
        return cmd_usage_error(ctx, "migrate", "unexpected argument `%s`", argv[optind + 2]);
    opts.progress = isatty(STDERR_FILENO);
    opts.id = argv[optind];
    opts.target = argv[optind + 1];
    if (brig_migrate(ctx, &opts, &figures, &err) < 0)
        return cmd_fail(ctx, err);
    if (brig_migrate_figures_json(&figures, &json, &err) < 0)
        return cmd_fail(ctx, err);
    printf("%s\n", json);
    free(json);
    return 0;
}
