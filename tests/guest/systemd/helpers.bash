# Helpers for the systemd guest's bats files (tests/guest/systemd): the guest lane's helpers plus what
# asks systemd. Load with `load helpers` from a file of this folder.

# shellcheck source=../helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/../helpers.bash"

# sd_show UNIT PROP=WANT...: systemctl show's value of each PROP is WANT; every mismatch at once.
sd_show() {
	local unit=$1 kv props=() out bad=()
	shift
	for kv in "$@"; do
		props+=(-p "${kv%%=*}")
	done
	out=$(systemctl show "${props[@]}" "$unit") || fail "systemctl show $unit"
	for kv in "$@"; do
		[[ $'\n'"$out"$'\n' == *$'\n'"$kv"$'\n'* ]] || bad+=("want $kv")
	done
	[ ${#bad[@]} -eq 0 ] || fail "$unit: $(printf '%s; ' "${bad[@]}") got: ${out//$'\n'/ }"
}

# The unit is not loaded any more (stopped and garbage-collected, nothing failed left).
sd_gone() {
	sd_show "$1" LoadState=not-found ActiveState=inactive
	run systemctl list-units --failed --plain --no-legend
	[ -z "$output" ] || fail "failed units left: $output"
}

# sd_stop_units PATTERN: what a failed test may have left, the units matching PATTERN (a glob
# `systemctl list-units` takes), stopped and forgotten.
sd_stop_units() {
	local u
	for u in $(systemctl list-units --all --plain --no-legend "$1" 2>/dev/null | cut -d' ' -f1); do
		systemctl stop "$u" >/dev/null 2>&1
		systemctl reset-failed "$u" >/dev/null 2>&1
	done
	return 0
}
