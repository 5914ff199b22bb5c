#!/usr/bin/env bats
# Many runtime invocations at once on one --root. Creates racing for one id, whole lifecycles in parallel
# and kills racing deletes, with readers throughout: load.bats.

load helpers

N=20

@test "$N concurrent creates on one root all succeed and list shows them" {
	local i pids=() dirs=()
	for i in $(seq $N); do
		dirs[i]=$(make_bundle "$ID-$i")
		CONFIG_BUNDLE=${dirs[i]} bundle_jq '.process.args = ["sleep", "1000"]'
	done
	for i in $(seq $N); do
		brig create --bundle "${dirs[i]}" "$ID-$i" \
			</dev/null >"$TEST_DIR/create-$i.log" 2>&1 3>&- &
		pids[i]=$!
	done
	local failed=0
	for i in $(seq $N); do
		wait "${pids[i]}" || { failed=1; echo "create $i failed: $(cat "$TEST_DIR/create-$i.log")" >&2; }
	done
	[ "$failed" = 0 ]

	run brig list -q
	assert_success
	[ "$(wc -l <<<"$output")" -eq $N ] || fail "list shows $(wc -l <<<"$output") containers"
	for i in $(seq $N); do
		grep -qx "$ID-$i" <<<"$output" || fail "$ID-$i missing from list"
	done
	run brig list --format json
	[ "$(jq '[.[] | select(.status == "created")] | length' <<<"$output")" -eq $N ]

	# Distinct init processes, each in its own cgroup.
	[ "$(jq '[.[].pid] | unique | length' <<<"$output")" -eq $N ]

	# Concurrent deletes too.
	for i in $(seq $N); do
		brig delete --force "$ID-$i" </dev/null >/dev/null 2>&1 3>&- &
		pids[i]=$!
	done
	for i in $(seq $N); do
		wait "${pids[i]}" || failed=1
	done
	[ "$failed" = 0 ]
	assert_nothing_left
}

@test "$N concurrent runs on one root all exit with their own status" {
	local i pids=() dirs=()
	for i in $(seq $N); do
		dirs[i]=$(make_bundle "$ID-$i")
		CONFIG_BUNDLE=${dirs[i]} bundle_jq '.process.args = ["sh", "-c", "echo run-'"$i"'; exit '"$((i % 7))"'"]'
	done
	for i in $(seq $N); do
		brig run --bundle "${dirs[i]}" "$ID-$i" \
			</dev/null >"$TEST_DIR/run-$i.log" 2>&1 3>&- &
		pids[i]=$!
	done
	local rc
	for i in $(seq $N); do
		rc=0
		wait "${pids[i]}" || rc=$?
		[ "$rc" -eq $((i % 7)) ] || fail "run $i exited $rc: $(cat "$TEST_DIR/run-$i.log")"
		[ "$(cat "$TEST_DIR/run-$i.log")" = "run-$i" ] || fail "run $i printed $(cat "$TEST_DIR/run-$i.log")"
	done
	assert_nothing_left
}
