/* state.json: the stored form round-trips every field; the printed form matches `runc state`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "spec/state.h"
#include "util/util.h"

static struct brig_kv annotations[] = {
    { (char *) "org.example.a", (char *) "1" },
    { (char *) "b", (char *) "two \"quoted\"" },
};

static char *lowers[] = {(char *) "/layers/base", (char *) "/layers/odd:dir,x", NULL};

static const struct brig_state sample = {
    .oci_version = (char *) "1.2.0",
    .id = (char *) "web-1",
    .status = (char *) "running",
    .pid = 4242,
    .bundle = (char *) "/srv/bundles/web",
    .rootfs = (char *) "/srv/bundles/web/rootfs",
    .created = (char *) "2026-11-22T04:00:00.123456789Z",
    .owner = (char *) "",
    .annotations = annotations,
    .n_annotations = 2,
    .init_start_time = 18446744073709551615ULL,
    .cgroup_path = (char *) "/brig/web-1",
    .cgroup_joined = true,
    .systemd_cgroup = true,
    .rootless = true,
    .config_path = (char *) "/srv/bundles/web/config.json",
    .start_error = (char *) "exec `/bin/nope`: No such file or directory",
    .overlay_lowers = lowers,
    .n_overlay_lowers = 2,
    .overlay_upper = (char *) "/run/brig/web-1/upper",
    .overlay_work = (char *) "/run/brig/web-1/work",
    .overlay_owns_upper = true,
    .keep_upper = true,
};

static void test_round_trip(void **state)
{
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    cleanup_state struct brig_state *st = NULL;
    size_t len = 0;

    assert_int_equal(brig_state_to_json(&sample, &json, &len, &err), 0);
    assert_int_equal(strlen(json), len);
    assert_null(strchr(json, '\n'));
    if (brig_state_from_json(json, len, &st, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(st->oci_version, "1.2.0");
    assert_string_equal(st->id, "web-1");
    assert_string_equal(st->status, "running");
    assert_int_equal(st->pid, 4242);
    assert_string_equal(st->bundle, sample.bundle);
    assert_string_equal(st->rootfs, sample.rootfs);
    assert_string_equal(st->created, sample.created);
    assert_string_equal(st->owner, "");
    assert_int_equal(st->n_annotations, 2);
    assert_string_equal(st->annotations[0].key, "org.example.a");
    assert_string_equal(st->annotations[0].value, "1");
    assert_string_equal(st->annotations[1].key, "b");
    assert_string_equal(st->annotations[1].value, "two \"quoted\"");
    assert_true(st->init_start_time == UINT64_MAX);
    assert_string_equal(st->cgroup_path, "/brig/web-1");
    assert_true(st->cgroup_joined);
    assert_true(st->systemd_cgroup);
    assert_true(st->rootless);
    assert_string_equal(st->config_path, sample.config_path);
    assert_string_equal(st->start_error, sample.start_error);
    assert_int_equal(st->n_overlay_lowers, 2);
    assert_string_equal(st->overlay_lowers[0], "/layers/base");
    assert_string_equal(st->overlay_lowers[1], "/layers/odd:dir,x");
    assert_null(st->overlay_lowers[2]);
    assert_string_equal(st->overlay_upper, sample.overlay_upper);
    assert_string_equal(st->overlay_work, sample.overlay_work);
    assert_true(st->overlay_owns_upper);
    assert_true(st->keep_upper);
}

static void test_round_trip_sparse(void **state)
{
    const struct brig_state sparse = { .id = (char *) "x", .pid = 0 };
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    cleanup_state struct brig_state *st = NULL;
    size_t len = 0;

    assert_int_equal(brig_state_to_json(&sparse, &json, &len, &err), 0);
    assert_int_equal(brig_state_from_json(json, len, &st, &err), 0);
    assert_string_equal(st->id, "x");
    assert_null(st->status);
    assert_null(st->bundle);
    assert_null(st->cgroup_path);
    assert_null(st->start_error);
    assert_null(st->annotations);
    assert_int_equal(st->n_annotations, 0);
    assert_false(st->rootless);
    assert_false(st->cgroup_joined);
    assert_int_equal(st->init_start_time, 0);
    assert_int_equal(st->n_overlay_lowers, 0);
    assert_null(st->overlay_upper);
    assert_false(st->overlay_owns_upper);
    assert_false(st->keep_upper);
}

static void test_public_json(void **state)
{
    static const char want[] = "{\n"
                               "  \"ociVersion\": \"1.2.0\",\n"
                               "  \"id\": \"web-1\",\n"
                               "  \"pid\": 4242,\n"
                               "  \"status\": \"running\",\n"
                               "  \"bundle\": \"/srv/bundles/web\",\n"
                               "  \"rootfs\": \"/srv/bundles/web/rootfs\",\n"
                               "  \"created\": \"2026-11-22T04:00:00.123456789Z\",\n"
                               "  \"owner\": \"\",\n"
                               "  \"annotations\": {\n"
                               "    \"org.example.a\": \"1\",\n"
                               "    \"b\": \"two \\\"quoted\\\"\"\n"
                               "  }\n"
                               "}\n";
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    size_t len = 0;

    assert_int_equal(brig_state_to_public_json(&sample, &json, &len, &err), 0);
    assert_string_equal(json, want);
    assert_int_equal(len, strlen(want));
}

static void test_public_json_without_annotations(void **state)
{
    struct brig_state st = sample;
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;

    st.annotations = NULL;
    st.n_annotations = 0;
    st.pid = 0;
    st.status = (char *) "stopped";
    assert_int_equal(brig_state_to_public_json(&st, &json, NULL, &err), 0);
    assert_null(strstr(json, "annotations"));
    assert_null(strstr(json, "cgroupPath"));
    assert_null(strstr(json, "cgroupJoined"));
    assert_null(strstr(json, "startError"));
    assert_non_null(strstr(json, "\"pid\": 0,\n"));
    assert_non_null(strstr(json, "\"owner\": \"\"\n}"));
}

static void expect_error(const char *json, const char *want)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_state *st = NULL;

    assert_true(brig_state_from_json(json, strlen(json), &st, &err) < 0);
    assert_null(st);
    assert_non_null(err);
    if (strcmp(err->msg, want) != 0)
        fail_msg("got: %s\nwant: %s", err->msg, want);
}

static void test_bad_state(void **state)
{
    expect_error("", "state.json: invalid JSON: parse error: premature EOF");
    expect_error("{\"id\":\"a\"", "state.json: invalid JSON: parse error: premature EOF");
    expect_error("[1]", "state.json: expected an object");
    expect_error("{}", "state.json: id: expected a string");
    expect_error("{\"id\":\"a\",\"pid\":-3}", "state.json: pid: expected an integer between 0 and 2147483647");
    expect_error("{\"id\":\"a\",\"rootless\":1}", "state.json: rootless: expected a boolean");
    expect_error("{\"id\":\"a\",\"annotations\":{\"k\":\"v\",\"x\":2}}",
                 "state.json: annotations.x: expected a string");
    expect_error("{\"id\":\"a\",\"bundle\":\"/b\",\"initStartTime\":-1}",
                 "state.json: initStartTime: expected a non-negative integer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_sparse),
        cmocka_unit_test(test_public_json),
        cmocka_unit_test(test_public_json_without_annotations),
        cmocka_unit_test(test_bad_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
