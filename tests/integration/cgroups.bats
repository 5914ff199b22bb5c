#!/usr/bin/env bats
# Cgroup placement (limits come with a later issue): absolute paths as given, empty or relative ones
# under brig's own parent (never beside the caller, e.g. under /process_api), removal on delete.

load helpers

V1_CONTROLLERS="cpu cpuacct cpuset memory devices freezer blkio pids"

# The container's cgroup path for a v1 controller, from /proc/PID/cgroup.
proc_cgroup() {
	awk -F: -v c="$2" '{ n = split($2, cs, ","); for (i = 1; i <= n; i++) if (cs[i] == c) print $3 }' "/proc/$1/cgroup"
}

start_sleeper() {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	PID=$(container_pid "$ID")
}

@test "an absolute cgroupsPath is used as is in every v1 hierarchy" {
	start_sleeper
	local c
	for c in $V1_CONTROLLERS; do
		[ -d "/sys/fs/cgroup/$c" ] || continue
		[ "$(proc_cgroup "$PID" "$c")" = "$CG_PREFIX/$ID" ] || fail "$c: $(proc_cgroup "$PID" "$c")"
		grep -qx "$PID" "/sys/fs/cgroup/$c$CG_PREFIX/$ID/cgroup.procs" || fail "$PID not in $c cgroup.procs"
	done
}

@test "every process of the container is in its cgroup" {
	bundle_set_args sh -c 'sleep 1000 & sleep 1000 & wait'
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	sleep 0.2
	local n
	n=$(wc -l <"/sys/fs/cgroup/pids$CG_PREFIX/$ID/cgroup.procs")
	[ "$n" -eq 3 ] || fail "$n processes in the cgroup"
}

@test "the cgroup exists from create on and is removed on delete" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	local pid
	pid=$(container_pid "$ID")
	[ "$(proc_cgroup "$pid" memory)" = "$CG_PREFIX/$ID" ]
	run brig delete --force "$ID"
	assert_success
	local c
	for c in $V1_CONTROLLERS; do
		[ ! -d "/sys/fs/cgroup/$c$CG_PREFIX/$ID" ] || fail "$c cgroup left"
	done
	assert_nothing_left
}

@test "run removes the cgroup when the container exits" {
	run_in_container true
	assert_success
	local c
	for c in $V1_CONTROLLERS; do
		[ ! -d "/sys/fs/cgroup/$c$CG_PREFIX/$ID" ] || fail "$c cgroup left"
	done
	assert_nothing_left
}

@test "delete --force kills processes that left the init behind" {
	bundle_set_args sh -c 'sleep 1000 & exec sleep 1000'
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	sleep 0.2
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "an empty cgroupsPath goes under /brig/<id>, never beside the caller" {
	require_brig
	own_cgroup "/brig/$ID"
	bundle_jq 'del(.linux.cgroupsPath)'
	start_sleeper
	local c
	for c in memory pids cpu; do
		[ "$(proc_cgroup "$PID" "$c")" = "/brig/$ID" ] || fail "$c: $(proc_cgroup "$PID" "$c")"
	done
	[ -z "$(find /sys/fs/cgroup/memory/process_api -name "*$RAND*" 2>/dev/null)" ] || fail "cgroup under /process_api"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "a relative cgroupsPath goes under /brig/" {
	require_brig
	own_cgroup "/brig/rel-$RAND"
	bundle_jq '.linux.cgroupsPath = "rel-'"$RAND"'/'"$ID"'"'
	start_sleeper
	[ "$(proc_cgroup "$PID" memory)" = "/brig/rel-$RAND/$ID" ] || fail "memory: $(proc_cgroup "$PID" memory)"
	[ -z "$(find /sys/fs/cgroup/memory/process_api -name "*$RAND*" 2>/dev/null)" ] || fail "cgroup under /process_api"
	run brig delete --force "$ID"
	assert_success
	[ ! -d "/sys/fs/cgroup/memory/brig/rel-$RAND/$ID" ]
}

@test "a cgroupsPath with .. is refused, nothing created" {
	require_brig
	bundle_jq '.linux.cgroupsPath = "'"$CG_PREFIX"'/../../escape-'"$RAND"'"'
	brig_create
	assert_one_line_error
	assert_output_contains cgroupsPath
	local c
	for c in $V1_CONTROLLERS; do
		[ ! -d "/sys/fs/cgroup/$c/escape-$RAND" ] || fail "created /escape-$RAND in $c"
	done
	assert_nothing_left
}

@test "a container that exits on its own keeps its cgroup until delete removes it" {
	bundle_set_args sh -c 'sleep 0.3'
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" stopped
	[ "$(proc_cgroup $$ memory)" != "$CG_PREFIX/$ID" ]
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "an init in a new user namespace, and a process exec'd into it, enter the cgroup in every hierarchy" {
	# The init moves itself in through files brig opened (as root) before the clone: it could not open them.
	bundle_add_ns user
	bundle_jq '.linux.uidMappings = [{containerID: 0, hostID: 200000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 200000, size: 65536}]'
	start_sleeper
	local c
	for c in $V1_CONTROLLERS; do
		[ -d "/sys/fs/cgroup/$c" ] || continue
		[ "$(proc_cgroup "$PID" "$c")" = "$CG_PREFIX/$ID" ] || fail "init, $c: $(proc_cgroup "$PID" "$c")"
	done
	if [ -d /sys/fs/cgroup/unified ]; then
		grep -qx "0::$CG_PREFIX/$ID" "/proc/$PID/cgroup" || fail "init not in the unified hierarchy: $(cat "/proc/$PID/cgroup")"
	fi
	brig exec -d "$ID" sleep 999
	local n
	n=$(wc -l <"/sys/fs/cgroup/pids$CG_PREFIX/$ID/cgroup.procs")
	[ "$n" -eq 2 ] || fail "$n processes in the pids cgroup"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}
