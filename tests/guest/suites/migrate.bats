#!/usr/bin/env bats
# brig migrate / migrate-receive for real (issue 14). Two "hosts" are network namespaces joined by a veth pair,
# each with its own brig --root (so its own bridge, leases and nft tables: brig runs there under `nsenter
# --net`, which leaves the mount namespace and /sys/fs/cgroup alone). They share this file's rootfs: a plain
# root is not sent, it must exist on the destination at the same path.
#
# The counter keeps its count in a shell variable: restored, it goes on from where it was. Its stdio is pipes
# (CRIU cannot dump a file of the host's mount namespace); the receiver's own pipes stand in for them, so what
# it prints after the move lands in the receiver's output file.

load ../helpers

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
	HOST_A=mig-a-$RAND
	HOST_B=mig-b-$RAND
	ip netns add "$HOST_A"
	ip netns add "$HOST_B"
	ip link add "mga-$RAND" netns "$HOST_A" type veth peer name "mgb-$RAND" netns "$HOST_B"
	ip -n "$HOST_A" addr add 10.251.9.1/24 dev "mga-$RAND"
	ip -n "$HOST_B" addr add 10.251.9.2/24 dev "mgb-$RAND"
	for h in "$HOST_A" "$HOST_B"; do
		ip -n "$h" link set lo up
		ip -n "$h" link set "mg${h:4:1}-$RAND" up
	done
	export HOST_A HOST_B
	mkdir -p "$TEST_DIR/state-b"
	# criu's first command in a fresh guest computes its kernel data (seconds, more on a loaded machine):
	# done here, it is not the receiver's probe that waits for it.
	command -v criu >/dev/null && timeout 60 criu check >/dev/null 2>&1 || true
}

teardown_file() {
	pkill -f 'sleep 3599' 2>/dev/null || true
	lane_teardown_file
	ip netns delete "$HOST_A" 2>/dev/null || true
	ip netns delete "$HOST_B" 2>/dev/null || true
}

setup() {
	require_guest_lane
	command -v criu >/dev/null || skip "criu not installed"
	ROOT_B=$TEST_DIR/state-b
	PORT=$((7000 + BATS_TEST_NUMBER))
}

teardown() {
	[ -z "${RECEIVER:-}" ] || kill "$RECEIVER" 2>/dev/null || true
	# The rootfs test's own roots (tmpfs: an overlay's upper cannot be on the guest's overlay /).
	if [ -n "${OV_A:-}" ]; then
		host_teardown "$HOST_A" "$OV_A"
		host_teardown "$HOST_B" "$OV_B"
		umount -R "$OV_A" "$OV_B" 2>/dev/null || true
		OV_A= OV_B=
	fi
	[ -s "$TEST_DIR/recv.out" ] && echo "# receiver's output: $(grep -vx '[0-9]*' "$TEST_DIR/recv.out" | tail -3)" >&3
	# Each host's leftovers deleted from its own network namespace, where their veth and nft elements are.
	host_teardown "$HOST_A" "$BRIG_ROOT"
	host_teardown "$HOST_B" "$ROOT_B"
	lane_teardown
	pkill -f 'sleep 3599' 2>/dev/null || true
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

# on HOST CMD...: CMD in that host's network namespace only.
on() {
	local h=$1
	shift
	nsenter --net="/run/netns/$h" "$@"
}

# brig_on HOST ROOT ARGS...: brig on that host, its stdio pipes (what a container started or restored by it
# inherits); output in $TEST_DIR/NAME.out where NAME is $OUT (default the command). Sets $status, $output.
brig_on() {
	local h=$1 root=$2 name=${OUT:-$3} i
	shift 2
	: >"$TEST_DIR/$name.out"
	status=0
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$h" "$BRIG" --root "$root" "$@" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/$name.out" 3>&-) 2>&1 3>&- || status=$?
	sleep 0.2
	# A container restored by this brig writes its counts here too: brig's own last line is the other kind.
	output=$(grep -vx '[0-9]*' "$TEST_DIR/$name.out" | tail -n 1)
	echo "# $h: $*: status $status: $output" >&3 2>/dev/null || true
}

# receiver ARGS...: `migrate-receive --once --listen 10.251.9.2:$PORT ARGS` on host B in the background
# ($RECEIVER); its output (and the restored container's) in $TEST_DIR/recv.out. Returns once it listens.
receiver() {
	local i
	: >"$TEST_DIR/recv.out"
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$HOST_B" "$BRIG" --root "$ROOT_B" \
		migrate-receive --once --listen "10.251.9.2:$PORT" "$@" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/recv.out" 3>&-) 2>&1 3>&- &
	RECEIVER=$!
	wait_listening
}

wait_listening() {
	local i
	for ((i = 0; i < 300; i++)); do
		on "$HOST_B" ss -Hltn "sport = :$PORT" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on 10.251.9.2:$PORT: $(cat "$TEST_DIR/recv.out")"
}

# start_counter ID [ARGS_JSON]: a container on host A with brig's network (a published port) running the
# counter (or ARGS_JSON: something else that prints a count a line).
start_counter() {
	local id=$1
	lane_bundle "$id" "${2:-$COUNTER}"
	mkdir -p "$TEST_DIR/b-$id"
	mv "$TEST_DIR/$id.json" "$TEST_DIR/b-$id/config.json"
	OUT=$id brig_on "$HOST_A" "$BRIG_ROOT" run -d -b "$TEST_DIR/b-$id" -p 8080:80 "$id"
	assert_success
	wait_count "$TEST_DIR/$id.out" "${3:-5}"
}

# wait_count FILE MIN: until FILE's last line is a number >= MIN.
wait_count() {
	local i last
	for ((i = 0; i < 150; i++)); do
		last=$(tail -n 1 "$1" 2>/dev/null)
		[[ "$last" =~ ^[0-9]+$ ]] && [ "$last" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: no count >= $2 (last line: \`$last\`)"
}

state_ip() {
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$1" state "$2" 2>/dev/null | sed -n 's/.*"ip": "\([0-9.]*\)".*/\1/p'
}

# The container moved: gone from A (state, cgroup of A's run gone too: B's restore made its own), running
# on B with the same ip, counting on from where it was (its first line on B is past the last one on A).
check_moved() {
	local id=$1 ip=$2 last_a=$3 first_b
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state of $id left on host A"
	[ -z "$(ls -A "$BRIG_ROOT/.migrate-out" 2>/dev/null)" ] || fail "work directory left on A: $(ls "$BRIG_ROOT/.migrate-out")"
	[ "$(state_ip "$ROOT_B" "$id")" = "$ip" ] || fail "B: $id does not have $ip: $(BRIG_ROOT=$ROOT_B brig state "$id")"
	wait_count "$TEST_DIR/recv.out" $((last_a + 3))
	first_b=$(grep -m1 -x '[0-9]*' "$TEST_DIR/recv.out")
	[ "$first_b" -gt "$last_a" ] || fail "the counter started again on B at $first_b (A's last: $last_a)"
	[ "$first_b" -le $((last_a + 1)) ] || fail "B's first count $first_b after A's $last_a: a count lost"
	[ ! -e "$ROOT_B/.migrate/$id/images" ] || fail "images left on B"
	on "$HOST_B" ip -4 addr show | grep -q "10.89.0.1/" || fail "no brig bridge on B"
	! on "$HOST_A" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "A's nft still names $ip"
	on "$HOST_B" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "B's nft does not name $ip"
}

@test "migrate --offline: the counter goes on on the other host, same address and port, nothing left on the source" {
	local id=mo-$RAND ip last_a
	start_counter "$id"
	ip=$(state_ip "$BRIG_ROOT" "$id")
	[ -n "$ip" ] || fail "no ip"
	receiver
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.9.2:$PORT"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	[[ "$output" =~ ^\{\"iterations\":1,\"bytes\":\[[0-9]+\],\"downtime_ms\":[0-9]+,\"total_ms\":[0-9]+,\"dump_ms\":[0-9]+,\"rootfs_ms\":[0-9]+,\"send_ms\":[0-9]+,\"restore_ms\":[0-9]+\}$ ]] ||
		fail "figures: $output"
	echo "# offline: $output" >&3
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	check_moved "$id" "$ip" "$last_a"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success
	[ ! -e "$ROOT_B/$id" ] || fail "state left on B after delete"
}

@test "migrate --live: pre-dumps carry memtouch's 8 MiB while it counts, the final dump a fraction; it counts on on the other host under a new id" {
	local id=ml-$RAND new=mln-$RAND ip last_a n
	# Transparent huge pages off meanwhile: khugepaged collapsing the region between two dumps makes every
	# page dirty again (checkpoint.bats saw it once in a loaded lane).
	local thp=/sys/kernel/mm/transparent_hugepage/enabled was_thp=
	[ -w "$thp" ] && was_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp") && echo never >"$thp"
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	start_counter "$id" '["memtouch", "8"]' 2
	ip=$(state_ip "$BRIG_ROOT" "$id")
	receiver --id "$new" --bundle-dir "$TEST_DIR/bundles"
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate --live --max-iterations 3 "$id" "tcp:10.251.9.2:$PORT"
	[ -z "$was_thp" ] || echo "$was_thp" >"$thp"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	echo "# live: $output" >&3
	[[ "$output" =~ ^\{\"iterations\":([0-9]+),\"bytes\":\[([0-9,]+)\],\"downtime_ms\":[0-9]+,\"total_ms\":[0-9]+,\"dump_ms\":[0-9]+,\"rootfs_ms\":[0-9]+,\"send_ms\":[0-9]+,\"restore_ms\":[0-9]+\}$ ]] ||
		fail "figures: $output"
	n=${BASH_REMATCH[1]}
	local -a bytes
	IFS=, read -r -a bytes <<<"${BASH_REMATCH[2]}"
	[ "$n" -ge 2 ] && [ "$n" -le 4 ] || fail "iterations $n: not 2..4 with --max-iterations 3"
	[ "${#bytes[@]}" -eq "$n" ] || fail "$n iterations, ${#bytes[@]} byte counts"
	[ "${bytes[0]}" -ge $((8 << 20)) ] || fail "the first pre-dump sent only ${bytes[0]} B of an 8 MiB process"
	[ "${bytes[-1]}" -lt $((bytes[0] / 4)) ] || fail "the final dump (${bytes[-1]} B) is not a fraction of the first pre-dump (${bytes[0]} B)"
	[ -f "$TEST_DIR/bundles/$new/config.json" ] || fail "no bundle under --bundle-dir"
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	[ ! -e "$ROOT_B/$id" ] || fail "B restored it under the old id"
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state of $id left on host A"
	[ -z "$(ls -A "$BRIG_ROOT/.migrate-out" 2>/dev/null)" ] || fail "work directory left on A"
	[ "$(state_ip "$ROOT_B" "$new")" = "$ip" ] || fail "B: $new does not have $ip"
	wait_count "$TEST_DIR/recv.out" $((last_a + 2))
	[ "$(grep -m1 -x '[0-9]*' "$TEST_DIR/recv.out")" -gt "$last_a" ] || fail "the count started again on B"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$new"
	assert_success
	[ ! -e "$ROOT_B/$new" ] || fail "state left on B after delete"
	! on "$HOST_B" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "B's nft still names $ip after delete"
	rm -f "$ROOTFS/bin/memtouch"
}

@test "migrate --live: the pre-copied memory is put in on B by a local criu lazy-pages (memtouch checks every page there); no daemon is left" {
	# userfaultfd (CONFIG_USERFAULTFD) is what the lazy restore faults pages in with.
	[ -e /proc/sys/vm/unprivileged_userfaultfd ] || skip "kernel without userfaultfd"
	local id=mll-$RAND ip last_a moved wrapper=$TEST_DIR/criu-keep-lazy-log
	local thp=/sys/kernel/mm/transparent_hugepage/enabled was_thp=
	[ -w "$thp" ] && was_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp") && echo never >"$thp"
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	# B's criu: keeps the lazy-pages daemon's log, whose work directory (the bundle) goes after the move.
	printf '%s\n' '#!/bin/bash' '[ "$1" = lazy-pages ] || exec criu "$@"' 'criu "$@"' 'rc=$?' \
		'while [ $# -gt 1 ]; do [ "$1" = -W ] && cp "$2/lazy-pages.log" "$KEEP"; shift; done' 'exit $rc' >"$wrapper"
	chmod +x "$wrapper"
	rm -f "$TEST_DIR/lazy-pages.log"
	# 16 MiB read back before each count, dirtied by nobody: after the first pre-dump every page is in the
	# chain, none in the final dump's own pages.
	start_counter "$id" '["memtouch", "16", "0", "check"]' 2
	ip=$(state_ip "$BRIG_ROOT" "$id")
	: >"$TEST_DIR/recv.out"
	KEEP=$TEST_DIR/lazy-pages.log BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$HOST_B" \
		"$BRIG" --criu "$wrapper" --root "$ROOT_B" migrate-receive --once --listen "10.251.9.2:$PORT" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/recv.out" 3>&-) 2>&1 3>&- &
	RECEIVER=$!
	wait_listening
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate --live --max-iterations 2 "$id" "tcp:10.251.9.2:$PORT"
	[ -z "$was_thp" ] || echo "$was_thp" >"$thp"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	echo "# live, local lazy pages: $output" >&3
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	check_moved "$id" "$ip" "$last_a"
	! grep -q corrupt "$TEST_DIR/recv.out" || fail "$(grep corrupt "$TEST_DIR/recv.out")"
	[ -s "$TEST_DIR/lazy-pages.log" ] || fail "no criu lazy-pages ran on B"
	# The daemon's own count (criu's uffd.c, at -v4): every page of the 16 MiB went through it.
	moved=$(sed -n 's/.*UFFD transferred pages: (\([0-9]*\)\/.*/\1/p' "$TEST_DIR/lazy-pages.log" | sort -n | tail -n 1)
	echo "# B's lazy-pages daemon put in ${moved:-no} pages" >&3
	[ "${moved:-0}" -ge 4096 ] ||
		fail "the daemon put in ${moved:-0} pages, not memtouch's 16 MiB: $(grep -i error "$TEST_DIR/lazy-pages.log" | tail -n 3)"
	# migrate returned after B's DONE, which comes once the daemon has ended.
	! pgrep -f '^(\S*\/)?criu lazy-pages' >/dev/null || fail "a criu lazy-pages is left: $(pgrep -af '^(\S*\/)?criu lazy-pages')"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success
	rm -f "$ROOTFS/bin/memtouch" "$wrapper"
}

@test "migrate --live: a criu lazy-pages that cannot start on B is one warning there, the restore reads every page itself" {
	local id=mlf-$RAND ip last_a wrapper=$TEST_DIR/criu-no-lazy
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	# B's criu, but its lazy-pages daemon exits at once (as one whose start fails).
	printf '%s\n' '#!/bin/bash' '[ "$1" = lazy-pages ] && { echo "no daemon here" >&2; exit 1; }' 'exec criu "$@"' >"$wrapper"
	chmod +x "$wrapper"
	start_counter "$id" '["memtouch", "16", "0", "check"]' 2
	ip=$(state_ip "$BRIG_ROOT" "$id")
	: >"$TEST_DIR/recv.out"
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$HOST_B" "$BRIG" --criu "$wrapper" \
		--root "$ROOT_B" migrate-receive --once --listen "10.251.9.2:$PORT" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/recv.out" 3>&-) 2>&1 3>&- &
	RECEIVER=$!
	wait_listening
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate --live --max-iterations 2 "$id" "tcp:10.251.9.2:$PORT"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	echo "# B: $(grep -vx '[0-9]*' "$TEST_DIR/recv.out" | tail -n 1)" >&3
	[ "$(grep -c 'the restore reads every page' "$TEST_DIR/recv.out")" -eq 1 ] || fail "B: $(cat "$TEST_DIR/recv.out")"
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	check_moved "$id" "$ip" "$last_a"
	! grep -q corrupt "$TEST_DIR/recv.out" || fail "$(grep corrupt "$TEST_DIR/recv.out")"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success
	rm -f "$ROOTFS/bin/memtouch" "$wrapper"
}

# descendants PID: PID and every process below it (the lazy dump's child leads a process group of its own).
descendants() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1"); do descendants "$p"; done
}

@test "migrate --lazy-pages: memtouch runs on the other host before its memory is there, every page fetched and intact; a source lost mid-fetch is one line there and nothing is left" {
	# userfaultfd (CONFIG_USERFAULTFD) is what a lazy restore faults pages in with.
	[ -e /proc/sys/vm/unprivileged_userfaultfd ] || skip "kernel without userfaultfd"
	local id=mz-$RAND id2=mzk-$RAND ip last_a pids i
	local thp=/sys/kernel/mm/transparent_hugepage/enabled was_thp=
	[ -w "$thp" ] && was_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp") && echo never >"$thp"
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	# 16 MiB read back before each count: a page never fetched, or fetched wrong, prints "corrupt page N".
	start_counter "$id" '["memtouch", "16", "0", "check"]' 2
	ip=$(state_ip "$BRIG_ROOT" "$id")
	# One kernel for both "hosts": the frozen source holds its cgroup until every page is fetched, so B's
	# containers live elsewhere in the hierarchy, as on another host. Without that B's restore fails (the
	# cgroup is A's): before "restored", so A abandons its lazy dump and the container counts on there.
	receiver
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate --lazy-pages "$id" "tcp:10.251.9.2:$PORT"
	assert_failure
	assert_output_contains "the lazy dump was abandoned: it runs on here"
	wait "$RECEIVER" && fail "the receiver succeeded"
	RECEIVER=
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after an abandoned lazy dump: $REPLY"
	[ -z "$(ls -A "$BRIG_ROOT/.migrate-out" 2>/dev/null)" ] || fail "work directory left on A"
	[ ! -e "$ROOT_B/$id" ] || fail "B kept state"
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	wait_count "$TEST_DIR/$id.out" $((last_a + 2))
	receiver --cgroup-parent "$CG_PREFIX/host-b"
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate --lazy-pages "$id" "tcp:10.251.9.2:$PORT"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	echo "# lazy: $output" >&3
	[[ "$output" =~ ^\{\"iterations\":1,\"bytes\":\[([0-9]+)\],\"downtime_ms\":[0-9]+,.*\"restore_ms\":[0-9]+,\"pages_ms\":[0-9]+,\"daemon_ms\":[0-9]+\}$ ]] ||
		fail "figures: $output"
	# The image without its memory: far less than the 16 MiB.
	[ "${BASH_REMATCH[1]}" -lt $((4 << 20)) ] || fail "the lazy image is ${BASH_REMATCH[1]} B"
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	check_moved "$id" "$ip" "$last_a"
	! grep -q corrupt "$TEST_DIR/recv.out" || fail "$(grep corrupt "$TEST_DIR/recv.out")"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success

	# The source lost while the destination fetches (the link slowed so that 64 MiB take a while): the
	# daemon there loses its page server, the receiver deletes what runs on part of its memory, one line.
	modprobe sch_netem 2>/dev/null || true
	on "$HOST_A" tc qdisc add dev "mga-$RAND" root netem rate 16mbit 2>/dev/null || skip "no netem qdisc"
	start_counter "$id2" '["memtouch", "64", "0"]' 2
	receiver --cgroup-parent "$CG_PREFIX/host-b"
	on "$HOST_A" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" migrate --lazy-pages "$id2" \
		"tcp:10.251.9.2:$PORT" </dev/null >"$TEST_DIR/migrate2.out" 2>&1 &
	local src=$!
	for ((i = 0; i < 600; i++)); do
		grep -qx '[0-9]*' "$TEST_DIR/recv.out" && break
		sleep 0.1
	done
	grep -qx '[0-9]*' "$TEST_DIR/recv.out" || fail "not running on B: $(cat "$TEST_DIR/recv.out" "$TEST_DIR/migrate2.out")"
	pids=$(descendants "$src")
	kill -9 $pids 2>/dev/null || true
	wait "$src" 2>/dev/null || true
	on "$HOST_A" tc qdisc del dev "mga-$RAND" root 2>/dev/null || true
	wait "$RECEIVER" && fail "the receiver succeeded after its source was killed: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	echo "# receiver: $(grep -vx '[0-9]*' "$TEST_DIR/recv.out" | tail -n 1)" >&3
	[ "$(grep -vcx '[0-9]*' "$TEST_DIR/recv.out")" -eq 1 ] || fail "receiver: not one line: $(cat "$TEST_DIR/recv.out")"
	grep -q "the source's pages stopped coming" "$TEST_DIR/recv.out" || fail "receiver: $(cat "$TEST_DIR/recv.out")"
	[ ! -e "$ROOT_B/$id2" ] || fail "B kept a container with part of its memory"
	[ ! -e "$ROOT_B/.migrate/$id2" ] || fail "B kept its bundle"
	# What the killed source leaves is a dead host's: its work directory and the container's state (its tree,
	# CRIU gone, runs on frozen). The later tests look at A's work directories.
	rm -rf "$BRIG_ROOT/.migrate-out/$id2".*
	run on "$HOST_A" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" delete --force "$id2"
	assert_success
	[ -z "$was_thp" ] || echo "$was_thp" >"$thp"
	rm -f "$ROOTFS/bin/memtouch"
}

# receiver_own_root COPY ARGS...: receiver() in a mount namespace of its own where COPY is bound over
# $ROOTFS: host B has its own copy of the plain root, at the same path.
receiver_own_root() {
	local copy=$1
	shift
	: >"$TEST_DIR/recv.out"
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$HOST_B" unshare -m --propagation private \
		sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ "$copy" "$ROOTFS" \
		"$BRIG" --root "$ROOT_B" migrate-receive --once --listen "10.251.9.2:$PORT" "$@" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/recv.out" 3>&-) 2>&1 3>&- &
	RECEIVER=$!
	wait_listening
}

@test "migrate: the root's changes move with it: a plain root's files changed since create (B has its own copy), an overlay root's upper (additions and a deletion)" {
	local id=mr-$RAND ov=mrv-$RAND copy=$TEST_DIR/rootfs-b layer=$TEST_DIR/layer-$RAND
	# Plain root: B's copy is taken before the container writes; no network of brig's (B's brig runs in a
	# mount namespace of its own, where a network's mounts would be out of A's sight).
	cp -a "$ROOTFS" "$copy"
	lane_bundle "$id" '["sh", "-c", "echo before >/before-move; i=0; while [ ! -e /stop ]; do i=$((i+1)); echo $i; echo $i >/count; sleep 0.2; done"]'
	mkdir -p "$TEST_DIR/b-$id"
	mv "$TEST_DIR/$id.json" "$TEST_DIR/b-$id/config.json"
	OUT=$id brig_on "$HOST_A" "$BRIG_ROOT" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	wait_count "$TEST_DIR/$id.out" 3
	[ ! -e "$copy/before-move" ] || fail "B's copy has the file already"
	receiver_own_root "$copy"
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.9.2:$PORT"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	[ "$(cat "$copy/before-move" 2>/dev/null)" = before ] || fail "B's root has no /before-move"
	[ -n "$(cat "$copy/count" 2>/dev/null)" ] || fail "B's root has no /count"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" exec "$id" cat /before-move
	assert_success
	[ "$output" = before ] || fail "in the moved container: $output"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success

	# Overlay root (--layer): each host's --root a tmpfs of its own.
	OV_A=$TEST_DIR/ov-a OV_B=$TEST_DIR/ov-b
	mkdir -p "$OV_A" "$OV_B" "$layer"
	mount -t tmpfs brig-ova "$OV_A"
	mount -t tmpfs brig-ovb "$OV_B"
	echo from-layer >"$layer/layered"
	lane_bundle "$ov" '["sh", "-c", "echo changed >/changes; rm /layered; i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done"]'
	mkdir -p "$TEST_DIR/b-$ov"
	mv "$TEST_DIR/$ov.json" "$TEST_DIR/b-$ov/config.json"
	OUT=$ov brig_on "$HOST_A" "$OV_A" run -d -b "$TEST_DIR/b-$ov" --layer "$layer" "$ov"
	assert_success
	wait_count "$TEST_DIR/$ov.out" 3
	: >"$TEST_DIR/recv.out"
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 300 nsenter --net="/run/netns/$HOST_B" "$BRIG" --root "$OV_B" \
		migrate-receive --once --listen "10.251.9.2:$PORT" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/recv.out" 3>&-) 2>&1 3>&- &
	RECEIVER=$!
	wait_listening
	OUT=migrate brig_on "$HOST_A" "$OV_A" migrate "$ov" "tcp:10.251.9.2:$PORT"
	assert_success
	wait "$RECEIVER" || fail "receiver: status $?: $(cat "$TEST_DIR/recv.out")"
	RECEIVER=
	[ -z "$(ls -A "$OV_A/.upper" 2>/dev/null)" ] || fail "A kept the upper it sent: $(ls "$OV_A/.upper")"
	[ -n "$(ls -A "$OV_B/.upper" 2>/dev/null)" ] || fail "no upper of B's own under $OV_B/.upper"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$OV_B" exec "$ov" sh -c 'cat /changes; test -e /layered && echo back || echo deleted'
	assert_success
	[ "${lines[0]}" = changed ] || fail "the upper's file on B: ${lines[0]}"
	[ "${lines[1]}" = deleted ] || fail "the whiteout of /layered on B: ${lines[1]}"
	[ "$(cat "$layer/layered")" = from-layer ] || fail "the layer itself changed"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$OV_B" delete --force "$ov"
	assert_success
	umount -R "$OV_A" "$OV_B"
	OV_A= OV_B=
	rm -rf "$copy"
}

# mig_frame TYPE NAME DATA: one frame of the protocol (migrate/NOTES.md) on stdout.
be_bytes() {
	local v=$1 n=$2 i out=
	for ((i = n - 1; i >= 0; i--)); do
		out+=$(printf '\\%03o' $(((v >> (8 * i)) & 255)))
	done
	printf "$out"
}
mig_frame() {
	be_bytes "$1" 4
	be_bytes "${#2}" 4
	be_bytes "${#3}" 8
	printf '%s%s' "$2" "$3"
}

@test "migrate: a receiver that refuses, or dies mid-transfer, leaves the source running with its count and address, and nothing on the destination" {
	local id=mf-$RAND ip pid before after
	start_counter "$id"
	ip=$(state_ip "$BRIG_ROOT" "$id")
	pid=$(BRIG_ROOT=$BRIG_ROOT brig state "$id" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')

	# Refused at hello: the bundle it would make exists (another migration of it?). Never dumped.
	mkdir -p "$TEST_DIR/busy/$id"
	receiver --bundle-dir "$TEST_DIR/busy"
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.9.2:$PORT"
	assert_failure
	assert_output_contains "exists"
	[ "$(grep -c . "$TEST_DIR/migrate.out")" -eq 1 ] || fail "not one line: $(cat "$TEST_DIR/migrate.out")"
	wait "$RECEIVER" && fail "the receiver succeeded"
	RECEIVER=
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after a refusal: $REPLY"
	[ "$(BRIG_ROOT=$BRIG_ROOT brig state "$id" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')" = "$pid" ] || fail "pid changed"
	[ -z "$(ls -A "$TEST_DIR/busy/$id")" ] || fail "the refusing receiver wrote into the existing bundle"
	[ -z "$(ls "$ROOT_B")" ] || fail "B has state: $(ls "$ROOT_B")"
	[ ! -e "$ROOT_B/.migrate/$id" ] || fail "B made a bundle"

	# A receiver that answers hello, takes 64 KiB and dies: the dump is under way or sent, so the source
	# restores its container from it (same id, address, count).
	mig_frame 1 "$id" "brig-migrate/2" >"$TEST_DIR/hello.bin"
	printf '#!/bin/sh\ncat %s\nexec head -c 65536 >/dev/null\n' "$TEST_DIR/hello.bin" >"$TEST_DIR/fake-receiver"
	chmod +x "$TEST_DIR/fake-receiver"
	on "$HOST_B" socat "TCP-LISTEN:$PORT,bind=10.251.9.2,reuseaddr" "EXEC:$TEST_DIR/fake-receiver" &
	RECEIVER=$!
	wait_listening
	before=$(tail -n 1 "$ROOTFS/count")
	OUT=migrate brig_on "$HOST_A" "$BRIG_ROOT" migrate "$id" "tcp:10.251.9.2:$PORT"
	assert_failure
	assert_output_contains "runs here again"
	[ "$(grep -vcx '[0-9]*' "$TEST_DIR/migrate.out")" -eq 1 ] || fail "not one line: $(cat "$TEST_DIR/migrate.out")"
	wait "$RECEIVER" 2>/dev/null || true
	RECEIVER=
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after a receiver died: $REPLY"
	[ "$(state_ip "$BRIG_ROOT" "$id")" = "$ip" ] || fail "the source lost $ip"
	on "$HOST_A" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "A's nft lost $ip"
	sleep 1
	after=$(tail -n 1 "$ROOTFS/count")
	[ "$after" -gt "$before" ] || fail "the count did not go on: $before then $after"
	# The restored counter's output is now migrate's (the restore's stdio): it goes on from $before.
	[ "$(grep -m1 -x '[0-9]*' "$TEST_DIR/migrate.out")" -ge "$before" ] || fail "the restored counter started again"
	[ -z "$(ls -A "$BRIG_ROOT/.migrate-out" 2>/dev/null)" ] || fail "work directory left on A"

	# The real receiver, its source dying mid-transfer: it removes what it made and reports one line.
	receiver
	{ mig_frame 1 "$id" "brig-migrate/2"; mig_frame 4 "1" ""; printf '\0\0\0\5\0\0\0\7'; be_bytes 1000 8; printf '1/x.imgabc'; } |
		on "$HOST_A" timeout 10 socat -t 2 - "TCP:10.251.9.2:$PORT" >/dev/null || true
	wait "$RECEIVER" && fail "the receiver succeeded"
	RECEIVER=
	echo "# receiver: $(tail -n 1 "$TEST_DIR/recv.out")" >&3
	[ "$(grep -c . "$TEST_DIR/recv.out")" -eq 1 ] || fail "receiver: not one line: $(cat "$TEST_DIR/recv.out")"
	[ "$(tail -n 1 "$TEST_DIR/recv.out")" = "brig: migration of \`$id\`: the peer closed the connection" ] ||
		fail "receiver: $(tail -n 1 "$TEST_DIR/recv.out")"
	[ ! -e "$ROOT_B/.migrate/$id" ] || fail "the receiver left its bundle"
	[ ! -e "$ROOT_B/$id" ] || fail "the receiver left state"

	run on "$HOST_A" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" delete --force "$id"
	assert_success
	lane_gone "$id"
	! on "$HOST_A" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "A's nft still names $ip after delete"
}

@test "export on one host, import on the other: the counter goes on with its address; a truncated archive leaves nothing" {
	local id=mx-$RAND ip last_a size
	start_counter "$id"
	ip=$(state_ip "$BRIG_ROOT" "$id")
	OUT=export brig_on "$HOST_A" "$BRIG_ROOT" export "$id" "$TEST_DIR/$id.archive"
	assert_success
	[ ! -e "$BRIG_ROOT/$id" ] || fail "state of $id left on host A after export"
	[ -s "$TEST_DIR/$id.archive" ] || fail "no archive"
	OUT=export brig_on "$HOST_A" "$BRIG_ROOT" export "$id" "$TEST_DIR/$id.archive"
	assert_failure
	last_a=$(grep -x '[0-9]*' "$TEST_DIR/$id.out" | tail -n 1)
	# Truncated: the restore never comes; nothing is left of the attempt.
	size=$(stat -c %s "$TEST_DIR/$id.archive")
	head -c $((size / 2)) "$TEST_DIR/$id.archive" >"$TEST_DIR/half.archive"
	OUT=import brig_on "$HOST_B" "$ROOT_B" import "$TEST_DIR/half.archive"
	assert_failure
	[ "$(grep -c . "$TEST_DIR/import.out")" -eq 1 ] || fail "not one line: $(cat "$TEST_DIR/import.out")"
	assert_output_contains "truncated?"
	[ ! -e "$ROOT_B/$id" ] && [ ! -e "$ROOT_B/.migrate/$id" ] || fail "a truncated import left something"
	OUT=recv brig_on "$HOST_B" "$ROOT_B" import "$TEST_DIR/$id.archive"
	assert_success
	[ "$(state_ip "$ROOT_B" "$id")" = "$ip" ] || fail "B: $id does not have $ip"
	wait_count "$TEST_DIR/recv.out" $((last_a + 3))
	[ "$(grep -m1 -x '[0-9]*' "$TEST_DIR/recv.out")" -gt "$last_a" ] || fail "the counter started again on B"
	run on "$HOST_B" env BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$ROOT_B" delete --force "$id"
	assert_success
	! on "$HOST_B" nft list ruleset 2>/dev/null | grep -q "$ip" || fail "B's nft still names $ip after delete"
}
