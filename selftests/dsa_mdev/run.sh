#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck source-path=SCRIPTDIR
#
# Runs every dsa_mdev selftest program (in the test VM, as root):
#
#   run.sh BIN_DIR KO
#
# BIN_DIR holds the built programs (make OUTPUT=BIN_DIR), KO is dsa_mdev.ko.
# Each program is one KTAP suite whose output is echoed with a "# " prefix,
# kselftest style.  A last suite checks that the kernel log gained no
# warning, oops or sanitizer report while they ran.  The final line is
#
#   # dsa_mdev selftests: N passed, N failed, N skipped
#
# counting individual test cases; the exit status is non-zero iff any
# failed.  Set DSA_MDEV_TIMEOUT (seconds, default 1800) to change the
# watchdog that ends a hung program.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# DSA_MDEV_PROGS, if set and not empty, names a subset (space-separated).
DEFAULT_PROGS="sysfs_test vfio_test device_test migration_test hostile_test race_test fault_test stress_test params.sh qemu.sh"
read -r -a PROGS <<<"${DSA_MDEV_PROGS:-$DEFAULT_PROGS}"

if [ $# -ne 2 ]; then
	echo "usage: $0 BIN_DIR KO" >&2
	exit 2
fi
BIN_DIR=$(cd "$1" && pwd) || exit 2
KO=$(readlink -f "$2") || exit 2
TIMEOUT=${DSA_MDEV_TIMEOUT:-1800}

passed=0
failed=0
skipped=0
suite=0

msg() {
	echo "# $*"
}

# Kernel log lines that mean something went wrong in the kernel.  Not a
# bare "Call Trace": allocation-failure reports (which fault_test provokes)
# have one too; every report that matters starts with a line below.
BAD_KERNEL_LOG='BUG:|WARNING:|Oops|general protection|Kernel panic|detected stalls'
# kmemleak's own "Cannot allocate a scan area" is an allocation failure
# (fault_test makes those); its leak reports name unreferenced objects.
BAD_KERNEL_LOG+='|KASAN|UBSAN|suspected memory leak|unreferenced object'
BAD_KERNEL_LOG+='|circular locking|possible recursive locking'
BAD_KERNEL_LOG+='|blocked for more than|list_add corruption|list_del corruption'
BAD_KERNEL_LOG+='|refcount_t:|stack-protector'

# Runs one program as KTAP suite $suite and adds its cases to the totals.
run_prog() {
	local name=$1 prog=$BIN_DIR/$1 line plan=-1 pass=0 fail=0 skip=0 rc
	local -a cmd=("$prog")
	local t0=$SECONDS

	suite=$((suite + 1))
	msg "selftests: dsa_mdev: $name"
	if [ ! -x "$prog" ]; then
		msg "$prog is missing or not executable"
		echo "not ok $suite selftests: dsa_mdev: $name # missing"
		failed=$((failed + 1))
		return
	fi
	if command -v timeout >/dev/null; then
		cmd=(timeout -k 10 "$TIMEOUT" "$prog")
	fi

	while IFS= read -r line; do
		printf '# %s\n' "$line"
		case "$line" in
		"1.."*)
			plan=${line#1..}
			plan=${plan%%[!0-9]*}
			;;
		"not ok "*) fail=$((fail + 1)) ;;
		"ok "*"# SKIP"*) skip=$((skip + 1)) ;;
		"ok "*) pass=$((pass + 1)) ;;
		esac
	done < <(DSA_MDEV_KO=$KO "${cmd[@]}" 2>&1 </dev/null)
	wait $!
	rc=$?
	[ -n "$plan" ] || plan=-1

	# Cases the program planned but never reported (it crashed) failed.
	if [ "$plan" -gt $((pass + fail + skip)) ]; then
		msg "$name reported $((pass + fail + skip)) of $plan cases"
		fail=$((fail + plan - pass - fail - skip))
	fi
	# A program skipped as a whole (1..0 # SKIP) counts as one skip.
	if [ "$rc" -eq 4 ] && [ $((pass + fail + skip)) -eq 0 ]; then
		skip=1
	fi
	# A failing exit status with no failed case is a failure of its own.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$fail" -eq 0 ]; then
		msg "$name exited with status $rc"
		fail=1
	fi
	# Every program must leave the module unloaded.
	if dsa_module_loaded; then
		msg "$name left $DSA_MOD loaded"
		fail=$((fail + 1))
		rmmod "$DSA_MOD" >/dev/null 2>&1
	fi

	passed=$((passed + pass))
	failed=$((failed + fail))
	skipped=$((skipped + skip))
	msg "$name: $pass passed, $fail failed, $skip skipped in $((SECONDS - t0)) s"
	if [ "$fail" -gt 0 ]; then
		echo "not ok $suite selftests: dsa_mdev: $name # exit=$rc"
	elif [ "$rc" -eq 4 ]; then
		echo "ok $suite selftests: dsa_mdev: $name # SKIP"
	else
		echo "ok $suite selftests: dsa_mdev: $name"
	fi
}

# The kernel log since sequence number $1 has no warning or splat.
check_kernel_log() {
	local bad

	suite=$((suite + 1))
	msg "selftests: dsa_mdev: kernel_log"
	if [ ! -r "${DSA_MDEV_KMSG:-/dev/kmsg}" ]; then
		msg "/dev/kmsg is not readable"
		echo "not ok $suite selftests: dsa_mdev: kernel_log"
		failed=$((failed + 1))
		return
	fi
	bad=$(kmsg_since "$1" | grep -E "$BAD_KERNEL_LOG")
	if [ -n "$bad" ]; then
		while IFS= read -r line; do
			msg "$line"
		done <<<"$bad"
		echo "not ok $suite selftests: dsa_mdev: kernel_log"
		failed=$((failed + 1))
	else
		echo "ok $suite selftests: dsa_mdev: kernel_log"
		passed=$((passed + 1))
	fi
}

echo "TAP version 13"
echo "1..$((${#PROGS[@]} + 1))"

if [ "$(id -u)" != 0 ]; then
	msg "run.sh must run as root"
fi
if [ ! -r "$KO" ]; then
	msg "$KO is not readable"
fi
# The mdev core is a module in the test kernel (CONFIG_VFIO_MDEV=m).
if [ ! -d /sys/bus/mdev ] && ! out=$(modprobe mdev 2>&1); then
	msg "could not load the mdev core: modprobe mdev: $out"
fi
if dsa_module_loaded && ! rmmod "$DSA_MOD"; then
	msg "a stale $DSA_MOD could not be unloaded"
fi

start_seq=$(kmsg_seq)
for p in "${PROGS[@]}"; do
	run_prog "$p"
done
check_kernel_log "$start_seq"

echo "# dsa_mdev selftests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
