#!/usr/bin/env bats
# process.apparmorProfile on a real LSM (issue 17 item 5): Debian's 6.1 guest kernel has AppArmor, the
# host's kernel does not. The file loads two profiles of its own (apparmor_parser, from files in its
# $TEST_DIR; unloaded in teardown_file): a container under the first is confined by it (the write it
# denies fails, others work, /proc/self/attr/current names it), `exec` gets it too, `exec --apparmor`
# the second one; a profile the kernel does not have is a one-line error at create that leaves nothing.
#
# Lean (lane_* helpers in ../helpers.bash): one rootfs and config template for the file.

load ../helpers

aa_enabled() {
	local enabled=
	read -r enabled </sys/module/apparmor/parameters/enabled 2>/dev/null || true
	[ "$enabled" = Y ]
}

# aa_profile NAME DENIED: a profile that allows what a busybox container does, except writing DENIED.
aa_profile() {
	cat <<-EOF
		abi <abi/3.0>,
		profile $1 flags=(attach_disconnected,mediate_deleted) {
		  file,
		  capability,
		  network,
		  signal,
		  unix,
		  ptrace,
		  deny $2 w,
		}
	EOF
}

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
	aa_enabled || return 0
	export AA_A=brig-test-$RAND-a AA_B=brig-test-$RAND-b AA_MISSING=brig-test-$RAND-missing
	aa_profile "$AA_A" /f-a >"$TEST_DIR/profile-a"
	aa_profile "$AA_B" /f-b >"$TEST_DIR/profile-b"
	# -K: nothing read from or written to the parser's cache.
	apparmor_parser -r -K "$TEST_DIR/profile-a" "$TEST_DIR/profile-b"
}

teardown_file() {
	if [ -n "${AA_A:-}" ]; then
		lane_teardown
		apparmor_parser -R -K "$TEST_DIR/profile-a" "$TEST_DIR/profile-b" || true
	fi
	lane_teardown_file
}

# Skips only on the kernel's answer; what the lane itself must provide fails.
setup() {
	require_guest_lane
	aa_enabled || skip "the kernel has no AppArmor (/sys/module/apparmor/parameters/enabled is not Y)"
	[ -e /sys/kernel/security/apparmor/profiles ] ||
		fail "no /sys/kernel/security/apparmor: securityfs is not mounted (tests/guest/initramfs-init.sh)"
	command -v apparmor_parser >/dev/null || fail "no apparmor_parser: install apparmor (scripts/setup.sh)"
	grep -qx "$AA_A (enforce)" /sys/kernel/security/apparmor/profiles || fail "profile $AA_A is not loaded"
}

teardown() {
	lane_teardown
}

# aa_bundle ID PROFILE ARGS_JSON: lane_bundle's config with process.apparmorProfile PROFILE.
aa_bundle() {
	local file=$TEST_DIR/$1.json text
	lane_bundle "$1" "$3"
	IFS= read -r -d '' text <"$file" || true
	[[ "$text" == *'"process":{'* ]] || fail "no process object in $file"
	printf '%s' "${text/'"process":{'/"\"process\":{\"apparmorProfile\":\"$2\","}" >"$file"
}

# What a shell in the container prints: its label, then the status of a write to each of /f-a and /f-b.
PROBE='cat /proc/self/attr/current; for f in a b; do (echo x >/f-$f) 2>&1; echo $f:$?; done'

@test "apparmor: the container runs confined by process.apparmorProfile; exec gets it, exec --apparmor another; a profile not loaded is a clear error" {
	local id=aa-$RAND out i pid label
	aa_bundle "$id" "$AA_A" "[\"sh\", \"-c\", \"$PROBE; echo done; exec sleep 1000\"]"
	lane_create "$id"
	assert_success
	run brig start "$id"
	assert_success
	for ((i = 0; i < 100; i++)); do
		IFS= read -r -d '' out <"$TEST_DIR/$id.out" || true
		[[ "$out" == *done* ]] && break
		sleep 0.1
	done
	output=$out
	assert_output_contains "$AA_A (enforce)" "can't create /f-a: Permission denied" $'a:1\n' $'b:0\n'
	lane_pid "$id"
	pid=$REPLY
	IFS= read -r label <"/proc/$pid/attr/current"
	[ "$label" = "$AA_A (enforce)" ] || fail "the init (sleep) is \`$label\`"

	# exec gets the container's profile (runc: the process's apparmorProfile unless --apparmor).
	run brig exec "$id" sh -c "$PROBE"
	assert_success
	assert_output_contains "$AA_A (enforce)" $'a:1\n' $'b:0'
	run brig exec --apparmor "$AA_B" "$id" sh -c "$PROBE"
	assert_success
	assert_output_contains "$AA_B (enforce)" $'a:0\n' "can't create /f-b: Permission denied" $'b:1'
	run brig exec --apparmor "$AA_MISSING" "$id" true
	# 255, as runc: exec itself failed, the process never ran.
	[ "$status" -eq 255 ] || fail "expected exec's own failure"
	[[ "$output" != *$'\n'* ]] || fail "expected one line of error"
	assert_output_contains "exec in container \`$id\`: --apparmor: profile \`$AA_MISSING\` is not loaded"
	lane_status "$id"
	[ "$REPLY" = running ] || fail "$id is $REPLY after the failed exec"

	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}

@test "apparmor: create with a profile the kernel does not have fails with one line and leaves nothing" {
	local id=am-$RAND
	aa_bundle "$id" "$AA_MISSING" '["true"]'
	lane_create "$id"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	[ -n "$output" ] && [[ "$output" != *$'\n'* ]] || fail "expected one line of error"
	assert_output_contains "process.apparmorProfile: profile \`$AA_MISSING\` is not loaded"
	lane_gone "$id"
}

@test "apparmor: exec's profile cannot be dodged by covering /proc in the container (CVE-2019-19921, CVE-2025-52881)" {
	local id=ap-$RAND
	# An unconfined container whose root may mount covers /proc with a tmpfs holding plain attr files.
	lane_run "$id" '["sleep", "1000"]'
	run brig exec --cap CAP_SYS_ADMIN "$id" sh -c 'mount -t tmpfs fake /proc && mkdir -p /proc/self/attr/apparmor &&
		: >/proc/self/attr/exec && : >/proc/self/attr/apparmor/exec && echo covered'
	assert_success
	assert_output_contains covered
	# The label goes to the kernel all the same: the write the profile denies fails.
	run brig exec --apparmor "$AA_A" "$id" sh -c "$PROBE"
	assert_success
	assert_output_contains "can't create /f-a: Permission denied" $'a:1\n' $'b:0'
	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}
