/* spec/tree.c, the yajl tree builder every spec/ parser uses: the same tree as yajl_tree_parse() on every
 * seed document of tests/fuzz/corpus and tests/data, the same one-line errors, its own limits (size, depth,
 * NUL), and no quadratic cost on a long array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "spec/json.h"
#include "util/util.h"

static void same_tree(yajl_val want, yajl_val got, const char *where)
{
    if (want->type != got->type)
        fail_msg("%s: type %d, want %d", where, got->type, want->type);
    switch (want->type) {
    case yajl_t_string:
        if (strcmp(want->u.string, got->u.string) != 0)
            fail_msg("%s: string `%s`, want `%s`", where, got->u.string, want->u.string);
        break;
    case yajl_t_number:
        if (strcmp(want->u.number.r, got->u.number.r) != 0)
            fail_msg("%s: number `%s`, want `%s`", where, got->u.number.r, want->u.number.r);
        break;
    case yajl_t_object:
        if (want->u.object.len != got->u.object.len)
            fail_msg("%s: %zu members, want %zu", where, got->u.object.len, want->u.object.len);
        for (size_t i = 0; i < want->u.object.len; i++) {
            if (strcmp(want->u.object.keys[i], got->u.object.keys[i]) != 0)
                fail_msg("%s: key %zu `%s`, want `%s`", where, i, got->u.object.keys[i], want->u.object.keys[i]);
            same_tree(want->u.object.values[i], got->u.object.values[i], want->u.object.keys[i]);
        }
        break;
    case yajl_t_array:
        if (want->u.array.len != got->u.array.len)
            fail_msg("%s: %zu elements, want %zu", where, got->u.array.len, want->u.array.len);
        for (size_t i = 0; i < want->u.array.len; i++)
            same_tree(want->u.array.values[i], got->u.array.values[i], where);
        break;
    default:
        break;
    }
}

/* What the parse said before spec/tree.c: yajl_tree_parse()'s message cut to its first line, without the
 * final period. */
static void yajl_message(const char *json, char *out, size_t size)
{
    char msg[512] = "";
    yajl_val v = yajl_tree_parse(json, msg, sizeof(msg));
    size_t n;

    if (v) {
        yajl_tree_free(v);
        *out = '\0';
        return;
    }
    n = strcspn(msg, "\n");
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '.'))
        n--;
    snprintf(out, size, "doc: invalid JSON: %.*s", (int) n, msg);
}

static void check_like_yajl(const char *json, const char *where)
{
    cleanup_err struct brig_err *err = NULL;
    char want[600];
    yajl_val expected, got = NULL;
    int ret;

    yajl_message(json, want, sizeof(want));
    ret = json_parse_tree(json, strlen(json), "doc", &got, &err);
    if (*want) {
        if (ret == 0)
            fail_msg("%s: parsed, but yajl says: %s", where, want);
        assert_int_equal(ret, -EINVAL);
        if (strcmp(err->msg, want) != 0)
            fail_msg("%s: got `%s`, want `%s`", where, err->msg, want);
        assert_null(got);
        return;
    }
    if (ret < 0)
        fail_msg("%s: %s", where, err->msg);
    expected = yajl_tree_parse(json, NULL, 0);
    assert_non_null(expected);
    same_tree(expected, got, where);
    yajl_tree_free(expected);
    json_tree_free(got);
}

static int check_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;

    assert_non_null(d);
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        cleanup_free char *path = NULL;
        cleanup_free char *text = NULL;
        cleanup_err struct brig_err *err = NULL;
        size_t len = 0;

        if (e->d_name[0] == '.')
            continue;
        assert_true(asprintf(&path, "%s/%s", dir, e->d_name) > 0);
        if (e->d_type == DT_DIR) {
            files += check_dir(path);
            continue;
        }
        assert_int_equal(brig_read_file_at(AT_FDCWD, path, &text, &len, &err), 0);
        if (memchr(text, '\0', len))
            continue; /* yajl_tree_parse() cannot be given it */
        check_like_yajl(text, path);
        files++;
    }
    closedir(d);
    return files;
}

static void test_seed_documents(void **state)
{
    const char *data = getenv("BRIG_TEST_DATA");
    cleanup_free char *corpus = NULL;
    int files;

    assert_non_null(data);
    assert_true(asprintf(&corpus, "%s/../fuzz/corpus", data) > 0);
    files = check_dir(corpus) + check_dir(data);
    /* The six original targets' seeds at least, and tests/data. */
    assert_true(files >= 12);
}

static void test_edge_documents(void **state)
{
    static const char *const docs[] = {
        "{}", "[]", "0", "-1.5e10", "\"s\"", "null", "true", "[false,null,{}]",
        "{\"a\":1,\"a\":2,\"b\":[],\"c\":{}}",                     /* repeats stay, in order */
        "{\"k\\u0000x\":\"v\\u0000w\",\"\\u00e9\\ud83d\\ude00\":\"\\n\\t\\\"\"}", /* escapes */
        "/* c */ {\"a\": // line\n [1, /* ] } */ 2]}",           /* comments, as yajl_tree_parse() allows */
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "{\"a\":[{\"b\":[{\"c\":[1,2,{\"d\":[]}]},3]},4],\"e\":{\"f\":{\"g\":[5]}}}",
        "  [ 18446744073709551615, -9223372036854775809, 1e400 ]  ",
    };
    static const char *const bad[] = {
        "", " ", "{", "{\"a\":", "{\"a\":1} x", "{a:1}", "{\"a\":[1,]}", "[1 2]", "{\"a\" 1}", "[\"\x01\"]",
        "[\"\xff\"]", "[01]", "[-]", "[1.]", "{\"a\":1,}", "/* open", "[tru]", "[\"\\x\"]", "{} {}", "]",
    };
    char where[32];

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        snprintf(where, sizeof(where), "docs[%zu]", i);
        check_like_yajl(docs[i], where);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(where, sizeof(where), "bad[%zu]", i);
        check_like_yajl(bad[i], where);
    }
}

static void expect_error(const char *json, size_t len, const char *want)
{
    cleanup_err struct brig_err *err = NULL;
    yajl_val v = NULL;

    assert_int_equal(json_parse_tree(json, len, "doc", &v, &err), -EINVAL);
    assert_null(v);
    assert_string_equal(err->msg, want);
}

static void test_limits(void **state)
{
    static const char nul[] = "[\"a\0\"]";
    char deep[300];
    size_t n = 0;
    cleanup_free char *big = NULL;

    expect_error(nul, sizeof(nul) - 1, "doc: invalid JSON: NUL byte at offset 3");
    /* A comment cannot hide nesting from the limit (a `]` or a quote in it once could). */
    n = (size_t) snprintf(deep, sizeof(deep), "/* \" ] */ ");
    for (int i = 0; i < 65; i++)
        deep[n++] = '[';
    for (int i = 0; i < 65; i++)
        deep[n++] = ']';
    expect_error(deep, n, "doc: invalid JSON: nested deeper than 64 levels at offset 74");
    big = malloc(JSON_MAX_SIZE + 1);
    assert_non_null(big);
    memset(big, ' ', JSON_MAX_SIZE + 1);
    big[0] = '[';
    big[JSON_MAX_SIZE] = ']';
    expect_error(big, JSON_MAX_SIZE + 1, "doc: 16777217 bytes, more than the 16 MiB a JSON document may have");
    /* Exactly the limit is fine. */
    big[JSON_MAX_SIZE - 1] = ']';
    {
        cleanup_err struct brig_err *err = NULL;
        yajl_val v = NULL;

        assert_int_equal(json_parse_tree(big, JSON_MAX_SIZE, "doc", &v, &err), 0);
        assert_true(YAJL_IS_ARRAY(v));
        json_tree_free(v);
    }
}

/* 200,000 strings: yajl_tree_parse() took minutes on this under ASan (one realloc per element, each a copy);
 * the builder takes well under a second, even there. */
static void test_long_array(void **state)
{
    const size_t count = 200000;
    cleanup_free char *json = malloc(count * 10 + 16);
    cleanup_err struct brig_err *err = NULL;
    struct timespec t0, t1;
    yajl_val v = NULL;
    size_t n = 0;
    double secs;

    assert_non_null(json);
    n += (size_t) sprintf(json + n, "{\"env\":[");
    for (size_t i = 0; i < count; i++)
        n += (size_t) sprintf(json + n, "%s\"V%06zu\"", i ? "," : "", i);
    n += (size_t) sprintf(json + n, "]}");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(json_parse_tree(json, n, "doc", &v, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("200000-element array: %.3f s\n", secs);
    assert_int_equal(v->u.object.values[0]->u.array.len, count);
    assert_string_equal(v->u.object.values[0]->u.array.values[count - 1]->u.string, "V199999");
    json_tree_free(v);
    /* Generous for a loaded 2-core machine under ASan; the quadratic builder needed hundreds of seconds. */
    assert_true(secs < 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_documents),
        cmocka_unit_test(test_edge_documents),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_long_array),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
