#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make guest: the stock idxd driver and dmatest drive dsa_mdev devices in a
# guest that QEMU boots inside the test VM, and the running guest
# live-migrates (scripts/guest-vm.py says what is checked).
#
#   scripts/guest.sh [full|short]
#
# full (make guest): a dsa-1dwq and a dsa-2dwq x2 device, each in a guest
# of its own; the migration of a running guest from dsa0 to dsa1, QEMU to
# QEMU with QEMU's default options, then under libvirt, between two libvirtd
# daemons as two hosts; the seed's pair under libvirt, whose virsh migrate
# fails.  short (make check): the two migrations of a running guest only,
# with fewer dmatest iterations.  Builds (or reuses) the test kernel, the
# guest kernel (config/guest.config, with patches/guest/), its initramfs
# and the module; the output is KTAP.  The consoles of the guests and the
# QEMUs' logs are kept in $DSA_CACHE/guest/last/; libvirt's probe of QEMU
# (minutes under TCG) in $DSA_CACHE/libvirt-caps/, for the next run.
#
# DSA_GUEST_RUNS=A:B:C overrides the dmatest iterations of the guest's
# three runs (default short 100:1000:100, full 300:2000:300; under libvirt
# 100:20000:100 and 300:30000:300, as the target QEMU starts during the
# migration); the second must outlast the migration.  DSA_GUEST_LEGACY=1
# migrates as before the device logged its DMA (enable-migration=on, the
# device's dirty tracking off), to compare the downtime and the RAM sent.
# DSA_GUEST_NO_LIBVIRT=1 skips the migrations under libvirt;
# DSA_GUEST_ONLY=label,... runs only those cases (dsa-1dwq, dsa-2dwq-x2,
# migrate, libvirt, seed-pair).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

mode=${1:-full}
case "$mode" in
full | short) ;;
*)
	echo "usage: guest.sh [full|short]" >&2
	exit 2
	;;
esac

if [ "$mode" = full ]; then
	"$here/setup.sh"
fi
build_test_module >/dev/null
gdir=$("$here/kernel.sh" guest)
initrd=$("$here/guest-initramfs.sh")

keep=$DSA_CACHE/guest/last
caps=$DSA_CACHE/libvirt-caps
rm -rf "$keep"
mkdir -p "$keep" "$caps"
timeout_s=1800
if [ "$mode" = full ]; then timeout_s=5400; fi
echo "guest: booting the test VM; the guests run under TCG inside it (minutes each)" >&2
exec "$here/vm.sh" --variant test --timeout "$timeout_s" --rwdir "$keep" --rwdir "$caps" -- \
	/usr/bin/python3 "$here/guest-vm.py" --mode "$mode" --ko "$mo/dsa_mdev.ko" \
	--kernel "$gdir/arch/x86/boot/bzImage" --initrd "$initrd" --keep "$keep" \
	--caps-cache "$caps" \
	${DSA_GUEST_RUNS:+--runs "$DSA_GUEST_RUNS"} ${DSA_GUEST_LEGACY:+--legacy} \
	${DSA_GUEST_NO_LIBVIRT:+--no-libvirt} ${DSA_GUEST_ONLY:+--only "$DSA_GUEST_ONLY"}
