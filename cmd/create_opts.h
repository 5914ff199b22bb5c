/* Flags shared by create and run. */
#ifndef BRIG_CMD_CREATE_OPTS_H
#define BRIG_CMD_CREATE_OPTS_H

#include <stdbool.h>

#include "cmd.h"

/* Returns 0 with *help set when --help was printed, or the exit status of a usage error. */
int cmd_parse_create_opts(struct brig_context *ctx, bool is_run, int argc, char **argv,
                          struct brig_create_opts *opts, bool *help);

#endif
