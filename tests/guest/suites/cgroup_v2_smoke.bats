#!/usr/bin/env bats
# The guest lane works: cgroup v2 with real controllers, brig places a container in the unified
# hierarchy and removes it, and criu is usable on this kernel.

load ../helpers

# One rootfs and config template for the file (lane_* helpers): a per-test common_setup costs ~10 s
# under TCG.
setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
}

teardown_file() {
	lane_teardown_file
}

setup() {
	require_guest_lane
}

teardown() {
	lane_teardown
}

@test "/sys/fs/cgroup is cgroup2 with the memory and pids controllers enabled for children" {
	run stat -f -c %T /sys/fs/cgroup
	[ "$output" = cgroup2fs ] || fail "file system type"
	local c
	for c in memory pids; do
		grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || fail "$c not in cgroup.controllers"
		grep -qw "$c" /sys/fs/cgroup/cgroup.subtree_control || fail "$c not in cgroup.subtree_control"
	done
}

@test "an absolute cgroupsPath is created in the unified hierarchy and removed on delete" {
	local id=c-$RAND dir=$CGROUP2_ROOT$CG_PREFIX/c-$RAND line
	lane_run "$id" '["sleep", "1000"]'
	[ -d "$dir" ] || fail "no cgroup $dir"
	lane_pid "$id"
	cg_check "$dir" "cgroup.procs=$REPLY"
	IFS= read -r line <"/proc/$REPLY/cgroup"
	[ "$line" = "0::$CG_PREFIX/$id" ] || fail "/proc/$REPLY/cgroup: $line"

	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}

@test "criu check: Looks good" {
	command -v criu >/dev/null || fail "criu not installed (scripts/setup.sh)"
	# criu probes /dev/net/tun; the lane loads tun at boot, this keeps the test honest on its own.
	modprobe tun
	run criu check
	assert_success
	assert_output_contains "Looks good"
}
