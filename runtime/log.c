#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "../util/util.h"

static const char *level_name(enum brig_log_level level)
{
    switch (level) {
    case BRIG_LOG_ERROR:
        return "error";
    case BRIG_LOG_WARNING:
        return "warning";
    case BRIG_LOG_INFO:
        return "info";
    case BRIG_LOG_DEBUG:
        return "debug";
    }
    return "info";
}

/* JSON string escaping for log records: the message may carry paths and user input. */
static void append_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void write_record(const struct brig_context *ctx, enum brig_log_level level, const char *msg)
{
    char now[64];
    char *buf = NULL;
    size_t len = 0;
    FILE *out;

    if (ctx->log_fd < 0)
        return;
    out = open_memstream(&buf, &len);
    if (!out)
        return;
    brig_now_rfc3339(now, sizeof(now));
    if (ctx->log_format == BRIG_LOG_JSON) {
        fputs("{\"level\":\"", out);
        fputs(level_name(level), out);
        fputs("\",\"msg\":", out);
        append_json_string(out, msg);
        fprintf(out, ",\"time\":\"%s\"}\n", now);
    } else {
        fprintf(out, "time=\"%s\" level=%s msg=\"%s\"\n", now, level_name(level), msg);
    }
    fclose(out);
    if (buf)
        brig_write_all(ctx->log_fd, buf, len);
    free(buf);
}

void brig_log(const struct brig_context *ctx, enum brig_log_level level, const char *fmt, ...)
{
    cleanup_free char *msg = NULL;
    va_list ap;

    if (level == BRIG_LOG_DEBUG && !ctx->debug)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (!msg)
        return;
    if (ctx->log_fd >= 0)
        write_record(ctx, level, msg);
    else if (level != BRIG_LOG_INFO || ctx->debug)
        fprintf(stderr, "%s: %s\n", level_name(level), msg);
}

void brig_log_error(const struct brig_context *ctx, const struct brig_err *err)
{
    const char *msg = err && err->msg ? err->msg : "unknown error";

    write_record(ctx, BRIG_LOG_ERROR, msg);
    fprintf(stderr, "brig: %s\n", msg);
}
