#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) libvirt 11.3.0 with the series of patches/libvirt/
# applied, and print the directory it is installed in.
#
#   scripts/libvirt.sh
#
# The source is Debian's libvirt 11.3.0 source package's upstream tarball
# (libvirt_11.3.0.orig.tar.xz, what bookworm-backports' 11.3.0-2~bpo12+1
# is built from; checked against its SHA-256).  Built are only what the
# tests use: libvirtd with the QEMU, node device and remote drivers, and
# virsh; no docs, no tests, no other driver (libvirt builds its network
# filter driver with any daemon).  It is installed in
# $DSA_CACHE/libvirt/<key>/ (bin/virsh, sbin/libvirtd), never over the
# system's libvirt: its configuration and state paths are the system's
# (/etc/libvirt, /run/libvirt, /var/lib/libvirt), which the test's daemons
# bind-mount from directories of their own (scripts/libvirt_hosts.py).  A
# key over the tarball, the series' changes, the options and the toolchain
# decides whether a finished build can be reused.  Progress goes to stderr
# (at least every 30 s), the directory to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

version=11.3.0
tarball=libvirt_$version.orig.tar.xz
url=http://deb.debian.org/debian/pool/main/libv/libvirt/$tarball
sha256=6bcb0c42c4580436fea262ced56f68a6afe20f7390b1bea2116718cc034a0283
# Raise when the way of building changes other than by its options.
key_version=1
base=$DSA_CACHE/libvirt

log() { echo "libvirt.sh: $*" >&2; }

# What meson needs to configure this build, and nothing for the drivers
# and features it leaves out.
deps=(
	meson ninja-build pkg-config gcc libc6-dev xsltproc libxml2-utils
	python3-docutils libglib2.0-dev libgnutls28-dev libxml2-dev
	libtirpc-dev libudev-dev libpciaccess-dev libjson-c-dev libnl-3-dev
	libnl-route-3-dev libreadline-dev
)
missing=()
for p in "${deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing the build dependencies: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

mkdir -p "$base"
if ! echo "$sha256  $base/$tarball" | sha256sum -c --status 2>/dev/null; then
	log "downloading $url"
	curl -fsSL -o "$base/$tarball.part" "$url"
	echo "$sha256  $base/$tarball.part" | sha256sum -c --status ||
		{ log "$tarball: SHA-256 mismatch"; exit 1; }
	mv "$base/$tarball.part" "$base/$tarball"
fi

# The series, in order; the cover letter is mail, not a change.
patches=()
for p in "$top"/patches/libvirt/*/*.patch; do
	[ -e "$p" ] || continue
	case "$p" in */0000-cover-letter.patch) continue ;; esac
	patches+=("$p")
done

# Only the daemon with the QEMU, node device (udev) and remote drivers,
# and the clients.  -Drpath: the binaries find their libraries in the
# prefix.  The system paths (sysconfdir=/etc, localstatedir=/var,
# runstatedir=/run) are the ones the test bind-mounts per daemon.
options=(
	-Dsystem=false -Drpath=enabled -Dudev=enabled -Dreadline=enabled
	-Ddriver_qemu=enabled -Ddriver_remote=enabled -Ddriver_libvirtd=enabled
	-Dqemu_user=root -Dqemu_group=root
	-Ddriver_network=disabled -Ddriver_interface=disabled -Ddriver_lxc=disabled
	-Ddriver_ch=disabled -Ddriver_libxl=disabled -Ddriver_vbox=disabled
	-Ddriver_vmware=disabled -Ddriver_esx=disabled -Ddriver_hyperv=disabled
	-Ddriver_openvz=disabled -Ddriver_test=disabled -Ddriver_bhyve=disabled
	-Ddriver_vz=disabled -Ddriver_secrets=disabled -Dstorage_dir=disabled
	-Dstorage_disk=disabled -Dstorage_fs=disabled -Dstorage_gluster=disabled
	-Dstorage_iscsi=disabled -Dstorage_iscsi_direct=disabled
	-Dstorage_lvm=disabled -Dstorage_mpath=disabled -Dstorage_rbd=disabled
	-Dstorage_scsi=disabled -Dstorage_vstorage=disabled -Dstorage_zfs=disabled
	-Ddocs=disabled -Dtests=disabled -Dexpensive_tests=disabled -Dnls=disabled
	-Dselinux=disabled -Dapparmor=disabled -Dsecdriver_apparmor=disabled
	-Dsecdriver_selinux=disabled -Dpolkit=disabled -Dfirewalld=disabled
	-Dsasl=disabled -Dlibssh=disabled -Dlibssh2=disabled -Dinit_script=none
	-Dbash_completion=disabled -Dhost_validate=disabled -Dlogin_shell=disabled
	-Dnss=disabled -Dssh_proxy=disabled -Dsysctl_config=disabled
	-Duserfaultfd_sysctl=disabled -Dwireshark_dissector=disabled
	-Dnbdkit=disabled -Dnumad=disabled -Ddtrace=disabled
)

key=$( {
	echo "$sha256"
	printf '%s\n' "${options[@]}" "$key_version"
	# The changes only: a patch's mail (its message, a cover letter)
	# does not change what is built.
	for p in "${patches[@]}"; do sed -n '/^diff --git /,$p' "$p"; done
	gcc --version | head -n 1
	meson --version
} | sha256sum | cut -c1-16)
prefix=$base/$version-$key
if [ -f "$prefix/.built" ]; then
	echo "$prefix"
	exit 0
fi

start=$SECONDS
work=$base/build-$key
rm -rf "$work" "$prefix"
mkdir -p "$work"
tar -xJf "$base/$tarball" -C "$work" --no-same-owner
src=$work/libvirt-$version
for p in "${patches[@]}"; do
	log "applying $(basename "$p")"
	patch -s -d "$src" -p1 <"$p"
done

# Heartbeat: meson and ninja go quiet for long stretches.
(
	while sleep 30; do
		log "building, $((SECONDS - start)) s $(tail -n 1 "$work/ninja.log" 2>/dev/null | cut -d' ' -f1)"
	done
) &
beat=$!
trap 'kill $beat 2>/dev/null' EXIT

log "configuring libvirt $version (patches/libvirt/: ${#patches[@]} patches)"
meson setup "$work/build" "$src" --prefix="$prefix" --sysconfdir=/etc \
	--localstatedir=/var -Drunstatedir=/run "${options[@]}" >"$work/meson.log" 2>&1 ||
	{ tail -n 40 "$work/meson.log" >&2; exit 1; }
log "building"
ninja -C "$work/build" >"$work/ninja.log" 2>&1 ||
	{ tail -n 40 "$work/ninja.log" >&2; exit 1; }
# Staged: sysconfdir and the state directories are the system's, and must
# not be written; only the prefix is kept.
DESTDIR=$work/stage ninja -C "$work/build" install >"$work/install.log" 2>&1 ||
	{ tail -n 40 "$work/install.log" >&2; exit 1; }
mkdir -p "$(dirname "$prefix")"
mv "$work/stage$prefix" "$prefix"
"$prefix/sbin/libvirtd" --version >&2
rm -rf "$work"
touch "$prefix/.built"
# Builds of other keys are stale.
for old in "$base/$version"-*; do
	[ "$old" = "$prefix" ] || rm -rf "$old"
done
log "built in $((SECONDS - start)) s: $prefix"
echo "$prefix"
