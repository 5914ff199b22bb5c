#include <getopt.h>
#include <signal.h>

#include "cmd.h"

static const char usage[] = "Usage: brig kill [options] CONTAINER_ID [SIGNAL]\n"
                            "\n"
                            "Send SIGNAL (a name like TERM, SIGKILL or RTMIN+2, or a number; 0 only checks that the process\n"
                            "exists; default SIGTERM) to the container.\n"
                            "\n"
                            "Options:\n"
                            "  -a, --all   send it to every process in the container's cgroup\n";

int cmd_kill(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_err *err = NULL;
    bool all = false;
    int sig = SIGTERM;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "ah", options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            all = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "kill", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(ctx, "kill", "missing container id");
    if (argc - optind > 2)
        return cmd_usage_error(ctx, "kill", "unexpected argument `%s`", argv[optind + 2]);
    if (argc - optind == 2 && brig_parse_signal(argv[optind + 1], &sig, &err) < 0)
        return cmd_fail(ctx, err);
    if (brig_container_kill(ctx, argv[optind], sig, all, &err) < 0)
        return cmd_fail(ctx, err);
    return 0;
}
