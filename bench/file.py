#!/usr/bin/env python3
"""Benchmark vigil file against libbpf-tools opensnoop on the same loops.

Prints, from one run, side by side (medians over RUNS, interleaved):
  - ns per open+close of an existing file, and per 1-byte write(), untraced,
    under `vigil file` (the whole host traced, NDJSON to /dev/null), under
    `vigil file --min 1s` (read/write hooked too, nothing slow enough to send),
    and under opensnoop (output to /dev/null); with ratios to untraced;
  - vigil's launch to all attached, and its peak RSS over the open loop.
Usage: bench/file.py [RUNS]   (root; build/tests/workloads/fl_loop from make)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
LOOP = os.path.join(ROOT, "build", "tests", "workloads", "fl_loop")
OPENSNOOP = "/usr/sbin/opensnoop"
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
N_OPEN, N_WRITE = 200000, 500000


def loop(kind, path):
    n = N_OPEN if kind == "open" else N_WRITE
    out = subprocess.run([LOOP, kind, str(n), path], capture_output=True, text=True, check=True)
    return float(out.stdout)


def start_tracer(argv, wait_for):
    """Start argv; return once it says it is attached (a line on stderr or stdout)."""
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE if wait_for == "stdout" else subprocess.DEVNULL,
                         stderr=err, text=True)
    t0 = time.monotonic()
    if wait_for == "stdout":
        p.stdout.readline()  # opensnoop's header comes once it is attached
        # then keep draining its output so it never blocks
        drain = subprocess.Popen(["cat"], stdin=p.stdout, stdout=subprocess.DEVNULL)
        p.drain = drain
    else:
        while True:
            err.seek(0)
            if "attached" in err.read():
                break
            if p.poll() is not None or time.monotonic() - t0 > 30:
                raise RuntimeError(f"{argv} did not attach")
            time.sleep(0.005)
        p.drain = None
    p.attach_s = time.monotonic() - t0
    return p


def stop_tracer(p):
    hwm = None
    with open(f"/proc/{p.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    p.send_signal(2)
    p.wait()
    if p.drain:
        p.drain.wait()
    return hwm


def main():
    if os.geteuid() != 0:
        sys.exit("bench/file.py: needs root")
    if not os.path.exists(OPENSNOOP):
        sys.exit("bench/file.py: missing /usr/sbin/opensnoop (libbpf-tools): run scripts/deps.sh all")
    tmp = tempfile.mkdtemp(prefix="vigil-bench-file-")
    target = os.path.join(tmp, "exists")
    with open(target, "w") as f:
        f.write("x")
    wfile = os.path.join(tmp, "w")
    modes = {
        "untraced": None,
        "vigil file": ([VIGIL, "file", "--json", "-o", "/dev/null"], "stderr"),
        "vigil file --min 1s": ([VIGIL, "file", "--min", "1s", "--json", "-o", "/dev/null"],
                                "stderr"),
        "opensnoop": (["stdbuf", "-oL", OPENSNOOP], "stdout"),
    }
    res = {m: {"open": [], "write": []} for m in modes}
    attach, rss = [], []
    for _ in range(RUNS):
        for m, spec in modes.items():
            p = start_tracer(*spec) if spec else None
            if p and m == "vigil file":
                attach.append(p.attach_s)
            res[m]["open"].append(loop("open", target))
            res[m]["write"].append(loop("write", wfile))
            if p:
                hwm = stop_tracer(p)
                if m == "vigil file":
                    rss.append(hwm)
    print(f"runs: {RUNS} (interleaved), kernel {os.uname().release}, "
          f"load {os.getloadavg()[0]:.2f}, {N_OPEN} opens, {N_WRITE} writes per run")
    print(f"{'mode':<22} {'open+close ns':>14} {'ratio':>7} {'write ns':>10} {'ratio':>7}")
    base = {k: statistics.median(res["untraced"][k]) for k in ("open", "write")}
    for m in modes:
        o, w = (statistics.median(res[m][k]) for k in ("open", "write"))
        print(f"{m:<22} {o:>14.1f} {o / base['open']:>6.2f}x {w:>10.1f} {w / base['write']:>6.2f}x")
    print(f"vigil file: launch to all attached {statistics.median(attach) * 1e3:.1f} ms (median), "
          f"peak RSS {max(rss) / 1024:.1f} MiB (target <= 100 ms, <= 10 MiB)")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
