"""vigil guard: denied execs never run (LSM EPERM where BPF LSM loads, SIGKILL
before the first instruction here), copies are caught by hash, connects and
UDP sends from a named cgroup fail with EPERM, audit reports only, reloads
are atomic, a bad policy changes nothing, SIGKILL leaves nothing."""
import hashlib
import os
import signal
import stat
import subprocess
import threading
import time

import pytest

from conftest import VIGIL, bpftool_prog_names, parse_ndjson, run, wait_progs_gone, cgroup2_mount
from guardwork import (GUEST, Guard, Listener, attempt_connect, attempt_exec, copy_touch,
                       denied_as, in_cgroup, TOUCH)

PROGS = ["gd_bprm_check", "gd_exec", "gd_connect4", "gd_connect6", "gd_sendmsg4", "gd_sendmsg6"]
PIN_DIR = "/sys/fs/bpf/vigil/guard"


@pytest.fixture(autouse=True)
def nothing_left():
    """Every test starts and ends with no guard program and no pin."""
    yield
    if os.path.exists(PIN_DIR):
        subprocess.run([VIGIL, "guard", "unload"], capture_output=True)
    assert wait_progs_gone(PROGS) == []


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_check_reports_file_line_column_and_loads_nothing(tmp_path):
    ok = copy_touch(str(tmp_path / "bin"))
    bad = write(tmp_path / "bad.policy",
                f"deny exec {ok}\n"
                "deny exce /bin/true\n"
                "deny connect 10.0.0.1/8 port 80\n"
                f"deny exec {tmp_path}/missing\n"
                "deny connect 10.0.0.0/8 port 80-20\n")
    p = run("guard", "check", bad)
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines() == [
        f"{bad}:2:6: error: expected 'exec' or 'connect', got 'exce'",
        f"{bad}:3:14: error: '10.0.0.1/8' has host bits set",
        f"{bad}:5:30: error: empty port range '80-20': 80 is above 20",
        f"{bad}:4:11: error: cannot use '{tmp_path}/missing': No such file or directory",
    ]
    # the same file to run: exit 2 before anything is loaded
    before = set(bpftool_prog_names())
    p = run("guard", "load", "-f", bad)
    assert p.returncode == 2
    assert f"{bad}:2:6: error:" in p.stderr
    assert not [n for n in set(bpftool_prog_names()) - before if n.startswith("gd_")]
    good = write(tmp_path / "good.policy", f"deny exec {ok}\n")
    p = run("guard", "check", good)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    p = run("guard", "check", good, "--unload")
    assert p.returncode == 2


def test_exec_denied_by_path_never_runs(tmp_path):
    denied = copy_touch(str(tmp_path / "denied"))
    allowed = copy_touch(str(tmp_path / "allowed"), b"\0other")
    policy = write(tmp_path / "p", f"deny exec {denied}\n")
    marker = str(tmp_path / "marker")
    with Guard(policy) as g:
        mech = g.mechanism()
        if GUEST:
            assert mech == "lsm", "the guests have BPF LSM: the LSM path must be taken"
        assert attempt_exec(denied, marker) == denied_as(mech)
        assert attempt_exec(allowed, marker) == "ran"
        # a hard link and a rename are the same inode: no escape
        link = str(tmp_path / "link")
        os.link(denied, link)
        assert attempt_exec(link, marker) == denied_as(mech)
        moved = str(tmp_path / "moved")
        os.rename(denied, moved)
        assert attempt_exec(moved, marker) == denied_as(mech)
        recs = g.wait_guard(3)
        g.stop()
    assert len(recs) == 3
    how = {"lsm": "lsm-eperm", "sigkill": "sigkill"}[mech]
    for r, path in zip(recs, [denied, link, moved]):
        assert r["kind"] == "exec" and r["action"] == "deny" and r["how"] == how
        assert r["mechanism"] == mech and r["line"] == 1
        assert r["path"] == path
        assert r["rule"] == f"deny exec {denied}"
        assert r["ino"] == os.stat(moved).st_ino


def test_copy_denied_by_hash(tmp_path):
    orig = copy_touch(str(tmp_path / "orig"))
    other = tmp_path / "elsewhere"
    other.mkdir()
    copy = copy_touch(str(other / "renamed-copy"))
    changed = copy_touch(str(other / "changed"), b"\0one more byte")
    policy = write(tmp_path / "p", f"deny exec sha256:{sha256(orig)}\n")
    marker = str(tmp_path / "marker")
    with Guard(policy) as g:
        mech = g.mechanism()
        # the first exec of an inode vigil has not hashed: held, hashed, killed
        assert attempt_exec(copy, marker) == "killed"
        # then the kernel knows its hash: decided in the kernel's path
        assert attempt_exec(copy, marker) == denied_as(mech)
        assert attempt_exec(orig, marker) == "killed"
        # other content runs (after being held while vigil hashed it)
        assert attempt_exec(changed, marker) == "ran"
        assert attempt_exec(changed, marker) == "ran"
        recs = g.wait_guard(3)
        g.stop()
    assert [r["how"] for r in recs] == [
        "hash-sigkill", {"lsm": "lsm-eperm", "sigkill": "sigkill"}[mech], "hash-sigkill"]
    assert [r["path"] for r in recs] == [copy, copy, orig]
    assert all(r["rule"] == f"deny exec sha256:{sha256(orig)}" for r in recs)


def test_hash_rules_after_reloads(tmp_path):
    """After a start and after each reload vigil keeps only the hash part of
    the tables it wrote (the rest is freed); held execs must still be decided
    by the generation in force."""
    a = copy_touch(str(tmp_path / "a"))
    b = copy_touch(str(tmp_path / "b"), b"\0bee")
    path = write(tmp_path / "p", f"deny exec sha256:{sha256(a)}\n")
    marker = str(tmp_path / "marker")
    with Guard(path) as g:
        mech = g.mechanism()
        assert attempt_exec(a, marker) == "killed"
        assert attempt_exec(b, marker) == "ran"
        for n in range(1, 3):
            write(path, f"deny exec sha256:{sha256(b)}\n")
            g.proc.send_signal(signal.SIGHUP)
            g.wait_err("guard: reloaded", count=2 * n - 1)
            # fresh inodes: vigil holds and hashes them against the new generation
            a2 = copy_touch(str(tmp_path / f"a{n}"))
            b2 = copy_touch(str(tmp_path / f"b{n}"), b"\0bee")
            assert attempt_exec(a2, marker) == "ran"
            assert attempt_exec(b2, marker) == "killed"
            assert attempt_exec(b2, marker) == denied_as(mech)
            write(path, f"deny exec sha256:{sha256(a)}\n")
            g.proc.send_signal(signal.SIGHUP)
            g.wait_err("guard: reloaded", count=2 * n)
            a3 = copy_touch(str(tmp_path / f"c{n}"))
            assert attempt_exec(a3, marker) == "killed"
        g.stop()


def test_mechanism_says_why_lsm_was_passed_over(tmp_path):
    """The cheap LSM probe must give the same choice and reason as a full load:
    here 'lsm: load: Operation not permitted' and sigkill; in the guests lsm."""
    policy = write(tmp_path / "p", f"deny exec {copy_touch(str(tmp_path / 'x'))}\n")
    with Guard(policy) as g:
        m = [r for r in g.records() if r["type"] == "mechanism"][0]
        g.stop()
    if GUEST:
        assert m["mechanism"] == "lsm" and "fallback_reason" not in m, m
    else:
        assert m["mechanism"] == "sigkill", m
        assert m["fallback_reason"] == "lsm: load: Operation not permitted", m


def test_directory_rule_and_exception(tmp_path):
    d = tmp_path / "jail"
    (d / "deep" / "er").mkdir(parents=True)
    inside = copy_touch(str(d / "deep" / "er" / "x"))
    excepted = copy_touch(str(d / "deep" / "ok"))
    outside = copy_touch(str(tmp_path / "outside"))
    policy = write(tmp_path / "p", f"deny exec {d}/**\nallow exec {excepted}\n")
    marker = str(tmp_path / "marker")
    with Guard(policy) as g:
        mech = g.mechanism()
        assert attempt_exec(inside, marker) == denied_as(mech)
        assert attempt_exec(excepted, marker) == "ran"
        assert attempt_exec(outside, marker) == "ran"
        recs = g.wait_guard(1)
        g.stop()
    assert len(recs) == 1 and recs[0]["path"] == inside and recs[0]["line"] == 1


def test_connect_denied_in_cgroup_only(tmp_path, scratch_cgroup):
    lst = Listener("127.0.0.1")
    lst6 = Listener("::1")
    root = cgroup2_mount()
    rel = os.path.relpath(scratch_cgroup, root)
    policy = write(tmp_path / "p",
                   f"deny connect 127.0.0.0/8 port {lst.port} cgroup {rel}\n"
                   f"deny connect ::1/128 port {lst6.port} cgroup {scratch_cgroup}\n")
    try:
        with Guard(policy) as g:
            for _ in range(3):
                assert attempt_connect("127.0.0.1", lst.port, "tcp", scratch_cgroup) == "EPERM"
                assert attempt_connect("127.0.0.1", lst.port, "udp", scratch_cgroup) == "EPERM"
                assert attempt_connect("::1", lst6.port, "tcp", scratch_cgroup) == "EPERM"
                assert attempt_connect("::1", lst6.port, "udp", scratch_cgroup) == "EPERM"
            time.sleep(0.2)
            assert lst.drain() == (0, 0) and lst6.drain() == (0, 0)
            # the same from outside the cgroup goes through
            for _ in range(3):
                assert attempt_connect("127.0.0.1", lst.port, "tcp") == "ok"
                assert attempt_connect("127.0.0.1", lst.port, "udp") == "ok"
                assert attempt_connect("::1", lst6.port, "tcp") == "ok"
            # another port from inside the cgroup too
            assert attempt_connect("127.0.0.1", lst6.port, "tcp", scratch_cgroup) in ("ok", "ECONNREFUSED")
            time.sleep(0.2)
            assert lst.drain() == (3, 3) and lst6.drain() == (3, 0)
            recs = g.wait_guard(12)
            g.stop()
    finally:
        lst.close()
        lst6.close()
    assert len(recs) == 12
    kinds = sorted((r["kind"], r["addr"]) for r in recs)
    assert kinds == sorted([("connect", "127.0.0.1")] * 3 + [("sendmsg", "127.0.0.1")] * 3 +
                           [("connect", "::1")] * 3 + [("sendmsg", "::1")] * 3)
    cg_id = os.stat(scratch_cgroup).st_ino
    for r in recs:
        assert r["action"] == "deny" and r["how"] == "connect-eperm"
        assert r["scope_cgroup_id"] == cg_id and r["cgroup_id"] == cg_id


def test_audit_and_dry_run_deny_nothing(tmp_path):
    lst = Listener("127.0.0.1")
    audited = copy_touch(str(tmp_path / "audited"))
    denied = copy_touch(str(tmp_path / "denied"), b"\0x")
    policy = write(tmp_path / "p",
                   f"audit exec {audited}\ndeny exec {denied}\n"
                   f"deny connect 127.0.0.1 port {lst.port}\n")
    marker = str(tmp_path / "marker")
    try:
        with Guard(policy, "--dry-run") as g:
            assert attempt_exec(audited, marker) == "ran"
            assert attempt_exec(denied, marker) == "ran"
            assert attempt_connect("127.0.0.1", lst.port, "tcp") == "ok"
            assert attempt_connect("127.0.0.1", lst.port, "udp") == "ok"
            recs = g.wait_guard(4)
            g.stop()
        time.sleep(0.1)
        assert lst.drain() == (1, 1)
        # without --dry-run only the audit rule reports without stopping
        with Guard(policy) as g:
            mech = g.mechanism()
            assert attempt_exec(audited, marker) == "ran"
            assert attempt_exec(denied, marker) == denied_as(mech)
            recs2 = g.wait_guard(2)
            g.stop()
    finally:
        lst.close()
    assert [(r["kind"], r["action"], r["how"]) for r in recs] == [
        ("exec", "audit", "reported"), ("exec", "deny", "reported"),
        ("connect", "deny", "reported"), ("sendmsg", "deny", "reported")]
    assert [(r["action"], r["how"]) for r in recs2] == [
        ("audit", "reported"), ("deny", {"lsm": "lsm-eperm", "sigkill": "sigkill"}[mech])]


def test_bad_reload_keeps_running_policy(tmp_path):
    denied = copy_touch(str(tmp_path / "denied"))
    other = copy_touch(str(tmp_path / "other"), b"\0y")
    path = write(tmp_path / "p", f"deny exec {denied}\n")
    marker = str(tmp_path / "marker")
    with Guard(path) as g:
        mech = g.mechanism()
        write(path, f"deny exec {other}\ndeny exec /nonexistent/x\n")
        g.proc.send_signal(signal.SIGHUP)
        g.wait_err("reload of")
        assert f"{path}:2:11: error: cannot use '/nonexistent/x'" in g.stderr()
        assert attempt_exec(denied, marker) == denied_as(mech)
        assert attempt_exec(other, marker) == "ran"
        # a good file then takes over
        write(path, f"deny exec {other}\n")
        g.proc.send_signal(signal.SIGHUP)
        g.wait_err("guard: reloaded")
        assert attempt_exec(denied, marker) == "ran"
        assert attempt_exec(other, marker) == denied_as(mech)
        g.stop()


def test_reloads_are_atomic(tmp_path):
    """100 reloads alternating two policies that deny the same exec and the same
    connect through different rules: every attempt is denied by one or the other."""
    lst = Listener("127.0.0.1")
    target = copy_touch(str(tmp_path / "target"))
    fine = copy_touch(str(tmp_path / "fine"), b"\0z")
    a = write(tmp_path / "a", f"deny exec {target}\ndeny connect 127.0.0.1 port {lst.port}\n")
    b = write(tmp_path / "b", f"# b\n\ndeny exec {tmp_path}/**\nallow exec {fine}\n"
              f"deny connect 127.0.0.0/8 port {lst.port - 1}-{lst.port + 1}\n")
    live = str(tmp_path / "live")
    os.symlink(a, live)
    reloads = 30 if GUEST else 100
    stop = threading.Event()
    results = {"exec": [], "fine": [], "connect": []}

    def loop():
        m = str(tmp_path / "marker")
        while not stop.is_set():
            results["exec"].append(attempt_exec(target, m))
            results["fine"].append(attempt_exec(fine, m))
            results["connect"].append(attempt_connect("127.0.0.1", lst.port, "udp"))

    try:
        with Guard(live) as g:
            mech = g.mechanism()
            t = threading.Thread(target=loop)
            t.start()
            for i in range(reloads):
                tmp = str(tmp_path / "live.new")
                os.symlink(b if i % 2 == 0 else a, tmp)
                os.rename(tmp, live)
                g.proc.send_signal(signal.SIGHUP)
                g.wait_err("guard: reloaded", count=i + 1)
                # attempts between every two reloads, however fast the reloads are
                seen, deadline = len(results["connect"]), time.monotonic() + 30
                while len(results["connect"]) == seen and t.is_alive():
                    assert time.monotonic() < deadline, results
                    time.sleep(0.001)
            stop.set()
            t.join()
            time.sleep(0.2)
            recs = g.guard_records()
            g.stop()
            assert "failed" not in g.stderr()
            received = lst.drain()
    finally:
        stop.set()
        lst.close()
    n = len(results["exec"])
    # the loop ran all through the reloads
    assert n >= reloads, results
    assert results["exec"] == [denied_as(mech)] * n
    assert results["fine"] == ["ran"] * len(results["fine"])
    assert results["connect"] == ["EPERM"] * len(results["connect"])
    assert received == (0, 0)
    # each decision names a rule of policy a (line 1/2) or of policy b (line 3/5)
    execs = [r for r in recs if r["kind"] == "exec"]
    sends = [r for r in recs if r["kind"] == "sendmsg"]
    assert len(execs) == n and len(sends) == len(results["connect"])
    assert {r["line"] for r in execs} <= {1, 3} and {r["line"] for r in sends} <= {2, 5}


def test_sigkill_leaves_nothing(tmp_path):
    denied = copy_touch(str(tmp_path / "denied"))
    lst = Listener("127.0.0.1")
    policy = write(tmp_path / "p", f"deny exec {denied}\ndeny connect 127.0.0.1 port {lst.port}\n")
    marker = str(tmp_path / "marker")
    try:
        g = Guard(policy).start()
        mech = g.mechanism()
        assert attempt_exec(denied, marker) == denied_as(mech)
        assert attempt_connect("127.0.0.1", lst.port, "tcp") == "EPERM"
        assert any(n.startswith("gd_") for n in bpftool_prog_names())
        assert g.stop(signal.SIGKILL) == -signal.SIGKILL
        assert wait_progs_gone(PROGS) == []
        assert not os.path.exists(PIN_DIR)
        assert attempt_exec(denied, marker) == "ran"
        assert attempt_connect("127.0.0.1", lst.port, "tcp") == "ok"
    finally:
        lst.close()


def test_persist_reload_unload(tmp_path):
    denied = copy_touch(str(tmp_path / "denied"))
    other = copy_touch(str(tmp_path / "other"), b"\0w")
    policy = write(tmp_path / "p", f"deny exec {denied}\n")
    marker = str(tmp_path / "marker")
    # sha256 rules need vigil running: refused before anything loads
    hp = write(tmp_path / "h", f"deny exec sha256:{sha256(denied)}\n")
    p = run("guard", "load", "-f", hp, "--persist")
    assert p.returncode == 2 and "persistent guard cannot take them" in p.stderr
    assert not os.path.exists(PIN_DIR)

    p = run("guard", "load", "-f", policy, "--persist")
    assert p.returncode == 0, p.stderr
    assert os.path.isdir(PIN_DIR)
    pins = os.listdir(PIN_DIR)
    assert "bss" in pins and "gd_files" in pins and any(x.startswith("link_") for x in pins)
    for name in pins:
        assert stat.S_IMODE(os.stat(os.path.join(PIN_DIR, name)).st_mode) == 0o600, name
    mech = "lsm" if "link_gd_bprm_check" in pins else "sigkill"
    if GUEST:
        assert mech == "lsm"
    # vigil has exited: the kernel enforces on its own; 'events' reads the pinned
    # ring buffer: the deny records queued while nobody read, then new ones
    evout = tmp_path / "events.json"
    ev = subprocess.Popen([VIGIL, "guard", "events", "--json", "-o", str(evout)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "reading the persistent guard" in ev.stderr.readline()
        assert attempt_exec(denied, marker) == denied_as(mech)
        assert attempt_exec(other, marker) == "ran"
        deadline = time.monotonic() + 30
        recs = []
        while time.monotonic() < deadline and not recs:
            time.sleep(0.05)
            recs = [r for r in parse_ndjson(evout.read_text()) if r["type"] == "guard"]
    finally:
        ev.send_signal(signal.SIGINT)
        ev.wait(timeout=30)
    assert len(recs) == 1, recs
    assert recs[0]["path"] == denied and recs[0]["action"] == "deny"
    assert recs[0]["rule"] == f"deny exec {denied}" and recs[0]["mechanism"] == mech
    # 'status': the pinned policy's rules and the kernel's counters, as rows
    p = run("guard", "status", "--json")
    assert p.returncode == 0, p.stderr
    rows = parse_ndjson(p.stdout)
    st = [r for r in rows if r["type"] == "guard_status"]
    assert len(st) == 1 and st[0]["mechanism"] == mech and st[0]["rules"] == 1, rows
    assert [(r["line"], r["rule"]) for r in rows if r["type"] == "guard_rule"] == [
        (1, f"deny exec {denied}")]
    counts = {(r["kind"], r["action"]): r["count"] for r in rows if r["type"] == "guard_counter"}
    assert counts[("exec", "deny")] == 1 and counts[("connect", "deny")] == 0, counts
    p = run("guard", "status")
    assert p.returncode == 0 and f"deny exec {denied}" in p.stdout, p.stdout
    # a second load is refused, the first one stays
    p = run("guard", "load", "-f", policy, "--persist")
    assert p.returncode == 1 and "already" not in p.stderr and "'vigil guard unload'" in p.stderr
    # a bad reload changes nothing
    bad = write(tmp_path / "bad", "deny exec nope\n")
    p = run("guard", "reload", "-f", bad)
    assert p.returncode == 2 and f"{bad}:1:11: error:" in p.stderr
    assert attempt_exec(denied, marker) == denied_as(mech)
    p = run("guard", "reload", "-f", write(tmp_path / "p2", f"deny exec {other}\n"))
    assert p.returncode == 0, p.stderr
    assert attempt_exec(denied, marker) == "ran"
    assert attempt_exec(other, marker) == denied_as(mech)
    # status follows the reload: the new file's rules, the counters go on
    rows = parse_ndjson(run("guard", "status", "--json").stdout)
    assert [r["rule"] for r in rows if r["type"] == "guard_rule"] == [f"deny exec {other}"]
    assert [r["count"] for r in rows if r["type"] == "guard_counter" and r["kind"] == "exec"
            and r["action"] == "deny"] == [3]   # one before, one under the bad reload, one after
    p = run("guard", "unload")
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(PIN_DIR)
    assert not os.path.exists("/sys/fs/bpf/vigil/guard_new")
    # nothing of vigil stays in bpffs: the root goes with its last directory
    root = "/sys/fs/bpf/vigil"
    assert not os.path.exists(root) or os.listdir(root), os.listdir(root)
    assert wait_progs_gone(PROGS) == []
    assert attempt_exec(other, marker) == "ran"
    p = run("guard", "unload")
    assert p.returncode == 1 and "no persistent guard" in p.stderr
    for verb in ("status", "events"):
        p = run("guard", verb)
        assert p.returncode == 1 and "no persistent guard" in p.stderr, (verb, p.stderr)


def test_usage_errors(tmp_path):
    good = write(tmp_path / "p", f"deny exec {copy_touch(str(tmp_path / 'b'))}\n")
    for args, msg in [((), "needs a verb"),
                      (("bogus",), "unknown verb 'bogus'"),
                      (("load",), "needs a policy"),
                      (("reload",), "needs a policy"),
                      (("check",), "'check' takes one policy file"),
                      (("load", "-f", good, "extra"), "takes -f POLICY and options"),
                      (("load", "-f", good, "-p", "1"), "-p"),
                      (("unload", "-f", good), "-f"),
                      (("load", "-f", good, "--mechanism", "bogus"), "bogus")]:
        p = run("guard", *args)
        assert p.returncode == 2, (args, p.stderr)
        assert msg in p.stderr, (args, p.stderr)
    # the old flags are gone: the verbs replaced them
    for flags in (("-f", good), ("--unload",), ("--check", good)):
        p = run("guard", *flags)
        assert p.returncode == 2 and "needs a verb" in p.stderr, (flags, p.stderr)


def test_agent_guard_section_counts_denials(tmp_path):
    import socket
    import urllib.request
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    denied = copy_touch(str(tmp_path / "denied"))
    audited = copy_touch(str(tmp_path / "audited"), b"\0a")
    policy = write(tmp_path / "p", f"deny exec {denied}\naudit exec {audited}\n")
    cfg = write(tmp_path / "agent.yaml",
                f"outputs:\n  events: {tmp_path}/events.json\nmetrics:\n  listen: 127.0.0.1:{port}\n"
                f"features:\n  guard: {{policy: {policy}}}\n")
    err = open(tmp_path / "err", "w")
    ag = subprocess.Popen([VIGIL, "agent", "--config", cfg], stdout=subprocess.DEVNULL, stderr=err)
    marker = str(tmp_path / "marker")
    try:
        deadline = time.monotonic() + 120
        while "guard: enforcing" not in (tmp_path / "err").read_text():
            assert ag.poll() is None and time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.02)
        mech = "lsm" if "with lsm" in (tmp_path / "err").read_text() else "sigkill"
        for _ in range(3):
            assert attempt_exec(denied, marker) == denied_as(mech)
        for _ in range(2):
            assert attempt_exec(audited, marker) == "ran"
        body = ""
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                body = ""
            if 'vigil_guard_decisions_total{feature="guard",kind="exec",action="deny"' in body:
                break
            time.sleep(0.1)
        vals = {}
        for line in body.splitlines():
            if line.startswith("vigil_guard_decisions_total{"):
                labels, v = line.rsplit(" ", 1)
                vals[labels] = float(v)
        assert vals[f'vigil_guard_decisions_total{{feature="guard",kind="exec",action="deny",mechanism="{mech}"}}'] == 3
        assert vals[f'vigil_guard_decisions_total{{feature="guard",kind="exec",action="audit",mechanism="{mech}"}}'] == 2
        assert 'vigil_guard_rules{feature="guard"} 2' in body
    finally:
        ag.send_signal(signal.SIGINT)
        ag.wait(timeout=60)
        err.close()
