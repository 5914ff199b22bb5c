#!/usr/bin/env bats
# process.terminal with --console-socket: the pty master reaches the receiver (tests/helpers/recvtty.c).

load helpers

# start_recvtty [recvtty args...]: receiver in the background on $TEST_DIR/tty.sock, output in tty.out.
start_recvtty() {
	[ -x "$BRIG_HELPERS/recvtty" ] || fail "recvtty not built (BRIG_HELPERS=$BRIG_HELPERS)"
	SOCK=$TEST_DIR/tty.sock
	BRIG_TEST_TOKEN=$TOKEN "$BRIG_HELPERS/recvtty" "$@" "$SOCK" >"$TEST_DIR/tty.out" 2>"$TEST_DIR/tty.err" </dev/null 3>&- &
	RECVTTY_PID=$!
	local i
	for i in $(seq 100); do
		[ -S "$SOCK" ] && return 0
		sleep 0.02
	done
	fail "recvtty did not listen: $(cat "$TEST_DIR/tty.err")"
}

# Waits for the receiver to see the pty close; prints its output without carriage returns.
recvtty_output() {
	local i
	for i in $(seq 200); do
		kill -0 "$RECVTTY_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$RECVTTY_PID" || fail "recvtty failed: $(cat "$TEST_DIR/tty.err")"
	tr -d '\r' <"$TEST_DIR/tty.out"
}

@test "terminal: the pty master is sent to --console-socket and carries the output" {
	bundle_jq '.process.terminal = true'
	bundle_set_args sh -c 'echo "tty=$(tty)"; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; [ -c /dev/console ] && echo console-ok'
	start_recvtty --dump
	brig_create "$ID" --console-socket "$SOCK"
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	run recvtty_output
	assert_output_contains "tty=/dev/pts/" all-ttys console-ok
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "terminal: the pty belongs to process.user, as with runc" {
	bundle_jq '.process.terminal = true | .process.user = {uid: 1000, gid: 1000}'
	bundle_set_args sh -c 'echo "owner=$(stat -c %u:%g "$(tty)")"; echo ok >"$(tty)" && echo writable'
	start_recvtty --dump
	brig_create "$ID" --console-socket "$SOCK"
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	run recvtty_output
	# gid 5 (tty) comes from the devpts mount's gid=5 option.
	assert_output_contains "owner=1000:5" writable
}

@test "terminal: input written to the master reaches the process" {
	bundle_jq '.process.terminal = true'
	bundle_set_args sh -c 'read line; echo "got:$line"'
	start_recvtty --input $'hello-tty\n'
	brig_create "$ID" --console-socket "$SOCK"
	assert_success
	run brig start "$ID"
	wait_for_status "$ID" stopped
	run recvtty_output
	assert_output_contains "got:hello-tty"
}

@test "terminal: consoleSize sets the window size" {
	bundle_jq '.process.terminal = true | .process.consoleSize = {height: 37, width: 111}'
	bundle_set_args stty size
	start_recvtty
	brig_create "$ID" --console-socket "$SOCK"
	assert_success
	run brig start "$ID"
	wait_for_status "$ID" stopped
	run recvtty_output
	assert_output_contains "37 111"
}

@test "terminal with run --detach and --console-socket" {
	bundle_jq '.process.terminal = true'
	bundle_set_args sh -c 'echo detached-tty'
	start_recvtty
	remember_id "$ID"
	brig_detached "$ID" run -d --bundle "$BUNDLE" --console-socket "$SOCK"
	assert_success
	run recvtty_output
	assert_output_contains detached-tty
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	assert_nothing_left
}

@test "terminal without --console-socket on create fails with one line, nothing left" {
	bundle_jq '.process.terminal = true'
	brig_create
	assert_one_line_error
	assert_nothing_left
}

@test "a console socket that nobody listens on fails, nothing left" {
	bundle_jq '.process.terminal = true'
	brig_create "$ID" --console-socket "$TEST_DIR/nobody.sock"
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains "$TEST_DIR/nobody.sock"
	fi
	assert_nothing_left
}

@test "terminal: with the caller's stdio closed no fd of brig's takes its place, and the pty is 0, 1 and 2" {
	bundle_jq '.process.terminal = true'
	bundle_set_args sh -c '[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; ls -l /proc/self/fd/'
	start_recvtty --dump
	remember_id "$ID"
	# Without the fix the console socket lands on fd 0, and closing it after the pty's dup closes stdin.
	(
		exec 0<&- 1>&- 2>&- 3>&-
		BRIG_TEST_TOKEN=$TOKEN timeout 10 "$BRIG" --root "$BRIG_ROOT" create --console-socket "$SOCK" \
			--bundle "$BUNDLE" "$ID"
	) || fail "create with stdio closed failed"
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	run recvtty_output
	assert_output_contains all-ttys
}
