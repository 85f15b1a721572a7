"""vigil agent: several features and instances in one process, one NDJSON stream,
config errors with file:line:col, and SIGHUP reloads that keep or change what runs."""
import os
import signal
import subprocess
import time

import pytest

from conftest import SC_LOOP, waiting_loop, ROOT, VIGIL, bpftool_prog_names, free_port, parse_ndjson, run, scrape_values, token, wait_progs_gone




def go(p):
    p.stdin.write(b"x")
    p.stdin.flush()
    p.wait(timeout=60)


_started = []


@pytest.fixture(autouse=True)
def no_agent_left():
    """An agent a failed or skipped test left running would trace on into later tests."""
    yield
    while _started:
        p = _started.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


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
        _started.append(self.p)
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


# ---- metrics, scraped by a real Prometheus ----

class Prometheus:
    def __init__(self, tmp_path, target):
        import shutil
        if not shutil.which("prometheus"):
            pytest.skip("prometheus is not installed (scripts/deps.sh test)")
        self.port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: ['{target}']
""")
        self.p = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{self.port}"],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w"))

    def query(self, q):
        import json as _json
        import urllib.parse
        import urllib.request
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                d = _json.load(r)
        except OSError:
            return None
        res = d["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    def wait_value(self, q, want, timeout=60):
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.query(q)
            if v == want:
                return v
            time.sleep(0.5)
        raise AssertionError(f"{q} = {v}, wanted {want}")

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=30)


def test_prometheus_scrapes_exact_counts(tmp_path):
    import shutil
    if not shutil.which("prometheus"):
        pytest.skip("prometheus is not installed (scripts/deps.sh test)")
    port = free_port()
    comm = "vgl" + token()[-8:]
    exe = tmp_path / comm
    shutil.copy("/bin/true", exe)
    ag = Agent(tmp_path, f"""
outputs:
  events: EVENTS
metrics:
  listen: 127.0.0.1:{port}
features:
  proc:
    name: uniq
    exec-only: true
    comm: {comm}
  syscall:
    - name: count
      count: true
      comm: sc_loop
      syscall: getppid
    - name: lat
      hist: true
      comm: sc_loop
      syscall: getppid
""").start()
    prom = Prometheus(tmp_path, f"127.0.0.1:{port}")
    try:
        for _ in range(7):
            subprocess.run([str(exe)], check=True)
        w, _ = waiting_loop("getppid", 5000)
        go(w)
        prom.wait_value(f'vigil_proc_events_total{{feature="proc/uniq",type="exec"}}', 7)
        prom.wait_value('vigil_syscall_calls_total{feature="syscall/count",syscall="getppid"}', 5000)
        prom.wait_value('vigil_syscall_latency_seconds_count{feature="syscall/lat",syscall="getppid"}', 5000)
        q = prom.query('histogram_quantile(0.9, vigil_syscall_latency_seconds_bucket{feature="syscall/lat"})')
        assert q is not None and 0 < q < 1, q
        # loss accounting is exported per feature
        assert prom.query('vigil_events_lost_total{feature="proc/uniq"}') == 0
        assert prom.query('vigil_events_received_total{feature="proc/uniq"}') == 7
    finally:
        prom.stop()
        assert ag.stop() == 0


def test_metrics_endpoint_under_abuse(tmp_path):
    import socket
    port = free_port()
    ag = Agent(tmp_path, f"""
outputs:
  events: EVENTS
metrics:
  listen: 127.0.0.1:{port}
features:
  proc: {{exec-only: true}}
""").start()
    # a client trickling one byte at a time, a 1 MB request, 200 clients at once
    slow = socket.create_connection(("127.0.0.1", port))
    slow.send(b"G")
    big = socket.create_connection(("127.0.0.1", port))
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (1 << 20))
    except OSError:
        pass   # the agent closed it once its 8 KiB were exceeded
    many = []
    for _ in range(200):
        try:
            many.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    for s in many:
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        except OSError:
            pass
    served = 0
    for s in many:
        try:
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                served += 1
        except OSError:
            pass
        s.close()
    assert served > 0
    # events keep flowing and a normal scrape still works
    tok = token()
    subprocess.run(["/bin/echo", tok], stdout=subprocess.DEVNULL, check=True)
    import urllib.request
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "vigil_agent_resident_memory_bytes" in body
    rss = float([l for l in body.splitlines() if l.startswith("vigil_agent_resident_memory_bytes")][0].split()[1])
    assert rss < 64 << 20
    time.sleep(6)   # the slow client's time is up
    slow.settimeout(5)
    assert slow.recv(100) == b""   # closed by the agent's sweep
    assert ag.p.poll() is None
    time.sleep(0.3)
    assert ag.stop() == 0
    assert any(r["type"] == "exec" and tok in r["argv"] for r in ag.records())


def test_sighup_reopens_the_events_file_for_logrotate(tmp_path):
    ag = Agent(tmp_path, "outputs:\n  events: EVENTS\nfeatures:\n  proc: {exec-only: true}\n").start()
    t1, t2 = token(), token()
    subprocess.run(["/bin/echo", t1], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    rotated = tmp_path / "events.json.1"
    os.rename(ag.events, rotated)
    ag.p.send_signal(signal.SIGHUP)
    ag.wait_err("config reloaded")
    subprocess.run(["/bin/echo", t2], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    assert ag.stop() == 0
    old = parse_ndjson(rotated.read_text())
    new = parse_ndjson(ag.events.read_text())
    assert any(r["type"] == "exec" and t1 in r["argv"] for r in old)
    assert any(r["type"] == "exec" and t2 in r["argv"] for r in new)
    assert not any(r["type"] == "exec" and t2 in r["argv"] for r in old)


def refused(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_sighup_moves_the_metrics_endpoint_and_keeps_it_when_the_new_one_fails(tmp_path):
    import socket
    a, b = free_port(), free_port()
    while b == a:
        b = free_port()
    cfg = """
outputs:
  events: EVENTS
{metrics}
features:
  proc: {{exec-only: true}}
  syscall:
    count: true
    comm: sc_loop
    syscall: getppid
"""
    ag = Agent(tmp_path, cfg.format(metrics=f"metrics:\n  listen: 127.0.0.1:{a}")).start()
    w, _ = waiting_loop("getppid", 500)
    go(w)
    calls = 'vigil_syscall_calls_total{feature="syscall",syscall="getppid"}'
    reloads = 'vigil_agent_reloads_total{{result="{}"}}'
    served = 'vigil_agent_http_requests_total{result="served"}'
    deadline = time.monotonic() + 10
    while scrape_values(a).get(calls) != 500:
        assert time.monotonic() < deadline, scrape_values(a).get(calls)
        time.sleep(0.1)
    # the new port is taken: the reload is refused and the old endpoint serves on
    squat = socket.socket()
    squat.bind(("127.0.0.1", b))
    squat.listen(1)
    ag.write(cfg.format(metrics=f"metrics:\n  listen: 127.0.0.1:{b}"))
    ag.p.send_signal(signal.SIGHUP)
    ag.wait_err("reload refused")
    assert f"cannot serve metrics on '127.0.0.1:{b}'" in ag.stderr()
    v = scrape_values(a)
    assert v[reloads.format("error")] == 1 and v[reloads.format("ok")] == 0
    served_before = v[served]
    squat.close()
    # free now: the endpoint moves, the features are not restarted and lose no count
    t1 = token()
    subprocess.run(["/bin/echo", t1], stdout=subprocess.DEVNULL, check=True)
    ag.p.send_signal(signal.SIGHUP)
    ag.wait_err("config reloaded")
    assert refused(a)
    w, _ = waiting_loop("getppid", 300)
    go(w)
    deadline = time.monotonic() + 10
    while scrape_values(b).get(calls) != 800:
        assert time.monotonic() < deadline, scrape_values(b).get(calls)
        time.sleep(0.1)
    v = scrape_values(b)
    assert v[reloads.format("ok")] == 1 and v[reloads.format("error")] == 1
    assert v[served] > served_before      # counted across both endpoints
    assert "stopping" not in ag.stderr() and ag.stderr().count("starting") == 0
    # no metrics section: the endpoint closes, the events go on
    ag.write(cfg.format(metrics=""))
    ag.p.send_signal(signal.SIGHUP)
    ag.wait_err("config reloaded", count=2)
    assert refused(b)
    t2 = token()
    subprocess.run(["/bin/echo", t2], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.3)
    assert ag.stop() == 0
    execs = [r for r in ag.records() if r["type"] == "exec"]
    assert any(t1 in r["argv"] for r in execs) and any(t2 in r["argv"] for r in execs)
