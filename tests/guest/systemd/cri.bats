#!/usr/bin/env bats
# The Kubernetes path (issue 12): containerd 1.6's CRI plugin runs pods with brig as a runtime handler (the
# runc.v2 shim, SystemdCgroup = true) in the systemd guest (lane.sh --systemd), driven through the CRI v1
# API by the project's own client (tests/clients/cri). CNI is a bridge of this file's own in the guest;
# the pause and busybox images are built here from the busybox rootfs and imported (nothing is pulled).
# See tests/clients/cri/cri.bash for the setup.
#
# Each test runs one pod and ends by removing it, after which nothing of it may be left: no unit, no
# cgroup below the pod's slice, no netns, no mount, no brig state. Every argv containerd's shim passed to
# brig is in $CRI_DIR/argv.log; the first test prints one line per brig command as TAP comments.

load helpers
load ../../clients/cri/cri

setup_file() {
	is_cgroup2_root && [ -d /run/systemd/system ] || return 0
	build_rootfs_cache
	cri_start
}

teardown_file() {
	cri_stop
}

setup() {
	require_guest_lane
	[ -d /run/systemd/system ] || skip "needs systemd as PID 1: runs in the systemd guest (tests/guest/lane.sh --systemd)"
	[ -n "${CRI_PORT:-}" ] || fail "setup_file failed: containerd's CRI did not come up"
}

teardown() {
	cri_remove_pods
}

# ---- helpers -----------------------------------------------------------------------------------------

# pod_config NAME [PID_MODE] [SECCOMP_JSON]: REPLY = a PodSandboxConfig of pod NAME (uid brigNAME, a
# kubelet-style systemd cgroup parent, logs under CRI_DIR); PID_MODE is CRI's (1 CONTAINER, the kubelet's
# default, or 0 POD).
pod_config() {
	local name=$1 pid=${2:-1}
	mkdir -p "$CRI_DIR/logs/$name"
	REPLY='{"metadata":{"name":"'$name'","uid":"brig'$name'","namespace":"brigtest"},"hostname":"'$name'",
		"log_directory":"'$CRI_DIR/logs/$name'","linux":{"cgroup_parent":"kubepods-besteffort-podbrig'$name'.slice",
		"security_context":{"namespace_options":{"pid":'$pid'}}}}'
}

# ctr_config NAME CMD_JSON [PID_MODE] [LINUX_EXTRA]: REPLY = a ContainerConfig running CMD in the busybox
# image; LINUX_EXTRA is more of LinuxContainerConfig (",resources:{...}") and security_context fields.
ctr_config() {
	local name=$1 cmd=$2 pid=${3:-1} sec=${4:-} res=${5:-}
	REPLY='{"metadata":{"name":"'$name'"},"image":{"image":"'$CRI_BB_IMAGE'"},"command":'$cmd',"log_path":"'$name'.log",
		"linux":{"security_context":{"namespace_options":{"pid":'$pid'}'$sec'}'$res'}}'
}

# The pid of a task (sandbox or container): the runc.v2 shim's init.pid (no newline at its end).
task_pid() {
	read -r REPLY <"$CRI_DIR/state/io.containerd.runtime.v2.task/k8s.io/$1/init.pid" || [ -n "$REPLY" ] ||
		fail "no init.pid for $1"
}

# exec_in CTR CMD_JSON: ExecSync; REPLY_OUT, REPLY_ERR, REPLY_RC from the response.
exec_in() {
	run cri ExecSync '{"container_id":"'"$1"'","cmd":'"$2"',"timeout":60}'
	assert_success
	[[ $output =~ \"stdout\":\"([^\"]*)\" ]] && REPLY_OUT=${BASH_REMATCH[1]} || REPLY_OUT=
	[[ $output =~ \"stderr\":\"([^\"]*)\" ]] && REPLY_ERR=${BASH_REMATCH[1]} || REPLY_ERR=
	cri_field "$output" exit_code
	REPLY_RC=$REPLY
}

# pod_gone POD_ID NAME CTR_IDS...: after RemovePodSandbox, nothing of the pod is left: no scope unit
# (loaded or failed), no cgroup below its slice, no netns of CNI's, no mount under CRI_DIR but the
# snapshotter's of other pods, no brig state, no process.
pod_gone() {
	local pod=$1 name=$2 id out bad=() slice_dir m
	shift 2
	slice_dir=$CGROUP2_ROOT/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podbrig$name.slice
	out=$(systemctl list-units --all --plain --no-legend 'cri-containerd-*.scope')
	[ -z "$out" ] || bad+=("units left: $out")
	out=$(systemctl list-units --failed --plain --no-legend)
	[ -z "$out" ] || bad+=("failed units: $out")
	for id in "$pod" "$@"; do
		[ ! -e "$slice_dir/cri-containerd-$id.scope" ] || bad+=("cgroup left: cri-containerd-$id.scope")
		[ ! -e "$CRI_DIR/brig-root/k8s.io/$id" ] || bad+=("brig state left: $id")
		while read -r _ m _; do
			if [[ $m == *"$id"* ]]; then bad+=("mount left: $m"); fi
		done </proc/self/mounts
	done
	for m in /run/netns/*; do
		if [ -e "$m" ]; then bad+=("netns left: $m"); fi
	done
	[ ${#bad[@]} -eq 0 ] || fail "after RemovePodSandbox: $(printf '%s; ' "${bad[@]}")"
}

# ---- tests -------------------------------------------------------------------------------------------

@test "cri: a brig pod: RunPodSandbox, Create+Start in it (the sandbox's net/ipc/uts by path, the pod's slice), ExecSync, ContainerStats, UpdateContainerResources in the scope, StopContainer, RemovePodSandbox: nothing left" {
	local pod ctr ppid cpid slice dir line cfg
	pod_config web
	local pcfg=$REPLY
	ctr_config app '["sh", "-c", "trap \"exit 0\" TERM; echo started; sleep 100000 & wait"]' 1 '' \
		',"resources":{"memory_limit_in_bytes":67108864,"cpu_shares":512,"cpu_period":100000,"cpu_quota":20000}'
	run cri --time RunPodSandbox '{"config":'"$pcfg"',"runtime_handler":"brig"}' \
		CreateContainer '{"pod_sandbox_id":"@POD@","config":'"$REPLY"',"sandbox_config":'"$pcfg"'}' \
		StartContainer '{"container_id":"@CTR@"}'
	assert_success
	[[ $output =~ \"pod_sandbox_id\":\"([0-9a-f]+)\" ]] || fail "no pod id"
	pod=${BASH_REMATCH[1]}
	[[ $output =~ \"container_id\":\"([0-9a-f]+)\" ]] || fail "no container id"
	ctr=${BASH_REMATCH[1]}
	local l t=()
	while IFS= read -r l; do
		if [[ $l =~ \"_ms\":([0-9.]+) ]]; then t+=("${BASH_REMATCH[1]}"); fi
	done <<<"$output"
	echo "# RunPodSandbox, CreateContainer, StartContainer: ${t[*]} ms" >&3

	# The cgroup parent containerd gave brig, in systemd's slice:prefix:name form, and the scopes.
	slice=kubepods-besteffort-podbrigweb.slice
	cfg=$(<"$CRI_DIR/state/io.containerd.runtime.v2.task/k8s.io/$ctr/config.json")
	[[ $cfg == *"\"cgroupsPath\":\"$slice:cri-containerd:$ctr\""* ]] || fail "cgroupsPath: ${cfg:0:300}"
	dir=$CGROUP2_ROOT/kubepods.slice/kubepods-besteffort.slice/$slice/cri-containerd-$ctr.scope
	sd_show "cri-containerd-$pod.scope" ActiveState=active Slice="$slice" Delegate=yes
	sd_show "cri-containerd-$ctr.scope" ActiveState=active Slice="$slice" Delegate=yes MemoryMax=67108864 \
		CPUWeight=20 CPUQuotaPerSecUSec=200ms
	cg_check "$dir" memory.max=67108864 "cpu.max=20000 100000" cpu.weight=20
	task_pid "$pod"
	ppid=$REPLY
	task_pid "$ctr"
	cpid=$REPLY
	IFS= read -r line <"/proc/$cpid/cgroup"
	[ "$line" = "0::${dir#"$CGROUP2_ROOT"}" ] || fail "/proc/$cpid/cgroup: $line"
	# The sandbox's namespaces, joined by path: network (the sandbox's own is CNI's, a bind mount under
	# /run/netns), ipc, uts; the pid namespace is the container's own (CONTAINER, as the kubelet asks).
	local ns netns=(/run/netns/cni-*) pcfg_file
	for ns in net ipc uts; do
		[ "/proc/$cpid/ns/$ns" -ef "/proc/$ppid/ns/$ns" ] || fail "the container is not in the sandbox's $ns namespace"
	done
	[ ! "/proc/$cpid/ns/pid" -ef "/proc/$ppid/ns/pid" ] || fail "the container shares the sandbox's pid namespace"
	[ ! "/proc/$cpid/ns/mnt" -ef "/proc/$ppid/ns/mnt" ] || fail "the container shares the sandbox's mount namespace"
	[ "${netns[0]}" -ef "/proc/$ppid/ns/net" ] || fail "the sandbox's netns is not CNI's ${netns[*]}"
	[[ $cfg == *'{"type":"ipc","path":"/proc/'$ppid'/ns/ipc"},{"type":"uts","path":"/proc/'$ppid'/ns/uts"}'* &&
		$cfg == *'{"type":"network","path":"/proc/'$ppid'/ns/net"}'* ]] || fail "namespace paths: ${cfg#*\"namespaces\"}"
	pcfg_file=$(<"$CRI_DIR/state/io.containerd.runtime.v2.task/k8s.io/$pod/config.json")
	[[ $pcfg_file =~ \{\"type\":\"network\",\"path\":\"(/var)?${netns[0]}\"\} ]] || fail "the sandbox's netns path: ${pcfg_file#*\"namespaces\"}"

	exec_in "$ctr" '["sh", "-c", "echo out; hostname; cat /proc/self/cgroup; echo err >&2; exit 3"]'
	[ "$REPLY_OUT" = "out\\nweb\\n0::/\\n" ] || fail "ExecSync stdout: $REPLY_OUT"
	[ "$REPLY_ERR" = "err\\n" ] || fail "ExecSync stderr: $REPLY_ERR"
	[ "$REPLY_RC" = 3 ] || fail "ExecSync exit code: $REPLY_RC"
	[ "$(<"$CRI_DIR/logs/web/app.log")" != "" ] && [[ $(<"$CRI_DIR/logs/web/app.log") == *"stdout F started"* ]] ||
		fail "container log: $(<"$CRI_DIR/logs/web/app.log")"

	run cri ContainerStats '{"container_id":"'"$ctr"'"}'
	assert_success
	[[ $output == *"\"id\":\"$ctr\""* ]] || fail "stats of another container"
	[[ $output =~ \"usage_core_nano_seconds\":\{\"value\":\"([0-9]+)\" && ${BASH_REMATCH[1]} -gt 0 ]] || fail "no cpu usage"
	[[ $output =~ \"working_set_bytes\":\{\"value\":\"([0-9]+)\" && ${BASH_REMATCH[1]} -gt 0 ]] || fail "no working set"

	run cri UpdateContainerResources '{"container_id":"'"$ctr"'","linux":{"memory_limit_in_bytes":134217728,
		"cpu_shares":1024,"cpu_period":100000,"cpu_quota":50000}}'
	assert_success
	sd_show "cri-containerd-$ctr.scope" MemoryMax=134217728 CPUWeight=39 CPUQuotaPerSecUSec=500ms
	cg_check "$dir" memory.max=134217728 "cpu.max=50000 100000" cpu.weight=39

	run cri StopContainer '{"container_id":"'"$ctr"'","timeout":20}' ContainerStatus '{"container_id":"'"$ctr"'"}'
	assert_success
	assert_output_contains '"state":"CONTAINER_EXITED"'
	[[ $output != *'"exit_code"'* ]] || fail "the container did not exit 0 on TERM: $output"
	sd_show "cri-containerd-$ctr.scope" ActiveState=inactive
	[ ! -d "$dir" ] || fail "cgroup $dir left after StopContainer"

	run cri StopPodSandbox '{"pod_sandbox_id":"'"$pod"'"}' RemovePodSandbox '{"pod_sandbox_id":"'"$pod"'"}'
	assert_success
	pod_gone "$pod" web "$ctr"

	# What containerd asked of brig, one line per command (the ids shortened).
	local seen=" " cmd
	while IFS= read -r line; do
		cmd=$line
		[[ $cmd =~ (^| )(create|start|exec|update|kill|delete|state|ps|events|pause|resume)( |$) ]] || continue
		[[ $seen == *" ${BASH_REMATCH[2]} "* ]] && continue
		seen+="${BASH_REMATCH[2]} "
		cmd=${cmd//$CRI_DIR/\$CRI_DIR}
		cmd=${cmd//$pod/POD}
		echo "# brig $(echo "${cmd//$ctr/CTR}" | sed -E 's/[0-9a-f]{64}/ID/g')" >&3
	done <"$CRI_DIR/argv.log"
}

@test "cri: a pod of two containers in one pid namespace talk over localhost; the pod's address is on the CNI bridge; RuntimeDefault seccomp (containerd's filter: no user namespace) beside Unconfined" {
	local pod srv cli ip
	pod_config duo 0
	local pcfg=$REPLY
	local args=(RunPodSandbox '{"config":'"$pcfg"',"runtime_handler":"brig"}')
	ctr_config srv '["sh", "-c", "printf \"#!/bin/sh\\necho hello from \\$(hostname)\\n\" >/srv.sh; chmod 755 /srv.sh; exec nc -ll -p 8080 -e /srv.sh"]' 0 \
		',"seccomp":{"profile_type":"Unconfined"}'
	args+=(CreateContainer '{"pod_sandbox_id":"@POD@","config":'"$REPLY"',"sandbox_config":'"$pcfg"'}' StartContainer '{"container_id":"@CTR@"}')
	ctr_config cli '["sleep", "100000"]' 0 ',"seccomp":{"profile_type":"RuntimeDefault"}'
	args+=(CreateContainer '{"pod_sandbox_id":"@POD@","config":'"$REPLY"',"sandbox_config":'"$pcfg"'}' StartContainer '{"container_id":"@CTR@"}')
	args+=(PodSandboxStatus '{"pod_sandbox_id":"@POD@"}')
	run cri "${args[@]}"
	assert_success
	local ids=()
	mapfile -t ids < <(grep -o '"container_id":"[0-9a-f]*"' <<<"$output" | cut -d'"' -f4)
	[[ $output =~ \"pod_sandbox_id\":\"([0-9a-f]+)\" ]] || fail "no pod id"
	pod=${BASH_REMATCH[1]}
	srv=${ids[0]} cli=${ids[1]}
	[[ $output =~ \"network\":\{\"ip\":\"(10\.89\.0\.[0-9]+)\" ]] || fail "no pod ip on $CRI_SUBNET: $output"
	ip=${BASH_REMATCH[1]}

	local i
	for i in $(seq 50); do
		exec_in "$cli" '["sh", "-c", "nc -w 5 127.0.0.1 8080 </dev/null"]'
		[[ $REPLY_OUT == *hello* ]] && break
		sleep 0.2
	done
	[ "$REPLY_OUT" = 'hello from duo\n' ] || fail "over localhost: $REPLY_OUT $REPLY_ERR"
	exec_in "$cli" '["sh", "-c", "ip -4 addr show eth0; ps -o args"]'
	[[ $REPLY_OUT == *"inet $ip/24"* ]] || fail "eth0 has not the pod's address $ip: $REPLY_OUT"
	# One pid namespace (POD): the pause's shell, the server and the client container's sleep.
	[[ $output == *"nc -ll -p 8080"* && $output == *"sleep 2147483647 & wait"* ]] || fail "not one pid namespace: $output"
	# Seccomp: the client has containerd's default filter, which refuses unshare(CLONE_NEWUSER) without
	# CAP_SYS_ADMIN; the server, Unconfined, has none and may.
	exec_in "$cli" '["sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true && echo unshared"]'
	[[ $REPLY_OUT == *'Seccomp:\t2\n'* ]] || fail "RuntimeDefault: not in seccomp filter mode: $REPLY_OUT"
	[[ $REPLY_OUT != *unshared* ]] || fail "RuntimeDefault: unshare(CLONE_NEWUSER) allowed"
	exec_in "$srv" '["sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true && echo unshared"]'
	[[ $REPLY_OUT == *'Seccomp:\t0\n'*unshared* ]] || fail "Unconfined: $REPLY_OUT $REPLY_ERR"
	# And from the guest through the bridge.
	run busybox nc -w 5 "$ip" 8080 </dev/null
	[ "$output" = "hello from duo" ] || fail "through the bridge: $output"

	run cri StopPodSandbox '{"pod_sandbox_id":"'"$pod"'"}' RemovePodSandbox '{"pod_sandbox_id":"'"$pod"'"}'
	assert_success
	pod_gone "$pod" duo "$srv" "$cli"
}
