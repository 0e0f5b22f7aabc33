#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""libvirt's node device driver and dsa_mdev parents, in the test VM.

Runs as root in the test VM (scripts/libvirt-nodedev.sh boots it, with
udevd: libvirt learns of new devices from udev's events).  With dsa_mdev
(parents=2, wqs=64) and mtty loaded, one libvirtd (LIBVIRTD, a patched
build or the system's) runs as a host does (scripts/libvirt_hosts.py), and
this drives it with virsh as a user or Nova would:

  1. virsh nodedev-list --cap mdev_types lists dsa_dsa0 and dsa_dsa1 (and
     mtty_mtty);
  2. virsh nodedev-dumpxml dsa_dsa0 shows the parent's four types, each
     with its name, deviceAPI vfio-pci and the availableInstances sysfs has;
  3. virsh nodedev-define of an mdev on dsa_dsa0 of type dsa-2dwq with
     <attr name='dsa/aggregator' value='3'/>, then nodedev-start: the
     device exists, holds 6 WQs (dsa/wq_ids), names dsa_dsa0 as its parent,
     and the availableInstances libvirt reports follow sysfs;
  4. virsh nodedev-destroy, then nodedev-undefine: the device is gone,
     libvirt no longer lists it, and the WQs are back.

virsh's own output is printed as diagnostics.  Against the patched
libvirt (--libvirtd, --virsh) each step is a KTAP point.  With --stock,
first against the system's libvirt 11.3: every step is run and printed,
one that fails does not stop the others, and the one point is that the
first step fails, as it does without the series of patches/libvirt/.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt_hosts
from ktap import Ktap

MDEV_DIR = "/sys/bus/mdev/devices"
CLASS = "/sys/class/dsa"
PARENT = "dsa_dsa0"
TYPE = "dsa-2dwq"
AGGREGATOR = 3


def sysfs_types(parent):
    """{type id: (name, device_api, available_instances)} from sysfs."""
    types = {}
    d = f"{CLASS}/{parent}/mdev_supported_types"
    for t in sorted(os.listdir(d)):
        vals = []
        for f in ("name", "device_api", "available_instances"):
            with open(f"{d}/{t}/{f}") as fh:
                vals.append(fh.read().strip())
        types[t] = (vals[0], vals[1], int(vals[2]))
    return types


def libvirt_types(xml):
    """The same from nodedev-dumpxml's <capability type='mdev_types'>."""
    types = {}
    root = ET.fromstring(xml)
    for cap in root.iter("capability"):
        if cap.get("type") != "mdev_types":
            continue
        for t in cap.findall("type"):
            name = t.findtext("name", "")
            api = t.findtext("deviceAPI", "")
            avail = int(t.findtext("availableInstances", "-1"))
            types[t.get("id")] = (name, api, avail)
    return types


def wq_count(ids):
    """The number of WQs in the kernel's list format (0-29,32)."""
    n = 0
    for part in filter(None, ids.strip().split(",")):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


class Flow:
    """The steps, each a function returning (ok, why); a step's virsh
    output goes to the diagnostics."""

    def __init__(self, k, host):
        self.k, self.host = k, host
        self.uuid = str(uuidlib.uuid4())
        self.name = None

    def virsh(self, *args):
        rc, out = self.host.virsh(*args, timeout=300)
        self.k.diag(f"$ virsh {' '.join(args)}" + ("" if rc == 0 else f"   (exit {rc})"))
        self.k.diag(out or "(no output)")
        return rc, out

    def types_agree(self, label):
        rc, out = self.virsh("nodedev-dumpxml", PARENT)
        if rc != 0:
            return False, f"nodedev-dumpxml {PARENT} failed"
        try:
            got = libvirt_types(out)
        except ET.ParseError as e:
            return False, f"not XML: {e}"
        want = sysfs_types("dsa0")
        if got != want:
            return False, f"{label}: libvirt reports {got}, sysfs has {want}"
        if len(got) != 4 or any(api != "vfio-pci" or not name for name, api, _ in got.values()):
            return False, f"{label}: not four vfio-pci types with a name: {got}"
        return True, ""

    def list_parents(self):
        rc, out = self.virsh("nodedev-list", "--cap", "mdev_types")
        names = set(out.split()) if rc == 0 else set()
        missing = {"dsa_dsa0", "dsa_dsa1", "mtty_mtty"} - names
        return not missing, f"missing: {sorted(missing)}"

    def dump_parent(self):
        self.before = sysfs_types("dsa0")
        return self.types_agree("before")

    def define_start(self):
        path = os.path.join(tempfile.gettempdir(), f"mdev-{self.uuid}.xml")
        with open(path, "w") as f:
            f.write(f"""<device>
  <parent>{PARENT}</parent>
  <capability type='mdev'>
    <type id='{TYPE}'/>
    <uuid>{self.uuid}</uuid>
    <attr name='dsa/aggregator' value='{AGGREGATOR}'/>
  </capability>
</device>
""")
        with open(path) as f:
            self.k.diag(f"$ cat {os.path.basename(path)}\n{f.read().rstrip()}")
        rc, out = self.virsh("nodedev-define", path)
        m = re.search(r"Node device '([^']+)' defined", out)
        if rc != 0 or not m:
            return False, "nodedev-define failed"
        self.name = m.group(1)
        rc, out = self.virsh("nodedev-start", self.name)
        if rc != 0:
            return False, "nodedev-start failed"
        try:
            with open(f"{MDEV_DIR}/{self.uuid}/dsa/wq_ids") as f:
                ids = f.read().strip()
        except OSError as e:
            return False, f"no device {self.uuid} in sysfs: {e}"
        self.k.diag(f"$ cat {MDEV_DIR}/{self.uuid}/dsa/wq_ids\n{ids}")
        if wq_count(ids) != 2 * AGGREGATOR:
            return False, f"the device holds {ids}, not {2 * AGGREGATOR} WQs"
        # libvirt learns of the device from udev: wait for it to be active.
        deadline = time.monotonic() + 60
        while True:
            rc, out = self.host.virsh("nodedev-dumpxml", self.name)
            if rc == 0 and f"<parent>{PARENT}</parent>" in out and "<iommuGroup" in out:
                break
            if time.monotonic() > deadline:
                self.k.diag(out)
                return False, f"libvirt does not show {self.name} active on {PARENT}"
            time.sleep(1)
        self.virsh("nodedev-dumpxml", self.name)
        ok, why = self.types_agree("after start")
        if ok and sysfs_types("dsa0") == self.before:
            return False, "availableInstances did not change"
        return ok, why

    def destroy_undefine(self):
        if not self.name:
            return False, "no device"
        rc, _ = self.virsh("nodedev-destroy", self.name)
        if rc != 0:
            return False, "nodedev-destroy failed"
        rc, _ = self.virsh("nodedev-undefine", self.name)
        if rc != 0:
            return False, "nodedev-undefine failed"
        if os.path.exists(f"{MDEV_DIR}/{self.uuid}"):
            return False, "the device is still in sysfs"
        deadline = time.monotonic() + 60
        while True:
            rc, out = self.host.virsh("nodedev-list", "--cap", "mdev", "--all")
            if rc == 0 and self.name not in out.split():
                break
            if time.monotonic() > deadline:
                return False, f"libvirt still lists {self.name}: {out}"
            time.sleep(1)
        self.virsh("nodedev-list", "--cap", "mdev", "--all")
        ok, why = self.types_agree("after undefine")
        if ok and sysfs_types("dsa0") != self.before:
            return False, f"the WQs are not back: {sysfs_types('dsa0')} != {self.before}"
        return ok, why

    def cleanup(self):
        """What a failed step left: the device, its definition."""
        if os.path.exists(f"{MDEV_DIR}/{self.uuid}"):
            subprocess.run(["mdevctl", "stop", "-u", self.uuid], capture_output=True)
        subprocess.run(["mdevctl", "undefine", "-u", self.uuid], capture_output=True)


STEPS = (
    ("list_parents", "virsh nodedev-list --cap mdev_types lists dsa_dsa0, dsa_dsa1 and mtty_mtty"),
    ("dump_parent", f"virsh nodedev-dumpxml {PARENT}: four types, name, deviceAPI and"
     " availableInstances as in sysfs"),
    ("define_start", f"virsh nodedev-define ({TYPE}, dsa/aggregator {AGGREGATOR}) and"
     f" nodedev-start: {2 * AGGREGATOR} WQs, parent {PARENT}, availableInstances follow"),
    ("destroy_undefine", "virsh nodedev-destroy and nodedev-undefine: the device is gone,"
     " the WQs are back"),
)


def run_daemon(k, args, tmp, label, libvirtd, virsh, stock):
    """The steps against one daemon; the points as the module says."""
    os.environ["VIRSH"] = virsh
    host = libvirt_hosts.Host(tmp, label.split()[0], 0, libvirtd=libvirtd,
                              caps=args.caps_cache or os.path.join(tmp, "caps"))
    t0 = time.monotonic()
    err = host.wait_up(args.timeout)
    k.diag(f"{label}: {libvirtd}: {'up in %.0f s' % (time.monotonic() - t0) if not err else err}")
    _, out = host.virsh("version")
    k.diag(out)
    flow = Flow(k, host)
    results = []
    if not stock:
        k.check(not err, f"{label}: libvirtd answers")
    if not err:
        # A stock libvirt fails early: run every step anyway, to print
        # which steps fail.
        for fn, desc in STEPS:
            try:
                ok, why = getattr(flow, fn)()
            except (OSError, ValueError, ET.ParseError) as e:
                ok, why = False, f"{type(e).__name__}: {e}"
            results.append((desc, ok))
            if stock:
                k.diag(f"{label}: {'works' if ok else 'FAILS'}: {desc}"
                       + ("" if ok else f" ({why})"))
            else:
                k.check(ok, f"{label}: {desc}", why)
    flow.cleanup()
    if stock:
        k.check(bool(results) and not results[0][1],
                f"{label}: does not list the dsa parents (the bug patches/libvirt/ fixes)",
                "the stock libvirt lists them: is the fix upstream?")
    host.stop()
    if not stock:
        left = [u for u in os.listdir(MDEV_DIR)] if os.path.isdir(MDEV_DIR) else []
        k.check(not left, f"{label}: no mediated device left", f"left: {left}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ko", required=True, help="dsa_mdev.ko")
    ap.add_argument("--mtty", required=True, help="mtty.ko")
    ap.add_argument("--stock", action="store_true",
                    help="first run the steps against the system's libvirtd and virsh")
    ap.add_argument("--libvirtd", help="the patched libvirtd")
    ap.add_argument("--virsh", help="the patched virsh")
    ap.add_argument("--caps-cache")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    total = (1 if args.stock else 0) + (2 + len(STEPS) if args.libvirtd else 0) + 1
    k = Ktap(total)
    tmp = tempfile.mkdtemp(prefix="dsa-libvirt.")
    subprocess.run(["modprobe", "-q", "mdev"], check=False)
    for ko, params in ((args.mtty, []), (args.ko, ["parents=2", "wqs=64"])):
        r = subprocess.run(["insmod", ko, *params], capture_output=True, text=True)
        if r.returncode != 0:
            k.diag(f"insmod {ko}: {r.stderr.strip()}")
    # mdevctl keeps its definitions in /etc/mdevctl.d, read-only here: a
    # writable copy over it.
    mdevctl_d = os.path.join(tmp, "mdevctl.d")
    shutil.copytree("/etc/mdevctl.d", mdevctl_d, symlinks=True)
    subprocess.run(["mount", "--bind", mdevctl_d, "/etc/mdevctl.d"], check=False)
    if args.stock:
        run_daemon(k, args, tmp, "stock libvirt", "libvirtd", "virsh", True)
    if args.libvirtd:
        run_daemon(k, args, tmp, "patched libvirt", args.libvirtd, args.virsh or "virsh", False)
    # Nothing left behind: the module unloads.
    r = subprocess.run(["rmmod", "dsa_mdev"], capture_output=True, text=True)
    k.check(r.returncode == 0, "dsa_mdev unloads afterwards", r.stderr.strip())
    subprocess.run(["rmmod", "mtty"], capture_output=True)
    subprocess.run(["umount", "/etc/mdevctl.d"], check=False)
    shutil.rmtree(tmp, ignore_errors=True)
    return k.totals()


if __name__ == "__main__":
    sys.exit(main())
