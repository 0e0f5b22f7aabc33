#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, inside the test VM (scripts/bench.sh boots it): load
# dsa_mdev, create one dsa-1dwq device, run dsa_bench on it and remove it;
# then, for 1 and for 512 WQs, create a dsa-1dwq device of that aggregator
# on dsa0 and a compatible one on dsa1, run dsa_migrate between them and
# remove them.  Devices left behind and the module go away on exit, also
# when a program fails.
#
#   bench-guest.sh DSA_MDEV_KO DSA_BENCH [SECONDS]
#
# dsa_migrate is looked for next to DSA_BENCH (DSA_MIGRATE names another).
set -euo pipefail

usage="usage: bench-guest.sh DSA_MDEV_KO DSA_BENCH [SECONDS]"
ko=${1:?$usage}
bench=${2:?$usage}
secs=${3:-1}
migrate=${DSA_MIGRATE:-$(dirname "$bench")/dsa_migrate}
# Two parents of 512 WQs: a source and a target of up to 512 WQs each.
parents=2
wqs=512
migrate_wqs="1 512"
migrate_iterations=50
created=()
new_uuid=

cleanup() {
	local uuid

	for uuid in "${created[@]}"; do
		if [ -e "/sys/bus/mdev/devices/$uuid" ]; then
			echo 1 >"/sys/bus/mdev/devices/$uuid/remove" || true
		fi
	done
	if [ -e /sys/module/dsa_mdev ]; then
		rmmod dsa_mdev || true
	fi
}

# Creates a dsa-1dwq device with aggregator $2 on parent $1, as managers
# do (the type's aggregator, then create); sets new_uuid.
create() {
	local dir=/sys/class/dsa/$1/mdev_supported_types/dsa-1dwq

	new_uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$2" >"$dir/aggregator"
	echo "$new_uuid" >"$dir/create"
	created+=("$new_uuid")
	echo 1 >"$dir/aggregator"
}

remove() {
	echo 1 >"/sys/bus/mdev/devices/$1/remove"
}

[ -x "$migrate" ] || { echo "bench: $migrate is missing" >&2; exit 1; }
# The mdev core is a module in the test kernel.
[ -d /sys/bus/mdev ] || modprobe mdev
insmod "$ko" parents=$parents wqs=$wqs
trap cleanup EXIT

echo "bench: kernel $(uname -r), $(nproc) CPUs under TCG: compare figures within one run only"
# One WQ is all dsa_bench uses.
create dsa0 1
"$bench" "$new_uuid" "$secs"
remove "$new_uuid"

echo
echo "VFIO migration, $migrate_iterations times, of an enabled dsa-1dwq device on dsa0 to one on dsa1:"
echo "save: STOP -> STOP_COPY, read the stream, -> STOP; load: STOP -> RESUMING, write it, -> STOP"
for n in $migrate_wqs; do
	create dsa0 "$n"
	src=$new_uuid
	create dsa1 "$n"
	dst=$new_uuid
	"$migrate" -e "$src" "$dst" "$migrate_iterations"
	remove "$src"
	remove "$dst"
done
