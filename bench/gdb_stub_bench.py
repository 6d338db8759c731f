#!/usr/bin/env python3
"""gdb stub round trips against the gRPC debug API, on the ustep guest (native CPL3).

Run by hand from the source tree, after a build (never part of ctest):

    python3 bench/gdb_stub_bench.py                     # build/daemon/pvmd, build/client/pvmctl
    python3 bench/gdb_stub_bench.py --steps 5000 --hits 1000 --runs 5
    python3 bench/gdb_stub_bench.py --pvmd PATH --pvmctl PATH --guest-dir DIR

It starts its own pvmd on a private socket (like tests/e2e), creates ustep VMs and
measures, with a raw remote-serial-protocol client on the stub's socket (no-ack mode,
as gdb negotiates it):

  (a) single steps: `vCont;s:1` -> stop reply, alone and followed by `g` (what gdb's
      stepi costs: it reads the registers at every stop), against the engine's Step
      through gRPC: one `pvmctl debug step --count N` (one Step RPC, N steps) and one
      `pvmctl debug step` per step (a process per call: spawn-bound, shown as such);
  (b) continue to a breakpoint hit once per loop pass (on ustep_i3): `vCont;c` ->
      stop reply with gdb's hbreak left inserted (the engine steps over it), and gdb's
      own sequence for a continue from a breakpoint (z1, vCont;s:1, Z1, vCont;c),
      against gRPC: `pvmctl debug continue` -> the event on a `pvmctl debug events
      --follow` subscriber that is already running, beside the bare cost of spawning
      pvmctl for one unary RPC (`pvmctl debug status`).

No Python gRPC module is assumed (none is installed here), so the gRPC rows here go
through pvmctl; the same two measurements over real gRPC without a process per call
are build/bench/debug_rpc_bench's (bench/debug_rpc_bench.cc), which is what the
README sets beside this script's stub rows. Figures are medians over --runs; nothing
is asserted.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 20.0


def poll_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Pvmd:
    def __init__(self, pvmd, pvmctl):
        self.dir = tempfile.mkdtemp(prefix="gdb-stub-bench-")
        self.socket = os.path.join(self.dir, "pvmd.sock")
        self.pvmctl = pvmctl
        self.log = open(os.path.join(self.dir, "pvmd.log"), "wb")
        self.process = subprocess.Popen([pvmd, "--socket", self.socket], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        poll_until(lambda: os.path.exists(self.socket) and
                   self.ctl("host", "info", check=False).returncode == 0, TIMEOUT_S, "pvmd")

    def argv(self, *args):
        return [self.pvmctl, "--socket", self.socket, *args]

    def ctl(self, *args, check=True):
        done = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=TIMEOUT_S)
        if check and done.returncode != 0:
            raise RuntimeError(f"pvmctl {' '.join(args)}: {done.stderr.strip()}")
        return done

    def json(self, *args):
        return json.loads(self.ctl("-o", "json", *args).stdout)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def elf_symbols(path):
    """name -> value from `nm` (binutils is a build dependency)."""
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2]] = int(parts[0], 16)
    return symbols


class Rsp:
    """A raw RSP client in no-ack mode."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.acks = True
        self.command("qSupported:swbreak+;hwbreak+;vContSupported+")  # as gdb opens
        if self.command("QStartNoAckMode") != "OK":
            raise RuntimeError("the stub refused QStartNoAckMode")
        self.acks = False

    def send(self, payload):
        data = payload.encode()
        self.sock.sendall(b"$" + data + b"#" + f"{sum(data) % 256:02x}".encode())

    def reply(self):
        while True:
            if self.acks:
                self.buffer = self.buffer.lstrip(b"+")
            end = self.buffer.find(b"#")
            if self.buffer.startswith(b"$") and end > 0 and len(self.buffer) >= end + 3:
                payload = self.buffer[1:end].decode("latin-1")
                self.buffer = self.buffer[end + 3:]
                if self.acks:
                    self.sock.sendall(b"+")
                return payload
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the stub closed the connection")
            self.buffer += chunk

    def command(self, payload):
        self.send(payload)
        return self.reply()

    def close(self):
        self.sock.close()


def start_ustep(pvmd, name):
    pvmd.ctl("vm", "create", name, "--image", "builtin:ustep", "--start")
    poll_until(lambda: " up\n" in pvmd.ctl("vm", "console", name).stdout, TIMEOUT_S,
               f"{name} up")


def per_second(seconds, count):
    return count / seconds if seconds > 0 else float("inf")


def measure_stub(pvmd, symbols, run, steps, hits):
    name = f"stub-{run}"
    start_ustep(pvmd, name)
    address = pvmd.json("debug", "gdb", name)["address"]
    rsp = Rsp(address)
    rows = {}
    try:
        rsp.command("?")
        t = time.perf_counter()
        for _ in range(steps):
            stop = rsp.command("vCont;s:1")
            if not stop.startswith("T05"):
                raise RuntimeError(f"step: {stop}")
        rows["step"] = (time.perf_counter() - t) / steps
        t = time.perf_counter()
        for _ in range(steps):
            rsp.command("vCont;s:1")
            rsp.command("g")
        rows["step+g"] = (time.perf_counter() - t) / steps

        point = f"{symbols['ustep_i3']:x},1"
        if rsp.command(f"Z1,{point}") != "OK":
            raise RuntimeError("Z1 refused")
        rsp.command("vCont;c")  # onto the breakpoint
        t = time.perf_counter()
        for _ in range(hits):
            stop = rsp.command("vCont;c")
            if "hwbreak" not in stop:
                raise RuntimeError(f"continue: {stop}")
        rows["c"] = (time.perf_counter() - t) / hits
        t = time.perf_counter()
        for _ in range(hits):  # gdb: step off the breakpoint with it removed, then go
            rsp.command(f"z1,{point}")
            rsp.command("vCont;s:1")
            rsp.command(f"Z1,{point}")
            stop = rsp.command("vCont;c")
            if "hwbreak" not in stop:
                raise RuntimeError(f"continue: {stop}")
        rows["gdb-c"] = (time.perf_counter() - t) / hits
        rsp.command(f"z1,{point}")
        rsp.command("D")
    finally:
        rsp.close()
    pvmd.ctl("debug", "gdb", name, "--stop")
    pvmd.ctl("vm", "delete", name)
    return rows


class Follower:
    """`pvmctl -o json debug events NAME --follow`: arrival times of its lines."""

    def __init__(self, pvmd, name):
        since = pvmd.json("debug", "status", name)["last_event"] + 1  # no history
        self.process = subprocess.Popen(pvmd.argv("-o", "json", "debug", "events", name,
                                                  "--follow", "--since", str(since)),
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.process.stdout:
            with self.cond:
                self.lines.append((time.perf_counter(), json.loads(line)))
                self.cond.notify_all()

    def wait_count(self, count):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.lines) >= count, TIMEOUT_S):
                raise RuntimeError("no event on the follower")
            return self.lines[count - 1]

    def close(self):
        self.process.kill()
        self.process.wait()


def measure_grpc(pvmd, symbols, run, steps, calls):
    name = f"grpc-{run}"
    start_ustep(pvmd, name)
    pvmd.ctl("debug", "enable", name)
    pvmd.ctl("debug", "interrupt", name)
    rows = {}
    t = time.perf_counter()
    done = pvmd.json("debug", "step", name, "--count", str(steps))
    rows["step-count"] = (time.perf_counter() - t) / done["steps"]
    t = time.perf_counter()
    for _ in range(calls):
        pvmd.ctl("debug", "step", name)
    rows["step-spawn"] = (time.perf_counter() - t) / calls
    t = time.perf_counter()
    for _ in range(calls):
        pvmd.ctl("debug", "status", name)
    rows["spawn"] = (time.perf_counter() - t) / calls

    follower = Follower(pvmd, name)
    try:
        pvmd.ctl("debug", "break", "add", name, "--addr", hex(symbols["ustep_i3"]))
        # The follower may still be connecting: a first event proves it is live.
        pvmd.ctl("debug", "continue", name)
        seen = 1
        follower.wait_count(seen)
        latencies = []
        for _ in range(calls):
            t = time.perf_counter()
            pvmd.ctl("debug", "continue", name)
            before = seen
            while True:  # skip any step-over events: the stopping hit is the one
                seen += 1
                arrived, event = follower.wait_count(seen)
                if event.get("stopped") and event.get("rip") == symbols["ustep_i3"]:
                    break
            latencies.append(arrived - t)
            if seen - before > 4:
                raise RuntimeError("unexpected events between hits")
        rows["continue-event"] = statistics.median(latencies)
    finally:
        follower.close()
    pvmd.ctl("vm", "delete", name)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pvmd", default=os.path.join(ROOT, "build/daemon/pvmd"))
    parser.add_argument("--pvmctl", default=os.path.join(ROOT, "build/client/pvmctl"))
    parser.add_argument("--guest-dir", default=os.path.join(ROOT, "build/guests"))
    parser.add_argument("--steps", type=int, default=2000, help="stub steps per run")
    parser.add_argument("--hits", type=int, default=500, help="stub breakpoint hits per run")
    parser.add_argument("--calls", type=int, default=40, help="pvmctl processes per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    symbols = elf_symbols(os.path.join(args.guest_dir, "ustep.elf"))
    pvmd = Pvmd(args.pvmd, args.pvmctl)
    stub, grpc = [], []
    try:
        for run in range(args.runs):
            stub.append(measure_stub(pvmd, symbols, run, args.steps, args.hits))
            grpc.append(measure_grpc(pvmd, symbols, run, args.steps, args.calls))
            print(f"run {run + 1}/{args.runs}: stub {stub[-1]}, grpc {grpc[-1]}",
                  file=sys.stderr)
    finally:
        pvmd.close()

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    load = open("/proc/loadavg").read().split()[:3]
    print(f"gdb stub vs gRPC, ustep (native CPL3), 1 vCPU; {os.cpu_count()} CPUs, "
          f"load {' '.join(load)}; medians of {args.runs} runs")
    print(f"{'what':<66} {'per s':>9} {'us each':>9}")
    table = [
        ("(a) stub: vCont;s:1 -> stop reply", med(stub, "step")),
        ("(a) stub: vCont;s:1 + g (a gdb stepi)", med(stub, "step+g")),
        (f"(a) gRPC: one Step(count={args.steps}) via pvmctl, per step", med(grpc, "step-count")),
        ("(a) gRPC: pvmctl debug step, one process per step (spawn-bound)",
         med(grpc, "step-spawn")),
        ("(b) stub: vCont;c -> stop at ustep_i3 (hbreak left inserted)", med(stub, "c")),
        ("(b) stub: z1, vCont;s:1, Z1, vCont;c (gdb's continue from a bp)", med(stub, "gdb-c")),
        ("(b) gRPC: pvmctl debug continue -> event on a follower (spawn-bound)",
         med(grpc, "continue-event")),
        ("    pvmctl spawn + one unary RPC (debug status), for reference", med(grpc, "spawn")),
    ]
    for what, seconds in table:
        print(f"{what:<66} {per_second(seconds, 1):>9.0f} {seconds * 1e6:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
