#!/usr/bin/env bats
# Rootless on cgroup v2 (issue 13): an unprivileged user the file makes runs `brig --rootless` in a subtree
# delegated to it the way the kernel's cgroup-v2 documentation describes (the directory and its
# cgroup.procs, cgroup.threads and cgroup.subtree_control chowned to the user; the user's processes in a
# leaf of it, moved there by root). With a cgroupsPath in that subtree the limits hold (a fork loop stops
# at pids.max, a hog is OOM-killed at memory.max), `update` and `delete` work as the user. Outside it, as
# runc decides: a cgroupsPath or limits are one clear error leaving nothing; neither is a container without
# a cgroup of its own. And checkpoint of a rootless container: criu 3.17.1 cannot run unprivileged.

load ../helpers

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
	RL_USER=brigcg${RAND:0:6}
	make_test_user "$RL_USER"
	RL_XDG=$TEST_DIR/xdg
	RL_DIR=$TEST_DIR/rl
	mkdir -p "$RL_XDG" "$RL_DIR"
	chown "$RL_USER" "$RL_XDG" "$RL_DIR"
	chmod 700 "$RL_XDG"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	# Root passes the controllers down to the delegated directory; from there on the user does.
	local top=$CGROUP2_ROOT$CGROUP_TEST_TOP c
	mkdir -p "$CGROUP2_ROOT$CG_PREFIX"
	for c in "$top" "$CGROUP2_ROOT$CG_PREFIX"; do
		echo "+memory +pids +cpu" >"$c/cgroup.subtree_control"
	done
	RL_CG=$CG_PREFIX/user
	local deleg=$CGROUP2_ROOT$RL_CG
	mkdir "$deleg"
	chown "$RL_USER" "$deleg" "$deleg/cgroup.procs" "$deleg/cgroup.threads" "$deleg/cgroup.subtree_control"
	# The user's processes live in a leaf: a cgroup with controllers enabled for its children holds none.
	setpriv --reuid="$RL_USER" --regid="$RL_USER" --init-groups mkdir "$deleg/shell"
	(cd "$RL_DIR" && setpriv --reuid="$RL_USER" --regid="$RL_USER" --init-groups "$TEST_DIR/brig-rl" spec --rootless)
	jq --arg r "$ROOTFS" --arg tok "BRIG_TEST_TOKEN=$TOKEN" '.root = {path: $r, readonly: false} | .process.terminal = false
		| .process.env += [$tok]' "$RL_DIR/config.json" >"$TEST_DIR/rl.json"
	export RL_USER RL_XDG RL_DIR RL_CG
}

teardown_file() {
	[ -n "${RL_USER:-}" ] || return 0
	remove_test_user "$RL_USER"
	lane_teardown_file
}

setup() {
	require_guest_lane
}

teardown() {
	local id
	for id in $(ls "$RL_XDG/brig" 2>/dev/null); do
		as_user delete --force "$id" >/dev/null 2>&1 || true
	done
	# Not lane_teardown: the delegated directory and its leaf stay for the next test.
	for id in "$CGROUP2_ROOT$RL_CG"/*/ "$CGROUP2_ROOT$CG_PREFIX"/nope-*/; do
		[ "${id%/}" = "$CGROUP2_ROOT$RL_CG/shell" ] || [ ! -d "$id" ] || lane_remove_cgroup "${id%/}"
	done
}

# as_user ARGS...: brig as the user, from the delegated subtree's leaf (root moves the shell there, then
# setpriv drops to the user: su's PAM stack costs seconds of execs under TCG). Sets $status and $output as
# `run` does; ARGS may hold redirections.
# $AS_USER_CG, when set, is the cgroup to run it from instead.
as_user() {
	run sh -c 'echo $$ >"$0/cgroup.procs" && cd "$1" && exec setpriv --reuid="$2" --regid="$2" --init-groups \
		sh -c "$3"' "$CGROUP2_ROOT${AS_USER_CG:-$RL_CG/shell}" "$RL_DIR" "$RL_USER" \
		"XDG_RUNTIME_DIR=$RL_XDG BRIG_TEST_TOKEN=$TOKEN exec timeout -k 5 30 $TEST_DIR/brig-rl $*"
}

# config JQ: the user's config.json from the rootless one.
config() {
	jq "$1" "$TEST_DIR/rl.json" >"$RL_DIR/config.json"
}

@test "rootless, delegated v2 subtree: limits hold (pids.max stops a fork loop, memory.max OOM-kills), update, exec, pause and delete as the user" {
	local id=rlcg-$RAND dir=$CGROUP2_ROOT$RL_CG/ctr-$RAND pid i
	config '.process.args = ["sh", "-c", "(for i in $(seq 30); do sleep 1000 & done) 2>/dev/null; echo forked >/tmp/pids-'"$id"'; while [ ! -e /tmp/go-'"$id"' ]; do sleep 0.1; done; tail /dev/zero; echo status $? >/tmp/oom-'"$id"'; exec sleep 1000"]
		| .linux.cgroupsPath = "'"$RL_CG/ctr-$RAND"'"
		| .linux.resources = {memory: {limit: 33554432}, pids: {limit: 12}, cpu: {quota: 50000, period: 100000}}'
	as_user run -d "$id" "</dev/null >$RL_DIR/$id.out 2>&1"
	[ "$status" = 0 ] || fail "run -d: $output $(cat "$RL_DIR/$id.out")"
	[ -d "$dir" ] || fail "no cgroup $dir"
	cg_check "$dir" memory.max=33554432 pids.max=12 "cpu.max=50000 100000"
	# Made by brig as the user, inside the subtree it was given.
	[ "$(stat -c %U "$dir")" = "$RL_USER" ]
	for ((i = 0; i < 300; i++)); do [ -s "$ROOTFS/tmp/pids-$id" ] && break; sleep 0.1; done
	[ -s "$ROOTFS/tmp/pids-$id" ] || fail "no fork loop: out: $(cat "$RL_DIR/$id.out"); procs: $(ps -o pid,user,stat,args $(cat "$dir/cgroup.procs") 2>&1 | tr '\n' ';'); pids: $(cat "$dir/pids.current" "$dir/pids.events" | tr '\n' ' '); memory: $(cat "$dir/memory.current" "$dir/memory.events" | tr '\n' ' ')"
	cg_key "$dir/pids.events" max
	[ "${REPLY:-0}" -ge 1 ] || fail "pids.events: no refused fork"
	cg_check "$dir" pids.current=12
	as_user update --pids-limit 40 --cpu-quota 20000 --memory 48m "$id"
	assert_success
	cg_check "$dir" pids.max=40 "cpu.max=20000 100000" memory.max=50331648
	as_user exec "$id" cat /proc/self/cgroup
	assert_success
	[ "$output" = "0::$RL_CG/ctr-$RAND" ] || fail "exec's cgroup: $output"
	as_user pause "$id"
	assert_success
	cg_check "$dir" cgroup.freeze=1
	as_user resume "$id"
	assert_success
	cg_check "$dir" cgroup.freeze=0
	as_user state "$id"
	[[ "$output" =~ \"pid\":\ *([0-9]+) ]] && pid=${BASH_REMATCH[1]}
	[ "$(proc_cgroup2 "$pid")" = "$RL_CG/ctr-$RAND" ] || fail "init in $(proc_cgroup2 "$pid")"
	touch "$ROOTFS/tmp/go-$id"
	lane_wait_file "$ROOTFS/tmp/oom-$id" 60
	[ "$(cat "$ROOTFS/tmp/oom-$id")" = "status 137" ] || fail "hog: $(cat "$ROOTFS/tmp/oom-$id")"
	cg_key "$dir/memory.events" oom_kill
	[ "${REPLY:-0}" -ge 1 ] || fail "memory.events: no oom_kill"
	as_user delete --force "$id"
	assert_success
	[ ! -d "$dir" ] || fail "cgroup left after delete: $dir"
	[ ! -e "$RL_XDG/brig/$id" ]
	rm -f "$ROOTFS/tmp/"*"-$id"
}

@test "rootless, not delegated: a cgroupsPath or limits are one clear error leaving nothing; neither runs without a cgroup of its own" {
	local id=rlno-$RAND out
	# Root's, not the user's: the prefix above the delegated directory.
	config '.process.args = ["true"] | .linux.cgroupsPath = "'"$CG_PREFIX/nope-$RAND"'"
		| .linux.resources = {pids: {limit: 10}}'
	as_user run "$id"
	assert_one_line_error
	assert_output_contains "linux.cgroupsPath" "$CG_PREFIX/nope-$RAND" "no permission" "delegated to uid"
	[ ! -e "$RL_XDG/brig/$id" ] && [ ! -d "$CGROUP2_ROOT$CG_PREFIX/nope-$RAND" ]
	# runc: a cgroupsPath the user cannot write is refused even without limits.
	config '.process.args = ["true"] | .linux.cgroupsPath = "'"$CG_PREFIX/nope-$RAND"'"'
	as_user run "$id"
	assert_one_line_error
	assert_output_contains "linux.cgroupsPath" "no permission"
	[ ! -e "$RL_XDG/brig/$id" ] && [ ! -d "$CGROUP2_ROOT$CG_PREFIX/nope-$RAND" ]
	config '.process.args = ["true"] | .linux.resources = {memory: {limit: 33554432}}'
	as_user run "$id"
	assert_one_line_error
	assert_output_contains "linux.resources" "without cgroups"
	[ ! -e "$RL_XDG/brig/$id" ] && [ ! -d "$CGROUP2_ROOT/brig/$id" ]
	# Neither: the container stays in the caller's cgroup.
	config '.process.args = ["cat", "/proc/self/cgroup"]'
	as_user run "$id"
	assert_success
	[[ "$output" == *"0::$RL_CG/shell"* ]] || [[ "$output" == "0::/" ]] || fail "cgroup: $output"
	[ ! -e "$RL_XDG/brig/$id" ] && [ ! -d "$CGROUP2_ROOT/brig/$id" ]
}

@test "rootless, relative cgroupsPath: placed below the parent of the caller's cgroup (the delegated one), limits hold, delete removes it; undelegated there, one clear error" {
	local id=rlrel-$RAND dir=$CGROUP2_ROOT$RL_CG/rel-$RAND
	config '.process.args = ["sh", "-c", "cat /proc/self/cgroup; exec sleep 1000"]
		| .linux.cgroupsPath = "rel-'"$RAND"'" | .linux.resources = {pids: {limit: 15}}'
	as_user run -d "$id" "</dev/null >$RL_DIR/$id.out 2>&1"
	[ "$status" = 0 ] || fail "run -d: $output $(cat "$RL_DIR/$id.out")"
	[ -d "$dir" ] || fail "no cgroup $dir (in $CGROUP2_ROOT$RL_CG: $(ls "$CGROUP2_ROOT$RL_CG"))"
	[ "$(stat -c %U "$dir")" = "$RL_USER" ]
	cg_check "$dir" pids.max=15
	lane_wait_file "$RL_DIR/$id.out" 30
	[ "$(cat "$RL_DIR/$id.out")" = "0::$RL_CG/rel-$RAND" ] || fail "the init's cgroup: $(cat "$RL_DIR/$id.out")"
	as_user delete --force "$id"
	assert_success
	[ ! -d "$dir" ] || fail "cgroup left after delete: $dir"
	[ ! -e "$RL_XDG/brig/$id" ]
	# From a leaf whose parent is root's: the same relative path is refused there, and names where.
	local leaf=$CG_PREFIX/nope-leaf-$RAND
	mkdir "$CGROUP2_ROOT$leaf"
	config '.process.args = ["true"] | .linux.cgroupsPath = "rel-'"$RAND"'"'
	AS_USER_CG=$leaf as_user run "$id"
	assert_one_line_error
	assert_output_contains "linux.cgroupsPath \`rel-$RAND\`" "\`$CG_PREFIX/rel-$RAND\`" "no permission"
	[ ! -e "$RL_XDG/brig/$id" ] && [ ! -d "$CGROUP2_ROOT$CG_PREFIX/rel-$RAND" ]
	rmdir "$CGROUP2_ROOT$leaf"
}

@test "rootless overlay root on 6.1: the init mounts it in the user's namespaces (fuse-overlayfs where the kernel refuses), in a delegated cgroup; run leaves nothing" {
	local id=rlov-$RAND want="overlay overlay" probe=$RL_XDG/xattr-probe
	modprobe fuse 2>/dev/null || true
	# As Debian's udev rule has it (the guest runs no udev): users may open /dev/fuse.
	[ ! -c /dev/fuse ] || chmod 666 /dev/fuse
	# The probe: userxattr needs user.* xattrs on the upper's filesystem; the guest's tmpfs has them only
	# from 6.6 on, so the kernel refuses there and brig falls back to fuse-overlayfs.
	touch "$probe"
	python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.brig", b"1")' "$probe" 2>/dev/null ||
		want="fuse.fuse-overlayfs fuse-overlayfs"
	rm -f "$probe"
	echo "# root filesystem expected: $want" >&3
	mkdir -p "$TEST_DIR/layer/etc"
	echo "from the layer" >"$TEST_DIR/layer/etc/motd"
	chmod -R a+rX "$TEST_DIR/layer"
	config '.process.args = ["sh", "-c", "cat /etc/motd; echo new >/new; cat /new; grep \" / / \" /proc/self/mountinfo; cat /proc/self/cgroup"]
		| .linux.cgroupsPath = "'"$RL_CG/ov-$RAND"'" | .linux.resources = {pids: {limit: 20}}'
	as_user run --layer "$TEST_DIR/layer" "$id"
	assert_success
	[ "${lines[0]}" = "from the layer" ] && [ "${lines[1]}" = new ] || fail "inside: $output"
	[[ "${lines[2]}" == *" - $want "* ]] || fail "root mount: ${lines[2]}"
	[[ "${lines[3]}" == *"$RL_CG/ov-$RAND" ]] || [ "${lines[3]}" = "0::/" ] || fail "cgroup: ${lines[3]}"
	[ -z "$(ps -u "$RL_USER" -o comm= | grep fuse-overlayfs)" ] || fail "fuse-overlayfs left running"
	[ ! -e "$RL_XDG/brig/$id" ] && [ ! -d "$CGROUP2_ROOT$RL_CG/ov-$RAND" ] && [ ! -e "$TEST_DIR/layer/new" ]
}

@test "rootless checkpoint and restore: one clear error naming criu's missing unprivileged mode; the container runs on, nothing is made" {
	local id=rlck-$RAND unpriv=no
	# The probe: does this criu have an unprivileged mode at all (criu 3.18 and later)?
	criu --help 2>&1 | grep -q -- '--unprivileged' && unpriv=yes
	run su "$RL_USER" -c "criu check"
	echo "# criu 3.17 check as the user: status $status: ${output##*$'\n'}" >&3
	config '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "'"$RL_CG/ck-$RAND"'"'
	as_user run -d "$id" "</dev/null >$RL_DIR/$id.out 2>&1"
	assert_success
	as_user checkpoint --image-path "$RL_DIR/img" "$id"
	assert_one_line_error
	if [ "$unpriv" = no ]; then
		assert_output_contains "checkpoint: a rootless container needs criu's unprivileged mode" "CAP_CHECKPOINT_RESTORE" \
			"criu 3.17 or older"
	else
		assert_output_contains "checkpoint: rootless containers are not supported yet"
	fi
	[ ! -e "$RL_DIR/img" ] || fail "image directory made: $(ls -la "$RL_DIR/img")"
	as_user state "$id"
	assert_success
	[[ "$output" == *'"status": "running"'* ]] || [[ "$output" == *'"status":"running"'* ]] || fail "state: $output"
	mkdir -p "$RL_DIR/img0" && chown "$RL_USER" "$RL_DIR/img0"
	as_user restore -d --image-path "$RL_DIR/img0" "$id-r" "</dev/null"
	assert_one_line_error
	assert_output_contains "restore: "
	[ "$unpriv" = yes ] || assert_output_contains "unprivileged mode"
	[ ! -e "$RL_XDG/brig/$id-r" ] && [ ! -d "$CGROUP2_ROOT$RL_CG/$id-r" ]
	as_user delete --force "$id"
	assert_success
	[ ! -d "$CGROUP2_ROOT$RL_CG/ck-$RAND" ]
}
