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

@test "--systemd-cgroup without systemd as PID 1 (this host): one clear error from create and restore, nothing left" {
	require_brig
	[ ! -d /run/systemd/system ] || skip "systemd runs here: the driver is tested in the systemd guest (lane.sh --systemd)"
	bundle_jq '.linux.cgroupsPath = "system.slice:brig:'"$ID"'"'
	run "$BRIG" --root "$BRIG_ROOT" --systemd-cgroup create --bundle "$BUNDLE" "$ID"
	assert_failure
	assert_one_line_error
	assert_output_contains "--systemd-cgroup: systemd is not running on this host" "cgroupfs"
	assert_nothing_left
	# restore says the same, before it looks at CRIU or the image: no tree in a cgroup of the wrong kind.
	mkdir -p "$BUNDLE/no-image"
	run "$BRIG" --root "$BRIG_ROOT" --systemd-cgroup restore --bundle "$BUNDLE" --image-path "$BUNDLE/no-image" "$ID"
	assert_failure
	assert_one_line_error
	assert_output_contains "restore container \`$ID\`" "--systemd-cgroup: systemd is not running on this host"
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

# ---- a cgroup that exists before create ----

# A host process (carrying the test's token, so teardown kills it) that lives in the cgroup CG of the
# memory, pids and freezer hierarchies (plain v1 ones: a new cpuset cgroup would need cpus and mems first)
# and of the unified one. Its pid is in $HOST_PID.
host_process_in() {
	local cg=$1 c
	BRIG_TEST_TOKEN=$TOKEN sleep 1000 3>&- &
	HOST_PID=$!
	disown "$HOST_PID"
	for c in memory pids freezer unified; do
		[ -d "/sys/fs/cgroup/$c" ] || continue
		mkdir -p "/sys/fs/cgroup/$c$cg"
		echo "$HOST_PID" >"/sys/fs/cgroup/$c$cg/cgroup.procs"
	done
}

# Dead: gone, or a zombie its new parent has not reaped yet.
is_dead() {
	[ ! -e "/proc/$1" ] || [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

freezer_state() {
	echo "$2" >"/sys/fs/cgroup/freezer$1/freezer.state"
}

@test "a second container with the same cgroupsPath is refused, from this --root or another, and the first keeps running" {
	require_brig
	start_sleeper
	local b other_root=$TEST_DIR/other-root
	b=$(make_bundle "b-$RAND")
	CONFIG_BUNDLE=$b bundle_jq '.linux.cgroupsPath = $c | .process.args = ["sleep", "1000"]' --arg c "$CG_PREFIX/$ID"
	# Before: the create succeeded, or failed later (here at --pidfd-socket) and killed the first container.
	brig_detached "b-$RAND" create --bundle "$b" --pidfd-socket "$TEST_DIR/no-such-socket"
	assert_one_line_error
	assert_output_contains "cgroup \`$CG_PREFIX/$ID\`: in use by container \`$ID\` (running)"
	[ ! -e "$BRIG_ROOT/b-$RAND" ] || fail "state of the refused container left"
	brig_detached "b-$RAND" run --bundle "$b" -d
	assert_one_line_error
	assert_output_contains "in use by container \`$ID\` (running)"
	# Another --root does not know the first container: its init is in other namespaces than brig's.
	mkdir -p "$other_root"
	BRIG_ROOT=$other_root brig_detached "b-$RAND" create --bundle "$b"
	assert_one_line_error
	assert_output_contains "cgroup \`$CG_PREFIX/$ID\`: holds 1 process(es) of another container"
	[ -z "$(ls -A "$other_root")" ] || fail "state left in the other root: $(ls -A "$other_root")"
	# A cgroup above the first one's is refused too: the delete of either would kill the other.
	CONFIG_BUNDLE=$b bundle_jq '.linux.cgroupsPath = $c' --arg c "$CG_PREFIX"
	brig_detached "b-$RAND" create --bundle "$b"
	assert_one_line_error
	assert_output_contains "cgroup \`$CG_PREFIX\`: overlaps the cgroup \`$CG_PREFIX/$ID\` of container \`$ID\` (running)"
	run brig delete --force "b-$RAND"
	assert_success
	[ "$(container_status "$ID")" = running ] || fail "the first container is $(container_status "$ID")"
	kill -0 "$PID" || fail "the first container's init is gone"
	grep -qx "$PID" "/sys/fs/cgroup/memory$CG_PREFIX/$ID/cgroup.procs" || fail "init no longer in its cgroup"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "a stopped container's cgroup is still its own: a second container is refused until it is deleted" {
	require_brig
	bundle_set_args true
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" stopped
	local b
	b=$(make_bundle "b-$RAND")
	CONFIG_BUNDLE=$b bundle_jq '.linux.cgroupsPath = $c' --arg c "$CG_PREFIX/$ID"
	brig_detached "b-$RAND" create --bundle "$b"
	assert_one_line_error
	assert_output_contains "cgroup \`$CG_PREFIX/$ID\`: in use by container \`$ID\` (stopped)"
	run brig delete "$ID"
	assert_success
	brig_detached "b-$RAND" create --bundle "$b"
	assert_success
	run brig delete --force "b-$RAND"
	assert_success
	assert_nothing_left
}

@test "a cgroup that holds host processes: create warns and joins; a failed create and delete leave them and the cgroup" {
	require_brig
	host_process_in "$CG_PREFIX/$ID"
	bundle_set_args sleep 1000
	# A create that fails after its init is ready kills that init only.
	brig_create "$ID" --pidfd-socket "$TEST_DIR/no-such-socket"
	assert_failure
	assert_output_contains "warning: container's cgroup is not empty: 1 process(es) in \`$CG_PREFIX/$ID\`" "--pidfd-socket"
	kill -0 "$HOST_PID" || fail "the failed create killed the host process"
	[ -d "/sys/fs/cgroup/memory$CG_PREFIX/$ID" ] || fail "the failed create removed the cgroup"
	[ ! -e "$BRIG_ROOT/$ID" ] || fail "state left"
	brig_create
	assert_success
	assert_output_contains "container's cgroup is not empty: 1 process(es)"
	run brig start "$ID"
	assert_success
	PID=$(container_pid "$ID")
	grep -qx "$PID" "/sys/fs/cgroup/memory$CG_PREFIX/$ID/cgroup.procs" || fail "init not in the cgroup"
	run brig delete --force "$ID"
	assert_success
	is_dead "$PID" || fail "the container's init survived its delete"
	kill -0 "$HOST_PID" || fail "delete killed the host process"
	grep -qx "$HOST_PID" "/sys/fs/cgroup/memory$CG_PREFIX/$ID/cgroup.procs" || fail "the cgroup went"
	[ ! -e "$BRIG_ROOT/$ID" ] || fail "state left"
}

@test "create and run -d into a frozen cgroup, or below a frozen one, fail at once and leave no state" {
	require_brig
	mkdir -p "/sys/fs/cgroup/freezer$CG_PREFIX/$ID"
	freezer_state "$CG_PREFIX/$ID" FROZEN
	bundle_set_args sleep 1000
	# Before: create blocked until killed, and left a state that delete --force could not remove.
	BRIG_TIMEOUT=5 brig_create
	assert_one_line_error
	assert_output_contains "cgroup \`$CG_PREFIX/$ID\`: is frozen" "freezer.state\` is FROZEN"
	BRIG_TIMEOUT=5 brig_detached "$ID" run --bundle "$BUNDLE" -d
	assert_one_line_error
	assert_output_contains "is frozen"
	[ ! -e "$BRIG_ROOT/$ID" ] || fail "state left"
	[ -z "$(brig list -q)" ] || fail "list shows $(brig list -q)"
	[ "$(cat "/sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state")" = FROZEN ] || fail "the cgroup was thawed"
	[ ! -d "/sys/fs/cgroup/memory$CG_PREFIX/$ID" ] || fail "the memory cgroup made by the failed create is left"
	# A new cgroup below a frozen one is frozen from birth.
	freezer_state "$CG_PREFIX/$ID" THAWED
	rmdir "/sys/fs/cgroup/freezer$CG_PREFIX/$ID"
	freezer_state "$CG_PREFIX" FROZEN
	BRIG_TIMEOUT=5 brig_create
	assert_one_line_error
	assert_output_contains "cgroup \`$CG_PREFIX/$ID\`: is frozen"
	freezer_state "$CG_PREFIX" THAWED
	assert_nothing_left
}

@test "a cgroup frozen while the container is being created fails the create instead of blocking it" {
	require_brig
	bundle_set_args sleep 1000
	bundle_jq '.hooks.createRuntime = [{path: "/bin/sh", args: ["sh", "-c", $cmd]}]' \
		--arg cmd "echo FROZEN > /sys/fs/cgroup/freezer$CG_PREFIX/$ID/freezer.state"
	BRIG_TIMEOUT=8 brig_create
	assert_one_line_error
	assert_output_contains "frozen before the init was ready: cgroup \`$CG_PREFIX/$ID\`: is frozen"
	assert_nothing_left
}

@test "delete --force thaws the container's cgroup when a process frozen there holds the container's lock" {
	# As a create's init does that froze before it closed brig's fds (a create killed then leaves it so).
	require_brig
	start_sleeper
	(
		echo "$BASHPID" >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/cgroup.procs"
		exec env BRIG_TEST_TOKEN="$TOKEN" flock -x "$BRIG_ROOT/$ID" sleep 2
	) 3>&- &
	local i
	for i in $(seq 50); do
		flock -n "$BRIG_ROOT/$ID" true || break
		sleep 0.05
	done
	freezer_state "$CG_PREFIX/$ID" FROZEN
	BRIG_TIMEOUT=8 run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "delete --force kills processes in a frozen cgroup the container made below its own" {
	bundle_set_args sh -c 'sleep 1000 & exec sleep 1000'
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	local child=
	for _ in $(seq 50); do
		child=$(pgrep -P "$(container_pid "$ID")" sleep) && break
		sleep 0.05
	done
	[ -n "$child" ] || fail "no child process"
	mkdir "/sys/fs/cgroup/freezer$CG_PREFIX/$ID/sub"
	echo "$child" >"/sys/fs/cgroup/freezer$CG_PREFIX/$ID/sub/cgroup.procs"
	freezer_state "$CG_PREFIX/$ID/sub" FROZEN
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}
