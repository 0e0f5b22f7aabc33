#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make libvirt: libvirt's node device driver lists dsa_mdev's parents and
# creates devices on them, with the series of patches/libvirt/ applied;
# the same steps against the system's (stock) libvirt show what it lacks.
#
#   scripts/libvirt-nodedev.sh
#
# Builds (or reuses) the test kernel, the module and the patched libvirt
# (scripts/libvirt.sh), then boots the test VM with udevd (libvirt learns
# of new devices from udev's events) and runs scripts/libvirt-vm.py, once
# against the system's libvirtd and once against the patched one; virsh's
# own output is printed.  The output is KTAP.  libvirt's probe of QEMU
# (minutes under TCG) is kept in $DSA_CACHE/libvirt-caps/ for the next
# run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

"$here/setup.sh" >&2
build_test_module >/dev/null
lv=$("$here/libvirt.sh")
caps=$DSA_CACHE/libvirt-caps
mkdir -p "$caps"
echo "libvirt: booting the test VM, with udevd; each libvirtd probes QEMU first" \
	"(minutes under TCG, the first time)" >&2
DSA_VM_UDEV=1 exec "$here/vm.sh" --variant test --timeout 1800 --rwdir "$caps" -- \
	/usr/bin/python3 "$here/libvirt-vm.py" --ko "$mo/dsa_mdev.ko" \
	--mtty "$kdir/samples/vfio-mdev/mtty.ko" --caps-cache "$caps" --stock \
	--libvirtd "$lv/sbin/libvirtd" --virsh "$lv/bin/virsh"
