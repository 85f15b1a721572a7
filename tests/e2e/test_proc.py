"""vigil proc: real execs, forks and exits, seen through the real binary."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import Tracer, run, settle, token, wait_progs_gone

PROC_PROGS = ["proc_exec", "proc_fork", "proc_exit"]
COMMON_KEYS = {"type", "ts", "time", "pid", "tid", "ppid", "uid", "comm", "cgroup_id"}


def test_exec_exact_argv_and_common_keys():
    tok = token()
    with Tracer("proc") as t:
        subprocess.run(["/bin/echo", tok, "two words", "", "x"], stdout=subprocess.DEVNULL, check=True)
        settle()
        assert t.stop() == 0
        recs = t.records()
    execs = [r for r in recs if r["type"] == "exec" and tok in r["argv"]]
    assert len(execs) == 1, recs[-20:]
    e = execs[0]
    assert e["argv"] == ["/bin/echo", tok, "two words", "", "x"]
    assert e["argc"] == 5
    assert e["filename"] == "/bin/echo"
    assert e["comm"] == "echo"
    assert e["ppid"] == os.getpid()
    assert e["retval"] == 0 and e["args_truncated"] is False
    assert COMMON_KEYS <= set(e)
    assert e["time"].endswith("Z") and "T" in e["time"]
    # the last record is the loss report, and nothing was lost here
    assert recs[-1]["type"] == "lost" and recs[-1]["lost"] == 0
    assert recs[-1]["received"] == len(recs) - 1


def test_long_argv_is_truncated_and_flagged():
    tok = token()
    args = ["/bin/true", tok] + ["a" * 100] * 20
    with Tracer("proc", "--exec-only") as t:
        subprocess.run(args, check=True)
        settle()
        t.stop()
        recs = t.records()
    e = [r for r in recs if r["type"] == "exec" and r["argv"][1:2] == [tok]]
    assert len(e) == 1
    assert e[0]["args_truncated"] is True
    assert e[0]["argc"] == len(args)
    assert len("".join(e[0]["argv"])) < 1024


def test_exit_code_and_sigkill():
    with Tracer("proc", "--exit-only") as t:
        p7 = subprocess.Popen(["sh", "-c", "exit 7"])
        p7.wait()
        pk = subprocess.Popen(["sleep", "100"])
        time.sleep(0.1)
        pk.kill()
        pk.wait()
        settle()
        t.stop()
        recs = t.records()
    exits = {r["pid"]: r for r in recs if r["type"] == "exit"}
    assert exits[p7.pid]["exit_code"] == 7
    assert "signal" not in exits[p7.pid]
    assert exits[pk.pid]["signal"] == 9
    assert exits[pk.pid]["signal_name"] == "SIGKILL"
    assert exits[pk.pid]["lifetime_ns"] >= 100_000_000 * 0.5
    assert all(r["type"] in ("exit", "lost") for r in recs)


def test_fork_parent_and_child():
    with Tracer("proc") as t:
        sh = subprocess.Popen(["sh", "-c", "/bin/true; exit 0"])
        sh.wait()
        settle()
        t.stop()
        recs = t.records()
    forks = [r for r in recs if r["type"] == "fork" and r["pid"] == sh.pid]
    assert forks, "no fork from the shell"
    child = forks[0]["child_pid"]
    execs = [r for r in recs if r["type"] == "exec" and r["pid"] == child]
    assert execs and execs[0]["ppid"] == sh.pid and execs[0]["argv"] == ["/bin/true"]


def test_failed_exec_with_errno():
    missing = f"/nonexistent/{token()}"
    with Tracer("proc", "--failed", "--exec-only") as t:
        with pytest.raises(FileNotFoundError):
            subprocess.run([missing, "arg1"])
        settle()
        t.stop()
        recs = t.records()
    failed = [r for r in recs if r["type"] == "exec" and r["filename"] == missing]
    assert len(failed) == 1, recs[-10:]
    assert failed[0]["retval"] == -2 and failed[0]["errno"] == "ENOENT"
    assert failed[0]["argv"] == [missing, "arg1"]


def test_pid_filter_includes_and_excludes():
    tok_in, tok_out = token(), token()
    target = subprocess.Popen(["sh", "-c", f"read x; exec /bin/echo {tok_in}"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        with Tracer("proc", "-p", str(target.pid)) as t:
            subprocess.run(["/bin/echo", tok_out], stdout=subprocess.DEVNULL)
            target.communicate(b"go\n", timeout=10)
            settle()
            t.stop()
            recs = [r for r in t.records() if r["type"] != "lost"]
    finally:
        target.kill()
    assert recs, "nothing seen for the target pid"
    assert all(r["pid"] == target.pid for r in recs), recs
    argvs = [r["argv"] for r in recs if r["type"] == "exec"]
    assert ["/bin/echo", tok_in] in argvs
    assert not any(tok_out in a for a in argvs)


def test_cgroup_filter_includes_and_excludes(scratch_cgroup):
    tok_in, tok_out = token(), token()
    procs = os.path.join(scratch_cgroup, "cgroup.procs")
    with Tracer("proc", "--exec-only", "--cgroup", scratch_cgroup) as t:
        subprocess.run(["/bin/echo", tok_out], stdout=subprocess.DEVNULL)
        subprocess.run(["sh", "-c", f"echo $$ > {procs}; exec /bin/echo {tok_in}"],
                       stdout=subprocess.DEVNULL, check=True)
        settle()
        t.stop()
        recs = [r for r in t.records() if r["type"] == "exec"]
    cgid = os.stat(scratch_cgroup).st_ino
    assert [r["argv"] for r in recs] == [["/bin/echo", tok_in]]
    assert recs[0]["cgroup_id"] == cgid


def test_cgroup_filter_relative_path(scratch_cgroup, cgroup2_root):
    rel = os.path.relpath(scratch_cgroup, cgroup2_root)
    with Tracer("proc", "--cgroup", rel) as t:
        t.stop()
    assert t.proc.returncode == 0


def test_comm_and_uid_filters():
    tok = token()
    with Tracer("proc", "--exec-only", "-c", "echo", "-u", "0") as t:
        subprocess.run(["/bin/true", tok])
        subprocess.run(["/bin/echo", tok], stdout=subprocess.DEVNULL)
        settle()
        t.stop()
        recs = [r for r in t.records() if r["type"] == "exec"]
    assert recs and all(r["comm"] == "echo" and r["uid"] == 0 for r in recs)
    assert ["/bin/echo", tok] in [r["argv"] for r in recs]


def test_table_output_has_header_and_rows():
    tok = token()
    t = Tracer("proc", "--exec-only", json_out=False)
    with t:
        subprocess.run(["/bin/echo", tok], stdout=subprocess.DEVNULL)
        settle()
        assert t.stop() == 0
        out = t.output().splitlines()
        err = t.stderr()
    assert out[0].split() == ["TIME", "EVENT", "PID", "PPID", "UID", "COMM", "DETAIL"]
    assert any(line.split()[1] == "exec" and line.endswith(f"/bin/echo {tok}") for line in out[1:])
    assert "events received, 0 lost" in err


def test_duration_ends_by_itself():
    r = run("proc", "--duration", "300ms", "--json", timeout=20)
    assert r.returncode == 0, r.stderr
    recs = [l for l in r.stdout.splitlines() if l]
    assert '"type":"lost"' in recs[-1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_nothing_left_after_signal(sig):
    t = Tracer("proc", "--failed")
    with t:
        assert t.stop(sig) == (-signal.SIGKILL if sig == signal.SIGKILL else 0)
    assert wait_progs_gone(PROC_PROGS + ["proc_enter_execve", "proc_exit_execve"]) == []


def _storm(path, n):
    subprocess.run(["sh", "-c", f'i=0; while [ $i -lt {n} ]; do "{path}"; i=$((i+1)); done'],
                   check=True)


def test_loss_is_counted_exactly(tmp_path):
    """A 4 KiB ring buffer and a stopped consumer: received + lost == generated."""
    n = 300
    storm = tmp_path / "vigilstorm"
    os.symlink("/bin/true", storm)
    with Tracer("proc", "--exec-only", "-c", "vigilstorm", "--ringbuf-size", "4096") as t:
        t.proc.send_signal(signal.SIGSTOP)
        try:
            _storm(storm, n)
        finally:
            t.proc.send_signal(signal.SIGCONT)
        settle()
        assert t.stop() == 0
        recs = t.records()
    received = sum(1 for r in recs if r["type"] == "exec" and r["comm"] == "vigilstorm")
    lost = [r for r in recs if r["type"] == "lost" and r["final"]][0]
    assert lost["lost"] > 0
    assert received + lost["lost"] == n
    assert lost["received"] == received


def test_no_loss_with_default_ring_buffer(tmp_path):
    n = 100
    storm = tmp_path / "vigilcalm"
    os.symlink("/bin/true", storm)
    with Tracer("proc", "--exec-only", "-c", "vigilcalm") as t:
        _storm(storm, n)
        settle()
        t.stop()
        recs = t.records()
    received = sum(1 for r in recs if r["type"] == "exec")
    assert received == n
    assert recs[-1]["lost"] == 0


def test_broken_pipe_ends_quietly():
    """vigil | head -n 1: vigil's own status (pipefail) is 0 and it says nothing."""
    vigil = os.environ.get("VIGIL") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "vigil")
    p = subprocess.Popen(["bash", "-c", f"set -o pipefail; {vigil} proc -q --json | head -n 1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    for _ in range(3):
        subprocess.run(["/bin/true"])
        time.sleep(0.1)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert out.count(b"\n") == 1
    assert err == b""


def test_every_emitted_key_is_documented():
    """docs/events.md is the schema: a key proc emits but the doc lacks fails here."""
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "events.md")).read()
    with Tracer("proc", "--failed") as t:
        subprocess.run(["sh", "-c", "exit 3"])
        with pytest.raises(FileNotFoundError):
            subprocess.run(["/nonexistent/vigil-doc-check"])
        k = subprocess.Popen(["sleep", "30"])
        k.kill()
        k.wait()
        settle()
        t.stop()
        recs = t.records()
    seen = {(r["type"], key) for r in recs for key in r}
    assert {"exec", "fork", "exit", "lost"} <= {t for t, _ in seen}
    missing = sorted({f"{t}.{key}" for t, key in seen if f"`{key}`" not in doc})
    assert not missing, f"undocumented keys: {missing}"


def kernel_btf_mappable():
    import mmap
    try:
        fd = os.open("/sys/kernel/btf/vmlinux", os.O_RDONLY)
    except OSError:
        return False
    try:
        m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        m.close()
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_peak_rss_stays_under_10_mib():
    # the memory target; it holds only where kernel BTF can be mapped
    # (6.16+), else libbpf's own loader copies the 5.5 MB file twice
    if not kernel_btf_mappable():
        pytest.skip("kernel BTF cannot be mmap'ed (needs Linux 6.16+)")
    with Tracer("proc", "--exec-only") as t:
        for _ in range(200):
            subprocess.run(["/bin/true"], check=True)
        settle()
        with open(f"/proc/{t.proc.pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        assert t.stop() == 0
        execs = [r for r in t.records() if r["type"] == "exec"]
    assert hwm < 10 * 1024, f"peak RSS {hwm} KiB"
    assert len(execs) >= 200
