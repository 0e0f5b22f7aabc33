#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: set up the machine, build the test kernel, the module and the
# samples, boot the VM, and run scripts/bench-guest.sh in it: dsa_bench on a
# fresh device, then dsa_migrate (found next to dsa_bench) between two
# devices of 1 WQ and of 512 WQs, then mdev_control on dsa_mdev and on the
# test kernel's mtty sample driver; it ends with the table of ratios.
#
#   scripts/bench.sh [SECONDS]     SECONDS per run of a figure (default 1)
#
# BENCH_RUNS (default 3) is the runs of each figure, BENCH_DEVICES (default
# 4096) the devices the control plane grows each type to.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

"$here/setup.sh"
build_test_module
build_test_samples
echo "bench: booting the test VM (TCG; about a minute)"
exec "$here/vm.sh" --variant test -- "$here/bench-guest.sh" \
	-m "$kdir/samples/vfio-mdev/mtty.ko" -n "${BENCH_DEVICES:-4096}" -r "${BENCH_RUNS:-3}" \
	"$mo/dsa_mdev.ko" "$bin/dsa_bench" "$@"
