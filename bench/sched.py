#!/usr/bin/env python3
"""Benchmark vigil sched against runqlat on a context-switch storm.

Prints, from one run, side by side:
  - `perf bench sched pipe` (two processes, a pipe ping-pong: two switches per round
    trip) in switches per second, untraced, under `vigil sched` (host histogram and
    per-process rows: off-CPU by state, context switches, run-queue totals), under
    `vigil sched -P` (plus a histogram per process), and under libbpf-tools `runqlat`
    (host histogram only), as ratios to untraced; medians of interleaved runs;
  - vigil sched's BPF cost per sched_switch run (BPF stats, -v, in a run of its own:
    stats add to every program run, so the throughput runs go without them);
  - start-up to all attached and peak RSS (VmHWM).
Usage: bench/sched.py [RUNS] [LOOPS]   (root)
"""
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
LOOPS = int(sys.argv[2]) if len(sys.argv) > 2 else 200000


def pipe_ops():
    # both ends on one CPU: every round trip is two context switches, whatever the
    # other CPUs are doing (the numbers move less on a shared machine)
    out = subprocess.run(["taskset", "-c", "1", "perf", "bench", "sched", "pipe", "-l", str(LOOPS)],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"(\d+) ops/sec", out).group(1))


def start_vigil(*args):
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "sched", *args, "--json", "-o", "/dev/null"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "attached" in line:
            return p, time.monotonic() - t0
    raise RuntimeError("vigil sched did not attach")


def stop_vigil(p):
    with open(f"/proc/{p.pid}/status") as f:
        hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0]
    p.send_signal(2)
    err = p.stderr.read()
    p.wait(timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"vigil sched exited {p.returncode}: {err}")
    m = re.search(r"cost: 'sched_switch' ran (\d+) times, (\d+) ns in all", err)
    return hwm, int(m.group(2)) / max(1, int(m.group(1))) if m else None


def start_runqlat():
    p = subprocess.Popen(["stdbuf", "-oL", "/usr/sbin/runqlat"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    if "Tracing" not in p.stdout.readline():
        raise RuntimeError("runqlat did not start")
    return p


def main():
    res = {"untraced": [], "vigil sched": [], "vigil sched -P": [],
           "vigil sched --no-rows": [], "runqlat": []}
    starts, rss, cost = [], [], []
    for _ in range(RUNS):
        res["untraced"].append(pipe_ops())
        for name, args in (("vigil sched", ()), ("vigil sched -P", ("-P",)),
                           ("vigil sched --no-rows", ("--no-rows",))):
            p, st = start_vigil(*args)
            starts.append(st)
            res[name].append(pipe_ops())
            rss.append(stop_vigil(p)[0])
        p = start_runqlat()
        res["runqlat"].append(pipe_ops())
        p.send_signal(2)
        p.communicate(timeout=30)
    # BPF stats cost every program run a little: the cost is measured apart
    p, _ = start_vigil("-v")
    pipe_ops()
    cost.append(stop_vigil(p)[1])
    base = statistics.median(res["untraced"])
    print(f"taskset -c 1 perf bench sched pipe -l {LOOPS}, {RUNS} interleaved runs (medians, "
          f"{os.cpu_count()} CPUs)")
    for name, v in res.items():
        m = statistics.median(v)
        print(f"  {name:22s} {m * 2:10.0f} switches/s   ratio {m / base:.3f}")
    print(f"  vigil sched_switch cost: {statistics.median(cost):.0f} ns per run (BPF stats)")
    print(f"  start-up to all attached: {statistics.median(starts) * 1000:.1f} ms (target <= 100 ms)")
    print(f"  peak RSS: {max(rss) / 1024:.1f} MB (target <= 10 MB)")


if __name__ == "__main__":
    main()
