#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "../util/util.h"

static const char usage[] = "Usage: brig events [options] CONTAINER_ID\n"
                            "\n"
                            "Print the container's events as JSON lines: OOM kills ({\"type\":\"oom\"}) as they\n"
                            "happen and resource statistics ({\"type\":\"stats\"}) every interval, until it stops.\n"
                            "\n"
                            "Options:\n"
                            "  --interval DURATION  time between statistics (5s, 500ms, 1m; default 5s)\n"
                            "  --stats              print the statistics once and exit\n";

/* "5s", "500ms", "2m", "1h", or a number of seconds. */
static int parse_duration_ms(const char *text, unsigned *out)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000}};
    size_t digits = strspn(text, "0123456789");
    char number[24];
    uint64_t value;

    if (digits == 0 || digits >= sizeof(number))
        return -1;
    memcpy(number, text, digits);
    number[digits] = '\0';
    if (brig_parse_u64(number, &value) < 0)
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        if (strcmp(text + digits, units[i].unit) == 0) {
            if (value == 0 || value > UINT32_MAX / units[i].ms)
                return -1;
            *out = (unsigned) (value * units[i].ms);
            return 0;
        }
    }
    return -1;
}

int cmd_events(struct brig_context *ctx, int argc, char **argv)
{
    enum { OPT_INTERVAL = 256, OPT_STATS };
    static const struct option options[] = {
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"stats", no_argument, NULL, OPT_STATS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_err *err = NULL;
    unsigned interval_ms = 5000;
    bool stats = false;
    const char *id = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_INTERVAL:
            if (parse_duration_ms(optarg, &interval_ms) < 0)
                return cmd_usage_error(ctx, "events", "--interval: `%s` is not a positive duration like 5s", optarg);
            break;
        case OPT_STATS:
            stats = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "events", "unknown or incomplete option `%s`", argv[optind - 1]);
        }
    }
    if (cmd_take_id(ctx, "events", argc, argv, optind, &id))
        return 1;
    if (brig_container_events(ctx, id, stats, interval_ms, STDOUT_FILENO, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
