#!/usr/bin/env python3
"""Benchmark vigil top: the cost of counting every context switch, exec and syscall per cgroup.

Prints, from one run, side by side:
  - a context-switch-heavy workload (a pipe ping-pong between two processes, N round trips)
    and an exec loop, untraced and under `vigil top`, as time ratios (medians, interleaved);
  - vigil top's start-up to all-attached and its peak RSS (VmHWM).
There is no anchor tool that counts per cgroup from eBPF; systemd-cgtop reads cgroupfs and
sees no execs or syscalls, so the comparison is against untraced.
Usage: bench/top.py [RUNS]   (root)
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PINGPONG = 100000
EXECS = 500


def pingpong():
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        for _ in range(PINGPONG):
            os.read(r1, 1)
            os.write(w2, b"x")
        os._exit(0)
    for _ in range(PINGPONG):
        os.write(w1, b"x")
        os.read(r2, 1)
    os.waitpid(pid, 0)
    for fd in (r1, w1, r2, w2):
        os.close(fd)
    return time.monotonic() - t0


def execs():
    t0 = time.monotonic()
    subprocess.run(["/bin/sh", "-c", f"i=0; while [ $i -lt {EXECS} ]; do /bin/true; i=$((i+1)); done"],
                   check=True)
    return time.monotonic() - t0


def start_top():
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "top", "-i", "1s", "--json", "-o", "/dev/null"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "attached" in line:
            return p, time.monotonic() - t0
    raise RuntimeError("vigil top did not attach")


def stop(p):
    with open(f"/proc/{p.pid}/status") as f:
        hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0]
    p.send_signal(2)
    p.wait(timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"vigil top exited {p.returncode}")
    return hwm


def main():
    res = {"pingpong": ([], []), "execs": ([], [])}
    starts, rss = [], []
    for _ in range(RUNS):
        for name, fn in (("pingpong", pingpong), ("execs", execs)):
            res[name][0].append(fn())
            p, st = start_top()
            starts.append(st)
            res[name][1].append(fn())
            rss.append(stop(p))
    print(f"vigil top, {RUNS} interleaved runs (medians)")
    for name, (un, tr) in res.items():
        u, t = statistics.median(un), statistics.median(tr)
        print(f"  {name:9s} untraced {u * 1000:8.1f} ms   under vigil top {t * 1000:8.1f} ms   ratio {t / u:.3f}")
    print(f"  start-up to all attached: {statistics.median(starts) * 1000:.1f} ms (target <= 100 ms)")
    print(f"  peak RSS: {max(rss) / 1024:.1f} MB (target <= 10 MB)")


if __name__ == "__main__":
    main()
