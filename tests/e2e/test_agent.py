"""vigil agent: several features and instances in one process, one NDJSON stream,
config errors with file:line:col, and SIGHUP reloads that keep or change what runs."""
import os
import signal
import subprocess
import time

import pytest

from conftest import ROOT, VIGIL, bpftool_prog_names, parse_ndjson, run, token, wait_progs_gone

SC_LOOP = os.path.join(ROOT, "build", "tests", "workloads", "sc_loop")


def waiting_loop(*args):
    p = subprocess.Popen([SC_LOOP, "-w", *map(str, args)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    assert line.startswith("pid "), line
    return p, int(line.split()[1])


def go(p):
    p.stdin.write(b"x")
    p.stdin.flush()
    p.wait(timeout=60)


class Agent:
    def __init__(self, tmp_path, config):
        self.dir = tmp_path
        self.cfg = tmp_path / "agent.yaml"
        self.events = tmp_path / "events.json"
        self.err = tmp_path / "err"
        self.write(config)

    def write(self, config):
        self.cfg.write_text(config.replace("EVENTS", str(self.events)))

    def start(self):
        self.p = subprocess.Popen([VIGIL, "agent", "--config", str(self.cfg)],
                                  stdout=subprocess.DEVNULL, stderr=open(self.err, "w"))
        self.wait_err("; attached")
        return self

    def stderr(self):
        return self.err.read_text()

    def wait_err(self, text, count=1, timeout=30):
        deadline = time.monotonic() + timeout
        while self.stderr().count(text) < count:
            assert self.p.poll() is None, self.stderr()
            assert time.monotonic() < deadline, self.stderr()
            time.sleep(0.05)

    def records(self):
        return parse_ndjson(self.events.read_text())

    def stop(self, sig=signal.SIGINT):
        self.p.send_signal(sig)
        return self.p.wait(timeout=30)


def test_two_instances_with_their_own_pid_filters(tmp_path):
    a, pa = waiting_loop("getppid", 300)
    b, pb = waiting_loop("getppid", 700)
    ag = Agent(tmp_path, f"""
outputs:
  events: EVENTS
features:
  syscall:
    - name: a
      pid: {pa}
      count: true
    - name: b
      pid: {pb}
      count: true
  proc:
    exec-only: true
""").start()
    go(a)
    go(b)
    # each -p instance ends with its process; the agent and its proc instance run on
    ag.wait_err("'syscall/a' ended")
    ag.wait_err("'syscall/b' ended")
    tok = token()
    subprocess.run(["/bin/echo", tok], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    assert ag.stop() == 0
    recs = ag.records()
    counts = [r for r in recs if r["type"] == "syscall_count" and r["syscall"] == "getppid"]
    # two rows: 300 calls of one process, 700 of the other; neither saw the other's
    assert sorted(r["calls"] for r in counts) == [300, 700]
    assert any(r["type"] == "exec" and tok in r["argv"] for r in recs)
    lost = {r["feature"]: r for r in recs if r["type"] == "lost" and r["final"]}
    assert set(lost) >= {"proc"}
    assert wait_progs_gone(["sc_exit_count", "proc_exec"]) == []


@pytest.mark.parametrize("config,where,why", [
    ("features:\n  proc:\n    exec-onyl: true\n", "3:5", "'proc' has no option 'exec-onyl'"),
    ("features:\n  nope: {}\n", "2:3", "unknown feature 'nope'"),
    ("features:\n  proc:\n    duration: nan\n", "3:15", "invalid value for 'duration'"),
    ("outputs: [1]\nfeatures: {}\n", "1:10", "'outputs' must be a mapping"),
    ("features:\n  proc: {}\n  proc: {}\n", "3:3", "duplicate key 'proc'"),
    ("features:\n  proc:\n    - {}\n    - {}\n", "4:7", "two instances named 'proc'"),
    ("features: {proc: [\n", "2:1", "error"),
    ("bogus: 1\nfeatures: {}\n", "1:1", "unknown section 'bogus'"),
])
def test_config_errors_name_file_line_col(tmp_path, config, where, why):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config)
    before = len(bpftool_prog_names())
    r = run("agent", "--config", str(cfg), timeout=20)
    assert r.returncode == 2, r.stderr
    assert f"{cfg}:{where}: error:" in r.stderr, r.stderr
    assert why in r.stderr, r.stderr
    assert len(bpftool_prog_names()) <= before


def test_check_validates_without_loading(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("features:\n  proc: {}\n  syscall: {count: true}\n")
    r = run("agent", "--config", str(cfg), "--check")
    assert r.returncode == 0, r.stderr
    assert "2 instances" in r.stderr


def test_sighup_bad_config_keeps_everything_good_one_changes_only_what_changed(tmp_path):
    ag = Agent(tmp_path, """
outputs:
  events: EVENTS
features:
  proc:
    exec-only: true
  syscall:
    count: true
    syscall: getppid
""").start()
    # a bad config: refused, the old features keep producing events
    ag.write("features:\n  proc:\n    exec-only: maybe\n")
    ag.p.send_signal(signal.SIGHUP)
    ag.wait_err("reload refused")
    t1 = token()
    subprocess.run(["/bin/echo", t1], stdout=subprocess.DEVNULL, check=True)
    # a good one: proc unchanged (not restarted), syscall removed, filetop added
    ag.write("""
outputs:
  events: EVENTS
features:
  proc:
    exec-only: true
  filetop:
    interval: 1s
""")
    ag.p.send_signal(signal.SIGHUP)
    ag.wait_err("config reloaded")
    assert "stopping 'syscall'" in ag.stderr() and "starting 'filetop'" in ag.stderr()
    assert "stopping 'proc'" not in ag.stderr()
    assert wait_progs_gone(["sc_exit_count"]) == []
    loaded = set(bpftool_prog_names())
    assert loaded & {"ft_vfs_read", "ft_enter_read"}
    t2 = token()
    subprocess.run(["/bin/echo", t2], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    assert ag.stop() == 0
    recs = ag.records()
    execs = [r for r in recs if r["type"] == "exec"]
    assert any(t1 in r["argv"] for r in execs) and any(t2 in r["argv"] for r in execs)
    # proc ran throughout: one final loss report for it, at the end
    assert len([r for r in recs if r["type"] == "lost" and r["feature"] == "proc"]) == 1


def test_sigkill_leaves_nothing_loaded(tmp_path):
    ag = Agent(tmp_path, "features:\n  proc: {}\n  syscall: {count: true}\n  filetop: {}\n").start()
    ag.stop(signal.SIGKILL)
    assert wait_progs_gone(["proc_exec", "sc_exit_count", "ft_enter_read", "ft_vfs_read"]) == []
