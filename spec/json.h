/* Typed, path-aware readers over a yajl tree, shared by the config.json and state.json parsers, and small
 * yajl_gen helpers. Internal to spec/: nothing outside this folder sees yajl. */
#ifndef BRIG_SPEC_JSON_H
#define BRIG_SPEC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "arena.h"
#include "spec.h"

/* Where a value sits in the document. Frames live on the C stack of the walk and are turned into text
 * ("mounts[2].destination") only when an error is reported, so a successful parse never formats a path. */
struct jpath {
    const struct jpath *up;
    const char *key; /* NULL: an array element, see index */
    size_t index;
};

#define JKEY(parent, k) (&(const struct jpath){ .up = (parent), .key = (k) })
#define JIDX(parent, i) (&(const struct jpath){ .up = (parent), .index = (i) })

struct jctx {
    const char *file;          /* "config.json": the first word of every message */
    struct brig_arena *arena;  /* NULL: allocate with malloc (the caller frees field by field) */
    struct brig_err **err;
};

#define JTRY(expr)                                                                                            \
    do {                                                                                                       \
        int jtry_ret_ = (expr);                                                                                \
        if (jtry_ret_ < 0)                                                                                     \
            return jtry_ret_;                                                                                  \
    } while (0)

/* No real document comes near it (a config with 80,000 environment variables is 1 MiB); past it, a parse is
 * refused before it starts, so that no input can make one cost more than a fraction of a second. */
#define JSON_MAX_SIZE (16 << 20)

/* Parses up to JSON_MAX_SIZE bytes of NUL-free text into a tree (spec/tree.c), freed with json_tree_free()
 * only; on failure sets "<file>: invalid JSON: <yajl's first line>" (or names the size, a NUL byte, nesting
 * deeper than 64 levels). */
int json_parse_tree(const char *json, size_t len, const char *file, yajl_val *out, struct brig_err **err);
void json_tree_free(yajl_val tree);

/* "<file>: <path>: <fmt>"; returns -EINVAL. */
int jfail(struct jctx *c, const struct jpath *p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int jnomem(struct jctx *c);

void *jalloc(struct jctx *c, size_t n, size_t size);
char *jstrdup(struct jctx *c, const char *s);

/* The member `key` of `obj` (the last one when repeated, as Go's encoding/json does); NULL when absent or
 * null, which every optional field treats alike. */
yajl_val jget(yajl_val obj, const char *key);

/* Readers of one member of `obj` (at path `p`). The opt_ forms leave *out alone when the member is absent;
 * the req_ forms fail with the same "expected ..." message as a wrong type. */
int jopt_str(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, char **out);
int jreq_str(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, char **out);
int jopt_bool(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, bool *out);
int jopt_obool(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, brig_opt_bool *out);

/* Integers: JSON numbers without fraction or exponent, within [min, max]. */
int jint_u(struct jctx *c, yajl_val v, const struct jpath *p, uint64_t max, uint64_t *out);
int jint_u_min(struct jctx *c, yajl_val v, const struct jpath *p, uint64_t min, uint64_t max, uint64_t *out);
/* A uid or gid: 0 to 4294967294, with its own message for BRIG_ID_UNCHANGED (util/util.h). jopt_oid reads an
 * optional one into a brig_opt_u64. */
int jint_id(struct jctx *c, yajl_val v, const struct jpath *p, uint32_t *out);
int jreq_id(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint32_t *out);
int jopt_oid(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, brig_opt_u64 *out);
int jint_s(struct jctx *c, yajl_val v, const struct jpath *p, int64_t min, int64_t max, int64_t *out);
int jopt_u64(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint64_t max,
             brig_opt_u64 *out);
int jopt_i64(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int64_t min, int64_t max,
             brig_opt_i64 *out);
int jreq_u32(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint32_t *out);
int jopt_u32(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint32_t *out);
int jopt_i32(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int32_t *out);
int jreq_u64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint64_t *out);
int jopt_u64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, uint64_t *out);
int jreq_i64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int64_t *out);
int jopt_i64v(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, int64_t *out);

/* A NULL-terminated vector; `non_empty` makes absence and [] errors. */
int jopt_strv(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, bool non_empty,
              char ***out, size_t *n);
/* An object of string values. */
int jopt_kv(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, struct brig_kv **out,
            size_t *n);
/* The member as an object (or array); *out is NULL when absent. */
int jopt_obj(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, yajl_val *out);
int jopt_arr(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, yajl_val *out);

/* An array of objects, each parsed by `elem` into a `size`-byte slot of a new array. */
typedef int (*jelem_fn)(struct jctx *c, yajl_val v, const struct jpath *p, void *dst);
int jopt_objv(struct jctx *c, yajl_val obj, const struct jpath *p, const char *key, size_t size, jelem_fn elem,
              void **out, size_t *n);
/* Fails unless `v` is an object: every jelem_fn starts with it. */
int jexpect_obj(struct jctx *c, yajl_val v, const struct jpath *p);

/* Reads an optional sub-object into a freshly allocated struct; *out stays NULL when absent. */
#define JPARSE_SUB(c, v, p, key, out, fn)                                                                     \
    do {                                                                                                       \
        yajl_val sub_;                                                                                         \
        JTRY(jopt_obj((c), (v), (p), (key), &sub_));                                                           \
        if (sub_) {                                                                                            \
            (out) = jalloc((c), 1, sizeof(*(out)));                                                            \
            if (!(out))                                                                                        \
                return jnomem(c);                                                                              \
            JTRY(fn((c), sub_, JKEY((p), (key)), (out)));                                                      \
        }                                                                                                      \
    } while (0)

/* yajl_gen helpers: each returns the yajl_gen_status so callers can stop at the first failure. */
yajl_gen_status jgen_str(yajl_gen g, const char *s);
yajl_gen_status jgen_key_str(yajl_gen g, const char *key, const char *value);
yajl_gen_status jgen_key_strv(yajl_gen g, const char *key, const char *const *strv, size_t n);
yajl_gen_status jgen_key_u64(yajl_gen g, const char *key, uint64_t value);
yajl_gen_status jgen_key_i64(yajl_gen g, const char *key, int64_t value);
yajl_gen_status jgen_key_bool(yajl_gen g, const char *key, bool value);
/* Copies the generated text into a malloc'd, NUL-terminated string. */
int jgen_finish(yajl_gen g, const char *what, char **out, size_t *len, struct brig_err **err);

#endif
