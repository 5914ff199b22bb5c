/* spec/tree.c against yajl's own tree builder, on any text: the same tree (types, keys in order, strings,
 * number texts) or the same one-line error, except where brig's builder has limits of its own (NUL bytes,
 * nesting deeper than 64 levels), which must then be the error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "fuzz.h"
#include "spec/json.h"
#include "util/util.h"

static void differ(const char *what)
{
    fprintf(stderr, "fuzz: spec/tree.c and yajl_tree_parse differ: %s\n", what);
    abort();
}

static void same_tree(yajl_val want, yajl_val got)
{
    if (want->type != got->type)
        differ("type");
    switch (want->type) {
    case yajl_t_string:
        if (strcmp(want->u.string, got->u.string) != 0)
            differ("string");
        break;
    case yajl_t_number:
        if (strcmp(want->u.number.r, got->u.number.r) != 0)
            differ("number");
        break;
    case yajl_t_object:
        if (want->u.object.len != got->u.object.len)
            differ("object length");
        for (size_t i = 0; i < want->u.object.len; i++) {
            if (strcmp(want->u.object.keys[i], got->u.object.keys[i]) != 0)
                differ("key");
            same_tree(want->u.object.values[i], got->u.object.values[i]);
        }
        break;
    case yajl_t_array:
        if (want->u.array.len != got->u.array.len)
            differ("array length");
        for (size_t i = 0; i < want->u.array.len; i++)
            same_tree(want->u.array.values[i], got->u.array.values[i]);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *text = NULL;
    char msg[512] = "", want[600];
    yajl_val expected, got = NULL;
    size_t n;
    int ret;

    ret = json_parse_tree((const char *) data, size, "doc", &got, &err);
    if (ret < 0 && (!err || (ret != -EINVAL && ret != -ENOMEM)))
        differ("an error without a message");
    if (memchr(data, '\0', size)) {
        if (ret == 0 || !strstr(err->msg, "NUL byte"))
            differ("a NUL byte not refused as such");
        return 0;
    }
    if (ret < 0 && strstr(err->msg, "nested deeper than 64 levels"))
        return 0;
    text = strndup((const char *) data, size);
    if (!text)
        abort();
    expected = yajl_tree_parse(text, msg, sizeof(msg));
    if (!expected) {
        if (ret == 0)
            differ("brig parsed what yajl refuses");
        n = strcspn(msg, "\n");
        while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '.'))
            n--;
        snprintf(want, sizeof(want), "doc: invalid JSON: %.*s", (int) n, msg);
        if (strcmp(err->msg, n ? want : "doc: invalid JSON: parse error") != 0) {
            fprintf(stderr, "fuzz: brig says `%s`, yajl `%s`\n", err->msg, want);
            abort();
        }
        return 0;
    }
    if (ret < 0)
        differ("brig refused what yajl parses");
    same_tree(expected, got);
    yajl_tree_free(expected);
    json_tree_free(got);
    return 0;
}
