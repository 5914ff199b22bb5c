/* checkpoint/: the flags' checks, CRIU configuration files and descriptors.json, without CRIU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/checkpoint.h"
#include "spec/spec.h"
#include "util/error.h"

static struct brig_ckpt_opts fresh(void)
{
    return (struct brig_ckpt_opts){.image_path = "checkpoint", .status_fd = -1};
}

static void cg_modes(void **unused)
{
    enum brig_ckpt_cg_mode mode = BRIG_CKPT_CG_UNSET;

    (void) unused;
    assert_int_equal(brig_ckpt_parse_cg_mode("ignore", &mode), 0);
    /* runc's trap: ignore must stay distinct from "not given". */
    assert_int_equal(mode, BRIG_CKPT_CG_IGNORE);
    assert_true(mode != BRIG_CKPT_CG_UNSET);
    assert_int_equal(brig_ckpt_parse_cg_mode("strict", &mode), 0);
    assert_int_equal(mode, BRIG_CKPT_CG_STRICT);
    assert_int_equal(brig_ckpt_parse_cg_mode("Soft", &mode), -EINVAL);
    assert_int_equal(brig_ckpt_parse_cg_mode(NULL, &mode), -EINVAL);
}

static void opts_checks(void **unused)
{
    struct brig_ckpt_opts o = fresh();
    struct brig_err *err = NULL;

    (void) unused;
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), 0);
    o.page_server = "10.0.0.1:27";
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), 0);
    o.page_server = "[fd00::1]:27";
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), 0);
    o.page_server = "10.0.0.1";
    assert_true(brig_ckpt_opts_check(&o, false, &err) < 0);
    assert_string_equal(err->msg, "--page-server: `10.0.0.1` is not ADDRESS:PORT");
    brig_err_free(&err);
    o.page_server = "host:70000";
    assert_true(brig_ckpt_opts_check(&o, false, &err) < 0);
    brig_err_free(&err);

    o = fresh();
    o.pre_dump = o.leave_running = true;
    assert_true(brig_ckpt_opts_check(&o, false, &err) < 0);
    assert_non_null(strstr(err->msg, "--pre-dump"));
    brig_err_free(&err);

    /* A lazy dump serves its memory on the page server; a restore needs none. */
    o = fresh();
    o.lazy_pages = true;
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "--lazy-pages: needs --page-server"));
    brig_err_free(&err);
    assert_int_equal(brig_ckpt_opts_check(&o, true, &err), 0);
    o.page_server = "127.0.0.1:2700";
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), 0);
    o.pre_dump = true;
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "--lazy-pages: not with --pre-dump"));
    brig_err_free(&err);

    o = fresh();
    o.status_fd = 2;
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "--status-fd: only with --lazy-pages"));
    brig_err_free(&err);
    o.lazy_pages = true;
    o.page_server = "127.0.0.1:2700";
    o.status_fd = 987;
    assert_int_equal(brig_ckpt_opts_check(&o, false, &err), -EBADF);
    brig_err_free(&err);

    o = fresh();
    o.image_path = "";
    assert_true(brig_ckpt_opts_check(&o, true, &err) < 0);
    brig_err_free(&err);
}

static void config_files(void **unused)
{
    struct brig_ckpt_opts o = fresh();
    struct brig_err *err = NULL;
    const char *text = "# extra options\n"
                       "tcp-established\n"
                       "--file-locks\n"
                       "  ghost-limit 1048576  \n"
                       "timeout=30\n"
                       "manage-cgroups-mode ignore\n"
                       "skip-mnt /proc/sys/fs/binfmt_misc\n"
                       "external mnt[]:m\n"
                       "enable-fs fuse\n"
                       "\n"
                       "log-level 2 # quieter\n";

    (void) unused;
    assert_int_equal(brig_ckpt_config_apply(text, "/etc/criu/brig.conf", &o, &err), 0);
    assert_true(o.tcp_established);
    assert_true(o.file_locks);
    assert_int_equal(o.ghost_limit, 1048576);
    assert_int_equal(o.timeout, 30);
    assert_int_equal(o.cg_mode, BRIG_CKPT_CG_IGNORE);
    assert_int_equal(o.log_level, 2);
    assert_string_equal(o.skip_mounts[0], "/proc/sys/fs/binfmt_misc");
    assert_null(o.skip_mounts[1]);
    assert_string_equal(o.externals[0], "mnt[]:m");
    assert_string_equal(o.enable_fs[0], "fuse");
    brig_ckpt_opts_clear(&o);
    assert_null(o.skip_mounts);

    o = fresh();
    assert_true(brig_ckpt_config_apply("tcp-close\nimages-dir /elsewhere\n", "c.conf", &o, &err) < 0);
    assert_string_equal(err->msg, "c.conf:2: `images-dir`: brig cannot pass this option to CRIU");
    brig_err_free(&err);
    assert_true(brig_ckpt_config_apply("shell-job yes\n", "c.conf", &o, &err) < 0);
    assert_string_equal(err->msg, "c.conf:1: `shell-job`: takes no value");
    brig_err_free(&err);
    assert_true(brig_ckpt_config_apply("ghost-limit lots\n", "c.conf", &o, &err) < 0);
    assert_string_equal(err->msg, "c.conf:1: `ghost-limit`: needs a number");
    brig_err_free(&err);
    brig_ckpt_opts_clear(&o);
}

static void descriptors_json(void **unused)
{
    char *targets[] = {(char *) "pipe:[123]", (char *) "/dev/null", (char *) "socket:[9] \"x\""};
    struct brig_err *err = NULL;
    char *json = NULL;
    char **back = NULL;
    size_t n = 0;

    (void) unused;
    assert_int_equal(brig_json_strv_format(targets, 3, &json, &err), 0);
    assert_string_equal(json, "[\"pipe:[123]\",\"/dev/null\",\"socket:[9] \\\"x\\\"\"]");
    assert_int_equal(brig_json_strv_parse(json, strlen(json), "descriptors.json", &back, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(back[2], "socket:[9] \"x\"");
    assert_null(back[3]);
    brig_strv_free(back);
    free(json);

    assert_true(brig_json_strv_parse("{\"a\": 1}", 8, "descriptors.json", &back, &n, &err) < 0);
    assert_string_equal(err->msg, "descriptors.json: expected an array of strings");
    brig_err_free(&err);
    assert_true(brig_json_strv_parse("[\"a\", 2]", 8, "descriptors.json", &back, &n, &err) < 0);
    assert_string_equal(err->msg, "descriptors.json: [1]: expected a string");
    brig_err_free(&err);
    assert_true(brig_json_strv_parse("[\"a\"", 4, "descriptors.json", &back, &n, &err) < 0);
    brig_err_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cg_modes),
        cmocka_unit_test(opts_checks),
        cmocka_unit_test(config_files),
        cmocka_unit_test(descriptors_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
