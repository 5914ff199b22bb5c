/* Private to runtime/: running OCI hooks. */
#ifndef BRIG_RUNTIME_HOOKS_H
#define BRIG_RUNTIME_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "../spec/spec.h"
#include "../spec/state.h"

/* Runs hooks[index] alone, with the same error message as brig_hooks_run(). */
int brig_hook_run(const char *phase, size_t index, const struct brig_hook *hook, const char *state_json,
                  const char *cwd, struct brig_err **err);

/* Runs hooks[0..n) in order with `state_json` on stdin, in `cwd` (NULL: brig's own); stops at the first failure,
 * whose message names the phase, the index and the path ("hook createRuntime[1] `/bin/x` exited with status 2:
 * <its last line>"). */
int brig_hooks_run(const char *phase, const struct brig_hook *hooks, size_t n, const char *state_json,
                   const char *cwd, struct brig_err **err);
/* The public state JSON with `status` in place of the stored one. */
int brig_hooks_state_json(const struct brig_state *state, const char *status, char **json, struct brig_err **err);
bool brig_hooks_any(const struct brig_hooks *hooks);

#endif
