#!/bin/bash
# Demo on a fresh Debian 12 machine: installs what is needed, builds a release brig in build-release/,
# makes a busybox-static bundle and runs one container that shows where it lives.
#   sudo scripts/demo.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"

brig=$("$repo/scripts/release-brig.sh" "$repo/build-release")

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
"$repo/scripts/busybox-rootfs.sh" "$rootfs"

(cd "$work/bundle" && "$brig" spec)
jq '.process.terminal = false | .hostname = "brig-demo" | .linux.cgroupsPath = "/brig-demo/demo"
	| .process.args = ["sh", "-c", "echo \"hello from $(hostname), $(uname -sr)\"; id; echo; ps; echo; head -n 3 /proc/self/cgroup; echo; mount | head -n 5"]' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"

"$brig" --version
echo "+ brig run --bundle $work/bundle demo"
"$brig" --root "$work/state" run --bundle "$work/bundle" demo
