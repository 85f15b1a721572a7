#!/usr/bin/env python3
"""Benchmark vigil proc against a bpftrace one-liner on the same hook.

Prints, from one run, side by side:
  - time from launch to the first event seen (start-up to all-attached, plus
    at most one trigger period), vigil vs bpftrace, medians over N runs;
  - peak RSS while tracing an exec storm, vigil vs bpftrace;
  - the size of the static binary.
Usage: bench/proc.py [RUNS]   (root; needs bpftrace for the comparison)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
TRIGGER_PERIOD = 0.002


def first_event_latency(argv, probe):
    """Launch argv, exec `probe` every 2 ms until argv prints a line; seconds."""
    stop = threading.Event()

    def trigger():
        while not stop.is_set():
            subprocess.run([probe])
            time.sleep(TRIGGER_PERIOD)

    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    th = threading.Thread(target=trigger)
    th.start()
    try:
        while True:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"{argv[0]} ended without an event")
            if "vigilprobe" in line or "seen" in line:
                return time.monotonic() - t0
    finally:
        stop.set()
        th.join()
        p.kill()
        p.wait()


def launch_to_attached(argv):
    """Seconds from launch to vigil's "programs attached" status line."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:
            if "attached" in line:
                return time.monotonic() - t0
        raise RuntimeError("vigil ended without attaching")
    finally:
        p.kill()
        p.wait()


def peak_rss_kb(argv, probe, storm=1000):
    """Run argv while `probe` is exec'd `storm` times; its VmHWM in KiB.

    VmHWM, read just before the stop signal, is the peak of the traced program's
    own address space. wait4's ru_maxrss is not: it also counts the pages the
    forked child shared with this Python interpreter before it exec'd."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    subprocess.run(["sh", "-c", f'i=0; while [ $i -lt {storm} ]; do "{probe}"; i=$((i+1)); done'])
    time.sleep(0.5)
    hwm = None
    with open(f"/proc/{p.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    p.send_signal(2)
    p.wait()
    if hwm is None:
        raise RuntimeError("no VmHWM for " + argv[0])
    return hwm


def main():
    if os.geteuid() != 0:
        sys.exit("bench/proc.py: needs root")
    tmp = tempfile.mkdtemp(prefix="vigil-bench-")
    probe = os.path.join(tmp, "vigilprobe")
    os.symlink("/bin/true", probe)
    if not shutil.which("bpftrace"):
        sys.exit("bench/proc.py: missing 'bpftrace' (the anchor): run scripts/deps.sh all")

    vigil_cmd = [VIGIL, "proc", "-q", "--exec-only", "-c", "vigilprobe"]
    bt_cmd = ["bpftrace", "-B", "line", "-e",
              'tracepoint:sched:sched_process_exec /comm == "vigilprobe"/ { printf("seen\\n"); }']

    v_lat, b_lat, v_att = [], [], []
    for _ in range(RUNS):  # interleaved, so drift hits both alike
        v_att.append(launch_to_attached([VIGIL, "proc", "--exec-only"]))
        v_lat.append(first_event_latency(vigil_cmd, probe))
        b_lat.append(first_event_latency(bt_cmd, probe))

    v_rss = peak_rss_kb(vigil_cmd + ["--json"], probe)
    b_rss = peak_rss_kb(bt_cmd, probe)
    size = os.path.getsize(VIGIL)
    static = "statically linked" in subprocess.run(["file", VIGIL], capture_output=True,
                                                    text=True).stdout

    vm = statistics.median(v_lat) * 1e3
    print(f"runs: {RUNS} (interleaved), kernel {os.uname().release}, load {os.getloadavg()[0]:.2f}")
    print(f"{'metric':<34} {'vigil':>10} {'bpftrace':>10} {'ratio':>8}  target")
    print(f"{'launch to all attached (ms, median)':<34} {statistics.median(v_att) * 1e3:>10.1f} {'-':>10} {'':>8}  <= 100 ms")
    bm = statistics.median(b_lat) * 1e3
    print(f"{'launch to first event (ms, median)':<34} {vm:>10.1f} {bm:>10.1f} {bm / vm:>7.1f}x  (includes one trigger exec)")
    print(f"{'peak RSS under exec storm (MiB)':<34} {v_rss / 1024:>10.1f} {b_rss / 1024:>10.1f} {b_rss / v_rss:>7.1f}x  vigil <= 10 MiB")
    print(f"{'binary size (MiB)':<34} {size / 2**20:>10.2f} {'':>10} {'':>8}  <= 4 MiB, {'static' if static else 'NOT STATIC'}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
