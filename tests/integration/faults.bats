#!/usr/bin/env bats
# A kill at any step loses nothing (issue 17): brig is SIGKILLed at one syscall after another of create,
# start, run -d, exec and delete (strace's syscall fault injection), each time followed by `delete --force`
# and a check that nothing is left; then the same id works again. Plus a corrupt or truncated state file (and
# init record) and a read-only or full state root.
#
# The steps are found by the test: a first traced run of the command lists the syscalls its own process makes
# (not its children's: the init is the container's), each with its stack (strace -k). Step N is the Nth of
# them; it is killed with `-e inject=NAME:signal=KILL:when=K`, K being that call's rank among the calls of the
# same name. Which steps are walked is fixed by the code, not sampled: the first call of each distinct step, a
# step being a syscall name and the path in brig that makes it (every frame of brig's own, as function+offset).
# A loop's later rounds repeat its first round's steps, and the hundreds of calls of the loader and the
# sanitizer's start-up before main() are one step (nothing of brig's is made there). FAULT_STRIDE=N walks every
# Nth call as well (FAULT_STRIDE=1: all of them).

load helpers

FAULT_STRIDE=${FAULT_STRIDE:-0}

# Prepares what the walked command needs: nothing for create and run, a created container for start and
# delete, a running one for exec.
prepare() {
	case "$1" in
	start | delete) brig_create >/dev/null ;;
	exec) brig_detached "$ID" run -d --bundle "$BUNDLE" ;;
	# The layer goes, so that the run unpacks it again.
	run-image) rm -rf "${STORE:?}/$LAYER_HEX" ;;
	esac
}

command_args() {
	case "$1" in
	create) echo create --bundle "$BUNDLE" "$ID" ;;
	run) echo run -d --bundle "$BUNDLE" "$ID" ;;
	start) echo start "$ID" ;;
	exec) echo exec "$ID" true ;;
	delete) echo delete --force "$ID" ;;
	run-net) echo run -d --bundle "$BUNDLE" -p 18080:80 "$ID" ;;
	run-layer) echo run -d --bundle "$BUNDLE" --layer "$TEST_DIR/layer" "$ID" ;;
	run-image) echo run -d --bundle "$BUNDLE" --image "$TEST_DIR/image:top" --store "$STORE" "$ID" ;;
	esac
}

# With brig's network, every command runs in a network namespace the test made to stand for the host
# ($HOST_NS): the bridge, veths and nft tables are made there, never in the machine's own.
in_host() {
	if [ -n "${HOST_NS:-}" ]; then
		nsenter --net="/run/netns/$HOST_NS" "$@"
	else
		"$@"
	fi
}

# Nothing of brig's network is left in the host stand-in: no veth up (the kernel removes a dead container's
# pair in the background: wait for it), no lease or port claim under --root, no nft element naming the
# container's address or published port.
assert_no_network_left() {
	local i claims
	[ -n "${HOST_NS:-}" ] || return 0
	for ((i = 0; i < 100; i++)); do
		[ -z "$(ip netns exec "$HOST_NS" ip -o link show type veth)" ] && break
		sleep 0.1
	done
	# Each failure returns at once: called in a `||` list, as the walk does, errexit would not stop here.
	[ -z "$(ip netns exec "$HOST_NS" ip -o link show type veth)" ] ||
		{ fail "veth left: $(ip netns exec "$HOST_NS" ip -o link show type veth)"; return 1; }
	claims=$(find "$BRIG_ROOT/.net" -type f \( -path '*/leases/*' -o -path '*/ports/*' \) 2>/dev/null)
	[ -z "$claims" ] || { fail "leases or port claims left: $claims"; return 1; }
	! ip netns exec "$HOST_NS" nft list ruleset 2>/dev/null | grep -Eq '10\.89\.0\.[0-9]+|18080' ||
		{ fail "nft elements left: $(ip netns exec "$HOST_NS" nft list ruleset | grep -E '10\.89|18080')"; return 1; }
}

traced() {
	BRIG_TEST_TOKEN=$TOKEN in_host timeout -k 5 20 strace -qq "$@" </dev/null >/dev/null 2>&1 3>&-
}

# "NAME K" for each step walked, from a trace with stacks (strace -k). With $FAULT_FROM and $FAULT_TO set,
# every call from the first naming FAULT_FROM to the next naming FAULT_TO (K still counts from the start).
steps_of() {
	awk -v stride="$FAULT_STRIDE" -v from="${FAULT_FROM:-}" -v to="${FAULT_TO:-}" '
		function step() {
			if (name == "") return
			n++
			if (from != "") {
				if (on && index(line, to)) { on = 0; done = 1; print name, k }
				if (!on && !done && index(line, from)) on = 1
				if (on) print name, k
			} else {
				class = site != "" ? name " " site : in_main ? name " outside brig" : "start-up"
				if (!(class in walked) || (stride > 0 && n % stride == 0)) print name, k
				walked[class] = 1
			}
			name = ""
		}
		/^[a-z_0-9]+\(/ {
			step()
			line = $0; name = substr($0, 1, index($0, "(") - 1); k = ++seen[name]; site = ""
			next
		}
		/^ > / {
			if (index($0, "/brig(main+")) in_main = 1
			if (match($0, /\/brig\([^)]*\)/) && substr($0, RSTART + 6, 6) != "_start")
				site = site "<" substr($0, RSTART + 6, RLENGTH - 7)
		}
		END { step() }' "$1"
}

# Nothing of an unpack is left: no temporary directory or lock file in the layer store, no note naming the
# store in the state root.
assert_no_unpack_left() {
	local left
	[ -n "${STORE:-}" ] || return 0
	left=$(find "$STORE" -mindepth 1 -maxdepth 2 \( -name '.tmp-*' -o -path "$STORE/.locks/*" \) 2>/dev/null
		find "$BRIG_ROOT" -mindepth 1 -maxdepth 1 -name '.*' 2>/dev/null)
	[ -z "$left" ] || fail "left by the unpack: $left"
}

# What assert_nothing_left, assert_no_network_left and assert_no_unpack_left check, with few processes (and
# returning at the first failure: in the walk's `||` list errexit does not stop a function): it runs
# after every step (the full checks run at the walk's start and end). Nothing in the root but the network's
# state and the seccomp cache; no cgroup below the test's prefix in any hierarchy, no mount below the test's
# directory, no process with the test's token; then the network's and the unpack's own checks when they apply.
assert_step_left_nothing() {
	local e mnt left=()
	for e in "$BRIG_ROOT"/* "$BRIG_ROOT"/.*; do
		case ${e##*/} in . | .. | .net | .cache) ;; *) left+=("$e") ;; esac
	done
	for mnt in "${CG_MOUNTS[@]}"; do
		for e in "$mnt$CG_PREFIX"/*/; do left+=("cgroup ${e%/}"); done
	done
	[ ${#left[@]} -eq 0 ] || { fail "left: ${left[*]}"; return 1; }
	! grep -qF " $TEST_DIR/" /proc/self/mountinfo || { fail "mounts left: $(mounts_under "$TEST_DIR")"; return 1; }
	[ -z "$(token_pids)" ] || { fail "processes left: $(token_pids)"; return 1; }
	if [ -n "${HOST_NS:-}" ]; then assert_no_network_left || return 1; fi
	if [ -n "${STORE:-}" ]; then
		left=("$STORE"/.tmp-* "$STORE"/.locks/*)
		[ ${#left[@]} -eq 0 ] || { fail "left by the unpack: ${left[*]}"; return 1; }
	fi
}

# Nothing of the container is left (see assert_step_left_nothing), and the id works again at the end.
walk() {
	local kind=$1 args name k steps=0 t0=$SECONDS
	args=$(command_args "$kind")
	prepare "$kind"
	# shellcheck disable=SC2086
	traced -k -o "$TEST_DIR/trace" "$BRIG" --root "$BRIG_ROOT" $args
	in_host "$BRIG" --root "$BRIG_ROOT" delete --force "$ID" >/dev/null 2>&1 </dev/null || true
	assert_nothing_left
	assert_no_network_left
	assert_no_unpack_left
	mapfile -t CG_MOUNTS < <(cgroup_mounts)
	shopt -s nullglob
	while read -r name k; do
		prepare "$kind"
		# shellcheck disable=SC2086
		traced -o /dev/null -e "inject=$name:signal=KILL:when=$k" "$BRIG" --root "$BRIG_ROOT" $args || true
		run in_host timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" --root "$BRIG_ROOT" delete --force "$ID"
		# A failed step ends the walk: every later one would fail on what it left.
		[ ! -e "$BRIG_ROOT/$ID" ] || { fail "$kind killed at $name #$k: delete --force left the state"; return 1; }
		assert_step_left_nothing || { fail "$kind killed at $name #$k: something is left"; return 1; }
		steps=$((steps + 1))
	done < <(steps_of "$TEST_DIR/trace")
	shopt -u nullglob
	[ "$steps" -gt 10 ] || fail "only $steps steps found in $(wc -l <"$TEST_DIR/trace") traced calls"
	# The command works again after the walk. The container keeps its stdio: files, not bats' `run` pipe,
	# whose reader would wait for the container.
	prepare "$kind"
	# shellcheck disable=SC2086
	BRIG_TEST_TOKEN=$TOKEN in_host timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" --root "$BRIG_ROOT" $args \
		</dev/null >"$TEST_DIR/again.out" 2>&1 3>&- || fail "$kind after the walk: $(cat "$TEST_DIR/again.out")"
	run in_host timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" --root "$BRIG_ROOT" delete --force "$ID"
	assert_success
	assert_nothing_left
	assert_no_network_left
	assert_no_unpack_left
	echo "# $kind: $steps of $(grep -c '^[a-z_0-9]*(' "$TEST_DIR/trace") steps walked in $((SECONDS - t0))s" >&3
}

setup() {
	common_setup
	bundle_set_args sleep 1000
	remember_id "$ID"
}

@test "SIGKILL at the steps of create leaves nothing after delete --force" {
	walk create
}

@test "SIGKILL at the steps of run -d leaves nothing after delete --force" {
	walk run
}

@test "SIGKILL at the steps of start leaves nothing after delete --force" {
	walk start
}

@test "SIGKILL at the steps of exec leaves nothing after delete --force" {
	walk exec
}

@test "SIGKILL at the steps of delete leaves nothing after another delete --force" {
	walk delete
}

@test "SIGKILL at the steps of run -d --layer (an overlay root) leaves no mount, upper or work directory after delete --force" {
	mkdir -p "$TEST_DIR/layer"
	echo layered >"$TEST_DIR/layer/file"
	walk run-layer
	# The state directory held the overlay's upper and work: nothing of them may stay anywhere under --root.
	[ -z "$(find "$BRIG_ROOT" -mindepth 1 -maxdepth 2 \( -name upper -o -name work -o -name '.*-work' \) 2>/dev/null)" ] ||
		fail "overlay directories left: $(find "$BRIG_ROOT" -mindepth 1 -maxdepth 2)"
	[ "$(cat "$TEST_DIR/layer/file")" = layered ] || fail "the layer changed"
}

@test "SIGKILL at every step of a run -d --image unpack leaves no temporary directory, lock or note after delete --force" {
	command -v umoci >/dev/null || fail "umoci is not installed (run scripts/setup.sh)"
	mkdir -p "$TEST_DIR/top/srv/d"
	echo one >"$TEST_DIR/top/srv/d/f"
	ln -s d/f "$TEST_DIR/top/srv/link"
	(cd "$TEST_DIR" && umoci init --layout image && umoci new --image image:top &&
		umoci insert --image image:top top /) >"$TEST_DIR/umoci.log" 2>&1 || fail "umoci: $(cat "$TEST_DIR/umoci.log")"
	local manifest config
	manifest=$(jq -r '.manifests[0].digest' "$TEST_DIR/image/index.json")
	config=$(jq -r .config.digest "$TEST_DIR/image/blobs/sha256/${manifest#sha256:}")
	LAYER_HEX=$(jq -r '.rootfs.diff_ids[-1]' "$TEST_DIR/image/blobs/sha256/${config#sha256:}")
	LAYER_HEX=${LAYER_HEX#sha256:}
	STORE=$TEST_DIR/store
	# From the note naming the store to its removal: every step of the unpack, the lock and the sweep.
	FAULT_FROM=.unpack- FAULT_TO=.unpack- walk run-image
	[ -d "$STORE/$LAYER_HEX" ] || fail "the layer is not in the store after the walk: $(ls -A "$STORE")"
}

@test "SIGKILL at the steps of run -d -p (brig's network) leaves no veth, lease, port claim or nft element after delete --force" {
	HOST_NS=$(make_netns host)
	ip netns exec "$HOST_NS" ip link set lo up
	walk run-net
}

# state.json alone cannot be trusted to find the container again: delete --force falls back to the init
# record (pid, start time, cgroup) written beside it before the init is cloned and at every save; an overlay
# root in the state directory is taken down by its names there (its upper kept).
corrupt_state() {
	if [ "$1" = corrupt ]; then
		printf '{"id": [' >"$BRIG_ROOT/$2/state.json"
	else
		: >"$BRIG_ROOT/$2/state.json"
	fi
}

@test "a corrupt or truncated state file: state and list name the id, delete --force removes it all" {
	require_brig
	local how
	for how in corrupt truncated; do
		ID=c-$RAND-$how
		remember_id "$ID"
		make_config "$BUNDLE" "$ID"
		bundle_set_args sleep 1000
		brig_detached "$ID" run -d --bundle "$BUNDLE"
		assert_success
		corrupt_state "$how" "$ID"
		run brig state "$ID"
		assert_failure
		assert_output_contains "$ID"
		run brig list
		assert_success
		assert_output_contains "container \`$ID\`: state"
		run brig list -q
		assert_output_not_contains "
$ID"
		run brig delete --force "$ID"
		assert_success
		assert_output_contains "container \`$ID\`: state" "init record"
		assert_nothing_left
		# The same id works again.
		brig_create
		assert_success
		run brig delete --force "$ID"
		assert_success
		assert_nothing_left
	done
}

@test "a corrupt state file of a container with an overlay root: delete --force unmounts it and keeps its upper" {
	require_brig
	mkdir -p "$TEST_DIR/layer"
	echo layer >"$TEST_DIR/layer/from-layer"
	bundle_jq '.root.readonly = false'
	bundle_set_args sh -c 'cat /from-layer >/changed; exec sleep 1000'
	brig_detached "$ID" run -d --layer "$TEST_DIR/layer" --bundle "$BUNDLE"
	assert_success
	local i
	for i in $(seq 100); do [ -e "$BRIG_ROOT/$ID/upper/changed" ] && break; sleep 0.05; done
	corrupt_state corrupt "$ID"
	run brig delete --force "$ID"
	assert_success
	assert_output_contains "init record" "is kept at $BRIG_ROOT/.upper/$ID"
	[ "$(cat "$BRIG_ROOT/.upper/$ID/changed")" = layer ] || fail "the container's change is not in the kept upper"
	rm -rf "$BRIG_ROOT/.upper"
	assert_nothing_left
}

@test "delete --force by the init record kills no process that took the init's pid" {
	require_brig
	# A process of the host's (not in the container's cgroup) stands for one that reused the pid. Start times
	# count clock ticks (10 ms): it starts well before the init, so that they differ.
	BRIG_TEST_TOKEN=$TOKEN sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
	local other=$!
	sleep 0.1
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	sed -i "s/^pid .*/pid $other/" "$BRIG_ROOT/$ID/init-record"
	corrupt_state corrupt "$ID"
	run brig delete --force "$ID"
	assert_success
	kill -0 "$other" || fail "delete --force killed pid $other, whose start time is not the init's"
	kill "$other"
	wait "$other" || true
	assert_nothing_left
}

@test "delete --force with neither state nor init record readable names both and leaves the directory" {
	require_brig
	bundle_set_args sleep 1000
	brig_create
	assert_success
	corrupt_state corrupt "$ID"
	echo junk >"$BRIG_ROOT/$ID/init-record"
	run brig delete --force "$ID"
	assert_one_line_error
	assert_output_contains "container \`$ID\`: state" "init record" "not an init record"
	# What it names is still there for a look (teardown removes it by the test's token).
	[ -d "$BRIG_ROOT/$ID" ] || fail "the state directory is gone"
}

@test "a read-only state root fails create clearly and leaves nothing" {
	require_brig
	mount -t tmpfs -o size=1m,mode=755 brig-test "$BRIG_ROOT"
	mount -o remount,ro "$BRIG_ROOT"
	brig_create
	assert_one_line_error
	assert_output_contains "$BRIG_ROOT"
	umount "$BRIG_ROOT"
	assert_nothing_left
}

@test "a full state root fails create clearly and leaves nothing" {
	require_brig
	mount -t tmpfs -o size=64k,mode=755 brig-test "$BRIG_ROOT"
	dd if=/dev/zero of="$BRIG_ROOT/.fill" bs=4k 2>/dev/null || true
	brig_create
	assert_one_line_error
	assert_output_contains "No space left on device"
	rm -f "$BRIG_ROOT/.fill"
	[ -z "$(ls -A "$BRIG_ROOT")" ] || fail "left in the root: $(ls -A "$BRIG_ROOT")"
	umount "$BRIG_ROOT"
	assert_nothing_left
}
