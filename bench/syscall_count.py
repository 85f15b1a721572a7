#!/usr/bin/env python3
"""vigil syscall --count and NDJSON streaming against syscount and bpftrace (issue 10).

One run, interleaved repetitions (the order rotates every repetition), medians,
ratios side by side. Every configuration traces the same workload:
build/tests/workloads/sc_loop -w getppid N, which prints its pid, waits for a byte
on stdin (so the tracer attaches to that pid before the loop starts) and times
only its own loop. Tracer start-up and teardown are not in any number.

  python3 bench/syscall_count.py [--calls N] [--reps R]

Counting rows (added ns per call over the untraced loop of the same repetition set):
  vigil syscall -C -p PID        one hook (raw_tp sys_exit)
  vigil syscall -C -L -p PID     enter + exit (latency)
  syscount -p PID                libbpf-tools, counts on sys_exit
  syscount -L -p PID             libbpf-tools, enter + exit
  bpftrace @[args->id] = count() tracepoint:raw_syscalls:sys_enter /pid == PID/
Each tracer's count of getppid must equal N, or the run is refused.

Streaming rows: the consumer's events per CPU-second while the loop runs
  vigil syscall -p PID --json -o /dev/null    events = its "N events received" line
  bpftrace sys_exit /pid == PID/ printf(...)   -o /dev/null; events = N + the loop's
                                              2 other calls: with -o its "Lost" line
                                              goes to /dev/null too, so its loss is not
                                              seen and its rate is an upper bound
CPU time is the tracer's utime + stime from /proc/PID/stat, sampled just before the
loop is released and again once the tracer has drained (its CPU time stops moving,
or it has exited: then wait4's rusage), so start-up (bpftrace's compilation) is
not charged to either.
"""
import argparse
import os
import re
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
TICK = os.sysconf("SC_CLK_TCK")
GETPPID_NR = 110  # x86_64


def cpu_of(pid):
    """utime + stime of a live process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    w = s[s.rindex(")") + 2:].split()
    return (int(w[11]) + int(w[12])) / TICK


class Workload:
    def __init__(self, calls):
        self.proc = subprocess.Popen([SC_LOOP, "-w", "getppid", str(calls)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.pid = int(line.split()[1])

    def release(self):
        self.proc.stdin.write("x")
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it again

    def ns(self):
        out, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0:
            raise RuntimeError(f"sc_loop failed: {err}")
        return int([x for x in err.splitlines() if x.strip().isdigit()][-1])


class Tracer:
    def __init__(self, argv, ready, ready_file=None):
        self.argv = argv
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-bench-")
        self.out = open(os.path.join(self.tmp.name, "out"), "w+")
        self.err = open(os.path.join(self.tmp.name, "err"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err)
        self.rusage_cpu = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ready_file and os.path.exists(ready_file):
                os.unlink(ready_file)
                return
            if ready and ready in self.text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv} exited early: {self.text()}")
            time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError(f"{argv} did not start: {self.text()}")

    def text(self):
        s = ""
        for f in (self.out, self.err):
            f.flush()
            with open(f.name) as r:
                s += r.read()
        return s

    def cpu(self):
        return cpu_of(self.proc.pid)

    def settle(self):
        """CPU seconds once the tracer stopped working (or exited by itself)."""
        last = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.rusage_cpu = ru.ru_utime + ru.ru_stime
                return self.rusage_cpu
            c = self.cpu()
            if c == last:
                return c
            last = c
            time.sleep(0.2)
        raise RuntimeError(f"{self.argv} did not settle")

    def wait_exit(self, timeout=60):
        """A -p vigil ends by itself when the process exits."""
        if self.proc.returncode is None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"{self.argv} did not exit after its process did")
        return self.finish()

    def interrupt(self):
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            # bpftrace 0.17 has been seen to hang in its exit after SIGINT: killed after 30 s
            deadline = time.monotonic() + 30
            while True:
                pid, status, _ = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    self.proc.kill()
                    _, status, _ = os.wait4(self.proc.pid, 0)
                    status = 0      # its events were counted by settle(); the hang is its own
                    break
                time.sleep(0.1)
            self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.finish()

    def finish(self):
        text = self.text()
        self.tmp.cleanup()
        if self.proc.returncode != 0:
            raise RuntimeError(f"{self.argv} exited {self.proc.returncode}: {text}")
        return text


def bpftrace(opts, prog):
    """bpftrace, ready once every probe is attached.

    Its "Attaching N probes" line comes before attaching (waiting for it lost the
    first 4% of the loop), and with -o it goes to the file. BEGIN fires once every
    probe is attached: it marks readiness in a file instead.
    """
    ready = tempfile.mktemp(prefix="vigil-bench-ready-")
    prog = f'BEGIN {{ system("touch {ready}"); }} ' + prog
    return Tracer(["bpftrace", "--unsafe", *opts, prog], None, ready_file=ready)


def getppid_count(text, style):
    if style == "bpftrace":
        m = re.search(rf"^@\[{GETPPID_NR}\]: (\d+)", text, re.M)
    else:
        m = re.search(r"^getppid\s+(\d+)", text, re.M)
    return int(m.group(1)) if m else -1


def count_run(name, calls):
    """One counting run; returns the loop's ns (None for untraced is the loop alone)."""
    w = Workload(calls)
    try:
        pid = str(w.pid)
        if name == "untraced":
            w.release()
            return w.ns()
        if name.startswith("vigil"):
            lat = ["-L"] if "-L" in name else []
            t = Tracer([VIGIL, "syscall", "-C", *lat, "-p", pid], "attached")
            style = "vigil"
        elif name.startswith("syscount"):
            lat = ["-L"] if "-L" in name else []
            # stdbuf: syscount prints its "Tracing" line (after attaching) with stdio
            t = Tracer(["stdbuf", "-oL", "syscount", *lat, "-p", pid], "Tracing syscalls")
            style = "syscount"
        else:
            prog = (f"tracepoint:raw_syscalls:sys_enter /pid == {pid}/ "
                    "{ @[args->id] = count(); }")
            t = bpftrace(["-e"], prog)
            style = "bpftrace"
        w.release()
        ns = w.ns()
        text = t.wait_exit() if style == "vigil" else t.interrupt()
        n = getppid_count(text, style)
        if n != calls:
            raise RuntimeError(f"{name}: counted {n} getppid calls, not {calls}:\n{text}")
        return ns
    finally:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def stream_run(name, calls):
    """Returns (events, lost, consumer CPU seconds, loop ns)."""
    w = Workload(calls)
    try:
        pid = str(w.pid)
        if name == "vigil":
            t = Tracer([VIGIL, "syscall", "-p", pid, "--json", "-o", "/dev/null"], "attached")
        else:
            prog = (f"tracepoint:raw_syscalls:sys_exit /pid == {pid}/ "
                    '{ printf("%d %d %d %ld\\n", pid, tid, args->id, args->ret); }')
            t = bpftrace(["-o", "/dev/null", "-e"], prog)
        c0 = t.cpu()
        w.release()
        ns = w.ns()
        c1 = t.settle()
        if name == "vigil":
            text = t.wait_exit()
            m = re.search(r"(\d+) events received, (\d+) lost", text)
            if not m:
                raise RuntimeError(f"vigil: no final count line:\n{text}")
            events, lost = int(m.group(1)), int(m.group(2))
        else:
            t.interrupt()
            # sys_exit of the loop's calls, the read that released it and its final
            # write; bpftrace's own loss is not visible here (see the docstring), so
            # this is an upper bound for it
            lost = None
            events = calls + 2
        return events, lost, c1 - c0, ns
    finally:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


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
    for tool in ("bpftrace", "syscount"):
        if not shutil.which(tool):
            sys.exit(f"bench: missing '{tool}': run scripts/deps.sh all")

    names = ["untraced", "vigil syscall -C -p", "syscount -p", "vigil syscall -C -L -p",
             "syscount -L -p", "bpftrace @[args->id] = count()"]
    rows = {n: [] for n in names}
    streams = {"vigil": [], "bpftrace": []}
    for rep in range(a.reps):
        print(f"rep {rep + 1}/{a.reps}", file=sys.stderr)
        order = names[rep % len(names):] + names[:rep % len(names)]
        for n in order:
            rows[n].append(count_run(n, a.calls))
        for s in (["vigil", "bpftrace"] if rep % 2 == 0 else ["bpftrace", "vigil"]):
            streams[s].append(stream_run(s, a.calls))

    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    base = statistics.median(rows["untraced"]) / a.calls
    print(f"\n{a.calls} getppid() calls per run, {a.reps} interleaved repetitions, "
          f"medians; load average at the end {load}\n")
    print(f"| {'configuration':<32} | {'ns/call':>8} | {'added ns':>8} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 10}|")
    added = {}
    for n in names:
        med = statistics.median(rows[n]) / a.calls
        added[n] = med - base
        extra = "" if n == "untraced" else f"{added[n]:8.0f}"
        print(f"| {n:<32} | {med:8.0f} | {extra:>8} |")
    print()
    for v, s in (("vigil syscall -C -p", "syscount -p"),
                 ("vigil syscall -C -L -p", "syscount -L -p")):
        print(f"{v} / {s}: {added[v] / added[s]:.2f} (added cost)")
    print(f"\nstreaming, consumer events per CPU-second (medians of {a.reps})\n")
    print(f"| {'consumer':<34} | {'events/CPU-s':>12} | {'events/s':>9} | {'lost':>11} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 11}|{'-' * 13}|")
    for s, label in (("vigil", "vigil syscall -p --json -o /dev/null"),
                     ("bpftrace", "bpftrace printf -o /dev/null")):
        v = streams[s]
        eps = statistics.median(e / c for e, _, c, _ in v if c > 0)
        rate = statistics.median(e / (ns / 1e9) for e, _, _, ns in v)
        lost = [lo for _, lo, _, _ in v]
        shown = "not seen" if lost[0] is None else f"{min(lost)}..{max(lost)}"
        print(f"| {label:<34} | {eps / 1e6:10.2f} M | {rate / 1e6:7.2f} M | {shown:>11} |")
    print("\nraw (events, lost, cpu s, loop ns):", file=sys.stderr)
    for s, v in streams.items():
        print(f"  {s}: {v}", file=sys.stderr)


if __name__ == "__main__":
    main()
