# Helpers for the real-client tests (integration/containerd.bats, integration/podman.bats): containerd and
# Podman drive brig as their OCI runtime. Loaded after integration/helpers.bash.

# Fails with a clear reason when a client is not installed: scripts/setup.sh installs them all, so a missing
# one is a broken setup, which a skip would hide.
require_commands() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fail "$c is not installed (run scripts/setup.sh)"
	done
}

# Writes DIR/brig, a wrapper that runs $BRIG (or REAL) with the sanitizer options of helpers.bash. Podman
# gives conmon and the runtime a fixed environment without them; the ASan build would then run LeakSanitizer
# at exit, which hangs after `exec` joined the container's pid namespace (its tracer thread is cloned into
# that namespace and cannot see its parent) and fails short-lived commands that leak by design.
# Podman names a runtime by its file name, and `runtime_supports_json` matches that name: hence `brig`.
# With STATE_ROOT, the wrapper also passes `--root STATE_ROOT`: Podman's --runtime-flag does not reach the
# `podman container cleanup` that conmon runs when a container exits.
# Usage: make_sanitizer_wrapper DIR [REAL_BINARY [STATE_ROOT]]
make_sanitizer_wrapper() {
	local dir=$1 real=${2:-$BRIG} root=${3:-}
	mkdir -p "$dir"
	cat >"$dir/brig" <<-EOF
		#!/bin/sh
		export ASAN_OPTIONS='$ASAN_OPTIONS' UBSAN_OPTIONS='$UBSAN_OPTIONS'
		exec '$real' ${root:+--root '$root'} "\$@"
	EOF
	chmod 755 "$dir/brig"
}

# Pids whose command line contains STRING (e.g. a containerd socket path or a storage directory that only
# this test file uses). Builtins only: a grep per process costs seconds under the guest's TCG.
pids_with_arg() {
	local s=$1 p args
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		mapfile -d '' args <"$p/cmdline" 2>/dev/null || continue
		[[ "${args[*]}" == *"$s"* ]] && echo "${p#/proc/}"
	done
	return 0
}

# Kills (SIGKILL) every process whose command line names STRING, until none is left (up to ~2 s).
kill_pids_with_arg() {
	local s=$1 pids i
	for i in $(seq 20); do
		pids=$(pids_with_arg "$s")
		[ -z "$pids" ] && return 0
		kill -9 $pids 2>/dev/null || true
		sleep 0.1
	done
}

# Lazily unmounts every mount point below DIR (deepest first), in this mount namespace.
umount_under() {
	local m
	for m in $(mounts_under "$1"); do
		umount -l "$m" 2>/dev/null || true
	done
}

# Waits up to SECS seconds for a unix socket to appear.
wait_for_socket() {
	local path=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -S "$path" ] && return 0
		sleep 0.05
	done
	return 1
}

# The cgroup v1 memory directory of a host pid (the path in its memory hierarchy).
memory_cgroup_of() {
	awk -F: '$2 == "memory" { print $3 }' "/proc/$1/cgroup"
}

# Every cgroup directory (in any hierarchy) named by an absolute cgroup path.
cgroup_dirs_of() {
	local mnt
	for mnt in $(cgroup_mounts); do
		[ -d "$mnt$1" ] && echo "$mnt$1"
	done
	return 0
}
