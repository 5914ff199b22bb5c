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
