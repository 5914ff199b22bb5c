#!/usr/bin/env bats
# pause/resume: the freezer stops every process of the container and `state` says "paused".

load helpers

start_counter() {
	# Writes an increasing count into the rootfs, where the test reads it from the host. Renamed into place:
	# a freeze between the truncate and the write of `echo >` would leave the file empty.
	bundle_set_args sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.05; done'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	sleep 0.3
}

@test "a paused counter stops and resumes" {
	start_counter
	run brig pause "$ID"
	assert_success
	[ "$(container_status "$ID")" = paused ]
	local a b
	a=$(cat "$ROOTFS/tmp/count")
	sleep 0.5
	b=$(cat "$ROOTFS/tmp/count")
	[ "$a" = "$b" ] || fail "counter moved while paused: $a -> $b"
	run brig resume "$ID"
	assert_success
	[ "$(container_status "$ID")" = running ]
	sleep 0.5
	b=$(cat "$ROOTFS/tmp/count")
	[ "$b" -gt "$a" ] || fail "counter did not move after resume: $a -> $b"
}

@test "list shows paused" {
	start_counter
	run brig pause "$ID"
	assert_success
	run brig list
	assert_output_contains paused
}

@test "pause and resume refuse the wrong states" {
	require_brig
	start_counter
	run brig resume "$ID"
	assert_one_line_error
	assert_output_contains "cannot resume container \`$ID\` that is running, not paused"
	run brig pause "$ID"
	assert_success
	run brig pause "$ID"
	assert_one_line_error
	assert_output_contains "cannot pause container \`$ID\` that is paused"
	run brig delete "$ID"
	assert_one_line_error
	assert_output_contains "paused"
	run brig pause nosuch
	assert_failure
}

@test "delete --force removes a paused container and its cgroup" {
	start_counter
	run brig pause "$ID"
	assert_success
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "kill of a paused container with KILL takes effect" {
	start_counter
	run brig pause "$ID"
	assert_success
	run brig kill --all "$ID" KILL
	assert_success
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}
