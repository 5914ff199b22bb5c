#!/usr/bin/env bats
# Podman 4.3 and containerd 1.6 (Debian's) checkpoint and restore containers with brig as their runtime,
# through CRIU (issue 11, "Clients"): in the guest lane, since criu 3.17.1 cannot run on the host's kernel.
#
# Everything lives in one tmpfs the file mounts (the guest's / is an overlay, on which neither Podman's
# storage nor containerd's overlayfs snapshotter can put an overlay): Podman's root, runroot and
# containers.conf (vfs storage), containerd's root, state and sockets (a containerd of this file, in the
# background), and brig's state. The image is built here from the busybox rootfs: nothing is pulled.
# brig is run through a wrapper that logs each argv the clients pass (argv-podman.log, argv-containerd.log;
# the checkpoint and restore lines are printed as TAP comments).
#
# The container's memory is what must survive: its shell draws a uuid at start and keeps it in a variable,
# writing "UUID COUNT" to /count every 0.1 s. After restore the same uuid and a growing count show the same
# process going on; a fresh start would draw a new uuid.

load ../helpers
load ../../clients/clients

CL_TIMEOUT=90
COUNTER='read s </proc/sys/kernel/random/uuid; i=0; while :; do i=$((i+1)); echo "$s $i" >/count; sleep 0.1; done'

setup_file() {
	is_cgroup2_root || return 0
	build_rootfs_cache
	CL_DIR=$(mktemp -d /tmp/brig-clients.XXXXXX)
	mount -t tmpfs -o mode=755,size=1g brig-clients "$CL_DIR" || return 1
	RAND=${CL_DIR##*.}
	RAND=${RAND,,}
	TOKEN=brigtest-$RAND
	CG_PREFIX=$CGROUP_TEST_TOP/$RAND
	CD_SOCK=$CL_DIR/cd/containerd.sock
	export CL_DIR RAND TOKEN CG_PREFIX CD_SOCK CONTAINERS_CONF=$CL_DIR/containers.conf
	cl_wrapper podman --root "$CL_DIR/brig-podman"
	cl_wrapper containerd
	cl_containers_conf >"$CONTAINERS_CONF"
	mkdir -p "$CL_DIR/cd"
	cat >"$CL_DIR/cd/config.toml" <<-EOF
		version = 2
		root = "$CL_DIR/cd/root"
		state = "$CL_DIR/cd/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CD_SOCK"
		[ttrpc]
		  address = "$CD_SOCK.ttrpc"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$CL_DIR/cd/opt"
	EOF
	containerd --config "$CL_DIR/cd/config.toml" </dev/null >"$CL_DIR/cd/containerd.log" 2>&1 3>&- &
	echo $! >"$CL_DIR/cd/containerd.pid"
	tar -C "$ROOTFS_CACHE" --exclude ./.complete -c . | pm import -q - localhost/bb:latest >"$CL_DIR/import.log" 2>&1 || {
		echo "podman import failed: $(cat "$CL_DIR/import.log")" >&2
		return 1
	}
}

teardown_file() {
	[ -n "${CL_DIR:-}" ] && [ -d "$CL_DIR" ] || return 0
	local pid i
	pm rm -a -f -t 0 >/dev/null 2>&1 || true
	pid=$(cat "$CL_DIR/cd/containerd.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	# Shims, conmon, `podman container cleanup`, brig and criu all name files under CL_DIR.
	kill_pids_with_arg "$CL_DIR"
	lane_remove_cgroup "$CGROUP2_ROOT$CG_PREFIX"
	umount_under "$CL_DIR"
	umount -l "$CL_DIR" 2>/dev/null || true
	rm -rf "$CL_DIR"
}

setup() {
	require_guest_lane
	command -v criu >/dev/null || skip "criu not installed"
	# scripts/setup.sh installs them all: a missing one is a broken setup, which a skip would hide.
	require_commands podman conmon containerd ctr containerd-shim-runc-v2 umoci skopeo
	[ -n "${CL_DIR:-}" ] && [ -f "$CONTAINERS_CONF" ] || fail "setup_file failed"
}

# cl_wrapper NAME [BRIG_ARGS...]: $CL_DIR/bin-NAME/brig, which logs its argv to $CL_DIR/argv-NAME.log and
# runs $BRIG with the sanitizer options (Podman strips them from conmon's environment) and BRIG_ARGS.
# Podman names a runtime by its file name and matches runtime_supports_json against it: hence `brig`.
cl_wrapper() {
	local name=$1
	shift
	mkdir -p "$CL_DIR/bin-$name"
	cat >"$CL_DIR/bin-$name/brig" <<-EOF
		#!/bin/sh
		echo "\$*" >>'$CL_DIR/argv-$name.log'
		export ASAN_OPTIONS='$ASAN_OPTIONS' UBSAN_OPTIONS='$UBSAN_OPTIONS'
		exec '$BRIG' $* "\$@"
	EOF
	chmod 755 "$CL_DIR/bin-$name/brig"
}

cl_containers_conf() {
	cat <<-EOF
		[network]
		network_config_dir = "$CL_DIR/networks"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$CL_DIR/events.log"
		runtime = "brig"
		runtime_supports_json = ["brig"]
		static_dir = "$CL_DIR/pm/libpod"
		tmp_dir = "$CL_DIR/pm-tmp"
		volume_path = "$CL_DIR/pm/volumes"
		[engine.runtimes]
		brig = ["$CL_DIR/bin-podman/brig"]
	EOF
}

pm() {
	timeout -k 5 "$CL_TIMEOUT" podman --root "$CL_DIR/pm" --runroot "$CL_DIR/pm-run" --storage-driver vfs \
		--runtime brig "$@"
}

ctr_() {
	timeout -k 5 "$CL_TIMEOUT" ctr -a "$CD_SOCK" -n brig "$@"
}

# cl_count PID: the "UUID COUNT" line of the container's /count, in REPLY (empty while being written).
cl_count() {
	REPLY=
	IFS= read -r REPLY <"/proc/$1/root/count" 2>/dev/null || true
}

# cl_wait_count PID MIN [UUID]: waits until /count holds a count >= MIN (with UUID, when given); prints the
# line. A line with another uuid fails at once: the process restarted instead of going on.
cl_wait_count() {
	local pid=$1 min=$2 uuid=${3:-} i
	for ((i = 0; i < 200; i++)); do
		cl_count "$pid"
		if [[ "$REPLY" =~ ^([0-9a-f-]{36})\ ([0-9]+)$ ]]; then
			[ -z "$uuid" ] || [ "${BASH_REMATCH[1]}" = "$uuid" ] ||
				fail "/count of $pid: \`$REPLY\`: a new uuid (want $uuid): the process started afresh"
			if [ "${BASH_REMATCH[2]}" -ge "$min" ]; then
				echo "$REPLY"
				return 0
			fi
		fi
		sleep 0.1
	done
	fail "/count of $pid: no count >= $min (last: \`$REPLY\`)"
}

# cl_goes_on PID UUID MIN: the restored process has the dumped uuid in its memory and counts on from at
# least MIN (the file may still hold the dumped line: the count must grow past what was read first).
cl_goes_on() {
	local pid=$1 uuid=$2 min=$3 first n
	first=$(cl_wait_count "$pid" "$min" "$uuid") || return 1
	n=${first##* }
	cl_wait_count "$pid" $((n + 3)) "$uuid" >/dev/null || return 1
	echo "# restored: $first, then counting on" >&3
}

# cl_argv NAME: the checkpoint and restore command lines the client passed to brig, as TAP comments.
cl_argv() {
	grep -E '(^| )(checkpoint|restore) ' "$CL_DIR/argv-$1.log" | sed "s|^|# $1 ran: brig |" >&3 || true
}

pm_pid() {
	local out
	out=$(pm inspect --format '{{.State.Status}} {{.State.Pid}}' "$1") || fail "podman inspect $1: $out"
	[[ "$out" == "running "* ]] || fail "podman says $1 is $out"
	REPLY=${out#running }
}

@test "podman: checkpoint --export, rm, restore --import; then checkpoint and restore in place: memory kept" {
	local name=pck-$RAND archive=$CL_DIR/pck.tar.gz line uuid n pid
	run pm run -d --name "$name" --network none --cgroup-parent "$CG_PREFIX" --env "BRIG_TEST_TOKEN=$TOKEN" \
		--ulimit nofile=20000:20000 localhost/bb:latest sh -c "$COUNTER"
	assert_success
	pm_pid "$name"
	pid=$REPLY
	line=$(cl_wait_count "$pid" 10)
	uuid=${line%% *} n=${line##* }

	SECONDS=0
	run pm container checkpoint --export "$archive" "$name"
	assert_success
	echo "# podman checkpoint --export: ${SECONDS}s, archive $(du -k "$archive" | cut -f1) KiB" >&3
	[ "$(pm inspect --format '{{.State.Status}}' "$name")" = exited ] || fail "not exited after checkpoint"
	run pm rm "$name"
	assert_success
	[ -z "$(ls "$CL_DIR/brig-podman" 2>/dev/null)" ] || fail "brig state left: $(ls "$CL_DIR/brig-podman")"

	SECONDS=0
	run pm container restore --import "$archive"
	assert_success
	echo "# podman restore --import: ${SECONDS}s" >&3
	pm_pid "$name"
	pid=$REPLY
	cl_goes_on "$pid" "$uuid" "$n"
	line=$(cl_wait_count "$pid" 1 "$uuid")
	n=${line##* }

	# Without --export: the image stays in the container's directory, restore finds it there.
	SECONDS=0
	run pm container checkpoint "$name"
	assert_success
	run pm container restore "$name"
	assert_success
	echo "# podman checkpoint + restore in place: ${SECONDS}s" >&3
	pm_pid "$name"
	cl_goes_on "$REPLY" "$uuid" "$n"
	run pm exec "$name" cat /count
	assert_success
	assert_output_contains "$uuid"

	run pm rm -f -t 0 "$name"
	assert_success
	cl_argv podman
	[ -z "$(pm ps -aq)" ] || fail "podman containers left: $(pm ps -a)"
	[ -z "$(ls "$CL_DIR/brig-podman" 2>/dev/null)" ] || fail "brig state left: $(ls "$CL_DIR/brig-podman")"
	[ -z "$(token_pids)" ] || fail "processes left: $(token_pids)"
}

@test "containerd: ctr task checkpoint, ctr containers checkpoint --task, then containers restore --live" {
	local id=cck-$RAND brig_root=$CL_DIR/brig-containerd img=$CL_DIR/cd-img ref=localhost/cck-$RAND:1 line uuid n pid
	wait_for_socket "$CD_SOCK" 30 || fail "containerd did not start: $(tail -5 "$CL_DIR/cd/containerd.log")"
	mkdir -p "$img"
	(
		set -e
		cd "$img"
		umoci init --layout oci
		umoci new --image oci:bb
		umoci insert --image oci:bb "$ROOTFS_CACHE" /
		umoci config --image oci:bb --config.cmd sh --config.env PATH=/bin:/sbin:/usr/bin:/usr/sbin
		skopeo copy -q oci:oci:bb oci-archive:bb.tar:localhost/bb:latest
		ctr_ image import bb.tar
	) >"$img/image.log" 2>&1 || fail "building the image failed: $(cat "$img/image.log")"

	run ctr_ run -d --runc-binary "$CL_DIR/bin-containerd/brig" --runc-root "$brig_root" --cgroup "$CG_PREFIX/$id" \
		--fifo-dir "$CL_DIR/fifo" --env "BRIG_TEST_TOKEN=$TOKEN" localhost/bb:latest "$id" sh -c "$COUNTER" </dev/null
	assert_success
	pid=$(ctr_ task ls | awk -v id="$id" '$1 == id { print $2 }')
	line=$(cl_wait_count "$pid" 10)
	uuid=${line%% *}

	# ctr task checkpoint with an image path: the dump lands there, the task runs on.
	SECONDS=0
	run ctr_ task checkpoint --image-path "$CL_DIR/task-ckpt" --work-path "$CL_DIR/task-work" "$id"
	assert_success
	echo "# ctr task checkpoint: ${SECONDS}s" >&3
	[ -s "$CL_DIR/task-ckpt/inventory.img" ] || fail "no inventory.img in $CL_DIR/task-ckpt: $(ls "$CL_DIR/task-ckpt" 2>&1)"
	[ "$(ctr_ task ls | awk -v id="$id" '$1 == id { print $3 }')" = RUNNING ] || fail "task not running: $(ctr_ task ls)"

	# A checkpoint image (container, spec, runtime and the task's dump), then the container is gone.
	SECONDS=0
	run ctr_ containers checkpoint --task "$id" "$ref"
	assert_success
	echo "# ctr containers checkpoint --task: ${SECONDS}s" >&3
	line=$(cl_wait_count "$pid" 1 "$uuid")
	n=${line##* }
	run ctr_ task kill -s KILL "$id"
	assert_success
	for _ in $(seq 100); do
		ctr_ task delete "$id" >/dev/null 2>&1 && break
		sleep 0.1
	done
	run ctr_ containers rm "$id"
	assert_success

	SECONDS=0
	run ctr_ containers restore --live "$id" "$ref" </dev/null
	assert_success
	echo "# ctr containers restore --live: ${SECONDS}s" >&3
	[ "$(ctr_ task ls | awk -v id="$id" '$1 == id { print $3 }')" = RUNNING ] || fail "restored task: $(ctr_ task ls)"
	pid=$(ctr_ task ls | awk -v id="$id" '$1 == id { print $2 }')
	cl_goes_on "$pid" "$uuid" "$n"

	run ctr_ task kill -s KILL "$id"
	assert_success
	for _ in $(seq 100); do
		ctr_ task delete "$id" >/dev/null 2>&1 && break
		sleep 0.1
	done
	run ctr_ containers rm "$id"
	assert_success
	cl_argv containerd
	[ -z "$(ctr_ task ls -q)" ] || fail "tasks left: $(ctr_ task ls)"
	# The shim gives brig --root <runc-root>/<namespace>.
	[ -z "$(find "$brig_root" -mindepth 2 -maxdepth 2 2>/dev/null)" ] || fail "brig state left: $(ls -AR "$brig_root")"
	[ -z "$(token_pids)" ] || fail "processes left: $(token_pids)"
	[ ! -d "$CGROUP2_ROOT$CG_PREFIX/$id" ] || fail "cgroup $CG_PREFIX/$id left"
}
