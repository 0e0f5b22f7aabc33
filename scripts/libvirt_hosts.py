# SPDX-License-Identifier: GPL-2.0
"""libvirt daemons as hosts, inside the test VM.

The test VM has no systemd and no cgroup controllers, and its root file
system is the host's, read-only.  Each Host here is a monolithic libvirtd
of its own, as one host of a migration would run it:

  - in a private mount namespace, with its own /etc/libvirt,
    /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
    /var/log/libvirt bind-mounted from a directory of its own;
  - with its own host_uuid (libvirt refuses to migrate between two
    daemons of one host UUID, and a UUID whose bytes are all equal);
  - auth_unix_rw = "none", and a qemu.conf for a machine without cgroups
    or namespaces: cgroup_controllers = [ ], namespaces = [ ],
    security_driver = "none", stdio_handler = "file", user and group root.

Clients reach it at qemu+unix:///system?socket=<dir>/run/libvirt-sock.
LIBVIRTD names another daemon binary (a patched build); the client tools
are virsh from PATH, or VIRSH.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid as uuidlib

DIRS = (
    ("etc", "/etc/libvirt"),
    ("run", "/run/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("cache", "/var/cache/libvirt"),
    ("log", "/var/log/libvirt"),
)

QEMU_CONF = """\
# A machine with no cgroup controllers, no namespaces for QEMU, no
# security driver; QEMU's output goes to files, not virtlogd.
cgroup_controllers = [ ]
namespaces = [ ]
security_driver = "none"
stdio_handler = "file"
user = "root"
group = "root"
remember_owner = 0
migration_port_min = {port_min}
migration_port_max = {port_max}
"""

LIBVIRTD_CONF = """\
host_uuid = "{host_uuid}"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0700"
log_filters = "1:qemu.qemu_process 1:qemu.qemu_migration 3:*"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
"""


# Runs its arguments as a child, is the subreaper of everything that child
# leaves (PR_SET_CHILD_SUBREAPER), reaps it all, passes SIGTERM and SIGINT
# on, and exits with the child's status.
REAPER = (
    "import ctypes, os, signal, sys; "
    "ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0); "
    "pid = os.fork() or os.execvp(sys.argv[1], sys.argv[1:]); "
    "[signal.signal(s, lambda n, f: os.kill(pid, n)) for s in (signal.SIGTERM, signal.SIGINT)]; "
    "st = 0\n"
    "while True:\n"
    "    try:\n"
    "        p, w = os.wait()\n"
    "    except ChildProcessError:\n"
    "        sys.exit(st)\n"
    "    except InterruptedError:\n"
    "        continue\n"
    "    if p == pid:\n"
    "        st = os.waitstatus_to_exitcode(w)"
)


def virsh_binary():
    return os.environ.get("VIRSH", "virsh")


class Host:
    """One libvirtd, as one host."""

    def __init__(self, base, name, index, libvirtd=None, caps=None):
        self.name = name
        self.dir = os.path.join(base, name)
        self.libvirtd = libvirtd or os.environ.get("LIBVIRTD", "libvirtd")
        for sub, _ in DIRS:
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        # QEMU's capabilities, as an earlier daemon of this binary probed
        # them: libvirt checks that the cache still matches QEMU's and its
        # own binaries, and probes again (minutes under TCG) only if not.
        self.caps = caps_dir(caps, self.libvirtd) if caps else None
        self.caps_here = os.path.join(self.dir, "cache", "qemu", "capabilities")
        if self.caps and os.path.isdir(self.caps):
            shutil.copytree(self.caps, self.caps_here, dirs_exist_ok=True)
        etc = os.path.join(self.dir, "etc")
        if os.path.isdir("/etc/libvirt"):
            shutil.copytree("/etc/libvirt", etc, dirs_exist_ok=True, symlinks=True)
        # Distinct ports per host: the target listens for the migration.
        port_min = 49152 + 100 * index
        with open(os.path.join(etc, "qemu.conf"), "w") as f:
            f.write(QEMU_CONF.format(port_min=port_min, port_max=port_min + 99))
        self.host_uuid = str(uuidlib.uuid4())
        with open(os.path.join(etc, "libvirtd.conf"), "w") as f:
            f.write(LIBVIRTD_CONF.format(host_uuid=self.host_uuid))
        self.log = os.path.join(self.dir, "log", "libvirtd.log")
        self.out = os.path.join(self.dir, "libvirtd.out")
        mounts = " && ".join(
            f"mkdir -p {path} && mount --bind {os.path.join(self.dir, sub)} {path}"
            for sub, path in DIRS)
        # libvirtd runs under a reaper (REAPER): libvirt daemonizes QEMU,
        # whose exit it then awaits with kill(pid, 0).  On a host, init
        # reaps QEMU at once; the test VM's init reaps no orphan, so a
        # QEMU that exited stays a zombie, and libvirt waits for it for
        # minutes (virsh domstate: "in shutdown"), the domain locked.
        script = (f"{mounts} && exec {sys.executable} -c '{REAPER}'"
                  f" {self.libvirtd} -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid")
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.socket = os.path.join(self.dir, "run", "libvirt-sock")
        self.uri = f"qemu+unix:///system?socket={self.socket}"

    def virsh(self, *args, timeout=600):
        """Runs virsh against this host; returns (status, stdout + stderr).
        Each call's duration goes to the file VIRSH_TRACE names, if any."""
        t0 = time.monotonic()
        try:
            r = subprocess.run([virsh_binary(), "-c", self.uri, *args],
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, f"virsh {' '.join(args)}: no answer within {timeout} s"
        finally:
            trace = os.environ.get("VIRSH_TRACE")
            if trace:
                with open(trace, "a") as f:
                    print(f"{time.strftime('%H:%M:%S')} {self.name}:"
                          f" {time.monotonic() - t0:.1f} s virsh {' '.join(args)[:100]}", file=f)
        # virsh asks polkit when it may not connect; there is none here.
        err = "\n".join(line for line in r.stderr.splitlines()
                        if not line.startswith("Authorization not available"))
        return r.returncode, (r.stdout + err).strip()

    def wait_up(self, timeout):
        """Waits until the daemon answers (it probes QEMU's capabilities
        on the first connection to the QEMU driver, which takes a while
        under TCG); returns an error message or None."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"{self.name}: libvirtd exited ({self.proc.returncode}): {self.output()}"
            if os.path.exists(self.socket):
                rc, last = self.virsh("version", timeout=max(1, int(deadline - time.monotonic())))
                if rc == 0:
                    self.save_caps()
                    return None
            time.sleep(0.5)
        return f"{self.name}: libvirtd did not answer within {timeout} s: {last}"

    def save_caps(self):
        """Keeps the probed capabilities for the next daemon."""
        if self.caps and os.path.isdir(self.caps_here):
            try:
                shutil.copytree(self.caps_here, self.caps, dirs_exist_ok=True)
            except OSError:
                pass

    def stuck(self, name):
        """What a domain that does not end is waiting for: its QEMU's
        state and kernel stack, and the daemon's last lines on it."""
        lines = []
        ps = subprocess.run(["ps", "-eo", "pid,stat,etimes,wchan:32,args"],
                            capture_output=True, text=True).stdout
        for line in ps.splitlines():
            if "qemu-system" in line and f"guest={name}" in line:
                lines.append(line[:200])
                pid = line.split()[0]
                for what in ("stack", "wchan"):
                    try:
                        with open(f"/proc/{pid}/{what}") as f:
                            lines.append(f"{what}: {f.read().strip()}")
                    except OSError as e:
                        lines.append(f"{what}: {e}")
        if not lines:
            lines.append(f"no QEMU process of {name}")
        try:
            with open(self.log, errors="replace") as f:
                log = [l for l in f.read().splitlines()[-400:] if name in l or "error" in l]
            lines += log[-25:]
        except OSError:
            pass
        return "\n".join(lines)

    def output(self):
        text = ""
        for p in (self.out, self.log):
            try:
                with open(p, errors="replace") as f:
                    text += f.read()[-3000:]
            except OSError:
                pass
        return text.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def caps_dir(base, libvirtd):
    """The directory in base for the capabilities of one daemon binary."""
    path = shutil.which(libvirtd) or libvirtd
    key = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:16]
    return os.path.join(base, key)


def domain_xml(name, domain_uuid, uuid, kernel, initrd, cmdline, console, mem_mib, tb_mib=128):
    """A transient TCG domain domain_uuid booting kernel and initrd
    directly, with mdev uuid as a <hostdev type='mdev'> (what Nova writes)
    and its serial console in the file console.  A migration's target XML
    differs from the source's in the device and the console only."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <uuid>{domain_uuid}</uuid>
  <memory unit='MiB'>{mem_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features>
    <tcg><tb-cache unit='MiB'>{tb_mib}</tb-cache></tcg>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='{console}'/>
      <target port='0'/>
    </serial>
    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
      <source>
        <address uuid='{uuid}'/>
      </source>
    </hostdev>
    <memballoon model='none'/>
  </devices>
</domain>
"""
