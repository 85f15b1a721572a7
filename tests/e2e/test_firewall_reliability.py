"""vigil firewall reliability: interrupted persistent loads, FIFO reloads under
the lock, check without privileges, empty rule sets."""
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import VIGIL, parse_ndjson
from netns import Pair, sh

PIN = "/sys/fs/bpf/vigil/firewall"
TMP = "/sys/fs/bpf/vigil/firewall_new"

RULES = "drop tcp from 10.99.0.0/16 port 22\ndrop udp to 10.98.0.1 port 53\ndefault pass\n"


def fw_prog_ids():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"] for p in json.loads(out or "[]") if p.get("name") == "vigil_firewall"}


def wait_ids_gone(ids, timeout=10):
    """Teardown is asynchronous (RCU): poll until none of ids is loaded. Other
    sessions may run firewalls of their own, so only this test's ids count."""
    deadline = time.monotonic() + timeout
    left = ids
    while time.monotonic() < deadline:
        left = ids & fw_prog_ids()
        if not left:
            return set()
        time.sleep(0.1)
    return left


def tmp_dirs(dev):
    try:
        return [n for n in os.listdir(TMP) if n.split("-", 1)[-1] == dev]
    except FileNotFoundError:
        return []


@pytest.fixture
def pair():
    before = fw_prog_ids()
    p = Pair("r").up()
    yield p
    subprocess.run(p.vigil_argv(VIGIL, "firewall", "unload", "-i", p.dev), capture_output=True)
    p.down()
    # what unload left is removed anyway (no trace), then asserted on
    left = tmp_dirs(p.dev)
    for n in left:
        for pin in os.listdir(f"{TMP}/{n}"):
            os.unlink(f"{TMP}/{n}/{pin}")
        os.rmdir(f"{TMP}/{n}")
    for d in (TMP, os.path.dirname(PIN)):
        try:
            os.rmdir(d)
        except OSError:
            pass
    assert not os.path.exists(f"{PIN}/{p.dev}")
    assert left == []
    assert wait_ids_gone(fw_prog_ids() - before) == set()


def fw(p, *args, check=True, timeout=120):
    r = subprocess.run(p.vigil_argv(VIGIL, "firewall", *args), capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, f"vigil firewall {args}: rc {r.returncode}: {r.stderr}"
    return r


def status(p):
    docs = parse_ndjson(fw(p, "status", "-i", p.dev, "--json").stdout)
    assert len(docs) == 1 and docs[0]["type"] == "firewall_status"
    return docs[0]


def xdp_prog_ids(p):
    """the XDP programs bpftool sees on the pair's interface"""
    out = sh("ip", "netns", "exec", p.a, "bpftool", "-j", "net", "show", "dev", p.dev).stdout
    ids = []
    for section in json.loads(out or "[]"):
        for att in section.get("xdp", []):
            ids.append(att["id"])
    return ids


# ---- Ctrl-C and SIGKILL during a persistent load ----

def assert_whole_or_nothing(p, sig):
    """After an interrupted load: a complete persistent firewall, or nothing.
    A SIGKILL cannot be caught: it may leave the load's temporary directory,
    which status must report (and the next load removes); never a published
    half."""
    published = os.path.exists(f"{PIN}/{p.dev}")
    if published:
        assert set(os.listdir(f"{PIN}/{p.dev}")) >= {"link", "data_fw_active", "fw_info"}
        st = status(p)
        assert st["persistent"] and len(st["rules"]) == 3
        assert xdp_prog_ids(p) != []
        return "complete"
    left = tmp_dirs(p.dev)
    r = fw(p, "status", "-i", p.dev, check=False)
    if not left:
        assert xdp_prog_ids(p) == []
        assert r.returncode == 1 and "no firewall on" in r.stderr, r.stderr
        return "nothing"
    assert sig == signal.SIGKILL, f"{sig.name} left {left}"
    assert r.returncode == 1 and "was killed" in r.stderr and "load again" in r.stderr, r.stderr
    return "leftover"


def test_interrupted_persistent_load_is_whole_or_nothing(pair, rules):
    p = pair
    path = rules(RULES)
    # the load's duration, to place the signals across it
    took = []
    for _ in range(3):
        t0 = time.monotonic()
        fw(p, "load", "-i", p.dev, "--persist", path)
        took.append(time.monotonic() - t0)
        fw(p, "unload", "-i", p.dev)
    dur = statistics.median(took)
    seen = {}
    for sig in (signal.SIGINT, signal.SIGKILL):
        # past 1.0 too: the load ends with its exit, after the commit
        # denser towards the end, where the pins are made
        for frac in (0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.88, 0.91, 0.94, 0.97, 1.0, 1.03, 1.1, 1.5):
            proc = subprocess.Popen(p.vigil_argv(VIGIL, "firewall", "load", "-i", p.dev,
                                                 "--persist", path),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # placing a signal at a point of the load is what this test is about
            time.sleep(dur * frac)
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
            state = assert_whole_or_nothing(p, sig)
            seen.setdefault(state, []).append((sig.name, frac))
            if state == "complete":
                fw(p, "unload", "-i", p.dev)
            # whatever was left, the next load works
            r = fw(p, "load", "-i", p.dev, "--persist", path)
            if state == "leftover":
                assert "removed" in r.stderr, r.stderr
                assert tmp_dirs(p.dev) == []
            assert len(status(p)["rules"]) == 3
            fw(p, "unload", "-i", p.dev)
            assert not os.path.exists(f"{PIN}/{p.dev}") and xdp_prog_ids(p) == []
    print("states:", seen)


def test_half_made_pins_are_reported_and_unloaded(pair, rules):
    """pins without a link (an older vigil's interrupted load): status and
    load say so and what to do; unload removes them; then load works"""
    p = pair
    path = rules(RULES)
    os.makedirs(f"{PIN}/{p.dev}", mode=0o700)
    sh("bpftool", "map", "create", f"{PIN}/{p.dev}/fw_src4", "type", "array", "key", "4",
       "value", "4", "entries", "1", "name", "fw_src4")
    r = fw(p, "status", "-i", p.dev, check=False)
    assert r.returncode == 1 and "half-made" in r.stderr and "unload -i" in r.stderr, r.stderr
    r = fw(p, "load", "-i", p.dev, "--persist", path, check=False)
    assert r.returncode == 1 and "half-made" in r.stderr and "unload -i" in r.stderr, r.stderr
    assert xdp_prog_ids(p) == []
    fw(p, "unload", "-i", p.dev)
    assert not os.path.exists(f"{PIN}/{p.dev}")
    fw(p, "load", "-i", p.dev, "--persist", path)
    assert len(status(p)["rules"]) == 3


def killed_load_dir(p):
    """what a SIGKILLed load leaves: its temporary directory, of a dead process"""
    dead = subprocess.Popen(["true"])
    dead.wait()
    d = f"{TMP}/{dead.pid}-{p.dev}"
    os.makedirs(d, mode=0o700)
    sh("bpftool", "map", "create", f"{d}/fw_info", "type", "array", "key", "4",
       "value", "4", "entries", "1", "name", "fw_info")
    return d, dead.pid


def test_leftover_of_killed_load_reported_and_cleaned_by_load(pair, rules):
    p = pair
    d, pid = killed_load_dir(p)
    r = fw(p, "status", "-i", p.dev, check=False)
    assert r.returncode == 1 and f"process {pid}" in r.stderr and "was killed" in r.stderr, r.stderr
    r = fw(p, "load", "-i", p.dev, "--persist", rules(RULES))
    assert "removed" in r.stderr and not os.path.exists(d), r.stderr
    assert len(status(p)["rules"]) == 3


def test_leftover_of_killed_load_removed_by_unload(pair):
    p = pair
    d, _ = killed_load_dir(p)
    fw(p, "unload", "-i", p.dev)
    assert not os.path.exists(d)
    r = fw(p, "unload", "-i", p.dev, check=False)
    assert r.returncode == 1 and "no persistent firewall" in r.stderr


# ---- reload of a FIFO ----

def test_reload_of_fifo_reads_once_and_never_blocks_the_lock(pair, rules, tmp_path):
    p = pair
    fw(p, "load", "-i", p.dev, "--persist", rules(RULES))
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "w") as f:	# blocks until the reload opens it
            f.write("drop udp to 10.98.0.7 port 99\ndefault pass\n")
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    first = subprocess.Popen(p.vigil_argv(VIGIL, "firewall", "reload", "-i", p.dev, fifo),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t.join(timeout=60)
        assert not t.is_alive(), "the reload never opened the FIFO"
        # the FIFO has been written once and closed: a second open would wait
        # for a writer forever. Another reload must not wait behind it.
        second = fw(p, "reload", "-i", p.dev, rules(RULES, "other.rules"), check=False, timeout=60)
        assert second.returncode == 0, second.stderr
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    except subprocess.TimeoutExpired:
        pytest.fail("a reload waited behind a FIFO reload holding the lock")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    st = status(p)
    assert st["reloads"] == 2


# ---- check as any user ----

def test_check_runs_as_any_user():
    d = tempfile.mkdtemp()
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "fw.rules")
        with open(path, "w") as f:
            f.write(RULES)
        os.chmod(path, 0o644)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        r = subprocess.run([*nobody, VIGIL, "firewall", "check", path, "--json"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        docs = parse_ndjson(r.stdout)
        assert docs[0]["type"] == "firewall_check" and docs[0]["rules"] == 2
        # everything else still needs privileges
        r = subprocess.run([*nobody, VIGIL, "firewall", "status"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 3 and "permission denied" in r.stderr, r.stderr
    finally:
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.rmdir(d)


# ---- empty rule sets ----

def test_empty_reload_warns_and_require_rules_refuses(pair, rules):
    p = pair
    fw(p, "load", "-i", p.dev, "--persist", rules(RULES))
    empty = rules("# nothing yet\n", "empty.rules")
    r = fw(p, "reload", "-i", p.dev, empty)
    assert "no rules" in r.stderr and "default pass" in r.stderr, r.stderr
    st = status(p)
    assert [x["default"] for x in st["rules"]] == [True] and st["reloads"] == 1
    fw(p, "reload", "-i", p.dev, rules(RULES))
    r = fw(p, "reload", "-i", p.dev, "--require-rules", empty, check=False)
    assert r.returncode == 2 and "no rules" in r.stderr, r.stderr
    st = status(p)
    assert len(st["rules"]) == 3 and st["reloads"] == 2
    # a load with --require-rules refuses too, and loads nothing
    fw(p, "unload", "-i", p.dev)
    r = fw(p, "load", "-i", p.dev, "--persist", "--require-rules", empty, check=False)
    assert r.returncode == 2 and not os.path.exists(f"{PIN}/{p.dev}")
    assert xdp_prog_ids(p) == []
