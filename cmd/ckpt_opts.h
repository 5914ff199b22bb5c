/* Flags shared by checkpoint and restore (runc's names). */
#ifndef BRIG_CMD_CKPT_OPTS_H
#define BRIG_CMD_CKPT_OPTS_H

#include <stdbool.h>

#include "cmd.h"

/* Fills opts (restore's own flags only when `restore`; opts->id is the container id). Returns 0 with *help
 * set when --help was printed, or the exit status of a usage error. */
int cmd_parse_ckpt_opts(struct brig_context *ctx, bool restore, int argc, char **argv, struct brig_restore_opts *opts,
                        bool *help);

#endif
