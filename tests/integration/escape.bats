#!/usr/bin/env bats
# Container escapes of the kinds that hit runc and crun, each tried against the runtime as an attack: the
# comment of each test names the CVE whose class it is. The ones brig was open to say so; the others keep
# closed what brig already resisted. Every attack aims at a directory or file of this test's own.

load helpers

# A container whose processes get CAP_SYS_PTRACE (kept out of the default set, granted for debuggers): it
# passes the check that a non-dumpable brig relies on, so /proc/<pid>/exe and /proc/<pid>/fd of a brig
# clone in the container's pid namespace open.
add_ptrace_cap() {
	bundle_jq '.process.capabilities |= with_entries(.value += ["CAP_SYS_PTRACE"])'
}

@test "escape: process.cwd through /proc/self/fd/N/.. creates nothing on the host (CVE-2024-21626 class)" {
	# An image's WORKDIR is process.cwd. Missing, it is created: a plain mkdir of it went through the
	# init's fd of the state directory and made the directory on the host. Every fd number the init may hold.
	local n target=$TEST_DIR/host-made
	for n in 3 4 5 6 7 8 9 10; do
		bundle_jq '.process.cwd = $c' --arg c "/proc/self/fd/$n/../../../../../../../../../..$target-$n"
		run brig run --bundle "$BUNDLE" "$ID-$n"
		remember_id "$ID-$n"
		assert_failure
		[ ! -e "$target-$n" ] || fail "process.cwd /proc/self/fd/$n/... created $target-$n on the host"
	done
	assert_nothing_left
}

@test "escape: a created init holds no host directory that its container could reach (CVE-2024-21626 class)" {
	# While the container waits for `start` its pid 1 is brig's init; exec'd processes with CAP_SYS_PTRACE
	# may read its fds. A directory among them (the state directory) led to the host's root through "..".
	add_ptrace_cap
	bundle_set_args true
	brig_create "$ID"
	assert_success
	run brig exec "$ID" sh -c 'for f in /proc/1/fd/*; do
		[ -d "$f/" ] && echo "DIR $f $(ls "$f/../../.." | head -3 | tr "\n" " ")"; done; echo done'
	assert_success
	assert_output_contains done
	assert_output_not_contains DIR
	run brig start "$ID"
	assert_success
}

@test "escape: a container cannot overwrite brig's binary through /proc/1/exe of a created init (CVE-2019-5736)" {
	# brig's init and exec'd processes are clones of brig until they exec: their /proc/<pid>/exe is brig's
	# binary. Opened from the container (CAP_SYS_PTRACE) and kept, it is written once no brig runs it any
	# more. On a copy of the binary of the test's own.
	cp "$BRIG" "$TEST_DIR/brig-copy"
	local BRIG=$TEST_DIR/brig-copy before
	before=$(sha256sum <"$BRIG")
	add_ptrace_cap
	bundle_set_args sleep 1000
	brig_create "$ID"
	assert_success
	brig exec -d "$ID" sh -c 'exec 3</proc/1/exe || { echo NOOPEN >/tmp/res; exit; }
		while [ "$(readlink /proc/1/exe)" != /bin/busybox ]; do sleep 0.05; done
		# the create and exec commands have exited: nothing runs the binary, so no ETXTBSY
		sleep 1
		if echo PWNED >>/proc/self/fd/3; then echo WROTE >/tmp/res; else echo REFUSED >/tmp/res; fi' \
		</dev/null >/dev/null 2>&1 3>&-
	run brig start "$ID"
	assert_success
	local i
	for i in $(seq 100); do
		[ -s "$ROOTFS/tmp/res" ] && break
		sleep 0.1
	done
	run cat "$ROOTFS/tmp/res"
	[ "$output" = REFUSED ] || [ "$output" = NOOPEN ] || fail "the container wrote brig's binary: $output"
	[ "$(sha256sum <"$BRIG")" = "$before" ] || fail "brig's binary changed"
}

@test "escape: the container's init and an exec'd process hold only their standard streams (CVE-2024-21626 class)" {
	# fdcheck lists every fd but its own of /proc/self/fd; none may be the host's (a cgroup or state
	# directory that a cwd or an openat could start from).
	bundle_add_helper fdcheck
	bundle_set_args sh -c 'fdcheck; exec sleep 1000'
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local i fds
	for i in $(seq 100); do
		grep -q '^2 ' "$TEST_DIR/$ID.out" && break
		sleep 0.05
	done
	fds=$(container_output "$ID" | grep -E '^[0-9]+ ' | cut -d' ' -f1 | xargs)
	[ "$fds" = "0 1 2" ] || fail "the init holds: $(container_output "$ID")"
	run brig exec "$ID" fdcheck
	assert_success
	fds=$(grep -E '^[0-9]+ ' <<<"$output" | cut -d' ' -f1 | xargs)
	[ "$fds" = "0 1 2" ] || fail "the exec'd process holds: $output"
	run brig exec --tty "$ID" fdcheck
	assert_success
	fds=$(tr -d '\r' <<<"$output" | grep -E '^[0-9]+ ' | cut -d' ' -f1 | xargs)
	[ "$fds" = "0 1 2" ] || fail "the exec'd process with a terminal holds: $output"
}

@test "escape: /dev/console swapped for a symlink while the terminal is set up is never mounted elsewhere (CVE-2025-52565 class)" {
	# Without brig's /dev tmpfs the image's /dev is used as it is, shared with whatever else writes the
	# rootfs (a second container on it): /dev/console flips between a file and a symlink to another file
	# of the container, which the terminal must never be mounted on (in runc's case a sysctl).
	bundle_jq '.mounts |= map(select(.destination != "/dev" and .destination != "/dev/shm" and .destination != "/dev/mqueue"))
		| .process.terminal = true'
	bundle_set_args sh -c 'echo "mounted: $(grep -c " /etc/console-target " /proc/self/mountinfo)"'
	mkdir -p "$ROOTFS/dev/pts"
	: >"$ROOTFS/etc/console-target"
	(
		set +e
		while :; do
			: >"$ROOTFS/dev/console.new" && mv -T "$ROOTFS/dev/console.new" "$ROOTFS/dev/console" 2>/dev/null
			ln -sfn /etc/console-target "$ROOTFS/dev/console.link" && mv -T "$ROOTFS/dev/console.link" "$ROOTFS/dev/console" 2>/dev/null
		done
	) &
	local flipper=$! i ran=0
	: >"$TEST_DIR/runs"
	for i in $(seq 1 20); do
		brig run --bundle "$BUNDLE" "$ID-$i" </dev/null >>"$TEST_DIR/runs" 2>&1 || true
		remember_id "$ID-$i"
	done
	kill "$flipper" 2>/dev/null || true
	wait "$flipper" 2>/dev/null || true
	ran=$(grep -c 'mounted: ' "$TEST_DIR/runs" || true)
	[ "$ran" -gt 0 ] || fail "no run reached the container: $(cat "$TEST_DIR/runs")"
	! grep -q 'mounted: [1-9]' "$TEST_DIR/runs" || fail "the terminal was mounted on the symlink's target: $(cat "$TEST_DIR/runs")"
	assert_nothing_left
}

@test "escape: with the default config /proc/sys, /proc/sysrq-trigger and /sys/fs/cgroup are read-only, kcore and firmware masked" {
	# Only opened for writing, never written: a host whose sysctls the container could open would have
	# them changed by nothing here.
	bundle_set_args sh -c '
		for f in /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches /proc/sysrq-trigger /proc/sys/kernel/modprobe; do
			[ -e "$f" ] || continue
			( exec 3>>"$f" ) 2>/dev/null && echo "WRITABLE $f"
		done
		for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
			mkdir "$d/brig-escape" 2>/dev/null && echo "MKDIR $d"
		done
		for f in /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/cgroup.procs; do
			[ -e "$f" ] || continue
			( exec 3>>"$f" ) 2>/dev/null && echo "WRITABLE $f"
		done
		[ -e /proc/kcore ] && echo "kcore $(wc -c </proc/kcore)"
		[ -d /sys/firmware ] && echo "firmware $(ls -A /sys/firmware | wc -l)"
		echo done'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains done
	assert_output_not_contains WRITABLE MKDIR
	[ ! -e /proc/kcore ] || assert_output_contains "kcore 0"
	[ ! -d /sys/firmware ] || assert_output_contains "firmware 0"
}

@test "escape: a user namespace of the container's own cannot set a cgroup v1 release_agent (CVE-2022-0492)" {
	[ -e /sys/fs/cgroup/memory/release_agent ] || skip "no cgroup v1 memory hierarchy on this host"
	# The agent runs as the host's root on a cgroup's last exit. Written with what it holds already (empty
	# on this host, else the test would not know what to put back), so a hole changes nothing.
	[ -z "$(cat /sys/fs/cgroup/memory/release_agent)" ] || skip "the host's memory release_agent is set"
	bundle_add_helper cgroup1_agent
	bundle_set_args sh -c 'mkdir -p /tmp/cg && cgroup1_agent memory /tmp/cg
		( echo >/sys/fs/cgroup/memory/release_agent ) 2>/dev/null && echo "wrote the container'"'"'s own"
		echo done'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains done
	assert_output_not_contains wrote
	[ -z "$(cat /sys/fs/cgroup/memory/release_agent)" ] || fail "the host's release_agent changed"
}

@test "escape: without a cgroup namespace, in a user namespace, the cgroup mount stays read-only (CVE-2023-25809 class)" {
	# runc bound the host's /sys/fs/cgroup read-write into rootless containers without a cgroup namespace.
	bundle_drop_ns cgroup
	bundle_add_ns user
	bundle_jq '.linux.uidMappings = [{containerID: 0, hostID: 0, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 0, size: 65536}]'
	bundle_set_args sh -c '
		for d in /sys/fs/cgroup /sys/fs/cgroup/*; do mkdir "$d/brig-escape" 2>/dev/null && echo "MKDIR $d"; done
		n=0
		for f in /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/cgroup.procs; do
			[ -e "$f" ] || continue
			n=$((n + 1))
			( exec 3>>"$f" ) 2>/dev/null && echo "WRITABLE $f"
		done
		echo "tried $n"'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains tried
	assert_output_not_contains WRITABLE MKDIR "tried 0"
}

@test "escape: a rootfs whose /dev, or a device's directory, is a symlink out of it creates nothing outside (CVE-2021-30465 class)" {
	local host=$TEST_DIR/host-dir
	mkdir -p "$host"
	# /dev as an absolute symlink to a host directory: brig's /dev tmpfs, its nodes and links land in the
	# rootfs's own copy of that path, never in the host's.
	rm -rf "$ROOTFS/dev"
	ln -s "$host" "$ROOTFS/dev"
	ln -s "../../../../../../../../../..$host" "$ROOTFS/devices-here"
	bundle_jq '.linux.devices = [{path: "/devices-here/evil", type: "c", major: 1, minor: 3}]
		| .mounts += [{destination: "/devices-here/mnt", type: "tmpfs", source: "tmpfs"}]'
	bundle_set_args true
	run brig run --bundle "$BUNDLE" "$ID"
	[ -z "$(ls -A "$host")" ] || fail "created in the host directory: $(ls -lA "$host")"
	! mountpoint -q "$host" || fail "mounted on the host directory"
	assert_nothing_left
}

@test "escape: kill and delete of a container whose pid was reused leave the new process alone" {
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local pid other i
	pid=$(container_pid "$ID")
	kill -9 "$pid"
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	# The next pid the kernel hands out is the container's old one (ns_last_pid); other processes of the
	# machine may take it first, hence a few tries.
	for i in $(seq 20); do
		echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid
		BRIG_TEST_TOKEN=$TOKEN sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
		other=$!
		[ "$other" = "$pid" ] && break
		kill "$other"
		wait "$other" 2>/dev/null || true
	done
	[ "$other" = "$pid" ] || skip "could not get pid $pid again"
	run brig kill "$ID" KILL
	run brig delete --force "$ID"
	kill -0 "$other" || fail "the process that took the container's pid was killed"
	kill "$other"
	wait "$other" 2>/dev/null || true
	assert_nothing_left
}

@test "escape: the state directory and its files are root's alone, the exec fifo unlisted" {
	bundle_set_args sleep 1000
	brig_create "$ID"
	assert_success
	local dir=$BRIG_ROOT/$ID f
	[ "$(stat -c %u "$dir")" = 0 ] || fail "state directory owned by $(stat -c %u "$dir")"
	# Searchable (the fifo is opened by name by an init that already is the container's user), not listable.
	[ "$(( 0$(stat -c %a "$dir") & 066 ))" = 0 ] || fail "state directory mode $(stat -c %a "$dir")"
	for f in "$dir"/*; do
		[ -p "$f" ] && continue
		[ "$(( 0$(stat -c %a "$f") & 022 ))" = 0 ] || fail "$f is writable by others: $(stat -c %a "$f")"
	done
	[ "$(( 0$(stat -c %a "$BRIG_ROOT") & 022 ))" = 0 ] || fail "--root writable by others"
}

@test "escape: a container cannot overwrite brig's binary through /proc/PID/exe of an exec joining it (CVE-2019-5736)" {
	# The classic: `brig exec` clones brig into the container's namespaces; a process there (CAP_SYS_PTRACE,
	# or any in a user namespace mapping the binary's owner) grabs its /proc/PID/exe and writes it later.
	bundle_add_helper exe_grab
	cp "$BRIG" "$TEST_DIR/brig-copy"
	local BRIG=$TEST_DIR/brig-copy before i
	before=$(sha256sum <"$BRIG")
	add_ptrace_cap
	bundle_set_args sh -c 'exe_grab 8 >/tmp/grab; sleep 1000'
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	for i in $(seq 1 30); do
		brig exec "$ID" true
	done
	for i in $(seq 200); do
		grep -q '^done' "$ROOTFS/tmp/grab" 2>/dev/null && break
		sleep 0.1
	done
	run cat "$ROOTFS/tmp/grab"
	assert_output_contains done
	assert_output_not_contains wrote
	[ "$(sha256sum <"$BRIG")" = "$before" ] || fail "brig's binary changed: $output"
}

@test "escape: an exec joining the container holds no host directory while its container can see it (CVE-2024-21626 class)" {
	# Until it execs, the clone `brig exec` makes in the container's pid namespace had every fd of brig's:
	# the state directory, --root, cgroup directories; a process with CAP_SYS_PTRACE reads them there. The
	# clone is held still where it reads the container's /etc/passwd (for HOME), a fifo here, while the
	# container looks at its fds; writing the fifo lets it go on.
	add_ptrace_cap
	bundle_set_args sh -c 'rm /etc/passwd && mkfifo /etc/passwd && echo ready >/tmp/res
		while :; do
			for p in /proc/[0-9]*; do
				e=$(readlink $p/exe) || continue
				[ "$e" = /bin/busybox ] && continue
				for f in $p/fd/*; do [ -d "$f/" ] && echo "dir $(readlink $f)"; done >>/tmp/res
				echo "checked $e" >>/tmp/res
				echo "root:x:0:0:root:/root:/bin/sh" >/etc/passwd
				echo done >>/tmp/res
				exec sleep 1000
			done
			sleep 0.05
		done'
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local i
	for i in $(seq 100); do
		grep -q ready "$ROOTFS/tmp/res" 2>/dev/null && break
		sleep 0.05
	done
	run brig exec "$ID" true
	assert_success
	run cat "$ROOTFS/tmp/res"
	assert_output_contains done checked
	assert_output_not_contains "dir "
}
