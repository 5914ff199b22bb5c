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

# systemd mode (run-lane.sh --systemd): initramfs-init.sh hands over to systemd instead, which runs this
# script as brig-lane.service with --job once D-Bus is up; the job's output goes to the second serial
# port as above, the service's own (a failure here) to the console.
if [ "${1:-}" = --job ]; then
	exec >/dev/console 2>&1
	run_job
	finish
fi
run_job
finish
