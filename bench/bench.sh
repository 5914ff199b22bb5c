#!/bin/bash
# Start-up benchmark: brig vs crun vs runc running /bin/true from the same busybox-static bundle.
#
#   sudo bench/bench.sh [--runs N] [BRIG_BINARY]
#
# Without BRIG_BINARY it builds a release brig (no sanitizers) in build-bench/.
#
# What is measured, per runtime:
#   - `run` wall time of one container, median (and p90) over N runs (default 30);
#   - wall time of 100 sequential `run`s;
#   - peak RSS of the runtime process tree (GNU time %M), median over the RSS rounds.
# Runtimes alternate within each round and the starting runtime rotates from round to round, so the
# machine's slow drift (idle vCPUs waking, page cache) hits all three alike.
#
# Fairness: crun 1.8 refuses this hybrid cgroup host unless /sys/fs/cgroup/unified/cgroup.controllers
# reads empty (see the notes on the machine). Rather than wrapping only crun (which would add an unshare,
# a shell and a mount to each of its runs), the whole measurement runs inside ONE private mount namespace
# in which an empty file is bind-mounted over that file. All three runtimes then see the same host view,
# and none pays any per-run wrapper cost. The config is identical for all three: the `spec` defaults
# (pid, network, ipc, uts and mount namespaces, the default mounts, masked and read-only paths, no
# terminal), an absolute cgroupsPath under /brig-bench/, and /bin/true as the process.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=30
brig=""

usage() {
	echo "usage: $0 [--runs N] [BRIG_BINARY]" >&2
	exit 2
}

# ---- inner part: runs inside the private mount namespace ------------------------------------------------
if [ "${1:-}" = --inner ]; then
	work=$2 runs=$3
	shift 3
	runtimes=("$@")
	empty=$work/empty
	: >"$empty"
	if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
		mount --bind "$empty" /sys/fs/cgroup/unified/cgroup.controllers
	fi

	declare -A bin
	for spec in "${runtimes[@]}"; do
		bin[${spec%%=*}]=${spec#*=}
	done
	names=("${!bin[@]}")
	IFS=$'\n' names=($(sort <<<"${names[*]}"))
	unset IFS

	# one_run NAME: one `run` of /bin/true; prints the elapsed microseconds.
	one_run() {
		local name=$1 t0 t1
		t0=${EPOCHREALTIME/./}
		if ! "${bin[$name]}" --root "$work/root-$name" run --bundle "$work/bundle-$name" "bench-$name" \
			</dev/null >/dev/null 2>"$work/err-$name"; then
			echo "bench: $name run failed: $(cat "$work/err-$name")" >&2
			return 1
		fi
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0))
	}

	# Warm up the page cache and each runtime's first-run costs.
	for name in "${names[@]}"; do
		for _ in 1 2 3; do one_run "$name" >/dev/null; done
	done

	n=${#names[@]}
	for ((round = 0; round < runs; round++)); do
		for ((k = 0; k < n; k++)); do
			name=${names[(round + k) % n]}
			one_run "$name" >>"$work/times-$name"
		done
	done

	for ((k = 0; k < n; k++)); do
		name=${names[k]}
		t0=${EPOCHREALTIME/./}
		for _ in $(seq 100); do
			"${bin[$name]}" --root "$work/root-$name" run --bundle "$work/bundle-$name" "bench-$name" \
				</dev/null >/dev/null 2>&1 || { echo "bench: $name failed in the 100-run loop" >&2; exit 1; }
		done
		t1=${EPOCHREALTIME/./}
		echo $((t1 - t0)) >"$work/hundred-$name"
	done

	rss_rounds=$(( runs < 10 ? runs : 10 ))
	for ((round = 0; round < rss_rounds; round++)); do
		for ((k = 0; k < n; k++)); do
			name=${names[(round + k) % n]}
			/usr/bin/time -f %M -o "$work/rss-one" "${bin[$name]}" --root "$work/root-$name" run \
				--bundle "$work/bundle-$name" "bench-$name" </dev/null >/dev/null 2>&1
			cat "$work/rss-one" >>"$work/rss-$name"
		done
	done
	exit 0
fi

# ---- outer part ----------------------------------------------------------------------------------------
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
	-h | --help) usage ;;
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
[ -x "$brig" ] || { echo "bench: $brig is not executable" >&2; exit 1; }

runtimes=("brig=$brig")
for rt in crun runc; do
	if path=$(command -v "$rt"); then
		runtimes+=("$rt=$path")
	else
		echo "bench: $rt not installed, left out (scripts/setup.sh installs it)" >&2
	fi
done

work=$(mktemp -d /tmp/brig-bench.XXXXXX)
chmod 755 "$work"

cleanup() {
	local spec name
	for spec in "${runtimes[@]}"; do
		name=${spec%%=*}
		[ -d "$work/root-$name" ] || continue
		"${spec#*=}" --root "$work/root-$name" delete --force "bench-$name" >/dev/null 2>&1 || true
	done
	local mnt
	for mnt in $(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u); do
		[ -d "$mnt/brig-bench" ] && find "$mnt/brig-bench" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

# The busybox-static rootfs: /bin/busybox plus its applets.
rootfs=$work/rootfs
"$repo/scripts/busybox-rootfs.sh" "$rootfs"

# One config for everyone (from brig's `spec`, which writes runc's defaults), one bundle per runtime so
# each gets its own cgroupsPath. ociVersion 1.0.2: crun 1.8 refuses versions it does not know.
(cd "$work" && "$brig" spec) || { echo "bench: brig spec failed" >&2; exit 1; }
for spec in "${runtimes[@]}"; do
	name=${spec%%=*}
	mkdir -p "$work/bundle-$name" "$work/root-$name"
	jq --arg r "$rootfs" --arg cg "/brig-bench/$name" '
		.root.path = $r | .process.terminal = false | .process.args = ["/bin/true"]
		| .ociVersion = "1.0.2"
		| .linux.cgroupsPath = $cg' "$work/config.json" >"$work/bundle-$name/config.json"
done

echo "bench: $runs alternating runs per runtime, 100 sequential runs each, then peak RSS" >&2
unshare -m --propagation private "$(readlink -f "$0")" --inner "$work" "$runs" "${runtimes[@]}"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
p90() { sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.9 + 0.999); if (i < 1) i = 1; print v[i] }'; }

declare -A run_ms p90_ms hundred_s rss_mib
for spec in "${runtimes[@]}"; do
	name=${spec%%=*}
	run_ms[$name]=$(median <"$work/times-$name" | awk '{ printf "%.2f", $1 / 1000 }')
	p90_ms[$name]=$(p90 <"$work/times-$name" | awk '{ printf "%.2f", $1 / 1000 }')
	hundred_s[$name]=$(awk '{ printf "%.2f", $1 / 1e6 }' "$work/hundred-$name")
	rss_mib[$name]=$(median <"$work/rss-$name" | awk '{ printf "%.1f", $1 / 1024 }')
done

ratio() { # ratio NAME ARRAY
	local -n arr=$2
	if [ -n "${arr[crun]:-}" ]; then
		awk -v a="${arr[$1]}" -v b="${arr[crun]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
	else
		echo -
	fi
}

echo
echo "host: $(uname -r), $(nproc) cpus; $runs runs per runtime (median, p90), /bin/true, busybox-static bundle"
for spec in "${runtimes[@]}"; do
	name=${spec%%=*}
	echo "  $name: $("${spec#*=}" --version 2>/dev/null | head -1)"
done
echo
printf '%-6s %12s %10s %14s %14s %12s %12s %12s\n' runtime "run ms (med)" "p90 ms" "100 runs (s)" "peak RSS MiB" "run/crun" "100x/crun" "RSS/crun"
for name in brig crun runc; do
	[ -n "${run_ms[$name]:-}" ] || continue
	printf '%-6s %12s %10s %14s %14s %12s %12s %12s\n' "$name" "${run_ms[$name]}" "${p90_ms[$name]}" \
		"${hundred_s[$name]}" "${rss_mib[$name]}" "$(ratio "$name" run_ms)" "$(ratio "$name" hundred_s)" \
		"$(ratio "$name" rss_mib)"
done
