#!/usr/bin/env python3
"""Benchmark vigil security: what it costs the traced workloads, from one run.

Prints side by side, untraced vs under `vigil security` (every kind, capability
checks de-duplicated, output to /dev/null), medians of interleaved runs:
  - exec-heavy: N fork+exec of /bin/true (hooked at sched_process_exec, not shipped),
    and of a copy in /dev/shm (every exec flagged and shipped);
  - syscall-heavy: N getppid() (no hook of vigil security runs), and N
    setuid(getuid()) (both syscall tracepoints and a capability check per call);
  - launch to all attached, peak RSS (VmHWM) under the exec storm;
  - the anchor, libbpf-tools `capable`, where it can run (a kprobe: not on this host).
Usage: bench/security.py [RUNS] [N]   (root; make and the sec_ops workload first)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
SEC_OPS = os.path.join(ROOT, "build", "tests", "workloads", "sec_ops")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000


def timed(argv):
    t0 = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def start_vigil(args):
    """vigil security ARGS to /dev/null; returns (process, seconds to attached)."""
    t0 = time.monotonic()
    p = subprocess.Popen([VIGIL, "security", "--json", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "attached" in line:
            return p, time.monotonic() - t0
    raise RuntimeError("vigil security ended without attaching")


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def stop(p):
    p.send_signal(2)
    p.wait(timeout=60)


def main():
    if os.geteuid() != 0:
        sys.exit("bench/security.py: needs root")
    if not os.access(SEC_OPS, os.X_OK):
        sys.exit(f"bench/security.py: no {SEC_OPS}: make build/tests/workloads/sec_ops")
    shm = tempfile.mkdtemp(prefix="vigil-bench-", dir="/dev/shm")
    os.chmod(shm, 0o1777)  # world-writable, like /dev/shm itself
    shm_true = os.path.join(shm, "true")
    shutil.copy("/bin/true", shm_true)
    loop = 'i=0; while [ $i -lt {n} ]; do "{exe}"; i=$((i+1)); done'
    workloads = [
        ("exec /bin/true", ["sh", "-c", loop.format(n=N, exe="/bin/true")], N),
        ("exec /dev/shm copy (flagged)", ["sh", "-c", loop.format(n=N, exe=shm_true)], N),
        ("getppid (not hooked)", [SEC_OPS, "spin", str(N * 300)], N * 300),
        ("setuid(getuid()) (hooked)", [SEC_OPS, "setuids", str(N * 100)], N * 100),
    ]
    times = {w[0]: ([], []) for w in workloads}
    attach, rss = [], []
    try:
        for _ in range(RUNS):  # interleaved, so drift hits both alike
            for name, argv, _ in workloads:
                times[name][0].append(timed(argv))
            p, a = start_vigil([])
            attach.append(a)
            try:
                for name, argv, _ in workloads:
                    times[name][1].append(timed(argv))
                rss.append(hwm_kb(p.pid))
            finally:
                stop(p)
    finally:
        shutil.rmtree(shm)

    anchor = "not run"
    if os.path.exists("/usr/sbin/capable"):
        c = subprocess.run(["timeout", "5", "/usr/sbin/capable"], capture_output=True, text=True)
        err = (c.stderr.strip().splitlines() or ["?"])[-1]
        anchor = f"exit {c.returncode}: {err[:90]}" if c.returncode not in (0, 124) else "runs"

    print(f"runs: {RUNS} (interleaved), kernel {os.uname().release}, "
          f"load {os.getloadavg()[0]:.2f}, commit "
          + subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True).stdout.strip())
    print(f"{'workload':<32} {'calls':>8} {'untraced ms':>12} {'vigil ms':>10} {'+ns/op':>8} {'ratio':>7}")
    for name, _, n in workloads:
        u, v = statistics.median(times[name][0]), statistics.median(times[name][1])
        print(f"{name:<32} {n:>8} {u * 1e3:>12.1f} {v * 1e3:>10.1f} {(v - u) / n * 1e9:>8.0f} "
              f"{v / u:>7.3f}")
    print(f"{'launch to all attached (ms, median)':<44} {statistics.median(attach) * 1e3:>8.1f}  target <= 100")
    print(f"{'peak RSS, VmHWM (MiB, max)':<44} {max(rss) / 1024:>8.1f}  target <= 10")
    print(f"anchor /usr/sbin/capable (kprobe on cap_capable): {anchor}")


if __name__ == "__main__":
    main()
