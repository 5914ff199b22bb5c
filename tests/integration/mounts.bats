#!/usr/bin/env bats
# Mounts: each kind, options, propagation, read-only root, masked and read-only paths, devices, and
# mount targets that try to leave the rootfs.

load helpers

# add_mount JSON: appends a mount entry.
add_mount() {
	bundle_jq ".mounts += [$1]"
}

# The line of /proc/self/mountinfo inside the container for mount point $1, from the last run's output.
mountinfo_line() {
	awk -v m="$1" '$5 == m' <<<"$output" | tail -n 1
}

@test "default mounts: proc, sysfs, devpts, mqueue, shm and cgroup with their types" {
	run_in_container cat /proc/self/mountinfo
	assert_success
	local m
	[[ "$(mountinfo_line /proc)" == *" - proc "* ]] || fail "/proc is not proc"
	[[ "$(mountinfo_line /sys)" == *" - sysfs "* ]] || fail "/sys is not sysfs"
	[[ "$(mountinfo_line /dev)" == *" - tmpfs "* ]] || fail "/dev is not tmpfs"
	[[ "$(mountinfo_line /dev/pts)" == *" - devpts "* ]] || fail "/dev/pts is not devpts"
	[[ "$(mountinfo_line /dev/mqueue)" == *" - mqueue "* ]] || fail "/dev/mqueue is not mqueue"
	[[ "$(mountinfo_line /dev/shm)" == *" - tmpfs "* ]] || fail "/dev/shm is not tmpfs"
	# The spec's /sys is read-only (options nosuid,noexec,nodev,ro).
	[[ "$(mountinfo_line /sys | awk '{ print $6 }')" == ro* ]] || fail "/sys is not read-only"
}

@test "devpts is a new instance with ptmxmode=0666 and /dev/ptmx points into it" {
	run_in_container sh -c 'cat /proc/self/mountinfo; ls -l /dev/ptmx; ls /dev/pts'
	assert_success
	local line
	line=$(mountinfo_line /dev/pts)
	[[ "$line" == *ptmxmode=666* ]] || fail "devpts: $line"
	assert_output_contains "/dev/ptmx -> pts/ptmx"
}

@test "the cgroup mount exposes the container's own hierarchies read-only" {
	run_in_container sh -c 'cat /proc/self/mountinfo; ls /sys/fs/cgroup; cat /sys/fs/cgroup/memory/cgroup.procs | wc -l; touch /sys/fs/cgroup/memory/x 2>&1 || echo ro-ok'
	assert_success
	assert_output_contains memory pids devices ro-ok
	local line
	line=$(mountinfo_line /sys/fs/cgroup/memory)
	[[ "$line" == *" - cgroup "* ]] || fail "memory hierarchy not mounted: $line"
}

@test "bind mount read-only: readable, not writable" {
	mkdir "$TEST_DIR/data"
	echo payload >"$TEST_DIR/data/file"
	add_mount '{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/data"'", "options": ["bind", "ro"]}'
	run_in_container sh -c 'cat /data/file; touch /data/new 2>&1 && echo WROTE; true'
	assert_success
	assert_output_contains payload
	assert_output_not_contains WROTE
	[ ! -e "$TEST_DIR/data/new" ]
	assert_nothing_left
}

@test "bind mount read-write: writes reach the host" {
	mkdir "$TEST_DIR/data"
	add_mount '{"destination": "/data", "source": "'"$TEST_DIR/data"'", "options": ["rbind", "rw"]}'
	run_in_container sh -c 'echo from-inside >/data/new'
	assert_success
	[ "$(cat "$TEST_DIR/data/new")" = from-inside ]
}

@test "bind mount of a single file, target created in the rootfs" {
	echo filedata >"$TEST_DIR/one-file"
	add_mount '{"destination": "/etc/deep/new/file.conf", "type": "bind", "source": "'"$TEST_DIR/one-file"'", "options": ["bind", "ro"]}'
	run_in_container cat /etc/deep/new/file.conf
	assert_success
	[ "$output" = filedata ]
}

@test "tmpfs with size, mode and flags" {
	add_mount '{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=1700"]}'
	run_in_container sh -c 'cat /proc/self/mountinfo; stat -c "%a" /scratch; echo x >/scratch/f && echo writable'
	assert_success
	local line
	line=$(mountinfo_line /scratch)
	[[ "$line" == *" - tmpfs "* ]] || fail "not tmpfs: $line"
	[[ "$line" == *size=1024k* ]] || fail "no size: $line"
	[[ "$line" == *nosuid* && "$line" == *nodev* && "$line" == *noexec* ]] || fail "flags: $line"
	assert_output_contains 1700 writable
}

@test "a read-only tmpfs" {
	add_mount '{"destination": "/rotmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}'
	run_in_container sh -c 'touch /rotmp/x 2>&1 || echo refused'
	assert_success
	assert_output_contains refused
}

@test "an extra proc and mqueue mount" {
	add_mount '{"destination": "/proc2", "type": "proc", "source": "proc"}'
	add_mount '{"destination": "/mq", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "nodev", "noexec"]}'
	run_in_container sh -c 'cat /proc/self/mountinfo; cat /proc2/self/status | head -1'
	assert_success
	[[ "$(mountinfo_line /proc2)" == *" - proc "* ]] || fail "no /proc2"
	[[ "$(mountinfo_line /mq)" == *" - mqueue "* ]] || fail "no /mq"
}

@test "rro makes a bind mount and its submounts read-only" {
	mkdir -p "$TEST_DIR/data/sub"
	mount -t tmpfs -o size=1m brig-test "$TEST_DIR/data/sub"
	add_mount '{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/data"'", "options": ["rbind", "rro"]}'
	run_in_container sh -c 'touch /data/a 2>/dev/null && echo TOP-WRITABLE; touch /data/sub/b 2>/dev/null && echo SUB-WRITABLE; echo done'
	umount "$TEST_DIR/data/sub"
	assert_success
	assert_output_contains done
	assert_output_not_contains TOP-WRITABLE SUB-WRITABLE
}

@test "plain ro on an rbind leaves submounts writable (contrast with rro)" {
	mkdir -p "$TEST_DIR/data/sub"
	mount -t tmpfs -o size=1m brig-test "$TEST_DIR/data/sub"
	add_mount '{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/data"'", "options": ["rbind", "ro"]}'
	run_in_container sh -c 'touch /data/a 2>/dev/null && echo TOP-WRITABLE; touch /data/sub/b 2>/dev/null && echo SUB-WRITABLE; echo done'
	umount "$TEST_DIR/data/sub"
	assert_success
	assert_output_not_contains TOP-WRITABLE
	assert_output_contains SUB-WRITABLE
}

# A shared mount point on the host for propagation tests (removed by teardown).
make_shared_dir() {
	mkdir -p "$TEST_DIR/prop"
	mount --bind "$TEST_DIR/prop" "$TEST_DIR/prop"
	mount --make-shared "$TEST_DIR/prop"
}

@test "bind propagation rslave: the mount is a slave of the host's" {
	make_shared_dir
	add_mount '{"destination": "/prop", "type": "bind", "source": "'"$TEST_DIR/prop"'", "options": ["rbind", "rslave"]}'
	run_in_container cat /proc/self/mountinfo
	assert_success
	[[ "$(mountinfo_line /prop)" == *master:* ]] || fail "not a slave: $(mountinfo_line /prop)"
}

@test "bind propagation rprivate: no peer, no master" {
	make_shared_dir
	add_mount '{"destination": "/prop", "type": "bind", "source": "'"$TEST_DIR/prop"'", "options": ["rbind", "rprivate"]}'
	run_in_container cat /proc/self/mountinfo
	assert_success
	local line
	line=$(mountinfo_line /prop)
	[ -n "$line" ]
	[[ "$line" != *master:* && "$line" != *shared:* ]] || fail "not private: $line"
}

@test "rslave bind sees a mount the host makes after start" {
	make_shared_dir
	mkdir "$TEST_DIR/prop/late"
	add_mount '{"destination": "/prop", "type": "bind", "source": "'"$TEST_DIR/prop"'", "options": ["rbind", "rslave"]}'
	bundle_set_args sh -c 'for i in $(seq 100); do [ -e /prop/late/marker ] && { echo seen; exit 0; }; sleep 0.05; done; echo unseen'
	brig_create
	assert_success
	run brig start "$ID"
	assert_success
	mount -t tmpfs -o size=1m brig-test "$TEST_DIR/prop/late"
	touch "$TEST_DIR/prop/late/marker"
	wait_for_status "$ID" stopped
	run brig delete "$ID"
	umount "$TEST_DIR/prop/late"
	[ "$(container_output)" = seen ]
}

@test "rootfsPropagation private: the root mount has no master" {
	bundle_jq '.linux.rootfsPropagation = "private"'
	run_in_container cat /proc/self/mountinfo
	assert_success
	local line
	line=$(mountinfo_line /)
	[ -n "$line" ]
	[[ "$line" != *master:* && "$line" != *shared:* ]] || fail "root: $line"
}

@test "root.readonly: the rootfs is read-only, /dev and /proc still work" {
	bundle_jq '.root.readonly = true'
	run_in_container sh -c 'touch /new 2>/dev/null && echo ROOT-WRITABLE; echo x >/dev/null && echo dev-ok; cat /proc/self/mountinfo'
	assert_success
	assert_output_not_contains ROOT-WRITABLE
	assert_output_contains dev-ok
	[[ "$(mountinfo_line / | awk '{ print $6 }')" == ro* ]] || fail "root not ro"
	[ ! -e "$ROOTFS/new" ]
}

@test "maskedPaths: files read empty, directories look empty, missing paths are ignored" {
	echo secret >"$ROOTFS/secret.txt"
	mkdir "$ROOTFS/secretdir"
	echo secret >"$ROOTFS/secretdir/inner"
	bundle_jq '.linux.maskedPaths = ["/proc/kcore", "/sys/firmware", "/secret.txt", "/secretdir", "/does/not/exist"]'
	run_in_container sh -c 'echo "kcore[$(head -c 16 /proc/kcore | wc -c)]"; echo "fw[$(ls -A /sys/firmware)]"; echo "file[$(cat /secret.txt)]"; echo "dir[$(ls -A /secretdir)]"; echo x >/secret.txt 2>/dev/null; echo end'
	assert_success
	assert_output_contains "kcore[0]" "fw[]" "file[]" "dir[]" end
	[ "$(cat "$ROOTFS/secret.txt")" = secret ]
}

@test "readonlyPaths: readable, not writable; missing paths are ignored" {
	mkdir "$ROOTFS/rodir"
	echo kept >"$ROOTFS/rodir/f"
	bundle_jq '.linux.readonlyPaths = ["/proc/sys", "/rodir", "/does/not/exist"]'
	run_in_container sh -c 'cat /rodir/f; touch /rodir/g 2>/dev/null && echo RO-WRITABLE; echo 1 >/proc/sys/kernel/domainname 2>/dev/null && echo SYSCTL-WRITABLE; cat /proc/sys/kernel/ostype'
	assert_success
	assert_output_contains kept Linux
	assert_output_not_contains RO-WRITABLE SYSCTL-WRITABLE
}

@test "default devices exist with the right numbers and no others" {
	run_in_container sh -c 'for d in null zero full random urandom tty; do echo "$d $(stat -c "%F %t:%T" /dev/$d)"; done; ls /dev'
	assert_success
	assert_output_contains "null character special file 1:3" "zero character special file 1:5" \
		"full character special file 1:7" "random character special file 1:8" \
		"urandom character special file 1:9" "tty character special file 5:0"
	# Nothing from the host's devtmpfs.
	assert_output_not_contains vda kvm autofs
}

@test "linux.devices: created with type, numbers, mode and owner" {
	bundle_jq '.linux.devices = [{path: "/dev/mydev", type: "c", major: 1, minor: 7, fileMode: 420, uid: 1000, gid: 1000},
		{path: "/dev/sub/blk", type: "b", major: 7, minor: 0, fileMode: 384, uid: 0, gid: 0},
		{path: "/dev/myfifo", type: "p"}]'
	bundle_jq '.linux.resources.devices = [{allow: false, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 7, access: "rwm"},
		{allow: true, type: "c", major: 1, minor: 3, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 9, access: "rwm"},
		{allow: true, type: "c", major: 1, minor: 5, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 8, access: "rwm"},
		{allow: true, type: "c", major: 5, minor: 0, access: "rwm"}, {allow: true, type: "c", major: 5, minor: 2, access: "rwm"},
		{allow: true, type: "c", major: 136, access: "rwm"}]'
	run_in_container sh -c 'stat -c "%n %F %t:%T %a %u:%g" /dev/mydev /dev/sub/blk /dev/myfifo; head -c 4 /dev/mydev | wc -c'
	assert_success
	assert_output_contains "/dev/mydev character special file 1:7 644 1000:1000" \
		"/dev/sub/blk block special file 7:0 600 0:0" "/dev/myfifo fifo"
	[ "${lines[-1]}" = 4 ] || fail "could not read /dev/mydev"
}

@test "the devices cgroup denies a device node that is not allowed" {
	# A node of the test's own, bind-mounted: brig neither creates nor allows it, so only the devices
	# cgroup stands between the container and it. 240:7 is in the experimental range: no driver has it, so
	# an open the cgroup lets through fails with ENXIO, and one it stops fails with EPERM.
	local node
	node=$(make_device_node unowned c 240 7)
	add_mount "{\"destination\": \"/denied\", \"type\": \"bind\", \"source\": \"$node\", \"options\": [\"bind\"]}"
	bundle_jq '.linux.resources.devices = [{allow: false, access: "rwm"}, {allow: true, type: "c", major: 1, minor: 3, access: "rwm"}]'
	run_in_container sh -c '(: </denied); echo x >/dev/null && echo null-ok'
	assert_success
	assert_output_contains null-ok "Operation not permitted"
	# Once a rule allows it, the open reaches the kernel's (absent) driver: the refusal was the cgroup's.
	bundle_jq '.linux.resources.devices += [{allow: true, type: "c", major: 240, minor: 7, access: "r"}]'
	run_in_container sh -c '(: </denied); echo done'
	assert_success
	assert_output_contains "No such device or address" done
	assert_output_not_contains "Operation not permitted"
}

@test "/dev symlinks: fd, stdin, stdout, stderr" {
	run_in_container sh -c 'for l in fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done'
	assert_success
	assert_output_contains "fd -> /proc/self/fd" "stdin -> /proc/self/fd/0" \
		"stdout -> /proc/self/fd/1" "stderr -> /proc/self/fd/2"
}

@test "a symlink in the rootfs pointing a mount target outside it: nothing is created or mounted outside" {
	mkdir "$TEST_DIR/outside"
	ln -s "$TEST_DIR/outside" "$ROOTFS/evil"
	ln -s ../../../../../../../../../"$TEST_DIR/outside" "$ROOTFS/evil-rel"
	add_mount '{"destination": "/evil/sub/dir", "type": "tmpfs", "source": "tmpfs"}'
	add_mount '{"destination": "/evil-rel/sub2", "type": "tmpfs", "source": "tmpfs"}'
	run_in_container sh -c 'stat -f -c %T /evil/sub/dir /evil-rel/sub2; echo inside >/evil/sub/dir/marker && echo wrote'
	# Either refused, or resolved inside the rootfs: never on the host.
	if [ "$status" -eq 0 ]; then
		assert_output_contains tmpfs wrote
	else
		if is_brig; then assert_one_line_error; fi
	fi
	[ -z "$(ls -A "$TEST_DIR/outside")" ] || fail "created outside the rootfs: $(find "$TEST_DIR/outside")"
	assert_nothing_left
}

@test "a symlinked bind source is fine, a bind destination symlink cannot escape" {
	mkdir "$TEST_DIR/outside" "$TEST_DIR/data"
	echo payload >"$TEST_DIR/data/p"
	ln -s "$TEST_DIR/outside" "$ROOTFS/evil"
	add_mount '{"destination": "/evil", "type": "bind", "source": "'"$TEST_DIR/data"'", "options": ["rbind", "rw"]}'
	run_in_container sh -c 'cat /evil/p && echo more >/evil/q'
	if [ "$status" -eq 0 ]; then
		assert_output_contains payload
		[ "$(cat "$TEST_DIR/data/q")" = more ]
	fi
	[ -z "$(ls -A "$TEST_DIR/outside")" ] || fail "written outside the rootfs: $(find "$TEST_DIR/outside")"
	assert_nothing_left
}

@test "a mount whose source does not exist fails with one line naming it, nothing left" {
	add_mount '{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/no-such-src"'", "options": ["bind"]}'
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains "$TEST_DIR/no-such-src"
	fi
	assert_nothing_left
}

@test "an unknown filesystem type fails, nothing left" {
	add_mount '{"destination": "/x", "type": "nosuchfs", "source": "none"}'
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains nosuchfs
	fi
	assert_nothing_left
}

@test "--no-pivot runs the container with the rootfs as root" {
	run brig run --no-pivot --bundle "$BUNDLE" "$ID"
	assert_success
	bundle_set_args sh -c 'ls /; cat /etc/hostname'
	run brig run --no-pivot --bundle "$BUNDLE" "$ID"
	assert_success
	assert_output_contains brig-test
}

# The device numbers of the host's proc and sysfs mounts, one per line.
host_proc_sysfs_devs() {
	awk '$9 == "proc" || $9 == "sysfs" { print $3 }' /proc/self/mountinfo | sort -u
}

# Starts a container that sleeps (create flags in "$@") and checks its whole mount namespace, hidden
# mounts included (listmount through the mntns_mounts helper): no host proc or sysfs, and (brig's own
# guarantee: runc leaves the host's other mounts under --no-pivot) at most one mount more than the
# container itself sees in /proc/self/mountinfo, the host's root under --no-pivot, which only pivot_root
# can take away.
check_no_host_mounts() {
	[ -x "$BRIG_HELPERS/mntns_mounts" ] || skip "helper mntns_mounts not built (BRIG_HELPERS=$BRIG_HELPERS)"
	bundle_set_args sleep 1000
	brig_create "$ID" "$@"
	assert_success
	run brig start "$ID"
	assert_success
	local pid ns inside dev
	pid=$(container_pid "$ID")
	run "$BRIG_HELPERS/mntns_mounts" "/proc/$pid/ns/mnt"
	[ "$status" -ne 2 ] || skip "this kernel's listmount cannot list another mount namespace"
	assert_success
	ns=$output
	run brig exec "$ID" cat /proc/self/mountinfo
	assert_success
	inside=$output
	for dev in $(host_proc_sysfs_devs); do
		! awk '{ print $2 }' <<<"$ns" | grep -qxF "$dev" ||
			fail "the host's proc or sysfs ($dev) is in the container's mount namespace: $ns"
		! awk '{ print $3 }' <<<"$inside" | grep -qxF "$dev" || fail "the container sees the host's $dev: $inside"
	done
	! is_brig || [ "$(wc -l <<<"$ns")" -le "$(($(wc -l <<<"$inside") + 1))" ] ||
		fail "host mounts left in the container's mount namespace: $ns"
}

@test "--no-pivot: nothing of the host's mount tree but its root stays in the container's mount namespace" {
	check_no_host_mounts --no-pivot
}

@test "pivot_root: nothing of the host's mount tree stays in the container's mount namespace" {
	check_no_host_mounts
}

# A process in the container makes its own user, mount and pid namespaces and mounts a new proc: the kernel
# allows that only while a full proc is visible in its mount namespace, which must be none of the host's.
# CAP_SETFCAP lets it map root in its new user namespace (Docker's default set has it). Flags for run in "$@".
check_nested_proc_mount_refused() {
	[ "$(cat /proc/sys/user/max_user_namespaces)" -gt 0 ] || skip "user namespaces are disabled"
	bundle_jq '.process.capabilities |= with_entries(.value += ["CAP_SETFCAP"])'
	bundle_set_args sh -c 'unshare -mrpf sh -c "echo in-new-namespaces; mount -t proc none /proc && echo PROC-MOUNTED"'
	run brig run "$@" --bundle "$BUNDLE" "$ID"
	assert_output_contains in-new-namespaces "permission denied"
	assert_output_not_contains PROC-MOUNTED
}

@test "--no-pivot: a process in new user, mount and pid namespaces cannot mount proc" {
	check_nested_proc_mount_refused --no-pivot
}

@test "--no-pivot in a user namespace: a nested user namespace cannot mount proc" {
	bundle_add_ns user
	bundle_jq '.linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
		| .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
	check_nested_proc_mount_refused --no-pivot
}

@test "pivot_root: a process in new user, mount and pid namespaces cannot mount proc" {
	check_nested_proc_mount_refused
}

@test "a rootfs whose /proc is a symlink into the image is refused before proc is mounted, nothing left" {
	rmdir "$ROOTFS/proc"
	ln -s /tmp "$ROOTFS/proc"
	touch "$ROOTFS/tmp/kept"
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains 'mounts[0]: destination `/proc`: must be mounted on an ordinary directory'
	fi
	[ "$(ls -A "$ROOTFS/tmp")" = kept ] || fail "the link's target changed: $(ls -A "$ROOTFS/tmp")"
	assert_nothing_left
}

@test "a rootfs whose /sys is a symlink out of it, or whose /proc dangles or is a file, is refused, nothing left" {
	local sys_index
	sys_index=$(jq '.mounts | map(.destination) | index("/sys")' "$BUNDLE/config.json")
	rmdir "$ROOTFS/sys"
	ln -s ../../../etc "$ROOTFS/sys"
	run_in_container true
	assert_failure
	if is_brig; then
		assert_one_line_error
		assert_output_contains "mounts[$sys_index]: destination \`/sys\`: must be mounted on an ordinary directory"
	fi
	assert_nothing_left
	rm "$ROOTFS/sys"
	mkdir "$ROOTFS/sys"

	rmdir "$ROOTFS/proc"
	ln -s /made-by-the-runtime "$ROOTFS/proc"
	run_in_container true
	assert_failure
	if is_brig; then assert_output_contains 'destination `/proc`: must be mounted on an ordinary directory'; fi
	[ ! -e "$ROOTFS/made-by-the-runtime" ] || fail "the dangling link's target was created"
	assert_nothing_left

	rm "$ROOTFS/proc"
	touch "$ROOTFS/proc"
	run_in_container true
	assert_failure
	if is_brig; then assert_output_contains 'destination `/proc`: must be mounted on an ordinary directory'; fi
	assert_nothing_left
}

@test "a read-only /dev with pts, shm and mqueue submounts: /dev is read-only, its submounts and nodes work" {
	bundle_jq '(.mounts[] | select(.destination == "/dev") | .options) += ["ro"]'
	# And a read-only tmpfs with a submount that needs a new mount point in it.
	add_mount '{"destination": "/rotmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}'
	add_mount '{"destination": "/rotmp/sub", "type": "tmpfs", "source": "tmpfs"}'
	run_in_container sh -c 'cat /proc/self/mountinfo
		touch /dev/x 2>/dev/null && echo DEV-WRITABLE; touch /rotmp/x 2>/dev/null && echo ROTMP-WRITABLE
		echo x >/dev/null && echo null-ok; touch /dev/shm/f && echo shm-ok; touch /rotmp/sub/f && echo sub-ok
		[ -c /dev/pts/ptmx ] && [ "$(readlink /dev/ptmx)" = pts/ptmx ] && echo pts-ok'
	assert_success
	assert_output_contains null-ok shm-ok sub-ok pts-ok
	assert_output_not_contains DEV-WRITABLE ROTMP-WRITABLE
	[[ "$(mountinfo_line /dev | awk '{ print $6 }')" == ro* ]] || fail "/dev: $(mountinfo_line /dev)"
	[[ "$(mountinfo_line /dev/pts)" == *" - devpts "* ]] || fail "/dev/pts: $(mountinfo_line /dev/pts)"
	[[ "$(mountinfo_line /dev/mqueue)" == *" - mqueue "* ]] || fail "/dev/mqueue: $(mountinfo_line /dev/mqueue)"
}
