#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The stock idxd driver and dmatest drive dsa_mdev devices; live migration.

Runs as root in the test VM (scripts/guest.sh boots it).  With dsa_mdev
loaded (2 parents of 64 WQs), for each case it creates devices as a manager
does (the type's aggregator, then create) and boots the guest kernel of
config/guest.config under QEMU (TCG, -smp 1), the device assigned with

    -device vfio-pci,sysfsdev=...

with the module loaded with intel_ids=1, so that the guest's idxd driver
binds it; migration needs no option, as
with a manager: the device logs its DMA (VFIO_DEVICE_FEATURE_DMA_LOGGING_*),
so QEMU has no blocker and sends only the pages written.  --legacy runs
the migration as it had to run before the device logged its DMA, for
comparison: enable-migration=on with the device's dirty tracking off
(x-device-dirty-page-tracking=off), so QEMU sends all guest RAM at every
pass and the downtime limit must allow all of it.  The guest's /init
(scripts/guest-init.sh) configures a dedicated kernel WQ through
/sys/bus/dsa and runs dmatest on its channel; its serial console is a file
here, read as it grows.

Cases (--mode full; --mode short runs the two migrations of a running
guest only, "migrate" and "libvirt"):

  dsa-1dwq, dsa-2dwq-x2   the guest boots with a dsa-1dwq device (1 WQ), a
                          dsa-2dwq device with aggregator 2 (4 WQs); idxd
                          probes, the WQ is configured, every dmatest run
                          reports "summary N tests, 0 failures", the guest
                          powers off, QEMU exits 0, the device is removable.
  migrate                 QEMU to QEMU, the target started with -incoming
                          defer, both with QEMU's default options: a
                          dsa-2dwq x2 device on dsa0, a compatible one on
                          dsa1; the running guest is migrated while its
                          second dmatest run runs; QEMU lists no blocker,
                          the migration completes, and on the target that
                          run and a third report 0 failures.
  libvirt                 the same under libvirt, host to host: two
                          libvirtd daemons (libvirt_hosts.py), the devices
                          defined with mdevctl (define, modify --addattr
                          dsa/aggregator, start), a transient domain with
                          the device as <hostdev type='mdev'>, virsh
                          migrate --live with --xml naming the target's
                          device, as Nova does; virsh domstate on both.
  seed-pair               under libvirt: a dsa-1dwq x30 device on dsa0
                          (source), dsa-2dwq x15 on dsa1 (target): 30 WQs
                          each, incompatible.  virsh migrate fails, the
                          kernel log names the fix ("recreate the target
                          as dsa-1dwq with aggregator 30"), and the source
                          domain runs on and finishes its dmatest with 0
                          failures.

Output is KTAP (one test point per check); the guest's summary lines and
the figures (boot time, dmatest's own iops) are in the diagnostics.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

import libvirt_hosts
from ktap import Ktap

# The QMP client of the selftests' qemu.py.
sys.path.append(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..",
                             "selftests", "dsa_mdev"))
import qmp  # noqa: E402

MDEV_DIR = "/sys/bus/mdev/devices"
CLASS = "/sys/class/dsa"
SEED_REFUSAL = ("migration refused: source is dsa-1dwq, target is dsa-2dwq:"
                " recreate the target as dsa-1dwq with aggregator 30")
# What ends a guest's run early: it cannot end well.
GUEST_FAILED = re.compile(r"test timed out|^DSA-GUEST: error|Kernel panic", re.M)
SUMMARY = re.compile(r"dmatest: (\S+): summary (\d+) tests, (\d+) failures"
                     r" (\S+) iops (\d+) KB/s")


class Gone(Exception):
    """A guest, a domain or a device that is not (any more) as the case
    needs; QMP's failures are qmp.Error."""


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
            "-device", (f"vfio-pci,sysfsdev={MDEV_DIR}/{uuid},id=dsa"
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
        self.client = qmp.QMP(self.qmp_path, name, alive=self.alive)

    # --- QMP ---

    def connect(self, timeout):
        """Connects to QMP; timeout bounds this wait and every later one."""
        self.client.timeout = timeout
        try:
            self.client.connect()
        except qmp.Gone as e:
            if self.alive():
                raise
            raise Gone(f"{e}: QEMU exited ({self.proc.returncode}): {self.output()}") from e

    def execute(self, name, arguments=None):
        return self.client.execute(name, arguments)

    def status(self):
        return self.client.status()

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
            if (GUEST_FAILED.search(text) or not self.alive()
                    or time.monotonic() > deadline):
                return None
            time.sleep(0.5)

    def alive(self):
        return self.proc.poll() is None

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
        if self.proc.poll() is None and self.client.connected:
            try:
                self.client.timeout = 10
                self.client.send("quit")
            except qmp.Error:
                pass
        for sig in (None, 15, 9):
            if sig:
                self.proc.send_signal(sig)
            if self.wait_exit(20) is not None:
                break
        self.client.close()
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


def check_refusal_logged(k, label, kmsg):
    """The point of a refused migration: the kernel log names the fix."""
    lines = kmsg.lines()
    hit = [l for l in lines if SEED_REFUSAL in l]
    if hit:
        k.diag(f"{label}: kernel: {hit[0]}")
    k.check(bool(hit), f"{label}: the kernel log names the fix",
            "kernel log:\n" + "\n".join(lines[-20:]))


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


def migrate_qemu(k, label, src, dst, uri, timeout, legacy=False):
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


def case_migrate_qemu(k, args, label, src_dev, dst_dev, runs, expect):
    """QEMU to QEMU, the target started with -incoming defer: QEMU's own
    figures (downtime, RAM sent), with no manager between.
    Points: source probe (2), the run before, no blocker (unless legacy),
    migration outcome,
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
        end, err = migrate_qemu(k, label, src, dst, uri, args.mig_timeout, args.legacy)
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
            check_refusal_logged(k, label, kmsg)
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
    except (Gone, qmp.Error) as e:
        k.diag(f"{label}: {e}")
    finally:
        for q in qemus:
            q.stop()
        # What the driver logged (refused accesses, abandoned slots).
        for line in kmsg.lines():
            if "dsa" in line:
                k.diag(f"{label}: kernel: {line}")
    k.check(remove(src_uuid) and remove(dst_uuid), f"{label}: the devices are removable")


class Domain:
    """A libvirt domain with a guest and one assigned device, on one host:
    what Qemu is for the migration cases (the console file, its waits)."""

    def __init__(self, args, host, name, console, started=None):
        self.args, self.host, self.name, self.console = args, host, name, console
        self.started = started or time.monotonic()
        self.checked, self.up = 0.0, True

    def alive(self):
        # virsh is slow under TCG: ask at most every 5 s.
        if time.monotonic() - self.checked > 5:
            self.checked = time.monotonic()
            self.up = self.state() in ("running", "paused")
        return self.up

    def state(self):
        rc, out = self.host.virsh("domstate", self.name, timeout=120)
        return out.splitlines()[0] if rc == 0 and out else "gone"

    text = Qemu.text
    wait_for = Qemu.wait_for

    def output(self):
        try:
            with open(os.path.join(self.host.dir, "log", "qemu", f"{self.name}.log"),
                      errors="replace") as f:
                return f.read().strip()[-3000:]
        except OSError:
            return ""

    def qmp(self, command):
        rc, out = self.host.virsh("qemu-monitor-command", self.name,
                                  json.dumps({"execute": command}))
        if rc != 0:
            raise Gone(f"{self.name}: {command}: {out}")
        return json.loads(out).get("return", {})

    def wait_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state() == "gone":
                return True
            time.sleep(2)
        return False

    def destroy(self):
        self.host.virsh("destroy", self.name, timeout=120)


def mdevctl(*args):
    r = subprocess.run(["mdevctl", *args], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def define(parent, base, aggregator):
    """Defines and starts a dsa-<base>dwq device with aggregator on parent
    as a libvirt user does, with mdevctl (stock libvirt's nodedev driver
    does not know dsa parents): define, the attribute, start."""
    with open("/proc/sys/kernel/random/uuid") as f:
        uuid = f.read().strip()
    for cmd in (["define", "-u", uuid, "-p", parent, "-t", f"dsa-{base}dwq"],
                ["modify", "-u", uuid, "--addattr", "dsa/aggregator", "--value", str(aggregator)],
                ["start", "-u", uuid]):
        rc, out = mdevctl(*cmd)
        if rc != 0:
            raise Gone(f"mdevctl {' '.join(cmd)}: {out}")
    return uuid


def undefine(uuid):
    """Stops and undefines a device; whether it is gone."""
    mdevctl("stop", "-u", uuid)
    mdevctl("undefine", "-u", uuid)
    return not os.path.exists(f"{MDEV_DIR}/{uuid}")


# libvirt's way to set a device property a manager does not: only for the
# comparison without the device's dirty tracking (--legacy).
LEGACY_OVERRIDE = """  <qemu:override xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
    <qemu:device alias='hostdev0'>
      <qemu:frontend>
        <qemu:property name='enable-migration' type='string' value='on'/>
        <qemu:property name='x-device-dirty-page-tracking' type='string' value='off'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
</domain>"""


def write_domain(args, path, name, domain_uuid, uuid, spec, console):
    cmdline = (f"console=ttyS0 loglevel=7 panic=-1 guest_runs={spec}"
               f" guest_buf={args.buf} guest_timeout={args.dmatest_timeout}")
    xml = libvirt_hosts.domain_xml(name, domain_uuid, uuid, args.kernel, args.initrd, cmdline,
                                   console, args.mem)
    if args.legacy:
        xml = xml.replace("</domain>", LEGACY_OVERRIDE)
    with open(path, "w") as f:
        f.write(xml)


def jobinfo(host, name):
    """virsh domjobinfo --completed of the last migration, as a dict."""
    rc, out = host.virsh("domjobinfo", name, "--completed")
    info = {}
    for line in out.splitlines() if rc == 0 else []:
        key, _, value = line.partition(":")
        info[key.strip()] = " ".join(value.split())
    return info


def case_migrate(k, args, hosts, label, src_dev, dst_dev, runs, expect):
    """The running guest migrates under libvirt, host to host, as Nova does
    it (virsh migrate --live with --xml naming the target's device).
    Points: source probe (2), the run before, no migration blocker
    (unless --legacy), the outcome, both hosts' domstate, then: completed:
    the runs after on the target (2), the guest powers off there; failed:
    the refusal line, the runs after on the source (2), the guest powers
    off there; then both devices removable."""
    src_host, dst_host = hosts
    kmsg = Kmsg()
    name = f"dsa-{label}"
    k.diag(f"{label}: defining the devices with mdevctl")
    src_uuid = None
    try:
        src_uuid = define("dsa0", *src_dev)
        dst_uuid = define("dsa1", *dst_dev)
    except Gone as e:
        if src_uuid:
            undefine(src_uuid)
        # The case's points are not reached: they count as failures.
        k.diag(f"{label}: {e}")
        return
    k.diag(f"{label}: source dsa-{src_dev[0]}dwq x{src_dev[1]} {src_uuid} on dsa0"
           f" ({src_host.name}), target dsa-{dst_dev[0]}dwq x{dst_dev[1]} {dst_uuid}"
           f" on dsa1 ({dst_host.name})")
    spec = ":".join(map(str, runs))
    src_xml = os.path.join(args.logs, f"{label}-src.xml")
    dst_xml = os.path.join(args.logs, f"{label}-dst.xml")
    src = Domain(args, src_host, name, os.path.join(args.logs, f"{label}-src.console"))
    dst = Domain(args, dst_host, name, os.path.join(args.logs, f"{label}-dst.console"))
    for d in (src, dst):
        if os.path.exists(d.console):
            os.unlink(d.console)
    domain_uuid = str(uuidlib.uuid4())
    write_domain(args, src_xml, name, domain_uuid, src_uuid, spec, src.console)
    write_domain(args, dst_xml, name, domain_uuid, dst_uuid, spec, dst.console)
    try:
        k.diag(f"{label}: virsh create {os.path.basename(src_xml)} on {src_host.name}")
        rc, out = src_host.virsh("create", src_xml)
        if rc != 0:
            raise Gone(f"virsh create: {out}")
        k.diag(f"{label}: {out}")
        src.started = time.monotonic()
        ok = probe_points(k, src, label, args.boot_timeout)
        if ok:
            ok = bool(src.wait_for(r"^DSA-GUEST: run 2 start", args.run_timeout))
        report_runs(k, src, src.text(), label + " (source, before)", 1, runs[:1])
        if not ok:
            raise Gone("the source guest did not reach its second run")
        if not args.legacy:
            blocked = src.qmp("query-migrate").get("blocked-reasons", [])
            k.check(not blocked, f"{label}: QEMU under libvirt lists no migration blocker",
                    f"blocked-reasons: {blocked}")
        if args.legacy:
            # QEMU treats all guest RAM as dirty at every pass: allow a
            # downtime that sends all of it once.
            rc, out = src_host.virsh("migrate-setmaxdowntime", name, "60000")
            if rc != 0:
                k.diag(f"{label}: virsh migrate-setmaxdowntime: {out}")
        # Migrate at once: the second run outlasts the migration.
        t0 = time.monotonic()
        rc, out = src_host.virsh("migrate", "--live", name, dst_host.uri,
                                 "tcp://127.0.0.1", "--xml", dst_xml,
                                 timeout=int(args.mig_timeout))
        took = time.monotonic() - t0
        end = "completed" if rc == 0 else "failed"
        k.diag(f"{label}: virsh migrate --live {name} {dst_host.name} --xml {label}-dst.xml:"
               f" {'done' if rc == 0 else out} ({took:.1f} s)")
        if rc == 0:
            # The source's domain is gone with the migration: the target
            # keeps the completed job's statistics.
            info = jobinfo(src_host, name) or jobinfo(dst_host, name)
            k.diag(f"{label}: migration completed in {took:.1f} s (downtime"
                   f" {info.get('Total downtime', '?')}, memory processed"
                   f" {info.get('Memory processed', '?')}, data total"
                   f" {info.get('Data total', '?')})")
        during = "DSA-GUEST: run 2 end" not in src.text()
        k.check(end == expect and during,
                f"{label}: virsh migrate, during dmatest's second run, ends {expect}",
                f"it ended {end}{'' if during else ' after the run'}: {out}\n"
                f"{src.output()}\n{dst.output()}")
        src_state, dst_state = src.state(), dst.state()
        k.diag(f"{label}: virsh domstate {name}: {src_host.name}: {src_state},"
               f" {dst_host.name}: {dst_state}")
        want = ("gone", "running") if expect == "completed" else ("running", "gone")
        k.check((src_state, dst_state) == want,
                f"{label}: the domain runs on the {'target' if expect == 'completed' else 'source'}"
                " host only", f"expected {want}")
        if expect == "completed":
            guest = dst
        else:
            check_refusal_logged(k, label, kmsg)
            guest = src
        guest.checked = 0
        guest.wait_for(r"^DSA-GUEST: done", args.run_timeout)
        text = guest.text()
        # The target's console starts at the migration: run 2 ends there.
        where = "target" if guest is dst else "source"
        report_runs(k, guest, text if guest is src else "DSA-GUEST: run 2 start\n" + text,
                    f"{label} ({where})", 2, runs[1:])
        gone = guest.wait_gone(120)
        k.check(gone and "DSA-GUEST: done" in text,
                f"{label}: the guest powers off on the {where} and its domain ends",
                f"domstate {guest.state()}; {guest.output()}\n{guest.host.stuck(name)}")
    except Gone as e:
        k.diag(f"{label}: {e}")
    finally:
        for d in (src, dst):
            if d.state() != "gone":
                k.diag(f"{label}: virsh destroy {d.name} on {d.host.name}")
                d.destroy()
        # What the driver logged (refused accesses, abandoned slots).
        for line in kmsg.lines():
            if "dsa" in line:
                k.diag(f"{label}: kernel: {line}")
    k.diag(f"{label}: mdevctl stop and undefine")
    k.check(undefine(src_uuid) and undefine(dst_uuid), f"{label}: the devices are removable")


def watch_processes(path, stop):
    """Every 10 s until stop is set, appends to path the processes a
    slow step waits on (QEMU, virsh, mdevctl, libvirtd): state, age, the
    kernel function they sleep in, and the kernel stack of those in D."""
    with open(path, "a") as out:
        while not stop.wait(10):
            ps = subprocess.run(["ps", "-eo", "pid,ppid,stat,etimes,wchan:32,args"],
                                capture_output=True, text=True).stdout
            lines = [l[:220] for l in ps.splitlines()
                     if any(w in l for w in ("qemu-system", "virsh", "mdevctl", "libvirtd"))]
            print(time.strftime("%H:%M:%S"), file=out)
            for line in lines:
                print("  " + line, file=out)
                f = line.split()
                if len(f) > 2 and f[2].startswith("D"):
                    try:
                        with open(f"/proc/{f[0]}/stack") as st:
                            print("    " + st.read().replace("\n", "\n    ").rstrip(), file=out)
                    except OSError:
                        pass
            out.flush()


def start_hosts(k, args, hosts):
    """Brings the second daemon up once the first has probed QEMU (it
    then reuses the probe); whether both answer."""
    t0 = time.monotonic()
    k.diag("waiting for the two libvirt daemons")
    err = hosts[0].wait_up(args.boot_timeout)
    if not err:
        hosts.append(libvirt_hosts.Host(args.tmp, "host2", 1, caps=args.caps_cache))
        err = hosts[1].wait_up(args.boot_timeout)
    for h in hosts:
        k.diag(f"{h.name}: libvirtd {'up' if not err else err}, host_uuid {h.host_uuid}, {h.uri}")
    k.diag(f"libvirt daemons up in {time.monotonic() - t0:.0f} s")
    return not err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--keep", help="write the consoles and QEMU logs here")
    ap.add_argument("--ko", help="insmod this dsa_mdev.ko (parents=2 wqs=64) first,"
                    " rmmod it at the end")
    ap.add_argument("--mode", choices=("full", "short"), default="full")
    ap.add_argument("--no-libvirt", action="store_true",
                    help="skip the migrations under libvirt")
    ap.add_argument("--only", help="run only these cases (comma-separated labels)")
    ap.add_argument("--caps-cache", help="keep libvirt's probe of QEMU here, between runs")
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
    # Sockets cannot live on the 9p file system the VM shares with the host.
    args.tmp = tempfile.mkdtemp(prefix="dsa-guest.")
    args.logs = args.keep or args.tmp
    if not args.caps_cache:
        args.caps_cache = os.path.join(args.tmp, "caps")
    # The second run must outlast the migration: under libvirt the target
    # QEMU starts during it (about 10 s under TCG in TCG).
    full = args.mode == "full"
    default_runs = {"qemu": "300:2000:300" if full else "100:1000:100",
                    "libvirt": "300:30000:300" if full else "100:20000:100"}
    runs = {}
    for how, spec in default_runs.items():
        runs[how] = [int(n) for n in (args.runs or spec).split(":")]
        if len(runs[how]) != 3:
            ap.error("--runs takes three counts")

    boots = [("dsa-1dwq", 1, 1), ("dsa-2dwq-x2", 2, 2)] if full else []
    # QEMU to QEMU, then under libvirt as a manager runs it.
    migrations = [("migrate", (2, 2), (2, 2), "completed", "qemu")]
    if not args.no_libvirt:
        migrations.append(("libvirt", (2, 2), (2, 2), "completed", "libvirt"))
        if full:
            migrations.append(("seed-pair", (1, 30), (2, 15), "failed", "libvirt"))
    if args.only:
        only = set(args.only.split(","))
        boots = [b for b in boots if b[0] in only]
        migrations = [m for m in migrations if m[0] in only]
    # Points: a boot case 2 + runs + 2; a migration 2 + 1 + no blocker
    # (unless legacy) + outcome + then, under libvirt: domstate +
    # (completed: 2 runs + power off; failed: fix + 2 runs + power off);
    # QEMU to QEMU: (completed: 2 runs + exit; failed: fix + running + 2
    # runs + exit); + removal.
    total = sum(2 + 3 + 2 for _ in boots)
    for *_, e, how in migrations:
        total += 2 + 1 + (0 if args.legacy else 1) + 1 + 1
        if how == "libvirt":
            total += 1 + (3 if e == "completed" else 4)
        else:
            total += 3 if e == "completed" else 5
    k = Ktap(total, os.path.join(args.logs, "ktap.log") if args.keep else None)
    # Two libvirt daemons, two hosts: up while the cases before run (each
    # probes QEMU's capabilities first, minutes under TCG, unless
    # --caps-cache has the probe of an earlier run: then the second starts
    # once the first has probed, and probes nothing).
    hosts = []
    if any(how == "libvirt" for *_, how in migrations):
        hosts = [libvirt_hosts.Host(args.tmp, "host1", 0, caps=args.caps_cache)]
        # mdevctl keeps its definitions in /etc/mdevctl.d, read-only here:
        # a writable copy over it.
        mdevctl_d = os.path.join(args.tmp, "mdevctl.d")
        shutil.copytree("/etc/mdevctl.d", mdevctl_d, symlinks=True)
        subprocess.run(["mount", "--bind", mdevctl_d, "/etc/mdevctl.d"], check=False)
    if args.ko:
        subprocess.run(["modprobe", "-q", "mdev"], check=False)
        # Intel's IDs, so that the guest's idxd binds the device with no
        # QEMU property: a manager (Nova, libvirt) writes none.
        r = subprocess.run(["insmod", args.ko, "parents=2", "wqs=64", "intel_ids=1"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            k.diag(f"insmod {args.ko}: {r.stderr.strip()}")
            while k.n < total:
                k.check(False, "not run: the module did not load")
            return k.totals()
    for label, base, agg in boots:
        case_boot(k, args, label, base, agg, runs["qemu"])
    up = False
    # What the processes of the libvirt cases do, where the host can see
    # it while they run.
    stop_watch = threading.Event()
    if hosts and args.keep:
        threading.Thread(target=watch_processes, daemon=True,
                         args=(os.path.join(args.keep, "processes.log"), stop_watch)).start()
    for label, src, dst, expect, how in migrations:
        if how == "qemu":
            case_migrate_qemu(k, args, label, src, dst, runs["qemu"], expect)
            continue
        if not up:
            up = start_hosts(k, args, hosts)
        if up:
            case_migrate(k, args, hosts, label, src, dst, runs["libvirt"], expect)
    stop_watch.set()
    for h in hosts:
        h.stop()
    # Points a case could not reach count as failures.
    while k.n < total:
        k.check(False, "not reached")
    if args.ko:
        r = subprocess.run(["rmmod", "dsa_mdev"], capture_output=True, text=True)
        if r.returncode != 0:
            k.diag(f"rmmod dsa_mdev: {r.stderr.strip()}")
    shutil.rmtree(args.tmp, ignore_errors=True)
    return k.totals()


if __name__ == "__main__":
    sys.exit(main())
