#!/usr/bin/env bats
# Rootless networking: an unprivileged user (made by the test) runs containers with --network slirp4netns and
# --network pasta and publishes ports. The "host" is a network namespace the test makes (H: a loopback and an
# uplink 192.168.79.1, routed to 192.168.79.2 in a second namespace O); brig runs inside H as the user
# (`nsenter --net=/run/netns/H su USER`: `ip netns exec` would mount a sysfs without the cgroup hierarchies),
# so nothing touches the machine's own interfaces.

load helpers
load host_pair

setup() {
	common_setup
	RL_USER=brignet${RAND:0:6}
	make_test_user "$RL_USER"
	RL_XDG=$TEST_DIR/xdg
	mkdir -p "$RL_XDG" "$TEST_DIR/rl" "$TEST_DIR/www" "$TEST_DIR/nobin"
	chown "$RL_USER" "$RL_XDG" "$TEST_DIR/rl"
	chmod 700 "$RL_XDG"
	echo "hello from the host's loopback" >"$TEST_DIR/www/index.html"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	# brig binds its hosts and resolv.conf onto these; rootless, it cannot make them in a root-owned rootfs.
	touch "$ROOTFS/etc/hosts" "$ROOTFS/etc/resolv.conf"
	su "$RL_USER" -c "cd $TEST_DIR/rl && $TEST_DIR/brig-rl spec --rootless"
	# The rootless spec shares the host's network: these containers get their own namespace.
	jq --arg r "$ROOTFS" --arg tok "BRIG_TEST_TOKEN=$TOKEN" '.root.path = $r | .process.terminal = false
		| .process.env += [$tok] | .linux.namespaces += [{type: "network"}]' \
		"$TEST_DIR/rl/config.json" >"$TEST_DIR/rl.json"
	cp "$TEST_DIR/rl.json" "$TEST_DIR/rl/config.json"
	H=brigrn-h-$RAND
	O=brigrn-o-$RAND
	echo "$H" >>"$TEST_DIR/netns"
	echo "$O" >>"$TEST_DIR/netns"
	make_host_pair "$H" "$O" 192.168.79
	# pasta takes the interface of the default route (and its gateway) as the container's.
	ip -n "$H" route add default via 192.168.79.2
	PIDS=()
}

teardown() {
	as_user delete --force rl1 >/dev/null 2>&1 || true
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	remove_test_user "$RL_USER"
	common_teardown
}

# as_user ARGS...: brig as the user, inside H.
as_user() {
	run nsenter --net=/run/netns/$H su "$RL_USER" -c "cd $TEST_DIR/rl && XDG_RUNTIME_DIR=$RL_XDG BRIG_TEST_TOKEN=$TOKEN \
		PATH=${RL_PATH:-/usr/bin:/bin} /usr/bin/timeout -k 5 60 $TEST_DIR/brig-rl $*"
}

# config JQ: the container's config from the rootless one.
config() {
	jq "$1" "$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
}

# The user's live processes of a helper (slirp4netns, pasta's daemon passt.avx2/passt) or of brig's keeper.
# Zombies are dead: the machine's init reaps the orphans when it gets to it.
helpers_of_user() {
	ps -u "$RL_USER" -o pid=,stat=,comm= | awk '$2 !~ /^Z/' | grep -E 'slirp4netns|passt|pasta|brig-netkeeper' || true
}

# get URL: from H, the body within 3 seconds.
get() {
	ip netns exec "$H" curl -s -m 3 --noproxy '*' "$1"
}

# serve_host ADDR:PORT: busybox httpd in H, serving $TEST_DIR/www.
serve_host() {
	ip netns exec "$H" busybox httpd -f -p "$1" -h "$TEST_DIR/www" </dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	sleep 0.1
}

published_port_answers() {
	local backend=$1
	config '.process.args = ["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]'
	as_user run -d --network "$backend" -p 8080:80 -p 127.0.0.1:8081:80 rl1 '</dev/null' ">$TEST_DIR/rl/out" '2>&1'
	assert_success || fail "$(cat $TEST_DIR/rl/out)"
	assert_success
	[ -f "$RL_XDG/brig/rl1/network-helper" ] || fail "no helper record in the state directory"
	local body
	for url in http://127.0.0.1:8080/passwd http://192.168.79.1:8080/passwd http://127.0.0.1:8081/passwd; do
		body=$(get "$url") || true
		[[ "$body" == *tester:x:1000* ]] || fail "$backend: $url: got '$body'"
	done
	# Bound to 127.0.0.1 only: not on the other address.
	body=$(get http://192.168.79.1:8081/passwd) && fail "$backend: 8081 answers on 192.168.79.1: $body"
	[ -n "$(helpers_of_user)" ] || fail "$backend: no helper running"
	as_user delete --force rl1
	assert_success
	sleep 0.2
	[ -z "$(helpers_of_user)" ] || fail "$backend: left after delete: $(helpers_of_user)"
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "slirp4netns: a published port answers on the host's 127.0.0.1 and other address; delete stops the helper" {
	published_port_answers slirp4netns
}

@test "pasta: a published port answers on the host's 127.0.0.1 and other address; delete stops the helper" {
	published_port_answers pasta
}

route_and_dns() {
	local backend=$1 nameserver=$2
	config '.process.args = ["sh", "-c", "cat /etc/resolv.conf; ip route"]'
	as_user run --network "$backend" rl1
	assert_success
	printf '%s\n' "$output" | grep -qx "nameserver $nameserver" || fail "$backend: resolv.conf: $output"
	printf '%s\n' "$output" | grep -q "^default via" || fail "$backend: no default route: $output"
	[ -z "$(helpers_of_user)" ] || fail "$backend: left after run: $(helpers_of_user)"
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "slirp4netns: default route and the helper's DNS address in resolv.conf; run leaves no helper" {
	route_and_dns slirp4netns 10.0.2.3
}

@test "pasta: default route and the helper's DNS address in resolv.conf; run leaves no helper" {
	route_and_dns pasta 169.254.1.1
}

# host_loopback BACKEND ADDR: the container reaches H's 127.0.0.1:9090 at ADDR only when allowed.
host_loopback() {
	local backend=$1 addr=$2
	serve_host 127.0.0.1:9090
	# busybox's nc (its wget crashes in this rootfs), bounded: unallowed, pasta hands the connection to the real
	# 192.168.79.2 (in O), where nc may wait for an answer that never comes.
	config ".process.args = [\"sh\", \"-c\", \"printf 'GET /index.html HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | timeout 5 nc -w 3 $addr 9090\"]"
	as_user run --network "$backend" rl1
	[[ "$output" != *"hello from the host"* ]] || fail "$backend: reached the host's loopback unasked"
	# The answer is what counts: Debian 12's pasta does not always pass the server's close on, and then nc
	# ends by the timeout.
	as_user run --network "$backend:allow-host-loopback" rl1
	assert_output_contains "hello from the host's loopback"
}

@test "slirp4netns: the host's loopback (10.0.2.2) only with allow-host-loopback" {
	host_loopback slirp4netns 10.0.2.2
}

@test "pasta: the host's loopback (at the gateway address) only with allow-host-loopback" {
	host_loopback pasta 192.168.79.2
}

# killed_create BACKEND: create is SIGKILLed while a hook holds it after the helper started: no helper stays.
killed_create() {
	local backend=$1
	config '.process.args = ["sleep", "100"] | .hooks.createRuntime = [{path: "/bin/sleep", args: ["sleep", "10"]}]'
	nsenter --net=/run/netns/$H su "$RL_USER" -c "cd $TEST_DIR/rl && XDG_RUNTIME_DIR=$RL_XDG BRIG_TEST_TOKEN=$TOKEN \
		exec $TEST_DIR/brig-rl create --network $backend -p 8082:80 rl1" </dev/null >/dev/null 2>&1 &
	PIDS+=($!)
	local i
	for i in $(seq 100); do
		[ -n "$(helpers_of_user | grep -Ev brig-netkeeper)" ] && break
		sleep 0.05
	done
	[ -n "$(helpers_of_user)" ] || fail "$backend: the helper never started"
	local create
	# The create is the brig-rl that su started (the oldest brig-rl of the user may be one of the previous
	# test's still being reaped). By its command line: brig runs from a sealed copy of itself, named `brig`.
	local p
	for p in $(pgrep -u "$RL_USER" -f "^$TEST_DIR/brig-rl create"); do
		[ "$(ps -o comm= -p "$(ps -o ppid= -p "$p" | tr -d ' ')")" = su ] && create=$p
	done
	[ -n "${create:-}" ] || fail "no create process"
	kill -KILL "$create"
	for i in $(seq 60); do
		[ -z "$(helpers_of_user)" ] && break
		sleep 0.05
	done
	[ -z "$(helpers_of_user)" ] || { for p in $(pgrep -u "$RL_USER"); do echo "== $p $(cat /proc/$p/comm) ppid=$(awk '/^PPid/{print $2}' /proc/$p/status) $(grep State /proc/$p/status) wchan=$(cat /proc/$p/wchan) killed=$create"; tr '\0' ' ' </proc/$p/cmdline; echo; done >&2; fail "$backend: a killed create left: $(helpers_of_user)"; }
	as_user delete --force rl1
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "slirp4netns: a killed create leaves no helper running" {
	killed_create slirp4netns
}

@test "pasta: a killed create leaves no helper running" {
	killed_create pasta
}

@test "a missing backend: one clear error, nothing left" {
	config '.process.args = ["true"]'
	RL_PATH=$TEST_DIR/nobin
	as_user run --network pasta -p 8080:80 rl1
	assert_one_line_error
	assert_output_contains "--network pasta: pasta not found (install passt)"
	as_user run --network slirp4netns rl1
	assert_one_line_error
	assert_output_contains "--network slirp4netns: slirp4netns not found (install slirp4netns)"
	# Ports without a network, rootless: the installed backend, or this when there is none.
	as_user run -p 8080:80 rl1
	assert_one_line_error
	assert_output_contains "pasta (install passt) or slirp4netns"
	[ -z "$(ls -A "$RL_XDG/brig" 2>/dev/null)" ]
}

@test "user-mode networks refuse what they cannot do: sctp, IPv6 host addresses, --ip" {
	config '.process.args = ["true"]'
	as_user run --network slirp4netns -p 9000:9000/sctp rl1
	assert_one_line_error
	assert_output_contains "sctp"
	as_user run --network pasta --ip 10.0.2.50 rl1
	assert_one_line_error
	assert_output_contains "--ip"
	as_user run --network pasta:bogus rl1
	assert_one_line_error
	assert_output_contains "unknown option \`bogus\`"
	[ -z "$(ls -A "$RL_XDG/brig" 2>/dev/null)" ]
}
