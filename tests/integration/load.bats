#!/usr/bin/env bats
# Load (issue 17): whole lifecycles in parallel on one root, many creates racing for one id, kills racing
# deletes, with `list` and `state` read in a loop throughout; creates racing deletes of one id. concurrency.bats has parallel creates,
# deletes and runs each on their own; these mix them and check what readers see meanwhile.

load helpers

# Under ASan on two cores, fifty runtimes at once are slow: the wrapper's limit is only there to end a hang.
# shellcheck disable=SC2034 # read by helpers.bash's brig()
BRIG_TIMEOUT=60

# The root's entries but the seccomp cache (hidden removal directories included).
root_entries() {
	find "$BRIG_ROOT" -mindepth 1 -maxdepth 1 ! -name .cache -printf '%f\n'
}

# readers_start ID: loops `list --format json` and `state ID` in the background until readers_stop, each
# output kept ($TEST_DIR/readers/{list,state}.N.{out,err,rc}) for readers_check.
readers_start() {
	mkdir -p "$TEST_DIR/readers"
	rm -f "$TEST_DIR/readers/stop"
	local kind
	for kind in list state; do
		(
			n=0
			while [ ! -e "$TEST_DIR/readers/stop" ]; do
				n=$((n + 1))
				f=$TEST_DIR/readers/$kind.$n
				rc=0
				if [ "$kind" = list ]; then
					brig list --format json >"$f.out" 2>"$f.err" || rc=$?
				else
					brig state "$1" >"$f.out" 2>"$f.err" || rc=$?
				fi
				echo "$rc" >"$f.rc"
			done
		) </dev/null 3>&- &
		echo $! >>"$TEST_DIR/readers/pids"
	done
}

readers_stop() {
	touch "$TEST_DIR/readers/stop"
	local p
	while read -r p; do
		wait "$p" || true
	done <"$TEST_DIR/readers/pids"
	rm -f "$TEST_DIR/readers/pids"
}

# Every list succeeded, printed nothing on stderr and parses as whole entries of this root's containers.
# `state ID` either parses as ID's whole state or, when $2 is `may-fail`, is one line naming the id (it
# does not exist yet or any more, or is being created). Prints how many of each were read.
readers_check() {
	local id=$1 may_fail=${2:-} f n_list=0 n_state=0 rc
	for f in "$TEST_DIR"/readers/list.*.rc; do
		f=${f%.rc}
		[ -e "$f.out" ] || continue
		rc=$(cat "$f.rc")
		[ "$rc" = 0 ] || fail "list failed ($rc): $(cat "$f.err")"
		[ ! -s "$f.err" ] || fail "list warned: $(cat "$f.err")"
		jq -e 'type == "array" and all(.[]; (.id | type == "string" and test("^c-"))
			and (.pid | type == "number") and (.status | IN("creating", "created", "running", "stopped"))
			and (.bundle | type == "string" and length > 0) and (.created | type == "string" and length > 0))' \
			"$f.out" >/dev/null || fail "list printed a partial or broken state: $(cat "$f.out")"
		n_list=$((n_list + 1))
	done
	for f in "$TEST_DIR"/readers/state.*.rc; do
		f=${f%.rc}
		rc=$(cat "$f.rc")
		if [ "$rc" = 0 ]; then
			jq -e --arg id "$id" '.id == $id and (.pid | type == "number") and (.bundle | length > 0)
				and (.status | IN("creating", "created", "running", "stopped"))' "$f.out" >/dev/null ||
				fail "state printed a partial or broken state: $(cat "$f.out")"
		else
			[ "$may_fail" = may-fail ] || fail "state $id failed ($rc): $(cat "$f.err")"
			[ "$(grep -c . "$f.err")" = 1 ] || fail "state $id: not one line: $(cat "$f.err")"
			grep -qF "container \`$id\` " "$f.err" || fail "state $id: the error does not name it: $(cat "$f.err")"
			grep -qE "does not exist|still being created" "$f.err" || fail "state $id: $(cat "$f.err")"
		fi
		n_state=$((n_state + 1))
	done
	if [ "$n_list" = 0 ] || [ "$n_state" = 0 ]; then fail "the readers read nothing"; fi
	echo "# readers: $n_list lists, $n_state states of $id" >&3
}

@test "50 parallel create/start/delete on one root all succeed while list and state read" {
	local n=50 i pids=() failed=0 t0=$SECONDS
	# A container that stays through it all, whose state must read whole every time.
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	for i in $(seq $n); do
		CONFIG_BUNDLE=$(make_bundle "$ID-$i") bundle_jq '.process.args = ["sleep", "1000"]'
	done
	readers_start "$ID"
	for i in $(seq $n); do
		(
			brig create --bundle "$TEST_DIR/bundle-$ID-$i" "$ID-$i" &&
				brig start "$ID-$i" &&
				[ "$(brig state "$ID-$i" | jq -r .status)" = running ] &&
				brig delete --force "$ID-$i"
		) </dev/null >"$TEST_DIR/life-$i.log" 2>&1 3>&- &
		pids[i]=$!
	done
	for i in $(seq $n); do
		wait "${pids[i]}" || { failed=$((failed + 1)); echo "lifecycle $i failed: $(cat "$TEST_DIR/life-$i.log")" >&2; }
	done
	readers_stop
	echo "# $n lifecycles in $((SECONDS - t0))s, $failed failed" >&3
	[ "$failed" = 0 ] || fail "$failed lifecycles failed"
	readers_check "$ID"
	[ "$(brig list -q)" = "$ID" ] || fail "list shows: $(brig list -q)"
	[ "$(root_entries)" = "$ID" ] || fail "left in the root: $(ls -A "$BRIG_ROOT")"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "20 parallel creates of one id: one wins, the others say so by id, the winner is whole" {
	local n=20 i pids=() ok=0 winner=
	bundle_set_args sleep 1000
	readers_start "$ID"
	for i in $(seq $n); do
		brig create --bundle "$BUNDLE" --pid-file "$TEST_DIR/pid-$i" "$ID" \
			</dev/null >"$TEST_DIR/dup-$i.log" 2>&1 3>&- &
		pids[i]=$!
	done
	for i in $(seq $n); do
		if wait "${pids[i]}"; then
			ok=$((ok + 1))
			winner=$i
		fi
	done
	readers_stop
	[ "$ok" -eq 1 ] || fail "$ok creates succeeded"
	for i in $(seq $n); do
		[ "$i" = "$winner" ] && continue
		output=$(cat "$TEST_DIR/dup-$i.log")
		[ "$(grep -c . <<<"$output")" = 1 ] || fail "create $i: not one line of error"
		assert_output_contains "container \`$ID\` already exists"
		[ ! -e "$TEST_DIR/pid-$i" ] || fail "a losing create wrote its --pid-file"
	done
	readers_check "$ID" may-fail
	# The winner's state, its init and its cgroup are as its create left them.
	run brig state "$ID"
	assert_success
	[ "$(jq -r .status <<<"$output")" = created ] || fail "not created"
	[ "$(jq -r .pid <<<"$output")" = "$(cat "$TEST_DIR/pid-$winner")" ] || fail "state's pid is not the winner's"
	[ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ] || fail "bundle"
	[ "$(root_entries)" = "$ID" ] || fail "the root holds: $(ls -A "$BRIG_ROOT")"
	local pid
	pid=$(cat "$TEST_DIR/pid-$winner")
	grep -qxF "$pid" "/sys/fs/cgroup/pids$CG_PREFIX/$ID/cgroup.procs" || fail "the init is not in its cgroup"
	[ "$(find "/sys/fs/cgroup/pids$CG_PREFIX" -mindepth 1 -type d | wc -l)" = 1 ] || fail "extra cgroups"
	run brig start "$ID"
	assert_success
	[ "$(container_status "$ID")" = running ]
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "parallel kill and delete --force of one container all end and leave nothing" {
	local c i pids=() rc failed=0 t0=$SECONDS
	for c in 1 2 3 4 5; do
		CONFIG_BUNDLE=$(make_bundle "$ID-$c") bundle_jq '.process.args = ["sleep", "1000"]'
		brig_detached "$ID-$c" run -d --bundle "$TEST_DIR/bundle-$ID-$c"
		assert_success
	done
	readers_start "$ID-1"
	for c in 1 2 3 4 5; do
		for i in 1 2 3 4 5 6; do
			case $i in
			1 | 4) brig kill "$ID-$c" KILL ;;
			2) brig kill "$ID-$c" TERM ;;
			3) brig kill --all "$ID-$c" KILL ;;
			*) brig delete --force "$ID-$c" ;;
			esac </dev/null >"$TEST_DIR/race-$c-$i.log" 2>&1 3>&- &
			pids[c * 10 + i]=$!
		done
	done
	for c in 1 2 3 4 5; do
		for i in 1 2 3 4 5 6; do
			rc=0
			wait "${pids[c * 10 + i]}" || rc=$?
			output=$(cat "$TEST_DIR/race-$c-$i.log")
			# A timeout's 124 or a sanitizer's exit code is a failure whatever the command.
			if [ "$i" -ge 5 ] && [ "$rc" != 0 ]; then
				failed=1
				echo "delete --force $c failed ($rc): $output" >&2
			elif [ "$rc" != 0 ] && { [ "$rc" != 1 ] || [ "$(grep -c . <<<"$output")" != 1 ] ||
				! grep -qE "container not running|container \`$ID-$c\` does not exist" <<<"$output"; }; then
				failed=1
				echo "kill $c/$i ended with $rc: $output" >&2
			fi
		done
	done
	readers_stop
	echo "# 5 containers, 4 kills and 2 deletes each, in $((SECONDS - t0))s" >&3
	[ "$failed" = 0 ] || fail "a kill or delete failed"
	readers_check "$ID-1" may-fail
	assert_nothing_left
}

@test "run -d and delete --force of one id racing: each create wins or says the id exists, nothing is left" {
	local w pids=() failed=0
	bundle_set_args sleep 1000
	for w in 1 2 3; do
		(
			for _ in $(seq 10); do
				rc=0
				brig run -d --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>"$TEST_DIR/err-$w" || rc=$?
				if [ "$rc" != 0 ] && ! grep -qx "brig: create container \`$ID\`: container \`$ID\` already exists" \
					"$TEST_DIR/err-$w"; then
					echo "run -d ($rc): $(cat "$TEST_DIR/err-$w")"
					exit 1
				fi
				brig delete --force "$ID" </dev/null 2>"$TEST_DIR/err-$w" || { echo "delete: $(cat "$TEST_DIR/err-$w")"; exit 1; }
			done
		) >"$TEST_DIR/worker-$w.log" 2>&1 3>&- &
		pids[w]=$!
	done
	for w in 1 2 3; do
		wait "${pids[w]}" || { failed=1; echo "worker $w: $(cat "$TEST_DIR/worker-$w.log")" >&2; }
	done
	[ "$failed" = 0 ] || fail "a create or delete failed otherwise"
	assert_nothing_left
	[ -z "$(root_entries)" ] || fail "left in the root: $(ls -A "$BRIG_ROOT")"
}
