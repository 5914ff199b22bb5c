#!/bin/bash
# checkpoint and restore wall time, brig vs runc 1.1.5, on the same container in the same guest boot (the
# guest lane: criu 3.17.1 cannot run on the host's kernel). Two containers: `small` (a shell loop) and `big`
# (tests/helpers/memtouch holding MEM MiB, every page written). Each round checkpoints and restores one
# container per runtime, alternating which goes first; medians over the rounds, and brig/runc.
#
#   sudo bench/checkpoint.sh [--runs N] [--mem MIB] [--build-dir DIR] [BRIG_BINARY]
#
# BRIG_BINARY defaults to build-release/brig (built, or brought up to date; no sanitizers). DIR (default build) holds
# the guest lane's kernel cache and tests/helpers/memtouch.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=5
mem=256
build=$repo/build
brig=""
inner=false
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--build-dir) build=$(cd "$2" && pwd); shift 2 ;;
	--inner) inner=true; shift ;;
	-*) echo "usage: $0 [--runs N] [--mem MIB] [--build-dir DIR] [BRIG_BINARY]" >&2; exit 2 ;;
	*) brig=$1; shift ;;
	esac
done

if ! $inner; then
	[ -n "$brig" ] || brig=$("$repo/scripts/release-brig.sh" "$repo/build-release")
	brig=$(realpath "$brig")
	[ -x "$build/tests/helpers/memtouch" ] || { echo "no $build/tests/helpers/memtouch: build the tests first" >&2; exit 1; }
	(export BRIG=$brig BRIG_BUILD=$build; source "$repo/tests/integration/helpers.bash"; build_rootfs_cache)
	exec "$repo/tests/guest/run-lane.sh" --build-dir "$build" --timeout 3000 -- \
		"$repo/bench/checkpoint.sh" --inner --runs "$runs" --mem "$mem" --build-dir "$build" "$brig"
fi

# ---- in the guest ----
work=$(mktemp -d /tmp/ckbench.XXXXXX)
trap 'pkill -f "sleep 3598" 2>/dev/null; for r in brig runc; do for d in "$work/root-$r"/*; do [ -e "$d" ] && "$([ $r = brig ] && echo "$brig" || echo runc)" --root "$work/root-$r" delete -f "${d##*/}" >/dev/null 2>&1; done; done; rm -rf "$work"' EXIT
cp -a "$build/test-rootfs" "$work/rootfs"
cp "$build/tests/helpers/memtouch" "$work/rootfs/bin/"
(cd "$work" && "$brig" spec)

ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

# bundle NAME ARGS_JSON: $work/b-NAME with the shared rootfs.
bundle() {
	mkdir -p "$work/b-$1"
	jq --arg r "$work/rootfs" --arg cg "/brig-bench/$1" --argjson a "$2" \
		'.process.terminal = false | .process.args = $a | .root = {path: $r, readonly: false} | .linux.cgroupsPath = $cg' \
		"$work/config.json" >"$work/b-$1/config.json"
}

# once RUNTIME KIND ROUND: run -d, wait until ready, checkpoint, restore -d, delete; appends the times.
once() {
	local rt=$1 kind=$2 round=$3 bin id t0 t1 t2 out args
	bin=$([ "$rt" = brig ] && echo "$brig" || echo runc)
	id=$rt-$kind-$round
	if [ "$kind" = small ]; then
		args='["sh", "-c", "echo ready; i=0; while :; do i=$((i+1)); sleep 0.5; done"]'
	else
		args="[\"/bin/memtouch\", \"$mem\"]"
	fi
	bundle "$id" "$args"
	out=$work/$id.out
	"$bin" --root "$work/root-$rt" run -d -b "$work/b-$id" "$id" \
		0< <(exec sleep 3598) 1> >(exec cat >"$out") 2>&1
	for _ in $(seq 600); do grep -q ready "$out" 2>/dev/null && break; sleep 0.1; done
	t0=$(ms)
	"$bin" --root "$work/root-$rt" checkpoint --image-path "$work/img-$id" "$id"
	t1=$(ms)
	"$bin" --root "$work/root-$rt" restore -d -b "$work/b-$id" --image-path "$work/img-$id" "$id" \
		0< <(exec sleep 3598) 1> >(exec cat >>"$out") 2>&1
	t2=$(ms)
	"$bin" --root "$work/root-$rt" delete -f "$id"
	rm -rf "$work/img-$id"
	echo "$((t1 - t0))" >>"$work/$rt-$kind.ckpt"
	echo "$((t2 - t1))" >>"$work/$rt-$kind.rst"
	echo "round $round $rt $kind: checkpoint $((t1 - t0)) ms, restore $((t2 - t1)) ms" >&2
}

echo "brig: $("$brig" --version | head -1); runc: $(runc --version | head -1); criu: $(criu --version | head -1); guest $(nproc) vCPU, $(uname -r)" >&2
for round in $(seq "$runs"); do
	for kind in small big; do
		if [ $((round % 2)) -eq 1 ]; then order="brig runc"; else order="runc brig"; fi
		for rt in $order; do
			once "$rt" "$kind" "$round"
		done
	done
done
printf '\n| container | brig checkpoint | runc checkpoint | brig/runc | brig restore | runc restore | brig/runc |\n|---|---|---|---|---|---|---|\n'
for kind in small big; do
	bc=$(median <"$work/brig-$kind.ckpt") rc=$(median <"$work/runc-$kind.ckpt")
	br=$(median <"$work/brig-$kind.rst") rr=$(median <"$work/runc-$kind.rst")
	label=$kind; [ "$kind" = big ] && label="big ($mem MiB touched)"
	printf '| %s | %d ms | %d ms | %.2f | %d ms | %d ms | %.2f |\n' "$label" "$bc" "$rc" \
		"$(awk -v a="$bc" -v b="$rc" 'BEGIN {print a / b}')" "$br" "$rr" "$(awk -v a="$br" -v b="$rr" 'BEGIN {print a / b}')"
done
echo "(medians of $runs rounds each; wall time of the command, in one guest boot under TCG)"
