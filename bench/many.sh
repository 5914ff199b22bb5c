#!/bin/bash
# Many containers running at once (issue 17): N (1000 by default) busybox containers created one after
# another, then started, all running at the same time; `list` them, `exec` into a few, then delete them all.
# Reports the time per container of create, start and delete --force, what `list` and `exec` take with N
# running, the memory of processes other than the containers' own (brig keeps no monitor process: it must
# be none), the containers' own memory for comparison, the state directory's size per container, and
# checks that nothing is left at the end (state, cgroups, processes, mounts). Containers share one rootfs
# (an absolute root.path) and get no network of brig's (the config's own empty network namespace only):
# nothing touches the machine's interfaces or firewall. Cgroups live under /brig-bench-many-PID in every
# hierarchy. Everything is deleted at the end, on failure too.
#   sudo N=1000 bench/many.sh [BRIG_BINARY]     (default: a release build in build-release)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-1000}
execs=${EXECS:-5}
if [ $# -ge 1 ]; then
	brig=$(readlink -f "$1")
else
	cmake -S "$repo" -B "$repo/build-release" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$repo/build-release" --target brig -j2 >/dev/null
	brig=$repo/build-release/brig
fi
work=$(mktemp -d /tmp/brig-bench-many.XXXXXX)
chmod 755 "$work"
root=$work/state
cg=brig-bench-many-$$
# Every brig command and every container process carries it: what finds them, and nothing else.
token=brig-bench-many-$$-$RANDOM

cgroup_mounts() {
	awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u
}

# Pids carrying the token (brig commands, their children, container processes).
token_pids() {
	grep -lsaF "BENCH_TOKEN=$token" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true
}

cleanup() {
	local id mnt p
	trap - EXIT
	if [ -d "$root" ]; then
		for id in $("$brig" --root "$root" list -q 2>/dev/null); do
			BENCH_TOKEN=$token "$brig" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	p=$(token_pids)
	# shellcheck disable=SC2086 # one pid a word
	[ -z "$p" ] || kill -9 $p 2>/dev/null || true
	while read -r mnt; do
		[ -d "$mnt/$cg" ] || continue
		find "$mnt/$cg" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$mnt/$cg" 2>/dev/null || true
	done < <(cgroup_mounts)
	awk -v d="$work/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r umount -l
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

b() {
	BENCH_TOKEN=$token "$brig" --root "$root" "$@" </dev/null
}

now_us() { echo "${EPOCHREALTIME/./}"; }

"$repo/scripts/busybox-rootfs.sh" "$work/rootfs" >/dev/null
mkdir -p "$work/bundle"
(cd "$work/bundle" && "$brig" spec)
jq --arg tok "BENCH_TOKEN=$token" --arg r "$work/rootfs" '.process.terminal = false | .root.path = $r
	| .root.readonly = false | .process.env += [$tok] | .process.args = ["sleep", "100000"]' \
	"$work/bundle/config.json" >"$work/c.json" && mv "$work/c.json" "$work/bundle/config.json"
for ((i = 0; i < n; i++)); do
	jq --arg cg "/$cg/c$i" '.linux.cgroupsPath = $cg' "$work/bundle/config.json" >"$work/bundle/c$i.json"
done

avail_kib() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
sync
mem0=$(avail_kib)

# The first and the last tenth timed apart too: does a create cost more with many containers there?
tenth=$((n / 10 > 0 ? n / 10 : 1))
t0=$(now_us)
for ((i = 0; i < n; i++)); do
	[ "$i" -eq "$tenth" ] && tc_first=$(now_us)
	[ "$i" -eq $((n - tenth)) ] && tc_last=$(now_us)
	b create --bundle "$work/bundle" --config "c$i.json" "c$i" >/dev/null 2>>"$work/err" ||
		{ echo "create c$i failed: $(tail -1 "$work/err")" >&2; exit 1; }
done
t1=$(now_us)
for ((i = 0; i < n; i++)); do
	b start "c$i" 2>>"$work/err" || { echo "start c$i failed: $(tail -1 "$work/err")" >&2; exit 1; }
done
t2=$(now_us)

# With all N running: list, then exec into a few.
tl0=$(now_us)
b list >"$work/list.txt"
tl1=$(now_us)
b list --format json >"$work/list.json"
tl2=$(now_us)
running=$(jq '[.[] | select(.status == "running")] | length' "$work/list.json")
[ "$running" -eq "$n" ] || { echo "list shows $running of $n running" >&2; exit 1; }
exec_total=0
for ((k = 0; k < execs; k++)); do
	i=$((k * (n - 1) / (execs > 1 ? execs - 1 : 1)))
	te0=$(now_us)
	out=$(b exec "c$i" cat /proc/1/cmdline | tr '\0' ' ')
	te1=$(now_us)
	[ "$out" = "sleep 100000 " ] || { echo "exec into c$i printed: $out" >&2; exit 1; }
	exec_total=$((exec_total + te1 - te0))
done

# Memory while all N run. Processes carrying the token that are not in a container's cgroup are brig's own
# (a monitor, a leftover CLI): there must be none. The containers' own are counted for comparison.
brig_procs=0 brig_rss=0 cont_procs=0 cont_rss=0 cont_pss=0
for p in $(token_pids); do
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
	[ -n "$rss" ] || continue
	if grep -q ":/$cg/" "/proc/$p/cgroup" 2>/dev/null; then
		pss=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || pss=0
		cont_procs=$((cont_procs + 1)) cont_rss=$((cont_rss + rss)) cont_pss=$((cont_pss + ${pss:-0}))
	else
		brig_procs=$((brig_procs + 1)) brig_rss=$((brig_rss + rss))
		echo "not a container's: $(tr '\0' ' ' <"/proc/$p/cmdline")" >&2
	fi
done
exe_brig=0
for p in /proc/[0-9]*; do
	# create, run and exec run from a sealed copy of the binary (a memfd; any brig's is named so: this run's
	# carry the token), the other commands from the file.
	case "$(readlink "$p/exe" 2>/dev/null)" in
	"$brig") exe_brig=$((exe_brig + 1)) ;;
	"/memfd:brig (deleted)") grep -qsaF "BENCH_TOKEN=$token" "$p/environ" && exe_brig=$((exe_brig + 1)) ;;
	esac
done
memcg_kib=0
for ((i = 0; i < n; i++)); do
	memcg_kib=$((memcg_kib + $(cat "/sys/fs/cgroup/memory/$cg/c$i/memory.usage_in_bytes" 2>/dev/null || echo 0) / 1024))
done
mem1=$(avail_kib)
state_bytes=$(du -scb --apparent-size "$root"/c* | tail -n 1 | cut -f1)
state_kib=$(du -sck "$root"/c* | tail -n 1 | cut -f1)
state_files=$(find "$root" -mindepth 2 -type f | wc -l)

t3=$(now_us)
for ((i = 0; i < n; i++)); do
	b delete --force "c$i" 2>>"$work/err" || { echo "delete c$i failed: $(tail -1 "$work/err")" >&2; exit 1; }
done
t4=$(now_us)

# Nothing left: state, cgroups in any hierarchy, processes, mounts.
left_state=$(find "$root" -mindepth 1 -maxdepth 1 ! -name .cache | wc -l)
left_cg=0
while read -r mnt; do
	[ -d "$mnt/$cg" ] && left_cg=$((left_cg + $(find "$mnt/$cg" -mindepth 1 -type d | wc -l)))
done < <(cgroup_mounts)
left_procs=$(token_pids | wc -l)
left_mounts=$(awk -v d="$work/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l)
errors=$(grep -c . "$work/err" || true)

awk -v n="$n" -v tenth="$tenth" -v tf="$((tc_first - t0))" -v tt="$((t1 - tc_last))" -v tc="$((t1 - t0))" -v ts="$((t2 - t1))" -v td="$((t4 - t3))" -v tl="$((tl1 - tl0))" \
	-v tj="$((tl2 - tl1))" -v te="$exec_total" -v ne="$execs" -v bp="$brig_procs" -v br="$brig_rss" \
	-v eb="$exe_brig" -v cp="$cont_procs" -v cr="$cont_rss" -v cs="$cont_pss" -v mc="$memcg_kib" -v m0="$mem0" -v m1="$mem1" \
	-v sb="$state_bytes" -v sk="$state_kib" -v sf="$state_files" -v ls="$left_state" -v lc="$left_cg" \
	-v lp="$left_procs" -v lm="$left_mounts" -v er="$errors" 'BEGIN {
	printf "%d containers running at once\n", n
	printf "%-46s %9.1f s  (%.1f ms each)\n", "create, one after another", tc / 1e6, tc / 1e3 / n
	printf "%-46s %9.1f ms each, the last %d: %.1f ms each\n", "create, the first " tenth, tf / 1e3 / tenth, tenth, tt / 1e3 / tenth
	printf "%-46s %9.1f s  (%.1f ms each)\n", "start", ts / 1e6, ts / 1e3 / n
	printf "%-46s %9.1f s  (%.1f ms each)\n", "delete --force", td / 1e6, td / 1e3 / n
	printf "%-46s %9.1f ms\n", "list (table), " n " running", tl / 1e3
	printf "%-46s %9.1f ms\n", "list --format json, " n " running", tj / 1e3
	printf "%-46s %9.1f ms  (mean of %d)\n", "exec CONTAINER cat /proc/1/cmdline", te / 1e3 / ne, ne
	printf "%-46s %9d processes, %d KiB RSS; %d running brig'"'"'s binary\n", "brig'"'"'s own, while all run", bp, br, eb
	printf "%-46s %9d processes, %.0f KiB RSS, %.0f KiB PSS each\n", "the containers'"'"' own (sleep)", cp, cp ? cr / cp : 0, cp ? cs / cp : 0
	printf "%-46s %9.0f KiB each (memory.usage_in_bytes)\n", "container memory cgroups", mc / n
	printf "%-46s %9.0f KiB each (noisy: a shared host)\n", "MemAvailable drop", (m0 - m1) / n
	printf "%-46s %9.0f bytes, %.1f KiB on disk, %.1f files each\n", "state directory", sb / n, sk / n, sf / n
	printf "left after delete: %d state dirs, %d cgroups, %d processes, %d mounts; %d error lines\n", ls, lc, lp, lm, er
}'
[ "$brig_procs" -eq 0 ] && [ "$left_state" -eq 0 ] && [ "$left_cg" -eq 0 ] && [ "$left_procs" -eq 0 ] &&
	[ "$left_mounts" -eq 0 ] && [ "$errors" -eq 0 ]
