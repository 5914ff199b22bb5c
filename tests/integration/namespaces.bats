#!/usr/bin/env bats
# Each namespace type: created when asked for, shared with the host when not, joined by path.

load helpers

ALL_NS="pid net ipc uts mnt cgroup user time"

# "TYPE LINK" for each namespace of the container's process.
ns_script='for n in pid net ipc uts mnt cgroup user time; do echo "$n $(readlink /proc/self/ns/$n)"; done'

# ns_link_in_output TYPE: the container's namespace link for TYPE from the last run's output.
ns_inside() {
	awk -v t="$1" '$1 == t { print $2 }' <<<"$output"
}

ns_host() {
	readlink "/proc/$$/ns/$1"
}

# config type name -> /proc/self/ns name
ns_proc_name() {
	case "$1" in
	network) echo net ;;
	mount) echo mnt ;;
	*) echo "$1" ;;
	esac
}

@test "the default namespaces (pid, network, ipc, uts, mount) are new; the others are the host's" {
	run_in_container sh -c "$ns_script"
	assert_success
	local n
	for n in pid net ipc uts mnt; do
		[ -n "$(ns_inside $n)" ] || fail "no $n link inside"
		[ "$(ns_inside $n)" != "$(ns_host $n)" ] || fail "$n namespace is the host's"
	done
	for n in cgroup user time; do
		[ "$(ns_inside $n)" = "$(ns_host $n)" ] || fail "$n namespace is not the host's"
	done
	assert_nothing_left
}

@test "dropping a default namespace shares the host's" {
	local t
	for t in pid network ipc uts; do
		bundle_drop_ns "$t"
	done
	bundle_jq 'del(.hostname)' # a hostname needs a private uts namespace
	run_in_container sh -c "$ns_script"
	assert_success
	local n
	for n in pid net ipc uts; do
		[ "$(ns_inside $n)" = "$(ns_host $n)" ] || fail "$n namespace is not the host's"
	done
	[ "$(ns_inside mnt)" != "$(ns_host mnt)" ]
}

@test "pid namespace: the container process is pid 1" {
	run_in_container sh -c 'echo $$; ps -o pid | wc -l'
	assert_success
	[ "${lines[0]}" = 1 ]
}

@test "uts namespace: hostname is set and the host's is untouched" {
	local before
	before=$(hostname)
	bundle_jq '.hostname = "box-'"$RAND"'"'
	run_in_container hostname
	assert_success
	[ "$output" = "box-$RAND" ]
	[ "$(hostname)" = "$before" ]
}

@test "network namespace: only a loopback device, and it is usable" {
	run_in_container sh -c 'ls /sys/class/net; ip link show lo >/dev/null && echo lo-ok'
	assert_success
	[ "${lines[0]}" = lo ]
	assert_output_contains lo-ok
}

@test "ipc namespace: a System V queue created inside is not visible on the host" {
	run_in_container sh -c 'ipcs -q | wc -l; cat /proc/sysvipc/msg | wc -l'
	assert_success
	[ "${lines[1]}" -le 1 ]
}

@test "cgroup namespace: the container sees its cgroup as /" {
	bundle_add_ns cgroup
	run_in_container sh -c "$ns_script; cat /proc/self/cgroup"
	assert_success
	[ "$(ns_inside cgroup)" != "$(ns_host cgroup)" ]
	grep -E '^[0-9]+:memory:' <<<"$output" | grep -q ':/$' || fail "memory cgroup is not / inside"
}

@test "user namespace: uid and gid mappings are applied" {
	bundle_add_ns user
	bundle_jq '.linux.uidMappings = [{containerID: 0, hostID: 200000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 300000, size: 65536}]'
	run_in_container sh -c "$ns_script; echo uid_map \$(cat /proc/self/uid_map); echo gid_map \$(cat /proc/self/gid_map); echo id \$(id -u):\$(id -g)"
	assert_success
	[ "$(ns_inside user)" != "$(ns_host user)" ]
	assert_output_contains "uid_map 0 200000 65536" "gid_map 0 300000 65536" "id 0:0"
	assert_nothing_left
}

@test "user namespace: a process running as container uid 1000 is host uid 201000" {
	bundle_add_ns user
	bundle_jq '.linux.uidMappings = [{containerID: 0, hostID: 200000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 200000, size: 65536}]
		| .process.user = {uid: 1000, gid: 1000}'
	bundle_set_args sleep 1000
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	wait_for_status "$ID" running
	local pid
	pid=$(container_pid "$ID")
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = 201000 ]
	[ "$(awk '/^Gid:/ { print $2 }' "/proc/$pid/status")" = 201000 ]
}

@test "user namespace: bind mounts whose sources only the host's root can reach still mount" {
	# In a directory only root may search: the container's root, host uid 100000, cannot even look the
	# sources up; the runtime opens them while it still has the host's privileges.
	local private=$TEST_DIR/private
	mkdir -p "$private/dir"
	echo hidden >"$private/dir/file"
	echo single >"$private/file"
	chmod 700 "$private" "$private/dir"
	chmod 600 "$private/file"
	# The rootfs belongs to the host's root, in which the container's root cannot make mount points.
	mkdir "$ROOTFS/private-dir"
	touch "$ROOTFS/private-file"
	bundle_add_ns user
	bundle_jq '.linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .mounts += [{destination: "/private-dir", type: "bind", source: $d, options: ["rbind", "ro"]},
			{destination: "/private-file", type: "bind", source: $f, options: ["bind"]}]' \
		--arg d "$private/dir" --arg f "$private/file"
	run_in_container sh -c 'cat /proc/self/mountinfo; stat -c "%n %a" /private-dir /private-file'
	assert_success
	assert_output_contains "/private-dir 700" "/private-file 600"
	local dir_line file_line
	dir_line=$(awk '$5 == "/private-dir"' <<<"$output")
	file_line=$(awk '$5 == "/private-file"' <<<"$output")
	[[ "$dir_line" == *"/private/dir /private-dir ro,"* ]] || fail "/private-dir is not the bind mount: $dir_line"
	[[ "$file_line" == *"/private/file /private-file "* ]] || fail "/private-file is not the bind mount: $file_line"
	assert_nothing_left
}

@test "time namespace: boottime and monotonic offsets apply inside" {
	bundle_add_ns time
	bundle_jq '.linux.timeOffsets = {boottime: {secs: 864000, nanosecs: 0}, monotonic: {secs: 432000, nanosecs: 0}}'
	local host_uptime
	host_uptime=$(cut -d. -f1 /proc/uptime)
	run_in_container cat /proc/uptime
	assert_success
	local inside=${output%%.*}
	# /proc/uptime follows CLOCK_BOOTTIME.
	[ "$inside" -ge $((host_uptime + 864000 - 5)) ] && [ "$inside" -le $((host_uptime + 864000 + 60)) ] ||
		fail "uptime inside $inside, host $host_uptime"
	run_in_container sh -c "$ns_script"
	[ "$(ns_inside time)" != "$(ns_host time)" ]
}

@test "timeOffsets without a time namespace are refused" {
	require_brig
	bundle_jq '.linux.timeOffsets = {boottime: {secs: 100, nanosecs: 0}}'
	run_in_container true
	assert_one_line_error
	assert_output_contains timeOffsets
	assert_nothing_left
}

@test "join a network namespace by path (ip netns add)" {
	local ns
	ns=$(make_netns net)
	ip netns exec "$ns" ip link set lo up
	local want
	want=$(ip netns exec "$ns" readlink /proc/self/ns/net)
	bundle_add_ns network "/run/netns/$ns"
	run_in_container sh -c "$ns_script"
	assert_success
	[ "$(ns_inside net)" = "$want" ] || fail "net is $(ns_inside net), want $want"
	# The namespace outlives the container.
	[ -e "/run/netns/$ns" ]
	[ "$(ip netns exec "$ns" readlink /proc/self/ns/net)" = "$want" ]
	assert_nothing_left
}

@test "join another container's uts and ipc namespaces by /proc path" {
	bundle_set_args sleep 1000
	bundle_jq '.hostname = "first-'"$RAND"'"'
	brig_create
	assert_success
	local pid
	pid=$(container_pid "$ID")

	local id2=$ID-2 dir
	dir=$(make_bundle "$id2")
	CONFIG_BUNDLE=$dir bundle_jq '.linux.namespaces |= map(select(.type != "uts" and .type != "ipc"))
		| .linux.namespaces += [{type: "uts", path: $u}, {type: "ipc", path: $i}]
		| del(.hostname) | .process.args = ["sh", "-c", $s]' \
		--arg u "/proc/$pid/ns/uts" --arg i "/proc/$pid/ns/ipc" --arg s "hostname; $ns_script"
	run brig run --bundle "$dir" "$id2"
	assert_success
	[ "${lines[0]}" = "first-$RAND" ]
	[ "$(ns_inside uts)" = "$(readlink "/proc/$pid/ns/uts")" ]
	[ "$(ns_inside ipc)" = "$(readlink "/proc/$pid/ns/ipc")" ]
}

@test "a namespace path that does not exist fails with one line naming it, nothing left" {
	bundle_add_ns network "$TEST_DIR/no-such-netns"
	run_in_container true
	assert_one_line_error
	if is_brig; then
		assert_output_contains "$TEST_DIR/no-such-netns"
	fi
	assert_nothing_left
}

@test "a namespace path of the wrong kind fails, nothing left" {
	bundle_add_ns network "/proc/$$/ns/uts"
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains "/proc/$$/ns/uts"
	fi
	assert_nothing_left
}

@test "a path to a file that is not a namespace fails, nothing left" {
	bundle_add_ns ipc "$BUNDLE/config.json"
	run_in_container true
	assert_failure
	assert_nothing_left
}

@test "a duplicated namespace type is refused" {
	require_brig
	bundle_jq '.linux.namespaces += [{type: "pid"}]'
	run_in_container true
	assert_one_line_error
	assert_output_contains pid
	assert_nothing_left
}

@test "an unknown namespace type is refused naming it" {
	bundle_jq '.linux.namespaces += [{type: "bogus"}]'
	run_in_container true
	assert_failure
	assert_output_contains bogus
	assert_nothing_left
}
