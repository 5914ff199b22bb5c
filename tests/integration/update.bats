#!/usr/bin/env bats
# `update`: runc's flags and --resources (file or stdin) change a running container's cgroup.

load helpers

is_v2() {
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
}

cg_read() {
	if is_v2; then
		cat "/sys/fs/cgroup$CG_PREFIX/$ID/$2"
	else
		cat "/sys/fs/cgroup/$1$CG_PREFIX/$ID/$2"
	fi
}

start_sleeper() {
	bundle_set_args sleep 1000
	bundle_jq '.linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 20}, "cpu": {"quota": 20000, "period": 100000}}'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
}

@test "update takes its flags after the container id too, as runc does" {
	start_sleeper
	run brig update "$ID" --cpuset-cpus 0 --cpu-period 150000 --pids-limit 25
	assert_success
	[ "$(cg_read pids pids.max)" = 25 ]
	if is_v2; then
		[ "$(cg_read cpuset cpuset.cpus)" = 0 ]
		[ "$(cg_read cpu cpu.max)" = "20000 150000" ]
	else
		[ "$(cg_read cpuset cpuset.cpus)" = 0 ]
		[ "$(cg_read cpu cpu.cfs_period_us)" = 150000 ]
	fi
	# The same for the other commands that take one id: options before or after it.
	run brig kill "$ID" KILL --all
	assert_success
	wait_for_status "$ID" stopped
	run brig delete "$ID" --force
	assert_success
	[ ! -e "$BRIG_ROOT/$ID" ]
}

@test "update flags change memory, pids and cpu of a running container" {
	start_sleeper
	run brig update --memory 128m --memory-swap 256m --pids-limit 30 --cpu-quota 50000 --cpu-period 200000 --cpu-share 256 "$ID"
	assert_success
	[ "$(cg_read pids pids.max)" = 30 ]
	if is_v2; then
		[ "$(cg_read memory memory.max)" = 134217728 ]
		[ "$(cg_read memory memory.swap.max)" = 134217728 ]
		[ "$(cg_read cpu cpu.max)" = "50000 200000" ]
		[ "$(cg_read cpu cpu.weight)" = 10 ]
	else
		[ "$(cg_read memory memory.limit_in_bytes)" = 134217728 ]
		[ "$(cg_read memory memory.memsw.limit_in_bytes)" = 268435456 ]
		[ "$(cg_read cpu cpu.cfs_quota_us)" = 50000 ]
		[ "$(cg_read cpu cpu.cfs_period_us)" = 200000 ]
		[ "$(cg_read cpu cpu.shares)" = 256 ]
	fi
	# Shrinking again works in either order of memory and memsw.
	run brig update --memory 32m --memory-swap 32m "$ID"
	assert_success
	is_v2 || [ "$(cg_read memory memory.memsw.limit_in_bytes)" = 33554432 ]
}

@test "update --memory -1 lifts the limit" {
	start_sleeper
	run brig update --memory -1 "$ID"
	assert_success
	if is_v2; then
		[ "$(cg_read memory memory.max)" = max ]
	else
		[ "$(cg_read memory memory.limit_in_bytes)" -gt 1000000000000 ]
	fi
}

@test "update --resources reads linux.resources JSON from a file and from stdin" {
	start_sleeper
	echo '{"pids": {"limit": 44}, "memory": {"limit": 100000000}}' >"$TEST_DIR/r.json"
	run brig update --resources "$TEST_DIR/r.json" "$ID"
	assert_success
	[ "$(cg_read pids pids.max)" = 44 ]
	run sh -c "echo '{\"pids\": {\"limit\": 55}}' | BRIG_TEST_TOKEN=$TOKEN $BRIG --root $BRIG_ROOT update -r - $ID"
	assert_success
	[ "$(cg_read pids pids.max)" = 55 ]
	# Flags win over the file.
	run brig update -r "$TEST_DIR/r.json" --pids-limit 66 "$ID"
	assert_success
	[ "$(cg_read pids pids.max)" = 66 ]
}

@test "update enforces: a lower pids limit stops new processes" {
	# Each round forks a subshell with two children: it fails once the limit leaves no room for them.
	bundle_set_args sh -c 'while true; do sleep 0.1; (sleep 0.05 & sleep 0.05 & wait) 2>/dev/null && echo ok || echo fail; done >/tmp/log'
	bundle_jq '.linux.resources = {"pids": {"limit": 10}}'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	sleep 0.6
	[ "$(tail -n 1 "$ROOTFS/tmp/log")" = ok ] || fail "log: $(cat "$ROOTFS/tmp/log")"
	run brig update --pids-limit 2 "$ID"
	assert_success
	sleep 0.6
	[ "$(tail -n 1 "$ROOTFS/tmp/log")" = fail ] || fail "log: $(tail -n 3 "$ROOTFS/tmp/log")"
	run brig update --pids-limit 10 "$ID"
	assert_success
	sleep 0.6
	[ "$(tail -n 1 "$ROOTFS/tmp/log")" = ok ] || fail "log: $(tail -n 3 "$ROOTFS/tmp/log")"
}

@test "update errors: bad JSON, bad flag values, stopped container, refused values" {
	require_brig
	start_sleeper
	echo '{"memory": {"limit": "lots"}}' >"$TEST_DIR/bad.json"
	run brig update -r "$TEST_DIR/bad.json" "$ID"
	assert_one_line_error
	assert_output_contains "bad.json: memory.limit: expected an integer"
	run brig update --memory 12x "$ID"
	assert_one_line_error
	assert_output_contains '--memory: `12x` is not a size'
	run brig update --cpu-quota 10 "$ID"
	assert_one_line_error
	assert_output_contains "update container \`$ID\`: linux.resources.cpu.quota: write \`10\` to" "Invalid argument"
	run brig update -r "$TEST_DIR/nosuch.json" "$ID"
	assert_one_line_error
	assert_output_contains "nosuch.json"
	run brig kill "$ID" KILL
	sleep 0.3
	run brig update --pids-limit 5 "$ID"
	assert_one_line_error
	assert_output_contains "container \`$ID\` is stopped"
}

@test "update of a missing container fails" {
	run brig update --pids-limit 5 nosuch
	assert_one_line_error
	assert_output_contains nosuch
}
