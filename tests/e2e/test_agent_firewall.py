"""The firewall as an agent feature, and proc + syscall + filetop + firewall in one agent under
a storm: one NDJSON stream whose every line parses, per-rule counters as metrics, and loss that
adds up exactly per feature (received + lost = what passed the kernel filter)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import VIGIL, parse_ndjson, token, waiting_loop, wait_progs_gone
from netns import Pair
from test_agent import _started, free_port, go, no_agent_left  # noqa: F401 (autouse fixture)

PIN = "/sys/fs/bpf/vigil/firewall"


@pytest.fixture
def pair():
    p = Pair("g").up()
    yield p
    p.down()
    assert not os.path.exists(f"{PIN}/{p.dev}")
    assert wait_progs_gone(["vigil_firewall"]) == []


class NsAgent:
    """An agent in the firewall's namespace (a), so it sees the veth and serves metrics there."""

    def __init__(self, p, tmp_path, config):
        self.p, self.dir = p, tmp_path
        self.cfg = tmp_path / "agent.yaml"
        self.events = tmp_path / "events.json"
        self.err = tmp_path / "err"
        self.cfg.write_text(config.replace("EVENTS", str(self.events)))
        self.proc = subprocess.Popen(p.vigil_argv(VIGIL, "agent", "--config", str(self.cfg)),
                                     stdout=subprocess.DEVNULL, stderr=open(self.err, "w"))
        _started.append(self.proc)
        self.wait_err("; attached")

    def stderr(self):
        return self.err.read_text()

    def wait_err(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, self.stderr()
            time.sleep(0.05)

    def scrape(self, port):
        """The metrics text, fetched over HTTP inside namespace a (python, not curl: the
        kernel matrix's guests have no curl)."""
        get = ("import sys, urllib.request; "
               "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())")
        r = subprocess.run(["nsenter", f"--net=/run/netns/{self.p.a}", sys.executable, "-c", get,
                            f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def records(self):
        return parse_ndjson(self.events.read_text())

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=120)


def samples(text, name):
    """{frozenset(label items): value} of one metric in Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in head:
            for part in head[head.index("{") + 1:-1].split('",'):
                k, v = part.split("=", 1)
                labels[k] = v.strip('"')
        out[frozenset(labels.items())] = float(value)
    return out


def one(text, name, **want):
    got = [v for k, v in samples(text, name).items() if want.items() <= dict(k).items()]
    assert len(got) == 1, (name, want, samples(text, name))
    return got[0]


def test_firewall_feature_in_the_agent_counts_per_rule_and_leaves_nothing(pair, rules, tmp_path):
    p = pair
    port = free_port()
    path = rules(f"drop udp from {p.ip_b} port 5001\npass udp port 5002\n")
    ag = NsAgent(p, tmp_path, f"""
outputs:
  events: EVENTS
metrics:
  listen: 127.0.0.1:{port}
features:
  firewall:
    iface: {p.dev}
    rules: {path}
    sample: 1
""")
    try:
        assert p.xdp_attached()
        assert p.udp(p.ip_a, 5001, 40) == 0
        assert p.udp(p.ip_a, 5002, 25) == 25
        text = ag.scrape(port)
        assert one(text, "vigil_firewall_packets_total", feature="firewall", rule="1",
                   action="drop", line="1") == 40
        assert one(text, "vigil_firewall_drops_total", feature="firewall", rule="1") == 40
        assert one(text, "vigil_firewall_packets_total", feature="firewall", rule="2",
                   action="pass") == 25
        assert one(text, "vigil_firewall_bytes_total", feature="firewall", rule="2") > 25 * 13
        # its BPF program is costed like every feature's
        assert any("vigil_firewall" in dict(k).get("program", "")
                   for k in samples(text, "vigil_bpf_program_runs_total"))
    finally:
        rc = ag.stop()
    assert rc == 0, ag.stderr()
    recs = ag.records()
    drops = [r for r in recs if r["type"] == "fw_drop"]
    assert len(drops) == 40 and all(r["feature"] == "firewall" and r["dport"] == 5001 for r in drops)
    final = [r for r in recs if r["type"] == "firewall_status"]
    assert final and final[0]["rules"][1]["drops"] == 40
    lost = [r for r in recs if r["type"] == "lost" and r["feature"] == "firewall" and r["final"]]
    assert lost and lost[0]["received"] == 40 and lost[0]["lost"] == 0
    assert not p.xdp_attached()


def test_firewall_section_errors_load_nothing(pair, rules, tmp_path):
    p = pair
    good, bad = rules("drop udp port 1\n"), rules("drop udp port 99999\n", "bad.rules")
    cases = [
        (f"features:\n  firewall:\n    rules: {good}\n", "an interface is required"),
        (f"features:\n  firewall:\n    iface: {p.dev}\n", "a rules file is required"),
        (f"features:\n  firewall:\n    iface: {p.dev}\n    rules: {bad}\n", "bad.rules:1:"),
        (f"features:\n  firewall:\n    iface: {p.dev}\n    rules: x\n    persist: true\n", "no option 'persist'"),
    ]
    for config, why in cases:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(config)
        r = subprocess.run(p.vigil_argv(VIGIL, "agent", "--config", str(cfg)), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode in (1, 2), (config, r.returncode, r.stderr)
        assert why in r.stderr, (config, r.stderr)
        assert not p.xdp_attached()
    assert wait_progs_gone(["vigil_firewall"]) == []


def test_sigkill_of_an_agent_with_a_firewall_detaches_it(pair, rules, tmp_path):
    p = pair
    path = rules("default drop\n")
    ag = NsAgent(p, tmp_path, f"""
features:
  firewall: {{iface: {p.dev}, rules: {path}}}
  proc: {{}}
""")
    assert p.xdp_attached()
    ag.stop(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while p.xdp_attached() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not p.xdp_attached()
    assert wait_progs_gone(["vigil_firewall", "proc_exec"]) == []


def test_four_features_under_a_storm_lose_exactly_what_they_say(pair, rules, tmp_path):
    """A small ring buffer for proc and for the firewall's drop events, an exec storm and a
    UDP flood at once: every NDJSON line parses, records of all four features interleave, and
    for each feature with a ring buffer received + lost is exactly what passed its filter."""
    p = pair
    port = free_port()
    comm = "vgs" + token()[-8:]
    exe = tmp_path / comm
    exe.write_bytes(open("/bin/true", "rb").read())
    exe.chmod(0o755)
    execs = 600 if not os.environ.get("VIGIL_GUEST") else 150
    flood = 20000 if not os.environ.get("VIGIL_GUEST") else 3000
    data = tmp_path / "data"
    data.write_bytes(b"x" * 65536)
    path = rules(f"drop udp from {p.ip_b} port 5001\n")
    ag = NsAgent(p, tmp_path, f"""
outputs:
  events: EVENTS
metrics:
  listen: 127.0.0.1:{port}
features:
  proc:
    comm: {comm}
    exec-only: true
    ringbuf-size: 4K
  syscall:
    count: true
    comm: sc_loop
    syscall: getppid
  filetop:
    interval: 1s
  firewall:
    iface: {p.dev}
    rules: {path}
    sample: 1
    ringbuf-size: 4K
""")
    try:
        w, _ = waiting_loop("getppid", 4321)
        # the storm: execs of a unique comm and a flood of dropped datagrams, together
        sender = subprocess.Popen(p.traffic(p.b, "udp-send", p.ip_a, 5001, flood, 1e9),
                                  stdout=subprocess.PIPE, text=True)
        script = f'for i in $(seq {execs}); do "{exe}"; done'
        subprocess.run(["sh", "-c", script], check=True)
        sent = int(sender.communicate(timeout=300)[0].split()[0])
        assert sent == flood
        go(w)
        with open(data, "rb") as f:
            assert len(f.read()) == 65536
        time.sleep(1.5)        # one filetop interval
        text = ag.scrape(port)
        assert one(text, "vigil_firewall_drops_total", feature="firewall", rule="1") == flood
        assert one(text, "vigil_syscall_calls_total", feature="syscall", syscall="getppid") == 4321
    finally:
        rc = ag.stop()
    assert rc == 0, ag.stderr()
    raw = ag.events.read_text()
    lines = raw.splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)   # every line, whole
    recs = parse_ndjson(raw)
    assert len(recs) == len(lines) - 1          # all but the schema record
    feats = {r.get("feature") for r in recs}
    assert {"proc", "syscall", "filetop", "firewall"} <= feats, feats
    lost = {r["feature"]: r for r in recs if r["type"] == "lost" and r["final"]}
    execs_seen = [r for r in recs if r["type"] == "exec" and r["comm"] == comm]
    assert lost["proc"]["received"] == len(execs_seen)
    assert lost["proc"]["received"] + lost["proc"]["lost"] == execs
    drops = [r for r in recs if r["type"] == "fw_drop"]
    assert lost["firewall"]["received"] == len(drops)
    assert lost["firewall"]["received"] + lost["firewall"]["lost"] == flood
    # the storm did overflow at least one of the two 4K ring buffers, or it proved nothing
    assert lost["proc"]["lost"] + lost["firewall"]["lost"] > 0, lost
    sc = [r for r in recs if r["type"] == "syscall_count" and r["syscall"] == "getppid"]
    assert sum(r["calls"] for r in sc) == 4321
    ft = [r for r in recs if r["type"] == "filetop" and r["final"] and r["file"] == "data"
          and r["pid"] == os.getpid()]
    assert sum(r["rbytes"] for r in ft) == 65536, ft
    assert not p.xdp_attached()
