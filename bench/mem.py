#!/usr/bin/env python3
"""Benchmark vigil mem: the cost of counting every page fault per process and mapping.

Prints, from one run, side by side:
  - a page-fault-heavy workload (memwork loop: map N pages, touch each, unmap, ITER times)
    untraced, under `vigil mem` (faults and OOM kills, the default: mappings named with
    bpf_find_vma), under `--mechanism maps` (per 64 KiB, named from /proc at print time),
    and under `-e faults,oom,rss` (every RSS change too), as time ratios (medians, interleaved);
  - the BPF cost per fault of each program (kernel BPF stats, from -v);
  - start-up to all attached and peak RSS (VmHWM).
No anchor runs here: bcc has no page fault tool, bpftrace's needs a kprobe on
handle_mm_fault and libbpf-tools' oomkill a kprobe on oom_kill_process (no CONFIG_KPROBES).
Usage: bench/mem.py [RUNS]   (root; `make` and the workloads first)
"""
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
MEMWORK = os.path.join(ROOT, "build", "tests", "workloads", "memwork")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PAGES, ITER = 256, 400


def work():
    """Elapsed seconds of PAGES * ITER fresh-page faults, as memwork measured them."""
    p = subprocess.run([MEMWORK, "loop", str(PAGES), str(ITER)], input=b"x", capture_output=True,
                       check=True)
    done = [l for l in p.stdout.decode().splitlines() if l.startswith("done ")][0].split()
    return int(done[3]) / 1e9


def start(args):
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "mem", "-v", *args, "--json", "-o", "/dev/null"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "programs attached" in line:
            return p, time.monotonic() - t0
    raise RuntimeError("vigil mem did not attach")


def stop(p):
    with open(f"/proc/{p.pid}/status") as f:
        hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0]
    p.send_signal(2)
    err = p.stderr.read()
    p.wait(timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"vigil mem exited {p.returncode}: {err}")
    costs = {m[0]: (int(m[1]), float(m[2])) for m in
             re.findall(r"cost: '(\w+)' ran (\d+) times, \d+ ns in all, (\d+) ns per run", err)}
    return hwm, costs


def main():
    modes = {"untraced": None, "vigil mem": [], "vigil mem --mechanism maps": ["--mechanism", "maps"],
             "vigil mem -e faults,oom,rss": ["-e", "faults,oom,rss"]}
    times = {m: [] for m in modes}
    starts, rss, costs = [], [], {}
    for _ in range(RUNS):
        for m, args in modes.items():
            if args is None:
                times[m].append(work())
                continue
            p, st = start(args)
            starts.append(st)
            times[m].append(work())
            hwm, c = stop(p)
            rss.append(hwm)
            for prog, v in c.items():
                costs.setdefault((m, prog), []).append(v[1])
    base = statistics.median(times["untraced"])
    faults = PAGES * ITER
    print(f"vigil mem, {RUNS} interleaved runs (medians), {faults} faults per run "
          f"(memwork loop {PAGES} {ITER})")
    for m in modes:
        t = statistics.median(times[m])
        print(f"  {m:30s} {t * 1000:8.1f} ms  {t * 1e9 / faults:7.0f} ns/fault  ratio {t / base:.3f}")
    print("  anchor: none runs here (no CONFIG_KPROBES: oomkill, bpftrace handle_mm_fault)")
    for (m, prog), v in sorted(costs.items()):
        if statistics.median(v):
            print(f"  BPF cost {m:30s} {prog:16s} {statistics.median(v):6.0f} ns per run")
    print(f"  start-up to all attached: {statistics.median(starts) * 1000:.1f} ms (target <= 100 ms)")
    print(f"  peak RSS: {max(rss) / 1024:.1f} MB (target <= 10 MB)")


if __name__ == "__main__":
    main()
