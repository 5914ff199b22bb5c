# Shared helpers for the brig integration tests (bats).
#
# Every test gets its own temporary directory ($TEST_DIR) holding its --root ($BRIG_ROOT) and a bundle
# ($BUNDLE, rootfs copied from a busybox-static tree built once per build directory), a unique id ($ID)
# and a cgroup prefix ($CG_PREFIX, /brig-test/<random>) that every config's cgroupsPath lives under.
# teardown removes whatever a test left: containers, processes, cgroups, mounts, network namespaces and
# directories, whether the test passed or not.
#
# Processes are found by a token: the brig wrapper runs the runtime with BRIG_TEST_TOKEN=<token> in its
# environment and every config gets it in process.env, so the CLI, its children and every container
# process carry it, and nothing else on the machine does.
#
# Run against another runtime to check the tests themselves: BRIG=/usr/sbin/runc bats tests/integration.

: "${BRIG:?set BRIG to the runtime binary under test}"
BRIG_BUILD=${BRIG_BUILD:-/tmp/brig-test-cache}
BRIG_HELPERS=${BRIG_HELPERS:-$BRIG_BUILD/tests/helpers}
BRIG_TIMEOUT=${BRIG_TIMEOUT:-15}
ROOTFS_CACHE=$BRIG_BUILD/test-rootfs
BRIG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# The sanitized build's LeakSanitizer runs at exit in every process that exits through libc, including
# the forked container init on its error paths, where it may find no /proc or sit in a new user or pid
# namespace and then fails with its own fatal error; and a report changes a short-lived command's exit
# status and stderr, which these tests check. Leaks are the unit tests' job; here ASan and UBSan still
# stop on any memory error or undefined behaviour. Override by exporting ASAN_OPTIONS.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}

CGROUP_TEST_TOP=/brig-test

# ---------------------------------------------------------------------------------------------------------
# rootfs cache

# Builds the busybox-static rootfs once; concurrent bats files (ctest -j) serialise on a lock.
build_rootfs_cache() {
	[ -e "$ROOTFS_CACHE/.complete" ] && return 0
	mkdir -p "$BRIG_BUILD"
	(
		flock 9
		[ -e "$ROOTFS_CACHE/.complete" ] && exit 0
		local busybox=/bin/busybox
		if ! file_is_static "$busybox"; then
			echo "$busybox is not the static busybox: install busybox-static (scripts/setup.sh)" >&2
			exit 1
		fi
		local tmp
		tmp=$(mktemp -d "$BRIG_BUILD/test-rootfs.XXXXXX")
		"$BRIG_REPO/scripts/busybox-rootfs.sh" "$tmp" || exit 1
		cat >"$tmp/etc/passwd" <<-'EOF'
			root:x:0:0:root:/root:/bin/sh
			daemon:x:1:1:daemon:/usr/sbin:/bin/false
			nobody:x:65534:65534:nobody:/nonexistent:/bin/false
			tester:x:1000:1000:tester:/home:/bin/sh
		EOF
		cat >"$tmp/etc/group" <<-'EOF'
			root:x:0:
			daemon:x:1:
			tester:x:1000:
			nogroup:x:65534:
		EOF
		echo brig-test >"$tmp/etc/hostname"
		touch "$tmp/.complete"
		rm -rf "$ROOTFS_CACHE"
		mv "$tmp" "$ROOTFS_CACHE"
	) 9>"$BRIG_BUILD/.test-rootfs.lock"
}

file_is_static() {
	# ldd prints "not a dynamic executable" (and fails) for static binaries.
	! ldd "$1" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------------------
# per-test setup and teardown

# make_test_dir PREFIX -> prints a new directory under /tmp (or $BRIG_TEST_TMPDIR) for a test's files:
# rootfs copies, state, client storage. Those need exec, setuid and device nodes, whatever /tmp's mount
# options are on this machine; where /tmp is mounted noexec, nosuid or nodev (as a tmpfs /tmp often is),
# the directory gets a tmpfs of its own. Whoever removes it unmounts what is under it first
# (cleanup_mounts, umount_under), the directory's own mount included.
make_test_dir() {
	local dir opts
	dir=$(mktemp -d "${BRIG_TEST_TMPDIR:-/tmp}/$1.XXXXXX") || return 1
	opts=$(findmnt -n -o OPTIONS -T "$dir") || return 1
	case ",$opts," in
	*,noexec,* | *,nosuid,* | *,nodev,*) mount -t tmpfs -o mode=700 brig-test "$dir" || return 1 ;;
	esac
	echo "$dir"
}

common_setup() {
	build_rootfs_cache
	TEST_DIR=$(make_test_dir brig-test)
	# Searchable by anyone: user-namespaced containers run as unprivileged host uids.
	chmod 755 "$TEST_DIR"
	RAND=${TEST_DIR##*.}
	RAND=${RAND,,}
	TOKEN=brigtest-$RAND
	BRIG_ROOT=$TEST_DIR/state
	BUNDLE=$TEST_DIR/bundle
	ROOTFS=$BUNDLE/rootfs
	CG_PREFIX=$CGROUP_TEST_TOP/$RAND
	ID=c-$RAND
	mkdir -p "$BRIG_ROOT" "$BUNDLE"
	: >"$TEST_DIR/ids" >"$TEST_DIR/netns" >"$TEST_DIR/cgroups"
	echo "$ID" >>"$TEST_DIR/ids"
	cp -a "$ROOTFS_CACHE" "$ROOTFS"
	rm -f "$ROOTFS/.complete"
	make_config "$BUNDLE" "$ID"
}

common_teardown() {
	[ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ] || return 0
	cleanup_containers
	cleanup_processes
	cleanup_cgroups
	cleanup_mounts
	local ns
	while read -r ns; do
		[ -n "$ns" ] && ip netns delete "$ns" 2>/dev/null
	done <"$TEST_DIR/netns"
	remove_test_dir "$TEST_DIR"
}

setup() {
	common_setup
}

teardown() {
	common_teardown
}

cleanup_containers() {
	local id
	for id in $(ls -A "$BRIG_ROOT" 2>/dev/null) $(cat "$TEST_DIR/ids"); do
		case "$id" in . | .. | */*) continue ;; esac
		[ -e "$BRIG_ROOT/$id" ] || continue
		timeout -k 2 10 "$BRIG" --root "$BRIG_ROOT" delete --force "$id" >/dev/null 2>&1 </dev/null || true
	done
}

# Pids of every process carrying this test's token (the runtime, its children, container processes).
token_pids() {
	grep -lsaF "BRIG_TEST_TOKEN=$TOKEN" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true
}

cleanup_processes() {
	local pids i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(token_pids)
		[ -z "$pids" ] && return 0
		thaw_cgroups
		kill -9 $pids 2>/dev/null || true
		sleep 0.1
	done
}

# Every mounted cgroup hierarchy (v1 controllers, name=systemd and the unified one).
cgroup_mounts() {
	awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo | sort -u
}

# The cgroup paths this test owns: its prefix plus anything it registered (e.g. brig's default parent).
owned_cgroups() {
	echo "$CG_PREFIX"
	cat "$TEST_DIR/cgroups" 2>/dev/null
}

thaw_cgroups() {
	local cg f
	for cg in $(owned_cgroups); do
		for f in $(find "/sys/fs/cgroup/freezer$cg" -name freezer.state 2>/dev/null); do
			echo THAWED >"$f" 2>/dev/null || true
		done
	done
}

cleanup_cgroups() {
	local cg mnt dir try
	for cg in $(owned_cgroups); do
		case "$cg" in
		/brig-test/?* | /brig/?*) ;;
		*) echo "refusing to clean cgroup $cg" >&2; continue ;;
		esac
		for try in 1 2 3 4 5 6 7 8 9 10; do
			local left=0
			for mnt in $(cgroup_mounts); do
				dir=$mnt$cg
				[ -d "$dir" ] || continue
				left=1
				cat $(find "$dir" -name cgroup.procs) 2>/dev/null | xargs -r kill -9 2>/dev/null || true
				find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
			done
			[ "$left" = 0 ] && break
			thaw_cgroups
			sleep 0.1
		done
	done
}

# Mount points below a directory, deepest first; not the directory's own (make_test_dir may have made it).
mounts_under() {
	awk -v d="$1" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# Removes a directory of make_test_dir's, its own mount (if it got one) with it.
remove_test_dir() {
	mountpoint -q "$1" && umount -l "$1"
	rm -rf "$1"
}

cleanup_mounts() {
	local m
	for m in $(mounts_under "$TEST_DIR"); do
		umount -l "$m" 2>/dev/null || true
	done
}

# ---------------------------------------------------------------------------------------------------------
# running the runtime

# The runtime under test with this test's --root and token. Never hangs the suite: killed after
# $BRIG_TIMEOUT seconds.
brig() {
	brig_noroot --root "$BRIG_ROOT" "$@"
}

# The same without --root.
brig_noroot() {
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" "$@"
}

# A runtime command whose children may outlive it (create, run -d): the container inherits the caller's
# stdio, so a pipe (as `run` uses) would stay open until the container exits. Output goes to files
# instead and is put back into $output/$status like bats' `run`; $TEST_DIR/<id>.out holds what the
# container writes. Usage: brig_detached ID create|run [flags...] (flags go before the id).
brig_detached() {
	local id=$1 cmd=$2
	shift 2
	local name=${id//\//_}
	local out=$TEST_DIR/${name:-_}.out err=$TEST_DIR/${name:-_}.err
	status=0
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" --root "$BRIG_ROOT" "$cmd" "$@" "$id" \
		</dev/null >"$out" 2>"$err" 3>&- || status=$?
	output=$(cat "$err")
	echo "# $cmd $id: status $status: $output" >&3 2>/dev/null || true
}

# create with the default bundle: brig_create [ID [flags...]]
brig_create() {
	local id=${1:-$ID}
	[ $# -gt 0 ] && shift
	remember_id "$id"
	brig_detached "$id" create --bundle "$BUNDLE" "$@"
}

remember_id() {
	grep -qx "$1" "$TEST_DIR/ids" || echo "$1" >>"$TEST_DIR/ids"
}

container_status() {
	brig state "$1" 2>/dev/null | jq -r .status
}

container_pid() {
	brig state "$1" | jq -r .pid
}

# wait_for_status ID STATUS [SECONDS]
wait_for_status() {
	local id=$1 want=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(container_status "$id")" = "$want" ] && return 0
		sleep 0.05
	done
	echo "container $id did not reach status $want (now: $(container_status "$id"))" >&2
	return 1
}

# What a detached container wrote to its stdout (its stdio goes to $TEST_DIR/<id>.out).
container_output() {
	cat "$TEST_DIR/${1:-$ID}.out"
}

# ---------------------------------------------------------------------------------------------------------
# bundles

# make_config BUNDLE_DIR ID: config.json from `$BRIG spec`, adjusted for tests: no terminal, writable
# root, the test token in the environment and an absolute cgroupsPath under this test's prefix.
make_config() {
	local dir=$1 id=$2
	rm -f "$dir/config.json"
	(cd "$dir" && brig_noroot spec) || return 1
	jq --arg tok "BRIG_TEST_TOKEN=$TOKEN" --arg cg "$CG_PREFIX/$id" '
		.process.terminal = false
		| .process.args = ["true"]
		| .process.env += [$tok]
		| .root.readonly = false
		| .linux.cgroupsPath = $cg' "$dir/config.json" >"$dir/config.json.new" &&
		mv "$dir/config.json.new" "$dir/config.json"
}

# bundle_jq FILTER [jq args...]: edits $BUNDLE/config.json in place (or $CONFIG_BUNDLE if set).
bundle_jq() {
	local dir=${CONFIG_BUNDLE:-$BUNDLE} filter=$1
	shift
	jq "$@" "$filter" "$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# bundle_set_args ARG...: sets process.args.
bundle_set_args() {
	# One JSON string per argument (jq 1.6's --args would take an argument like -c as its own option).
	local args=() a
	for a in "$@"; do
		json_string "$a"
		args+=("$REPLY")
	done
	bundle_jq ".process.args = [$(IFS=,; echo "${args[*]}")]"
}

# json_string TEXT: TEXT as a JSON string, in $REPLY. Plain bash for the usual text (a jq per argument costs
# ~0.8 s in the guest lane); jq when it holds control characters other than newline and tab.
json_string() {
	local t=$1
	if [[ "$t" == *[$'\x01'-$'\x08'$'\x0b'-$'\x1f'$'\x7f']* ]]; then
		REPLY=$(jq -n --arg a "$t" '$a')
		return
	fi
	# Quoted replacements: bash 5.2 would otherwise put the pattern in for each `&` (patsub_replacement).
	t=${t//'\'/'\\'}
	t=${t//'"'/'\"'}
	t=${t//$'\n'/'\n'}
	t=${t//$'\t'/'\t'}
	REPLY="\"$t\""
}

# An extra bundle sharing this test's rootfs (absolute root.path), with its own id and cgroup:
# make_bundle ID -> prints the bundle dir.
make_bundle() {
	local id=$1 dir=$TEST_DIR/bundle-$1
	mkdir -p "$dir"
	make_config "$dir" "$id" >/dev/null || return 1
	CONFIG_BUNDLE=$dir bundle_jq '.root.path = $r' --arg r "$ROOTFS"
	remember_id "$id"
	echo "$dir"
}

# Copies a static helper from $BRIG_HELPERS into the rootfs's /bin.
bundle_add_helper() {
	local h=$BRIG_HELPERS/$1
	[ -x "$h" ] || skip "helper $1 not built (BRIG_HELPERS=$BRIG_HELPERS)"
	cp "$h" "$ROOTFS/bin/$1"
}

# Removes the namespace of `type` from the config.
bundle_drop_ns() {
	bundle_jq '.linux.namespaces |= map(select(.type != $t))' --arg t "$1"
}

# Adds (or replaces) a namespace entry: bundle_add_ns TYPE [PATH]
bundle_add_ns() {
	if [ -n "${2:-}" ]; then
		bundle_jq '.linux.namespaces = ((.linux.namespaces // []) | map(select(.type != $t))) + [{type: $t, path: $p}]' \
			--arg t "$1" --arg p "$2"
	else
		bundle_jq '.linux.namespaces = ((.linux.namespaces // []) | map(select(.type != $t))) + [{type: $t}]' \
			--arg t "$1"
	fi
}

# A network namespace for the test, removed in teardown: make_netns -> prints its name.
make_netns() {
	local name=brigtest-$RAND-$1
	ip netns add "$name" || return 1
	echo "$name" >>"$TEST_DIR/netns"
	echo "$name"
}

# A device node of the test's own, so that no test leans on the host's /dev (machines of this kind differ:
# one has no /dev/autofs). It lives on a tmpfs mounted with `dev`, since the filesystem under $TEST_DIR may
# be mounted nodev. make_device_node NAME c|b MAJOR MINOR -> prints its path; teardown unmounts it.
make_device_node() {
	local dir=$TEST_DIR/devnodes
	if ! mountpoint -q "$dir"; then
		mkdir -p "$dir"
		mount -t tmpfs -o dev,mode=755,size=64k brig-test-dev "$dir" || return 1
	fi
	mknod -m 666 "$dir/$1" "$2" "$3" "$4" || return 1
	echo "$dir/$1"
}

# An unprivileged user for the test, with subordinate uid and gid ranges of its own: useradd gives none
# when /etc/subuid is missing or SUB_UID_COUNT is 0, so the test adds them itself (a free range above every
# range already listed, under a lock, since test files run in parallel). userdel removes user and ranges.
# remove_test_user NAME: kills the user's processes, waits for them to be gone (userdel refuses a user with a
# process, and a SIGKILLed slirp4netns or pasta takes a moment to die), then removes the user and its ranges.
remove_test_user() {
	local name=$1 i
	id -u "$name" >/dev/null 2>&1 || return 0
	for i in $(seq 100); do
		pkill -KILL -u "$name" 2>/dev/null || break
		sleep 0.05
	done
	userdel "$name" 2>/dev/null || userdel -f "$name" 2>/dev/null || true
}

# make_test_user NAME [COUNT]: COUNT subordinate uids and gids (65536); 0 for none.
make_test_user() {
	local name=$1 count=${2:-65536}
	(
		flock 9
		if [ "$count" = 0 ]; then
			useradd -M -d /nonexistent -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$name" || exit 1
			! grep -q "^$name:" /etc/subuid /etc/subgid 2>/dev/null || exit 1
			exit 0
		fi
		useradd -M -d /nonexistent -s /bin/sh "$name" || exit 1
		local file opt start
		for file in subuid subgid; do
			[ "$file" = subuid ] && opt=--add-subuids || opt=--add-subgids
			grep -q "^$name:" "/etc/$file" 2>/dev/null && continue
			start=$(awk -F: 'BEGIN { end = 200000 } $2 + $3 > end { end = $2 + $3 } END { print end }' \
				"/etc/$file" 2>/dev/null || echo 200000)
			usermod "$opt" "$start-$((start + count - 1))" "$name" || exit 1
		done
	) 9>>"$BRIG_BUILD/.test-users.lock"
}

# Registers an extra cgroup path (absolute, under /brig/) for teardown to remove.
own_cgroup() {
	echo "$1" >>"$TEST_DIR/cgroups"
}

# ---------------------------------------------------------------------------------------------------------
# checks

is_brig() {
	if [ -z "${IS_BRIG:-}" ]; then
		IS_BRIG=no
		timeout 10 "$BRIG" --version 2>/dev/null | head -1 | grep -q '^brig version ' && IS_BRIG=yes
	fi
	[ "$IS_BRIG" = yes ]
}

# Skips a test that checks brig's own behaviour (error texts, placement rules) when another runtime is
# under test.
require_brig() {
	is_brig || skip "checks brig-specific behaviour"
}

# Fails with what was expected and what the last `run` gave.
fail() {
	echo "$@" >&2
	echo "status: ${status:-}" >&2
	echo "output: ${output:-}" >&2
	return 1
}

assert_success() {
	[ "$status" -eq 0 ] || fail "expected success"
}

assert_failure() {
	[ "$status" -ne 0 ] || fail "expected failure"
}

assert_status() {
	[ "$status" -eq "$1" ] || fail "expected status $1"
}

# The output contains every given string (fixed, case-sensitive).
assert_output_contains() {
	local s
	for s in "$@"; do
		[[ "$output" == *"$s"* ]] || fail "expected the output to contain: $s"
	done
}

assert_output_not_contains() {
	local s
	for s in "$@"; do
		[[ "$output" != *"$s"* ]] || fail "expected the output not to contain: $s"
	done
}

# An error for humans: non-empty, one line (debug or log lines, if any, come before it).
assert_one_line_error() {
	assert_failure
	[ -n "$output" ] || fail "expected an error message on stderr"
	local last
	last=$(printf '%s\n' "$output" | tail -n 1)
	[ "$(printf '%s\n' "$output" | grep -cv '^$')" -eq 1 ] || fail "expected exactly one line of error"
	[ ${#last} -lt 1000 ] || fail "error line is too long"
}

# Nothing of the test's containers is left: no state, no cgroup below the test prefix in any hierarchy,
# no mount under the test directory, no process carrying the test token, and `list` is empty.
assert_nothing_left() {
	local id mnt m p cg
	for id in $(cat "$TEST_DIR/ids"); do
		[ ! -e "$BRIG_ROOT/$id" ] || fail "state of $id left in $BRIG_ROOT: $(ls -la "$BRIG_ROOT/$id")"
	done
	[ -z "$(brig list -q 2>/dev/null)" ] || fail "list still shows: $(brig list -q)"
	for mnt in $(cgroup_mounts); do
		for cg in $(owned_cgroups); do
			[ -d "$mnt$cg" ] || continue
			m=$(find "$mnt$cg" -mindepth 1 -type d)
			[ -z "$m" ] || fail "cgroups left: $m"
		done
	done
	for cg in $(cat "$TEST_DIR/cgroups"); do
		for mnt in $(cgroup_mounts); do
			[ ! -d "$mnt$cg" ] || fail "cgroup left: $mnt$cg"
		done
	done
	m=$(mounts_under "$TEST_DIR")
	[ -z "$m" ] || fail "mounts left: $m"
	p=$(token_pids)
	[ -z "$p" ] || fail "processes left: $(ps -o pid,args -p "$(echo $p | tr ' ' ,)")"
}

# Runs the bundle's process with `brig run` and returns its output (for checks from inside):
# run_in_container sh -c '...'
run_in_container() {
	bundle_set_args "$@"
	run brig run --bundle "$BUNDLE" "$ID"
}
