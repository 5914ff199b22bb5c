#!/bin/bash
# Demo on a fresh Debian 12 machine: installs what is needed, builds a release brig in build-release/, then
#  1. builds an OCI image layout locally (umoci; nothing is pulled): busybox-static plus a layer with a web page;
#  2. runs it detached with busybox httpd, `brig run -d --image LAYOUT -p 8080:80`, and fetches the page through
#     the published port;
#  3. has the container write a file (`brig exec`) and prints `brig diff`;
#  4. deletes everything it made, on success or failure.
# brig's bridge and nft rules live in a network namespace made here to stand for the host: the machine's own
# interfaces and firewall are not touched.
#   sudo scripts/demo.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"

brig=$("$repo/scripts/release-brig.sh" "$repo/build-release")

work=$(mktemp -d /tmp/brig-demo.XXXXXX)
chmod 755 "$work"
hostns=brig-demo-$$
state=$work/state
store=$work/store

# Runs a command inside the host stand-in. nsenter (not `ip netns exec`) keeps the machine's /sys and cgroup
# mounts, which brig needs.
in_host() {
	nsenter --net="/run/netns/$hostns" "$@"
}
b() {
	in_host "$brig" --root "$state" "$@"
}

cleanup() {
	local rc=$? mnt
	if [ -e "/run/netns/$hostns" ]; then
		b delete --force web >/dev/null 2>&1 || true
		ip netns del "$hostns" 2>/dev/null || true
	fi
	while read -r mnt; do
		rmdir "$mnt/brig-demo/web" "$mnt/brig-demo" 2>/dev/null || true
	done < <(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u)
	rm -rf "$work"
	[ "$rc" -eq 0 ] || echo "demo failed (exit $rc); everything it made was removed" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
	printf '\n== %s\n' "$*"
}

"$brig" --version

step "1. an OCI image layout, built here: busybox-static + a layer with /www/index.html"
"$repo/scripts/busybox-rootfs.sh" "$work/rootfs"
mkdir -p "$work/page/www"
echo '<h1>hello from a brig container</h1>' >"$work/page/www/index.html"
(
	cd "$work"
	umoci init --layout layout
	umoci new --image layout:web
	umoci insert --image layout:web rootfs /
	umoci insert --image layout:web page /
	umoci config --image layout:web --config.cmd httpd --config.cmd -f --config.cmd -p --config.cmd 80 \
		--config.cmd -h --config.cmd /www
) >"$work/umoci.log" 2>&1 || { cat "$work/umoci.log" >&2; exit 1; }
echo "layout $work/layout, layers: $(jq -r '.manifests[0].digest' "$work/layout/index.json" |
	cut -d: -f2 | xargs -I{} jq '.layers | length' "$work/layout/blobs/sha256/{}")"

# The bundle holds only the runtime config: the root comes from the image (--image), the process is httpd.
mkdir -p "$work/bundle"
(cd "$work/bundle" && "$brig" spec)
jq '.process.terminal = false | del(.root.path) | .root.readonly = false | .hostname = "web" | .linux.cgroupsPath = "/brig-demo/web"
	| .process.args = ["httpd", "-f", "-p", "80", "-h", "/www"]' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"

step "2. host stand-in: network namespace $hostns"
ip netns add "$hostns"
in_host ip link set lo up

echo "+ brig run -d --image $work/layout:web -p 8080:80 --bundle $work/bundle web"
b run -d --bundle "$work/bundle" --image "$work/layout:web" --store "$store" -p 8080:80 web \
	</dev/null >/dev/null
b state web | jq -c '{id, status, pid, ip, ports}'

echo "+ curl http://127.0.0.1:8080/ (inside $hostns)"
page=""
for _ in $(seq 1 50); do
	page=$(in_host curl -fsS --max-time 2 http://127.0.0.1:8080/ 2>/dev/null) && break
	sleep 0.1
done
[ -n "$page" ] || { echo "the page did not come through the published port" >&2; exit 1; }
echo "$page"

step "3. the container writes a file; brig diff shows it"
echo "+ brig exec web sh -c 'echo note >/www/note.txt; rm /www/index.html'"
b exec web sh -c 'echo note >/www/note.txt; rm /www/index.html'
echo "+ brig diff web"
b diff web
echo "+ the layer store is unchanged: $(find "$store" -name index.html | wc -l) index.html in it"

step "4. delete: container, veth, nft rules, store, layout, host stand-in"
b delete --force web
echo "left in $hostns: $(in_host ip -o link show type veth up | wc -l) veth up, $(in_host nft list map ip brig pf_any 2>/dev/null | grep -c 8080) port-forward element"
