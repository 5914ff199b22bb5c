#!/usr/bin/env bats
# The guest lane works: cgroup v2 with real controllers, brig places a container in the unified
# hierarchy and removes it, and criu is usable on this kernel.

load ../helpers

# Only the tests that run a container pay for common_setup (a bundle copy, `brig spec`, jq), which is
# seconds under TCG.
setup() {
	require_guest_lane
}

teardown() {
	common_teardown
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
	common_setup
	bundle_set_args sleep 1000
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	local pid dir
	pid=$(container_pid "$ID")
	dir=$(cgroup2_dir "$CG_PREFIX/$ID")
	[ -d "$dir" ] || fail "no cgroup $dir"
	grep -qx "$pid" "$dir/cgroup.procs" || fail "init $pid not in $dir/cgroup.procs: $(cat "$dir/cgroup.procs")"
	[ "$(proc_cgroup2 "$pid")" = "$CG_PREFIX/$ID" ] || fail "/proc/$pid/cgroup: $(cat "/proc/$pid/cgroup")"

	run brig delete --force "$ID"
	assert_success
	[ ! -d "$dir" ] || fail "cgroup $dir left after delete"
	assert_nothing_left
}

@test "criu check: Looks good" {
	command -v criu >/dev/null || fail "criu not installed (scripts/setup.sh)"
	# criu probes /dev/net/tun; the lane loads tun at boot, this keeps the test honest on its own.
	modprobe tun
	run criu check
	assert_success
	assert_output_contains "Looks good"
}
