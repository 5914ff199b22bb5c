#!/usr/bin/env bats
# exec: a new process joins every namespace and the cgroup of a running container.

load helpers

start_sleeper() {
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	wait_for_status "$ID" running
}

@test "exec runs in the container's namespaces and cgroup and returns the exit status" {
	start_sleeper
	local pid
	pid=$(container_pid "$ID")
	run brig exec "$ID" sh -c 'for ns in pid mnt net ipc uts; do readlink /proc/self/ns/$ns; done; exit 7'
	assert_status 7
	local ns
	for ns in pid mnt net ipc uts; do
		assert_output_contains "$(readlink /proc/$pid/ns/$ns)"
	done
	run brig exec "$ID" cat /proc/self/cgroup
	assert_success
	assert_output_contains "memory:$CG_PREFIX/$ID"
	# Inside the container's pid namespace the init is pid 1.
	run brig exec "$ID" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
	assert_output_contains "sleep 1000"
}

@test "exec --env --cwd --user and -- separator" {
	start_sleeper
	run brig exec --env FOO=bar --cwd /tmp --user 1000:1001 "$ID" -- sh -c 'echo "$FOO $(pwd) $(id -u):$(id -g)"'
	assert_success
	assert_output_contains "bar /tmp 1000:1001"
}

@test "exec sets HOME from the user's passwd entry in the container when the env has none" {
	start_sleeper
	run brig exec "$ID" sh -c 'echo "home=$HOME"'
	assert_success
	[ "$output" = home=/root ] || fail "root: $output"
	run brig exec --user 1000 "$ID" sh -c 'echo "home=$HOME"'
	[ "$output" = home=/home ] || fail "tester: $output"
	run brig exec --user 4242 "$ID" sh -c 'echo "home=$HOME"'
	[ "$output" = home=/ ] || fail "no passwd entry: $output"
	run brig exec --env HOME=/mine "$ID" sh -c 'echo "home=$HOME"'
	[ "$output" = home=/mine ] || fail "given: $output"
}

@test "--debug makes exec log its steps, to --log in its format, or to stderr" {
	require_brig
	start_sleeper
	run brig --debug --log "$TEST_DIR/log.json" --log-format json exec "$ID" sh -c 'exit 3'
	assert_status 3
	jq -e -s 'all(.[]; .level and .msg and .time)' "$TEST_DIR/log.json" >/dev/null || fail "not JSON records: $(cat "$TEST_DIR/log.json")"
	run jq -r 'select(.level == "debug") | .msg' "$TEST_DIR/log.json"
	assert_output_contains "command: exec $ID sh -c exit 3" "cloned into the namespaces of \`$ID\`" "runs \`sh\`" \
		"exited with status 3"
	run brig --debug exec "$ID" true
	assert_success
	assert_output_contains "debug: exec: process" "debug: exec: exit status 0"
	# Without --debug, none of it.
	run brig exec "$ID" true
	assert_success
	[ -z "$output" ] || fail "unexpected output: $output"
}

@test "exec --process runs a process.json" {
	start_sleeper
	cat >"$TEST_DIR/process.json" <<-EOF
		{"args": ["sh", "-c", "echo from-process-json \$X"], "cwd": "/", "env": ["X=42", "PATH=/bin"],
		 "user": {"uid": 0, "gid": 0}}
	EOF
	run brig exec --process "$TEST_DIR/process.json" "$ID"
	assert_success
	assert_output_contains "from-process-json 42"
}

@test "exec --detach --pid-file" {
	start_sleeper
	# The detached process keeps our stdio: files, not bats' pipe, or `run` would wait for it to exit.
	brig exec --detach --pid-file "$TEST_DIR/exec.pid" "$ID" sleep 100 </dev/null >"$TEST_DIR/exec.out" 2>&1
	local pid
	pid=$(cat "$TEST_DIR/exec.pid")
	[ -d "/proc/$pid" ]
	grep -q "$CG_PREFIX/$ID" "/proc/$pid/cgroup"
}

@test "exec -t gives the process a terminal" {
	start_sleeper
	run script -qec "BRIG_TEST_TOKEN=$TOKEN $BRIG --root $BRIG_ROOT exec -t $ID tty" /dev/null </dev/null
	assert_success
	assert_output_contains "/dev/pts/"
	# As runc: the exec'd user owns its terminal.
	run script -qec "BRIG_TEST_TOKEN=$TOKEN $BRIG --root $BRIG_ROOT exec -t --user 1000:1000 $ID sh -c 'stat -c owner=%u \$(tty)'" /dev/null </dev/null
	assert_success
	assert_output_contains "owner=1000"
}

@test "exec of a missing binary, into a missing or stopped container, without a command: clear errors" {
	start_sleeper
	# As runc: 255 when exec fails before the process runs (no command included: a --process file may give
	# one), 1 for a usage error.
	run brig exec "$ID" no-such-binary
	assert_one_line_error
	assert_output_contains "no-such-binary"
	assert_status 255
	run brig exec no-such-container true
	assert_one_line_error
	assert_output_contains "does not exist"
	assert_status 255
	run brig exec --pid-file "$TEST_DIR/no/such/dir/pid" "$ID" true
	assert_one_line_error
	assert_status 255
	run brig exec "$ID"
	assert_one_line_error
	assert_status 255
	run brig exec
	assert_status 1
	run brig kill "$ID" KILL
	wait_for_status "$ID" stopped
	run brig exec "$ID" true
	assert_one_line_error
	assert_output_contains "stopped"
	run brig delete "$ID"
	assert_nothing_left
}

@test "exec leaks no brig file descriptor into the process" {
	bundle_add_helper fdcheck
	start_sleeper
	run brig exec "$ID" /bin/fdcheck
	assert_success
	local fds
	fds=$(printf '%s\n' "$output" | awk '{print $1}' | sort -n | tr '\n' ' ')
	[ "$fds" = "0 1 2 " ] || fail "unexpected fds: $output"
}

@test "exec into a paused container is refused unless --ignore-paused; --cgroup picks a sub-cgroup" {
	start_sleeper
	run brig pause "$ID"
	assert_success
	run brig exec "$ID" true
	assert_one_line_error
	assert_output_contains "paused"
	assert_status 255
	# With --ignore-paused it joins, and is frozen with the rest until resume.
	brig exec --ignore-paused "$ID" sh -c 'echo joined' </dev/null >"$TEST_DIR/ignore.out" 2>&1 &
	local exec_pid=$!
	sleep 0.5
	run brig resume "$ID"
	assert_success
	wait "$exec_pid"
	grep -q joined "$TEST_DIR/ignore.out" || fail "exec --ignore-paused: $(cat "$TEST_DIR/ignore.out")"
	# A sub-cgroup made by the container's manager (here: by hand in every hierarchy).
	local mnt
	for mnt in $(cgroup_mounts); do
		[ -d "$mnt$CG_PREFIX/$ID" ] || continue
		mkdir -p "$mnt$CG_PREFIX/$ID/sub"
		if [ -e "$mnt$CG_PREFIX/$ID/cpuset.cpus" ]; then
			cat "$mnt$CG_PREFIX/$ID/cpuset.cpus" >"$mnt$CG_PREFIX/$ID/sub/cpuset.cpus"
			cat "$mnt$CG_PREFIX/$ID/cpuset.mems" >"$mnt$CG_PREFIX/$ID/sub/cpuset.mems"
		fi
	done
	run brig exec --cgroup sub "$ID" cat /proc/self/cgroup
	assert_success
	assert_output_contains "$CG_PREFIX/$ID/sub"
	run brig exec --cgroup ../escape "$ID" true
	assert_one_line_error
}
