#!/usr/bin/env bats
# create/start/state/kill/delete/run/list: state transitions, exit codes and their flags.

load helpers

@test "create, start, kill and delete walk created -> running -> stopped -> gone" {
	bundle_set_args sleep 1000
	brig_create
	assert_success

	run brig state "$ID"
	assert_success
	[ "$(jq -r .status <<<"$output")" = created ]
	local pid
	pid=$(jq -r .pid <<<"$output")
	[ "$pid" -gt 0 ]
	[ -d "/proc/$pid" ]

	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	[ "$(container_pid "$ID")" = "$pid" ]

	run brig kill "$ID" KILL
	assert_success
	wait_for_status "$ID" stopped

	run brig delete "$ID"
	assert_success
	run brig state "$ID"
	assert_failure
	assert_nothing_left
}

@test "state prints the runtime-spec and runc fields" {
	brig_create
	assert_success
	run brig state "$ID"
	assert_success
	jq -e --arg id "$ID" --arg b "$BUNDLE" '
		(.ociVersion | type == "string") and .id == $id and .status == "created" and (.pid | type == "number")
		and .bundle == $b and (.rootfs | type == "string") and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))
		and has("owner")' <<<"$output"
	[ "$(jq -r .rootfs <<<"$output")" = "$ROOTFS" ]
}

@test "a created container runs nothing of the user's until start" {
	bundle_set_args sh -c 'echo started'
	brig_create
	assert_success
	sleep 0.2
	[ -z "$(container_output)" ]
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" stopped
	[ "$(container_output)" = started ]
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "delete of a created container that never started leaves nothing" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	local pid
	pid=$(container_pid "$ID")
	run brig delete "$ID"
	assert_success
	for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
	[ ! -d "/proc/$pid" ]
	assert_nothing_left
}

@test "run passes the container's stdout and stderr through and exits 0" {
	run_in_container sh -c 'echo out; echo err >&2'
	assert_success
	assert_output_contains out err
	assert_nothing_left
}

@test "run exits with the container's exit status" {
	run_in_container sh -c 'exit 3'
	assert_status 3
	run_in_container false
	assert_status 1
	assert_nothing_left
}

@test "run exits 128+9 when the container is killed with SIGKILL" {
	bundle_set_args sleep 1000
	remember_id "$ID"
	brig run --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1 3>&- &
	local runner=$!
	wait_for_status "$ID" running
	run brig kill "$ID" 9
	assert_success
	local rc=0
	wait "$runner" || rc=$?
	[ "$rc" -eq 137 ] || fail "run exited $rc, expected 137"
	assert_nothing_left
}

@test "run exits 128+15 when a non-init process is killed with SIGTERM (no pid namespace)" {
	bundle_drop_ns pid
	bundle_set_args sleep 1000
	remember_id "$ID"
	brig run --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1 3>&- &
	local runner=$!
	wait_for_status "$ID" running
	run brig kill "$ID" TERM
	assert_success
	local rc=0
	wait "$runner" || rc=$?
	[ "$rc" -eq 143 ] || fail "run exited $rc, expected 143"
	assert_nothing_left
}

@test "run --detach returns while the container runs" {
	bundle_set_args sleep 1000
	remember_id "$ID"
	brig_detached "$ID" run --detach --bundle "$BUNDLE"
	assert_success
	[ "$(container_status "$ID")" = running ]
	run brig kill "$ID" KILL
	assert_success
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "run -d is --detach" {
	bundle_set_args sleep 1000
	remember_id "$ID"
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	[ "$(container_status "$ID")" = running ]
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "run deletes the container when it exits; run --keep keeps it stopped" {
	run_in_container true
	assert_success
	run brig state "$ID"
	assert_failure

	bundle_set_args sh -c 'exit 4'
	run brig run --keep --bundle "$BUNDLE" "$ID"
	assert_status 4
	[ "$(container_status "$ID")" = stopped ]
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "delete refuses a running container; delete --force kills and removes it" {
	bundle_set_args sleep 1000
	brig_create
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running

	run brig delete "$ID"
	assert_failure
	[ "$(container_status "$ID")" = running ]

	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "delete -f is --force and works on a created container" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	run brig delete -f "$ID"
	assert_success
	assert_nothing_left
}

@test "delete --force of an unknown id succeeds quietly" {
	run brig delete --force "nosuch-$RAND"
	assert_success
}

@test "kill accepts signal names with and without SIG, and numbers" {
	bundle_drop_ns pid # so a plain sleep dies of SIGTERM/SIGINT
	local sig n=0
	for sig in TERM SIGINT 15 KILL SIGKILL 9; do
		n=$((n + 1))
		local id=$ID-$n dir
		dir=$(make_bundle "$id")
		CONFIG_BUNDLE=$dir bundle_jq '.process.args = ["sleep", "1000"] | .linux.namespaces |= map(select(.type != "pid"))'
		brig_detached "$id" run -d --bundle "$dir"
		assert_success
		run brig kill "$id" "$sig"
		assert_success
		wait_for_status "$id" stopped
		run brig delete "$id"
		assert_success
	done
	assert_nothing_left
}

@test "kill defaults to SIGTERM" {
	bundle_drop_ns pid
	bundle_set_args sleep 1000
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	run brig kill "$ID"
	assert_success
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	assert_nothing_left
}

@test "kill with a bad signal fails and leaves the container running" {
	bundle_set_args sleep 1000
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	local sig
	for sig in NOSUCH SIGFOO 0x9 -1 99999; do
		run brig kill "$ID" "$sig"
		assert_failure
	done
	[ "$(container_status "$ID")" = running ]
}

@test "kill refuses a malformed RTMIN+N/RTMAX-N or number; 0 and in-range realtime signals are sent" {
	bundle_set_args sleep 1000
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	local sig bad=(RTMIN+-5 SIGRTMIN+-1 RTMAX--3 RTMIN+ RTMAX- RTMIN+31 RTMAX-31 RTMIN-1 RTMAX+1 RTMIN+0x1 RTMIN+1x
		9x 65 99999999999999999999) good=(0)
	# runc 1.1 reads numbers with Go's Atoi (which takes a sign) and knows no realtime names.
	if is_brig; then
		bad+=(+9 -0 -9)
		good+=(RTMIN+0 SIGRTMAX-0 rtmin+3 RTMAX-2)
	fi
	for sig in "${bad[@]}"; do
		run brig kill "$ID" "$sig"
		assert_failure
		if is_brig; then
			assert_one_line_error
			assert_output_contains "$sig"
		fi
	done
	[ "$(container_status "$ID")" = running ]
	# Signal 0 only checks that the process exists. A pid namespace's init ignores the realtime signals
	# it has no handler for, so the container keeps running through all of them.
	for sig in "${good[@]}"; do
		run brig kill "$ID" "$sig"
		assert_success
	done
	[ "$(container_status "$ID")" = running ]
}

@test "state during a delete shows the container or its absence, never \"being created\"" {
	bundle_set_args sleep 1000
	local log=$TEST_DIR/state-race.log i k
	: >"$log"
	for ((i = 0; i < 30; i++)); do
		brig_create
		assert_success
		# More entries in the state directory make a removal file by file take long enough to be seen.
		for ((k = 0; k < 300; k++)); do : >"$BRIG_ROOT/$ID/pad-$k"; done
		for k in 1 2; do
			(
				for ((n = 0; n < 200; n++)); do
					brig state "$ID" >/dev/null 2>>"$log" || break
				done
			) &
		done
		run brig delete "$ID"
		assert_success
		wait
	done
	! grep -F "being created" "$log" || fail "state saw a half-removed container: $(grep -cF 'being created' "$log") times"
	grep -qF "does not exist" "$log" || fail "state never ran into the delete"
	assert_nothing_left
}

@test "what a delete that died midway left is hidden from list and state, and the next delete removes it" {
	require_brig
	bundle_set_args sleep 1000
	brig_create
	assert_success
	# A delete renames the state directory to .removing-<inode> before emptying it; a crash leaves that.
	mkdir "$BRIG_ROOT/.removing-1"
	: >"$BRIG_ROOT/.removing-1/exec.fifo"
	cp "$BRIG_ROOT/$ID/state.json" "$BRIG_ROOT/.removing-1/state.json"
	run brig list -q
	assert_success
	[ "$output" = "$ID" ] || fail "list shows more than $ID"
	run brig state .removing-1
	assert_failure
	run brig delete "$ID"
	assert_success
	[ -z "$(ls -A "$BRIG_ROOT" | grep -v '^\.cache$')" ] || fail "left in the root: $(ls -A "$BRIG_ROOT")"
	assert_nothing_left
}

@test "kill --all signals every process of the container" {
	bundle_set_args sh -c 'sleep 1000 & sleep 1000 & wait'
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	sleep 0.2
	run brig kill --all "$ID" KILL
	assert_success
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "start of a running or stopped container fails" {
	bundle_set_args sleep 1000
	brig_create
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	run brig start "$ID"
	assert_failure
	run brig kill "$ID" KILL
	wait_for_status "$ID" stopped
	run brig start "$ID"
	assert_failure
	[ "$(container_status "$ID")" = stopped ]
}

@test "--pid-file holds the container's pid" {
	bundle_set_args sleep 1000
	brig_create "$ID" --pid-file "$TEST_DIR/pidfile"
	assert_success
	[ -s "$TEST_DIR/pidfile" ]
	[ "$(cat "$TEST_DIR/pidfile")" = "$(container_pid "$ID")" ]

	local id2=$ID-2 dir
	dir=$(make_bundle "$id2")
	CONFIG_BUNDLE=$dir bundle_jq '.process.args = ["sleep", "1000"]'
	brig_detached "$id2" run -d --bundle "$dir" --pid-file "$TEST_DIR/pidfile2"
	assert_success
	[ "$(cat "$TEST_DIR/pidfile2")" = "$(container_pid "$id2")" ]
}

@test "--pid-file relative to the working directory" {
	bundle_set_args sleep 1000
	cd "$TEST_DIR"
	brig_create "$ID" --pid-file rel.pid
	assert_success
	[ "$(cat "$TEST_DIR/rel.pid")" = "$(container_pid "$ID")" ]
}

@test "create -b is --bundle; the default bundle is the working directory" {
	bundle_set_args sleep 1000
	remember_id "$ID"
	brig_detached "$ID" create -b "$BUNDLE"
	assert_success
	run brig delete --force "$ID"

	cd "$BUNDLE"
	brig_detached "$ID" create
	assert_success
	run brig state "$ID"
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
}

@test "list shows containers as a table, as JSON and as ids" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	local id2=$ID-2 dir
	dir=$(make_bundle "$id2")
	CONFIG_BUNDLE=$dir bundle_jq '.process.args = ["sleep", "1000"]'
	brig_detached "$id2" create --bundle "$dir"
	assert_success
	run brig start "$id2"
	wait_for_status "$id2" running

	run brig list
	assert_success
	[[ "$(head -1 <<<"$output")" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER ]] || fail "bad header"
	assert_output_contains "$ID" "$id2" created running "$BUNDLE"

	run brig list --format json
	assert_success
	jq -e --arg a "$ID" --arg b "$id2" '
		length == 2 and (map(select(.id == $a))[0].status == "created")
		and (map(select(.id == $b))[0].status == "running")
		and (map(select(.id == $b))[0].pid > 0)' <<<"$output"

	run brig list -q
	assert_success
	[ "$(sort <<<"$output")" = "$(printf '%s\n' "$ID" "$id2" | sort)" ]
}

@test "list of an empty or missing root" {
	run brig list -q
	assert_success
	[ -z "$output" ]
	run brig list --format json
	assert_success
	[ "$(jq length <<<"${output:-[]}")" -eq 0 ] 2>/dev/null || [ "$output" = null ]
	run brig_noroot --root "$TEST_DIR/never-created" list
	assert_success
}

@test "commands on an unknown id fail with one line naming it" {
	local cmd
	for cmd in state start delete kill; do
		run brig "$cmd" "nosuch-$RAND"
		assert_one_line_error
		if is_brig; then
			assert_output_contains "nosuch-$RAND"
		fi
	done
}

@test "a duplicate id is refused and the first container is untouched" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	local pid
	pid=$(container_pid "$ID")
	brig_create
	assert_one_line_error
	[ "$(container_status "$ID")" = created ]
	[ "$(container_pid "$ID")" = "$pid" ]
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
}

@test "ids with a slash or dot-dot are refused and nothing is created outside the root" {
	local bad
	for bad in "a/b" ".." "../$RAND-escape" "." "/abs" ""; do
		brig_detached "$bad" create --bundle "$BUNDLE"
		assert_failure
	done
	[ ! -e "$TEST_DIR/$RAND-escape" ]
	[ ! -e "$BRIG_ROOT/a" ]
	assert_nothing_left
}

@test "create with a bundle that has no config.json fails and leaves nothing" {
	rm "$BUNDLE/config.json"
	brig_create
	assert_one_line_error
	assert_output_contains config.json
	assert_nothing_left
}
