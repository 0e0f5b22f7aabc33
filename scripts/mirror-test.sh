#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests rust/ext/mdev_mirror_check.sh, the build-time check of the module's
# copy of struct mdev_type_attribute, on kernel trees made from $KSRC:
#
#   stock    the mdev files with patches/linux/mdev-type-groups/ reversed
#            (as in a stock kernel): the copy matches, the check passes;
#   changed  the same with one field's type changed: the check fails;
#   gone     mdev_sysfs.c missing (a headers-only tree): the check fails;
#   series   the files as the test kernels have them (the series applied):
#            <linux/mdev.h> defines the structure, the check passes.
#
# Prints one "ok"/"not ok" line per case; exits non-zero if any failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

check=$top/rust/ext/mdev_mirror_check.sh
mirror=$top/rust/ext/mdev_type_attribute.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0

series=()
for p in "$top"/patches/linux/mdev-type-groups/0*.patch; do
	case "$p" in */0000-cover-letter.patch) ;; *) series+=("$p") ;; esac
done

# tree NAME: a kernel tree with the files the check reads and the series
# touches.
tree() {
	local f
	for f in include/linux/mdev.h drivers/vfio/mdev/mdev_sysfs.c \
		$(sed -n 's|^diff --git a/\([^ ]*\) .*|\1|p' "${series[@]}" | sort -u); do
		mkdir -p "$tmp/$1/$(dirname "$f")"
		cp "$KSRC/$f" "$tmp/$1/$f"
	done
}

verb() { case "$1" in pass) echo passes ;; fail) echo fails ;; esac; }

# expect NAME pass|fail: runs the check on tree NAME.
expect() {
	local out
	if out=$(sh "$check" "$tmp/$1" "$mirror" 2>&1); then got=pass; else got=fail; fi
	if [ "$got" = "$2" ]; then
		echo "ok mirror check: $1 tree: $(verb "$2") (${out%%$'\n'*})"
	else
		echo "not ok mirror check: $1 tree: expected to $2, did $got: $out"
		rc=1
	fi
}

tree series
expect series pass

tree stock
# The series' patches reversed, last first.
for ((i = ${#series[@]} - 1; i >= 0; i--)); do
	patch -d "$tmp/stock" -p1 -R -s --no-backup-if-mismatch <"${series[i]}" >/dev/null ||
		{ echo "not ok mirror check: cannot reverse $(basename "${series[i]}")"; rc=1; }
done
expect stock pass

cp -r "$tmp/stock" "$tmp/changed"
sed -i '/^struct mdev_type_attribute {$/,/^};$/s/size_t count);/unsigned int count);/' \
	"$tmp/changed/drivers/vfio/mdev/mdev_sysfs.c"
expect changed fail

cp -r "$tmp/stock" "$tmp/gone"
rm "$tmp/gone/drivers/vfio/mdev/mdev_sysfs.c"
expect gone fail

exit "$rc"
