#!/bin/bash
# The one test command: installs what is missing, builds brig with ASan+UBSan in build-test/, and runs
# every unit and integration test through CTest. Exits with CTest's status.
#   sudo scripts/test.sh [extra ctest args, e.g. -R integration/lifecycle]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build-test

"$repo/scripts/setup.sh"

cmake -S "$repo" -B "$build" -DBRIG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)"

# Integration test files run in parallel: each test has its own --root, ids, cgroup prefix and
# temporary directory, so they do not interfere.
rc=0
(cd "$build" && ctest --output-on-failure -j "$(nproc)" "$@") || rc=$?

# The tests' shared cgroup parent: removed when empty (each test removes its own subtree).
for dir in /sys/fs/cgroup/*/brig-test; do
	[ -d "$dir" ] && rmdir "$dir" 2>/dev/null || true
done
exit $rc
