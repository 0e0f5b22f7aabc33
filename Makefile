# SPDX-License-Identifier: GPL-2.0
#
# dsa_mdev developer entry points.  The kernel's own build (Kbuild) compiles
# the module; these targets set up the machine, build the test kernel, boot
# it and run the tests.
#
#   make setup        install everything (idempotent)
#   make kernel       build or reuse the test kernel; print its build dir
#   make              build dsa_mdev.ko against KDIR (default: the test kernel)
#   make vm CMD=...   boot the test VM, run CMD as root, propagate its status
#   make check        host tests + kselftests on the test and debug kernels
#                     (make -C selftests/dsa_mdev: the kselftest target)
#   make check-fast   the same without the debug kernel
#   make demo         boot, load, create devices, show them, remove them
#   make guest        the stock idxd driver and dmatest drive devices in a
#                     guest inside the test VM; the guest live-migrates
#   make libvirt      libvirt's node device driver, with the fix of
#                     patches/libvirt/ (built in the cache), lists the
#                     parents and creates devices; stock libvirt does not
#   make bench        boot, run samples/dsa_bench on a device (BENCH_SECONDS=,
#                     BENCH_RUNS=), samples/dsa_migrate for 1 and 512 WQs and
#                     samples/mdev_control on dsa_mdev and mtty
#                     (BENCH_DEVICES=); print the ratios and their goals;
#                     BENCH_REVS= adds other revisions' modules, same boot
#   make fuzz         fuzz the pure logic on the host, FUZZ_SECONDS (default
#                     60) per target (FUZZ_TARGETS=, default all)
#
# Overridable: KDIR, LLVM, RUSTC, BINDGEN, CLIPPY=1, DSA_CACHE.

SHELL := /bin/bash
top := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
env := source $(top)/scripts/env.sh &&

# Kbuild variables the module build needs, from scripts/env.sh unless given.
kbuild_vars = LLVM="$$LLVM" RUSTC="$$RUSTC" BINDGEN="$$BINDGEN" \
	$(if $(CLIPPY),CLIPPY=1 CLIPPY_DRIVER="$$CLIPPY_DRIVER")

.PHONY: all modules setup kernel kernel-debug kernel-guest vm check check-fast demo \
	guest libvirt bench \
	host-test fuzz fmt fmt-check clean help

all: modules

help:
	@sed -n '3,25p' $(top)/Makefile | sed 's/^# \{0,1\}//'

setup:
	@$(top)/scripts/setup.sh

kernel:
	@$(top)/scripts/kernel.sh test

kernel-debug:
	@$(top)/scripts/kernel.sh debug

kernel-guest:
	@$(top)/scripts/kernel.sh guest

# KDIR defaults to the test kernel (built on first use).  The objects go to
# MO, by default $(DSA_CACHE)/mod/<name of KDIR>, never into the checkout,
# so one checkout builds against several kernels.  LLVM, RUSTC and BINDGEN
# come from scripts/env.sh unless given on the command line.
modules:
	@$(env) export LLVM=$(or $(LLVM),$$LLVM) RUSTC=$(or $(RUSTC),$$RUSTC) \
		BINDGEN=$(or $(BINDGEN),$$BINDGEN) && \
	kdir=$(or $(KDIR),$$($(top)/scripts/kernel.sh test)) && \
	mo=$(or $(MO),$$DSA_CACHE/mod/$$(basename "$$kdir")) && mkdir -p "$$mo" && \
	$(MAKE) -C "$$kdir" M=$(top) MO="$$mo" $(kbuild_vars) modules && \
	echo "dsa_mdev.ko: $$mo/dsa_mdev.ko"

# CMD reaches the guest's shell through the environment, unquoted by make.
vm: export DSA_VM_CMD = $(value CMD)
vm:
	@test -n "$$DSA_VM_CMD" || { echo "usage: make vm CMD='...' [VARIANT=debug]" >&2; exit 2; }
	@$(top)/scripts/vm.sh $(if $(VARIANT),--variant $(VARIANT)) -- bash -c "$$DSA_VM_CMD"

check:
	@$(top)/scripts/check.sh

check-fast:
	@$(top)/scripts/check.sh --fast

demo:
	@$(top)/scripts/demo.sh

# The guest of config/guest.config (idxd, dmatest) with dsa_mdev devices,
# and its live migration, in the test VM (scripts/guest.sh).
guest:
	@$(top)/scripts/guest.sh full

# libvirt's node device driver with patches/libvirt/, against the stock one,
# in the test VM (scripts/libvirt-nodedev.sh).
libvirt:
	@$(top)/scripts/libvirt-nodedev.sh

# MEMMOVE throughput and descriptor rates of a device next to memcpy(),
# migration times, and the control plane next to mtty's, in the test VM
# (scripts/bench.sh): each figure is warmed up, then measured BENCH_RUNS
# times (default 3) for BENCH_SECONDS (default 1); the control plane grows
# each type to BENCH_DEVICES devices (default 4096).  BENCH_REVS="REV..."
# measures those revisions' modules too, in the same boot, a column each.
bench:
	@BENCH_RUNS="$(BENCH_RUNS)" BENCH_DEVICES="$(BENCH_DEVICES)" BENCH_REVS="$(BENCH_REVS)" \
		$(top)/scripts/bench.sh $(BENCH_SECONDS)

# libFuzzer targets of rust/logic/fuzz (see scripts/fuzz.sh): each runs for
# FUZZ_SECONDS; crashing inputs land in rust/logic/fuzz/artifacts/.
fuzz:
	@$(top)/scripts/fuzz.sh $(or $(FUZZ_SECONDS),60) $(FUZZ_TARGETS)

host-test:
	@$(env) cd $(top)/rust/logic && cargo test
	@$(env) cd $(top)/tools/dsa-compat && cargo test

# rustfmt with the kernel's configuration, on every Rust file of the tree.
rust_sources = $$(find $(top)/rust $(top)/tools -name '*.rs' -not -path '*/target/*' 2>/dev/null)

fmt:
	@$(env) "$$RUSTFMT" --edition 2021 --config-path "$$KSRC/.rustfmt.toml" $(rust_sources)

fmt-check:
	@$(env) "$$RUSTFMT" --check --edition 2021 --config-path "$$KSRC/.rustfmt.toml" $(rust_sources)

clean:
	@$(env) $(MAKE) -s -C $(top)/selftests/dsa_mdev clean
	@$(env) rm -rf "$$DSA_CACHE/mod" "$$DSA_CACHE/kselftest" "$$DSA_CACHE/samples" \
		"$$CARGO_TARGET_DIR" \
		$(top)/rust/logic/target
	@$(env) kdir=$(or $(KDIR),$$DSA_CACHE/build/test) && \
	if [ -f "$$kdir/Makefile" ]; then $(MAKE) -s -C "$$kdir" M=$(top) clean; fi
