# SPDX-License-Identifier: GPL-2.0
"""KTAP output for the test VM's Python drivers (guest-vm.py, libvirt-vm.py)."""

import time


class Ktap:
    """KTAP output: a plan, then one line per test point.

    The VM's output reaches the host when the command ends; with copy, each
    line also goes, timestamped, to that file (in a directory the VM shares
    with the host), which shows how far a run has come."""

    def __init__(self, total, copy=None):
        self.total = total
        self.n = 0
        self.failed = 0
        self.copy = open(copy, "w") if copy else None
        self.out("KTAP version 1")
        self.out(f"1..{total}")

    def out(self, line):
        print(line, flush=True)
        if self.copy:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=self.copy, flush=True)

    def diag(self, msg):
        for line in str(msg).splitlines():
            self.out(f"# {line}")

    def check(self, ok, desc, why=""):
        self.n += 1
        if not ok:
            self.failed += 1
            if why:
                self.diag(why)
        self.out(f"{'ok' if ok else 'not ok'} {self.n} {desc}")
        return ok

    def totals(self):
        """Ends the run with the count kselftest's programs end with: a
        planned point never reported counts as failed.  Returns the exit
        status: 0 if every point passed."""
        failed = self.failed + max(self.total - self.n, 0)
        self.out(f"# Totals: pass:{self.n - self.failed} fail:{failed} "
                 "xfail:0 xpass:0 skip:0 error:0")
        return 0 if failed == 0 else 1
