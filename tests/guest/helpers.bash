# Helpers for the guest lane's bats files (tests/guest/suites): the shared integration helpers plus what
# a cgroup v2 guest needs. Load with `load ../helpers` from a suite.
#
# In the guest, /sys/fs/cgroup is one cgroup2 hierarchy; the shared helpers find it through
# /proc/self/mountinfo like any other hierarchy, so their setup, teardown and assert_nothing_left work
# as they are. Only freezing differs (cgroup.freeze instead of the v1 freezer), handled below.

# shellcheck source=../integration/helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/../integration/helpers.bash"

CGROUP2_ROOT=/sys/fs/cgroup

# In the guest (guest-init.sh sets BRIG_GUEST_LANE), every test's `cp -a` of the rootfs cache would read
# it over 9p, which costs seconds under TCG: copy the host-built cache into the guest's tmpfs /run once
# per boot and let the tests copy from there. The host's cache is built by lane.sh before the boot.
if [ -n "${BRIG_GUEST_LANE:-}" ]; then
	HOST_ROOTFS_CACHE=$ROOTFS_CACHE
	ROOTFS_CACHE=/run/brig-lane/test-rootfs
	build_rootfs_cache() {
		[ -e "$ROOTFS_CACHE/.complete" ] && return 0
		[ -e "$HOST_ROOTFS_CACHE/.complete" ] ||
			{ echo "no test rootfs at $HOST_ROOTFS_CACHE: run the lane through tests/guest/lane.sh" >&2; return 1; }
		mkdir -p "${ROOTFS_CACHE%/*}"
		(
			flock 9
			[ -e "$ROOTFS_CACHE/.complete" ] && exit 0
			rm -rf "$ROOTFS_CACHE.tmp"
			cp -a "$HOST_ROOTFS_CACHE" "$ROOTFS_CACHE.tmp" && mv "$ROOTFS_CACHE.tmp" "$ROOTFS_CACHE"
		) 9>"$ROOTFS_CACHE.lock"
	}
fi

is_cgroup2_root() {
	[ "$(stat -f -c %T "$CGROUP2_ROOT" 2>/dev/null)" = cgroup2fs ]
}

# The guest lane's suites check the kernel features they exist for: outside the guest (on the v1 hybrid
# host) they skip with a pointer to the lane.
require_guest_lane() {
	is_cgroup2_root || skip "needs cgroup v2 at $CGROUP2_ROOT: runs in the guest lane (ctest -R guest/lane)"
}

# The directory of an absolute cgroup path in the unified hierarchy.
cgroup2_dir() {
	echo "$CGROUP2_ROOT$1"
}

# The container's cgroup path from /proc/PID/cgroup (the "0::" line).
proc_cgroup2() {
	sed -n 's/^0:://p' "/proc/$1/cgroup"
}

# Frozen cgroups would keep teardown's kill -9 from taking effect: thaw v1 and v2 alike.
thaw_cgroups() {
	local cg f
	for cg in $(owned_cgroups); do
		while IFS= read -r f; do
			echo THAWED >"$f" 2>/dev/null || true
		done < <(find "/sys/fs/cgroup/freezer$cg" -name freezer.state 2>/dev/null)
		is_cgroup2_root || continue
		while IFS= read -r f; do
			echo 0 >"$f" 2>/dev/null || true
		done < <(find "$CGROUP2_ROOT$cg" -name cgroup.freeze 2>/dev/null)
	done
}

# ---------------------------------------------------------------------------------------------------------
# Lean helpers for suites that run many containers (cgroup_v2_limits.bats). Under TCG every exec counts
# (jq ~0.8 s, brig ~0.3 s), so a suite sets up once per file instead of once per test: one rootfs copy
# shared by every container (root.path is absolute), one `brig spec` + jq into a template whose
# placeholders plain bash fills per container, and files read with `read` (a builtin, no fork).

# lane_setup_file: from setup_file. Exports TEST_DIR, RAND, TOKEN, BRIG_ROOT, ROOTFS and CG_PREFIX,
# which the shared helpers (brig, brig_detached, owned_cgroups ...) use as in a per-test setup.
lane_setup_file() {
	build_rootfs_cache
	TEST_DIR=$(mktemp -d /tmp/brig-lane.XXXXXX)
	chmod 755 "$TEST_DIR"
	RAND=${TEST_DIR##*.}
	RAND=${RAND,,}
	TOKEN=brigtest-$RAND
	BRIG_ROOT=$TEST_DIR/state
	ROOTFS=$TEST_DIR/rootfs
	CG_PREFIX=$CGROUP_TEST_TOP/$RAND
	export TEST_DIR RAND TOKEN BRIG_ROOT ROOTFS CG_PREFIX
	mkdir -p "$BRIG_ROOT"
	: >"$TEST_DIR/ids"
	: >"$TEST_DIR/netns"
	: >"$TEST_DIR/cgroups"
	cp -a "$ROOTFS_CACHE" "$ROOTFS"
	(cd "$TEST_DIR" && brig_noroot spec) || return 1
	jq -c --arg tok "BRIG_TEST_TOKEN=$TOKEN" --arg rootfs "$ROOTFS" '
		.process.terminal = false
		| .process.args = "@ARGS@"
		| .process.env += [$tok]
		| .root = {path: $rootfs, readonly: false}
		| .linux.cgroupsPath = "@CGROUP@"
		| .linux.resources = "@RESOURCES@"
		| .linux.devices = "@DEVICES@"
		| .linux.namespaces += ["@MORE_NS@"]' "$TEST_DIR/config.json" >"$TEST_DIR/config.template"
}

# lane_teardown: from teardown. Only what a failed test may have left costs anything: each container
# still in --root is deleted with --force and the cgroups below the prefix go.
lane_teardown() {
	local d
	[ -n "${BRIG_ROOT:-}" ] || return 0
	for d in "$BRIG_ROOT"/*; do
		[ -e "$d" ] || continue
		timeout -k 2 10 "$BRIG" --root "$BRIG_ROOT" delete --force "${d##*/}" >/dev/null 2>&1 </dev/null || true
	done
	for d in "$CGROUP2_ROOT$CG_PREFIX"/*/; do
		[ ! -d "$d" ] || lane_remove_cgroup "${d%/}"
	done
	return 0
}

# lane_teardown_file: from teardown_file. Everything the file made, as common_teardown removes it.
lane_teardown_file() {
	[ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ] || return 0
	cleanup_containers
	cleanup_processes
	lane_remove_cgroup "$CGROUP2_ROOT$CG_PREFIX"
	cleanup_mounts
	rm -rf "$TEST_DIR"
}

# lane_remove_cgroup DIR: kills what is left in the v2 cgroup DIR and removes it, children first (what
# cleanup_cgroups does for every hierarchy, with globs instead of find, awk and xargs).
lane_remove_cgroup() {
	local child _
	[ -d "$1" ] || return 0
	for child in "$1"/*/; do
		[ ! -d "$child" ] || lane_remove_cgroup "${child%/}"
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		echo 0 >"$1/cgroup.freeze" 2>/dev/null
		echo 1 >"$1/cgroup.kill" 2>/dev/null
		rmdir "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "could not remove cgroup $1" >&2
}

# lane_bundle ID ARGS_JSON [RESOURCES_JSON] [DEVICES_JSON]: the config $TEST_DIR/ID.json (the bundle is
# $TEST_DIR for every container: `-f ID.json`) from the template, with cgroupsPath $CG_PREFIX/ID. The
# JSON is given as text: '["sleep", "1000"]', '{"pids": {"limit": 5}}'. LANE_MORE_NS adds namespaces
# to `brig spec`'s: LANE_MORE_NS='{"type": "cgroup"}'; LANE_CGROUP replaces the cgroupsPath (systemd's
# "slice:prefix:name").
lane_bundle() {
	local id=$1 args=$2 resources=${3:-'{}'} devices=${4:-'[]'} more=${LANE_MORE_NS:-} text
	local cgroup=${LANE_CGROUP-$CG_PREFIX/$id}
	IFS= read -r -d '' text <"$TEST_DIR/config.template" || true
	text=${text//',"@MORE_NS@"'/"${more:+,$more}"}
	# Quoted replacements: bash 5.2 would otherwise put the pattern in for each `&` (patsub_replacement).
	text=${text//'"@ARGS@"'/"$args"}
	text=${text//'"@CGROUP@"'/"\"$cgroup\""}
	text=${text//'"@RESOURCES@"'/"$resources"}
	text=${text//'"@DEVICES@"'/"$devices"}
	printf '%s' "$text" >"$TEST_DIR/$id.json"
	echo "$id" >>"$TEST_DIR/ids"
}

# lane_create ID [flags...]: create from lane_bundle's config, as brig_detached does it but without
# forking more than timeout and brig; the init's pid lands in $TEST_DIR/ID.pid. Sets $status, $output.
# LANE_GLOBAL (an array) holds global flags for the create: LANE_GLOBAL=(--systemd-cgroup).
lane_create() {
	local id=$1
	shift
	status=0
	BRIG_TEST_TOKEN=$TOKEN timeout -k 5 "$BRIG_TIMEOUT" "$BRIG" --root "$BRIG_ROOT" "${LANE_GLOBAL[@]}" create --bundle "$TEST_DIR" \
		-f "$id.json" --pid-file "$TEST_DIR/$id.pid" "$@" "$id" </dev/null >"$TEST_DIR/$id.out" 2>"$TEST_DIR/$id.err" 3>&- ||
		status=$?
	output=
	IFS= read -r -d '' output <"$TEST_DIR/$id.err" || true
	output=${output%$'\n'}
	echo "# create $id: status $status: $output" >&3 2>/dev/null || true
}

# lane_run ID ARGS_JSON [RESOURCES_JSON] [DEVICES_JSON]: bundle, create and start: a running container.
lane_run() {
	lane_bundle "$@"
	lane_create "$1"
	assert_success
	run brig start "$1"
	assert_success
}

# lane_refused ID RESOURCES_JSON MESSAGE...: create fails with one line of error holding every MESSAGE,
# and nothing of the container is left.
lane_refused() {
	local id=$1 resources=$2
	shift 2
	lane_bundle "$id" '["true"]' "$resources"
	lane_create "$id"
	[ "$status" -ne 0 ] || fail "expected $id to be refused"
	if [ -z "$output" ] || [[ "$output" == *$'\n'* ]]; then
		fail "expected one line of error"
	fi
	assert_output_contains "$@"
	lane_gone "$id"
}

# The init's pid (from --pid-file), in $REPLY.
lane_pid() {
	IFS= read -r REPLY <"$TEST_DIR/$1.pid" || [ -n "$REPLY" ]
}

# The container's status from `brig state`, in $REPLY, without jq.
lane_status() {
	local out
	out=$(brig state "$1" 2>/dev/null) || true
	REPLY=
	[[ "$out" =~ \"status\":\ *\"([a-z]+)\" ]] && REPLY=${BASH_REMATCH[1]}
	return 0
}

# lane_wait_file FILE [SECONDS]: waits (builtin sleep loop, no jq) until FILE exists and is not empty.
lane_wait_file() {
	local i
	for ((i = 0; i < ${2:-20} * 10; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	fail "$1 did not appear within ${2:-20}s"
}

# cg_check DIR FILE=WANT...: the first line of each DIR/FILE is WANT. Reads with `read` only, and
# reports every mismatch at once.
cg_check() {
	local dir=$1 kv file want value bad=()
	shift
	for kv in "$@"; do
		file=${kv%%=*} want=${kv#*=} value='<missing>'
		if [ -e "$dir/$file" ]; then
			value=
			IFS= read -r value <"$dir/$file" || true
		fi
		[ "$value" = "$want" ] || bad+=("$file: \`$value\`, want \`$want\`")
	done
	[ ${#bad[@]} -eq 0 ] || fail "in $dir: $(printf '%s; ' "${bad[@]}")"
}

# cg_has DIR FILE WORD...: every WORD is in DIR/FILE (whitespace-separated, e.g. cgroup.subtree_control).
cg_has() {
	local file=$1/$2 text w
	shift 2
	IFS= read -r -d '' text <"$file" || true
	for w in "$@"; do
		[[ " ${text//$'\n'/ } " == *" $w "* ]] || fail "$file lacks \`$w\`: $text"
	done
}

# lane_gone ID: no state, no cgroup and no process of the container ID is left.
lane_gone() {
	local dir=$CGROUP2_ROOT$CG_PREFIX/$1
	[ ! -e "$BRIG_ROOT/$1" ] || fail "state of $1 left in $BRIG_ROOT"
	[ ! -d "$dir" ] || fail "cgroup $dir left after delete (procs: $(cat "$dir/cgroup.procs" 2>&1))"
}

# cg_key FILE KEY: the value of KEY in a flat-keyed file ("oom_kill 1"), in $REPLY (empty when absent).
cg_key() {
	local k v
	REPLY=
	while read -r k v; do
		[ "$k" = "$2" ] && REPLY=$v && return 0
	done <"$1"
	return 0
}
