# containerd 1.6's CRI plugin with brig as a runtime handler, for the systemd guest's CRI tests
# (tests/guest/systemd/cri.bats) and bench/cri-pod.sh. Everything is private to one directory, CRI_DIR, a
# tmpfs (the guest's / is an overlay, on which the overlayfs snapshotter cannot stack): containerd's root,
# state, sockets and config, the CNI config and IPAM state, both shims' runtime roots, the pod logs, the
# images (built here from the busybox rootfs and imported with `ctr -n k8s.io images import`: nothing is
# pulled). The network is a CNI bridge of the file's own in the guest.
#
# Handlers: `brig` (runc.v2 shim, BinaryName = $CRI_DIR/bin/brig, a wrapper that logs each argv to
# $CRI_DIR/argv.log and runs $BRIG, SystemdCgroup = true) and `runc` (the same shim and options with
# $CRI_DIR/bin/runc, which runs Debian's runc 1.1.5), for comparison. The benchmark replaces both wrappers
# by timing ones (the shim runs BinaryName afresh for each command).
#
# Needs: containerd ctr containerd-shim-runc-v2 (containerd), /usr/lib/cni (containernetworking-plugins),
# /usr/bin/python3 with grpc (python3-grpcio), protoc (protobuf-compiler).

# kill_pids_with_arg
# shellcheck source=../clients.bash
source "$(dirname "${BASH_SOURCE[0]}")/../clients.bash"

CRI_CLIENT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRI_PAUSE_IMAGE=localhost/brig-pause:1
CRI_BB_IMAGE=localhost/brig-busybox:1
CRI_BRIDGE=brigcri0
CRI_SUBNET=10.89.0.0/24

# cri [--time] METHOD JSON [METHOD JSON]...: the CRI client (tests/clients/cri/cri.py) against this
# containerd: its responses on stdout, one line each, its errors on stderr, its status. Through the client
# server cri_start left running (a Python start costs seconds under TCG), over bash's /dev/tcp: no fork.
cri() {
	local fd line rc=3
	[ -n "${CRI_PORT:-}" ] || { cri_once "$@"; return; }
	exec {fd}<>"/dev/tcp/127.0.0.1/$CRI_PORT" || { echo "cri: no client server on port $CRI_PORT" >&2; return 3; }
	printf '%s\0' $# "$@" >&"$fd"
	while IFS= read -r -t 300 line <&"$fd"; do
		case $line in
		'#rc '*) rc=${line#\#rc }; break ;;
		'#err '*) echo "${line#\#err }" >&2 ;;
		*) echo "$line" ;;
		esac
	done
	exec {fd}>&-
	return "$rc"
}

# cri_once ARGS...: one run of the client in a process of its own (the benchmark: --time, one start).
cri_once() {
	CRI_PB_DIR=$CRI_DIR/pb /usr/bin/python3 -S "$CRI_CLIENT_DIR/cri.py" --sock "$CRI_DIR/containerd.sock" "$@"
}

# cri_field JSON KEY: REPLY = the string (or number) value of the first "KEY" in one line of compact JSON.
cri_field() {
	local re="\"$2\":\"?([^\",}]*)"
	REPLY=
	[[ $1 =~ $re ]] && REPLY=${BASH_REMATCH[1]}
}

# cri_image_layout DIR: an OCI layout in DIR with two images sharing one layer (the busybox rootfs):
# CRI_PAUSE_IMAGE, whose shell waits for a signal and exits 0 on TERM or INT (pid 1 ignores signals it
# has no handler for), and CRI_BB_IMAGE (sh). Plain tar and sha256sum: under TCG, umoci and skopeo cost
# seconds.
cri_image_layout() {
	local dir=$1 blobs=$1/blobs/sha256 diff size name entry cfg mf ent idx=() sum
	mkdir -p "$blobs"
	tar -C "$ROOTFS_CACHE" --exclude ./.complete --numeric-owner -cf "$dir/layer.tar" .
	read -r diff _ < <(sha256sum "$dir/layer.tar")
	size=$(stat -c %s "$dir/layer.tar")
	mv "$dir/layer.tar" "$blobs/$diff"
	for name in "$CRI_PAUSE_IMAGE" "$CRI_BB_IMAGE"; do
		if [ "$name" = "$CRI_PAUSE_IMAGE" ]; then
			entry='"Entrypoint":["/bin/sh","-c","trap \"exit 0\" TERM INT; sleep 2147483647 & wait"]'
		else
			entry='"Cmd":["sh"]'
		fi
		cfg='{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],'$entry'},"rootfs":{"type":"layers","diff_ids":["sha256:'$diff'"]}}'
		printf '%s' "$cfg" >"$dir/blob"
		read -r sum _ < <(sha256sum "$dir/blob")
		mv "$dir/blob" "$blobs/$sum"
		mf='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'$sum'","size":'${#cfg}'},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:'$diff'","size":'$size'}]}'
		printf '%s' "$mf" >"$dir/blob"
		read -r sum _ < <(sha256sum "$dir/blob")
		mv "$dir/blob" "$blobs/$sum"
		ent='{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'$sum'","size":'${#mf}',"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"'$name'","org.opencontainers.image.ref.name":"'${name##*:}'"}}'
		idx+=("$ent")
	done
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	local IFS=,
	printf '{"schemaVersion":2,"manifests":[%s]}' "${idx[*]}" >"$dir/index.json"
}

# cri_config: containerd's config.toml (CRI enabled, the two handlers, CNI, the local pause image).
# AppArmor is off: containerd would load its own default profile into the guest's kernel and leave it.
cri_config() {
	cat <<-EOF
		version = 2
		root = "$CRI_DIR/root"
		state = "$CRI_DIR/state"
		[grpc]
		  address = "$CRI_DIR/containerd.sock"
		[ttrpc]
		  address = "$CRI_DIR/containerd.sock.ttrpc"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$CRI_DIR/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$CRI_PAUSE_IMAGE"
		  disable_apparmor = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "brig"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.brig]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.brig.options]
		        BinaryName = "$CRI_DIR/bin/brig"
		        Root = "$CRI_DIR/brig-root"
		        SystemdCgroup = true
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        BinaryName = "$CRI_DIR/bin/runc"
		        Root = "$CRI_DIR/runc-root"
		        SystemdCgroup = true
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$CRI_DIR/net.d"
		    max_conf_num = 1
	EOF
}

# cri_start: makes CRI_DIR (a tmpfs), the wrapper, config, CNI config and images, starts containerd and
# the client's server and waits until the CRI runtime reports ready. Exports CRI_DIR and CRI_PORT. Returns non-zero with the reason on stderr.
cri_start() {
	CRI_DIR=$(mktemp -d /tmp/brig-cri.XXXXXX)
	export CRI_DIR
	mount -t tmpfs -o mode=755,size=1g brig-cri "$CRI_DIR" || return 1
	mkdir -p "$CRI_DIR/bin" "$CRI_DIR/net.d" "$CRI_DIR/logs" "$CRI_DIR/image"
	cat >"$CRI_DIR/bin/brig" <<-EOF
		#!/bin/sh
		echo "\$*" >>'$CRI_DIR/argv.log'
		export ASAN_OPTIONS='${ASAN_OPTIONS:-}' UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'
		exec '$BRIG' "\$@"
	EOF
	printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v runc)" >"$CRI_DIR/bin/runc"
	chmod 755 "$CRI_DIR/bin/brig" "$CRI_DIR/bin/runc"
	cri_config >"$CRI_DIR/config.toml"
	# ipMasq off: nothing in the guest's firewall; the bridge is this file's, removed by cri_stop.
	cat >"$CRI_DIR/net.d/10-brigcri.conflist" <<-EOF
		{"cniVersion": "1.0.0", "name": "brigcri", "plugins": [
		  {"type": "bridge", "bridge": "$CRI_BRIDGE", "isGateway": true, "ipMasq": false,
		   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$CRI_SUBNET"}]], "dataDir": "$CRI_DIR/ipam"}}]}
	EOF
	# The client's server starts (seconds under TCG) while containerd boots and the images are imported.
	CRI_PB_DIR=$CRI_DIR/pb /usr/bin/python3 -S "$CRI_CLIENT_DIR/cri.py" --sock "$CRI_DIR/containerd.sock" \
		--serve "$CRI_DIR/client.port" </dev/null >"$CRI_DIR/client.log" 2>&1 3>&- 4>&- &
	# cri_stop kills it (and containerd) with SIGKILL: no job notice for that.
	disown $!
	cri_image_layout "$CRI_DIR/image" || return 1
	tar -C "$CRI_DIR/image" -cf "$CRI_DIR/images.tar" . || return 1
	rm -rf "$CRI_DIR/image"
	local i
	containerd --config "$CRI_DIR/config.toml" </dev/null >"$CRI_DIR/containerd.log" 2>&1 3>&- 4>&- &
	echo $! >"$CRI_DIR/containerd.pid"
	disown $!
	for i in $(seq 600); do
		[ -S "$CRI_DIR/containerd.sock" ] && break
		kill -0 "$(<"$CRI_DIR/containerd.pid")" 2>/dev/null || { echo "containerd exited: $(tail -5 "$CRI_DIR/containerd.log")" >&2; return 1; }
		sleep 0.1
	done
	timeout 120 ctr -a "$CRI_DIR/containerd.sock" -n k8s.io images import "$CRI_DIR/images.tar" >"$CRI_DIR/import.log" 2>&1 ||
		{ echo "ctr images import failed: $(cat "$CRI_DIR/import.log")" >&2; return 1; }
	rm -f "$CRI_DIR/images.tar"
	for i in $(seq 600); do
		[ -s "$CRI_DIR/client.port" ] && break
		sleep 0.1
	done
	read -r CRI_PORT <"$CRI_DIR/client.port" || { echo "the CRI client server did not start: $(cat "$CRI_DIR/client.log")" >&2; return 1; }
	export CRI_PORT
	# The CRI plugin learns of imported images by events, and its network turns ready once the CNI config
	# is loaded: wait for both.
	local out
	for i in $(seq 100); do
		out=$(cri Status '{}' ListImages '{}' 2>&1) &&
			[[ $out == *'"type":"NetworkReady","status":true'* && $out == *"$CRI_PAUSE_IMAGE"* ]] && return 0
		sleep 0.3
	done
	echo "CRI not ready: $out; containerd: $(tail -5 "$CRI_DIR/containerd.log")" >&2
	return 1
}

# cri_remove_pods: stops and removes every pod sandbox (and so its containers) this containerd knows.
cri_remove_pods() {
	local out id args=()
	out=$(cri ListPodSandbox '{}' 2>/dev/null) || return 0
	while [[ $out =~ \"id\":\"([0-9a-f]+)\" ]]; do
		id=${BASH_REMATCH[1]}
		out=${out/\"id\":\"$id\"/}
		args+=(StopPodSandbox "{\"pod_sandbox_id\":\"$id\"}" RemovePodSandbox "{\"pod_sandbox_id\":\"$id\"}")
	done
	[ ${#args[@]} -eq 0 ] || cri "${args[@]}" >/dev/null 2>&1
	return 0
}

# cri_stop: removes what cri_start made, whatever state the tests left: pods (through CRI), containerd, the
# shims and anything else naming CRI_DIR, the scopes and pod slices, the netns CNI made, the bridge, the
# mounts and the directory.
cri_stop() {
	[ -n "${CRI_DIR:-}" ] && [ -d "$CRI_DIR" ] || return 0
	# Best effort to the end, also under the caller's errexit (bats, the benchmark): what is gone already
	# makes its removal fail. `local -` restores the caller's options on return.
	local - pid u m
	set +e
	[ -S "$CRI_DIR/containerd.sock" ] && cri_remove_pods
	pid=$(cat "$CRI_DIR/containerd.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	kill_pids_with_arg "$CRI_DIR"
	for u in $(systemctl list-units --all --plain --no-legend 'cri-containerd-*.scope' 'kubepods*.slice' 2>/dev/null | cut -d' ' -f1); do
		systemctl stop "$u" >/dev/null 2>&1
		systemctl reset-failed "$u" >/dev/null 2>&1
	done
	for m in /run/netns/cni-*; do
		[ -e "$m" ] || continue
		umount "$m" 2>/dev/null
		rm -f "$m"
	done
	ip link del "$CRI_BRIDGE" 2>/dev/null
	while read -r _ m _; do
		[[ $m == "$CRI_DIR"/* ]] && umount -l "$m" 2>/dev/null
	done < <(tac /proc/self/mounts)
	umount -l "$CRI_DIR" 2>/dev/null
	rm -rf "$CRI_DIR"
	return 0
}
