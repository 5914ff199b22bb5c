#!/bin/bash
# Static checks that must stay quiet: cppcheck over every library and the CLI (clang-tidy runs with
# .clang-tidy when asked: scripts/lint.sh --tidy BUILD_DIR, which needs compile_commands.json).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dirs=(cmd runtime spec util namespaces cgroups rootfs netns image migrate)
cppcheck --quiet --enable=warning,performance,portability --inline-suppr --error-exitcode=1 \
	-D_GNU_SOURCE -I. --suppress=missingIncludeSystem "${dirs[@]}"
if [ "${1:-}" = --tidy ]; then
	build=${2:?build dir with compile_commands.json}
	files=$(git ls-files "${dirs[@]/%//*.c}")
	clang-tidy -p "$build" --quiet $files
fi
echo "lint: clean"
