#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mdev_mirror_check.sh SRCTREE MIRROR
#
# Checks the module's copy (MIRROR, rust/ext/mdev_type_attribute.h) of the
# mdev core's private struct mdev_type_attribute against the definition in
# the kernel source SRCTREE, and fails on any difference.
#
# A kernel whose <linux/mdev.h> defines the structure (the series in
# patches/linux/mdev-type-groups/) needs no copy: the check passes and the
# build uses the kernel's definition.  Otherwise the definition must be in
# drivers/vfio/mdev/mdev_sysfs.c, as in every kernel since 6.1; a kernel
# tree without that file (a headers-only package) cannot be checked, and
# the build stops rather than trust the copy.
set -eu

srctree=$1
mirror=$2

# The text from "struct mdev_type_attribute {" to the "};" that ends it.
definition() {
	sed -n '/^struct mdev_type_attribute {$/,/^};$/p' "$1"
}

if [ -n "$(definition "$srctree/include/linux/mdev.h")" ]; then
	echo "mdev_mirror_check: <linux/mdev.h> defines struct mdev_type_attribute; no copy used"
	exit 0
fi

core=$srctree/drivers/vfio/mdev/mdev_sysfs.c
if [ ! -f "$core" ]; then
	echo "mdev_mirror_check: $core is missing, so the copy of struct mdev_type_attribute in $mirror cannot be checked; build against a full kernel source tree" >&2
	exit 1
fi
ours=$(definition "$mirror")
theirs=$(definition "$core")
if [ -z "$theirs" ]; then
	echo "mdev_mirror_check: $core no longer defines struct mdev_type_attribute: the mdev core changed, and the copy in $mirror must be revisited" >&2
	exit 1
fi
if [ "$ours" != "$theirs" ]; then
	echo "mdev_mirror_check: struct mdev_type_attribute in $core differs from the copy in $mirror:" >&2
	printf '%s\n' "$theirs" >"${TMPDIR:-/tmp}/mdev_mirror_theirs.$$"
	printf '%s\n' "$ours" | diff -u - "${TMPDIR:-/tmp}/mdev_mirror_theirs.$$" >&2 || true
	rm -f "${TMPDIR:-/tmp}/mdev_mirror_theirs.$$"
	exit 1
fi
echo "mdev_mirror_check: the copy of struct mdev_type_attribute matches $core"
