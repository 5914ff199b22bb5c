#!/usr/bin/env bats
# The systemd cgroup driver (issue 12) where systemd runs the v1 hybrid layout (lane.sh --systemd-hybrid:
# systemd.unified_cgroup_hierarchy=0, a hierarchy per v1 controller and cgroup2 at /sys/fs/cgroup/unified,
# as on the development host). With Delegate=yes systemd makes the scope in the hierarchies it manages
# (name=systemd, unified, cpu, cpuacct, blkio, memory, devices, pids); brig makes it in the others
# (freezer, cpuset, ...) and writes the limits to the v1 files. Checked: the unit's properties, the
# container in the scope in every hierarchy, the limits (OOM at the memory limit), update, exec, ps,
# pause and resume through the v1 freezer; delete and a failed create leave no unit and no cgroup in any
# hierarchy (the slices' directories brig made included).
#
# Lean (one boot under TCG): two tests, each checking many things.

load helpers

HYBRID_ROOT=/sys/fs/cgroup

is_hybrid() {
	[ "$(stat -f -c %T "$HYBRID_ROOT" 2>/dev/null)" = tmpfs ] &&
		[ "$(stat -f -c %T "$HYBRID_ROOT/unified" 2>/dev/null)" = cgroup2fs ]
}

setup_file() {
	is_hybrid && [ -d /run/systemd/system ] || return 0
	lane_setup_file
	export SLICE=brigtest-$RAND.slice
	export SLICE_REL=/brigtest.slice/$SLICE
}

teardown_file() {
	[ -n "${SLICE:-}" ] && systemctl stop "$SLICE" brigtest.slice >/dev/null 2>&1
	lane_teardown_file
}

setup() {
	is_hybrid || skip "needs the v1 hybrid layout: runs in the hybrid systemd guest (tests/guest/lane.sh --systemd-hybrid)"
	[ -d /run/systemd/system ] || skip "needs systemd as PID 1: runs in the hybrid systemd guest (tests/guest/lane.sh --systemd-hybrid)"
	LANE_GLOBAL=(--systemd-cgroup)
}

teardown() {
	lane_teardown
	sd_stop_units "brig-*-$RAND.scope"
}

# Every hierarchy mounted under /sys/fs/cgroup (the v1 ones and unified; not the cpu -> cpu,cpuacct
# links), in the array HY_DIRS.
hierarchies() {
	local h
	HY_DIRS=()
	for h in "$HYBRID_ROOT"/*/; do
		h=${h%/}
		[ -L "$h" ] || HY_DIRS+=("$h")
	done
}

# hy_placed REL PID: REL exists in every hierarchy with PID in it, and /proc/PID/cgroup says REL for each.
hy_placed() {
	local rel=$1 pid=$2 h line bad=() n=0
	hierarchies
	for h in "${HY_DIRS[@]}"; do
		grep -qx "$pid" "$h$rel/cgroup.procs" 2>/dev/null || bad+=("$h$rel: no $pid")
	done
	while IFS= read -r line; do
		n=$((n + 1))
		[ "${line#*:*:}" = "$rel" ] || bad+=("/proc/$pid/cgroup: $line")
	done <"/proc/$pid/cgroup"
	[ "$n" -eq ${#HY_DIRS[@]} ] || bad+=("/proc/$pid/cgroup has $n lines for ${#HY_DIRS[@]} hierarchies")
	[ ${#bad[@]} -eq 0 ] || fail "$(printf '%s; ' "${bad[@]}")"
}

# hy_gone REL...: no directory REL in any hierarchy.
hy_gone() {
	local rel h left=()
	hierarchies
	for rel in "$@"; do
		for h in "${HY_DIRS[@]}"; do
			[ ! -d "$h$rel" ] || left+=("$h$rel")
		done
	done
	[ ${#left[@]} -eq 0 ] || fail "cgroups left: ${left[*]}"
}

@test "systemd hybrid: the scope in every hierarchy, limits in the v1 files, update, exec, ps, pause/resume (v1 freezer); delete removes the unit and every cgroup" {
	local id=hy-$RAND unit=brig-hy-$RAND.scope rel pid
	rel=$SLICE_REL/$unit
	LANE_CGROUP=$SLICE:brig:$id lane_bundle "$id" '["sleep", "1000"]' '{
		"memory": {"limit": 67108864},
		"cpu": {"shares": 512, "quota": 30000, "period": 60000, "cpus": "0", "mems": "0"},
		"pids": {"limit": 42}}'
	lane_create "$id"
	assert_success
	# systemd 252 on v1 reports brig's MemoryMax as such (MemoryLimit stays infinity) and writes it to
	# memory.limit_in_bytes; the CPU share goes as CPUShares (v1's own unit, written as it is).
	sd_show "$unit" ActiveState=active Slice="$SLICE" Delegate=yes ControlGroup="$rel" MemoryMax=67108864 \
		MemoryLimit=infinity TasksMax=42 CPUShares=512 CPUQuotaPerSecUSec=500ms CPUQuotaPeriodUSec=60ms
	lane_pid "$id"
	pid=$REPLY
	hy_placed "$rel" "$pid"
	cg_check "$HYBRID_ROOT/memory$rel" memory.limit_in_bytes=67108864
	cg_check "$HYBRID_ROOT/pids$rel" pids.max=42
	cg_check "$HYBRID_ROOT/cpu,cpuacct$rel" cpu.cfs_quota_us=30000 cpu.cfs_period_us=60000 cpu.shares=512
	cg_check "$HYBRID_ROOT/cpuset$rel" cpuset.cpus=0 cpuset.mems=0
	cg_check "$HYBRID_ROOT/freezer$rel" freezer.state=THAWED
	# The device rules in the v1 devices cgroup: brig's defaults, not everything.
	grep -qx 'c 1:3 rwm' "$HYBRID_ROOT/devices$rel/devices.list" ||
		fail "devices.list: $(cat "$HYBRID_ROOT/devices$rel/devices.list")"
	! grep -q '^a ' "$HYBRID_ROOT/devices$rel/devices.list" ||
		fail "devices.list allows all: $(cat "$HYBRID_ROOT/devices$rel/devices.list")"

	run brig start "$id"
	assert_success
	run brig update --memory 100m --pids-limit 50 --cpu-share 1024 --cpu-quota 40000 "$id"
	assert_success
	# The quota alone is a share of the period in force (60 ms): systemd's per-second value is computed
	# with it, and brig's files are written after systemd's.
	sd_show "$unit" MemoryMax=104857600 TasksMax=50 CPUShares=1024 CPUQuotaPeriodUSec=60ms
	cg_check "$HYBRID_ROOT/memory$rel" memory.limit_in_bytes=104857600
	cg_check "$HYBRID_ROOT/pids$rel" pids.max=50
	cg_check "$HYBRID_ROOT/cpu,cpuacct$rel" cpu.shares=1024 cpu.cfs_quota_us=40000

	run brig exec "$id" cat /proc/self/cgroup
	assert_success
	assert_output_contains "memory:$rel" "freezer:$rel" "pids:$rel" "name=systemd:$rel" "0::$rel"
	run brig ps "$id"
	assert_success
	assert_output_contains "$pid"
	run brig pause "$id"
	assert_success
	cg_check "$HYBRID_ROOT/freezer$rel" freezer.state=FROZEN
	lane_status "$id"
	[ "$REPLY" = paused ] || fail "status $REPLY after pause"
	run brig resume "$id"
	assert_success
	cg_check "$HYBRID_ROOT/freezer$rel" freezer.state=THAWED
	lane_status "$id"
	[ "$REPLY" = running ] || fail "status $REPLY after resume"

	run brig delete --force "$id"
	assert_success
	sd_gone "$unit"
	# The slice's directories brig made where systemd does not manage the controller go too; the slice
	# unit itself is systemd's (stopped by teardown_file).
	hy_gone "$rel"
	[ ! -d "$HYBRID_ROOT/freezer$SLICE_REL" ] && [ ! -d "$HYBRID_ROOT/cpuset$SLICE_REL" ] ||
		fail "the slice's freezer or cpuset directory left"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state left"
}

@test "systemd hybrid: OOM at the memory limit in system.slice; a failed create leaves no unit and no cgroup; an init that exits leaves no failed unit" {
	local id=oom-$RAND unit=brig-oom-$RAND.scope rel=/system.slice/brig-oom-$RAND.scope
	# The init survives the hog (tail buffers a line of /dev/zero forever).
	LANE_CGROUP='' lane_bundle "$id" '["sh", "-c", "tail /dev/zero; echo done >/tmp/done; exec sleep 1000"]' \
		'{"memory": {"limit": 33554432}, "pids": {"limit": 10}}'
	lane_create "$id"
	assert_success
	sd_show "$unit" Slice=system.slice ControlGroup="$rel" MemoryMax=33554432 TasksMax=10
	run brig start "$id"
	assert_success
	lane_wait_file "$ROOTFS/tmp/done" 60
	cg_key "$HYBRID_ROOT/memory$rel/memory.oom_control" oom_kill
	[ "${REPLY:-0}" -ge 1 ] || fail "memory.oom_control: no OOM kill: $(cat "$HYBRID_ROOT/memory$rel/memory.oom_control")"
	sd_show "$unit" ActiveState=active
	rm -f "$ROOTFS/tmp/done"
	run brig delete --force "$id"
	assert_success
	sd_gone "$unit"
	hy_gone "$rel"

	# Refused by the kernel after systemd made the scope (no CPU 7 in the guest's cpuset): no unit, and
	# nothing in any hierarchy, brig's directories in freezer and cpuset included.
	local refused=bad-$RAND
	LANE_CGROUP=$SLICE:brig:$refused lane_refused "$refused" '{"cpu": {"cpus": "7"}}' "cpuset.cpus"
	sd_gone "brig-$refused.scope"
	hy_gone "$SLICE_REL/brig-$refused.scope"
	[ ! -d "$HYBRID_ROOT/freezer$SLICE_REL" ] && [ ! -d "$HYBRID_ROOT/cpuset$SLICE_REL" ] ||
		fail "the slice's freezer or cpuset directory left"
	# What cgroup2 would take but this layout cannot: refused by field, nothing left.
	LANE_CGROUP=$SLICE:brig:$refused lane_refused "$refused" '{"unified": {"memory.high": "1000000"}}' \
		"linux.resources.unified.memory.high" "cgroup v1"
	sd_gone "brig-$refused.scope"
	hy_gone "$SLICE_REL/brig-$refused.scope"

	# `run` of an init that exits: the scope ends with it, nothing failed stays, no cgroup.
	local run_id=run-$RAND
	LANE_CGROUP=$SLICE:brig:$run_id lane_bundle "$run_id" '["sh", "-c", "exit 3"]'
	run "$BRIG" --root "$BRIG_ROOT" --systemd-cgroup run --bundle "$TEST_DIR" -f "$run_id.json" "$run_id"
	[ "$status" -eq 3 ] || fail "run: status $status: $output"
	sd_gone "brig-$run_id.scope"
	hy_gone "$SLICE_REL/brig-$run_id.scope"
	[ ! -e "$BRIG_ROOT/$run_id" ] || fail "state left"
}
