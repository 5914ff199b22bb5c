#!/bin/bash
# brig's networking through the real CLI (issue 5):
#   1. what bridge networking (`--network brig`) and one published port (`-p 18080:80`) add to `run` of
#      /bin/true over a plain new network namespace; alternating runs, medians; the state root on tmpfs and
#      on /run (ext4 on the development VM); with the bridge kept up by another container ("warm", the
#      usual case) and with no other container, so each run makes and removes the bridge ("cold"), back to
#      back and one at a time (0.25 s apart: the bridge's deletion, left to a child, is over by then);
#   2. what one published port adds to create+delete (`run` of /bin/true with `-p` minus the same without)
#      while 1 and while N (500) other containers have a published port: it should stay flat;
#   3. TCP throughput (iperf3, 5 s each) to a server in a container: through the published port on a host
#      address and on 127.0.0.1, and direct to the container's address.
#
#   sudo bench/net-run.sh [--runs N] [--published N] [--no-iperf] [--netns-tool PATH] [BRIG_BINARY]
#
# Without BRIG_BINARY it builds a release brig in build-netbench/. --netns-tool (tests/netns_tool of any
# build) also times the nft batch alone (bench-ports) in the same namespace.
#
# Everything runs inside a network namespace made here to stand for the host (entered with nsenter, which
# keeps the machine's /sys and cgroup mounts in view); its lo also carries the "host address" 198.18.0.1. The machine's own namespace is never touched. The trap deletes every container (inside that
# namespace, so their veths and nft elements go), then the namespace (and the bridge and `ip brig` table with
# it), the state roots and the work directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
self=$(readlink -f "$0")
runs=30
published=500
iperf=1
iperf_secs=5
netns_tool=""
brig=""
host_addr=198.18.0.1

usage() {
	echo "usage: $0 [--runs N] [--published N] [--no-iperf] [--netns-tool PATH] [BRIG_BINARY]" >&2
	exit 2
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { awk '{ printf "%.2f", $1 / 1000 }'; }

# ---- inner part: runs inside the host-standing network namespace --------------------------------------------
if [ "${1:-}" = --inner ]; then
	shift
	work=$1 brig=$2 runs=$3 published=$4 iperf=$5 iperf_secs=$6 netns_tool=$7 outer_pid=$8
	prefix=$(basename "$work")
	export BRIG_CONFIG_DIR=$work/cfg

	# run_us ROOT ARGS...: one `run` of /bin/true; prints the elapsed microseconds.
	run_us() {
		local root=$1 t0 t1
		shift
		t0=${EPOCHREALTIME/./}
		if ! "$brig" --root "$root" run --bundle "$work/bundle-true" "$@" "$prefix-t" </dev/null >/dev/null \
			2>"$work/err"; then
			echo "net-run: run $* failed: $(cat "$work/err")" >&2
			return 1
		fi
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0))
	}

	# rounds ROOT TAG NAME=ARGS...: $runs alternating rounds of the variants, the first rotating; times go
	# to $work/t-TAG-NAME. With $pause set, each timed run starts that many seconds after the last one ended.
	pause=0
	rounds() {
		local root=$1 tag=$2 round k n
		shift 2
		local variants=("$@")
		n=${#variants[@]}
		for ((k = 0; k < n; k++)); do # warm-up
			# shellcheck disable=SC2086
			run_us "$root" ${variants[k]#*=} >/dev/null
		done
		for ((round = 0; round < runs; round++)); do
			for ((k = 0; k < n; k++)); do
				local v=${variants[(round + k) % n]}
				[ "$pause" = 0 ] || sleep "$pause"
				# shellcheck disable=SC2086
				run_us "$root" ${v#*=} >>"$work/t-$tag-${v%%=*}"
			done
		done
	}

	# start_detached ROOT ID BUNDLE ARGS...
	start_detached() {
		local root=$1 id=$2 bundle=$3
		shift 3
		"$brig" --root "$root" run -d --bundle "$bundle" "$@" "$id" </dev/null >/dev/null 2>"$work/err-$id" ||
			{ echo "net-run: run -d $id failed: $(cat "$work/err-$id")" >&2; return 1; }
	}

	report() { # report TAG BASE NAME...: medians and deltas vs BASE
		local tag=$1 base=$2 name b m
		shift 2
		b=$(median <"$work/t-$tag-$base")
		for name in "$base" "$@"; do
			m=$(median <"$work/t-$tag-$name")
			printf '  %-8s median %8s ms   delta %7s ms\n' "$name" "$(echo "$m" | ms)" \
				"$(awk -v a="$m" -v b="$b" 'BEGIN { printf "%+.2f", (a - b) / 1000 }')"
		done
	}

	echo "== 1. run /bin/true: plain new netns vs --network brig vs -p 18080:80 ($runs alternating runs each)"
	for where in tmpfs run; do
		root=$work/root-$where
		[ "$where" = run ] && root=$(cat "$work/run-root")
		echo "-- state root $root ($(stat -f -c %T "$root"))"
		rounds "$root" "cold-$where" plain= bridge="--network brig" port="-p 18080:80"
		pause=0.25 rounds "$root" "spaced-$where" plain= bridge="--network brig" port="-p 18080:80"
		start_detached "$root" "$prefix-keep" "$work/bundle-sleep" --network brig
		rounds "$root" "warm-$where" plain= bridge="--network brig" port="-p 18080:80"
		# Where the time goes: `run -d` of a sleeping container (create+start) and its `delete --force`.
		for ((round = 0; round < runs; round++)); do
			for v in plain= bridge="--network brig" port="-p 18080:80"; do
				t0=${EPOCHREALTIME/./}
				# shellcheck disable=SC2086
				start_detached "$root" "$prefix-s" "$work/bundle-sleep" ${v#*=}
				t1=${EPOCHREALTIME/./}
				"$brig" --root "$root" delete --force "$prefix-s"
				t2=${EPOCHREALTIME/./}
				echo $((t1 - t0)) >>"$work/t-up-$where-${v%%=*}"
				echo $((t2 - t1)) >>"$work/t-down-$where-${v%%=*}"
			done
		done
		"$brig" --root "$root" delete --force "$prefix-keep"
		echo " warm (another container keeps bridge brig0 up):"
		report "warm-$where" plain bridge port
		echo " warm, split: run -d of \`sleep\` (create+start), then delete --force"
		report "up-$where" plain bridge port | sed 's/^ /   run -d/'
		report "down-$where" plain bridge port | sed 's/^ /   delete/'
		echo " cold (no other container: each run makes and removes brig0), back to back:"
		report "cold-$where" plain bridge port
		echo " cold, one at a time (each run starts 0.25 s after the last ended, as from a shell):"
		report "spaced-$where" plain bridge port
	done

	echo
	echo "== 2. one published port added to run (create+delete) with 1 and with $published containers published"
	echo "   (network \`bench\`: bridge brigb0, 10.90.0.0/20; state root on tmpfs; $runs alternating runs)"
	root=$work/root-tmpfs
	start_detached "$root" "$prefix-p0" "$work/bundle-sleep" --network bench -p 20000:80
	for count in 1 "$published"; do
		if [ "$count" -gt 1 ]; then
			t0=${EPOCHREALTIME/./}
			# shellcheck disable=SC2016 # expanded by the inner sh
			seq 1 $((count - 1)) | xargs -P 4 -I{} sh -c \
				'"$1" --root "$2" run -d --bundle "$3" --network bench -p $((20000 + $4)):80 "$5-p$4" </dev/null >/dev/null' \
				sh "$brig" "$root" "$work/bundle-sleep" {} "$prefix"
			t1=${EPOCHREALTIME/./}
			echo "   ($((count - 1)) more published containers started in $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", t / 1e6 }') s, 4 at a time)"
		fi
		elements=$(nft list map ip brig pf_any | grep -c 'tcp \. ' || true)
		echo "-- $count published (pf_any holds $elements elements, $(ip -o link show type veth | wc -l) veths)"
		rounds "$root" "pub$count" noport="--network bench" port="--network bench -p 18080:80"
		report "pub$count" noport port
		if [ -n "$netns_tool" ]; then
			# The same `ip brig` table, which already holds $count elements from the containers. netns_tool
			# insists on entering the namespace itself, so it starts from the outer script's one.
			nsenter --net="/proc/$outer_pid/ns/net" "$netns_tool" --host-netns "/run/netns/$prefix" bench-ports --root "$work/root-tool" -n 0 -r 300 2>&1 |
				sed "s/with 0 published/(nft batch alone, $count already in the maps)/; s/^/   /" || true
		fi
	done
	t0=${EPOCHREALTIME/./}
	"$brig" --root "$root" list -q | grep "^$prefix-p" | xargs -P 4 -n 1 "$brig" --root "$root" delete --force
	t1=${EPOCHREALTIME/./}
	echo "   ($published containers deleted in $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", t / 1e6 }') s, 4 at a time)"

	[ "$iperf" = 1 ] || exit 0
	echo
	echo "== 3. iperf3 TCP throughput to a server in a container, ${iperf_secs} s each"
	start_detached "$root" "$prefix-iperf" "$work/bundle-iperf" --network brig -p 15201:5201
	pid=$("$brig" --root "$root" state "$prefix-iperf" | jq -r .pid)
	cip=$("$brig" --root "$root" state "$prefix-iperf" | jq -r .ip)
	for _ in $(seq 100); do
		[ -n "$(nsenter --net="/proc/$pid/ns/net" ss -Hltn 'sport = :5201')" ] && break
		sleep 0.05
	done
	for target in "$host_addr:15201 published port, host address" "127.0.0.1:15201 published port, loopback" \
		"$cip:5201 direct to the container"; do
		addr=${target%% *}
		out=$(iperf3 -c "${addr%:*}" -p "${addr#*:}" -t "$iperf_secs" -J 2>&1) || true
		if jq -e .end.sum_received.bits_per_second <<<"$out" >/dev/null 2>&1; then
			printf '  %-22s %-34s %6.2f Gbit/s\n' "$addr" "${target#* }" \
				"$(jq '.end.sum_received.bits_per_second / 1e9' <<<"$out")"
		else
			printf '  %-22s %-34s failed: %s\n' "$addr" "${target#* }" "$(jq -r .error <<<"$out" 2>/dev/null || echo "$out")"
		fi
	done
	"$brig" --root "$root" delete --force "$prefix-iperf"
	exit 0
fi

# ---- outer part ---------------------------------------------------------------------------------------------
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--published) [ $# -ge 2 ] || usage; published=$2; shift 2 ;;
	--netns-tool) [ $# -ge 2 ] || usage; netns_tool=$(readlink -f "$2"); shift 2 ;;
	--no-iperf) iperf=0; shift ;;
	-h | --help | -*) usage ;;
	*) [ -z "$brig" ] || usage; brig=$1; shift ;;
	esac
done
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] || usage
[[ "$published" =~ ^[0-9]+$ ]] && [ "$published" -ge 2 ] && [ "$published" -le 4000 ] || usage
[ "$(id -u)" -eq 0 ] || { echo "net-run: run as root" >&2; exit 1; }
if [ "$iperf" = 1 ] && ! command -v iperf3 >/dev/null; then
	echo "net-run: iperf3 is not installed (scripts/setup.sh installs it); use --no-iperf" >&2
	exit 1
fi

if [ -z "$brig" ]; then
	echo "net-run: building a release brig in build-netbench/" >&2
	brig=$("$repo/scripts/release-brig.sh" "$repo/build-netbench")
fi
brig=$(readlink -f "$brig")
[ -x "$brig" ] || { echo "net-run: $brig is not executable" >&2; exit 1; }

work=$(mktemp -d /dev/shm/brig-netrun.XXXXXX)
chmod 755 "$work"
run_root=$(mktemp -d /run/brig-netrun.XXXXXX)
echo "$run_root" >"$work/run-root"
prefix=$(basename "$work")
hostns=$prefix

cleanup() {
	local root id
	if [ -e "/run/netns/$hostns" ]; then
		for root in "$work/root-tmpfs" "$run_root"; do
			[ -d "$root" ] || continue
			for id in $(nsenter --net="/run/netns/$hostns" "$brig" --root "$root" list -q 2>/dev/null); do
				nsenter --net="/run/netns/$hostns" "$brig" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
			done
		done
		ip netns del "$hostns"
	fi
	rm -rf "$work" "$run_root"
}
trap cleanup EXIT

# Busybox rootfs; the iperf3 one adds the host's iperf3 and the libraries ldd names, at the same paths.
rootfs=$work/rootfs
"$repo/scripts/busybox-rootfs.sh" "$rootfs"
if [ "$iperf" = 1 ]; then
	cp -a "$rootfs" "$work/rootfs-iperf"
	iperf_bin=$(readlink -f "$(command -v iperf3)")
	for f in "$iperf_bin" $(ldd "$iperf_bin" | grep -o '/[^ ]*'); do
		mkdir -p "$work/rootfs-iperf$(dirname "$f")"
		cp -L "$f" "$work/rootfs-iperf$f"
	done
fi

# One config from `brig spec` (new pid, net, ipc, uts and mount namespaces, read-only rootfs). No
# cgroupsPath: brig puts each container under /brig/<id> and delete removes it.
(cd "$work" && "$brig" spec)
make_bundle() { # make_bundle NAME ROOTFS ARGS_JSON
	mkdir -p "$work/bundle-$1"
	jq --arg r "$2" --argjson a "$3" '.root.path = $r | .process.terminal = false | .process.args = $a
		| del(.linux.cgroupsPath)' "$work/config.json" >"$work/bundle-$1/config.json"
}
make_bundle true "$rootfs" '["/bin/true"]'
make_bundle sleep "$rootfs" '["sleep", "100000"]'
[ "$iperf" = 0 ] || make_bundle iperf "$work/rootfs-iperf" "[\"$iperf_bin\", \"-s\", \"-p\", \"5201\"]"
# iperf3 makes its buffer file in /tmp (mkstemp), and the rootfs is read-only.
if [ "$iperf" = 1 ]; then
	jq '.mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"]}]' \
		"$work/bundle-iperf/config.json" >"$work/c.json"
	mv "$work/c.json" "$work/bundle-iperf/config.json"
fi
# A named network big enough for the published containers of part 2.
mkdir -p "$work/cfg/networks" "$work/root-tmpfs" "$work/root-tool"
echo '{"bridge": "brigb0", "subnet": "10.90.0.0/20", "gateway": "10.90.0.1"}' >"$work/cfg/networks/bench.json"

ip netns add "$hostns"
ip -n "$hostns" link set lo up
# This kernel has no dummy driver: the host address sits on lo, which is as local as any.
ip -n "$hostns" addr add "$host_addr/32" dev lo

echo "host: $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); $("$brig" --version | head -1)"
echo "host stand-in: network namespace $hostns (nsenter --net), host address $host_addr on its lo"
echo
nsenter --net="/run/netns/$hostns" "$self" --inner "$work" "$brig" "$runs" "$published" "$iperf" "$iperf_secs" \
	"$netns_tool" $$
