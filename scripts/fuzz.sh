#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Coverage-guided fuzzing of the pure logic (rust/logic) on the host, with
# libFuzzer through cargo-fuzz, overflow checks and debug assertions on
# (no sanitizer: the logic is safe Rust, and sanitizers need a nightly
# compiler).  The targets are in rust/logic/fuzz/fuzz_targets/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   scripts/fuzz.sh --merge [TARGET...]
#
# The first form installs cargo-fuzz if needed (into $DSA_CACHE), builds
# every target, runs each given target (default: all) for SECONDS (default
# 60), and prints one line per target:
#   fuzz: <target>: <execs> executions in <s> s, <n> crashes
# It exits non-zero if the build failed or any target crashed (a panic,
# an overflow, a failed check, a timeout or running out of memory); the
# input is then in rust/logic/fuzz/artifacts/<target>/.  Each run starts
# from the committed corpus (rust/logic/fuzz/corpus/<target>) and adds what
# it finds to $DSA_CACHE/fuzz-corpus/<target>, outside the checkout.
#
# The second form minimizes the committed corpus together with what the
# runs found (libFuzzer -merge=1), keeping the hand-made seeds (the files
# whose names are not 40-hex-digit hashes): run it to commit new coverage.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

# The kernel's RUSTC (Debian's) is not for this: cargo-fuzz builds with the
# machine's rustup toolchain.
unset RUSTC CARGO_TARGET_DIR
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

: "${CARGO_FUZZ_VERSION:=0.13.2}"
: "${CARGO_FUZZ_ROOT:=$DSA_CACHE/cargo-fuzz}"
: "${FUZZ_TARGET_DIR:=$DSA_CACHE/fuzz-target}"
: "${FUZZ_CORPUS_DIR:=$DSA_CACHE/fuzz-corpus}"
: "${FUZZ_LOG_DIR:=$DSA_CACHE/fuzz-logs}"
fuzz_dir=$top/rust/logic/fuzz
cargo_fuzz=$CARGO_FUZZ_ROOT/bin/cargo-fuzz

log() { printf 'fuzz: %s\n' "$*"; }
die() { printf 'fuzz: %s\n' "$*" >&2; exit 1; }

merge=0
seconds=60
if [ "${1:-}" = --merge ]; then
	merge=1
	shift
elif [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
if [ "$seconds" -lt 1 ]; then die "SECONDS_PER_TARGET must be at least 1"; fi

# cargo-fuzz, once.
if [ "$("$cargo_fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
	log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
	if ! cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
		--root "$CARGO_FUZZ_ROOT"; then
		die "installing cargo-fuzz failed"
	fi
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$FUZZ_TARGET_DIR/$triple/release
mkdir -p "$FUZZ_CORPUS_DIR" "$FUZZ_LOG_DIR"

# Build every target: release, debug assertions and overflow checks (-a,
# and the fuzz crate's profile), no sanitizer.
build_log=$FUZZ_LOG_DIR/build.log
if ! "$cargo_fuzz" build --fuzz-dir "$fuzz_dir" -s none -a --target "$triple" \
	--target-dir "$FUZZ_TARGET_DIR" >"$build_log" 2>&1; then
	tail -n 40 "$build_log" >&2
	die "build failed (log: $build_log)"
fi

mapfile -t all < <("$cargo_fuzz" list --fuzz-dir "$fuzz_dir")
if [ ${#all[@]} -eq 0 ]; then die "no fuzz targets found"; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
	if ! printf '%s\n' "${all[@]}" | grep -qx -- "$t"; then
		die "unknown target '$t' (targets: ${all[*]})"
	fi
done

# libFuzzer options per target: streams of 64 WQs are 4.7 KB.
max_len() {
	case $1 in
	stream) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

if [ "$merge" = 1 ]; then
	for t in "${targets[@]}"; do
		repo=$fuzz_dir/corpus/$t
		work=$FUZZ_CORPUS_DIR/$t
		mkdir -p "$repo" "$work"
		new=$(mktemp -d "$FUZZ_CORPUS_DIR/.merge-$t.XXXXXX")
		# The hand-made seeds stay, under their names.
		find "$repo" -maxdepth 1 -type f ! -regex '.*/[0-9a-f]\{40\}' -exec cp {} "$new/" \;
		if ! "$bin_dir/$t" -merge=1 -max_len="$(max_len "$t")" "$new" "$repo" "$work" \
			>"$FUZZ_LOG_DIR/$t.merge.log" 2>&1; then
			rm -rf "$new"
			die "$t: merge failed (log: $FUZZ_LOG_DIR/$t.merge.log)"
		fi
		rm -rf "$repo"
		mv "$new" "$repo"
		chmod 755 "$repo"
		log "$t: corpus $(find "$repo" -type f | wc -l) files, $(du -s --apparent-size -k "$repo" | cut -f1) KiB"
	done
	exit 0
fi

# One target for $seconds; its result line goes to stdout, its notes to
# stderr; the status says whether it crashed.
fuzz_one() {
	local t=$1 corpus work artifacts run_log stamp start rc elapsed found crashes execs cov
	corpus=$fuzz_dir/corpus/$t
	work=$FUZZ_CORPUS_DIR/$t
	artifacts=$fuzz_dir/artifacts/$t
	run_log=$FUZZ_LOG_DIR/$t.log
	mkdir -p "$corpus" "$work" "$artifacts"
	stamp=$(mktemp)
	start=$(date +%s)
	"$bin_dir/$t" -max_total_time="$seconds" -print_final_stats=1 \
		-max_len="$(max_len "$t")" -timeout=30 -rss_limit_mb=2048 \
		-artifact_prefix="$artifacts/" "$work" "$corpus" >"$run_log" 2>&1
	rc=$?
	elapsed=$(($(date +%s) - start))
	found=$(find "$artifacts" -type f -newer "$stamp")
	rm -f "$stamp"
	crashes=$(printf '%s' "$found" | grep -c .)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run_log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$run_log" | tail -n 1)
	printf 'fuzz: %s: %s, corpus %s files (log: %s)\n' "$t" "${cov:-no coverage}" \
		"$(find "$work" "$corpus" -type f | wc -l)" "$run_log" >&2
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		# Failed without leaving an input: count it as a crash all the same.
		crashes=1
	fi
	echo "fuzz: $t: ${execs:-0} executions in $elapsed s, $crashes crashes"
	if [ "$crashes" -ne 0 ]; then
		grep -E -A12 'panicked at|ERROR: libFuzzer' "$run_log" | head -n 30 | sed 's/^/    /' >&2
		if [ -n "$found" ]; then
			printf '%s\n' "$found" | sed 's/^/    input: /' >&2
		fi
		return 1
	fi
}

# One target per core at a time (FUZZ_JOBS): each is one libFuzzer process
# on one core, so its figures stay those of a core; the results are printed
# in the targets' order.
jobs=${FUZZ_JOBS:-$(nproc)}
results=$(mktemp -d)
running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	( fuzz_one "$t" >"$results/$t.out" 2>"$results/$t.err"; echo $? >"$results/$t.rc" ) &
	running=$((running + 1))
done
wait
status=0
for t in "${targets[@]}"; do
	cat "$results/$t.err" >&2
	cat "$results/$t.out"
	[ "$(cat "$results/$t.rc")" = 0 ] || status=1
done
rm -rf "$results"
exit "$status"
