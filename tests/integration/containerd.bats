#!/usr/bin/env bats
# containerd 1.6 (Debian's) drives brig through its runc shim (containerd-shim-runc-v2) and `ctr`.
#
# One containerd per file, started from a config whose root, state and sockets live in a temporary
# directory (the CRI plugin off), stopped by pid at the end. The image is built here from the busybox
# rootfs (umoci, skopeo, `ctr image import`): nothing is pulled. Each container gets an absolute cgroup
# under the test's prefix (`ctr run --cgroup`), the test token in its environment, and its fifos in
# $TEST_DIR. The shim runs brig with containerd's environment, which carries the sanitizer options.

load helpers
load ../clients/clients

CTR_TIMEOUT=30

setup_file() {
	command -v containerd >/dev/null && command -v ctr >/dev/null && command -v umoci >/dev/null &&
		command -v skopeo >/dev/null || return 0
	build_rootfs_cache
	CD_DIR=$(make_test_dir brig-containerd)
	export CD_DIR CD_SOCK=$CD_DIR/containerd.sock
	cat >"$CD_DIR/config.toml" <<-EOF
		version = 2
		root = "$CD_DIR/root"
		state = "$CD_DIR/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CD_SOCK"
		[ttrpc]
		  address = "$CD_SOCK.ttrpc"
		[debug]
		  level = "info"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$CD_DIR/opt"
	EOF
	containerd --config "$CD_DIR/config.toml" </dev/null >"$CD_DIR/containerd.log" 2>&1 3>&- &
	echo $! >"$CD_DIR/containerd.pid"
	if ! wait_for_socket "$CD_SOCK" 15; then
		echo "containerd did not start: $(tail -5 "$CD_DIR/containerd.log")" >&2
		return 1
	fi

	# An OCI image of the busybox rootfs, named as ctr needs it (registry/name:tag).
	local img=$CD_DIR/image
	mkdir -p "$img"
	(
		set -e
		cd "$img"
		umoci init --layout oci
		umoci new --image oci:bb
		umoci insert --image oci:bb "$ROOTFS_CACHE" /
		umoci config --image oci:bb --config.cmd sh --config.env PATH=/bin:/sbin:/usr/bin:/usr/sbin
		skopeo copy -q oci:oci:bb oci-archive:bb.tar:localhost/bb:latest
		timeout 60 ctr -a "$CD_SOCK" -n brig image import bb.tar
	) >"$CD_DIR/image.log" 2>&1 || {
		echo "building the image failed: $(cat "$CD_DIR/image.log")" >&2
		return 1
	}
}

teardown_file() {
	[ -n "${CD_DIR:-}" ] && [ -d "$CD_DIR" ] || return 0
	local pid i
	pid=$(cat "$CD_DIR/containerd.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	# Shims (their -address names our socket) and any runtime process under our directory.
	kill_pids_with_arg "$CD_SOCK"
	kill_pids_with_arg "$CD_DIR"
	umount_under "$CD_DIR"
	remove_test_dir "$CD_DIR"
}

setup() {
	require_commands containerd ctr containerd-shim-runc-v2 umoci skopeo
	[ -S "${CD_SOCK:-}" ] || fail "containerd is not running (setup_file failed)"
	common_setup
	BRIG_STATE=$CD_DIR/brig-root
}

teardown() {
	local id
	for id in $(cat "$TEST_DIR/ids" 2>/dev/null); do
		ctr_ task kill -s KILL "$id" >/dev/null 2>&1 || true
		ctr_ task delete --force "$id" >/dev/null 2>&1 || true
		ctr_ container rm "$id" >/dev/null 2>&1 || true
	done
	common_teardown
}

ctr_() {
	timeout -k 5 "$CTR_TIMEOUT" ctr -a "$CD_SOCK" -n brig "$@"
}

# ctr run with brig as the runtime: ctr_run ID [ctr run flags...] -- COMMAND...
ctr_run() {
	local id=$1 flags=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		flags+=("$1")
		shift
	done
	shift
	remember_id "$id"
	ctr_ run --runc-binary "$BRIG" --runc-root "$BRIG_STATE" --cgroup "$CG_PREFIX/$id" \
		--fifo-dir "$TEST_DIR/fifo" --env "BRIG_TEST_TOKEN=$TOKEN" "${flags[@]}" localhost/bb:latest "$id" "$@"
}

task_status() {
	ctr_ task ls | awk -v id="$1" '$1 == id { print $3 }'
}

# Nothing of the test's containers is left: no task or container in containerd, no shim, no state in
# brig's root, no cgroup and no process of the test.
assert_containerd_clean() {
	local i
	[ -z "$(ctr_ task ls -q)" ] || fail "tasks left: $(ctr_ task ls)"
	[ -z "$(ctr_ container ls -q)" ] || fail "containers left: $(ctr_ container ls)"
	for i in $(seq 40); do
		[ -z "$(pids_with_arg "$CD_SOCK")" ] && break
		sleep 0.05
	done
	[ -z "$(pids_with_arg "$CD_SOCK")" ] || fail "shims left: $(pids_with_arg "$CD_SOCK")"
	[ -z "$(ls -A "$BRIG_STATE/brig" 2>/dev/null)" ] || fail "brig state left: $(ls -A "$BRIG_STATE/brig")"
	assert_nothing_left
}

@test "containerd: ctr run --rm prints the output and returns the exit status" {
	run ctr_run "$ID" --rm -- sh -c 'echo hello from brig; exit 3'
	assert_status 3
	assert_output_contains "hello from brig"
	assert_containerd_clean
}

@test "containerd: the container runs in the cgroup ctr asked for, which is removed afterwards" {
	run ctr_run "$ID" --rm -- sh -c 'cat /proc/self/cgroup'
	assert_success
	assert_output_contains "memory:$CG_PREFIX/$ID" "pids:$CG_PREFIX/$ID"
	local dirs
	dirs=$(cgroup_dirs_of "$CG_PREFIX")
	[ -z "$dirs" ] || [ -z "$(find $dirs -mindepth 1 -type d)" ] || fail "cgroups left below $CG_PREFIX"
	assert_containerd_clean
}

@test "containerd: run -d, then task ls, exec, pause/resume, metrics, kill and delete" {
	run ctr_run "$ID" -d -- sleep 1000
	assert_success
	[ "$(task_status "$ID")" = RUNNING ] || fail "task is not RUNNING: $(ctr_ task ls)"
	local pid
	pid=$(ctr_ task ls | awk -v id="$ID" '$1 == id { print $2 }')
	[ "$(memory_cgroup_of "$pid")" = "$CG_PREFIX/$ID" ] || fail "init $pid is not in $CG_PREFIX/$ID"

	run ctr_ task exec --exec-id e1 --fifo-dir "$TEST_DIR/fifo" "$ID" sh -c 'echo exec says hi; ps; exit 4' </dev/null
	assert_status 4
	assert_output_contains "exec says hi" "sleep 1000"

	run ctr_ task pause "$ID"
	assert_success
	[ "$(task_status "$ID")" = PAUSED ] || fail "task is not PAUSED: $(ctr_ task ls)"
	grep -qx FROZEN "/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state" || fail "freezer cgroup is not FROZEN"
	run ctr_ task resume "$ID"
	assert_success
	[ "$(task_status "$ID")" = RUNNING ] || fail "task is not RUNNING after resume: $(ctr_ task ls)"

	run ctr_ task metrics "$ID"
	assert_success
	assert_output_contains memory.usage_in_bytes pids.current

	run ctr_ task kill -s KILL "$ID"
	assert_success
	for _ in $(seq 100); do
		[ "$(task_status "$ID")" = STOPPED ] && break
		sleep 0.05
	done
	[ "$(task_status "$ID")" = STOPPED ] || fail "task did not stop: $(ctr_ task ls)"
	# A second kill: the shim recognises brig's "container not running" as "already finished".
	run ctr_ task kill -s KILL "$ID"
	assert_failure
	assert_output_contains "process already finished"

	run ctr_ task delete "$ID"
	assert_success
	run ctr_ container rm "$ID"
	assert_success
	assert_containerd_clean
}

@test "containerd: ctr run -t gets a terminal through brig's console socket" {
	local cmd
	# --foreground keeps ctr/podman in the terminal's foreground process group: in a background one,
	# setting the terminal raw stops them with SIGTTOU (seen when script runs the command with sh, i.e. SHELL unset).
	cmd=$(printf '%q ' timeout --foreground -k 5 "$CTR_TIMEOUT" ctr -a "$CD_SOCK" -n brig run --rm -t --runc-binary "$BRIG" \
		--runc-root "$BRIG_STATE" --cgroup "$CG_PREFIX/$ID" --fifo-dir "$TEST_DIR/fifo" \
		--env "BRIG_TEST_TOKEN=$TOKEN" localhost/bb:latest "$ID" sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 5')
	remember_id "$ID"
	# script gives ctr the terminal it needs for -t.
	run timeout -k 5 40 script -qec "$cmd" /dev/null </dev/null
	assert_status 5
	assert_output_contains /dev/pts/ stdin-is-tty
	assert_containerd_clean
}

@test "containerd: a container whose start fails shows brig's error in ctr's output" {
	run ctr_run "$ID" --rm -- /no/such/command
	assert_failure
	# The shim reads the last "level":"error" line of brig's --log (JSON) and puts it in its error.
	assert_output_contains "OCI runtime create failed" "exec \`/no/such/command\`"
	ctr_ container rm "$ID" >/dev/null 2>&1 || true
	assert_containerd_clean
}

@test "containerd: exec of a command that does not exist fails with brig's error; the task keeps running" {
	run ctr_run "$ID" -d -- sleep 1000
	assert_success
	run ctr_ task exec --exec-id bad --fifo-dir "$TEST_DIR/fifo" "$ID" /no/such/exec </dev/null
	assert_failure
	assert_output_contains "/no/such/exec"
	[ "$(task_status "$ID")" = RUNNING ] || fail "task is not RUNNING: $(ctr_ task ls)"
	run ctr_ task kill -s KILL "$ID"
	assert_success
	run ctr_ task delete "$ID"
	for _ in $(seq 40); do
		[ "$status" -eq 0 ] && break
		sleep 0.05
		run ctr_ task delete "$ID"
	done
	assert_success
	run ctr_ container rm "$ID"
	assert_success
	assert_containerd_clean
}
