#!/usr/bin/env bats
# File descriptors: only 0, 1, 2 reach the container unless --preserve-fds or LISTEN_FDS ask for more.

load helpers

@test "no descriptor of the caller leaks into the container" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	# Open extra descriptors in the caller, with and without close-on-exec unset.
	exec 7<"$BUNDLE/config.json" 8>"$TEST_DIR/extra"
	run brig run --bundle "$BUNDLE" "$ID"
	exec 7<&- 8>&-
	assert_success
	local fds
	fds=$(grep -E '^[0-9]+ ' <<<"$output" | cut -d' ' -f1 | sort -n | xargs)
	[ "$fds" = "0 1 2" ] || fail "open fds: $fds"
	assert_output_not_contains config.json extra
}

@test "a created container's process holds no runtime descriptors after start" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	exec 7<"$BUNDLE/config.json"
	brig_create
	exec 7<&-
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	local fds
	fds=$(container_output | grep -E '^[0-9]+ ' | cut -d' ' -f1 | sort -n | xargs)
	[ "$fds" = "0 1 2" ] || fail "open fds: $fds ($(container_output))"
}

@test "--preserve-fds N passes fds 3..3+N-1 and no more" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	echo a >"$TEST_DIR/fd3"
	echo b >"$TEST_DIR/fd4"
	run brig run --preserve-fds 2 --bundle "$BUNDLE" "$ID" 3<"$TEST_DIR/fd3" 4<"$TEST_DIR/fd4" 5<"$BUNDLE/config.json"
	assert_success
	local fds
	fds=$(grep -E '^[0-9]+ ' <<<"$output" | cut -d' ' -f1 | sort -n | xargs)
	[ "$fds" = "0 1 2 3 4" ] || fail "open fds: $fds"
	assert_output_contains "3 $TEST_DIR/fd3" "4 $TEST_DIR/fd4"
	assert_output_not_contains config.json
}

@test "preserved fds are usable from the container" {
	bundle_set_args sh -c 'cat <&3; echo written >&4'
	echo from-host >"$TEST_DIR/in"
	run brig run --preserve-fds 2 --bundle "$BUNDLE" "$ID" 3<"$TEST_DIR/in" 4>"$TEST_DIR/out"
	assert_success
	assert_output_contains from-host
	[ "$(cat "$TEST_DIR/out")" = written ]
}

@test "--preserve-fds with create passes the fds to the process started later" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	echo a >"$TEST_DIR/fd3"
	remember_id "$ID"
	brig create --preserve-fds 1 --bundle "$BUNDLE" "$ID" \
		</dev/null >"$TEST_DIR/out" 2>&1 3<"$TEST_DIR/fd3"
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	run cat "$TEST_DIR/out"
	local fds
	fds=$(grep -E '^[0-9]+ ' <<<"$output" | cut -d' ' -f1 | sort -n | xargs)
	[ "$fds" = "0 1 2 3" ] || fail "open fds: $fds"
}

@test "LISTEN_FDS: socket-activation fds are passed with LISTEN_FDS and LISTEN_PID=1" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	echo a >"$TEST_DIR/fd3"
	echo b >"$TEST_DIR/fd4"
	remember_id "$ID"
	# LISTEN_PID names the runtime's own pid, as systemd sets it: exec keeps the shell's pid.
	run timeout "$BRIG_TIMEOUT" bash -c 'export LISTEN_FDS=2 LISTEN_PID=$$ BRIG_TEST_TOKEN=$0; exec "$BRIG" --root "$1" run --bundle "$2" "$3"' \
		"$TOKEN" "$BRIG_ROOT" "$BUNDLE" "$ID" 3<"$TEST_DIR/fd3" 4<"$TEST_DIR/fd4"
	assert_success
	local fds
	fds=$(grep -E '^[0-9]+ ' <<<"$output" | cut -d' ' -f1 | sort -n | xargs)
	[ "$fds" = "0 1 2 3 4" ] || fail "open fds: $fds"
	assert_output_contains LISTEN_FDS=2 LISTEN_PID=1
}

@test "a bad --preserve-fds value is refused" {
	run brig run --preserve-fds nope --bundle "$BUNDLE" "$ID"
	assert_failure
	if is_brig; then
		run brig run --preserve-fds -1 --bundle "$BUNDLE" "$ID"
		assert_one_line_error
		assert_output_contains preserve-fds
	fi
	assert_nothing_left
}
