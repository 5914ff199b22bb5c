#!/usr/bin/env bats
# The cgroup unit tests (cmocka, from the build directory) on cgroup v2: on the host they run against the
# v1 hybrid layout, here the same tests check the v2 files, the core freezer and the eBPF device program.

load ../helpers

setup() {
	require_guest_lane
}

@test "cgroup unit tests pass on v2: test_cgroups, test_cgroups_apply, test_cgroups_convert" {
	local dir=${BRIG_BUILD:-}/tests t failed=()
	[ -x "$dir/test_cgroups" ] || fail "no unit tests in ${dir} (BRIG_BUILD=${BRIG_BUILD:-})"
	for t in test_cgroups test_cgroups_apply test_cgroups_convert; do
		run "$dir/$t"
		[ "$status" -eq 0 ] || {
			failed+=("$t")
			printf '# %s (status %s):\n%s\n' "$t" "$status" "$output" >&2
		}
	done
	[ ${#failed[@]} -eq 0 ] || fail "failed: ${failed[*]}"
}
