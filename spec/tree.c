/* The yajl tree every spec/ reader walks, built from yajl's event parser instead of yajl_tree_parse().
 *
 * Why: yajl 2.1's tree builder grows each array and object by one element per realloc(), and ASan's realloc
 * always moves the block, so an 80,000-entry process.env took 15 s to parse under ASan. Here the children
 * of every open container collect on one shared stack that doubles, and each container gets its exact
 * arrays once it closes; every node, key and string comes from one arena, so freeing is a single call and
 * never recurses, however deep the document. The nodes have yajl's own layout (struct yajl_val_s), so the
 * readers of json.c are unchanged; only json_tree_free() may free them. A number keeps only its text
 * (u.number.r; i, d and flags stay 0): the readers parse the text themselves, for the whole uint64 range,
 * and converting every number twice here would cost a third of the time of a document of numbers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "arena.h"
#include "json.h"

/* Real configs nest about eight levels deep. */
#define JSON_MAX_DEPTH 64

/* The root node, with the arena that holds the whole tree, so that json_tree_free() needs nothing else. */
struct tree_root {
    struct brig_arena *arena;
    struct yajl_val_s node;
};

struct open_container {
    yajl_val node;
    size_t first; /* where its children start on the value stack */
};

struct builder {
    yajl_handle parser;
    struct brig_arena *arena;
    /* The children of every open container, innermost last; keys[i] names vals[i] inside an object. */
    yajl_val *vals;
    char **keys;
    size_t n_vals, cap_vals;
    struct open_container open[JSON_MAX_DEPTH];
    size_t depth;
    char *pending_key;
    yajl_val root;
    /* Why a callback stopped the parse: yajl itself only says "client cancelled". */
    int failure;
    size_t failure_offset;
};

enum { BUILD_OK, BUILD_NOMEM, BUILD_TOO_DEEP };

static int fail(struct builder *b, int why)
{
    b->failure = why;
    return 0; /* stops yajl */
}

static yajl_val new_node(struct builder *b, yajl_type type)
{
    yajl_val v = brig_arena_zalloc(b->arena, sizeof(*v));

    if (v)
        v->type = type;
    return v;
}

static char *copy_text(struct builder *b, const unsigned char *s, size_t len)
{
    return brig_arena_strndup(b->arena, (const char *) s, len);
}

static int push_child(struct builder *b, yajl_val v)
{
    if (b->n_vals == b->cap_vals) {
        size_t cap = b->cap_vals ? b->cap_vals * 2 : 64;
        yajl_val *vals = realloc(b->vals, cap * sizeof(yajl_val));
        char **keys;

        if (!vals)
            return fail(b, BUILD_NOMEM);
        b->vals = vals;
        keys = realloc(b->keys, cap * sizeof(*keys));
        if (!keys)
            return fail(b, BUILD_NOMEM);
        b->keys = keys;
        b->cap_vals = cap;
    }
    b->keys[b->n_vals] = b->pending_key;
    b->vals[b->n_vals++] = v;
    b->pending_key = NULL;
    return 1;
}

static int add_value(struct builder *b, yajl_val v)
{
    if (!v)
        return fail(b, BUILD_NOMEM);
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    return push_child(b, v);
}

static int on_null(void *ctx)
{
    struct builder *b = ctx;

    return add_value(b, new_node(b, yajl_t_null));
}

static int on_boolean(void *ctx, int value)
{
    struct builder *b = ctx;

    return add_value(b, new_node(b, value ? yajl_t_true : yajl_t_false));
}

static int on_number(void *ctx, const char *s, size_t len)
{
    struct builder *b = ctx;
    yajl_val v = new_node(b, yajl_t_number);

    if (!v || !(v->u.number.r = copy_text(b, (const unsigned char *) s, len)))
        return fail(b, BUILD_NOMEM);
    return add_value(b, v);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    yajl_val v = new_node(b, yajl_t_string);

    if (!v || !(v->u.string = copy_text(b, s, len)))
        return fail(b, BUILD_NOMEM);
    return add_value(b, v);
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;

    b->pending_key = copy_text(b, s, len);
    return b->pending_key ? 1 : fail(b, BUILD_NOMEM);
}

static int open_container(struct builder *b, yajl_type type)
{
    yajl_val v;

    if (b->depth == JSON_MAX_DEPTH) {
        /* Just past the bracket that went one level too deep. */
        b->failure_offset = yajl_get_bytes_consumed(b->parser) - 1;
        return fail(b, BUILD_TOO_DEEP);
    }
    v = new_node(b, type);
    if (!v)
        return fail(b, BUILD_NOMEM);
    /* The key that names this container waits on the value stack with it, as a child of its parent. */
    if (b->depth > 0 && !push_child(b, v))
        return 0;
    b->open[b->depth++] = (struct open_container){ .node = v, .first = b->n_vals };
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, yajl_t_object);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, yajl_t_array);
}

static int close_container(void *ctx)
{
    struct builder *b = ctx;
    struct open_container *c = &b->open[--b->depth];
    size_t n = b->n_vals - c->first;
    yajl_val *vals = NULL;

    if (n > 0) {
        vals = brig_arena_alloc(b->arena, n * sizeof(yajl_val));
        if (!vals)
            return fail(b, BUILD_NOMEM);
        memcpy(vals, b->vals + c->first, n * sizeof(yajl_val));
    }
    if (YAJL_IS_OBJECT(c->node)) {
        const char **keys = NULL;

        if (n > 0) {
            keys = brig_arena_alloc(b->arena, n * sizeof(*keys));
            if (!keys)
                return fail(b, BUILD_NOMEM);
            memcpy(keys, b->keys + c->first, n * sizeof(*keys));
        }
        c->node->u.object.keys = keys;
        c->node->u.object.values = vals;
        c->node->u.object.len = n;
    } else {
        c->node->u.array.values = vals;
        c->node->u.array.len = n;
    }
    b->n_vals = c->first;
    if (b->depth == 0)
        b->root = c->node;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = close_container,
    .yajl_start_array = on_start_array,
    .yajl_end_array = close_container,
};

/* yajl's own message, first line only (the rest is a snippet with a caret), without its final period. */
static int yajl_failure(yajl_handle parser, const char *json, size_t len, const char *file, struct brig_err **err)
{
    unsigned char *text = yajl_get_error(parser, 0, (const unsigned char *) json, len);
    size_t n = text ? strcspn((const char *) text, "\n") : 0;
    int ret;

    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '.'))
        n--;
    if (n)
        ret = brig_err_set(err, 0, "%s: invalid JSON: %.*s", file, (int) n, (const char *) text);
    else
        ret = brig_err_set(err, 0, "%s: invalid JSON: parse error", file);
    if (text)
        yajl_free_error(parser, text);
    return ret;
}

int json_parse_tree(const char *json, size_t len, const char *file, yajl_val *out, struct brig_err **err)
{
    struct builder b = { .failure = BUILD_OK };
    const char *nul = memchr(json, '\0', len);
    struct tree_root *root = NULL;
    yajl_status status;
    int ret = 0;

    *out = NULL;
    if (len > JSON_MAX_SIZE)
        return brig_err_set(err, 0, "%s: %zu bytes, more than the %d MiB a JSON document may have", file, len,
                            JSON_MAX_SIZE >> 20);
    /* yajl would reject it too, but only as "invalid char" with no place. */
    if (nul)
        return brig_err_set(err, 0, "%s: invalid JSON: NUL byte at offset %zu", file, (size_t) (nul - json));
    /* Most of a document's bytes become nodes and strings: a first chunk of twice its size is usually all. */
    b.arena = brig_arena_new(2 * len + 1024);
    b.parser = b.arena ? yajl_alloc(&callbacks, NULL, &b) : NULL;
    if (!b.parser) {
        brig_arena_free(b.arena);
        return brig_err_set(err, ENOMEM, "%s", file);
    }
    /* As yajl_tree_parse() reads it: comments allowed, everything else strict. */
    yajl_config(b.parser, yajl_allow_comments, 1);
    status = yajl_parse(b.parser, (const unsigned char *) json, len);
    if (status == yajl_status_ok)
        status = yajl_complete_parse(b.parser);
    if (status == yajl_status_ok && b.failure == BUILD_OK && b.root)
        root = brig_arena_alloc(b.arena, sizeof(*root));
    if (root) {
        root->arena = b.arena;
        root->node = *b.root;
        *out = &root->node;
    } else if (b.failure == BUILD_TOO_DEEP) {
        ret = brig_err_set(err, 0, "%s: invalid JSON: nested deeper than %d levels at offset %zu", file,
                           JSON_MAX_DEPTH, b.failure_offset);
    } else if (b.failure == BUILD_NOMEM || status == yajl_status_ok) {
        ret = brig_err_set(err, ENOMEM, "%s", file);
    } else {
        ret = yajl_failure(b.parser, json, len, file, err);
    }
    yajl_free(b.parser);
    free(b.vals);
    free(b.keys);
    if (ret < 0)
        brig_arena_free(b.arena);
    return ret;
}

void json_tree_free(yajl_val tree)
{
    if (tree)
        brig_arena_free(((struct tree_root *) ((char *) tree - offsetof(struct tree_root, node)))->arena);
}
