#!/usr/bin/env bats
# `features` is truthful: everything it advertises is accepted by brig for real.

load helpers

@test "features prints the runtime-spec document" {
	run brig features
	assert_success
	jq -e '.ociVersionMin and .ociVersionMax and (.hooks | length == 6)
		and (.linux.namespaces | index("user")) and .linux.mountExtensions.idmap.enabled == true
		and .linux.cgroup.v1 == true and .linux.cgroup.systemd == true and .linux.cgroup.systemdUser == false
		and (.potentiallyUnsafeConfigAnnotations | index("run.brig.ports"))
		and .annotations["io.github.seccomp.libseccomp.version"]' <<<"$output" >/dev/null
}

@test "every advertised mount option is accepted" {
	mkdir -p "$TEST_DIR/src"
	local o n=0
	for o in $(brig features | jq -r '.mountOptions[]'); do
		n=$((n + 1))
		bundle_jq '.mounts = (.mounts | map(select(.destination != "/mo"))) +
			[{destination: "/mo", type: "bind", source: $s, options: ["rbind", $o]}]' --arg s "$TEST_DIR/src" --arg o "$o"
		run_in_container true
		[ "$status" -eq 0 ] || fail "mount option $o: $output"
	done
	[ "$n" -gt 40 ]
	assert_nothing_left
}

@test "every advertised capability is accepted (those outside brig's bounding set are dropped from bounding)" {
	local caps
	caps=$(brig features | jq -c '.linux.capabilities')
	bundle_jq '.process.capabilities.bounding = $c' --argjson c "$caps"
	run_in_container sh -c 'grep CapBnd /proc/self/status'
	assert_success
}

@test "every advertised seccomp action, operator, architecture and flag is accepted" {
	local f
	f=$(brig features)
	# SCMP_ACT_NOTIFY needs a listener: security.bats runs it with one.
	bundle_jq '.linux.seccomp = ({defaultAction: "SCMP_ACT_ALLOW", architectures: $f.linux.seccomp.archs,
		flags: [],
		syscalls: ([$f.linux.seccomp.actions[] | select(. != "SCMP_ACT_NOTIFY")
			| {names: ["getcpu"], action: ., errnoRet: (if . == "SCMP_ACT_ERRNO" or . == "SCMP_ACT_TRACE" then 1 else null end)}]
			+ [$f.linux.seccomp.operators[] | {names: ["getpriority"], action: "SCMP_ACT_ERRNO", errnoRet: 1,
				args: [{index: 0, value: 123456, valueTwo: 0, op: .}]}])
		} | .syscalls |= map(if .errnoRet == null then del(.errnoRet) else . end))' --argjson f "$f"
	run_in_container true
	[ "$status" -eq 0 ] || fail "seccomp profile with every name: $output"
	# Flags one at a time: the kernel takes WAIT_KILLABLE_RECV only with a notify listener.
	local flag
	for flag in $(jq -r '.linux.seccomp.supportedFlags[] | select(. != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")' <<<"$f"); do
		bundle_jq '.linux.seccomp.flags = [$fl]' --arg fl "$flag"
		run_in_container true
		[ "$status" -eq 0 ] || fail "seccomp flag $flag: $output"
	done
	assert_nothing_left
}
