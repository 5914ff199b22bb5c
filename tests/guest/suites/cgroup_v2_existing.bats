#!/usr/bin/env bats
# A container cgroup that exists before create, on cgroup v2 (issue 16 item 4, issue 10 items 17 and
# 18): a frozen one (cgroup.freeze, or a frozen parent) fails create at once and leaves no state, and so
# does one frozen while the container is being created; another container's is refused, whether that
# container is in this --root or not; one that holds host processes is joined with a warning, and
# neither a failed create nor the delete kills those processes or removes the cgroup.
#
# Lean (lane_* helpers in ../helpers.bash): one rootfs and config template for the file.

load ../helpers

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
}

teardown_file() {
	lane_teardown_file
}

setup() {
	require_guest_lane
}

teardown() {
	lane_teardown
}

# lane_cgroup ID CGROUP: the config of ID (from lane_bundle) gets cgroupsPath CGROUP instead of its own.
lane_cgroup() {
	local file=$TEST_DIR/$1.json text
	IFS= read -r -d '' text <"$file" || true
	printf '%s' "${text//"\"$CG_PREFIX/$1\""/"\"$2\""}" >"$file"
}

@test "v2: create and run -d into a frozen cgroup, or below one, or one frozen during create, fail at once and leave no state" {
	local id=fz-$RAND dir=$CGROUP2_ROOT$CG_PREFIX/fz-$RAND text
	mkdir -p "$dir"
	echo 1 >"$dir/cgroup.freeze"
	lane_bundle "$id" '["sleep", "1000"]'
	# Before: create blocked until killed, and left a state behind.
	BRIG_TIMEOUT=5 lane_create "$id"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	assert_output_contains "cgroup \`$CG_PREFIX/$id\`: is frozen (\`$dir/cgroup.freeze\` is 1)"
	BRIG_TIMEOUT=5 brig_detached "$id" run --bundle "$TEST_DIR" -f "$id.json" -d
	[ "$status" -eq 1 ] || fail "expected a refusal"
	assert_output_contains "is frozen"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state left"
	cg_check "$dir" cgroup.freeze=1

	# A new cgroup below a frozen one is frozen from birth; the failed create removes it.
	lane_cgroup "$id" "$CG_PREFIX/fz-$RAND/child"
	BRIG_TIMEOUT=5 lane_create "$id"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	assert_output_contains "cgroup \`$CG_PREFIX/fz-$RAND/child\`: is frozen (by a parent"
	[ ! -e "$dir/child" ] || fail "the failed create left $dir/child"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state left"
	echo 0 >"$dir/cgroup.freeze"
	rmdir "$dir"

	# Frozen by a createRuntime hook, after create's own check: the wait for the init notices.
	lane_bundle "$id" '["sleep", "1000"]'
	IFS= read -r -d '' text <"$TEST_DIR/$id.json" || true
	printf '{"hooks": {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo 1 >%s/cgroup.freeze"]}]}, %s' \
		"$dir" "${text#\{}" >"$TEST_DIR/$id.json"
	BRIG_TIMEOUT=8 lane_create "$id"
	[ "$status" -eq 1 ] || fail "expected a failure"
	assert_output_contains "frozen before the init was ready: cgroup \`$CG_PREFIX/$id\`: is frozen"
	lane_gone "$id"
}

@test "v2: a running container's cgroup is refused to a second one (this --root or another); host processes are joined with a warning and outlive a failed create and the delete" {
	local a=sa-$RAND b=sb-$RAND h=sh-$RAND other=$TEST_DIR/other-root hdir=$CGROUP2_ROOT$CG_PREFIX/sh-$RAND host
	lane_run "$a" '["sleep", "1000"]'
	lane_pid "$a"
	local init=$REPLY
	lane_bundle "$b" '["sleep", "1000"]'
	lane_cgroup "$b" "$CG_PREFIX/$a"
	# Before: this create failed only at --pidfd-socket, and killed the first container on its way out.
	lane_create "$b" --pidfd-socket "$TEST_DIR/no-such-socket"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	assert_output_contains "cgroup \`$CG_PREFIX/$a\`: in use by container \`$a\` (running)"
	mkdir -p "$other"
	BRIG_ROOT=$other brig_detached "$b" create --bundle "$TEST_DIR" -f "$b.json"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	assert_output_contains "cgroup \`$CG_PREFIX/$a\`: holds 1 process(es) of another container"
	[ -z "$(ls -A "$other")" ] || fail "state left in the other root"
	[ ! -e "$BRIG_ROOT/$b" ] || fail "state of $b left"
	lane_status "$a"
	[ "$REPLY" = running ] || fail "$a is $REPLY"
	cg_check "$CGROUP2_ROOT$CG_PREFIX/$a" "cgroup.procs=$init"
	run brig delete --force "$a"
	assert_success
	lane_gone "$a"

	mkdir -p "$hdir"
	BRIG_TEST_TOKEN=$TOKEN sleep 1000 3>&- &
	host=$!
	disown "$host"
	echo "$host" >"$hdir/cgroup.procs"
	lane_bundle "$h" '["sleep", "1000"]'
	lane_create "$h" --pidfd-socket "$TEST_DIR/no-such-socket"
	[ "$status" -eq 1 ] || fail "expected the --pidfd-socket failure"
	assert_output_contains "warning: container's cgroup is not empty: 1 process(es) in \`$CG_PREFIX/$h\`"
	kill -0 "$host" || fail "the failed create killed the host process"
	cg_check "$hdir" "cgroup.procs=$host"
	lane_create "$h"
	assert_success
	assert_output_contains "container's cgroup is not empty"
	run brig start "$h"
	assert_success
	run brig delete --force "$h"
	assert_success
	kill -0 "$host" || fail "delete killed the host process"
	cg_check "$hdir" "cgroup.procs=$host"
	[ ! -e "$BRIG_ROOT/$h" ] || fail "state of $h left"
	kill -9 "$host"
}
