#!/bin/bash
# run-lane.sh [--build-dir DIR] [--timeout SECS] [--console] [--systemd [--cgroup-hybrid]] -- COMMAND...
#
# Boots Debian's own 6.1 kernel once under qemu (TCG) with the host's / as its read-only root (writes go
# to a tmpfs overlay), cgroup2 at /sys/fs/cgroup with every controller enabled, and runs COMMAND there as
# root, in the current directory, with this environment. Prints COMMAND's output (stdout and stderr, as
# it comes) and exits with its status. Exits 77 when qemu or the kernel package is not installed (1 in CI),
# 124 when the guest ran out of time, 125 when the guest failed before reporting a status.
#
# Why a guest: the host has a v1 hybrid cgroup layout and a kernel too new for Debian's criu; the guest
# lane is where brig's cgroup v2 and checkpoint/restore paths are tested (tests/guest/suites).
#
#   --build-dir DIR  keep the extracted kernel and the initramfs in DIR/guest (default: $BRIG_BUILD, or a
#                    cache under /tmp)
#   --timeout SECS   kill the guest after SECS seconds (default 840)
#   --systemd        boot Debian's systemd as PID 1 (with D-Bus) and run COMMAND as a service once it is
#                    up (guest-init.sh says what is left out of the boot)
#   --cgroup-hybrid  with --systemd: systemd's v1 hybrid layout instead of cgroup2 at /sys/fs/cgroup
#                    (systemd.unified_cgroup_hierarchy=0: a hierarchy per v1 controller, mounted by
#                    systemd, and cgroup2 at /sys/fs/cgroup/unified), as on the development host
#   --console        print the guest's kernel console when done (it is printed on failure anyway)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${BRIG_BUILD:-/tmp/brig-guest-cache}
timeout_secs=840
show_console=0
systemd=0
hybrid=0

usage() {
	sed -n '2,3p' "$0" | sed 's/^# //' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) build_dir=$2; shift 2 ;;
	--timeout) timeout_secs=$2; shift 2 ;;
	--console) show_console=1; shift ;;
	--systemd) systemd=1; shift ;;
	--cgroup-hybrid) hybrid=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[ "$hybrid" = 0 ] || [ "$systemd" = 1 ] || { echo "run-lane.sh: --cgroup-hybrid needs --systemd (systemd mounts the layout)" >&2; exit 2; }

# Outside CI a developer may run the suite without the guest lane's packages; in CI scripts/setup.sh has
# installed them, so a missing one is a broken setup and fails rather than skips.
skip() {
	if [ "${CI:-}" = true ]; then
		echo "guest lane: FAIL: $*" >&2
		exit 1
	fi
	echo "guest lane: SKIP: $*" >&2
	exit 77
}

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || skip "qemu-system-x86_64 not found (install qemu-system-x86: scripts/setup.sh)"
kernel_image=$(ls -v /boot/vmlinuz-6.1.*-amd64 2>/dev/null | tail -n 1 || true)
[ -n "$kernel_image" ] || skip "no /boot/vmlinuz-6.1.*-amd64 (install linux-image-amd64: scripts/setup.sh)"
kver=${kernel_image#/boot/vmlinuz-}
[ -r "/lib/modules/$kver/modules.dep" ] || skip "no /lib/modules/$kver (reinstall linux-image-$kver)"
[ "$(id -u)" -eq 0 ] || { echo "guest lane: run as root (qemu exports / to the guest)" >&2; exit 1; }

now() {
	date +%s.%N
}
t_start=$(now)

# ---- cached boot files: rebuilt when the kernel or the scripts that make them change
cache=$build_dir/guest
mkdir -p "$cache"
vmlinux=$cache/vmlinux-$kver
initramfs=$cache/initramfs-$kver.cpio
(
	flock 9
	if [ ! -s "$vmlinux" ] || [ "$kernel_image" -nt "$vmlinux" ] || [ "$here/extract-vmlinux.sh" -nt "$vmlinux" ]; then
		"$here/extract-vmlinux.sh" "$kernel_image" "$vmlinux"
	fi
	if [ ! -s "$initramfs" ] || [ "$here/initramfs-init.sh" -nt "$initramfs" ] ||
		[ "$here/build-initramfs.sh" -nt "$initramfs" ] || [ "/lib/modules/$kver/modules.dep" -nt "$initramfs" ]; then
		"$here/build-initramfs.sh" "$kver" "$initramfs"
	fi
) 9>"$cache/.lock"

# ---- the job, handed to the guest through a writable 9p share
tmp=$(mktemp -d /tmp/brig-lane.XXXXXX)
share=$tmp/share
mkdir -p "$share"
qemu_pid='' tail_pid=''

cleanup() {
	# Best effort from here on: a kill of what has already gone must not stop the removal below.
	set +e
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$qemu_pid" ]; then
		# timeout(1) passes the TERM on to qemu; it leads its own process group (qemu's too), which
		# gets a KILL if qemu has not gone within 5 seconds.
		kill "$qemu_pid" 2>/dev/null
		local tries=50
		while [ $((tries--)) -gt 0 ] && kill -0 "$qemu_pid" 2>/dev/null; do
			sleep 0.1
		done
		kill -KILL -- "-$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

printf '%s\0' "$@" >"$share/argv"
pwd >"$share/cwd"
env -0 >"$share/env"
: >"$tmp/output.log"
: >"$tmp/console.log"

cmdline="console=ttyS0 panic=-1 tsc=reliable no_timer_check mitigations=off quiet"
# AppArmor is in Debian's default LSM list; said explicitly, since suites/apparmor.bats depends on it.
cmdline+=" apparmor=1"
cmdline+=" brig_init=$here/guest-init.sh"
[ "$systemd" = 1 ] && cmdline+=" brig_systemd=1"
[ "$hybrid" = 1 ] && cmdline+=" brig_cgroup=hybrid systemd.unified_cgroup_hierarchy=0"

# timeout(1) kills qemu when the lane runs too long; qemu ends by itself when the guest reboots
# (-no-reboot), which the guest does once the job is done or when it fails.
timeout -k 5 "$timeout_secs" "$qemu" \
	-accel tcg,thread=multi,tb-size=512 -machine q35 -cpu "${BRIG_LANE_CPU:-max}" -smp "${BRIG_LANE_SMP:-2}" -m 2048 \
	-nodefaults -no-user-config -no-reboot -nic none -display none \
	-kernel "$vmlinux" -initrd "$initramfs" -append "$cmdline" \
	-serial "file:$tmp/console.log" -serial "file:$tmp/output.log" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$share,mount_tag=lane,security_model=none,multidevs=remap" \
	</dev/null >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!

# Stream the job's output while the guest runs.
tail -n +1 -f --pid="$qemu_pid" -s 0.2 "$tmp/output.log" &
tail_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
t_end=$(now)

report_console() {
	echo "---- guest console (last 60 lines) ----" >&2
	tail -n 60 "$tmp/console.log" >&2
	if [ -s "$tmp/qemu.log" ]; then
		echo "---- qemu ----" >&2
		cat "$tmp/qemu.log" >&2
	fi
	echo "----" >&2
}

elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

if [ ! -s "$share/status" ]; then
	if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
		echo "guest lane: timed out after ${timeout_secs}s (qemu killed)" >&2
		report_console
		exit 124
	fi
	echo "guest lane: the guest ended without reporting an exit status (qemu status $qemu_rc)" >&2
	report_console
	exit 125
fi
[ "$show_console" = 1 ] && report_console

status=$(cat "$share/status")
t_cmd=$(stat -c %.3Y "$share/started")
echo "guest lane: kernel $kver; boot to command $(elapsed "$t_start" "$t_cmd")s" \
	"(guest uptime $(cat "$share/started")s); command $(elapsed "$t_cmd" "$t_end")s;" \
	"total $(elapsed "$t_start" "$t_end")s; exit status $status" >&2
exit "$status"
