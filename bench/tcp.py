#!/usr/bin/env python3
"""Benchmark vigil tcp against libbpf-tools tcplife on many short loopback connections.

Prints, from one run, side by side: connections per second untraced, under
`vigil tcp` (stream, NDJSON to a file) and under tcplife (to /dev/null), with
the ratios to untraced; vigil's launch to all attached and its peak RSS
under the churn. vigil's final summary must count every connection, or the
script reports no number.
Usage: bench/tcp.py [RUNS] [CONNS]   (root; build the workloads first)
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
CHURN = os.path.join(ROOT, "build", "tests", "workloads", "tcp_churn")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
CONNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20000


def churn():
    out = subprocess.run([CHURN, str(CONNS)], capture_output=True, text=True, check=True).stdout
    n, secs = out.split()
    return int(n) / float(secs)


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def under_vigil(tmp):
    out = os.path.join(tmp, "vigil.json")
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "tcp", "--json", "-o", out, "-i", "1h"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "attached" in line:
            break
    attached = time.monotonic() - t0
    rate = churn()
    time.sleep(0.3)
    rss = hwm_kb(p.pid)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    summary = [r for r in map(json.loads, open(out)) if r.get("type") == "tcp_summary"]
    if not summary or summary[-1]["opened_active"] < CONNS or summary[-1]["opened_passive"] < CONNS:
        raise SystemExit(f"bench/tcp.py: vigil missed connections: {summary}")
    return rate, attached, rss


def under_tcplife(tmp):
    path = os.path.join(tmp, "tcplife.txt")
    with open(path, "w") as out:
        p = subprocess.Popen(["stdbuf", "-oL", "/usr/sbin/tcplife"], stdout=out,
                             stderr=subprocess.DEVNULL)
        while "PID" not in open(path).read():   # the header: attached
            if p.poll() is not None:
                raise SystemExit("bench/tcp.py: tcplife ended")
            time.sleep(0.01)
        rate = churn()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    return rate


def main():
    if os.geteuid() != 0:
        sys.exit("bench/tcp.py: needs root")
    for f in (VIGIL, CHURN, "/usr/sbin/tcplife"):
        if not os.access(f, os.X_OK):
            sys.exit(f"bench/tcp.py: missing {f} (make; scripts/deps.sh all)")
    tmp = tempfile.mkdtemp(prefix="vigil-bench-")
    base, vig, life, att, rss = [], [], [], [], []
    churn()   # warm up
    for _ in range(RUNS):   # interleaved, so drift hits all alike
        base.append(churn())
        r, a, m = under_vigil(tmp)
        vig.append(r)
        att.append(a)
        rss.append(m)
        life.append(under_tcplife(tmp))
    b, v, t = statistics.median(base), statistics.median(vig), statistics.median(life)
    print(f"{CONNS} loopback connections of 100 bytes each way per run, {RUNS} interleaved runs, "
          f"medians; kernel {os.uname().release}, load {os.getloadavg()[0]:.2f}")
    print(f"{'':<12} {'conn/s':>10} {'ratio':>7}")
    print(f"{'untraced':<12} {b:>10.0f} {1:>7.2f}")
    print(f"{'vigil tcp':<12} {v:>10.0f} {v / b:>7.2f}")
    print(f"{'tcplife':<12} {t:>10.0f} {t / b:>7.2f}")
    print(f"vigil launch to all attached {statistics.median(att) * 1e3:.1f} ms (target 100), "
          f"peak RSS {max(rss) / 1024:.1f} MiB (target 10)")


if __name__ == "__main__":
    main()
