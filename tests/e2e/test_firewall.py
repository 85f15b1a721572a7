"""vigil firewall: real XDP on a veth pair between two namespaces, real traffic."""
import ipaddress
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, VIGIL, parse_ndjson, wait_progs_gone
from netns import Pair, sh

PIN = "/sys/fs/bpf/vigil/firewall"


@pytest.fixture
def pair(request):
    p = Pair("t").up()
    yield p
    subprocess.run(p.vigil_argv(VIGIL, "firewall", "unload", "-i", p.dev), capture_output=True)
    p.down()
    assert not os.path.exists(f"{PIN}/{p.dev}")
    assert wait_progs_gone(["vigil_firewall"]) == []


def fw(p, *args, check=True):
    r = subprocess.run(p.vigil_argv(VIGIL, "firewall", *args), capture_output=True, text=True,
                       timeout=120)
    if check:
        assert r.returncode == 0, f"vigil firewall {args}: rc {r.returncode}: {r.stderr}"
    return r


def status(p):
    r = fw(p, "status", "-i", p.dev, "--json")
    docs = parse_ndjson(r.stdout)
    assert len(docs) == 1 and docs[0]["type"] == "firewall_status"
    return docs[0]


def counters(p):
    return {r["line"]: r for r in status(p)["rules"]}


# ---- parser through the CLI ----

def test_check_reports_file_line_column(rules):
    bad = rules("drop tcp from 10.0.0.0/8\n\ndrop tcp prot 22\npass from 10.0.0.1/8\n")
    r = subprocess.run([VIGIL, "firewall", "check", bad], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{bad}:3:10: error: expected 'from', 'to', 'port' or the end of the line, got 'prot'" in r.stderr
    assert f"{bad}:4:11: error: '10.0.0.1/8' has host bits set" in r.stderr
    good = rules("default drop\npass tcp port 22\npass tcp port 22\n", "good.rules")
    r = subprocess.run([VIGIL, "firewall", "check", good, "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "warning: duplicate of the rule on line 2" in r.stderr
    assert json.loads(r.stdout)["rules"] == 2


# ---- the datapath ----

def test_block_and_allow_per_rule_v4_v6(pair, rules):
    p = pair
    path = rules(f"""
# exact and CIDR, IPv4 and IPv6, ports and ranges
default pass
drop udp from {p.ip_b} port 5001
drop tcp from {p.ip6_b}/128 port 6000-6010
drop icmp from {p.net4}
drop icmpv6 from {p.net6}
drop udp to {p.ip6_a} port 5003
""")
    fw(p, "load", "-i", p.dev, "--persist", path)
    assert p.xdp_attached()
    st = os.stat(f"{PIN}/{p.dev}/link")
    assert st.st_mode & 0o777 == 0o600

    assert p.udp(p.ip_a, 5001, 20) == 0          # exact v4 source + port
    assert p.udp(p.ip_a, 5002, 20) == 20         # other port
    assert p.udp(p.ip6_a, 5001, 20) == 20        # the rule is IPv4 only
    assert p.udp(p.ip6_a, 5003, 20) == 0         # v6 destination
    assert p.udp(p.ip_a, 5003, 20) == 20
    assert not p.tcp(p.ip6_a, 6005)              # v6 source, port in range
    assert p.tcp(p.ip6_a, 6011)                  # just outside the range
    assert p.tcp(p.ip_a, 6005)                   # IPv4: no rule
    assert p.ping(p.ip_a, 5) == 0                # ICMP, CIDR
    assert p.ping(p.ip6_a, 5) == 0               # ICMPv6, CIDR

    c = counters(p)
    assert c[4]["packets"] == 20 and c[4]["drops"] == 20     # udp 5001 v4
    assert c[8]["packets"] == 20 and c[8]["drops"] == 20     # udp 5003 v6
    assert c[6]["packets"] == 5 and c[6]["drops"] == 5       # icmp
    assert c[7]["packets"] == 5                               # icmpv6
    assert c[4]["bytes"] == 20 * (14 + 20 + 8 + 13)
    assert c[5]["packets"] >= 1                               # SYN (and retries)
    st = status(p)
    assert st["mode"] in ("native", "generic") and st["interface"] == p.dev
    assert st["persistent"] and st["reloads"] == 0

    fw(p, "unload", "-i", p.dev)
    assert not p.xdp_attached()
    assert not os.path.exists(f"{PIN}/{p.dev}")
    assert wait_progs_gone(["vigil_firewall"]) == []
    assert p.udp(p.ip_a, 5001, 5) == 5


def test_precedence_datapath_matches_documented_order(pair, rules):
    p = pair
    # all on one source; destinations and ports decide
    path = rules(f"""
default drop
pass udp from {p.net4}
drop udp from {p.ip_b} port 7000-7010
pass udp from {p.ip_b} port 7005
drop udp from {p.ip_b} to {p.ip_a} port 7100-7200
pass udp from {p.ip_b} to {p.ip_a} port 7150
""")
    fw(p, "load", "-i", p.dev, "--persist", path)
    assert p.udp(p.ip_a, 7003, 10) == 0    # /32 source beats /24 (line 4)
    assert p.udp(p.ip_a, 7005, 10) == 10   # narrower range (line 5)
    assert p.udp(p.ip_a, 7050, 10) == 10   # only the /24 rule (line 3)
    assert p.udp(p.ip_a, 7120, 10) == 0    # destination beats none (line 6)
    assert p.udp(p.ip_a, 7150, 10) == 10   # narrower (line 7)
    assert p.ping(p.ip_a, 3) == 0          # default drop (rule 0)
    c = counters(p)
    assert c[4]["drops"] == 10 and c[5]["packets"] == 10 and c[3]["packets"] == 10
    assert c[6]["drops"] == 10 and c[7]["packets"] == 10
    default = [r for r in status(p)["rules"] if r["default"]][0]
    assert default["drops"] >= 3         # plus MLD/RS noise of the fresh interfaces


def test_dry_run_drops_nothing(pair, rules):
    p = pair
    path = rules("default drop\n")
    fw(p, "load", "-i", p.dev, "--persist", "--dry-run", path)
    assert p.udp(p.ip_a, 5001, 30) == 30
    assert p.ping(p.ip6_a, 3) == 3
    st = status(p)
    assert st["dry_run"]
    default = st["rules"][0]
    assert default["default"] and default["drops"] >= 33  # pings add echo requests only


def test_ratelimit(pair, rules):
    p = pair
    rate = 50
    path = rules(f"ratelimit {rate}/s udp from {p.ip_b} port 5004\n")
    fw(p, "load", "-i", p.dev, "--persist", path)
    # 600 at 300/s: about rate per second of sending plus a burst (rate / 10) get through; the
    # band is taken from how long the sending really took (a busy machine stretches it)
    recv = p.udp_recv(p.ip_a, 5004)
    sent, secs = p.udp_send(p.ip_a, 5004, 600, pps=300)
    got = p.udp_recv_count(recv, sent)
    assert sent == 600
    assert rate * secs * 0.5 <= got <= rate * secs * 2, (got, secs)
    assert p.udp(p.ip_a, 5005, 50, pps=300) == 50      # other port: no limit
    c = counters(p)
    assert c[1]["packets"] == 600
    assert c[1]["drops"] == 600 - got


def test_bad_rules_file_keeps_old_rules(pair, rules):
    p = pair
    good = rules(f"drop udp from {p.ip_b} port 5001\n")
    fw(p, "load", "-i", p.dev, "--persist", good)
    before = status(p)
    bad = rules("drop udp port 5002\npass from 300.1.1.1\n", "bad.rules")
    r = fw(p, "reload", "-i", p.dev, bad, check=False)
    assert r.returncode == 1
    assert f"{bad}:2:11: error:" in r.stderr and "nothing was changed" in r.stderr
    after = status(p)
    assert [x["rule"] for x in after["rules"]] == [x["rule"] for x in before["rules"]]
    assert after["reloads"] == 0
    assert p.udp(p.ip_a, 5001, 10) == 0
    assert p.udp(p.ip_a, 5002, 10) == 10
    # a second load on the same interface is refused, and changes nothing
    r = fw(p, "load", "-i", p.dev, "--persist", good, check=False)
    assert r.returncode == 1 and "already loaded" in r.stderr


def test_reload_under_traffic_is_atomic(pair, rules):
    """100 reloads alternating between two rule sets that disagree on
    everything except: port 5001 is blocked, port 5002 is allowed."""
    p = pair
    a = rules(f"default drop\npass udp port 5002\npass udp from {p.ip_b} port 4000-4999\n", "a.rules")
    b = rules(f"default pass\ndrop udp from {p.ip_b} port 5001\ndrop udp to {p.ip_a} port 5000-5001\n"
              f"pass udp from {p.net4} port 5002\n", "b.rules")
    fw(p, "load", "-i", p.dev, "--persist", a)
    stop = tempfile.mktemp(prefix="vigil-fw-stop-")
    recv = {port: p.udp_recv(p.ip_a, port) for port in (5001, 5002)}
    send = {port: subprocess.Popen(p.traffic(p.b, "udp-send", p.ip_a, port, 10 ** 9, 2000, stop),
                                   stdout=subprocess.PIPE, text=True) for port in (5001, 5002)}
    try:
        for i in range(100):
            fw(p, "reload", "-i", p.dev, b if i % 2 == 0 else a)
    finally:
        open(stop, "w").close()
        sent = {port: int(s.stdout.readline().split()[0]) for port, s in send.items()}
        for s in send.values():
            s.wait()
        os.unlink(stop)
        # each receiver returns once it has every datagram sent to it, or settles
        got = {port: p.udp_recv_count(r, sent[port]) for port, r in recv.items()}
    assert status(p)["reloads"] == 100
    assert sent[5001] > 1000 and sent[5002] > 1000, sent
    assert got[5001] == 0, f"{got[5001]} blocked packets passed"
    assert got[5002] == sent[5002], f"{sent[5002] - got[5002]} allowed packets dropped"


def test_concurrent_reloads_are_serialized(pair, rules):
    p = pair
    a = rules(f"drop udp from {p.ip_b} port 5001\n", "a.rules")
    b = rules(f"drop udp from {p.ip_b} port 5001\npass tcp port 22\n", "b.rules")
    fw(p, "load", "-i", p.dev, "--persist", a)
    procs = [subprocess.Popen(p.vigil_argv(VIGIL, "firewall", "reload", "-i", p.dev, a if i % 2 else b),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(10)]
    assert all(pr.wait() == 0 for pr in procs)
    assert status(p)["reloads"] == 10
    assert p.udp(p.ip_a, 5001, 10) == 0


class Foreground:
    def __init__(self, p, *args):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-fw-")
        self.out = os.path.join(self.tmp.name, "out")
        self.err = os.path.join(self.tmp.name, "err")
        self.errf = open(self.err, "w")
        self.proc = subprocess.Popen(p.vigil_argv(VIGIL, "firewall", "load", "-i", p.dev, *args,
                                                  "--json", "-o", self.out),
                                     stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.monotonic() + 120
        try:
            while "attached" not in self.stderr():
                assert self.proc.poll() is None, self.stderr()
                assert time.monotonic() < deadline, self.stderr()
                time.sleep(0.05)
        except AssertionError:
            self.proc.kill()        # a failed start must not leave the firewall running
            self.proc.wait()
            raise

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def records(self):
        with open(self.out) as f:
            return parse_ndjson(f.read())

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=120)
        self.errf.close()
        return rc


def test_foreground_events_and_ctrl_c(pair, rules):
    p = pair
    path = rules(f"drop udp from {p.ip_b} port 5001\n")
    fg = Foreground(p, path, "--sample", "1")
    try:
        assert p.xdp_attached()
        assert not os.path.exists(f"{PIN}/{p.dev}")
        assert p.udp(p.ip_a, 5001, 7) == 0
        assert p.udp(p.ip_a, 5002, 3) == 3     # the 7 drops are queued: stop drains them
    finally:
        rc = fg.stop()
    assert rc == 0, fg.stderr()
    recs = fg.records()
    drops = [r for r in recs if r["type"] == "fw_drop"]
    assert len(drops) == 7
    d = drops[0]
    assert d["src"] == p.ip_b and d["dst"] == p.ip_a and d["dport"] == 5001
    assert d["proto"] == "udp" and d["rule_id"] == 1 and d["interface"] == p.dev
    assert not d["dry_run"]
    final = [r for r in recs if r["type"] == "firewall_status"]
    assert final and final[0]["rules"][1]["drops"] == 7
    lost = [r for r in recs if r["type"] == "lost"]
    assert lost and lost[-1]["lost"] == 0 and lost[-1]["received"] == 7
    assert not p.xdp_attached()
    assert wait_progs_gone(["vigil_firewall"]) == []


def test_foreground_sigkill_detaches(pair, rules):
    p = pair
    fg = Foreground(p, rules("default drop\n"))
    assert p.xdp_attached()
    fg.stop(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while p.xdp_attached() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not p.xdp_attached()
    assert p.udp(p.ip_a, 5001, 5) == 5


def test_foreground_watch_reloads(pair, rules):
    p = pair
    path = rules(f"drop udp from {p.ip_b} port 5001\n")
    fg = Foreground(p, path, "--watch")
    try:
        assert p.udp(p.ip_a, 5001, 5) == 0
        # editors write a new file and rename it over the old one
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(f"drop udp from {p.ip_b} port 5002\n")
        os.rename(tmp, path)
        deadline = time.monotonic() + 60
        while "reloaded" not in fg.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "reloaded" in fg.stderr()
        assert p.udp(p.ip_a, 5001, 5) == 5
        assert p.udp(p.ip_a, 5002, 5) == 0
        # a broken file is reported and ignored
        with open(path, "w") as f:
            f.write("drop udp frm x\n")
        deadline = time.monotonic() + 60
        while "nothing was changed" not in fg.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "nothing was changed" in fg.stderr()
        assert p.udp(p.ip_a, 5002, 5) == 0
    finally:
        assert fg.stop() == 0
    assert not p.xdp_attached()


def test_fuzz_rules_parser_short():
    r = subprocess.run(["make", "-C", ROOT, "fuzz-rules", "FUZZ_SECONDS=10"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "Done" in r.stderr


def test_host_rules_beat_covering_prefixes_v4_v6(pair, rules):
    """Host addresses are looked up in hash maps before the prefix tries: a
    /32 (/128) must win over a covering shorter prefix for the same address,
    whether it decides everything from the host (no protocol, destination or
    port) or only some packets (the rest falls through to the prefix)."""
    p = pair
    path = rules(f"""
default drop
pass icmpv6
drop from {p.net4}
pass from {p.ip_b}
drop from {p.net6}
pass from {p.ip6_b}/128
""")
    r = subprocess.run([VIGIL, "firewall", "check", path, "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    chk = json.loads(r.stdout)
    assert chk["source_hosts"] == 2 and chk["port_entries"] == 0
    fw(p, "load", "-i", p.dev, "--persist", path)
    assert p.udp(p.ip_a, 5001, 10) == 10        # v4 host beats the /24 drop
    assert p.udp(p.ip6_a, 5001, 10) == 10       # v6 host beats the /64 drop
    assert p.ping(p.ip_a, 3) == 3
    c = counters(p)
    assert c[5]["packets"] >= 13 and c[4]["packets"] == 0
    assert c[7]["packets"] >= 10 and c[6]["packets"] == 0

    # host rules that decide only some packets: the others reach the prefix
    path = rules(f"""
default pass
drop from {p.net4}
pass udp from {p.ip_b} port 5001
drop from {p.net6}
pass udp from {p.ip6_b} port 5001
pass icmpv6 from {p.ip6_b}
""", "b.rules")
    fw(p, "reload", "-i", p.dev, path)
    assert p.udp(p.ip_a, 5001, 10) == 10
    assert p.udp(p.ip_a, 5002, 10) == 0         # the /24
    assert p.ping(p.ip_a, 3) == 0
    assert p.udp(p.ip6_a, 5001, 10) == 10
    assert p.udp(p.ip6_a, 5002, 10) == 0        # the /64
    c = counters(p)
    assert c[3]["drops"] >= 13 and c[4]["packets"] >= 10
    assert c[5]["drops"] >= 10 and c[6]["packets"] >= 10


@pytest.mark.parametrize("lookup", ["hash", "trie"])
def test_longest_prefix_wins_across_lengths_v4_v6(pair, rules, lookup):
    """Addresses are matched by one hash probe per distinct prefix length,
    longest first, or (--lookup trie) by one LPM trie walk: with nested
    prefixes of several lengths the longest one decides, and taking it away
    hands the packet to the next length, for sources (decided by the source
    alone) and destinations (through the combination map), IPv4 and IPv6."""
    p = pair
    opt = ["--lookup", lookup]
    n = p.ip_a.split(".")[1]
    v6 = p.ip6_a.split("::")[0]            # fd00:N
    src = [f"drop from 10.0.0.0/8", f"pass from 10.{n}.0.0/16", f"drop from 10.{n}.0.0/24",
           f"pass from 10.{n}.0.0/30", "drop from fd00::/8", f"pass from {v6}::/32",
           f"drop from {v6}::/64", f"pass from {v6}::/120"]
    path = rules("default pass\n" + "\n".join(src) + "\n")
    r = subprocess.run([VIGIL, "firewall", "check", path, "--json", *opt], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    chk = json.loads(r.stdout)
    assert chk["source_lengths"] == 8 and chk["source_hosts"] == 0 and chk["combinations"] == 0
    assert chk["source_ipv4_lookup"] == lookup and chk["source_ipv6_lookup"] == lookup
    assert chk["destination_ipv4_lookup"] == "none"
    fw(p, "load", "-i", p.dev, "--persist", *opt, path)
    assert p.udp(p.ip_a, 5001, 10) == 10        # the /30 passes
    assert p.udp(p.ip6_a, 5001, 10) == 10       # the /120 passes
    c = counters(p)
    assert c[5]["packets"] == 10 and c[9]["packets"] == 10
    assert all(c[i]["packets"] == 0 for i in (2, 3, 4, 6, 7, 8))

    # without the longest of each family, the next length decides
    path = rules("default pass\n" + "\n".join(s for s in src if not s.endswith(("/30", "/120"))) + "\n",
                 "b.rules")
    fw(p, "reload", "-i", p.dev, *opt, path)
    assert p.udp(p.ip_a, 5001, 10) == 0         # the /24 drops
    assert p.udp(p.ip6_a, 5001, 10) == 0        # the /64 drops
    c = counters(p)
    assert c[4]["drops"] == 10 and c[7]["drops"] == 10

    # destinations: the combination map after the same per-length probes
    path = rules(f"""
default drop
pass udp to 10.{n}.0.0/16 port 5001
drop udp to 10.{n}.0.0/24 port 5001
pass udp to {p.ip_a} port 5001
pass udp to {v6}::/32 port 5001
drop udp to {v6}::/64 port 5001
pass udp to {p.ip6_a}/128 port 5001
""", "c.rules")
    fw(p, "reload", "-i", p.dev, *opt, path)
    assert p.udp(p.ip_a, 5001, 10) == 10        # the host
    assert p.udp(p.ip_a, 5002, 10) == 0         # no rule: default drop
    assert p.udp(p.ip6_a, 5001, 10) == 10
    c = counters(p)
    assert c[5]["packets"] == 10 and c[8]["packets"] == 10
    path = rules(f"""
default drop
pass udp to 10.{n}.0.0/16 port 5001
drop udp to 10.{n}.0.0/24 port 5001
pass udp to {v6}::/32 port 5001
drop udp to {v6}::/64 port 5001
""", "d.rules")
    fw(p, "reload", "-i", p.dev, path)         # no --lookup: the load's stands
    assert status(p)["destination_ipv4_lookup"] == lookup
    assert p.udp(p.ip_a, 5001, 10) == 0         # the /24
    assert p.udp(p.ip6_a, 5001, 10) == 0        # the /64
    c = counters(p)
    assert c[4]["drops"] == 10 and c[6]["drops"] == 10


def test_many_prefix_lengths_take_the_trie_and_back(pair, rules):
    """--lookup auto (the default) puts a side and family with more than 8
    distinct prefix lengths in an LPM trie instead of probing a hash per
    length. Reloads between such a file and a few-length one switch the
    lookup both ways, and the longest prefix keeps deciding."""
    p = pair
    n = p.ip_a.split(".")[1]
    v6 = p.ip6_a.split("::")[0]            # fd00:N
    # nested prefixes of the peer's addresses: v4 /8 .. /30, v6 /16 .. /124
    lens4 = [8, 12, 16, 20, 22, 24, 26, 28, 29, 30]
    lens6 = [16, 32, 48, 64, 80, 96, 104, 112, 120, 124]

    def many(last_pass):
        out = ["default pass"]
        for addr, lens in ((p.ip_b, lens4), (p.ip6_b, lens6)):
            for i, l in enumerate(lens):
                act = "pass" if (i == len(lens) - 1) == last_pass else "drop"
                out.append(f"{act} from {ipaddress.ip_network(f'{addr}/{l}', strict=False)}")
        return "\n".join(out) + "\n"

    def check(path):
        r = subprocess.run([VIGIL, "firewall", "check", path, "--json"], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    trie_file = rules(many(True), "many.rules")
    chk = check(trie_file)
    assert chk["source_ipv4_lookup"] == "trie" and chk["source_ipv6_lookup"] == "trie"
    fw(p, "load", "-i", p.dev, "--persist", trie_file)
    st = status(p)                              # what the running generation uses
    assert st["source_ipv4_lookup"] == "trie" and st["source_ipv6_lookup"] == "trie"
    assert st["destination_ipv4_lookup"] == "none"
    assert p.udp(p.ip_a, 5001, 10) == 10        # the /30 passes, every shorter one drops
    assert p.udp(p.ip6_a, 5001, 10) == 10       # the /124
    c = counters(p)
    assert c[11]["packets"] == 10 and c[21]["packets"] == 10

    few = rules(f"default pass\ndrop from 10.{n}.0.0/16\ndrop from {v6}::/32\n", "few.rules")
    chk = check(few)
    assert chk["source_ipv4_lookup"] == "hash" and chk["source_ipv6_lookup"] == "hash"
    fw(p, "reload", "-i", p.dev, few)
    assert status(p)["source_ipv4_lookup"] == "hash"
    assert p.udp(p.ip_a, 5001, 10) == 0
    assert p.udp(p.ip6_a, 5001, 10) == 0

    # back to a trie, now with the longest prefixes dropping
    fw(p, "reload", "-i", p.dev, rules(many(False), "many2.rules"))
    assert status(p)["source_ipv6_lookup"] == "trie"
    assert p.udp(p.ip_a, 5001, 10) == 0
    assert p.udp(p.ip6_a, 5001, 10) == 0
    c = counters(p)
    assert c[11]["drops"] == 10 and c[21]["drops"] == 10
    assert all(c[i]["packets"] == 0 for i in range(2, 11))


def test_counters_survive_reload_for_unchanged_rules(pair, rules):
    """A rule that a reload leaves as it was (same rule, any line) keeps its
    counters; a new or changed rule starts at zero, even when it gets a
    counter slot an earlier rule had used."""
    p = pair
    a = rules(f"default pass\ndrop udp from {p.ip_b} port 5001\ndrop udp from {p.ip_b} port 5002\n",
              "a.rules")
    b = rules(f"# moved down a line, and one rule replaced\ndefault pass\n"
              f"drop udp from {p.ip_b} port 5002\ndrop udp from {p.ip_b} port 5003\n", "b.rules")

    def by_rule():
        return {r["rule"].split(" port ")[-1] if " port " in r["rule"] else r["rule"]: r
                for r in status(p)["rules"]}

    fw(p, "load", "-i", p.dev, "--persist", a)
    assert p.udp(p.ip_a, 5001, 10) == 0
    assert p.udp(p.ip_a, 5002, 10) == 0
    c = by_rule()
    assert c["5001"]["drops"] == 10 and c["5002"]["drops"] == 10

    fw(p, "reload", "-i", p.dev, b)
    c = by_rule()
    assert c["5002"]["packets"] == 10 and c["5002"]["drops"] == 10 and c["5002"]["line"] == 3
    assert c["5003"]["packets"] == 0 and "5001" not in c
    assert p.udp(p.ip_a, 5002, 5) == 0
    assert p.udp(p.ip_a, 5003, 5) == 0
    c = by_rule()
    assert c["5002"]["drops"] == 15 and c["5003"]["drops"] == 5

    # back to a: the port 5001 rule is new again and must not find its old count
    fw(p, "reload", "-i", p.dev, a)
    c = by_rule()
    assert c["5001"]["packets"] == 0 and c["5001"]["bytes"] == 0
    assert c["5002"]["drops"] == 15 and c["5002"]["line"] == 3
    assert p.udp(p.ip_a, 5001, 5) == 0
    assert by_rule()["5001"]["drops"] == 5


def test_status_shows_foreground_firewalls(pair, rules):
    """status lists a foreground firewall (it pins nothing) from its XDP link,
    in its own network namespace only, with and without -i."""
    p = pair
    fg = Foreground(p, rules(f"drop udp from {p.ip_b} port 5001\n"))
    try:
        assert not os.path.exists(f"{PIN}/{p.dev}")
        assert p.udp(p.ip_a, 5001, 6) == 0
        # bpffs is shared: other firewalls (other sessions, other versions) may
        # be listed too and make the exit code 1; only ours is checked
        r = fw(p, "status", "--json", check=False)
        docs = [d for d in parse_ndjson(r.stdout)
                if d["type"] == "firewall_status" and d["interface"] == p.dev]
        assert len(docs) == 1, r.stdout + r.stderr
        assert not docs[0]["persistent"]
        assert docs[0]["rules"][1]["drops"] == 6
        st = status(p)                          # with -i
        assert not st["persistent"] and st["rules"][1]["packets"] == 6
        r = fw(p, "status", "-i", p.dev)
        assert f"interface {p.dev} " in r.stdout and "foreground" in r.stdout
        # the other namespace has an interface with the same index, and no firewall
        r = subprocess.run(["nsenter", f"--net=/run/netns/{p.b}", VIGIL, "firewall", "status", "--json"],
                           capture_output=True, text=True)
        assert [d for d in parse_ndjson(r.stdout) if d["type"] == "firewall_status" and
                not d["persistent"] and d["interface"] in (p.dev, p.peer)] == [], r.stdout
        r = subprocess.run(["nsenter", f"--net=/run/netns/{p.b}", VIGIL, "firewall", "status",
                            "-i", p.peer], capture_output=True, text=True)
        assert r.returncode == 1 and "no firewall on" in r.stderr
    finally:
        assert fg.stop() == 0, fg.stderr()
    r = fw(p, "status", "-i", p.dev, check=False)
    assert r.returncode == 1 and "no firewall on" in r.stderr


def test_generic_mode_filters_and_leaves_nothing(pair, rules):
    """--mode generic attaches in skb mode (ip link shows xdpgeneric), filters
    the same way, and unload removes it."""
    p = pair
    path = rules(f"default pass\ndrop udp from {p.ip_b} port 5001\n")
    fw(p, "load", "-i", p.dev, "--persist", "--mode", "generic", path)
    assert "xdpgeneric" in sh("ip", "-n", p.a, "link", "show", p.dev).stdout
    assert status(p)["mode"] == "generic"
    assert p.udp(p.ip_a, 5001, 10) == 0
    assert p.udp(p.ip_a, 5002, 10) == 10
    assert counters(p)[2]["drops"] == 10
    fw(p, "unload", "-i", p.dev)
    assert not p.xdp_attached()
    assert wait_progs_gone(["vigil_firewall"]) == []


def test_auto_mode_falls_back_to_generic_and_native_is_refused(rules):
    """Loopback has no native XDP (every kernel has it, unlike dummy or bridge
    devices): auto says so and takes generic mode; --mode native fails with
    exit 1 and names the interface; nothing is left."""
    ns, dev = f"vfm{os.getpid() % 10000}", "lo"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", dev, "up")
        path = rules("default pass\ndrop from 192.0.2.0/24\n")
        argv = ["nsenter", f"--net=/run/netns/{ns}", VIGIL, "firewall"]
        r = subprocess.run(argv + ["load", "-i", dev, "--mode", "native", "--persist", path],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert f"'{dev}'" in r.stderr and "native" in r.stderr
        assert not os.path.exists(f"{PIN}/{dev}")
        r = subprocess.run(argv + ["load", "-i", dev, "--persist", path], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "native XDP is not available" in r.stderr and "generic" in r.stderr
        r = subprocess.run(argv + ["status", "-i", dev, "--json"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["mode"] == "generic"
        assert "xdpgeneric" in sh("ip", "-n", ns, "link", "show", dev).stdout
        r = subprocess.run(argv + ["unload", "-i", dev], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        assert "xdp" not in sh("ip", "-n", ns, "link", "show", dev).stdout
    finally:
        subprocess.run(["nsenter", f"--net=/run/netns/{ns}", VIGIL, "firewall", "unload", "-i", dev],
                       capture_output=True)
        sh("ip", "netns", "del", ns, check=False)
    assert not os.path.exists(f"{PIN}/{dev}")
    assert wait_progs_gone(["vigil_firewall"]) == []


def test_every_map_lookup_is_a_direct_call(pair, rules):
    """The verifier turns a bpf_map_lookup_elem() call site that only ever
    sees one map into a direct call (or inline code); a site that may see two
    maps (source and destination hashes, a hash and a trie) stays a call
    through the map's function table, ~10 ns more per packet. The loaded
    program must have no such site: clang merges identical calls from two
    branches unless told not to, so this is checked on what the kernel ran."""
    p = pair
    path = rules(f"""
default pass
drop from {p.ip_b}
drop udp from {p.net6} to {p.ip6_a} port 7000-7100
pass tcp to {p.net4} port 22
ratelimit 100/s icmp from {p.net4}
""")
    fw(p, "load", "-i", p.dev, "--persist", path)
    out = sh("ip", "-n", p.a, "-j", "link", "show", p.dev).stdout
    prog_id = json.loads(out)[0]["xdp"]["prog"]["id"]
    xl = sh("bpftool", "prog", "dump", "xlated", "id", str(prog_id)).stdout
    calls = [line for line in xl.splitlines() if " call " in line]
    assert any("lookup" in c for c in calls), xl[:2000]   # the dump is what we think
    generic = [c for c in calls if "call bpf_map_lookup_elem#" in c]
    assert generic == [], generic
