#!/bin/bash
# What an overlay root costs: `run` of /bin/true with its root as a 3-layer overlay (brig's upper and work
# directories in the state directory, made, mounted, unmounted and removed each run) vs the same files as
# one plain directory.
#
#   sudo bench/overlay.sh [--runs N] [BRIG_BINARY]
#
# Without BRIG_BINARY it builds a release brig (no sanitizers) in build-bench/.
#
# The busybox-static rootfs is split in three layers (lowest: /bin; then /etc, /root, /home; then the rest),
# whose union is the plain directory. Both variants use one config (the `spec` defaults: pid, network, ipc,
# uts and mount namespaces, the default mounts, masked and read-only paths; root.readonly false; an
# absolute cgroupsPath; /bin/true): `plain` has root.path = the whole tree, `overlay` has root.path = ""
# and three --layer. The variants alternate and the first one rotates from round to round; medians and p90.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=30
brig=""

usage() {
	echo "usage: $0 [--runs N] [BRIG_BINARY]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--runs)
		[ $# -ge 2 ] || usage
		runs=$2
		shift 2
		;;
	--runs=*)
		runs=${1#--runs=}
		shift
		;;
	-*) usage ;;
	*)
		[ -z "$brig" ] || usage
		brig=$1
		shift
		;;
	esac
done
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] || usage
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root" >&2
	exit 1
fi
if [ -z "$brig" ]; then
	echo "bench: building a release brig in build-bench/" >&2
	brig=$("$repo/scripts/release-brig.sh" "$repo/build-bench")
fi
brig=$(readlink -f "$brig")

# Layers and the plain tree on disk (/tmp), as an image store would keep them; the state root, which holds
# the upper and work directories, on tmpfs (/dev/shm) and on /run (tmpfs on most hosts, ext4 on this VM).
work=$(mktemp -d /tmp/brig-bench-overlay.XXXXXX)
roots=("$(mktemp -d /dev/shm/brig-bench-overlay.XXXXXX)" "$(mktemp -d /run/brig-bench-overlay.XXXXXX)")
chmod 755 "$work"
cleanup() {
	local root v mnt
	for root in "${roots[@]}"; do
		for v in plain overlay; do
			"$brig" --root "$root" delete --force "bench-$v" >/dev/null 2>&1 || true
		done
		rm -rf "$root"
	done
	for mnt in $(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u); do
		[ -d "$mnt/brig-bench-overlay" ] && find "$mnt/brig-bench-overlay" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

plain=$work/plain
"$repo/scripts/busybox-rootfs.sh" "$plain"
mkdir -p "$work/l1" "$work/l2" "$work/l3"
cp -a "$plain/bin" "$work/l1/"
cp -a "$plain/etc" "$plain/root" "$plain/home" "$work/l2/"
for entry in "$plain"/*; do
	case "${entry##*/}" in bin | etc | root | home) continue ;; esac
	cp -a "$entry" "$work/l3/"
done
chmod 755 "$work/l1" "$work/l2" "$work/l3"

(cd "$work" && "$brig" spec)
for v in plain overlay; do
	for args in true sleep; do
		mkdir -p "$work/bundle-$v-$args"
		jq --arg r "$([ $v = plain ] && echo "$plain")" --arg cg "/brig-bench-overlay/$v" --arg a "$args" '
			.root.path = $r | .root.readonly = false | .process.terminal = false
			| .process.args = (if $a == "true" then ["/bin/true"] else ["sleep", "100"] end)
			| .linux.cgroupsPath = $cg' "$work/config.json" >"$work/bundle-$v-$args/config.json"
	done
done
declare -A extra=([plain]="" [overlay]="--layer $work/l1 --layer $work/l2 --layer $work/l3")
variants=(plain overlay)

# timed OUT CMD...: appends the elapsed microseconds of CMD to OUT.
timed() {
	local out=$1 t0 t1
	shift
	t0=${EPOCHREALTIME/./}
	if ! "$@" </dev/null >/dev/null 2>"$work/err"; then
		echo "bench: $* failed: $(cat "$work/err")" >&2
		return 1
	fi
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0)) >>"$out"
}

# rounds ROOT: `run` of /bin/true, then `run -d` of sleep and its `delete --force`, the variants
# alternating, the first one rotating.
rounds() {
	local root=$1 tag=$2 round k v
	for v in "${variants[@]}"; do
		for _ in 1 2 3; do
			# shellcheck disable=SC2086 # the layer flags split on purpose
			timed /dev/null "$brig" --root "$root" run --bundle "$work/bundle-$v-true" ${extra[$v]} "bench-$v"
		done
	done
	for ((round = 0; round < runs; round++)); do
		for ((k = 0; k < 2; k++)); do
			v=${variants[(round + k) % 2]}
			# shellcheck disable=SC2086
			timed "$work/run-$tag-$v" "$brig" --root "$root" run --bundle "$work/bundle-$v-true" ${extra[$v]} "bench-$v"
			# shellcheck disable=SC2086
			timed "$work/runD-$tag-$v" "$brig" --root "$root" run -d --bundle "$work/bundle-$v-sleep" ${extra[$v]} \
				"bench-$v"
			timed "$work/delete-$tag-$v" "$brig" --root "$root" delete --force "bench-$v"
		done
	done
	# Nothing may stay behind: no mount, no upper or work directory.
	if awk -v d="$root/" 'index($5, d) == 1' /proc/self/mountinfo | grep -q . || [ -n "$(ls -A "$root")" ]; then
		echo "bench: runs left mounts or state behind in $root" >&2
		exit 1
	fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { awk '{ printf "%.2f", $1 / 1000 }'; }

echo "bench: $runs alternating rounds per state root" >&2
echo
echo "host: $(uname -r), $(nproc) cpus; $("$brig" --version | head -1); medians of $runs, ms"
printf '%-28s %8s %8s %8s\n' "" plain overlay delta
for i in 0 1; do
	root=${roots[i]}
	tag=r$i
	rounds "$root" "$tag"
	echo "state root $(dirname "$root") ($(stat -f -c %T "$root")), load $(cut -d' ' -f1 /proc/loadavg)"
	for what in run runD delete; do
		case $what in run) label="  run /bin/true" ;; runD) label="  run -d (create + start)" ;; delete) label="  delete --force" ;; esac
		a=$(median <"$work/$what-$tag-plain")
		b=$(median <"$work/$what-$tag-overlay")
		printf '%-28s %8s %8s %8s\n' "$label" "$(echo "$a" | ms)" "$(echo "$b" | ms)" \
			"$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.2f", (b - a) / 1000 }')"
	done
done
