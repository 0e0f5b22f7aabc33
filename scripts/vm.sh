#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel under QEMU (virtme-ng, TCG) with the host's root file
# system visible read-only, run a command as root, and exit with its status.
#
#   scripts/vm.sh [--variant test|debug] [--timeout SECONDS] [--rwdir DIR]...
#                 -- CMD [ARGS...]
#
# What the VM writes in a --rwdir DIR reaches the host.
#
# DSA_VM_CPUS sets the CPUs (default 2), DSA_VM_CPU QEMU's -cpu (default
# virtme-ng's, "max" under TCG).
#
# The command runs in the current directory.  The console log is kept in
# $DSA_CACHE/vm/console-<variant>[-$DSA_VM_LABEL].log.
#
# Exit status: the command's; 126 if the kernel reported a problem during
# the run (see scripts/vm-guest.sh), whatever the command returned; 125 if
# the VM died or hung without reporting a status (panic, deadlock,
# timeout), after the tail of the console log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

variant=test
timeout_s=${DSA_VM_TIMEOUT:-1800}
rwdirs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--rwdir)
		rwdirs+=(--rwdir "$2")
		shift 2
		;;
	--variant)
		variant=$2
		shift 2
		;;
	--timeout)
		timeout_s=$2
		shift 2
		;;
	--)
		shift
		break
		;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	echo "usage: vm.sh [--variant test|debug] [--timeout S] [--rwdir DIR]... -- CMD [ARGS...]" >&2
	exit 2
fi

kdir=$("$here/kernel.sh" "$variant")
mkdir -p "$DSA_CACHE/vm"
out=$(mktemp -d "$DSA_CACHE/vm/run.XXXXXX")
trap 'rm -rf "$out"' EXIT

memory=1G
if [ "$variant" = debug ]; then memory=2G; fi
cpus=${DSA_VM_CPUS:-2}
# DSA_VM_CPU names QEMU's CPU model and its flags (-cpu), where virtme-ng
# gives "max" under TCG.
cpu_opts=()
if [ -n "${DSA_VM_CPU:-}" ]; then
	cpu_opts=("--qemu-opts=-cpu $DSA_VM_CPU")
fi

cmd=$(printf '%q ' "$@")
guest="DSA_VM_OUT=$out DSA_VM_CWD=$(printf '%q' "$PWD") bash $here/vm-guest.sh $cmd"

# No udev in the guest.  virtme-ng starts systemd-udevd when it finds one,
# then coldplugs and waits for "udevadm settle": 50 s of the debug kernel's
# boot under TCG, for nothing the tests need (devtmpfs makes /dev/vfio/*).
# vng has no switch for it, so it runs in a private mount namespace where
# /usr/lib/systemd (and so /lib/systemd, merged into /usr) is an empty
# tmpfs: the guest, which sees the host's root through vng, finds no udevd.
# DSA_VM_UDEV=1 keeps udev; without root or unshare there is no choice.
hide_udev=()
if [ "${DSA_VM_UDEV:-0}" != 1 ] && [ "$(id -u)" = 0 ] && [ -d /usr/lib/systemd ] &&
	command -v unshare >/dev/null; then
	hide_udev=(unshare --mount --propagation private -- sh -c
		'mount -t tmpfs -o ro,size=4k dsa-mdev-no-udev /usr/lib/systemd && exec "$@"' vm.sh)
fi

# The kernel console (vng --verbose) and the command's output arrive on
# vng's stdout and stderr; kernel lines (with a printk timestamp) go to the
# console log, shown when the VM dies, the rest passes through to stdout as
# it comes.  Without udev, virtme-ng runs the command on the console: it
# still arrives here.
console=$out/console.log
# The command's output arrives when it ends (virtme-ng's console fallback
# holds it): say every 30 s that the VM goes on.
(
	while sleep 30; do
		echo "vm: running for $SECONDS s${DSA_VM_LABEL:+ ($DSA_VM_LABEL)}" >&2
	done
) &
heartbeat=$!
trap 'kill "$heartbeat" 2>/dev/null || true; rm -rf "$out"' EXIT
set +e
timeout --foreground -k 10 "$timeout_s" "${hide_udev[@]}" \
	vng --run "$kdir" --disable-kvm --cpus "$cpus" --memory "$memory" --verbose \
		--rwdir "$out" "${rwdirs[@]}" "${cpu_opts[@]}" \
		--exec "$guest" 2>&1 |
	awk -v clog="$console" '
		{ sub(/\r$/, "") }
		/^\[ *[0-9]+\.[0-9]+\] / { print >clog; fflush(clog); next }
		{ print; fflush() }'
rc=${PIPESTATUS[0]}
kill "$heartbeat" 2>/dev/null || true
set -e
echo "vm: $SECONDS s from vm.sh's start to the VM's end (boot, command, shutdown)"
# Kept for a look after the run.
cp "$console" "$DSA_CACHE/vm/console-$variant${DSA_VM_LABEL:+-$DSA_VM_LABEL}.log" 2>/dev/null || true

if [ ! -f "$out/status" ]; then
	echo "vm: the VM ended without a status (exit $rc): kernel panic, hang or timeout (${timeout_s}s)" >&2
	if [ -s "$console" ]; then
		echo "vm: last console lines:" >&2
		tail -n 60 "$console" >&2
	fi
	exit 125
fi
read -r status problems <"$out/status"
if [ "$problems" != 0 ]; then
	echo "vm: the kernel reported a problem (command exit status $status)" >&2
	exit 126
fi
exit "$status"
