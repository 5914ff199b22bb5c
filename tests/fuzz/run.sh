#!/bin/bash
# Runs one libFuzzer target for a fixed time over a copy of its seed corpus (the tree's corpus is never
# written) and fails on any crash, leak or timeout (libFuzzer exits non-zero and leaves a crash-* file).
#   tests/fuzz/run.sh BINARY SEED_DIR SECONDS
set -euo pipefail
bin=$(realpath "$1") seeds=$(realpath "$2") secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cd "$work"
rc=0
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	"$work/corpus" "$seeds" >"$work/log" 2>&1 || rc=$?
grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|ERROR|SUMMARY|Test unit written' "$work/log" || true
[ "$rc" -eq 0 ] || tail -n 60 "$work/log"
exit "$rc"
