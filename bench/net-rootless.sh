#!/bin/bash
# Rootless networking (issue 13), as an unprivileged user this script makes, in one run:
#   1. `run` start cost of /bin/true with --network none, slirp4netns and pasta (one published port each);
#      alternating rounds, medians, ratios to none;
#   2. TCP throughput (iperf3, N s each) to a server in the container through the published port on the
#      host's 127.0.0.1, with brig + slirp4netns, brig + pasta, and rootless Podman 4.3 with slirp4netns
#      (port_handler=slirp4netns: the same helper forwarding the port; Debian ships no rootlessport);
#      medians of several client runs; ratios brig/Podman on the same backend.
#
#   sudo bench/net-rootless.sh [--runs N] [--iperf-runs N] [--secs N] [BRIG_BINARY]
#
# Without BRIG_BINARY it builds a release brig in build-netbench/. Everything runs inside network namespaces
# made here (H stands for the host: lo and an uplink 192.168.79.1, routed to O); brig and Podman run in H as
# the user (nsenter keeps the machine's /sys in view). The trap removes containers, the user, the namespaces
# and the work directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=20
iperf_runs=5
secs=3
brig=""

while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--iperf-runs) iperf_runs=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	-*) echo "usage: $0 [--runs N] [--iperf-runs N] [--secs N] [BRIG_BINARY]" >&2; exit 2 ;;
	*) brig=$1; shift ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "net-rootless: run as root (it makes a user and namespaces)" >&2; exit 1; }
for tool in slirp4netns pasta iperf3 podman jq; do
	command -v "$tool" >/dev/null || { echo "net-rootless: $tool missing (scripts/setup.sh)" >&2; exit 1; }
done
if [ -z "$brig" ]; then
	cmake -S "$repo" -B "$repo/build-netbench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$repo/build-netbench" -j2 --target brig >/dev/null
	brig=$repo/build-netbench/brig
fi

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

tag=$$
user=brigbench$tag
work=$(mktemp -d /tmp/brig-netrl.XXXXXX)
H=brigrl-h-$tag
O=brigrl-o-$tag
chmod 755 "$work"

cleanup() {
	set +e
	as_user "$work/brig" delete --force bs >/dev/null 2>&1
	as_user "$work/brig" delete --force bp >/dev/null 2>&1
	as_user "$work/podman" rm -f -t 0 pm >/dev/null 2>&1
	pkill -KILL -u "$user" 2>/dev/null
	sleep 0.3
	userdel "$user" 2>/dev/null
	ip netns del "$H" 2>/dev/null
	ip netns del "$O" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
[ -z "${BENCH_DEBUG:-}" ] || trap - EXIT

useradd -M -d /nonexistent -s /bin/sh "$user"
for f in subuid subgid; do
	start=$(awk -F: 'BEGIN { end = 200000 } $2 + $3 > end { end = $2 + $3 } END { print end }' "/etc/$f")
	[ $f = subuid ] && opt=--add-subuids || opt=--add-subgids
	usermod "$opt" "$start-$((start + 65535))" "$user"
done

ip netns add "$H"
ip netns add "$O"
ip -n "$H" link set lo up
ip -n "$H" link add uplink type veth peer name eth0 netns "$O"
ip -n "$H" addr add 192.168.79.1/24 dev uplink
ip -n "$H" link set uplink up
ip -n "$O" addr add 192.168.79.2/24 dev eth0
ip -n "$O" link set eth0 up
ip -n "$H" route add default via 192.168.79.2

# The rootfs: busybox, and iperf3 with the libraries it links.
rootfs=$work/rootfs
"$repo/scripts/busybox-rootfs.sh" "$rootfs"
cp /usr/bin/iperf3 "$rootfs/bin/iperf3"
for lib in $(ldd /usr/bin/iperf3 | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
	mkdir -p "$rootfs$(dirname "$lib")"
	cp -L "$lib" "$rootfs$lib"
done
touch "$rootfs/etc/hosts" "$rootfs/etc/resolv.conf"

mkdir -p "$work/xdg" "$work/b" "$work/home"
cp "$brig" "$work/brig"
chmod 755 "$work/brig"
chown -R "$user" "$work/xdg" "$work/b" "$work/home"
chmod 700 "$work/xdg"

# as_user CMD...: as the user, in H.
as_user() {
	nsenter --net="/run/netns/$H" su "$user" -c "cd $work/b && HOME=$work/home XDG_RUNTIME_DIR=$work/xdg $(printf '%q ' "$@")"
}

as_user "$work/brig" spec --rootless
jq --arg r "$rootfs" '.root.path = $r | .process.terminal = false | .linux.namespaces += [{type: "network"}]
	| .process.args = ["true"]' "$work/b/config.json" >"$work/b/true.json"
# iperf3 makes its buffers' files in /tmp (the rootless root is read-only).
jq '.process.args = ["iperf3", "-s"] | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs",
	options: ["nosuid", "nodev"]}]' "$work/b/true.json" >"$work/b/iperf.json"
chown "$user" "$work/b/true.json" "$work/b/iperf.json"

# ---- 1. start cost ----
run_us() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	as_user "$work/brig" run -f true.json "$@" rt </dev/null >/dev/null 2>"$work/err" ||
		{ echo "net-rootless: run $* failed: $(cat "$work/err")" >&2; return 1; }
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0))
}
# su's own cost is in every variant; `none` measures it with the rest of a rootless run.
variants=("none=--network none" "slirp4netns=--network slirp4netns -p 18080:80" "pasta=--network pasta -p 18080:80")
for v in "${variants[@]}"; do
	# shellcheck disable=SC2086
	run_us ${v#*=} >/dev/null
done
for ((round = 0; round < runs; round++)); do
	for ((k = 0; k < ${#variants[@]}; k++)); do
		v=${variants[(round + k) % ${#variants[@]}]}
		# shellcheck disable=SC2086
		run_us ${v#*=} >>"$work/t-${v%%=*}"
	done
done
echo "== 1. rootless \`run\` of /bin/true (as the user through su, $runs alternating rounds, median ms)"
base=$(median <"$work/t-none")
for v in "${variants[@]}"; do
	name=${v%%=*}
	m=$(median <"$work/t-$name")
	awk -v n="$name" -v m="$m" -v b="$base" 'BEGIN { printf "  %-12s %8.2f ms  (x%.2f of none, +%.2f ms)\n", n, m / 1000, m / b, (m - b) / 1000 }'
done

# ---- 2. iperf3 ----
# The three servers run at once and the client runs alternate between them (the first rotating), so that a
# loaded machine weighs on each the same.
iperf_once() {
	nsenter --net="/run/netns/$H" iperf3 -c 127.0.0.1 -p "$1" -t "$secs" -J | jq '.end.sum_received.bits_per_second / 1e9'
}
wait_server() {
	local i
	for i in $(seq 30); do
		nsenter --net="/run/netns/$H" iperf3 -c 127.0.0.1 -p "$1" -t 1 >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "net-rootless: no iperf3 server on port $1" >&2
	return 1
}

echo "== 2. iperf3 TCP to a server in the container through the published port on 127.0.0.1 ($iperf_runs alternating rounds of ${secs} s, median)"
as_user "$work/brig" run -d -f iperf.json --network slirp4netns -p 15201:5201 bs </dev/null >/dev/null 2>&1
as_user "$work/brig" run -d -f iperf.json --network pasta -p 15202:5201 bp </dev/null >/dev/null 2>&1
ps -u "$user" -o args= | grep '^slirp4netns' | sed 's/^/  brig runs: /' | cut -c1-160

# brig as Podman's OCI runtime: crun refuses this cgroup v1 hybrid host, and the runtime is not what is measured
# (the same slirp4netns carries the port).
cat >"$work/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "brig"
runtime_supports_json = ["brig"]
[engine.runtimes]
brig = ["$work/brig"]
EOF
chmod 644 "$work/containers.conf"
cat >"$work/podman" <<EOF
#!/bin/sh
export HOME=$work/home XDG_RUNTIME_DIR=$work/xdg CONTAINERS_CONF=$work/containers.conf
exec podman --root $work/home/pm-root --runroot $work/xdg/pm-run --cgroup-manager cgroupfs --events-backend file "\$@"
EOF
chmod 755 "$work/podman"
servers=("slirp=15201" "pasta=15202")
if tar -C "$rootfs" -c . | as_user "$work/podman" import -q - localhost/iperf:bench >/dev/null 2>"$work/err" &&
	as_user "$work/podman" run -d --name pm --network slirp4netns:port_handler=slirp4netns -p 15203:5201 \
		localhost/iperf:bench iperf3 -s >/dev/null 2>>"$work/err"; then
	ps -u "$user" -o args= | grep 'slirp4netns.*libpod' | sed 's/^/  podman runs: /' | cut -c1-160
	servers+=("podman=15203")
else
	echo "  rootless podman failed: $(tail -n 2 "$work/err")" >&2
fi
for v in "${servers[@]}"; do wait_server "${v#*=}"; done
for ((round = 0; round < iperf_runs; round++)); do
	for ((k = 0; k < ${#servers[@]}; k++)); do
		v=${servers[(round + k) % ${#servers[@]}]}
		iperf_once "${v#*=}" >>"$work/i-${v%%=*}"
	done
done
g_slirp=$(median <"$work/i-slirp")
g_pasta=$(median <"$work/i-pasta")
printf '  brig + slirp4netns    %6.2f Gbit/s\n' "$g_slirp"
printf '  brig + pasta          %6.2f Gbit/s  (x%.2f of brig + slirp4netns)\n' "$g_pasta" \
	"$(awk -v a="$g_pasta" -v b="$g_slirp" 'BEGIN { print a / b }')"
if [ -f "$work/i-podman" ]; then
	g_podman=$(median <"$work/i-podman")
	printf '  podman + slirp4netns  %6.2f Gbit/s  (brig/podman on slirp4netns: x%.2f)\n' "$g_podman" \
		"$(awk -v a="$g_slirp" -v b="$g_podman" 'BEGIN { print a / b }')"
	# Paired: each round's brig/Podman ratio (their client runs are next to each other, under the same load),
	# then the median and the spread of those ratios, and how many rounds brig was ahead.
	paste "$work/i-slirp" "$work/i-podman" | awk '{ print $1 / $2 }' >"$work/r-slirp"
	printf '  brig/podman on slirp4netns, paired by round: median x%.2f, range x%.2f-x%.2f, brig ahead in %d of %d\n' \
		"$(median <"$work/r-slirp")" "$(sort -n "$work/r-slirp" | head -1)" "$(sort -n "$work/r-slirp" | tail -1)" \
		"$(awk '$1 >= 1' "$work/r-slirp" | wc -l)" "$(wc -l <"$work/r-slirp")"
	as_user "$work/podman" rm -f -t 0 pm >/dev/null 2>&1
	for ((i = 0; i < 5; i++)); do
		t0=${EPOCHREALTIME/./}
		as_user "$work/podman" run --rm --network slirp4netns:port_handler=slirp4netns -p 18081:80 \
			localhost/iperf:bench true >/dev/null 2>&1
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0))
	done >"$work/t-podman"
	printf '  (scale) podman run --rm true with slirp4netns -p: %.1f ms, median of 5\n' \
		"$(median <"$work/t-podman" | awk '{ print $1 / 1000 }')"
fi
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
