#!/usr/bin/env bats
# migrate and migrate-receive on the host (issue 14): bad input is one line and changes nothing, and where criu
# cannot work (this kernel) both say so with the checkpoint library's line before anything is dumped or
# received. The real migrations run in the guest lane (tests/guest/suites/migrate.bats).
#
# Connections stay inside a network namespace of the test's own (brig runs there under `nsenter --net`, which
# leaves its mounts alone).

load helpers

# The kernel probe the refusal tests depend on: criu's own check.
require_criu_refused() {
	command -v criu >/dev/null || skip "criu not installed"
	if criu check >/dev/null 2>&1; then
		skip "criu works on this kernel: migrate is tested for real in the guest lane"
	fi
}

# A test netns with lo up: $NS.
net_setup() {
	NS=$(make_netns m)
	ip -n "$NS" link set lo up
}

in_ns() {
	nsenter --net="/run/netns/$NS" "$@"
}

# Nothing of a migration is left in the root: no work or bundle directory.
assert_no_migration_left() {
	[ -z "$(ls -A "$BRIG_ROOT/.migrate-out" 2>/dev/null)" ] || fail "work directory left: $(ls "$BRIG_ROOT/.migrate-out")"
	[ -z "$(ls -A "$BRIG_ROOT/.migrate" 2>/dev/null)" ] || fail "bundle left: $(ls "$BRIG_ROOT/.migrate")"
}

@test "migrate and migrate-receive refuse bad flags and arguments with one line" {
	local args
	for args in "" "c1" "c1 tcp:127.0.0.1:1 extra" "--offline --live c1 tcp:127.0.0.1:1" \
		"--max-iterations 3 c1 tcp:127.0.0.1:1" "--live --max-iterations 0 c1 tcp:127.0.0.1:1" \
		"--live --max-iterations 65 c1 tcp:127.0.0.1:1" "--live --downtime-target x c1 tcp:127.0.0.1:1" \
		"--nosuch c1 tcp:127.0.0.1:1" "--live --lazy-pages c1 tcp:127.0.0.1:1" "--eager-restore c1 tcp:127.0.0.1:1"; do
		# shellcheck disable=SC2086
		run brig migrate $args
		assert_one_line_error
		assert_output_contains "brig: migrate: "
	done
	for args in "" "--listen" "--listen 127.0.0.1:1 extra" "--nosuch --listen 127.0.0.1:1" \
		"--timeout 0 --listen 127.0.0.1:1" "--timeout 86401 --listen 127.0.0.1:1" "--timeout x --listen 127.0.0.1:1" \
		"--listen 127.0.0.1:1 --cgroup-parent rel" "--listen 127.0.0.1:1 --cgroup-parent /a/../b"; do
		# shellcheck disable=SC2086
		run brig migrate-receive $args
		assert_one_line_error
		assert_output_contains "brig: migrate-receive: "
	done
	for args in "" "c1" "c1 f extra" "--live c1 f"; do
		# shellcheck disable=SC2086
		run brig export $args
		assert_one_line_error
		assert_output_contains "brig: export: "
	done
	for args in "" "a b" "--nosuch a"; do
		# shellcheck disable=SC2086
		run brig import $args
		assert_one_line_error
		assert_output_contains "brig: import: "
	done
	run brig export nosuch "$TEST_DIR/x.archive"
	assert_one_line_error
	assert_output_contains "export container \`nosuch\`: container \`nosuch\` does not exist"
	[ ! -e "$TEST_DIR/x.archive" ] || fail "a refused export made its file"
	run brig migrate-receive --listen 127.0.0.1
	assert_one_line_error
	assert_output_contains "--listen \`127.0.0.1\`: not HOST:PORT"
	run brig migrate-receive --listen localhost:70
	assert_one_line_error
	assert_output_contains "--listen \`localhost:70\`"
	run brig migrate-receive --listen 127.0.0.1:70 --id ../x
	assert_one_line_error
	assert_no_migration_left
}

@test "migrate: an unknown id, a bad tcp:HOST:PORT, nothing listening: one line each, the container runs on unchanged" {
	local pid t
	net_setup
	run brig migrate nosuch tcp:127.0.0.1:7
	assert_one_line_error
	assert_output_contains "migrate container \`nosuch\`: container \`nosuch\` does not exist"
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	pid=$(container_pid "$ID")
	for t in "udp:127.0.0.1:7" "tcp:127.0.0.1" "tcp::7" "tcp:127.0.0.1:0" "tcp:127.0.0.1:65536" "tcp:127.0.0.1:x" \
		"tcp:no-such-host.invalid:7"; do
		run brig migrate "$ID" "$t"
		assert_one_line_error
		assert_output_contains "migrate container \`$ID\`: migration target \`$t\`"
	done
	# Nothing listens on this port in the test's namespace: refused at once.
	run in_ns env BRIG_TEST_TOKEN="$TOKEN" timeout 20 "$BRIG" --root "$BRIG_ROOT" migrate "$ID" tcp:127.0.0.1:7
	assert_one_line_error
	assert_output_contains "migrate container \`$ID\`: connect to \`tcp:127.0.0.1:7\`: Connection refused"
	[ "$(container_status "$ID")" = running ] || fail "the container is $(container_status "$ID")"
	[ "$(container_pid "$ID")" = "$pid" ] || fail "the container's pid changed"
	assert_no_migration_left
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}

@test "migrate where criu cannot work: the checkpoint library's line, the container runs on; migrate-receive does not listen" {
	require_criu_refused
	command -v socat >/dev/null || skip "socat not installed"
	local listener
	net_setup
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	# A listener that takes the connection and says nothing: the source probes criu before its hello.
	in_ns socat -u TCP-LISTEN:7700,bind=127.0.0.1,reuseaddr OPEN:/dev/null 3>&- &
	listener=$!
	for _ in $(seq 50); do
		in_ns ss -Hltn "sport = :7700" | grep -q . && break
		sleep 0.1
	done
	run in_ns env BRIG_TEST_TOKEN="$TOKEN" timeout 20 "$BRIG" --root "$BRIG_ROOT" migrate --live "$ID" tcp:127.0.0.1:7700
	kill "$listener" 2>/dev/null || true
	wait "$listener" 2>/dev/null || true
	assert_one_line_error
	assert_output_contains "migrate container \`$ID\`: criu cannot work here: \`criu check\` failed: "
	[ "$(container_status "$ID")" = running ] || fail "the container is $(container_status "$ID")"
	assert_no_migration_left
	run in_ns env BRIG_TEST_TOKEN="$TOKEN" timeout 20 "$BRIG" --root "$BRIG_ROOT" migrate-receive --once --listen 127.0.0.1:7701
	assert_one_line_error
	assert_output_contains "criu cannot work here: \`criu check\` failed: "
	assert_no_migration_left
	run brig export "$ID" "$TEST_DIR/x.archive"
	assert_one_line_error
	assert_output_contains "export container \`$ID\`: criu cannot work here: \`criu check\` failed: "
	[ ! -e "$TEST_DIR/x.archive" ] || fail "a refused export left its file"
	[ "$(container_status "$ID")" = running ] || fail "the container is $(container_status "$ID") after export"
	: >"$TEST_DIR/empty.archive"
	run brig import "$TEST_DIR/empty.archive"
	assert_one_line_error
	assert_output_contains "criu cannot work here: \`criu check\` failed: "
	assert_no_migration_left
	run brig delete --force "$ID"
	assert_success
	assert_nothing_left
}
