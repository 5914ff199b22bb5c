#!/bin/bash
# Container network costs (netns/), measured inside a throwaway network namespace that stands for the host:
#   - setup (prepare + attach: lease, claims, veth into a fresh netns, addresses, routes, nft elements) and
#     teardown, medians over N containers, on top of creating the network namespace itself;
#   - adding + removing one port forward while 1 and 500 other containers' forwards are published.
#   sudo bench/net-setup.sh [BUILD_DIR] [N]
set -euo pipefail

build=${1:-build-net}
n=${2:-100}
tool=$build/tests/netns_tool
host=brig-bench-$$
# brig's state root is /run/brig, a tmpfs on most hosts (not on this VM, where /run is ext4): default to one.
root=$(mktemp -d "${BENCH_DIR:-/dev/shm}/brig-net-bench.XXXXXX")
export BRIG_CONFIG_DIR=$root/cfg

cleanup() {
	ip netns del "$host" 2>/dev/null || true
	rm -rf "$root"
}
trap cleanup EXIT

ip netns add "$host"
ip -n "$host" link set lo up

echo "== a plain new network namespace (unshare -n true), for reference"
python3 - <<'PY'
import subprocess, time, statistics
t = []
for _ in range(50):
    a = time.perf_counter(); subprocess.run(["unshare", "-n", "true"], check=True); t.append((time.perf_counter() - a) * 1e3)
a = time.perf_counter()
for _ in range(50): subprocess.run(["true"], check=True)
base = (time.perf_counter() - a) * 1e3 / 50
print(f"unshare -n true: median {statistics.median(t):.3f} ms (a plain fork+exec of true: {base:.3f} ms)")
PY

echo "== setup and teardown, $n containers (one publishing 8080:80)"
"$tool" --host-netns "/run/netns/$host" bench-setup --root "$root/root" -n "$n" -p 8080:80

echo "== one port forward added and removed"
for published in 1 500; do
	"$tool" --host-netns "/run/netns/$host" bench-ports --root "$root/root" -n "$published" -r 300
done
