#!/usr/bin/env bats
# Idmapped mounts: uidMappings/gidMappings on a bind mount (mount_setattr MOUNT_ATTR_IDMAP).

load helpers

@test "an idmapped bind mount shows on-disk ids as the mapped container ids" {
	local src=$TEST_DIR/idsrc
	mkdir -p "$src"
	touch "$src/owned-by-1000"
	chown 1000:1001 "$src/owned-by-1000"
	bundle_jq '.mounts += [
		{destination: "/mapped", type: "bind", source: $s, options: ["rbind"],
		 uidMappings: [{containerID: 0, hostID: 1000, size: 1}], gidMappings: [{containerID: 5, hostID: 1001, size: 1}]},
		{destination: "/plain", type: "bind", source: $s, options: ["rbind"]}]' --arg s "$src"
	run_in_container sh -c 'stat -c "%u:%g" /mapped/owned-by-1000 /plain/owned-by-1000'
	assert_success
	[ "$(printf '%s\n' "$output" | sed -n 1p)" = "0:5" ] || fail "mapped ids: $output"
	[ "$(printf '%s\n' "$output" | sed -n 2p)" = "1000:1001" ] || fail "plain ids: $output"
	# The host's view is unchanged.
	[ "$(stat -c %u:%g "$src/owned-by-1000")" = "1000:1001" ]
	assert_nothing_left
}

@test "id mappings on a mount that is not a bind mount are refused, nothing left" {
	bundle_jq '.mounts += [{destination: "/t", type: "tmpfs", source: "tmpfs",
		uidMappings: [{containerID: 0, hostID: 1000, size: 1}], gidMappings: [{containerID: 0, hostID: 1000, size: 1}]}]'
	run_in_container true
	assert_one_line_error
	assert_output_contains "only supported on bind mounts"
	assert_nothing_left
}
