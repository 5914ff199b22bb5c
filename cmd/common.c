#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

int cmd_fail(const struct brig_context *ctx, struct brig_err *err)
{
    brig_log_error(ctx, err);
    brig_err_free(&err);
    return 1;
}

int cmd_usage_error(const struct brig_context *ctx, const char *command, const char *fmt, ...)
{
    struct brig_err *err = NULL;
    char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    /* The log line already starts with `brig: `: global errors name no command of their own. */
    if (!strcmp(command, "brig"))
        brig_err_set(&err, 0, "%s (see `brig --help`)", msg ? msg : "usage error");
    else
        brig_err_set(&err, 0, "%s: %s (see `brig %s --help`)", command, msg ? msg : "usage error", command);
    free(msg);
    return cmd_fail(ctx, err);
}

void cmd_print_help(const char *usage)
{
    fputs(usage, stdout);
}

int cmd_take_id(const struct brig_context *ctx, const char *command, int argc, char **argv, int optind_now,
                const char **id)
{
    if (optind_now >= argc)
        return cmd_usage_error(ctx, command, "missing container id");
    if (argc - optind_now > 1)
        return cmd_usage_error(ctx, command, "unexpected argument `%s`", argv[optind_now + 1]);
    *id = argv[optind_now];
    return 0;
}

int cmd_parse_id_only(const struct brig_context *ctx, const char *command, const char *usage, int argc, char **argv,
                      const char **id)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;

    *id = NULL;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'h') {
            cmd_print_help(usage);
            return 0;
        }
        return cmd_usage_error(ctx, command, "unknown option `%s`", argv[optind - 1]);
    }
    return cmd_take_id(ctx, command, argc, argv, optind, id);
}
