#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck source-path=SCRIPTDIR
#
# dsa_mdev devices as QEMU sees them.  For a dsa-2dwq device (2 WQs) and a
# dsa-2dwq device with aggregator 2 (4 WQs), starts QEMU paused, with no
# guest OS, and the device assigned with vfio-pci (through its group, QEMU's
# default), then asks QEMU over QMP what the guest would see: query-pci for
# the IDs, the class and the BARs, and the configuration space (read with
# the HMP commands o/i on the 0xcf8/0xcfc ports, QMP has no command for it)
# for the MSI-X capability.  Expected:
#
#   vendor 0x1b36, device 0x10d5, class 0x088000;
#   BAR0 and BAR2 64-bit memory BARs of the sizes the driver reports with
#   VFIO_DEVICE_GET_REGION_INFO, computed here from the WQ count as
#   rust/logic/model.rs (Layout::new) does;
#   an MSI-X capability with 1 + min(WQs, 63) vectors.
#
# Then QEMU quits, and the device must be removable.  Skipped when
# qemu-system-x86_64 or python3 is missing (QEMU and PYTHON may name others).
#
#   qemu.sh [KO]        KO defaults to $DSA_MDEV_KO; run as root.
#
# DSA_MDEV_QEMU_TIMEOUT (seconds, default 120) bounds how long QEMU may take
# to start and answer; a QEMU that does not quit is killed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
ktap=$here/ktap_helpers.sh
if [ ! -r "$ktap" ] && [ -n "${KSRC:-}" ]; then
	ktap=$KSRC/tools/testing/selftests/kselftest/ktap_helpers.sh
fi
if [ ! -r "$ktap" ]; then
	echo "Bail out! ktap_helpers.sh not found (build with make, or set KSRC)"
	exit 1
fi
# shellcheck source=/dev/null
. "$ktap"
# shellcheck source=lib.sh
. "$here/lib.sh"

KO=${1:-${DSA_MDEV_KO:-}}
CLASS=/sys/class/dsa
MDEV_DIR=/sys/bus/mdev/devices
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${DSA_MDEV_QEMU_TIMEOUT:-120}
# The system's python3 first: a per-user one earlier on PATH (a pyenv shim)
# may not run in the test VM.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 python3 | head -n 1)}
WQS=64
BASE=2
# QEMU's name for the assigned device, to find it in query-pci.
QDEV_ID=dsa

# Label, aggregator: the devices to check, all of type dsa-${BASE}dwq.
DEVICES=(
	"dsa-2dwq 1"
	"dsa-2dwq-x2 2"
)
CASES_PER_DEVICE=7

tmp=
qemu_pid=
qemu_status=
created=()

log() {
	local line

	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

# --- What the driver reports, from the WQ count (model.rs, Layout::new) ---

next_pow2() {
	local p=1

	while [ "$p" -lt "$1" ]; do
		p=$((p * 2))
	done
	echo "$p"
}

# BAR0: the registers, the WQCFG table at 0x1000 (64 bytes per WQ), then
# the MSI-X table and PBA in the next 4 KiB page; a power of two.
bar0_size() {
	local wqcfg_end=$((0x1000 + $1 * 64)) table

	table=$(((wqcfg_end + 0xfff) / 0x1000 * 0x1000))
	next_pow2 $((table + 0x1000))
}

# BAR2: four 4 KiB portal pages per WQ; a power of two.
bar2_size() {
	next_pow2 $(($1 * 4 * 4096))
}

# Vector 0 for the device, one per WQ after it, 64 at most.
msix_vectors() {
	local wqs=$1

	[ "$wqs" -gt 63 ] && wqs=63
	echo $((1 + wqs))
}

# --- QEMU ---------------------------------------------------------------

# Whether process $1 exists and is not a zombie.
alive() {
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Waits up to $1 seconds for QEMU to exit, then sends it SIGTERM, then
# SIGKILL, waiting as long after each.  Sets qemu_status to its exit status
# (empty if it could not be reaped: stuck in the kernel).
stop_qemu() {
	local grace=$1 sig i

	[ -n "$qemu_pid" ] || return 0
	# Until QEMU is reaped, stderr goes: bash would report there a QEMU
	# killed by a signal ("Killed  qemu-system-x86_64 ...").
	exec 3>&2 2>/dev/null
	for sig in none TERM KILL; do
		if [ "$sig" != none ]; then
			log "QEMU still running: SIG$sig"
			kill -s "$sig" "$qemu_pid"
		fi
		for ((i = 0; i < grace * 10; i++)); do
			alive "$qemu_pid" || break 2
			sleep 0.1
		done
	done
	if alive "$qemu_pid"; then
		exec 2>&3 3>&-
		log "QEMU (pid $qemu_pid) does not die"
		qemu_status=
		return 1
	fi
	wait "$qemu_pid"
	qemu_status=$?
	exec 2>&3 3>&-
	qemu_pid=
}

# Talks QMP on socket $1 with the QEMU of pid $2: finds the device with id
# $3 in query-pci, reads its configuration space, and asks QEMU to quit.
# Prints what it found, one fact per line ("key value..."); errors go to
# stderr, with a non-zero status.  Every wait ends after $4 seconds.
qmp_facts() {
	"$PYTHON" - "$@" <<'EOF'
import json, os, re, socket, sys, time

sock_path, pid, qdev_id, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline = time.monotonic() + timeout


def fail(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(1)


def qemu_alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def left():
    t = deadline - time.monotonic()
    if t <= 0:
        fail(f"QEMU did not answer within {timeout:g} s")
    return t


# QEMU creates the socket once it is up: retry until then, unless it died.
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
while True:
    try:
        s.connect(sock_path)
        break
    except OSError as e:
        if not qemu_alive():
            fail("QEMU exited before opening its QMP socket")
        if time.monotonic() > deadline:
            fail(f"no QMP socket after {timeout:g} s: {e}")
        time.sleep(0.2)
rfile = s.makefile("rb")


def receive():
    s.settimeout(left())
    line = rfile.readline()
    if not line:
        fail("QEMU closed the QMP connection")
    return json.loads(line)


def execute(name, arguments=None):
    msg = {"execute": name}
    if arguments:
        msg["arguments"] = arguments
    s.settimeout(left())
    s.sendall(json.dumps(msg).encode() + b"\r\n")
    while True:
        r = receive()
        if "return" in r:
            return r["return"]
        if "error" in r:
            fail(f"{name}: {r['error'].get('desc', r['error'])}")
        # Anything else is an asynchronous event: not ours.


def hmp(line):
    return execute("human-monitor-command", {"command-line": line})


def devices(buses):
    for bus in buses:
        for d in bus.get("devices", []):
            yield d
            if "pci_bridge" in d:
                yield from devices([d["pci_bridge"]])


try:
    if "QMP" not in receive():
        fail("no QMP greeting")
    execute("qmp_capabilities")

    dev = [d for d in devices(execute("query-pci")) if d.get("qdev_id") == qdev_id]
    if len(dev) != 1:
        fail(f"query-pci lists {len(dev)} devices with id {qdev_id}")
    d = dev[0]
    bus, slot, fn = d["bus"], d["slot"], d["function"]
    print(f"address {bus:02x}:{slot:02x}.{fn}")
    print(f"id 0x{d['id']['vendor']:04x} 0x{d['id']['device']:04x}")
    print(f"class 0x{d['class_info']['class']:04x}")
    for r in d["regions"]:
        print(f"bar{r['bar']} {r['type']} mem64={int(r.get('mem_type_64', False))}"
              f" prefetch={int(r.get('prefetch', False))} size={r['size']}")

    # The configuration space as the guest reads it: PCI configuration
    # mechanism #1, address to port 0xcf8, data from port 0xcfc.
    def config(offset):
        addr = 0x80000000 | bus << 16 | slot << 11 | fn << 8 | (offset & 0xfc)
        out = hmp(f"o /w 0xcf8 {addr:#x}")
        if out.strip():
            fail(f"HMP o: {out.strip()}")
        out = hmp("i /w 0xcfc")
        m = re.search(r"=\s*(?:0x)?([0-9a-fA-F]+)", out)
        if not m:
            fail(f"HMP i: {out.strip()}")
        return int(m.group(1), 16)

    print(f"config_class_rev 0x{config(0x08):08x}")
    caps = []
    if config(0x04) >> 16 & 0x10:       # PCI_STATUS_CAP_LIST
        ptr = config(0x34) & 0xfc
        while ptr and len(caps) < 48:
            v = config(ptr)
            caps.append(f"0x{v & 0xff:02x}@0x{ptr:02x}")
            if v & 0xff == 0x11:         # PCI_CAP_ID_MSIX
                table, pba = config(ptr + 4), config(ptr + 8)
                print(f"msix at=0x{ptr:02x} vectors={(v >> 16 & 0x7ff) + 1}"
                      f" table=bar{table & 7}+0x{table & ~7:x} pba=bar{pba & 7}+0x{pba & ~7:x}")
            ptr = v >> 8 & 0xfc
    print("caps " + (" ".join(caps) or "none"))

    s.settimeout(left())
    s.sendall(b'{"execute": "quit"}\r\n')
    print("quit requested")
except TimeoutError:
    fail(f"QEMU did not answer within {timeout:g} s")
except (OSError, ValueError, KeyError) as e:
    fail(f"{type(e).__name__}: {e}")
EOF
}

# Starts QEMU with device $1 and collects its facts into $2; QEMU's output
# goes to $3.  Returns whether the facts are complete.
run_qemu() {
	local uuid=$1 facts=$2 qlog=$3 sock=$tmp/qmp.sock status

	rm -f "$sock"
	# Paused (-S) with no guest: QEMU realizes the device, which is what
	# this test looks at, and needs no kernel or disk.
	"$QEMU" -S -nodefaults -display none -machine q35 -accel tcg -m 128 \
		-device "vfio-pci,sysfsdev=$MDEV_DIR/$uuid,id=$QDEV_ID" \
		-qmp "unix:$sock,server=on,wait=off" </dev/null >"$qlog" 2>&1 &
	qemu_pid=$!

	qmp_facts "$sock" "$qemu_pid" "$QDEV_ID" "$TIMEOUT" >"$facts" 2>"$tmp/qmp.err"
	status=$?
	[ -s "$tmp/qmp.err" ] && log "$(cat "$tmp/qmp.err")"
	[ -s "$qlog" ] && log "QEMU says: $(cat "$qlog")"
	[ "$status" -eq 0 ] && grep -q '^quit requested$' "$facts"
}

# --- Checks on the facts ------------------------------------------------

declare -A fact

# Reads the facts file $1 into fact[key]="value...".
load_facts() {
	local key rest

	fact=()
	while read -r key rest; do
		fact[$key]=$rest
	done <"$1"
}

# fact[$1] is exactly $2.
fact_is() {
	if [ "${fact[$1]-}" != "$2" ]; then
		log "$1: expected '$2', QEMU shows '${fact[$1]-(nothing)}'"
		return 1
	fi
}

check_ids() {
	fact_is id "0x1b36 0x10d5"
}

check_class() {
	local class_rev=${fact[config_class_rev]-}

	# query-pci shows the base class and the subclass; the configuration
	# space has the programming interface too, above the revision.
	fact_is class 0x0880 || return 1
	if [ -z "$class_rev" ] || [ $((class_rev >> 8)) -ne $((0x088000)) ]; then
		log "config space class/revision: expected 0x088000xx, QEMU shows '${class_rev:-(nothing)}'"
		return 1
	fi
}

# BAR $1 is a 64-bit memory BAR of $2 bytes.
check_bar() {
	local want="memory mem64=1 prefetch=" got=${fact[bar$1]-}

	if [ "${got#"$want"}" = "$got" ] || [ "${got##* size=}" != "$2" ]; then
		log "BAR$1: expected a 64-bit memory BAR of $2 bytes, QEMU shows '${got:-(nothing)}'"
		return 1
	fi
	log "BAR$1: $got"
}

# An MSI-X capability with $1 vectors.
check_msix() {
	local got=${fact[msix]-}

	log "capabilities (id@offset): ${fact[caps]-(none)}"
	if [ -z "$got" ]; then
		log "no MSI-X capability in the configuration space"
		return 1
	fi
	log "MSI-X: $got"
	case " $got " in
	*" vectors=$1 "*) ;;
	*)
		log "expected $1 MSI-X vectors"
		return 1
		;;
	esac
}

# --- Devices ------------------------------------------------------------

# Removes device $1; it must then be gone and its WQs free again.
remove_device() {
	local uuid=$1 free

	if ! echo 1 >"$MDEV_DIR/$uuid/remove"; then
		log "remove $uuid failed"
		return 1
	fi
	created=("${created[@]/$uuid/}")
	free=$(cat "$CLASS/dsa0/free_wqs")
	if [ -e "$MDEV_DIR/$uuid" ] || [ "$free" != "$WQS" ]; then
		log "after removing $uuid: free_wqs $free, expected $WQS"
		return 1
	fi
}

# QEMU (gone) exited cleanly, and device $1 can be removed.  The device is
# removed in any case: the next one's accounting starts from none.
quit_and_remove() {
	local ok=true

	if [ "$qemu_status" != 0 ]; then
		log "QEMU exited with status $qemu_status"
		ok=false
	fi
	remove_device "$1" || ok=false
	$ok
}

unload() {
	rmmod "$DSA_MOD" && ! dsa_module_loaded
}

# Runs one test point: "$2..." decides, $1 describes.
point() {
	local desc=$1
	shift

	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

# The checks for one device: label $1, aggregator $2.
check_device() {
	local label=$1 aggregator=$2 uuid wqs facts=$tmp/facts.$1 qlog=$tmp/qemu.$1.log
	local ok=true

	uuid=$(cat /proc/sys/kernel/random/uuid)
	wqs=$((BASE * aggregator))
	if ! echo "$uuid" >"$CLASS/dsa0/mdev_supported_types/dsa-${BASE}dwq/create"; then
		log "$label: cannot create a dsa-${BASE}dwq device"
		ok=false
	else
		created+=("$uuid")
		if [ "$aggregator" != 1 ] &&
			! echo "$aggregator" >"$MDEV_DIR/$uuid/dsa/aggregator"; then
			log "$label: cannot set the aggregator to $aggregator"
			ok=false
		fi
	fi
	log "$label: device $uuid, $wqs WQs"

	if $ok && run_qemu "$uuid" "$facts" "$qlog"; then
		load_facts "$facts"
		ktap_test_pass "$label: QEMU starts with the device and lists it at ${fact[address]-?}"
	else
		fact=()
		ktap_test_fail "$label: QEMU starts with the device and lists it"
	fi
	point "$label: vendor 0x1b36, device 0x10d5" check_ids
	point "$label: class 0x088000" check_class
	point "$label: BAR0 is a 64-bit memory BAR of $(bar0_size "$wqs") bytes" \
		check_bar 0 "$(bar0_size "$wqs")"
	point "$label: BAR2 is a 64-bit memory BAR of $(bar2_size "$wqs") bytes" \
		check_bar 2 "$(bar2_size "$wqs")"
	point "$label: MSI-X capability with $(msix_vectors "$wqs") vectors" \
		check_msix "$(msix_vectors "$wqs")"

	# QEMU was asked to quit (unless talking to it failed): give it a
	# moment, then make it.  Only a QEMU that is gone has closed the
	# device; removing the device earlier would block until it does.
	if [ -n "$qemu_pid" ]; then
		if grep -q '^quit requested$' "$facts" 2>/dev/null; then
			stop_qemu 10
		else
			stop_qemu 2
		fi
	else
		qemu_status=none
	fi
	if [ -z "$qemu_status" ]; then
		# Still holding the device: removing it would block.
		ktap_test_fail "$label: QEMU quits and the device can be removed (QEMU is stuck)"
	elif ! $ok; then
		[ -e "$MDEV_DIR/$uuid" ] && remove_device "$uuid"
		ktap_test_fail "$label: QEMU quits and the device can be removed (not run)"
	else
		point "$label: QEMU quits and the device can be removed" quit_and_remove "$uuid"
	fi
}

cleanup() {
	local uuid

	if [ -n "$qemu_pid" ]; then
		stop_qemu 2
	fi
	# Leave nothing behind, unless QEMU still holds a device: removing it
	# would block.
	if [ -z "$qemu_pid" ]; then
		for uuid in "${created[@]}"; do
			[ -n "$uuid" ] && [ -e "$MDEV_DIR/$uuid" ] && echo 1 >"$MDEV_DIR/$uuid/remove"
		done
		dsa_module_loaded && rmmod "$DSA_MOD"
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}

ktap_print_header
if [ "$(id -u)" != 0 ]; then
	ktap_skip_all "must run as root"
	exit "$KSFT_SKIP"
fi
if [ -z "$KO" ]; then
	ktap_skip_all "set DSA_MDEV_KO (or pass it) to the path of dsa_mdev.ko"
	exit "$KSFT_SKIP"
fi
if ! command -v "$QEMU" >/dev/null; then
	ktap_skip_all "$QEMU is not installed"
	exit "$KSFT_SKIP"
fi
if [ -z "$PYTHON" ]; then
	ktap_skip_all "python3 (the QMP client) is not installed"
	exit "$KSFT_SKIP"
fi
[ -r "$KO" ] || ktap_exit_fail_msg "$KO is not readable"
[ -d /sys/bus/mdev ] || ktap_exit_fail_msg "mdev core not loaded (modprobe mdev)"
[ -e /dev/vfio/vfio ] || ktap_exit_fail_msg "/dev/vfio/vfio missing: QEMU needs the VFIO container"
if dsa_module_loaded; then
	rmmod "$DSA_MOD" || ktap_exit_fail_msg "a stale $DSA_MOD could not be unloaded"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dsa_mdev_qemu.XXXXXX") ||
	ktap_exit_fail_msg "cannot create a temporary directory"
trap cleanup EXIT

ktap_set_plan $((${#DEVICES[@]} * CASES_PER_DEVICE + 1))
log "$("$QEMU" --version | head -n 1)"

if out=$(insmod "$KO" parents=1 wqs=$WQS 2>&1); then
	for d in "${DEVICES[@]}"; do
		read -r label aggregator <<<"$d"
		check_device "$label" "$aggregator"
	done
else
	log "insmod $KO parents=1 wqs=$WQS: $out"
	for d in "${DEVICES[@]}"; do
		for ((i = 0; i < CASES_PER_DEVICE; i++)); do
			ktap_test_fail "${d%% *}: not run: the module did not load"
		done
	done
fi

point "the module unloads" unload
ktap_finished
