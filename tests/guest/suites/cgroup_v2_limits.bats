#!/usr/bin/env bats
# linux.resources on cgroup v2, for real (issue 4): every resource checked in its v2 file, and enforcement
# shown: a memory hog OOM-killed at memory.max with the OOM in memory.events and `events`; a fork loop
# stopped at pids.max; the eBPF device program denying /dev/null; a counter frozen and thawed with
# cgroup.freeze; `update` on a running container; kill --all through cgroup.kill; no cgroup left after
# delete of a created, running, paused or killed container; bad values refused by name, leaving nothing.
#
# Lean on purpose (TCG: an exec ~70 ms, brig ~0.3 s, jq ~0.8 s): few containers, each checked for many
# things; one rootfs and one config template for the whole file (lane_* helpers in ../helpers.bash).

load ../helpers

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
	# A block device for io.max: the guest has no disk, loop0 exists once the module is in.
	modprobe loop 2>/dev/null || true
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

# Every controller brig uses must reach the container: enabled in each ancestor's subtree_control.
CONTROLLERS=(cpuset cpu io memory hugetlb pids)

@test "v2: every resource lands in its file, controllers are enabled down the ancestors, events --stats has runc's shape; delete --force of a created container" {
	local id=lim-$RAND dir=$CGROUP2_ROOT$CG_PREFIX/lim-$RAND line
	local io='{"weight": 300}'
	[ -e /sys/block/loop0/dev ] &&
		io='{"weight": 300, "throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1048576}],
			"throttleWriteIOPSDevice": [{"major": 7, "minor": 0, "rate": 100}]}'
	lane_bundle "$id" '["sleep", "1000"]' '{
		"memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},
		"cpu": {"shares": 512, "quota": 30000, "period": 60000, "burst": 10000, "cpus": "0", "mems": "0"},
		"pids": {"limit": 42},
		"blockIO": '"$io"',
		"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
		"unified": {"memory.high": "50000000", "cgroup.max.descendants": "5"}}'
	lane_create "$id"
	assert_success

	# memory.high is kept in whole pages; blkio weight 300 is io.weight 1 + (300 - 10) * 9999 / 990.
	cg_check "$dir" memory.max=67108864 memory.swap.max=33554432 memory.low=33554432 memory.high=49999872 \
		cpu.weight=20 "cpu.max=30000 60000" cpu.max.burst=10000 cpuset.cpus=0 cpuset.mems=0 \
		pids.max=42 "io.weight=default 2930" hugetlb.2MB.max=4194304 hugetlb.2MB.rsvd.max=4194304 \
		cgroup.max.descendants=5
	[ ! -e /sys/block/loop0/dev ] || cg_check "$dir" "io.max=7:0 rbps=1048576 wbps=max riops=max wiops=100"
	cg_has "$CGROUP2_ROOT$CGROUP_TEST_TOP" cgroup.subtree_control "${CONTROLLERS[@]}"
	cg_has "$CGROUP2_ROOT$CG_PREFIX" cgroup.subtree_control "${CONTROLLERS[@]}"
	cg_has "$dir" cgroup.controllers "${CONTROLLERS[@]}"

	# The init is in the container's cgroup, and only it.
	lane_pid "$id"
	cg_check "$dir" "cgroup.procs=$REPLY"
	IFS= read -r line <"/proc/$REPLY/cgroup"
	[ "$line" = "0::$CG_PREFIX/$id" ] || fail "/proc/$REPLY/cgroup: $line"

	# Usage values are only typed: the init joins its cgroup while it sets up (create overlaps the two),
	# and on v2 what it used before stays charged where it was, so a created container may show 0.
	run brig events --stats "$id"
	assert_success
	[ "${#lines[@]}" -eq 1 ] || fail "one line expected"
	echo "$output" | jq -e --arg id "$id" '.type == "stats" and .id == $id and (.data | keys) ==
		["blkio", "cpu", "hugetlb", "memory", "pids"]
		and .data.memory.usage.limit == 67108864 and (.data.memory.usage.usage | type) == "number"
		and .data.memory.usage.max >= .data.memory.usage.usage and .data.memory.swap.limit == 33554432
		and (.data.memory.raw | has("anon") and has("file"))
		and .data.pids.current == 1 and .data.pids.limit == 42
		and (.data.cpu.usage | has("total") and has("kernel") and has("user"))
		and (.data.cpu.throttling | has("periods") and has("throttledPeriods") and has("throttledTime"))
		and (.data.blkio.ioServiceBytesRecursive | type) == "array"
		and .data.hugetlb["2MB"].usage == 0' >/dev/null || fail "stats: $output"

	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}

@test "v2: a memory hog is OOM-killed at memory.max, memory.events and \`events\` report it; delete --force of a paused container" {
	local id=oom-$RAND dir=$CGROUP2_ROOT$CG_PREFIX/oom-$RAND events i text
	# The hog starts once `events` watches (its first stats line is out), so the OOM cannot come first.
	lane_run "$id" '["sh", "-c", "while [ ! -e /tmp/go-'"$id"' ]; do sleep 0.1; done; tail /dev/zero; echo status $? >/tmp/oom-'"$id"'; exec sleep 1000"]' \
		'{"memory": {"limit": 33554432, "swap": 33554432}}'
	cg_check "$dir" memory.max=33554432 memory.swap.max=0
	events=$TEST_DIR/events-$id
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 60 "$BRIG" --root "$BRIG_ROOT" events --interval 1s "$id" >"$events" 2>&1 3>&- &
	lane_wait_file "$events" 30
	: >"$ROOTFS/tmp/go-$id"
	lane_wait_file "$ROOTFS/tmp/oom-$id" 60
	IFS= read -r text <"$ROOTFS/tmp/oom-$id"
	[ "$text" = "status 137" ] || fail "the hog ended with: $text"
	cg_key "$dir/memory.events" oom_kill
	[ "${REPLY:-0}" -ge 1 ] || fail "memory.events: no oom_kill"
	for ((i = 0; i < 100; i++)); do
		IFS= read -r -d '' text <"$events" || true
		[[ "$text" == *"{\"type\":\"oom\",\"id\":\"$id\"}"* ]] && break
		sleep 0.1
	done
	[[ "$text" == *"{\"type\":\"oom\",\"id\":\"$id\"}"* ]] || fail "no oom event: $text"

	# The container lives on (only the hog died): pause it and delete it by force.
	run brig pause "$id"
	assert_success
	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
	wait # `events` ends with the container
}

@test "v2: a fork loop stops at pids.max and pids.events counts the refused forks; cpu.idle; delete --force of a running container" {
	local id=pids-$RAND dir=$CGROUP2_ROOT$CG_PREFIX/pids-$RAND
	# The loop runs in a subshell: a shell whose fork fails gives up, and the init must stay.
	lane_run "$id" '["sh", "-c", "(for i in $(seq 30); do sleep 1000 & done) 2>/dev/null; echo forked >/tmp/pids-'"$id"'; exec sleep 1000"]' \
		'{"pids": {"limit": 10}, "cpu": {"idle": 1}}'
	lane_wait_file "$ROOTFS/tmp/pids-$id" 60
	# An idle group reports weight 0: idle is checked here, the weight in the first test.
	cg_check "$dir" pids.max=10 cpu.idle=1 cpu.weight=0
	local current
	IFS= read -r current <"$dir/pids.current"
	[ "$current" -le 10 ] && [ "$current" -ge 8 ] || fail "pids.current $current with pids.max 10"
	cg_key "$dir/pids.events" max
	[ "${REPLY:-0}" -ge 1 ] || fail "pids.events: no refused fork"

	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}

@test "v2: the eBPF device program denies /dev/null (EPERM) and writes to /dev/full, allows /dev/zero; linux.devices nodes only as the rules allow; a cgroup namespace is rooted at the container's cgroup" {
	local id=dev-$RAND
	# The init enters its cgroup namespace only once brig has moved it into its cgroup: then it sees
	# itself at "/", and the cgroup2 mount shows its own limits. /dev/nodrv (1:200, no driver) has no
	# rule: the program denies it before the kernel looks for a driver (ENXIO); /dev/mykmsg has one.
	LANE_MORE_NS='{"type": "cgroup"}' lane_bundle "$id" '["sh", "-c",
		"(: >/dev/nodrv); (: >/dev/mykmsg) && echo kmsg-opened; echo x >/dev/null && echo null-ok; echo x >/dev/full; head -c 1 /dev/full | wc -c; head -c 2 /dev/zero | wc -c; head -c 3 /dev/zero2 | wc -c; echo cg $(cat /proc/self/cgroup) $(cat /sys/fs/cgroup/pids.max)"]' \
		'{"pids": {"limit": 77},
			"devices": [{"allow": false, "access": "rwm"},
			{"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
			{"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"},
			{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]}' \
		'[{"path": "/dev/zero2", "type": "c", "major": 1, "minor": 5, "fileMode": 438},
			{"path": "/dev/nodrv", "type": "c", "major": 1, "minor": 200, "fileMode": 438},
			{"path": "/dev/mykmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]'
	run brig run --bundle "$TEST_DIR" -f "$id.json" "$id"
	assert_success
	assert_output_contains "can't create /dev/nodrv: Operation not permitted" kmsg-opened \
		"can't create /dev/null: Operation not permitted" "can't create /dev/full: Operation not permitted"
	assert_output_not_contains null-ok
	# /dev/full still reads, /dev/zero and /dev/zero2 (a linux.devices node with its numbers) work.
	[[ "$output" == *$'\n1\n2\n3\ncg 0::/ 77' ]] || fail "device reads, cgroup namespace"
	lane_gone "$id"
}

@test "v2: pause freezes (cgroup.freeze), resume thaws, update changes a running container, exec joins, kill --all uses cgroup.kill" {
	local id=cnt-$RAND dir=$CGROUP2_ROOT$CG_PREFIX/cnt-$RAND a b i
	lane_run "$id" '["sh", "-c", "sleep 1000 & i=0; while true; do i=$((i+1)); echo $i >/tmp/count.new-'"$id"'; mv /tmp/count.new-'"$id"' /tmp/count-'"$id"'; sleep 0.05; done"]' \
		'{"memory": {"limit": 67108864}, "pids": {"limit": 20}, "cpu": {"quota": 20000, "period": 100000}}'
	lane_wait_file "$ROOTFS/tmp/count-$id" 30

	run brig pause "$id"
	assert_success
	cg_check "$dir" cgroup.freeze=1
	cg_key "$dir/cgroup.events" frozen
	[ "$REPLY" = 1 ] || fail "cgroup.events: frozen $REPLY"
	lane_status "$id"
	[ "$REPLY" = paused ] || fail "status $REPLY"
	IFS= read -r a <"$ROOTFS/tmp/count-$id"
	sleep 0.5
	IFS= read -r b <"$ROOTFS/tmp/count-$id"
	[ "$a" = "$b" ] || fail "the counter moved while paused: $a -> $b"
	run brig resume "$id"
	assert_success
	cg_check "$dir" cgroup.freeze=0
	for ((i = 0; i < 50; i++)); do
		IFS= read -r b <"$ROOTFS/tmp/count-$id"
		[ "$b" != "$a" ] && break
		sleep 0.1
	done
	[ "$b" -gt "$a" ] || fail "the counter did not move after resume: $a -> $b"

	run brig update --memory 128m --memory-swap 256m --pids-limit 30 --cpu-quota 50000 --cpu-period 200000 --cpu-share 256 "$id"
	assert_success
	cg_check "$dir" memory.max=134217728 memory.swap.max=134217728 pids.max=30 "cpu.max=50000 200000" cpu.weight=10
	# The swap alone (memory+swap, as on v1) is split with the memory limit in force.
	run brig update --memory-swap 192m "$id"
	assert_success
	cg_check "$dir" memory.max=134217728 memory.swap.max=67108864
	# One of quota and period keeps the other; unified keys apply on update too.
	echo '{"cpu": {"quota": 60000}, "pids": {"limit": 44}, "unified": {"memory.high": "100000000"}}' >"$TEST_DIR/r.json"
	run brig update -r "$TEST_DIR/r.json" "$id"
	assert_success
	cg_check "$dir" "cpu.max=60000 200000" pids.max=44 memory.high=99999744 memory.max=134217728
	run brig update --cpu-quota 10 "$id"
	assert_one_line_error
	assert_output_contains "update container \`$id\`: linux.resources.cpu.quota: write \`10 200000\` to \`$dir/cpu.max\`: Invalid argument"

	# exec joins the container's cgroup.
	run brig exec "$id" cat /proc/self/cgroup
	assert_success
	[ "$output" = "0::$CG_PREFIX/$id" ] || fail "exec placed in: $output"

	run brig kill --all "$id" KILL
	assert_success
	for ((i = 0; i < 50; i++)); do
		IFS= read -r -d '' a <"$dir/cgroup.procs" || true
		[ -z "$a" ] && break
		sleep 0.1
	done
	[ -z "$a" ] || fail "processes left after kill --all: $a"
	run brig delete "$id"
	assert_success
	lane_gone "$id"
}

@test "v2: bad values are refused with the resource, value and file named, and leave nothing" {
	local p=$CGROUP2_ROOT$CG_PREFIX
	lane_refused "bad1-$RAND" '{"unified": {"nosuch.knob": "1"}}' \
		"linux.resources.unified.nosuch.knob: not supported by this host (controller \`nosuch\` is not in the unified hierarchy)"
	lane_refused "bad2-$RAND" '{"unified": {"memory.nosuch": "1"}}' \
		"linux.resources.unified.memory.nosuch: not supported by this host (no memory.nosuch)"
	lane_refused "bad3-$RAND" '{"memory": {"limit": 67108864, "swap": 33554432}}' \
		"linux.resources.memory.swap: 33554432: memory+swap must not be below the memory limit"
	lane_refused "bad4-$RAND" '{"cpu": {"cpus": "4000"}}' \
		"linux.resources.cpu.cpus: write \`4000\` to \`$p/bad4-$RAND/cpuset.cpus\`: "
	lane_refused "bad5-$RAND" '{"cpu": {"quota": 10, "period": 100000}}' \
		"linux.resources.cpu.quota: write \`10 100000\` to \`$p/bad5-$RAND/cpu.max\`: Invalid argument"
	lane_refused "bad6-$RAND" '{"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 1000000}}' \
		"linux.resources.cpu.realtimeRuntime: not supported by this host (cgroup v2 has no realtime cpu limits)"
	lane_refused "bad7-$RAND" '{"blockIO": {"throttleReadBpsDevice": [{"major": 259, "minor": 99, "rate": 1048576}]}}' \
		"linux.resources.blockIO.throttleReadBpsDevice[0]: write \`259:99 rbps=1048576\` to \`$p/bad7-$RAND/io.max\`: No such device"
	local left
	for left in "$p"/*/; do
		[ ! -d "$left" ] || fail "cgroup left: $left"
	done
}
