#!/usr/bin/env bats
# The container process: args, env, cwd, user, umask, rlimits, noNewPrivileges, oomScoreAdj,
# hostname/domainname and sysctl.

load helpers

@test "args are passed exactly, including spaces and empty strings" {
	run_in_container sh -c 'for a in "$@"; do echo "[$a]"; done' argv0 one "two words" "" 'qu"ote'
	assert_success
	[ "$output" = "$(printf '%s\n' '[one]' '[two words]' '[]' '[qu"ote]')" ]
}

@test "args[0] is looked up in the config's PATH; an absolute path works too" {
	run_in_container echo via-path
	assert_success
	[ "$output" = via-path ]
	run_in_container /bin/echo absolute
	assert_success
	[ "$output" = absolute ]
}

@test "a missing executable fails with one line naming it, nothing left" {
	run_in_container /no/such/binary-$RAND
	assert_failure
	if is_brig; then
		assert_one_line_error
	fi
	assert_output_contains "binary-$RAND"
	assert_nothing_left
}

@test "env comes from the config only" {
	bundle_jq '.process.env += ["FOO=bar baz", "EMPTY="]'
	bundle_set_args env
	LEAKME=leaked run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains "FOO=bar baz" "EMPTY=" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	assert_output_not_contains LEAKME
}

@test "HOME is set from the user when the config has none" {
	run_in_container sh -c 'echo "home=$HOME"'
	assert_success
	[ "$output" = home=/root ]
}

@test "cwd is the process's working directory and is created when missing" {
	bundle_jq '.process.cwd = "/tmp"'
	run_in_container pwd
	assert_success
	[ "$output" = /tmp ]
	bundle_jq '.process.cwd = "/new/work/dir"'
	run_in_container pwd
	assert_success
	[ "$output" = /new/work/dir ]
}

@test "a missing cwd is created even when the root is read-only" {
	bundle_jq '.process.cwd = "/made/for/you" | .root.readonly = true'
	run_in_container sh -c 'pwd; touch /x 2>/dev/null || echo read-only'
	assert_success
	assert_output_contains /made/for/you read-only
}

@test "a cwd that root can enter but the container user cannot still works, as with runc" {
	mkdir -m 0700 "$ROOTFS/secret"
	bundle_jq '.process.cwd = "/secret" | .process.user = {uid: 1000, gid: 1000}'
	run_in_container sh -c 'echo "cwd=$(pwd) uid=$(id -u)"'
	assert_success
	[ "$output" = "cwd=/secret uid=1000" ] || fail "got: $output"
}

@test "user uid, gid and additionalGids" {
	bundle_jq '.process.user = {uid: 1000, gid: 1001, additionalGids: [10, 20, 30]}'
	run_in_container sh -c 'echo "$(id -u) $(id -g)"; id -G; grep -E "^(Uid|Gid|Groups):" /proc/self/status'
	assert_success
	[ "${lines[0]}" = "1000 1001" ]
	local groups
	groups=$(awk '/^Groups:/ { $1 = ""; print }' <<<"$output" | xargs -n1 | sort -n | xargs)
	[ "$groups" = "10 20 30" ] || fail "groups: $groups"
}

@test "a non-root user without additionalGids has no supplementary groups" {
	bundle_jq '.process.user = {uid: 1000, gid: 1000}'
	run_in_container sh -c 'grep "^Groups:" /proc/self/status'
	assert_success
	[ "$(awk '{ print NF }' <<<"$output")" = 1 ] || fail "unexpected groups: $output"
}

@test "umask: set from the config; 0022 by default" {
	run_in_container sh -c umask
	assert_success
	[ "$output" = 0022 ]
	bundle_jq '.process.user.umask = 63' # 0077
	run_in_container sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'
	assert_success
	[ "${lines[0]}" = 0077 ]
	[ "${lines[1]}" = 600 ]
}

@test "rlimits are applied (soft and hard)" {
	bundle_jq '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1000, hard: 2000}, {type: "RLIMIT_CORE", soft: 0, hard: 0}, {type: "RLIMIT_NPROC", soft: 500, hard: 600}]'
	run_in_container sh -c 'ulimit -n; ulimit -Hn; cat /proc/self/limits'
	assert_success
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 2000 ]
	grep -Eq '^Max core file size +0 +0 ' <<<"$output" || fail "core"
	grep -Eq '^Max processes +500 +600 ' <<<"$output" || fail "nproc"
}

@test "an rlimit above the hard limit the caller may set fails with one line naming it" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && skip "no hard nofile limit here"
	bundle_jq '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1024, hard: ($h * 100)}]' --argjson h "$hard"
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains RLIMIT_NOFILE
	fi
	assert_nothing_left
}

@test "an unknown rlimit type is refused naming it" {
	bundle_jq '.process.rlimits = [{type: "RLIMIT_BOGUS", soft: 1, hard: 1}]'
	run_in_container true
	assert_failure
	assert_output_contains RLIMIT_BOGUS
	assert_nothing_left
}

@test "noNewPrivileges true and false" {
	bundle_jq '.process.noNewPrivileges = true'
	run_in_container grep NoNewPrivs /proc/self/status
	assert_success
	[[ "$output" =~ NoNewPrivs:[[:space:]]+1 ]]
	bundle_jq '.process.noNewPrivileges = false'
	run_in_container grep NoNewPrivs /proc/self/status
	assert_success
	[[ "$output" =~ NoNewPrivs:[[:space:]]+0 ]]
}

@test "oomScoreAdj is applied; without it the caller's value is inherited" {
	bundle_jq '.process.oomScoreAdj = 500'
	run_in_container cat /proc/self/oom_score_adj
	assert_success
	[ "$output" = 500 ]
	bundle_jq 'del(.process.oomScoreAdj)'
	run_in_container cat /proc/self/oom_score_adj
	assert_success
	[ "$output" = "$(cat /proc/self/oom_score_adj)" ]
}

@test "hostname and domainname" {
	bundle_jq '.hostname = "h-'"$RAND"'" | .domainname = "d-'"$RAND"'.example"'
	run_in_container sh -c 'hostname; cat /proc/sys/kernel/domainname'
	assert_success
	[ "${lines[0]}" = "h-$RAND" ]
	[ "${lines[1]}" = "d-$RAND.example" ]
	[ "$(hostname)" != "h-$RAND" ]
}

@test "a hostname without a uts namespace is refused" {
	bundle_drop_ns uts
	bundle_jq '.hostname = "nope"'
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains hostname
	fi
	assert_nothing_left
}

@test "sysctl in the container's namespaces; the host's values are untouched" {
	local host_fwd host_msgmax
	host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
	host_msgmax=$(cat /proc/sys/kernel/msgmax)
	bundle_jq '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096", "net/ipv4/tcp_syncookies": "0"}'
	run_in_container sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax /proc/sys/net/ipv4/tcp_syncookies'
	assert_success
	[ "$output" = "$(printf '1\n4096\n0')" ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]
	[ "$(cat /proc/sys/kernel/msgmax)" = "$host_msgmax" ]
}

@test "a sysctl of the host's namespace is refused (network sysctl without a network namespace)" {
	bundle_drop_ns network
	bundle_jq '.linux.sysctl = {"net.ipv4.ip_forward": "1"}'
	local before
	before=$(cat /proc/sys/net/ipv4/ip_forward)
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains net.ipv4.ip_forward
	fi
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$before" ]
	assert_nothing_left
}

@test "kernel.hostname and kernel.domainname sysctls are refused even with a uts namespace (the names have fields)" {
	local key
	for key in kernel.hostname kernel/domainname; do
		bundle_jq '.linux.sysctl = {($k): "evil"}' --arg k "$key"
		run_in_container hostname
		assert_failure
		assert_one_line_error
		assert_output_contains "linux.sysctl: \`${key//\//.}\` conflicts with the"
		assert_nothing_left
	done
}

@test "an unknown sysctl fails naming it, nothing left" {
	bundle_jq '.linux.sysctl = {"kernel.no_such_knob": "1"}'
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains kernel.no_such_knob
	fi
	assert_nothing_left
}

@test "stdin is passed through to run" {
	bundle_set_args sh -c 'read line; echo "got $line"'
	run bash -c 'echo hello | BRIG_TEST_TOKEN=$0 timeout "$4" "$BRIG" --root "$1" run --bundle "$2" "$3"' "$TOKEN" "$BRIG_ROOT" "$BUNDLE" "$ID" "$BRIG_TIMEOUT"
	assert_success
	[ "$output" = "got hello" ]
}
