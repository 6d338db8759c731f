#!/usr/bin/env python3
"""End-to-end tests: the real pvmd on a private socket, driven by real pvmctl processes.

Every test gets a fresh temporary directory and its own pvmd listening on a socket in
it, talks to that daemon only through pvmctl (text and `-o json`), and asserts on exit
codes, stdout, stderr and JSON. Nothing here links against the project: what a user
or a script sees is what is tested.

Synchronisation is by polling a condition against a deadline (the socket appearing,
`pvmctl host info` answering, a VM reaching a state, console bytes arriving), never by
a fixed sleep, so the suite is fast when the machine is fast and still bounded when
it is not.

Usage: pvmd_e2e_test.py --pvmd PATH --pvmctl PATH [--guest-dir DIR] [unittest args]
Exit status 77 (ctest's SKIP_RETURN_CODE) when /dev/kvm cannot be used, unless CI=true:
then a missing KVM is a failure.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SKIP_EXIT_CODE = 77

# Bounds for things that take milliseconds on an idle machine. They are generous
# because ctest runs other KVM tests (and the ASan build runs everything) in
# parallel on few CPUs; a passing run never waits for them.
READY_TIMEOUT_S = 15.0
STATE_TIMEOUT_S = 10.0
EXIT_TIMEOUT_S = 10.0
CTL_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.01

# Limits the standard test daemon runs with, so that "beyond the limit" is cheap to ask.
MAX_VCPUS = 8
MAX_MEMORY_MIB = 256
DEFAULT_MEMORY_MIB = 32  # not pvmd's built-in default (64): proves the flag applies

# What the built-in guests print (guests/README.md).
COUNTER_STEP = 1 << 28
FAULT_CONSOLE = "fault: about to triple fault\n"


def hello_console(vcpus):
    return f"hello from pvm guest: vcpu 0 of {vcpus}, cpl 3\n"


class Paths:
    """The binaries under test, from the command line (set once in main())."""

    pvmd = None
    pvmctl = None
    guest_dir = None  # optional: enables the tests that load an image by path


def poll_until(condition, timeout, describe):
    """Calls condition() until it returns something truthy, which is returned.

    describe() explains, on timeout, what was awaited and what was last seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {describe()}")
        time.sleep(POLL_INTERVAL_S)


class CtlResult:
    """One finished pvmctl run."""

    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def json(self):
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as error:
            raise AssertionError(f"not JSON ({error}): {self}") from None

    def __str__(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")


class Daemon:
    """A pvmd process on a socket in a private directory, its output in a log file."""

    def __init__(self, workdir, args=(), socket_path=None, env=None):
        self.socket_path = socket_path or os.path.join(workdir, "pvmd.sock")
        self.log_path = os.path.join(workdir, f"pvmd-{os.getpid()}-{id(self)}.log")
        self.argv = [Paths.pvmd, "--socket", self.socket_path, *args]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, env=env)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def running(self):
        return self.process.poll() is None

    def kill(self):
        """Cleanup: SIGKILL whatever is still running, and reap it."""
        if self.running():
            self.process.kill()
        self.process.wait()

    def wait_exit(self, timeout=EXIT_TIMEOUT_S):
        """Returns the exit status, or fails if pvmd is still running after timeout."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"pvmd still running {timeout:.0f} s later\n"
                                 f"--- pvmd log ---\n{self.log()}") from None


class OutputCollector:
    """Reads a long-running process's stdout on a thread, so a test can wait for
    some output with a deadline instead of blocking in read()."""

    def __init__(self, stream):
        self._stream = stream
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while True:
            chunk = os.read(self._stream.fileno(), 65536)
            if not chunk:
                return
            with self._lock:
                self._data += chunk

    def text(self):
        with self._lock:
            return self._data.decode("utf-8", errors="replace")

    def wait_for(self, predicate, what):
        return poll_until(lambda: predicate(self.text()), STATE_TIMEOUT_S,
                          lambda: f"{what}; output so far: {self.text()!r}")

    def finish(self):
        """Waits for end of output (the process has exited) and returns all of it."""
        self._thread.join(timeout=EXIT_TIMEOUT_S)
        return self.text()


def parse_text_fields(text):
    """`key: value` lines of pvmctl's text output, as a dict."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


class PvmdTestCase(unittest.TestCase):
    """A fresh temporary directory per test; helpers to run pvmd and pvmctl."""

    # Flags of the daemon that setUp starts; None: the test starts its own.
    daemon_args = None

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="pvmd-e2e-")
        # Cleanups run last-registered-first: every process registered later is
        # killed before the directory holding its socket and log goes.
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.daemon = None
        if self.daemon_args is not None:
            self.daemon = self.start_daemon(*self.daemon_args)

    # --- processes -------------------------------------------------------------

    def start_daemon(self, *args, socket_path=None, wait=True, env=None):
        daemon = Daemon(self.workdir, args, socket_path, env)
        self.addCleanup(daemon.kill)
        if wait:
            self.wait_daemon_ready(daemon)
        return daemon

    def wait_daemon_ready(self, daemon):
        """pvmd serves once its socket exists and `pvmctl host info` answers."""

        def ready():
            if not daemon.running():
                raise AssertionError(f"pvmd exited with {daemon.process.returncode} "
                                     f"before serving\n--- pvmd log ---\n{daemon.log()}")
            if not os.path.exists(daemon.socket_path):
                return False
            return self.ctl("host", "info", socket_path=daemon.socket_path).returncode == 0

        poll_until(ready, READY_TIMEOUT_S,
                   lambda: f"pvmd to serve on {daemon.socket_path}\n"
                           f"--- pvmd log ---\n{daemon.log()}")

    def ctl_argv(self, args, socket_path, output):
        argv = [Paths.pvmctl]
        if socket_path is not False:  # False: leave --socket out (PVMD_SOCKET test)
            argv += ["--socket", socket_path or self.daemon.socket_path]
        if output:
            argv += ["-o", output]
        return argv + list(args)

    def ctl(self, *args, socket_path=None, output=None, env=None, cwd=None):
        """Runs pvmctl to completion."""
        argv = self.ctl_argv(args, socket_path, output)
        completed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, env=env, cwd=cwd, timeout=CTL_TIMEOUT_S)
        return CtlResult(argv, completed.returncode, completed.stdout, completed.stderr)

    def ctl_background(self, *args, socket_path=None):
        """Starts a long-running pvmctl (console --follow); killed in cleanup."""
        argv = self.ctl_argv(args, socket_path, None)
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)

        def reap():
            if process.poll() is None:
                process.kill()
            process.communicate()

        self.addCleanup(reap)
        return process, OutputCollector(process.stdout)

    # --- assertions ----------------------------------------------------------------

    def context(self, result):
        """What a failure message needs: the command, its output and pvmd's log."""
        text = str(result)
        if self.daemon is not None:
            text += f"\n--- pvmd log ---\n{self.daemon.log()}"
        return text

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, self.context(result))
        self.assertEqual(result.stderr, "", self.context(result))
        return result

    def ctl_ok(self, *args, **kwargs):
        return self.assert_ok(self.ctl(*args, **kwargs))

    def ctl_json(self, *args, **kwargs):
        return self.ctl_ok(*args, output="json", **kwargs).json()

    def assert_server_error(self, result, code, *fragments):
        """pvmctl exits 1 and prints `pvmctl: CODE: message` with the server's message."""
        self.assertEqual(result.returncode, 1, self.context(result))
        self.assertEqual(result.stdout, "", self.context(result))
        self.assertRegex(result.stderr, rf"^pvmctl: {code}: \S", self.context(result))
        for fragment in fragments:
            self.assertIn(fragment, result.stderr, self.context(result))

    def assert_usage_error(self, result):
        """A command line pvmctl cannot parse: exit 2, a message, nothing on stdout."""
        self.assertEqual(result.returncode, 2, self.context(result))
        self.assertEqual(result.stdout, "", self.context(result))
        self.assertRegex(result.stderr, r"^pvmctl: \S", self.context(result))

    # --- VMs -----------------------------------------------------------------------

    def create_vm(self, name, image, *flags):
        """Creates a VM through `-o json vm create` and returns its JSON."""
        vm = self.ctl_json("vm", "create", name, "--image", image, *flags)
        self.assertEqual(vm["name"], name)
        return vm

    def show_vm(self, name):
        return self.ctl_json("vm", "show", name)

    def vm_names(self):
        return [vm["name"] for vm in self.ctl_json("vm", "list")["vms"]]

    def wait_vm_state(self, name, state):
        """Polls `pvmctl -o json vm show` until the VM is in state; returns its JSON.

        Fails at once if the VM settles in another final state instead.
        """
        last = {}

        def reached():
            last["vm"] = self.show_vm(name)
            current = last["vm"]["state"]
            if current != state and current in ("stopped", "failed"):
                self.fail(f"VM {name} ended {current}, expected {state}: {last['vm']}")
            return last["vm"] if current == state else None

        return poll_until(reached, STATE_TIMEOUT_S,
                          lambda: f"VM {name} to be {state}; last seen {last.get('vm')}")

    def console(self, name):
        return self.ctl_ok("vm", "console", name).stdout

    def wait_console(self, name, predicate, what):
        last = {"text": ""}

        def seen():
            last["text"] = self.console(name)
            return predicate(last["text"])

        poll_until(seen, STATE_TIMEOUT_S,
                   lambda: f"{what} on the console of {name}; got {last['text']!r}")
        return last["text"]

    def assert_counter_console(self, text):
        """counter prints `counter: start`, then `counter: k*2^28` for k = 1, 2, ...

        A stream may end in the middle of a line; that partial line is not checked.
        """
        lines = text.split("\n")[:-1]
        self.assertGreaterEqual(len(lines), 1, repr(text))
        self.assertEqual(lines[0], "counter: start", repr(text))
        for k, line in enumerate(lines[1:], start=1):
            self.assertEqual(line, f"counter: {k * COUNTER_STEP}", repr(text))


# =====================================================================================
# Host information
# =====================================================================================


class HostInfoTest(PvmdTestCase):
    daemon_args = ()

    def test_text_reports_builtin_module_api_12_and_guest_debug(self):
        fields = parse_text_fields(self.ctl_ok("host", "info").stdout)
        self.assertEqual(fields.get("module"), "kvm_pvm (builtin)", fields)
        self.assertEqual(fields.get("kvm api version"), "12", fields)
        self.assertEqual(fields.get("guest debug"), "yes", fields)
        self.assertRegex(fields.get("debug registers", ""), r"^[1-9]\d*$", fields)

    def test_json_reports_builtin_module_api_12_and_guest_debug(self):
        info = self.ctl_json("host", "info")
        self.assertEqual(info["module"]["name"], "kvm_pvm")
        self.assertEqual(info["module"]["state"], "builtin")
        self.assertIsInstance(info["module"]["parameters"], dict)
        self.assertEqual(info["kvm"]["api_version"], 12)
        self.assertIs(info["kvm"]["guest_debug"], True)
        self.assertGreater(info["kvm"]["max_vcpus"], 0)
        # The version served is the version of the binary that serves it.
        version = subprocess.run([Paths.pvmd, "--version"], capture_output=True, text=True,
                                 timeout=CTL_TIMEOUT_S).stdout.strip()
        self.assertEqual(info["daemon_version"], version)


# =====================================================================================
# VM lifecycle
# =====================================================================================


class VmLifecycleTest(PvmdTestCase):
    daemon_args = ("--max-vcpus", str(MAX_VCPUS), "--max-memory-mib", str(MAX_MEMORY_MIB),
                   "--default-memory-mib", str(DEFAULT_MEMORY_MIB))

    def test_create_without_sizes_applies_the_daemon_defaults(self):
        created = self.ctl_ok("vm", "create", "vm-1", "--image", "builtin:hello")
        fields = parse_text_fields(created.stdout)
        self.assertEqual(fields.get("name"), "vm-1", created.stdout)
        self.assertEqual(fields.get("state"), "created", created.stdout)
        self.assertEqual(fields.get("vcpus"), "1", created.stdout)
        self.assertEqual(fields.get("memory"), f"{DEFAULT_MEMORY_MIB} MiB", created.stdout)

        vm = self.show_vm("vm-1")
        self.assertEqual(vm["state"], "created")
        self.assertEqual(vm["vcpus"], 1)
        self.assertEqual(vm["memory_mib"], DEFAULT_MEMORY_MIB)
        self.assertEqual(vm["image"], "builtin:hello")
        self.assertEqual(vm["failure"], "")
        self.assertEqual(vm["console_bytes"], 0)
        self.assertEqual([(v["id"], v["state"]) for v in vm["vcpu_info"]], [(0, "created")])

    def test_create_with_vcpus_and_memory(self):
        vm = self.create_vm("vm-2", "builtin:hello", "--vcpus", "3", "--memory", "16")
        self.assertEqual(vm["state"], "created")
        self.assertEqual(vm["vcpus"], 3)
        self.assertEqual(vm["memory_mib"], 16)
        self.assertEqual([v["id"] for v in vm["vcpu_info"]], [0, 1, 2])
        self.assertEqual(self.show_vm("vm-2")["memory_mib"], 16)

    def test_create_at_the_limits_succeeds(self):
        vm = self.create_vm("big", "builtin:hello", "--vcpus", str(MAX_VCPUS),
                            "--memory", str(MAX_MEMORY_MIB))
        self.assertEqual((vm["vcpus"], vm["memory_mib"]), (MAX_VCPUS, MAX_MEMORY_MIB))

    def test_list_text_and_json(self):
        self.assertEqual(self.ctl_ok("vm", "list").stdout, "no VMs\n")
        self.assertEqual(self.ctl_json("vm", "list"), {"vms": []})

        self.create_vm("alpha", "builtin:hello")
        self.create_vm("beta", "builtin:counter", "--vcpus", "2")
        listed = {vm["name"]: vm for vm in self.ctl_json("vm", "list")["vms"]}
        self.assertEqual(sorted(listed), ["alpha", "beta"])
        self.assertEqual(listed["beta"]["image"], "builtin:counter")
        self.assertEqual(listed["beta"]["vcpus"], 2)
        self.assertEqual(listed["beta"]["state"], "created")

        lines = self.ctl_ok("vm", "list").stdout.splitlines()
        self.assertEqual(lines[0].split()[:3], ["NAME", "STATE", "VCPUS"], lines)
        rows = sorted(line.split()[:3] for line in lines[1:])
        self.assertEqual(rows, [["alpha", "created", "1"], ["beta", "created", "2"]])

    def test_hello_prints_its_line_and_stops(self):
        self.create_vm("hello", "builtin:hello", "--vcpus", "2")
        started = self.ctl_ok("vm", "start", "hello")
        # hello may already have halted by the time the reply is printed.
        self.assertIn(parse_text_fields(started.stdout).get("state"), ("running", "stopped"),
                      started.stdout)

        vm = self.wait_vm_state("hello", "stopped")
        expected = hello_console(2)
        self.assertEqual(vm["failure"], "")
        self.assertEqual(vm["console_bytes"], len(expected))
        self.assertEqual([v["state"] for v in vm["vcpu_info"]], ["halted", "halted"])
        self.assertEqual(self.console("hello"), expected)
        # The console is raw guest output in either output format.
        self.assertEqual(self.ctl_ok("vm", "console", "hello", output="json").stdout, expected)
        self.assertEqual(parse_text_fields(self.ctl_ok("vm", "show", "hello").stdout)["state"],
                         "stopped")

    def test_create_with_start_runs_the_guest(self):
        vm = self.create_vm("hello", "builtin:hello", "--start")
        self.assertIn(vm["state"], ("running", "stopped"))
        self.wait_vm_state("hello", "stopped")
        self.assertEqual(self.console("hello"), hello_console(1))

    def test_image_by_absolute_and_relative_path(self):
        if not Paths.guest_dir:
            self.skipTest("no --guest-dir given")
        image = os.path.join(Paths.guest_dir, "hello.elf")
        vm = self.create_vm("by-path", image, "--start")
        self.assertEqual(vm["image"], image)
        self.wait_vm_state("by-path", "stopped")
        self.assertEqual(self.console("by-path"), hello_console(1))

        # pvmd opens images from its own directory: pvmctl must resolve a relative
        # path against the user's.
        relative = self.ctl_ok("vm", "create", "relative", "--image", "hello.elf", "--start",
                               output="json", cwd=Paths.guest_dir).json()
        self.assertEqual(os.path.realpath(relative["image"]), os.path.realpath(image))
        self.wait_vm_state("relative", "stopped")
        self.assertEqual(self.console("relative"), hello_console(1))

    def test_pause_and_resume_a_running_counter(self):
        self.create_vm("counter", "builtin:counter")
        started = self.ctl_json("vm", "start", "counter")
        self.assertEqual(started["state"], "running")
        self.wait_console("counter", lambda text: "\n" in text, "the first line")

        paused = self.ctl_json("vm", "pause", "counter")
        self.assertEqual(paused["state"], "paused")
        self.assertEqual([v["state"] for v in paused["vcpu_info"]], ["paused"])
        # Paused vCPUs neither exit nor print: two looks agree.
        first, second = self.show_vm("counter"), self.show_vm("counter")
        self.assertEqual(second["state"], "paused")
        self.assertEqual([(v["exits"], v["rip"]) for v in first["vcpu_info"]],
                         [(v["exits"], v["rip"]) for v in second["vcpu_info"]])
        self.assertEqual(first["console_bytes"], second["console_bytes"])

        resumed = self.ctl_ok("vm", "resume", "counter")
        self.assertEqual(parse_text_fields(resumed.stdout).get("state"), "running",
                         resumed.stdout)
        self.assertEqual(self.show_vm("counter")["vcpu_info"][0]["state"], "running")
        # Resumed, the guest makes progress again: new console output arrives.
        text = self.wait_console("counter", lambda t: len(t) > second["console_bytes"],
                                 "output after resume")
        self.assert_counter_console(text)

    def test_delete_removes_the_vm_and_frees_its_name(self):
        self.create_vm("doomed", "builtin:counter", "--start")
        self.create_vm("kept", "builtin:hello")
        self.assertEqual(self.ctl_ok("vm", "delete", "doomed").stdout, "deleted doomed\n")
        self.assertEqual(self.vm_names(), ["kept"])
        self.assert_server_error(self.ctl("vm", "show", "doomed"), "NOT_FOUND", "'doomed'")

        self.create_vm("doomed", "builtin:hello")
        self.assertEqual(self.ctl_json("vm", "delete", "doomed"),
                         {"name": "doomed", "deleted": True})
        self.assertEqual(self.vm_names(), ["kept"])

    def test_console_follow_ends_when_the_vm_is_deleted(self):
        self.create_vm("counter", "builtin:counter", "--start")
        follower, output = self.ctl_background("vm", "console", "counter", "--follow")
        output.wait_for(lambda text: text.count("\n") >= 2, "two counter lines")
        self.assertIsNone(follower.poll(), "console --follow ended while the VM runs")

        self.ctl_ok("vm", "delete", "counter")
        try:
            returncode = follower.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("console --follow still running after the VM was deleted")
        text = output.finish()
        self.assertEqual(returncode, 0, follower.stderr.read())
        self.assert_counter_console(text)

    def test_console_follow_replays_what_was_printed_before(self):
        self.create_vm("hello", "builtin:hello", "--start")
        self.wait_vm_state("hello", "stopped")
        follower, output = self.ctl_background("vm", "console", "hello", "--follow")
        output.wait_for(lambda text: text == hello_console(1), "the hello line")
        # A stopped VM can still be followed: the stream waits for deletion.
        self.assertIsNone(follower.poll())
        self.ctl_ok("vm", "delete", "hello")
        self.assertEqual(follower.wait(timeout=EXIT_TIMEOUT_S), 0)
        self.assertEqual(output.finish(), hello_console(1))

    def test_fault_vm_fails_with_the_reason_and_others_keep_running(self):
        self.create_vm("bystander", "builtin:counter", "--start")
        self.create_vm("fault", "builtin:fault", "--start")
        vm = self.wait_vm_state("fault", "failed")
        self.assertIn("triple fault", vm["failure"])
        self.assertEqual(vm["vcpu_info"][0]["state"], "failed")
        self.assertEqual(self.console("fault"), FAULT_CONSOLE)
        fields = parse_text_fields(self.ctl_ok("vm", "show", "fault").stdout)
        self.assertEqual(fields.get("state"), "failed")
        self.assertIn("triple fault", fields.get("failure", ""))

        self.assertEqual(self.show_vm("bystander")["state"], "running")
        self.ctl_ok("host", "info")
        # One log line per lifecycle change, the one no request caused included.
        lines = self.daemon.log().splitlines()
        fault_lines = [line for line in lines if line.startswith("<6>fault: ")]
        self.assertEqual(fault_lines[0], "<6>fault: created from builtin:fault with 1 vCPU(s)",
                         self.daemon.log())
        self.assertEqual(fault_lines[1], "<6>fault: now running", self.daemon.log())
        self.assertRegex(fault_lines[2], r"^<6>fault: now failed: .*triple fault", self.daemon.log())
        self.assertEqual(len(fault_lines), 3, self.daemon.log())

    def test_smp_guest_runs_four_vcpus(self):
        vm = self.create_vm("smp", "builtin:smp", "--vcpus", "4", "--start")
        self.assertEqual(len(vm["vcpu_info"]), 4)
        expected = [f"smp: vcpu {i} up" for i in range(4)]
        text = self.wait_console(
            "smp", lambda t: all(line in t.split("\n") for line in expected),
            "every vCPU's 'up' line")
        # Lines from several vCPUs never interleave; each vCPU says "up" once.
        for line in text.split("\n")[:-1]:
            self.assertRegex(line, r"^smp: vcpu [0-3] (up|at [1-9]\d*)$", repr(text))
        for line in expected:
            self.assertEqual(text.split("\n").count(line), 1, repr(text))

        vm = self.show_vm("smp")
        self.assertEqual(vm["state"], "running")
        self.assertEqual(vm["vcpus"], 4)
        self.assertEqual([v["id"] for v in vm["vcpu_info"]], [0, 1, 2, 3])
        self.assertEqual({v["state"] for v in vm["vcpu_info"]}, {"running"})
        text_show = self.ctl_ok("vm", "show", "smp").stdout
        self.assertEqual(len(re.findall(r"^vcpu \d+:", text_show, re.M)), 4, text_show)


# =====================================================================================
# Errors: exit status 1, `pvmctl: CODE: message` on stderr, nothing changed
# =====================================================================================


class VmErrorTest(PvmdTestCase):
    daemon_args = ("--max-vcpus", str(MAX_VCPUS), "--max-memory-mib", str(MAX_MEMORY_MIB))

    def assert_create_refused(self, name, code, flags, *fragments):
        for output in (None, "json"):
            with self.subTest(output=output or "text"):
                result = self.ctl("vm", "create", name, *flags, output=output)
                self.assert_server_error(result, code, *fragments)
        self.assertNotIn(name, self.vm_names())

    def test_duplicate_name_is_already_exists(self):
        self.create_vm("twin", "builtin:hello", "--vcpus", "2")
        self.assert_server_error(self.ctl("vm", "create", "twin", "--image", "builtin:counter"),
                                 "ALREADY_EXISTS", "'twin'")
        # The first VM is untouched.
        vm = self.show_vm("twin")
        self.assertEqual((vm["image"], vm["vcpus"]), ("builtin:hello", 2))

    def test_unknown_vm_is_not_found(self):
        for command in (["show"], ["start"], ["pause"], ["resume"], ["delete"], ["console"],
                        ["console", "--follow"]):
            for output in (None, "json"):
                with self.subTest(command=command, output=output or "text"):
                    result = self.ctl("vm", command[0], "ghost", *command[1:], output=output)
                    self.assert_server_error(result, "NOT_FOUND", "'ghost'")

    def test_vcpus_beyond_the_maximum_is_invalid_argument(self):
        self.assert_create_refused("wide", "INVALID_ARGUMENT",
                                   ["--image", "builtin:hello", "--vcpus", str(MAX_VCPUS + 1)],
                                   "vcpus", str(MAX_VCPUS + 1))

    def test_memory_beyond_the_limit_is_invalid_argument(self):
        self.assert_create_refused("fat", "INVALID_ARGUMENT",
                                   ["--image", "builtin:hello", "--memory",
                                    str(MAX_MEMORY_MIB + 2)],
                                   "memory", str(MAX_MEMORY_MIB))

    def test_odd_memory_is_invalid_argument(self):
        self.assert_create_refused("odd", "INVALID_ARGUMENT",
                                   ["--image", "builtin:hello", "--memory", "3"], "memory", "3")

    def test_unknown_builtin_is_invalid_argument(self):
        self.assert_create_refused("nobody", "INVALID_ARGUMENT",
                                   ["--image", "builtin:no-such-guest"], "no-such-guest")

    def test_missing_image_is_invalid_argument(self):
        self.assert_create_refused("noimage", "INVALID_ARGUMENT", [], "image")

    def test_missing_image_file_is_invalid_argument(self):
        missing = os.path.join(self.workdir, "missing.elf")
        self.assert_create_refused("lost", "INVALID_ARGUMENT", ["--image", missing], missing)

    def test_non_elf_image_is_invalid_argument(self):
        images = {
            "text": b"this is a text file, not an ELF executable\n" * 4,
            "short": b"\x7fELF",
            # An ELF identification of class ELFCLASS32: a valid header, wrong class.
            "elf32": b"\x7fELF\x01\x01\x01" + bytes(9) + bytes(48),
        }
        for kind, content in images.items():
            with self.subTest(kind=kind):
                path = os.path.join(self.workdir, f"{kind}.bin")
                with open(path, "wb") as image:
                    image.write(content)
                self.assert_create_refused(f"vm-{kind}", "INVALID_ARGUMENT",
                                           ["--image", path], path)

    def test_bad_vm_names_are_invalid_argument(self):
        for name in ("bad name", "bad/name", ".hidden", "x" * 300 + "\n", ""):
            with self.subTest(name=name):
                result = self.ctl("vm", "create", name, "--image", "builtin:hello")
                self.assert_server_error(result, "INVALID_ARGUMENT", "name")
        self.assertEqual(self.vm_names(), [])

    def test_pause_of_a_stopped_vm_and_resume_of_a_running_one_fail_precondition(self):
        self.create_vm("hello", "builtin:hello", "--start")
        self.wait_vm_state("hello", "stopped")
        self.assert_server_error(self.ctl("vm", "pause", "hello"), "FAILED_PRECONDITION",
                                 "stopped")
        self.assertEqual(self.show_vm("hello")["state"], "stopped")

        self.create_vm("counter", "builtin:counter", "--start")
        self.assert_server_error(self.ctl("vm", "resume", "counter"), "FAILED_PRECONDITION",
                                 "running")
        self.assertEqual(self.show_vm("counter")["state"], "running")

    def test_pause_of_a_paused_vm_and_resume_of_a_created_one_fail_precondition(self):
        self.create_vm("idle", "builtin:counter")
        self.assert_server_error(self.ctl("vm", "resume", "idle"), "FAILED_PRECONDITION")
        self.assert_server_error(self.ctl("vm", "pause", "idle"), "FAILED_PRECONDITION")
        self.ctl_ok("vm", "start", "idle")
        self.ctl_ok("vm", "pause", "idle")
        self.assert_server_error(self.ctl("vm", "pause", "idle"), "FAILED_PRECONDITION",
                                 "paused")
        self.assertEqual(self.show_vm("idle")["state"], "paused")

    def test_start_of_a_started_vm_fails_precondition(self):
        self.create_vm("counter", "builtin:counter", "--start")
        self.assert_server_error(self.ctl("vm", "start", "counter"), "FAILED_PRECONDITION",
                                 "running")
        self.ctl_ok("vm", "pause", "counter")
        self.assert_server_error(self.ctl("vm", "start", "counter"), "FAILED_PRECONDITION",
                                 "paused")
        self.create_vm("hello", "builtin:hello", "--start")
        self.wait_vm_state("hello", "stopped")
        self.assert_server_error(self.ctl("vm", "start", "hello"), "FAILED_PRECONDITION",
                                 "stopped")

    def test_usage_errors_exit_2(self):
        command_lines = {
            "no command": [],
            "unknown command": ["vm", "reboot", "x"],
            "unknown flag": ["--no-such-flag", "vm", "list"],
            "missing name": ["vm", "create"],
            "extra argument": ["vm", "show", "a", "b"],
            "bad output format": ["-o", "yaml", "host", "info"],
            "zero vcpus": ["vm", "create", "z", "--image", "builtin:hello", "--vcpus", "0"],
            "non-numeric vcpus": ["vm", "create", "z", "--image", "builtin:hello",
                                  "--vcpus", "many"],
            "zero memory": ["vm", "create", "z", "--image", "builtin:hello", "--memory", "0"],
        }
        for what, args in command_lines.items():
            with self.subTest(what):
                self.assert_usage_error(self.ctl(*args))
        self.assertEqual(self.vm_names(), [])


class UnreachableDaemonTest(PvmdTestCase):
    """pvmctl without a daemon: exit 1 and say so, in either output format."""

    def test_no_socket_file(self):
        path = os.path.join(self.workdir, "nobody.sock")
        for output in (None, "json"):
            with self.subTest(output=output or "text"):
                result = self.ctl("host", "info", socket_path=path, output=output)
                self.assertEqual(result.returncode, 1, str(result))
                self.assertEqual(result.stdout, "", str(result))
                self.assertIn("cannot reach pvmd", result.stderr)
                self.assertIn(path, result.stderr)

    def test_socket_file_without_a_listener(self):
        path = os.path.join(self.workdir, "stale.sock")
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(path)  # bound, never listening, closed: what a crash leaves
        result = self.ctl("vm", "list", socket_path=path)
        self.assertEqual(result.returncode, 1, str(result))
        self.assertIn("cannot reach pvmd", result.stderr)


# =====================================================================================
# The socket
# =====================================================================================


class SocketTest(PvmdTestCase):

    def socket_mode(self, path):
        mode = os.stat(path).st_mode
        self.assertTrue(stat.S_ISSOCK(mode), f"{path} is not a socket")
        return stat.S_IMODE(mode)

    def test_socket_is_created_with_mode_0660_in_a_new_directory(self):
        path = os.path.join(self.workdir, "run", "pvmd", "pvmd.sock")
        self.daemon = self.start_daemon(socket_path=path)
        self.assertEqual(oct(self.socket_mode(path)), oct(0o660))

    def test_socket_mode_flag_applies(self):
        self.daemon = self.start_daemon("--socket-mode", "0600")
        self.assertEqual(oct(self.socket_mode(self.daemon.socket_path)), oct(0o600))

    def test_world_writable_socket_mode_is_refused(self):
        path = os.path.join(self.workdir, "pvmd.sock")
        for mode in ("0666", "0662", "0777"):
            with self.subTest(mode=mode):
                result = subprocess.run([Paths.pvmd, "--socket", path, "--socket-mode", mode],
                                        stdin=subprocess.DEVNULL, capture_output=True,
                                        text=True, timeout=EXIT_TIMEOUT_S)
                self.assertEqual(result.returncode, 2, result)
                self.assertIn("world-writable", result.stderr)
                self.assertFalse(os.path.exists(path), "a refused pvmd left a socket")

    def test_second_daemon_on_a_busy_socket_is_refused(self):
        self.daemon = self.start_daemon()
        self.create_vm("survivor", "builtin:counter")

        second = self.start_daemon(wait=False)
        returncode = second.wait_exit()
        self.assertNotEqual(returncode, 0, second.log())
        self.assertIn(self.daemon.socket_path, second.log())
        self.assertRegex(second.log(), r"already|in use")

        # The refused daemon must not have taken the socket away from the first one.
        self.assertEqual(self.socket_mode(self.daemon.socket_path), 0o660)
        self.assertEqual(self.vm_names(), ["survivor"])

    def test_stale_socket_file_is_replaced(self):
        path = os.path.join(self.workdir, "pvmd.sock")
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(path)  # what a killed pvmd leaves behind
        self.daemon = self.start_daemon()
        self.assertEqual(self.socket_mode(path), 0o660)
        self.assertEqual(self.vm_names(), [])

    def test_builtin_defaults_one_vcpu_64_mib(self):
        self.daemon = self.start_daemon()
        vm = self.create_vm("plain", "builtin:hello")
        self.assertEqual((vm["vcpus"], vm["memory_mib"]), (1, 64))

    def test_pvmd_socket_environment_variable(self):
        self.daemon = self.start_daemon()
        env = dict(os.environ, PVMD_SOCKET=self.daemon.socket_path)
        result = self.ctl_ok("vm", "list", socket_path=False, env=env)
        self.assertEqual(result.stdout, "no VMs\n")


# =====================================================================================
# Signals: stop serving, tear every VM down, remove the socket, exit 0
# =====================================================================================


class ShutdownTest(PvmdTestCase):
    daemon_args = ()

    def populate(self):
        """VMs in every state, busy ones on both the native and the emulated path,
        and a client streaming a console."""
        self.create_vm("counter", "builtin:counter", "--start")
        self.create_vm("smp", "builtin:smp", "--vcpus", "4", "--start")
        self.create_vm("kcounter", "builtin:kcounter", "--start")
        self.create_vm("paused", "builtin:counter", "--start")
        self.ctl_ok("vm", "pause", "paused")
        self.create_vm("created", "builtin:hello")
        self.create_vm("hello", "builtin:hello", "--start")
        self.create_vm("fault", "builtin:fault", "--start")
        self.wait_vm_state("hello", "stopped")
        self.wait_vm_state("fault", "failed")
        self.wait_console("smp", lambda t: t.count(" up\n") == 4, "every vCPU up")
        follower, output = self.ctl_background("vm", "console", "counter", "--follow")
        output.wait_for(lambda text: text.startswith("counter: start\n"), "counter's first line")
        return follower

    def assert_clean_exit_on(self, signum):
        follower = self.populate()
        self.daemon.process.send_signal(signum)
        returncode = self.daemon.wait_exit()
        self.assertEqual(returncode, 0, self.daemon.log())
        self.assertFalse(os.path.exists(self.daemon.socket_path),
                         "pvmd left its socket behind")
        # Streams end with the daemon instead of hanging.
        try:
            follower.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("console --follow still running after pvmd exited")
        result = self.ctl("vm", "list")
        self.assertEqual(result.returncode, 1, str(result))
        self.assertIn("cannot reach pvmd", result.stderr)

    def test_sigterm_tears_down_vms_and_removes_the_socket(self):
        self.assert_clean_exit_on(signal.SIGTERM)

    def test_sigint_tears_down_vms_and_removes_the_socket(self):
        self.assert_clean_exit_on(signal.SIGINT)

    def test_sigterm_without_vms(self):
        self.daemon.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait_exit(), 0, self.daemon.log())
        self.assertFalse(os.path.exists(self.daemon.socket_path))


# =====================================================================================


def kvm_unavailable_reason():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError as error:
        return f"/dev/kvm cannot be opened: {error.strerror}"
    return None


def main(name="pvmd_e2e", needs_root=False, needs_guest_dir=False):
    """The shared entry point of the e2e scripts: NAME's flags, the checks of what the
    tests need (KVM; root when `needs_root`), then unittest with the remaining args.
    A missing need is a skip (77), except under CI=true where it is a failure."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    parser.add_argument("--pvmd", required=True, help="the pvmd binary under test")
    parser.add_argument("--pvmctl", required=True, help="the pvmctl binary under test")
    parser.add_argument("--guest-dir", required=needs_guest_dir,
                        help="directory of the built guest images NAME.elf")
    args, unittest_args = parser.parse_known_args()
    for binary in (args.pvmd, args.pvmctl):
        if not os.access(binary, os.X_OK):
            print(f"{name}: {binary} is not an executable", file=sys.stderr)
            return 1
    Paths.pvmd = os.path.abspath(args.pvmd)
    Paths.pvmctl = os.path.abspath(args.pvmctl)
    Paths.guest_dir = os.path.abspath(args.guest_dir) if args.guest_dir else None

    reason = kvm_unavailable_reason()
    if not reason and needs_root and os.geteuid() != 0:
        reason = "the tests run clients as other users, which takes root"
    if reason:
        if os.environ.get("CI") == "true":
            print(f"{name}: FAIL: {reason}, and CI=true requires it", file=sys.stderr)
            return 1
        print(f"{name}: SKIP: {reason}", file=sys.stderr)
        return SKIP_EXIT_CODE

    program = unittest.main(argv=[sys.argv[0], *unittest_args], exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
