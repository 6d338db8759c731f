#!/usr/bin/env python3
"""The real pvmd under a stand-in service manager: the test binds its own
NOTIFY_SOCKET (a datagram socket with SO_PASSCRED, as systemd does), starts pvmd with
NOTIFY_SOCKET and WATCHDOG_USEC set, and checks what pvmd sends and that it comes
from pvmd's own pid: READY=1 with a STATUS once it serves, WATCHDOG=1 pings while it
runs, STOPPING=1 on SIGTERM; and STATUS/ERRNO when it cannot start.

Usage: systemd_e2e_test.py --pvmd PATH --pvmctl PATH --guest-dir DIR [unittest args]
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvmd_e2e_test as base  # noqa: E402
from pvmd_e2e_test import EXIT_TIMEOUT_S, READY_TIMEOUT_S, Paths, poll_until  # noqa: E402

# Generous: bounds a wait for a message that normally comes in milliseconds.
MESSAGE_TIMEOUT_S = 30
WATCHDOG_USEC = 200_000


class NotifySocket:
    """A service manager's end of sd_notify: each datagram with its sender's pid."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)

    def close(self):
        self.sock.close()

    def receive(self, deadline):
        """(fields, sender pid) of the next message, or None at the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self.sock.settimeout(remaining)
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("iii", payload[:12])
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        return fields, pid

    def wait_for(self, key, timeout=MESSAGE_TIMEOUT_S):
        """Messages up to and including the first that sets `key`."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            message = self.receive(deadline)
            if message is None:
                raise AssertionError(f"no {key}= within {timeout} s; got {seen}")
            seen.append(message)
            if key in message[0]:
                return seen


class ServiceManagerTestCase(base.PvmdTestCase):
    """A test that plays the service manager: its NOTIFY_SOCKET, and pvmd's env."""

    daemon_args = None  # each test starts its own pvmd

    def setUp(self):
        super().setUp()
        self.notify = NotifySocket(os.path.join(self.workdir, "notify.sock"))
        self.addCleanup(self.notify.close)

    def env(self, **extra):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        env.update({k: str(v) for k, v in extra.items()})
        return env


class SystemdNotifyTest(ServiceManagerTestCase):

    def test_ready_watchdog_and_stopping_come_from_pvmd(self):
        daemon = self.start_daemon(wait=False, env=self.env(WATCHDOG_USEC=WATCHDOG_USEC))
        ready = self.notify.wait_for("READY", READY_TIMEOUT_S)[-1]
        self.assertEqual(ready[0]["READY"], "1")
        self.assertEqual(ready[1], daemon.process.pid, "READY=1 must come from pvmd itself")
        self.assertIn(f"serving on unix:{daemon.socket_path}", ready[0]["STATUS"])
        # Ready means serving: a call works at once.
        self.assertEqual(self.ctl("host", "info", socket_path=daemon.socket_path).returncode, 0)

        # Pings while it runs, with a status a person can read.
        for _ in range(3):
            ping = self.notify.wait_for("WATCHDOG")[-1]
            self.assertEqual((ping[0]["WATCHDOG"], ping[1]), ("1", daemon.process.pid))
        status = self.notify.wait_for("STATUS")[-1][0]["STATUS"]
        self.assertRegex(status, r"^serving; \d+ VM\(s\), \d+ running$")

        daemon.process.send_signal(signal.SIGTERM)
        stopping = self.notify.wait_for("STOPPING")[-1]
        self.assertEqual((stopping[0]["STOPPING"], stopping[1]), ("1", daemon.process.pid))
        self.assertIn("stopping on signal 15", stopping[0]["STATUS"])
        self.assertEqual(daemon.wait_exit(EXIT_TIMEOUT_S), 0)

    def test_no_watchdog_no_pings(self):
        daemon = self.start_daemon(wait=False, env=self.env())
        self.notify.wait_for("READY", READY_TIMEOUT_S)
        daemon.process.send_signal(signal.SIGTERM)
        until_stop = self.notify.wait_for("STOPPING")
        self.assertFalse(any("WATCHDOG" in fields for fields, _ in until_stop), until_stop)
        self.assertEqual(daemon.wait_exit(EXIT_TIMEOUT_S), 0)

    def test_a_failed_start_says_why(self):
        daemon = self.start_daemon("--kvm-device", "/nonexistent/kvm", wait=False,
                                   env=self.env())
        failed = self.notify.wait_for("ERRNO")[-1][0]
        self.assertIn("cannot use KVM", failed["STATUS"])
        self.assertNotIn("READY", failed)
        self.assertEqual(daemon.wait_exit(EXIT_TIMEOUT_S), 1)


class SocketActivationTest(ServiceManagerTestCase):
    """pvmd started by systemd-socket-activate, as pvmd.socket would: it serves the
    passed socket (accepting connections itself), leaves --socket alone, and leaves
    the socket in place when it stops (it belongs to the service manager)."""

    def test_serves_the_passed_socket_and_leaves_it_in_place(self):
        path = os.path.join(self.workdir, "activated.sock")
        unused = os.path.join(self.workdir, "unused.sock")
        log_path = os.path.join(self.workdir, "activate.log")
        with open(log_path, "wb") as log:
            activator = subprocess.Popen(
                # The activator passes the program only what -E names.
                ["systemd-socket-activate", "-l", path, "-E", f"NOTIFY_SOCKET={self.notify.path}",
                 Paths.pvmd, "--socket", unused],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env())
        self.addCleanup(lambda: activator.poll() is None and activator.kill())
        poll_until(lambda: os.path.exists(path), READY_TIMEOUT_S, lambda: f"{path} to appear")
        # The first connection starts pvmd (the activator execs it: the same pid).
        self.assertEqual(self.ctl("host", "info", socket_path=path).returncode, 0)
        ready = self.notify.wait_for("READY", READY_TIMEOUT_S)[-1]
        self.assertEqual(ready[1], activator.pid)
        self.assertIn(f"serving on unix:{path}", ready[0]["STATUS"])
        for _ in range(3):  # every connection is accepted and served, not just the first
            listed = self.ctl("vm", "list", socket_path=path)
            self.assertEqual((listed.returncode, listed.stdout), (0, "no VMs\n"))
        self.assertFalse(os.path.exists(unused), "--socket is not used under activation")

        activator.send_signal(signal.SIGTERM)
        self.assertEqual(activator.wait(timeout=EXIT_TIMEOUT_S), 0)
        with open(log_path, encoding="utf-8", errors="replace") as log:
            self.assertIn("(socket activation: accepting on the passed fd)", log.read())
        self.assertTrue(os.path.exists(path), "the service manager's socket stays")


if __name__ == "__main__":
    sys.exit(base.main())
