#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Every test of the project, from a fresh machine:
#   1. set-up (idempotent);
#   2. the test kernel, and against it the module (warning-free, with and
#      without CLIPPY=1), the selftests and the samples;
#   3. the host tests: the unit tests of the pure logic and of dsa-compat
#      (cargo test), clippy on both, rustfmt, a 20 s fuzz smoke of each
#      target (scripts/fuzz.sh); beside them, in the VM, the kselftests on
#      the test kernel, from the checkout (make run_tests);
#   4. the short version of make guest (scripts/guest.sh short): in the
#      test VM, a guest kernel with the stock idxd driver and dmatest drives
#      a dsa_mdev device and is live-migrated while dmatest runs, QEMU to
#      QEMU and under libvirt between two libvirtd daemons; then make
#      libvirt (scripts/libvirt-nodedev.sh): libvirt's node device driver,
#      built with patches/libvirt/, lists the parents and creates devices
#      on them, and the stock one does not;
#   5. unless --fast, the whole suite again on the debug kernel (KASAN,
#      lockdep, kmemleak, failslab, ...), installed as kernel CI installs
#      it (the directory copied into the kernel tree, make install,
#      run_kselftest.sh).  On a cold machine the guest kernel, then the
#      debug kernel, build during 3.
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

# The kselftests (selftests/dsa_mdev, a lib.mk target) run on each kernel
# the way a user of that kernel would run them, and the two ways differ:
#
#   test kernel:  in this checkout, "make -C selftests/dsa_mdev" on the
#                 host, then "make -C selftests/dsa_mdev run_tests" in the
#                 VM (which finds everything built and only runs);
#   debug kernel: as kernel CI does, the directory copied into the kernel
#                 tree's tools/testing/selftests/drivers/dsa_mdev, "make
#                 -C tools/testing/selftests TARGETS=drivers/dsa_mdev O=<kdir>
#                 install", then run_kselftest.sh -c drivers/dsa_mdev in
#                 the VM.
#
# Each builds the module once for its kernel; the programs, which do not
# depend on a kernel's configuration, are built once in the checkout (and
# once by the install, which is the thing tested there).  Clippy lints the
# module on the test kernel only: the lint does not depend on the config.

# The cases of a run whose output is in $2, named $1, added to the totals,
# as KTAP counts them: each "# Totals: pass:P fail:F xfail:X xpass:XP
# skip:S error:E" line of a program (the last line of kselftest_harness.h,
# ktap_helpers.sh and ksft.py output: at the top of a run of one program,
# one "# " deeper in a kselftest run, where the runner nests each
# program's output; run_kselftest.sh's own Totals, of programs, is not
# counted) adds P passed and F + XP + E failed.  A program that ends without its Totals (a
# crash, a timeout) fails once: in a kselftest run, each that the runner
# reports ("ok"/"not ok N selftests: <dir>: <program>") with no Totals
# before it; a run of one program, with none at all.  A kselftest run told
# to expect $3 programs fails once for each it did not report (not
# started: its make failed).
count_ktap() {
	local name=$1 out=$2 expected=${3:-} line prog="" seen=0 reported=0 p=0 f=0 s=0
	local re_totals='^# Totals: pass:([0-9]+) fail:([0-9]+) xfail:[0-9]+ xpass:([0-9]+) skip:([0-9]+) error:([0-9]+)'
	if [ -n "$expected" ]; then re_totals="^# ${re_totals#^}"; fi
	local re_prog='^(not )?ok [0-9]+ selftests: (.*)$'
	local re_case='^(# )?not ok [0-9]+ (.*)$'
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ $re_totals ]]; then
			p=$((p + BASH_REMATCH[1]))
			f=$((f + BASH_REMATCH[2] + BASH_REMATCH[3] + BASH_REMATCH[5]))
			s=$((s + BASH_REMATCH[4]))
			seen=1
		elif [[ $line =~ $re_prog ]]; then
			reported=$((reported + 1))
			if [ "$seen" = 0 ]; then
				f=$((f + 1))
				failures+=("$name: ${BASH_REMATCH[2]}: ended without its Totals")
			fi
			seen=0
		elif [[ $line =~ $re_case ]]; then
			failures+=("$name: ${prog:+$prog: }${BASH_REMATCH[2]}")
		elif [[ $line =~ ^#\ selftests:\ (.*)$ ]]; then
			prog=${BASH_REMATCH[1]##*/}
		fi
	done <"$out"
	if [ -n "$expected" ]; then
		if [ "$reported" -lt "$expected" ]; then
			f=$((f + expected - reported))
			failures+=("$name: $((expected - reported)) of $expected programs never reported")
		fi
	elif [ "$seen" = 0 ]; then
		f=$((f + 1))
		failures+=("$name: ended without its Totals")
	fi
	echo "# $name: $p passed, $f failed, $s skipped"
	passed=$((passed + p))
	failed=$((failed + f))
}

# The kselftest run of the $1 kernel in $2 (its output; the VM's status
# $3), $4 programs expected: its cases, whether the module was left
# loaded, whether the VM's kernel reported anything.
count_kselftests() {
	local variant=$1 out=$2 rc=$3 expected=$4
	count_ktap "$variant kernel: kselftests" "$out" "$expected"
	if grep -q '^dsa-mdev-left: none' "$out"; then
		pass "$variant kernel: no test left dsa_mdev loaded"
	else
		fail "$variant kernel: no test left dsa_mdev loaded"
	fi
	case "$rc" in
	125) fail "$variant kernel: VM run clean (the VM died or hung, see above)" ;;
	126) fail "$variant kernel: VM run clean (a kernel report or a leak, see above)" ;;
	*) pass "$variant kernel: VM run clean (no BUG, WARNING, KASAN, lockdep or kmemleak report)" ;;
	esac
}

# The guest's last word: whether a test left the module loaded.
left_loaded='if [ -e /sys/module/dsa_mdev ]; then echo "dsa-mdev-left: loaded"; else echo "dsa-mdev-left: none"; fi'

# The test kernel's builds, in the checkout: the module (with and without
# clippy), the selftests (make -C selftests/dsa_mdev), the samples.
build_checkout() {
	local kdir=$1 mo=$DSA_CACHE/mod/test
	step "test kernel: dsa_mdev.ko builds warning-free" \
		warning_free make -s -C "$top" KDIR="$kdir" MO="$mo"
	step "test kernel: dsa_mdev.ko builds warning-free with CLIPPY=1" \
		warning_free make -s -C "$top" KDIR="$kdir" MO="$mo.clippy" CLIPPY=1
	# mdev_driver.type_groups (patches/linux/mdev-type-groups/, applied to
	# the test kernels): used where the kernel has it; the stock kernel's
	# path (groups on the types' kobjects, the checked copy of the core's
	# private struct) builds too, and runs in the VM.
	step "test kernel: the module uses mdev_driver.type_groups (detected from the bindings)" \
		grep -q -- '--cfg mdev_type_groups' "$mo/rust/.dsa_mdev.o.cmd"
	step "test kernel: dsa_mdev.ko builds warning-free without type_groups (DSA_MDEV_TYPE_GROUPS=n)" \
		warning_free make -s -C "$top" KDIR="$kdir" MO="$mo.fallback" DSA_MDEV_TYPE_GROUPS=n
	while read -r line; do
		case "$line" in
		"ok "*) pass "${line#ok }" ;;
		*) fail "${line#not ok }" ;;
		esac
	done < <("$here/mirror-test.sh")
	step "selftests build warning-free (make -C selftests/dsa_mdev)" \
		warning_free make -s -C "$top/selftests/dsa_mdev" KDIR="$kdir" MO="$mo"
	# The programs a run must report: lib.mk's own list.
	mapfile -t kselftest_programs < <(make -s -C "$top/selftests/dsa_mdev" KDIR="$kdir" emit_tests)
	if [ "${#kselftest_programs[@]}" -gt 0 ]; then
		pass "selftests: lib.mk lists ${#kselftest_programs[@]} programs (emit_tests)"
	else
		fail "selftests: lib.mk lists the programs (emit_tests)"
	fi
	step "samples build warning-free" \
		warning_free make -s -C "$top/samples" KSRC="$KSRC" \
			KHDR="$kdir/usr/include" OUTPUT="$DSA_CACHE/samples/test"
}

# make run_tests in the test VM, in the background: its output goes to
# $test_vm_log, shown by finish_test_vm.  run_tests finds everything up to
# date and runs (module/'s Makefile does not even start Kbuild).  No LLVM
# in the guest: lib.mk would ask clang for its target, which a cold TCG
# guest takes 40 s to load.
test_vm_pid=
test_vm_log=$(mktemp)
start_test_vm() {
	local kdir=$1 mo=$DSA_CACHE/mod/test
	# Then the sysfs and VFIO cases again on the module built without
	# mdev_driver.type_groups, as on a stock kernel.
	# One line: a command with newlines does not survive the way to the VM
	# (its shell exits 2).
	local suite fallback
	suite="make -s -C '$top/selftests/dsa_mdev' run_tests KDIR='$kdir' MO='$mo'"
	fallback="echo '# the stock kernel path: dsa_mdev.ko built with DSA_MDEV_TYPE_GROUPS=n';"
	fallback+=" DSA_MDEV_KO='$mo.fallback/dsa_mdev.ko' $suite TEST_GEN_PROGS='sysfs_test vfio_test' TEST_PROGS="
	"$here/vm.sh" --variant test --timeout 1800 -- bash -c \
		"$suite; $fallback; $left_loaded" \
		>"$test_vm_log" 2>&1 &
	test_vm_pid=$!
}

finish_test_vm() {
	local rc
	[ -n "$test_vm_pid" ] || return 0
	wait "$test_vm_pid"
	rc=$?
	echo "# the kselftests on the test kernel (make run_tests in the VM):"
	cat "$test_vm_log"
	# Every program, then the two of the stock kernel path.
	count_kselftests test "$test_vm_log" "$rc" $((${#kselftest_programs[@]} + 2))
	rm -f "$test_vm_log" "$test_vm_log.summary"
}

# The debug kernel, as kernel CI: copied into the kernel tree, installed,
# run with run_kselftest.sh.
suite_kernel_tree() {
	local kdir=$1 tree=$KSRC/tools/testing/selftests inst=$DSA_CACHE/kselftest/debug log rc
	# A plain copy of the tracked files, as cp -r of a clean clone makes
	# it; module/ builds the driver from this checkout (DSA_MDEV_SRC).
	mkdir -p "$tree/drivers"
	rsync -a --delete --delete-excluded --filter=':- .gitignore' \
		"$top/selftests/dsa_mdev/" "$tree/drivers/dsa_mdev/"
	rm -rf "$inst"
	step "debug kernel: kselftest install builds warning-free (the module with it)" \
		warning_free make -s -C "$tree" TARGETS=drivers/dsa_mdev O="$kdir" \
			DSA_MDEV_SRC="$top" install INSTALL_PATH="$inst"
	log=$(mktemp)
	# One VM.  Two at once, each with half the programs, took longer (20
	# minutes against 15): each TCG guest wants more than a core.  A
	# tenth of migration_test's mutated streams: each costs ~40 times
	# more under KASAN and TCG.
	"$here/vm.sh" --variant debug --timeout 4800 -- bash -c \
		"DSA_MDEV_MUTATIONS=300 '$inst/run_kselftest.sh' -c drivers/dsa_mdev; $left_loaded" \
		2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count_kselftests debug "$log" "$rc" "${#kselftest_programs[@]}"
	rm -f "$log" "$log.summary"
}

# On a cold machine the guest kernel, then the debug kernel, build while
# the host tests and the test kernel's suite run.  Never two kernel builds
# at once: this starts after the test kernel is built, and builds one after
# the other.  Built kernels make it return at once.
guest_build_pid=
guest_build_log=$(mktemp)
debug_build_pid=
debug_build_log=$(mktemp)
start_other_builds() {
	"$here/kernel.sh" guest >"$guest_build_log" 2>&1 &
	guest_build_pid=$!
	[ "$fast" = 0 ] || return 0
	(
		wait_for=$guest_build_pid
		# Not a child of this subshell: poll.
		while kill -0 "$wait_for" 2>/dev/null; do sleep 5; done
		exec "$here/kernel.sh" debug
	) >"$debug_build_log" 2>&1 &
	debug_build_pid=$!
}

# A VM run whose output is KTAP (make guest's short version, make
# libvirt), ending with its Totals: its points are cases.
ktap_run() {
	local name=$1 log rc
	shift
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count_ktap "$name" "$log"
	case "$rc" in
	125) fail "$name: VM run clean (the VM died or hung, see above)" ;;
	126) fail "$name: VM run clean (a kernel report, see above)" ;;
	*) pass "$name: VM run clean (no BUG, WARNING or hung task report)" ;;
	esac
	rm -f "$log"
}

# The host tests: unit tests, lints, the fuzz smoke.
host_tests() {
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
	# The pages as the kernel's Sphinx reads them: docutils, the parser
	# under it, with anything from a warning up an error.
	step "Documentation: the RST pages parse without a warning" \
		/usr/bin/python3 -c 'import sys, docutils.core, docutils.utils
bad = 0
for f in sys.argv[1:]:
    try:
        docutils.core.publish_doctree(open(f).read(), source_path=f,
            settings_overrides={"report_level": 2, "halt_level": 2})
    except docutils.utils.SystemMessage:
        bad = 1
sys.exit(bad)' \
		"$top"/Documentation/*.rst
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
}

# The test kernel and what is built against it; then the host tests, with
# the test kernel's suite in its VM beside them (a TCG guest leaves a core
# for the rest: together they take little longer than the longer one).
stage "the test kernel, the module, selftests and samples builds"
if kdir_test=$("$here/kernel.sh" test); then
	start_other_builds
	build_checkout "$kdir_test"
else
	fail "test kernel: build"
	kdir_test=
fi
stage "host tests, and beside them the kselftests on the test kernel"
[ -z "$kdir_test" ] || start_test_vm "$kdir_test"
host_tests
finish_test_vm

# The samples, run: make bench (dsa_bench, dsa_migrate, mdev_control) on the
# test kernel, short: runs of 0.25 s, growth to 64 devices.  Its figures are
# not judged here, only that every one is made.
if [ -n "$kdir_test" ]; then
	step "samples: make bench runs dsa_bench, dsa_migrate and mdev_control to the end" \
		make -s -C "$top" bench BENCH_SECONDS=0.25 BENCH_DEVICES=64
fi

stage "the idxd guest on the test kernel (make guest, short)"
if [ -z "$kdir_test" ]; then
	fail "guest: not run (no test kernel)"
elif ! wait "$guest_build_pid"; then
	cat "$guest_build_log"
	fail "guest kernel: build"
else
	grep 'built in' "$guest_build_log" || true
	ktap_run "guest" "$here/guest.sh" short
fi
rm -f "$guest_build_log"

# libvirt's node device driver with the series of patches/libvirt/ (built
# here, cached; a few minutes cold), and the stock one's failure.
stage "libvirt's node device driver and the dsa parents (make libvirt)"
if [ -z "$kdir_test" ]; then
	fail "libvirt: not run (no test kernel)"
else
	ktap_run "libvirt" "$here/libvirt-nodedev.sh"
fi

if [ "$fast" = 0 ]; then
	stage "kselftests on the debug kernel"
	if [ -n "$debug_build_pid" ] && ! wait "$debug_build_pid"; then
		cat "$debug_build_log"
		fail "debug kernel: build"
	elif ! kdir_debug=$("$here/kernel.sh" debug); then
		fail "debug kernel: build"
	else
		grep 'built in' "$debug_build_log" || true
		suite_kernel_tree "$kdir_debug"
	fi
fi
rm -f "$debug_build_log"
finish
