#!/usr/bin/env bats
# Bridge networking (netns/), driven through netns_tool until the runtime calls it. Every test builds its
# own "host" network namespace (and an "outside" one routed to it); containers are processes in fresh
# network namespaces. Nothing touches the machine's own interfaces or firewall.

NETNS_TOOL=${NETNS_TOOL:-${BRIG_BUILD:?set BRIG_BUILD or NETNS_TOOL}/tests/netns_tool}

load host_pair

setup() {
	TEST_DIR=$(mktemp -d /tmp/brig-net.XXXXXX)
	ROOT=$TEST_DIR/root
	export BRIG_CONFIG_DIR=$TEST_DIR/cfg
	mkdir -p "$BRIG_CONFIG_DIR/networks" "$TEST_DIR/www"
	echo "hello from the container" >"$TEST_DIR/www/index.html"
	tag=$$-${BATS_TEST_NUMBER}
	HOST=brignet-h-$tag
	OUT=brignet-o-$tag
	# The host's uplink to an outside host: 192.168.77.1 (host) <-> 192.168.77.2 (outside).
	make_host_pair "$HOST" "$OUT" 192.168.77
	HOST_NS=/run/netns/$HOST
	PIDS=()
}

teardown() {
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	ip netns del "$HOST" 2>/dev/null || true
	ip netns del "$OUT" 2>/dev/null || true
	rm -rf "$TEST_DIR"
}

tool() {
	"$NETNS_TOOL" --host-netns "$HOST_NS" "$@" --root "$ROOT"
}

# new_container VAR: a process in a fresh network namespace; its pid goes into VAR.
new_container() {
	unshare -n sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 50); do
		[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.02
	done
	printf -v "$1" '%s' "$pid"
}

# in_container PID CMD...: runs CMD in the container's network namespace.
in_container() {
	local pid=$1
	shift
	nsenter -t "$pid" -n "$@"
}

# serve_http PID PORT: busybox httpd in the container's namespace.
serve_http() {
	nsenter -t "$1" -n busybox httpd -f -p "$2" -h "$TEST_DIR/www" </dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	wait_listening in_container "$1" -t "$2"
}

# get NS-COMMAND... URL: the body, within 3 seconds.
get() {
	local url=${!#}
	set -- "${@:1:$#-1}"
	"$@" curl -s -m 3 --noproxy '*' "$url"
}

# udp_ask NS-COMMAND... ADDR PORT: sends "ping-udp", prints the answer.
udp_ask() {
	local port=${!#}
	set -- "${@:1:$#-1}"
	local addr=${!#}
	set -- "${@:1:$#-1}"
	"$@" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"ping-udp", (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(100)[0].decode())
' "$addr" "$port"
}

# Waits for the background netns_tool jobs (not the containers); fails when one failed.
wait_tools() {
	local rc=0 job
	for job in $(jobs -p); do
		case " ${PIDS[*]} " in *" $job "*) continue ;; esac
		wait "$job" || rc=1
	done
	return $rc
}

ip_of() {
	sed -n 's/^ip=//p' <<<"$1"
}

# IPv6 on the uplink: fd77::1 (host) <-> fd77::2 (outside); nodad, so the addresses work at once.
add_ipv6_uplink() {
	ip -n "$HOST" addr add fd77::1/64 dev uplink nodad
	ip -n "$OUT" addr add fd77::2/64 dev eth0 nodad
}

# bridge_gone_soon NAME: the last container's teardown leaves the bridge to a child that deletes it (the
# deletion waits for the kernel to unregister it, tens of ms); it must be gone soon after.
bridge_gone_soon() {
	local i
	for i in $(seq 1 100); do
		ip -n "$HOST" link show "$1" >/dev/null 2>&1 || return 0
		sleep 0.05
	done
	fail "bridge $1 still there 5 s after its last container's teardown"
}

# wait_listening NS-COMMAND... SS-FLAGS PORT: until a socket listens on PORT (ss -t for tcp, -u for a bound udp
# socket, -S for sctp); a fixed sleep lost the race to a server starting under load.
wait_listening() {
	local port=${!#}
	set -- "${@:1:$#-1}"
	local flags=${!#}
	set -- "${@:1:$#-1}"
	for _ in $(seq 250); do
		[ -n "$("$@" ss -Hln "$flags" "sport = :$port")" ] && return 0
		sleep 0.02
	done
	echo "nothing listens on port $port" >&2
	return 1
}

# The "network six" config: a bridge with IPv4 and IPv6 subnets, removed with its last container.
network_six() {
	cat >"$BRIG_CONFIG_DIR/networks/six.json" <<-'JSON'
		{"bridge": "brsix", "subnet": "10.96.0.0/24", "subnet6": "fd96::/64"}
	JSON
}

@test "network: two containers reach each other and an outside host through masquerade" {
	new_container c1
	new_container c2
	run tool setup --id c1 --pid "$c1"
	[ "$status" -eq 0 ]
	ip1=$(ip_of "$output")
	run tool setup --id c2 --pid "$c2"
	[ "$status" -eq 0 ]
	ip2=$(ip_of "$output")
	[ "$ip1" != "$ip2" ]
	[[ $ip1 == 10.89.0.* ]]

	in_container "$c1" busybox ping -c 1 -W 2 "$ip2"
	in_container "$c2" ip route | grep -q "default via 10.89.0.1 dev eth0"
	in_container "$c2" ip link show lo | grep -q "UP"
	ip -n "$HOST" -d link show "$(sed -n 's/^veth=//p' "$ROOT/c1/network")" | grep -q "hairpin on"

	# The outside host has no route to 10.89.0.0/24: only a masqueraded connection gets its answer.
	ip netns exec "$OUT" busybox httpd -f -p 80 -h "$TEST_DIR/www" </dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	wait_listening ip netns exec "$OUT" -t 80
	run get in_container "$c1" http://192.168.77.2/
	[ "$output" = "hello from the container" ]
}

@test "network: a published tcp port answers from the host, 127.0.0.1, containers and another host" {
	new_container web
	new_container client
	run tool setup --id web --pid "$web" -p 8080:80/tcp
	[ "$status" -eq 0 ]
	web_ip=$(ip_of "$output")
	tool setup --id client --pid "$client"
	serve_http "$web" 80

	[ "$(get ip netns exec "$HOST" http://192.168.77.1:8080/)" = "hello from the container" ]
	[ "$(get ip netns exec "$HOST" http://127.0.0.1:8080/)" = "hello from the container" ]
	[ "$(get ip netns exec "$HOST" http://10.89.0.1:8080/)" = "hello from the container" ]
	[ "$(get ip netns exec "$OUT" http://192.168.77.1:8080/)" = "hello from the container" ]
	# Hairpin: another container and the container itself, through the host's port.
	[ "$(get in_container "$client" http://192.168.77.1:8080/)" = "hello from the container" ]
	[ "$(get in_container "$web" http://192.168.77.1:8080/)" = "hello from the container" ]
	[ "$(get in_container "$web" http://10.89.0.1:8080/)" = "hello from the container" ]
	# The container's own address still answers on its own port, and the host port only on the host.
	[ "$(get ip netns exec "$HOST" "http://$web_ip/")" = "hello from the container" ]
	run get ip netns exec "$HOST" "http://$web_ip:8080/"
	[ "$status" -ne 0 ]
}

@test "network: udp, a port range and a host address binding" {
	new_container c1
	tool setup --id c1 --pid "$c1" -p 127.0.0.1:5353:53/udp,9000-9002:9100-9102,192.168.77.1:8081:80
	serve_http "$c1" 9101
	serve_http "$c1" 80

	# busybox nc has no udp: a one-datagram echo server that answers in upper case.
	in_container "$c1" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
for _ in range(2):
    data, peer = s.recvfrom(100)
    s.sendto(data.upper(), peer)
' </dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	wait_listening in_container "$c1" -u 53
	[ "$(udp_ask ip netns exec "$HOST" 127.0.0.1 5353)" = PING-UDP ]
	run udp_ask ip netns exec "$OUT" 192.168.77.1 5353
	[ "$output" != PING-UDP ] # bound to 127.0.0.1 only

	[ "$(get ip netns exec "$HOST" http://127.0.0.1:9001/)" = "hello from the container" ]
	[ "$(get ip netns exec "$OUT" http://192.168.77.1:9001/)" = "hello from the container" ]
	run get ip netns exec "$HOST" http://127.0.0.1:9000/
	[ "$status" -ne 0 ] # nothing listens on 9100

	# 8081 is bound to 192.168.77.1 only.
	[ "$(get ip netns exec "$OUT" http://192.168.77.1:8081/)" = "hello from the container" ]
	run get ip netns exec "$HOST" http://127.0.0.1:8081/
	[ "$status" -ne 0 ]
	run get ip netns exec "$HOST" http://10.89.0.1:8081/
	[ "$status" -ne 0 ]
}

@test "network: a published port is refused, naming its owner, and nothing is left of the refused one" {
	new_container web
	new_container other
	tool setup --id web --pid "$web" -p 8080:80
	run tool setup --id other --pid "$other" -p 9090:90,8080:80
	[ "$status" -ne 0 ]
	[[ $output == *"port 8080/tcp is already published by container \`web\`"* ]]
	[ "$(grep -l other "$ROOT/.net/networks/brig/leases/"* 2>/dev/null | wc -l)" -eq 0 ]
	[ ! -e "$ROOT/.net/ports/tcp-9090" ]
	[ "$(cat "$ROOT/.net/ports/tcp-8080")" = web ]
	run ip netns exec "$HOST" nft list map ip brig pf_any
	[[ $output == *"tcp . 8080 :"* ]]
	[[ $output != *"9090"* ]]
	# The same port on udp is another port.
	tool setup --id other --pid "$other" -p 8080:80/udp
	run tool setup --id third --pid "$other" -p 8080:80/tcp,8080:81/tcp
	[ "$status" -ne 0 ]
	[[ $output == *"port 8080/tcp is"* ]]
}

@test "network: 50 parallel setups get unique addresses, and teardown leaves nothing" {
	pids=()
	for i in $(seq 50); do
		new_container c
		pids+=("$c")
	done
	for i in $(seq 50); do
		tool setup --id "p$i" --pid "${pids[$((i - 1))]}" -p "$((10000 + i)):80" >"$TEST_DIR/setup.$i" 2>&1 &
	done
	wait_tools || { cat "$TEST_DIR"/setup.*; false; }
	[ "$(cat "$TEST_DIR"/setup.* | grep '^ip=' | sort -u | wc -l)" -eq 50 ]
	[ "$(ls "$ROOT/.net/networks/brig/leases" | wc -l)" -eq 50 ]
	[ "$(ip -n "$HOST" -o link show master brig0 | wc -l)" -eq 50 ]

	for i in $(seq 50); do
		tool teardown --id "p$i" &
	done
	wait_tools
	for i in $(seq 50); do tool teardown --id "p$i"; done # idempotent
	[ "$(ls "$ROOT/.net/networks/brig/leases" | wc -l)" -eq 0 ]
	[ "$(ls "$ROOT/.net/ports" | wc -l)" -eq 0 ]
	run ip -n "$HOST" -o link show type veth
	[[ $output != *vb* ]]
	bridge_gone_soon brig0 # the last container took the bridge with it
	run ip netns exec "$HOST" nft list table ip brig
	[[ $output != *"elements"* ]]
}

@test "network: teardown is idempotent and works after the container died and after a partial setup" {
	new_container c1
	tool setup --id c1 --pid "$c1" -p 8080:80
	veth=$(sed -n 's/^veth=//p' "$ROOT/c1/network")
	kill -9 "$c1"
	tool teardown --id c1
	tool teardown --id c1
	[ ! -e "$ROOT/c1/network" ]
	run ip -n "$HOST" link show "$veth"
	[ "$status" -ne 0 ]
	[ ! -e "$ROOT/.net/ports/tcp-8080" ]

	# A setup interrupted after its claims (the nft elements and the veth were never made).
	new_container c2
	tool setup --id c2 --pid "$c2" -p 8080:80
	ip netns exec "$HOST" nft flush map ip brig pf_any
	ip -n "$HOST" link del "$(sed -n 's/^veth=//p' "$ROOT/c2/network")"
	tool teardown --id c2
	[ "$(ls "$ROOT/.net/networks/brig/leases" | wc -l)" -eq 0 ]
	[ "$(ls "$ROOT/.net/ports" | wc -l)" -eq 0 ]
}

@test "network: named network with MTU, IPv6 and a static address; full subnet is a clear error" {
	cat >"$BRIG_CONFIG_DIR/networks/small.json" <<-'JSON'
		{"bridge": "brsmall", "subnet": "10.99.0.0/29", "subnet6": "fd99::/64", "mtu": 1400, "keepBridge": true}
	JSON
	new_container c1
	run tool --network small --ip 10.99.0.6 setup --id c1 --pid "$c1"
	[ "$status" -eq 0 ]
	[ "$(ip_of "$output")" = 10.99.0.6 ]
	in_container "$c1" ip addr show eth0 | grep -q "inet 10.99.0.6/29"
	in_container "$c1" ip addr show eth0 | grep -q "inet6 fd99::6/64"
	in_container "$c1" ip link show eth0 | grep -q "mtu 1400"
	ip -n "$HOST" addr show brsmall | grep -q "inet 10.99.0.1/29"
	in_container "$c1" busybox ping -c 1 -W 2 fd99::1

	run tool --network small --ip 10.99.0.6 setup --id c2 --pid "$c1"
	[ "$status" -ne 0 ]
	[[ $output == *"address 10.99.0.6 of network \`small\` is already leased to container \`c1\`"* ]]
	run tool --network small --ip 10.98.0.2 setup --id c2 --pid "$c1"
	[[ $output == *"not a free host address of network \`small\`"* ]]
	for i in 2 3 4 5; do
		new_container c
		tool --network small setup --id "s$i" --pid "$c"
	done
	new_container c
	run tool --network small setup --id full --pid "$c"
	[ "$status" -ne 0 ]
	[[ $output == *"network \`small\`: no free address left in 10.99.0.0/29"* ]]

	run tool --network nosuch setup --id x --pid "$c"
	[[ $output == *"network \`nosuch\`: no such network"* ]]

	for id in c1 s2 s3 s4 s5 full; do tool teardown --id "$id"; done
	ip -n "$HOST" link show brsmall # keepBridge
}

@test "network: IPv6 masquerade to an outside host and published ports on the host's IPv6 addresses" {
	add_ipv6_uplink
	network_six
	new_container web
	new_container client
	tool --network six setup --id web --pid "$web" -p '8080:80,192.168.77.1:8081:80,[fd77::1]:8082:80'
	tool --network six setup --id client --pid "$client"
	serve_http "$web" 80
	[ "$(ip netns exec "$HOST" cat /proc/sys/net/ipv6/conf/all/forwarding)" = 1 ]
	in_container "$web" ip -6 route | grep -q "default via fd96::1 dev eth0"

	# The outside host has no route to fd96::/64: only a masqueraded connection gets its answer, and it
	# comes from the host's address (socat prints it in full).
	ip netns exec "$OUT" socat TCP6-LISTEN:80,fork,reuseaddr SYSTEM:'echo "peer=$SOCAT_PEERADDR"' \
		</dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	wait_listening ip netns exec "$OUT" -t 80
	run in_container "$client" socat -T 3 - 'TCP6:[fd77::2]:80' </dev/null
	[ "$output" = "peer=[fd77:0000:0000:0000:0000:0000:0000:0001]" ]

	# An unbound port answers on the host's IPv6 address from the host, another host and containers.
	[ "$(get ip netns exec "$HOST" 'http://[fd77::1]:8080/')" = "hello from the container" ]
	[ "$(get ip netns exec "$OUT" 'http://[fd77::1]:8080/')" = "hello from the container" ]
	[ "$(get ip netns exec "$OUT" 'http://192.168.77.1:8080/')" = "hello from the container" ]
	[ "$(get in_container "$client" 'http://[fd77::1]:8080/')" = "hello from the container" ]
	[ "$(get in_container "$web" 'http://[fd96::1]:8080/')" = "hello from the container" ]
	# A port bound to an IPv4 address stays IPv4; one bound to [fd77::1] is IPv6 only.
	[ "$(get ip netns exec "$OUT" 'http://192.168.77.1:8081/')" = "hello from the container" ]
	run get ip netns exec "$OUT" 'http://[fd77::1]:8081/'
	[ "$status" -ne 0 ]
	[ "$(get ip netns exec "$OUT" 'http://[fd77::1]:8082/')" = "hello from the container" ]
	run get ip netns exec "$OUT" 'http://192.168.77.1:8082/'
	[ "$status" -ne 0 ]
	# [::1] is not forwarded (IPv6 has no route_localnet): a host service there keeps its connections.
	ip netns exec "$HOST" socat TCP6-LISTEN:8080,bind='[::1]',reuseaddr SYSTEM:'echo host-service' \
		</dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	wait_listening ip netns exec "$HOST" -t 8080
	[ "$(ip netns exec "$HOST" socat -T 3 - 'TCP6:[::1]:8080' </dev/null)" = host-service ]
	run tool setup --id loop --pid "$client" -p '[::1]:9090:90'
	[[ $output == *"host address \`::1\`: IPv6 loopback cannot be forwarded to a container"* ]]
	run tool setup --id nov6 --pid "$client" -p '[fd77::1]:9090:90'
	[[ $output == *"network \`brig\` has no subnet6"* ]]

	ip netns exec "$HOST" nft list map ip6 brig pf_any | grep -q "tcp . 8080 : fd96::"
	tool teardown --id web
	tool teardown --id client
	tool teardown --id web # idempotent
	run ip netns exec "$HOST" nft list table ip6 brig
	[ "$status" -eq 0 ]
	[[ $output == *"set subnets"* ]]
	[[ $output != *"elements"* ]] # neither a port nor the subnet, which left with the bridge
	run ip netns exec "$HOST" nft list table ip brig
	[[ $output != *"elements"* ]]
	[ "$(ls "$ROOT/.net/ports" | wc -l)" -eq 0 ]
	bridge_gone_soon brsix
}

@test "network: IPv6 teardown removes the container's elements only, even when some are gone already" {
	add_ipv6_uplink
	network_six
	new_container c1
	new_container c2
	tool --network six setup --id c1 --pid "$c1" -p 8080:80,9000-9001:9000-9001/udp
	tool --network six setup --id c2 --pid "$c2" -p 8090:80
	# An earlier teardown that stopped half way: the v6 elements of c1 are gone, its v4 ones are not.
	ip netns exec "$HOST" nft delete element ip6 brig pf_any '{ tcp . 8080 }'
	tool teardown --id c1
	run ip netns exec "$HOST" nft list table ip6 brig
	[[ $output != *"8080"* && $output != *"9000"* && $output != *"9001"* ]]
	[[ $output == *"tcp . 8090 : fd96::"* ]]
	[[ $output == *"fd96::/64"* ]] # c2 still uses the network
	run ip netns exec "$HOST" nft list table ip brig
	[[ $output != *"8080"* && $output != *"9000"* ]]
	[[ $output == *"tcp . 8090 : 10.96.0."* ]]
	tool teardown --id c2
	run ip netns exec "$HOST" nft list table ip6 brig
	[[ $output != *"elements"* ]]
}

# Whether this kernel can make SCTP sockets (CONFIG_IP_SCTP, built in or the sctp module).
sctp_available() {
	python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()' \
		2>/dev/null
}

# sctp_ask NS-COMMAND... ADDR PORT: what an SCTP server says first. Not socat: its EOF on stdin would
# shut the association down (SCTP has no half-close) before the answer comes.
sctp_ask() {
	local port=${!#}
	set -- "${@:1:$#-1}"
	local addr=${!#}
	set -- "${@:1:$#-1}"
	"$@" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
print(s.recv(100).decode().strip())
' "$addr" "$port"
}

@test "network: a published sctp port forwards to a server in the container, over IPv4 and IPv6" {
	sctp_available || skip "this kernel has no SCTP (CONFIG_IP_SCTP is off and no sctp module loads)"
	add_ipv6_uplink
	network_six
	new_container c1
	tool --network six setup --id c1 --pid "$c1" -p 9132:32/sctp
	in_container "$c1" socat SCTP6-LISTEN:32,ipv6only=0,fork,reuseaddr SYSTEM:'echo sctp-hello' \
		</dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	wait_listening in_container "$c1" -S 32
	[ "$(sctp_ask ip netns exec "$OUT" 192.168.77.1 9132)" = sctp-hello ]
	[ "$(sctp_ask ip netns exec "$OUT" fd77::1 9132)" = sctp-hello ]
	[ "$(sctp_ask ip netns exec "$HOST" 127.0.0.1 9132)" = sctp-hello ]
	ip netns exec "$HOST" nft list map ip brig pf_any | grep -q "sctp . 9132"
	tool teardown --id c1
	run ip netns exec "$HOST" nft list ruleset
	[[ $output != *"9132"* ]]
}

@test "network: a container cannot reach the host's 127.0.0.1 services through the bridge (route_localnet)" {
	# The bridge accepts loopback destinations for the 127.0.0.1:PORT forwards; a container that sends a
	# packet for 127.0.0.1 to its gateway (here by routing; CAP_NET_RAW alone can craft one) must not reach
	# a host service bound to 127.0.0.1 (kube-proxy's CVE-2020-8558).
	new_container c
	tool setup --id c --pid "$c" -p 8080:80/tcp
	serve_http "$c" 80
	ip netns exec "$HOST" busybox httpd -f -p 127.0.0.1:9999 -h "$TEST_DIR/www" </dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	ip netns exec "$HOST" nft add table ip brigtest
	ip netns exec "$HOST" nft add chain ip brigtest input '{ type filter hook input priority 0; }'
	ip netns exec "$HOST" nft add rule ip brigtest input 'tcp dport 9999 tcp flags & (syn | ack) == syn counter'
	[ -n "$(get ip netns exec "$HOST" http://127.0.0.1:9999/)" ]
	in_container "$c" ip route del local 127.0.0.0/8 dev lo table local
	in_container "$c" ip route del local 127.0.0.1 dev lo table local
	in_container "$c" ip route add 127.0.0.1/32 via 10.89.0.1 dev eth0
	run get in_container "$c" http://127.0.0.1:9999/
	[ "$status" -ne 0 ]
	# Only the host's own request reached the service: none of the container's SYNs.
	run ip netns exec "$HOST" nft list table ip brigtest
	[[ "$output" == *"counter packets 1 "* ]] || { echo "$output"; false; }
	# The forward from the host's 127.0.0.1 still works.
	[ "$(get ip netns exec "$HOST" http://127.0.0.1:8080/)" = "hello from the container" ]
}
