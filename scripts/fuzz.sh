#!/bin/bash
# Builds the libFuzzer targets (clang, build-fuzz/) and runs each in turn for an equal share of a total time,
# one job at a time, over a scratch copy of its seed corpus; prints per target the executions, the coverage
# reached (libFuzzer's cov/ft) and the crashes, leaks or timeouts found (their inputs are kept in
# build-fuzz/findings/TARGET/). Exits non-zero when any target found one.
#   scripts/fuzz.sh [TOTAL_SECONDS (default 3600)] [TARGET...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build-fuzz
total=${1:-3600}
shift || true
CC=clang cmake -S "$repo" -B "$build" -DBRIG_FUZZ=ON -DBRIG_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target fuzzers >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in "$repo"/tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c | sed 's/^fuzz_//')"); done
fi
per=$((total / ${#targets[@]}))
failed=0
printf '%-10s %10s %8s %8s %s\n' target execs cov ft findings
for t in "${targets[@]}"; do
	out=$build/findings/$t
	rm -rf "$out" && mkdir -p "$out/corpus"
	rc=0
	(cd "$out" && "$build/fuzz/fuzz_$t" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 "$out/corpus" "$repo/tests/fuzz/corpus/$t" >"$out/log" 2>&1) || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
	cov=$(grep -Eo 'cov: [0-9]+' "$out/log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -Eo 'ft: [0-9]+' "$out/log" | tail -1 | cut -d' ' -f2)
	found=$(find "$out" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
	[ "$rc" -eq 0 ] && [ "$found" -eq 0 ] || failed=1
	printf '%-10s %10s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$found (rc $rc)"
done
exit $failed
