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

# The fd numbers fdcheck printed (from $output), in order: "0 1 2 ...".
fdcheck_fds() {
	grep -E '^[0-9]+ ' <<<"$output" | cut -d' ' -f1 | sort -n | xargs
}

# Runs a command with none of bats' own fds from 3 up, only those named (the caller's redirections make
# them): only_fds "3 5" CMD... A -0 in the list closes stdin too (here, since bats' `run` would reuse it).
only_fds() {
	local keep=" $1 " fd
	shift
	(
		for fd in $(ls "/proc/$BASHPID/fd"); do
			if [ "$fd" -ge 3 ] && [[ "$keep" != *" $fd "* ]]; then eval "exec $fd>&-"; fi
		done
		if [[ "$keep" == *" -0 "* ]]; then exec 0<&-; fi
		"$@"
	)
}

# Attacks: brig's own fds (state root, state directory, namespaces, cgroup files...) fill whatever numbers
# of a preserved range the caller left free; none may reach the container, and the caller's arrive as is.

@test "run --preserve-fds beyond the caller's open fds passes none of brig's own" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	run only_fds "" brig run --preserve-fds 8 --bundle "$BUNDLE" "$ID" </dev/null
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2" ] || fail "open fds: $(fdcheck_fds)"
	# The issue's escape: a directory fd of the host's is a way out of the rootfs.
	bundle_set_args sh -c 'for fd in 3 4 5 6 7 8 9 10; do touch /proc/self/fd/$fd/../escape-marker; done 2>/dev/null; true'
	run only_fds "" brig run --preserve-fds 8 --bundle "$BUNDLE" "$ID" </dev/null
	assert_success
	[ -z "$(find "$TEST_DIR" -path "$ROOTFS" -prune -o -name escape-marker -print)" ] ||
		fail "the container wrote outside its rootfs: $(find "$TEST_DIR" -name escape-marker)"
}

@test "create --preserve-fds beyond the caller's fds: start and delete --force do not hang on brig's lock" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	remember_id "$ID"
	remember_id "$ID-2"
	# Without the fix the init keeps the locked state directory as "fd 4", and start waits for the lock.
	only_fds "" brig create --preserve-fds 2 --bundle "$BUNDLE" "$ID" </dev/null >"$TEST_DIR/out" 2>&1 ||
		fail "create: $(cat "$TEST_DIR/out")"
	BRIG_TIMEOUT=5 run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	output=$(cat "$TEST_DIR/out")
	[ "$(fdcheck_fds)" = "0 1 2" ] || fail "open fds: $(fdcheck_fds)"
	# A cgroup of its own: the first container's is still its (stopped, not deleted).
	bundle_jq '.linux.cgroupsPath = $cg' --arg cg "$CG_PREFIX/$ID-2"
	only_fds "" brig create --preserve-fds 2 --bundle "$BUNDLE" "$ID-2" </dev/null >"$TEST_DIR/out2" 2>&1 ||
		fail "create: $(cat "$TEST_DIR/out2")"
	BRIG_TIMEOUT=5 run brig delete --force "$ID-2"
	assert_success
	[ ! -e "$BRIG_ROOT/$ID-2" ]
}

@test "exec --preserve-fds beyond the caller's fds passes none of brig's own" {
	bundle_add_helper fdcheck
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	wait_for_status "$ID" running
	# Without the fix: the host's pid namespace, the cgroup's tasks files, the sync socket...
	run only_fds "" brig exec --preserve-fds 12 "$ID" fdcheck </dev/null
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2" ] || fail "open fds: $(fdcheck_fds)"
	echo a >"$TEST_DIR/fd3"
	echo b >"$TEST_DIR/fd5"
	run only_fds "3 5" brig exec --preserve-fds 12 "$ID" fdcheck </dev/null 3<"$TEST_DIR/fd3" 5<"$TEST_DIR/fd5"
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2 3 5" ] || fail "open fds: $(fdcheck_fds)"
	assert_output_contains "3 $TEST_DIR/fd3" "5 $TEST_DIR/fd5"
}

@test "--preserve-fds passes the caller's fds as they are, and the numbers it had closed stay closed" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	echo a >"$TEST_DIR/fd3"
	echo b >"$TEST_DIR/fd4"
	run only_fds "3 4" brig run --preserve-fds 4 --bundle "$BUNDLE" "$ID" </dev/null 3<"$TEST_DIR/fd3" 4>>"$TEST_DIR/fd4"
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2 3 4" ] || fail "open fds: $(fdcheck_fds)"
	assert_output_contains "3 $TEST_DIR/fd3" "4 $TEST_DIR/fd4"
	# A hole in the range: fd 4 is not the caller's, so the container has none.
	run only_fds "3 5" brig run --preserve-fds 3 --bundle "$BUNDLE" "$ID" </dev/null 3<"$TEST_DIR/fd3" 5<"$TEST_DIR/fd4"
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2 3 5" ] || fail "open fds: $(fdcheck_fds)"
	assert_output_contains "3 $TEST_DIR/fd3" "5 $TEST_DIR/fd4"
}

@test "LISTEN_FDS with --preserve-fds: only the caller's fds of the whole range are passed" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	echo a >"$TEST_DIR/fd3"
	echo b >"$TEST_DIR/fd4"
	remember_id "$ID"
	# One socket-activation fd (3) and --preserve-fds 3 (4, 5, 6): the caller has 3 and 4 only.
	run only_fds "3 4" timeout "$BRIG_TIMEOUT" bash -c 'export LISTEN_FDS=1 LISTEN_PID=$$ BRIG_TEST_TOKEN=$0
		exec "$BRIG" --root "$1" run --preserve-fds 3 --bundle "$2" "$3"' \
		"$TOKEN" "$BRIG_ROOT" "$BUNDLE" "$ID" </dev/null 3<"$TEST_DIR/fd3" 4<"$TEST_DIR/fd4"
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2 3 4" ] || fail "open fds: $(fdcheck_fds)"
	assert_output_contains "3 $TEST_DIR/fd3" "4 $TEST_DIR/fd4" LISTEN_FDS=1 LISTEN_PID=1
}

@test "a standard stream the caller closed is /dev/null, for brig and for the container, so no fd of brig's takes it" {
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	run only_fds -0 brig run --bundle "$BUNDLE" "$ID"
	assert_success
	[ "$(fdcheck_fds)" = "0 1 2" ] || fail "open fds: $(fdcheck_fds)"
	assert_output_contains "0 /dev/null"
}

# strace can make a syscall fail: is it here, allowed to trace, and able to?
require_strace_inject() {
	command -v strace >/dev/null || skip "no strace"
	strace -f -qq -o /dev/null -e trace=close_range -e inject=close_range:error=ENOSYS true 2>/dev/null ||
		skip "strace cannot inject syscall errors here"
}

@test "create with close_range failing (ENOSYS, as before Linux 5.9): the init holds no brig fd" {
	require_strace_inject
	bundle_add_helper fdcheck
	bundle_set_args fdcheck
	remember_id "$ID"
	# strace follows the init, so it runs until the container's process exits.
	BRIG_TEST_TOKEN=$TOKEN only_fds "" strace -f -qq -o "$TEST_DIR/strace.log" -e trace=close_range \
		-e inject=close_range:error=ENOSYS "$BRIG" --root "$BRIG_ROOT" create --bundle "$BUNDLE" "$ID" \
		</dev/null >"$TEST_DIR/out" 2>&1 &
	local strace_pid=$! i
	for ((i = 0; i < 200; i++)); do
		[ "$(container_status "$ID")" = created ] && break
		sleep 0.05
	done
	grep -q INJECTED "$TEST_DIR/strace.log" || fail "no close_range failed: $(cat "$TEST_DIR/strace.log")"
	BRIG_TIMEOUT=5 run brig start "$ID"
	assert_success
	timeout 10 tail --pid="$strace_pid" -f /dev/null || fail "the container's process did not exit"
	wait "$strace_pid" || true
	output=$(cat "$TEST_DIR/out")
	[ "$(fdcheck_fds)" = "0 1 2" ] || fail "open fds: $(fdcheck_fds)"
	BRIG_TIMEOUT=5 run brig delete --force "$ID"
	assert_success
}
