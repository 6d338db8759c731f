#!/usr/bin/env python3
"""End-to-end tests of guest debugging: the real pvmd, driven by real `pvmctl debug`.

The guest is `kcounter`, whose loop runs at CPL0 and so in kvm-pvm's instruction
emulator, where hardware execute breakpoints and single-steps really exit to the VMM
on this host. Addresses come from the guest's ELF symbol table (read here, not by
the daemon), so "stopped at kcounter_loop" is checked against the image itself.

The processes, helpers and conventions are pvmd_e2e_test.py's: a fresh pvmd per
test on a private socket, polling against deadlines instead of sleeping.

Usage: debug_e2e_test.py --pvmd PATH --pvmctl PATH --guest-dir DIR [unittest args]
Exit status 77 (ctest's SKIP_RETURN_CODE) when /dev/kvm cannot be used, unless CI=true.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import unittest

# No __pycache__ in the source tree from importing the sibling module.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The shared helpers live in pvmd_e2e_test.py, next to this file.
import pvmd_e2e_test as base  # noqa: E402
from pvmd_e2e_test import (  # noqa: E402
    EXIT_TIMEOUT_S, STATE_TIMEOUT_S, Paths, parse_text_fields, poll_until)

LOOP_SYMBOL = "kcounter_loop"
# pvm_printf runs once per 2^14 increments of kcounter's loop: a few times a second.
PRINTF_SYMBOL = "pvm_printf"
DR6_B0 = 1 << 0
DR6_BS = 1 << 14
CPL0_EFER_LMA = 1 << 10


class ElfImage:
    """The two things these tests need from an ELF64 guest image: its symbols and
    the bytes its loadable segments put at a virtual address."""

    def __init__(self, path):
        with open(path, "rb") as image:
            self.data = image.read()
        if self.data[:4] != b"\x7fELF" or self.data[4] != 2:
            raise ValueError(f"{path} is not an ELF64 file")
        (self.phoff, self.shoff) = struct.unpack_from("<QQ", self.data, 0x20)
        (self.phentsize, self.phnum, self.shentsize, self.shnum) = struct.unpack_from(
            "<HHHH", self.data, 0x36)
        self.symbols = self._read_symbols()

    def _section(self, index):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info,
        # sh_addralign, sh_entsize
        return struct.unpack_from("<IIQQQQIIQQ", self.data, self.shoff + index * self.shentsize)

    def _read_symbols(self):
        symbols = {}
        for index in range(self.shnum):
            section = self._section(index)
            if section[1] != 2:  # SHT_SYMTAB
                continue
            offset, size, link, entsize = section[4], section[5], section[6], section[9]
            strtab_offset = self._section(link)[4]
            for entry in range(offset, offset + size, entsize):
                name_offset, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", self.data, entry)
                end = self.data.index(b"\0", strtab_offset + name_offset)
                name = self.data[strtab_offset + name_offset:end].decode()
                if name:
                    symbols[name] = value
        return symbols

    def bytes_at(self, address, length):
        for index in range(self.phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
                "<IIQQQQQQ", self.data, self.phoff + index * self.phentsize)
            if p_type == 1 and p_vaddr <= address and address + length <= p_vaddr + p_filesz:
                start = p_offset + address - p_vaddr
                return self.data[start:start + length]
        raise KeyError(f"no loaded bytes at {address:#x}+{length}")


def kcounter_image():
    return ElfImage(os.path.join(Paths.guest_dir, "kcounter.elf"))


class DebugTestCase(base.PvmdTestCase):
    daemon_args = ()

    def setUp(self):
        super().setUp()
        self.image = kcounter_image()
        self.loop = self.image.symbols[LOOP_SYMBOL]

    def debug(self, *args, **kwargs):
        return self.ctl_ok("debug", *args, **kwargs)

    def exec_breakpoints_are_patches(self):
        """Whether pvmd serves execute breakpoints as INT3 patches: where the module
        gives natively running code no debug exits but emulated code does (kvm-pvm
        here), read from the probe's verdict in `host info`."""
        probe = self.ctl_json("host", "info")["debug_capabilities"]
        self.assertTrue(probe["probed"], probe)
        native, emulated = probe["native"], probe["emulated"]
        return (emulated["hw_exec_breakpoint"] == "debug_exit" and
                "debug_exit" not in (native["hw_exec_breakpoint"], native["single_step"]))

    def debug_json(self, *args):
        return self.ctl_json("debug", *args)

    def status(self, name):
        return self.debug_json("status", name)

    def event_lines(self, name, *flags):
        """`debug events -o json` as a list of objects, one per line."""
        out = self.ctl_ok("debug", "events", name, *flags, output="json").stdout
        self.assertTrue(out == "" or out.endswith("\n"), repr(out))
        return [json.loads(line) for line in out.splitlines()]

    def wait_stopped(self, name, vcpu=0):
        last = {}

        def stopped():
            last["status"] = self.status(name)
            return last["status"] if last["status"]["vcpus"][vcpu]["stopped"] else None

        return poll_until(stopped, STATE_TIMEOUT_S,
                          lambda: f"vCPU {vcpu} of {name} to stop; last {last.get('status')}")

    def stopped_at_loop(self, name):
        """A kcounter VM stopped by a breakpoint on kcounter_loop's first instruction:
        enabled and armed before the start, since the guest enters the loop once."""
        self.create_vm(name, "builtin:kcounter")
        self.debug("enable", name)
        breakpoint = self.debug_json("break", "add", name, "--symbol", LOOP_SYMBOL)
        self.ctl_ok("vm", "start", name)
        status = self.wait_stopped(name)
        return breakpoint, status


# =====================================================================================
# The debugging session
# =====================================================================================


class DebugSessionTest(DebugTestCase):

    def test_enable_status_disable(self):
        self.create_vm("k", "builtin:kcounter", "--start")
        status = self.status("k")
        self.assertEqual((status["name"], status["enabled"]), ("k", False))

        fields = parse_text_fields(self.debug("enable", "k").stdout)
        self.assertEqual(fields["debugging"], "enabled")
        self.assertEqual(fields["stop mode"], "all-stop")
        for slot in ("DR0", "DR1", "DR2", "DR3"):
            self.assertEqual(fields[slot], "free")

        status = self.status("k")
        self.assertTrue(status["enabled"])
        self.assertEqual(status["stop_mode"], "all_stop")
        self.assertEqual([s["index"] for s in status["slots"]], [0, 1, 2, 3])
        self.assertFalse(any(s["in_use"] for s in status["slots"]))
        self.assertEqual([(v["id"], v["stopped"]) for v in status["vcpus"]], [(0, False)])
        self.assertNotEqual(status["address_rule"], "")
        self.assertEqual(self.debug_json("break", "list", "k"), {"breakpoints": []})
        self.assertEqual(self.debug("break", "list", "k").stdout, "no breakpoints\n")
        self.assertEqual(self.debug("events", "k").stdout, "no events\n")

        disabled = self.debug_json("disable", "k")
        self.assertFalse(disabled["enabled"])
        self.assertEqual(parse_text_fields(self.debug("status", "k").stdout)["debugging"],
                         "disabled")
        self.assertEqual(self.show_vm("k")["state"], "running")

    def test_enable_trace_mode(self):
        self.create_vm("k", "builtin:kcounter")
        fields = parse_text_fields(self.debug("enable", "k", "--trace").stdout)
        self.assertEqual(fields["stop mode"], "trace")
        self.assertEqual(self.status("k")["stop_mode"], "trace")

    def test_breakpoint_on_a_symbol_stops_at_its_address(self):
        breakpoint, status = self.stopped_at_loop("k")
        patched = self.exec_breakpoints_are_patches()
        self.assertEqual(breakpoint["kind"], "exec")
        self.assertEqual(breakpoint["address"], self.loop)
        self.assertEqual(breakpoint["location"], LOOP_SYMBOL)
        self.assertEqual((breakpoint["length"], breakpoint["trace"]), (1, False))
        if patched:
            self.assertEqual(breakpoint["slot"], -1)
            self.assertIn("INT3", breakpoint["mechanism"])
        else:
            self.assertEqual(breakpoint["slot"], 0)
            self.assertIn("DR0", breakpoint["mechanism"])
        vcpu = status["vcpus"][0]
        self.assertEqual(vcpu["rip"], self.loop)
        self.assertNotEqual(vcpu["reason"], "")
        slot = status["slots"][0]
        if patched:
            self.assertFalse(slot["in_use"], status)
            self.assertEqual(status["software_breakpoints"], 1, status)
            self.assertTrue(any(m.startswith("execute breakpoints: INT3")
                                for m in status["mechanisms"]), status)
        else:
            self.assertEqual((slot["in_use"], slot["breakpoint_id"], slot["address"]),
                             (True, breakpoint["id"], self.loop))
            self.assertEqual(slot["requested_dr7"] & 0x3, 0x1, status)  # local enable L0
            self.assertEqual(slot["requested_dr7"] >> 16 & 0xf, 0, status)  # exec, length 1
            self.assertEqual(slot["effective_dr7"], slot["requested_dr7"])  # no rule here
            self.assertEqual(status["requested_dr7"] & 0xff, 0x1, status)

        # Stopped before kcounter's first line: the guest printed nothing yet.
        self.assertEqual(self.console("k"), "")
        self.assertEqual(self.debug_json("break", "list", "k")["breakpoints"][0]["hits"], 1)

        events = self.event_lines("k")
        self.assertEqual(len(events), 1, events)
        event = events[0]
        self.assertEqual(event["type"], "event")
        self.assertEqual(event["sequence"], status["last_event"])
        self.assertEqual((event["vm"], event["vcpu"]), ("k", 0))
        # An INT3 patch traps as #BP; a DR0 breakpoint as #DB with B0 in DR6.
        self.assertEqual((event["kind"], event["vector"]), ("hw_breakpoint", 3 if patched else 1))
        self.assertEqual(event["rip"], self.loop)
        self.assertEqual(event["breakpoint_id"], breakpoint["id"])
        self.assertEqual(bool(event["dr6"] & DR6_B0), not patched, event)
        if patched:
            # The DR7 in force holds only the interception of the guest's #DB/#BP
            # handler entries (DR2, DR3): no user slot.
            self.assertEqual(event["dr7"] & 0xf, 0, event)
        else:
            self.assertEqual(event["dr7"], status["requested_dr7"])
        self.assertIsNone(event["address"])
        self.assertTrue(event["stopped"])
        self.assertGreater(event["timestamp_unix_ns"], 0)

        text = self.debug("events", "k").stdout
        self.assertRegex(
            text, rf"^#{event['sequence']} vcpu 0 hw-breakpoint bp {breakpoint['id']} "
                  rf"rip {self.loop:#x} dr6 {event['dr6']:#x} dr7 {event['dr7']:#x} stopped\n$")

        text_status = parse_text_fields(self.debug("status", "k").stdout)
        if not patched:
            self.assertRegex(text_status["DR0"],
                             rf"^breakpoint {breakpoint['id']} at {self.loop:#x},")
        self.assertRegex(text_status["vcpu 0"], rf"^stopped at {self.loop:#x} \(")

    def test_registers_and_memory_at_the_breakpoint(self):
        self.stopped_at_loop("k")
        registers = self.debug_json("regs", "k")
        self.assertEqual(registers["vcpu"], 0)
        self.assertEqual(registers["general"]["rip"], self.loop)
        self.assertTrue(all(isinstance(v, int) for v in registers["general"].values()),
                        registers["general"])
        cs = registers["special"]["cs"]
        self.assertEqual((cs["long_mode"], cs["dpl"], cs["present"]), (True, 0, True))
        self.assertTrue(registers["special"]["efer"] & CPL0_EFER_LMA)
        self.assertEqual(len(registers["debug"]["db"]), 4)

        text = self.debug("regs", "k").stdout
        self.assertRegex(text, rf"(?m)^rip +0x{self.loop:016x}$")
        self.assertRegex(text, r"(?m)^rflags +0x[0-9a-f]{16} +\[ .*\]$")
        self.assertRegex(text, r"(?m)^cs +0x[0-9a-f]{4} .* P L")
        self.assertRegex(text, r"(?m)^cr3 +0x[0-9a-f]{16}$")

        code = self.image.bytes_at(self.loop, 20)
        memory = self.debug_json("mem", "k", hex(self.loop), "20")
        self.assertEqual(memory, {"address": self.loop, "length": 20, "hex": code.hex()})
        # The guest is identity-mapped: the same bytes through the physical address.
        physical = self.debug_json("mem", "k", str(self.loop), "0x14", "--phys")
        self.assertEqual(physical["hex"], code.hex())

        dump = self.debug("mem", "k", hex(self.loop), "20").stdout.splitlines()
        self.assertEqual(len(dump), 2, dump)
        self.assertTrue(dump[0].startswith(f"{self.loop:016x}  "), dump)
        self.assertEqual(dump[0].split("|")[0].split()[1:], [f"{b:02x}" for b in code[:16]])
        self.assertTrue(dump[1].startswith(f"{self.loop + 16:016x}  "), dump)
        self.assertEqual(dump[1].split("|")[0].split()[1:], [f"{b:02x}" for b in code[16:]])

    def test_step_then_continue_remove_disable(self):
        breakpoint, status = self.stopped_at_loop("k")
        first_event = status["last_event"]

        step = self.debug_json("step", "k")
        self.assertEqual((step["vcpu"], step["steps"]), (0, 1))
        self.assertNotEqual(step["rip"], self.loop)
        self.assertGreater(step["last_event"], first_event)
        self.assertEqual(self.debug_json("regs", "k")["general"]["rip"], step["rip"])
        fields = parse_text_fields(self.debug("step", "k", "--vcpu", "0", "--count", "3").stdout)
        self.assertEqual(fields["steps"], "3")
        self.assertRegex(fields["rip"], r"^0x[0-9a-f]+$")

        events = self.event_lines("k", "--since", str(first_event + 1))
        self.assertGreaterEqual(len(events), 2, events)
        self.assertEqual(events[0]["sequence"], first_event + 1)
        self.assertEqual((events[0]["kind"], events[0]["rip"]), ("single_step", step["rip"]))
        self.assertTrue(events[0]["dr6"] & DR6_BS, events[0])
        self.assertEqual(events[0]["breakpoint_id"], 0)
        self.assertEqual([e["kind"] for e in events], ["single_step"] * len(events))
        self.assertTrue(events[-1]["stopped"])
        self.assertEqual([e["sequence"] for e in events],
                         list(range(first_event + 1, first_event + 1 + len(events))))

        continued = self.debug_json("continue", "k")
        self.assertFalse(continued["vcpus"][0]["stopped"])
        # Resumed, the guest gets on with its loop and prints.
        self.wait_console("k", lambda text: text.startswith("kcounter: start\n"), "the first line")
        self.assertEqual(self.show_vm("k")["state"], "running")

        removed = self.debug("break", "remove", "k", str(breakpoint["id"])).stdout
        self.assertEqual(removed, f"removed breakpoint {breakpoint['id']} of k\n")
        self.assertEqual(self.debug_json("break", "list", "k"), {"breakpoints": []})
        self.assertFalse(self.status("k")["slots"][0]["in_use"])

        disabled = self.debug_json("disable", "k")
        self.assertFalse(disabled["enabled"])
        self.assertEqual(self.show_vm("k")["state"], "running")

    def test_disable_resumes_a_stopped_vm(self):
        self.stopped_at_loop("k")
        self.debug("disable", "k")
        self.wait_console("k", lambda text: text.startswith("kcounter: start\n"), "the first line")
        status = self.status("k")
        self.assertFalse(status["enabled"])
        self.assertFalse(any(s["in_use"] for s in status["slots"]))

    def test_interrupt_stops_a_running_vm_and_continue_resumes_it(self):
        self.create_vm("k", "builtin:kcounter", "--start")
        self.wait_console("k", lambda text: "\n" in text, "the first line")
        self.debug("enable", "k")
        interrupted = self.debug_json("interrupt", "k")
        self.assertTrue(interrupted["vcpus"][0]["stopped"], interrupted)
        rip = interrupted["vcpus"][0]["rip"]
        self.assertEqual(self.debug_json("regs", "k")["general"]["rip"], rip)
        # An interrupt stops without an event.
        self.assertEqual(self.event_lines("k"), [])
        self.assertFalse(self.debug_json("continue", "k")["vcpus"][0]["stopped"])

    def test_events_follow_streams_json_lines_and_ends_on_ctrl_c(self):
        self.create_vm("k", "builtin:kcounter")
        self.debug("enable", "k")
        self.debug("break", "add", "k", "--symbol", LOOP_SYMBOL)
        follower, output = self.ctl_background("-o", "json", "debug", "events", "k", "--follow")
        self.ctl_ok("vm", "start", "k")
        output.wait_for(lambda t: t.endswith("\n"), "the breakpoint's event")
        event = json.loads(output.text().splitlines()[0])
        self.assertEqual((event["kind"], event["rip"]), ("hw_breakpoint", self.loop))

        self.debug("step", "k")
        output.wait_for(lambda t: t.count("\n") >= 2, "the step's event")
        self.assertIsNone(follower.poll(), "events --follow ended while the VM is there")

        follower.send_signal(signal.SIGINT)
        try:
            returncode = follower.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("events --follow still running after SIGINT")
        lines = output.finish().splitlines()
        self.assertEqual(returncode, 0, follower.stderr.read())
        self.assertEqual(follower.stderr.read(), b"")
        self.assertEqual([json.loads(line)["kind"] for line in lines[:2]],
                         ["hw_breakpoint", "single_step"])

    def test_events_follow_ends_when_the_vm_is_deleted(self):
        self.create_vm("k", "builtin:kcounter")
        self.debug("enable", "k")
        self.debug("break", "add", "k", "--symbol", LOOP_SYMBOL)
        follower, output = self.ctl_background("debug", "events", "k", "--follow")
        self.ctl_ok("vm", "start", "k")
        output.wait_for(lambda t: " hw-breakpoint " in t, "the breakpoint's event")
        self.ctl_ok("vm", "delete", "k")
        try:
            returncode = follower.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("events --follow still running after the VM was deleted")
        self.assertEqual(returncode, 0, follower.stderr.read())
        self.assertRegex(output.finish(), rf"^#1 vcpu 0 hw-breakpoint bp 1 rip {self.loop:#x} ")

    def test_a_reader_behind_the_ring_gets_a_gap_record(self):
        # Every step is an event (the last one stops); far more than the log keeps
        # (4096 events by default), streamed in many batches.
        steps = 10000
        self.stopped_at_loop("k")
        step = self.debug_json("step", "k", "--count", str(steps))
        self.assertEqual(step["steps"], steps)
        last = step["last_event"]
        self.assertEqual(last, 1 + steps)

        records = self.event_lines("k", "--since", "1")
        gap = records[0]
        self.assertEqual((gap["type"], gap["first_lost"]), ("gap", 1), gap)
        self.assertGreater(gap["lost"], 0)
        events = records[1:]
        self.assertEqual([e["sequence"] for e in events], list(range(1 + gap["lost"], last + 1)))
        self.assertTrue(all(e["kind"] == "single_step" for e in events))
        self.assertEqual([e["stopped"] for e in events[-2:]], [False, True])

        # From the oldest retained event (since 0) there is nothing to report lost.
        self.assertEqual(self.event_lines("k"), events)
        lines = self.debug("events", "k", "--since", "1").stdout.splitlines()
        self.assertEqual(lines[0], f"-- {gap['lost']} events lost (#1..#{gap['lost']}) --")
        self.assertEqual(len(lines), 1 + len(events))

    def test_write_watchpoint_on_native_code_reports_each_store_with_its_values(self):
        # counter increments counter_value at CPL3: natively run here, where pvmd
        # serves the watchpoint by page protection; on a host whose DR7 data
        # breakpoints fire, by DR0. Either way the event comes after the store.
        image = ElfImage(os.path.join(Paths.guest_dir, "counter.elf"))
        counter = image.symbols["counter_value"]
        self.create_vm("c", "builtin:counter")
        self.debug("enable", "c")
        watch = self.debug_json("break", "add", "c", "--symbol", "counter_value",
                                "--kind", "write", "--len", "8")
        self.assertEqual((watch["kind"], watch["address"], watch["slot"]), ("write", counter, 0))
        self.ctl_ok("vm", "start", "c")
        for hit in (1, 2, 3):
            status = self.wait_stopped("c")
            event = self.event_lines("c", "--since", str(hit))[0]
            self.assertEqual((event["sequence"], event["kind"], event["breakpoint_id"]),
                             (hit, "watchpoint", watch["id"]), event)
            self.assertEqual(event["address"], counter)
            self.assertEqual(status["vcpus"][0]["rip"], event["rip"])
            if event["access"] is not None:  # page protection sees the access itself
                self.assertEqual(event["access"], {"length": 8, "is_write": True,
                                                   "old_value": hit - 1, "new_value": hit})
            memory = self.debug_json("mem", "c", hex(counter), "8")
            self.assertEqual(int.from_bytes(bytes.fromhex(memory["hex"]), "little"), hit)
            self.debug("continue", "c")
        self.debug("break", "remove", "c", str(watch["id"]))
        self.assertFalse(any(s["in_use"] for s in self.status("c")["slots"]))

    def test_trace_breakpoint_reports_and_never_stops(self):
        self.create_vm("k", "builtin:kcounter", "--start")
        self.debug("enable", "k", "--trace")
        printf = self.image.symbols[PRINTF_SYMBOL]
        breakpoint = self.debug_json("break", "add", "k", "--symbol", PRINTF_SYMBOL, "--trace")
        self.assertTrue(breakpoint["trace"])

        events = poll_until(lambda: (lambda e: e if len(e) >= 2 else None)(self.event_lines("k")),
                            STATE_TIMEOUT_S, lambda: "two traced events")
        for event in events:
            self.assertEqual((event["kind"], event["rip"]), ("hw_breakpoint", printf))
            self.assertFalse(event["stopped"], event)
        self.assertFalse(self.status("k")["vcpus"][0]["stopped"])
        self.assertEqual(self.show_vm("k")["state"], "running")
        self.assertRegex(self.debug("events", "k").stdout.splitlines()[0], r" traced$")


# =====================================================================================
# Errors: exit status 1, `pvmctl: CODE: message`, nothing changed
# =====================================================================================


class DebugErrorTest(DebugTestCase):

    def assert_refused_both_ways(self, args, code, *fragments):
        for output in (None, "json"):
            with self.subTest(args=args, output=output or "text"):
                self.assert_server_error(self.ctl(*args, output=output), code, *fragments)

    def test_unknown_vm_is_not_found(self):
        for command in (["enable"], ["disable"], ["status"], ["continue"], ["interrupt"],
                        ["step"], ["regs"], ["mem", "0x100000", "16"], ["events"],
                        ["events", "--follow"]):
            self.assert_refused_both_ways(["debug", command[0], "ghost", *command[1:]],
                                          "NOT_FOUND", "'ghost'")
        for command in (["add", "ghost", "--addr", "0x100000"], ["list", "ghost"],
                        ["remove", "ghost", "1"]):
            self.assert_refused_both_ways(["debug", "break", *command], "NOT_FOUND", "'ghost'")

    def test_debug_calls_while_disabled_fail_precondition(self):
        self.create_vm("k", "builtin:kcounter", "--start")
        for command in (["break", "add", "k", "--addr", hex(self.loop)], ["break", "list", "k"],
                        ["break", "remove", "k", "1"], ["events", "k"], ["continue", "k"],
                        ["step", "k"], ["interrupt", "k"], ["regs", "k"],
                        ["mem", "k", hex(self.loop), "16"]):
            self.assert_refused_both_ways(["debug", *command], "FAILED_PRECONDITION", "enable")
        self.assertFalse(self.status("k")["enabled"])
        self.assertEqual(self.show_vm("k")["state"], "running")

    def test_calls_that_need_a_stopped_vcpu_fail_precondition(self):
        self.create_vm("k", "builtin:kcounter", "--start")
        self.debug("enable", "k")
        for command in (["step", "k"], ["continue", "k"], ["regs", "k"]):
            self.assert_refused_both_ways(["debug", *command], "FAILED_PRECONDITION")

    def test_bad_breakpoints_are_invalid_argument(self):
        self.create_vm("k", "builtin:kcounter")
        self.debug("enable", "k")
        cases = {
            "misaligned watchpoint": (["--addr", hex(self.loop + 1), "--kind", "write",
                                       "--len", "4"], "not aligned"),
            "length 3": (["--addr", hex(self.loop), "--kind", "rw", "--len", "3"], "length 3"),
            "exec of length 8": (["--addr", hex(self.loop), "--kind", "exec", "--len", "8"],
                                 "length 1"),
            "non-canonical": (["--addr", "0x0000800000000000"], "not canonical"),
            "non-canonical watchpoint": (["--addr", "0x8000000000000000", "--kind", "write"],
                                         "not canonical"),
            "unknown symbol": (["--symbol", "no_such_symbol"], "no_such_symbol"),
            "software of length 2": (["--addr", hex(self.loop), "--kind", "sw", "--len", "2"],
                                     "one byte"),
        }
        for what, (flags, fragment) in cases.items():
            with self.subTest(what):
                self.assert_server_error(self.ctl("debug", "break", "add", "k", *flags),
                                         "INVALID_ARGUMENT", fragment)
        self.assertEqual(self.debug_json("break", "list", "k"), {"breakpoints": []})
        self.assertFalse(any(s["in_use"] for s in self.status("k")["slots"]))

    def test_fifth_hardware_breakpoint_is_resource_exhausted(self):
        # Watchpoints take one of the four DR-style slots on every host (by debug
        # register, or by page protection where DR7 data breakpoints never fire);
        # these are on kcounter's watch page, which holds only its two variables.
        self.create_vm("k", "builtin:kcounter")
        self.debug("enable", "k")
        page = self.image.symbols["counter_value"] & ~0xfff
        watch = ["--kind", "write", "--len", "8"]
        ids = []
        for i in range(4):
            ids.append(self.debug_json("break", "add", "k", "--addr", hex(page + 8 * i),
                                       *watch)["id"])
        self.assert_refused_both_ways(["debug", "break", "add", "k", "--addr",
                                       hex(page + 32), *watch], "RESOURCE_EXHAUSTED", "four")
        listed = self.debug_json("break", "list", "k")["breakpoints"]
        self.assertEqual(sorted(b["id"] for b in listed), sorted(ids))
        self.assertEqual(sorted(b["slot"] for b in listed), [0, 1, 2, 3])
        status = self.status("k")
        self.assertTrue(all(s["in_use"] for s in status["slots"]))

        # A freed slot can be taken again.
        self.debug("break", "remove", "k", str(ids[1]))
        again = self.debug_json("break", "add", "k", "--addr", hex(page + 32), *watch)
        self.assertEqual(again["slot"], 1)

    def test_unknown_breakpoint_id_is_not_found(self):
        self.create_vm("k", "builtin:kcounter")
        self.debug("enable", "k")
        self.assert_refused_both_ways(["debug", "break", "remove", "k", "42"], "NOT_FOUND", "42")

    def test_memory_errors(self):
        self.stopped_at_loop("k")
        self.assert_refused_both_ways(["debug", "mem", "k", hex(self.loop), "0x100001"],
                                      "INVALID_ARGUMENT", "1 MiB")
        self.assert_refused_both_ways(["debug", "mem", "k", hex(self.loop), "0"],
                                      "INVALID_ARGUMENT")
        self.assert_refused_both_ways(["debug", "regs", "k", "--vcpu", "5"], "INVALID_ARGUMENT",
                                      "vCPU 5")

    def test_usage_errors_exit_2(self):
        command_lines = {
            "no location": ["debug", "break", "add", "k"],
            "both locations": ["debug", "break", "add", "k", "--addr", "1", "--symbol", "x"],
            "bad address": ["debug", "break", "add", "k", "--addr", "0xzz"],
            "bad kind": ["debug", "break", "add", "k", "--addr", "1", "--kind", "io"],
            "symbol as mem address": ["debug", "mem", "k", LOOP_SYMBOL, "16"],
            "missing length": ["debug", "mem", "k", "0x1000"],
            "zero step count": ["debug", "step", "k", "--count", "0"],
            "unknown subcommand": ["debug", "watch", "k"],
        }
        for what, args in command_lines.items():
            with self.subTest(what):
                self.assert_usage_error(self.ctl(*args))


if __name__ == "__main__":
    sys.exit(base.main("debug_e2e", needs_guest_dir=True))
