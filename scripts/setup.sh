#!/bin/bash
# Installs every Debian 12 package brig's build, tests and benchmarks need. Idempotent: when all are
# installed already it does nothing (no apt-get update), so reruns take a fraction of a second.
# Run as root: sudo scripts/setup.sh
set -euo pipefail

# Build.
BUILD_PACKAGES=(
	build-essential cmake pkg-config git
	libseccomp-dev libcap-dev libyajl-dev libmnl-dev libnftnl-dev
	libarchive-dev libssl-dev # image/: headers; libarchive13 and libssl3 are loaded when an image is used
	libsystemd-dev # cgroups/systemd.c: sd-bus.h; libsystemd.so.0 is dlopen()ed for --systemd-cgroup only
	criu libprotobuf-c-dev # checkpoint/: criu.h (which includes protobuf-c's header); libcriu.so.2 is dlopen()ed
)
# Tests and benchmarks.
TEST_PACKAGES=(
	libcmocka-dev bats jq busybox-static
	runc crun
	iproute2 nftables uidmap time procps util-linux coreutils
	cppcheck clang-tidy hyperfine
	clang libclang-rt-14-dev # libFuzzer targets (tests/fuzz, scripts/fuzz.sh)
	iperf3
)
# ---- Added by later issues (keep this list, one package per line, with the issue that needs it) ----
# qemu-system-x86      issue 4: cgroup v2 guest lane
# linux-image-amd64    issue 4: cgroup v2 guest lane
# criu                 checkpoint/restore
# containerd           issue 6: ctr smoke tests
# podman               issue 6: podman tests
# umoci skopeo         issue 6: OCI images for ctr
# socat                IPv6 masquerade and sctp forwarding tests (tests/integration/network.bats)
# containernetworking-plugins python3-grpcio protobuf-compiler   issue 12: CRI tests in the systemd guest
LATER_PACKAGES=(
	# issue 6: real clients drive brig (tests/integration/containerd.bats, podman.bats)
	containerd            # ctr, containerd-shim-runc-v2
	umoci skopeo          # the busybox OCI image that ctr imports
	podman conmon         # Podman 4.3 and its monitor
	netavark aardvark-dns # Podman's network stack (port publishing test)
	iptables curl         # netavark's firewall driver; HTTP check of the published port
	catatonit             # rootless Podman's pause process
	fuse-overlayfs slirp4netns uidmap # rootless Podman (storage fallback, network, newuidmap); fuse-overlayfs is
	                                  # also brig's rootless overlay root fallback (issue 15, overlay.bats)
	# brig's IPv6 and sctp forwarding tests (tests/integration/network.bats)
	socat                 # prints the masqueraded peer; sctp and IPv6 servers
	python3               # the sctp client and small socket helpers of those tests
	# issue 9: every tool a test runs comes from here, not from what a machine happens to have
	strace                # fault injection into brig's syscalls (tests/integration/fds.bats)
	passwd                # useradd/usermod/userdel for the rootless tests' own users and subordinate ids
	# issue 15: OCI images (tests/integration/image.bats, bench/image.sh; umoci above builds them)
	zstd                  # zstd-compressed layers
	# issue 13: rootless networks (--network slirp4netns|pasta, tests/integration/rootless_net.bats,
	# bench/net-run.sh; slirp4netns and iperf3 are listed above)
	passt                 # pasta (Debian 12: 0.0~git20230309)
	# issue 12: containerd's CRI with brig in the systemd guest (tests/guest/systemd/cri.bats, bench/cri-pod.sh)
	containernetworking-plugins # the CNI bridge, host-local and loopback plugins (/usr/lib/cni)
	python3-grpcio protobuf-compiler # the project's CRI client (tests/clients/cri): grpc, and protoc for its
	                                 # cri.proto (python3-protobuf comes with python3-grpcio)
)
# ---- Guest lane (issue 4; owned by tests/guest/): qemu TCG guest on Debian's own 6.1 kernel for the
# cgroup v2 and CRIU tests. busybox-static also builds the guest's initramfs (its cpio applet).
GUEST_LANE_PACKAGES=(
	qemu-system-x86 linux-image-amd64 criu kmod busybox-static iproute2 nftables
	xz-utils zstd gzip # compressed kernel modules for the initramfs (build-initramfs.sh)
	apparmor           # issue 17: apparmor_parser loads the profiles of suites/apparmor.bats
)
# ---- end of guest lane block

packages=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${LATER_PACKAGES[@]}" "${GUEST_LANE_PACKAGES[@]}")

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (sudo $0)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup.sh: all ${#packages[@]} packages are installed"
	exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
