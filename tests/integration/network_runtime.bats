#!/usr/bin/env bats
# brig's own networking through the CLI: `run -p`, `--network`, annotations, state, and teardown.
# A network namespace made by the test stands for the host (nsenter keeps the host's /sys mounts);
# nothing touches the machine's own interfaces or firewall.

load helpers

setup() {
	common_setup
	HOST_NS=$(make_netns host)
	ip netns exec "$HOST_NS" ip link set lo up
}

in_host() {
	nsenter --net="/run/netns/$HOST_NS" "$@"
}

brig_in_host() {
	BRIG_TEST_TOKEN=$TOKEN in_host timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" --root "$BRIG_ROOT" "$@"
}

# Once a container's processes are gone, delete only sets its host veth down: the kernel removes the pair
# with the container's network namespace, in the background and usually within a second.
assert_no_veth_soon() {
	local i
	for i in $(seq 1 100); do
		[ -z "$(ip netns exec "$HOST_NS" ip -o link show type veth)" ] && return 0
		[ -z "$(ip netns exec "$HOST_NS" ip -o link show type veth up)" ] || fail "a veth is still up: $(ip netns exec "$HOST_NS" ip -o link show type veth up)"
		sleep 0.1
	done
	fail "veth left: $(ip netns exec "$HOST_NS" ip -o link show type veth)"
}

@test "run -p publishes a port: it answers on 127.0.0.1 and the host address, state shows ip and ports" {
	bundle_set_args sh -c 'while true; do echo hello-from-container | nc -l -p 80; done'
	remember_id "$ID"
	brig_in_host run -d --bundle "$BUNDLE" -p 18080:80 "$ID" </dev/null >/dev/null 2>"$TEST_DIR/err"
	run brig_in_host state "$ID"
	assert_success
	local ip
	ip=$(jq -r .ip <<<"$output")
	[[ "$ip" == 10.89.0.* ]] || fail "no ip in state: $output"
	[ "$(jq -r .ports <<<"$output")" = "18080:80" ]
	local i
	for i in $(seq 1 50); do
		run in_host busybox nc -w 2 127.0.0.1 18080 </dev/null
		[[ "$output" == *hello-from-container* ]] && break
		sleep 0.1
	done
	assert_output_contains hello-from-container
	# The container's nc serves one connection at a time: retry while it restarts.
	for i in $(seq 1 50); do
		run in_host busybox nc -w 2 10.89.0.1 18080 </dev/null
		[[ "$output" == *hello-from-container* ]] && break
		sleep 0.1
	done
	assert_output_contains hello-from-container
	run brig_in_host delete --force "$ID"
	assert_success
	# No veth, lease, port claim or map element left.
	assert_no_veth_soon
	[ -z "$(ls -A "$BRIG_ROOT/.net/ports" 2>/dev/null)" ] || fail "port claim left"
	[ -z "$(ls -A "$BRIG_ROOT/.net/networks/brig/leases" 2>/dev/null)" ] || fail "lease left"
	! ip netns exec "$HOST_NS" nft list map ip brig pf_any 2>/dev/null | grep -q 18080 || fail "map element left"
}

@test "the run.brig.* annotations do what the flags do; a published port is refused twice" {
	bundle_set_args sleep 100
	bundle_jq '.annotations["run.brig.ports"] = "18081:80"'
	remember_id "$ID"
	brig_in_host run -d --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1
	run brig_in_host state "$ID"
	[ "$(jq -r .ports <<<"$output")" = "18081:80" ]
	local b2
	b2=$(make_bundle "$ID-2")
	run brig_in_host run -d --bundle "$b2" -p 18081:80 "$ID-2"
	assert_one_line_error
	assert_output_contains "18081/tcp is already published by container \`$ID\`"
	[ ! -e "$BRIG_ROOT/$ID-2" ]
	run brig_in_host delete --force "$ID"
	assert_success
}

@test "a container without --network or annotations gets only lo, as with runc" {
	run_in_container sh -c 'ls /sys/class/net'
	assert_success
	[ "$(echo $output)" = "lo" ]
}

@test "brig killed in the middle of create: delete --force still removes veth, lease and ports" {
	bundle_set_args sleep 100
	bundle_jq '.hooks.createRuntime = [{path: "/bin/sleep", args: ["sleep", "30"]}]'
	remember_id "$ID"
	brig_in_host create --bundle "$BUNDLE" -p 18082:80 "$ID" </dev/null >/dev/null 2>&1 &
	local creator=$!
	# Wait until the network is attached (the hook holds create), then kill brig.
	local i
	for i in $(seq 1 100); do
		[ -n "$(ip netns exec "$HOST_NS" ip -o link show type veth 2>/dev/null)" ] && break
		sleep 0.05
	done
	pkill -KILL -f "root $BRIG_ROOT create" || true
	wait "$creator" 2>/dev/null || true
	pkill -KILL -f "sleep 30" || true
	run brig_in_host delete --force "$ID"
	assert_success
	assert_no_veth_soon
	[ -z "$(ls -A "$BRIG_ROOT/.net/ports" 2>/dev/null)" ] || fail "port claim left"
	[ -z "$(ls -A "$BRIG_ROOT/.net/networks/brig/leases" 2>/dev/null)" ] || fail "lease left"
	[ ! -e "$BRIG_ROOT/$ID" ]
}

@test "create with a network, then start, state and delete from other brig processes (no lock held by the init)" {
	bundle_set_args sleep 100
	remember_id "$ID"
	local b2
	b2=$(make_bundle "$ID-2")
	CONFIG_BUNDLE=$b2 bundle_jq '.process.args = ["sleep", "100"]'
	brig_in_host create --bundle "$BUNDLE" --network brig "$ID" </dev/null >/dev/null 2>&1
	brig_in_host create --bundle "$b2" --network brig "$ID-2" </dev/null >/dev/null 2>&1
	run brig_in_host start "$ID"
	assert_success
	run brig_in_host delete --force "$ID-2"
	assert_success
	run brig_in_host state "$ID"
	[ "$(jq -r .status <<<"$output")" = running ]
	run brig_in_host delete --force "$ID"
	assert_success
	assert_no_veth_soon
}

@test "delete takes the host veth off the bridge at once; the same id created again gets a new pair that works" {
	bundle_set_args sh -c 'while true; do echo hello-again | nc -l -p 80; done'
	remember_id "$ID"
	brig_in_host run -d --bundle "$BUNDLE" -p 18083:80 "$ID" </dev/null >/dev/null 2>&1
	local first
	first=$(sed -n 's/^veth=//p' "$BRIG_ROOT/$ID/network")
	run brig_in_host delete --force "$ID"
	assert_success
	# Gone, or down until the kernel has removed the container's namespace with it.
	if in_host ip -o link show "$first" 2>/dev/null | grep -q "state UP"; then
		fail "veth $first still up after delete"
	fi
	brig_in_host run -d --bundle "$BUNDLE" -p 18083:80 "$ID" </dev/null >/dev/null 2>&1
	local second i
	second=$(sed -n 's/^veth=//p' "$BRIG_ROOT/$ID/network")
	[ -n "$second" ] && [ "$second" != "$first" ] || fail "veth names: $first, then $second"
	for i in $(seq 1 50); do
		run in_host busybox nc -w 2 127.0.0.1 18083 </dev/null
		[[ "$output" == *hello-again* ]] && break
		sleep 0.1
	done
	assert_output_contains hello-again
	run brig_in_host delete --force "$ID"
	assert_success
	assert_no_veth_soon
}

@test "a port bound to an IPv6 address on a network without subnet6 is refused, and nothing is left" {
	bundle_set_args sleep 100
	run brig_in_host run -d --bundle "$BUNDLE" -p '[fd00::1]:18084:80' "$ID"
	assert_one_line_error
	assert_output_contains "port [fd00::1]:18084/tcp: network \`brig\` has no subnet6"
	[ ! -e "$BRIG_ROOT/$ID" ] || fail "state directory left"
	[ -z "$(ls -A "$BRIG_ROOT/.net/ports" 2>/dev/null)" ] || fail "port claim left"
	[ -z "$(ls -A "$BRIG_ROOT/.net/networks/brig/leases" 2>/dev/null)" ] || fail "lease left"
	[ -z "$(ip netns exec "$HOST_NS" ip -o link show type veth)" ] || fail "veth made"
}
