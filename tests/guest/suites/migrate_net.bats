#!/usr/bin/env bats
# brig migrate's network and fault paths (issue 14, and issue 17's stop signals): the hosts of migrate.bats
# (two network namespaces with their own --root, bridge and nft tables, one shared rootfs) plus a third as a
# client for the TCP test. Every fault ends with the container running on exactly one host, the other one
# holding nothing of it (state, bundle, images, nft elements).

load ../helpers

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
	HOST_A=mnet-a-$RAND
	HOST_B=mnet-b-$RAND
	ip netns add "$HOST_A"
	ip netns add "$HOST_B"
	ip link add "nga-$RAND" netns "$HOST_A" type veth peer name "ngb-$RAND" netns "$HOST_B"
	ip -n "$HOST_A" addr add 10.251.19.1/24 dev "nga-$RAND"
	ip -n "$HOST_B" addr add 10.251.19.2/24 dev "ngb-$RAND"
	for h in "$HOST_A" "$HOST_B"; do
		ip -n "$h" link set lo up
		ip -n "$h" link set "ng${h:5:1}-$RAND" up
	done
	export HOST_A HOST_B
	mkdir -p "$TEST_DIR/state-b"
	command -v criu >/dev/null && timeout 60 criu check >/dev/null 2>&1 || true
}

teardown_file() {
	pkill -f 'sleep 3598' 2>/dev/null || true
	lane_teardown_file
	ip netns delete "$HOST_A" 2>/dev/null || true
	ip netns delete "$HOST_B" 2>/dev/null || true
}

setup() {
	require_guest_lane
	command -v criu >/dev/null || skip "criu not installed"
	ROOT_B=$TEST_DIR/state-b
	PORT=$((7100 + BATS_TEST_NUMBER))
}

teardown() {
	local p
	for p in ${BG_PIDS:-} ${RECEIVER:-}; do
		kill "$p" 2>/dev/null || true
	done
	[ -s "$TEST_DIR/recv.out" ] && echo "# receiver's output: $(grep -vx '[0-9]*' "$TEST_DIR/recv.out" | tail -3)" >&3
	host_teardown "$HOST_A" "$BRIG_ROOT"
	host_teardown "$HOST_B" "$ROOT_B"
	on "$HOST_B" nft delete table inet migtest 2>/dev/null || true
	on "$HOST_A" nft delete table inet rsts 2>/dev/null || true
	on "$HOST_B" nft delete table inet rsts 2>/dev/null || true
	[ -z "${CLIENT_NS:-}" ] || ip netns delete "$CLIENT_NS" 2>/dev/null || true
	lane_teardown
	pkill -f 'sleep 3598' 2>/dev/null || true
	rm -f "$TEST_DIR/recv.out"
}

host_teardown() {
	local d
	for d in "$2"/*; do
		[ -e "$d" ] || continue
		timeout -k 2 20 nsenter --net="/run/netns/$1" "$BRIG" --root "$2" delete --force "${d##*/}" >/dev/null 2>&1 </dev/null || true
	done
}

COUNTER='["sh", "-c", "i=0; while [ ! -e /stop ]; do i=$((i+1)); echo $i; echo $i >/count; sleep 0.2; done; exit 7"]'

on() {
	local h=$1
	shift
	nsenter --net="/run/netns/$h" "$@"
}

# brig_on HOST ROOT ARGS...: as in migrate.bats (stdio pipes, output in $TEST_DIR/${OUT:-CMD}.out, $status,
# $output the last line that is not a count). BG=1: in the background, $! in $BG_PID, nothing waited for.
brig_on() {
	local h=$1 root=$2 name=${OUT:-$3}
	shift 2
	: >"$TEST_DIR/$name.out"
	status=0
	if [ -n "${BG:-}" ]; then
		BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$h" "$BRIG" --root "$root" "$@" \
			0< <(exec sleep 3598 3>&-) 1> >(exec cat >>"$TEST_DIR/$name.out" 3>&-) 2>&1 3>&- &
		BG_PID=$!
		BG_PIDS="${BG_PIDS:-} $BG_PID"
		return 0
	fi
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$h" "$BRIG" --root "$root" "$@" \
		0< <(exec sleep 3598 3>&-) 1> >(exec cat >>"$TEST_DIR/$name.out" 3>&-) 2>&1 3>&- || status=$?
	sleep 0.2
	output=$(grep -vx '[0-9]*' "$TEST_DIR/$name.out" | tail -n 1)
	echo "# $h: $*: status $status: $output" >&3 2>/dev/null || true
}

# receiver ARGS...: `migrate-receive --listen 10.251.19.2:$PORT ARGS` on host B in the background ($RECEIVER),
# output in $TEST_DIR/recv.out; returns once it listens.
receiver() {
	: >"$TEST_DIR/recv.out"
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$HOST_B" "$BRIG" --root "$ROOT_B" \
		migrate-receive --listen "10.251.19.2:$PORT" "$@" \
		0< <(exec sleep 3598 3>&-) 1> >(exec cat >>"$TEST_DIR/recv.out" 3>&-) 2>&1 3>&- &
	RECEIVER=$!
	local i
	for ((i = 0; i < 300; i++)); do
		on "$HOST_B" ss -Hltn "sport = :$PORT" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on 10.251.19.2:$PORT: $(cat "$TEST_DIR/recv.out")"
}

# wait_receiver: its status in $REPLY.
wait_receiver() {
	REPLY=0
	wait "$RECEIVER" || REPLY=$?
	RECEIVER=
}

start_counter() {
	local id=$1
	lane_bundle "$id" "${2:-$COUNTER}"
	mkdir -p "$TEST_DIR/b-$id"
	mv "$TEST_DIR/$id.json" "$TEST_DIR/b-$id/config.json"
	OUT=$id brig_on "$HOST_A" "$BRIG_ROOT" run -d -b "$TEST_DIR/b-$id" -p 8080:80 "$id"
	assert_success
	[ -z "${3:-}" ] || wait_count "$TEST_DIR/$id.out" "$3"
}

wait_count() {
	local i last
	for ((i = 0; i < 150; i++)); do
		last=$(tail -n 1 "$1" 2>/dev/null)
		[[ "$last" =~ ^[0-9]+$ ]] && [ "$last" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: no count >= $2 (last line: \`$last\`)"
}

# wait_path GLOB [TENTHS]: until something matches GLOB.
wait_path() {
	local i
	for ((i = 0; i < ${2:-600}; i++)); do
		compgen -G "$1" >/dev/null && return 0
		sleep 0.1
	done
	fail "nothing matches $1"
}

state_of() {
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$1" state "$2" 2>/dev/null | sed -n "s/.*\"$3\": \"\\{0,1\\}\\([0-9.a-z]*\\).*/\\1/p"
}

# read_count: the rootfs's /count, which the counter rewrites every 0.2 s (read again when caught empty).
read_count() {
	local i v
	for ((i = 0; i < 20; i++)); do
		v=$(cat "$ROOTFS/count" 2>/dev/null)
		[[ "$v" =~ ^[0-9]+$ ]] && { echo "$v"; return 0; }
		sleep 0.05
	done
	echo 0
}

# tx_packets NETNS DEV: what DEV has sent (/proc/net is the reader's network namespace).
tx_packets() {
	on "$1" cat /proc/net/dev | sed 's/:/ /' | awk -v d="$2" '$1 == d { print $11 }'
}

# still_on_a ID IP: the container runs on A (same address, A's nft names it, counting on past its
# count before), and B has nothing of it.
still_on_a() {
	local id=$1 ip=$2 before after
	[ "$(state_of "$BRIG_ROOT" "$id" status)" = running ] || fail "$id on A: $(state_of "$BRIG_ROOT" "$id" status)"
	[ "$(state_of "$BRIG_ROOT" "$id" ip)" = "$ip" ] || fail "A: $id lost $ip"
	on "$HOST_A" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "A's nft lost $ip"
	before=$(read_count)
	sleep 0.6
	after=$(read_count)
	[ "$after" -gt "$before" ] || fail "the count did not go on: $before then $after"
	[ ! -e "$ROOT_B/$id" ] || fail "B has state of $id"
	[ ! -e "$ROOT_B/.migrate/$id" ] || fail "B left its bundle of $id: $(ls -R "$ROOT_B/.migrate/$id" | head -5)"
	! on "$HOST_B" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "B's nft names $ip"
	[ -z "$(ls -A "$BRIG_ROOT/.migrate-out" 2>/dev/null)" ] || fail "work directory left on A: $(ls "$BRIG_ROOT/.migrate-out")"
}

@test "migrate --live --tcp-established: a client on a third host keeps its connection to the published port, the service address moved with the container" {
	command -v python3 >/dev/null || skip "python3 not installed"
	command -v script >/dev/null || skip "script not installed"
	local id=mt-$RAND ip n c tx mover svc=10.251.24.1 cli=10.251.23.2
	CLIENT_NS=mnet-c-$RAND
	ip netns add "$CLIENT_NS"
	# The client reaches each host over its own link; its address and the service address are /32s routed
	# over them, the service address on the lo of the host that runs the container (a floating address).
	ip link add "nca-$RAND" netns "$CLIENT_NS" type veth peer name "nac-$RAND" netns "$HOST_A"
	ip link add "ncb-$RAND" netns "$CLIENT_NS" type veth peer name "nbc-$RAND" netns "$HOST_B"
	ip -n "$CLIENT_NS" addr add 10.251.21.2/30 dev "nca-$RAND"
	ip -n "$CLIENT_NS" addr add 10.251.22.2/30 dev "ncb-$RAND"
	ip -n "$CLIENT_NS" addr add "$cli/32" dev lo
	ip -n "$HOST_A" addr add 10.251.21.1/30 dev "nac-$RAND"
	ip -n "$HOST_B" addr add 10.251.22.1/30 dev "nbc-$RAND"
	for l in "$CLIENT_NS nca-$RAND" "$CLIENT_NS ncb-$RAND" "$CLIENT_NS lo" "$HOST_A nac-$RAND" "$HOST_B nbc-$RAND"; do
		ip -n ${l% *} link set "${l#* }" up
	done
	ip -n "$HOST_A" route add "$cli/32" via 10.251.21.2
	ip -n "$HOST_B" route add "$cli/32" via 10.251.22.2
	ip -n "$HOST_A" addr add "$svc/32" dev lo
	ip -n "$CLIENT_NS" route add "$svc/32" via 10.251.21.1

	# Where a reset comes from, should one come (counted per hook on each host).
	for h in "$HOST_A" "$HOST_B" "$CLIENT_NS"; do
		on "$h" nft -f - <<-EOF
			table inet rsts {
				chain input { type filter hook input priority 0; tcp flags & rst == rst counter comment "input"; }
				chain output { type filter hook output priority 0; tcp flags & rst == rst counter comment "output"; }
				chain forward { type filter hook forward priority 0; tcp flags & rst == rst counter comment "forward"; }
			}
		EOF
	done
	start_counter "$id" '["nc", "-l", "-p", "80", "-e", "cat"]'
	ip=$(state_of "$BRIG_ROOT" "$id" ip)
	[ -n "$ip" ] || fail "no ip"
	# One connection, from the client's own address to the service's published port; a line out and back
	# every 0.2 s; its local port logged once (a second connect would log again).
	: >"$TEST_DIR/client.log"
	ip netns exec "$CLIENT_NS" python3 -c '
import socket, sys, time
log = open(sys.argv[1], "a", buffering=1)
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[2], 8080), timeout=2, source_address=(sys.argv[3], 0))
        break
    except OSError:
        time.sleep(0.2)
log.write("port %d\n" % s.getsockname()[1])
s.settimeout(120)
n = 0
while True:
    n += 1
    try:
        s.sendall(b"ping %d\n" % n)
        got = s.recv(100).decode().strip()
    except OSError as e:
        log.write("ERR %s\n" % e)
        break
    log.write(got + "\n")
    if not got:
        log.write("ERR closed\n")
        break
    time.sleep(0.2)
' "$TEST_DIR/client.log" "$svc" "$cli" 3>&- &
	BG_PIDS="${BG_PIDS:-} $!"
	for ((c = 0; c < 200; c++)); do
		[ "$(grep -c '^ping' "$TEST_DIR/client.log")" -ge 3 ] && break
		sleep 0.1
	done
	[ "$c" -lt 200 ] || fail "the client got no echo: $(cat "$TEST_DIR/client.log")"

	receiver --once
	# The service address moves with the container once the destination takes over (its restore under way:
	# its state directory is there, the conntrack entries made before it): gone from A, on B, the client
	# routed there. From then on A sees nothing of the connection.
	(
		for ((c = 0; c < 3000; c++)); do
			[ -e "$ROOT_B/$id" ] && break
			sleep 0.1
		done
		ip -n "$HOST_A" addr del "$svc/32" dev lo
		ip -n "$HOST_B" addr add "$svc/32" dev lo
		ip -n "$CLIENT_NS" route replace "$svc/32" via 10.251.22.1
	) 3>&- &
	mover=$!
	BG_PIDS="${BG_PIDS:-} $mover"
	# On a terminal (script's pty): a progress line per dump sent, and one at the end.
	: >"$TEST_DIR/migrate.tty"
	BRIG_TEST_TOKEN=$TOKEN on "$HOST_A" timeout -k 5 300 script -qefc \
		"$BRIG --root $BRIG_ROOT migrate --live --max-iterations 1 --tcp-established $id tcp:10.251.19.2:$PORT </dev/null" \
		"$TEST_DIR/migrate.tty" >/dev/null 2>&1 </dev/null 3>&- || fail "migrate: status $?: $(tail -3 "$TEST_DIR/migrate.tty")"
	wait_receiver
	[ "$REPLY" = 0 ] || fail "receiver: status $REPLY: $(cat "$TEST_DIR/recv.out")"
	n=$(grep -c '^ping' "$TEST_DIR/client.log")
	tx=$(tx_packets "$HOST_B" "nbc-$RAND")
	wait "$mover" || fail "the address was not moved"
	echo "# B's conntrack after the move: $(on "$HOST_B" grep 8080 /proc/net/nf_conntrack | tr -s ' ' | tr '\n' '|')" >&3
	echo "# A's conntrack after the move: $(on "$HOST_A" grep 8080 /proc/net/nf_conntrack | tr -s ' ' | tr '\n' '|')" >&3
	tr -d '\r' <"$TEST_DIR/migrate.tty" | grep -v '^Script' >"$TEST_DIR/migrate.lines"
	echo "# $(tr '\n' '|' <"$TEST_DIR/migrate.lines")" >&3
	grep -Eq '^migrate: iteration 1 \(pre-dump\): [0-9]+ pages, [0-9.]+ MiB sent in [0-9.]+ s, [0-9.]+ MB/s$' "$TEST_DIR/migrate.lines" ||
		fail "no progress line for the first pre-dump: $(cat "$TEST_DIR/migrate.lines")"
	grep -Eq '^migrate: iteration final \(final dump\): [0-9]+ pages, ' "$TEST_DIR/migrate.lines" || fail "no progress line for the final dump"
	grep -Eq '^migrate: restored on `tcp:10.251.19.2:'"$PORT"'` \(pid [0-9]+\), downtime [0-9]+ ms$' "$TEST_DIR/migrate.lines" || fail "no last progress line"
	grep -Eq '^\{"iterations":2,' "$TEST_DIR/migrate.lines" || fail "no figures"
	[ "$(state_of "$ROOT_B" "$id" ip)" = "$ip" ] || fail "B: $id does not have $ip"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state of $id left on A"
	! on "$HOST_A" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "A's nft still names $ip"
	# The client's retransmissions back off while the container is away (1, 2, 4, 8... s).
	for ((c = 0; c < 900; c++)); do
		[ "$(grep -c '^ping' "$TEST_DIR/client.log")" -ge $((n + 5)) ] && break
		grep -q ERR "$TEST_DIR/client.log" && break
		sleep 0.1
	done
	echo "# client: $(head -1 "$TEST_DIR/client.log"), $n echoes before the move, $(grep -c '^ping' "$TEST_DIR/client.log") $((c * 100)) ms into the wait" >&3
	if grep -q ERR "$TEST_DIR/client.log"; then
		local h
		for h in "$HOST_A" "$HOST_B" "$CLIENT_NS"; do
			echo "# $h: $(on "$h" nft list table inet rsts 2>&1 | grep counter | tr -s ' \t' ' ' | tr '\n' '|')" >&3
			echo "# $h conntrack: $(on "$h" grep 8080 /proc/net/nf_conntrack | tr -s ' ' | tr '\n' '|')" >&3
		done
		echo "# recv.out: $(grep -vx '[0-9]*' "$TEST_DIR/recv.out" | tr '\n' '|')" >&3
		fail "the connection broke: $(grep ERR "$TEST_DIR/client.log")"
	fi
	[ "$(grep -c '^port' "$TEST_DIR/client.log")" -eq 1 ] || fail "the client connected again"
	grep -qx "ping $((n + 3))" "$TEST_DIR/client.log" || fail "the echo did not go on (n=$n): $(tail -5 "$TEST_DIR/client.log" | tr '\n' ' ')"
	# ... through B: its link to the client carried the echoes, and its conntrack picked the connection up.
	on "$HOST_B" nft list ruleset | grep -q "$ip" || fail "B's nft does not name $ip"
	[ "$(tx_packets "$HOST_B" "nbc-$RAND")" -ge $((tx + 3)) ] || fail "the echoes did not come from B ($tx packets, then $(tx_packets "$HOST_B" "nbc-$RAND"))"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success
}

@test "migrate faults after the full transfer: a refused restore, the connection dropped during the final dump, a lost commit: the source runs on, the destination keeps nothing" {
	local id=mq-$RAND blocker=mqb-$RAND ip pid
	start_counter "$id" "$COUNTER" 3
	ip=$(state_of "$BRIG_ROOT" "$id" ip)

	# 1. The destination's restore fails after everything was sent: its port 8080 is another container's.
	lane_bundle "$blocker" '["sleep", "600"]'
	mkdir -p "$TEST_DIR/b-$blocker"
	mv "$TEST_DIR/$blocker.json" "$TEST_DIR/b-$blocker/config.json"
	OUT=blocker brig_on "$HOST_B" "$ROOT_B" run -d -b "$TEST_DIR/b-$blocker" -p 8080:80 "$blocker"
	assert_success
	receiver --once
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.19.2:$PORT"
	assert_failure
	assert_output_contains "8080" "runs here again"
	# Not a terminal: no progress, only the one line.
	[ "$(grep -vcx '[0-9]*' "$TEST_DIR/migrate.out")" -eq 1 ] || fail "not one line: $(grep -vx '[0-9]*' "$TEST_DIR/migrate.out")"
	wait_receiver
	[ "$REPLY" != 0 ] || fail "the receiver succeeded"
	still_on_a "$id" "$ip"
	[ "$(state_of "$ROOT_B" "$blocker" status)" = running ] || fail "B's other container is $(state_of "$ROOT_B" "$blocker" status)"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$blocker"
	assert_success

	# 2. The connection dropped (both ends destroyed, ss -K) while the final dump runs.
	receiver --once
	BG=1 OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.19.2:$PORT"
	wait_path "$BRIG_ROOT/.migrate-out/$id.*/final"
	on "$HOST_A" ss -HtK dst 10.251.19.2 dport = :$PORT >/dev/null
	on "$HOST_B" ss -HtK src 10.251.19.2 sport = :$PORT >/dev/null
	wait "$BG_PID" && fail "migrate succeeded with its connection destroyed"
	wait_receiver
	[ "$REPLY" != 0 ] || fail "the receiver succeeded"
	echo "# A: $(grep -vx '[0-9]*' "$TEST_DIR/migrate.out" | tail -1)" >&3
	grep -q "runs here again" "$TEST_DIR/migrate.out" || fail "migrate: $(cat "$TEST_DIR/migrate.out")"
	still_on_a "$id" "$ip"

	# 3. The commit is lost (B drops every segment that starts with frame 11): B, restored, waits for it
	# for its --timeout, then deletes what it restored and says so; A restores its own on that answer.
	on "$HOST_B" nft -f - <<-EOF
		table inet migtest {
			chain in {
				type filter hook input priority 0;
				tcp dport $PORT tcp doff 8 @th,256,32 0xb counter drop
			}
		}
	EOF
	receiver --once --timeout 12
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.19.2:$PORT"
	assert_failure
	assert_output_contains "no commit from the source" "runs here again"
	wait_receiver
	[ "$REPLY" != 0 ] || fail "the receiver succeeded"
	on "$HOST_B" nft list table inet migtest | grep -q 'packets [1-9]' || fail "no commit was dropped: $(on "$HOST_B" nft list table inet migtest)"
	on "$HOST_B" nft delete table inet migtest
	still_on_a "$id" "$ip"
	run on "$HOST_A" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" delete --force "$id"
	assert_success
}

@test "stop signals: SIGTERM to migrate in pre-copy and in the final dump, to migrate-receive idle and mid-transfer: each ends promptly, the source runs on" {
	local id=ms-$RAND ip pid t0 t1
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	start_counter "$id" '["sh", "-c", "memtouch 4 & i=0; while :; do i=$((i+1)); echo $i >/count; sleep 0.2; done"]'
	sleep 1
	ip=$(state_of "$BRIG_ROOT" "$id" ip)
	pid=$(state_of "$BRIG_ROOT" "$id" pid)

	# migrate-receive, idle: ends at once, status 0, nothing made.
	receiver
	t0=$(date +%s%N)
	kill -TERM "$(pgrep -of "^$BRIG --root $ROOT_B migrate-receive")"
	wait_receiver
	t1=$(date +%s%N)
	[ "$REPLY" = 0 ] || fail "idle receiver: status $REPLY: $(cat "$TEST_DIR/recv.out")"
	echo "# idle receiver ended $(((t1 - t0) / 1000000)) ms after SIGTERM" >&3
	[ $(((t1 - t0) / 1000000)) -lt 3000 ] || fail "the idle receiver took $(((t1 - t0) / 1000000)) ms"
	[ ! -e "$ROOT_B/.migrate/$id" ] || fail "bundle made"

	# migrate, SIGTERM in pre-copy (once the first pre-dump is there): never frozen, same pid.
	receiver --once
	BG=1 OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate --live --max-iterations 5 "$id" "tcp:10.251.19.2:$PORT"
	wait_path "$BRIG_ROOT/.migrate-out/$id.*/1"
	t0=$(date +%s%N)
	kill -TERM "$(pgrep -of "^$BRIG --root $BRIG_ROOT migrate")"
	wait "$BG_PID" && fail "migrate succeeded after SIGTERM"
	t1=$(date +%s%N)
	wait_receiver
	echo "# pre-copy: ended $(((t1 - t0) / 1000000)) ms after SIGTERM: $(grep -vx '[0-9]*' "$TEST_DIR/migrate.out" | tail -1)" >&3
	grep -q "pre-copy: interrupted by SIGTERM" "$TEST_DIR/migrate.out" || fail "migrate: $(cat "$TEST_DIR/migrate.out")"
	[ "$(state_of "$BRIG_ROOT" "$id" pid)" = "$pid" ] || fail "the pid changed: never frozen for good, it should not"
	still_on_a "$id" "$ip"

	# migrate, SIGTERM during the final dump: the dump ends, nothing of it is sent, it is restored here.
	receiver --once
	BG=1 OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.19.2:$PORT"
	wait_path "$BRIG_ROOT/.migrate-out/$id.*/final"
	t0=$(date +%s%N)
	kill -TERM "$(pgrep -of "^$BRIG --root $BRIG_ROOT migrate")"
	wait "$BG_PID" && fail "migrate succeeded after SIGTERM"
	t1=$(date +%s%N)
	wait_receiver
	echo "# final dump: ended $(((t1 - t0) / 1000000)) ms after SIGTERM: $(grep -vx '[0-9]*' "$TEST_DIR/migrate.out" | tail -1)" >&3
	grep -q "interrupted by SIGTERM.*runs here again" "$TEST_DIR/migrate.out" || fail "migrate: $(cat "$TEST_DIR/migrate.out")"
	still_on_a "$id" "$ip"

	# migrate-receive, SIGTERM mid-transfer (images arriving): it removes its bundle and tells the source,
	# which restores its own; it ends with one line.
	receiver
	BG=1 OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.19.2:$PORT"
	wait_path "$ROOT_B/.migrate/$id/images/final/*"
	t0=$(date +%s%N)
	kill -TERM "$(pgrep -of "^$BRIG --root $ROOT_B migrate-receive")"
	wait_receiver
	t1=$(date +%s%N)
	echo "# receiver mid-transfer: ended $(((t1 - t0) / 1000000)) ms after SIGTERM: $(tail -1 "$TEST_DIR/recv.out")" >&3
	[ "$REPLY" != 0 ] || fail "the stopped receiver exited 0"
	grep -q "interrupted by SIGTERM" "$TEST_DIR/recv.out" || fail "receiver: $(cat "$TEST_DIR/recv.out")"
	wait "$BG_PID" && fail "migrate succeeded with its receiver stopped"
	grep -q "interrupted by SIGTERM.*runs here again" "$TEST_DIR/migrate.out" || fail "migrate: $(cat "$TEST_DIR/migrate.out")"
	still_on_a "$id" "$ip"
	run on "$HOST_A" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" delete --force "$id"
	assert_success
	rm -f "$ROOTFS/bin/memtouch"
}
