#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, inside the test VM (scripts/bench.sh boots it): load
# dsa_mdev, create one dsa-1dwq device, run dsa_bench on it and remove it;
# then, for 1 and for 512 WQs, create a dsa-1dwq device of that aggregator
# on dsa0 and a compatible one on dsa1, run dsa_migrate between them and
# remove them.  Then the control plane: mdev_control on dsa_mdev reloaded
# with one parent of 4096 WQs (type dsa-1dwq: 4096 devices of one WQ),
# then, with -m, on the kernel's sample driver mtty (type mtty-1, which has
# 24 instances).  Last, a table of the ratios the figures are compared by,
# with the goals they are held to (this script judges none of them).
# Devices left behind and the modules go away on exit, also when a program
# fails.
#
#   bench-guest.sh [-m MTTY_KO] [-n DEVICES] [-r RUNS] DSA_MDEV_KO DSA_BENCH [SECONDS]
#
# SECONDS is how long each run of a figure of dsa_bench lasts (default 1),
# RUNS how many runs of each figure dsa_bench and mdev_control make
# (default 3: they print the median), DEVICES how many devices
# mdev_control grows each type to (default 4096, at most 4096).
# dsa_migrate and mdev_control are looked for next to DSA_BENCH
# (DSA_MIGRATE and MDEV_CONTROL name others).
set -euo pipefail

usage="usage: bench-guest.sh [-m MTTY_KO] [-n DEVICES] [-r RUNS] DSA_MDEV_KO DSA_BENCH [SECONDS]"
mtty=
devices=4096
runs=3
while getopts m:n:r: opt; do
	case $opt in
	m) mtty=$OPTARG ;;
	n) devices=$OPTARG ;;
	r) runs=$OPTARG ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
ko=${1:?$usage}
bench=${2:?$usage}
secs=${3:-1}
migrate=${DSA_MIGRATE:-$(dirname "$bench")/dsa_migrate}
control=${MDEV_CONTROL:-$(dirname "$bench")/mdev_control}
case $devices in
'' | *[!0-9]* | 0*) echo "bench: DEVICES must be an integer in 1-4096, not '$devices'" >&2; exit 2 ;;
esac
[ "$devices" -le 4096 ] || { echo "bench: DEVICES must be at most 4096 (the WQs of a parent)" >&2; exit 2; }
# Two parents of 512 WQs: a source and a target of up to 512 WQs each.
parents=2
wqs=512
migrate_wqs="1 512"
migrate_iterations=50
# What the table is computed from: the programs' summary lines.
log=$(mktemp /tmp/bench.XXXXXX)
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
	if [ -n "$mtty" ] && [ -e /sys/module/mtty ]; then
		rmmod mtty || true
	fi
	rm -f "$log"
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

for prog in "$migrate" "$control"; do
	[ -x "$prog" ] || { echo "bench: $prog is missing" >&2; exit 1; }
done
# The mdev core is a module in the test kernel.
[ -d /sys/bus/mdev ] || modprobe mdev
insmod "$ko" parents=$parents wqs=$wqs
trap cleanup EXIT

echo "bench: kernel $(uname -r), $(nproc) CPUs under TCG: compare figures within one run only"
# One WQ is all dsa_bench uses.
create dsa0 1
"$bench" "$new_uuid" "$secs" "$runs" | tee -a "$log"
remove "$new_uuid"

echo
echo "VFIO migration, $migrate_iterations times, of an enabled dsa-1dwq device on dsa0 to one on dsa1:"
echo "save: STOP -> STOP_COPY, read the stream, -> STOP; load: STOP -> RESUMING, write it, -> STOP"
for n in $migrate_wqs; do
	create dsa0 "$n"
	src=$new_uuid
	create dsa1 "$n"
	dst=$new_uuid
	"$migrate" -e "$src" "$dst" "$migrate_iterations" | tee -a "$log"
	remove "$src"
	remove "$dst"
done

echo
echo "The control plane: create+remove cycles, and growth to $devices devices"
rmmod dsa_mdev
# One parent of 4096 WQs and the one-WQ type: room for 4096 devices.
insmod "$ko" parents=1 wqs=4096 types=1
echo
"$control" -n "$devices" -r "$runs" dsa_mdev \
	/sys/class/mdev_bus/dsa0/mdev_supported_types/dsa-1dwq | tee -a "$log"
rmmod dsa_mdev
if [ -z "$mtty" ]; then
	echo "bench: no mtty.ko given (-m): dsa_mdev's figures only"
elif [ ! -f "$mtty" ]; then
	echo "bench: $mtty is missing: dsa_mdev's figures only"
else
	insmod "$mtty"
	echo
	"$control" -n "$devices" -r "$runs" mtty \
		/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1 | tee -a "$log"
	rmmod mtty
fi

# The ratios, from the summary lines: "bench: k=v ...", "migrate: wqs=W
# ... save=S us load=L us ..." and "control: name=N k=v ...".
echo
awk '
function field(line, key,    i, n, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++)
		if (index(kv[i], key "=") == 1)
			return substr(kv[i], length(key) + 2)
	return ""
}
function ratio(a, b) {
	return (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.3f", a / b)
}
function row(what, value, goal) {
	printf "  %-62s %12s   %s\n", what, value, goal
}
# The growth rows of driver @name, from its summary line @c.
function control(name, c,    n) {
	if (c == "")
		return
	n = field(c, "devices")
	row("create, last tenth / first tenth of " n " devices, " name,
	    ratio(field(c, "create_last_us"), field(c, "create_first_us")), "-")
	row("available_instances read at " n " devices, us, " name, field(c, "avail_full_us"), "-")
}
/^bench: / { bench = $0 }
/^migrate: / && field($0, "wqs") == 512 { save = field($0, "save"); load = field($0, "load") }
/^control: / { ctl[field($0, "name")] = $0 }
END {
	d = ctl["dsa_mdev"]; m = ctl["mtty"]
	print "Ratios of the figures above (medians), with their goals; none is judged here"
	print ""
	row("figure", "value", "goal")
	row("MEMMOVE 1 MiB, DSA / memcpy() of the same buffers",
	    ratio(field(bench, "memmove_1m_dsa"), field(bench, "memmove_1m_memcpy")), ">= 0.8")
	row("MEMMOVE 64 KiB, DSA / memcpy()",
	    ratio(field(bench, "memmove_64k_dsa"), field(bench, "memmove_64k_memcpy")), ">= 0.8")
	row("64-byte descriptors one by one / 64-byte region writes, per s",
	    ratio(field(bench, "desc_one"), field(bench, "region_write")), ">= 0.8 (within 20%)")
	row("descriptors per s, in batches of 256 / one by one",
	    ratio(field(bench, "desc_batch256"), field(bench, "desc_one")), ">= 10")
	row("migration of a 512-WQ device: save + load, us",
	    save == "" ? "-" : sprintf("%.1f", save + load), "< 1000 (1 ms)")
	row("create+remove cycle, dsa_mdev / mtty",
	    ratio(field(d, "cycle_us"), field(m, "cycle_us")), "-")
	control("dsa_mdev", d)
	control("mtty", m)
}' "$log"
