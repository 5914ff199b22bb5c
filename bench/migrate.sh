#!/bin/bash
# brig migrate downtime, --live and --lazy-pages (post-copy) vs --offline (= stop, dump, copy, restore), on the
# same container in the same guest boot (the guest lane: criu 3.17.1 cannot run on the host's kernel). The container is
# tests/helpers/memtouch holding MEM MiB (every page written) and rewriting DIRTY MiB of it each second. Two
# "hosts" are network namespaces joined by a veth pair, each with its own brig --root (bridge, leases, nft);
# the migration goes over that link. Each round migrates one container each way of working, rotating which
# goes first; medians of the reported downtime_ms, total_ms and the downtime's phases (dump_ms, send_ms,
# restore_ms; the rest is round trips), and each way's ratio to offline. A lazy move's receiver puts its
# container's cgroup below /brig-bench/b: both "hosts" share one kernel, and the frozen source holds its cgroup
# until every page is fetched.
#
#   sudo bench/migrate.sh [--runs N] [--mem MIB] [--dirty MIB_PER_S] [--modes offline,live,lazy] [--build-dir DIR]
#   (modes: offline, live, live-eager = --live --eager-restore, lazy)
#                         [BRIG_BINARY]
#
# A round whose migration fails is reported and left out of the medians (a loaded host can make every page
# dirty between two pre-dumps, and the pre-dumps then outgrow the guest's tmpfs).
#
# BRIG_BINARY defaults to build-release/brig (built, or brought up to date; no sanitizers). DIR (default build) holds
# the guest lane's kernel cache and tests/helpers/memtouch.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=3
mem=256
dirty=8
build=$repo/build
brig=""
inner=false
modes_arg=offline,live,lazy
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--dirty) dirty=$2; shift 2 ;;
	--modes) modes_arg=$2; shift 2 ;;
	--build-dir) build=$(cd "$2" && pwd); shift 2 ;;
	--inner) inner=true; shift ;;
	-*) echo "usage: $0 [--runs N] [--mem MIB] [--dirty MIB_PER_S] [--build-dir DIR] [BRIG_BINARY]" >&2; exit 2 ;;
	*) brig=$1; shift ;;
	esac
done

if ! $inner; then
	[ -n "$brig" ] || brig=$("$repo/scripts/release-brig.sh" "$repo/build-release")
	brig=$(realpath "$brig")
	[ -x "$build/tests/helpers/memtouch" ] || { echo "no $build/tests/helpers/memtouch: build the tests first" >&2; exit 1; }
	(export BRIG=$brig BRIG_BUILD=$build; source "$repo/tests/integration/helpers.bash"; build_rootfs_cache)
	exec "$repo/tests/guest/run-lane.sh" --build-dir "$build" --timeout 3000 -- \
		"$repo/bench/migrate.sh" --inner --runs "$runs" --mem "$mem" --dirty "$dirty" --modes "$modes_arg" \
		--build-dir "$build" "$brig"
fi

# ---- in the guest ----
work=$(mktemp -d /tmp/migbench.XXXXXX)
A=migbench-a B=migbench-b
on() { local h=$1; shift; nsenter --net="/run/netns/$h" "$@"; }
cleanup() {
	pkill -f "sleep 3597" 2>/dev/null || true
	for h in A B; do
		for d in "$work/root-$h"/*; do
			[ -e "$d" ] && on "migbench-${h,,}" "$brig" --root "$work/root-$h" delete -f "${d##*/}" >/dev/null 2>&1
		done
	done
	ip netns delete "$A" 2>/dev/null || true
	ip netns delete "$B" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "bench/migrate.sh: line $LINENO failed" >&2' ERR
ip netns add "$A"
ip netns add "$B"
ip link add mbench-a netns "$A" type veth peer name mbench-b netns "$B"
ip -n "$A" addr add 10.251.8.1/24 dev mbench-a
ip -n "$B" addr add 10.251.8.2/24 dev mbench-b
for h in "$A" "$B"; do ip -n "$h" link set lo up; done
ip -n "$A" link set mbench-a up
ip -n "$B" link set mbench-b up
# As the pre-dump test: khugepaged collapsing pages between two dumps would make them all dirty again.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true
cp -a "$build/test-rootfs" "$work/rootfs"
cp "$build/tests/helpers/memtouch" "$work/rootfs/bin/"
(cd "$work" && "$brig" spec)
criu check >/dev/null 2>&1 || true

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

# once MODE ROUND: run -d on A, wait until memtouch has counted twice, migrate to B, delete there.
once() {
	local mode=$1 round=$2 id out json recv port=$((7100 + round)) flag extra=() src=()
	id=$mode-$round
	mkdir -p "$work/b-$id"
	jq --arg r "$work/rootfs" --arg cg "/brig-bench/$id" --argjson a "[\"/bin/memtouch\", \"$mem\", \"$dirty\"]" \
		'.process.terminal = false | .process.args = $a | .root = {path: $r, readonly: false} | .linux.cgroupsPath = $cg' \
		"$work/config.json" >"$work/b-$id/config.json"
	out=$work/$id.out
	on "$A" "$brig" --root "$work/root-A" run -d -b "$work/b-$id" -p 8080:80 "$id" \
		0< <(exec sleep 3597) 1> >(exec cat >"$out") 2>&1 || { echo "run -d: $(cat "$out")" >&2; return 1; }
	for _ in $(seq 1200); do grep -qx 2 "$out" 2>/dev/null && break; sleep 0.1; done
	flag=--$mode
	case $mode in
	lazy) flag=--lazy-pages; extra=(--cgroup-parent /brig-bench/b); port=$((port + 50)) ;;
	live) port=$((port + 100)) ;;
	live-eager) flag=--live; src=(--eager-restore); port=$((port + 150)) ;;
	esac
	on "$B" "$brig" --root "$work/root-B" migrate-receive --once --listen "10.251.8.2:$port" "${extra[@]}" \
		0< <(exec sleep 3597) 1> >(exec cat >"$work/$id.recv") 2>&1 &
	recv=$!
	for _ in $(seq 300); do on "$B" ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
	json=$(on "$A" "$brig" --root "$work/root-A" migrate "$flag" "${src[@]}" "$id" "tcp:10.251.8.2:$port" 2>"$work/$id.err") ||
		{ echo "round $round $mode: migrate failed: $(cat "$work/$id.err")" >&2; wait "$recv" || true
		  on "$A" "$brig" --root "$work/root-A" delete -f "$id" >/dev/null 2>&1 || true
		  on "$B" "$brig" --root "$work/root-B" delete -f "$id" >/dev/null 2>&1 || true
		  rm -rf "$work/root-A/.migrate-out" "$work/root-B/.migrate"; return 0; }
	# Only the receiver: a bare `wait` would wait for the stdin process substitutions too.
	wait "$recv" || true
	on "$B" "$brig" --root "$work/root-B" delete -f "$id"
	for k in downtime total dump rootfs send restore; do
		echo "$json" | sed -n "s/.*\"${k}_ms\":\([0-9]*\).*/\1/p" >>"$work/$mode.$k"
	done
	echo "round $round $mode: $json" >&2
}

echo "brig: $("$brig" --version | head -1); criu: $(criu --version | head -1); guest $(nproc) vCPU, $(uname -r); memtouch $mem MiB, $dirty MiB/s dirtied" >&2
IFS=, read -r -a modes <<<"$modes_arg"
n=${#modes[@]}
for round in $(seq "$runs"); do
	for ((i = 0; i < n; i++)); do
		once "${modes[$(((round + i) % n))]}" "$round"
	done
done
med() { [ -s "$work/$1.$2" ] && median <"$work/$1.$2" || echo 0; }
printf '\n| %s MiB, %s MiB/s dirtied |' "$mem" "$dirty"
for m in "${modes[@]}"; do printf ' %s |' "$m"; done
for m in "${modes[@]}"; do [ "$m" = offline ] || printf ' %s/offline |' "$m"; done
printf '\n|---|'
for m in "${modes[@]}"; do printf -- '---|'; [ "$m" = offline ] || printf -- '---|'; done
echo
for k in downtime total dump rootfs send restore; do
	o=$(med offline "$k")
	printf '| %s_ms |' "$k"
	for m in "${modes[@]}"; do printf ' %d |' "$(med "$m" "$k")"; done
	for m in "${modes[@]}"; do
		[ "$m" = offline ] || printf ' %.2f |' "$(awk -v a="$(med "$m" "$k")" -v b="$o" 'BEGIN {print b ? a / b : 0}')"
	done
	echo
done
for m in "${modes[@]}"; do printf '%s: %s rounds measured\n' "$m" "$(grep -c . "$work/$m.downtime" 2>/dev/null || echo 0)"; done
echo "(medians of the rounds measured; one guest boot under TCG)"
