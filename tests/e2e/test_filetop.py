"""vigil filetop: exact per-process, per-file counts from real activity, on either mechanism.

The child (tests/e2e/ftwork.py) opens its files, prints its pid and waits on
stdin until the tracers are attached; then it makes an exact number of
read/write/pread64/pwrite64 calls and reports what they returned. Its comm is
unique (it runs through a symlink named after a token), its files are named
after a token too, so the host's own activity never matches.

Where the kernel offers fentry (the matrix guests: "fentry" in $VIGIL_EXPECT)
auto must pick it and produce the same exact counts; a guest where it
silently falls back to the tracepoints fails rather than skips.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from conftest import parse_ndjson, ROOT, Tracer, run, wait_progs_gone

FTWORK = os.path.join(ROOT, "tests", "e2e", "ftwork.py")
PROGS = ["ft_vfs_read", "ft_vfs_write", "ft_enter_read", "ft_exit_read", "ft_enter_pread64",
         "ft_exit_pread64", "ft_enter_write", "ft_exit_write", "ft_enter_pwrite64",
         "ft_exit_pwrite64", "ft_enter_writev", "ft_exit_sendfile64", "ft_uring_complete"]
FT_IO = os.path.join(ROOT, "build", "tests", "workloads", "ft_io")
ANCHOR = "/usr/sbin/filetop"
GUEST = os.environ.get("VIGIL_GUEST") == "1"
EXPECT = {m for m in os.environ.get("VIGIL_EXPECT", "").split(",") if m}
COUNTS = ("reads", "writes", "rbytes", "wbytes")
ROW_KEYS = {"type", "ts", "time", "final", "span_ns", "pid", "tid", "uid", "comm", "file", "kind",
            "dev", "ino", "reads", "writes", "rbytes", "wbytes"}
SUMMARY_KEYS = {"type", "ts", "time", "final", "span_ns", "files", "shown", "dropped",
                "dropped_inflight", "rows_dropped"}
MECH_KEYS = {"type", "ts", "time", "command", "mechanism", "hooks", "forced"}


@pytest.fixture(autouse=True)
def nothing_left_behind():
    yield
    assert wait_progs_gone(PROGS) == []


@pytest.fixture(scope="module")
def doctor():
    r = run("doctor", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["commands"]["filetop"]


@pytest.fixture(scope="module")
def fentry_works(doctor):
    """Whether filetop's fentry path works here, from doctor; pinned down by $VIGIL_EXPECT."""
    works = doctor["mechanism"] == "fentry"
    if "fentry" in EXPECT:
        assert works, f"this kernel must offer fentry to filetop, doctor says: {doctor}"
    return works


class Child:
    """ftwork.py under a unique comm, waiting for go()."""

    def __init__(self, ops):
        self.dir = tempfile.mkdtemp(prefix="vigil-ft-")
        self.comm = "ft" + uuid.uuid4().hex[:12]
        self.tok = "ft-" + uuid.uuid4().hex[:12]
        self.ops = [[op[0], f"{self.tok}-{op[1]}", *op[2:]] if op[0] in
                    ("write", "pwrite", "read", "pread", "failread") else op for op in ops]
        exe = os.path.join(self.dir, self.comm)
        os.symlink(os.path.realpath(sys.executable), exe)
        self.proc = subprocess.Popen([exe, FTWORK, self.dir, json.dumps(self.ops)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("pid "), line
        self.pid = int(line.split()[1])
        self.did = None

    def name(self, short):
        return f"{self.tok}-{short}"

    def go(self, timeout=120):
        self.proc.stdin.write(b"x")
        self.proc.stdin.flush()
        out, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0
        self.did = json.loads(out.decode().splitlines()[-1])
        self.ids = {}
        for op in self.ops:
            if op[0] in ("write", "pwrite", "read", "pread"):
                st = os.stat(os.path.join(self.dir, op[1]))
                self.ids[op[1]] = (f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}", st.st_ino)
        return self.did

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def traced(child, *tracers):
    """Start every tracer (argument lists), run the child, stop them; records per tracer."""
    ts = [Tracer("filetop", *args) for args in tracers]
    try:
        for t in ts:
            t.start()
        child.go()
        # the syscall path counts at sys_exit, which has happened; nothing is in flight
        recs = []
        for t in ts:
            rc = t.stop(signal.SIGINT)
            assert rc == 0, t.stderr()
            recs.append(t.records())
        return recs
    finally:
        for t in ts:
            t.__exit__(None, None, None)
        child.cleanup()


def rows(recs, child, short, final=True):
    return [r for r in recs if r["type"] == "filetop" and r["final"] is final
            and r["pid"] == child.pid and r["file"] == child.name(short)]


def one_row(recs, child, short):
    found = rows(recs, child, short)
    assert len(found) == 1, (short, found)
    return found[0]


def mechanism(recs):
    m = [r for r in recs if r["type"] == "mechanism"]
    assert len(m) == 1, m
    return m[0]


OPS = [["write", "a", 100, 3], ["pwrite", "a", 5, 1], ["read", "a", 64, 6], ["pread", "a", 10, 2],
       ["failread", "a", 4], ["write", "b", 4096, 2], ["read", "b", 1000, 3]]
# what those calls return, worked out by hand: the child's own report must agree. The four
# failed reads (EBADF) are not counted: only successful calls are, on both paths.
WANT = {"a": {"reads": 6 + 2, "rbytes": 300 + 2 * 10, "writes": 3 + 1, "wbytes": 305},
        "b": {"reads": 3, "rbytes": 3000, "writes": 2, "wbytes": 8192}}


def check_exact(recs, child):
    for short, want in WANT.items():
        assert child.did[child.name(short)] == want, child.did
        r = one_row(recs, child, short)
        assert {k: r[k] for k in COUNTS} == want, r
        assert r["comm"] == child.comm and r["kind"] == "regular" and r["uid"] == 0
        assert r["tid"] == child.pid
        assert (r["dev"], r["ino"]) == child.ids[child.name(short)], r


# ---- exact counts ------------------------------------------------------------------------

def test_auto_counts_exactly(fentry_works):
    """a read at EOF counts as a call with 0 bytes: the sixth read of the 300 bytes of file a."""
    child = Child(OPS)
    [recs] = traced(child, ["-p", str(child.pid)])
    check_exact(recs, child)
    m = mechanism(recs)
    assert m["mechanism"] == ("fentry" if fentry_works else "tracepoint"), m
    assert m["forced"] is False


def test_tracepoint_path_counts_exactly():
    child = Child(OPS)
    [recs] = traced(child, ["-p", str(child.pid), "--mechanism", "tracepoint"])
    check_exact(recs, child)
    m = mechanism(recs)
    assert m["mechanism"] == "tracepoint" and m["forced"] is True
    assert "read" in m["hooks"]


def test_fentry_path_counts_exactly_or_exits_3(fentry_works):
    if not fentry_works:
        r = run("filetop", "--mechanism", "fentry", "-d", "5s")
        assert r.returncode == 3, r
        assert "mechanism 'fentry' is not available for 'filetop' here" in r.stderr
        assert re.search(r"\((E[A-Z]+)\)", r.stderr), r.stderr
        assert "attached" not in r.stderr
        return
    child = Child(OPS)
    [recs] = traced(child, ["-p", str(child.pid), "--mechanism", "fentry"])
    check_exact(recs, child)
    m = mechanism(recs)
    assert m["mechanism"] == "fentry" and m["hooks"] == "vfs_read, vfs_write"
    assert "fallback_reason" not in m


def test_hooks_that_never_run_are_refused(fentry_works):
    """Loading and attaching is not enough: without the start-up activity no path is seen to
    run, so the core refuses both (a test knob skips that activity)."""
    r = run("filetop", "--test-skip-self-check", "-d", "5s")
    assert r.returncode == 3, r
    assert "no mechanism of 'filetop' works here" in r.stderr
    assert "tracepoint: attached, but 'syscalls:sys_enter_read' never ran" in r.stderr
    if fentry_works:
        assert "fentry: attached, but 'vfs_read' never ran" in r.stderr
    else:
        assert "fentry: load: " in r.stderr
    assert "attached in" not in r.stderr
    assert wait_progs_gone(PROGS) == []


# ---- mechanism reporting -----------------------------------------------------------------

def test_chosen_mechanism_is_what_doctor_reports(doctor, fentry_works):
    assert doctor["runnable"] is True
    assert doctor["mechanism"] in ("fentry", "tracepoint")
    assert doctor["mechanism"] in doctor["uses"]
    r = run("filetop", "--json", "-v", "-d", "500ms")
    assert r.returncode == 0, r.stderr
    recs = parse_ndjson(r.stdout)
    m = mechanism(recs)
    assert set(m) - {"fallback_reason"} == MECH_KEYS
    assert m["mechanism"] == doctor["mechanism"]
    assert m.get("fallback_reason") == doctor.get("mechanism_reason")
    # -v says the same on stderr, and why when it fell back
    line = [l for l in r.stderr.splitlines() if "filetop: mechanism " in l]
    assert len(line) == 1, r.stderr
    assert f"filetop: mechanism {m['mechanism']} ({m['hooks']})" in line[0]
    if not fentry_works:
        assert "fentry: " in line[0] and "fentry: " in m["fallback_reason"]
    # and the line every command prints with -v, from the programs it loaded: the other
    # ways of doing I/O (readv, sendfile, io_uring, ...) are tracepoints on both paths
    uses = [l for l in r.stderr.splitlines() if l.startswith("vigil: filetop: uses ")
            or l.startswith("filetop: uses ") or "filetop: uses " in l]
    assert len(uses) == 1, r.stderr
    got = set(uses[0].split("filetop: uses ", 1)[1].replace(",", " ").split())
    assert got == {m["mechanism"], "tracepoint"}, uses


def test_doctor_table_names_the_mechanism(doctor):
    r = run("doctor", timeout=300)
    assert r.returncode == 0
    line = [l for l in r.stdout.splitlines() if l.startswith("filetop ")]
    assert len(line) == 1 and f"mechanism {doctor['mechanism']}" in line[0], line


# ---- intervals, top, sort ----------------------------------------------------------------

def test_intervals_add_up_with_nothing_lost_at_the_swap():
    """Writes spread over several 200 ms intervals: the interval rows sum to the exact total."""
    child = Child([["write", "a", 10, 20], ["sleep", 0.3]] * 5 + [["sleep", 0.6]])
    t = Tracer("filetop", "-p", str(child.pid), "-i", "200ms")
    try:
        t.start()
        child.go()
        time.sleep(0.5)  # one more tick after the child is done
        assert t.stop(signal.SIGINT) == 0, t.stderr()
        recs = t.records()
    finally:
        t.__exit__(None, None, None)
        child.cleanup()
    summaries = [r for r in recs if r["type"] == "filetop_summary"]
    ticks = [s for s in summaries if not s["final"]]
    assert len(ticks) >= 5 and summaries[-1]["final"] is True
    for s in summaries:
        assert set(s) == SUMMARY_KEYS and s["dropped"] == 0
    for s in ticks[1:]:
        assert 100e6 < s["span_ns"] < 2e9, s
    parts = rows(recs, child, "a", final=False)
    assert len(parts) >= 2, parts  # really spread over intervals
    assert sum(p["writes"] for p in parts) == 100
    assert sum(p["wbytes"] for p in parts) == 1000
    total = one_row(recs, child, "a")
    assert (total["writes"], total["wbytes"]) == (100, 1000)
    for r in recs:
        if r["type"] == "filetop":
            assert set(r) == ROW_KEYS, r


def test_top_and_sort():
    child = Child([["write", "big", 3000, 1], ["write", "mid", 200, 5], ["write", "small", 10, 9],
                   ["read", "small", 1, 4]])
    recs = traced(child, ["-c", child.comm, "--top", "2", "--sort", "wbytes"],
                  ["-c", child.comm, "--sort", "writes"],
                  ["-c", child.comm, "--sort", "reads", "-n", "1"])
    def final_files(r):
        return [x["file"] for x in r if x["type"] == "filetop" and x["final"]]
    assert final_files(recs[0]) == [child.name("big"), child.name("mid")]
    assert [s["shown"] for s in recs[0] if s["type"] == "filetop_summary" and s["final"]] == [2]
    assert final_files(recs[1])[:3] == [child.name("small"), child.name("mid"), child.name("big")]
    assert final_files(recs[2]) == [child.name("small")]


def test_table_output():
    child = Child([["write", "a", 50, 4], ["read", "a", 100, 3]])
    t = Tracer("filetop", "-p", str(child.pid), json_out=False)
    try:
        t.start()
        child.go()
        assert t.stop(signal.SIGINT) == 0, t.stderr()
        out = t.output()
    finally:
        t.__exit__(None, None, None)
        child.cleanup()
    assert "PID" in out and "READS" in out and "FILE" in out and "total over" in out
    line = [l for l in out.splitlines() if l.endswith(" " + child.name("a"))]
    assert line, out
    f = line[-1].split()
    # PID COMM READS WRITES R_KB W_KB T FILE
    assert f[0] == str(child.pid) and f[1] == child.comm and f[2:5] == ["3", "4", "0"]
    assert f[6] == "R"


# ---- filters -----------------------------------------------------------------------------

def test_filters_include_and_exclude(scratch_cgroup, cgroup2_root):
    child = Child([["write", "a", 7, 3]])
    other = os.path.join(cgroup2_root, f"vigil-test-other-{os.getpid()}-{time.monotonic_ns()}")
    os.mkdir(other)
    try:
        with open(os.path.join(scratch_cgroup, "cgroup.procs"), "w") as f:
            f.write(str(child.pid))
        pairs = [
            (["-p", str(child.pid)], ["-p", "1"]),
            (["--tid", str(child.pid)], ["--tid", "1"]),
            (["-c", child.comm], ["-c", "no-such-comm"]),
            (["-u", "0"], ["-u", "65534"]),
            (["--cgroup", scratch_cgroup], ["--cgroup", other]),
        ]
        # all rows: a filter that lets the whole host in would push ours out of the top 20
        recs = traced(child, *[args + ["--top", "0"] for pair in pairs for args in pair])
    finally:
        os.rmdir(other)
    for i, (inc, exc) in enumerate(pairs):
        got = rows(recs[2 * i], child, "a")
        assert len(got) == 1 and got[0]["writes"] == 3, (inc, got)
        assert rows(recs[2 * i + 1], child, "a") == [], exc


def test_regular_files_only_unless_all():
    child = Child([["write", "a", 3, 2], ["pipe", 9, 5]])
    plain, everything = traced(child, ["-p", str(child.pid)], ["-p", str(child.pid), "-a"])
    def kinds(recs):
        return {r["kind"] for r in recs if r["type"] == "filetop" and r["final"]}
    assert kinds(plain) == {"regular"}
    pipes = [r for r in everything if r["type"] == "filetop" and r["final"]
             and r["kind"] == "pipe" and r["writes"] == 5]
    assert len(pipes) == 1, [r for r in everything if r["type"] == "filetop"]
    p = pipes[0]
    assert (p["reads"], p["rbytes"], p["wbytes"]) == (5, 45, 45)
    assert p["file"] == f"pipe:[{p['ino']}]"


def test_full_map_is_counted_not_silent():
    """--max-files 4 and ten files in one interval: six calls dropped, and said so."""
    child = Child([["write", f"f{i}", 1, 1] for i in range(10)])
    t = Tracer("filetop", "-p", str(child.pid), "--max-files", "4", "-i", "1h")
    try:
        t.start()
        child.go()
        assert t.stop(signal.SIGINT) == 0
        recs, err = t.records(), t.stderr()
    finally:
        t.__exit__(None, None, None)
        child.cleanup()
    final = [s for s in recs if s["type"] == "filetop_summary" and s["final"]]
    assert len(final) == 1 and final[0]["dropped"] == 6 and final[0]["files"] == 4, final
    assert "6 calls not counted because a kernel map was full" in err


# ---- usage and cleanup -------------------------------------------------------------------

def test_usage_errors():
    for args, what in [(["--sort", "size"], "invalid sort key 'size'"),
                       (["--max-files", "0"], "'--max-files' is out of bounds: 1 to 262144"),
                       (["--mechanism", "kprobe"], "unknown mechanism 'kprobe' for 'filetop'"),
                       (["extra"], "unexpected argument 'extra'")]:
        r = run("filetop", *args, "-d", "1s")
        assert r.returncode == 2, (args, r)
        assert what in r.stderr, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_nothing_left_loaded_after(sig):
    t = Tracer("filetop", "-i", "100ms")
    try:
        t.start()
        time.sleep(0.3)
        pid = t.proc.pid
        rc = t.stop(sig)
        if sig == signal.SIGKILL:
            assert rc == -signal.SIGKILL
        else:
            assert rc == 0, t.stderr()
            assert any(r["type"] == "filetop_summary" and r["final"] for r in t.records())
    finally:
        t.__exit__(None, None, None)
    assert not os.path.exists(f"/proc/{pid}")
    assert wait_progs_gone(PROGS) == []
    # maps are freed asynchronously too, after the programs that held them
    deadline = time.monotonic() + 10
    while True:
        maps = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True,
                              check=True).stdout
        left = [m for m in json.loads(maps or "[]") if m.get("name", "").startswith("ft_counts")]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left


def test_json_keys_are_documented():
    with open(os.path.join(ROOT, "docs", "events.md")) as f:
        doc = f.read()
    section = doc[doc.index("## filetop"):]
    section = section[:section.index("\n## ", 4)]
    for k in ROW_KEYS | SUMMARY_KEYS | MECH_KEYS | {"fallback_reason"}:
        assert f"`{k}`" in section or f"`{k}`" in doc, k
    for t in ("`filetop`", "`filetop_summary`"):
        assert t in section, t
    assert "| `mechanism` |" in doc


# ---- every way of doing I/O ------------------------------------------------------------------

class IoChild:
    """ft_io: writev N into a, sendfile M a->b, copy_file_range K a->c, io_uring U from a,
    p/p2 vectored calls and readv on d, splice d -> pipe -> e."""

    def __init__(self, n, m, k, u):
        self.dir = tempfile.mkdtemp(prefix="vigil-ftio-")
        self.sizes = (n, m, k, u)
        self.proc = subprocess.Popen([FT_IO, self.dir, str(n), str(m), str(k), str(u)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("pid "), line
        self.pid = int(line.split()[1])

    def go(self):
        self.proc.stdin.write(b"x")
        self.proc.stdin.flush()
        out, _ = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0
        self.did = json.loads(out.decode().splitlines()[-1])

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def io_traced(child, *tracers):
    ts = [Tracer("filetop", *args) for args in tracers]
    try:
        for t in ts:
            t.start()
        child.go()
        recs = []
        for t in ts:
            assert t.stop(signal.SIGINT) == 0, t.stderr()
            recs.append(t.records())
        return recs
    finally:
        for t in ts:
            t.__exit__(None, None, None)


def io_rows(recs, child):
    out = {}
    for r in recs:
        if r["type"] == "filetop" and r["final"] and r["pid"] == child.pid:
            assert r["file"] not in out, r
            out[r["file"]] = {k: r[k] for k in COUNTS}
    return out


def io_want(child):
    n, m, k, u = child.sizes
    d = child.did
    assert (d["writev"], d["sendfile"], d["copy_file_range"], d["io_uring"]) == (n, m, k, u)
    # io_uring reads 4096 bytes per request
    ureqs = (u + 4095) // 4096
    return {
        "a": {"reads": 2 + ureqs, "rbytes": m + k + u, "writes": 1, "wbytes": n},
        "b": {"reads": 0, "rbytes": 0, "writes": 1, "wbytes": m},
        "c": {"reads": 0, "rbytes": 0, "writes": 1, "wbytes": k},
        # preadv 100 + preadv2 50 + readv 150 + splice out of d 150; pwritev 100 + pwritev2 50
        "d": {"reads": 4, "rbytes": d["d_read"], "writes": 2, "wbytes": d["d_written"]},
        "e": {"reads": 0, "rbytes": 0, "writes": 1, "wbytes": d["e_written"]},
    }


def test_every_io_path_counted_exactly(fentry_works):
    """writev, sendfile (both ends), copy_file_range (both ends), io_uring, the p/p2 vectored
    calls, readv and splice: exact totals per file, the same on each mechanism."""
    sizes = (30000, 20000, 10000, 12345) if GUEST else (150000, 70000, 50000, 123457)
    child = IoChild(*sizes)
    args = [["-p", str(child.pid), "--top", "0"],
            ["-p", str(child.pid), "--top", "0", "--mechanism", "tracepoint"]]
    if fentry_works:
        args.append(["-p", str(child.pid), "--top", "0", "--mechanism", "fentry"])
    try:
        recs = io_traced(child, *args)
    finally:
        child.cleanup()
    want = io_want(child)
    assert want["d"]["rbytes"] == 450 and want["d"]["wbytes"] == 150
    for r, a in zip(recs, args):
        assert io_rows(r, child) == want, a
    if fentry_works:
        assert mechanism(recs[2])["mechanism"] == "fentry"


def test_uring_filters_apply_to_the_submitter():
    child = IoChild(8192, 0, 0, 8192)
    try:
        inc, exc = io_traced(child, ["-c", "ft_io", "--top", "0"], ["-c", "no-such", "--top", "0"])
    finally:
        child.cleanup()
    assert io_rows(inc, child)["a"]["rbytes"] == 8192
    assert io_rows(exc, child) == {}


def test_libbpf_filetop_misses_what_vigil_counts():
    """libbpf-tools filetop hooks vfs_read/vfs_write with kprobes. Where kprobes are compiled
    out (this host) it cannot start at all; where it runs it sees none of these calls, so it
    misses every byte vigil counts for them."""
    if not os.path.exists(ANCHOR):
        pytest.skip("libbpf-tools is not installed here")
    child = IoChild(30000, 20000, 10000, 12345)
    anchor = subprocess.Popen([ANCHOR, "-C", "-p", str(child.pid), "-r", "100", "1", "3600"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        started = anchor.poll() is None
        [recs] = io_traced(child, ["-p", str(child.pid), "--top", "0"])
    finally:
        child.cleanup()
        if anchor.poll() is None:
            time.sleep(1.5)  # one more interval of its output
            anchor.send_signal(signal.SIGINT)
        out, err = anchor.communicate(timeout=60)
    ours = io_rows(recs, child)
    assert ours == io_want(child)
    vigil_bytes = sum(r["rbytes"] + r["wbytes"] for r in ours.values())
    if not started:
        assert anchor.returncode != 0
        assert "kprobe" in err, err
        print(f"libbpf filetop cannot run here ({err.strip().splitlines()[-1]}); "
              f"vigil counted {vigil_bytes} bytes")
        return
    # TID COMM READS WRITES R_Kb W_Kb T FILE: sum its kilobytes over our files
    theirs = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].isdigit() and int(f[0]) == child.pid and f[-1] in ours:
            theirs += (int(f[4]) + int(f[5])) * 1024
    print(f"libbpf filetop: {theirs} bytes, vigil: {vigil_bytes}; missed {vigil_bytes - theirs}")
    assert theirs == 0 and vigil_bytes > 0
