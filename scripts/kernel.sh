#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) a kernel and print its build directory.
#
#   scripts/kernel.sh [test|debug|guest]
#
# The test VM's kernel is tinyconfig plus selftests/dsa_mdev/config (what
# the tests need) and config/test-vm.config (what the VM needs), plus
# config/test-vm-debug.config for the debug variant.  The guest kernel (the
# one 'make guest' boots inside the test VM) is tinyconfig plus
# config/guest.config.  All are built from the one kernel source, with the
# fixes of patches/linux/ and the guest's idxd change of patches/guest/
# applied (each touches files only the kernels that need it compile), out
# of tree in $DSA_CACHE/build/<variant>.  A key over the fragments, the kernel source
# and the toolchain decides whether a finished build can be reused, so a
# second run rebuilds nothing.  Progress goes to stderr, the build directory
# to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

variant=${1:-test}
# What the tests need (the kselftest's config), then what the VM needs.
frags=("$top/selftests/dsa_mdev/config" "$top/config/test-vm.config")
case "$variant" in
test) ;;
debug) frags+=("$top/config/test-vm-debug.config") ;;
guest) frags=("$top/config/guest.config") ;;
*)
	echo "kernel.sh: unknown variant '$variant' (test, debug or guest)" >&2
	exit 2
	;;
esac

if [ ! -f "$KSRC/Makefile" ]; then
	echo "kernel.sh: no kernel source in $KSRC: run 'make setup' first" >&2
	exit 1
fi

build=$DSA_CACHE/build/$variant
kmake=(make -C "$KSRC" O="$build" LLVM="$LLVM" RUSTC="$RUSTC" BINDGEN="$BINDGEN")

# The kernel fixes of patches/linux/ (see its README) and the guest's
# change of patches/guest/, applied to the unpacked source in place: a
# changed series is reversed and the new one applied, so only the files
# they touch are rebuilt.
# A series with a cover letter lives in a directory of its own
# (patches/linux/<series>/0000-cover-letter.patch, 0001-..., ...); the cover
# letter is mail, not a change.
patches=("$top"/patches/linux/*.patch)
for p in "$top"/patches/linux/*/*.patch; do
	[ -e "$p" ] || continue
	case "$p" in */0000-cover-letter.patch) continue ;; esac
	patches+=("$p")
done
patches+=("$top"/patches/guest/*.patch)
series_key=$(cat "${patches[@]}" | sha256sum | cut -d' ' -f1)
(
	flock 9
	applied=$KSRC/.dsa-mdev-applied.patch
	if [ "$(cat "$KSRC/.dsa-mdev-series" 2>/dev/null)" != "$series_key" ]; then
		if [ -f "$applied" ]; then
			echo "kernel.sh: reversing the kernel patches applied before" >&2
			patch -d "$KSRC" -p1 -R -s --no-backup-if-mismatch <"$applied"
			rm -f "$applied" "$KSRC/.dsa-mdev-series"
		fi
		for p in "${patches[@]}"; do
			echo "kernel.sh: applying $(basename "$p")" >&2
			patch -d "$KSRC" -p1 -s --forward --no-backup-if-mismatch <"$p"
			cat "$p" >>"$applied"
		done
		echo "$series_key" >"$KSRC/.dsa-mdev-series"
	fi
) 9>"$KSRC/.dsa-mdev-lock"

config_key=$( {
	cat "${frags[@]}"
	head -c 4096 "$KSRC/Makefile"
	"$RUSTC" --version
	"$BINDGEN" --version
	"clang$LLVM" --version | head -1
} | sha256sum | cut -d' ' -f1)
key=$(echo "$config_key $series_key" | sha256sum | cut -d' ' -f1)

if [ -f "$build/.dsa-mdev-built" ] && [ "$(cat "$build/.dsa-mdev-built")" = "$key" ]; then
	echo "$build"
	exit 0
fi

mkdir -p "$build"
log=$build/build.log
echo "kernel.sh: building the $variant kernel in $build (log: $log)" >&2
start=$(date +%s)

if [ "$(cat "$build/.dsa-mdev-config" 2>/dev/null)" != "$config_key" ]; then
	rm -f "$build/.dsa-mdev-built"
	"${kmake[@]}" -s tinyconfig >"$log" 2>&1
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "${frags[@]}" >>"$log" 2>&1
	"${kmake[@]}" -s olddefconfig >>"$log" 2>&1

	# Every option the fragments ask for must have survived olddefconfig.
	missing=0
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				if ! grep -qxF "$line" "$build/.config"; then
					echo "kernel.sh: $(basename "$f"): '$line' did not survive olddefconfig (got: $(grep -E "^(# )?${line%%=*}[= ]" "$build/.config" || echo absent))" >&2
					missing=1
				fi
				;;
			"# CONFIG_"*" is not set")
				opt=${line#\# }
				opt=${opt%% *}
				if grep -q "^$opt=" "$build/.config"; then
					echo "kernel.sh: $(basename "$f"): '$opt' should be off but is $(grep "^$opt=" "$build/.config")" >&2
					missing=1
				fi
				;;
			esac
		done <"$f"
	done
	if [ "$missing" = 1 ]; then
		echo "kernel.sh: the configuration is not what the fragments ask for; see above" >&2
		exit 1
	fi
	echo "$config_key" >"$build/.dsa-mdev-config"
fi

jobs=$(($(nproc) + 1))
# A cold build takes minutes: say every 30 s that it goes on.
(
	while sleep 30; do
		echo "kernel.sh: building the $variant kernel: $(($(date +%s) - start)) s," \
			"$(grep -cE '^  (CC|RUSTC|AS)' "$log") objects compiled" >&2
	done
) &
heartbeat=$!
trap 'kill "$heartbeat" 2>/dev/null || true' EXIT
if ! "${kmake[@]}" -j"$jobs" >>"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "kernel.sh: the $variant kernel failed to build; full log in $log" >&2
	exit 1
fi
kill "$heartbeat" 2>/dev/null || true
# Headers for the selftests (linux/vfio.h, linux/iommufd.h of this kernel).
if [ "$variant" != guest ]; then
	"${kmake[@]}" -s headers_install INSTALL_HDR_PATH="$build/usr" >>"$log" 2>&1
fi

echo "$key" >"$build/.dsa-mdev-built"
echo "kernel.sh: $variant kernel built in $(($(date +%s) - start)) s" >&2
echo "$build"
