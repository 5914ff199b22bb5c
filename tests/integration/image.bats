#!/usr/bin/env bats
# OCI images: `spec --image` and `create/run --image` read an image layout, verify its blobs and unpack each layer
# once into a content-addressed store (--store, in the test's directory). The image is built here with umoci
# from the busybox rootfs, in several layers (a file shadowed, a whiteout, an opaque directory); malicious and
# unusual layers are tars made by python3's tarfile and added by hand (add_layer). Nothing is pulled.
#
# The tests marked "overlay:" run a container from an image: they need the overlay root (`create --layer`),
# built separately, and skip until brig has it.

load helpers
load ../clients/clients

# The image, built once per file: bb (5 layers), its config asks for a user by name and a working directory.
setup_file() {
	command -v umoci >/dev/null || return 0
	build_rootfs_cache
	IMG_DIR=$(make_test_dir brig-image)
	export IMG_DIR
	(
		set -e
		cd "$IMG_DIR"
		umoci init --layout base
		umoci new --image base:bb
		umoci insert --image base:bb "$ROOTFS_CACHE" /
		# Layer 2: files to shadow and to remove, and its own /etc/passwd and /etc/group with a service user.
		mkdir -p l2/etc l2/srv l2/opt
		echo one >l2/etc/motd
		echo old >l2/srv/old
		echo keep >l2/srv/keep
		echo a >l2/opt/a
		{ cat "$ROOTFS_CACHE/etc/passwd"; echo 'svc:x:4321:4322:svc:/srv:/bin/sh'; } >l2/etc/passwd
		{ cat "$ROOTFS_CACHE/etc/group"; echo 'svc:x:4322:'; echo 'extra:x:5000:tester,svc'; } >l2/etc/group
		umoci insert --image base:bb l2 /
		# Layers 3-5: /etc/motd shadowed, /srv/old whited out, /opt replaced by an opaque directory.
		mkdir -p l3/etc l5
		echo two >l3/etc/motd
		echo b >l5/b
		umoci insert --image base:bb l3 /
		umoci insert --image base:bb --whiteout /srv/old
		umoci insert --image base:bb --opaque l5 /opt
		umoci config --image base:bb --config.entrypoint /bin/sh --config.cmd -c --config.cmd 'echo hi' \
			--config.env A=1 --config.workingdir /srv --config.user svc --config.label org.example.k=v
		# Only the busybox layer: the base for hand-made layers.
		umoci init --layout bare
		umoci new --image bare:bb
		umoci insert --image bare:bb "$ROOTFS_CACHE" /
		umoci config --image bare:bb --config.cmd sh
		chmod -R a+rX base bare
	) >"$IMG_DIR/build.log" 2>&1 || {
		echo "building the image failed: $(cat "$IMG_DIR/build.log")" >&2
		return 1
	}
}

teardown_file() {
	[ -n "${IMG_DIR:-}" ] && [ -d "$IMG_DIR" ] && remove_test_dir "$IMG_DIR"
	return 0
}

setup() {
	require_commands umoci python3 jq zstd
	[ -d "${IMG_DIR:-}/base" ] || fail "the test image was not built (setup_file failed)"
	common_setup
	STORE=$TEST_DIR/store
	LAYOUT=$TEST_DIR/layout
	cp -a "$IMG_DIR/base" "$LAYOUT"
}

teardown() {
	# A rootless container outlives a failed test: its processes carry no token, so delete it as its user.
	[ -n "${RL_DELETE:-}" ] && su "$RL_USER" -c "$RL_DELETE" >/dev/null 2>&1
	[ -z "${RL_USER:-}" ] || remove_test_user "$RL_USER"
	common_teardown
}

# spec_image DIR IMAGE [flags...]: `brig spec --image IMAGE` writing DIR/config.json, layers into $STORE.
spec_image() {
	local dir=$1 image=$2
	shift 2
	mkdir -p "$dir"
	rm -f "$dir/config.json"
	run brig_noroot spec -b "$dir" --store "$STORE" --image "$image" "$@"
}

# The manifest of REF in LAYOUT, and its config (paths of their blobs).
manifest_blob() {
	local d
	d=$(jq -r --arg r "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$1/index.json")
	echo "$1/blobs/sha256/${d#sha256:}"
}
config_blob() {
	echo "$1/blobs/sha256/$(jq -r .config.digest "$(manifest_blob "$1" "$2")" | cut -d: -f2)"
}
diff_ids() {
	jq -r '.rootfs.diff_ids[]' "$(config_blob "$1" "$2")" | cut -d: -f2
}

# put_blob LAYOUT FILE: moves FILE into the layout's blobs; prints its digest.
put_blob() {
	local d
	d=$(sha256sum "$2" | cut -d' ' -f1)
	mv "$2" "$1/blobs/sha256/$d"
	echo "sha256:$d"
}

blob_size() {
	stat -c %s "$1/blobs/sha256/${2#sha256:}"
}

# add_layer LAYOUT REF TAR [gzip|zstd|none]: TAR becomes the top layer of REF (new config, manifest and index
# entry). $DIFF_ID, when set, is written as its diff_id instead of the tar's own.
add_layer() {
	local layout=$1 ref=$2 tar=$3 comp=${4:-gzip} tmp=$1/blob.tmp diff_id digest mtype m c
	diff_id=sha256:$(sha256sum "$tar" | cut -d' ' -f1)
	case $comp in
	gzip) gzip -nc "$tar" >"$tmp" && mtype=application/vnd.oci.image.layer.v1.tar+gzip ;;
	zstd) zstd -qc "$tar" >"$tmp" && mtype=application/vnd.oci.image.layer.v1.tar+zstd ;;
	none) cp "$tar" "$tmp" && mtype=application/vnd.oci.image.layer.v1.tar ;;
	esac
	digest=$(put_blob "$layout" "$tmp")
	m=$(manifest_blob "$layout" "$ref")
	jq -c --arg d "${DIFF_ID:-$diff_id}" '.rootfs.diff_ids += [$d]' "$(config_blob "$layout" "$ref")" >"$tmp"
	c=$(put_blob "$layout" "$tmp")
	jq -c --arg c "$c" --argjson cs "$(blob_size "$layout" "$c")" --arg d "$digest" --arg t "$mtype" \
		--argjson s "$(blob_size "$layout" "$digest")" \
		'.config.digest = $c | .config.size = $cs | .layers += [{mediaType: $t, digest: $d, size: $s}]' "$m" >"$tmp"
	m=$(put_blob "$layout" "$tmp")
	jq -c --arg r "$ref" --arg m "$m" --argjson s "$(blob_size "$layout" "$m")" \
		'.manifests |= map(if .annotations["org.opencontainers.image.ref.name"] == $r
			then .digest = $m | .size = $s else . end)' "$layout/index.json" >"$tmp"
	mv "$tmp" "$layout/index.json"
	LAST_LAYER=$digest
}

# make_tar FILE PYTHON: a tar made with python3's tarfile (pax format). PYTHON calls add(name, ...) per member.
make_tar() {
	python3 - "$1" "$2" <<-'EOF'
		import io, sys, tarfile
		out, body = sys.argv[1], sys.argv[2]
		t = tarfile.open(out, 'w', format=tarfile.PAX_FORMAT)
		def add(name, type=tarfile.REGTYPE, data=b'', link='', mode=0o644, uid=0, gid=0, mtime=1700000000,
		        xattrs=None, dev=(0, 0)):
		    ti = tarfile.TarInfo(name)
		    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime, ti.linkname = type, mode, uid, gid, mtime, link
		    ti.devmajor, ti.devminor = dev
		    if xattrs:
		        ti.pax_headers = {'SCHILY.xattr.' + k: v for k, v in xattrs.items()}
		    if type == tarfile.REGTYPE:
		        ti.size = len(data)
		        t.addfile(ti, io.BytesIO(data))
		    else:
		        t.addfile(ti)
		exec(body)
		t.close()
	EOF
}

# A layout of the busybox layer plus one hand-made layer: bare_with_layer TAR [COMPRESSION] -> $LAYOUT.
bare_with_layer() {
	rm -rf "$LAYOUT"
	cp -a "$IMG_DIR/bare" "$LAYOUT"
	add_layer "$LAYOUT" bb "$@"
}

# Nothing half-unpacked in the store: no temporary directory, only the layers given (diff_id hexes) and the
# directory of lock files.
assert_store_holds() {
	local want have
	want=$(printf '%s\n' "$@" | sort | grep -v '^$' || true)
	have=$(ls -A "$STORE" 2>/dev/null | grep -vx .locks | sort || true)
	[ "$want" = "$have" ] || fail "store holds [$have], expected [$want]"
}

xattr_of() {
	python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())' "$1" "$2"
}

require_overlay() {
	"$BRIG" create --help 2>/dev/null | grep -q -- '--layer' || skip "needs the overlay root (create --layer), not in this brig yet"
}

# rl_image_run BUNDLE AS_USER UID OUT PROBE: the user's `run -d --image` of rl1 from BUNDLE's config, running
# the shell PROBE as UID (and its gid) with its output in the container's file OUT.
rl_image_run() {
	local b=$1 as_user=$2 uid=$3 out=$4 probe=$5
	jq --arg p "$probe" --arg out "$out" --argjson id "$uid" '.process.user = {uid: $id, gid: $id} |
		.process.terminal = false | .process.args = ["sh", "-c", "(\($p)) >\($out) 2>&1"]' "$b/config.json" >"$b/c.json"
	mv "$b/c.json" "$b/config.json"
	chown "$RL_USER" "$b/config.json"
	RL_DELETE="$as_user delete --force rl1"
	run su "$RL_USER" -c "$as_user run -d --image $LAYOUT:bb rl1 </dev/null >/dev/null 2>$b/run.err"
	[ "$status" = 0 ] || fail "rootless run --image failed: $(cat "$b/run.err")"
}

@test "spec --image fills the process from the image config, drops root.path and records the image" {
	local digest
	digest=$(jq -r '.manifests[0].digest' "$LAYOUT/index.json")
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_success
	local c=$TEST_DIR/b/config.json
	[ "$(jq -c .process.args "$c")" = '["/bin/sh","-c","echo hi"]' ] || fail "args: $(jq -c .process.args "$c")"
	jq -e '.process.env | index("A=1") and (map(startswith("PATH=")) | any)' "$c" >/dev/null || fail "env: $(jq -c .process.env "$c")"
	[ "$(jq -r .process.cwd "$c")" = /srv ] || fail "cwd: $(jq -r .process.cwd "$c")"
	# svc is only in layer 2's /etc/passwd; its supplementary group from layer 2's /etc/group.
	[ "$(jq -c .process.user "$c")" = '{"uid":4321,"gid":4322,"additionalGids":[5000]}' ] ||
		fail "user: $(jq -c .process.user "$c")"
	jq -e '.root | has("path") | not' "$c" >/dev/null || fail "root: $(jq -c .root "$c")"
	[ "$(jq -r .root.readonly "$c")" = false ]
	[ "$(jq -r '.annotations["run.brig.image"]' "$c")" = "$LAYOUT@$digest" ] || fail "annotations: $(jq -c .annotations "$c")"
	[ "$(jq -r '.annotations["org.example.k"]' "$c")" = v ]
	# The rest is runc's default config.
	[ "$(jq -r .linux.namespaces[0].type "$c")" = pid ]
	# An existing config.json stays, and nothing is unpacked for it.
	rm -rf "$STORE"
	run brig_noroot spec -b "$TEST_DIR/b" --store "$STORE" --image "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "already exists"
	[ ! -e "$STORE" ]
}

@test "spec --image: USER[:GROUP] by name or number from the image's own passwd and group; unknown names are one clear error" {
	local user want
	for user in tester:1000:1000 4321:extra:4321:5000 123:123:0 nobody:1:65534:1 svc:svc:4321:4322; do
		IFS=: read -r -a f <<<"$user"
		if [ ${#f[@]} -eq 3 ]; then
			umoci config --image "$LAYOUT:bb" --config.user "${f[0]}"
			want="${f[1]}:${f[2]}"
		else
			umoci config --image "$LAYOUT:bb" --config.user "${f[0]}:${f[1]}"
			want="${f[2]}:${f[3]}"
		fi
		spec_image "$TEST_DIR/b" "$LAYOUT:bb"
		assert_success
		[ "$(jq -r '"\(.process.user.uid):\(.process.user.gid)"' "$TEST_DIR/b/config.json")" = "$want" ] ||
			fail "user $user: $(jq -c .process.user "$TEST_DIR/b/config.json")"
	done
	umoci config --image "$LAYOUT:bb" --config.user ghost
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "User" "ghost" "/etc/passwd"
	[ ! -e "$TEST_DIR/b/config.json" ]
	umoci config --image "$LAYOUT:bb" --config.user svc:nogroup2
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "nogroup2" "/etc/group"
}

@test "each layer is unpacked once into the store under its diff_id, and reused by the next image" {
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_success
	local ids
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	[ ${#ids[@]} -eq 5 ] || fail "expected 5 layers: ${ids[*]}"
	assert_store_holds "${ids[@]}"
	# Each layer holds its own files only.
	[ -x "$STORE/${ids[0]}/bin/busybox" ]
	[ "$(cat "$STORE/${ids[1]}/etc/motd")" = one ]
	[ "$(cat "$STORE/${ids[2]}/etc/motd")" = two ]
	[ ! -e "$STORE/${ids[2]}/bin" ]
	# Owners and modes as the tar has them (umoci's rootfs is root's).
	[ "$(stat -c %u:%g:%a "$STORE/${ids[0]}/tmp")" = 0:0:1777 ]
	[ "$(stat -c %a "$STORE/${ids[0]}")" = 755 ]
	# A second image sharing the busybox layer: that layer is not unpacked again.
	touch "$STORE/${ids[0]}/.marker"
	rm -rf "$TEST_DIR/other"
	cp -a "$IMG_DIR/bare" "$TEST_DIR/other"
	spec_image "$TEST_DIR/b2" "$TEST_DIR/other:bb"
	assert_success
	[ -e "$STORE/${ids[0]}/.marker" ] || fail "the shared layer was unpacked again"
	assert_store_holds "${ids[@]}"
}

@test "OCI whiteouts become overlay whiteouts (0:0 character devices) and opaque directories trusted.overlay.opaque=y" {
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_success
	local ids
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	[ "$(stat -c '%F %t:%T' "$STORE/${ids[3]}/srv/old")" = "character special file 0:0" ] ||
		fail "whiteout: $(stat -c '%F %t:%T' "$STORE/${ids[3]}/srv/old")"
	[ ! -e "$STORE/${ids[3]}/srv/.wh.old" ]
	[ "$(xattr_of "$STORE/${ids[4]}/opt" trusted.overlay.opaque)" = y ]
	[ ! -e "$STORE/${ids[4]}/opt/.wh..wh..opq" ]
	[ "$(cat "$STORE/${ids[4]}/opt/b")" = b ]
}

@test "owners, modes, times, xattrs, hard links, symlinks, fifos and devices survive the unpack; gzip, zstd and plain tars" {
	make_tar "$TEST_DIR/l.tar" '
add("d", tarfile.DIRTYPE, mode=0o710, uid=7, gid=8, mtime=1234567890)
add("d/f", data=b"data", mode=0o4755, uid=1234, gid=5678, mtime=1000000000, xattrs={"user.brig": "1"})
add("d/hard", tarfile.LNKTYPE, link="d/f")
add("d/sym", tarfile.SYMTYPE, link="/etc/passwd", uid=9, gid=9, mtime=1100000000)
add("d/fifo", tarfile.FIFOTYPE, mode=0o600)
add("d/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
add("d/h\u00e9llo", data=b"utf-8")
add("d/f", data=b"again", mode=0o640)
add("d/sub", tarfile.DIRTYPE); add("d/sub/x", data=b"x"); add("d/sub", data=b"a file now")
add("top", tarfile.DIRTYPE); add("top/x", data=b"x"); add("top", tarfile.SYMTYPE, link="d")
'
	local comp id l
	for comp in gzip zstd none; do
		bare_with_layer "$TEST_DIR/l.tar" "$comp"
		rm -rf "$STORE"
		spec_image "$TEST_DIR/b" "$LAYOUT:bb"
		assert_success
		id=$(diff_ids "$LAYOUT" bb | tail -1)
		l=$STORE/$id
		[ "$(stat -c %a:%u:%g:%Y "$l/d")" = 710:7:8:1234567890 ] || fail "$comp: dir: $(stat -c %a:%u:%g:%Y "$l/d")"
		# The later entry of d/f replaced the first (and its hard link kept the first's inode).
		[ "$(cat "$l/d/f")" = again ] && [ "$(stat -c %a:%u "$l/d/f")" = 640:0 ] || fail "$comp: d/f: $(stat -c %a:%u "$l/d/f")"
		[ "$(cat "$l/d/hard")" = data ] && [ "$(stat -c %a:%u:%g:%Y "$l/d/hard")" = 4755:1234:5678:1000000000 ] ||
			fail "$comp: hard: $(stat -c %a:%u:%g:%Y "$l/d/hard")"
		[ "$(xattr_of "$l/d/hard" user.brig)" = 1 ]
		[ "$(readlink "$l/d/sym")" = /etc/passwd ] && [ "$(stat -c %u:%g:%Y "$l/d/sym")" = 9:9:1100000000 ]
		[ "$(stat -c %F:%a "$l/d/fifo")" = fifo:600 ]
		[ "$(stat -c '%F %t:%T %a' "$l/d/null")" = "character special file 1:3 666" ]
		[ "$(cat "$l/d/héllo")" = utf-8 ]
		# A later non-directory replaces an earlier directory and what it held.
		[ "$(cat "$l/d/sub")" = "a file now" ] && [ "$(readlink "$l/top")" = d ] || fail "$comp: directories not replaced"
	done
}

@test "a blob whose digest does not match is refused (layer, config, manifest) and nothing is left in the store" {
	local ids m c layer
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	m=$(manifest_blob "$LAYOUT" bb)
	layer=$(jq -r '.layers[1].digest' "$m")
	# One byte of layer 2 flipped: the size is right, the content is not.
	python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(40); b = f.read(1); f.seek(40); f.write(bytes([b[0] ^ 1]))' \
		"$LAYOUT/blobs/sha256/${layer#sha256:}"
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "layer $layer" "digest mismatch"
	[ ! -e "$TEST_DIR/b/config.json" ]
	# The layer below was unpacked before; the corrupt one and those above are not in the store.
	assert_store_holds "${ids[0]}"

	rm -rf "$LAYOUT" "$STORE" && cp -a "$IMG_DIR/base" "$LAYOUT"
	c=$(config_blob "$LAYOUT" bb)
	sed -i 's/"svc"/"svd"/' "$c"
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "image config sha256:$(basename "$c")" "digest mismatch"
	[ ! -e "$STORE" ] || assert_store_holds

	rm -rf "$LAYOUT" && cp -a "$IMG_DIR/base" "$LAYOUT"
	echo ' ' >>"$(manifest_blob "$LAYOUT" bb)"
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "manifest sha256:" "size mismatch"
	[ ! -e "$STORE" ] || assert_store_holds
}

@test "a layer whose tar does not match its diff_id is refused and not kept" {
	make_tar "$TEST_DIR/l.tar" 'add("f", data=b"x")'
	DIFF_ID=sha256:$(printf '%064d' 0) bare_with_layer "$TEST_DIR/l.tar"
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "layer $LAST_LAYER" "diff_id mismatch"
	assert_store_holds "$(diff_ids "$LAYOUT" bb | head -1)"
}

@test "tar entries that escape the layer are refused naming layer and entry, and write nothing outside it" {
	echo secret >"$TEST_DIR/outside"
	local cases=(
		'add("a/../../../evil", data=b"x")|`a/../../../evil`: leads out of the layer (`..`)'
		"add(\"$TEST_DIR/evil\", data=b\"x\")|is an absolute path"
		"add(\"l\", tarfile.SYMTYPE, link=\"$TEST_DIR\"); add(\"l/evil\", data=b\"x\")|\`l/evil\`: leads out of the layer through a symlink"
		'add("l", tarfile.SYMTYPE, link="../../.."); add("l/evil", data=b"x")|`l/evil`: leads out of the layer through a symlink'
		'add("h", tarfile.LNKTYPE, link="../../outside")|`h`: hard link target `../../outside` leads out of the layer'
		"add(\"l\", tarfile.SYMTYPE, link=\"$TEST_DIR\"); add(\"h\", tarfile.LNKTYPE, link=\"l/outside\")|\`h\`: hard link target leads out of the layer through a symlink"
		'add("d/.wh..", data=b"")|not a valid whiteout name'
	)
	local c
	for c in "${cases[@]}"; do
		make_tar "$TEST_DIR/l.tar" "${c%%|*}"
		bare_with_layer "$TEST_DIR/l.tar"
		spec_image "$TEST_DIR/b" "$LAYOUT:bb"
		assert_one_line_error
		assert_output_contains "layer $LAST_LAYER" "${c#*|}"
		[ ! -e "$TEST_DIR/evil" ] && [ ! -e "$TEST_DIR/store/evil" ] || fail "an entry was written outside the layer"
		[ "$(cat "$TEST_DIR/outside")" = secret ] && [ "$(stat -c %h "$TEST_DIR/outside")" = 1 ] || fail "outside was linked or changed"
		assert_store_holds "$(diff_ids "$LAYOUT" bb | head -1)"
	done
}

@test "a full disk mid-unpack is one clear error and leaves nothing half-unpacked" {
	make_tar "$TEST_DIR/l.tar" 'import os; add("small", data=b"s"); add("big", data=os.urandom(3 << 20))'
	bare_with_layer "$TEST_DIR/l.tar"
	mkdir -p "$STORE"
	mount -t tmpfs -o size=2m brig-test-full "$STORE"
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "layer $LAST_LAYER" "\`big\`" "No space left on device"
	# The busybox layer below fitted; of the one that did not, nothing is left.
	assert_store_holds "$(diff_ids "$LAYOUT" bb | head -1)"
}

@test "concurrent unpacks of one layer both succeed and leave one whole copy; a stale temporary directory is replaced" {
	make_tar "$TEST_DIR/l.tar" 'import os
for i in range(400):
    add("d%d/f%d" % (i % 20, i), data=os.urandom(4096))
add("big", data=os.urandom(6 << 20))'
	bare_with_layer "$TEST_DIR/l.tar"
	local ids i pids=()
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	# A temporary directory of a killed unpack.
	mkdir -p "$STORE/.tmp-${ids[1]}/junk"
	for i in 1 2 3 4; do
		mkdir -p "$TEST_DIR/b$i"
		brig_noroot spec -b "$TEST_DIR/b$i" --store "$STORE" --image "$LAYOUT:bb" >"$TEST_DIR/spec$i.log" 2>&1 &
		pids+=($!)
	done
	for i in 0 1 2 3; do
		wait "${pids[$i]}" || fail "unpack $i failed: $(cat "$TEST_DIR/spec$((i + 1)).log")"
	done
	assert_store_holds "${ids[@]}"
	[ "$(find "$STORE/${ids[1]}" -type f | wc -l)" = 401 ] || fail "files: $(find "$STORE/${ids[1]}" -type f | wc -l)"
	[ ! -e "$STORE/${ids[1]}/junk" ]
	[ "$(find "$STORE/${ids[1]}" -name big -size 6144k | wc -l)" = 1 ]
}

@test "an unpack removes the temporary directories and lock files of unpacks that died, never one whose lock is held" {
	local dead=1111111111111111111111111111111111111111111111111111111111111111
	local live=2222222222222222222222222222222222222222222222222222222222222222
	mkdir -p "$STORE/.tmp-$dead/junk" "$STORE/.tmp-$live/junk" "$STORE/.locks"
	: >"$STORE/.locks/$dead"
	: >"$STORE/.locks/3333333333333333333333333333333333333333333333333333333333333333"
	# The live unpack: a process holding the lock of its layer.
	: >"$STORE/.locks/$live"
	BRIG_TEST_TOKEN=$TOKEN flock "$STORE/.locks/$live" sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
	local holder=$!
	for _ in $(seq 50); do grep -q "FLOCK .* $holder .*:$(stat -c %i "$STORE/.locks/$live") " /proc/locks && break; sleep 0.1; done
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	assert_success
	local left
	left=$(ls -A "$STORE" | grep '^\.' | tr '\n' ' '; ls -A "$STORE/.locks")
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	[ "$left" = ".locks .tmp-$live $live" ] || fail "left in the store: $left"
}

@test "rootless without subordinate ids: layers go to \$XDG_DATA_HOME/brig/layers, said in one line, overlay markers are user.overlay.*, owners kept in an xattr, device nodes refused" {
	RL_USER=brigim${RAND:0:6}
	make_test_user "$RL_USER" 0
	local xdg=$TEST_DIR/xdg b=$TEST_DIR/rl
	mkdir -p "$xdg" "$b"
	chown "$RL_USER" "$xdg" "$b"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	make_tar "$TEST_DIR/l.tar" 'add("f", data=b"x", uid=1234, gid=5678, mode=0o640)
add("o", tarfile.DIRTYPE, mode=0o755); add("o/.wh..wh..opq"); add(".wh.gone")'
	add_layer "$LAYOUT" bb "$TEST_DIR/l.tar"
	chmod -R a+rX "$LAYOUT"
	run su "$RL_USER" -c "XDG_DATA_HOME=$xdg BRIG_TEST_TOKEN=$TOKEN $TEST_DIR/brig-rl spec --rootless -b $b --image $LAYOUT:bb"
	assert_success
	[ "${#lines[@]}" = 1 ] || fail "more than the one line: $output"
	assert_output_contains "no subordinate ids for \`$RL_USER\`" "maps only uid $(id -u "$RL_USER")"
	[ "$(jq -c '[.linux.uidMappings, .linux.gidMappings] | map(length)' "$b/config.json")" = "[1,1]" ]
	local store=$xdg/brig/layers ids uid
	uid=$(id -u "$RL_USER")
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	[ -d "$store/${ids[0]}" ] || fail "no layer in $store: $(ls -a "$store" 2>&1)"
	[ "$(stat -c %u "$store/${ids[0]}/bin/busybox")" = "$uid" ]
	local top=$store/${ids[5]}
	[ "$(xattr_of "$top/o" user.overlay.opaque)" = y ]
	[ "$(stat -c '%F %t:%T' "$top/gone")" = "character special file 0:0" ]
	[ "$(xattr_of "$top/f" user.containers.override_stat)" = 1234:5678:0640 ]
	[ "$(xattr_of "$store/${ids[4]}/opt" user.overlay.opaque)" = y ]
	[ "$(jq -r .process.user.uid "$b/config.json")" = 4321 ]
	jq -e '.linux.namespaces | map(.type) | index("user")' "$b/config.json" >/dev/null

	make_tar "$TEST_DIR/dev.tar" 'add("null", tarfile.CHRTYPE, dev=(1, 3))'
	add_layer "$LAYOUT" bb "$TEST_DIR/dev.tar"
	chmod -R a+rX "$LAYOUT"
	rm -f "$b/config.json"
	run su "$RL_USER" -c "XDG_DATA_HOME=$xdg $TEST_DIR/brig-rl spec --rootless -b $b --image $LAYOUT:bb"
	assert_one_line_error
	assert_output_contains "layer $LAST_LAYER" "\`null\`" "device nodes cannot be unpacked rootless"
	[ -z "$(find "$store" -maxdepth 1 -name '.tmp-*')" ]
}

@test "rootless run --image end to end (no subordinate ids): the image's layers under an overlay in the user's namespace, brig diff, delete keeps only the shared store" {
	RL_USER=brigir${RAND:0:6}
	make_test_user "$RL_USER" 0
	local xdg=$TEST_DIR/xdg rt=$TEST_DIR/xdgrun b=$TEST_DIR/rl
	mkdir -p "$xdg" "$rt" "$b"
	chown "$RL_USER" "$xdg" "$rt" "$b"
	chmod 700 "$rt"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	local as_user="cd $b && XDG_DATA_HOME=$xdg XDG_RUNTIME_DIR=$rt BRIG_TEST_TOKEN=$TOKEN $TEST_DIR/brig-rl"
	run su "$RL_USER" -c "$as_user spec --rootless --image $LAYOUT:bb"
	assert_success
	# Root inside is the user outside: the image's svc user has no id in a one-id map. The checks run as the
	# container's own process and land in the upper directory, which the host reads; exec checks the rest.
	local probe='cat /etc/motd; ls /opt; ls /srv; stat -c %u /bin/busybox; id -u; rm /etc/motd; echo done >/srv/new; exec sleep 1000'
	rl_image_run "$b" "$as_user" 0 /srv/out "$probe"
	local upper=$rt/brig/rl1/upper i
	for i in $(seq 50); do [ -e "$upper/srv/new" ] && break; sleep 0.1; done
	[ "$(cat "$upper/srv/out")" = "$(printf 'two\nb\nkeep\nout\n0\n0')" ] || fail "inside the container: $(cat "$upper/srv/out")"
	run su "$RL_USER" -c "$as_user exec rl1 sh -c 'id -u; cat /srv/new; cat /proc/1/comm'"
	assert_success
	[ "${lines[0]}" = 0 ] && [ "${lines[1]}" = done ] && [ "${lines[2]}" = sleep ] || fail "exec: $output"
	run su "$RL_USER" -c "$as_user diff rl1"
	assert_success
	assert_output_contains "A /srv/new" "A /srv/out" "D /etc/motd"
	local uid store=$xdg/brig/layers
	uid=$(id -u "$RL_USER")
	[ "$(ls "$store" | wc -l)" = 5 ] || fail "store: $(ls "$store")"
	[ -z "$(find "$store" -maxdepth 1 -name '.tmp-*')" ]
	[ "$(stat -c %u "$store")" = "$uid" ]
	run su "$RL_USER" -c "$as_user delete --force rl1"
	assert_success
	[ ! -e "$rt/brig/rl1" ] || fail "state left: $(find "$rt/brig/rl1")"
	[ -z "$(grep -F " $b" /proc/self/mountinfo; grep -F "$rt" /proc/self/mountinfo)" ]
	[ -z "$(token_pids)" ] || fail "processes left: $(token_pids)"
	[ "$(ls "$store" | wc -l)" = 5 ]
}

@test "rootless with subordinate ids: rootless Podman's maps, layers unpacked with them (the image's owners inside), a non-root uid writes its own files and not root's, delete leaves the store only" {
	RL_USER=brigis${RAND:0:6}
	make_test_user "$RL_USER"
	local xdg=$TEST_DIR/xdg rt=$TEST_DIR/xdgrun b=$TEST_DIR/rl uid gid sub_u sub_g
	mkdir -p "$xdg" "$rt" "$b"
	chown "$RL_USER" "$xdg" "$rt" "$b"
	chmod 700 "$rt"
	cp "$BRIG" "$TEST_DIR/brig-rl" && chmod 755 "$TEST_DIR/brig-rl"
	uid=$(id -u "$RL_USER")
	gid=$(id -g "$RL_USER")
	sub_u=$(awk -F: -v u="$RL_USER" '$1 == u { print $2 }' /etc/subuid)
	sub_g=$(awk -F: -v u="$RL_USER" '$1 == u { print $2 }' /etc/subgid)
	[ -n "$sub_u" ] && [ -n "$sub_g" ] || fail "make_test_user gave $RL_USER no subordinate ids"
	# Root's files, a user's (1000) and www-data's (33), and an owner beyond the 65536 subordinate ids.
	make_tar "$TEST_DIR/l.tar" 'add("data", tarfile.DIRTYPE, mode=0o777); add("data/root", data=b"r\n")
add("data/u1000", data=b"u\n", uid=1000, gid=1000)
add("home", tarfile.DIRTYPE, mode=0o755); add("home/u", tarfile.DIRTYPE, uid=1000, gid=1000, mode=0o755)
add("var/www", tarfile.DIRTYPE, uid=33, gid=33, mode=0o755)
add("var/www/index", data=b"w\n", uid=33, gid=33, mode=0o640)
add("far", data=b"f", uid=70000, gid=70001, mode=0o600)'
	bare_with_layer "$TEST_DIR/l.tar"
	chmod -R a+rX "$LAYOUT"
	local as_user="cd $b && XDG_DATA_HOME=$xdg XDG_RUNTIME_DIR=$rt BRIG_TEST_TOKEN=$TOKEN $TEST_DIR/brig-rl"
	run su "$RL_USER" -c "$as_user spec --rootless --image $LAYOUT:bb"
	assert_success
	[ -z "$output" ] || fail "spec said: $output"
	[ "$(jq -c '[.linux.uidMappings, .linux.gidMappings]' "$b/config.json")" = \
		"[[{\"containerID\":0,\"hostID\":$uid,\"size\":1},{\"containerID\":1,\"hostID\":$sub_u,\"size\":65536}],[{\"containerID\":0,\"hostID\":$gid,\"size\":1},{\"containerID\":1,\"hostID\":$sub_g,\"size\":65536}]]" ] ||
		fail "maps: $(jq -c '[.linux.uidMappings, .linux.gidMappings]' "$b/config.json")"
	# On disk: the image's owners shifted into the subordinate range, root the user itself.
	local store=$xdg/brig/layers/idmap-0-$uid-1.1-$sub_u-65536_0-$gid-1.1-$sub_g-65536 ids top
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	top=$store/${ids[1]}
	[ -d "$top" ] || fail "no layer in $store: $(ls -a "$xdg/brig/layers" "$store" 2>&1)"
	[ "$(ls "$xdg/brig/layers")" = "$(basename "$store")" ] || fail "other stores: $(ls "$xdg/brig/layers")"
	[ "$(stat -c %u:%g "$top/data/root")" = "$uid:$gid" ]
	[ "$(stat -c %u:%g "$top/data/u1000")" = "$((sub_u + 999)):$((sub_g + 999))" ]
	[ "$(stat -c %u:%g "$top/var/www/index")" = "$((sub_u + 32)):$((sub_g + 32))" ]
	[ "$(stat -c %u:%g "$store/${ids[0]}/bin/busybox")" = "$uid:$gid" ]
	[ "$(xattr_of "$top/far" user.containers.override_stat)" = 70000:70001:0600 ]
	# Inside, as uid 1000: the owners as in the image; its own files writable, root's and www-data's not.
	local probe='stat -c "%u:%g %n" /data/root /data/u1000 /home/u /var/www/index; id -u
echo more >>/data/u1000 && echo wrote-own; echo bad 2>/dev/null >>/data/root || echo root-denied
cat /var/www/index 2>/dev/null || echo www-denied; echo new >/home/u/new; exec sleep 1000'
	rl_image_run "$b" "$as_user" 1000 /home/u/out "$probe"
	local upper=$rt/brig/rl1/upper i
	for i in $(seq 100); do [ -e "$upper/home/u/new" ] && break; sleep 0.1; done
	[ "$(cat "$upper/home/u/out")" = "$(printf '0:0 /data/root\n1000:1000 /data/u1000\n1000:1000 /home/u\n33:33 /var/www/index\n1000\nwrote-own\nroot-denied\nwww-denied')" ] ||
		fail "inside the container: $(cat "$upper/home/u/out")"
	[ "$(stat -c %u "$upper/home/u/new")" = $((sub_u + 999)) ] && [ "$(cat "$upper/data/u1000")" = "$(printf 'u\nmore')" ]
	[ "$(cat "$upper/data/root" 2>/dev/null)" != bad ] && [ "$(cat "$top/data/root")" = r ]
	# exec as the config's user; an owner beyond the maps is the container's root, its own kept in the xattr.
	run su "$RL_USER" -c "$as_user exec rl1 sh -c 'id -u; ls -ln /far /home/u/new'"
	assert_success
	[ "${lines[0]}" = 1000 ] || fail "exec: $output"
	[[ "${lines[1]}" =~ ^-rw-------\ +1\ 0\ +0\ .*/far$ ]] || fail "ls -ln: $output"
	[[ "${lines[2]}" =~ ^-rw-r--r--\ +1\ 1000\ +1000\ .*/home/u/new$ ]] || fail "ls -ln: $output"
	run su "$RL_USER" -c "$as_user delete --force rl1"
	assert_success
	[ ! -e "$rt/brig/rl1" ] || fail "state left: $(find "$rt/brig/rl1")"
	[ -z "$(grep -F "$rt" /proc/self/mountinfo)" ]
	[ -z "$(token_pids)" ] || fail "processes left: $(token_pids)"
	[ "$(ls "$store" | wc -l)" = 2 ] && [ -z "$(find "$store" -maxdepth 1 -name '.tmp-*')" ]
	# What unpacks that died left there is files of the subordinate ids, which the user alone cannot remove:
	# swept in a user namespace of the store's maps, by the next unpack and by delete --force (a create's note).
	local hex dead
	for hex in "$(printf 'a%.0s' {1..64})" "$(printf 'b%.0s' {1..64})"; do
		mkdir -p "$store/.tmp-$hex/d" && touch "$store/.tmp-$hex/d/f"
		chown -R $((sub_u + 10)):$((sub_g + 10)) "$store/.tmp-$hex/d"
		chown "$uid:$gid" "$store/.tmp-$hex"
	done
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	printf '%s' "$store" >"$rt/brig/.unpack-$dead"
	chown "$RL_USER" "$rt/brig/.unpack-$dead"
	run su "$RL_USER" -c "$as_user delete --force gone"
	assert_success
	[ -z "$(find "$store" -maxdepth 1 -name '.tmp-*')" ] || fail "left by delete --force: $(ls -a "$store")"
	[ ! -e "$rt/brig/.unpack-$dead" ]
	mkdir -p "$store/.tmp-$hex/d" && touch "$store/.tmp-$hex/d/f"
	chown -R $((sub_u + 10)):$((sub_g + 10)) "$store/.tmp-$hex/d"
	chown "$uid:$gid" "$store/.tmp-$hex"
	mkdir "$b/again" && chown "$RL_USER" "$b/again"
	run su "$RL_USER" -c "$as_user spec --rootless -b $b/again --image $LAYOUT:bb"
	assert_success
	[ -z "$(find "$store" -maxdepth 1 -name '.tmp-*')" ] || fail "left by an unpack: $(ls -a "$store")"
}

@test "image references: LAYOUT:REF, the only manifest or \`latest\`, LAYOUT@sha256:DIGEST; bad ones are one clear error" {
	local digest
	digest=$(jq -r '.manifests[0].digest' "$LAYOUT/index.json")
	spec_image "$TEST_DIR/b" "$LAYOUT"
	assert_success
	spec_image "$TEST_DIR/b" "$LAYOUT@$digest"
	assert_success
	[ "$(jq -r '.annotations["run.brig.image"]' "$TEST_DIR/b/config.json")" = "$LAYOUT@$digest" ]
	umoci tag --image "$LAYOUT:bb" other
	spec_image "$TEST_DIR/b" "$LAYOUT:other"
	assert_success
	spec_image "$TEST_DIR/b" "$LAYOUT"
	assert_one_line_error
	assert_output_contains "none is named \`latest\`" "bb, other"
	umoci tag --image "$LAYOUT:bb" latest
	spec_image "$TEST_DIR/b" "$LAYOUT"
	assert_success
	spec_image "$TEST_DIR/b" "$LAYOUT:nope"
	assert_one_line_error
	assert_output_contains "no manifest named \`nope\`"
	spec_image "$TEST_DIR/b" "$LAYOUT@sha256:$(printf '%064d' 1)"
	assert_one_line_error
	assert_output_contains "blobs/sha256/$(printf '%064d' 1)"
	spec_image "$TEST_DIR/b" "$TEST_DIR/bundle:bb"
	assert_one_line_error
	assert_output_contains "is not an OCI image layout"
	spec_image "$TEST_DIR/b" "$TEST_DIR/missing:bb"
	assert_one_line_error
	assert_output_contains "missing" "No such file or directory"
}

@test "create --image with a bad image, or a bad run.brig.image annotation, fails before anything is made" {
	brig_create "$ID" --image "$TEST_DIR/missing:bb" --store "$STORE"
	assert_one_line_error
	assert_output_contains "image \`$TEST_DIR/missing:bb\`"
	assert_nothing_left
	bundle_jq '.annotations["run.brig.image"] = $i' --arg i "$LAYOUT@sha256:$(printf '%064d' 2)"
	brig_create "$ID" --store "$STORE"
	assert_one_line_error
	assert_output_contains 'annotations["run.brig.image"]' "sha256:$(printf '%064d' 2)"
	assert_nothing_left
	[ ! -e "$STORE" ] || assert_store_holds
}

@test "overlay: run --image: upper layers shadow lower ones, whiteouts and opaque directories hide what is below" {
	require_overlay
	bundle_jq 'del(.root.path)'
	bundle_set_args sh -c 'cat /etc/motd; ls /srv; ls /opt; test -e /etc/hostname && echo hostname'

	run brig run --bundle "$BUNDLE" --image "$LAYOUT:bb" --store "$STORE" "$ID"
	assert_success
	[ "$output" = "$(printf 'two\nkeep\nb\nhostname')" ] || fail "unexpected view of the layers"
	assert_nothing_left
}

@test "overlay: spec --image then run: the config's run.brig.image annotation brings the layers, the process runs as the image's user" {
	require_overlay
	spec_image "$TEST_DIR/img" "$LAYOUT:bb"
	assert_success
	jq --arg tok "BRIG_TEST_TOKEN=$TOKEN" --arg cg "$CG_PREFIX/$ID" '.process.terminal = false
		| .process.args = ["sh", "-c", "id -u; id -g; pwd; echo $A"] | .process.env += [$tok]
		| .linux.cgroupsPath = $cg' "$TEST_DIR/img/config.json" >"$TEST_DIR/img/c" && mv "$TEST_DIR/img/c" "$TEST_DIR/img/config.json"
	run brig run --bundle "$TEST_DIR/img" --store "$STORE" "$ID"
	assert_success
	[ "$output" = "$(printf '4321\n4322\n/srv\n1')" ] || fail "unexpected process"
	assert_nothing_left
}

@test "overlay: a container writes to its own upper; the store's layers are left as they were" {
	require_overlay
	bundle_jq 'del(.root.path)'
	bundle_set_args sh -c 'echo changed >/etc/motd; rm /srv/keep; cat /etc/motd'
	local ids before
	spec_image "$TEST_DIR/b" "$LAYOUT:bb"
	mapfile -t ids < <(diff_ids "$LAYOUT" bb)
	before=$(cd "$STORE" && find . -printf '%p %s %T@\n' | sort | sha256sum)
	run brig run --bundle "$BUNDLE" --image "$LAYOUT:bb" --store "$STORE" "$ID"
	assert_success
	[ "$output" = changed ]
	[ "$(cd "$STORE" && find . -printf '%p %s %T@\n' | sort | sha256sum)" = "$before" ] || fail "the store changed"
	[ "$(cat "$STORE/${ids[2]}/etc/motd")" = two ]
}
