#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, inside the test VM (scripts/bench.sh boots it).  For each
# dsa_mdev.ko given, in the order given: load it, create one dsa-1dwq
# device, run dsa_bench on it and remove it; then, for 1 and for 512 WQs,
# create a dsa-1dwq device of that aggregator on dsa0 and a compatible one
# on dsa1, run dsa_migrate between them and remove them; then the control
# plane: mdev_control on the module reloaded with one parent of 4096 WQs
# (type dsa-1dwq: 4096 devices of one WQ).  Then, with -m, mdev_control on
# the kernel's sample driver mtty (type mtty-1).  Last, a table of the
# ratios the figures are compared by, one column per module, with the goals
# they are held to (this script judges none of them).  Devices left behind
# and the modules go away on exit, also when a program fails.
#
#   bench-guest.sh [-m MTTY_KO] [-n DEVICES] [-r RUNS] [LABEL=]DSA_MDEV_KO... DSA_BENCH [SECONDS]
#
# SECONDS is how long each run of a figure of dsa_bench lasts (default 1),
# RUNS how many runs of each figure dsa_bench and mdev_control make
# (default 3: they print the median), DEVICES how many devices
# mdev_control grows each type to (default 4096, at most 4096).  LABEL
# heads a module's column (default: "dsa_mdev").  dsa_migrate and
# mdev_control are looked for next to DSA_BENCH (DSA_MIGRATE and
# MDEV_CONTROL name others).
set -euo pipefail

usage="usage: bench-guest.sh [-m MTTY_KO] [-n DEVICES] [-r RUNS] [LABEL=]DSA_MDEV_KO... DSA_BENCH [SECONDS]"
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
# The modules, up to DSA_BENCH: the first argument not naming a .ko.
kos=()
while [ $# -gt 0 ] && [[ $1 == *.ko ]]; do
	kos+=("$1")
	shift
done
[ ${#kos[@]} -gt 0 ] || { echo "$usage" >&2; exit 2; }
bench=${1:?$usage}
secs=${2:-1}
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
# What the table is computed from: each module's summary lines, in a file
# of its own, and mtty's.
logs=$(mktemp -d /tmp/bench.XXXXXX)
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
	rm -rf "$logs"
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

# Everything measured of the dsa_mdev.ko $2, labelled $1; the summary lines
# go to $logs/$3.
measure_module() {
	local label=$1 ko=$2 log=$logs/$3 n src dst

	echo "$label" >"$log"
	echo "bench: $label: $ko"
	insmod "$ko" parents=$parents wqs=$wqs
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
	echo
}

for prog in "$migrate" "$control"; do
	[ -x "$prog" ] || { echo "bench: $prog is missing" >&2; exit 1; }
done
# The mdev core is a module in the test kernel.
[ -d /sys/bus/mdev ] || modprobe mdev
trap cleanup EXIT

echo "bench: kernel $(uname -r), $(nproc) CPUs under TCG: compare figures within one run only"
i=0
for spec in "${kos[@]}"; do
	label=dsa_mdev
	ko=$spec
	if [[ $spec == *=* ]]; then
		label=${spec%%=*}
		ko=${spec#*=}
	fi
	i=$((i + 1))
	measure_module "$label" "$ko" "$(printf 'dsa.%02d' "$i")"
done
if [ -z "$mtty" ]; then
	echo "bench: no mtty.ko given (-m): dsa_mdev's figures only"
elif [ ! -f "$mtty" ]; then
	echo "bench: $mtty is missing: dsa_mdev's figures only"
else
	insmod "$mtty"
	echo "mtty" >"$logs/mtty"
	"$control" -n "$devices" -r "$runs" mtty \
		/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1 | tee -a "$logs/mtty"
	rmmod mtty
fi

mtty_log=()
[ ! -f "$logs/mtty" ] || mtty_log=("$logs/mtty")
# The ratios, from the summary lines: "bench: k=v ...", "migrate: wqs=W
# ... save=S us load=L us ..." and "control: name=N k=v ...".  Each file's
# first line is its column's label.
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
function sum(a, b) {
	return (a == "" || b == "") ? "-" : sprintf("%.1f", a + b)
}
# A row: @what, the value of each module column (val[1..cols]), @goal.
function row(what, goal,    i, line) {
	line = sprintf("  %-58s", what)
	for (i = 1; i <= cols; i++)
		line = line sprintf(" %12s", val[i])
	printf "%s   %s\n", line, goal
}
# A row of the ratio of dsa_bench figures @a / @b.
function bench_ratio(what, a, b, goal,    i) {
	for (i = 1; i <= cols; i++)
		val[i] = ratio(field(bench[i], a), field(bench[i], b))
	row(what, goal)
}
# A row of dsa_bench figure @key, times @scale.
function figure(what, key, scale,    i, v) {
	for (i = 1; i <= cols; i++) {
		v = field(bench[i], key)
		val[i] = (v == "" || v == "-") ? "-" : sprintf("%.0f", v * scale)
	}
	row(what, "")
}
FNR == 1 {
	if (FILENAME ~ /\/mtty$/) {
		k = 0
	} else {
		k = ++cols
		label[k] = $0
	}
	next
}
/^bench: / { bench[k] = $0 }
/^migrate: / && field($0, "wqs") == 512 { save[k] = field($0, "save"); load[k] = field($0, "load") }
/^control: / { ctl[k] = $0 }
END {
	print "Ratios of the figures above (medians), with their goals; none is judged here"
	print ""
	for (i = 1; i <= cols; i++)
		val[i] = label[i]
	row("figure", "goal")
	bench_ratio("MEMMOVE 1 MiB, DSA / memcpy() of the same buffers",
		    "memmove_1m_dsa", "memmove_1m_memcpy", ">= 0.8")
	bench_ratio("MEMMOVE 64 KiB, DSA / memcpy()", "memmove_64k_dsa", "memmove_64k_memcpy", ">= 0.8")
	bench_ratio("64-byte descriptors one by one / 64-byte region writes",
		    "desc_one", "region_write", ">= 0.8 (within 20%)")
	bench_ratio("descriptors per s, in batches of 256 / one by one",
		    "desc_batch256", "desc_one", ">= 10")
	for (i = 1; i <= cols; i++)
		val[i] = sum(save[i], load[i])
	row("migration of a 512-WQ device: save + load, us", "< 1000 (1 ms)")
	for (i = 1; i <= cols; i++)
		val[i] = ratio(field(ctl[i], "cycle_us"), field(ctl[0], "cycle_us"))
	row("create+remove cycle, dsa_mdev / mtty", "-")
	n = field(ctl[1], "devices")
	for (i = 1; i <= cols; i++)
		val[i] = field(ctl[i], "growth")
	row("create, last tenth / first tenth of " n " devices (median of runs)", "-")
	for (i = 1; i <= cols; i++)
		val[i] = field(ctl[i], "avail_full_us")
	row("available_instances read at " n " devices, us", "-")
	print ""
	print "The figures they come from (medians); memcpy() under TCG varies more than tenfold between"
	print "runs of the same program, so compare the columns on DSA figures, not on DSA / memcpy()"
	print ""
	for (i = 1; i <= cols; i++)
		val[i] = label[i]
	row("figure", "")
	figure("MEMMOVE 1 MiB, DSA, MB/s", "memmove_1m_dsa", 1048576e-6)
	figure("MEMMOVE 1 MiB, memcpy(), MB/s", "memmove_1m_memcpy", 1048576e-6)
	figure("MEMMOVE 64 KiB, DSA, MB/s", "memmove_64k_dsa", 65536e-6)
	figure("MEMMOVE 64 KiB, memcpy(), MB/s", "memmove_64k_memcpy", 65536e-6)
	figure("64-byte descriptors one by one, per s", "desc_one", 1)
	figure("64-byte descriptors in batches of 256, per s", "desc_batch256", 1)
	figure("64-byte region writes (the floor), per s", "region_write", 1)
	for (i = 1; i <= cols; i++)
		val[i] = save[i] == "" ? "-" : sprintf("%.1f", save[i])
	row("migration of a 512-WQ device: save, us", "")
	for (i = 1; i <= cols; i++)
		val[i] = load[i] == "" ? "-" : sprintf("%.1f", load[i])
	row("migration of a 512-WQ device: load, us", "")
	for (i = 1; i <= cols; i++)
		val[i] = field(ctl[i], "create_first_us")
	row("create, mean over the first tenth, us", "")
	for (i = 1; i <= cols; i++)
		val[i] = field(ctl[i], "create_last_us")
	row("create, mean over the last tenth, us", "")
	if (ctl[0] != "") {
		print ""
		n = field(ctl[0], "devices")
		printf "  mtty, %s devices: create, last tenth / first tenth %s (%s / %s us); available_instances read %s us\n",
		       n, field(ctl[0], "growth"),
		       field(ctl[0], "create_last_us"), field(ctl[0], "create_first_us"),
		       field(ctl[0], "avail_full_us")
	}
}' "$logs"/dsa.* "${mtty_log[@]}"
