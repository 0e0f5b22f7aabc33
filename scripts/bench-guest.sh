#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, inside the test VM (scripts/bench.sh boots it): load
# dsa_mdev, create one dsa-1dwq device, run dsa_bench on it, remove the
# device and unload the module, also when dsa_bench fails.
#
#   bench-guest.sh DSA_MDEV_KO DSA_BENCH [SECONDS]
set -euo pipefail

ko=${1:?usage: bench-guest.sh DSA_MDEV_KO DSA_BENCH [SECONDS]}
bench=${2:?usage: bench-guest.sh DSA_MDEV_KO DSA_BENCH [SECONDS]}
secs=${3:-1}
uuid=$(cat /proc/sys/kernel/random/uuid)
dev=/sys/bus/mdev/devices/$uuid

cleanup() {
	if [ -e "$dev" ]; then
		echo 1 >"$dev/remove" || true
	fi
	if [ -e /sys/module/dsa_mdev ]; then
		rmmod dsa_mdev || true
	fi
}

# The mdev core is a module in the test kernel.
[ -d /sys/bus/mdev ] || modprobe mdev
insmod "$ko" parents=1 wqs=8
trap cleanup EXIT
# One WQ is all dsa_bench uses.
echo "$uuid" >/sys/class/dsa/dsa0/mdev_supported_types/dsa-1dwq/create

echo "bench: kernel $(uname -r), $(nproc) CPUs under TCG: compare figures within one run only"
"$bench" "$uuid" "$secs"
