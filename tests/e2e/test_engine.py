"""The engine's behaviour every feature shares: -p ends with its process and never
follows a reused pid, bounds on values, usage errors as records, UTF-8 JSON, tables
that cannot be forged, a bounded exit, and the programs' own cost."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import SC_LOOP, waiting_loop, ROOT, VIGIL, Tracer, parse_ndjson, run, token




def test_pid_run_ends_with_its_process():
    p, pid = waiting_loop("getppid", 100)
    with Tracer("syscall", "--count", "-p", str(pid)) as t:
        p.stdin.write(b"x")
        p.stdin.flush()
        p.wait(timeout=60)
        # no signal: vigil prints its summary and ends by itself, like strace -p
        rc = t.proc.wait(timeout=30)
        assert rc == 0, t.stderr()
        recs = t.records()
        err = t.stderr()
    rows = [r for r in recs if r["type"] == "syscall_count" and r["syscall"] == "getppid"]
    assert len(rows) == 1 and rows[0]["final"] and rows[0]["calls"] == 100
    assert f"process {pid} exited" in err


def set_last_pid(n):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(n))


def test_pid_reused_by_another_process_is_not_reported():
    a, pid = waiting_loop("getppid", 10)
    # the test knob keeps the run going after the exit, as if it were not noticed yet
    with Tracer("syscall", "-p", str(pid), "--test-pid-outlives") as t:
        a.stdin.write(b"x")
        a.stdin.flush()
        a.wait(timeout=60)
        for _ in range(50):   # another fork may take the pid first: try again
            set_last_pid(pid - 1)
            b = subprocess.Popen([SC_LOOP, "getppid", "1000"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            b.communicate(timeout=60)
            if b.pid == pid:
                break
        else:
            pytest.skip("could not steer the next pid onto the traced one")
        assert t.stop() == 0
        recs = t.records()
    calls = [r for r in recs if r["type"] == "syscall" and r["syscall"] == "getppid"]
    # the first process's 10 calls, none of the 1000 of the process that reused its pid
    assert len(calls) == 10, len(calls)


@pytest.mark.parametrize("args,why", [
    (["proc", "-d", "nan"], "invalid value 'nan' for '--duration'"),
    (["proc", "-d", "0.1ns"], "invalid value '0.1ns' for '--duration'"),
    (["proc", "-d", "1e19ns"], "out of bounds"),
    (["proc", "-d", "0"], "'--duration' is out of bounds: 1ms to"),
    (["syscall", "-C", "-i", "1ns"], "'--interval' is out of bounds: 10ms to 24h"),
    (["filetop", "--max-files", "4294967295"], "'--max-files' is out of bounds: 1 to 262144"),
    (["proc", "-p", "4294967295"], "invalid pid '4294967295'"),
    (["proc", "--ringbuf-size", "3000"], "a power of two from 4K to 1G"),
    (["firewall", "status", "--persist"], "unknown option '--persist'"),
    (["firewall", "check", "--dry-run", "x"], "unknown option '--dry-run'"),
    (["firewall", "frobnicate"], "unknown verb 'frobnicate'"),
])
def test_values_that_make_no_sense_are_usage_errors(args, why):
    before = set(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                text=True).stdout.split('"id":'))
    r = run(*args, timeout=20)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert why in r.stderr, r.stderr


def test_a_pid_that_does_not_exist_is_a_usage_error():
    p = subprocess.Popen(["true"])
    p.wait()
    r = run("proc", "-p", str(p.pid), "-d", "5s", timeout=20)
    assert r.returncode == 2 and f"no process with pid '{p.pid}'" in r.stderr


def test_usage_errors_in_json_mode_are_records():
    r = run("proc", "--json", "--no-such-flag")
    assert r.returncode == 2
    recs = parse_ndjson(r.stdout)
    assert recs and recs[0]["type"] == "error" and recs[0]["kind"] == "usage"
    assert "--no-such-flag" in recs[0]["message"]
    r = run("syscall", "-j", "-i", "1ns")
    assert parse_ndjson(r.stdout)[0]["kind"] == "usage"


def test_utf8_and_invalid_bytes_in_json():
    tok = token()
    good = f"café-{tok}-€"
    bad = f"{tok}-".encode() + b"\xff\xc3(" + b"-end"
    with Tracer("proc", "--exec-only") as t:
        subprocess.run([b"/bin/echo", good.encode(), bad], stdout=subprocess.DEVNULL, check=True)
        assert t.stop() == 0
        text = t.output()
    recs = parse_ndjson(text)
    ex = [r for r in recs if r["type"] == "exec" and good in r["argv"]]
    assert len(ex) == 1
    # UTF-8 passes through unchanged, in the raw line too (not \u00c3\u00a9)
    assert good in text
    # the invalid bytes come back exactly through surrogateescape
    assert ex[0]["argv"][2].encode("utf-8", "surrogateescape") == bad


def test_utf8_path_in_the_syscall_stream(tmp_path):
    p, pid = waiting_loop("enoent", 1)
    with Tracer("syscall", "-p", str(pid), "-s", "openat") as t:
        p.stdin.write(b"x")
        p.stdin.flush()
        p.wait(timeout=60)
        t.proc.wait(timeout=30)
        recs = t.records()
    paths = [r["path"] for r in recs if r["type"] == "syscall" and "path" in r]
    assert paths, recs


def test_table_output_cannot_be_forged():
    tok = token()
    evil = f"{tok}\n12:00:00 exit   1   1   0 fake            code=0 after 1s"
    esc = f"{tok}\x1b[2J\x1b]0;title\x07\u009b31m"
    with Tracer("proc", "--exec-only", json_out=False) as t:
        subprocess.run(["/bin/echo", evil, esc], stdout=subprocess.DEVNULL, check=True)
        assert t.stop() == 0
        out = t.output()
    lines = [l for l in out.splitlines() if tok in l]
    # one exec, one line: the newline inside the argument is shown as \n
    assert len(lines) == 1, out
    assert "\\n12:00:00 exit" in lines[0]
    assert "\x1b" not in out and "\u009b" not in out and "\x07" not in out
    assert "\\x1b[2J" in lines[0] and "\\xc2\\x9b31m" in lines[0]


def test_exit_is_bounded_when_the_reader_stops_reading():
    """A reader that never reads fills the pipe: write() blocks. A second SIGINT ends it."""
    p = subprocess.Popen([VIGIL, "proc", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    err = b""
    os.set_blocking(p.stderr.fileno(), False)
    while b"attached" not in err:
        assert time.monotonic() < deadline
        err += p.stderr.read() or b""
        time.sleep(0.02)
    # far more than a 64 KiB pipe holds
    for _ in range(400):
        subprocess.run(["/bin/true", "x" * 200])
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=1)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
    # the second SIGINT, or the drain's time limit (3 s), ends it; never a hang
    p.wait(timeout=15)
    err += p.stderr.read() or b""
    assert p.returncode in (0, 1), err
    p.stdout.close()


def test_verbose_reports_the_programs_cost():
    p, pid = waiting_loop("getppid", 1000)
    with Tracer("syscall", "--count", "-p", str(pid), "-v", json_out=True) as t:
        p.stdin.write(b"x")
        p.stdin.flush()
        p.wait(timeout=60)
        t.proc.wait(timeout=30)
        err = t.stderr()
    line = [l for l in err.splitlines() if "cost: 'sc_exit_count'" in l]
    assert line, err
    runs = int(line[0].split(" ran ")[1].split()[0])
    assert runs >= 1000   # every syscall on the host runs it; at least the loop's
