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
#   rust/logic/model/mod.rs (Layout::new) does;
#   an MSI-X capability with 1 + min(WQs, 63) vectors.
#
# Then QEMU quits, and the device must be removable.
#
# Then live migration (VFIO migration v2) between two QEMUs, each with one
# device, created the way managers do (the type's aggregator, then create);
# the vfio-pci devices have QEMU's default options, as libvirt, Nova and
# KubeVirt give them: QEMU must list no migration blocker for them (it
# blocks a device that can neither log its own DMA nor rely on the IOMMU's
# dirty tracking; dsa_mdev logs its DMA, VFIO_DEVICE_FEATURE_DMA_LOGGING_*),
# and migrates with the device's dirty page reports.  The source QEMU
# starts paused (-S), the target with -incoming defer; both set
# the return-path capability (so that the source learns whether the target
# could load the stream), the target listens with migrate-incoming on a
# unix socket (exit-on-error false: it stays up to report a failed load),
# the source runs migrate, and query-migrate on the source is polled until
# the migration ends.
#
#   a compatible pair, dsa-2dwq with aggregator 2 on dsa0 to the same on
#   dsa1: the migration completes; the target ends its incoming migration
#   paused (prelaunch, as the source was) with the device; after cont it
#   runs, with no failed device state change (the device applies the
#   stream on RESUMING -> STOP, on the way to RUNNING).
#
#   the seed's pair, dsa-1dwq with aggregator 30 on dsa0 to dsa-2dwq with
#   aggregator 15 on dsa1 (30 WQs each, not compatible): the migration
#   fails (the target's driver fails the data fd write with EINVAL); the
#   kernel log has "dsa_mdev <target>: migration refused: source is dsa-1dwq,
#   target is dsa-2dwq: recreate the target as dsa-1dwq with aggregator
#   30"; the source QEMU is still up, paused, with its device, and runs
#   after cont.
#
# In both, the QEMUs quit (status 0) and the devices must be removable.
# Skipped when qemu-system-x86_64 or python3 is missing (QEMU and PYTHON
# may name others).
#
#   qemu.sh [KO]   run as root; KO defaults to module/dsa_mdev.ko beside
#                  the script ($DSA_MDEV_KO overrides).
#
# DSA_MDEV_QEMU_TIMEOUT (seconds, default 120) bounds how long QEMU may take
# to start and answer; a QEMU that does not quit is killed.
# DSA_MDEV_MIGRATE_TIMEOUT (seconds, default 240) bounds a migration, from
# migrate to its end on the source (it runs under TCG).

set -u

here=$(cd "$(dirname "$0")" && pwd)
# ktap_helpers.sh beside the script (the Makefile copies it), else in
# the kselftest tree this one is installed in.
ktap=$here/ktap_helpers.sh
[ -r "$ktap" ] || ktap=$here/../../kselftest/ktap_helpers.sh
if [ ! -r "$ktap" ]; then
	echo "Bail out! ktap_helpers.sh not found (build with make)"
	exit 1
fi
# shellcheck source=/dev/null
. "$ktap"
# shellcheck source=lib.sh
. "$here/lib.sh"

KO=${1:-$(dsa_module_path "$here")}
CLASS=/sys/class/dsa
MDEV_DIR=/sys/bus/mdev/devices
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${DSA_MDEV_QEMU_TIMEOUT:-120}
MIG_TIMEOUT=${DSA_MDEV_MIGRATE_TIMEOUT:-240}
# The system's python3 first: a per-user one earlier on PATH (a pyenv shim)
# may not run in the test VM.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 python3 | head -n 1)}
# Two parents: a migration's source on dsa0, its target on dsa1.
PARENTS=2
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
# The migrations (check_migration), and their test points each.
MIGRATIONS=2
CASES_PER_MIGRATION=6
# The refusal of the seed's pair, as the target's driver logs it.
SEED_REFUSAL="migration refused: source is dsa-1dwq, target is dsa-2dwq:"
SEED_REFUSAL+=" recreate the target as dsa-1dwq with aggregator 30"
# Guest RAM of the migrated QEMUs: small, it is migrated too.
MIG_MEM=64

tmp=
qemu_pid=
qemu_status=
# The migration's QEMUs.
src_pid=
dst_pid=
# Results of reap_qemu, start_mig_qemu, create_device.
reaped=
started_pid=
new_uuid=
created=()

# --- What the driver reports, from the WQ count (model/mod.rs, Layout::new) ---

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

	# read, not $(cat): this is polled, and every fork costs under TCG.
	IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Waits up to $2 seconds for the QEMU of pid $1 to exit, then sends it
# SIGTERM, then SIGKILL, waiting as long after each.  Sets reaped to its
# exit status (empty if it could not be reaped: stuck in the kernel).
reap_qemu() {
	local pid=$1 grace=$2 sig i

	# Until QEMU is reaped, stderr goes: bash would report there a QEMU
	# killed by a signal ("Killed  qemu-system-x86_64 ...").
	exec 3>&2 2>/dev/null
	for sig in none TERM KILL; do
		if [ "$sig" != none ]; then
			log "QEMU (pid $pid) still running: SIG$sig"
			kill -s "$sig" "$pid"
		fi
		for ((i = 0; i < grace * 10; i++)); do
			alive "$pid" || break 2
			sleep 0.1
		done
	done
	if alive "$pid"; then
		exec 2>&3 3>&-
		log "QEMU (pid $pid) does not die"
		reaped=
		return 1
	fi
	wait "$pid"
	reaped=$?
	exec 2>&3 3>&-
}

# reap_qemu for the QEMU of qemu_pid, with grace $1; sets qemu_status, and
# clears qemu_pid once QEMU is gone.
stop_qemu() {
	[ -n "$qemu_pid" ] || return 0
	reap_qemu "$qemu_pid" "$1"
	qemu_status=$reaped
	[ -n "$qemu_status" ] || return 1
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

# Talks QMP with two QEMUs, the source (socket $1, pid $2) and the target
# (socket $3, pid $4, started with -incoming defer), each with the device
# of id $5: migrates the source to the target through URI $6 and reports
# what both say, one fact per line ("key value..."), on stdout:
#
#   src_start, dst_start            query-status before the migration
#   src_device, dst_device          the device's address in query-pci, or none
#   src_blocked                     query-migrate's blocked-reasons on the
#                                   source, as JSON ([] when none)
#   migration                       how it ended on the source: completed,
#                                   failed, cancelled, or timeout
#   migration_error                 the source's error-desc, if any
#   src_status, src_device_after    the source afterwards
#   dst_status, dst_migration       the target once its side has ended
#   dst_migration_error, dst_device_after
#   dst_cont or src_cont            query-status after cont, on the target
#                                   if the migration completed as $9 said
#                                   (completed), on the source if it failed
#                                   as $9 said (failed)
#   quit src, quit dst              quit was sent
#
# Errors go to stderr, with a non-zero status.  A wait for QEMU ends after
# $7 seconds, the wait for the migration after $8.
qmp_migrate() {
	"$PYTHON" - "$@" <<'EOF'
import json, socket, sys, time

(src_sock, src_pid, dst_sock, dst_pid, qdev_id, uri, timeout, mig_timeout,
 expect) = sys.argv[1:10]
timeout, mig_timeout = float(timeout), float(mig_timeout)
ENDED = ("completed", "failed", "cancelled")
errors = 0


def fact(key, value):
    print(f"{key} {value}", flush=True)


def error(msg):
    global errors
    errors += 1
    print(f"error: {msg}", file=sys.stderr, flush=True)


class Gone(Exception):
    """A QEMU that cannot be talked to (any more)."""


class Refused(Exception):
    """A QEMU answered a command with an error."""


class QMP:
    def __init__(self, name, path, pid):
        self.name, self.path, self.pid = name, path, int(pid)
        self.sock = self.rfile = None

    def alive(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def close(self):
        for f in (self.rfile, self.sock):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        self.sock = self.rfile = None

    def gone(self, why):
        self.close()
        if not self.alive():
            why += " (it exited)"
        return Gone(f"{self.name} QEMU: {why}")

    # QEMU creates the socket once it is up: retry until then, unless it
    # died.
    def connect(self):
        deadline = time.monotonic() + timeout
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                s.connect(self.path)
                break
            except OSError as e:
                if not self.alive() or time.monotonic() > deadline:
                    s.close()
                    raise self.gone(f"no QMP socket: {e}")
                time.sleep(0.2)
        self.sock, self.rfile = s, s.makefile("rb")
        if "QMP" not in self.receive():
            raise self.gone("no QMP greeting")
        self.execute("qmp_capabilities")

    def receive(self):
        try:
            self.sock.settimeout(timeout)
            line = self.rfile.readline()
        except socket.timeout:
            raise self.gone(f"no answer within {timeout:g} s")
        except OSError as e:
            raise self.gone(f"{type(e).__name__}: {e}")
        if not line:
            raise self.gone("closed the QMP connection")
        try:
            return json.loads(line)
        except ValueError as e:
            raise self.gone(f"not QMP: {e}")

    def execute(self, name, arguments=None):
        if not self.sock:
            raise Gone(f"{self.name} QEMU: not connected")
        msg = {"execute": name}
        if arguments is not None:
            msg["arguments"] = arguments
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(json.dumps(msg).encode() + b"\r\n")
        except OSError as e:
            raise self.gone(f"{name}: {type(e).__name__}: {e}")
        while True:
            r = self.receive()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise Refused(f"{self.name} QEMU: {name}: "
                              f"{r['error'].get('desc', r['error'])}")
            # Anything else is an asynchronous event: not ours.

    def status(self):
        return self.execute("query-status")["status"]

    def device(self):
        def devices(buses):
            for bus in buses:
                for d in bus.get("devices", []):
                    yield d
                    if "pci_bridge" in d:
                        yield from devices([d["pci_bridge"]])

        for d in devices(self.execute("query-pci")):
            if d.get("qdev_id") == qdev_id:
                return f"{d['bus']:02x}:{d['slot']:02x}.{d['function']}"
        return "none"


# Calls what() until done(its result) or for limit seconds; returns the
# last result and whether it was done.
def poll(what, done, limit):
    deadline = time.monotonic() + limit
    while True:
        r = what()
        if done(r) or time.monotonic() > deadline:
            return r, done(r)
        time.sleep(0.25)


src = QMP("source", src_sock, src_pid)
dst = QMP("target", dst_sock, dst_pid)
up = True
for key, q in (("src", src), ("dst", dst)):
    try:
        q.connect()
        fact(f"{key}_start", q.status())
        fact(f"{key}_device", q.device())
        if key == "src":
            fact("src_blocked",
                 json.dumps(q.execute("query-migrate").get("blocked-reasons", [])))
    except (Gone, Refused) as e:
        error(str(e))
        up = False

result = None
if up:
    try:
        caps = {"capabilities": [{"capability": "return-path", "state": True}]}
        dst.execute("migrate-set-capabilities", caps)
        src.execute("migrate-set-capabilities", caps)
        dst.execute("migrate-incoming", {"uri": uri, "exit-on-error": False})
        t0 = time.monotonic()
        src.execute("migrate", {"uri": uri})
        info, ended = poll(lambda: src.execute("query-migrate"),
                           lambda i: i.get("status") in ENDED, mig_timeout)
        result = info.get("status", "none")
        if not ended:
            error(f"the migration is still {result} after {mig_timeout:g} s:"
                  f" {json.dumps(info)}")
            result = "timeout"
            try:
                src.execute("migrate_cancel")
            except (Gone, Refused) as e:
                error(str(e))
        fact("migration", result)
        fact("migration_seconds", f"{time.monotonic() - t0:.1f}")
        if info.get("error-desc"):
            fact("migration_error", info["error-desc"])
    except (Gone, Refused) as e:
        error(str(e))

dst_status = None
if result is not None:
    try:
        # A migration that ended in its last stage leaves finish-migrate
        # just after query-migrate says so.
        st, _ = poll(src.status, lambda st: st != "finish-migrate",
                     min(timeout, 30))
        fact("src_status", st)
        fact("src_device_after", src.device())
    except (Gone, Refused) as e:
        error(str(e))
    try:
        # The target's side may end after the source's (not long after
        # a failure: the source learns of the target's on the return
        # path).  It leaves inmigrate before its migration status says
        # completed: ask in the other order.
        (info, dst_status), _ = poll(
            lambda: (dst.execute("query-migrate"), dst.status()),
            lambda r: r[0].get("status") in ENDED or r[1] != "inmigrate",
            timeout if result == "completed" else min(timeout, 30))
        fact("dst_status", dst_status)
        fact("dst_migration", info.get("status", "none"))
        if info.get("error-desc"):
            fact("dst_migration_error", info["error-desc"])
        fact("dst_device_after", dst.device())
    except (Gone, Refused) as e:
        error(str(e))

# cont where the guest should run on: on the target after a migration that
# completed (the device goes from RESUMING to RUNNING), on the source after
# one that failed.
cont = None
if result == expect == "completed" and dst_status not in (None, "inmigrate"):
    cont = ("dst", dst)
elif result == expect == "failed":
    cont = ("src", src)
if cont:
    key, q = cont
    try:
        q.execute("cont")
        st, _ = poll(q.status, lambda st: st == "running", timeout)
        fact(f"{key}_cont", st)
    except (Gone, Refused) as e:
        error(str(e))

for key, q in (("src", src), ("dst", dst)):
    if q.sock:
        try:
            q.sock.settimeout(timeout)
            q.sock.sendall(b'{"execute": "quit"}\r\n')
            fact("quit", key)
        except OSError as e:
            error(f"{q.name} QEMU: quit: {e}")
sys.exit(1 if errors else 0)
EOF
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

# --- Migration ----------------------------------------------------------

# Creates a dsa-$2dwq device with aggregator $3 on parent $1 the way
# managers do: the type's aggregator, then create (the type's aggregator
# goes back to 1 after).  Sets new_uuid (empty on failure).
create_device() {
	local type=$CLASS/$1/mdev_supported_types/dsa-$2dwq uuid ok=true

	new_uuid=
	uuid=$(cat /proc/sys/kernel/random/uuid)
	if ! echo "$3" >"$type/aggregator"; then
		log "$1: cannot set dsa-$2dwq/aggregator to $3"
		return 1
	fi
	if echo "$uuid" >"$type/create"; then
		created+=("$uuid")
		new_uuid=$uuid
		log "$1: dsa-$2dwq device $uuid, aggregator $3, WQs $(cat "$MDEV_DIR/$uuid/dsa/wq_ids")"
	else
		log "$1: cannot create a dsa-$2dwq device with aggregator $3"
		ok=false
	fi
	echo 1 >"$type/aggregator" || ok=false
	$ok
}

# Starts a QEMU paused (-S) with no guest, device $1 assigned with QEMU's
# default options (as managers assign it), QMP on socket $2, its output to
# $3, and the further arguments.  Sets started_pid.
start_mig_qemu() {
	local uuid=$1 sock=$2 qlog=$3

	shift 3
	rm -f "$sock"
	"$QEMU" -S -nodefaults -display none -machine q35 -accel tcg -m "$MIG_MEM" \
		-device "vfio-pci,sysfsdev=$MDEV_DIR/$uuid,id=$QDEV_ID" \
		-qmp "unix:$sock,server=on,wait=off" "$@" </dev/null >"$qlog" 2>&1 &
	started_pid=$!
}

# Removes devices $1 and $2; then they must be gone, and parents $3 and $4
# have all their WQs free again.
remove_pair() {
	local uuid parent free ok=true

	for uuid in "$1" "$2"; do
		if ! echo 1 >"$MDEV_DIR/$uuid/remove"; then
			log "remove $uuid failed"
			ok=false
			continue
		fi
		created=("${created[@]/$uuid/}")
		if [ -e "$MDEV_DIR/$uuid" ]; then
			log "$uuid is still there after its removal"
			ok=false
		fi
	done
	for parent in "$3" "$4"; do
		free=$(cat "$CLASS/$parent/free_wqs")
		if [ "$free" != "$WQS" ]; then
			log "after the removals: $parent: free_wqs $free, expected $WQS"
			ok=false
		fi
	done
	$ok
}

# The $1 QEMU (src or dst) listed the device when it started.
mig_has_device() {
	local name=source

	[ "$1" = dst ] && name=target
	log "$name QEMU: status ${fact[$1_start]-(no answer)}, device at ${fact[$1_device]-(no answer)}"
	if [ "${fact[$1_device]-none}" = none ]; then
		log "the $name QEMU does not list the device with id $QDEV_ID"
		return 1
	fi
}

mig_started() {
	local ok=true

	mig_has_device src || ok=false
	mig_has_device dst || ok=false
	$ok
}

# The source QEMU, with the device's default options, lists no migration
# blocker.
mig_not_blocked() {
	log "source QEMU: migration blocked by: ${fact[src_blocked]-(no answer)}"
	fact_is src_blocked "[]"
}

# The migration ended with status $1 on the source.
mig_ended() {
	log "migration: ${fact[migration]-(not run)} after ${fact[migration_seconds]-?} s${fact[migration_error]+: ${fact[migration_error]}}"
	[ -n "${fact[dst_migration]-}" ] &&
		log "the target's side: ${fact[dst_migration]}${fact[dst_migration_error]+: ${fact[dst_migration_error]}}"
	fact_is migration "$1"
}

# The migration completed, and the kernel log since sequence number $1 has
# no refusal.
mig_completed() {
	local refused

	mig_ended completed || return 1
	refused=$(kmsg_since "$1" | grep -F "migration refused")
	if [ -n "$refused" ]; then
		log "yet the kernel log has: $refused"
		return 1
	fi
}

# The target ended its side of the migration, not running (the source was
# paused), not in an error state, with the device.
mig_target_done() {
	local st=${fact[dst_status]-}

	log "target QEMU: status ${st:-(no answer)}, incoming migration ${fact[dst_migration]-?}, device at ${fact[dst_device_after]-?}"
	# It left inmigrate only if it loaded everything.
	case "$st" in
	prelaunch | paused) ;;
	*)
		log "expected the target paused (prelaunch or paused) after the migration"
		return 1
		;;
	esac
	case "${fact[dst_migration]-}" in
	failed | cancelling | cancelled)
		log "the target's incoming migration did not complete"
		return 1
		;;
	esac
	fact_is dst_device_after "${fact[dst_device]-none}"
}

# QEMU $1 (src or dst) runs after cont, and its log ($2) shows no failed
# device state change or device access (hw/vfio/migration.c, region.c,
# pci.c).
mig_runs() {
	local failed

	fact_is "$1_cont" running || return 1
	failed=$(grep -E 'Failed setting device|Failed resetting device|data_fd out of sync|vfio_[a-z_]+\(.*\) failed' "$2")
	if [ -n "$failed" ]; then
		log "QEMU failed a device state change or access: $failed"
		return 1
	fi
}

# The kernel log since sequence number $1 has the refusal line $2 for
# device $4 (of parent $3), which the driver logs on the device
# (dev_warn(): "dsa_mdev <uuid>: ...").
mig_refusal_logged() {
	local want="dsa_mdev $4: $2" logged

	if ! kmsg_since "$1" | grep -qF -- "$want"; then
		logged=$(kmsg_since "$1" | grep -E 'dsa|vfio|migrat' | tail -n 20)
		log "no kernel log line with '$want'; the driver logged: ${logged:-nothing}"
		return 1
	fi
}

# The source QEMU is up after the failed migration, paused as it was, with
# its device, and runs after cont (log $1).
mig_source_survives() {
	local st=${fact[src_status]-}

	log "source QEMU: status ${st:-(no answer)}, device at ${fact[src_device_after]-?}, after cont ${fact[src_cont]-(not run)}"
	case "$st" in
	prelaunch | paused) ;;
	*)
		log "expected the source paused (prelaunch or paused) after the failed migration"
		return 1
		;;
	esac
	fact_is src_device_after "${fact[src_device]-none}" || return 1
	mig_runs src "$1"
}

# Both QEMUs exited with status 0 (quit), and the devices can be removed.
mig_quit_and_remove() {
	local ok=true

	if [ "$src_exit" != 0 ] || [ "$dst_exit" != 0 ]; then
		log "QEMU exit status: source $src_exit, target $dst_exit"
		ok=false
	fi
	remove_pair "$@" || ok=false
	$ok
}

# Migrates a dsa-$2dwq device with aggregator $3 on parent $1 to a
# dsa-$5dwq device with aggregator $6 on parent $4, with QEMU.  Without
# $7, the migration must complete; with it, it must fail, and the target's
# driver must log $7.
check_migration() {
	local sp=$1 sb=$2 sa=$3 dp=$4 db=$5 da=$6 refusal=${7-}
	local label="migration $1/dsa-$2dwq x$3 -> $4/dsa-$5dwq x$6"
	local facts=$tmp/mig.facts slog=$tmp/mig-src.log dlog=$tmp/mig-dst.log
	local src_uuid='' dst_uuid='' src_exit='' dst_exit='' seq grace expect=completed ok=true i
	local -a descs

	[ -n "$refusal" ] && expect=failed
	descs=("$label: QEMU starts the source (-S) and the target (-incoming defer) with the devices"
		"$label: QEMU's default options: no migration blocker (the device logs its DMA)")
	if [ "$expect" = completed ]; then
		descs+=("$label: the migration completes (source: query-migrate)"
			"$label: the target ends its incoming migration paused, with the device"
			"$label: the target runs the migrated device (cont)")
	else
		descs+=("$label: the migration fails (source: query-migrate)"
			"$label: the kernel log names the refusal and the fix"
			"$label: the source QEMU survives with its device and runs on (cont)")
	fi
	descs+=("$label: both QEMUs quit and the devices can be removed")

	seq=$(kmsg_seq)
	if create_device "$sp" "$sb" "$sa"; then
		src_uuid=$new_uuid
		if create_device "$dp" "$db" "$da"; then
			dst_uuid=$new_uuid
		else
			ok=false
		fi
	else
		ok=false
	fi
	if ! $ok; then
		for ((i = 0; i < ${#descs[@]}; i++)); do
			ktap_test_fail "${descs[i]} (not run: no devices)"
		done
		for i in "$src_uuid" "$dst_uuid" "$new_uuid"; do
			[ -n "$i" ] && [ -e "$MDEV_DIR/$i" ] && echo 1 >"$MDEV_DIR/$i/remove"
		done
		return
	fi

	rm -f "$facts" "$tmp/mig.sock"
	start_mig_qemu "$src_uuid" "$tmp/src.sock" "$slog"
	src_pid=$started_pid
	start_mig_qemu "$dst_uuid" "$tmp/dst.sock" "$dlog" -incoming defer
	dst_pid=$started_pid
	qmp_migrate "$tmp/src.sock" "$src_pid" "$tmp/dst.sock" "$dst_pid" "$QDEV_ID" \
		"unix:$tmp/mig.sock" "$TIMEOUT" "$MIG_TIMEOUT" "$expect" \
		>"$facts" 2>"$tmp/qmp.err"
	[ -s "$tmp/qmp.err" ] && log "$(cat "$tmp/qmp.err")"

	# Only a QEMU that is gone has closed its device; removing the device
	# earlier would block until it does.
	grace=2
	grep -q '^quit src$' "$facts" && grace=10
	reap_qemu "$src_pid" "$grace"
	src_exit=$reaped
	[ -n "$src_exit" ] && src_pid=
	grace=2
	grep -q '^quit dst$' "$facts" && grace=10
	reap_qemu "$dst_pid" "$grace"
	dst_exit=$reaped
	[ -n "$dst_exit" ] && dst_pid=
	[ -s "$slog" ] && log "source QEMU says: $(cat "$slog")"
	[ -s "$dlog" ] && log "target QEMU says: $(cat "$dlog")"
	load_facts "$facts"

	point "${descs[0]}" mig_started
	point "${descs[1]}" mig_not_blocked
	if [ "$expect" = completed ]; then
		point "${descs[2]}" mig_completed "$seq"
		point "${descs[3]}" mig_target_done
		point "${descs[4]}" mig_runs dst "$dlog"
	else
		point "${descs[2]}" mig_ended failed
		point "${descs[3]}" mig_refusal_logged "$seq" "$refusal" "$dp" "$dst_uuid"
		point "${descs[4]}" mig_source_survives "$slog"
	fi
	if [ -z "$src_exit" ] || [ -z "$dst_exit" ]; then
		# Still holding a device: removing it would block.
		ktap_test_fail "${descs[5]} (a QEMU is stuck)"
	else
		point "${descs[5]}" mig_quit_and_remove "$src_uuid" "$dst_uuid" "$sp" "$dp"
	fi
}

cleanup() {
	local uuid

	if [ -n "$qemu_pid" ]; then
		stop_qemu 2
	fi
	if [ -n "$src_pid" ] && reap_qemu "$src_pid" 2; then
		src_pid=
	fi
	if [ -n "$dst_pid" ] && reap_qemu "$dst_pid" 2; then
		dst_pid=
	fi
	# Leave nothing behind, unless a QEMU still holds a device: removing
	# it would block.
	if [ -z "$qemu_pid$src_pid$dst_pid" ]; then
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
[ -n "$KO" ] || ktap_exit_fail_msg "dsa_mdev.ko not found: not in $here/module, not in \$DSA_MDEV_KO, not known to modinfo"
if ! command -v "$QEMU" >/dev/null; then
	ktap_skip_all "$QEMU is not installed"
	exit "$KSFT_SKIP"
fi
if [ -z "$PYTHON" ]; then
	ktap_skip_all "python3 (the QMP client) is not installed"
	exit "$KSFT_SKIP"
fi
[ -r "$KO" ] || ktap_exit_fail_msg "$KO is not readable"
if ! dsa_mdev_core; then
	ktap_skip_all "no mdev core: modprobe mdev failed (CONFIG_VFIO_MDEV, see config)"
	exit "$KSFT_SKIP"
fi
[ -e /dev/vfio/vfio ] || ktap_exit_fail_msg "/dev/vfio/vfio missing: QEMU needs the VFIO container"
if dsa_module_loaded; then
	rmmod "$DSA_MOD" || ktap_exit_fail_msg "a stale $DSA_MOD could not be unloaded"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dsa_mdev_qemu.XXXXXX") ||
	ktap_exit_fail_msg "cannot create a temporary directory"
trap cleanup EXIT

ktap_set_plan $((${#DEVICES[@]} * CASES_PER_DEVICE + MIGRATIONS * CASES_PER_MIGRATION + 1))
log "$("$QEMU" --version | head -n 1)"

if out=$(insmod "$KO" parents=$PARENTS wqs=$WQS 2>&1); then
	for d in "${DEVICES[@]}"; do
		read -r label aggregator <<<"$d"
		check_device "$label" "$aggregator"
	done
	# A compatible pair: the same type and aggregator on both sides.
	check_migration dsa0 2 2 dsa1 2 2
	# The seed's pair: 30 WQs each, not compatible.
	check_migration dsa0 1 30 dsa1 2 15 "$SEED_REFUSAL"
else
	log "insmod $KO parents=$PARENTS wqs=$WQS: $out"
	for d in "${DEVICES[@]}"; do
		for ((i = 0; i < CASES_PER_DEVICE; i++)); do
			ktap_test_fail "${d%% *}: not run: the module did not load"
		done
	done
	for ((i = 0; i < MIGRATIONS * CASES_PER_MIGRATION; i++)); do
		ktap_test_fail "migration: not run: the module did not load"
	done
fi

point "the module unloads" unload
ktap_finished
