# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared settings for the dsa_mdev scripts (sourced, not run).  Every value
# can be overridden from the environment.

# Where the unpacked kernel source and the built test kernels live: outside
# the checkout, so a fresh clone on the same machine reuses them.
: "${DSA_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/dsa_mdev}"
: "${KSRC_TARBALL:=/usr/src/linux-source-7.3.tar.xz}"
: "${KSRC:=$DSA_CACHE/linux-source-7.3}"
: "${RUSTC:=/usr/bin/rustc}"
: "${BINDGEN_VERSION:=0.72.1}"
: "${BINDGEN_ROOT:=$DSA_CACHE/bindgen}"
: "${BINDGEN:=$BINDGEN_ROOT/bin/bindgen}"
: "${VNG_VERSION:=1.42}"
: "${LLVM:=-19}"
: "${LIBCLANG_PATH:=/usr/lib/llvm-19/lib}"
: "${CLIPPY_DRIVER:=/usr/bin/clippy-driver}"
export DSA_CACHE KSRC RUSTC BINDGEN LLVM LIBCLANG_PATH CLIPPY_DRIVER
: "${RUSTFMT:=/usr/bin/rustfmt}"
export RUSTFMT
: "${CARGO_TARGET_DIR:=$DSA_CACHE/cargo-target}"
export CARGO_TARGET_DIR

dsa_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# For the scripts that boot the test VM: sets kdir to the test kernel's
# build (built on first use) and mo to $DSA_CACHE/mod/test, and builds
# dsa_mdev.ko there against it.
build_test_module() {
	kdir=$("$dsa_scripts/kernel.sh" test)
	mo=$DSA_CACHE/mod/test
	mkdir -p "$mo"
	make -s -C "$dsa_scripts/.." KDIR="$kdir" MO="$mo"
}

# After build_test_module: sets bin to $DSA_CACHE/samples/test and builds
# the samples there, against the test kernel's uapi headers (as the
# selftests are).
build_test_samples() {
	bin=$DSA_CACHE/samples/test
	mkdir -p "$bin"
	make -s -C "$dsa_scripts/../samples" KSRC="$KSRC" KHDR="$kdir/usr/include" OUTPUT="$bin"
}
