#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test of the project, from a fresh machine:
#   1. set-up (idempotent);
#   2. host: the unit tests of the pure logic and of dsa-compat (cargo
#      test), clippy on dsa-compat and on the logic, rustfmt, a 20 s
#      fuzz smoke of each target (scripts/fuzz.sh), and the
#      module build warning-free with and without CLIPPY=1;
#   3. the kselftests in the VM on the test kernel;
#   4. on the debug kernel (KASAN, lockdep, kmemleak, ...), unless --fast:
#      the programs that drive the driver's code (sysfs_test, vfio_test,
#      device_test, migration_test with 300 mutated streams instead of
#      3000, hostile_test, race_test, and fault_test, which only runs
#      there: the debug kernel has failslab), in one boot.  Everything runs about 40 times slower there
#      under TCG (8 minutes of boot, then ~11 of these tests);
#      params.sh and qemu.sh, hundreds of forks and execs and a QEMU, would
#      add over an hour and break CI's time limit.
# Ends with one line "check: N passed, N failed" counting every test case.
#
#   scripts/check.sh [--fast]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

fast=0
if [ "${1:-}" = --fast ]; then fast=1; fi

passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "not ok - $1"; }

# Runs "$@" quietly; passes or fails test $name, showing the output on failure.
step() {
	local name=$1
	shift
	local log
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		pass "$name"
	else
		fail "$name"
		sed 's/^/    /' "$log"
	fi
	rm -f "$log"
}

# A build passes only if it printed no warning.
warning_free() {
	local log
	log=$(mktemp)
	"$@" >"$log" 2>&1
	local rc=$?
	cat "$log"
	if [ $rc -ne 0 ]; then rm -f "$log"; return $rc; fi
	if grep -Ei '(^|[^a-z])warning' "$log"; then rm -f "$log"; return 1; fi
	rm -f "$log"
}

# Each stage says how long it took, so a slow CI run shows where the time
# went.
stage_name=
stage_start=$SECONDS
check_start=$SECONDS
stage() {
	if [ -n "$stage_name" ]; then
		echo "# stage: $stage_name took $((SECONDS - stage_start)) s"
	fi
	stage_name=$1
	stage_start=$SECONDS
	[ -z "$1" ] || echo "# $1"
}

finish() {
	stage ""
	echo "# check took $((SECONDS - check_start)) s"
	echo
	if [ "$failed" -gt 0 ]; then
		echo "failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	echo "check: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

stage "set-up"
if ! "$here/setup.sh"; then
	fail "setup"
	finish
fi

stage "host tests"
cargo_log=$(mktemp)
# The pure logic, and dsa-compat, which is built on it.
for crate in rust/logic tools/dsa-compat; do
	(cd "$top/$crate" && cargo test --quiet 2>&1) | tee "$cargo_log.one"
	if ! grep -q '^test result:' "$cargo_log.one"; then
		fail "cargo test in $crate (did not run)"
	fi
	cat "$cargo_log.one" >>"$cargo_log"
	rm -f "$cargo_log.one"
done
while read -r p f; do
	passed=$((passed + p))
	failed=$((failed + f))
done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$cargo_log")
rm -f "$cargo_log"
# The logic is linted where it runs, by the module build with CLIPPY=1 and
# the kernel's lint set; the tool by the host's clippy, which brings its own
# rustc: not the kernel's $RUSTC, and a target directory of its own.
step "clippy: dsa-compat is warning-free" \
	env -u RUSTC CARGO_TARGET_DIR="$DSA_CACHE/cargo-clippy" \
	bash -c "cd '$top/tools/dsa-compat' && cargo clippy --quiet --all-targets -- -D warnings"
# The logic denies unchecked arithmetic (clippy::arithmetic_side_effects);
# the module build with CLIPPY=1 enforces it too, with the kernel's clippy.
step "clippy: rust/logic is warning-free, no unchecked arithmetic" \
	env -u RUSTC CARGO_TARGET_DIR="$DSA_CACHE/cargo-clippy-logic" \
	bash -c "cd '$top/rust/logic' && cargo clippy --quiet --lib -- -D warnings"
step "rustfmt: the tree is formatted" make -s -C "$top" fmt-check
# Coverage-guided fuzzing of the logic, a short smoke of each target
# (make fuzz runs them longer); the committed corpus is the start.
fuzz_log=$(mktemp)
if "$here/fuzz.sh" 20 >"$fuzz_log" 2>&1; then
	grep '^fuzz: .*executions' "$fuzz_log"
	while read -r line; do pass "$line"; done < <(sed -n 's/^fuzz: \(.*executions.*\)/fuzz smoke: \1/p' "$fuzz_log")
else
	fail "fuzz smoke (20 s per target)"
	sed 's/^/    /' "$fuzz_log" | tail -n 60
fi
rm -f "$fuzz_log"
# The kselftests compare the kernel's verdicts with dsa-compat's, in the VM.
step "dsa-compat builds" bash -c "cd '$top/tools/dsa-compat' && cargo build --quiet"
DSA_COMPAT=$CARGO_TARGET_DIR/debug/dsa-compat

# Builds the module and the selftests for one kernel variant, boots it and
# runs the selftests.
vm_suite() {
	local variant=$1
	stage "kselftests on the $variant kernel"
	local kdir
	if ! kdir=$("$here/kernel.sh" "$variant"); then
		fail "$variant kernel: build"
		return
	fi
	local mo=$DSA_CACHE/mod/$variant
	local bin=$DSA_CACHE/selftests/$variant
	mkdir -p "$mo" "$bin"
	step "$variant kernel: dsa_mdev.ko builds warning-free" \
		warning_free make -s -C "$top" KDIR="$kdir" MO="$mo"
	step "$variant kernel: dsa_mdev.ko builds warning-free with CLIPPY=1" \
		warning_free make -s -C "$top" KDIR="$kdir" MO="$mo.clippy" CLIPPY=1
	step "$variant kernel: selftests build warning-free" \
		warning_free make -s -C "$top/selftests/dsa_mdev" KSRC="$KSRC" \
			KHDR="$kdir/usr/include" OUTPUT="$bin"
	step "$variant kernel: samples build warning-free" \
		warning_free make -s -C "$top/samples" KSRC="$KSRC" \
			KHDR="$kdir/usr/include" OUTPUT="$DSA_CACHE/samples/$variant"
	if [ ! -f "$mo/dsa_mdev.ko" ]; then
		fail "$variant kernel: kselftests (no module to test)"
		return
	fi
	local log
	log=$(mktemp)
	# The whole suite on the test kernel; on the debug kernel, the programs
	# that drive the driver's code (see the top).
	local progs="" timeout=1200 mutations=3000
	if [ "$variant" = debug ]; then
		progs="sysfs_test vfio_test device_test migration_test hostile_test race_test fault_test stress_test"
		timeout=3600
		# A tenth of the mutated streams: each costs ~40 times more.
		mutations=300
	fi
	"$here/vm.sh" --variant "$variant" --timeout "$timeout" -- \
		env DSA_MDEV_PROGS="$progs" DSA_COMPAT="$DSA_COMPAT" \
		DSA_MDEV_MUTATIONS="$mutations" \
		"$top/selftests/dsa_mdev/run.sh" "$bin" "$mo/dsa_mdev.ko" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local summary
	summary=$(sed -nE 's/^# dsa_mdev selftests: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$summary" ]; then
		fail "$variant kernel: kselftests (no summary; VM exit $rc)"
		summary="0 0"
	fi
	local p f
	read -r p f <<<"$summary"
	passed=$((passed + p))
	failed=$((failed + f))
	for ((i = 0; i < f; i++)); do failures+=("$variant kernel: a kselftest case (see 'not ok' above)"); done
	case "$rc" in
	125) fail "$variant kernel: VM run clean (the VM died or hung, see above)" ;;
	126) fail "$variant kernel: VM run clean (a kernel report or a leak, see above)" ;;
	*) pass "$variant kernel: VM run clean (no BUG, WARNING, KASAN, lockdep or kmemleak report)" ;;
	esac
}

vm_suite test
if [ "$fast" = 0 ]; then
	vm_suite debug
fi
finish
