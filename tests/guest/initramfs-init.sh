#!/bin/sh
# First-stage init of the guest lane, run by the initramfs's static busybox. It mounts the host's root
# (9p, read-only) under a tmpfs-backed overlay, so the guest sees the host's files and may write anywhere
# without touching them, prepares the system inside it (API file systems, cgroup2 with every controller
# enabled, the lane share, loopback) and hands over to the second stage ($brig_init from the kernel
# command line, a script in the repository).
#
# Everything here is done by the static busybox on purpose: under TCG each dynamically linked program
# loaded over 9p costs tens of milliseconds, and boot time is paid by every lane run.
export PATH=/bin
NEW=/newroot

die() {
	echo "guest lane initramfs: $*" >/dev/console
	# The host passes -no-reboot: rebooting ends qemu, and the missing status file tells it we failed.
	echo b >/proc/sysrq-trigger
	busybox reboot -f
	busybox sleep 1000
}

m() {
	busybox mount "$@" || die "mount $*"
}

m -t proc proc /proc
m -t sysfs sysfs /sys
m -t devtmpfs devtmpfs /dev

while read -r mod; do
	busybox insmod "/modules/$mod" || die "insmod $mod"
done </modules/order

busybox mkdir -p /lower /rw
m -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower
m -t tmpfs -o mode=755 tmpfs /rw
busybox mkdir -p /rw/upper /rw/work
m -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay $NEW

[ -n "${brig_init:-}" ] || die "no brig_init= on the kernel command line"
[ -x "$NEW$brig_init" ] || die "second stage $brig_init is not executable in the host root"

busybox mount --move /dev $NEW/dev || die "move /dev"
busybox umount /proc /sys
m -t proc proc $NEW/proc
m -t sysfs sysfs $NEW/sys
# securityfs, as systemd mounts it: apparmor_parser loads profiles through it (suites/apparmor.bats). Not
# fatal: a kernel without it boots, and that suite's probe says what is missing.
busybox mount -t securityfs securityfs $NEW/sys/kernel/security 2>/dev/null
busybox mkdir -p $NEW/dev/pts $NEW/dev/shm
m -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts $NEW/dev/pts
busybox ln -sf pts/ptmx $NEW/dev/ptmx
# What udev or systemd would add: bash's process substitution needs /dev/fd.
busybox ln -sf /proc/self/fd $NEW/dev/fd
busybox ln -sf /proc/self/fd/0 $NEW/dev/stdin
busybox ln -sf /proc/self/fd/1 $NEW/dev/stdout
busybox ln -sf /proc/self/fd/2 $NEW/dev/stderr
m -t tmpfs -o mode=1777 tmpfs $NEW/dev/shm
m -t tmpfs -o mode=755 tmpfs $NEW/run
busybox mkdir -p $NEW/run/lock $NEW/run/lane
# The hybrid systemd boot (run-lane.sh --systemd --cgroup-hybrid: brig_cgroup=hybrid and
# systemd.unified_cgroup_hierarchy=0): systemd mounts the layout itself (a tmpfs at /sys/fs/cgroup, a
# hierarchy per v1 controller, cgroup2 at /sys/fs/cgroup/unified); a cgroup2 already at /sys/fs/cgroup
# would make it run unified whatever the command line says.
if [ "${brig_cgroup:-}" != hybrid ]; then
	# nsdelegate as systemd mounts it: a cgroup namespace is a delegation boundary.
	m -t cgroup2 -o nsdelegate cgroup2 $NEW/sys/fs/cgroup
	controllers=
	for c in $(busybox cat $NEW/sys/fs/cgroup/cgroup.controllers); do
		controllers="$controllers +$c"
	done
	echo "$controllers" >$NEW/sys/fs/cgroup/cgroup.subtree_control || die "enable controllers:$controllers"
fi
# The lane share carries the job in and its status out; no cache, so what the guest writes is on the
# host when the write returns.
m -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lane $NEW/run/lane

busybox hostname brig-guest
busybox ip link set lo up

# systemd mode (run-lane.sh --systemd puts brig_systemd=1 on the kernel command line): a minimal boot
# written into the overlay's /etc, then systemd as PID 1, which runs $brig_init --job as
# brig-lane.service once D-Bus is up. Only what the job needs is started: no sysinit.target (udev,
# journald, tmpfiles, getty, networkd, timers ...) and no generators (each masked by a /dev/null link);
# under TCG each would cost seconds. Written here by the static busybox and the shell's printf: the
# dynamically linked tools of the host root cost ~70 ms an exec.
systemd_etc() {
	local etc=$NEW/etc/systemd g
	busybox mkdir -p $etc/system/dbus.socket.d $etc/system/dbus.service.d $etc/system.conf.d \
		$etc/system-generators || die "mkdir $etc"
	for g in $NEW/lib/systemd/system-generators/*; do
		busybox ln -sf /dev/null "$etc/system-generators/${g##*/}"
	done
	printf '[Manager]\nShowStatus=no\nDefaultStandardOutput=null\nDefaultStandardError=null\n' \
		>$etc/system.conf.d/brig-lane.conf
	# D-Bus without the boot it normally waits for (sysinit.target, basic.target).
	printf '[Unit]\nDefaultDependencies=no\n' >$etc/system/dbus.socket.d/brig-lane.conf
	printf '[Unit]\nDefaultDependencies=no\n' >$etc/system/dbus.service.d/brig-lane.conf
	printf '[Unit]\nDescription=brig guest lane\nRequires=brig-lane.service\nAllowIsolate=yes\n' \
		>$etc/system/brig-lane.target
	# Delegate=yes: the job (the tests) makes cgroups of its own below the root, as in the plain lane.
	printf '%s\n' '[Unit]' 'Description=brig guest lane job' 'DefaultDependencies=no' 'Requires=dbus.service' \
		'After=dbus.service' '[Service]' 'Type=exec' "ExecStart=/bin/bash $brig_init --job" \
		'StandardInput=null' 'StandardOutput=null' 'StandardError=null' 'Delegate=yes' \
		'TimeoutStartSec=infinity' >$etc/system/brig-lane.service
}

if [ "${brig_systemd:-}" = 1 ]; then
	systemd_etc
	# The host's root is a container's (its /.dockerenv is in the overlay), so systemd believes it runs in
	# one and reads its settings from its own argv (/proc/1/cmdline), not the kernel's: the hybrid layout is
	# asked for there too (PID 1 ignores the argument otherwise).
	hybrid=
	[ "${brig_cgroup:-}" != hybrid ] || hybrid=systemd.unified_cgroup_hierarchy=0
	exec busybox switch_root $NEW /lib/systemd/systemd --unit=brig-lane.target --log-target=kmsg --log-level=notice $hybrid
fi
exec busybox switch_root $NEW "$brig_init"
