#!/usr/bin/env bats
# checkpoint and restore with CRIU, for real (issue 11): the guest's 6.1 kernel is one criu 3.17.1 works
# on (the host's is not: tests/integration/checkpoint.bats checks the refusal there).
#
# Each container's stdio is pipes, as containerd and Podman give it: CRIU cannot dump an fd on a file of the
# host's mount namespace, and restore plugs its own pipes in their place (descriptors.json). A counter in a
# shell variable shows memory kept: restored, it goes on from where it was instead of starting at 1.
#
# Lean (lane_* helpers in ../helpers.bash): one rootfs and config template for the file; each container's
# bundle is a directory with that config (restore reads <bundle>/config.json).

load ../helpers

# criu under TCG on a loaded 2-core host: the boot's first dump (kerndat) took 14-16 s with a load of 5-6.
BRIG_TIMEOUT=60

setup_file() {
	is_cgroup2_root || return 0
	lane_setup_file
}

teardown_file() {
	pkill -f 'sleep 3599' 2>/dev/null || true
	lane_teardown_file
}

setup() {
	require_guest_lane
	command -v criu >/dev/null || skip "criu not installed"
}

teardown() {
	ck_kill_sessions
	lane_teardown
	pkill -f 'sleep 3599' 2>/dev/null || true
	pkill -x recvtty 2>/dev/null || true
}

# Counts in a shell variable, one line per tick on stdout and the last value in /count.
COUNTER='["sh", "-c", "i=0; while [ ! -e /stop ]; do i=$((i+1)); echo $i; echo $i >/count; sleep 0.2; done; exit 7"]'

# ck_bundle ID ARGS_JSON [RESOURCES_JSON]: lane_bundle's config as the bundle $TEST_DIR/b-ID.
ck_bundle() {
	lane_bundle "$@"
	mkdir -p "$TEST_DIR/b-$1"
	mv "$TEST_DIR/$1.json" "$TEST_DIR/b-$1/config.json"
}

# ck_stdio NAME BRIG_ARGS...: runs brig (or $CK_RUNTIME with --root $CK_RUNTIME_ROOT) with pipes for stdin, stdout and stderr (what the container
# inherits); its output and the container's land in $TEST_DIR/NAME.out. Sets $status and $output (the
# last line of NAME.out once brig has failed).
ck_stdio() {
	local name=$1 i
	shift
	: >"$TEST_DIR/$name.out"
	status=0
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 60 ${CK_RUNTIME:-"$BRIG"} --root "${CK_RUNTIME_ROOT:-$BRIG_ROOT}" "$@" \
		0< <(exec sleep 3599 3>&-) 1> >(exec cat >>"$TEST_DIR/$name.out" 3>&-) 2>&1 3>&- || status=$?
	output=
	if [ "$status" -ne 0 ]; then
		for ((i = 0; i < 20; i++)); do
			[ -s "$TEST_DIR/$name.out" ] && break
			sleep 0.1
		done
		sleep 0.2
		output=$(tail -n 1 "$TEST_DIR/$name.out")
	fi
	echo "# $*: status $status: $output" >&3 2>/dev/null || true
}

# ck_wait_count FILE MIN: waits until the last line of FILE is a number >= MIN; prints it.
ck_wait_count() {
	local i last
	for ((i = 0; i < 100; i++)); do
		last=$(tail -n 1 "$1" 2>/dev/null)
		if [[ "$last" =~ ^[0-9]+$ ]] && [ "$last" -ge "$2" ]; then
			echo "$last"
			return 0
		fi
		sleep 0.1
	done
	fail "$1: no count >= $2 (last line: \`$last\`)"
}

# ck_wait_count_lines FILE N [SECONDS]: waits until FILE has N lines.
ck_wait_count_lines() {
	local i
	for ((i = 0; i < ${3:-15} * 10; i++)); do
		[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1 has fewer than $2 lines: $(tail -3 "$1")"
}

BRIG_CKPT_NETWORK_FILE=brig-network

# lane_wait_socket PATH: until recvtty listens there.
lane_wait_socket() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	fail "no socket at $1"
}

# ck_session PIDFILE CMD...: CMD in the background in a session of its own (setsid execs it: $! is its
# pid and session), recorded for ck_kill_sessions.
ck_session() {
	local pidfile=$1
	shift
	setsid "$@" &
	echo "$!" >>"$TEST_DIR/sessions"
	echo "$!" >"$pidfile"
}

# Kills what ck_session started that is still there (a failed test's lazy dump or lazy-pages daemon waits
# for ever), each by its session's process group.
ck_kill_sessions() {
	local p
	[ -f "${TEST_DIR:-/nonexistent}/sessions" ] || return 0
	while read -r p; do
		kill -KILL -- "-$p" 2>/dev/null || true
	done <"$TEST_DIR/sessions"
	rm -f "$TEST_DIR/sessions"
}

# ck_lazy_checkpoint NAME ID PORT IMG: `checkpoint --lazy-pages` of ID in the background (its own session), serving
# on 127.0.0.1:PORT; returns once --status-fd says it serves. brig's pid is in $TEST_DIR/brig-NAME.pid (the one to
# signal, not the bash that records its status), its output in ckpt-NAME.out and its exit status in ckpt-NAME.out.rc.
ck_lazy_checkpoint() {
	local name=$1 id=$2 port=$3 img=$4 byte
	mkfifo "$TEST_DIR/status-$name"
	ck_session "$TEST_DIR/ckpt-$name.pid" bash -c 'BRIG_TEST_TOKEN=$1 "$2" --root "$3" checkpoint --lazy-pages \
		--page-server "127.0.0.1:$4" --status-fd 3 --image-path "$5" "$6" 3>"$7" </dev/null >"$8" 2>&1 &
		echo $! >"$9"; wait $!; echo $? >"$8.rc"' \
		_ "$TOKEN" "$BRIG" "$BRIG_ROOT" "$port" "$img" "$id" "$TEST_DIR/status-$name" "$TEST_DIR/ckpt-$name.out" \
		"$TEST_DIR/brig-$name.pid"
	byte=$(timeout 120 head -c 1 "$TEST_DIR/status-$name" | od -An -tx1 | tr -d ' ')
	[ "$byte" = 00 ] || fail "--status-fd got \`$byte\`, want one \\0 byte (checkpoint: $(cat "$TEST_DIR/ckpt-$name.out"))"
	[ -s "$img/inventory.img" ] || fail "no image once the page server is ready"
}

# Milliseconds since the epoch.
ck_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# The first line of FILE after line N.
ck_line_after() {
	sed -n "$(($2 + 1))p" "$1"
}

@test "checkpoint: memory kept, stdio pipes reconnected, a new id, poststart hooks, pid file, exec, state, delete" {
	local id=ck-$RAND new=ckn-$RAND img=$TEST_DIR/img-$RAND before first pid
	ck_bundle "$id" "$COUNTER"
	ck_bundle "$new" "$COUNTER"
	CONFIG_BUNDLE=$TEST_DIR/b-$new bundle_jq '.hooks.poststart = [{"path": "/bin/sh", "args": ["sh", "-c", "cat >" + $f]}]' \
		--arg f "$TEST_DIR/poststart.json"
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 5 >/dev/null

	run brig checkpoint --image-path "$img" "$id"
	assert_success
	# runc's contract: the dumped container is gone, its cgroup too, and its id is free.
	lane_gone "$id"
	before=$(tail -n 1 "$TEST_DIR/$id.out")

	[ -s "$img/inventory.img" ] || fail "no inventory.img in $img"
	grep -q 'pipe:\[' "$img/descriptors.json" || fail "descriptors.json: $(cat "$img/descriptors.json")"

	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" --pid-file "$TEST_DIR/$new.pid" "$new"
	assert_success
	# The counter goes on from its value in memory (a fresh start would print 1), on restore's stdout.
	first=$(ck_wait_count "$TEST_DIR/$new.out" 1)
	first=$(head -n 1 "$TEST_DIR/$new.out")
	[ "$first" -eq $((before + 1)) ] || fail "restored counter printed $first first, want $((before + 1)) (dumped at $before)"
	ck_wait_count "$TEST_DIR/$new.out" $((before + 3)) >/dev/null
	lane_status "$new"
	[ "$REPLY" = running ] || fail "state says $REPLY"
	pid=$(<"$TEST_DIR/$new.pid")
	[ "$(brig state "$new" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')" = "$pid" ] || fail "pid file $pid differs from state"
	# The restored tree is in the new container's cgroup.
	grep -qx "$pid" "$CGROUP2_ROOT$CG_PREFIX/$new/cgroup.procs" || fail "init $pid not in $CG_PREFIX/$new"
	grep -q "\"id\": *\"$new\"" "$TEST_DIR/poststart.json" || fail "poststart hook did not run: $(cat "$TEST_DIR/poststart.json" 2>&1)"
	run brig exec "$new" sh -c 'cat /count; echo $$'
	assert_success
	[ "${lines[0]}" -gt "$before" ] || fail "exec saw /count ${lines[0]}"
	run brig list -q
	[ "$output" = "$new" ] || fail "list: $output"
	run brig kill "$new" KILL
	assert_success
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
}

@test "checkpoint --leave-running, and one image restored as two containers at once" {
	local id=lr-$RAND img=$TEST_DIR/img-lr-$RAND before c
	ck_bundle "$id" "$COUNTER"
	for c in a b; do
		ck_bundle "cl$c-$RAND" "$COUNTER"
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 3 >/dev/null
	run brig checkpoint --leave-running --image-path "$img" "$id"
	assert_success
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after --leave-running: $REPLY"
	before=$(ck_wait_count "$TEST_DIR/$id.out" 1)
	ck_wait_count "$TEST_DIR/$id.out" $((before + 2)) >/dev/null

	# The seeds' "snapshot and return to it": both clones start from the snapshot, side by side.
	(ck_stdio cla-$RAND restore -d -b "$TEST_DIR/b-cla-$RAND" --image-path "$img" "cla-$RAND"
		echo "$status" >"$TEST_DIR/cla.status") &
	(ck_stdio clb-$RAND restore -d -b "$TEST_DIR/b-clb-$RAND" --image-path "$img" "clb-$RAND"
		echo "$status" >"$TEST_DIR/clb.status") &
	wait
	for c in a b; do
		[ "$(cat "$TEST_DIR/cl$c.status")" = 0 ] || fail "restore of cl$c failed: $(cat "$TEST_DIR/cl$c-$RAND.out")"
		ck_wait_count "$TEST_DIR/cl$c-$RAND.out" 2 >/dev/null
		lane_status "cl$c-$RAND"
		[ "$REPLY" = running ] || fail "clone $c: $REPLY"
	done
	[ "$(head -n 1 "$TEST_DIR/cla-$RAND.out")" = "$(head -n 1 "$TEST_DIR/clb-$RAND.out")" ] ||
		fail "the clones did not start from the same count"
	for c in "$id" "cla-$RAND" "clb-$RAND"; do
		run brig delete --force "$c"
		assert_success
		lane_gone "$c"
	done
}

@test "checkpoint --pre-dump, then a dump with --parent-path writes less; restore from it" {
	local id=pd-$RAND img=$TEST_DIR/img-pd-$RAND new=pdn-$RAND pre final
	# 8 MiB of memory that the tree holds and never touches again: the pre-dump copies it, the final
	# dump on top of it does not. Transparent huge pages off meanwhile: khugepaged collapsing the region
	# between the two dumps makes every page dirty again (seen once in a loaded lane).
	local thp=/sys/kernel/mm/transparent_hugepage/enabled was_thp=
	[ -w "$thp" ] && was_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp") && echo never >"$thp"
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	ck_bundle "$id" '["memtouch", "8"]'
	ck_bundle "$new" '["true"]'
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 2 >/dev/null
	run brig checkpoint --pre-dump --image-path "$img/pre" "$id"
	assert_success
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after --pre-dump: $REPLY"
	run brig checkpoint --parent-path ../pre --image-path "$img/final" "$id"
	assert_success
	lane_gone "$id"
	pre=$(du -sk "$img/pre" | cut -f1)
	final=$(du -sk "$img/final" | cut -f1)
	echo "# pre-dump ${pre} KiB, final dump ${final} KiB" >&3
	[ "$pre" -ge 8192 ] || fail "pre-dump holds only $pre KiB"
	[ "$final" -lt $((pre / 2)) ] || fail "final dump $final KiB is not much smaller than the pre-dump's $pre KiB"
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img/final" "$new"
	assert_success
	ck_wait_count "$TEST_DIR/$new.out" 3 >/dev/null
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
	[ -z "$was_thp" ] || echo "$was_thp" >"$thp"
	rm -f "$ROOTFS/bin/memtouch"
}

@test "checkpoint --lazy-pages: restore fetches memory on demand from the dump's page server; --status-fd says when it serves" {
	# userfaultfd (CONFIG_USERFAULTFD) is what a lazy restore faults pages in with.
	[ -e /proc/sys/vm/unprivileged_userfaultfd ] || skip "kernel without userfaultfd"
	local id=lz-$RAND new=lzn-$RAND again=lza-$RAND img=$TEST_DIR/img-lz-$RAND img2=$TEST_DIR/img-lz2-$RAND
	local port=$((27000 + RANDOM % 1000)) before first t0 lazy_ms normal_ms
	local thp=/sys/kernel/mm/transparent_hugepage/enabled was_thp=
	[ -w "$thp" ] && was_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp") && echo never >"$thp"
	cp "$BRIG_HELPERS/memtouch" "$ROOTFS/bin/memtouch"
	# 16 MiB whose every page memtouch reads back before each count: a page restored wrong or never served
	# prints "corrupt page N"; its count, in memory, goes on.
	for c in "$id" "$new" "$again"; do
		ck_bundle "$c" '["memtouch", "16", "0", "check"]'
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 2 >/dev/null

	# The dump returns once `criu lazy-pages` has fetched every page it left behind.
	ck_lazy_checkpoint lazy "$id" "$port" "$img"
	before=$(tail -n 1 "$TEST_DIR/$id.out")

	ck_session "$TEST_DIR/lazy.pid" criu lazy-pages --page-server --address 127.0.0.1 --port "$port" -D "$img" \
		-o lazy-pages.log -v4
	for ((i = 0; i < 300; i++)); do
		[ -S "$img/lazy-pages.socket" ] && break
		sleep 0.1
	done
	[ -S "$img/lazy-pages.socket" ] || fail "criu lazy-pages did not listen: $(tail -3 "$img/lazy-pages.log" 2>&1)"
	t0=$(ck_ms)
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --lazy-pages --image-path "$img" "$new"
	lazy_ms=$(($(ck_ms) - t0))
	assert_success
	ck_wait_count "$TEST_DIR/$new.out" $((before + 3)) >/dev/null
	first=$(head -n 1 "$TEST_DIR/$new.out")
	[ "$first" -eq $((before + 1)) ] || fail "restored memtouch counted $first first, want $((before + 1))"
	! grep -q corrupt "$TEST_DIR/$new.out" || fail "$(grep corrupt "$TEST_DIR/$new.out")"
	# Every page served: the dump and the daemon end on their own, the old container is gone.
	for ((i = 0; i < 300; i++)); do
		[ -e "$TEST_DIR/ckpt-lazy.out.rc" ] && ! kill -0 "$(<"$TEST_DIR/lazy.pid")" 2>/dev/null && break
		sleep 0.1
	done
	[ "$(cat "$TEST_DIR/ckpt-lazy.out.rc" 2>/dev/null)" = 0 ] || fail "lazy checkpoint: $(cat "$TEST_DIR/ckpt-lazy.out")"
	! kill -0 "$(<"$TEST_DIR/lazy.pid")" 2>/dev/null || fail "criu lazy-pages still runs: $(tail -3 "$img/lazy-pages.log")"
	lane_gone "$id"

	# The same container dumped whole and restored, for the figure: a lazy restore does not wait for memory.
	run brig checkpoint --image-path "$img2" "$new"
	assert_success
	before=$(tail -n 1 "$TEST_DIR/$new.out")
	t0=$(ck_ms)
	ck_stdio "$again" restore -d -b "$TEST_DIR/b-$again" --image-path "$img2" "$again"
	normal_ms=$(($(ck_ms) - t0))
	assert_success
	ck_wait_count "$TEST_DIR/$again.out" $((before + 2)) >/dev/null
	! grep -q corrupt "$TEST_DIR/$again.out" || fail "$(grep corrupt "$TEST_DIR/$again.out")"
	echo "# 16 MiB: restore --lazy-pages ${lazy_ms} ms, whole restore ${normal_ms} ms" >&3
	run brig delete --force "$again"
	assert_success
	lane_gone "$again"
	lane_gone "$new"
	[ -z "$was_thp" ] || echo "$was_thp" >"$thp"
	rm -f "$ROOTFS/bin/memtouch"
}

@test "checkpoint --lazy-pages with no daemon: SIGTERM ends it in seconds, the dump abandoned, the container runs on" {
	local id=lzs-$RAND new=lzsn-$RAND img=$TEST_DIR/img-lzs-$RAND img2=$TEST_DIR/img-lzs2-$RAND
	local port=$((28000 + RANDOM % 1000)) before first t0 took
	ck_bundle "$id" "$COUNTER"
	ck_bundle "$new" "$COUNTER"
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 2 >/dev/null

	# TEST_DIR is the file's: names of their own beside the other lazy test's.
	ck_lazy_checkpoint stop "$id" "$port" "$img"
	t0=$(ck_ms)
	kill -TERM "$(<"$TEST_DIR/brig-stop.pid")"
	for ((i = 0; i < 100; i++)); do
		[ -e "$TEST_DIR/ckpt-stop.out.rc" ] && break
		sleep 0.1
	done
	took=$(($(ck_ms) - t0))
	[ -e "$TEST_DIR/ckpt-stop.out.rc" ] || fail "the lazy checkpoint still runs 10 s after SIGTERM"
	[ "$(<"$TEST_DIR/ckpt-stop.out.rc")" -ne 0 ] || fail "an abandoned lazy checkpoint succeeded: $(cat "$TEST_DIR/ckpt-stop.out")"
	[ "$(cat "$TEST_DIR/ckpt-stop.out")" = "brig: checkpoint container \`$id\`: interrupted by SIGTERM before the lazy pages were fetched: the dump was abandoned, the container runs on" ] ||
		fail "checkpoint said: $(cat "$TEST_DIR/ckpt-stop.out")"
	echo "# SIGTERM to a lazy checkpoint's end: ${took} ms" >&3
	# What the attempt made is gone; the container goes on counting, running, and takes an exec.
	[ ! -e "$img" ] || fail "the abandoned dump left $img: $(ls "$img")"
	before=$(tail -n 1 "$TEST_DIR/$id.out")
	ck_wait_count "$TEST_DIR/$id.out" $((before + 3)) >/dev/null
	lane_status "$id"
	[ "$REPLY" = running ] || fail "state says $REPLY"
	run brig exec "$id" cat /count
	assert_success
	[ "$output" -gt "$before" ] || fail "exec saw /count $output"

	# The container still dumps (whole) and restores.
	run brig checkpoint --image-path "$img2" "$id"
	assert_success
	lane_gone "$id"
	before=$(tail -n 1 "$TEST_DIR/$id.out")
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img2" "$new"
	assert_success
	ck_wait_count "$TEST_DIR/$new.out" 1 >/dev/null
	first=$(head -n 1 "$TEST_DIR/$new.out")
	[ "$first" -eq $((before + 1)) ] || fail "restored counter printed $first first, want $((before + 1))"
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
}

@test "checkpoint --lazy-pages: a SIGKILLed brig leaves no criu behind, the container runs on and the dump is gone" {
	local id=lzk-$RAND img=$TEST_DIR/img-lzk-$RAND port=$((29000 + RANDOM % 1000)) before took t0 left criu p
	ck_bundle "$id" "$COUNTER"
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 2 >/dev/null
	ck_lazy_checkpoint kill "$id" "$port" "$img"
	criu=$(pgrep -f "^criu: dump" || true)
	[ -n "$criu" ] || fail "no criu dump serves the lazy pages: $(ps -eo pid,ppid,args)"
	t0=$(ck_ms)
	kill -KILL "$(<"$TEST_DIR/brig-kill.pid")"
	# No criu may stay serving the pages with the container frozen, and what the dump made goes.
	for ((i = 0; i < 100; i++)); do
		left=
		for p in $criu; do
			kill -0 "$p" 2>/dev/null && left+=" $p"
		done
		[ -z "$left" ] && [ ! -e "$img" ] && break
		sleep 0.1
	done
	took=$(($(ck_ms) - t0))
	[ -z "$left" ] || fail "criu still runs 10 s after brig was killed: $(ps -o pid,args -p "${left# }")"
	[ ! -e "$img" ] || fail "the killed lazy checkpoint left $img: $(ls "$img")"
	echo "# SIGKILL to a lazy checkpoint: criu gone and the dump removed in ${took} ms" >&3
	before=$(tail -n 1 "$TEST_DIR/$id.out")
	ck_wait_count "$TEST_DIR/$id.out" $((before + 3)) >/dev/null
	lane_status "$id"
	[ "$REPLY" = running ] || fail "state says $REPLY"
	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}

@test "checkpoint --lazy-pages refuses bad combinations with one line: no page server, --pre-dump, no lazy-pages daemon" {
	local id=lzb-$RAND img=$TEST_DIR/img-lzb-$RAND
	ck_bundle "$id" "$COUNTER"
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	run brig checkpoint --lazy-pages --image-path "$img" "$id"
	assert_one_line_error
	assert_output_contains "--lazy-pages: needs --page-server ADDRESS:PORT"
	run brig checkpoint --lazy-pages --pre-dump --page-server 127.0.0.1:27 --image-path "$img" "$id"
	assert_one_line_error
	assert_output_contains "--lazy-pages: not with --pre-dump"
	run brig checkpoint --status-fd 2 --image-path "$img" "$id"
	assert_one_line_error
	assert_output_contains "--status-fd: only with --lazy-pages"
	[ ! -e "$img" ] || fail "a refused checkpoint made $img"
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after refused checkpoints the container is $REPLY"
	# An image, but no `criu lazy-pages` serving it: refused before CRIU is asked, nothing left.
	run brig checkpoint --image-path "$img" "$id"
	assert_success
	ck_stdio "$id-r" restore -d -b "$TEST_DIR/b-$id" --lazy-pages --image-path "$img" "$id"
	[ "$status" -ne 0 ] && [[ "$output" == *"--lazy-pages: no \`criu lazy-pages\` daemon for this work path (no socket \`$img/lazy-pages.socket\`"* ]] ||
		fail "restore --lazy-pages without a daemon: $output"
	lane_gone "$id"
}

@test "images interchange with runc 1.1.5: runc's checkpoint restores with brig, brig's with runc (binds, masked paths, memory, pipes)" {
	command -v runc >/dev/null || skip "runc not installed"
	local id=rc-$RAND img=$TEST_DIR/img-rc-$RAND img2=$TEST_DIR/img-rc2-$RAND data=$TEST_DIR/data-rc-$RAND
	local rroot=$TEST_DIR/runc-root before first
	mkdir -p "$data"
	echo bound >"$data/file"
	ck_bundle "$id" "$COUNTER"
	CONFIG_BUNDLE=$TEST_DIR/b-$id bundle_jq \
		'.mounts += [{"destination": "/data", "type": "bind", "source": $d, "options": ["rbind", "rw"]}]' --arg d "$data"
	CK_RUNTIME=runc CK_RUNTIME_ROOT=$rroot ck_stdio "$id-runc" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id-runc.out" 3 >/dev/null
	run runc --root "$rroot" checkpoint --image-path "$img" --work-path "$img" "$id"
	assert_success
	before=$(tail -n 1 "$TEST_DIR/$id-runc.out")

	# runc's image, brig's restore (same id and bundle, as a client would).
	ck_stdio "$id-brig" restore -d -b "$TEST_DIR/b-$id" --image-path "$img" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id-brig.out" $((before + 2)) >/dev/null
	first=$(head -n 1 "$TEST_DIR/$id-brig.out")
	[ "$first" -eq $((before + 1)) ] || fail "brig restored runc's image: counted $first first, want $((before + 1))"
	run brig exec "$id" sh -c 'cat /data/file; wc -c </proc/kcore'
	assert_success
	[ "${lines[0]}" = bound ] && [ "${lines[1]}" = 0 ] || fail "bind or masked path after brig's restore: $output"

	# brig's image, runc's restore.
	run brig checkpoint --image-path "$img2" "$id"
	assert_success
	lane_gone "$id"
	before=$(tail -n 1 "$TEST_DIR/$id-brig.out")
	CK_RUNTIME=runc CK_RUNTIME_ROOT=$rroot ck_stdio "$id-runc2" restore -d -b "$TEST_DIR/b-$id" --image-path "$img2" \
		--work-path "$img2" "$id"
	[ "$status" -eq 0 ] || fail "runc restore of brig's image: $output: $(grep -E 'Error|Warn' "$img2/restore.log" | head -5)"
	ck_wait_count "$TEST_DIR/$id-runc2.out" $((before + 2)) >/dev/null
	first=$(head -n 1 "$TEST_DIR/$id-runc2.out")
	[ "$first" -eq $((before + 1)) ] || fail "runc restored brig's image: counted $first first, want $((before + 1))"
	run runc --root "$rroot" exec "$id" sh -c 'cat /data/file; wc -c </proc/kcore'
	[ "${lines[0]}" = bound ] && [ "${lines[1]}" = 0 ] || fail "bind or masked path after runc's restore: $output"
	run runc --root "$rroot" delete --force "$id"
	assert_success
}

@test "checkpoint: bind mounts (nested, onto a symlink), masked paths and cgroup limits come back" {
	local id=bm-$RAND new=bmn-$RAND img=$TEST_DIR/img-bm-$RAND data=$TEST_DIR/data-$RAND
	local mounts
	mkdir -p "$data/outer/inner" "$data/nested" "$data/target"
	echo nested >"$data/nested/file"
	echo linked >"$data/target/file"
	mkdir -p "$ROOTFS/mnt/real"
	ln -sfn /mnt/real "$ROOTFS/mnt/link"
	mounts=$(printf '[{"destination": "/outer", "type": "bind", "source": "%s", "options": ["rbind"]},
		{"destination": "/outer/inner", "type": "bind", "source": "%s", "options": ["bind", "ro"]},
		{"destination": "/mnt/link", "type": "bind", "source": "%s", "options": ["bind"]}]' \
		"$data/outer" "$data/nested" "$data/target")
	for c in "$id" "$new"; do
		ck_bundle "$c" '["sh", "-c", "while :; do echo tick >>/outer/ticks; sleep 0.2; done"]' \
			'{"memory": {"limit": 67108864}, "pids": {"limit": 40}}'
		CONFIG_BUNDLE=$TEST_DIR/b-$c bundle_jq '.mounts += $m' --argjson m "$mounts"
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	lane_wait_file "$data/outer/ticks"
	run brig checkpoint --image-path "$img" "$id"
	assert_success
	lane_gone "$id"
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" "$new"
	assert_success
	cg_check "$CGROUP2_ROOT$CG_PREFIX/$new" memory.max=67108864 pids.max=40
	run brig exec "$new" sh -c 'cat /outer/inner/file /mnt/real/file; wc -c </proc/kcore; (echo x >/outer/inner/w) 2>/dev/null || echo ro'
	assert_success
	[ "${lines[0]}" = nested ] || fail "nested bind: ${lines[0]}"
	[ "${lines[1]}" = linked ] || fail "bind onto a symlink: ${lines[1]}"
	[ "${lines[2]}" = 0 ] || fail "/proc/kcore is not masked: ${lines[2]}"
	[ "${lines[3]}" = ro ] || fail "the ro bind became writable"
	# The restored process still writes through the outer bind mount to the host directory.
	local n
	n=$(wc -l <"$data/outer/ticks")
	sleep 1
	[ "$(wc -l <"$data/outer/ticks")" -gt "$n" ] || fail "the restored process does not write to /outer"
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
	rm -rf "$ROOTFS/mnt/real" "$ROOTFS/mnt/link"
}

@test "checkpoint: a network namespace joined by path is external (runc's extRootNetNS) and joined again on restore" {
	local id=ns-$RAND new=nsn-$RAND img=$TEST_DIR/img-ns-$RAND ns=brig-ck-$RAND pid
	ip netns add "$ns"
	echo "$ns" >>"$TEST_DIR/netns"
	for c in "$id" "$new"; do
		ck_bundle "$c" '["sh", "-c", "while :; do sleep 0.2; done"]'
		CONFIG_BUNDLE=$TEST_DIR/b-$c bundle_jq '.linux.namespaces = [.linux.namespaces[] | if .type == "network" then .path = $p else . end]' \
			--arg p "/var/run/netns/$ns"
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	run brig checkpoint --image-path "$img" "$id"
	assert_success
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" --pid-file "$TEST_DIR/$new.pid" "$new"
	assert_success
	pid=$(<"$TEST_DIR/$new.pid")
	[ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/var/run/netns/$ns")" ] ||
		fail "the restored container is not in netns $ns"
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
	ip netns delete "$ns"
}

@test "restore in the foreground: waits, forwards the exit status, deletes the container" {
	local id=fg-$RAND new=fgn-$RAND img=$TEST_DIR/img-fg-$RAND
	ck_bundle "$id" "$COUNTER"
	ck_bundle "$new" "$COUNTER"
	rm -f "$ROOTFS/stop"
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 2 >/dev/null
	run brig checkpoint --image-path "$img" "$id"
	assert_success
	(sleep 3; touch "$ROOTFS/stop") &
	ck_stdio "$new" restore -b "$TEST_DIR/b-$new" --image-path "$img" "$new"
	wait
	rm -f "$ROOTFS/stop"
	[ "$status" -eq 7 ] || fail "foreground restore exited $status, want the container's 7"
	lane_gone "$new"
}

@test "checkpoint and restore refuse bad input with one line, and leave nothing (or the container running)" {
	local id=bad-$RAND img=$TEST_DIR/img-bad-$RAND other=bado-$RAND
	ck_bundle "$id" "$COUNTER"
	ck_bundle "$other" "$COUNTER"
	# A created container has nothing to dump yet.
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" create -b "$TEST_DIR/b-$other" "$other" </dev/null >/dev/null 2>&1 3>&-
	run brig checkpoint --image-path "$img" "$other"
	assert_one_line_error
	assert_output_contains "it is created, not running"
	run brig delete "$other"
	assert_success

	# A dump CRIU refuses (stdout on a file of the host's mount namespace): the container runs on.
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" run -d -b "$TEST_DIR/b-$id" "$id" \
		</dev/null >"$TEST_DIR/host-file" 2>&1 3>&-
	run brig checkpoint --image-path "$img" "$id"
	assert_one_line_error
	assert_output_contains "checkpoint container \`$id\`: dump: criu failed: " "(log: $img/dump.log)"
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after a failed dump the container is $REPLY"
	run brig delete --force "$id"
	assert_success

	# A good image for the restores below.
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	run brig checkpoint --image-path "$img" "$id"
	assert_success

	# Onto an id that exists: refused, the existing container untouched.
	ck_stdio "$other" run -d -b "$TEST_DIR/b-$other" "$other"
	assert_success
	ck_stdio "$other-r" restore -d -b "$TEST_DIR/b-$other" --image-path "$img" "$other"
	[ "$status" -ne 0 ] || fail "restore onto an existing id succeeded"
	[[ "$output" == *"container \`$other\` already exists"* ]] || fail "unexpected: $output"
	lane_status "$other"
	[ "$REPLY" = running ] || fail "the existing container is $REPLY"
	run brig delete --force "$other"
	assert_success

	# No image there; an image without descriptors.json; a corrupt image; a rootfs that is gone.
	ck_stdio none restore -d -b "$TEST_DIR/b-$other" --image-path "$TEST_DIR/no-image" "$other"
	[ "$status" -ne 0 ] && [[ "$output" == *"--image-path \`$TEST_DIR/no-image\`"* ]] || fail "missing image: $output"
	mkdir -p "$TEST_DIR/no-inv"
	ck_stdio none restore -d -b "$TEST_DIR/b-$other" --image-path "$TEST_DIR/no-inv" "$other"
	[ "$status" -ne 0 ] && [[ "$output" == *"no CRIU image there (no inventory.img)"* ]] || fail "empty image: $output"
	cp -a "$img" "$img-corrupt"
	for f in "$img-corrupt"/pstree.img "$img-corrupt"/core-*.img; do
		head -c 64 /dev/urandom >"$f"
	done
	ck_stdio corrupt restore -d -b "$TEST_DIR/b-$other" --image-path "$img-corrupt" "$other"
	[ "$status" -ne 0 ] && [[ "$output" == *"restore container \`$other\`: restore: criu failed: "*"(log: $img-corrupt/restore.log)"* ]] ||
		fail "corrupt image: $output"
	lane_gone "$other"
	CONFIG_BUNDLE=$TEST_DIR/b-$other bundle_jq '.root.path = "/nonexistent-rootfs"'
	ck_stdio gone restore -d -b "$TEST_DIR/b-$other" --image-path "$img" "$other"
	[ "$status" -ne 0 ] && [[ "$output" == *"root.path: \`/nonexistent-rootfs\`"* ]] || fail "missing rootfs: $output"
	lane_gone "$other"
	# The good image still restores afterwards.
	ck_stdio "$id-2" restore -d -b "$TEST_DIR/b-$id" --image-path "$img" "$id"
	assert_success
	run brig delete --force "$id"
	assert_success
	lane_gone "$id"
}

@test "checkpoint on brig's network: the address and published port come back, and a client's TCP connection from another host survives (--tcp-established)" {
	command -v python3 >/dev/null || skip "python3 not installed"
	local id=tcp-$RAND new=tcpn-$RAND img=$TEST_DIR/img-tcp-$RAND cli=brig-cli-$RAND ip n client
	ip netns add "$cli"
	echo "$cli" >>"$TEST_DIR/netns"
	ip link add "vh-$RAND" type veth peer name "vc-$RAND"
	ip link set "vc-$RAND" netns "$cli"
	ip addr add 10.250.7.1/24 dev "vh-$RAND"
	ip link set "vh-$RAND" up
	ip -n "$cli" addr add 10.250.7.2/24 dev "vc-$RAND"
	ip -n "$cli" link set "vc-$RAND" up
	ip -n "$cli" link set lo up
	for c in "$id" "$new"; do
		ck_bundle "$c" '["nc", "-l", "-p", "80", "-e", "cat"]'
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" -p 8080:80 "$id"
	assert_success
	ip=$(brig state "$id" | sed -n 's/.*"ip": "\([0-9.]*\)".*/\1/p')
	[ -n "$ip" ] || fail "no ip in state: $(brig state "$id")"
	# The client, on another "host": one connection to the published port, a line out and back every 0.2 s.
	: >"$TEST_DIR/client.log"
	ip netns exec "$cli" python3 -c '
import socket, sys, time
log = open(sys.argv[1], "a", buffering=1)
for _ in range(50):
    try:
        s = socket.create_connection(("10.250.7.1", 8080), timeout=2)
        break
    except OSError:
        time.sleep(0.2)
s.settimeout(60)
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
        break
    time.sleep(0.2)
' "$TEST_DIR/client.log" 3>&- &
	client=$!
	ck_wait_count_lines "$TEST_DIR/client.log" 3
	run brig checkpoint --tcp-established --image-path "$img" "$id"
	assert_success
	lane_gone "$id"
	[ -s "$img/$BRIG_CKPT_NETWORK_FILE" ] || fail "no network record beside the image"
	n=$(wc -l <"$TEST_DIR/client.log")
	ck_stdio "$new" restore -d --tcp-established -b "$TEST_DIR/b-$new" --image-path "$img" "$new"
	assert_success
	[ "$(brig state "$new" | sed -n 's/.*"ip": "\([0-9.]*\)".*/\1/p')" = "$ip" ] || fail "the restored container lost $ip: $(brig state "$new")"
	# The client's TCP retransmits back off while the container is away (1, 2, 4, 8... s): on a loaded machine
	# the next one may come a while after the restore.
	ck_wait_count_lines "$TEST_DIR/client.log" $((n + 5)) 90 || { echo "# client: $(tail -3 "$TEST_DIR/client.log")" >&3; tail -5 "$img/restore.log" >&3; false; }
	! grep -q ERR "$TEST_DIR/client.log" || fail "the connection broke: $(grep ERR "$TEST_DIR/client.log")"
	grep -qx "ping $((n + 3))" "$TEST_DIR/client.log" || fail "the echo did not go on (n=$n): $(tr "\n" " " <"$TEST_DIR/client.log")"
	kill "$client" 2>/dev/null || true
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
	! nft list ruleset 2>/dev/null | grep -q "$ip" || fail "nft still names $ip"
	ip link del "vh-$RAND" 2>/dev/null || true
	ip netns delete "$cli"
}

@test "checkpoint a container with a terminal: restore gives a new pty's master to --console-socket, the process goes on on it" {
	local id=tty-$RAND new=ttyn-$RAND img=$TEST_DIR/img-tty-$RAND before
	[ -x "$BRIG_HELPERS/recvtty" ] || skip "recvtty not built"
	for c in "$id" "$new"; do
		ck_bundle "$c" "$COUNTER"
		CONFIG_BUNDLE=$TEST_DIR/b-$c bundle_jq '.process.terminal = true'
	done
	"$BRIG_HELPERS/recvtty" "$TEST_DIR/tty1.sock" >"$TEST_DIR/tty1.out" 2>&1 </dev/null 3>&- &
	lane_wait_socket "$TEST_DIR/tty1.sock"
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" --console-socket "$TEST_DIR/tty1.sock" "$id"
	assert_success
	ck_wait_count_lines "$TEST_DIR/tty1.out" 3
	run brig checkpoint --image-path "$img" "$id"
	assert_success
	lane_gone "$id"
	before=$(tr -d '\r' <"$TEST_DIR/tty1.out" | grep -E '^[0-9]+$' | tail -n 1)
	# Without a console socket the terminal has nowhere to go: refused, nothing left.
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" "$new"
	[ "$status" -ne 0 ] && [[ "$output" == *"--console-socket is required"* ]] || fail "restore without a console socket: $output"
	lane_gone "$new"
	"$BRIG_HELPERS/recvtty" "$TEST_DIR/tty2.sock" >"$TEST_DIR/tty2.out" 2>&1 </dev/null 3>&- &
	lane_wait_socket "$TEST_DIR/tty2.sock"
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" --console-socket "$TEST_DIR/tty2.sock" "$new"
	assert_success
	ck_wait_count_lines "$TEST_DIR/tty2.out" 3
	[ "$(tr -d '\r' <"$TEST_DIR/tty2.out" | head -n 1)" -eq $((before + 1)) ] ||
		fail "on the new terminal the counter printed $(head -n 1 "$TEST_DIR/tty2.out"), want $((before + 1))"
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
}

@test "checkpoint --file-locks: a held flock is restored held; without the flag CRIU's refusal is one line and the container runs on" {
	local id=fl-$RAND new=fln-$RAND img=$TEST_DIR/img-fl-$RAND
	cp "$BRIG_HELPERS/lockhold" "$ROOTFS/bin/lockhold"
	for c in "$id" "$new"; do
		ck_bundle "$c" '["lockhold", "/lockfile"]'
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" "$id"
	assert_success
	lane_wait_file "$TEST_DIR/$id.out"
	run brig checkpoint --image-path "$img-no" "$id"
	assert_one_line_error
	assert_output_contains "dump: criu failed: " "(log: $img-no/dump.log)"
	lane_status "$id"
	[ "$REPLY" = running ] || fail "after the refused dump: $REPLY"
	run brig checkpoint --file-locks --image-path "$img" "$id"
	assert_success
	ck_stdio "$new" restore -d --file-locks -b "$TEST_DIR/b-$new" --image-path "$img" "$new"
	assert_success
	run brig exec "$new" lockhold --try /lockfile
	[ "$output" = held ] || fail "the lock is $output after restore"
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
	rm -f "$ROOTFS/lockfile" "$ROOTFS/bin/lockhold"
}

@test "checkpoint of an overlay root (--layer): its changes are kept beside the image and restore mounts them again" {
	local id=ov-$RAND new=ovn-$RAND img=$TEST_DIR/img-ov-$RAND layer=$TEST_DIR/layer-$RAND
	# The guest's / is an overlay, which an overlay's upper cannot be on: this test's --root is a tmpfs.
	local BRIG_ROOT=$TEST_DIR/ovroot
	mkdir -p "$BRIG_ROOT" "$layer"
	mount -t tmpfs brig-ovroot "$BRIG_ROOT"
	echo from-layer >"$layer/layered"
	for c in "$id" "$new"; do
		ck_bundle "$c" '["sh", "-c", "echo changed >/changes; rm /layered; i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done"]'
	done
	ck_stdio "$id" run -d -b "$TEST_DIR/b-$id" --layer "$layer" "$id"
	assert_success
	ck_wait_count "$TEST_DIR/$id.out" 3 >/dev/null
	run brig checkpoint --image-path "$img" "$id"
	assert_success
	lane_gone "$id"
	grep -qx "layer=$layer" "$img/brig-rootfs" || fail "rootfs record: $(cat "$img/brig-rootfs")"
	ck_stdio "$new" restore -d -b "$TEST_DIR/b-$new" --image-path "$img" "$new"
	assert_success
	ck_wait_count "$TEST_DIR/$new.out" 1 >/dev/null
	run brig exec "$new" sh -c 'cat /changes; test -e /layered && echo back || echo deleted; grep -c " / overlay " /proc/mounts'
	assert_success
	[ "${lines[0]}" = changed ] || fail "the upper's file: ${lines[0]}"
	[ "${lines[1]}" = deleted ] || fail "the whiteout of /layered is ${lines[1]}"
	[ "$(cat "$layer/layered")" = from-layer ] || fail "the layer itself changed"
	run brig diff "$new"
	assert_success
	assert_output_contains "A /changes" "D /layered"
	run brig delete --force "$new"
	assert_success
	lane_gone "$new"
	[ -z "$(mounts_under "$BRIG_ROOT")" ] || fail "mounts left: $(mounts_under "$BRIG_ROOT")"
	umount "$BRIG_ROOT"
}
