#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (started by scripts/vm.sh): runs the command given
# as arguments as root, then fails the run if the kernel reported a problem
# while it ran (BUG, WARNING, Oops, KASAN, lockdep, a hung task) or, on a
# kernel with kmemleak, if a scan finds a leak.  Writes the command's exit
# status and the verdict to $DSA_VM_OUT/status for the host side.
set -u

out=${DSA_VM_OUT:?}
echo "vm: guest up after $(cut -d' ' -f1 /proc/uptime) s of boot"
if [ -r /proc/sys/kernel/hung_task_timeout_secs ]; then
	echo "vm: hung-task detector on: a task blocked for $(cat /proc/sys/kernel/hung_task_timeout_secs) s is reported"
fi
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
kmemleak=/sys/kernel/debug/kmemleak
if [ -w "$kmemleak" ]; then
	# Forget what boot allocated: only leaks from here on count.
	t0=$SECONDS
	echo scan >"$kmemleak" 2>/dev/null
	echo clear >"$kmemleak"
	echo "vm: kmemleak baseline scan took $((SECONDS - t0)) s"
fi
dmesg --clear 2>/dev/null || true
# Without udev, virtme-ng runs the command on the console, where printk
# lines land in the middle of the command's lines (a KTAP result line cut
# in two is a lost case).  So only errors and worse reach the console
# while it runs (the tests read /dev/kmsg, and this script checks dmesg
# after the run): console loglevel 4.
dmesg -n 4 2>/dev/null || true

cd "${DSA_VM_CWD:-/}" || exit 1
echo "vm: the command starts after $(cut -d' ' -f1 /proc/uptime) s of boot"
"$@"
status=$?
echo "vm: the command ended after $(cut -d' ' -f1 /proc/uptime) s of boot"

problems=0
# Kernel reports that mean the run is broken, whatever the command said:
# each starts with a line of its own kind.  A bare "Call Trace:" is not
# one: the page allocator's "page allocation failure" and vmalloc's
# "vmalloc error" reports carry one too, and fault_test provokes those on
# purpose.
pattern='BUG:|WARNING:|Oops|general protection fault|KASAN|UBSAN|kernel BUG|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|detected stalls|unreferenced object'
if dmesg | grep -E "$pattern" >/dev/null; then
	echo "vm: the kernel reported a problem during the run:" >&2
	dmesg >&2
	problems=1
fi
if [ -w "$kmemleak" ]; then
	# Two scans: an object is reported only once it has been seen
	# unreferenced by two consecutive scans.
	t0=$SECONDS
	if ! { echo scan >"$kmemleak" && echo scan >"$kmemleak"; } 2>/dev/null; then
		# An injected allocation failure can switch kmemleak off.
		echo "vm: kmemleak is off (it could not scan): leaks were not checked" >&2
		dmesg | grep -i kmemleak | tail -n 3 >&2
	fi
	echo "vm: kmemleak scans took $((SECONDS - t0)) s"
	if [ -s "$kmemleak" ]; then
		echo "vm: kmemleak found leaks:" >&2
		cat "$kmemleak" >&2
		problems=1
	else
		echo "vm: kmemleak scan: no leaks"
	fi
fi
echo "$status $problems" >"$out/status"
exit "$status"
