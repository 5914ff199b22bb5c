/* The command line: each command parses its flags and calls one runtime/ function. */
#ifndef BRIG_CMD_CMD_H
#define BRIG_CMD_CMD_H

#include "../runtime/runtime.h"

/* Each returns the process exit status. */
int cmd_create(struct brig_context *ctx, int argc, char **argv);
int cmd_start(struct brig_context *ctx, int argc, char **argv);
int cmd_exec(struct brig_context *ctx, int argc, char **argv);
int cmd_run(struct brig_context *ctx, int argc, char **argv);
int cmd_state(struct brig_context *ctx, int argc, char **argv);
int cmd_list(struct brig_context *ctx, int argc, char **argv);
int cmd_kill(struct brig_context *ctx, int argc, char **argv);
int cmd_delete(struct brig_context *ctx, int argc, char **argv);
int cmd_spec(struct brig_context *ctx, int argc, char **argv);
int cmd_version(struct brig_context *ctx, int argc, char **argv);
int cmd_features(struct brig_context *ctx, int argc, char **argv);
int cmd_update(struct brig_context *ctx, int argc, char **argv);
int cmd_pause(struct brig_context *ctx, int argc, char **argv);
int cmd_resume(struct brig_context *ctx, int argc, char **argv);
int cmd_ps(struct brig_context *ctx, int argc, char **argv);
int cmd_events(struct brig_context *ctx, int argc, char **argv);
int cmd_diff(struct brig_context *ctx, int argc, char **argv);
int cmd_checkpoint(struct brig_context *ctx, int argc, char **argv);
int cmd_restore(struct brig_context *ctx, int argc, char **argv);
int cmd_migrate(struct brig_context *ctx, int argc, char **argv);
int cmd_migrate_receive(struct brig_context *ctx, int argc, char **argv);
int cmd_export(struct brig_context *ctx, int argc, char **argv);
int cmd_import(struct brig_context *ctx, int argc, char **argv);

/* Reports `err` (stderr and --log) and returns the failure exit status. */
int cmd_fail(const struct brig_context *ctx, struct brig_err *err);
/* Reports a usage error of `command` ("brig create: missing container id") and returns 1... */
int cmd_usage_error(const struct brig_context *ctx, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True and prints `usage` when argv asks for help. */
void cmd_print_help(const char *usage);
/* Takes the single positional container id; reports a usage error otherwise. */
int cmd_take_id(const struct brig_context *ctx, const char *command, int argc, char **argv, int optind_now,
                const char **id);

/* For commands whose only argument is the container id: 0 with *id set, 0 with *id NULL after --help,
 * or the exit status of a usage error. */
int cmd_parse_id_only(const struct brig_context *ctx, const char *command, const char *usage, int argc, char **argv,
                      const char **id);

#endif
