#!/bin/bash
# build-initramfs.sh KVER OUT: writes the guest lane's initramfs (an uncompressed newc cpio) to OUT.
#
# It holds only what is needed to reach the host's root over 9p: the static busybox, the first-stage
# init (initramfs-init.sh) and the modules for virtio-pci, 9p and overlayfs of kernel KVER, with their
# dependencies from that kernel's modules.dep, in load order. Everything else (modprobe, bash, brig,
# bats, criu) comes from the host's root once the guest has switched to it.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 KVER OUT" >&2
	exit 2
fi
kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=/lib/modules/$kver
busybox=${BUSYBOX:-/bin/busybox}
# tun: criu probes /dev/net/tun, which appears only once the module is in (no autoload on open).
WANTED_MODULES=(virtio_pci 9pnet_virtio 9p overlay tun)

[ -r "$moddir/modules.dep" ] || { echo "$0: no $moddir/modules.dep (install linux-image-amd64)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
	echo "$0: $busybox is not statically linked (install busybox-static)" >&2
	exit 1
fi

declare -A deps_of path_of loaded
# modules.dep lines: "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko ..."
while IFS= read -r line; do
	mod=${line%%:*}
	name=${mod##*/}
	name=${name%%.ko*}
	name=${name//-/_}
	path_of[$name]=$mod
	deps_of[$mod]=${line#*:}
done <"$moddir/modules.dep"

order=()
# Depth first, dependencies before the module that needs them.
add_module() {
	local mod=$1 dep
	[ -n "${loaded[$mod]:-}" ] && return 0
	loaded[$mod]=1
	for dep in ${deps_of[$mod]}; do
		add_module "$dep"
	done
	order+=("$mod")
}
for name in "${WANTED_MODULES[@]}"; do
	[ -n "${path_of[$name]:-}" ] || { echo "$0: module $name not in $moddir/modules.dep" >&2; exit 1; }
	add_module "${path_of[$name]}"
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/brig-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,modules}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$here/initramfs-init.sh" "$stage/init"
chmod 755 "$stage/init"

# insmod takes plain .ko files: decompress the ones the package ships compressed.
: >"$stage/modules/order"
for mod in "${order[@]}"; do
	base=${mod##*/}
	case "$base" in
	*.ko.xz) xz -dc "$moddir/$mod" >"$stage/modules/${base%.xz}" ;;
	*.ko.zst) zstd -qdc "$moddir/$mod" >"$stage/modules/${base%.zst}" ;;
	*.ko.gz) gzip -dc "$moddir/$mod" >"$stage/modules/${base%.gz}" ;;
	*.ko) cp "$moddir/$mod" "$stage/modules/$base" ;;
	*) echo "$0: unknown module file $mod" >&2; exit 1 ;;
	esac
	echo "${base%%.ko*}.ko" >>"$stage/modules/order"
done

# The kernel needs /dev/console in the initramfs to give init its stdio before devtmpfs is mounted;
# cpio records the node from the archive list, so make it here (we run as root).
mknod -m 600 "$stage/dev/console" c 5 1

tmp_out=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) >"$tmp_out"
chmod 644 "$tmp_out"
mv "$tmp_out" "$out"
