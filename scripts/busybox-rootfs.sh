#!/bin/bash
# busybox-rootfs.sh DIR: the busybox-static root filesystem that the demo, the benchmarks and the tests run
# (/bin/busybox and a link per applet, the usual top-level directories, root in passwd and group). Callers
# add what they need on top.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
busybox=/bin/busybox
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var,run,mnt}
chmod 755 "$dir"
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
echo 'root:x:0:' >"$dir/etc/group"
