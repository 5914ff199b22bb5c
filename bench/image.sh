#!/bin/bash
# Unpacking a multi-layer OCI image (the busybox rootfs and three layers of random files, 60 MiB by default)
# into brig's layer store (`brig spec --image`: every blob's digest checked, each layer unpacked, its diff_id
# checked) vs `umoci unpack` of the same layout (the bundle's rootfs and umoci's mtree manifest) and `umoci raw
# unpack` (the rootfs alone). The store and the bundles start empty each run; `sync` runs before each one so
# that no run pays for the previous one's writeback. Variants alternate; medians of N runs. Needs about
# (N + 1) * 3 * MB of free space in /tmp.
#   sudo bench/image.sh [--runs N] [--mb MB] BRIG_BINARY
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=9
mb=60
while [ $# -gt 1 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--mb) mb=$2; shift 2 ;;
	*) break ;;
	esac
done
brig=$(readlink -f "${1:?usage: $0 [--runs N] [--mb MB] BRIG_BINARY}")
command -v umoci >/dev/null || { echo "umoci is not installed (scripts/setup.sh)" >&2; exit 1; }
work=$(mktemp -d /tmp/brig-bench-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The image: busybox, then three layers of files of 1 KiB to 256 KiB and one of 4 MiB each.
"$repo/scripts/busybox-rootfs.sh" "$work/rootfs"
(
	cd "$work"
	umoci init --layout oci
	umoci new --image oci:bench
	umoci insert --image oci:bench rootfs /
	for l in 1 2 3; do
		python3 - "$work/data$l" "$l" "$((mb * 1024 * 1024 / 3))" <<-'EOF'
			import os, random, sys
			out, seed, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
			random.seed(seed)
			os.makedirs(out)
			big = 4 << 20
			with open(os.path.join(out, 'big'), 'wb') as f:
			    f.write(os.urandom(big))
			used, i = big, 0
			while used < budget:
			    d = os.path.join(out, 'd%d' % (i % 50))
			    os.makedirs(d, exist_ok=True)
			    n = random.choice([1024, 4096, 16384, 65536, 262144])
			    with open(os.path.join(d, 'f%d' % i), 'wb') as f:
			        f.write(os.urandom(n))
			    used, i = used + n, i + 1
		EOF
		umoci insert --image oci:bench "data$l" "/data$l"
	done
	umoci config --image oci:bench --config.cmd sh
) >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
echo "image: $(du -sm "$work/oci" | cut -f1) MiB in 4 layers, $(find "$work"/data* -type f | wc -l) files of data"

# Before timing: the store holds what umoci unpacks, every file of the data layers byte for byte.
manifest=$work/oci/blobs/sha256/$(jq -r '.manifests[0].digest' "$work/oci/index.json" | cut -d: -f2)
config=$work/oci/blobs/sha256/$(jq -r .config.digest "$manifest" | cut -d: -f2)
mkdir -p "$work/check"
"$brig" spec --image "$work/oci:bench" --store "$work/check/store" -b "$work/check" >/dev/null
umoci unpack --image "$work/oci:bench" "$work/check/bundle" >/dev/null 2>&1
for l in 1 2 3; do
	id=$(jq -r ".rootfs.diff_ids[$l]" "$config" | cut -d: -f2)
	diff -r "$work/check/store/$id/data$l" "$work/check/bundle/rootfs/data$l" >/dev/null ||
		{ echo "layer $l in brig's store differs from umoci's rootfs" >&2; exit 1; }
done
rm -rf "$work/check"

# Each run writes into a new directory, all removed at the end: on this VM's ext4 an inode freed in the last
# seconds is skipped, slowly, when new ones are allocated, so deleting between runs would charge each run for
# the one before.
one_run() {
	local v=$1 out=$work/out-$1-$2 t0 t1
	mkdir -p "$out"
	sync
	t0=${EPOCHREALTIME/./}
	case $v in
	brig) "$brig" spec --image "$work/oci:bench" --store "$out/store" -b "$out" >/dev/null ;;
	umoci) umoci unpack --image "$work/oci:bench" "$out/bundle" >/dev/null 2>&1 ;;
	umoci-raw) umoci raw unpack --image "$work/oci:bench" "$out/rootfs" >/dev/null 2>&1 ;;
	esac
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0)) >>"$work/times-$v"
}
variants=(brig umoci umoci-raw)
for v in "${variants[@]}"; do one_run "$v" warm; : >"$work/times-$v"; done
for ((r = 0; r < runs; r++)); do
	for ((k = 0; k < 3; k++)); do one_run "${variants[(r + k) % 3]}" "$r"; done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
b=$(median <"$work/times-brig")
printf '%-34s %10s %10s\n' "unpack (median of $runs)" "ms" "brig/x"
for v in "${variants[@]}"; do
	m=$(median <"$work/times-$v")
	awk -v v="$v" -v m="$m" -v b="$b" 'BEGIN { printf "%-34s %10.1f %10.2f\n", v, m / 1000, b / m }'
done
