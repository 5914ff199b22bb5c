#!/bin/bash
# Demo on a fresh Debian 12 machine: installs what is needed, builds a release brig in build-release/,
# makes a busybox-static bundle and runs one container that shows where it lives.
#   sudo scripts/demo.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"

cmake -S "$repo" -B "$repo/build-release" -DCMAKE_BUILD_TYPE=Release -DBRIG_TESTS=OFF >/dev/null
cmake --build "$repo/build-release" --target brig -j "$(nproc)" >/dev/null
brig=$repo/build-release/brig

work=$(mktemp -d /tmp/brig-demo.XXXXXX)
chmod 755 "$work"
cleanup() {
	"$brig" --root "$work/state" delete --force demo >/dev/null 2>&1 || true
	local mnt
	for mnt in $(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u); do
		rmdir "$mnt/brig-demo" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/bundle/rootfs
mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

(cd "$work/bundle" && "$brig" spec)
jq '.process.terminal = false | .hostname = "brig-demo" | .linux.cgroupsPath = "/brig-demo/demo"
	| .process.args = ["sh", "-c", "echo \"hello from $(hostname), $(uname -sr)\"; id; echo; ps; echo; head -n 3 /proc/self/cgroup; echo; mount | head -n 5"]' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"

"$brig" --version
echo "+ brig run --bundle $work/bundle demo"
"$brig" --root "$work/state" run --bundle "$work/bundle" demo
