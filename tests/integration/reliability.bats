#!/usr/bin/env bats
# Every command ends (issue 17): a stop signal, a frozen cgroup, a hung hook or an unread console socket
# ends a command in bounded time with a clear error, and whatever it made is undone.

load helpers

# stop_brig SIGNAL SECONDS CMD [ARGS...]: the runtime under `timeout -s SIGNAL`; sets $status, $output and
# $elapsed (whole seconds).
stop_brig() {
	local sig=$1 secs=$2 t0=$SECONDS
	shift 2
	status=0
	BRIG_TEST_TOKEN=$TOKEN timeout -k 10 -s "$sig" "$secs" "$BRIG" --root "$BRIG_ROOT" "$@" \
		</dev/null >"$TEST_DIR/stop.out" 2>"$TEST_DIR/stop.err" 3>&- || status=$?
	elapsed=$((SECONDS - t0))
	output=$(cat "$TEST_DIR/stop.err")
	echo "# $*: status $status after ${elapsed}s: $output" >&3 2>/dev/null || true
}

hung_hook() {
	bundle_jq ".hooks.$1 = [{path: \"/bin/sleep\", args: [\"sleep\", \"1000\"]}]"
}

@test "SIGTERM to a create waiting for a hook that never exits (no timeout) undoes the create" {
	require_brig
	bundle_set_args sleep 1000
	hung_hook createRuntime
	remember_id "$ID"
	stop_brig TERM 2 create --bundle "$BUNDLE" "$ID"
	[ "$status" -eq 124 ] || fail "expected timeout's status"
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	assert_output_contains "hook createRuntime[0] \`/bin/sleep\`: killed: interrupted by SIGTERM"
	assert_nothing_left
	# The same id works again.
	bundle_jq 'del(.hooks)'
	brig_create
	assert_success
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "SIGINT to run -d waiting for a prestart hook undoes the run" {
	require_brig
	bundle_set_args sleep 1000
	hung_hook prestart
	remember_id "$ID"
	stop_brig INT 2 run -d --bundle "$BUNDLE" "$ID"
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	assert_output_contains "interrupted by SIGINT"
	assert_nothing_left
}

@test "a hook that never exits, with a timeout, fails the create in bounded time" {
	bundle_set_args sleep 1000
	bundle_jq '.hooks.createRuntime = [{path: "/bin/sleep", args: ["sleep", "1000"], timeout: 1}]'
	remember_id "$ID"
	stop_brig TERM 20 create --bundle "$BUNDLE" "$ID"
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	assert_failure
	[ "$status" -ne 124 ] || fail "ended by timeout, not by the hook's own"
	assert_output_contains "timed out after 1 s"
	assert_nothing_left
}

@test "timeout -s TERM 5 run -d into a frozen cgroup ends at once and leaves nothing" {
	require_brig
	mkdir -p "/sys/fs/cgroup/freezer$CG_PREFIX/$ID"
	echo FROZEN >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state"
	bundle_set_args sleep 1000
	remember_id "$ID"
	stop_brig TERM 5 run -d --bundle "$BUNDLE" "$ID"
	assert_failure
	[ "$status" -ne 124 ] || fail "ran into the timeout"
	assert_output_contains "is frozen"
	echo THAWED >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state"
	rmdir "/sys/fs/cgroup/freezer$CG_PREFIX/$ID"
	assert_nothing_left
}

@test "delete --force of a running container whose cgroup was frozen afterwards ends and leaves nothing" {
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	remember_id "$ID"
	assert_success
	echo FROZEN >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state"
	stop_brig TERM 10 delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "a console socket that nobody accepts on does not hang create" {
	bundle_set_args sleep 1000
	bundle_jq '.process.terminal = true'
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0); time.sleep(30)' "$TEST_DIR/cs" 3>&- &
	local listener=$!
	for _ in $(seq 50); do [ -S "$TEST_DIR/cs" ] && break; sleep 0.1; done
	remember_id "$ID"
	stop_brig TERM 10 create --console-socket "$TEST_DIR/cs" --bundle "$BUNDLE" "$ID"
	kill "$listener"
	[ "$status" -ne 124 ] || fail "hung"
	run brig delete --force "$ID"
	assert_nothing_left
}

@test "exec --ignore-paused into a frozen container ends with a clear error; SIGTERM to exec ends it" {
	require_brig
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	remember_id "$ID"
	assert_success
	echo FROZEN >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state"
	stop_brig TERM 15 exec --ignore-paused "$ID" true
	[ "$status" -ne 124 ] || fail "hung"
	assert_failure
	assert_output_contains "frozen before the exec process started"
	echo THAWED >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state"
	# A stop is forwarded to the exec'd process, which ends, and exec with it.
	stop_brig TERM 2 exec "$ID" sleep 1000
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	pgrep -P "$(container_pid "$ID")" >/dev/null && fail "the exec'd process is left"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}
