#!/usr/bin/env python3
"""Benchmark vigil profile: what sampling costs a CPU-bound workload, and what rendering costs.

Prints, from one run, side by side:
  - throughput of a CPU-bound loop on every CPU (profwork bench: prof_hot() calls in a fixed
    time), untraced, under `vigil profile` and under `perf record -g -a` (the anchor), at 99 Hz
    and 999 Hz, as ratios to untraced (medians of interleaved runs);
  - the time from the end of a profile of ~10k distinct stacks (profwork tree at 999 Hz) to
    vigil's exit with the stacks symbolized and the SVG written, and its peak RSS then;
  - start-up to all-attached, and peak RSS of a plain 99 Hz profile.
Usage: bench/profile.py [RUNS]   (root; perf from linux-perf)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
PROFWORK = os.path.join(ROOT, "build", "tests", "workloads", "profwork")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SECS = 2.0
NCPU = os.cpu_count()


def workload():
    """prof_hot() calls per second, summed over one process per CPU"""
    ps = [subprocess.Popen([PROFWORK, "bench", str(SECS)], stdout=subprocess.PIPE, text=True)
          for _ in range(NCPU)]
    total = 0
    for p in ps:
        out = p.communicate()[0].split()
        total += int(out[out.index("calls") + 1])
    return total / SECS


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0]


def start_vigil(*args):
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "profile", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "attached" in line:
            return p, time.monotonic() - t0
    raise RuntimeError("vigil profile did not attach: " + p.stderr.read())


def stop(p):
    hwm = vm_hwm(p.pid)
    p.send_signal(2)
    p.communicate(timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"exited {p.returncode}")
    return hwm


def under_vigil(freq, starts, rss):
    p, st = start_vigil("-F", str(freq), "--json", "-o", "/dev/null")
    starts.append(st)
    r = workload()
    rss.append(stop(p))
    return r


def under_perf(freq, tmp):
    p = subprocess.Popen(["perf", "record", "-F", str(freq), "-g", "-a", "-o",
                          os.path.join(tmp, "perf.data")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r = workload()
    p.send_signal(2)
    p.wait(timeout=120)
    return r


def render_bench(tmp):
    """profile ~10k distinct stacks, then time SIGINT -> exit (read, symbolize, SVG)"""
    svg, out = os.path.join(tmp, "tree.svg"), os.path.join(tmp, "tree.json")
    ws = [subprocess.Popen([PROFWORK, "tree", "30"], stdout=subprocess.DEVNULL)
          for _ in range(NCPU)]
    # 4x the default stack storage: ~10k distinct stacks collide less in the stack map
    p, _ = start_vigil("-F", "999", "-c", "profwork", "--stack-storage", "65536", "--svg", svg,
                       "--json", "-o", out)
    time.sleep(8)
    t0 = time.monotonic()
    hwm = stop(p)
    took = time.monotonic() - t0
    for w in ws:
        w.kill()
        w.wait()
    summary = [json.loads(l) for l in open(out) if '"type":"profile"' in l][-1]
    return took, summary["stacks"], os.path.getsize(svg), hwm, summary


def main():
    have_perf = shutil.which("perf") is not None
    tmp = tempfile.mkdtemp(prefix="vigil-bench-")
    rows = {k: [] for k in ("untraced", "vigil 99", "vigil 999", "perf 99", "perf 999")}
    starts, rss = [], []
    for _ in range(RUNS):
        rows["untraced"].append(workload())
        rows["vigil 99"].append(under_vigil(99, starts, rss))
        rows["vigil 999"].append(under_vigil(999, starts, []))
        if have_perf:
            rows["perf 99"].append(under_perf(99, tmp))
            rows["perf 999"].append(under_perf(999, tmp))
    base = statistics.median(rows["untraced"])
    print(f"CPU-bound loop on {NCPU} CPUs, {SECS:.0f} s per run, {RUNS} interleaved runs, medians")
    print(f"{'':24} {'calls/s':>12} {'ratio':>7}")
    for k, v in rows.items():
        if not v:
            print(f"{k:24} {'not run (no perf)':>20}")
            continue
        m = statistics.median(v)
        print(f"{k + (' Hz' if k != 'untraced' else ''):24} {m:12.0f} {m / base:7.3f}")
    took, stacks, size, hwm, s = render_bench(tmp)
    print(f"\nrender: {stacks} distinct stacks ({s['samples']} samples, "
          f"{s['user_stack_errors']} user and {s['kernel_stack_errors']} kernel stacks not "
          f"taken) read, symbolized, SVG of {size / 1e6:.1f} MB written in {took * 1000:.0f} ms; "
          f"peak RSS then {hwm / 1024:.1f} MB")
    print(f"start-up to attached: median {statistics.median(starts) * 1000:.1f} ms "
          f"(target 100); peak RSS at 99 Hz: {max(rss) / 1024:.1f} MB (target 10)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
