#!/usr/bin/env bats
# The command line itself: help, version, global flags, usage errors, spec.

load helpers

# stderr only (usage text may go to stdout, as runc does).
stderr_of() {
	"$@" 2>&1 >/dev/null
}

@test "--help lists every command and exits 0" {
	run brig --help
	assert_success
	local cmd
	for cmd in create start run state list kill delete spec; do
		grep -qw "$cmd" <<<"$output" || fail "help does not mention $cmd"
	done
	assert_output_contains --root --log --log-format --debug --systemd-cgroup --rootless
	run brig -h
	assert_success
}

@test "each command has --help naming its flags" {
	run brig create --help
	assert_success
	assert_output_contains --bundle --pid-file --console-socket --preserve-fds --no-pivot --no-new-keyring
	run brig run --help
	assert_success
	assert_output_contains --bundle --detach --keep --pid-file --console-socket --preserve-fds
	run brig list --help
	assert_success
	assert_output_contains --format
	run brig delete --help
	assert_success
	assert_output_contains --force
	run brig kill --help
	assert_success
	assert_output_contains --all
	run brig spec --help
	assert_success
	assert_output_contains --bundle --rootless
}

@test "--version prints name version, commit: and spec: lines" {
	run brig --version
	assert_success
	[[ "${lines[0]}" =~ ^[a-z]+\ version\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "bad first line"
	grep -q '^commit: .' <<<"$output" || fail "no commit: line"
	grep -Eq '^spec: [0-9]+\.[0-9]+\.[0-9]+' <<<"$output" || fail "no spec: line"
}

@test "brig --version and brig version say 'brig version X.Y.Z'" {
	require_brig
	run brig --version
	[[ "${lines[0]}" =~ ^brig\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "bad first line"
	[[ "${lines[1]}" =~ ^commit:\  ]] || fail "second line is not commit:"
	[[ "${lines[2]}" =~ ^spec:\ 1\.[0-9]+\.[0-9]+ ]] || fail "third line is not spec:"
	local version=$output
	run brig version
	assert_success
	[ "$output" = "$version" ] || fail "version and --version differ"
}

@test "an unknown command fails with one line naming it" {
	run stderr_of brig frobnicate
	assert_one_line_error
	assert_output_contains frobnicate
	if is_brig; then
		# One `brig:` prefix, and no `brig brig --help`.
		[ "$output" = 'brig: unknown command `frobnicate` (see `brig --help`)' ] || fail "got: $output"
	fi
}

@test "an unknown global or command flag fails with one line naming it" {
	run stderr_of brig --nosuch-flag list
	assert_one_line_error
	assert_output_contains nosuch-flag
	run stderr_of brig create --nosuch-flag "$ID"
	assert_one_line_error
	assert_output_contains nosuch-flag
	assert_nothing_left
}

@test "a missing container id fails with one line" {
	local cmd
	for cmd in create start state kill delete run; do
		run stderr_of brig "$cmd"
		assert_one_line_error
	done
}

@test "too many arguments fail" {
	require_brig
	run stderr_of brig state "$ID" extra
	assert_one_line_error
	run stderr_of brig kill "$ID" KILL extra
	assert_one_line_error
}

@test "brig without a command prints usage and fails" {
	require_brig
	run brig
	assert_failure
	[ -n "$output" ]
}

@test "global flags are accepted before the command" {
	run brig --debug list -q
	assert_success
	run brig --rootless false list -q
	assert_success
	run brig --rootless auto list -q
	assert_success
	run brig --log "$TEST_DIR/log" --log-format text list -q
	assert_success
	run brig --log-format json list -q
	assert_success
}

@test "bad values for --log-format and --rootless are refused" {
	require_brig
	run stderr_of brig --log-format yaml list
	assert_one_line_error
	assert_output_contains yaml
	run stderr_of brig --rootless maybe list
	assert_one_line_error
	assert_output_contains maybe
}

@test "--log --log-format json writes the error as a JSON record with level and msg" {
	run brig --log "$TEST_DIR/log.json" --log-format json state "nosuch-$RAND"
	assert_failure
	[ -s "$TEST_DIR/log.json" ]
	# containerd reads the last record whose level is error.
	tail -n 1 "$TEST_DIR/log.json" | jq -e '.level == "error" and (.msg | type == "string" and length > 0) and has("time")'
}

@test "--log with text format records the error" {
	run brig --log "$TEST_DIR/log.txt" state "nosuch-$RAND"
	assert_failure
	[ -s "$TEST_DIR/log.txt" ]
	grep -q error "$TEST_DIR/log.txt"
}

@test "spec writes runc's default config.json" {
	local dir=$TEST_DIR/spec
	mkdir "$dir"
	cd "$dir"
	run brig spec
	assert_success
	jq -e '
		(.ociVersion | test("^1\\.")) and .process.args == ["sh"] and .process.terminal == true
		and .root.path == "rootfs" and .process.cwd == "/"
		and ([.linux.namespaces[].type] | contains(["pid", "network", "ipc", "uts", "mount"]))
		and (.mounts | map(.destination) | contains(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"]))
		and (.linux.maskedPaths | length > 0) and (.linux.readonlyPaths | length > 0)
		and (.process.capabilities.bounding | index("CAP_KILL") != null)' config.json
}

@test "spec refuses to overwrite an existing config.json" {
	local dir=$TEST_DIR/spec
	mkdir "$dir"
	echo '{}' >"$dir/config.json"
	run stderr_of brig spec --bundle "$dir"
	assert_one_line_error
	assert_output_contains config.json
	[ "$(cat "$dir/config.json")" = '{}' ]
}

@test "spec --bundle writes into the bundle; -b is the short form" {
	mkdir "$TEST_DIR/s1" "$TEST_DIR/s2"
	run brig spec --bundle "$TEST_DIR/s1"
	assert_success
	jq -e . "$TEST_DIR/s1/config.json" >/dev/null
	run brig spec -b "$TEST_DIR/s2"
	assert_success
	jq -e . "$TEST_DIR/s2/config.json" >/dev/null
}

@test "spec --rootless adds a user namespace mapping the caller and drops what needs privilege" {
	mkdir "$TEST_DIR/r"
	run brig spec --rootless --bundle "$TEST_DIR/r"
	assert_success
	jq -e --argjson uid "$(id -u)" --argjson gid "$(id -g)" '
		([.linux.namespaces[].type] | index("user") != null)
		and ([.linux.namespaces[].type] | index("network") == null)
		and .linux.uidMappings[0].hostID == $uid and .linux.uidMappings[0].containerID == 0
		and .linux.gidMappings[0].hostID == $gid
		and ((.linux.resources // {}) | has("devices") | not)' "$TEST_DIR/r/config.json"
}

@test "the generated spec runs as is (after making it non-interactive)" {
	run_in_container sh -c 'echo ok'
	assert_success
	[ "$output" = ok ]
}
