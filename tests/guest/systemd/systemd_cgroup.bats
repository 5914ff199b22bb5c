#!/usr/bin/env bats
# The systemd cgroup driver for real (issue 12), in the guest booted with systemd as PID 1 (lane.sh
# --systemd): `--systemd-cgroup` makes each container a transient scope `<prefix>-<name>.scope` in the
# slice its cgroupsPath names (made when missing), with the resources as unit properties
# (`systemctl show`) and in the files; the limits hold (OOM at MemoryMax, TasksMax refuses forks);
# update, exec, ps, pause and resume work through it; delete stops the unit; a failed create and an
# init that exits leave no unit, failed or not.
#
# Lean (a systemd boot under TCG is slow enough): few containers, each checked for many things.

load ../helpers

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
	# A slice of the file's own, with a dash: systemd nests it as /brigtest.slice/brigtest-RAND.slice.
	export SLICE=brigtest-$RAND.slice
	export SLICE_DIR=$CGROUP2_ROOT/brigtest.slice/$SLICE
}

teardown_file() {
	[ -n "${SLICE:-}" ] && systemctl stop "$SLICE" brigtest.slice >/dev/null 2>&1
	lane_teardown_file
}

setup() {
	require_guest_lane
	[ -d /run/systemd/system ] || skip "needs systemd as PID 1: runs in the systemd guest (tests/guest/lane.sh --systemd)"
	LANE_GLOBAL=(--systemd-cgroup)
}

teardown() {
	lane_teardown
	local u
	# What a failed test may have left: the file's units, stopped and forgotten.
	for u in $(systemctl list-units --all --plain --no-legend "brig-*-$RAND.scope" 2>/dev/null | cut -d' ' -f1); do
		systemctl stop "$u" >/dev/null 2>&1
		systemctl reset-failed "$u" >/dev/null 2>&1
	done
	return 0
}

# sd_show UNIT PROP=WANT...: systemctl show's value of each PROP is WANT; every mismatch at once.
sd_show() {
	local unit=$1 kv props=() out bad=()
	shift
	for kv in "$@"; do
		props+=(-p "${kv%%=*}")
	done
	out=$(systemctl show "${props[@]}" "$unit") || fail "systemctl show $unit"
	for kv in "$@"; do
		[[ $'\n'"$out"$'\n' == *$'\n'"$kv"$'\n'* ]] || bad+=("want $kv")
	done
	[ ${#bad[@]} -eq 0 ] || fail "$unit: $(printf '%s; ' "${bad[@]}") got: ${out//$'\n'/ }"
}

# The unit is not loaded any more (stopped and garbage-collected, nothing failed left).
sd_gone() {
	sd_show "$1" LoadState=not-found ActiveState=inactive
	run systemctl list-units --failed --plain --no-legend
	[ -z "$output" ] || fail "failed units left: $output"
}

@test "systemd: the scope is made in a new slice with Delegate and the resources as properties and in the files; update, exec, ps, pause, resume; delete stops the unit" {
	local id=sd-$RAND unit=brig-sd-$RAND.scope dir line
	dir=$SLICE_DIR/$unit
	LANE_CGROUP=$SLICE:brig:$id lane_bundle "$id" '["sleep", "1000"]' '{
		"memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},
		"cpu": {"shares": 512, "quota": 30000, "period": 60000, "cpus": "0", "mems": "0"},
		"pids": {"limit": 42},
		"unified": {"memory.high": "50003968", "cgroup.max.descendants": "5"}}'
	lane_create "$id"
	assert_success
	sd_show "$unit" ActiveState=active Slice="$SLICE" Delegate=yes ControlGroup="${dir#"$CGROUP2_ROOT"}" \
		MemoryMax=67108864 MemoryLow=33554432 MemorySwapMax=33554432 MemoryHigh=50003968 CPUWeight=20 \
		CPUQuotaPerSecUSec=500ms CPUQuotaPeriodUSec=60ms AllowedCPUs=0 AllowedMemoryNodes=0 TasksMax=42
	# cgroup.max.descendants is nothing systemd knows: brig wrote it.
	cg_check "$dir" memory.max=67108864 memory.swap.max=33554432 memory.low=33554432 memory.high=50003968 \
		cpu.weight=20 "cpu.max=30000 60000" cpuset.cpus=0 pids.max=42 cgroup.max.descendants=5
	lane_pid "$id"
	local pid=$REPLY
	cg_check "$dir" "cgroup.procs=$pid"
	IFS= read -r line <"/proc/$pid/cgroup"
	[ "$line" = "0::${dir#"$CGROUP2_ROOT"}" ] || fail "/proc/$pid/cgroup: $line"
	grep -Eq '"systemdCgroup": ?true' "$BRIG_ROOT/$id/state.json" || fail "state.json: no systemdCgroup: $(cat "$BRIG_ROOT/$id/state.json")"

	run brig start "$id"
	assert_success
	run brig update --memory 100m --pids-limit 50 --cpu-share 1024 "$id"
	assert_success
	sd_show "$unit" MemoryMax=104857600 TasksMax=50 CPUWeight=39
	cg_check "$dir" memory.max=104857600 pids.max=50 cpu.weight=39

	run brig exec "$id" sh -c 'echo in $(cat /proc/self/cgroup)'
	assert_success
	assert_output_contains "in 0::${dir#"$CGROUP2_ROOT"}"
	run brig ps "$id"
	assert_success
	assert_output_contains "$pid"
	run brig pause "$id"
	assert_success
	cg_check "$dir" cgroup.freeze=1
	lane_status "$id"
	[ "$REPLY" = paused ] || fail "status $REPLY after pause"
	run brig resume "$id"
	assert_success
	cg_check "$dir" cgroup.freeze=0

	run brig delete --force "$id"
	assert_success
	sd_gone "$unit"
	[ ! -d "$dir" ] || fail "cgroup $dir left"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state left"
}

@test "systemd: a memory hog is OOM-killed at MemoryMax; TasksMax refuses forks; the default path is system.slice:brig:ID" {
	local id=lim-$RAND unit=brig-lim-$RAND.scope dir=$CGROUP2_ROOT/system.slice/brig-lim-$RAND.scope
	# The init survives its children: the hog (tail buffers a line of /dev/zero forever) and the forks.
	LANE_CGROUP='' lane_bundle "$id" '["sh", "-c",
		"tail /dev/zero; (for i in $(seq 30); do sleep 1000 & done) 2>/dev/null; echo done >/tmp/done; exec sleep 1000"]' \
		'{"memory": {"limit": 33554432, "swap": 33554432}, "pids": {"limit": 10}}'
	lane_create "$id"
	assert_success
	sd_show "$unit" Slice=system.slice MemoryMax=33554432 MemorySwapMax=0 TasksMax=10
	run brig start "$id"
	assert_success
	lane_wait_file "$ROOTFS/tmp/done" 60
	cg_key "$dir/memory.events" oom_kill
	[ "${REPLY:-0}" -ge 1 ] || fail "memory.events: no OOM kill"
	cg_key "$dir/pids.events" max
	[ "${REPLY:-0}" -ge 1 ] || fail "pids.events: no refused fork"
	local current
	IFS= read -r current <"$dir/pids.current"
	[ "$current" -le 10 ] || fail "pids.current $current with TasksMax 10"
	sd_show "$unit" ActiveState=active
	rm -f "$ROOTFS/tmp/done"

	run brig delete --force "$id"
	assert_success
	sd_gone "$unit"
}

@test "systemd: a failed create leaves no unit; bad cgroupsPaths are refused by name; an init that exits leaves no failed unit" {
	local id=bad-$RAND
	# Refused by the kernel after systemd made the scope: the unit goes again.
	LANE_CGROUP=$SLICE:brig:$id lane_refused "$id" '{"unified": {"memory.bogus": "1"}}' "memory.bogus"
	sd_gone "brig-$id.scope"
	# Refused by systemd: another container's scope has that name. Its unit stays, the new one leaves nothing.
	local first=first-$RAND
	LANE_CGROUP=$SLICE:brig:dup-$RAND lane_bundle "$first" '["sleep", "1000"]'
	lane_create "$first"
	assert_success
	LANE_CGROUP=$SLICE:brig:dup-$RAND lane_refused "$id" '{}' "brig-dup-$RAND.scope" "already loaded"
	sd_show "brig-dup-$RAND.scope" ActiveState=active
	run brig delete --force "$first"
	assert_success
	sd_gone "brig-dup-$RAND.scope"
	LANE_CGROUP=nocolons lane_refused "$id" '{}' 'linux.cgroupsPath' 'slice:prefix:name'
	LANE_CGROUP=a--b.slice:brig:$id lane_refused "$id" '{}' 'linux.cgroupsPath' 'a--b.slice'
	LANE_CGROUP=system.slice:brig:a/b lane_refused "$id" '{}' 'linux.cgroupsPath'

	# `run` of an init that exits: the scope ends with it, and nothing failed stays.
	local run_id=run-$RAND
	LANE_CGROUP=$SLICE:brig:$run_id lane_bundle "$run_id" '["sh", "-c", "exit 3"]'
	run "$BRIG" --root "$BRIG_ROOT" --systemd-cgroup run --bundle "$TEST_DIR" -f "$run_id.json" "$run_id"
	[ "$status" -eq 3 ] || fail "run: status $status: $output"
	sd_gone "brig-$run_id.scope"
	[ ! -e "$BRIG_ROOT/$run_id" ] || fail "state left"
}

@test "systemd: run with --systemd-cgroup vs cgroupfs (median of 5; printed)" {
	local i t0 t1 sd=() fs=()
	LANE_CGROUP='' lane_bundle "t-$RAND" '["true"]'
	for i in 1 2 3 4 5; do
		t0=$EPOCHREALTIME
		"$BRIG" --root "$BRIG_ROOT" --systemd-cgroup run --bundle "$TEST_DIR" -f "t-$RAND.json" "t-$RAND" ||
			fail "systemd run $i"
		t1=$EPOCHREALTIME
		sd+=("$(((${t1/./} - ${t0/./}) / 1000))")
		t0=$EPOCHREALTIME
		"$BRIG" --root "$BRIG_ROOT" run --bundle "$TEST_DIR" -f "t-$RAND.json" "t-$RAND" || fail "cgroupfs run $i"
		t1=$EPOCHREALTIME
		fs+=("$(((${t1/./} - ${t0/./}) / 1000))")
	done
	local sd_sorted fs_sorted
	sd_sorted=($(printf '%s\n' "${sd[@]}" | sort -n))
	fs_sorted=($(printf '%s\n' "${fs[@]}" | sort -n))
	echo "# brig run true, median of 5: --systemd-cgroup ${sd_sorted[2]} ms (${sd[*]}), cgroupfs ${fs_sorted[2]} ms (${fs[*]})" >&3
	sd_gone "brig-t-$RAND.scope"
}
