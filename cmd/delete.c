#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static const char usage[] = "Usage: brig delete [options] CONTAINER_ID\n"
                            "\n"
                            "Delete a stopped (or created) container: its processes, cgroup and state.\n"
                            "\n"
                            "Options:\n"
                            "  -f, --force        kill and delete a running or paused container too\n"
                            "      --keep-upper   keep an overlay root's changes (moved to ROOT/.upper/ID; printed)\n";

int cmd_delete(struct brig_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"force", no_argument, NULL, 'f'},
        {"keep-upper", no_argument, NULL, 256},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct brig_err *err = NULL;
    const char *id = NULL;
    bool force = false, keep_upper = false;
    char *kept_upper = NULL;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "fh", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            force = true;
            break;
        case 256: /* --keep-upper */
            keep_upper = true;
            break;
        case 'h':
            cmd_print_help(usage);
            return 0;
        default:
            return cmd_usage_error(ctx, "delete", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (cmd_take_id(ctx, "delete", argc, argv, optind, &id))
        return 1;
    if (brig_container_delete(ctx, id, force, keep_upper, &kept_upper, &err) < 0)
        return cmd_fail(ctx, err);
    if (kept_upper)
        fprintf(stderr, "brig: the upper directory of `%s` is kept at %s\n", id, kept_upper);
    free(kept_upper);
    return 0;
}
