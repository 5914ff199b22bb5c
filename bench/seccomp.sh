#!/bin/bash
# What a Docker-sized seccomp profile (tests/data/seccomp-docker-profile.sh: ~400 syscalls, argument rules) adds
# to `brig run` of /bin/true: no profile vs the profile with its compiled filter cached vs compiled every run
# (the cache emptied before each run). Variants alternate; medians of N runs.
#   sudo bench/seccomp.sh [--runs N] BRIG_BINARY
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=30
if [ "${1:-}" = --runs ]; then
	runs=$2
	shift 2
fi
brig=$(readlink -f "${1:?usage: $0 [--runs N] BRIG_BINARY}")
work=$(mktemp -d /tmp/brig-bench-seccomp.XXXXXX)
cleanup() {
	for v in none cached cold; do "$brig" --root "$work/root-$v" delete --force "b-$v" >/dev/null 2>&1 || true; done
	for d in /sys/fs/cgroup/*/brig-bench-seccomp; do rmdir "$d"/* "$d" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/true"
(cd "$work" && "$brig" spec)
sh "$repo/tests/data/seccomp-docker-profile.sh" >"$work/seccomp.json"
for v in none cached cold; do
	mkdir -p "$work/bundle-$v" "$work/root-$v"
	jq --arg r "$rootfs" --arg cg "/brig-bench-seccomp/$v" --arg v "$v" --slurpfile s "$work/seccomp.json" '
		.root.path = $r | .process.terminal = false | .process.args = ["/bin/true"] | .linux.cgroupsPath = $cg
		| if $v == "none" then del(.linux.seccomp) else .linux.seccomp = $s[0] end' \
		"$work/config.json" >"$work/bundle-$v/config.json"
done

one_run() {
	local v=$1 t0 t1
	[ "$v" = cold ] && rm -rf "$work/root-$v/.cache"
	t0=${EPOCHREALTIME/./}
	"$brig" --root "$work/root-$v" run --bundle "$work/bundle-$v" "b-$v" </dev/null >/dev/null
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0)) >>"$work/times-$v"
}
for v in none cached cold; do one_run "$v"; : >"$work/times-$v"; done
variants=(none cached cold)
for ((r = 0; r < runs; r++)); do
	for ((k = 0; k < 3; k++)); do one_run "${variants[(r + k) % 3]}"; done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
none=$(median <"$work/times-none")
printf '%-28s %10s %12s\n' "brig run /bin/true" "median ms" "vs none ms"
for v in none cached cold; do
	m=$(median <"$work/times-$v")
	awk -v v="seccomp: $v" -v m="$m" -v n="$none" 'BEGIN { printf "%-28s %10.2f %+12.2f\n", v, m / 1000, (m - n) / 1000 }'
done
