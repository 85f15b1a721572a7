#!/usr/bin/env python3
"""Benchmark vigil guard: what enforcing a policy costs the operations it checks.

Prints, from one run, side by side:
  - fork + exec of /bin/true in a loop, and loopback TCP connects in a loop:
    untraced, then under a 1,000-rule policy (none of them matching the
    workload, so every operation walks the whole check), medians of interleaved
    runs, as ratios;
  - start-up to enforcing (launch to the 'guard: enforcing' line), median;
  - peak RSS of vigil while the loops run (the binary's page cache evicted
    first, see evict_binary()).
There is no anchor: no libbpf-tools tool enforces anything, and Tetragon is not
packaged for Debian 12.
Usage: bench/guard.py [RUNS] [EXECS] [CONNECTS]   (root)
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
EXECS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
CONNECTS = int(sys.argv[3]) if len(sys.argv) > 3 else 5000


def policy(dirname, n=1000):
    """n rules: exec paths, directories and hashes that exist but never run, and
    connect prefixes that are not loopback, over four cgroup-free scopes."""
    lines, files = [], []
    for i in range(n // 4):
        f = os.path.join(dirname, f"f{i}")
        with open(f, "w") as fh:
            fh.write(f"#!/bin/sh\n# {i}\n")
        files.append(f)
        lines.append(f"deny exec {f}")
    for i in range(n // 4):
        d = os.path.join(dirname, f"d{i}")
        os.mkdir(d)
        lines.append(f"deny exec {d}/**")
    for i in range(n // 4):
        lines.append(f"deny exec sha256:{i:064x}")
    for i in range(n - 3 * (n // 4)):
        lines.append(f"deny connect 10.{i // 256}.{i % 256}.0/24 port 1-65535")
    path = os.path.join(dirname, "policy")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def exec_loop(n):
    t0 = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            try:
                os.execv("/bin/true", ["true"])
            finally:
                os._exit(127)
        os.waitpid(pid, 0)
    return time.perf_counter() - t0


def connect_loop(n):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    addr = srv.getsockname()
    t0 = time.perf_counter()
    for _ in range(n):
        c = socket.socket()
        c.connect(addr)
        a, _ = srv.accept()
        a.close()
        c.close()
    dt = time.perf_counter() - t0
    srv.close()
    return dt


def evict_binary():
    """Drop the vigil binary's page cache: a freshly linked file sits in large
    folios that fault-around maps whole (its text alone was 3.9 MB of RSS, vs
    1.6 MB once read back from disk as an installed binary is), so without this
    the peak RSS depends on when the binary was last written."""
    fd = os.open(VIGIL, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def start_guard(path):
    evict_binary()
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "guard", "load", "-f", path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "guard: enforcing" in line:
            return p, time.monotonic() - t0
    raise RuntimeError("vigil guard ended without enforcing")


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    tmp = tempfile.TemporaryDirectory(prefix="vigil-bench-guard-")
    path = policy(tmp.name)
    res = {"untraced": {"exec": [], "connect": []}, "guard": {"exec": [], "connect": []}}
    starts, rss = [], 0
    mech = "?"
    exec_loop(50)
    connect_loop(200)
    for _ in range(RUNS):
        res["untraced"]["exec"].append(exec_loop(EXECS))
        res["untraced"]["connect"].append(connect_loop(CONNECTS))
        p, st = start_guard(path)
        starts.append(st)
        try:
            res["guard"]["exec"].append(exec_loop(EXECS))
            res["guard"]["connect"].append(connect_loop(CONNECTS))
            rss = max(rss, hwm_kb(p.pid))
        finally:
            p.terminate()
            p.wait()
    m = subprocess.Popen([VIGIL, "guard", "load", "-f", path, "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    for line in m.stdout:
        if '"type":"mechanism"' in line:
            mech = line.split('"mechanism":"')[1].split('"')[0]
            break
    m.terminate()
    m.wait()
    print(f"policy: 1,000 rules (250 paths, 250 directories, 250 hashes, 250 prefixes); "
          f"exec mechanism {mech}; {RUNS} interleaved runs, medians")
    print(f"{'workload':34} {'untraced':>10} {'guard':>10} {'ratio':>7}")
    for k, n, unit in (("exec", EXECS, "fork+exec /bin/true"), ("connect", CONNECTS, "loopback TCP connect")):
        u = statistics.median(res["untraced"][k])
        g = statistics.median(res["guard"][k])
        print(f"{n} x {unit:28} {u * 1e6 / n:8.1f}us {g * 1e6 / n:8.1f}us {g / u:7.3f}")
    print(f"start-up to enforcing: {statistics.median(starts) * 1000:.1f} ms (median); "
          f"peak RSS {rss / 1024:.1f} MB")


if __name__ == "__main__":
    main()
