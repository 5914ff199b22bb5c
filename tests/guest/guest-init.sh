#!/bin/bash
# Second-stage init of the guest lane: PID 1 on the overlay of the host's root, started by
# initramfs-init.sh once the system is mounted. Runs the job run-lane.sh left in the lane share (argv,
# env, cwd) in its own session with its output on the second serial port, writes its exit status back
# into the share and ends the guest.
#
# bash as PID 1 reaps every child it inherits (its SIGCHLD handler waits for any pid), which matters:
# zombies count in pids.current and keep a container's cgroup busy. Only builtins are used besides the
# job itself: every program loaded over 9p costs time under TCG.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LANE=/run/lane

finish() {
	# Nothing needs syncing: the overlay is tmpfs and the lane share writes through.
	echo b >/proc/sysrq-trigger
	/bin/busybox reboot -f
}

fail() {
	echo "guest lane: $*" >/dev/console
	finish
}

uptime_to() {
	local up _
	read -r up _ </proc/uptime
	echo "$up" >"$1"
}

# Reads the job's environment (NUL-separated NAME=VALUE) and exports it, except what describes the
# host's shell rather than the job.
load_env() {
	local kv name
	while IFS= read -r -d '' kv; do
		name=${kv%%=*}
		[[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
		case "$name" in
		PWD | OLDPWD | SHLVL | _ | HOSTNAME | BASH_* | SHELLOPTS | BASHOPTS) continue ;;
		esac
		# shellcheck disable=SC2163 # exports NAME=VALUE as given
		export "$kv"
	done <"$LANE/env"
}

run_job() {
	local cwd argv=() a
	read -r cwd <"$LANE/cwd"
	while IFS= read -r -d '' a; do
		argv+=("$a")
	done <"$LANE/argv"
	[ ${#argv[@]} -gt 0 ] || fail "empty command"

	uptime_to "$LANE/started"
	(
		# The job's output reaches the host as is (no \n -> \r\n). A serial port forgets its settings
		# when the last holder closes it, so set them now that our stdout holds it.
		/bin/busybox stty -F /dev/ttyS1 raw -echo
		cd "$cwd" || exit 126
		load_env
		# Tells the test helpers they run in the guest lane (tests/guest/helpers.bash).
		export BRIG_GUEST_LANE=1
		# A new session: criu (and anything that checks its process group or controlling tty) sees a
		# normal job, not init's session. The subshell is no group leader, so setsid need not fork.
		exec setsid -w "${argv[@]}"
	) </dev/null >/dev/ttyS1 2>&1 &
	local pid=$! rc=0
	wait "$pid" || rc=$?
	uptime_to "$LANE/finished"
	echo "$rc" >"$LANE/status"
}

# systemd mode (run-lane.sh --systemd puts brig_systemd=1 on the kernel command line, which the kernel
# hands to init as an environment variable): this script, still PID 1, writes a minimal boot into the
# overlay's /etc and becomes systemd; systemd then runs it again as brig-lane.service (--job), which
# runs the job as above once D-Bus is up. Only what the job needs is started: no sysinit.target (udev,
# journald, tmpfiles, getty, networkd, timers), no generators; each would cost seconds under TCG.
systemd_boot() {
	local etc=/etc/systemd g
	mkdir -p "$etc/system/dbus.socket.d" "$etc/system/dbus.service.d" "$etc/system.conf.d" \
		"$etc/system-generators"
	for g in /lib/systemd/system-generators/*; do
		ln -sf /dev/null "$etc/system-generators/${g##*/}"
	done
	cat >"$etc/system.conf.d/brig-lane.conf" <<-EOT
		[Manager]
		ShowStatus=no
		DefaultStandardOutput=null
		DefaultStandardError=null
	EOT
	# D-Bus without the boot it normally waits for (sysinit.target, basic.target).
	printf '[Unit]\nDefaultDependencies=no\n' >"$etc/system/dbus.socket.d/brig-lane.conf"
	printf '[Unit]\nDefaultDependencies=no\n' >"$etc/system/dbus.service.d/brig-lane.conf"
	cat >"$etc/system/brig-lane.target" <<-EOT
		[Unit]
		Description=brig guest lane
		Requires=brig-lane.service
		AllowIsolate=yes
	EOT
	cat >"$etc/system/brig-lane.service" <<-EOT
		[Unit]
		Description=brig guest lane job
		DefaultDependencies=no
		Requires=dbus.service
		After=dbus.service
		[Service]
		Type=exec
		ExecStart=/bin/bash ${BASH_SOURCE[0]} --job
		StandardInput=null
		StandardOutput=null
		StandardError=null
		Delegate=yes
		TimeoutStartSec=infinity
	EOT
	exec /lib/systemd/systemd --unit=brig-lane.target --log-target=kmsg --log-level=notice
}

if [ "${1:-}" = --job ]; then
	exec >/dev/console 2>&1
	run_job
	finish
fi
if [ "${brig_systemd:-}" = 1 ]; then
	systemd_boot
	fail "exec /lib/systemd/systemd failed"
fi
run_job
finish
