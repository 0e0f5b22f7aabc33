#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The stock idxd driver and dmatest drive dsa_mdev devices; live migration.

Runs as root in the test VM (scripts/guest.sh boots it).  With dsa_mdev
loaded (2 parents of 64 WQs), for each case it creates devices as a manager
does (the type's aggregator, then create) and boots the guest kernel of
config/guest.config under QEMU (TCG, -smp 1), the device assigned with

    -device vfio-pci,sysfsdev=...,x-pci-vendor-id=0x8086,
            x-pci-device-id=0x0b25

so that the guest's idxd driver binds it; migration needs no option, as
with a manager: the device logs its DMA (VFIO_DEVICE_FEATURE_DMA_LOGGING_*),
so QEMU has no blocker and sends only the pages written.  --legacy runs
the migration as it had to run before the device logged its DMA, for
comparison: enable-migration=on with the device's dirty tracking off
(x-device-dirty-page-tracking=off), so QEMU sends all guest RAM at every
pass and the downtime limit must allow all of it.  The guest's /init
(scripts/guest-init.sh) configures a dedicated kernel WQ through
/sys/bus/dsa and runs dmatest on its channel; its serial console is a file
here, read as it grows.

Cases (--mode full; --mode short runs only "migrate"):

  dsa-1dwq, dsa-2dwq-x2   the guest boots with a dsa-1dwq device (1 WQ), a
                          dsa-2dwq device with aggregator 2 (4 WQs); idxd
                          probes, the WQ is configured, every dmatest run
                          reports "summary N tests, 0 failures", the guest
                          powers off, QEMU exits 0, the device is removable.
  migrate                 a dsa-2dwq x2 device on dsa0, a compatible one on
                          dsa1: the running guest is migrated from a QEMU
                          with the first to a QEMU with the second while its
                          second dmatest run runs; the migration completes,
                          and on the target that run and a third report 0
                          failures.
  seed-pair               a dsa-1dwq x30 device on dsa0 (source), dsa-2dwq
                          x15 on dsa1 (target): 30 WQs each, incompatible.
                          The migration fails, the kernel log names the fix
                          ("recreate the target as dsa-1dwq with aggregator
                          30"), and the source guest runs on and finishes its
                          dmatest with 0 failures.

Output is KTAP (one test point per check); the guest's summary lines and
the figures (boot time, dmatest's own iops) are in the diagnostics.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

MDEV_DIR = "/sys/bus/mdev/devices"
CLASS = "/sys/class/dsa"
SEED_REFUSAL = ("migration refused: source is dsa-1dwq, target is dsa-2dwq:"
                " recreate the target as dsa-1dwq with aggregator 30")
# What ends a guest's run early: it cannot end well.
GUEST_FAILED = re.compile(r"test timed out|^DSA-GUEST: error|Kernel panic", re.M)
SUMMARY = re.compile(r"dmatest: (\S+): summary (\d+) tests, (\d+) failures"
                     r" (\S+) iops (\d+) KB/s")


class Ktap:
    """KTAP output: a plan, then one line per test point."""

    def __init__(self, total):
        self.n = 0
        self.failed = 0
        print("KTAP version 1", flush=True)
        print(f"1..{total}", flush=True)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print(f"# {line}", flush=True)

    def check(self, ok, desc, why=""):
        self.n += 1
        if not ok:
            self.failed += 1
            if why:
                self.diag(why)
        print(f"{'ok' if ok else 'not ok'} {self.n} {desc}", flush=True)
        return ok


class Gone(Exception):
    """A QEMU that cannot be talked to (any more)."""


class Qemu:
    """One QEMU with a guest and one assigned device."""

    def __init__(self, args, name, uuid, runs, incoming=False):
        self.name = name
        # Consoles and logs where the host can follow them as they grow.
        self.console = os.path.join(args.logs, f"{name}.console")
        self.qmp_path = os.path.join(args.tmp, f"{name}.qmp")
        self.log = os.path.join(args.logs, f"{name}.qemu.log")
        self.seen = 0
        for p in (self.console, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        cmd = [
            args.qemu, "-nodefaults", "-display", "none", "-machine", "q35",
            "-accel", "tcg,tb-size=128", "-smp", "1", "-m", str(args.mem), "-no-reboot",
            "-kernel", args.kernel, "-initrd", args.initrd,
            "-append", (f"console=ttyS0 loglevel=7 panic=-1 guest_runs={runs}"
                        f" guest_buf={args.buf} guest_timeout={args.dmatest_timeout}"),
            "-serial", f"file:{self.console}",
            "-device", (f"vfio-pci,sysfsdev={MDEV_DIR}/{uuid},id=dsa,"
                        "x-pci-vendor-id=0x8086,x-pci-device-id=0x0b25"
                        + (",enable-migration=on,x-device-dirty-page-tracking=off"
                           if args.legacy else "")),
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]
        if incoming:
            cmd += ["-incoming", "defer"]
        self.started = time.monotonic()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.sock = self.rfile = None

    # --- QMP ---

    def connect(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.qmp_path)
                break
            except OSError as e:
                s.close()
                if self.proc.poll() is not None:
                    raise Gone(f"{self.name}: QEMU exited ({self.proc.returncode})"
                               f" before QMP: {self.output()}")
                if time.monotonic() > deadline:
                    raise Gone(f"{self.name}: no QMP socket after {timeout} s: {e}")
                time.sleep(0.2)
        self.sock, self.rfile = s, s.makefile("rb")
        self.sock.settimeout(timeout)
        if "QMP" not in self.receive():
            raise Gone(f"{self.name}: no QMP greeting")
        self.execute("qmp_capabilities")

    def receive(self):
        try:
            line = self.rfile.readline()
        except OSError as e:
            raise Gone(f"{self.name}: QMP: {e}") from e
        if not line:
            raise Gone(f"{self.name}: QEMU closed QMP")
        return json.loads(line)

    def execute(self, name, arguments=None):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\r\n")
        except OSError as e:
            raise Gone(f"{self.name}: QMP: {e}") from e
        while True:
            r = self.receive()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise Gone(f"{self.name}: {name}: {r['error'].get('desc')}")

    def status(self):
        return self.execute("query-status")["status"]

    # --- console and process ---

    def text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_for(self, pattern, timeout):
        """Waits for a console line matching pattern; returns the match, or
        None once the guest failed (a dmatest timeout, an error of the
        init, a panic), QEMU exited or timeout seconds passed."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            m = rx.search(text)
            if m:
                return m
            if (GUEST_FAILED.search(text) or self.proc.poll() is not None
                    or time.monotonic() > deadline):
                return None
            time.sleep(0.5)

    def output(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().strip()
        except OSError:
            return ""

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Ends QEMU: quit over QMP, else SIGTERM, else SIGKILL."""
        if self.proc.poll() is None and self.sock:
            try:
                self.sock.settimeout(10)
                self.sock.sendall(b'{"execute": "quit"}\r\n')
            except OSError:
                pass
        for sig in (None, 15, 9):
            if sig:
                self.proc.send_signal(sig)
            if self.wait_exit(20) is not None:
                break
        if self.sock:
            self.sock.close()
        return self.proc.returncode


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def create(parent, base, aggregator):
    """Creates a dsa-<base>dwq device with aggregator on parent."""
    t = f"{CLASS}/{parent}/mdev_supported_types/dsa-{base}dwq"
    with open("/proc/sys/kernel/random/uuid") as f:
        uuid = f.read().strip()
    write(f"{t}/aggregator", str(aggregator))
    try:
        write(f"{t}/create", uuid)
    finally:
        write(f"{t}/aggregator", "1")
    return uuid


def remove(uuid):
    try:
        write(f"{MDEV_DIR}/{uuid}/remove", "1")
        return not os.path.exists(f"{MDEV_DIR}/{uuid}")
    except OSError:
        return False


class Kmsg:
    """The kernel log from now on."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def lines(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                # Overwritten records: go on with the next.
                continue
            if not rec:
                break
            out.append(rec.decode(errors="replace").split(";", 1)[-1].split("\n")[0])
        return out


def summaries(text):
    return [m for m in SUMMARY.finditer(text)]


def report_runs(k, q, text, label, first, runs):
    """One test point per dmatest run in runs (numbered from first): its
    summary in text reports as many tests as iterations, 0 failures."""
    found = {}
    for i, n in enumerate(runs, first):
        m = re.search(rf"^DSA-GUEST: run {i} start.*?\n(.*?)^DSA-GUEST: run {i} end",
                      text, re.M | re.S)
        s = summaries(m.group(1)) if m else []
        ok = len(s) == 1 and int(s[0].group(2)) == n and s[0].group(3) == "0"
        why = ""
        if s:
            k.diag(f"{label}: {s[0].group(0)}")
        else:
            why = f"{label}: no summary for run {i}: {q.name} console ends:\n" + text[-1500:]
        k.check(ok, f"{label}: dmatest run {i}: {n} tests, 0 failures", why)
        found[i] = s
    return found


def probe_points(k, q, label, timeout):
    """The guest boots, idxd probes, the WQ is configured: 2 points."""
    m = q.wait_for(r"^DSA-GUEST: probe (.*)$", timeout)
    took = time.monotonic() - q.started
    if m:
        k.diag(f"{label}: guest up in {took:.0f} s: {m.group(1)}")
    k.check(bool(m), f"{label}: the guest's idxd probes the device",
             f"{label}: no probe line after {took:.0f} s:\n{q.text()[-2000:]}\n{q.output()}")
    if not m:
        return False
    m = q.wait_for(r"^DSA-GUEST: (channel .*|error .*)$", timeout)
    ok = bool(m) and m.group(1).startswith("channel")
    if m:
        k.diag(f"{label}: {m.group(1)}")
    k.check(ok, f"{label}: a dedicated kernel WQ is configured and has a channel",
             "" if ok else q.text()[-2000:])
    return ok


def case_boot(k, args, label, base, aggregator, runs):
    """Points: probe (2), one per run, exit, removal."""
    uuid = create("dsa0", base, aggregator)
    k.diag(f"{label}: dsa-{base}dwq device {uuid}, aggregator {aggregator}")
    q = Qemu(args, label, uuid, ":".join(map(str, runs)))
    ok = probe_points(k, q, label, args.boot_timeout)
    if ok:
        q.wait_for(r"^DSA-GUEST: done", args.run_timeout)
    status = q.wait_exit(60) if ok else None
    if status is None:
        status = q.stop()
    text = q.text()
    if ok:
        report_runs(k, q, text, label, 1, runs)
    k.diag(f"{label}: QEMU ran {time.monotonic() - q.started:.0f} s")
    k.check(status == 0 and "DSA-GUEST: done" in text,
            f"{label}: the guest powers off and QEMU exits 0",
            f"QEMU exit {status}; {q.output()}")
    k.check(remove(uuid), f"{label}: the device is removable")


def migrate(k, label, src, dst, uri, timeout, legacy=False):
    """Migrates src to dst (started with -incoming defer); returns how it
    ended on the source: completed, failed, cancelled or timeout, and the
    source's error.  Keeps the source's console as it was when the
    migration ended in src.console_at_end."""
    for q in (src, dst):
        q.execute("migrate-set-capabilities", {"capabilities": [
            {"capability": "return-path", "state": True}]})
    # Unlimited bandwidth, as libvirt sets it; QEMU's default downtime
    # limit. Without the device's dirty tracking QEMU treats all guest RAM
    # as dirty at every pass: then allow a downtime that sends all of it.
    params = {"max-bandwidth": 4 << 30}
    if legacy:
        params["downtime-limit"] = 60000
    src.execute("migrate-set-parameters", params)
    if not legacy:
        blocked = src.execute("query-migrate").get("blocked-reasons", [])
        k.check(not blocked, f"{label}: QEMU with its default options lists no migration blocker",
                f"blocked-reasons: {blocked}")
    dst.execute("migrate-incoming", {"uri": uri})
    src.execute("migrate", {"uri": uri})
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = src.execute("query-migrate")
        st = r.get("status")
        if st in ("completed", "failed", "cancelled"):
            src.console_at_end = src.text()
            k.diag(f"{label}: migration {st} after {time.monotonic() - t0:.1f} s"
                   f" (downtime {r.get('downtime', '-')} ms,"
                   f" {r.get('ram', {}).get('transferred', 0) >> 20} MiB of RAM sent)")
            return st, r.get("error-desc", "")
        time.sleep(0.5)
    return "timeout", ""


def case_migrate(k, args, label, src_dev, dst_dev, runs, expect):
    """Points: source probe (2), the run before, migration outcome,
    then: completed: the runs after on the target (2), target exits 0;
    failed: the refusal line, source still running, the runs after on the
    source (2), source exits 0; then both devices removable."""
    kmsg = Kmsg()
    src_uuid = create("dsa0", *src_dev)
    dst_uuid = create("dsa1", *dst_dev)
    k.diag(f"{label}: source dsa-{src_dev[0]}dwq x{src_dev[1]} {src_uuid} on dsa0,"
           f" target dsa-{dst_dev[0]}dwq x{dst_dev[1]} {dst_uuid} on dsa1")
    spec = ":".join(map(str, runs))
    src = Qemu(args, f"{label}-src", src_uuid, spec)
    dst = Qemu(args, f"{label}-dst", dst_uuid, spec, incoming=True)
    uri = f"unix:{os.path.join(args.tmp, label + '.mig')}"
    qemus = [src, dst]
    try:
        ok = probe_points(k, src, label, args.boot_timeout)
        if ok:
            ok = bool(src.wait_for(r"^DSA-GUEST: run 2 start", args.run_timeout))
        text = src.text()
        report_runs(k, src, text, label + " (source, before)", 1, runs[:1])
        if not ok:
            raise Gone("the source guest did not reach its second run")
        # Migrate at once: the second run is long enough (a few thousand
        # copies, tens of seconds under TCG) to outlast the migration.
        src.connect(args.boot_timeout)
        dst.connect(args.boot_timeout)
        end, err = migrate(k, label, src, dst, uri, args.mig_timeout, args.legacy)
        # While dmatest runs: its second run had not ended on the source.
        during = "DSA-GUEST: run 2 end" not in getattr(src, "console_at_end", "")
        k.check(end == expect and during,
                f"{label}: the migration, during dmatest's second run, ends {expect}",
                f"it ended {end}{'' if during else ' after the run'}: {err}\n"
                f"{src.output()}\n{dst.output()}")
        if err:
            k.diag(f"{label}: source says: {err}")
        if expect == "completed":
            guest = dst
            src.stop()
        else:
            lines = kmsg.lines()
            hit = [l for l in lines if SEED_REFUSAL in l]
            if hit:
                k.diag(f"{label}: kernel: {hit[0]}")
            k.check(bool(hit), f"{label}: the kernel log names the fix",
                    "kernel log:\n" + "\n".join(lines[-20:]))
            st = src.status()
            k.check(st == "running", f"{label}: the source guest runs on",
                    f"source status {st}")
            guest = src
            dst.stop()
        guest.wait_for(r"^DSA-GUEST: done", args.run_timeout)
        text = guest.text()
        # The target's console starts at the migration: run 2 ends there.
        report_runs(k, guest, text if guest is src else
                    "DSA-GUEST: run 2 start\n" + text, label + f" ({guest.name})", 2, runs[1:])
        status = guest.wait_exit(60)
        if status is None:
            status = guest.stop()
        k.check(status == 0 and "DSA-GUEST: done" in text,
                f"{label}: the guest powers off on the {guest.name[len(label) + 1:]}"
                " and QEMU exits 0", f"QEMU exit {status}; {guest.output()}")
    except Gone as e:
        k.diag(f"{label}: {e}")
    finally:
        for q in qemus:
            q.stop()
        # What the driver logged (refused accesses, abandoned slots).
        for line in kmsg.lines():
            if "dsa" in line:
                k.diag(f"{label}: kernel: {line}")
    k.check(remove(src_uuid) and remove(dst_uuid), f"{label}: the devices are removable")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--keep", help="write the consoles and QEMU logs here")
    ap.add_argument("--ko", help="insmod this dsa_mdev.ko (parents=2 wqs=64) first,"
                    " rmmod it at the end")
    ap.add_argument("--mode", choices=("full", "short"), default="full")
    ap.add_argument("--legacy", action="store_true",
                    help="migrate without the device's dirty tracking (enable-migration=on,"
                    " x-device-dirty-page-tracking=off), for comparison")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--buf", type=int, default=4096, help="dmatest's test_buf_size")
    ap.add_argument("--dmatest-timeout", type=int, default=60000,
                    help="dmatest's timeout per transfer, in ms of guest time")
    ap.add_argument("--runs", default=None,
                    help="dmatest iterations of the three runs, as A:B:C")
    ap.add_argument("--boot-timeout", type=float, default=900)
    ap.add_argument("--run-timeout", type=float, default=1800)
    ap.add_argument("--mig-timeout", type=float, default=600)
    args = ap.parse_args()
    runs = [int(n) for n in (args.runs or ("100:1000:100" if args.mode == "short"
                                           else "300:2000:300")).split(":")]
    if len(runs) != 3:
        ap.error("--runs takes three counts")

    boots = [("dsa-1dwq", 1, 1), ("dsa-2dwq-x2", 2, 2)] if args.mode == "full" else []
    migrations = [("migrate", (2, 2), (2, 2), "completed")]
    if args.mode == "full":
        migrations.append(("seed-pair", (1, 30), (2, 15), "failed"))
    # Points: a boot case 2 + runs + 2; a migration 2 + 1 + no blocker
    # (unless legacy) + 1 + (completed: 2 runs + exit; failed: fix +
    # running + 2 runs + exit) + removal.
    total = sum(2 + 3 + 2 for _ in boots)
    total += sum(2 + 1 + (0 if args.legacy else 1) + 1 + (3 if e == "completed" else 5) + 1
                 for *_, e in migrations)
    # Sockets cannot live on the 9p file system the VM shares with the host.
    args.tmp = tempfile.mkdtemp(prefix="dsa-guest.")
    args.logs = args.keep or args.tmp
    k = Ktap(total)
    if args.ko:
        subprocess.run(["modprobe", "-q", "mdev"], check=False)
        r = subprocess.run(["insmod", args.ko, "parents=2", "wqs=64"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            k.diag(f"insmod {args.ko}: {r.stderr.strip()}")
            while k.n < total:
                k.check(False, "not run: the module did not load")
            return 1
    for label, base, agg in boots:
        case_boot(k, args, label, base, agg, runs)
    for label, s, d, expect in migrations:
        case_migrate(k, args, label, s, d, runs, expect)
    # Points a case could not reach count as failures.
    while k.n < total:
        k.check(False, "not reached")
    if args.ko:
        r = subprocess.run(["rmmod", "dsa_mdev"], capture_output=True, text=True)
        if r.returncode != 0:
            k.diag(f"rmmod dsa_mdev: {r.stderr.strip()}")
    shutil.rmtree(args.tmp, ignore_errors=True)
    k.diag(f"guest: {k.n - k.failed} passed, {k.failed} failed")
    return 0 if k.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
