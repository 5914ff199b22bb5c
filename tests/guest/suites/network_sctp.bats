#!/usr/bin/env bats
# sctp port forwarding end to end: the development host's kernel has no SCTP, so the test in
# tests/integration/network.bats skips there; Debian's 6.1 kernel in the guest has it.

load ../helpers

setup() {
	require_guest_lane
}

@test "network: a published sctp port forwards to a server in the container (IPv4, IPv6, 127.0.0.1)" {
	run bats --tap -f sctp "$BATS_TEST_DIRNAME/../../integration/network.bats"
	printf '%s\n' "$output" >&2
	[ "$status" -eq 0 ] || fail "the sctp test failed"
	[[ "$output" == *"ok 1 "* ]] || fail "the sctp test did not run"
	[[ "$output" != *"# skip"* ]] || fail "the sctp test skipped in the guest: $output"
}
