/* OCI image layout documents (spec/image.c) and the config.json that `spec --image` writes (spec/default.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/image.h"
#include "spec/spec.h"
#include "util/util.h"

#define D(digest) "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" digest "\",\"size\":3"

static void test_index(void **state)
{
    static const char json[] =
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"sha256:aa\",\"size\":349,\"annotations\":{\"org.opencontainers.image.ref.name\":\"bb\"},"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"x\",\"digest\":\"sha256:bb\",\"size\":18446744073709551615}],\"unknown\":[1]}";
    cleanup_err struct brig_err *err = NULL;
    struct brig_oci_index *index = NULL;

    if (brig_oci_index_parse(json, strlen(json), "index.json", &index, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(index->n_manifests, 2);
    assert_string_equal(index->manifests[0].digest, "sha256:aa");
    assert_int_equal(index->manifests[0].size, 349);
    assert_string_equal(brig_oci_annotation(&index->manifests[0], BRIG_OCI_REF_NAME), "bb");
    assert_null(brig_oci_annotation(&index->manifests[1], BRIG_OCI_REF_NAME));
    assert_string_equal(index->manifests[0].platform->architecture, "amd64");
    assert_null(index->manifests[1].platform);
    assert_true(index->manifests[1].size == UINT64_MAX);
    brig_oci_index_free(index);
}

static void test_manifest_and_config(void **state)
{
    static const char manifest[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:cc\",\"size\":9},"
        "\"layers\":[{" D("sha256:l0") "},{" D("sha256:l1") "}]}";
    static const char config[] =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"tester:tester\",\"Env\":[\"A=1\"],"
        "\"Entrypoint\":null,\"Cmd\":[\"sh\",\"-c\",\"true\"],\"WorkingDir\":\"/w\",\"Labels\":{\"k\":\"v\"},"
        "\"StopSignal\":\"SIGQUIT\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:d0\",\"sha256:d1\"]},"
        "\"history\":[{\"created_by\":\"umoci\"}]}";
    cleanup_err struct brig_err *err = NULL;
    struct brig_oci_manifest *m = NULL;
    struct brig_oci_image_config *c = NULL;

    if (brig_oci_manifest_parse(manifest, strlen(manifest), "manifest", &m, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(m->config.digest, "sha256:cc");
    assert_int_equal(m->n_layers, 2);
    assert_string_equal(m->layers[1].digest, "sha256:l1");
    brig_oci_manifest_free(m);

    if (brig_oci_config_parse(config, strlen(config), "config", &c, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(c->user, "tester:tester");
    assert_int_equal(c->n_entrypoint, 0);
    assert_int_equal(c->n_cmd, 3);
    assert_string_equal(c->cmd[2], "true");
    assert_null(c->cmd[3]);
    assert_string_equal(c->working_dir, "/w");
    assert_int_equal(c->n_labels, 1);
    assert_string_equal(c->stop_signal, "SIGQUIT");
    assert_int_equal(c->n_diff_ids, 2);
    assert_string_equal(c->diff_ids[1], "sha256:d1");
    brig_oci_config_free(c);
}

struct bad_doc {
    int kind; /* 0 index, 1 manifest, 2 config */
    const char *json;
    const char *msg;
};

static void test_bad_documents(void **state)
{
    static const struct bad_doc cases[] = {
        { 0, "[]", "doc: expected an object" },
        { 0, "{\"manifests\":[]}", "doc: schemaVersion: expected a non-negative integer" },
        { 0, "{\"schemaVersion\":1,\"manifests\":[]}", "doc: schemaVersion: 1 is not supported (expected 2)" },
        { 0, "{\"schemaVersion\":2}", "doc: manifests: expected an array" },
        { 0, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:a\",\"size\":1}]}",
          "doc: manifests[0].mediaType: expected a string" },
        { 0, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"sha256:a\",\"size\":-1}]}",
          "doc: manifests[0].size: expected a non-negative integer" },
        { 0, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1,"
             "\"annotations\":{\"a\":1}}]}",
          "doc: manifests[0].annotations.a: expected a string" },
        { 1, "{\"schemaVersion\":2,\"layers\":[]}", "doc: config: expected an object" },
        { 1, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1}}",
          "doc: layers: expected an array" },
        { 1, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1},\"layers\":[{" D("x")
             ",\"size\":\"3\"}]}",
          "doc: layers[0].size: expected a non-negative integer" },
        { 2, "{\"config\":{}}", "doc: rootfs: expected an object" },
        { 2, "{\"rootfs\":{\"type\":\"layers\"}}", "doc: rootfs.diff_ids: expected an array of strings" },
        { 2, "{\"rootfs\":{\"type\":\"tree\",\"diff_ids\":[]}}",
          "doc: rootfs.type: `tree` is not supported (expected \"layers\")" },
        { 2, "{\"config\":{\"Cmd\":\"sh\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
          "doc: config.Cmd: expected an array of strings" },
        { 2, "{\"config\":{\"Env\":[1]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
          "doc: config.Env[0]: expected a string" },
        { 2, "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[", "doc: invalid JSON: parse error: premature EOF" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cleanup_err struct brig_err *err = NULL;
        const char *json = cases[i].json;
        void *doc = NULL;
        int ret;

        if (cases[i].kind == 0)
            ret = brig_oci_index_parse(json, strlen(json), "doc", (struct brig_oci_index **) &doc, &err);
        else if (cases[i].kind == 1)
            ret = brig_oci_manifest_parse(json, strlen(json), "doc", (struct brig_oci_manifest **) &doc, &err);
        else
            ret = brig_oci_config_parse(json, strlen(json), "doc", (struct brig_oci_image_config **) &doc, &err);
        if (ret == 0)
            fail_msg("case %zu parsed: %s", i, json);
        assert_null(doc);
        assert_string_equal(err->msg, cases[i].msg);
    }
}

/* `spec --image`: the image's process, no root.path, a writable root, the annotations; and it parses back. */
static void test_spec_image_json(void **state)
{
    static char *args[] = { "/bin/sh", "-c", "echo hi", NULL };
    static char *env[] = { "PATH=/bin", "A=b", NULL };
    static const uint32_t gids[] = { 10, 20 };
    static const struct brig_kv annotations[] = { { "run.brig.image", "/l@sha256:ab" }, { "k", "v" } };
    const struct brig_spec_image image = {
        .args = args, .n_args = 3, .env = env, .n_env = 2, .cwd = "/work", .uid = 1000, .gid = 1001,
        .additional_gids = gids, .n_additional_gids = 2, .annotations = annotations, .n_annotations = 2,
    };
    cleanup_err struct brig_err *err = NULL;
    cleanup_free char *json = NULL;
    cleanup_spec struct brig_spec *s = NULL;

    assert_int_equal(brig_spec_image_json(false, 0, 0, &image, &json, &err), 0);
    if (brig_spec_parse(json, strlen(json), &s, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(s->root_path, "");
    assert_false(s->root_readonly);
    assert_int_equal(s->process->n_args, 3);
    assert_string_equal(s->process->args[2], "echo hi");
    assert_int_equal(s->process->n_env, 2);
    assert_string_equal(s->process->cwd, "/work");
    assert_int_equal(s->process->user.uid, 1000);
    assert_int_equal(s->process->user.gid, 1001);
    assert_int_equal(s->process->user.n_additional_gids, 2);
    assert_int_equal(s->process->user.additional_gids[1], 20);
    assert_string_equal(brig_spec_annotation(s, "run.brig.image"), "/l@sha256:ab");
    assert_string_equal(brig_spec_annotation(s, "k"), "v");
    assert_null(strstr(json, "\"path\""));
}

/* A config without root, or without root.path, reads as a root to be made of layers. */
static void test_root_without_path(void **state)
{
    static const char *const docs[] = {
        "{\"ociVersion\":\"1.2.0\"}",
        "{\"ociVersion\":\"1.2.0\",\"root\":{\"readonly\":true}}",
    };

    for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
        cleanup_err struct brig_err *err = NULL;
        cleanup_spec struct brig_spec *s = NULL;
        if (brig_spec_parse(docs[i], strlen(docs[i]), &s, &err) < 0)
            fail_msg("%s", err->msg);
        assert_string_equal(s->root_path, "");
        assert_int_equal(s->root_readonly, i == 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_manifest_and_config),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_spec_image_json),
        cmocka_unit_test(test_root_without_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
