#!/usr/bin/env bats
# An overlay root: --layer (and run.brig.rootfs.layers) over root.path, the upper and work directories and what
# delete does with them, --upper and --keep-upper, root.readonly, bad layers, a killed create, rootless (the
# kernel's overlay in a user namespace, fuse-overlayfs) and `brig diff`.

load helpers

setup() {
	common_setup
	# Three small layers, lowest first; root.path (the busybox rootfs) lies under all of them.
	L1=$TEST_DIR/l1
	L2=$TEST_DIR/l2
	mkdir -p "$L1/etc" "$L2/etc" "$L1/opt/one"
	echo l1 >"$L1/shadowed"
	echo l2 >"$L2/shadowed"
	echo from-l1 >"$L1/etc/l1.conf"
	echo from-l2 >"$L2/etc/l2.conf"
	echo one >"$L1/opt/one/file"
}

# The container's mount point, upper and work directories when brig keeps them in its state directory.
state_dir() {
	echo "$BRIG_ROOT/${1:-$ID}"
}

# Mounts of the host's namespace below the test's state root.
host_mounts() {
	awk -v d="$BRIG_ROOT/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo
}

@test "a multi-layer root: each layer shows through, upper layers shadow lower ones, root.path is the lowest" {
	run_in_container cat /shadowed
	[ "$status" -ne 0 ] # no layers given: the plain rootfs
	bundle_set_args sh -c 'cat /shadowed /etc/l1.conf /etc/l2.conf /opt/one/file; ls /bin/busybox; grep -w / /proc/self/mountinfo'
	run brig run --bundle "$BUNDLE" --layer "$L1" --layer "$L2" "$ID"
	assert_success
	[ "$(sed -n 1p <<<"$output")" = l2 ] || fail "the upper layer does not shadow the lower one"
	assert_output_contains from-l1 from-l2 one /bin/busybox " - overlay "
	assert_nothing_left
}

@test "writes and deletions land in the upper directory; the layers stay as they were" {
	bundle_set_args sh -c 'echo new >/new; echo changed >/etc/l1.conf; rm /shadowed /bin/ls'
	run brig run --bundle "$BUNDLE" --keep --layer "$L1" --layer "$L2" "$ID"
	assert_success
	local upper
	upper=$(state_dir)/upper
	[ "$(cat "$upper/new")" = new ]
	[ "$(cat "$upper/etc/l1.conf")" = changed ]
	# Deletions are whiteouts: 0:0 character devices.
	[ "$(stat -c '%F %t:%T' "$upper/shadowed")" = "character special file 0:0" ]
	[ "$(stat -c '%F %t:%T' "$upper/bin/ls")" = "character special file 0:0" ]
	[ "$(cat "$L1/etc/l1.conf")" = from-l1 ] && [ "$(cat "$L2/shadowed")" = l2 ] && [ -e "$ROOTFS/bin/ls" ]
	[ ! -e "$L2/new" ] && [ ! -e "$ROOTFS/new" ]
	run brig delete "$ID"
	assert_success
	assert_nothing_left
}

@test "as root the overlay is mounted in the host's namespace at the state directory; delete removes it all" {
	bundle_set_args sleep 100
	brig_create "$ID" --layer "$L1"
	assert_success
	local dir
	dir=$(state_dir)
	[ "$(host_mounts)" = "$dir/rootfs" ] || fail "host mounts: $(host_mounts)"
	[ "$(brig state "$ID" | jq -r .rootfs)" = "$dir/rootfs" ]
	# The host sees the container's root through it (prestart hooks do too).
	[ "$(cat "$dir/rootfs/shadowed")" = l1 ] && [ -e "$dir/rootfs/bin/busybox" ]
	run brig start "$ID"
	assert_success
	[ -d "$dir/upper" ] && [ -d "$dir/work" ]
	run brig delete --force "$ID"
	assert_success
	[ -z "$(host_mounts)" ] || fail "mounts left: $(host_mounts)"
	[ ! -e "$dir" ]
	assert_nothing_left
}

@test "a container without a mount namespace gets the overlay root too" {
	require_brig
	bundle_drop_ns mount
	bundle_jq '.mounts = []'
	bundle_set_args sh -c 'cat /shadowed; ls /bin/busybox'
	run brig run --bundle "$BUNDLE" --layer "$L1" "$ID"
	assert_success
	assert_output_contains l1 /bin/busybox
	assert_nothing_left
}

@test "--upper DIR keeps the changes there for the next container; its work directory beside it goes" {
	local upper=$TEST_DIR/changes
	bundle_set_args sh -c 'echo first >/kept'
	run brig run --bundle "$BUNDLE" --layer "$L1" --upper "$upper" "$ID"
	assert_success
	[ "$(cat "$upper/kept")" = first ]
	[ ! -e "$TEST_DIR/.changes-work" ] || fail "work directory left: $(ls -la "$TEST_DIR/.changes-work")"
	# The upper's root takes the top layer's mode.
	[ "$(stat -c %a "$upper")" = "$(stat -c %a "$L1")" ]
	bundle_set_args sh -c 'cat /kept; ls -d /.changes-work 2>/dev/null; true'
	run brig run --bundle "$BUNDLE" --layer "$L1" --upper "$upper" "$ID"
	assert_success
	[ "$output" = first ]
	assert_nothing_left
}

@test "--keep-upper: run and delete move the upper under ROOT/.upper/ID and say where" {
	require_brig
	bundle_set_args sh -c 'echo one >/made'
	run brig run --bundle "$BUNDLE" --layer "$L1" --keep-upper "$ID"
	assert_success
	assert_output_contains "kept at $BRIG_ROOT/.upper/$ID"
	[ "$(cat "$BRIG_ROOT/.upper/$ID/made")" = one ]
	# A second one of the same id does not replace the first.
	bundle_set_args sh -c 'echo two >/made'
	run brig run --bundle "$BUNDLE" --layer "$L1" --keep "$ID"
	assert_success
	run brig delete --keep-upper "$ID"
	assert_success
	assert_output_contains "kept at $BRIG_ROOT/.upper/$ID-2"
	[ "$(cat "$BRIG_ROOT/.upper/$ID-2/made")" = two ] && [ "$(cat "$BRIG_ROOT/.upper/$ID/made")" = one ]
	[ -z "$(brig list -q)" ]
	assert_nothing_left
}

@test "root.readonly: an overlay with no upper; over one layer, a read-only bind of it" {
	bundle_jq '.root.readonly = true'
	bundle_set_args sh -c 'cat /shadowed; touch /x 2>&1; grep -w / /proc/self/mountinfo'
	run brig run --bundle "$BUNDLE" --keep --layer "$L1" "$ID"
	assert_success
	assert_output_contains l1 "Read-only file system" " - overlay "
	[ ! -e "$(state_dir)/upper" ] && [ ! -e "$(state_dir)/work" ]
	run brig delete "$ID"
	assert_success
	# root.path empty: the one layer alone.
	bundle_jq '.root.path = ""'
	bundle_set_args sh -c 'cat /shadowed; touch /x 2>&1; grep -w / /proc/self/mountinfo'
	cp -a "$ROOTFS/." "$L2/"
	run brig run --bundle "$BUNDLE" --layer "$L2" "$ID"
	assert_success
	assert_output_contains l2 "Read-only file system"
	assert_output_not_contains " - overlay "
	[ ! -e "$L2/x" ]
	assert_nothing_left
}

@test "run.brig.rootfs.layers: layers relative to the bundle, below --layer ones" {
	mv "$L1" "$BUNDLE/base"
	mkdir -p "$TEST_DIR/top"
	echo top >"$TEST_DIR/top/shadowed"
	bundle_jq '.annotations["run.brig.rootfs.layers"] = "base:'"$L2"'"'
	bundle_set_args sh -c 'cat /shadowed /etc/l1.conf'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_success
	[ "$output" = "$(printf 'l2\nfrom-l1')" ] || fail "annotation layers"
	run brig run --bundle "$BUNDLE" --layer "$TEST_DIR/top" "$ID"
	assert_success
	[ "$(sed -n 1p <<<"$output")" = top ]
	assert_nothing_left
}

@test "layers with ':' and ',' in their paths, longer paths than fsconfig takes, more than one option string holds" {
	local odd=$TEST_DIR/odd:dir,with=chars args=() i long=$TEST_DIR
	mkdir -p "$odd"
	echo odd >"$odd/odd"
	for i in 1 2 3; do long=$long/$(printf 'x%.0s' $(seq 100)); done
	mkdir -p "$long"
	echo long >"$long/long"
	args+=(--layer "$long")
	for i in $(seq 1 90); do
		mkdir -p "$TEST_DIR/layers/a-rather-long-layer-directory-name-number-$i"
		echo "$i" >"$TEST_DIR/layers/a-rather-long-layer-directory-name-number-$i/n"
		args+=(--layer "$TEST_DIR/layers/a-rather-long-layer-directory-name-number-$i")
	done
	bundle_set_args sh -c 'cat /odd /n /shadowed /long'
	run brig run --bundle "$BUNDLE" --layer "$L1" "${args[@]}" --layer "$odd" "$ID"
	assert_success
	[ "$output" = "$(printf 'odd\n90\nl1\nlong')" ] || fail "layers"
	assert_nothing_left
}

@test "bad layers, upper and options: one line naming what is wrong, nothing left" {
	require_brig
	local file=$TEST_DIR/a-file
	touch "$file"
	run brig run --bundle "$BUNDLE" --layer "$L1" --layer "$TEST_DIR/missing" "$ID"
	assert_one_line_error
	assert_output_contains "--layer[1] \`$TEST_DIR/missing\`: No such file or directory"
	run brig run --bundle "$BUNDLE" --layer "$file" "$ID"
	assert_one_line_error
	assert_output_contains "--layer[0] \`$file\`: not a directory"
	run brig run --bundle "$BUNDLE" --layer "$L1" --upper "$file" "$ID"
	assert_one_line_error
	assert_output_contains "--upper \`$file\`: not a directory"
	run brig run --bundle "$BUNDLE" --upper "$TEST_DIR/no/such/upper" "$ID"
	assert_one_line_error
	assert_output_contains "--upper" "No such file or directory"
	run brig run --bundle "$BUNDLE" --keep-upper "$ID"
	assert_one_line_error
	assert_output_contains "--keep-upper: the root is not an overlay"
	bundle_jq '.root.readonly = true'
	run brig run --bundle "$BUNDLE" --layer "$L1" --upper "$TEST_DIR/up" "$ID"
	assert_one_line_error
	assert_output_contains "--upper: root.readonly is true"
	bundle_jq '.root.readonly = false | .annotations["run.brig.rootfs.layers"] = "base::x"'
	run brig run --bundle "$BUNDLE" "$ID"
	assert_one_line_error
	assert_output_contains "run.brig.rootfs.layers[0] \`base\`"
	bundle_jq '.annotations = {"run.brig.rootfs.overlay-options": "upperdir=/tmp"}'
	run brig run --bundle "$BUNDLE" --layer "$L1" "$ID"
	assert_one_line_error
	assert_output_contains "run.brig.rootfs.overlay-options: \`upperdir=/tmp\`: not an overlay option"
	# One the kernel refuses: its own words, after the mount was tried.
	bundle_jq '.annotations = {"run.brig.rootfs.overlay-options": "index=maybe"}'
	run brig run --bundle "$BUNDLE" --layer "$L1" "$ID"
	assert_one_line_error
	assert_output_contains "option \`index=maybe\`" "index"
	bundle_jq '.annotations = {"run.brig.rootfs.overlay-driver": "fuse-overlayfs"}'
	run brig run --bundle "$BUNDLE" --layer "$L1" "$ID"
	assert_one_line_error
	assert_output_contains "fuse-overlayfs is for rootless containers"
	[ ! -e "$TEST_DIR/up" ] && [ ! -e "$TEST_DIR/.up-work" ]
	[ -z "$(ls -A "$BRIG_ROOT")" ] || fail "left in the state root: $(ls -A "$BRIG_ROOT")"
	assert_nothing_left
}

@test "overlay options are explicit: index, metacopy and redirect_dir off unless the config asks" {
	require_brig
	command -v strace >/dev/null || skip "strace not installed (scripts/setup.sh)"
	run strace -f -qq -e trace=fsconfig -o "$TEST_DIR/trace" "$BRIG" --root "$BRIG_ROOT" run --bundle "$BUNDLE" \
		--layer "$L1" "$ID"
	assert_success
	grep -q '"index", "off"' "$TEST_DIR/trace" || fail "no index=off: $(cat "$TEST_DIR/trace")"
	grep -q '"metacopy", "off"' "$TEST_DIR/trace" || fail "no metacopy=off"
	grep -q '"redirect_dir", "off"' "$TEST_DIR/trace" || fail "no redirect_dir=off"
	# metacopy=on needs redirect_dir, which brig then leaves to the kernel.
	bundle_jq '.annotations = {"run.brig.rootfs.overlay-options": "metacopy=on"}'
	bundle_set_args sh -c 'grep -w / /proc/self/mountinfo'
	run brig run --bundle "$BUNDLE" --layer "$L1" "$ID"
	assert_success
	assert_output_contains metacopy=on
	assert_nothing_left
}

@test "a create killed after it mounted the overlay: delete --force leaves no mount and no directory" {
	local upper=$TEST_DIR/kept-up pid
	bundle_jq '.hooks.prestart = [{path: "/bin/sh", args: ["sh", "-c", "touch \($m); exec sleep 60"], env: [$tok]}]' \
		--arg m "$TEST_DIR/hook-started" --arg tok "BRIG_TEST_TOKEN=$TOKEN"
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" create --bundle "$BUNDLE" --layer "$L1" "$ID" \
		</dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	for _ in $(seq 100); do [ -e "$TEST_DIR/hook-started" ] && break; sleep 0.05; done
	[ -e "$TEST_DIR/hook-started" ] || fail "the prestart hook did not start"
	[ -n "$(host_mounts)" ] || fail "no overlay mounted"
	kill -9 "$pid"
	wait "$pid" || true
	run brig delete --force "$ID"
	assert_success
	[ -z "$(host_mounts)" ] || fail "mounts left: $(host_mounts)"
	[ ! -e "$(state_dir)" ] || fail "left: $(ls -la "$(state_dir)")"
	# The same with --upper: the caller's upper stays, brig's work directory goes.
	rm -f "$TEST_DIR/hook-started"
	BRIG_TEST_TOKEN=$TOKEN "$BRIG" --root "$BRIG_ROOT" create --bundle "$BUNDLE" --layer "$L1" --upper "$upper" \
		"$ID" </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	for _ in $(seq 100); do [ -e "$TEST_DIR/hook-started" ] && break; sleep 0.05; done
	kill -9 "$pid"
	wait "$pid" || true
	run brig delete --force "$ID"
	assert_success
	[ -z "$(host_mounts)" ] && [ -d "$upper" ] && [ ! -e "$TEST_DIR/.kept-up-work" ] && [ ! -e "$(state_dir)" ]
	cleanup_processes # the orphaned hooks
	assert_nothing_left
}

@test "brig diff: A, C and D lines, sorted, of a running and then a stopped container" {
	require_brig
	bundle_set_args sh -c 'echo x >/new; echo y >>/etc/l1.conf; rm /shadowed; mkdir -p /opt/one/sub/deeper; touch /opt/one/sub/deeper/f; rm -r /opt/one/file; echo ready >/ready; exec sleep 100'
	brig_create "$ID" --layer "$L1" --layer "$L2"
	assert_success
	run brig start "$ID"
	assert_success
	for _ in $(seq 100); do [ -e "$(state_dir)/upper/ready" ] && break; sleep 0.05; done
	local want
	want=$(printf '%s\n' "C /etc" "C /etc/l1.conf" "A /new" "C /opt" "C /opt/one" "D /opt/one/file" \
		"A /opt/one/sub" "A /opt/one/sub/deeper" "A /opt/one/sub/deeper/f" "A /ready" "D /shadowed")
	run brig diff "$ID"
	assert_success
	[ "$output" = "$want" ] || fail "diff of the running container, expected: $want"
	run brig kill "$ID" KILL
	wait_for_status "$ID" stopped
	run brig diff "$ID"
	assert_success
	[ "$output" = "$want" ] || fail "diff of the stopped container"
	# An opaque directory: what the lowers had under it is deleted, what it has again is changed.
	run brig delete "$ID"
	bundle_set_args sh -c 'rm -rf /etc; mkdir /etc; echo again >/etc/l2.conf'
	run brig run --bundle "$BUNDLE" --keep --layer "$L1" --layer "$L2" "$ID"
	assert_success
	run brig diff "$ID"
	assert_success
	assert_output_contains "C /etc" "C /etc/l2.conf" "D /etc/l1.conf" "D /etc/passwd"
	run brig delete "$ID"
	assert_nothing_left
}

@test "brig diff of a container without an overlay root, or of none: a clear error" {
	require_brig
	bundle_set_args sleep 100
	brig_create "$ID"
	assert_success
	run brig diff "$ID"
	assert_one_line_error
	assert_output_contains "has no overlay root"
	run brig diff nosuch
	assert_one_line_error
	assert_output_contains "does not exist"
}

# ---- rootless ----

# An unprivileged user with subordinate ids, its own copy of brig and layers it owns.
rootless_setup() {
	RL_USER=brigov${RAND:0:6}
	make_test_user "$RL_USER"
	RL_XDG=$TEST_DIR/xdg
	mkdir -p "$RL_XDG" "$TEST_DIR/rl"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	cp -a "$ROOTFS" "$TEST_DIR/rl/rootfs"
	cp -a "$L1" "$TEST_DIR/rl/l1"
	chown -R -h "$RL_USER:$RL_USER" "$RL_XDG" "$TEST_DIR/rl"
	chmod 700 "$RL_XDG"
	local uid gid sub_uid sub_gid
	uid=$(id -u "$RL_USER")
	gid=$(id -g "$RL_USER")
	sub_uid=$(awk -F: -v u="$RL_USER" '$1 == u { print $2 }' /etc/subuid)
	sub_gid=$(awk -F: -v u="$RL_USER" '$1 == u { print $2 }' /etc/subgid)
	su "$RL_USER" -c "cd $TEST_DIR/rl && $TEST_DIR/brig-rl spec --rootless"
	# Several ranges and the capabilities to use them: the container makes files as its other ids.
	jq --arg tok "BRIG_TEST_TOKEN=$TOKEN" --argjson u "$uid" --argjson g "$gid" --argjson su "$sub_uid" \
		--argjson sg "$sub_gid" '.process.terminal = false | .process.env += [$tok] | .root.readonly = false
		| .linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}, {containerID: 1, hostID: $su, size: 1000}]
		| .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}, {containerID: 1, hostID: $sg, size: 1000}]
		| .process.capabilities |= with_entries(.value += ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"])' \
		"$TEST_DIR/rl/config.json" >"$TEST_DIR/rl.json"
	chown "$RL_USER" "$TEST_DIR/rl.json"
}

rootless_teardown() {
	[ -n "${RL_USER:-}" ] || return 0
	su "$RL_USER" -c "XDG_RUNTIME_DIR=$RL_XDG $TEST_DIR/brig-rl delete --force rl1" >/dev/null 2>&1 || true
	remove_test_user "$RL_USER"
}

teardown() {
	rootless_teardown
	common_teardown
}

as_user() {
	run su "$RL_USER" -c "cd $TEST_DIR/rl && XDG_RUNTIME_DIR=$RL_XDG BRIG_TEST_TOKEN=$TOKEN $TEST_DIR/brig-rl $*"
}

# rl_config JQ: the user's config.json from rl.json.
rl_config() {
	jq "$1" "$TEST_DIR/rl.json" >"$TEST_DIR/rl/config.json"
}

# Skips unless this kernel mounts overlay in a user namespace (5.11 and later do, with userxattr).
require_userns_overlay() {
	local d=$TEST_DIR/probe
	mkdir -p "$d/l" "$d/u" "$d/w" "$d/m"
	chown -R "$RL_USER" "$d"
	su "$RL_USER" -c "unshare -Urm mount -t overlay overlay -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w,userxattr $d/m" \
		2>/dev/null || skip "this kernel does not mount overlay in a user namespace"
}

@test "rootless: the init mounts the overlay in the container's namespaces; delete removes what the container made as its other ids" {
	rootless_setup
	require_userns_overlay
	rl_config '.process.args = ["sh", "-c", "cat /shadowed; grep -w / /proc/self/mountinfo; echo w >/new; rm /bin/ls; mkdir /d; touch /d/f; chown -R 5:5 /d; chmod 700 /d"]'
	as_user run --keep --layer "$TEST_DIR/rl/l1" rl1
	assert_success
	assert_output_contains l1 " - overlay " userxattr
	# Nothing of it in the host's namespace; the upper is the user's.
	[ -z "$(awk -v d="$RL_XDG/" 'index($5, d) == 1' /proc/self/mountinfo)" ]
	[ "$(stat -c %U "$RL_XDG/brig/rl1/upper/new")" = "$RL_USER" ]
	[ "$(stat -c %u "$RL_XDG/brig/rl1/upper/d")" != "$(id -u "$RL_USER")" ]
	as_user diff rl1
	assert_success
	[ "$output" = "$(printf '%s\n' "C /bin" "D /bin/ls" "A /d" "A /d/f" "A /new")" ] || fail "diff"
	as_user delete rl1
	assert_success
	[ ! -e "$RL_XDG/brig/rl1" ] || fail "left: $(ls -laR "$RL_XDG/brig/rl1")"
	[ "$(cat "$TEST_DIR/rl/l1/shadowed")" = l1 ]
}

@test "rootless with fuse-overlayfs (as when the kernel refuses): same root, same cleanup, no daemon left" {
	command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs not installed (scripts/setup.sh)"
	[ -c /dev/fuse ] || skip "no /dev/fuse on this kernel"
	rootless_setup
	rl_config '.annotations["run.brig.rootfs.overlay-driver"] = "fuse-overlayfs"
		| .process.args = ["sh", "-c", "cat /shadowed; grep -w / /proc/self/mountinfo; echo w >/new; rm /etc/l1.conf"]'
	as_user run --keep --layer "$TEST_DIR/rl/l1" rl1
	assert_success
	assert_output_contains l1 "fuse.fuse-overlayfs"
	[ "$(cat "$RL_XDG/brig/rl1/upper/new")" = w ]
	as_user diff rl1
	assert_success
	[ "$output" = "$(printf '%s\n' "C /etc" "D /etc/l1.conf" "A /new")" ] || fail "diff"
	[ -z "$(pgrep -u "$RL_USER" fuse-overlayfs)" ] || fail "fuse-overlayfs outlived the container"
	as_user delete rl1
	assert_success
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "rootless, when the kernel refuses the overlay, fuse-overlayfs mounts it; with the kernel driver asked, the error" {
	command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs not installed (scripts/setup.sh)"
	[ -c /dev/fuse ] || skip "no /dev/fuse on this kernel"
	rootless_setup
	require_userns_overlay
	# Overlay in a user namespace refuses metacopy (it needs trusted.* xattrs); fuse-overlayfs takes none of these
	# options.
	rl_config '.annotations["run.brig.rootfs.overlay-options"] = "metacopy=on"
		| .process.args = ["sh", "-c", "cat /shadowed; grep -w / /proc/self/mountinfo"]'
	as_user run --layer "$TEST_DIR/rl/l1" rl1
	assert_success
	assert_output_contains l1 "fuse.fuse-overlayfs"
	[ ! -e "$RL_XDG/brig/rl1" ]
	rl_config '.annotations["run.brig.rootfs.overlay-options"] = "metacopy=on"
		| .annotations["run.brig.rootfs.overlay-driver"] = "kernel"'
	as_user run --layer "$TEST_DIR/rl/l1" rl1
	assert_one_line_error
	assert_output_contains "mount overlay on \`$RL_XDG/brig/rl1/rootfs\`"
	[ ! -e "$RL_XDG/brig/rl1" ]
}

@test "rootless without a mount namespace: the overlay cannot be mounted, and says why" {
	rootless_setup
	rl_config '.linux.namespaces |= map(select(.type != "mount"))'
	as_user run --layer "$TEST_DIR/rl/l1" rl1
	assert_one_line_error
	assert_output_contains "needs a mount and a user namespace"
	[ ! -e "$RL_XDG/brig/rl1" ]
}
