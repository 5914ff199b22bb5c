/* Private to runtime/: applying the OCI process fields in the init. */
#ifndef BRIG_RUNTIME_PROCESS_H
#define BRIG_RUNTIME_PROCESS_H

#include <signal.h>
#include <stddef.h>

#include "../spec/spec.h"
#include "../util/error.h"

int brig_rlimit_from_name(const char *name, int *resource);
/* Checks what can be checked before anything is created (rlimit names, cwd). */
int brig_process_validate(const struct brig_process *proc, struct brig_err **err);
int brig_process_apply_rlimits(const struct brig_process *proc, struct brig_err **err);
int brig_process_apply_oom_score(const struct brig_process *proc, struct brig_err **err);
/* additionalGids, gid, uid, umask, noNewPrivileges. */
int brig_process_set_user(const struct brig_process *proc, struct brig_err **err);
/* Resolves args[0] in the container (PATH from process.env) into `out`. */
int brig_process_find_executable(const struct brig_process *proc, char *out, size_t len, struct brig_err **err);
/* Until it exec's, a container process is a clone of brig: /proc/<pid>/exe is brig's binary, which a
 * process in the container must not open (the 2019 runc overwrite). Without a user namespace the container's
 * root passes DAC checks on the host, so the clone is made non-dumpable: /proc/<pid>/exe (and fd, environ...)
 * then need CAP_SYS_PTRACE in the host's user namespace. With one, host DAC already keeps the binary safe, and
 * the init must stay dumpable to write its own /proc/self files. exec resets dumpability. */
void brig_protect_brig_binary(bool no_user_ns);
/* Only 0-2 and the caller's fds in `preserve` (a prefix of brig_context.caller_fds) may reach the user
 * process: clears close-on-exec on those and sets it on every other fd from 3 up. */
int brig_seal_fds(int *preserve, size_t n, struct brig_err **err);
/* Default dispositions and an empty mask: what brig blocked or ignored must not leak into the process. */
void brig_reset_signals(void);

/* The signals that ask a command to stop: SIGTERM, SIGINT, SIGHUP. A command that makes things blocks them
 * for its duration so that a stop ends its waits (brig_stop_fd) and its error path undoes what it made,
 * with no handler and no global state; the pending signal is the only record. */
void brig_stop_signals(sigset_t *set);
/* A signalfd (close-on-exec) readable while a stop signal is pending and blocked, or -1. */
int brig_stop_fd(void);
/* Fails with -EINTR ("`what`: interrupted by SIGTERM") when a stop signal is pending, consuming it. */
int brig_stop_check(const char *what, struct brig_err **err);
/* hostname/domainname need a new uts namespace, and each sysctl the namespace that owns it (runc's rules):
 * changing the host's own settings from a container config is refused. */
int brig_validate_namespaced_settings(const struct brig_spec *spec, struct brig_err **err);
/* Adds HOME (from the container's /etc/passwd, or "/") when process.env has none; call after pivot_root. */
int brig_process_default_home(struct brig_process *proc, struct brig_err **err);
/* chdir to process.cwd (with `deferred`, as root before the user switch: a permission error only sets it, to
 * try again as the user) and make sure it is inside the container's root: a cwd like /proc/self/fd/N could
 * otherwise land on a directory of the host that brig still has open (the 2024 leaked-cwd escapes). */
int brig_process_enter_cwd(const struct brig_process *proc, bool *deferred, struct brig_err **err);
/* Creates process.cwd when missing (as root, before the user switch), like runc. */
int brig_process_make_cwd(const struct brig_process *proc, struct brig_err **err);
int brig_apply_sysctl(const struct brig_linux *linux_cfg, struct brig_err **err);

#endif
