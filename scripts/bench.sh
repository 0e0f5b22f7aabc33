#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: set up the machine, build the test kernel, the module and the
# samples, boot the VM, and run scripts/bench-guest.sh in it: dsa_bench on a
# fresh device, then dsa_migrate (found next to dsa_bench) between two
# devices of 1 WQ and of 512 WQs, then mdev_control on dsa_mdev and on the
# test kernel's mtty sample driver, widened to 4096 devices; it ends with
# the table of ratios.
#
#   scripts/bench.sh [SECONDS]     SECONDS per run of a figure (default 1)
#
# BENCH_RUNS (default 3) is the runs of each figure, BENCH_DEVICES (default
# 4096) the devices the control plane grows each type to.  BENCH_REVS names
# revisions (anything git rev-parse takes) whose dsa_mdev.ko is measured
# too, in the same boot, before the checkout's: the table then has a column
# for each, in that order, and the checkout's last.  Their modules are built
# from `git archive` of the revision, in $DSA_CACHE/rev/<commit>/.
#
# DSA_VM_CPU (scripts/vm.sh) sets QEMU's -cpu: under TCG, "max" (the
# default) has the kernel copy with rep movsb, which TCG runs a byte at a
# time; "max,fsrm=off,erms=off" does not (Documentation/dsa_mdev.rst, "The
# benchmark").
#
# mtty is the test kernel's samples/vfio-mdev/mtty.c with one change,
# MAX_MTTYS (the ports of all its devices) raised from 24 to 4096, so that
# its type grows as far as dsa_mdev's; it is built in $DSA_CACHE/mtty-4096/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

"$here/setup.sh"
build_test_module
build_test_samples

kos=()
for rev in ${BENCH_REVS:-}; do
	commit=$(git -C "$top" rev-parse --verify --quiet "$rev^{commit}") ||
		{ echo "bench: BENCH_REVS: '$rev' is no commit of $top" >&2; exit 2; }
	short=${commit:0:12}
	dir=$DSA_CACHE/rev/$short
	if [ ! -f "$dir/src/Makefile" ]; then
		rm -rf "$dir"
		mkdir -p "$dir/src" "$dir/mod"
		git -C "$top" archive "$commit" | tar -x -C "$dir/src"
	fi
	echo "bench: building dsa_mdev.ko of $rev ($short)"
	make -s -C "$dir/src" KDIR="$kdir" MO="$dir/mod"
	kos+=("$rev=$dir/mod/dsa_mdev.ko")
done
[ ${#kos[@]} -eq 0 ] || kos+=("checkout=$mo/dsa_mdev.ko")
[ ${#kos[@]} -gt 0 ] || kos=("$mo/dsa_mdev.ko")

mtty=$DSA_CACHE/mtty-4096
mkdir -p "$mtty"
sed 's/^#define MAX_MTTYS\t24$/#define MAX_MTTYS\t4096/' \
	"$KSRC/samples/vfio-mdev/mtty.c" >"$mtty/mtty.c.new"
grep -q '^#define MAX_MTTYS	4096$' "$mtty/mtty.c.new" ||
	{ echo "bench: no '#define MAX_MTTYS 24' to raise in mtty.c" >&2; exit 1; }
# Unchanged, the source keeps its time stamp, and make does nothing.
if cmp -s "$mtty/mtty.c.new" "$mtty/mtty.c"; then
	rm "$mtty/mtty.c.new"
else
	mv "$mtty/mtty.c.new" "$mtty/mtty.c"
fi
echo 'obj-m := mtty.o' >"$mtty/Kbuild"
make -s -C "$kdir" M="$mtty" modules

echo "bench: booting the test VM (TCG; about a minute)"
exec "$here/vm.sh" --variant test -- "$here/bench-guest.sh" \
	-m "$mtty/mtty.ko" -n "${BENCH_DEVICES:-4096}" -r "${BENCH_RUNS:-3}" \
	"${kos[@]}" "$bin/dsa_bench" "$@"
