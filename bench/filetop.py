#!/usr/bin/env python3
"""vigil filetop's cost per call, on each mechanism this kernel offers.

The workload is `dd if=FILE of=/dev/null bs=1`: one read() of a regular file
(counted) and one write() to /dev/null (not a regular file: filtered in the
kernel) per byte. Interleaved repetitions, medians; each traced run must also
count every read exactly, or the numbers are not reported.

  python3 bench/filetop.py [--bytes N] [--reps R]

Rows:
  untraced              dd alone
  filetop tracepoint    syscalls:sys_{enter,exit}_{read,write,...}: two programs per call
  filetop fentry        fexit on vfs_read/vfs_write: one program per call (when the kernel
                        runs BPF trampolines; else the row says why not)
"""
import argparse
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


def start(mech, out):
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen([VIGIL, "filetop", "--mechanism", mech, "-i", "1h", "-n", "0", "--json",
                          "-o", out], stdout=subprocess.DEVNULL, stderr=err)
    while True:
        err.seek(0)
        text = err.read()
        if "attached" in text:
            return p, None
        if p.poll() is not None:
            return None, text.strip().splitlines()[0] if text.strip() else f"exit {p.returncode}"
        time.sleep(0.02)


def run_dd(path, n):
    t0 = time.perf_counter()
    subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1", f"count={n}"], check=True,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=300000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/filetop.py loads BPF programs: run it as root")
    tmp = tempfile.mkdtemp(prefix="vigil-bench-ft-")
    data = os.path.join(tmp, "data")
    with open(data, "wb") as f:
        f.write(os.urandom(a.bytes))
    out = os.path.join(tmp, "out.json")
    rows = {"untraced": [], "tracepoint": [], "fentry": []}
    why = {}
    for _ in range(a.reps):
        rows["untraced"].append(run_dd(data, a.bytes))
        for mech in ("tracepoint", "fentry"):
            if mech in why:
                continue
            p, err = start(mech, out)
            if not p and mech == "tracepoint":      # the path every kernel has: no excuse
                sys.exit(f"bench/filetop.py: filetop --mechanism tracepoint did not start: {err}")
            if not p:                               # fentry: a kernel may lack it; say why
                why[mech] = err
                continue
            t = run_dd(data, a.bytes)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=60)
            with open(out) as f:
                recs = [json.loads(line) for line in f if line.strip()]
            reads = sum(r["reads"] for r in recs if r["type"] == "filetop" and r["final"]
                        and r["comm"] == "dd" and r["ino"] == os.stat(data).st_ino)
            if reads != a.bytes:  # count= stops dd before a read at end of file
                sys.exit(f"bench/filetop.py: filetop --mechanism {mech} counted {reads} reads "
                         f"of {a.bytes}: the measurement is void")
            rows[mech].append(t)
    base = statistics.median(rows["untraced"])
    calls = 2 * a.bytes
    print(f"dd bs=1 over {a.bytes} bytes: {calls} syscalls per run, {a.reps} interleaved runs, medians")
    print(f"{'':22} {'seconds':>9} {'ns/call':>8} {'+ns/call':>9} {'ratio':>6}")
    for name, label in (("untraced", "untraced"), ("tracepoint", "filetop tracepoint"),
                        ("fentry", "filetop fentry")):
        if not rows[name]:
            print(f"{label:22} not run: {why.get(name, 'no data')}")
            continue
        m = statistics.median(rows[name])
        print(f"{label:22} {m:9.3f} {m / calls * 1e9:8.0f} {(m - base) / calls * 1e9:9.0f} "
              f"{m / base:6.2f}")
    for f in (data, out):
        if os.path.exists(f):
            os.unlink(f)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
