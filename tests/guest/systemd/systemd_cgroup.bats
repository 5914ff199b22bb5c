#!/usr/bin/env bats
# The systemd cgroup driver for real (issue 12), in the guest booted with systemd as PID 1 (lane.sh
# --systemd): `--systemd-cgroup` makes each container a transient scope `<prefix>-<name>.scope` in the
# slice its cgroupsPath names (made when missing), with the resources as unit properties
# (`systemctl show`) and in the files; the limits hold (OOM at MemoryMax, TasksMax refuses forks);
# update, exec, ps, pause and resume work through it; delete stops the unit; a failed create and an
# init that exits leave no unit, failed or not. The device rules are DevicePolicy/DeviceAllow and agree
# with brig's own device program (also once systemd attaches its program again), blockIO is IOWeight,
# IODeviceWeight and the IO*Max throttles (io.max on a loop device); checkpoint and restore go through
# a new scope.
#
# Lean (a systemd boot under TCG is slow enough): few containers, each checked for many things.

load helpers

setup_file() {
	is_cgroup2_root || return 0
	# A block device for the IO properties: the guest has no disk, loop0 exists once the module is in.
	modprobe loop 2>/dev/null || true
	# A per-device io.weight needs the device under iocost (EOPNOTSUPP otherwise): on for loop0, off at the end.
	[ ! -e /sys/block/loop0/dev ] || echo "7:0 enable=1" >"$CGROUP2_ROOT/io.cost.qos" 2>/dev/null || true
	lane_setup_file
	# A slice of the file's own, with a dash: systemd nests it as /brigtest.slice/brigtest-RAND.slice.
	export SLICE=brigtest-$RAND.slice
	export SLICE_DIR=$CGROUP2_ROOT/brigtest.slice/$SLICE
}

teardown_file() {
	pkill -f 'sleep 3599' 2>/dev/null || true
	[ ! -e /sys/block/loop0/dev ] || echo "7:0 enable=0" >"$CGROUP2_ROOT/io.cost.qos" 2>/dev/null || true
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
	# What a failed test may have left: the file's units.
	sd_stop_units "brig-*-$RAND.scope"
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
	# Values systemd would refuse by its property's name: refused by the field's before any unit.
	LANE_CGROUP=$SLICE:brig:$id lane_refused "$id" '{"blockIO": {"weight": 2000}}' \
		'linux.resources.blockIO.weight: 2000 is out of range (10-1000)'
	sd_gone "brig-$id.scope"
	LANE_CGROUP=$SLICE:brig:$id lane_refused "$id" '{"blockIO": {"weightDevice": [{"major": 7, "minor": 0, "weight": 5000}]}}' \
		'linux.resources.blockIO.weightDevice[0].weight: 5000 is out of range (10-1000)'
	LANE_CGROUP=$SLICE:brig:$id lane_refused "$id" '{"blockIO": {"throttleReadBpsDevice": [{"major": -1, "minor": 0, "rate": 1}]}}' \
		'linux.resources.blockIO.throttleReadBpsDevice[0]: `-1:0` is not a device number'
	LANE_CGROUP=$SLICE:brig:$id lane_refused "$id" '{"devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx"}]}' \
		'linux.resources.devices[0].access'
	sd_gone "brig-$id.scope"
	# A device systemd takes but the kernel has not: brig's io.max write names the field, the unit goes.
	LANE_CGROUP=$SLICE:brig:$id lane_refused "$id" '{"blockIO": {"throttleWriteIOPSDevice": [{"major": 259, "minor": 99, "rate": 5}]}}' \
		'linux.resources.blockIO.throttleWriteIOPSDevice[0]' 'io.max' 'No such device'
	sd_gone "brig-$id.scope"
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

# sd_devices ID: what the container may do with its devices, one word per check, in $REPLY.
sd_devices() {
	run brig exec "$1" sh -c '
		(: >/dev/nodrv) 2>/dev/null && echo nodrv-opened || echo nodrv-denied
		(: >/dev/mykmsg) 2>/dev/null && echo kmsg-opened || echo kmsg-denied
		(echo x >/dev/full) 2>/dev/null && echo full-written || echo full-denied
		[ "$(head -c 1 /dev/full | wc -c)" = 1 ] && echo full-read
		(echo x >/dev/null) 2>/dev/null && echo null-written || echo null-denied
		(head -c 1 /dev/loop0 >/dev/null) 2>/dev/null && echo loop-read || echo loop-denied
		(: >/dev/loop0) 2>/dev/null && echo loop-written || echo loop-denied-w'
	REPLY=${output//$'\n'/ }
}

@test "systemd: device rules as DevicePolicy/DeviceAllow agree with brig's program (also with systemd's own attached again); blockIO as IO properties and in io.max; update" {
	[ -e /sys/block/loop0/dev ] || skip "no loop0 (the loop module): no block device for io.max"
	local id=io-$RAND unit=brig-io-$RAND.scope dir want
	dir=$SLICE_DIR/$unit
	# /dev/nodrv (1:200) has no rule: denied. /dev/mykmsg may be written, /dev/full only read,
	# /dev/loop0 only read (a block device by its numbers).
	LANE_CGROUP=$SLICE:brig:$id lane_bundle "$id" '["sleep", "1000"]' '{
		"devices": [{"allow": false, "access": "rwm"},
			{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"},
			{"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"},
			{"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"}],
		"blockIO": {"weight": 300, "weightDevice": [{"major": 7, "minor": 0, "weight": 200}],
			"throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1048576}],
			"throttleWriteBpsDevice": [{"major": 7, "minor": 0, "rate": 2097152}],
			"throttleReadIOPSDevice": [{"major": 7, "minor": 0, "rate": 100}],
			"throttleWriteIOPSDevice": [{"major": 7, "minor": 0, "rate": 50}]}}' \
		'[{"path": "/dev/nodrv", "type": "c", "major": 1, "minor": 200, "fileMode": 438},
			{"path": "/dev/mykmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438},
			{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0, "fileMode": 438}]'
	lane_create "$id"
	assert_success
	# brig's defaults are in the list, the denied write of /dev/full leaves read and mknod, mknod of
	# anything comes last: as runc's list reads (char-N for a whole major, /dev/char/N:M for one device).
	sd_show "$unit" DevicePolicy=strict "DeviceAllow=/dev/char/1:11 w" "DeviceAllow=/dev/block/7:0 r" \
		"DeviceAllow=/dev/char/1:7 rm" "DeviceAllow=/dev/char/1:3 rwm" "DeviceAllow=char-136 rwm" \
		"DeviceAllow=/dev/char/10:200 rwm" "DeviceAllow=char-* m" "DeviceAllow=block-* m" \
		IOAccounting=yes IOWeight=2930 "IODeviceWeight=/dev/block/7:0 1920" \
		"IOReadBandwidthMax=/dev/block/7:0 1048576" "IOWriteBandwidthMax=/dev/block/7:0 2097152" \
		"IOReadIOPSMax=/dev/block/7:0 100" "IOWriteIOPSMax=/dev/block/7:0 50"
	cg_check "$dir" "io.max=7:0 rbps=1048576 wbps=2097152 riops=100 wiops=50" "io.weight=default 2930"
	cg_has "$dir" io.weight 7:0 1920
	run brig start "$id"
	assert_success
	want="nodrv-denied kmsg-opened full-denied full-read null-written loop-read loop-denied-w"
	sd_devices "$id"
	[ "$REPLY" = "$want" ] || fail "devices: $REPLY, want $want"

	# update: systemd's properties and the files.
	printf '%s' '{"blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 4194304}],
		"throttleWriteIOPSDevice": [{"major": 7, "minor": 0, "rate": 0}]}}' >"$TEST_DIR/io-update.json"
	run brig update --resources "$TEST_DIR/io-update.json" "$id"
	assert_success
	sd_show "$unit" IOWeight=4950 "IOReadBandwidthMax=/dev/block/7:0 4194304" "IOWriteBandwidthMax=/dev/block/7:0 2097152"
	cg_check "$dir" "io.max=7:0 rbps=4194304 wbps=2097152 riops=100 wiops=max" "io.weight=default 4950"

	# systemd attaches its own program again on a change of a device property:
	# with both, the allowed devices still open and the denied ones stay denied.
	run systemctl set-property --runtime "$unit" DevicePolicy=strict
	assert_success
	sd_devices "$id"
	[ "$REPLY" = "$want" ] || fail "devices with systemd's program attached again: $REPLY, want $want"
	# ...and systemd's program is really there: an empty list of its own denies even /dev/null.
	run systemctl set-property --runtime "$unit" DeviceAllow=
	assert_success
	sd_devices "$id"
	[[ "$REPLY" == *null-denied* ]] || fail "systemd's empty DeviceAllow did not take: $REPLY"

	run brig delete --force "$id"
	assert_success
	sd_gone "$unit"
	[ ! -d "$dir" ] || fail "cgroup $dir left"
}

# sd_stdio NAME BRIG_ARGS...: brig --systemd-cgroup with pipes for the container's stdio (CRIU dumps no fd
# on a file of the host's mount namespace), their output in $TEST_DIR/NAME.out.
sd_stdio() {
	local name=$1
	shift
	status=0
	: >"$TEST_DIR/$name.out"
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 120 "$BRIG" --root "$BRIG_ROOT" --systemd-cgroup "$@" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/$name.out" 3>&-) 2>&1 3>&- || status=$?
	output=$(tail -n 1 "$TEST_DIR/$name.out")
	echo "# $*: status $status" >&3 2>/dev/null || true
}

# sd_wait_count FILE MIN: until the last line of FILE is a number >= MIN; that number in $REPLY.
sd_wait_count() {
	local i
	for ((i = 0; i < 300; i++)); do
		REPLY=$(tail -n 1 "$1" 2>/dev/null)
		[[ "$REPLY" =~ ^[0-9]+$ ]] && [ "$REPLY" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: no count >= $2 (last line: \`$REPLY\`)"
}

@test "systemd: checkpoint and restore with --systemd-cgroup: the tree comes back in a new scope with the properties, memory kept" {
	command -v criu >/dev/null || skip "criu not installed"
	local id=ck-$RAND new=ckn-$RAND img=$TEST_DIR/img-$RAND c before first pid line
	local res='{"memory": {"limit": 67108864}, "pids": {"limit": 40},
		"devices": [{"allow": false, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"}]}'
	for c in "$id" "$new"; do
		LANE_CGROUP=$SLICE:brig:$c lane_bundle "$c" \
			'["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done"]' "$res"
		mkdir -p "$TEST_DIR/b-$c"
		mv "$TEST_DIR/$c.json" "$TEST_DIR/b-$c/config.json"
	done
	sd_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	sd_wait_count "$TEST_DIR/$id.out" 3
	sd_show "brig-$id.scope" ActiveState=active

	sd_stdio "$id-ck" checkpoint --image-path "$img" "$id"
	[ "$status" -eq 0 ] || fail "checkpoint: $(cat "$TEST_DIR/$id-ck.out")"
	sd_gone "brig-$id.scope"
	before=$(tail -n 1 "$TEST_DIR/$id.out")

	sd_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" --pid-file "$TEST_DIR/$new.pid" "$new"
	[ "$status" -eq 0 ] || fail "restore: $(cat "$TEST_DIR/$new.out")"
	sd_wait_count "$TEST_DIR/$new.out" $((before + 2))
	first=$(head -n 1 "$TEST_DIR/$new.out")
	[ "$first" -eq $((before + 1)) ] || fail "restored counter printed $first first, want $((before + 1))"
	sd_show "brig-$new.scope" ActiveState=active Slice="$SLICE" Delegate=yes MemoryMax=67108864 TasksMax=40 \
		DevicePolicy=strict "DeviceAllow=/dev/char/1:7 rm"
	pid=$(<"$TEST_DIR/$new.pid")
	grep -qx "$pid" "$SLICE_DIR/brig-$new.scope/cgroup.procs" || fail "init $pid not in the new scope"
	IFS= read -r line <"/proc/$pid/cgroup"
	[ "$line" = "0::${SLICE_DIR#"$CGROUP2_ROOT"}/brig-$new.scope" ] || fail "/proc/$pid/cgroup: $line"
	cg_check "$SLICE_DIR/brig-$new.scope" memory.max=67108864 pids.max=40
	grep -Eq '"systemdCgroup": ?true' "$BRIG_ROOT/$new/state.json" || fail "state.json: no systemdCgroup"
	# brig's device program is on the new scope too.
	run brig exec "$new" sh -c '(echo x >/dev/full) 2>/dev/null && echo full-written; echo x >/dev/null && echo null-ok'
	assert_success
	[ "$output" = null-ok ] || fail "devices after restore: $output"

	# A cgroupsPath not in systemd's form: one line before CRIU, nothing made.
	sed -i "s|\"$SLICE:brig:$id\"|\"nocolons\"|" "$TEST_DIR/b-$id/config.json"
	sd_stdio "$id-bad" restore -d -b "$TEST_DIR/b-$id" --image-path "$img" "$id"
	[ "$status" -ne 0 ] || fail "restore with a bad cgroupsPath succeeded"
	[ "$(wc -l <"$TEST_DIR/$id-bad.out")" -eq 1 ] || fail "more than one line: $(cat "$TEST_DIR/$id-bad.out")"
	assert_output_contains "linux.cgroupsPath" "slice:prefix:name"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state of $id left"

	run brig delete --force "$new"
	assert_success
	sd_gone "brig-$new.scope"
	[ ! -d "$SLICE_DIR/brig-$new.scope" ] || fail "scope's cgroup left"
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
