#!/bin/bash
# Pod start through containerd 1.6's CRI (RunPodSandbox + CreateContainer + StartContainer of one busybox
# container), brig vs runc 1.1.5 as the runtime handler (the runc.v2 shim, SystemdCgroup = true), in one
# boot of the systemd guest (tests/guest/run-lane.sh --systemd; the CRI setup is tests/clients/cri/cri.bash,
# as the tests use it). Each round starts one pod per handler, alternating which goes first, then stops and
# removes both (timed too: StopPodSandbox + RemovePodSandbox). The times are the CRI calls' own, measured in
# the client around each RPC, and the runtime's share of them: both handlers' BinaryName is a bash wrapper
# that times each runtime command ($EPOCHREALTIME, no fork), summed per pod. Medians over the rounds, and
# brig/runc.
#
#   sudo bench/cri-pod.sh [--runs N] [--build-dir DIR] [BRIG_BINARY]
#
# BRIG_BINARY defaults to build-release/brig (built, or brought up to date; no sanitizers). DIR (default build) holds
# the guest lane's kernel cache and the test rootfs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
runs=7
build=$repo/build
brig=""
inner=false
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--build-dir) build=$(cd "$2" && pwd); shift 2 ;;
	--inner) inner=true; shift ;;
	-*) echo "usage: $0 [--runs N] [--build-dir DIR] [BRIG_BINARY]" >&2; exit 2 ;;
	*) brig=$1; shift ;;
	esac
done

if ! $inner; then
	[ -n "$brig" ] || brig=$("$repo/scripts/release-brig.sh" "$repo/build-release")
	brig=$(realpath "$brig")
	(export BRIG=$brig BRIG_BUILD=$build; source "$repo/tests/integration/helpers.bash"; build_rootfs_cache)
	export BRIG=$brig BRIG_BUILD=$build
	exec "$repo/tests/guest/run-lane.sh" --build-dir "$build" --systemd --timeout 3000 -- \
		"$repo/bench/cri-pod.sh" --inner --runs "$runs" --build-dir "$build" "$brig"
fi

# ---- in the guest ----
export BRIG=$brig BRIG_BUILD=$build
# shellcheck source=../tests/guest/helpers.bash
source "$repo/tests/guest/helpers.bash"
# shellcheck source=../tests/clients/cri/cri.bash
source "$repo/tests/clients/cri/cri.bash"
build_rootfs_cache
trap cri_stop EXIT
cri_start

# The timing wrappers: one line "MS" per runtime command in $CRI_DIR/rt-HANDLER.log.
for h in brig runc; do
	real=$brig
	[ "$h" = runc ] && real=$(command -v runc)
	cat >"$CRI_DIR/bin/$h.new" <<-EOF
		#!/bin/bash
		t0=\$EPOCHREALTIME
		'$real' "\$@"
		rc=\$?
		t1=\$EPOCHREALTIME
		echo \$(( (10#\${t1/./} - 10#\${t0/./}) / 1000 )) >>'$CRI_DIR/rt-$h.log'
		exit \$rc
	EOF
	chmod 755 "$CRI_DIR/bin/$h.new"
	mv "$CRI_DIR/bin/$h.new" "$CRI_DIR/bin/$h"
done
# rt_take HANDLER: REPLY = the sum of the runtime times logged since the last take (the log emptied).
rt_take() {
	local f=$CRI_DIR/rt-$1.log l
	REPLY=0
	if [ -f "$f" ]; then
		while read -r l; do REPLY=$((REPLY + l)); done <"$f"
		: >"$f"
	fi
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# sum_ms OUTPUT: REPLY = the sum of the "_ms" of every response line.
sum_ms() {
	local l
	REPLY=0
	while IFS= read -r l; do
		if [[ $l =~ \"_ms\":([0-9.]+) ]]; then REPLY=$(awk -v a="$REPLY" -v b="${BASH_REMATCH[1]}" 'BEGIN {print a + b}'); fi
	done <<<"$1"
}

work=$CRI_DIR/bench
mkdir -p "$work"
# once HANDLER ROUND: one pod start (three calls), then its stop and removal; appends the times.
once() {
	local h=$1 round=$2 name=p$1$2 pcfg cfg out pod rt_start
	mkdir -p "$CRI_DIR/logs/$name"
	rt_take "$h"
	pcfg='{"metadata":{"name":"'$name'","uid":"bench'$name'","namespace":"bench"},"hostname":"'$name'","log_directory":"'$CRI_DIR/logs/$name'","linux":{"cgroup_parent":"kubepods-besteffort-podbench'$name'.slice","security_context":{"namespace_options":{"pid":1}}}}'
	cfg='{"metadata":{"name":"c"},"image":{"image":"'$CRI_BB_IMAGE'"},"command":["sleep","100000"],"log_path":"c.log","linux":{"security_context":{"namespace_options":{"pid":1}}}}'
	out=$(cri --time RunPodSandbox '{"config":'"$pcfg"',"runtime_handler":"'$h'"}' \
		CreateContainer '{"pod_sandbox_id":"@POD@","config":'"$cfg"',"sandbox_config":'"$pcfg"'}' \
		StartContainer '{"container_id":"@CTR@"}')
	[[ $out =~ \"pod_sandbox_id\":\"([0-9a-f]+)\" ]] || { echo "no pod: $out" >&2; return 1; }
	pod=${BASH_REMATCH[1]}
	sum_ms "$out"
	echo "$REPLY" >>"$work/$h.start"
	local start=$REPLY
	rt_take "$h"
	rt_start=$REPLY
	echo "$rt_start" >>"$work/$h.rtstart"
	out=$(cri --time StopPodSandbox '{"pod_sandbox_id":"'$pod'"}' RemovePodSandbox '{"pod_sandbox_id":"'$pod'"}')
	sum_ms "$out"
	echo "$REPLY" >>"$work/$h.stop"
	local stop=$REPLY
	# The shim's own cleanup (`delete --force`) may come after RemovePodSandbox returned: counted with
	# the next pod's start otherwise, so wait for it a little.
	sleep 1
	rt_take "$h"
	echo "$REPLY" >>"$work/$h.rtstop"
	echo "round $round $h: start $start ms (runtime $rt_start ms), stop+remove $stop ms (runtime $REPLY ms)" >&2
}

echo "brig: $("$brig" --version | head -1); runc: $(runc --version | head -1); $(containerd --version); guest $(nproc) vCPU, $(uname -r)" >&2
# One pod per handler first, not counted: the first pod pays for the shim's and brig's first loads.
once brig 0 >/dev/null 2>&1
once runc 0 >/dev/null 2>&1
rm -f "$work"/*.start "$work"/*.stop "$work"/*.rtstart "$work"/*.rtstop
for round in $(seq "$runs"); do
	if [ $((round % 2)) -eq 1 ]; then order="brig runc"; else order="runc brig"; fi
	for h in $order; do
		once "$h" "$round"
	done
done
bs=$(median <"$work/brig.start") rs=$(median <"$work/runc.start")
bt=$(median <"$work/brig.stop") rt=$(median <"$work/runc.stop")
bsr=$(median <"$work/brig.rtstart") rsr=$(median <"$work/runc.rtstart")
btr=$(median <"$work/brig.rtstop") rtr=$(median <"$work/runc.rtstop")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
printf '\n| handler | pod start (RunPodSandbox + Create + Start) | of which the runtime | stop + remove | of which the runtime |\n|---|---|---|---|---|\n'
printf '| brig | %.0f ms | %.0f ms | %.0f ms | %.0f ms |\n' "$bs" "$bsr" "$bt" "$btr"
printf '| runc 1.1.5 | %.0f ms | %.0f ms | %.0f ms | %.0f ms |\n' "$rs" "$rsr" "$rt" "$rtr"
printf '| brig/runc | %s | %s | %s | %s |\n' "$(ratio "$bs" "$rs")" "$(ratio "$bsr" "$rsr")" "$(ratio "$bt" "$rt")" "$(ratio "$btr" "$rtr")"
echo "(medians of $runs rounds; the CRI calls' wall time in the client and the runtime commands' in the wrappers, one systemd guest boot under TCG)"
cri_stop
trap - EXIT
