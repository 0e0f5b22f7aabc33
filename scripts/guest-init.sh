#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the guest that 'make guest' boots inside the test VM (a static
# busybox is its only program).  It drives the dsa_mdev device it finds as
# any DSA device is driven, with the stock idxd driver and dmatest:
#
#   1. reports the idxd probe line and the device's capabilities;
#   2. configures a dedicated kernel WQ (wq0.0) through /sys/bus/dsa, as
#      accel-config would: group, mode, size, priority, type, name,
#      driver_name, the engine's group; then binds dsa0 to idxd and wq0.0
#      to the dmaengine WQ driver, which makes channel dma0chan0;
#   3. runs dmatest on that channel once per entry of guest_runs (iterations,
#      separated by ':'), each run between "DSA-GUEST: run I start N" and
#      "DSA-GUEST: run I end" lines, dmatest's own summary line in between;
#   4. prints "DSA-GUEST: done" and reboots (QEMU runs with -no-reboot, so
#      it exits).
#
# Settings come from the kernel command line, which passes parameters
# without a dot to init's environment: guest_runs (default 100),
# guest_buf (dmatest's test_buf_size, default 4096), guest_timeout
# (dmatest's timeout in ms, default 60000: the guest runs under TCG in
# TCG).  Lines starting "DSA-GUEST:" are for scripts/guest-vm.py; a step
# that fails prints "DSA-GUEST: error ..." and the guest stops.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

say() { echo "DSA-GUEST: $*"; }
fail() {
	say "error $*"
	say done
	reboot -f
}
# Writes $1 to sysfs file $2, or fails the guest.
put() { echo "$1" >"$2" || fail "writing '$1' to $2"; }

runs=${guest_runs:-100}
buf=${guest_buf:-4096}
timeout=${guest_timeout:-60000}

probe=$(dmesg | grep 'Intel(R) Accelerator Device')
[ -n "$probe" ] || fail "idxd did not probe: $(dmesg | grep -i idxd | tail -n 3)"
say "probe ${probe#*] }"

bus=/sys/bus/dsa
dev=$bus/devices/dsa0
wq=$bus/devices/wq0.0
[ -d "$dev" ] && [ -d "$wq" ] || fail "no dsa0 or wq0.0 in $bus/devices"
say "device max_work_queues=$(cat $dev/max_work_queues)" \
	"max_work_queues_size=$(cat $dev/max_work_queues_size)" \
	"max_transfer_size=$(cat $dev/max_transfer_size)"
# Configured only while dsa0 is disabled.
if [ "$(cat $dev/state)" = enabled ]; then
	put dsa0 $bus/drivers/idxd/unbind
fi
put 0 $wq/group_id
put dedicated $wq/mode
put 8 $wq/size
put 10 $wq/priority
put kernel $wq/type
put dmaengine $wq/name
put dmaengine $wq/driver_name
put 0 $bus/devices/engine0.0/group_id
put dsa0 $bus/drivers/idxd/bind
put wq0.0 $bus/drivers/dmaengine/bind
[ "$(cat $wq/state)" = enabled ] || fail "wq0.0 is $(cat $wq/state)"
chan=$(ls /sys/class/dma | head -n 1)
[ -n "$chan" ] || fail "no DMA channel after binding wq0.0"
say "channel $chan wq0.0 max_transfer_size=$(cat $wq/max_transfer_size)"

p=/sys/module/dmatest/parameters
put "$timeout" $p/timeout
put "$buf" $p/test_buf_size
put 1 $p/threads_per_chan
i=0
for n in $(echo "$runs" | tr ':' ' '); do
	i=$((i + 1))
	put "$n" $p/iterations
	put "$chan" $p/channel
	say "run $i start $n"
	put 1 $p/run
	# Blocks until the run's threads have finished.
	cat $p/wait >/dev/null
	say "run $i end"
done
say done
reboot -f
