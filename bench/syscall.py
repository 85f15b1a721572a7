#!/usr/bin/env python3
"""vigil syscall against its alternatives, on one syscall-heavy workload.

One run, interleaved repetitions, medians, ratios side by side. The workload
(build/tests/workloads/sc_loop) times only its own getppid() loop, so tracer
start-up and teardown are not part of any number.

  python3 bench/syscall.py [--calls N] [--reps R]

Rows:
  untraced            the loop alone
  vigil --count       counts per syscall in the kernel (with latency: enter + exit)
  vigil hooks only    both hooks attached, every call filtered out: what the kernel's
                      syscall tracepoint path costs before vigil does any work
  vigil --count -P    per process and syscall: what the bpftrace line counts
  bpftrace            tracepoint:raw_syscalls:sys_enter { @[pid, args->id] = count(); }
  bpftrace 1 hook /   the cheapest possible programs: @ = count() on sys_enter, then on
  2 hooks             sys_enter and sys_exit (what pairing enter with exit costs at least)
  vigil stream        every syscall of the workload as NDJSON to /dev/null;
                      events/s delivered, events lost, and the consumer's CPU
  strace -c -f        the reference
  perf trace -s       if it runs here
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.path.join(ROOT, "build", "vigil")
SC_LOOP = os.path.join(ROOT, "build", "tests", "workloads", "sc_loop")
BPFTRACE_PROG = "tracepoint:raw_syscalls:sys_enter { @[pid, args->id] = count(); }"
BPFTRACE_ONE = "tracepoint:raw_syscalls:sys_enter { @ = count(); }"
BPFTRACE_TWO = ("tracepoint:raw_syscalls:sys_enter { @ = count(); } "
                "tracepoint:raw_syscalls:sys_exit { @ = count(); }")


def loop(wrapper=(), calls=0):
    """Run the workload (optionally under a wrapper); return the loop's ns."""
    p = subprocess.run([*wrapper, SC_LOOP, "getppid", str(calls)], capture_output=True,
                       text=True, check=True)
    # the workload's timing is the last line of its stderr (wrappers print before it)
    lines = [line for line in p.stderr.splitlines() if line.strip().isdigit()]
    return int(lines[-1])


class Background:
    """A tracer started before the loop and stopped with SIGINT after it."""

    def __init__(self, argv, ready):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-bench-")
        self.out = open(os.path.join(self.tmp.name, "out"), "w+")
        self.err = open(os.path.join(self.tmp.name, "err"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ready in self.text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited early: {self.text()}")
            time.sleep(0.02)
        raise RuntimeError(f"{argv[0]} did not start: {self.text()}")

    def text(self):
        s = ""
        for f in (self.out, self.err):
            f.flush()
            with open(f.name) as r:
                s += r.read()
        return s

    def stop(self):
        """SIGINT, wait; returns (stderr text, CPU seconds the tracer used)."""
        self.proc.send_signal(signal.SIGINT)
        _, status, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        text = self.text()
        self.tmp.cleanup()
        return text, ru.ru_utime + ru.ru_stime


def run_traced(argv, ready, calls):
    t = Background(argv, ready)
    try:
        ns = loop(calls=calls)
    finally:
        text, cpu = t.stop()
    return ns, text, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: must run as root")
    for f in (VIGIL, SC_LOOP):
        if not os.access(f, os.X_OK):
            sys.exit(f"bench: no {f}: run make and make {SC_LOOP}")

    # the anchors are what the ratios are against: without one the table would be void
    for tool in ("bpftrace", "strace", "perf"):
        if not shutil.which(tool):
            sys.exit(f"bench: missing '{tool}': run scripts/deps.sh all")
    r = subprocess.run(["perf", "trace", "-s", "-o", "/dev/null", "--", "true"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: 'perf trace' does not run here: {r.stderr.strip()}")

    rows = {}       # name -> [ns per loop]
    stream = []     # (ns, received, lost, cpu)

    def add(name, ns):
        rows.setdefault(name, []).append(ns)

    for rep in range(a.reps):
        print(f"rep {rep + 1}/{a.reps}", file=sys.stderr)
        add("untraced", loop(calls=a.calls))
        ns, _, _ = run_traced([VIGIL, "syscall", "--count", "-o", "/dev/null"], "attached",
                              a.calls)
        add("vigil syscall --count", ns)
        # the floor: both hooks attached, every call filtered out at once (pid 1)
        ns, _, _ = run_traced([VIGIL, "syscall", "--count", "-p", "1", "-o", "/dev/null"],
                              "attached", a.calls)
        add("vigil hooks only (-p 1, floor)", ns)
        ns, _, _ = run_traced([VIGIL, "syscall", "--count", "-P", "-o", "/dev/null"],
                              "attached", a.calls)
        add("vigil syscall --count -P", ns)
        ns, _, _ = run_traced(["bpftrace", "-e", BPFTRACE_PROG], "Attaching", a.calls)
        add("bpftrace @[pid, id] = count()", ns)
        ns, _, _ = run_traced(["bpftrace", "-e", BPFTRACE_ONE], "Attaching", a.calls)
        add("bpftrace 1 hook, @ = count()", ns)
        ns, _, _ = run_traced(["bpftrace", "-e", BPFTRACE_TWO], "Attaching", a.calls)
        add("bpftrace 2 hooks, @ = count()", ns)
        ns, text, cpu = run_traced([VIGIL, "syscall", "--json", "-o", "/dev/null", "-c",
                                    "sc_loop"], "attached", a.calls)
        add("vigil syscall (stream NDJSON)", ns)
        for line in text.splitlines():
            if "events received" in line:
                w = line.split()
                stream.append((ns, int(w[2]), int(w[5]), cpu))
        add("strace -c -f", loop(["strace", "-c", "-f", "-o", "/dev/null"], a.calls))
        add("perf trace -s", loop(["perf", "trace", "-s", "-o", "/dev/null", "--"], a.calls))

    base = statistics.median(rows["untraced"])
    print(f"\n{a.calls} getppid() calls per run, {a.reps} interleaved repetitions, medians\n")
    print(f"| {'configuration':<32} | {'ns/call':>8} | {'ratio':>6} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 8}|")
    for name, v in rows.items():
        med = statistics.median(v)
        print(f"| {name:<32} | {med / a.calls:8.0f} | {med / base:5.2f}x |")
    if stream:
        rate = statistics.median(r / (ns / 1e9) for ns, r, _, _ in stream)
        cap = statistics.median(r / c for _, r, _, c in stream if c > 0)
        lost = [lo for _, _, lo, _ in stream]
        recv = [r for _, r, _, _ in stream]
        print(f"\nstream: {rate / 1e6:.2f} M events/s delivered (median), "
              f"received per run {min(recv)}..{max(recv)}, lost per run {min(lost)}..{max(lost)}")
        print(f"stream consumer: {cap / 1e6:.2f} M events/s per CPU-second of vigil "
              f"(received / (user + system time))")


if __name__ == "__main__":
    main()
