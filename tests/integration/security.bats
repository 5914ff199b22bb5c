#!/usr/bin/env bats
# Process security in the container: capabilities, seccomp (errno, kill, argument rules, notify listener),
# personality, scheduler, I/O priority, and the errors for bad input, which come before anything is created.

load helpers

# Capability bit masks as /proc/PID/status prints them.
CAP_KILL=$((1 << 5))
CAP_NET_BIND_SERVICE=$((1 << 10))
CAP_AUDIT_WRITE=$((1 << 29))

hex_mask() {
	printf '%016x' "$1"
}

# The value of a /proc/self/status field in $output: status_field CapEff
status_field() {
	printf '%s\n' "$output" | awk -v f="$1:" '$1 == f { print $2 }'
}

set_seccomp() {
	bundle_jq '.linux.seccomp = ($s | fromjson)' --arg s "$1"
}

# Runs a config that must be refused: one-line error naming the field, nothing created.
assert_refused() {
	run brig run --bundle "$BUNDLE" "$ID"
	assert_one_line_error
	assert_output_contains "$@"
	[ ! -e "$BRIG_ROOT/$ID" ] || fail "state directory was created"
	assert_nothing_left
}

@test "security: capability sets inside the container match the config" {
	bundle_jq '.process.capabilities = {
		bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
		effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
		permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
		inheritable: ["CAP_NET_BIND_SERVICE"],
		ambient: ["CAP_NET_BIND_SERVICE"]}'
	run_in_container grep Cap /proc/self/status
	assert_success
	local all=$((CAP_KILL | CAP_NET_BIND_SERVICE | CAP_AUDIT_WRITE))
	# uid 0 at execve: permitted and effective become bounding | inheritable.
	[ "$(status_field CapBnd)" = "$(hex_mask $all)" ] || fail "CapBnd"
	[ "$(status_field CapPrm)" = "$(hex_mask $all)" ] || fail "CapPrm"
	[ "$(status_field CapEff)" = "$(hex_mask $all)" ] || fail "CapEff"
	[ "$(status_field CapInh)" = "$(hex_mask $CAP_NET_BIND_SERVICE)" ] || fail "CapInh"
	[ "$(status_field CapAmb)" = "$(hex_mask $CAP_NET_BIND_SERVICE)" ] || fail "CapAmb"
}

@test "security: a non-root user keeps only its ambient capabilities" {
	bundle_jq '.process.user = {uid: 1000, gid: 1000}'
	run_in_container true
	assert_success
	bundle_jq '.process.capabilities = {
		bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE"], effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
		permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE"], inheritable: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
		ambient: ["CAP_NET_BIND_SERVICE"]}'
	run_in_container grep Cap /proc/self/status
	assert_success
	[ "$(status_field CapBnd)" = "$(hex_mask $((CAP_KILL | CAP_NET_BIND_SERVICE)))" ] || fail "CapBnd"
	[ "$(status_field CapInh)" = "$(hex_mask $((CAP_KILL | CAP_NET_BIND_SERVICE)))" ] || fail "CapInh"
	[ "$(status_field CapPrm)" = "$(hex_mask $CAP_NET_BIND_SERVICE)" ] || fail "CapPrm"
	[ "$(status_field CapEff)" = "$(hex_mask $CAP_NET_BIND_SERVICE)" ] || fail "CapEff"
	[ "$(status_field CapAmb)" = "$(hex_mask $CAP_NET_BIND_SERVICE)" ] || fail "CapAmb"
}

@test "security: without process.capabilities root keeps the runtime's bounding set" {
	bundle_jq 'del(.process.capabilities)'
	run_in_container grep CapBnd /proc/self/status
	assert_success
	local host
	host=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
	[ "$(status_field CapBnd)" = "$host" ] || fail "expected CapBnd $host"
}

@test "security: an unknown capability is skipped with a warning, as runc does (config and exec --cap)" {
	bundle_jq '.process.capabilities = {bounding: ["CAP_KILL", "CAP_FOO"], effective: ["CAP_KILL", "CAP_NEWER_THAN_LIBCAP"],
		permitted: ["CAP_KILL", "CAP_FOO"], inheritable: [], ambient: []}'
	bundle_set_args sh -c 'grep CapEff /proc/self/status; exec sleep 1000'
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	if is_brig; then
		assert_output_contains 'process.capabilities.bounding: `CAP_FOO` ignored: unknown capability' \
			'process.capabilities.effective: `CAP_NEWER_THAN_LIBCAP` ignored'
	fi
	wait_for_status "$ID" running
	run cat "$TEST_DIR/$ID.out"
	[ "$(status_field CapEff)" = "$(hex_mask $CAP_KILL)" ] || fail "CapEff: $output"
	run brig exec --cap CAP_BOGUS --cap CAP_NET_BIND_SERVICE "$ID" grep CapEff /proc/self/status
	assert_success
	[ "$(status_field CapEff)" = "$(hex_mask $((CAP_KILL | CAP_NET_BIND_SERVICE)))" ] || fail "exec CapEff: $output"
	is_brig && assert_output_contains '`CAP_BOGUS` ignored: unknown capability'
	# As runc since CVE-2022-29162: --cap adds to bounding, effective and permitted, never to the
	# inheritable set (nor ambient, which needs it).
	run brig exec --cap CAP_NET_BIND_SERVICE "$ID" grep Cap /proc/self/status
	assert_success
	[ "$(status_field CapBnd)" = "$(hex_mask $((CAP_KILL | CAP_NET_BIND_SERVICE)))" ] || fail "exec CapBnd: $output"
	[ "$(status_field CapPrm)" = "$(hex_mask $((CAP_KILL | CAP_NET_BIND_SERVICE)))" ] || fail "exec CapPrm: $output"
	[ "$(status_field CapInh)" = "$(hex_mask 0)" ] || fail "exec CapInh: $output"
	[ "$(status_field CapAmb)" = "$(hex_mask 0)" ] || fail "exec CapAmb: $output"
}

@test "security: a capability outside brig's bounding set is a clear error" {
	require_brig
	local bnd
	bnd=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
	(((0x$bnd >> 24) & 1)) && skip "CAP_SYS_RESOURCE (24) is in this host's bounding set"
	bundle_jq '.process.capabilities.permitted += ["CAP_SYS_RESOURCE"] | .process.capabilities.bounding += ["CAP_SYS_RESOURCE"]'
	assert_refused 'process.capabilities.permitted: `CAP_SYS_RESOURCE` is not in brig'"'"'s bounding set'
}

@test "security: seccomp SCMP_ACT_ERRNO makes mkdir fail with EPERM" {
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
		"syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall_at_all"], "action": "SCMP_ACT_ERRNO"}]}'
	run_in_container sh -c 'mkdir /tmp/d; echo "rc=$?"; touch /tmp/f && echo touched'
	assert_success
	assert_output_contains "Operation not permitted" "rc=1" "touched"
}

@test "security: seccomp errnoRet chooses the errno" {
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]}'
	run_in_container mkdir /tmp/d
	assert_failure
	assert_output_contains "No space left on device"
}

# A profile that refuses by default and allows what the static `syscall` helper needs to start, print and
# exit, and what runc's init calls once its filter is loaded. rseq (334 on x86_64) is the highest call it
# names.
deny_by_default_profile() {
	jq -n --arg action "$1" '{defaultAction: $action, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
		syscalls: [{action: "SCMP_ACT_ALLOW", names: ["execve", "brk", "arch_prctl", "set_tid_address",
			"set_robust_list", "rseq", "prlimit64", "mprotect", "mmap", "munmap", "readlink", "getrandom",
			"newfstatat", "fstat", "write", "exit", "exit_group", "close", "fcntl", "futex", "getpid", "tgkill",
			"rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "sigaltstack", "nanosleep", "sched_yield", "gettid",
			"openat", "read", "epoll_pwait", "mincore", "madvise", "fstatfs", "statfs", "getdents64", "dup3"]}]}
		| if $action == "SCMP_ACT_ERRNO" then .defaultErrnoRet = 1 else . end'
}

@test "security: seccomp answers ENOSYS for a call newer than the profile, the default action for a known one" {
	[ "$(uname -m)" = x86_64 ] || skip "the numbers are x86_64's"
	bundle_add_helper syscall
	set_seccomp "$(deny_by_default_profile SCMP_ACT_ERRNO)"
	# 1000: above every call the profile names (and every one the kernel has): glibc and others fall back
	# on ENOSYS. Twice: the second run loads the program from the cache.
	local i
	for i in 1 2; do
		run_in_container /bin/syscall 1000
		assert_success
		assert_output_contains "errno 38 (Function not implemented)"
	done
	# mkdir (83) is below the highest named call and not allowed: the default errno, EPERM.
	run_in_container /bin/syscall 83
	assert_success
	assert_output_contains "errno 1 (Operation not permitted)"
	# A default action that kills: the new call still gets ENOSYS, a known one kills.
	set_seccomp "$(deny_by_default_profile SCMP_ACT_KILL_PROCESS)"
	run_in_container /bin/syscall 1000
	assert_success
	assert_output_contains "errno 38 (Function not implemented)"
	run_in_container /bin/syscall 83
	assert_status $((128 + 31))
}

@test "security: seccomp SCMP_ACT_KILL_PROCESS kills with SIGSYS" {
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}'
	run_in_container mkdir /tmp/d
	assert_status $((128 + 31))
}

@test "security: seccomp loaded before the user change when noNewPrivileges is off and CAP_SYS_ADMIN is dropped" {
	bundle_jq '.process.noNewPrivileges = false'
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
	run_in_container sh -c 'mkdir /tmp/d; grep CapEff /proc/self/status'
	assert_success
	assert_output_contains "Operation not permitted" "CapEff:	0000000020000420"
}

@test "security: seccomp argument rules match only the given value" {
	# personality(PER_LINUX32) is refused, personality(PER_LINUX) is not.
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"],
		"action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}'
	run_in_container sh -c 'linux64 uname -m; linux32 uname -m; echo "rc=$?"'
	assert_success
	assert_output_contains "x86_64" "rc=1"
	assert_output_not_contains "i686"
	# MASKED_EQ: (arg0 & 0xff) == 8 also catches 0x0108... and leaves 0 alone.
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"],
		"action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]}'
	run_in_container sh -c 'linux64 uname -m; linux32 uname -m; echo "rc=$?"'
	assert_success
	assert_output_contains "x86_64" "rc=1"
}

@test "security: bad seccomp action, operator, architecture and flag are refused before anything is created" {
	require_brig
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}, {"names": ["rmdir"], "action": "SCMP_ACT_LOG"},
		{"names": ["link"], "action": "SCMP_ACT_TRAP"}, {"names": ["unlink"], "action": "SCMP_ACT_FOO"}]}'
	assert_refused 'linux.seccomp.syscalls[3].action: unknown action `SCMP_ACT_FOO`'
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"],
		"action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_ALMOST"}]}]}'
	assert_refused 'linux.seccomp.syscalls[0].args[0].op: unknown operator `SCMP_CMP_ALMOST`'
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}'
	assert_refused 'linux.seccomp.architectures[0]: unknown architecture `SCMP_ARCH_VAX`'
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}'
	assert_refused 'linux.seccomp.flags[0]: unknown flag `SECCOMP_FILTER_FLAG_FAST`'
}

@test "security: seccomp flags are accepted" {
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
		"SECCOMP_FILTER_FLAG_SPEC_ALLOW"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
	run_in_container sh -c 'mkdir /tmp/d; echo "rc=$?"'
	assert_success
	assert_output_contains "rc=1"
}

@test "security: seccomp notify sends the fd and the container state to the listener" {
	local listener=$BRIG_HELPERS/seccomp_listener sock=$TEST_DIR/agent.sock out=$TEST_DIR/agent.out
	[ -x "$listener" ] || fail "seccomp_listener not built (BRIG_HELPERS=$BRIG_HELPERS)"
	BRIG_TEST_TOKEN=$TOKEN "$listener" "$sock" >"$out" 2>&1 &
	local agent=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	bundle_jq '.annotations = {"org.example.key": "value"}'
	set_seccomp "$(jq -n --arg p "$sock" '{defaultAction: "SCMP_ACT_ALLOW", listenerPath: $p,
		listenerMetadata: "meta-data", syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"}]}')"
	# The agent answers "success" without running mkdir: the directory never appears.
	run_in_container sh -c 'mkdir /tmp/d && echo "mkdir ok"; [ -d /tmp/d ] || echo "no dir"'
	# The agent ends when no process uses the filter any more; never let it hang the suite.
	for _ in $(seq 100); do kill -0 "$agent" 2>/dev/null || break; sleep 0.05; done
	kill "$agent" 2>/dev/null || true
	assert_success
	assert_output_contains "mkdir ok" "no dir"
	local state
	state=$(sed -n 's/^state //p' "$out")
	[ -n "$state" ] || fail "listener got no state: $(cat "$out")"
	[ "$(jq -r '.fds[0]' <<<"$state")" = seccompFd ] || fail "fds: $state"
	[ "$(jq -r '.metadata' <<<"$state")" = meta-data ] || fail "metadata: $state"
	[ "$(jq -r '.state.id' <<<"$state")" = "$ID" ] || fail "id: $state"
	[ "$(jq -r '.state.bundle' <<<"$state")" = "$BUNDLE" ] || fail "bundle: $state"
	[ "$(jq -r '.state.annotations["org.example.key"]' <<<"$state")" = value ] || fail "annotations: $state"
	[ "$(jq -r '.pid' <<<"$state")" -gt 1 ] || fail "pid: $state"
	[ "$(jq -r '.pid' <<<"$state")" = "$(jq -r '.state.pid' <<<"$state")" ] || fail "pids differ: $state"
	grep -Eq '^notify (83|258)$' "$out" || fail "no mkdir notification: $(cat "$out")"
}

@test "security: SCMP_ACT_NOTIFY without a reachable listener fails before anything is created" {
	require_brig
	set_seccomp "$(jq -n --arg p "$TEST_DIR/nobody.sock" '{defaultAction: "SCMP_ACT_ALLOW", listenerPath: $p,
		syscalls: [{names: ["mkdir"], action: "SCMP_ACT_NOTIFY"}]}')"
	assert_refused "linux.seccomp.listenerPath: connect to \`$TEST_DIR/nobody.sock\`: No such file or directory"
}

@test "security: personality LINUX32 makes uname report i686" {
	bundle_jq '.linux.personality = {domain: "LINUX32"}'
	run_in_container uname -m
	assert_success
	[ "$output" = i686 ] || fail "expected i686"
}

@test "security: scheduler policy and nice, and I/O priority" {
	bundle_jq '.process.scheduler = {policy: "SCHED_BATCH", nice: 5} | .process.ioPriority = {class: "IOPRIO_CLASS_BE", priority: 6}'
	run_in_container sh -c 'grep "^policy" /proc/self/sched; cut -d" " -f19 /proc/self/stat; ionice -p $$'
	assert_success
	printf '%s\n' "$output" | grep -Eq '^policy +: +3$' || fail "expected SCHED_BATCH (3)"
	printf '%s\n' "$output" | grep -qx 5 || fail "expected nice 5"
	assert_output_contains "best-effort: prio 6"
}

@test "security: bad scheduler, ioPriority and personality values are refused" {
	require_brig
	bundle_jq '.process.scheduler = {policy: "SCHED_FASTEST"}'
	assert_refused 'process.scheduler.policy: unknown policy `SCHED_FASTEST`'
	bundle_jq '.process.scheduler = {policy: "SCHED_OTHER", nice: 40}'
	assert_refused 'process.scheduler.nice: 40 is out of range (-20 to 19)'
	bundle_jq 'del(.process.scheduler) | .process.ioPriority = {class: "IOPRIO_CLASS_BE", priority: 9}'
	assert_refused 'process.ioPriority.priority: 9 is out of range (0-7)'
	bundle_jq 'del(.process.ioPriority) | .linux.personality = {domain: "LINUX16"}'
	assert_refused 'linux.personality.domain: unknown domain `LINUX16`'
}

@test "security: execCPUAffinity does not apply to the container's init, but a bad list is refused" {
	local host
	host=$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/self/status)
	bundle_jq '.process.execCPUAffinity = {initial: "0", final: "0"}'
	run_in_container grep Cpus_allowed_list /proc/self/status
	assert_success
	assert_output_contains "$host"
	if is_brig; then
		bundle_jq '.process.execCPUAffinity = {final: "0-"}'
		assert_refused 'process.execCPUAffinity.final: invalid CPU list `0-`'
	fi
}

@test "security: apparmorProfile and selinuxLabel are ignored when the LSM is disabled" {
	[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && skip "AppArmor is enabled here"
	[ -e /sys/fs/selinux/enforce ] && skip "SELinux is enabled here"
	bundle_jq '.process.apparmorProfile = "brig-test-profile" | .process.selinuxLabel = "system_u:system_r:container_t:s0"'
	bundle_set_args true
	run brig --debug run --bundle "$BUNDLE" "$ID"
	assert_success
	if is_brig; then
		assert_output_contains 'process.apparmorProfile `brig-test-profile` ignored: AppArmor is not enabled'
	fi
}

# (uid_t)-1 is "leave unchanged" to setresuid, setresgid and chown: as a process's id it would keep root.
@test "security: uid, gid or an additional gid 4294967295 is refused, never run as root" {
	bundle_set_args id
	local field
	for field in uid gid; do
		bundle_jq '.process.user = {uid: 1000, gid: 1000} | .process.user[$f] = 4294967295' --arg f "$field"
		run brig run --bundle "$BUNDLE" "$ID"
		assert_failure
		assert_output_not_contains "uid=0" "gid=0"
		if is_brig; then
			assert_one_line_error
			assert_output_contains "process.user.$field: 4294967295 is not a valid id"
		fi
		assert_nothing_left
	done
	bundle_jq '.process.user = {uid: 1000, gid: 1000, additionalGids: [5, 4294967295]}'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains "process.user.additionalGids[1]: 4294967295 is not a valid id"
	fi
	assert_nothing_left
}

@test "security: exec --user, --additional-gids and a --process user with id 4294967295 are refused" {
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	wait_for_status "$ID" running
	local user
	for user in 4294967295 4294967295:4294967295 1000:4294967295 4294967295:1000; do
		run brig exec --user "$user" "$ID" id
		assert_failure
		assert_output_not_contains "uid=0" "gid=0"
		if is_brig; then
			assert_one_line_error
			assert_output_contains "--user" "4294967295 is not a valid id"
		fi
	done
	run brig exec --user 1000:1000 --additional-gids 4294967295 "$ID" id
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains "--additional-gids" "4294967295 is not a valid id"
	fi
	for user in '{"uid": 4294967295, "gid": 1000}' '{"uid": 1000, "gid": 4294967295}' \
		'{"uid": 1000, "gid": 1000, "additionalGids": [4294967295]}'; do
		jq -n --argjson u "$user" '{cwd: "/", args: ["id"], user: $u}' >"$TEST_DIR/process.json"
		run brig exec --process "$TEST_DIR/process.json" "$ID"
		assert_failure
		assert_output_not_contains "uid=0" "gid=0"
		if is_brig; then
			assert_one_line_error
			assert_output_contains "process.json: user." "4294967295 is not a valid id"
		fi
	done
	[ "$(container_status "$ID")" = running ]
}
