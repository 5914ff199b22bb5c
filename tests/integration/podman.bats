#!/usr/bin/env bats
# Podman 4.3 (Debian's) drives brig as its OCI runtime, through conmon.
#
# One storage per file, in a temporary directory (--root, --runroot and the containers.conf named by
# CONTAINERS_CONF: its tmp, static, volume, events and network directories too). The image is imported
# from the busybox rootfs: nothing is pulled. The runtime is `brig`, a wrapper in the temporary directory
# that restores the sanitizer options Podman strips from conmon's environment (clients.bash), listed in
# runtime_supports_json so that Podman passes --log-format=json and shows brig's error lines. The wrapper
# also keeps brig's state under the temporary directory (--root). Containers' cgroups, and conmon's
# (<parent>/conmon), live under the test's cgroup prefix (--cgroup-parent). Networking tests run Podman in a
# network (and mount) namespace the test creates, so netavark's bridge, iptables rules and sysctls stay there.
#
# Rootful Podman needs these ulimits here: its default of 1048576 open files exceeds the hard limit.

load helpers
load ../clients/clients
bats_require_minimum_version 1.5.0

PODMAN_TIMEOUT=60

setup_file() {
	command -v podman >/dev/null && command -v conmon >/dev/null || return 0
	build_rootfs_cache
	PM_DIR=$(make_test_dir brig-podman)
	chmod 755 "$PM_DIR"
	export PM_DIR CONTAINERS_CONF=$PM_DIR/containers.conf
	make_sanitizer_wrapper "$PM_DIR/bin" "$BRIG" "$PM_DIR/brig-state"
	write_containers_conf "$PM_DIR" "$PM_DIR/bin/brig" >"$CONTAINERS_CONF"
	tar -C "$ROOTFS_CACHE" --exclude ./.complete -c . | pm import -q - localhost/bb:latest >"$PM_DIR/import.log" 2>&1 || {
		echo "podman import failed: $(cat "$PM_DIR/import.log")" >&2
		return 1
	}
}

teardown_file() {
	[ -n "${PM_DIR:-}" ] && [ -d "$PM_DIR" ] || return 0
	pm rm -a -f -t 0 >/dev/null 2>&1 || true
	# conmon, `podman container cleanup` and brig name files under PM_DIR on their command lines.
	kill_pids_with_arg "$PM_DIR"
	umount_under "$PM_DIR"
	remove_test_dir "$PM_DIR"
}

# write_containers_conf DIR RUNTIME_PATH: a containers.conf keeping everything Podman writes under DIR.
write_containers_conf() {
	local dir=$1 runtime=$2
	cat <<-EOF
		[network]
		network_backend = "netavark"
		network_config_dir = "$dir/networks"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$dir/events.log"
		runtime = "brig"
		runtime_supports_json = ["brig"]
		static_dir = "$dir/root/libpod"
		tmp_dir = "$dir/tmp"
		volume_path = "$dir/root/volumes"
		[engine.runtimes]
		brig = ["$runtime"]
	EOF
}

setup() {
	require_commands podman conmon
	[ -n "${PM_DIR:-}" ] && [ -f "$CONTAINERS_CONF" ] || fail "podman setup_file failed"
	common_setup
	RUN_FLAGS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --cgroup-parent "$CG_PREFIX"
		--env "BRIG_TEST_TOKEN=$TOKEN")
}

teardown() {
	pm rm -a -f -t 0 >/dev/null 2>&1 || true
	if [ -n "${RL_USER:-}" ]; then
		local pids
		pids=$(pgrep -u "$RL_USER" || true)
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
		umount_under "$TEST_DIR"
		remove_test_user "$RL_USER"
	fi
	common_teardown
}

# Rootful podman with brig, storage under PM_DIR.
pm() {
	timeout -k 5 "$PODMAN_TIMEOUT" podman --root "$PM_DIR/root" --runroot "$PM_DIR/runroot" --runtime brig "$@"
}

# Nothing of the test is left: no container in podman or in brig's state, no container cgroup below the
# prefix (conmon's own <prefix>/conmon may stay until teardown, but empty), no process of the test.
assert_podman_clean() {
	local i left
	[ -z "$(pm ps -aq)" ] || fail "podman containers left: $(pm ps -a)"
	for i in $(seq 40); do
		left=$(ls "$PM_DIR/brig-state" 2>/dev/null)
		[ -z "$left" ] && break
		sleep 0.05
	done
	[ -z "$left" ] || fail "brig state left: $left"
	for i in $(seq 40); do
		left=$(for d in $(cgroup_dirs_of "$CG_PREFIX"); do
			find "$d" -mindepth 1 -type d -name 'libpod-*'
			cat "$d/conmon/cgroup.procs" 2>/dev/null || true
		done)
		[ -z "$left" ] && break
		sleep 0.05
	done
	[ -z "$left" ] || fail "container cgroups or conmon processes left: $left"
	[ -z "$(token_pids)" ] || fail "processes left: $(token_pids)"
}

@test "podman: run --rm prints the output and returns the exit status" {
	run pm run --rm "${RUN_FLAGS[@]}" --network none localhost/bb:latest sh -c 'echo hello from brig; exit 3'
	assert_status 3
	assert_output_contains "hello from brig"
	assert_podman_clean
}

@test "podman: a container whose start fails shows brig's error" {
	run -127 pm run --rm "${RUN_FLAGS[@]}" --network none localhost/bb:latest /no/such/command
	assert_output_contains "exec \`/no/such/command\`"
	assert_podman_clean
}

@test "podman: run -d, exec, stop and rm" {
	# sh as pid 1 ignores SIGTERM unless it traps it: stop then ends it at once, with status 0.
	run pm run -d --name "$ID" "${RUN_FLAGS[@]}" --network none localhost/bb:latest \
		sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
	assert_success
	local pid
	pid=$(pm inspect --format '{{.State.Pid}}' "$ID")
	[[ "$(memory_cgroup_of "$pid")" == "$CG_PREFIX/libpod-"* ]] || fail "init $pid is not below $CG_PREFIX"

	run pm exec "$ID" sh -c 'echo exec says hi; exit 4'
	assert_status 4
	assert_output_contains "exec says hi"
	run pm exec --user 1000 --workdir /tmp "$ID" sh -c 'id -u; pwd'
	assert_success
	assert_output_contains 1000 /tmp

	run pm stop -t 10 "$ID"
	assert_success
	[ "$(pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$ID")" = "exited 0" ] ||
		fail "after stop: $(pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$ID")"
	run pm rm "$ID"
	assert_success
	assert_podman_clean
}

@test "podman: run -t and exec -t get a terminal" {
	local cmd
	# --foreground keeps ctr/podman in the terminal's foreground process group: in a background one,
	# setting the terminal raw stops them with SIGTTOU (seen when script runs the command with sh, i.e. SHELL unset).
	cmd=$(printf '%q ' timeout --foreground -k 5 "$PODMAN_TIMEOUT" podman --root "$PM_DIR/root" --runroot "$PM_DIR/runroot" \
		--runtime brig run --rm -t "${RUN_FLAGS[@]}" --network none \
		localhost/bb:latest sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 5')
	run timeout -k 5 70 script -qec "$cmd" /dev/null </dev/null
	assert_status 5
	assert_output_contains /dev/pts/ stdin-is-tty

	run pm run -d --name "$ID" "${RUN_FLAGS[@]}" --network none localhost/bb:latest sleep 1000
	assert_success
	cmd=$(printf '%q ' timeout --foreground -k 5 "$PODMAN_TIMEOUT" podman --root "$PM_DIR/root" --runroot "$PM_DIR/runroot" \
		--runtime brig exec -t "$ID" sh -c 'tty; exit 6')
	run timeout -k 5 70 script -qec "$cmd" /dev/null </dev/null
	assert_status 6
	assert_output_contains /dev/pts/
	pm rm -f -t 0 "$ID" >/dev/null
	assert_podman_clean
}

@test "podman: pause freezes the container's cgroup, unpause thaws it" {
	run pm run -d --name "$ID" "${RUN_FLAGS[@]}" --network none localhost/bb:latest sleep 1000
	assert_success
	local pid cg
	pid=$(pm inspect --format '{{.State.Pid}}' "$ID")
	cg=$(memory_cgroup_of "$pid")
	run pm pause "$ID"
	assert_success
	[ "$(pm inspect --format '{{.State.Status}}' "$ID")" = paused ] || fail "not paused"
	grep -qx FROZEN "/sys/fs/cgroup/freezer$cg/freezer.state" || fail "freezer of $cg is not FROZEN"
	run pm unpause "$ID"
	assert_success
	[ "$(pm inspect --format '{{.State.Status}}' "$ID")" = running ] || fail "not running after unpause"
	grep -qx THAWED "/sys/fs/cgroup/freezer$cg/freezer.state" || fail "freezer of $cg is not THAWED"
	run pm rm -f -t 0 "$ID"
	assert_success
	assert_podman_clean
}

@test "podman: --memory 64m sets the container's memory cgroup limit" {
	run pm run -d --name "$ID" --memory 64m "${RUN_FLAGS[@]}" --network none localhost/bb:latest sleep 1000
	assert_success
	local pid cg
	pid=$(pm inspect --format '{{.State.Pid}}' "$ID")
	cg=$(memory_cgroup_of "$pid")
	[[ "$cg" == "$CG_PREFIX/libpod-"* ]] || fail "init $pid is in $cg"
	[ "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" = 67108864 ] ||
		fail "memory.limit_in_bytes: $(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")"
	# The container sees its own limit too.
	run pm exec "$ID" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
	assert_success
	assert_output_contains 67108864
	run pm rm -f -t 0 "$ID"
	assert_success
	assert_podman_clean
}

@test "podman: -p publishes a port through netavark (in a network namespace of the test)" {
	command -v netavark >/dev/null || [ -x /usr/lib/podman/netavark ] || fail "netavark is not installed (scripts/setup.sh)"
	command -v curl >/dev/null || fail "curl is not installed (scripts/setup.sh)"
	mkdir -p "$TEST_DIR/www"
	echo "hello through netavark" >"$TEST_DIR/www/index.html"
	# The whole exchange in a network and mount namespace made for it: netavark's podman0 bridge, its
	# iptables chains, ip_forward and the container's netns mount all stay there.
	cat >"$TEST_DIR/publish.sh" <<-EOF
		set -e
		ip link set lo up
		$(declare -f pm)
		PODMAN_TIMEOUT=$PODMAN_TIMEOUT PM_DIR=$PM_DIR
		pm run -d --name $ID $(printf '%q ' "${RUN_FLAGS[@]}") -p 18080:80 -v $TEST_DIR/www:/www:ro \
			localhost/bb:latest httpd -f -p 80 -h /www >/dev/null
		got=
		for i in \$(seq 50); do
			got=\$(curl -sS --max-time 2 http://127.0.0.1:18080/index.html 2>/dev/null) && break
			sleep 0.1
		done
		echo "via-localhost: \$got"
		echo "via-bridge: \$(curl -sS --max-time 2 http://10.88.0.1:18080/index.html)"
		echo "container-addr: \$(pm exec $ID ip -4 -o addr show eth0)"
		echo "bridge: \$(ip -br link show podman0)"
		pm rm -f -t 0 $ID >/dev/null
	EOF
	run timeout -k 5 90 unshare --net --mount --propagation private bash "$TEST_DIR/publish.sh"
	assert_success
	assert_output_contains "via-localhost: hello through netavark" "via-bridge: hello through netavark" \
		"container-addr: " "inet 10.88." "bridge: podman0"
	assert_podman_clean
}

@test "podman: rootless, as a user the test creates (no cgroups on this v1 host)" {
	RL_USER=brigpm${RAND:0:6}
	make_test_user "$RL_USER"
	local rl=$TEST_DIR/rootless
	mkdir -p "$rl/xdg" "$rl/home"
	cp "$BRIG" "$rl/brig-real"
	make_sanitizer_wrapper "$rl/bin" "$rl/brig-real"
	write_containers_conf "$rl" "$rl/bin/brig" >"$rl/containers.conf"
	chown -R "$RL_USER" "$rl"
	chmod 700 "$rl/xdg"
	cat >"$rl/podman" <<-EOF
		#!/bin/sh
		export HOME=$rl/home XDG_RUNTIME_DIR=$rl/xdg CONTAINERS_CONF=$rl/containers.conf
		cd $rl
		exec timeout -k 5 $PODMAN_TIMEOUT podman --root $rl/root --runroot $rl/runroot --cgroup-manager cgroupfs "\$@"
	EOF
	chmod 755 "$rl/podman"
	as_user() { su "$RL_USER" -c "$(printf '%q ' "$rl/podman" "$@")"; }

	tar -C "$ROOTFS_CACHE" --exclude ./.complete -c . | as_user import -q - localhost/bb:latest
	run as_user run --rm --network none --env "BRIG_TEST_TOKEN=$TOKEN" localhost/bb:latest \
		sh -c 'id -u; cat /proc/self/uid_map; exit 3'
	assert_status 3
	local uid
	uid=$(id -u "$RL_USER")
	printf '%s\n' "$output" | grep -qx 0 || fail "id -u inside is not 0"
	printf '%s\n' "$output" | grep -Eq "^ +0 +$uid +1$" || fail "uid_map does not map 0 to $uid"

	run as_user run -d --name rl1 --network none --env "BRIG_TEST_TOKEN=$TOKEN" localhost/bb:latest sleep 1000
	assert_success
	# brig saw it was root in Podman's user namespace: rootless, its state under $XDG_RUNTIME_DIR/brig.
	[ -n "$(ls "$rl/xdg/brig")" ] || fail "no brig state under $rl/xdg/brig"
	run as_user exec rl1 sh -c 'echo exec as rootless; exit 4'
	assert_status 4
	assert_output_contains "exec as rootless"
	run as_user rm -f -t 0 rl1
	assert_success
	[ -z "$(ls "$rl/xdg/brig")" ] || fail "brig state left: $(ls "$rl/xdg/brig")"
	[ -z "$(token_pids)" ] || fail "processes left: $(token_pids)"
}
