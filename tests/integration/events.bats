#!/usr/bin/env bats
# events: stats JSON shaped like runc's `events --stats`, a stream at --interval, and OOM events.

load helpers

start_sleeper() {
	bundle_set_args sh -c "${1:-sleep 1000}"
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
}

@test "events --stats prints one stats object" {
	bundle_jq '.linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 30}}'
	start_sleeper
	run brig events --stats "$ID"
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	echo "$output" | jq -e --arg id "$ID" '.type == "stats" and .id == $id' >/dev/null
	echo "$output" | jq -e '.data.pids.current == 1 and .data.pids.limit == 30' >/dev/null
	echo "$output" | jq -e '.data.memory.usage.limit == 67108864 and .data.memory.usage.usage > 0' >/dev/null
	echo "$output" | jq -e '.data.cpu.usage.total > 0 and (.data.cpu.throttling | type) == "object"' >/dev/null
	echo "$output" | jq -e '(.data.blkio | type) == "object" and (.data.hugetlb | type) == "object"' >/dev/null
	echo "$output" | jq -e '(.data.memory.raw | type) == "object"' >/dev/null
}

@test "events --interval streams stats until the container stops" {
	start_sleeper "sleep 2"
	run timeout 10 "$BRIG" --root "$BRIG_ROOT" events --interval 500ms "$ID"
	assert_success
	local n
	n=$(echo "$output" | jq -c 'select(.type == "stats")' | wc -l)
	[ "$n" -ge 2 ] || fail "$n stats lines"
}

@test "events reports an OOM kill" {
	bundle_jq '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	start_sleeper 'sleep 1; tail /dev/zero; sleep 1000'
	timeout 20 "$BRIG" --root "$BRIG_ROOT" events --interval 60s "$ID" >"$TEST_DIR/events" 2>&1 &
	local i
	for i in $(seq 100); do
		grep -q '"type":"oom"' "$TEST_DIR/events" && break
		sleep 0.1
	done
	run brig delete --force "$ID"
	wait
	grep -qx "{\"type\":\"oom\",\"id\":\"$ID\"}" "$TEST_DIR/events" || fail "no oom event: $(cat "$TEST_DIR/events")"
}

@test "events errors: bad interval, missing container" {
	require_brig
	run brig events --interval soon x
	assert_one_line_error
	assert_output_contains "--interval"
	run brig events --stats nosuch
	assert_one_line_error
}
