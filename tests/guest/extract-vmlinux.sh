#!/bin/bash
# extract-vmlinux.sh BZIMAGE OUT: writes the uncompressed kernel ELF inside a bzImage to OUT.
#
# qemu boots an uncompressed vmlinux straight through its PVH entry point, which skips the BIOS, the real
# mode setup and the in-guest decompression (about 4 s instead of 11 s under TCG). The bzImage holds the
# kernel as one compressed stream after the setup code; we look for each format's magic bytes and take the
# first offset whose stream decompresses to an ELF file.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BZIMAGE OUT" >&2
	exit 2
fi
image=$1 out=$2

# format magic (as grep -P escapes) and the command that decompresses stdin to stdout.
formats=(
	'xz|\xFD\x37\x7A\x58\x5A\x00|xz -dc'
	'gzip|\x1F\x8B\x08|gzip -dc'
	'zstd|\x28\xB5\x2F\xFD|zstd -dc'
	'bzip2|BZh|bzip2 -dc'
	'lzma|\x5D\x00\x00\x00|xz -dc --format=lzma'
	'lz4|\x02\x21\x4C\x18|lz4 -dc'
	'lzo|\x89\x4C\x5A\x4F\x00\x0D\x0A\x1A\x0A|lzop -dc'
)

tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT

is_elf() {
	[ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]
}

for entry in "${formats[@]}"; do
	IFS='|' read -r name magic cmd <<<"$entry"
	command -v "${cmd%% *}" >/dev/null || continue
	# Byte offsets of every occurrence of the magic; the payload normally comes first, but a false match
	# inside the setup code just fails to decompress and we move on.
	for offset in $(LC_ALL=C grep -obUaP "$magic" "$image" | cut -d: -f1); do
		# The stream is followed by other data, which the tools report as trailing garbage: ignore their
		# status and judge by what came out.
		tail -c "+$((offset + 1))" "$image" | $cmd >"$tmp" 2>/dev/null || true
		if [ -s "$tmp" ] && is_elf "$tmp"; then
			chmod 644 "$tmp"
			mv "$tmp" "$out"
			echo "$0: extracted the $name-compressed kernel from $image" >&2
			trap - EXIT
			exit 0
		fi
	done
done

echo "$0: no compressed ELF kernel found in $image" >&2
exit 1
