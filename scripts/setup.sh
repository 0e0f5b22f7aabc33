#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything dsa_mdev needs on a Debian 12 (bookworm) x86_64 machine:
# the kernel source (Debian's linux-source-7.3 from trixie-backports, pinned
# low), the Rust toolchain the kernel accepts (rustc-web + rust-web-src),
# clang/lld/llvm 19, bindgen-cli, QEMU 10 (bookworm-backports), libvirt
# 11.3 (bookworm-backports, the daemon, its QEMU and node device drivers
# and virsh; never started on this machine: the tests run their own
# daemons in the test VM), a static busybox and virtme-ng.  Idempotent: a
# second run checks and returns.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

log() { printf 'setup: %s\n' "$*"; }

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

apt_pkgs=(
	rustc-web rust-web-src rust-web-clippy rustfmt-web
	clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev dwarves cpio kmod rsync xz-utils
	busybox-static mdevctl make gcc libc6-dev ccache socat python3-docutils
)

# libvirt from bookworm-backports, package by package: "-t
# bookworm-backports" would also upgrade systemd and udev.
libvirt_pkgs=(
	libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu
	libvirt-daemon-driver-nodedev libvirt0 libvirt-common
	libvirt-daemon-common libvirt-daemon-log
)
libvirt_version=11.3.0

need_apt=0
for p in "${apt_pkgs[@]}" linux-source-7.3 qemu-system-x86; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		need_apt=1
		break
	fi
done
if [ "$need_apt" = 1 ]; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	src=/etc/apt/sources.list.d/dsa-mdev.sources
	if [ ! -f "$src" ]; then
		log "adding $codename-backports and trixie-backports (pinned to 100)"
		$SUDO tee "$src" >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $codename-backports trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
		$SUDO tee /etc/apt/preferences.d/dsa-mdev >/dev/null <<PIN
Package: *
Pin: release n=trixie-backports
Pin-Priority: 100

Package: *
Pin: release n=$codename-backports
Pin-Priority: 100
PIN
	fi
	log "apt-get update"
	$SUDO apt-get update -qq -o APT::Update::Error-Mode=any || $SUDO apt-get update -qq
	log "installing ${apt_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
	log "installing linux-source-7.3 from trixie-backports"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		-t trixie-backports linux-source-7.3 >/dev/null
	log "installing qemu-system-x86 from $codename-backports"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		-t "$codename-backports" qemu-system-x86 qemu-utils >/dev/null
fi

have_libvirt=1
for p in "${libvirt_pkgs[@]}"; do
	v=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null || true)
	case "$v" in
	"install ok installed $libvirt_version"*) ;;
	*) have_libvirt=0 ;;
	esac
done
if [ "$have_libvirt" = 0 ]; then
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	log "installing libvirt $libvirt_version from $codename-backports"
	$SUDO apt-get update -qq -o APT::Update::Error-Mode=any || $SUDO apt-get update -qq
	# policy-rc.d or no init system: the packages' services do not start.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${libvirt_pkgs[@]/%//$codename-backports}" >/dev/null
fi

if ! "$BINDGEN" --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION"; then
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION" --root "$BINDGEN_ROOT"
fi

# Clippy for the host tools (dsa-compat), from the machine's rustup.
if ! cargo clippy --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
	log "rustup component add clippy"
	rustup component add clippy >/dev/null
fi

if ! command -v vng >/dev/null 2>&1; then
	log "pip install virtme-ng"
	python3 -m pip install --quiet --disable-pip-version-check "virtme-ng==$VNG_VERSION"
	hash -r
fi

# Unpack the kernel source once into the cache.
if [ ! -f "$KSRC/.dsa-mdev-unpacked" ]; then
	log "unpacking $KSRC_TARBALL into $KSRC"
	rm -rf "$KSRC"
	mkdir -p "$(dirname "$KSRC")"
	tmp=$(mktemp -d "$(dirname "$KSRC")/unpack.XXXXXX")
	tar -C "$tmp" -xf "$KSRC_TARBALL"
	mv "$tmp"/linux-source-* "$KSRC"
	rmdir "$tmp"
	touch "$KSRC/.dsa-mdev-unpacked"
fi

log "ok: rustc $($RUSTC --version | cut -d' ' -f2), $($BINDGEN --version), $(clang-19 --version | head -1), $(qemu-system-x86_64 --version | head -1), libvirt $(libvirtd --version | awk '{print $NF}'), vng $(vng --version 2>/dev/null | tail -1)"
