#!/usr/bin/env bats
# Rootless: an unprivileged user (made by the test) runs containers in a user namespace, with its state under
# $XDG_RUNTIME_DIR/brig and without cgroups where the host does not delegate them (delegated cgroup v2:
# tests/guest/suites/rootless.bats).

load helpers

setup() {
	common_setup
	RL_USER=brigrl${RAND:0:6}
	make_test_user "$RL_USER"
	RL_XDG=$TEST_DIR/xdg
	mkdir -p "$RL_XDG" "$TEST_DIR/rl"
	chown "$RL_USER" "$RL_XDG" "$TEST_DIR/rl"
	chmod 700 "$RL_XDG"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	# The rootless user's bundle: its own config, the shared busybox rootfs (readable by everyone).
	su "$RL_USER" -c "cd $TEST_DIR/rl && $TEST_DIR/brig-rl spec --rootless"
	jq --arg r "$ROOTFS" --arg tok "BRIG_TEST_TOKEN=$TOKEN" '.root.path = $r | .process.terminal = false
		| .process.env += [$tok]' "$TEST_DIR/rl/config.json" >"$TEST_DIR/rl.json"
	cp "$TEST_DIR/rl.json" "$TEST_DIR/rl/config.json"
}

teardown() {
	# The user's containers first, then the user.
	su "$RL_USER" -c "XDG_RUNTIME_DIR=$RL_XDG $TEST_DIR/brig-rl delete --force rl1" >/dev/null 2>&1 || true
	remove_test_user "$RL_USER"
	common_teardown
}

as_user() {
	run su "$RL_USER" -c "cd $TEST_DIR/rl && XDG_RUNTIME_DIR=$RL_XDG BRIG_TEST_TOKEN=$TOKEN $TEST_DIR/brig-rl $*"
}

@test "spec --rootless runs as an unprivileged user: root inside is the user outside" {
	jq '.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map"]' "$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
	as_user --debug run rl1
	assert_success
	local uid
	uid=$(id -u "$RL_USER")
	printf '%s\n' "$output" | grep -qx 0 || fail "id -u inside is not 0: $output"
	printf '%s\n' "$output" | grep -Eq "^ +0 +$uid +1$" || fail "uid_map does not map 0 to $uid: $output"
	# Said which cgroups were skipped (this host does not delegate v1 cgroups to users).
	assert_output_contains "cgroup controller skipped"
	[ -z "$(ls -A "$RL_XDG/brig" 2>/dev/null)" ]
}

@test "rootless state lives under \$XDG_RUNTIME_DIR/brig and the lifecycle works" {
	jq '.process.args = ["sleep", "100"]' "$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
	as_user create rl1 '</dev/null' '>/dev/null' '2>&1'
	assert_success
	[ -f "$RL_XDG/brig/rl1/state.json" ]
	as_user state rl1
	assert_success
	[ "$(jq -r .status <<<"$output")" = created ]
	as_user start rl1
	assert_success
	as_user delete --force rl1
	assert_success
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "rootless exec joins the container's user, pid and mount namespaces; the exec'd process is root inside" {
	jq '.process.args = ["sleep", "100"]' "$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
	as_user run -d rl1 '</dev/null' '>/dev/null' '2>&1'
	assert_success
	as_user exec rl1 sh -c "'id -u; cat /proc/1/comm; readlink /proc/self/ns/pid; echo \$\$'"
	assert_success
	local init
	init=$(jq -r .pid "$RL_XDG/brig/rl1/state.json")
	[ "${lines[0]}" = 0 ] && [ "${lines[1]}" = sleep ] || fail "exec: $output"
	[ "${lines[2]}" = "$(readlink "/proc/$init/ns/pid")" ] || fail "not in the container's pid namespace: $output"
	[ "${lines[3]}" -lt 100 ] || fail "pid $output is not one of the container's"
	as_user exec rl1 sh -c "'exit 7'"
	[ "$status" = 7 ]
	as_user delete --force rl1
	assert_success
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "rootless with cgroup limits the host will not delegate: a clear error, nothing left" {
	jq '.process.args = ["true"] | .linux.resources = {pids: {limit: 10}}' "$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
	as_user run rl1
	assert_one_line_error
	assert_output_contains "linux.resources"
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "rootless with a cgroupsPath the user may not write: one clear error even without limits (as runc), nothing left" {
	jq --arg cg "$CG_PREFIX/rl-$RAND" '.process.args = ["true"] | .linux.cgroupsPath = $cg' "$TEST_DIR/rl.json" \
		>"$TEST_DIR/rl/config.json"
	as_user run rl1
	assert_one_line_error
	assert_output_contains "linux.cgroupsPath \`$CG_PREFIX/rl-$RAND\`" "rootless, no permission for this cgroup" \
		"delegated to uid $(id -u "$RL_USER")"
	[ ! -e "$RL_XDG/brig/rl1" ]
	local mnt
	for mnt in $(cgroup_mounts); do
		[ ! -d "$mnt$CG_PREFIX/rl-$RAND" ] || fail "cgroup left in $mnt"
	done
}

@test "rootless with the user's subordinate ids: several ranges written through newuidmap/newgidmap" {
	local uid gid sub_uid sub_gid
	uid=$(id -u "$RL_USER")
	gid=$(id -g "$RL_USER")
	sub_uid=$(awk -F: -v u="$RL_USER" '$1 == u { print $2 }' /etc/subuid)
	sub_gid=$(awk -F: -v u="$RL_USER" '$1 == u { print $2 }' /etc/subgid)
	[ -n "$sub_uid" ] && [ -n "$sub_gid" ] || fail "make_test_user gave $RL_USER no subordinate ids"
	jq --argjson u "$uid" --argjson g "$gid" --argjson su "$sub_uid" --argjson sg "$sub_gid" '
		.process.args = ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]
		| .linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}, {containerID: 1, hostID: $su, size: 1000}]
		| .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}, {containerID: 1, hostID: $sg, size: 1000}]' \
		"$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
	as_user run rl1
	assert_success
	printf '%s\n' "$output" | grep -Eq "^ +1 +$sub_uid +1000$" || fail "uid_map lacks the subordinate range: $output"
	printf '%s\n' "$output" | grep -Eq "^ +1 +$sub_gid +1000$" || fail "gid_map lacks the subordinate range: $output"
}

@test "rootless mappings the user is not allowed: a clear error, nothing left" {
	jq '.process.args = ["true"] | .linux.uidMappings = [{containerID: 0, hostID: 0, size: 1}]' \
		"$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
	as_user run rl1
	assert_one_line_error
	assert_output_contains "uid"
	[ ! -e "$RL_XDG/brig/rl1" ]
}
