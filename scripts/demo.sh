#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job for a newcomer: set up the machine, build the test kernel and
# the module, boot the VM, and run scripts/demo-guest.sh in it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

"$here/setup.sh"
build_test_module
build_test_samples
(cd "$top/tools/dsa-compat" && cargo build --quiet)
echo "demo: booting the test VM (TCG; about a minute)"
exec "$here/vm.sh" --variant test -- "$here/demo-guest.sh" "$mo/dsa_mdev.ko" "$bin/dsa_copy" \
	"$CARGO_TARGET_DIR/debug/dsa-compat"
