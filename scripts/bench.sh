#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: set up the machine, build the test kernel, the module and the
# samples, boot the VM, and run scripts/bench-guest.sh in it: dsa_bench on a
# fresh device, then dsa_migrate (found next to dsa_bench) between two
# devices of 1 WQ and of 512 WQs.
#
#   scripts/bench.sh [SECONDS]     SECONDS per figure (dsa_bench's default: 1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

"$here/setup.sh"
build_test_module
build_test_samples
echo "bench: booting the test VM (TCG; about a minute)"
exec "$here/vm.sh" --variant test -- "$here/bench-guest.sh" "$mo/dsa_mdev.ko" "$bin/dsa_bench" "$@"
