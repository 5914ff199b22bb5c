#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

static bool is_plain_key(const char *key)
{
    if (!*key)
        return false;
    for (const char *s = key; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static void put_path(FILE *f, const struct jpath *p)
{
    if (!p)
        return;
    put_path(f, p->up);
    if (!p->key)
        fprintf(f, "[%zu]", p->index);
    else if (!is_plain_key(p->key))
        fprintf(f, "[\"%s\"]", p->key);
    else
        fprintf(f, "%s%s", p->up ? "." : "", p->key);
}

int jfail(struct jctx *c, const struct jpath *p, const char *fmt, ...)
{
    cleanup_free char *path = NULL;
    cleanup_free char *what = NULL;
    size_t path_len = 0;
    FILE *f;
    va_list ap;

    f = open_memstream(&path, &path_len);
    if (f) {
        put_path(f, p);
        fclose(f);
    }
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    if (path && *path)
        return brig_err_set(c->err, 0, "%s: %s: %s", c->file, path, what ? what : "invalid value");
    return brig_err_set(c->err, 0, "%s: %s", c->file, what ? what : "invalid value");
}

int jnomem(struct jctx *c)
{
    return brig_err_set(c->err, ENOMEM, "%s", c->file);
}

void *jalloc(struct jctx *c, size_t n, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(n, size, &total))
        return NULL;
    return c->arena ? brig_arena_zalloc(c->arena, total) : calloc(1, total ? total : 1);
}

char *jstrdup(struct jctx *c, const char *s)
{
    return c->arena ? brig_arena_strndup(c->arena, s, strlen(s)) : strdup(s);
}

yajl_val jget(yajl_val obj, const char *key)
{
    size_t i = obj->u.object.len;

    while (i-- > 0)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return YAJL_IS_NULL(obj->u.object.values[i]) ? NULL : obj->u.object.values[i];
    return NULL;
}

static int str_at(struct jctx *c, yajl_val v, const struct jpath *p, char **out)
{
    if (!YAJL_IS_STRING(v))
        return jfail(c, p, "expected a string");
    *out = jstrdup(c, v->u.string);
    return *out ? 0 : jnomem(c);
}

int jopt_str(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, char **out)
{
    yajl_val v = jget(obj, key);

    return v ? str_at(c, v, JKEY(p, key), out) : 0;
}

int jreq_str(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, char **out)
{
    return str_at(c, jget(obj, key), JKEY(p, key), out);
}

int jopt_bool(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, bool *out)
{
    yajl_val v = jget(obj, key);

    if (!v)
        return 0;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
        return jfail(c, JKEY(p, key), "expected a boolean");
    *out = YAJL_IS_TRUE(v);
    return 0;
}

int jopt_obool(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, brig_opt_bool *out)
{
    bool value = false;

    if (!jget(obj, key))
        return 0;
    JTRY(jopt_bool(c, obj, p, key, &value));
    out->set = true;
    out->value = value;
    return 0;
}

/* yajl keeps each number's source text: reading it directly covers the whole uint64 range, which yajl's
 * own long long conversion does not. */
static bool number_text(yajl_val v, const char **text)
{
    const char *r;

    if (!YAJL_IS_NUMBER(v))
        return false;
    r = v->u.number.r;
    if (strpbrk(r, ".eE"))
        return false;
    *text = r;
    return true;
}

static bool unsigned_value(yajl_val v, uint64_t *out)
{
    const char *text;
    char *end;
    unsigned long long value;

    if (!number_text(v, &text) || *text == '-')
        return false;
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno || *end)
        return false;
    *out = value;
    return true;
}

int jint_u_min(struct jctx *c, yajl_val v, const struct jpath *p, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t value = 0;

    if (unsigned_value(v, &value) && value >= min && value <= max) {
        *out = value;
        return 0;
    }
    if (min == 0 && max == UINT64_MAX)
        return jfail(c, p, "expected a non-negative integer");
    return jfail(c, p, "expected an integer between %" PRIu64 " and %" PRIu64, min, max);
}

int jint_u(struct jctx *c, yajl_val v, const struct jpath *p, uint64_t max, uint64_t *out)
{
    return jint_u_min(c, v, p, 0, max, out);
}

int jint_id(struct jctx *c, yajl_val v, const struct jpath *p, uint32_t *out)
{
    uint64_t value = 0;

    if (unsigned_value(v, &value) && value == BRIG_ID_UNCHANGED)
        return jfail(c, p, "%" PRIu64 " is not a valid id: " BRIG_ID_UNCHANGED_WHY, value);
    JTRY(jint_u(c, v, p, BRIG_ID_UNCHANGED - 1, &value));
    *out = (uint32_t) value;
    return 0;
}

int jreq_id(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint32_t *out)
{
    return jint_id(c, jget(obj, key), JKEY(p, key), out);
}

int jopt_oid(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, brig_opt_u64 *out)
{
    uint32_t id = 0;

    if (!jget(obj, key))
        return 0;
    JTRY(jreq_id(c, obj, p, key, &id));
    out->value = id;
    out->set = true;
    return 0;
}

int jint_s(struct jctx *c, yajl_val v, const struct jpath *p, int64_t min, int64_t max, int64_t *out)
{
    const char *text;
    char *end;
    long long value;

    if (!number_text(v, &text))
        goto bad;
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno || *end || value < min || value > max)
        goto bad;
    *out = value;
    return 0;
bad:
    if (min == INT64_MIN && max == INT64_MAX)
        return jfail(c, p, "expected an integer");
    return jfail(c, p, "expected an integer between %" PRId64 " and %" PRId64, min, max);
}

int jopt_u64(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint64_t max,
             brig_opt_u64 *out)
{
    yajl_val v = jget(obj, key);

    if (!v)
        return 0;
    JTRY(jint_u(c, v, JKEY(p, key), max, &out->value));
    out->set = true;
    return 0;
}

int jopt_i64(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int64_t min, int64_t max,
             brig_opt_i64 *out)
{
    yajl_val v = jget(obj, key);

    if (!v)
        return 0;
    JTRY(jint_s(c, v, JKEY(p, key), min, max, &out->value));
    out->set = true;
    return 0;
}

int jreq_u32(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint32_t *out)
{
    uint64_t value = 0;

    JTRY(jint_u(c, jget(obj, key), JKEY(p, key), UINT32_MAX, &value));
    *out = (uint32_t) value;
    return 0;
}

int jopt_u32(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint32_t *out)
{
    return jget(obj, key) ? jreq_u32(c, obj, p, key, out) : 0;
}

int jopt_i32(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int32_t *out)
{
    yajl_val v = jget(obj, key);
    int64_t value = 0;

    if (!v)
        return 0;
    JTRY(jint_s(c, v, JKEY(p, key), INT32_MIN, INT32_MAX, &value));
    *out = (int32_t) value;
    return 0;
}

int jreq_u64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint64_t *out)
{
    return jint_u(c, jget(obj, key), JKEY(p, key), UINT64_MAX, out);
}

int jopt_u64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint64_t *out)
{
    return jget(obj, key) ? jreq_u64v(c, obj, p, key, out) : 0;
}

int jreq_i64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int64_t *out)
{
    return jint_s(c, jget(obj, key), JKEY(p, key), INT64_MIN, INT64_MAX, out);
}

int jopt_i64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int64_t *out)
{
    return jget(obj, key) ? jreq_i64v(c, obj, p, key, out) : 0;
}

int jopt_strv(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, bool non_empty,
              char ***out, size_t *n)
{
    yajl_val v = jget(obj, key);
    const struct jpath *kp = JKEY(p, key);
    const char *expected = non_empty ? "expected a non-empty array of strings" : "expected an array of strings";
    char **strv;
    size_t len;

    if (!v && !non_empty)
        return 0;
    if (!YAJL_IS_ARRAY(v) || (non_empty && v->u.array.len == 0))
        return jfail(c, kp, "%s", expected);
    len = v->u.array.len;
    for (size_t i = 0; i < len; i++)
        if (!YAJL_IS_STRING(v->u.array.values[i]))
            return jfail(c, JIDX(kp, i), "expected a string");
    if (len == 0)
        return 0; /* absent and [] both read as "none" */
    strv = jalloc(c, len + 1, sizeof(*strv));
    if (!strv)
        return jnomem(c);
    *out = strv; /* owned by the caller from here, so malloc mode can free a half-built vector */
    for (size_t i = 0; i < len; i++) {
        strv[i] = jstrdup(c, v->u.array.values[i]->u.string);
        if (!strv[i])
            return jnomem(c);
    }
    *n = len;
    return 0;
}

int jopt_kv(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, struct brig_kv **out,
            size_t *n)
{
    yajl_val v = jget(obj, key);
    const struct jpath *kp = JKEY(p, key);
    struct brig_kv *kv;
    size_t len;

    if (!v)
        return 0;
    if (!YAJL_IS_OBJECT(v))
        return jfail(c, kp, "expected an object");
    len = v->u.object.len;
    for (size_t i = 0; i < len; i++)
        if (!YAJL_IS_STRING(v->u.object.values[i]))
            return jfail(c, JKEY(kp, v->u.object.keys[i]), "expected a string");
    if (len == 0)
        return 0;
    kv = jalloc(c, len, sizeof(*kv));
    if (!kv)
        return jnomem(c);
    *out = kv;
    for (size_t i = 0; i < len; i++) {
        kv[i].key = jstrdup(c, v->u.object.keys[i]);
        kv[i].value = jstrdup(c, v->u.object.values[i]->u.string);
        *n = i + 1;
        if (!kv[i].key || !kv[i].value)
            return jnomem(c);
    }
    return 0;
}

int jexpect_obj(struct jctx *c, yajl_val v, const struct jpath *p)
{
    return YAJL_IS_OBJECT(v) ? 0 : jfail(c, p, "expected an object");
}

int jopt_obj(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, yajl_val *out)
{
    yajl_val v = jget(obj, key);

    *out = NULL;
    if (!v)
        return 0;
    JTRY(jexpect_obj(c, v, JKEY(p, key)));
    *out = v;
    return 0;
}

int jopt_arr(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, yajl_val *out)
{
    yajl_val v = jget(obj, key);

    *out = NULL;
    if (!v)
        return 0;
    if (!YAJL_IS_ARRAY(v))
        return jfail(c, JKEY(p, key), "expected an array");
    *out = v;
    return 0;
}

int jopt_objv(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, size_t size, jelem_fn elem,
              void **out, size_t *n)
{
    const struct jpath *kp = JKEY(p, key);
    yajl_val v;
    char *items;

    JTRY(jopt_arr(c, obj, p, key, &v));
    if (!v || v->u.array.len == 0)
        return 0;
    items = jalloc(c, v->u.array.len, size);
    if (!items)
        return jnomem(c);
    *out = items;
    for (size_t i = 0; i < v->u.array.len; i++) {
        const struct jpath *ip = JIDX(kp, i);
        JTRY(jexpect_obj(c, v->u.array.values[i], ip));
        *n = i + 1;
        JTRY(elem(c, v->u.array.values[i], ip, items + i * size));
    }
    return 0;
}

yajl_gen_status jgen_str(yajl_gen g, const char *s)
{
    if (!s)
        s = "";
    return yajl_gen_string(g, (const unsigned char *) s, strlen(s));
}

yajl_gen_status jgen_key_str(yajl_gen g, const char *key, const char *value)
{
    yajl_gen_status st = jgen_str(g, key);

    return st == yajl_gen_status_ok ? jgen_str(g, value) : st;
}

yajl_gen_status jgen_key_strv(yajl_gen g, const char *key, const char *const *strv, size_t n)
{
    yajl_gen_status st = jgen_str(g, key);

    if (st == yajl_gen_status_ok)
        st = yajl_gen_array_open(g);
    for (size_t i = 0; i < n && st == yajl_gen_status_ok; i++)
        st = jgen_str(g, strv[i]);
    return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
}

yajl_gen_status jgen_key_u64(yajl_gen g, const char *key, uint64_t value)
{
    char num[24];
    yajl_gen_status st = jgen_str(g, key);
    int len = snprintf(num, sizeof(num), "%" PRIu64, value);

    return st == yajl_gen_status_ok ? yajl_gen_number(g, num, (size_t) len) : st;
}

yajl_gen_status jgen_key_i64(yajl_gen g, const char *key, int64_t value)
{
    yajl_gen_status st = jgen_str(g, key);

    return st == yajl_gen_status_ok ? yajl_gen_integer(g, value) : st;
}

yajl_gen_status jgen_key_bool(yajl_gen g, const char *key, bool value)
{
    yajl_gen_status st = jgen_str(g, key);

    return st == yajl_gen_status_ok ? yajl_gen_bool(g, value) : st;
}

int jgen_finish(yajl_gen g, const char *what, char **out, size_t *len, struct brig_err **err)
{
    const unsigned char *buf;
    size_t n;
    char *text;

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok)
        return brig_err_set(err, EINVAL, "generate %s", what);
    text = malloc(n + 1);
    if (!text)
        return brig_err_set(err, ENOMEM, "generate %s", what);
    memcpy(text, buf, n);
    text[n] = '\0';
    *out = text;
    if (len)
        *len = n;
    return 0;
}
