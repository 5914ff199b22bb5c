#!/bin/bash
# release-brig.sh BUILD_DIR: builds a release brig (no tests, no sanitizers) in BUILD_DIR, quietly, and
# prints the binary's path. For the demo and the benchmarks.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$repo" -B "$1" -DCMAKE_BUILD_TYPE=Release -DBRIG_SANITIZE=OFF -DBRIG_TESTS=OFF >/dev/null
cmake --build "$1" --target brig -j "$(nproc)" >/dev/null
echo "$(cd "$1" && pwd)/brig"
