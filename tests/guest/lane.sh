#!/bin/bash
# lane.sh [--build-dir DIR] [--timeout SECS] [--systemd | --systemd-hybrid] [BATS_FILE...]: the guest lane as the test suite
# runs it (CTest `guest/lane`). Runs every tests/guest/suites/*.bats and tests/integration/reliability.bats
# (or the given files) with bats inside one boot of the guest (run-lane.sh) against $BRIG, and exits with
# bats' status (77: lane not installed). --systemd boots systemd as PID 1 and runs tests/guest/systemd/*.bats
# by default (CTest `guest/systemd`) but the hybrid file; --systemd-hybrid boots systemd with the v1
# hybrid cgroup layout (run-lane.sh --systemd --cgroup-hybrid) and runs
# tests/guest/systemd/systemd_cgroup_hybrid.bats by default (CTest `guest/systemd-hybrid`).
#
# The test rootfs cache is built on the host first: in the guest, writes land in a throwaway overlay and
# the ~400 busybox links would cost seconds of forks under TCG on every run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BRIG:?set BRIG to the runtime binary under test}"
lane_args=()
systemd=0 hybrid=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) lane_args+=(--build-dir "$2"); export BRIG_BUILD=$2; shift 2 ;;
	--timeout) lane_args+=(--timeout "$2"); shift 2 ;;
	--systemd) lane_args+=(--systemd); systemd=1; shift ;;
	--systemd-hybrid) lane_args+=(--systemd --cgroup-hybrid); hybrid=1; shift ;;
	*) break ;;
	esac
done
if [ $# -gt 0 ]; then
	files=("$@")
elif [ "$hybrid" = 1 ]; then
	files=("$here/systemd/systemd_cgroup_hybrid.bats")
elif [ "$systemd" = 1 ]; then
	# Every file but the hybrid one, which needs the hybrid boot.
	files=()
	for f in "$here"/systemd/*.bats; do
		[[ "$f" == *_hybrid.bats ]] || files+=("$f")
	done
else
	# And the integration file whose tests about frozen cgroups need v2's freezer too (the others skip).
	files=("$here"/suites/*.bats "$here/../integration/reliability.bats")
fi

(
	# shellcheck source=../integration/helpers.bash
	source "$here/../integration/helpers.bash"
	build_rootfs_cache
)

exec "$here/run-lane.sh" "${lane_args[@]}" -- bats --tap --timing "${files[@]}"
