/* config.json parsing: every bad input is refused with one line naming the JSON path and the cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"
#include "util/util.h"

#define HEAD "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
#define PROC(body) HEAD "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"]," body "}}"
#define LINUX(body) HEAD "\"linux\":{" body "}}"
#define RES(body) LINUX("\"resources\":{" body "}")
#define WHY "the kernel reads it as -1, \"unchanged\""

struct bad_case {
    const char *json;
    const char *msg;
};

static const struct bad_case cases[] = {
    /* Document and required top-level fields. */
    { "[]", "config.json: expected an object" },
    { "{}", "config.json: ociVersion: expected a string" },
    { "{\"ociVersion\":1}", "config.json: ociVersion: expected a string" },
    { "{\"ociVersion\":\"1.2.0\",\"root\":\"rootfs\"}", "config.json: root: expected an object" },
    { "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":1}}", "config.json: root.path: expected a string" },
    { "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\",\"readonly\":\"yes\"}}",
      "config.json: root.readonly: expected a boolean" },
    { HEAD "\"hostname\":5}", "config.json: hostname: expected a string" },
    { HEAD "\"annotations\":[]}", "config.json: annotations: expected an object" },
    { HEAD "\"annotations\":{\"org.a\":1}}", "config.json: annotations[\"org.a\"]: expected a string" },

    /* Mounts. */
    { HEAD "\"mounts\":{}}", "config.json: mounts: expected an array" },
    { HEAD "\"mounts\":[\"/proc\"]}", "config.json: mounts[0]: expected an object" },
    { HEAD "\"mounts\":[{\"destination\":\"/a\"},{\"destination\":\"/b\"},{\"source\":\"x\"}]}",
      "config.json: mounts[2].destination: expected a string" },
    { HEAD "\"mounts\":[{\"destination\":7}]}", "config.json: mounts[0].destination: expected a string" },
    { HEAD "\"mounts\":[{\"destination\":\"/a\",\"options\":\"ro\"}]}",
      "config.json: mounts[0].options: expected an array of strings" },
    { HEAD "\"mounts\":[{\"destination\":\"/a\",\"options\":[\"ro\",1]}]}",
      "config.json: mounts[0].options[1]: expected a string" },
    { HEAD "\"mounts\":[{\"destination\":\"/a\",\"uidMappings\":[{\"containerID\":0,\"hostID\":1}]}]}",
      "config.json: mounts[0].uidMappings[0].size: expected an integer between 1 and 4294967295" },

    /* Process. */
    { HEAD "\"process\":[]}", "config.json: process: expected an object" },
    { HEAD "\"process\":{\"cwd\":\"/\"}}", "config.json: process.args: expected a non-empty array of strings" },
    { HEAD "\"process\":{\"cwd\":\"/\",\"args\":[]}}",
      "config.json: process.args: expected a non-empty array of strings" },
    { HEAD "\"process\":{\"cwd\":\"/\",\"args\":\"sh\"}}",
      "config.json: process.args: expected a non-empty array of strings" },
    { HEAD "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\",null]}}", "config.json: process.args[1]: expected a string" },
    { HEAD "\"process\":{\"args\":[\"sh\"]}}", "config.json: process.cwd: expected a string" },
    { HEAD "\"process\":{\"cwd\":\"tmp\",\"args\":[\"sh\"]}}",
      "config.json: process.cwd: expected an absolute path, got \"tmp\"" },
    { PROC("\"terminal\":1"), "config.json: process.terminal: expected a boolean" },
    { PROC("\"env\":[1]"), "config.json: process.env[0]: expected a string" },
    { PROC("\"consoleSize\":{\"height\":1}"),
      "config.json: process.consoleSize.width: expected an integer between 0 and 4294967295" },
    { PROC("\"user\":{\"uid\":-1,\"gid\":0}"),
      "config.json: process.user.uid: expected an integer between 0 and 4294967294" },
    { PROC("\"user\":{\"uid\":4294967296,\"gid\":0}"),
      "config.json: process.user.uid: expected an integer between 0 and 4294967294" },
    { PROC("\"user\":{\"uid\":1.5,\"gid\":0}"),
      "config.json: process.user.uid: expected an integer between 0 and 4294967294" },
    { PROC("\"user\":{\"uid\":\"0\",\"gid\":0}"),
      "config.json: process.user.uid: expected an integer between 0 and 4294967294" },
    { PROC("\"user\":{\"uid\":0}"), "config.json: process.user.gid: expected an integer between 0 and 4294967294" },
    { PROC("\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[1,-2]}"),
      "config.json: process.user.additionalGids[1]: expected an integer between 0 and 4294967294" },
    /* (uid_t)-1 is "unchanged" to setresuid/setresgid: a process given it would keep root. */
    { PROC("\"user\":{\"uid\":4294967295,\"gid\":1000}"),
      "config.json: process.user.uid: 4294967295 is not a valid id: " WHY },
    { PROC("\"user\":{\"uid\":1000,\"gid\":4294967295}"),
      "config.json: process.user.gid: 4294967295 is not a valid id: " WHY },
    { PROC("\"user\":{\"uid\":1000,\"gid\":1000,\"additionalGids\":[5,6,4294967295]}"),
      "config.json: process.user.additionalGids[2]: 4294967295 is not a valid id: " WHY },
    { PROC("\"user\":{\"uid\":0,\"gid\":0,\"username\":false}"),
      "config.json: process.user.username: expected a string" },
    { PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":-1}]"),
      "config.json: process.rlimits[0].soft: expected a non-negative integer" },
    { PROC("\"rlimits\":[{\"hard\":1,\"soft\":1}]"), "config.json: process.rlimits[0].type: expected a string" },
    { PROC("\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"hard\":18446744073709551616,\"soft\":0}]"),
      "config.json: process.rlimits[0].hard: expected a non-negative integer" },
    { PROC("\"capabilities\":{\"bounding\":[\"CAP_KILL\",3]}"),
      "config.json: process.capabilities.bounding[1]: expected a string" },
    { PROC("\"noNewPrivileges\":\"true\""), "config.json: process.noNewPrivileges: expected a boolean" },
    { PROC("\"oomScoreAdj\":\"1\""),
      "config.json: process.oomScoreAdj: expected an integer between -2147483648 and 2147483647" },
    { PROC("\"scheduler\":{\"nice\":1}"), "config.json: process.scheduler.policy: expected a string" },
    { PROC("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"nice\":2147483648}"),
      "config.json: process.scheduler.nice: expected an integer between -2147483648 and 2147483647" },
    { PROC("\"ioPriority\":{\"priority\":1}"), "config.json: process.ioPriority.class: expected a string" },
    { PROC("\"execCPUAffinity\":{\"initial\":0}"), "config.json: process.execCPUAffinity.initial: expected a string" },

    /* Hooks. */
    { HEAD "\"hooks\":[]}", "config.json: hooks: expected an object" },
    { HEAD "\"hooks\":{\"prestart\":[{\"args\":[]}]}}", "config.json: hooks.prestart[0].path: expected a string" },
    { HEAD "\"hooks\":{\"createRuntime\":[{\"path\":\"/a\"},{\"path\":1}]}}",
      "config.json: hooks.createRuntime[1].path: expected a string" },
    { HEAD "\"hooks\":{\"poststop\":[{\"path\":\"/a\",\"timeout\":0}]}}",
      "config.json: hooks.poststop[0].timeout: expected a positive integer" },
    { HEAD "\"hooks\":{\"startContainer\":{}}}", "config.json: hooks.startContainer: expected an array" },

    /* Linux. */
    { HEAD "\"linux\":true}", "config.json: linux: expected an object" },
    { LINUX("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"foo\"}]"),
      "config.json: linux.namespaces[1].type: unknown namespace type \"foo\"" },
    { LINUX("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"net\"}]"),
      "config.json: linux.namespaces[1].type: unknown namespace type \"net\"" },
    { LINUX("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"pid\"}]"),
      "config.json: linux.namespaces[2].type: duplicate namespace type \"pid\"" },
    { LINUX("\"namespaces\":[{\"path\":\"/proc/1/ns/net\"}]"),
      "config.json: linux.namespaces[0].type: expected a string" },
    { LINUX("\"namespaces\":[{\"type\":\"network\",\"path\":1}]"),
      "config.json: linux.namespaces[0].path: expected a string" },
    { LINUX("\"namespaces\":{}"), "config.json: linux.namespaces: expected an array" },
    { LINUX("\"uidMappings\":[{\"containerID\":-1,\"hostID\":0,\"size\":1}]"),
      "config.json: linux.uidMappings[0].containerID: expected an integer between 0 and 4294967294" },
    { LINUX("\"gidMappings\":[{\"containerID\":0,\"size\":1}]"),
      "config.json: linux.gidMappings[0].hostID: expected an integer between 0 and 4294967294" },
    { LINUX("\"uidMappings\":[{\"containerID\":4294967295,\"hostID\":0,\"size\":1}]"),
      "config.json: linux.uidMappings[0].containerID: 4294967295 is not a valid id: " WHY },
    { LINUX("\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1},{\"containerID\":1,\"hostID\":4294967295,\"size\":1}]"),
      "config.json: linux.gidMappings[1].hostID: 4294967295 is not a valid id: " WHY },
    { LINUX("\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":0}]"),
      "config.json: linux.uidMappings[0].size: expected an integer between 1 and 4294967295" },
    { LINUX("\"uidMappings\":[{\"containerID\":4294967290,\"hostID\":0,\"size\":6}]"),
      "config.json: linux.uidMappings[0]: containerID 4294967290 + size 6 runs past 4294967294, the highest id" },
    { LINUX("\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":4294967295}]"),
      "config.json: linux.gidMappings[0]: hostID 1 + size 4294967295 runs past 4294967294, the highest id" },
    { HEAD "\"mounts\":[{\"destination\":\"/a\",\"gidMappings\":[{\"containerID\":4294967000,\"hostID\":0,\"size\":4294967000}]}]}",
      "config.json: mounts[0].gidMappings[0]: containerID 4294967000 + size 4294967000 runs past 4294967294, the highest id" },
    { LINUX("\"devices\":[{\"type\":\"c\",\"path\":\"/dev/x\",\"uid\":4294967295}]"),
      "config.json: linux.devices[0].uid: 4294967295 is not a valid id: " WHY },
    { LINUX("\"devices\":[{\"type\":\"c\",\"path\":\"/dev/x\",\"gid\":-1}]"),
      "config.json: linux.devices[0].gid: expected an integer between 0 and 4294967294" },
    { LINUX("\"timeOffsets\":{\"realtime\":{\"secs\":1}}"),
      "config.json: linux.timeOffsets: unknown clock \"realtime\" (expected \"monotonic\" or \"boottime\")" },
    { LINUX("\"timeOffsets\":{\"boottime\":{\"secs\":1,\"nanosecs\":1000000000}}"),
      "config.json: linux.timeOffsets.boottime.nanosecs: expected an integer between 0 and 999999999" },
    { LINUX("\"timeOffsets\":{\"monotonic\":{\"secs\":\"1\"}}"),
      "config.json: linux.timeOffsets.monotonic.secs: expected an integer" },
    { LINUX("\"devices\":[{\"path\":\"/dev/x\"}]"), "config.json: linux.devices[0].type: expected a string" },
    { LINUX("\"devices\":[{\"type\":\"c\",\"major\":1,\"minor\":3}]"),
      "config.json: linux.devices[0].path: expected a string" },
    { LINUX("\"devices\":[{\"type\":\"x\",\"path\":\"/dev/x\"}]"),
      "config.json: linux.devices[0].type: unknown device type \"x\" (expected c, b, u or p)" },
    { LINUX("\"devices\":[{\"type\":\"c\",\"path\":\"/dev/x\",\"fileMode\":-1}]"),
      "config.json: linux.devices[0].fileMode: expected an integer between 0 and 4294967295" },
    { LINUX("\"netDevices\":{\"eth0\":\"net0\"}"), "config.json: linux.netDevices.eth0: expected an object" },
    { LINUX("\"netDevices\":{\"eth0\":{\"name\":1}}"), "config.json: linux.netDevices.eth0.name: expected a string" },
    { LINUX("\"cgroupsPath\":[]"), "config.json: linux.cgroupsPath: expected a string" },
    { LINUX("\"maskedPaths\":[\"/proc/kcore\",{}]"), "config.json: linux.maskedPaths[1]: expected a string" },
    { LINUX("\"sysctl\":{\"net.ipv4.ip_forward\":1}"),
      "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string" },
    { LINUX("\"seccomp\":{\"syscalls\":[]}"), "config.json: linux.seccomp.defaultAction: expected a string" },
    { LINUX("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":\"x\"}]}"),
      "config.json: linux.seccomp.syscalls[0].names: expected a non-empty array of strings" },
    { LINUX("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}"),
      "config.json: linux.seccomp.syscalls[0].action: expected a string" },
    { LINUX("\"seccomp\":{\"defaultAction\":\"A\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"B\","
            "\"args\":[{\"index\":0,\"value\":1}]}]}"),
      "config.json: linux.seccomp.syscalls[0].args[0].op: expected a string" },
    { LINUX("\"intelRdt\":{\"enableCMT\":1}"), "config.json: linux.intelRdt.enableCMT: expected a boolean" },
    { LINUX("\"personality\":{\"flags\":[]}"), "config.json: linux.personality.domain: expected a string" },
    { LINUX("\"memoryPolicy\":{\"nodes\":\"0\"}"), "config.json: linux.memoryPolicy.mode: expected a string" },

    /* Resources. */
    { LINUX("\"resources\":[]"), "config.json: linux.resources: expected an object" },
    { RES("\"devices\":[{\"allow\":\"no\"}]"), "config.json: linux.resources.devices[0].allow: expected a boolean" },
    { RES("\"memory\":{\"limit\":\"1g\"}"), "config.json: linux.resources.memory.limit: expected an integer" },
    { RES("\"memory\":{\"swappiness\":-1}"),
      "config.json: linux.resources.memory.swappiness: expected a non-negative integer" },
    { RES("\"cpu\":{\"shares\":-2}"), "config.json: linux.resources.cpu.shares: expected a non-negative integer" },
    { RES("\"cpu\":{\"cpus\":0}"), "config.json: linux.resources.cpu.cpus: expected a string" },
    { RES("\"pids\":{}"), "config.json: linux.resources.pids.limit: expected an integer" },
    { RES("\"blockIO\":{\"weight\":70000}"),
      "config.json: linux.resources.blockIO.weight: expected an integer between 0 and 65535" },
    { RES("\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0}]}"),
      "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].rate: expected a non-negative integer" },
    { RES("\"hugepageLimits\":[{\"limit\":1}]"),
      "config.json: linux.resources.hugepageLimits[0].pageSize: expected a string" },
    { RES("\"network\":{\"priorities\":[{\"name\":\"eth0\"}]}"),
      "config.json: linux.resources.network.priorities[0].priority: expected an integer between 0 and 4294967295" },
    { RES("\"rdma\":{\"mlx5_1\":{\"hcaHandles\":-1}}"),
      "config.json: linux.resources.rdma.mlx5_1.hcaHandles: expected an integer between 0 and 4294967295" },
    { RES("\"unified\":{\"memory.max\":1}"),
      "config.json: linux.resources.unified[\"memory.max\"]: expected a string" },
};

static void test_bad_inputs(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cleanup_err struct brig_err *err = NULL;
        struct brig_spec *s = NULL;
        int ret = brig_spec_parse(cases[i].json, strlen(cases[i].json), &s, &err);

        if (ret >= 0) {
            brig_spec_free(s);
            fail_msg("case %zu accepted: %s", i, cases[i].json);
        }
        assert_int_equal(ret, -EINVAL);
        assert_null(s);
        assert_non_null(err);
        if (strcmp(err->msg, cases[i].msg) != 0)
            fail_msg("case %zu: %s\n  got:  %s\n  want: %s", i, cases[i].json, err->msg, cases[i].msg);
    }
}

static void expect_invalid_json(const char *json, size_t len, const char *want)
{
    cleanup_err struct brig_err *err = NULL;
    struct brig_spec *s = NULL;

    assert_true(brig_spec_parse(json, len, &s, &err) < 0);
    assert_null(s);
    assert_non_null(err);
    assert_null(strchr(err->msg, '\n'));
    if (strcmp(err->msg, want) != 0)
        fail_msg("got: %s\nwant: %s", err->msg, want);
}

static void test_malformed_json(void **state)
{
    static const char nul[] = "{\"ociVersion\":\"1\0\"}";

    expect_invalid_json("", 0, "config.json: invalid JSON: parse error: premature EOF");
    expect_invalid_json("{\"ociVersion\": ", 15, "config.json: invalid JSON: parse error: premature EOF");
    expect_invalid_json("{\"a\":1} x", 9, "config.json: invalid JSON: parse error: trailing garbage");
    expect_invalid_json("{a:1}", 5, "config.json: invalid JSON: lexical error: invalid char in json text");
    expect_invalid_json("{\"a\":[1,]}", 10,
                        "config.json: invalid JSON: parse error: unallowed token at this point in JSON text");
    expect_invalid_json(nul, sizeof(nul) - 1, "config.json: invalid JSON: NUL byte at offset 16");
}

static void test_too_deep(void **state)
{
    char json[400];
    size_t n = 0;

    for (int i = 0; i < 65; i++)
        json[n++] = '[';
    for (int i = 0; i < 65; i++)
        json[n++] = ']';
    expect_invalid_json(json, n, "config.json: invalid JSON: nested deeper than 64 levels at offset 64");
    /* Brackets inside strings are text, not nesting. */
    n = (size_t) snprintf(json, sizeof(json), "{\"ociVersion\":\"%0100d\",\"root\":{\"path\":\"[[[[\\\"[[[\"}}", 0);
    for (size_t i = 15; i < 115; i++)
        json[i] = '[';
    {
        cleanup_err struct brig_err *err = NULL;
        struct brig_spec *s = NULL;
        if (brig_spec_parse(json, n, &s, &err) < 0)
            fail_msg("%s", err->msg);
        assert_string_equal(s->root_path, "[[[[\"[[[");
        brig_spec_free(s);
    }
}

static void test_process_json_errors(void **state)
{
    static const struct bad_case process_cases[] = {
        { "[]", "process.json: expected an object" },
        { "{\"cwd\":\"/\"}", "process.json: args: expected a non-empty array of strings" },
        { "{\"args\":[\"sh\"]}", "process.json: cwd: expected a string" },
        { "{\"cwd\":\"/\",\"args\":[\"sh\"],\"user\":{\"uid\":-1,\"gid\":0}}",
          "process.json: user.uid: expected an integer between 0 and 4294967294" },
        { "{\"cwd\":\"/\",\"args\":[\"sh\"],\"user\":{\"uid\":0,\"gid\":4294967295}}",
          "process.json: user.gid: 4294967295 is not a valid id: " WHY },
        { "{\"cwd\":\"/\"", "process.json: invalid JSON: parse error: premature EOF" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(process_cases); i++) {
        cleanup_err struct brig_err *err = NULL;
        struct brig_spec *s = NULL;

        assert_int_equal(brig_spec_parse_process(process_cases[i].json, strlen(process_cases[i].json), &s, &err),
                         -EINVAL);
        assert_null(s);
        assert_string_equal(err->msg, process_cases[i].msg);
    }
}

/* The highest id and ranges that end on it are fine: only (uid_t)-1 itself is refused. */
static void test_id_boundaries(void **state)
{
    static const char json[] = LINUX("\"uidMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":4294967295}],"
                                     "\"gidMappings\":[{\"containerID\":4294967294,\"hostID\":4294967294,\"size\":1}],"
                                     "\"devices\":[{\"type\":\"c\",\"path\":\"/dev/x\",\"uid\":4294967294,\"gid\":0}]");
    static const char proc[] = PROC("\"user\":{\"uid\":4294967294,\"gid\":4294967294,\"additionalGids\":[4294967294]}");
    cleanup_err struct brig_err *err = NULL;
    struct brig_spec *s = NULL;

    (void) state;
    if (brig_spec_parse(json, sizeof(json) - 1, &s, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(s->linux_cfg->uid_mappings[0].size, UINT32_MAX);
    assert_int_equal(s->linux_cfg->gid_mappings[0].container_id, UINT32_MAX - 1);
    assert_int_equal(s->linux_cfg->devices[0].uid.value, UINT32_MAX - 1);
    brig_spec_free(s);
    if (brig_spec_parse(proc, sizeof(proc) - 1, &s, &err) < 0)
        fail_msg("%s", err->msg);
    assert_int_equal(s->process->user.uid, UINT32_MAX - 1);
    assert_int_equal(s->process->user.additional_gids[0], UINT32_MAX - 1);
    brig_spec_free(s);
}

/* The file name in messages comes from the path, so a process.json or a renamed config reads right. */
static void test_load_names_file(void **state)
{
    char dir[] = "/tmp/brig-spec-XXXXXX";
    cleanup_free char *path = NULL;
    cleanup_err struct brig_err *err = NULL;
    struct brig_spec *s = NULL;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    assert_true(asprintf(&path, "%s/other.json", dir) > 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":[]}}", f);
    fclose(f);
    assert_int_equal(brig_spec_load(path, &s, &err), -EINVAL);
    assert_string_equal(err->msg, "other.json: root.path: expected a string");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_load_names_file),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_process_json_errors),
        cmocka_unit_test(test_id_boundaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
