#!/usr/bin/env python3
"""End-to-end tests of pvmd's gdb stub: Debian's real gdb against the real pvmd.

`pvmctl debug gdb NAME` starts a VM's gdb remote-serial-protocol server; gdb
(batch mode, `target remote ADDRESS`, the guest's ELF image for its symbols) drives
it, and the tests assert on what gdb itself prints, checked against `pvmctl debug`
(regs, mem, status, events) at the same stop and against the ELF image. A raw RSP
client covers what gdb never sends: garbage, bad checksums, overlong packets.

Guests (guests/README.md): `ustep` (native CPL3 loop with a symbol per instruction,
ustep_i0..ustep_i7, ustep_inc; vCPU 0 stores its loop count to `watched_value` at
uwatch_store), `counter`, `smp`. On kvm-pvm natively running code has no hardware
debug exits: the engine serves gdb's hbreaks as INT3 patches, its steps by TF and its
watchpoints by page protection; gdb cannot tell, which is the point.

The processes, helpers and conventions are pvmd_e2e_test.py's: a fresh pvmd per test
on a private socket, polling against deadlines instead of sleeping; every gdb run has
a generous timeout so that a hang fails its test instead of blocking ctest.

Usage: gdb_e2e_test.py --pvmd PATH --pvmctl PATH --guest-dir DIR --gdb PATH [unittest args]
Exit status 77 (ctest's SKIP_RETURN_CODE) when /dev/kvm cannot be used, unless CI=true.
A missing gdb is a failure, never a skip (scripts/setup installs it).
Set GDB_E2E_REMOTE_DEBUG=1 to run every gdb with `set debug remote 1` (the packet log
is in a failing test's output).
"""

import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

# No __pycache__ in the source tree from importing the sibling modules.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvmd_e2e_test as base  # noqa: E402
from pvmd_e2e_test import (  # noqa: E402
    EXIT_TIMEOUT_S, STATE_TIMEOUT_S, Paths, poll_until)
from debug_e2e_test import ElfImage  # noqa: E402

# A gdb run takes a second or two; this only bounds a hang.
GDB_TIMEOUT_S = 60.0
# One RSP exchange with the stub (a stop included, for the loop guests).
RSP_TIMEOUT_S = 15.0
GDB_PROMPT = "(gdb) "

# gdb's names for the registers `info registers` shows, in kvm_regs' JSON names.
GENERAL_REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
                     "r10", "r11", "r12", "r13", "r14", "r15", "rip")
SEGMENT_REGISTERS = ("cs", "ss", "ds", "es", "fs", "gs")
# watched_value has no DWARF type (it is defined in ustep.S): gdb needs it spelled out.
WATCH_EXPRESSION = "*(unsigned long *)&watched_value"


class Gdb:
    """The gdb binary under test (set in main())."""

    path = None


def remote_debug_commands():
    return ["set debug remote 1"] if os.environ.get("GDB_E2E_REMOTE_DEBUG") == "1" else []


class GdbResult:
    """One finished batch gdb: its exit status and merged output, split per command.

    Every command is preceded by an `echo` of a marker line, so the output of the
    n-th command is what lies between its marker and the next one."""

    MARKER = "@@gdb-e2e-command-{}@@"

    def __init__(self, argv, commands, returncode, output):
        self.argv = argv
        self.commands = commands
        self.returncode = returncode
        self.output = output
        self.sections = []  # (command, its output)
        for index, command in enumerate(commands):
            start = output.find(self.MARKER.format(index) + "\n")
            if start < 0:
                self.sections.append((command, None))  # gdb ended before it
                continue
            start += len(self.MARKER.format(index)) + 1
            end = output.find(self.MARKER.format(index + 1) + "\n", start)
            self.sections.append((command, output[start:] if end < 0 else output[start:end]))

    def after(self, command, occurrence=0):
        """The output of the occurrence-th (0-based) run of `command`."""
        seen = [text for c, text in self.sections if c == command]
        if occurrence >= len(seen) or seen[occurrence] is None:
            raise AssertionError(f"no output of {command!r} #{occurrence}\n{self}")
        return seen[occurrence]

    def value(self, command, occurrence=0):
        """The value of a `p` command: `$N = VALUE`."""
        text = self.after(command, occurrence)
        match = re.search(r"^\$\d+ = (.*)$", text, re.M)
        if not match:
            raise AssertionError(f"{command!r} printed no value: {text!r}\n{self}")
        return match.group(1).strip()

    def int_value(self, command, occurrence=0):
        return int(self.value(command, occurrence), 0)

    def __str__(self):
        return (f"$ {shlex.join(self.argv)}\nexit {self.returncode}\n"
                f"--- gdb output ---\n{self.output}")


class RspClient:
    """A raw gdb remote-serial-protocol client on a socket: what gdb does on the wire,
    with the acknowledgements left on, and whatever gdb would never send."""

    def __init__(self, address, timeout=RSP_TIMEOUT_S):
        if address.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(address)
        else:
            host, _, port = address.rpartition(":")
            self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def frame(payload):
        data = payload.encode("latin-1") if isinstance(payload, str) else payload
        return b"$" + data + b"#" + f"{sum(data) % 256:02x}".encode()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no reply from the stub in {self.timeout:.0f} s; "
                                 f"have {self.buffer!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no reply from the stub in {self.timeout:.0f} s; "
                                 f"have {self.buffer!r}") from None
        if not chunk:
            raise AssertionError(f"the stub closed the connection; have {self.buffer!r}")
        self.buffer += chunk

    def read_ack(self):
        """The next '+' or '-'."""
        deadline = time.monotonic() + self.timeout
        while not self.buffer:
            self._fill(deadline)
        ack, self.buffer = self.buffer[:1], self.buffer[1:]
        return ack

    def read_packet(self, ack=True):
        """The next `$payload#cs` (its checksum checked), acknowledged with '+'."""
        deadline = time.monotonic() + self.timeout
        while True:
            start = self.buffer.find(b"$")
            end = self.buffer.find(b"#", start + 1) if start >= 0 else -1
            if start >= 0 and end >= 0 and len(self.buffer) >= end + 3:
                break
            self._fill(deadline)
        if start != 0:
            raise AssertionError(f"bytes before a packet: {self.buffer[:start]!r}")
        payload = self.buffer[1:end]
        checksum = int(self.buffer[end + 1:end + 3], 16)
        self.buffer = self.buffer[end + 3:]
        if sum(payload) % 256 != checksum:
            raise AssertionError(f"bad checksum from the stub on {payload!r}")
        if ack:
            self.send_raw(b"+")
        return payload.decode("latin-1")

    def command(self, payload):
        """Sends a packet, expects '+', returns the reply's payload."""
        self.send_raw(self.frame(payload))
        ack = self.read_ack()
        if ack != b"+":
            raise AssertionError(f"stub answered {ack!r} to {payload!r}")
        return self.read_packet()

    def expect_silence(self, seconds=0.2):
        """Nothing arrives for a moment (for input the stub must ignore)."""
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        raise AssertionError(f"the stub answered ignored input with {chunk!r}")


class InteractiveGdb:
    """gdb on a pseudo-terminal, as a user runs it: commands go in as lines, output is
    collected on a thread, and SIGINT can be sent while the target runs (Ctrl-C)."""

    def __init__(self, argv, env):
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                        env=env, close_fds=True)
        os.close(slave)
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if not ready:
                    if self.process.poll() is not None:
                        return
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: gdb closed the terminal
                return
            if not chunk:
                return
            with self._lock:
                self._data += chunk

    def text(self):
        with self._lock:
            return self._data.decode("utf-8", errors="replace").replace("\r\n", "\n")

    def send(self, line):
        os.write(self.master, line.encode() + b"\n")

    def wait_for(self, predicate, what, timeout=GDB_TIMEOUT_S):
        def seen():
            if self.process.poll() is not None and not predicate(self.text()):
                raise AssertionError(f"gdb exited ({self.process.returncode}) before {what}; "
                                     f"output:\n{self.text()}")
            return predicate(self.text())

        return poll_until(seen, timeout, lambda: f"{what}; gdb output so far:\n{self.text()}")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._thread.join(timeout=EXIT_TIMEOUT_S)
        os.close(self.master)


class GdbTestCase(base.PvmdTestCase):
    daemon_args = ()

    def setUp(self):
        super().setUp()
        self.ustep = ElfImage(self.elf_path("ustep"))
        self.sym = self.ustep.symbols

    # --- guests and the stub -----------------------------------------------------------

    @staticmethod
    def elf_path(guest):
        return os.path.join(Paths.guest_dir, f"{guest}.elf")

    def start_guest(self, name, guest, up_lines=1, vcpus=1):
        """A started VM whose vCPUs have printed their first line (so they are in
        their loop, past the boot code)."""
        self.create_vm(name, f"builtin:{guest}", "--vcpus", str(vcpus), "--start")
        if guest in ("ustep", "smp"):
            self.wait_console(name, lambda t: t.count(" up\n") >= up_lines, "every vCPU up")
        else:
            self.wait_console(name, lambda t: "\n" in t, "the first line")

    def start_stub(self, name, *flags):
        """`pvmctl -o json debug gdb NAME`: the address gdb's `target remote` takes."""
        started = self.ctl_json("debug", "gdb", name, *flags)
        self.assertEqual(started["vm"], name, started)
        self.assertIsInstance(started["address"], str, started)
        self.assertNotEqual(started["address"], "", started)
        return started["address"]

    def ustep_stub(self, name="u", enable=False):
        """A running ustep VM with a stub; `enable`: debugging turned on by pvmctl
        first, so it stays on (breakpoints, events, mem) after gdb leaves."""
        self.start_guest(name, "ustep")
        if enable:
            self.debug("enable", name)
        return self.start_stub(name)

    def debug(self, *args, **kwargs):
        return self.ctl_ok("debug", *args, **kwargs)

    def debug_json(self, *args):
        return self.ctl_json("debug", *args)

    def status(self, name):
        return self.debug_json("status", name)

    def mem(self, name, address, length):
        memory = self.debug_json("mem", name, hex(address), str(length))
        self.assertEqual((memory["address"], memory["length"]), (address, length), memory)
        return bytes.fromhex(memory["hex"])

    def counter_of(self, name, address):
        return int.from_bytes(self.mem(name, address, 8), "little")

    def pvmctl_shell(self, *args, into):
        """A gdb `shell` command running pvmctl against this test's pvmd, its stdout
        (and stderr) into a file of the work directory: pvmctl's view while gdb holds
        the VM stopped."""
        path = os.path.join(self.workdir, into)
        argv = [Paths.pvmctl, "--socket", self.daemon.socket_path, *args]
        return f"shell {shlex.join(argv)} > {shlex.quote(path)} 2>&1"

    def shell_output(self, into):
        with open(os.path.join(self.workdir, into), encoding="utf-8") as f:
            return f.read()

    def shell_json(self, into):
        text = self.shell_output(into)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise AssertionError(f"pvmctl under gdb printed no JSON: {text!r}") from None

    # --- gdb --------------------------------------------------------------------------

    def gdb_argv(self, address, elf, commands, batch=True):
        argv = [Gdb.path, "-nx", "-q"]
        if batch:
            argv.append("-batch")
        argv += ["-ex", "set confirm off", "-ex", "set pagination off",
                 "-ex", "set width 0", "-ex", "set style enabled off"]
        for command in remote_debug_commands():
            argv += ["-ex", command]
        argv += ["-ex", f"target remote {address}"]
        for index, command in enumerate(commands):
            argv += ["-ex", f"echo {GdbResult.MARKER.format(index)}\\n", "-ex", command]
        if batch:
            argv += ["-ex", f"echo {GdbResult.MARKER.format(len(commands))}\\n"]
        return argv + [elf]

    @staticmethod
    def gdb_env():
        env = dict(os.environ, TERM="dumb")
        env.pop("GDBHISTFILE", None)
        return env

    def gdb(self, address, *commands, guest="ustep"):
        """Runs gdb in batch mode: `target remote ADDRESS`, then each command."""
        argv = self.gdb_argv(address, self.elf_path(guest), commands)
        try:
            completed = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True,
                                       timeout=GDB_TIMEOUT_S, env=self.gdb_env())
        except subprocess.TimeoutExpired as expired:
            out = expired.output or b""
            out = out.decode(errors="replace") if isinstance(out, bytes) else out
            self.fail(f"gdb still running after {GDB_TIMEOUT_S:.0f} s (killed)\n"
                      f"$ {shlex.join(argv)}\n--- gdb output ---\n{out}\n"
                      f"--- pvmd log ---\n{self.daemon.log()}")
        result = GdbResult(argv, list(commands), completed.returncode, completed.stdout)
        return result

    def assert_gdb_ran(self, result):
        """gdb connected and ran every command (its exit status is 0 in batch mode
        unless the last command failed)."""
        self.assertNotIn("Remote connection closed", result.output, self.gdb_context(result))
        self.assertNotIn("Remote communication error", result.output, self.gdb_context(result))
        # Connected, gdb shows where the VM stopped before the first command (the
        # address only when the pc is not at the start of a source line).
        preamble = result.output.split(GdbResult.MARKER.format(0), 1)[0]
        self.assertRegex(preamble, r"(?m)^(0x[0-9a-f]{16} in )?\w+ \(", self.gdb_context(result))
        for command, text in result.sections:
            self.assertIsNotNone(text, f"gdb did not get to {command!r}\n"
                                       f"{self.gdb_context(result)}")
        return result

    def gdb_context(self, result):
        return f"{result}\n--- pvmd log ---\n{self.daemon.log()}"

    def assert_section(self, result, command, pattern, occurrence=0):
        text = result.after(command, occurrence)
        self.assertRegex(text, pattern, f"output of {command!r}:\n{self.gdb_context(result)}")
        return re.search(pattern, text, re.M)

    def assert_pc(self, result, command, symbol, occurrence=0):
        self.assertEqual(result.int_value(command, occurrence), self.sym[symbol],
                         f"{command!r} is not {symbol} ({self.sym[symbol]:#x})\n"
                         f"{self.gdb_context(result)}")

    def wait_running(self, name, enabled=None):
        """No vCPU stopped, the VM running; with `enabled` also debugging in that state."""
        last = {}

        def running():
            last["status"] = self.status(name)
            return (not any(v["stopped"] for v in last["status"]["vcpus"]) and
                    (enabled is None or last["status"]["enabled"] == enabled))

        poll_until(running, STATE_TIMEOUT_S,
                   lambda: f"no stopped vCPU (debugging {enabled}); last {last.get('status')}")
        self.assertEqual(self.show_vm(name)["state"], "running")
        return last["status"]

    def wait_counter_advances(self, name, address):
        first = self.counter_of(name, address)
        poll_until(lambda: self.counter_of(name, address) > first, STATE_TIMEOUT_S,
                   lambda: f"the counter at {address:#x} of {name} to pass {first}")

    def wait_console_grows(self, name):
        before = self.console(name)
        self.wait_console(name, lambda t: len(t) > len(before), "more console output")


# =====================================================================================
# Starting and stopping the stub
# =====================================================================================


class GdbStubCommandTest(GdbTestCase):

    def test_default_address_is_a_free_loopback_port_and_stop_ends_it(self):
        self.start_guest("u", "ustep")
        started = self.ctl_ok("debug", "gdb", "u").stdout
        match = re.match(r"VM 'u': gdb stub on (127\.0\.0\.1:(\d+))\n", started)
        self.assertIsNotNone(match, started)
        address, port = match.group(1), int(match.group(2))
        self.assertGreater(port, 0)

        result = self.assert_gdb_ran(self.gdb(address, "info threads", "detach"))
        self.assert_section(result, "info threads", r"(?m)^\*\s+1\s+Thread 1\b")

        # One server per VM.
        self.assert_server_error(self.ctl("debug", "gdb", "u"), "ALREADY_EXISTS")
        self.ctl_ok("debug", "gdb", "u", "--stop")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        self.assert_server_error(self.ctl("debug", "gdb", "u", "--stop"), "NOT_FOUND")
        self.wait_running("u")

    def test_unix_socket_listen_address(self):
        self.start_guest("u", "ustep")
        path = os.path.join(self.workdir, "u.gdb")
        self.assertEqual(self.start_stub("u", "--unix", path), path)
        result = self.assert_gdb_ran(self.gdb(path, "p/x $pc", "detach"))
        self.assertRegex(result.value("p/x $pc"), r"^0x[0-9a-f]+$")
        self.ctl_ok("debug", "gdb", "u", "--stop")
        poll_until(lambda: not os.path.exists(path), STATE_TIMEOUT_S,
                   lambda: f"{path} to go with the stub")

    def test_listen_on_a_chosen_loopback_address(self):
        self.start_guest("u", "ustep")
        address = self.start_stub("u", "--listen", "127.0.0.1:0")
        self.assertRegex(address, r"^127\.0\.0\.1:[1-9]\d*$")
        self.assert_gdb_ran(self.gdb(address, "detach"))


# =====================================================================================
# gdb's breakpoints, steps, registers, memory, watchpoints, threads
# =====================================================================================


class GdbSessionTest(GdbTestCase):

    def test_hbreak_continue_stops_at_the_symbol_every_pass(self):
        address = self.ustep_stub()
        result = self.assert_gdb_ran(self.gdb(
            address, "hbreak *ustep_i3", "continue", "p/x $pc", "p $r14",
            "continue", "p/x $pc", "p $r14", "detach"))
        i3 = self.sym["ustep_i3"]
        self.assert_section(result, "hbreak *ustep_i3",
                            rf"Hardware assisted breakpoint 1 at {i3:#x}")
        for n in (0, 1):
            self.assert_section(result, "continue", rf"Breakpoint 1, {i3:#018x} in ustep_i3 \(\)",
                                occurrence=n)
            self.assert_pc(result, "p/x $pc", "ustep_i3", occurrence=n)
        # One loop pass between the two hits: r14 counts passes.
        self.assertEqual(result.int_value("p $r14", 1), result.int_value("p $r14", 0) + 1,
                         self.gdb_context(result))
        self.assert_section(result, "detach", r"\[Inferior 1 \(Remote target\) detached\]")

    def test_stepi_advances_exactly_one_instruction(self):
        address = self.ustep_stub()
        result = self.assert_gdb_ran(self.gdb(
            address, "hbreak *ustep_i3", "continue", "delete", "stepi", "p/x $pc",
            "p $rcx == $rax", "stepi 4", "p/x $pc", "detach"))
        self.assert_section(result, "stepi", rf"{self.sym['ustep_i4']:#018x} in ustep_i4 \(\)")
        self.assert_pc(result, "p/x $pc", "ustep_i4", 0)
        # ustep_i3 is `mov %rax,%rcx`: the one instruction did run.
        self.assertEqual(result.value("p $rcx == $rax"), "1", self.gdb_context(result))
        # i4 i5 i6 i7: four more single instructions land on ustep_inc.
        self.assert_pc(result, "p/x $pc", "ustep_inc", 1)

    def test_info_registers_match_pvmctl_regs_at_the_same_stop(self):
        address = self.ustep_stub()
        result = self.assert_gdb_ran(self.gdb(
            address, "hbreak *ustep_i5", "continue", "info registers",
            "p/x $cr0", "p/x $cr3", "p/x $cr4", "p/x $efer",
            self.pvmctl_shell("-o", "json", "debug", "regs", "u", into="regs.json"),
            "detach"))
        regs = self.shell_json("regs.json")
        general, special = regs["general"], regs["special"]
        self.assertEqual(general["rip"], self.sym["ustep_i5"], regs)

        shown = {}
        for line in result.after("info registers").splitlines():
            match = re.match(r"^(\w+)\s+(0x[0-9a-f]+)\s", line)
            if match:
                shown[match.group(1)] = int(match.group(2), 16)
        context = f"gdb: {shown}\npvmctl: {regs}\n{self.gdb_context(result)}"
        for name in GENERAL_REGISTERS:
            self.assertEqual(shown.get(name), general[name], f"{name}\n{context}")
        self.assertEqual(shown.get("eflags"), general["rflags"] & 0xffffffff, context)
        for name in SEGMENT_REGISTERS:
            self.assertEqual(shown.get(name), special[name]["selector"], f"{name}\n{context}")
        self.assertEqual(shown.get("fs_base"), special["fs"]["base"], context)
        self.assertEqual(shown.get("gs_base"), special["gs"]["base"], context)
        # The guest's loop registers (guests/README.md): r13 the vCPU id, r15 its counter.
        self.assertEqual(shown["r13"], 0, context)
        self.assertEqual(shown["r15"], self.sym["ustep_counters"], context)
        self.assertEqual(shown["rdx"], shown["rcx"] + 8, context)  # ustep_i4 ran
        # The user-mode code segment: RPL 3.
        self.assertEqual(shown["cs"] & 3, 3, context)
        for name in ("cr0", "cr3", "cr4", "efer"):
            self.assertEqual(result.int_value(f"p/x ${name}"), special[name], f"{name}\n{context}")

    def test_memory_reads_match_pvmctl_mem_and_the_image(self):
        address = self.ustep_stub(enable=True)
        # A gRPC breakpoint on ustep_i1 is an INT3 patch in guest memory on this host;
        # neither gdb nor pvmctl may see it.
        self.debug_json("break", "add", "u", "--symbol", "ustep_i1")
        code = self.sym["ustep_i0"]
        counters = self.sym["ustep_counters"]
        result = self.assert_gdb_ran(self.gdb(
            address, f"x/8xb {code:#x}", "x/8xb &ustep_counters",
            self.pvmctl_shell("-o", "json", "debug", "mem", "u", hex(code), "8", into="code.json"),
            self.pvmctl_shell("-o", "json", "debug", "mem", "u", hex(counters), "8",
                              into="counters.json"),
            "p/x $pc", "detach"))

        def bytes_shown(command):
            values = []
            for line in result.after(command).splitlines():
                if re.match(r"^0x[0-9a-f]+", line):
                    values += [int(v, 16) for v in re.findall(r"\t(0x[0-9a-f]{2})", line)]
            self.assertEqual(len(values), 8, f"{command}\n{self.gdb_context(result)}")
            return bytes(values)

        elf_code = self.ustep.bytes_at(code, 8)
        self.assertEqual(bytes_shown(f"x/8xb {code:#x}"), elf_code, self.gdb_context(result))
        self.assertEqual(bytes.fromhex(self.shell_json("code.json")["hex"]), elf_code)
        # Data, read while gdb holds the VM stopped: both views agree.
        self.assertEqual(bytes_shown("x/8xb &ustep_counters"),
                         bytes.fromhex(self.shell_json("counters.json")["hex"]),
                         self.gdb_context(result))
        # The gRPC breakpoint stopped the VM before gdb came: gdb found it there.
        self.assert_pc(result, "p/x $pc", "ustep_i1")
        self.assertEqual(self.mem("u", code, 8), elf_code)

    def test_watch_reports_old_and_new_value(self):
        address = self.ustep_stub()
        result = self.assert_gdb_ran(self.gdb(
            address, f"watch {WATCH_EXPRESSION}", "continue", "p/x $pc", "p $r14",
            "continue", "detach"))
        self.assert_section(result, f"watch {WATCH_EXPRESSION}",
                            rf"^Hardware watchpoint 1: {re.escape(WATCH_EXPRESSION)}$")
        values = []
        for n in (0, 1):
            match = self.assert_section(
                result, "continue",
                rf"(?m)^Hardware watchpoint 1: {re.escape(WATCH_EXPRESSION)}\n\n"
                r"Old value = (\d+)\nNew value = (\d+)$", occurrence=n)
            values.append((int(match.group(1)), int(match.group(2))))
        context = f"{values}\n{self.gdb_context(result)}"
        # vCPU 0 stores its loop count: one more every pass.
        for old, new in values:
            self.assertEqual(new, old + 1, context)
        self.assertEqual(values[1][0], values[0][1], context)
        # The stop comes after the store, with the stored value in r14.
        self.assert_pc(result, "p/x $pc", "uwatch_after_store")
        self.assertEqual(result.int_value("p $r14"), values[0][1], context)

    def test_software_break_then_delete_restores_the_code(self):
        address = self.ustep_stub(enable=True)
        i5 = self.sym["ustep_i5"]
        result = self.assert_gdb_ran(self.gdb(
            address, "break *ustep_i5", "continue", "p/x $pc",
            self.pvmctl_shell("-o", "json", "debug", "status", "u", into="status.json"),
            "delete", "detach"))
        self.assert_section(result, "break *ustep_i5", rf"^Breakpoint 1 at {i5:#x}\b")
        self.assert_section(result, "continue", rf"Breakpoint 1, {i5:#018x} in ustep_i5 \(\)")
        self.assert_pc(result, "p/x $pc", "ustep_i5")
        held = self.shell_json("status.json")
        self.assertTrue(held["vcpus"][0]["stopped"], held)
        self.assertEqual(held["vcpus"][0]["rip"], i5, held)

        # Debugging was on before gdb came, so it stays on: the guest runs past
        # ustep_i5 with its bytes back as the image has them and nothing planted.
        self.wait_running("u")
        self.assertEqual(self.debug_json("break", "list", "u"), {"breakpoints": []})
        self.assertEqual(self.mem("u", i5, 16), self.ustep.bytes_at(i5, 16))
        self.wait_counter_advances("u", self.sym["ustep_counters"])
        self.assertFalse(any(v["stopped"] for v in self.status("u")["vcpus"]))
        self.assertEqual(self.status("u")["software_breakpoints"], 0)

    def test_info_threads_lists_every_vcpu_of_smp(self):
        vcpus = 4
        self.start_guest("s", "smp", up_lines=vcpus, vcpus=vcpus)
        address = self.start_stub("s")
        result = self.assert_gdb_ran(self.gdb(
            address, "info threads", "thread 3", "p/x $pc",
            self.pvmctl_shell("-o", "json", "debug", "regs", "s", "--vcpu", "2", into="v2.json"),
            "detach", guest="smp"))
        text = result.after("info threads")
        for thread in range(1, vcpus + 1):
            self.assertRegex(text, rf"(?m)^[* ]\s*{thread}\s+Thread {thread}\b",
                             self.gdb_context(result))
        self.assertNotRegex(text, rf"(?m)^[* ]\s*{vcpus + 1}\s+Thread", self.gdb_context(result))
        # gdb's thread 3 is vCPU 2.
        self.assertEqual(result.int_value("p/x $pc"),
                         self.shell_json("v2.json")["general"]["rip"], self.gdb_context(result))

    def test_detach_leaves_the_guest_running_and_debugging_off(self):
        self.start_guest("c", "counter")
        address = self.start_stub("c")
        result = self.assert_gdb_ran(self.gdb(
            address, "p/x $pc",
            self.pvmctl_shell("-o", "json", "debug", "status", "c", into="held.json"),
            "detach", guest="counter"))
        held = self.shell_json("held.json")
        self.assertTrue(held["enabled"], held)
        self.assertTrue(held["vcpus"][0]["stopped"], held)
        self.assertEqual(held["vcpus"][0]["rip"], result.int_value("p/x $pc"), held)
        self.assert_section(result, "detach", r"\[Inferior 1 \(Remote target\) detached\]")

        # gdb turned debugging on (the stub did, for it); leaving turned it off again.
        self.wait_running("c", enabled=False)
        self.wait_console_grows("c")
        self.assertEqual(self.show_vm("c")["state"], "running")


# =====================================================================================
# Errors gdb must report
# =====================================================================================


class GdbErrorTest(GdbTestCase):

    # No two of these are adjacent: gdb stepping off one (where the attach may have
    # stopped the vCPU) never lands on another, so every continue inserts them all.
    SPREAD = ("ustep_i0", "ustep_i2", "ustep_i4", "ustep_i6", "ustep_inc")

    def test_fifth_hbreak_fails_to_insert(self):
        address = self.ustep_stub()
        points = [f"hbreak *{symbol}" for symbol in self.SPREAD]
        result = self.assert_gdb_ran(self.gdb(
            address, *points, "continue", "delete 5", "continue", "p/x $pc", "detach"))
        # Which one fails depends on where gdb inserts from (a step over the point at
        # the stop inserts the others first); gdb's summary line is the same.
        self.assert_section(result, "continue",
                            r"(Cannot|Could not) insert hardware breakpoint [1-5]\.[\s\S]*"
                            r"Could not insert hardware breakpoints:\n"
                            r"You may have requested too many hardware breakpoints/watchpoints")
        # Without the fifth the same session goes on: a stop at one of the four.
        match = self.assert_section(result, "continue",
                                    r"Breakpoint ([1-4]), 0x[0-9a-f]+ in (ustep_i[0246]) \(\)",
                                    occurrence=1)
        self.assert_pc(result, "p/x $pc", match.group(2))

    def test_four_hbreaks_and_a_watch_fail_to_insert(self):
        address = self.ustep_stub()
        points = [f"hbreak *{symbol}" for symbol in self.SPREAD[:4]]
        result = self.assert_gdb_ran(self.gdb(
            address, *points, f"watch {WATCH_EXPRESSION}", "continue", "delete 5", "continue",
            "detach"))
        self.assert_section(result, "continue",
                            r"(Cannot|Could not) insert hardware (watchpoint|breakpoint) [1-5]\."
                            r"[\s\S]*Could not insert hardware breakpoints:\n"
                            r"You may have requested too many hardware breakpoints/watchpoints")
        self.assert_section(result, "continue", r"Breakpoint [1-4], 0x[0-9a-f]+ in ustep_i[0246]",
                            occurrence=1)

    def test_hbreak_on_an_address_pvm_cannot_serve_fails(self):
        address = self.ustep_stub()
        bad = ["0x800000000000"]  # the first non-canonical address (48-bit VAs)
        rule = self.status("u")["address_rule"]
        if "outside the lower half" in rule:
            # Upper half and outside the kernel ranges the rule names (if any).
            ranges = [(int(a, 16), int(b, 16))
                      for a, b in re.findall(r"\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)", rule)]
            candidate = 0xffff800000000000
            while any(lo <= candidate < hi for lo, hi in ranges):
                candidate += 0x1000000000
            bad.append(hex(candidate))
        for where in bad:
            with self.subTest(address=where):
                result = self.assert_gdb_ran(self.gdb(
                    address, f"hbreak *{where}", "continue", "info breakpoints", "detach"))
                self.assert_section(result, "continue",
                                    r"(Cannot|Could not) insert hardware breakpoint 1\.")
        # A software breakpoint on a non-canonical address: no memory there either.
        result = self.assert_gdb_ran(self.gdb(
            address, "break *0x800000000000", "continue", "detach"))
        self.assert_section(result, "continue",
                            r"Cannot insert breakpoint 1\.[\s\S]*"
                            r"Cannot access memory at address 0x800000000000")
        self.wait_running("u")


# =====================================================================================
# Interrupts
# =====================================================================================


class GdbInterruptTest(GdbTestCase):

    def test_sigint_to_gdb_stops_a_running_guest(self):
        address = self.ustep_stub()
        argv = self.gdb_argv(address, self.elf_path("ustep"), [], batch=False)
        gdb = InteractiveGdb(argv, self.gdb_env())
        self.addCleanup(gdb.close)
        gdb.wait_for(lambda t: "Remote debugging using" in t and t.rstrip().endswith("(gdb)"),
                     "the first prompt after target remote")
        gdb.send("continue")
        gdb.wait_for(lambda t: "Continuing." in t, "Continuing.")
        # The stub reports the guest running only by not answering: check through
        # pvmctl that the vCPU really runs before interrupting it.
        self.wait_running("u")
        gdb.process.send_signal(signal.SIGINT)  # what the terminal does on Ctrl-C
        gdb.wait_for(lambda t: "Program received signal SIGINT, Interrupt." in t, "the SIGINT stop")
        stopped_rip = self.status("u")["vcpus"][0]["rip"]
        gdb.send("p/x $pc")
        match = gdb.wait_for(lambda t: re.search(r"\$1 = (0x[0-9a-f]+)", t), "the pc")
        self.assertEqual(int(match.group(1), 16), stopped_rip, gdb.text())
        gdb.send("detach")
        gdb.wait_for(lambda t: "detached]" in t, "the detach")
        gdb.send("quit")
        try:
            gdb.process.wait(timeout=GDB_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail(f"gdb did not quit:\n{gdb.text()}")
        self.wait_running("u")

    def test_raw_interrupt_byte_gets_a_sigint_stop_reply(self):
        address = self.ustep_stub()
        client = RspClient(address)
        self.addCleanup(client.close)
        self.assertEqual(client.command("?"), "T05thread:1;")
        client.send_raw(RspClient.frame("vCont;c"))
        self.assertEqual(client.read_ack(), b"+")
        self.wait_running("u")
        client.send_raw(b"\x03")
        self.assertRegex(client.read_packet(), r"^T02thread:1;$")
        self.assertTrue(self.status("u")["vcpus"][0]["stopped"])
        self.assertEqual(client.command("D"), "OK")
        self.wait_running("u")


# =====================================================================================
# The stub and gRPC clients on the same debugger
# =====================================================================================


class GdbAndGrpcTest(GdbTestCase):

    def test_a_gdb_breakpoint_hit_is_one_event_for_a_subscriber(self):
        address = self.ustep_stub(enable=True)
        follower, output = self.ctl_background("-o", "json", "debug", "events", "u", "--follow")
        i3 = self.sym["ustep_i3"]
        result = self.assert_gdb_ran(self.gdb(
            address, "hbreak *ustep_i3", "continue", "p/x $pc", "info threads",
            self.pvmctl_shell("-o", "json", "debug", "status", "u", into="status.json"),
            "detach"))
        self.assert_section(result, "continue", rf"Breakpoint 1, {i3:#018x} in ustep_i3 \(\)")
        last = self.shell_json("status.json")["last_event"]

        output.wait_for(lambda t: any(json.loads(line).get("sequence") == last
                                      for line in t.splitlines()), f"event #{last}")
        events = [json.loads(line) for line in output.text().splitlines()]
        hits = [e for e in events if e.get("type") == "event" and
                e["kind"] in ("hw_breakpoint", "sw_breakpoint")]
        self.assertEqual(len(hits), 1, events)
        hit = hits[0]
        self.assertEqual((hit["vcpu"], hit["rip"], hit["stopped"]), (0, i3, True), hit)
        self.assertEqual(hit["sequence"], last, events)
        self.assertNotEqual(hit["breakpoint_id"], 0, hit)
        # Anything else is gdb's own stepping (a step over a point it started on).
        self.assertTrue(all(e["kind"] == "single_step" for e in events
                            if e.get("type") == "event" and e is not hit), events)
        self.assertIsNone(follower.poll(), "events --follow ended while the VM is there")
        # gdb's point went with gdb.
        self.assertEqual(self.debug_json("break", "list", "u"), {"breakpoints": []})

    def test_a_grpc_breakpoint_stops_gdb(self):
        address = self.ustep_stub()
        i6 = self.sym["ustep_i6"]
        result = self.assert_gdb_ran(self.gdb(
            address,
            self.pvmctl_shell("-o", "json", "debug", "break", "add", "u", "--symbol", "ustep_i6",
                              into="break.json"),
            "continue", "p/x $pc",
            self.pvmctl_shell("-o", "json", "debug", "events", "u", into="events.json"),
            "continue", "p/x $pc", "detach"))
        breakpoint = self.shell_json("break.json")
        self.assertEqual(breakpoint["address"], i6, breakpoint)
        for n in (0, 1):
            self.assert_section(result, "continue",
                                r"Program received signal SIGTRAP, Trace/breakpoint trap\.\n"
                                rf"{i6:#018x} in ustep_i6 \(\)", occurrence=n)
            self.assert_pc(result, "p/x $pc", "ustep_i6", occurrence=n)
        text = self.shell_output("events.json")
        events = [json.loads(line) for line in text.splitlines()]
        self.assertTrue(any(e.get("breakpoint_id") == breakpoint["id"] and e["rip"] == i6 and
                            e["stopped"] for e in events), events)
        # The stub turned debugging on for gdb; leaving turned it off, which removed
        # the gRPC breakpoint too.
        self.wait_running("u", enabled=False)


# =====================================================================================
# Hostile input on the wire
# =====================================================================================


class RspHostileInputTest(GdbTestCase):

    def test_garbage_bad_checksums_overlong_and_bad_arguments(self):
        self.start_guest("c", "counter")
        address = self.start_stub("c")
        counter = ElfImage(self.elf_path("counter"))
        loop = counter.symbols["counter_loop"]
        client = RspClient(address)

        client.send_raw(b"hello, stub! \x00\xff\r\n")  # bytes outside a packet: ignored
        client.expect_silence()
        client.send_raw(b"$qSupported#00")  # bad checksum
        self.assertEqual(client.read_ack(), b"-")
        client.send_raw(b"$" + b"x" * 20000 + b"#00")  # past PacketSize
        self.assertEqual(client.read_ack(), b"-")
        client.send_raw(b"$m100000,4#zz")  # checksum digits that are not hex
        self.assertEqual(client.read_ack(), b"-")

        self.assertRegex(client.command("mzz,4"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("m0,ffffffffffffffff"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("m100000"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("m" + "f" * 40 + ",4"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("Z1,zz,1"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("Z9,100000,1"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("vCont;x"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("Hgzz"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("Hg99"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("P999=00"), r"^E[0-9a-f]{2}$")
        self.assertRegex(client.command("Gzz"), r"^E[0-9a-f]{2}$")
        self.assertEqual(client.command("qNoSuchQuery"), "")
        self.assertEqual(client.command(""), "")

        # After all that, sane answers.
        self.assertEqual(client.command("?"), "T05thread:1;")
        self.assertEqual(bytes.fromhex(client.command(f"m{loop:x},8")),
                         counter.bytes_at(loop, 8))
        registers = client.command("g")
        self.assertRegex(registers, r"^[0-9a-fx]+$")
        rip = int.from_bytes(bytes.fromhex(registers[16 * 16:17 * 16]), "little")
        self.assertEqual(rip, self.debug_json("regs", "c")["general"]["rip"])
        # A nack makes the stub send its last packet again.
        client.send_raw(b"-")
        self.assertRegex(client.read_packet(), r"^[0-9a-fx]+$")
        client.close()  # no detach: just gone

        self.assertTrue(self.daemon.running(), self.daemon.log())
        self.wait_running("c", enabled=False)
        self.wait_console_grows("c")

        # The stub serves the next client.
        again = RspClient(address)
        self.addCleanup(again.close)
        self.assertEqual(again.command("?"), "T05thread:1;")
        self.assertEqual(again.command("D"), "OK")
        again.close()
        self.wait_running("c")
        self.wait_console_grows("c")
        self.assertTrue(self.daemon.running(), self.daemon.log())


def main():
    # --gdb is this script's own flag; the rest are the shared ones.
    argv = list(sys.argv)
    gdb = None
    for index, arg in enumerate(argv):
        if arg == "--gdb" and index + 1 < len(argv):
            gdb = argv[index + 1]
            del argv[index:index + 2]
            break
        if arg.startswith("--gdb="):
            gdb = arg.split("=", 1)[1]
            del argv[index]
            break
    if not gdb or not os.access(gdb, os.X_OK):
        print(f"gdb_e2e: FAIL: no gdb to run ({gdb or 'no --gdb given'}): the gdb stub is "
              "tested with Debian's gdb, which scripts/setup installs", file=sys.stderr)
        return 1
    Gdb.path = os.path.abspath(gdb)
    sys.argv = argv
    return base.main("gdb_e2e", needs_guest_dir=True)


if __name__ == "__main__":
    sys.exit(main())
