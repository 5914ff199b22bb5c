#!/usr/bin/env bats
# Behaviours the OCI runtime-tools validation suite found wrong in brig (see /work/oci-report.md).

load helpers

set_seccomp() {
	bundle_jq '.linux.seccomp = ($s | fromjson)' --arg s "$1"
}

# Without noNewPrivileges and CAP_SYS_ADMIN the filter is loaded before the user change, so every
# syscall brig makes after that must be one the profile allows, or not matter.
@test "oci: an early seccomp filter that denies close_range does not stop create or exec" {
	bundle_jq '.process.noNewPrivileges = false'
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]}'
	bundle_set_args sh -c 'echo started; sleep 30'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	run brig exec "$ID" sh -c 'echo from-exec'
	assert_success
	assert_output_contains "from-exec"
	run brig delete --force "$ID"
	assert_success
}

@test "oci: an early seccomp filter that denies getcwd does not stop the process" {
	bundle_jq '.process.noNewPrivileges = false'
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}'
	run_in_container sh -c 'echo ran'
	assert_success
	assert_output_contains "ran"
	assert_nothing_left
}

@test "oci: after a failing poststart or poststop hook the remaining hooks still run" {
	bundle_set_args true
	bundle_jq '.hooks.poststart = [{path: "/bin/false"}, {path: "/bin/sh", args: ["sh", "-c", "echo poststart-1 >> \($log)"]}]
		| .hooks.poststop = [{path: "/bin/false"}, {path: "/bin/sh", args: ["sh", "-c", "echo poststop-1 >> \($log)"]}]' \
		--arg log "$TEST_DIR/hooks.log"
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains "poststart[0]"
	assert_output_contains "poststop[0]"
	grep -qx poststart-1 "$TEST_DIR/hooks.log"
	grep -qx poststop-1 "$TEST_DIR/hooks.log"
	assert_nothing_left
}
