#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the test VM (scripts/demo.sh boots it): load dsa_mdev,
# create devices of different types and aggregators through sysfs and
# mdevctl, show the sysfs tree and the compatible/self files, copy a buffer
# through a device's engine with samples/dsa_copy, ask dsa-compat where a
# device can migrate, migrate it there with samples/dsa_migrate and see the
# seed's pair refused, show refused writes, remove everything.
set -euo pipefail

usage="usage: demo-guest.sh DSA_MDEV_KO DSA_COPY DSA_COMPAT"
ko=${1:?$usage}
dsa_copy=${2:?$usage}
dsa_compat=${3:?$usage}
dsa_migrate=$(dirname "$dsa_copy")/dsa_migrate
sys=/sys/class/dsa

# Prints a command as a shell prompt line, then runs it.
run() {
	printf '\n$ %s\n' "$*"
	bash -c "$*"
}
# Runs a command that is expected to fail, and shows how, with what the
# kernel logged about it.
refused() {
	printf '\n$ %s\n' "$*"
	dmesg --clear
	if bash -c "$*"; then
		echo "demo: expected this to fail" >&2
		exit 1
	fi
	dmesg | sed 's/^\[[^]]*\] /  kernel log: /'
}
# Prints the directory tree under $1, $2 levels deep, without the driver
# core's generic entries.
tree() {
	printf '\n$ tree %s\n' "$1"
	(cd "$1" && find . -mindepth 1 -maxdepth "$2" \( -name power -o -name subsystem \
		-o -name uevent -o -name driver \) -prune -o -print | sort |
		sed -e 's|^\./||' -e 's|[^/]*/|    |g')
}
uuid() { cat /proc/sys/kernel/random/uuid; }

echo "== Load the module: two parents of 64 WQs, types dsa-1dwq .. dsa-8dwq"
run modprobe mdev
run insmod "$ko" parents=2 wqs=64
run "ls $sys; ls /sys/class/mdev_bus"
run "grep -H . $sys/dsa0/total_wqs $sys/dsa0/free_wqs"
run "ls $sys/dsa0/mdev_supported_types/"
run "cd $sys/dsa0/mdev_supported_types/dsa-2dwq && ls && grep -H . name description device_api available_instances aggregator max_aggregator"
run "cat $sys/dsa0/mdev_supported_types/dsa-2dwq/compatible"

echo
echo "== Create devices: the seed's pair (dsa-1dwq x30, dsa-2dwq x15) on dsa0"
a=$(uuid)
b=$(uuid)
run "echo 30 > $sys/dsa0/mdev_supported_types/dsa-1dwq/aggregator"
run "echo $a > $sys/dsa0/mdev_supported_types/dsa-1dwq/create"
run "echo 15 > $sys/dsa0/mdev_supported_types/dsa-2dwq/aggregator"
run "echo $b > $sys/dsa0/mdev_supported_types/dsa-2dwq/create"
run "grep -H . $sys/dsa0/free_wqs $sys/dsa0/mdev_supported_types/*/available_instances"

echo
echo "== ... and on dsa1 with mdevctl, setting the aggregator as a device attribute"
c=$(uuid)
d=$(uuid)
run "mdevctl start -u $c -p dsa1 -t dsa-4dwq"
run "echo 3 > /sys/bus/mdev/devices/$c/dsa/aggregator"
run "mdevctl start -u $d -p dsa1 -t dsa-8dwq"
run "mdevctl list"
run "grep -H . $sys/dsa1/free_wqs"

echo
echo "== The sysfs tree"
tree /sys/devices/virtual/dsa/dsa0 3
tree "/sys/bus/mdev/devices/$a" 2
for u in "$a" "$b" "$c" "$d"; do
	run "grep -H . /sys/bus/mdev/devices/$u/dsa/aggregator /sys/bus/mdev/devices/$u/dsa/wq_ids"
done
run "cat /sys/bus/mdev/devices/$a/dsa/self"
run "cat /sys/bus/mdev/devices/$b/dsa/self"
echo
echo "Both hold 30 WQs, yet dsa-1dwq x30 does not match dsa-2dwq's compatible:"
run "diff <(cat /sys/bus/mdev/devices/$a/dsa/self) $sys/dsa0/mdev_supported_types/dsa-2dwq/compatible || true"

echo
echo "== Use a device: samples/dsa_copy opens dsa-2dwq $b through VFIO and copies"
echo "   64 KiB with one MEMMOVE descriptor through its portal"
run "$dsa_copy $b 65536"

echo
echo "== Live migration: where can dsa-1dwq x30 $a go?"
run "$dsa_compat check $a $b || true"
run "$dsa_compat targets $a"
e=$(uuid)
echo
echo "Create the target dsa-compat names on dsa1, and migrate (VFIO migration v2,"
echo "device enabled; samples/dsa_migrate also times it)"
run "echo 30 > $sys/dsa1/mdev_supported_types/dsa-1dwq/aggregator"
run "echo $e > $sys/dsa1/mdev_supported_types/dsa-1dwq/create"
run "echo 1 > $sys/dsa1/mdev_supported_types/dsa-1dwq/aggregator"
run "$dsa_migrate -e $a $e 1"
echo
echo "The seed's pair: the target refuses the stream, and says how to fix it"
refused "$dsa_migrate -e $a $b 1"
run "echo 1 > /sys/bus/mdev/devices/$e/remove"
echo
echo "== Refused writes change nothing"
refused "echo 0x10 > $sys/dsa0/mdev_supported_types/dsa-1dwq/aggregator"
refused "echo 40 > /sys/bus/mdev/devices/$a/dsa/aggregator"
refused "echo $(uuid) > $sys/dsa0/mdev_supported_types/dsa-1dwq/create"
run "grep -H . $sys/dsa0/free_wqs /sys/bus/mdev/devices/$a/dsa/aggregator"

echo
echo "== Remove everything"
run "mdevctl stop -u $c; mdevctl stop -u $d"
run "echo 1 > /sys/bus/mdev/devices/$a/remove; echo 1 > /sys/bus/mdev/devices/$b/remove"
run "grep -H . $sys/dsa0/free_wqs $sys/dsa1/free_wqs"
run rmmod dsa_mdev
run "ls $sys 2>&1 || true"
