#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the initramfs of the guest kernel: a static busybox and
# scripts/guest-init.sh as /init, in $DSA_CACHE/guest/.  Prints its path.
# A key over busybox and the init script decides whether it is rebuilt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

busybox=${BUSYBOX:-/bin/busybox}
if ! "$busybox" --help >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
	echo "guest-initramfs.sh: $busybox is missing or not static: run 'make setup' (busybox-static)" >&2
	exit 1
fi
out=$DSA_CACHE/guest
img=$out/initramfs.cpio.gz
key=$(cat "$busybox" "$here/guest-init.sh" "$0" | sha256sum | cut -d' ' -f1)
if [ -f "$img" ] && [ "$(cat "$out/.initramfs-key" 2>/dev/null)" = "$key" ]; then
	echo "$img"
	exit 0
fi
mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys}
cp "$busybox" "$stage/bin/busybox"
# The kernel opens /dev/console for init before anything mounts devtmpfs.
mknod -m 600 "$stage/dev/console" c 5 1
install -m 755 "$here/guest-init.sh" "$stage/init"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet | gzip -9n) >"$img.tmp"
mv "$img.tmp" "$img"
echo "$key" >"$out/.initramfs-key"
echo "$img"
