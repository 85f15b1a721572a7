"""vigil security: real credential changes, capability checks, ptrace, BPF loads and
fileless execs, made by tests/workloads/sec_ops.c and seen through the real binary."""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import ROOT, VIGIL, Tracer, bpftool_prog_names, parse_ndjson, run, settle, token, \
    wait_progs_gone

SEC_OPS = os.path.join(ROOT, "build", "tests", "workloads", "sec_ops")
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
SEC_PROGS = ["sec_exec", "sec_enter_setuid", "sec_exit_setuid", "sec_enter_ptrace", "sec_enter_bpf"]
CAP_SYS_ADMIN, CAP_CHOWN = 21, 0


def ops(*args, prefix=(), check=True):
    """Run sec_ops; its "key=value" line as a dict of ints where they are numbers."""
    p = subprocess.run([*prefix, SEC_OPS, *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    out = {}
    for word in p.stdout.split():
        k, _, v = word.partition("=")
        out[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    return out


def sec(recs, **want):
    return [r for r in recs if r["type"] == "security" and all(r.get(k) == v for k, v in want.items())]


def kernel_has_tracepoint(group, name):
    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(base, "events")):
            return os.path.exists(os.path.join(base, "events", group, name))
    return False


def mechanism(recs):
    m = [r for r in recs if r["type"] == "mechanism"]
    assert len(m) == 1, recs[:5]
    return m[0]


# ---- credential changes ----------------------------------------------------------

def test_setuid0_from_root_and_from_nobody_with_results():
    with Tracer("security", "--kind", "cred", "-c", "sec_ops") as t:
        root = ops("setuid", 0)
        nobody = ops("setuid", 0, prefix=AS_NOBODY)
        settle()
        assert t.stop() == 0
        recs = t.records()
    assert root["ret"] == 0 and nobody["ret"] == -1 and nobody["errno"] == 1
    r = sec(recs, pid=root["pid"], op="setuid")
    assert len(r) == 1, recs
    r = r[0]
    assert r["kind"] == "cred" and r["asked"] == "0" and r["ret"] == 0 and r["result"] == "ok"
    assert (r["old_uid"], r["new_uid"], r["old_euid"], r["new_euid"]) == (0, 0, 0, 0)
    assert r["privilege_gain"] is False and r["severity"] == "info"
    n = sec(recs, pid=nobody["pid"], op="setuid")
    assert len(n) == 1, recs
    n = n[0]
    assert n["ret"] == -1 and n["errno"] == "EPERM" and n["result"] == "failed"
    assert (n["old_uid"], n["new_uid"], n["old_euid"], n["new_euid"]) == (NOBODY,) * 4
    assert n["uid"] == NOBODY and n["privilege_gain"] is False
    # a failed attempt at root from a non-root task ranks above a plain failure
    assert n["severity"] == "medium"
    # the setpriv before it was another command: filtered out in the kernel by -c
    assert all(x["comm"] == "sec_ops" for x in sec(recs))


def test_privilege_drop_and_regain_are_told_apart():
    """setresuid drops root; the saved uid 0 lets the task take it back: a gain."""
    with Tracer("security", "--kind", "cred", "-c", "sec_ops") as t:
        w = ops("regain")
        settle()
        t.stop()
        recs = t.records()
    assert w["euid"] == 0
    r = sec(recs, pid=w["pid"], op="setresuid")
    assert len(r) == 2, recs
    drop, regain = r
    assert (drop["old_euid"], drop["new_euid"], drop["privilege_gain"]) == (0, NOBODY, False)
    assert drop["asked"] == "-1,65534,0"
    assert (regain["old_euid"], regain["new_euid"], regain["privilege_gain"]) == (NOBODY, 0, True)
    assert regain["severity"] == "high"


# ---- set-uid execs ----------------------------------------------------------------

def test_setuid_copy_run_by_nobody_runs_as_root():
    d = tempfile.mkdtemp(prefix="vigil-sec-")
    os.chmod(d, 0o755)
    name = "suid" + token()[-8:]
    exe = os.path.join(d, name)
    shutil.copy(SEC_OPS, exe)
    os.chown(exe, 0, 0)
    os.chmod(exe, 0o4755)
    try:
        with Tracer("security", "--kind", "exec", "-c", name) as t:
            p = subprocess.run([*AS_NOBODY, exe, "ids"], capture_output=True, text=True, timeout=60)
            settle()
            t.stop()
            recs = t.records()
    finally:
        shutil.rmtree(d)
    assert p.returncode == 0, p.stderr
    got = dict(w.split("=") for w in p.stdout.split())
    if int(got["euid"]) != 0:
        pytest.skip(f"{d} is on a nosuid mount here: the set-uid bit has no effect")
    e = sec(recs, pid=int(got["pid"]), kind="exec")
    assert len(e) == 1, recs
    e = e[0]
    assert e["setuid"] is True and e["setgid"] is False and e["mode"] == "4755"
    assert e["file_uid"] == 0 and e["filename"] == exe and e["file"] == name
    # who ran it, and what it ran as
    assert (e["new_uid"], e["new_euid"], e["uid"]) == (NOBODY, 0, NOBODY)
    assert e["privilege_gain"] is True and e["severity"] == "medium"
    assert e["fileless"] is False and e["world_writable_dir"] is False


# ---- capability checks ------------------------------------------------------------

def test_dropped_capability_gives_a_denied_check(tmp_path):
    f = tmp_path / "owned-by-root"
    f.write_text("x")
    with Tracer("security", "--kind", "capability", "--denied", "-c", "chown") as t:
        m = mechanism(t.wait_records(lambda rs: any(r["type"] == "mechanism" for r in rs)))
        p = subprocess.Popen(["setpriv", "--bounding-set=-chown", "--inh-caps=-chown", "chown", "1",
                              str(f)], stderr=subprocess.PIPE, text=True)
        p.stderr_text = p.communicate(timeout=60)[1]
        settle()
        t.stop()
        recs = t.records()
    assert p.returncode != 0 and "not permitted" in p.stderr_text, p.stderr_text
    assert os.stat(f).st_uid == 0
    if m["mechanism"] == "none":
        # where no hook runs, that is said, and why (6.1/6.12 guests without trampolines)
        assert m["fallback_reason"], m
        assert sec(recs, kind="capability") == []
        return
    chown = [r for r in sec(recs, pid=p.pid) if r["cap"] == CAP_CHOWN]
    assert len(chown) == 1, recs
    assert chown[0]["cap_name"] == "CAP_CHOWN" and chown[0]["result"] == "denied"
    assert chown[0]["ret"] != 0 and chown[0]["severity"] == "low"
    # --denied: no granted check came out
    assert all(r["result"] == "denied" for r in sec(recs, kind="capability"))


@pytest.mark.parametrize("mode", ["dedup", "all"])
def test_1000_identical_checks(mode):
    n = 1000
    args = ["security", "--kind", "capability", "-c", "sec_ops"] + (["--all"] if mode == "all" else [])
    with Tracer(*args) as t:
        m = mechanism(t.wait_records(lambda rs: any(r["type"] == "mechanism" for r in rs)))
        w = ops("capcheck", n)
        settle()
        assert t.stop() == 0
        recs = t.records()
    assert w["denied"] == n
    if m["mechanism"] == "none":
        pytest.skip(f"capability checks unavailable here: {m['fallback_reason']}")
    checks = sec(recs, pid=w["pid"], cap=CAP_SYS_ADMIN, result="denied")
    summary = [r for r in recs if r["type"] == "capability_summary" and r["pid"] == w["pid"]
               and r["cap"] == CAP_SYS_ADMIN and r["result"] == "denied"]
    lost = [r for r in recs if r["type"] == "lost"][-1]
    assert lost["lost"] == 0
    if mode == "all":
        assert len(checks) == n
        assert summary == []
    else:
        assert len(checks) == 1, checks[:3]
        assert len(summary) == 1 and summary[0]["count"] == n


def test_libbpf_tools_capable_cannot_run_here_but_vigil_sees_the_checks():
    if not os.path.exists("/usr/sbin/capable"):
        pytest.skip("libbpf-tools is not installed")
    if os.path.exists("/sys/kernel/tracing/kprobe_events") or \
            os.path.exists("/sys/kernel/debug/tracing/kprobe_events"):
        pytest.skip("this kernel has kprobes: capable runs")
    p = subprocess.run(["timeout", "10", "/usr/sbin/capable"], capture_output=True, text=True)
    assert p.returncode not in (0, 124), (p.returncode, p.stderr)
    with Tracer("security", "--kind", "capability", "-c", "sec_ops") as t:
        w = ops("capcheck", 5)
        settle()
        t.stop()
        recs = t.records()
    assert len(sec(recs, pid=w["pid"], cap=CAP_SYS_ADMIN, result="denied")) == 1


def test_mechanism_none_keeps_the_other_events():
    with Tracer("security", "--mechanism", "none", "-c", "sec_ops") as t:
        w = ops("setuid", 0)
        c = ops("capcheck", 3)
        settle()
        t.stop()
        recs = t.records()
    assert mechanism(recs)["mechanism"] == "none"
    assert len(sec(recs, pid=w["pid"], op="setuid")) == 1
    assert sec(recs, kind="capability") == []
    assert sec(recs, pid=c["pid"], op="capset")


# ---- ptrace, BPF, modules ---------------------------------------------------------

@pytest.mark.parametrize("how", ["attach", "seize"])
def test_ptrace_with_tracer_and_target(how):
    with Tracer("security", "--kind", "ptrace", "-c", "sec_ops") as t:
        w = ops("ptrace", how)
        settle()
        t.stop()
        recs = t.records()
    p = sec(recs, op=f"ptrace_{how}")
    assert len(p) == 1, recs
    assert p[0]["pid"] == w["tracer"] and p[0]["target_pid"] == w["target"] and p[0]["ret"] == 0
    assert p[0]["severity"] == "medium"
    v = sec(recs, op="process_vm_writev")
    assert len(v) == 1
    assert v[0]["pid"] == w["tracer"] and v[0]["target_pid"] == w["target"] and v[0]["ret"] == 8
    assert v[0]["severity"] == "high"


def test_strace_p_gives_the_ptrace_event():
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    target = subprocess.Popen(["sleep", "30"])
    try:
        with Tracer("security", "--kind", "ptrace", "-c", "strace") as t:
            s = subprocess.Popen(["strace", "-p", str(target.pid)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            recs = t.wait_records(lambda rs: sec(rs, target_pid=target.pid))
            s.send_signal(signal.SIGINT)
            s.wait(timeout=30)
            t.stop()
    finally:
        target.kill()
        target.wait()
    p = sec(recs, target_pid=target.pid)
    assert p[0]["pid"] == s.pid and p[0]["op"] in ("ptrace_seize", "ptrace_attach")
    assert p[0]["ret"] == 0


def test_bpf_prog_load_and_map_create_with_type_and_name():
    name = "vt" + token()[-10:]
    with Tracer("security", "--kind", "bpf", "-c", "sec_ops") as t:
        w = ops("bpf", name)
        settle()
        t.stop()
        recs = t.records()
    prog = sec(recs, pid=w["pid"], op="prog_load")
    assert len(prog) == 1, recs
    assert prog[0]["obj_type"] == "socket_filter" and prog[0]["name"] == name
    assert prog[0]["ret"] == w["prog_fd"] and prog[0]["severity"] == "medium"
    m = sec(recs, pid=w["pid"], op="map_create")
    assert len(m) == 1 and m[0]["obj_type"] == "array" and m[0]["name"] == name
    assert m[0]["ret"] == w["map_fd"]


def test_vigil_doctor_loads_are_seen_by_another_vigil():
    with Tracer("security", "--kind", "bpf", "-c", "vigil") as t:
        d = subprocess.Popen([VIGIL, "doctor", "--json"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        d.wait(timeout=300)
        settle()
        t.stop()
        recs = t.records()
    loads = sec(recs, pid=d.pid, op="prog_load")
    assert loads, recs[:5]
    assert all(r["obj_type"] != "" and r["comm"] == "vigil" for r in loads)
    # the tracing vigil never reports its own loads
    me = [r for r in sec(recs) if r["pid"] == t.proc.pid]
    assert me == []


def test_module_loads_or_the_report_that_there_are_none():
    with Tracer("security", "--kind", "module", "-c", "sec_ops") as t:
        names = bpftool_prog_names()
        w = ops("finit")
        settle()
        t.stop()
        recs = t.records()
        err = t.stderr()
    if kernel_has_tracepoint("syscalls", "sys_enter_finit_module"):
        assert w["errno"] == 9  # EBADF: fd -1, after the CAP_SYS_MODULE check
        m = sec(recs, pid=w["pid"], op="finit_module")
        assert len(m) == 1, recs
        assert m[0]["errno"] == "EBADF" and m[0]["fd"] == -1 and m[0]["severity"] == "medium"
        assert any(n.startswith("sec_enter_finit_") for n in names)
    else:
        # this host: CONFIG_MODULES is off, the syscall is not there, nothing to hook
        assert w["errno"] == 38  # ENOSYS
        assert "no module support" in err
        assert not [n for n in names if n.startswith(("sec_enter_finit_", "sec_exit_finit_"))]
        assert sec(recs) == []


# ---- fileless and suspicious execs ------------------------------------------------

def test_memfd_fexecve_and_deleted_file_are_fileless():
    d = tempfile.mkdtemp(prefix="vigil-sec-")  # 0700: not world-writable
    try:
        with Tracer("security", "--kind", "exec") as t:
            m = ops("memfd")
            dl = ops("deleted", d)
            plain = subprocess.run(["/bin/true"])
            settle()
            t.stop()
            recs = t.records()
    finally:
        shutil.rmtree(d)
    e = sec(recs, pid=m["pid"])
    assert len(e) == 1, recs
    e = e[0]
    assert e["fileless"] is True and e["memfd"] is True and e["file"] == "memfd:vigil-fileless"
    assert e["filename"].startswith("/dev/fd/") and e["severity"] == "high"
    assert e["world_writable_dir"] is False and e["setuid"] is False
    x = sec(recs, pid=dl["pid"])
    assert len(x) == 1, recs
    x = x[0]
    assert x["fileless"] is True and x["memfd"] is False
    assert x["file"] == f"vigil-deleted-{dl['pid']}" and x["severity"] == "high"
    assert x["world_writable_dir"] is False
    # an ordinary exec is no security event
    assert sec(recs, filename="/bin/true") == []
    assert plain.returncode == 0


def test_exec_from_dev_shm_is_flagged():
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    name = "shm" + token()[-8:]
    exe = os.path.join("/dev/shm", name)
    shutil.copy("/bin/true", exe)
    os.chmod(exe, 0o755)
    try:
        with Tracer("security", "--kind", "exec", "-c", name) as t:
            p = subprocess.Popen([exe])
            p.wait(timeout=60)
            settle()
            t.stop()
            recs = t.records()
    finally:
        os.unlink(exe)
    if p.returncode != 0:
        pytest.skip("/dev/shm is mounted noexec here")
    e = sec(recs, pid=p.pid)
    assert len(e) == 1, recs
    assert e[0]["world_writable_dir"] is True and e[0]["filename"] == exe
    assert e[0]["fileless"] is False and e[0]["severity"] == "medium"


# ---- filters, output, lifecycle ---------------------------------------------------

def test_kind_filter_loads_only_those_programs():
    with Tracer("security", "--kind", "ptrace,bpf") as t:
        names = set(bpftool_prog_names())
        t.stop()
    assert {"sec_enter_ptrace", "sec_exit_ptrace", "sec_enter_bpf", "sec_exit_bpf"} <= names
    assert not names & {"sec_exec", "sec_enter_setuid", "sec_cap_tp", "sec_cap_fexit"}


def test_cgroup_filter_in_the_kernel(scratch_cgroup):
    with Tracer("security", "--kind", "cred", "--cgroup", scratch_cgroup) as t:
        outside = ops("setuid", 0)
        inside = subprocess.run(["sh", "-c", f"echo $$ > {scratch_cgroup}/cgroup.procs && "
                                 f"exec {SEC_OPS} setuid 0"], capture_output=True, text=True)
        settle()
        t.stop()
        recs = t.records()
    pin = int(inside.stdout.split()[0].split("=")[1])
    assert len(sec(recs, pid=pin, op="setuid")) == 1, recs
    assert sec(recs, pid=outside["pid"]) == []
    assert all(r["pid"] == pin for r in sec(recs))


def test_table_output():
    with Tracer("security", "--kind", "cred", "-c", "sec_ops", json_out=False) as t:
        w = ops("setuid", 0, prefix=AS_NOBODY)
        settle()
        t.stop()
        out = t.output()
    head, *rows = out.splitlines()
    assert head.split() == ["TIME", "KIND", "SEV", "PID", "UID", "COMM", "DETAIL"]
    mine = [r for r in rows if f" {w['pid']} " in r]
    assert len(mine) == 1, out
    assert re.search(r"cred\s+medium\s+%d\s+%d\s+sec_ops\s+setuid\(0\) = EPERM uid=%d"
                     % (w["pid"], NOBODY, NOBODY), mine[0]), mine[0]


@pytest.mark.parametrize("args,why", [
    (["--kind", "nope"], "invalid kind 'nope'"),
    (["--kind", "cred,"], "invalid kind"),
    (["--kind", "cred", "--all"], "--all and --denied"),
    (["--mechanism", "kprobe"], "unknown mechanism 'kprobe'"),
])
def test_bad_flags_exit_2_nothing_loaded(args, why):
    r = run("security", *args)
    assert r.returncode == 2, r
    assert why in r.stderr
    assert not set(bpftool_prog_names()) & set(SEC_PROGS)


def test_sigkill_leaves_nothing_loaded():
    t = Tracer("security")
    t.start()
    assert set(SEC_PROGS) <= set(bpftool_prog_names())
    t.proc.kill()
    t.proc.wait()
    assert wait_progs_gone(SEC_PROGS) == []
    t.__exit__(None, None, None)


def test_doctor_shows_the_capability_mechanism():
    r = run("doctor", "--json", timeout=300)
    assert r.returncode in (0, 3), r.stderr
    c = json.loads(r.stdout)["commands"]["security"]
    assert c["runnable"] is True
    if kernel_has_tracepoint("capability", "cap_capable"):
        assert (c["mechanism"], c["hooks"]) == ("tracepoint", "capability:cap_capable")
    else:
        # 6.1/6.12: fexit where trampolines run, else the report that there is nothing
        assert c["mechanism"] in ("fexit", "none"), c
        if c["mechanism"] == "fexit":
            assert c["hooks"] == "cap_capable"


# ---- the agent ------------------------------------------------------------------

def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as f:
        return f.read().decode()


def series(text, name, **labels):
    total = 0
    found = False
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', line[:line.rindex("}")]))
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def test_agent_counts_by_kind_severity_result_and_container(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""
outputs:
  events: {tmp_path}/events.json
metrics:
  listen: 127.0.0.1:{port}
features:
  security:
    kind: cred
    comm: sec_ops
    by-container: true
""")
    err = open(tmp_path / "err", "w")
    ag = subprocess.Popen([VIGIL, "agent", "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "; attached" not in (tmp_path / "err").read_text():
            assert ag.poll() is None and time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.05)
        for _ in range(3):
            ops("setuid", 0)
        ops("setuid", 0, prefix=AS_NOBODY)
        deadline = time.monotonic() + 30
        while True:
            text = scrape(port)
            ok = series(text, "vigil_security_events_total", kind="cred", severity="info", result="ok")
            bad = series(text, "vigil_security_events_total", kind="cred", severity="medium",
                         result="failed")
            if (ok, bad) == (3, 1) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (ok, bad) == (3, 1), text
        host = series(text, "vigil_security_container_events_total", kind="cred", container="(host)")
        assert host == 4, text
    finally:
        ag.send_signal(signal.SIGINT)
        assert ag.wait(timeout=30) == 0
        err.close()
    recs = parse_ndjson((tmp_path / "events.json").read_text())
    assert len(sec(recs, op="setuid")) == 4
