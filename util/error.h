/* Error objects: every fallible function returns 0 or a negative errno and, on failure,
 * fills a caller-provided `struct brig_err *` with a message naming the object and the cause.
 * Callers add context on the way up with brig_err_wrap(), so the user sees one line:
 *   "create container `web`: mount `proc` on `/proc`: Operation not permitted" */
#ifndef BRIG_UTIL_ERROR_H
#define BRIG_UTIL_ERROR_H

#include <stdarg.h>

struct brig_err {
    int errnum; /* positive errno, 0 when the failure has no errno */
    char *msg;
};

/* Sets *err (which must be NULL) to "<fmt>: strerror(errnum)" (or just "<fmt>" when errnum is 0)
 * and returns -errnum, or -EINVAL when errnum is 0. */
int brig_err_set(struct brig_err **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like brig_err_set() but the message is complete as given: errnum is kept for the caller, not appended. */
int brig_err_msg(struct brig_err **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* brig_err_set() with errno. */
int brig_err_sys(struct brig_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes "<fmt>: " to an existing error's message; returns `ret` unchanged so callers can write
 * `return brig_err_wrap(err, ret, "...")`. */
int brig_err_wrap(struct brig_err **err, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void brig_err_free(struct brig_err **err);

/* Encodes an error into a buffer ("<errnum>:<msg>") for a pipe from a child process, and decodes it. */
int brig_err_encode(const struct brig_err *err, char *buf, int len);
int brig_err_decode(struct brig_err **err, const char *buf, int len);

#define cleanup_err __attribute__((cleanup(brig_err_free)))

#endif
