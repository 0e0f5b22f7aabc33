# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shell helpers of params.sh (sourced, not run).
#
# Kernel log access goes through /dev/kmsg and its record sequence numbers,
# not through line counts of dmesg, so a ring buffer that wraps between two
# reads can neither hide a message nor show an old one as new.

DSA_MOD=dsa_mdev

# Each line of "$*" as a KTAP diagnostic ("# ...").
log() {
	local line

	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

# Every record currently in the kernel log, in /dev/kmsg format
# ("PRIO,SEQ,TS,FLAGS;MESSAGE" plus continuation lines starting with a
# space).  Reading stops at the end of the log (EAGAIN).  DSA_MDEV_KMSG
# may name a file in that format instead (a saved log).
#
# Once the ring buffer is full (fault_test fills it), any record logged
# while dd reads evicts the oldest, and a reader that has not passed it
# gets EPIPE: dd stops there, with the newest records unread.  So a read
# that ends in EPIPE is done again, from a fresh open (at most 10 times).
kmsg_read() {
	local out err try

	if [ -n "${DSA_MDEV_KMSG:-}" ]; then
		cat "$DSA_MDEV_KMSG"
		return
	fi
	out=$(mktemp) || return 1
	for ((try = 0; try < 10; try++)); do
		err=$(dd if=/dev/kmsg of="$out" iflag=nonblock bs=65536 status=none 2>&1)
		[[ $err == *"Broken pipe"* ]] || break
	done
	cat "$out"
	rm -f "$out"
}

# The sequence number of the newest record (0 if none is readable).
kmsg_seq() {
	kmsg_read | awk -F, '/^[0-9]+,[0-9]+,/ { seq = $2 } END { print seq + 0 }'
}

# The records newer than sequence number $1, one per line as
# "LEVEL MESSAGE" (LEVEL 3 is pr_err, 4 is pr_warn).
kmsg_since() {
	kmsg_read | awk -v after="$1" '
		/^[0-9]+,[0-9]+,/ {
			semi = index($0, ";")
			split(substr($0, 1, semi - 1), head, ",")
			if (head[2] + 0 > after + 0)
				print (head[1] % 8) " " substr($0, semi + 1)
		}'
}

dsa_module_loaded() {
	[ -e "/sys/module/$DSA_MOD" ]
}

# dsa_mdev.ko to load: what dsa_mdev_ko beside the scripts prints, which
# is module_path() of dsa_mdev_util.c, so that the shell tests load the
# module the C tests load.  Prints nothing if there is none.
dsa_module_path() {
	local dir=$1

	"$dir/dsa_mdev_ko" 2>/dev/null || true
}

# The mdev core, a module wherever VFIO_MDEV=m (as in config).
dsa_mdev_core() {
	[ -d /sys/bus/mdev ] || modprobe -q mdev 2>/dev/null
	[ -d /sys/bus/mdev ]
}
