#!/usr/bin/env bats
# The guarantees a runtime is trusted for, each attacked: leaked cwd, /proc/<pid>/exe of brig, and a
# symlink swapped in while the container is being created.

load helpers

@test "a cwd through /proc/self/fd cannot land outside the container (leaked-cwd escape)" {
	local n
	for n in 3 4 5 6 7 8 9; do
		bundle_jq '.process.cwd = $c' --arg c "/proc/self/fd/$n"
		bundle_set_args sh -c 'pwd; ls /../../ | head -3'
		run brig run --bundle "$BUNDLE" "$ID-$n"
		remember_id "$ID-$n"
		# Either refused, or a directory inside the container: never a host directory.
		if [ "$status" -eq 0 ]; then
			[[ "$output" != *"(unreachable)"* ]] || fail "cwd outside the root: $output"
		else
			assert_output_not_contains "(unreachable)"
		fi
	done
	assert_nothing_left
}

@test "exec --cwd through /proc/self/fd cannot land outside the container" {
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local n
	for n in 3 4 5 6 7 8; do
		run brig exec --cwd "/proc/self/fd/$n" "$ID" pwd
		[[ "$output" != *"(unreachable)"* ]] || fail "exec cwd outside the root: $output"
	done
}

@test "a container process cannot open /proc/<pid>/exe of a brig init waiting in its pid namespace" {
	# Container A owns a pid namespace; container B joins it and stays `created`: until `start`, B's init
	# is a clone of brig, visible from A.
	bundle_set_args sleep 1000
	brig_detached "$ID" run -d --bundle "$BUNDLE"
	assert_success
	local pid_a dir_b pid_b
	pid_a=$(container_pid "$ID")
	dir_b=$(make_bundle "$ID-b")
	CONFIG_BUNDLE=$dir_b bundle_jq '.linux.namespaces = (.linux.namespaces | map(select(.type != "pid"))) +
		[{type: "pid", path: $p}]' --arg p "/proc/$pid_a/ns/pid"
	brig_detached "$ID-b" create --bundle "$dir_b"
	assert_success
	pid_b=$(container_pid "$ID-b")
	# brig's init is a clone of brig itself, run from a sealed copy of its binary (a memfd); runc's and
	# crun's (BRIG=... to check the test) are not.
	local exe
	exe=$(readlink "/proc/$pid_b/exe")
	if [ "$exe" != "$(readlink -f "$BRIG")" ] && [ "$exe" != "/memfd:brig (deleted)" ]; then
		"$BRIG" --version | grep -q '^brig ' && fail "brig's init is not a clone of the brig binary"
		skip "this runtime's init is not a clone of its binary"
	fi
	# From A, as its root with the default capabilities: find B's init by its pid-namespace-local pid.
	run brig exec "$ID" sh -c '
		for p in /proc/[0-9]*; do
			[ "$(cat $p/comm 2>/dev/null)" = sleep ] && continue
			[ "${p#/proc/}" = 1 ] && continue
			[ "${p#/proc/}" = $$ ] && continue
			if cat $p/exe >/dev/null 2>&1; then echo "READ ${p}"; fi
			if ( : >> $p/exe ) 2>/dev/null; then echo "WROTE ${p}"; fi
		done; echo done'
	assert_success
	assert_output_contains done
	assert_output_not_contains READ
	assert_output_not_contains WROTE
	run brig delete --force "$ID-b"
	run brig delete --force "$ID"
	assert_nothing_left
}

@test "a mount target swapped to a symlink during creation never mounts outside the rootfs" {
	local target=$TEST_DIR/host-target
	mkdir -p "$target"
	bundle_jq '.mounts += [{destination: "/mnt/race", type: "tmpfs", source: "tmpfs"}]'
	bundle_set_args true
	mkdir -p "$ROOTFS/mnt"
	# Flip /mnt/race between a directory and a symlink to the host directory as fast as possible.
	(
		set +e
		while :; do
			rm -rf "$ROOTFS/mnt/race.new" && mkdir "$ROOTFS/mnt/race.new" && mv -T "$ROOTFS/mnt/race.new" "$ROOTFS/mnt/race" 2>/dev/null
			ln -sfn "$target" "$ROOTFS/mnt/race.link" && mv -T "$ROOTFS/mnt/race.link" "$ROOTFS/mnt/race" 2>/dev/null
		done
	) &
	local flipper=$! i
	for i in $(seq 1 30); do
		brig run --bundle "$BUNDLE" "$ID-$i" >/dev/null 2>&1 || true
		remember_id "$ID-$i"
		brig delete --force "$ID-$i" >/dev/null 2>&1 || true
	done
	kill "$flipper" 2>/dev/null || true
	wait "$flipper" 2>/dev/null || true
	# Nothing was mounted on, or created in, the host directory.
	! mountpoint -q "$target" || fail "tmpfs mounted on the host target"
	[ -z "$(ls -A "$target")" ] || fail "files created in the host target: $(ls -A "$target")"
	assert_nothing_left
}

@test "a /dev/null the image replaced is never bound over a masked path (runc's CVE-2025-31133)" {
	# Without brig's /dev tmpfs the image's /dev is used as it is. Its /dev/null pointing at a host-wide
	# sysctl would make a masked path a writable view of it; the test only reads what got mounted.
	bundle_jq '.mounts |= map(select(.destination != "/dev"))'
	bundle_set_args sh -c 'grep -c core_pattern /proc/self/mountinfo'
	mkdir -p "$ROOTFS/dev"
	ln -sfn /proc/sys/kernel/core_pattern "$ROOTFS/dev/null"
	run brig run --bundle "$BUNDLE" "$ID"
	assert_one_line_error
	assert_output_contains "linux.maskedPaths: \`/dev/null\` in the container is not the null device (a symlink)"
	assert_nothing_left
	# Another device in its place (zero, 1:5) is refused too.
	rm -f "$ROOTFS/dev/null"
	mknod "$ROOTFS/dev/null" c 1 5
	run brig run --bundle "$BUNDLE" "$ID"
	assert_one_line_error
	assert_output_contains "not the null device (another device)"
	assert_nothing_left
	# The null device itself masks as before.
	rm -f "$ROOTFS/dev/null"
	bundle_set_args sh -c 'grep " /proc/keys " /proc/self/mountinfo | wc -l; cat /proc/keys | wc -c'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	[ "${lines[0]}" = 1 ] && [ "${lines[1]}" = 0 ] || fail "/proc/keys not masked: $output"
}
