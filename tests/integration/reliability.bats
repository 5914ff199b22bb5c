#!/usr/bin/env bats
# Every command ends (issue 17): a stop signal, a frozen cgroup, a hung hook, an unread console socket or
# an undrained pipe ends a command in bounded time with a clear error, and whatever it made is undone.
#
# The tests about frozen cgroups ("frozen" in their name) also run in the guest lane (tests/guest/lane.sh
# runs this file there), on cgroup v2's cgroup.freeze, but for the one that suites/cgroup_v2_existing.bats
# covers on v2; the others depend on no cgroup version and skip there, where each test with common_setup
# costs ~5-10 s.

if [ -n "${BRIG_GUEST_LANE:-}" ]; then
	load ../guest/helpers
else
	load helpers
fi

setup() {
	if [ -n "${BRIG_GUEST_LANE:-}" ]; then
		case "$BATS_TEST_DESCRIPTION" in
		*"into a frozen cgroup"*) skip "on v2 in tests/guest/suites/cgroup_v2_existing.bats" ;;
		*frozen*) ;;
		*) skip "no cgroup freezer involved: runs on the host (tests/integration/reliability.bats)" ;;
		esac
	fi
	common_setup
}

is_cgroup2() {
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
}

# The directory of the cgroup path CG that holds its freezer: v1's freezer hierarchy, or the unified one.
freezer_dir() {
	if is_cgroup2; then
		echo "/sys/fs/cgroup$1"
	else
		echo "/sys/fs/cgroup/freezer$1"
	fi
}

# state_of ID: the container's status and init pid from `brig state`, in $STATUS_OF and $PID_OF; bash only
# (jq costs ~0.8 s a call in the guest lane).
state_of() {
	local out
	out=$(brig state "$1" 2>/dev/null) || true
	STATUS_OF= PID_OF=
	[[ "$out" =~ \"status\":\ *\"([a-z]+)\" ]] && STATUS_OF=${BASH_REMATCH[1]}
	[[ "$out" =~ \"pid\":\ *([0-9]+) ]] && PID_OF=${BASH_REMATCH[1]}
	return 0
}

# await_status ID STATUS SECONDS
await_status() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		state_of "$1"
		[ "$STATUS_OF" = "$2" ] && return 0
		sleep 0.1
	done
	fail "$1 is \`$STATUS_OF\`, not $2, after $3 s"
}

# cg_freeze CG 1|0: freezes or thaws the cgroup path CG, as someone other than brig would.
cg_freeze() {
	if is_cgroup2; then
		echo "$2" >"/sys/fs/cgroup$1/cgroup.freeze"
	elif [ "$2" = 1 ]; then
		echo FROZEN >"/sys/fs/cgroup/freezer$1/freezer.state"
	else
		echo THAWED >"/sys/fs/cgroup/freezer$1/freezer.state"
	fi
}

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

# stop_brig_when FILE SIG BRIG_ARGS...: runs brig in the background and sends it SIG once FILE exists (at most
# 20 s): a fixed delay would race brig's own start-up on a loaded machine. Sets $status, $elapsed (from the
# signal) and $output like stop_brig.
stop_brig_when() {
	local file=$1 sig=$2 pid i t0
	shift 2
	status=0
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" "$@" </dev/null >"$TEST_DIR/stop.out" 2>"$TEST_DIR/stop.err" 3>&- &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$file" ] && break
		sleep 0.1
	done
	t0=$SECONDS
	kill -s "$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" || status=$?
	elapsed=$((SECONDS - t0))
	output=$(cat "$TEST_DIR/stop.err")
	echo "# $*: status $status ${elapsed}s after SIG$sig: $output" >&3 2>/dev/null || true
}

# hung_hook PHASE: a hook that never exits; one of the runtime's namespace (createRuntime, prestart) first
# touches $TEST_DIR/hook-started.
hung_hook() {
	bundle_jq ".hooks.$1 = [{path: \"/bin/sh\", args: [\"sh\", \"-c\", \"touch $TEST_DIR/hook-started; exec sleep 1000\"]}]"
}

@test "SIGTERM to a create waiting for a hook that never exits (no timeout) undoes the create" {
	require_brig
	bundle_set_args sleep 1000
	hung_hook createRuntime
	remember_id "$ID"
	stop_brig_when "$TEST_DIR/hook-started" TERM create --bundle "$BUNDLE" "$ID"
	[ "$status" -eq 1 ] || fail "expected brig's own failure, not $status"
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	assert_output_contains "hook createRuntime[0] \`/bin/sh\`: killed: interrupted by SIGTERM"
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
	stop_brig_when "$TEST_DIR/hook-started" INT run -d --bundle "$BUNDLE" "$ID"
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
	local dir
	dir=$(freezer_dir "$CG_PREFIX/$ID")
	mkdir -p "$dir"
	cg_freeze "$CG_PREFIX/$ID" 1
	bundle_set_args sleep 1000
	remember_id "$ID"
	stop_brig TERM 5 run -d --bundle "$BUNDLE" "$ID"
	assert_failure
	[ "$status" -ne 124 ] || fail "ran into the timeout"
	assert_output_contains "is frozen"
	cg_freeze "$CG_PREFIX/$ID" 0
	rmdir "$dir"
	assert_nothing_left
}

@test "delete --force of a running container whose cgroup was frozen afterwards ends and leaves nothing" {
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	remember_id "$ID"
	assert_success
	cg_freeze "$CG_PREFIX/$ID" 1
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
	cg_freeze "$CG_PREFIX/$ID" 1
	stop_brig TERM 15 exec --ignore-paused "$ID" true
	[ "$status" -ne 124 ] || fail "hung"
	assert_failure
	assert_output_contains "frozen before the exec process started"
	cg_freeze "$CG_PREFIX/$ID" 0
	# A stop is forwarded to the exec'd process, which ends, and exec with it.
	stop_brig TERM 2 exec "$ID" sleep 1000
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	state_of "$ID"
	[ -n "$PID_OF" ] || fail "no pid in the state of $ID"
	pgrep -P "$PID_OF" >/dev/null && fail "the exec'd process is left"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "start of a created container frozen before start is refused at once (as runc: paused); once thawed it starts" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	cg_freeze "$CG_PREFIX/$ID" 1
	# Before: start opened the fifo and waited for ever for a byte the frozen init could not write.
	stop_brig TERM 10 start "$ID"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	[ "$elapsed" -le 3 ] || fail "took ${elapsed}s"
	assert_output_contains "container \`$ID\` is paused, not created: cannot start it"
	cg_freeze "$CG_PREFIX/$ID" 0
	run brig start "$ID"
	assert_success
	state_of "$ID"
	[ "$STATUS_OF" = running ] || fail "$ID is $STATUS_OF, not running"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "start and run -d whose container is frozen mid-start (by a startContainer hook) fail in bounded time; delete --force cleans up" {
	local freeze
	# The hook runs in the container, after the init let start in: it freezes its own cgroup (and itself)
	# through the host's cgroup tree, bound into the container.
	if is_cgroup2; then
		freeze="echo 1 >/hostcg$CG_PREFIX/$ID/cgroup.freeze"
	else
		freeze="echo FROZEN >/hostcg/freezer$CG_PREFIX/$ID/freezer.state"
	fi
	bundle_set_args sleep 1000
	bundle_jq '.mounts += [{destination: "/hostcg", type: "bind", source: "/sys/fs/cgroup", options: ["rbind", "rw"]}]
		| .hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", $freeze]}]' --arg freeze "$freeze"
	brig_create
	assert_success
	stop_brig TERM 15 start "$ID"
	[ "$status" -ne 124 ] || fail "hung"
	[ "$status" -eq 1 ] || fail "expected a failure"
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	assert_output_contains "start container \`$ID\`: frozen before the process was started: cgroup \`$CG_PREFIX/$ID\`: is frozen"
	# It never runs, not even once thawed: start killed it, and the state says why it stopped.
	cg_freeze "$CG_PREFIX/$ID" 0
	await_status "$ID" stopped 5
	run brig start "$ID"
	[ "$status" -eq 1 ] || fail "expected a refusal"
	assert_output_contains "container \`$ID\` is stopped: its start failed: frozen before the process was started"
	stop_brig TERM 10 delete --force "$ID"
	assert_success
	assert_nothing_left

	stop_brig TERM 15 run -d --bundle "$BUNDLE" "$ID"
	[ "$status" -ne 124 ] || fail "hung"
	[ "$status" -eq 1 ] || fail "expected a failure"
	[ "$elapsed" -le 5 ] || fail "took ${elapsed}s"
	assert_output_contains "frozen before the process was started"
	assert_nothing_left
}

@test "run -d whose stdout is a pipe nobody drains returns (the container blocks, not brig); state, exec and delete --force end" {
	local keep t0
	# 4 MiB into a 64 KiB pipe: the container blocks in its write until someone reads or kills it.
	bundle_set_args sh -c 'dd if=/dev/zero bs=64k count=64 2>/dev/null; touch /wrote-all; exec sleep 1000'
	mkfifo "$TEST_DIR/pipe"
	# Both ends held here: the pipe stays open (no EPIPE) and nobody reads it.
	exec {keep}<>"$TEST_DIR/pipe"
	remember_id "$ID"
	t0=$SECONDS
	status=0
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 10 "$BRIG" --root "$BRIG_ROOT" run -d --bundle "$BUNDLE" "$ID" \
		</dev/null >&"$keep" 2>"$TEST_DIR/run.err" 3>&- || status=$?
	output=$(cat "$TEST_DIR/run.err")
	[ "$status" -ne 124 ] || fail "run -d hung on the container's full stdout"
	assert_success
	[ $((SECONDS - t0)) -le 5 ] || fail "took $((SECONDS - t0))s"
	sleep 0.5
	[ ! -e "$ROOTFS/wrote-all" ] || fail "the container's writes did not block: is the pipe drained?"
	state_of "$ID"
	[ "$STATUS_OF" = running ] || fail "$ID is $STATUS_OF, not running"
	run brig exec "$ID" true
	assert_success
	stop_brig TERM 10 delete --force "$ID"
	exec {keep}>&-
	assert_success
	assert_nothing_left
}

@test "SIGTERM to start or run -d waiting for a startContainer hook that never exits ends it; the process never runs" {
	require_brig
	bundle_set_args sh -c 'touch /ran; exec sleep 1000'
	bundle_jq '.hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "touch /hook-started; exec sleep 1000"]}]'
	brig_create
	assert_success
	# Before: start died of the SIGTERM, and the init went on to the exec once the hook ended.
	stop_brig_when "$ROOTFS/hook-started" TERM start "$ID"
	[ "$elapsed" -le 4 ] || fail "took ${elapsed}s"
	assert_output_contains "start container \`$ID\`: waiting for the process to start: interrupted by SIGTERM"
	await_status "$ID" stopped 5
	[ ! -e "$ROOTFS/ran" ] || fail "the process ran"
	run brig delete "$ID"
	assert_success
	assert_nothing_left

	# Before: run -d died of it too, and left the container created.
	rm -f "$ROOTFS/hook-started"
	stop_brig_when "$ROOTFS/hook-started" TERM run -d --bundle "$BUNDLE" "$ID"
	[ "$elapsed" -le 4 ] || fail "took ${elapsed}s"
	assert_output_contains "interrupted by SIGTERM"
	[ ! -e "$ROOTFS/ran" ] || fail "the process ran"
	assert_nothing_left
}
