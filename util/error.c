#include "error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 4, 0))) static int make_error(struct brig_err **err, int errnum, bool append_errno,
                                                          const char *fmt, va_list ap)
{
    char *text = NULL;
    char *msg = NULL;
    struct brig_err *e;

    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    if (text && errnum && append_errno) {
        if (asprintf(&msg, "%s: %s", text, strerror(errnum)) < 0)
            msg = NULL;
        free(text);
    } else {
        msg = text;
    }
    e = calloc(1, sizeof(*e));
    if (e) {
        e->errnum = errnum;
        e->msg = msg ? msg : strdup("out of memory");
    } else {
        free(msg);
    }
    if (err) {
        brig_err_free(err);
        *err = e;
    } else if (e) {
        free(e->msg);
        free(e);
    }
    return errnum ? -errnum : -EINVAL;
}

int brig_err_set(struct brig_err **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = make_error(err, errnum, true, fmt, ap);
    va_end(ap);
    return ret;
}

int brig_err_msg(struct brig_err **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = make_error(err, errnum, false, fmt, ap);
    va_end(ap);
    return ret;
}

int brig_err_sys(struct brig_err **err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = make_error(err, saved ? saved : EIO, true, fmt, ap);
    va_end(ap);
    errno = saved;
    return ret;
}

int brig_err_wrap(struct brig_err **err, int ret, const char *fmt, ...)
{
    char *prefix = NULL;
    char *msg = NULL;
    va_list ap;

    if (!err || !*err)
        return ret;
    va_start(ap, fmt);
    if (vasprintf(&prefix, fmt, ap) < 0)
        prefix = NULL;
    va_end(ap);
    if (prefix && asprintf(&msg, "%s: %s", prefix, (*err)->msg) >= 0) {
        free((*err)->msg);
        (*err)->msg = msg;
    }
    free(prefix);
    return ret;
}

void brig_err_free(struct brig_err **err)
{
    if (!err || !*err)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

int brig_err_encode(const struct brig_err *err, char *buf, int len)
{
    int n = snprintf(buf, len, "%d:%s", err ? err->errnum : EIO, err && err->msg ? err->msg : "unknown error");
    return n >= len ? len - 1 : n;
}

int brig_err_decode(struct brig_err **err, const char *buf, int len)
{
    int errnum = 0;
    int consumed = 0;

    if (sscanf(buf, "%d:%n", &errnum, &consumed) < 1 || consumed <= 0 || consumed > len)
        return brig_err_set(err, EIO, "malformed error report from child process");
    brig_err_free(err);
    *err = calloc(1, sizeof(**err));
    if (!*err)
        return -ENOMEM;
    (*err)->errnum = errnum;
    (*err)->msg = strndup(buf + consumed, len - consumed);
    return errnum ? -errnum : -EINVAL;
}
