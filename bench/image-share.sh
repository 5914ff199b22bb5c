#!/bin/bash
# One image, many containers: N containers (100 by default) started from the same OCI image layout with
# `brig run -d --image`, each writing a small file into its root. Reports the layer store's disk use against one
# unpack of the image (`umoci raw unpack`, what a copy per container would cost each time), each container's
# upper and work directories, and the time to start and to delete them all. The image is the busybox rootfs and
# one layer of random files (MB MiB, 40 by default), built here with umoci. Containers get no network
# (--network none): nothing touches the machine's interfaces or firewall. Everything is deleted at the end, on
# failure too.
#   sudo bench/image-share.sh [--containers N] [--mb MB] BRIG_BINARY
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
n=100
mb=40
while [ $# -gt 1 ]; do
	case $1 in
	--containers) n=$2; shift 2 ;;
	--mb) mb=$2; shift 2 ;;
	*) break ;;
	esac
done
brig=$(readlink -f "${1:?usage: $0 [--containers N] [--mb MB] BRIG_BINARY}")
command -v umoci >/dev/null || { echo "umoci is not installed (scripts/setup.sh)" >&2; exit 1; }
work=$(mktemp -d /tmp/brig-bench-share.XXXXXX)
chmod 755 "$work"
root=$work/state
store=$work/store
cg=brig-bench-share-$$

cleanup() {
	local id mnt
	if [ -d "$root" ]; then
		for id in $("$brig" --root "$root" list -q 2>/dev/null); do
			"$brig" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	while read -r mnt; do
		[ -d "$mnt/$cg" ] || continue
		find "$mnt/$cg" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$mnt/$cg" 2>/dev/null || true
	done < <(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u)
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$repo/scripts/busybox-rootfs.sh" "$work/rootfs"
python3 - "$work/data" "$((mb * 1024 * 1024))" <<-'EOF'
	import os, random, sys
	out, budget = sys.argv[1], int(sys.argv[2])
	random.seed(1)
	os.makedirs(out)
	used, i = 0, 0
	while used < budget:
	    d = os.path.join(out, 'd%d' % (i % 50))
	    os.makedirs(d, exist_ok=True)
	    n = random.choice([4096, 16384, 65536, 262144, 1 << 20])
	    with open(os.path.join(d, 'f%d' % i), 'wb') as f:
	        f.write(os.urandom(n))
	    used, i = used + n, i + 1
EOF
(
	cd "$work"
	umoci init --layout oci
	umoci new --image oci:share
	umoci insert --image oci:share rootfs /
	umoci insert --image oci:share data /data
	umoci raw unpack --image oci:share one
) >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
rm -rf "$work/rootfs" "$work/data"
echo "image: 2 layers, $(find "$work/one" -type f | wc -l) files; layout $(du -sm "$work/oci" | cut -f1) MiB"

mkdir -p "$work/bundle"
(cd "$work/bundle" && "$brig" spec)
# Each container writes 4 KiB of its own and changes a file of the image (a copy-up of /etc/passwd).
jq '.process.terminal = false | del(.root.path) | .root.readonly = false
	| .process.args = ["sh", "-c", "head -c 4096 /dev/urandom >/root/own; echo x:x:1:1::/:/bin/sh >>/etc/passwd; touch /root/.done; exec sleep 3600"]' \
	"$work/bundle/config.json" >"$work/c.json" && mv "$work/c.json" "$work/bundle/config.json"

t0=${EPOCHREALTIME/./}
for ((i = 0; i < n; i++)); do
	jq --arg cg "/$cg/c$i" '.linux.cgroupsPath = $cg' "$work/bundle/config.json" >"$work/bundle/c$i.json"
	"$brig" --root "$root" run -d --bundle "$work/bundle" --config "c$i.json" --image "$work/oci:share" \
		--store "$store" --network none "c$i" </dev/null >/dev/null
done
t1=${EPOCHREALTIME/./}
for ((i = 0; i < n; i++)); do
	for _ in $(seq 1 100); do
		[ -e "$root/c$i/upper/root/.done" ] && break
		sleep 0.05
	done
	[ -e "$root/c$i/upper/root/.done" ] || { echo "container c$i did not write its files" >&2; exit 1; }
done
running=$("$brig" --root "$root" list -q | wc -l)

kib() { du -sk "$@" | awk '{ s += $1 } END { print s }'; }
one=$(kib "$work/one")
st=$(kib "$store")
uppers=$(for ((i = 0; i < n; i++)); do kib "$root/c$i/upper" "$root/c$i/work"; done | sort -n)
up_total=$(awk '{ s += $1 } END { print s }' <<<"$uppers")
up_med=$(awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' <<<"$uppers")
up_max=$(tail -n 1 <<<"$uppers")

t2=${EPOCHREALTIME/./}
for ((i = 0; i < n; i++)); do "$brig" --root "$root" delete --force "c$i"; done
t3=${EPOCHREALTIME/./}
left=$(find "$root" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l)

awk -v n="$n" -v running="$running" -v one="$one" -v st="$st" -v tot="$up_total" -v med="$up_med" \
	-v max="$up_max" -v tr="$((t1 - t0))" -v td="$((t3 - t2))" -v left="$left" 'BEGIN {
	printf "%d containers from one image, %d running at once\n", n, running
	printf "%-44s %10.1f MiB\n", "one unpack of the image (umoci raw unpack)", one / 1024
	printf "%-44s %10.1f MiB  (%.2f of one unpack)\n", "brig layer store, shared by all", st / 1024, st / one
	printf "%-44s %10.1f MiB\n", "a copy per container would be", n * one / 1024
	printf "%-44s %10d KiB  (median; max %d)\n", "upper + work, per container", med, max
	printf "%-44s %10.1f MiB\n", "upper + work, all containers", tot / 1024
	printf "%-44s %10.1f ms  (%.1f ms each)\n", "run -d, all", tr / 1000, tr / 1000 / n
	printf "%-44s %10.1f ms  (%.1f ms each); %d container directories left\n", "delete --force, all", td / 1000, td / 1000 / n, left
}'
