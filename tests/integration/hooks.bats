#!/usr/bin/env bats
# OCI hooks: order, namespaces, state on stdin, env/args, timeouts and failure semantics.

load helpers

# A host hook that appends "<name> <status> <pid>" (from the state on stdin) to $TEST_DIR/hooks.log.
host_hook() {
	local name=$1
	jq -n --arg name "$name" --arg log "$TEST_DIR/hooks.log" \
		'{path: "/bin/sh", args: ["sh", "-c", "s=$(cat); echo \"$0 $(echo \"$s\" | jq -r .status) $(echo \"$s\" | jq -r .pid) $HOOK_ENV\" >> \"$1\"", $name, $log], env: ["PATH=/usr/bin:/bin", "HOOK_ENV=env-ok"]}'
}

@test "all six hooks run in order with the state on stdin, their args and env" {
	bundle_set_args sh -c 'sleep 0.2'
	bundle_jq '.hooks = {prestart: [$pre], createRuntime: [$cr], createContainer: [$cc], poststart: [$ps], poststop: [$pt],
		  startContainer: [{path: "/bin/sh", args: ["sh", "-c", "cat > /tmp/start-state; hostname > /tmp/start-host"]}]}' \
		--argjson pre "$(host_hook prestart)" --argjson cr "$(host_hook createRuntime)" \
		--argjson cc "$(host_hook createContainer)" --argjson ps "$(host_hook poststart)" \
		--argjson pt "$(host_hook poststop)"
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	local log
	log=$(cat "$TEST_DIR/hooks.log")
	echo "$log"
	[ "$(awk '{print $1}' <<<"$log" | tr '\n' ' ')" = "prestart createRuntime createContainer poststart poststop " ]
	grep -q "^prestart created [1-9]" <<<"$log"
	grep -q "^createContainer created [1-9].* env-ok" <<<"$log"
	grep -q "^poststart running" <<<"$log"
	grep -q "^poststop stopped" <<<"$log"
	# startContainer ran inside the container (its /tmp, its hostname), before the process.
	[ "$(jq -r .status "$ROOTFS/tmp/start-state")" = created ]
	[ "$(cat "$ROOTFS/tmp/start-host")" = "$(jq -r .hostname "$BUNDLE/config.json")" ]
	assert_nothing_left
}

@test "a hook without env gets brig's PATH; createContainer and startContainer run in the container's root" {
	bundle_set_args true
	bundle_jq '.hooks = {
		createRuntime: [{path: "/bin/sh", args: ["sh", "-c", "echo \"path=$PATH\" >> \($log)"]}],
		createContainer: [{path: "/bin/sh", args: ["sh", "-c", "echo \"cc-cwd=$(pwd)\" >> \($log)"]}],
		startContainer: [{path: "/bin/sh", args: ["sh", "-c", "echo \"sc-cwd=$(pwd)\" > /tmp/sc.log"]}]}' \
		--arg log "$TEST_DIR/hooks.log"
	bundle_jq '.process.cwd = "/tmp"'
	PATH=$PATH:/brig-test-marker run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	run cat "$TEST_DIR/hooks.log"
	assert_output_contains "path=$PATH:/brig-test-marker" "cc-cwd=$(readlink -f "$ROOTFS")"
	[ "$(cat "$ROOTFS/tmp/sc.log")" = "sc-cwd=/" ] || fail "startContainer: $(cat "$ROOTFS/tmp/sc.log")"
}

@test "createContainer runs in the container's namespaces, createRuntime in the runtime's" {
	bundle_jq '.hooks = {
		createRuntime: [{path: "/bin/sh", args: ["sh", "-c", "readlink /proc/self/ns/mnt >> \($log)"]}],
		createContainer: [{path: "/bin/sh", args: ["sh", "-c", "readlink /proc/self/ns/mnt >> \($log)"]}]}' \
		--arg log "$TEST_DIR/ns.log"
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	local host
	host=$(readlink /proc/self/ns/mnt)
	[ "$(sed -n 1p "$TEST_DIR/ns.log")" = "$host" ]
	[ "$(sed -n 2p "$TEST_DIR/ns.log")" != "$host" ]
}

@test "a failing createRuntime hook fails create with its message, nothing left" {
	bundle_jq '.hooks.createRuntime = [{path: "/bin/sh", args: ["sh", "-c", "echo hook says no >&2; exit 3"]}]'
	brig_create
	assert_failure
	assert_output_contains "createRuntime[0]"
	assert_output_contains "status 3"
	assert_output_contains "hook says no"
	run brig delete "$ID"
	assert_nothing_left
}

@test "a failing createContainer hook destroys the container" {
	bundle_jq '.hooks.createContainer = [{path: "/bin/false"}]'
	brig_create
	assert_failure
	assert_output_contains "createContainer[0]"
	assert_nothing_left
}

@test "a hook that times out is killed and fails the create" {
	bundle_jq '.hooks.prestart = [{path: "/bin/sleep", args: ["sleep", "30"], timeout: 1}]'
	local start=$SECONDS
	brig_create
	assert_failure
	assert_output_contains "timed out after 1 s"
	[ $((SECONDS - start)) -lt 10 ]
	assert_nothing_left
}

@test "a failing startContainer hook fails start" {
	bundle_set_args sleep 100
	bundle_jq '.hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "exit 4"]}]'
	brig_create
	assert_success
	run brig start "$ID"
	assert_failure
	assert_output_contains "startContainer[0]"
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	assert_nothing_left
}

@test "startContainer hooks run under the container's seccomp filter" {
	bundle_set_args sh -c 'mkdir /tmp/by-process; echo "process rc=$?"'
	bundle_jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
		syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 28}]}
		| .hooks.startContainer = [{path: "/bin/sh", args: ["sh", "-c", "mkdir /tmp/by-hook 2>/tmp/hook-err; echo rc=$? >/tmp/hook-rc"]}]'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains "process rc=1"
	[ "$(cat "$ROOTFS/tmp/hook-rc")" = rc=1 ] || fail "the hook's mkdir: $(cat "$ROOTFS/tmp/hook-rc")"
	grep -q "No space left on device" "$ROOTFS/tmp/hook-err" || fail "the hook's error: $(cat "$ROOTFS/tmp/hook-err")"
	[ ! -e "$ROOTFS/tmp/by-hook" ] || fail "the hook made its directory despite the filter"
	# Under a Docker-shaped profile (clone3 answers ENOSYS) the hook still starts, and works.
	rm -f "$ROOTFS/tmp/hook-rc"
	bundle_jq '.linux.seccomp = $s[0] | .process.args = ["true"]' \
		--slurpfile s <(sh "$BRIG_REPO/tests/data/seccomp-docker-profile.sh")
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	[ "$(cat "$ROOTFS/tmp/hook-rc")" = rc=0 ] || fail "the hook under Docker's profile: $(cat "$ROOTFS/tmp/hook-rc")"
	assert_nothing_left
}

@test "failing poststart and poststop hooks are warnings: the lifecycle goes on" {
	bundle_set_args true
	bundle_jq '.hooks.poststart = [{path: "/bin/false"}] | .hooks.poststop = [{path: "/bin/false"}]'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains "poststart[0]"
	assert_output_contains "poststop[0]"
	assert_nothing_left
}

@test "hooks run in the runtime's pid namespace even when the container joins another one by path" {
	bundle_set_args sleep 100
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local dir_b pid_a
	pid_a=$(container_pid "$ID")
	dir_b=$(make_bundle "$ID-b")
	CONFIG_BUNDLE=$dir_b bundle_jq '.linux.namespaces = (.linux.namespaces | map(select(.type != "pid"))) +
		[{type: "pid", path: $p}] | .process.args = ["true"]
		| .hooks.createRuntime = [{path: "/bin/sh", args: ["sh", "-c", "readlink /proc/self/ns/pid > \($log)"]}]' \
		--arg p "/proc/$pid_a/ns/pid" --arg log "$TEST_DIR/hook-ns"
	run brig run --bundle "$dir_b" "$ID-b"
	assert_success
	[ "$(cat "$TEST_DIR/hook-ns")" = "$(readlink /proc/self/ns/pid)" ] || fail "hook ran in $(cat "$TEST_DIR/hook-ns")"
	run brig delete --force "$ID"
	assert_nothing_left
}
