#!/usr/bin/env bats
# linux.resources: each resource is checked in the cgroup files after create, and the ones that matter
# most are enforced for real (memory OOM kill, pids limit, device rules). Refused or unsupported values
# fail with an error naming the resource and leave nothing behind. Works on v1/hybrid hosts and on v2.

load helpers

is_v2() {
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
}

# The file of the container's cgroup: cg_file CONTROLLER FILE (the controller is ignored on v2).
cg_file() {
	if is_v2; then
		echo "/sys/fs/cgroup$CG_PREFIX/$ID/$2"
	else
		echo "/sys/fs/cgroup/$1$CG_PREFIX/$ID/$2"
	fi
}

cg_read() {
	cat "$(cg_file "$1" "$2")"
}

create_with() {
	bundle_set_args sleep 1000
	bundle_jq ".linux.resources = (.linux.resources // {}) + $1"
	brig_create
}

# A create that must fail with an error starting with $2 (and containing $3...), leaving no cgroup.
expect_refused() {
	bundle_set_args sleep 1000
	bundle_jq ".linux.resources = (.linux.resources // {}) + $1"
	brig_create
	assert_one_line_error
	shift
	assert_output_contains "$@"
	assert_nothing_left
	local mnt
	for mnt in $(cgroup_mounts); do
		[ ! -d "$mnt$CG_PREFIX/$ID" ] || fail "cgroup left: $mnt$CG_PREFIX/$ID"
	done
}

@test "memory limit, swap, reservation and swappiness are written" {
	create_with '{"memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432, "swappiness": 10}}'
	assert_success
	if is_v2; then
		[ "$(cg_read memory memory.max)" = 67108864 ]
		[ "$(cg_read memory memory.swap.max)" = 33554432 ]
		[ "$(cg_read memory memory.low)" = 33554432 ]
	else
		[ "$(cg_read memory memory.limit_in_bytes)" = 67108864 ]
		[ "$(cg_read memory memory.memsw.limit_in_bytes)" = 100663296 ]
		[ "$(cg_read memory memory.soft_limit_in_bytes)" = 33554432 ]
		[ "$(cg_read memory memory.swappiness)" = 10 ]
	fi
}

@test "disableOOMKiller and kernelTCP (v1)" {
	is_v2 && skip "v1 files"
	create_with '{"memory": {"limit": 67108864, "disableOOMKiller": true, "kernelTCP": 16777216}}'
	assert_success
	grep -qx 'oom_kill_disable 1' "$(cg_file memory memory.oom_control)"
	if [ -e "$(cg_file memory memory.kmem.tcp.limit_in_bytes)" ]; then
		[ "$(cg_read memory memory.kmem.tcp.limit_in_bytes)" = 16777216 ]
	fi
}

@test "cpu shares, quota, period, burst, cpus and mems are written" {
	create_with '{"cpu": {"shares": 512, "quota": 30000, "period": 60000, "burst": 10000, "cpus": "0", "mems": "0"}}'
	assert_success
	if is_v2; then
		[ "$(cg_read cpu cpu.weight)" = 20 ]
		[ "$(cg_read cpu cpu.max)" = "30000 60000" ]
		[ "$(cg_read cpu cpu.max.burst)" = 10000 ]
	else
		[ "$(cg_read cpu cpu.shares)" = 512 ]
		[ "$(cg_read cpu cpu.cfs_quota_us)" = 30000 ]
		[ "$(cg_read cpu cpu.cfs_period_us)" = 60000 ]
		[ "$(cg_read cpu cpu.cfs_burst_us)" = 10000 ]
	fi
	[ "$(cg_read cpuset cpuset.cpus)" = 0 ]
	[ "$(cg_read cpuset cpuset.mems)" = 0 ]
}

@test "cpu idle is written" {
	[ -e /sys/fs/cgroup/cpu/cpu.idle ] || [ -e /sys/fs/cgroup/cpu.idle ] || is_v2 || skip "no cpu.idle"
	create_with '{"cpu": {"idle": 1}}'
	assert_success
	[ "$(cg_read cpu cpu.idle)" = 1 ]
}

@test "pids limit is written" {
	create_with '{"pids": {"limit": 42}}'
	assert_success
	[ "$(cg_read pids pids.max)" = 42 ]
}

# The first virtual or SCSI disk's major:minor.
first_disk() {
	local d
	for d in /sys/block/*; do
		case "${d##*/}" in loop* | ram* | zram* | nbd*) continue ;; esac
		cat "$d/dev"
		return 0
	done
	return 1
}

@test "blockIO throttles are written" {
	local dev major minor
	dev=$(first_disk) || skip "no disk"
	major=${dev%:*} minor=${dev#*:}
	create_with "{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": $major, \"minor\": $minor, \"rate\": 1048576}],
		\"throttleWriteIOPSDevice\": [{\"major\": $major, \"minor\": $minor, \"rate\": 100}]}}"
	assert_success
	if is_v2; then
		grep -q "^$dev rbps=1048576 wbps=max riops=max wiops=100" "$(cg_file io io.max)"
	else
		[ "$(cg_read blkio blkio.throttle.read_bps_device)" = "$dev 1048576" ]
		[ "$(cg_read blkio blkio.throttle.write_iops_device)" = "$dev 100" ]
	fi
}

@test "blockIO weight is written where the host has a weight file, else refused by name" {
	create_with '{"blockIO": {"weight": 300}}'
	if [ "$status" -eq 0 ]; then
		if is_v2; then
			[ "$(cg_read io io.bfq.weight)" = "default 300" ] || [ "$(cg_read io io.weight)" = "default 2928" ]
		else
			[ "$(cg_read blkio blkio.weight 2>/dev/null || cg_read blkio blkio.bfq.weight)" = 300 ] ||
				[ "$(cg_read blkio blkio.bfq.weight)" = "default 300" ]
		fi
	else
		assert_one_line_error
		assert_output_contains "linux.resources.blockIO.weight: not supported by this host (no blkio.weight)"
		assert_nothing_left
	fi
}

@test "hugepage limits are written (v1 hugetlb or the unified hierarchy)" {
	[ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || skip "no 2MB pages"
	if ! is_v2 && [ ! -d /sys/fs/cgroup/hugetlb ] && ! grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
		expect_refused '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}' \
			"linux.resources.hugepageLimits[0]: not supported by this host (no hugetlb controller)"
		return
	fi
	create_with '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}'
	assert_success
	if [ -d /sys/fs/cgroup/hugetlb ]; then
		[ "$(cg_read hugetlb hugetlb.2MB.limit_in_bytes)" = 4194304 ]
	elif is_v2; then
		[ "$(cg_read hugetlb hugetlb.2MB.max)" = 4194304 ]
		[ ! -e "$(cg_file hugetlb hugetlb.2MB.rsvd.max)" ] || [ "$(cg_read hugetlb hugetlb.2MB.rsvd.max)" = 4194304 ]
	else
		[ "$(cat "/sys/fs/cgroup/unified$CG_PREFIX/$ID/hugetlb.2MB.max")" = 4194304 ]
	fi
}

@test "a bad hugepage size is refused by name" {
	expect_refused '{"hugepageLimits": [{"pageSize": "2XB", "limit": 1}]}' \
		'linux.resources.hugepageLimits[0].pageSize: `2XB` is not a size like 2MB or 1GB'
}

@test "network classID is refused by name where the host has no net_cls" {
	[ -d /sys/fs/cgroup/net_cls ] && skip "host has net_cls"
	expect_refused '{"network": {"classID": 1048577}}' \
		"linux.resources.network.classID: not supported by this host (no net_cls controller)"
}

@test "network priorities are refused by name where the host has no net_prio" {
	[ -d /sys/fs/cgroup/net_prio ] && skip "host has net_prio"
	expect_refused '{"network": {"priorities": [{"name": "eth0", "priority": 5}]}}' \
		"linux.resources.network.priorities: not supported by this host (no net_prio controller)"
}

@test "unified keys: written on v2, refused by name for a v1-bound controller, unknown keys refused" {
	if is_v2; then
		create_with '{"unified": {"pids.max": "17", "memory.high": "50000000"}}'
		assert_success
		[ "$(cg_read pids pids.max)" = 17 ]
		[ "$(cg_read memory memory.high)" = 49999872 ] || [ "$(cg_read memory memory.high)" = 50000000 ]
	else
		expect_refused '{"unified": {"memory.max": "1000000"}}' \
			'linux.resources.unified.memory.max: not supported by this host (controller `memory` is bound to cgroup v1 here)'
	fi
}

@test "an unknown unified key is refused by name" {
	expect_refused '{"unified": {"nosuch.knob": "1"}}' "linux.resources.unified.nosuch.knob: not supported by this host"
}

@test "a value the kernel refuses names resource, value and file, and leaves no cgroup" {
	is_v2 && skip "v1 memsw"
	expect_refused '{"memory": {"limit": 67108864, "swap": 33554432}}' \
		"linux.resources.memory.swap: write \`33554432\` to \`/sys/fs/cgroup/memory$CG_PREFIX/$ID/memory.memsw.limit_in_bytes\`: Invalid argument"
}

@test "a swap below the limit is refused on v2 too" {
	is_v2 || skip "v2 conversion"
	expect_refused '{"memory": {"limit": 67108864, "swap": 33554432}}' \
		"linux.resources.memory.swap: 33554432: memory+swap must not be below the memory limit"
}

@test "a cpuset the machine does not have is refused with the file named" {
	expect_refused '{"cpu": {"cpus": "4000"}}' "linux.resources.cpu.cpus: write \`4000\` to \`" "/cpuset.cpus\`: "
}

@test "a CFS quota below the kernel's minimum is refused" {
	expect_refused '{"cpu": {"quota": 10, "period": 100000}}' "linux.resources.cpu.quota: write \`" "Invalid argument"
}

@test "realtime runtime beyond the parent's budget is refused (v1); not supported on v2" {
	if is_v2; then
		expect_refused '{"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 1000000}}' \
			"linux.resources.cpu.realtimeRuntime: not supported by this host (cgroup v2 has no realtime cpu limits)"
	else
		[ -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] || skip "no RT group scheduling"
		expect_refused '{"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 1000000}}' \
			"linux.resources.cpu.realtimeRuntime: write \`1000\` to \`/sys/fs/cgroup/cpu$CG_PREFIX/$ID/cpu.rt_runtime_us\`: Invalid argument"
	fi
}

@test "a memory hog is OOM-killed at the limit" {
	bundle_jq '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	run_in_container sh -c 'tail /dev/zero; echo "status $?"'
	assert_success
	assert_output_contains "status 137"
}

@test "a fork loop stops at the pids limit" {
	bundle_jq '.linux.resources.pids = {"limit": 10}'
	# The loop runs in a subshell: a shell whose fork fails gives up, and the init must stay.
	bundle_set_args sh -c '(for i in $(seq 30); do sleep 1000 & done) 2>/dev/null; sleep 1000'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	sleep 1
	local n
	n=$(wc -l <"$(cg_file pids cgroup.procs)")
	[ "$n" -le 10 ] || fail "$n processes despite pids.max 10"
	[ "$n" -ge 9 ] || fail "only $n processes"
}

@test "a device rule denies /dev/null while the other defaults stay" {
	bundle_jq '.linux.resources.devices = [{"allow": false, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]'
	run_in_container sh -c 'echo x > /dev/null && echo null-ok; head -c 4 /dev/zero >/dev/full 2>&1; head -c 1 /dev/zero | wc -c'
	assert_output_contains "Operation not permitted" "1"
	assert_output_not_contains "null-ok"
}

@test "the default device rules allow the standard devices and deny others" {
	is_v2 || {
		bundle_set_args sleep 1000
		brig_create
		assert_success
		grep -qx 'c 1:3 rwm' "$(cg_file devices devices.list)"
		! grep -q '^a ' "$(cg_file devices devices.list)"
		run brig delete --force "$ID"
	}
	# A linux.devices node with a default device's numbers is that device.
	bundle_jq '.linux.devices = [{"path": "/dev/zero2", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]'
	run_in_container sh -c 'echo x > /dev/null && echo null-ok; head -c 3 /dev/zero2 | wc -c'
	assert_success
	assert_output_contains null-ok 3
}

# Opening /dev/kmsg for writing needs no capability, only what kernel.printk_devkmsg allows; nothing
# is written to it.
require_devkmsg() {
	[ "$(cat /proc/sys/kernel/printk_devkmsg 2>/dev/null)" != off ] || skip "kernel.printk_devkmsg is off"
}

@test "a linux.devices node is denied (EPERM) unless a device rule allows it; a node a rule denies is made but not opened" {
	require_devkmsg
	# /dev/mykmsg (1:11) is no default device; /dev/mydev is /dev/null's 1:3 under another name.
	bundle_jq '.linux.devices = [{path: "/dev/mykmsg", type: "c", major: 1, minor: 11, fileMode: 438},
		{path: "/dev/mydev", type: "c", major: 1, minor: 3, fileMode: 438}]'
	# The default config's rules: deny everything, the default devices come back on top.
	run_in_container sh -c '(: >/dev/mykmsg) && echo kmsg-opened; echo x >/dev/mydev && echo mydev-ok'
	assert_success
	assert_output_contains "can't create /dev/mykmsg: Operation not permitted" mydev-ok
	assert_output_not_contains kmsg-opened
	# A rule that allows it: the node opens.
	bundle_jq '.linux.resources.devices += [{allow: true, type: "c", major: 1, minor: 11, access: "w"}]'
	run_in_container sh -c '(: >/dev/mykmsg) && echo kmsg-opened'
	assert_success
	assert_output_contains kmsg-opened
	# Everything allowed, then the node's numbers denied: the node is made, and cannot be opened.
	bundle_jq '.linux.resources.devices = [{allow: true, access: "rwm"}, {allow: false, type: "c", major: 1, minor: 3, access: "rwm"}]'
	run_in_container sh -c 'stat -c "%t:%T" /dev/mydev; echo x >/dev/mydev && echo mydev-ok; (: >/dev/mykmsg) && echo kmsg-opened'
	assert_success
	assert_output_contains "1:3" "can't create /dev/mydev: Operation not permitted" kmsg-opened
	assert_output_not_contains mydev-ok
}

@test "device rule access: r, w and m in any order and combination, a for all; another letter is refused by name" {
	require_devkmsg
	bundle_jq '.linux.devices = [{path: "/dev/mykmsg", type: "c", major: 1, minor: 11, fileMode: 438}]'
	local access
	for access in mr wm a; do
		bundle_jq '.linux.resources.devices = [{allow: false, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 11, access: $a},
			{allow: false, type: "c", major: 1, minor: 3, access: "a"}]' --arg a "$access"
		run_in_container sh -c '(: >/dev/mykmsg) && echo kmsg-opened; echo x >/dev/null && echo null-ok; true'
		assert_success
		assert_output_contains "can't create /dev/null: Operation not permitted"
		assert_output_not_contains null-ok
		if [ "$access" = mr ]; then
			assert_output_contains "can't create /dev/mykmsg: Operation not permitted"
		else
			assert_output_contains kmsg-opened
		fi
	done
	require_brig
	expect_refused '{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rwx"}]}' \
		"linux.resources.devices[1].access: \`rwx\`: unknown access \`x\` (expected r, w, m or a)"
}

@test "delete removes the cgroup of a running and of a paused container" {
	create_with '{"memory": {"limit": 67108864}, "pids": {"limit": 50}}'
	assert_success
	run brig start "$ID"
	assert_success
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left

	local id2=${ID}-p bundle2
	bundle2=$(make_bundle "$id2")
	CONFIG_BUNDLE=$bundle2 bundle_jq '.process.args = ["sleep", "1000"] | .linux.resources.memory = {"limit": 67108864}'
	brig_detached "$id2" create --bundle "$bundle2"
	assert_success
	run brig start "$id2"
	assert_success
	run brig pause "$id2"
	assert_success
	[ "$(container_status "$id2")" = paused ]
	run brig delete --force "$id2"
	assert_success
	assert_nothing_left
}

@test "kill --all reaches every process of the container" {
	bundle_set_args sh -c 'sleep 1000 & sleep 1000 & wait'
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	sleep 0.2
	run brig kill --all "$ID" KILL
	assert_success
	local i
	for i in $(seq 50); do
		[ -z "$(cat "$(cg_file pids cgroup.procs)" 2>/dev/null)" ] && break
		sleep 0.1
	done
	[ -z "$(cat "$(cg_file pids cgroup.procs)" 2>/dev/null)" ] || fail "processes left"
}
