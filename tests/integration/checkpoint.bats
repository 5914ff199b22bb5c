#!/usr/bin/env bats
# checkpoint and restore on the host (issue 11). criu 3.17.1 cannot work on this kernel (`criu check`
# fails: a vDSO layout only CRIU >= 4.1 knows), so here they must fail at once with one line that says why,
# change nothing, and accept every flag runc has. The real dumps and restores run in the guest lane
# (tests/guest/suites/checkpoint.bats).

load helpers

# The kernel probe the refusal tests depend on: criu's own check.
require_criu_refused() {
	command -v criu >/dev/null || skip "criu not installed"
	if criu check >/dev/null 2>&1; then
		skip "criu works on this kernel: checkpoint is tested for real in the guest lane"
	fi
}

@test "checkpoint where criu cannot work: one line with criu check's own error, in well under a second; the container runs on" {
	require_criu_refused
	local why
	why=$(criu check 2>&1 | grep -m1 Error || true)
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local start=$SECONDS
	run brig checkpoint --image-path "$TEST_DIR/img" "$ID"
	assert_one_line_error
	[ $((SECONDS - start)) -le 5 ] || fail "the refusal took $((SECONDS - start)) s"
	assert_output_contains "checkpoint container \`$ID\`: criu cannot work here: \`criu check\` failed: "
	[ -z "$why" ] || assert_output_contains "$why"
	[ "$(container_status "$ID")" = running ] || fail "the container is $(container_status "$ID") after the refusal"
	[ ! -e "$TEST_DIR/img" ] || fail "the refused checkpoint made $TEST_DIR/img"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "restore where criu cannot work: one line, and no state, cgroup or mount left" {
	require_criu_refused
	mkdir -p "$TEST_DIR/img"
	run brig restore -d --bundle "$BUNDLE" --image-path "$TEST_DIR/img" "$ID"
	assert_one_line_error
	assert_output_contains "restore container \`$ID\`: criu cannot work here: \`criu check\` failed: "
	assert_nothing_left
}

@test "checkpoint and restore take every flag runc has (and crun's --tcp-close)" {
	# Flags parse before the container is looked up: a usage error would say so instead.
	run brig checkpoint --image-path "$TEST_DIR/img" --work-path "$TEST_DIR/work" --parent-path ../pre \
		--leave-running --tcp-established --tcp-skip-in-flight --ext-unix-sk --shell-job --file-locks \
		--link-remap --auto-dedup --page-server 127.0.0.1:27 --manage-cgroups-mode ignore --empty-ns network \
		--lazy-pages --status-fd 2 nosuch
	assert_one_line_error
	assert_output_contains "container \`nosuch\` does not exist"
	run brig checkpoint --pre-dump nosuch
	assert_output_contains "container \`nosuch\` does not exist"
	run brig restore --image-path "$TEST_DIR/img" --work-path "$TEST_DIR/work" --tcp-established --tcp-close \
		--ext-unix-sk --shell-job --file-locks --auto-dedup --manage-cgroups-mode soft --empty-ns network \
		--bundle "$TEST_DIR/nobundle" -d --pid-file "$TEST_DIR/pid" --no-subreaper --no-pivot \
		--lsm-profile apparmor:x --lsm-mount-context ctx nosuch
	assert_one_line_error
	assert_output_contains "bundle \`$TEST_DIR/nobundle\`"
	# Long flags with one dash, as runc's CLI takes them: containerd's shim passes `-no-subreaper`.
	run brig restore -image-path "$TEST_DIR/img" -detach -pid-file "$TEST_DIR/pid" -no-subreaper \
		-bundle "$TEST_DIR/nobundle" nosuch
	assert_one_line_error
	assert_output_contains "bundle \`$TEST_DIR/nobundle\`"
	run brig restore --help
	assert_success
	assert_output_contains "--tcp-close" "--lsm-mount-context" "--no-subreaper"
	run brig checkpoint --help
	assert_success
	assert_output_contains "--pre-dump" "--page-server" "--manage-cgroups-mode"
}

@test "checkpoint and restore refuse bad flags by name" {
	run brig checkpoint --manage-cgroups-mode sometimes x
	assert_one_line_error
	assert_output_contains "--manage-cgroups-mode: \`sometimes\` is not soft, full, strict or ignore"
	run brig checkpoint --empty-ns ipc x
	assert_output_contains "--empty-ns: \`ipc\`: only \`network\`"
	run brig checkpoint --page-server nowhere x
	assert_one_line_error
	assert_output_contains "--page-server: \`nowhere\` is not ADDRESS:PORT"
	run brig checkpoint --lazy-pages x
	assert_one_line_error
	assert_output_contains "--lazy-pages: needs --page-server ADDRESS:PORT"
	run brig checkpoint --lazy-pages --page-server 127.0.0.1:27 --pre-dump x
	assert_one_line_error
	assert_output_contains "--lazy-pages: not with --pre-dump"
	run brig checkpoint --status-fd 2 x
	assert_one_line_error
	assert_output_contains "--status-fd: only with --lazy-pages"
	run brig checkpoint --pre-dump --leave-running x
	assert_output_contains "--pre-dump"
	run brig checkpoint --lazy-pages --page-server 127.0.0.1:27 --status-fd 999 x
	assert_output_contains "--status-fd: 999 is not an open file descriptor"
	run brig restore --leave-running x
	assert_one_line_error
	assert_output_contains "option \`--leave-running\` is not one of restore's"
	run brig checkpoint --detach x
	assert_output_contains "not one of checkpoint's"
	run brig restore --bundle "$BUNDLE" "bad/id"
	assert_one_line_error
	assert_nothing_left
}

@test "features and --version say whether brig can drive CRIU" {
	command -v criu >/dev/null || skip "criu not installed"
	run brig features
	assert_success
	[ "$(jq -r '.annotations["org.opencontainers.runc.checkpoint.enabled"]' <<<"$output")" = true ] ||
		fail "features: $(jq .annotations <<<"$output")"
	run brig --criu /nonexistent/criu features
	[ "$(jq -r '.annotations["org.opencontainers.runc.checkpoint.enabled"]' <<<"$output")" = false ] ||
		fail "features with a missing criu: $(jq .annotations <<<"$output")"
	run brig --version
	assert_output_contains "+CRIU"
	run brig --criu /nonexistent/criu --version
	assert_output_contains "-CRIU"
	run brig --criu /nonexistent/criu checkpoint --image-path "$TEST_DIR/img" nosuch
	assert_output_contains "does not exist"
}

@test "the container's init leads a session of its own (as runc's; CRIU needs it)" {
	run_in_container sh -c 'cut -d" " -f6 /proc/1/stat'
	assert_success
	[ "$output" = 1 ] || fail "the init's session is $output, not its own (1)"
}

@test "checkpoint --leave-running of a container with an overlay root is refused before anything happens (a clone would share its changes)" {
	mkdir -p "$TEST_DIR/layer"
	echo layered >"$TEST_DIR/layer/file"
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE" --layer "$TEST_DIR/layer"
	assert_success
	run brig checkpoint --leave-running --image-path "$TEST_DIR/img" "$ID"
	assert_one_line_error
	assert_output_contains "checkpoint container \`$ID\`: --leave-running: not supported yet for an overlay root"
	[ "$(container_status "$ID")" = running ] || fail "the container is $(container_status "$ID")"
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "standard streams on the caller's /dev/null are the container's /dev/null (CRIU cannot dump the host's)" {
	bundle_set_args sh -c 'for f in 0 1 2; do stat -L -c "$f %d:%i" /proc/self/fd/$f; done; stat -c "null %d:%i" /dev/null'
	run brig run --bundle "$BUNDLE" "$ID" </dev/null
	assert_success
	local null
	null=$(printf '%s\n' "$output" | sed -n 's/^null //p')
	[ -n "$null" ] || fail "no stat of /dev/null: $output"
	printf '%s\n' "$output" | grep -qx "0 $null" || fail "stdin is not the container's /dev/null ($null): $output"
	# stdout and stderr are bats' pipe: left as they are.
	printf '%s\n' "$output" | grep -qx "1 $null" && fail "stdout (a pipe of bats) was replaced: $output"
	return 0
}
