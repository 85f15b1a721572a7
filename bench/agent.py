#!/usr/bin/env python3
"""vigil agent with every feature at once: its footprint, its endpoint and its throughput.

  python3 bench/agent.py [--idle S] [--scrapes N] [--rules N] [--calls N]

One agent runs proc, syscall (counts and a latency histogram), filetop, top, tcp, disk,
sched, mem, security, file, profile, an auditing guard and a firewall with N rules on a veth
in a namespace of its own (so its per-rule counters give the series count), all in one
process. Measured in one run:

  idle CPU        the agent's utime+stime over S seconds with nothing to report, % of a core
  peak RSS        VmHWM of the agent at the end (after the scrapes and the stream)
  scrape          GET /metrics of about 10k series: median and p90 of N scrapes (curl's
                  time_total, over loopback inside the namespace), with the series count
  stream          the syscall stream of the sc_loop workload as NDJSON to /dev/null beside the
                  other features: events/s delivered and lost, and events per agent CPU-second,
                  next to `vigil syscall` alone on the same workload (the engine's number)

Targets (issue 11): peak RSS <= 25 MB, idle CPU <= 0.5% of a core, a 10k-series scrape
<= 10 ms, stream throughput as the engine's.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.path.join(ROOT, "build", "vigil")
SC_LOOP = os.path.join(ROOT, "build", "tests", "workloads", "sc_loop")
TICK = os.sysconf("SC_CLK_TCK")


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Netns:
    def __init__(self):
        self.ns = f"vbench{os.getpid() % 10000}"
        self.dev, self.peer = f"vb{os.getpid() % 10000}a", f"vb{os.getpid() % 10000}b"

    def __enter__(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.dev, "netns", self.ns, "type", "veth", "peer", "name", self.peer,
           "netns", self.ns)
        for d in (self.dev, self.peer, "lo"):
            sh("ip", "-n", self.ns, "link", "set", d, "up")
        return self

    def __exit__(self, *exc):
        sh("ip", "netns", "del", self.ns, check=False)

    def argv(self, *args):
        return ["nsenter", f"--net=/run/netns/{self.ns}", *args]


def rules_file(path, n):
    with open(path, "w") as f:
        for i in range(n):
            # distinct hosts: one rule, one counter slot, three series each
            f.write(f"drop tcp from 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255} port 9\n")


def stream_rate(argv, calls, ready_text, err_path):
    """Start a tracer, run sc_loop, stop it; (events/s delivered, lost, tracer CPU s)."""
    with open(err_path, "w") as err:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while ready_text not in open(err_path).read():
        if p.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"tracer did not start: {open(err_path).read()}")
        time.sleep(0.05)
    c0 = cpu_s(p.pid)
    t0 = time.monotonic()
    subprocess.run([SC_LOOP, "getppid", str(calls)], capture_output=True, check=True)
    time.sleep(0.5)
    c1 = cpu_s(p.pid)
    wall = time.monotonic() - t0
    p.send_signal(2)
    p.wait(timeout=60)
    return wall, c1 - c0, p


def lost_of(path, feature):
    import json
    lost = received = 0
    with open(path) as f:
        for line in f:
            if '"type":"lost"' in line:
                r = json.loads(line)
                if r.get("feature") == feature and r.get("final"):
                    lost, received = r["lost"], r["received"]
    return received, lost


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--scrapes", type=int, default=30)
    ap.add_argument("--rules", type=int, default=3300)
    ap.add_argument("--calls", type=int, default=2_000_000)
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/agent.py: needs root")
    tmp = tempfile.TemporaryDirectory(prefix="vigil-bench-agent-")
    d = tmp.name
    port = 19000 + os.getpid() % 1000
    rules_file(f"{d}/fw.rules", a.rules)
    # every other feature of this wave, host-wide, beside them (the guard only audits)
    with open(f"{d}/guard.policy", "w") as f:
        f.write("audit exec /nonexistent-vigil-bench/**\n")
    EVERY = (f"  tcp: {{}}\n  disk: {{}}\n  sched: {{}}\n  mem: {{}}\n  security: {{}}\n  file: {{}}\n"
             f"  profile: {{}}\n  guard: {{policy: {d}/guard.policy}}")
    print(f"vigil agent bench: commit {sh('git', '-C', ROOT, 'rev-parse', '--short', 'HEAD').stdout.strip()}, "
          f"kernel {os.uname().release}, {os.cpu_count()} CPUs")
    with Netns() as ns:
        cfg = f"{d}/agent.yaml"
        with open(cfg, "w") as f:
            f.write(f"""
outputs:
  events: /dev/null
metrics:
  listen: 127.0.0.1:{port}
  series_limit: 20000
features:
  proc: {{}}
  syscall:
    - name: count
      count: true
    - name: lat
      hist: true
      syscall: [read, write, getppid]
  filetop: {{}}
  top: {{}}
{EVERY}
  firewall:
    iface: {ns.dev}
    rules: {d}/fw.rules
""")
        t0 = time.monotonic()
        with open(f"{d}/err", "w") as err:
            ag = subprocess.Popen(ns.argv(VIGIL, "agent", "--config", cfg), stdout=subprocess.DEVNULL,
                                  stderr=err)
        while "; attached" not in open(f"{d}/err").read():
            if ag.poll() is not None:
                raise SystemExit(open(f"{d}/err").read())
            time.sleep(0.02)
        start_ms = (time.monotonic() - t0) * 1000
        pid = ag.pid           # nsenter execs vigil: the same process
        time.sleep(2)
        c0, w0 = cpu_s(pid), time.monotonic()
        time.sleep(a.idle)
        idle_pct = (cpu_s(pid) - c0) / (time.monotonic() - w0) * 100
        times, series = [], 0
        for _ in range(a.scrapes):
            r = sh(*ns.argv("curl", "-s", "-o", f"{d}/m", "-w", "%{time_total}",
                            f"http://127.0.0.1:{port}/metrics"))
            times.append(float(r.stdout) * 1000)
        with open(f"{d}/m") as f:
            series = sum(1 for line in f if line and not line.startswith("#"))
        times.sort()
        rss_mb = hwm_kb(pid) / 1024
        ag.send_signal(2)
        ag.wait(timeout=120)
    # the stream beside every other feature, then the engine alone, on the same loop
    cfg2 = f"{d}/agent2.yaml"
    with open(cfg2, "w") as f:
        f.write(f"""
outputs:
  events: {d}/events.json
features:
  proc: {{}}
  syscall:
    - name: stream
      comm: sc_loop
      syscall: getppid
    - name: count
      count: true
  filetop: {{}}
  top: {{}}
{EVERY}
""")
    wall, cpu, _ = stream_rate([VIGIL, "agent", "--config", cfg2], a.calls, "; attached", f"{d}/err2")
    recv, lost = lost_of(f"{d}/events.json", "syscall/stream")
    wall1, cpu1, _ = stream_rate([VIGIL, "syscall", "-c", "sc_loop", "-s", "getppid", "--json",
                                  "-o", f"{d}/one.json"], a.calls, "attached", f"{d}/err3")
    recv1, lost1 = lost_of(f"{d}/one.json", "syscall")
    print(f"\nagent with every feature: proc, syscall x2, filetop, top, tcp, disk, sched, mem, security, file, "
          f"profile, guard (audit), firewall ({a.rules} rules):")
    print(f"  start to attached     {start_ms:8.0f} ms")
    print(f"  idle CPU              {idle_pct:8.3f} % of a core over {a.idle:.0f} s   (target <= 0.5)")
    print(f"  peak RSS              {rss_mb:8.1f} MB                  (target <= 25)")
    print(f"  scrape of {series} series: median {statistics.median(times):.2f} ms, "
          f"p90 {times[int(len(times) * 0.9) - 1]:.2f} ms over {a.scrapes}   (target <= 10 ms)")
    print(f"\nstream of {a.calls} getppid calls as NDJSON:")
    print(f"  {'':22} {'events/s':>10} {'lost':>9} {'events/CPU-s':>13}")
    for name, w, c, r, l in (("agent, all features", wall, cpu, recv, lost),
                             ("vigil syscall alone", wall1, cpu1, recv1, lost1)):
        print(f"  {name:22} {r / w:10.0f} {l:9d} {r / c if c else 0:13.0f}")
    print(f"  ratio agent/alone (events per CPU-s): {(recv / cpu) / (recv1 / cpu1):.2f}"
          if cpu and cpu1 and recv1 else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
