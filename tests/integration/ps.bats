#!/usr/bin/env bats
# ps: the container's processes as a JSON array of pids or as ps(1) lines.

load helpers

start_two() {
	bundle_set_args sh -c 'sleep 1000 & exec sleep 1001'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	sleep 0.3
}

@test "ps --format json lists every pid of the container" {
	start_two
	run brig ps --format json "$ID"
	assert_success
	local pid
	pid=$(container_pid "$ID")
	[ "$(echo "$output" | jq length)" = 2 ] || fail "expected 2 pids"
	echo "$output" | jq -e --argjson p "$pid" 'index($p) != null' >/dev/null
}

@test "ps prints the ps header and only the container's processes" {
	start_two
	run brig ps "$ID"
	assert_success
	[[ "${lines[0]}" == *PID* ]] || fail "no header"
	[ "${#lines[@]}" -eq 3 ] || fail "expected header + 2 lines"
	assert_output_contains "sleep 1000" "sleep 1001"
	run brig ps "$ID" -- -o pid,comm
	assert_success
	[[ "${lines[0]}" == *PID*COMMAND* ]] || fail "ps args not passed"
	[ "${#lines[@]}" -eq 3 ]
}

@test "ps of a missing container fails; of a stopped one prints an empty table, as runc does" {
	require_brig
	run brig ps nosuch
	assert_one_line_error
	bundle_set_args true
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" stopped
	run brig ps "$ID"
	assert_success
	[ "${#lines[@]}" -eq 1 ] && [[ "${lines[0]}" == *PID* ]] || fail "expected the header alone"
	run brig ps --format json "$ID"
	assert_success
	[ "$output" = "[]" ] || fail "expected an empty json list"
}
