#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""dsa_mdev devices as QEMU sees them.

For a dsa-2dwq device (2 WQs) and a dsa-2dwq device with aggregator 2 (4
WQs), starts QEMU paused, with no guest OS, and the device assigned with
vfio-pci (through its group, QEMU's default), then asks QEMU over QMP what
the guest would see: query-pci for the IDs, the class and the BARs, and the
configuration space (read with the HMP commands o/i on the 0xcf8/0xcfc
ports, QMP has no command for it) for the MSI-X capability.  Expected:

  vendor 0x1b36, device 0x10d5, class 0x088000;
  BAR0 and BAR2 64-bit memory BARs of the sizes the driver reports with
  VFIO_DEVICE_GET_REGION_INFO;
  an MSI-X capability with as many vectors as the driver reports with
  VFIO_DEVICE_GET_IRQ_INFO for VFIO_PCI_MSIX_IRQ_INDEX.

(dsa_mdev_vfio_info beside this program asks the driver, before QEMU
opens the device.)  Then QEMU quits, and the device must be removable.

Then live migration (VFIO migration v2) between two QEMUs, each with one
device, created the way managers do (the type's aggregator, then create);
the vfio-pci devices have QEMU's default options, as libvirt, Nova and
KubeVirt give them: QEMU must list no migration blocker for them (it blocks
a device that can neither log its own DMA nor rely on the IOMMU's dirty
tracking; dsa_mdev logs its DMA, VFIO_DEVICE_FEATURE_DMA_LOGGING_*), and
migrates with the device's dirty page reports.  The source QEMU starts
paused (-S), the target with -incoming defer; both set the return-path
capability (so that the source learns whether the target could load the
stream), the target listens with migrate-incoming on a unix socket
(exit-on-error false: it stays up to report a failed load), the source runs
migrate, and query-migrate on the source is polled until the migration
ends.

  a compatible pair, dsa-2dwq with aggregator 2 on dsa0 to the same on
  dsa1: the migration completes; the target ends its incoming migration
  paused (prelaunch, as the source was) with the device; after cont it
  runs, with no failed device state change (the device applies the stream
  on RESUMING -> STOP, on the way to RUNNING).

  the seed's pair, dsa-1dwq with aggregator 30 on dsa0 to dsa-2dwq with
  aggregator 15 on dsa1 (30 WQs each, not compatible): the migration fails
  (the target's driver fails the data fd write with EINVAL); the kernel log
  has "dsa_mdev <target>: migration refused: source is dsa-1dwq, target is
  dsa-2dwq: recreate the target as dsa-1dwq with aggregator 30"; the source
  QEMU is still up, paused, with its device, and runs after cont.

In both, the QEMUs quit (status 0) and the devices must be removable.
Skipped when qemu-system-x86_64 is missing (QEMU may name another).

  qemu.py [KO]   run as root; KO defaults to module/dsa_mdev.ko beside the
                 program ($DSA_MDEV_KO overrides), as dsa_mdev_ko prints.

DSA_MDEV_QEMU_TIMEOUT (seconds, default 120) bounds how long QEMU may take
to start and answer; a QEMU that does not quit is killed.
DSA_MDEV_MIGRATE_TIMEOUT (seconds, default 240) bounds a migration, from
migrate to its end on the source (it runs under TCG).

QMP goes through qmp.py beside this program, the client scripts/guest-vm.py
uses too; KTAP through the kernel's kselftest/ksft.py, which the Makefile
copies beside it (else the one of the kselftest tree this program is
installed in).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, here)
sys.path.append(os.path.join(here, "..", "..", "kselftest"))
try:
    import ksft
except ImportError:
    print("Bail out! ksft.py not found (build with make)")
    sys.exit(1)
import qmp  # noqa: E402

CLASS = "/sys/class/dsa"
MDEV_DIR = "/sys/bus/mdev/devices"
DSA_MOD = "dsa_mdev"
QEMU = os.environ.get("QEMU") or "qemu-system-x86_64"
TIMEOUT = float(os.environ.get("DSA_MDEV_QEMU_TIMEOUT") or 120)
MIG_TIMEOUT = float(os.environ.get("DSA_MDEV_MIGRATE_TIMEOUT") or 240)
# Two parents: a migration's source on dsa0, its target on dsa1.
PARENTS = 2
WQS = 64
BASE = 2
# QEMU's name for the assigned device, to find it in query-pci.
QDEV_ID = "dsa"
# Label, aggregator: the devices to check, all of type dsa-{BASE}dwq.
DEVICES = [("dsa-2dwq", 1), ("dsa-2dwq-x2", 2)]
CASES_PER_DEVICE = 7
# The migrations (check_migration), and their test points each.
MIGRATIONS = 2
CASES_PER_MIGRATION = 6
# The refusal of the seed's pair, as the target's driver logs it.
SEED_REFUSAL = ("migration refused: source is dsa-1dwq, target is dsa-2dwq:"
                " recreate the target as dsa-1dwq with aggregator 30")
# Guest RAM of the migrated QEMUs: small, it is migrated too.
MIG_MEM = 64
# The VFIO region and interrupt indexes of linux/vfio.h.
VFIO_PCI_BAR0_REGION_INDEX = 0
VFIO_PCI_BAR2_REGION_INDEX = 2
VFIO_PCI_MSIX_IRQ_INDEX = 2
# A failed device state change or device access in QEMU's log
# (hw/vfio/migration.c, region.c, pci.c).
QEMU_DEVICE_FAILED = re.compile(r"Failed setting device|Failed resetting device"
                                r"|data_fd out of sync|vfio_[a-z_]+\(.*\) failed")
ENDED = ("completed", "failed", "cancelled")

tmp = None
# The QEMUs not reaped yet, and the devices not removed yet.
running = []
created = []


def log(msg):
    """Each line of msg as a KTAP diagnostic."""
    for line in str(msg).split("\n"):
        ksft.print_msg(line)


def read(path):
    with open(path) as f:
        return f.read().strip()


def write(path, value):
    """Writes value to a sysfs file; the error, or None."""
    try:
        with open(path, "w") as f:
            f.write(f"{value}\n")
        return None
    except OSError as e:
        return e.strerror or str(e)


def new_uuid():
    return read("/proc/sys/kernel/random/uuid")


def module_loaded():
    return os.path.exists(f"/sys/module/{DSA_MOD}")


def run(*cmd):
    """Runs cmd; its exit status and its output (stdout, then stderr)."""
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def unload():
    rc, out = run("rmmod", DSA_MOD)
    if rc and out:
        log(out)
    return rc == 0 and not module_loaded()


def module_path():
    """dsa_mdev.ko to load: what dsa_mdev_ko beside this program prints, so
    that this program loads the module the C tests load."""
    try:
        r = subprocess.run([os.path.join(here, "dsa_mdev_ko")], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def mdev_core():
    """The mdev core, a module wherever VFIO_MDEV=m (as in config)."""
    if not os.path.isdir("/sys/bus/mdev"):
        subprocess.run(["modprobe", "-q", "mdev"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.isdir("/sys/bus/mdev")


# --- The kernel log -------------------------------------------------------

def kmsg_records():
    """Every record in the kernel log as (sequence number, level, message).
    DSA_MDEV_KMSG may name a file in /dev/kmsg's format instead (a saved
    log).  Once the ring buffer is full, a record logged during the read
    evicts the oldest, and a reader that has not passed it gets EPIPE: the
    read is then done again, from a fresh open (at most 10 times)."""
    saved = os.environ.get("DSA_MDEV_KMSG")
    if saved:
        with open(saved, errors="replace") as f:
            raw = f.read().split("\n")
    else:
        for _ in range(10):
            raw = []
            fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            try:
                while True:
                    raw.extend(os.read(fd, 65536).decode(errors="replace").split("\n"))
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            finally:
                os.close(fd)
    records = []
    for line in raw:
        m = re.match(r"(\d+),(\d+),[^;]*;(.*)", line)
        if m:
            records.append((int(m.group(2)), int(m.group(1)) % 8, m.group(3)))
    return records


def kmsg_seq():
    """The sequence number of the newest record (0 if none is readable)."""
    records = kmsg_records()
    return records[-1][0] if records else 0


def kmsg_since(seq):
    """The records newer than sequence number seq, as "LEVEL MESSAGE"
    (LEVEL 3 is pr_err, 4 is pr_warn)."""
    return [f"{level} {msg}" for s, level, msg in kmsg_records() if s > seq]


# --- QEMU -----------------------------------------------------------------

def start_qemu(uuid, sock, qlog, mem, *extra):
    """Starts QEMU paused (-S) with no guest, device uuid assigned with
    QEMU's default options, QMP on socket sock, its output to qlog, and
    extra arguments; its Popen."""
    if os.path.exists(sock):
        os.unlink(sock)
    with open(qlog, "wb") as out:
        p = subprocess.Popen(
            [QEMU, "-S", "-nodefaults", "-display", "none", "-machine", "q35",
             "-accel", "tcg", "-m", str(mem),
             "-device", f"vfio-pci,sysfsdev={MDEV_DIR}/{uuid},id={QDEV_ID}",
             "-qmp", f"unix:{sock},server=on,wait=off", *extra],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    running.append(p)
    return p


def client(p, sock, name, deadline=None):
    return qmp.QMP(sock, name, TIMEOUT, alive=lambda: p.poll() is None, deadline=deadline)


def reap(p, grace):
    """Waits up to grace seconds for QEMU p to exit, then sends it SIGTERM,
    then SIGKILL, waiting as long after each.  Its exit status as the shell
    gives it (128 + a signal that killed it), or None if it could not be
    reaped (stuck in the kernel)."""
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig:
            log(f"QEMU (pid {p.pid}) still running: {sig.name}")
            p.send_signal(sig)
        try:
            rc = p.wait(grace)
            running.remove(p)
            return 128 - rc if rc < 0 else rc
        except subprocess.TimeoutExpired:
            pass
    log(f"QEMU (pid {p.pid}) does not die")
    return None


def qemu_says(who, qlog):
    try:
        text = read(qlog)
    except OSError:
        return
    if text:
        log(f"{who} says: {text}")


def qemu_facts(p, sock):
    """Talks QMP with QEMU p: finds the device in query-pci, reads its
    configuration space, and asks QEMU to quit.  What it found, one fact
    per key ("address", "id", "class", "bar0", "config_class_rev", "msix",
    "caps"), whether the facts are complete and whether quit was sent.
    The whole conversation ends after TIMEOUT seconds."""
    facts = {}
    q = client(p, sock, "QEMU", time.monotonic() + TIMEOUT)
    try:
        q.connect()
        dev = [d for d in q.pci_devices() if d.get("qdev_id") == QDEV_ID]
        if len(dev) != 1:
            raise qmp.Error(f"query-pci lists {len(dev)} devices with id {QDEV_ID}")
        d = dev[0]
        bus, slot, fn = d["bus"], d["slot"], d["function"]
        facts["address"] = f"{bus:02x}:{slot:02x}.{fn}"
        facts["id"] = f"0x{d['id']['vendor']:04x} 0x{d['id']['device']:04x}"
        facts["class"] = f"0x{d['class_info']['class']:04x}"
        for r in d["regions"]:
            facts[f"bar{r['bar']}"] = (f"{r['type']} mem64={int(r.get('mem_type_64', False))}"
                                       f" prefetch={int(r.get('prefetch', False))}"
                                       f" size={r['size']}")

        # The configuration space as the guest reads it: PCI configuration
        # mechanism #1, address to port 0xcf8, data from port 0xcfc.
        def config(offset):
            addr = 0x80000000 | bus << 16 | slot << 11 | fn << 8 | (offset & 0xfc)
            out = q.hmp(f"o /w 0xcf8 {addr:#x}")
            if out.strip():
                raise qmp.Error(f"HMP o: {out.strip()}")
            out = q.hmp("i /w 0xcfc")
            m = re.search(r"=\s*(?:0x)?([0-9a-fA-F]+)", out)
            if not m:
                raise qmp.Error(f"HMP i: {out.strip()}")
            return int(m.group(1), 16)

        facts["config_class_rev"] = f"0x{config(0x08):08x}"
        caps = []
        if config(0x04) >> 16 & 0x10:       # PCI_STATUS_CAP_LIST
            ptr = config(0x34) & 0xfc
            while ptr and len(caps) < 48:
                v = config(ptr)
                caps.append(f"0x{v & 0xff:02x}@0x{ptr:02x}")
                if v & 0xff == 0x11:         # PCI_CAP_ID_MSIX
                    table, pba = config(ptr + 4), config(ptr + 8)
                    facts["msix"] = (f"at=0x{ptr:02x} vectors={(v >> 16 & 0x7ff) + 1}"
                                     f" table=bar{table & 7}+0x{table & ~7:x}"
                                     f" pba=bar{pba & 7}+0x{pba & ~7:x}")
                ptr = v >> 8 & 0xfc
        facts["caps"] = " ".join(caps) or "none"
        q.send("quit")
        return facts, True
    except qmp.Error as e:
        log(f"error: {e}")
    except (KeyError, ValueError) as e:
        log(f"error: {type(e).__name__}: {e}")
    finally:
        q.close()
    return facts, False


def driver_info(uuid):
    """What the driver reports through VFIO (dsa_mdev_vfio_info): the sizes
    of the regions by index, the counts of the interrupts by index."""
    regions, irqs = {}, {}
    try:
        rc, out = run(os.path.join(here, "dsa_mdev_vfio_info"), uuid)
    except OSError as e:
        rc, out = 1, f"dsa_mdev_vfio_info: {e.strerror}"
    for line in out.split("\n"):
        f = line.split()
        if len(f) >= 4 and f[0] == "region" and f[2] == "size":
            regions[int(f[1])] = int(f[3])
        elif len(f) >= 4 and f[0] == "irq" and f[2] == "count":
            irqs[int(f[1])] = int(f[3])
        elif line:
            log(line)
    if rc:
        log(f"dsa_mdev_vfio_info {uuid} failed ({rc})")
    return regions, irqs


# --- Checks on the facts --------------------------------------------------

def fact_is(facts, key, want):
    got = facts.get(key)
    if got != want:
        log(f"{key}: expected '{want}', QEMU shows '{got if got is not None else '(nothing)'}'")
        return False
    return True


def check_ids(facts):
    return fact_is(facts, "id", "0x1b36 0x10d5")


def check_class(facts):
    # query-pci shows the base class and the subclass; the configuration
    # space has the programming interface too, above the revision.
    if not fact_is(facts, "class", "0x0880"):
        return False
    class_rev = facts.get("config_class_rev")
    if not class_rev or int(class_rev, 16) >> 8 != 0x088000:
        log(f"config space class/revision: expected 0x088000xx,"
            f" QEMU shows '{class_rev or '(nothing)'}'")
        return False
    return True


def check_bar(facts, bar, size):
    """BAR bar is a 64-bit memory BAR of size bytes."""
    got = facts.get(f"bar{bar}", "")
    if not got.startswith("memory mem64=1 prefetch=") or got.split(" size=")[-1] != str(size):
        log(f"BAR{bar}: expected a 64-bit memory BAR of {size} bytes,"
            f" QEMU shows '{got or '(nothing)'}'")
        return False
    log(f"BAR{bar}: {got}")
    return True


def check_msix(facts, vectors):
    """An MSI-X capability with vectors vectors."""
    got = facts.get("msix")
    log(f"capabilities (id@offset): {facts.get('caps', '(none)')}")
    if not got:
        log("no MSI-X capability in the configuration space")
        return False
    log(f"MSI-X: {got}")
    if f" vectors={vectors} " not in f" {got} ":
        log(f"expected {vectors} MSI-X vectors")
        return False
    return True


# --- Devices --------------------------------------------------------------

def remove(uuid):
    """Removes device uuid; whether the removal was accepted."""
    err = write(f"{MDEV_DIR}/{uuid}/remove", 1)
    if err:
        log(f"remove {uuid} failed: {err}")
        return False
    created.remove(uuid)
    return True


def remove_device(uuid):
    """Removes device uuid; it must then be gone and its WQs free again."""
    if not remove(uuid):
        return False
    free = read(f"{CLASS}/dsa0/free_wqs")
    if os.path.exists(f"{MDEV_DIR}/{uuid}") or free != str(WQS):
        log(f"after removing {uuid}: free_wqs {free}, expected {WQS}")
        return False
    return True


def quit_and_remove(status, uuid):
    """QEMU (gone) exited cleanly, and device uuid can be removed.  The
    device is removed in any case: the next one's accounting starts from
    none."""
    ok = True
    if status != 0:
        log(f"QEMU exited with status {status}")
        ok = False
    return remove_device(uuid) and ok


def check_device(label, aggregator):
    """The checks for one device."""
    wqs = BASE * aggregator
    qlog = os.path.join(tmp, f"qemu.{label}.log")
    ok = True
    uuid = new_uuid()
    if write(f"{CLASS}/dsa0/mdev_supported_types/dsa-{BASE}dwq/create", uuid):
        log(f"{label}: cannot create a dsa-{BASE}dwq device")
        ok = False
    else:
        created.append(uuid)
        if aggregator != 1 and write(f"{MDEV_DIR}/{uuid}/dsa/aggregator", aggregator):
            log(f"{label}: cannot set the aggregator to {aggregator}")
            ok = False
    log(f"{label}: device {uuid}, {wqs} WQs")

    # What the driver reports, before QEMU holds the device.
    regions, irqs = driver_info(uuid) if ok else ({}, {})
    bar0 = regions.get(VFIO_PCI_BAR0_REGION_INDEX, "?")
    bar2 = regions.get(VFIO_PCI_BAR2_REGION_INDEX, "?")
    vectors = irqs.get(VFIO_PCI_MSIX_IRQ_INDEX, "?")
    if ok:
        log(f"{label}: the driver reports BAR0 {bar0} bytes, BAR2 {bar2} bytes,"
            f" {vectors} MSI-X vectors")

    p = None
    facts, quit_sent = {}, False
    if ok:
        sock = os.path.join(tmp, "qmp.sock")
        p = start_qemu(uuid, sock, qlog, 128)
        facts, quit_sent = qemu_facts(p, sock)
        qemu_says("QEMU", qlog)
    if quit_sent:
        ksft.test_result(True, f"{label}: QEMU starts with the device and lists it at"
                         f" {facts.get('address', '?')}")
    else:
        facts = {}
        ksft.test_result(False, f"{label}: QEMU starts with the device and lists it")
    ksft.test_result(check_ids(facts), f"{label}: vendor 0x1b36, device 0x10d5")
    ksft.test_result(check_class(facts), f"{label}: class 0x088000")
    ksft.test_result(check_bar(facts, 0, bar0),
                     f"{label}: BAR0 is a 64-bit memory BAR of {bar0} bytes")
    ksft.test_result(check_bar(facts, 2, bar2),
                     f"{label}: BAR2 is a 64-bit memory BAR of {bar2} bytes")
    ksft.test_result(check_msix(facts, vectors),
                     f"{label}: MSI-X capability with {vectors} vectors")

    # QEMU was asked to quit (unless talking to it failed): give it a
    # moment, then make it.  Only a QEMU that is gone has closed the
    # device; removing the device earlier would block until it does.
    status = reap(p, 10 if quit_sent else 2) if p else "none"
    desc = f"{label}: QEMU quits and the device can be removed"
    if status is None:
        # Still holding the device: removing it would block.
        ksft.test_result(False, f"{desc} (QEMU is stuck)")
    elif not ok:
        if uuid in created and os.path.exists(f"{MDEV_DIR}/{uuid}"):
            remove_device(uuid)
        ksft.test_result(False, f"{desc} (not run)")
    else:
        ksft.test_result(quit_and_remove(status, uuid), desc)


# --- Migration ------------------------------------------------------------

def create_device(parent, base, aggregator):
    """Creates a dsa-<base>dwq device with aggregator on parent the way
    managers do: the type's aggregator, then create (the type's aggregator
    goes back to 1 after).  Its UUID, or None."""
    t = f"{CLASS}/{parent}/mdev_supported_types/dsa-{base}dwq"
    uuid = new_uuid()
    if write(f"{t}/aggregator", aggregator):
        log(f"{parent}: cannot set dsa-{base}dwq/aggregator to {aggregator}")
        return None
    if write(f"{t}/create", uuid):
        log(f"{parent}: cannot create a dsa-{base}dwq device with aggregator {aggregator}")
        uuid = None
    else:
        created.append(uuid)
        log(f"{parent}: dsa-{base}dwq device {uuid}, aggregator {aggregator},"
            f" WQs {read(f'{MDEV_DIR}/{uuid}/dsa/wq_ids')}")
    if write(f"{t}/aggregator", 1):
        uuid = None
    return uuid


def poll(what, done, limit):
    """Calls what() until done(its result) or for limit seconds; the last
    result and whether it was done."""
    deadline = time.monotonic() + limit
    while True:
        r = what()
        if done(r) or time.monotonic() > deadline:
            return r, done(r)
        time.sleep(0.25)


def device_address(q):
    """The device's address in query-pci of QEMU q, or "none"."""
    for d in q.pci_devices():
        if d.get("qdev_id") == QDEV_ID:
            return f"{d['bus']:02x}:{d['slot']:02x}.{d['function']}"
    return "none"


def qmp_migrate(src, dst, uri, expect):
    """Talks QMP with the source QEMU src and the target dst (started with
    -incoming defer): migrates src to dst through uri and returns what both
    say, as facts:

      src_start, dst_start            query-status before the migration
      src_device, dst_device          the device's address in query-pci,
                                      or none
      src_blocked                     query-migrate's blocked-reasons on
                                      the source, as JSON ([] when none)
      migration                       how it ended on the source:
                                      completed, failed, cancelled, or
                                      timeout
      migration_seconds, migration_error  its time, the source's error-desc
      src_status, src_device_after    the source afterwards
      dst_status, dst_migration       the target once its side has ended
      dst_migration_error, dst_device_after
      dst_cont or src_cont            query-status after cont, on the
                                      target if the migration completed as
                                      expect said (completed), on the
                                      source if it failed as expect said
                                      (failed)

    and the QEMUs quit was sent to ("src", "dst").  Errors are logged."""
    facts, quit_sent = {}, []
    up = True
    for key, q in (("src", src), ("dst", dst)):
        try:
            q.connect()
            facts[f"{key}_start"] = q.status()
            facts[f"{key}_device"] = device_address(q)
            if key == "src":
                facts["src_blocked"] = json.dumps(
                    q.execute("query-migrate").get("blocked-reasons", []))
        except qmp.Error as e:
            log(f"error: {e}")
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
                               lambda i: i.get("status") in ENDED, MIG_TIMEOUT)
            result = info.get("status", "none")
            if not ended:
                log(f"error: the migration is still {result} after {MIG_TIMEOUT:g} s:"
                    f" {json.dumps(info)}")
                result = "timeout"
                try:
                    src.execute("migrate_cancel")
                except qmp.Error as e:
                    log(f"error: {e}")
            facts["migration"] = result
            facts["migration_seconds"] = f"{time.monotonic() - t0:.1f}"
            if info.get("error-desc"):
                facts["migration_error"] = info["error-desc"]
        except qmp.Error as e:
            log(f"error: {e}")

    dst_status = None
    if result is not None:
        try:
            # A migration that ended in its last stage leaves
            # finish-migrate just after query-migrate says so.
            facts["src_status"], _ = poll(src.status, lambda st: st != "finish-migrate",
                                          min(TIMEOUT, 30))
            facts["src_device_after"] = device_address(src)
        except qmp.Error as e:
            log(f"error: {e}")
        try:
            # The target's side may end after the source's (not long after
            # a failure: the source learns of the target's on the return
            # path).  It leaves inmigrate before its migration status says
            # completed: ask in the other order.
            (info, dst_status), _ = poll(
                lambda: (dst.execute("query-migrate"), dst.status()),
                lambda r: r[0].get("status") in ENDED or r[1] != "inmigrate",
                TIMEOUT if result == "completed" else min(TIMEOUT, 30))
            facts["dst_status"] = dst_status
            facts["dst_migration"] = info.get("status", "none")
            if info.get("error-desc"):
                facts["dst_migration_error"] = info["error-desc"]
            facts["dst_device_after"] = device_address(dst)
        except qmp.Error as e:
            log(f"error: {e}")

    # cont where the guest should run on: on the target after a migration
    # that completed (the device goes from RESUMING to RUNNING), on the
    # source after one that failed.
    cont = None
    if result == expect == "completed" and dst_status not in (None, "inmigrate"):
        cont = ("dst", dst)
    elif result == expect == "failed":
        cont = ("src", src)
    if cont:
        key, q = cont
        try:
            q.execute("cont")
            facts[f"{key}_cont"], _ = poll(q.status, lambda st: st == "running", TIMEOUT)
        except qmp.Error as e:
            log(f"error: {e}")

    for key, q in (("src", src), ("dst", dst)):
        if q.connected:
            try:
                q.send("quit")
                quit_sent.append(key)
            except qmp.Error as e:
                log(f"error: {e}")
        q.close()
    return facts, quit_sent


def remove_pair(uuids, parents):
    """Removes the devices uuids; then they must be gone, and the parents
    have all their WQs free again."""
    ok = True
    for uuid in uuids:
        if not remove(uuid):
            ok = False
            continue
        if os.path.exists(f"{MDEV_DIR}/{uuid}"):
            log(f"{uuid} is still there after its removal")
            ok = False
    for parent in parents:
        free = read(f"{CLASS}/{parent}/free_wqs")
        if free != str(WQS):
            log(f"after the removals: {parent}: free_wqs {free}, expected {WQS}")
            ok = False
    return ok


def mig_has_device(facts, key):
    """The key QEMU (src or dst) listed the device when it started."""
    name = "target" if key == "dst" else "source"
    log(f"{name} QEMU: status {facts.get(f'{key}_start', '(no answer)')},"
        f" device at {facts.get(f'{key}_device', '(no answer)')}")
    if facts.get(f"{key}_device", "none") == "none":
        log(f"the {name} QEMU does not list the device with id {QDEV_ID}")
        return False
    return True


def mig_started(facts):
    ok = mig_has_device(facts, "src")
    return mig_has_device(facts, "dst") and ok


def mig_not_blocked(facts):
    """The source QEMU, with the device's default options, lists no
    migration blocker."""
    log(f"source QEMU: migration blocked by: {facts.get('src_blocked', '(no answer)')}")
    return fact_is(facts, "src_blocked", "[]")


def mig_ended(facts, want):
    """The migration ended with status want on the source."""
    err = f": {facts['migration_error']}" if "migration_error" in facts else ""
    log(f"migration: {facts.get('migration', '(not run)')} after"
        f" {facts.get('migration_seconds', '?')} s{err}")
    if facts.get("dst_migration"):
        err = f": {facts['dst_migration_error']}" if "dst_migration_error" in facts else ""
        log(f"the target's side: {facts['dst_migration']}{err}")
    return fact_is(facts, "migration", want)


def mig_completed(facts, seq):
    """The migration completed, and the kernel log since sequence number
    seq has no refusal."""
    if not mig_ended(facts, "completed"):
        return False
    refused = [line for line in kmsg_since(seq) if "migration refused" in line]
    if refused:
        log("yet the kernel log has: " + "\n".join(refused))
        return False
    return True


def mig_target_done(facts):
    """The target ended its side of the migration, not running (the source
    was paused), not in an error state, with the device."""
    st = facts.get("dst_status", "")
    log(f"target QEMU: status {st or '(no answer)'}, incoming migration"
        f" {facts.get('dst_migration', '?')}, device at {facts.get('dst_device_after', '?')}")
    # It left inmigrate only if it loaded everything.
    if st not in ("prelaunch", "paused"):
        log("expected the target paused (prelaunch or paused) after the migration")
        return False
    if facts.get("dst_migration", "") in ("failed", "cancelling", "cancelled"):
        log("the target's incoming migration did not complete")
        return False
    return fact_is(facts, "dst_device_after", facts.get("dst_device", "none"))


def mig_runs(facts, key, qlog):
    """QEMU key (src or dst) runs after cont, and its log qlog shows no
    failed device state change or device access."""
    if not fact_is(facts, f"{key}_cont", "running"):
        return False
    with open(qlog, errors="replace") as f:
        failed = [line for line in f.read().split("\n") if QEMU_DEVICE_FAILED.search(line)]
    if failed:
        log("QEMU failed a device state change or access: " + "\n".join(failed))
        return False
    return True


def mig_refusal_logged(seq, refusal, uuid):
    """The kernel log since sequence number seq has the refusal line for
    device uuid, which the driver logs on the device (dev_warn():
    "dsa_mdev <uuid>: ...")."""
    want = f"dsa_mdev {uuid}: {refusal}"
    since = kmsg_since(seq)
    if any(want in line for line in since):
        return True
    logged = [line for line in since if re.search("dsa|vfio|migrat", line)][-20:]
    log(f"no kernel log line with '{want}'; the driver logged:"
        f" {chr(10).join(logged) or 'nothing'}")
    return False


def mig_source_survives(facts, qlog):
    """The source QEMU is up after the failed migration, paused as it was,
    with its device, and runs after cont."""
    st = facts.get("src_status", "")
    log(f"source QEMU: status {st or '(no answer)'}, device at"
        f" {facts.get('src_device_after', '?')}, after cont"
        f" {facts.get('src_cont', '(not run)')}")
    if st not in ("prelaunch", "paused"):
        log("expected the source paused (prelaunch or paused) after the failed migration")
        return False
    return (fact_is(facts, "src_device_after", facts.get("src_device", "none"))
            and mig_runs(facts, "src", qlog))


def mig_quit_and_remove(src_exit, dst_exit, uuids, parents):
    """Both QEMUs exited with status 0 (quit), and the devices can be
    removed."""
    ok = True
    if src_exit != 0 or dst_exit != 0:
        log(f"QEMU exit status: source {src_exit}, target {dst_exit}")
        ok = False
    return remove_pair(uuids, parents) and ok


def check_migration(sp, sb, sa, dp, db, da, refusal=None):
    """Migrates a dsa-<sb>dwq device with aggregator sa on parent sp to a
    dsa-<db>dwq device with aggregator da on parent dp, with QEMU.  Without
    refusal, the migration must complete; with it, it must fail, and the
    target's driver must log refusal."""
    label = f"migration {sp}/dsa-{sb}dwq x{sa} -> {dp}/dsa-{db}dwq x{da}"
    slog, dlog = os.path.join(tmp, "mig-src.log"), os.path.join(tmp, "mig-dst.log")
    expect = "failed" if refusal else "completed"
    descs = [f"{label}: QEMU starts the source (-S) and the target (-incoming defer)"
             " with the devices",
             f"{label}: QEMU's default options: no migration blocker (the device logs its DMA)"]
    if expect == "completed":
        descs += [f"{label}: the migration completes (source: query-migrate)",
                  f"{label}: the target ends its incoming migration paused, with the device",
                  f"{label}: the target runs the migrated device (cont)"]
    else:
        descs += [f"{label}: the migration fails (source: query-migrate)",
                  f"{label}: the kernel log names the refusal and the fix",
                  f"{label}: the source QEMU survives with its device and runs on (cont)"]
    descs.append(f"{label}: both QEMUs quit and the devices can be removed")

    seq = kmsg_seq()
    before = len(created)
    src_uuid = create_device(sp, sb, sa)
    dst_uuid = create_device(dp, db, da) if src_uuid else None
    if not dst_uuid:
        for desc in descs:
            ksft.test_result(False, f"{desc} (not run: no devices)")
        for uuid in created[before:]:
            if os.path.exists(f"{MDEV_DIR}/{uuid}"):
                remove(uuid)
        return

    src_sock, dst_sock = os.path.join(tmp, "src.sock"), os.path.join(tmp, "dst.sock")
    mig_sock = os.path.join(tmp, "mig.sock")
    if os.path.exists(mig_sock):
        os.unlink(mig_sock)
    src_p = start_qemu(src_uuid, src_sock, slog, MIG_MEM)
    dst_p = start_qemu(dst_uuid, dst_sock, dlog, MIG_MEM, "-incoming", "defer")
    facts, quit_sent = qmp_migrate(client(src_p, src_sock, "source QEMU"),
                                   client(dst_p, dst_sock, "target QEMU"),
                                   f"unix:{mig_sock}", expect)

    # Only a QEMU that is gone has closed its device; removing the device
    # earlier would block until it does.
    src_exit = reap(src_p, 10 if "src" in quit_sent else 2)
    dst_exit = reap(dst_p, 10 if "dst" in quit_sent else 2)
    qemu_says("source QEMU", slog)
    qemu_says("target QEMU", dlog)

    ksft.test_result(mig_started(facts), descs[0])
    ksft.test_result(mig_not_blocked(facts), descs[1])
    if expect == "completed":
        ksft.test_result(mig_completed(facts, seq), descs[2])
        ksft.test_result(mig_target_done(facts), descs[3])
        ksft.test_result(mig_runs(facts, "dst", dlog), descs[4])
    else:
        ksft.test_result(mig_ended(facts, "failed"), descs[2])
        ksft.test_result(mig_refusal_logged(seq, refusal, dst_uuid), descs[3])
        ksft.test_result(mig_source_survives(facts, slog), descs[4])
    if src_exit is None or dst_exit is None:
        # Still holding a device: removing it would block.
        ksft.test_result(False, f"{descs[5]} (a QEMU is stuck)")
    else:
        ksft.test_result(mig_quit_and_remove(src_exit, dst_exit, (src_uuid, dst_uuid),
                                             (sp, dp)), descs[5])


def cleanup():
    for p in list(running):
        reap(p, 2)
    # Leave nothing behind, unless a QEMU still holds a device: removing
    # it would block.
    if not running:
        for uuid in list(created):
            if os.path.exists(f"{MDEV_DIR}/{uuid}"):
                write(f"{MDEV_DIR}/{uuid}/remove", 1)
        if module_loaded():
            run("rmmod", DSA_MOD)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


def skip_all(why):
    print(f"1..0 # SKIP {why}")
    sys.exit(ksft.KSFT_SKIP)


def exit_fail_msg(why):
    print(f"Bail out! {why}")
    ksft.exit_fail()


def main():
    global tmp

    # Every line as it is printed: a kselftest timeout ends the program.
    sys.stdout.reconfigure(line_buffering=True)
    # A kselftest timeout sends SIGTERM: clean up as on any exit.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))
    ko = sys.argv[1] if len(sys.argv) > 1 else module_path()
    ksft.print_header()
    if os.geteuid() != 0:
        skip_all("must run as root")
    if not ko:
        exit_fail_msg(f"dsa_mdev.ko not found: not in {here}/module, not in $DSA_MDEV_KO,"
                      " not known to modinfo")
    if not shutil.which(QEMU):
        skip_all(f"{QEMU} is not installed")
    if not os.access(ko, os.R_OK):
        exit_fail_msg(f"{ko} is not readable")
    if not mdev_core():
        skip_all("no mdev core: modprobe mdev failed (CONFIG_VFIO_MDEV, see config)")
    if not os.path.exists("/dev/vfio/vfio"):
        exit_fail_msg("/dev/vfio/vfio missing: QEMU needs the VFIO container")
    if module_loaded() and not unload():
        exit_fail_msg(f"a stale {DSA_MOD} could not be unloaded")
    try:
        tmp = tempfile.mkdtemp(prefix="dsa_mdev_qemu.")
    except OSError:
        exit_fail_msg("cannot create a temporary directory")

    try:
        ksft.set_plan(len(DEVICES) * CASES_PER_DEVICE + MIGRATIONS * CASES_PER_MIGRATION + 1)
        log(run(QEMU, "--version")[1].split("\n")[0])
        rc, out = run("insmod", ko, f"parents={PARENTS}", f"wqs={WQS}")
        if rc == 0:
            for label, aggregator in DEVICES:
                check_device(label, aggregator)
            # A compatible pair: the same type and aggregator on both sides.
            check_migration("dsa0", 2, 2, "dsa1", 2, 2)
            # The seed's pair: 30 WQs each, not compatible.
            check_migration("dsa0", 1, 30, "dsa1", 2, 15, SEED_REFUSAL)
        else:
            log(f"insmod {ko} parents={PARENTS} wqs={WQS}: {out}")
            for label, _ in DEVICES:
                for _ in range(CASES_PER_DEVICE):
                    ksft.test_result(False, f"{label}: not run: the module did not load")
            for _ in range(MIGRATIONS * CASES_PER_MIGRATION):
                ksft.test_result(False, "migration: not run: the module did not load")
        ksft.test_result(unload(), "the module unloads")
    finally:
        cleanup()
    ksft.finished()


if __name__ == "__main__":
    main()
