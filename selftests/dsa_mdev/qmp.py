# SPDX-License-Identifier: GPL-2.0
"""A QMP client: the one of qemu.py beside it and of scripts/guest-vm.py.

QEMU listens with -qmp unix:PATH,server=on,wait=off; the client connects
(waiting for the socket, since QEMU creates it once it is up), reads the
greeting, leaves capabilities negotiation with qmp_capabilities, then runs
commands one at a time and skips the asynchronous events between them.

    q = QMP(path, "source QEMU", timeout=120, alive=lambda: p.poll() is None)
    q.connect()
    q.execute("query-status")["status"]

Every failure raises an Error: Gone when QEMU cannot be talked to (any
more): no socket in time, no answer in time, the connection closed, not
QMP; Refused when QEMU answered a command with an error.  Their messages
start with the client's name.
"""

import json
import socket
import time


class Error(Exception):
    """Talking QMP failed."""


class Gone(Error):
    """A QEMU that cannot be talked to (any more)."""


class Refused(Error):
    """A QEMU answered a command with an error."""


class QMP:
    """The QMP connection to one QEMU.

    path     the unix socket QEMU listens on
    name     what the errors call this QEMU
    timeout  seconds any one wait may take: for the socket, for an answer
    alive    a callable that tells whether the QEMU process still runs:
             connect() stops waiting for the socket once it does not, and
             a Gone says "(it exited)"
    deadline a time.monotonic() after which no wait goes on, however much
             of timeout is left (a bound on a whole conversation)
    """

    def __init__(self, path, name="QEMU", timeout=60.0, alive=None, deadline=None):
        self.path, self.name, self.timeout = path, name, timeout
        self.alive, self.deadline = alive, deadline
        self.sock = self.rfile = None

    @property
    def connected(self):
        return self.sock is not None

    def close(self):
        for f in (self.rfile, self.sock):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        self.sock = self.rfile = None

    def gone(self, why):
        """Closes the connection; the Gone to raise, with why."""
        self.close()
        if self.alive and not self.alive():
            why += " (it exited)"
        return Gone(f"{self.name}: {why}")

    def _wait(self):
        """The seconds the next wait may take."""
        t = self.timeout
        if self.deadline is not None:
            t = min(t, self.deadline - time.monotonic())
            if t <= 0:
                raise self.gone(f"no answer within {self.timeout:g} s")
        return t

    def connect(self):
        """Connects, once QEMU has created its socket, and leaves
        capabilities negotiation."""
        end = time.monotonic() + self._wait()
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
                break
            except OSError as e:
                s.close()
                if (self.alive and not self.alive()) or time.monotonic() > end:
                    raise self.gone(f"no QMP socket: {e}")
                time.sleep(0.2)
        self.sock, self.rfile = s, s.makefile("rb")
        if "QMP" not in self.receive():
            raise self.gone("no QMP greeting")
        self.execute("qmp_capabilities")

    def receive(self):
        """The next message from QEMU, decoded."""
        if not self.sock:
            raise Gone(f"{self.name}: not connected")
        try:
            self.sock.settimeout(self._wait())
            line = self.rfile.readline()
        except socket.timeout:
            raise self.gone(f"no answer within {self.timeout:g} s") from None
        except OSError as e:
            raise self.gone(f"QMP: {type(e).__name__}: {e}") from e
        if not line:
            raise self.gone("closed the QMP connection")
        try:
            return json.loads(line)
        except ValueError as e:
            raise self.gone(f"not QMP: {e}") from e

    def send(self, command, arguments=None):
        """Sends a command and does not wait for its answer: for quit,
        whose answer may not come before QEMU closes the connection."""
        if not self.sock:
            raise Gone(f"{self.name}: not connected")
        msg = {"execute": command}
        if arguments is not None:
            msg["arguments"] = arguments
        try:
            self.sock.settimeout(self._wait())
            self.sock.sendall(json.dumps(msg).encode() + b"\r\n")
        except OSError as e:
            raise self.gone(f"{command}: {type(e).__name__}: {e}") from e

    def execute(self, command, arguments=None):
        """Runs a command; what it returns."""
        self.send(command, arguments)
        while True:
            r = self.receive()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise Refused(f"{self.name}: {command}: {r['error'].get('desc', r['error'])}")
            # Anything else is an asynchronous event: not ours.

    def hmp(self, line):
        """Runs an HMP command; its output."""
        return self.execute("human-monitor-command", {"command-line": line})

    def status(self):
        """The run state of query-status: prelaunch, running, inmigrate..."""
        return self.execute("query-status")["status"]

    def pci_devices(self):
        """Every device of query-pci, those behind bridges too."""
        def devices(buses):
            for bus in buses:
                for d in bus.get("devices", []):
                    yield d
                    if "pci_bridge" in d:
                        yield from devices([d["pci_bridge"]])

        return list(devices(self.execute("query-pci")))
