#!/usr/bin/env bats
# Bad input: each case fails with one clear line on stderr naming the field or object, and leaves
# nothing behind (no state dir, cgroup, mount or process).

load helpers

# expect_bad_config WORD...: create and run both fail; each given word appears in the error.
expect_bad_config() {
	local cmd
	for cmd in create run; do
		brig_detached "$ID" "$cmd" --bundle "$BUNDLE"
		assert_failure
		assert_output_contains "$@"
		if is_brig; then
			assert_one_line_error
			assert_output_contains config.json
		fi
		assert_nothing_left
	done
}

@test "malformed JSON" {
	printf '{"ociVersion": "1.0.2", "process": {' >"$BUNDLE/config.json"
	expect_bad_config
}

@test "an empty config.json" {
	: >"$BUNDLE/config.json"
	expect_bad_config
}

@test "a config.json that is not an object" {
	echo '[1, 2, 3]' >"$BUNDLE/config.json"
	expect_bad_config
}

@test "trailing garbage after the JSON object" {
	require_brig
	jq . "$BUNDLE/config.json" >"$TEST_DIR/c" && { cat "$TEST_DIR/c"; echo '} junk'; } >"$BUNDLE/config.json"
	expect_bad_config
}

@test "wrong type: process.args is a string" {
	bundle_jq '.process.args = "sh"'
	expect_bad_config args
	if is_brig; then assert_output_contains process.args; fi
}

@test "wrong type: process.user.uid is a string" {
	bundle_jq '.process.user.uid = "0"'
	expect_bad_config uid
	if is_brig; then assert_output_contains process.user.uid; fi
}

@test "wrong type: process.terminal is a string" {
	bundle_jq '.process.terminal = "yes"'
	expect_bad_config terminal
}

@test "wrong type: linux.namespaces is an object" {
	bundle_jq '.linux.namespaces = {"type": "pid"}'
	expect_bad_config namespaces
	if is_brig; then assert_output_contains linux.namespaces; fi
}

@test "wrong type: mounts[].options is a string" {
	bundle_jq '.mounts[0].options = "ro"'
	expect_bad_config options
	if is_brig; then assert_output_contains "mounts"; fi
}

@test "wrong type: hostname is a number" {
	bundle_jq '.hostname = 5'
	expect_bad_config hostname
}

@test "wrong type: a negative uid" {
	bundle_jq '.process.user.uid = -1'
	expect_bad_config uid
}

@test "wrong type: root is a string" {
	bundle_jq '.root = "rootfs"'
	expect_bad_config root
}

@test "missing required field: process.args empty" {
	require_brig
	bundle_jq '.process.args = []'
	expect_bad_config process.args
}

@test "missing required field: root.path" {
	require_brig
	bundle_jq 'del(.root.path)'
	expect_bad_config root.path
}

@test "missing required field: ociVersion" {
	require_brig
	bundle_jq 'del(.ociVersion)'
	expect_bad_config ociVersion
}

@test "missing required field: process (create needs one)" {
	require_brig
	bundle_jq 'del(.process)'
	expect_bad_config process
}

@test "a mount without a destination" {
	require_brig
	bundle_jq '.mounts += [{"type": "tmpfs", "source": "tmpfs"}]'
	expect_bad_config destination
}

@test "a relative mount destination is refused or taken from the rootfs's root, never the host's" {
	# runc 1.1 accepts it (with a warning) as relative to the container's /.
	bundle_jq '.mounts += [{"destination": "relative/dir", "type": "tmpfs", "source": "tmpfs"}]'
	run_in_container stat -f -c %T /relative/dir
	if [ "$status" -eq 0 ]; then
		[ "$output" = tmpfs ]
	elif is_brig; then
		assert_one_line_error
		assert_output_contains relative/dir
	fi
	[ ! -e "$PWD/relative/dir" ] || [ -d "$BUNDLE/rootfs/relative/dir" ]
	assert_nothing_left
}

@test "unknown fields are ignored" {
	bundle_jq '.brigUnknownField = {"x": 1} | .process.alsoUnknown = [1, 2]'
	run_in_container true
	assert_success
	assert_nothing_left
}

@test "a missing rootfs fails naming it, nothing left" {
	rm -rf "$ROOTFS"
	brig_create
	assert_failure
	assert_output_contains rootfs
	if is_brig; then assert_one_line_error; fi
	assert_nothing_left
}

@test "a rootfs that is a file fails, nothing left" {
	rm -rf "$ROOTFS"
	echo not-a-dir >"$ROOTFS"
	brig_create
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains rootfs
	fi
	assert_nothing_left
}

@test "a bundle directory that does not exist fails naming it, nothing left" {
	remember_id "$ID"
	brig_detached "$ID" create --bundle "$TEST_DIR/no-such-bundle"
	assert_failure
	assert_output_contains no-such-bundle
	if is_brig; then assert_one_line_error; fi
	assert_nothing_left
}

@test "config.json that is a directory fails, nothing left" {
	rm "$BUNDLE/config.json"
	mkdir "$BUNDLE/config.json"
	brig_create
	assert_failure
	assert_output_contains config.json
	if is_brig; then assert_one_line_error; fi
	assert_nothing_left
}

@test "an unknown id: state, start, kill and delete fail, nothing is created" {
	local cmd
	for cmd in state start kill delete; do
		run brig "$cmd" "ghost-$RAND"
		assert_one_line_error
	done
	[ ! -e "$BRIG_ROOT/ghost-$RAND" ]
	assert_nothing_left
}

@test "a duplicate id fails and the existing container keeps its state, cgroup and process" {
	bundle_set_args sleep 1000
	brig_create
	assert_success
	local pid
	pid=$(container_pid "$ID")
	brig_create
	assert_one_line_error
	if is_brig; then assert_output_contains "$ID"; fi
	[ -d "/proc/$pid" ]
	[ -d "/sys/fs/cgroup/memory$CG_PREFIX/$ID" ]
	grep -qx "$pid" "/sys/fs/cgroup/memory$CG_PREFIX/$ID/cgroup.procs"
	[ "$(container_status "$ID")" = created ]
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "a bad signal fails with one line naming it and changes nothing" {
	bundle_set_args sleep 1000
	brig_create
	run brig start "$ID"
	wait_for_status "$ID" running
	run brig kill "$ID" SIGNOPE
	assert_one_line_error
	assert_output_contains SIGNOPE
	run brig kill "$ID" 1234
	assert_failure
	[ "$(container_status "$ID")" = running ]
	run brig delete --force "$ID"
	assert_nothing_left
}

@test "an invalid id fails with one line, nothing created" {
	local bad
	for bad in "a/b" ".." "../x-$RAND"; do
		brig_detached "$bad" create --bundle "$BUNDLE"
		assert_one_line_error
	done
	[ ! -e "$TEST_DIR/x-$RAND" ]
	assert_nothing_left
}

@test "a failing create (bad mount) leaves no cgroup, mount, state or process" {
	bundle_jq '.mounts += [{"destination": "/x", "type": "bind", "source": "/no/such/source-'"$RAND"'", "options": ["bind"]}]'
	brig_create
	assert_failure
	assert_output_contains "source-$RAND"
	if is_brig; then assert_one_line_error; fi
	assert_nothing_left
}

# 4294967295 is (uid_t)-1, which the kernel reads as "unchanged" (set*id, chown) and never maps; a range
# running past it wraps.
@test "an id map or device owner holding 4294967295, or a map that is empty or runs past it, is refused" {
	require_brig
	local userns='.linux.namespaces += [{type: "user"}]
		| .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
	local cases=(
		"$userns"' | .linux.uidMappings += [{containerID: 4294967295, hostID: 300000, size: 1}]'
		'linux.uidMappings[1].containerID: 4294967295 is not a valid id'
		"$userns"' | .linux.gidMappings = [{containerID: 0, hostID: 4294967295, size: 1}]'
		'linux.gidMappings[0].hostID: 4294967295 is not a valid id'
		"$userns"' | .linux.uidMappings = [{containerID: 4294967290, hostID: 100000, size: 10}]'
		'linux.uidMappings[0]: containerID 4294967290 + size 10 runs past 4294967294'
		"$userns"' | .linux.gidMappings = [{containerID: 0, hostID: 4294967000, size: 1000}]'
		'linux.gidMappings[0]: hostID 4294967000 + size 1000 runs past 4294967294'
		"$userns"' | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 0}]'
		'linux.uidMappings[0].size: expected an integer between 1 and 4294967295'
		'.mounts += [{destination: "/m", type: "bind", source: "/tmp", options: ["rbind"],
			uidMappings: [{containerID: 0, hostID: 1, size: 4294967295}], gidMappings: [{containerID: 0, hostID: 0, size: 1}]}]'
		'uidMappings[0]: hostID 1 + size 4294967295 runs past 4294967294'
		'.mounts += [{destination: "/m", type: "bind", source: "/tmp", options: ["rbind"],
			uidMappings: [{containerID: 0, hostID: 0, size: 1}], gidMappings: [{containerID: 0, hostID: 4294967295, size: 1}]}]'
		'gidMappings[0].hostID: 4294967295 is not a valid id'
		'.linux.devices = [{path: "/dev/brig-null", type: "c", major: 1, minor: 3, uid: 4294967295}]'
		'linux.devices[0].uid: 4294967295 is not a valid id'
		'.linux.devices = [{path: "/dev/brig-null", type: "c", major: 1, minor: 3, gid: 4294967295}]'
		'linux.devices[0].gid: 4294967295 is not a valid id'
	)
	cp "$BUNDLE/config.json" "$TEST_DIR/config.base"
	local i
	for ((i = 0; i < ${#cases[@]}; i += 2)); do
		cp "$TEST_DIR/config.base" "$BUNDLE/config.json"
		bundle_jq "${cases[i]}"
		expect_bad_config "${cases[i + 1]}"
	done
}
