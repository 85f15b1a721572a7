"""vigil file: opens, lifecycle calls and slow operations of a known child, exactly.

The child (tests/e2e/filework.py) runs under a unique comm (a symlink to
python named after a token) in a fresh directory, prints its pid and waits on
stdin until the tracers are attached; then it makes the calls and reports what
each returned. Every assertion compares vigil's records with those returns and
with the paths the test built.
"""
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pytest

from conftest import parse_ndjson, ROOT, Tracer, run, wait_progs_gone

FILEWORK = os.path.join(ROOT, "tests", "e2e", "filework.py")
OPENSNOOP = "/usr/sbin/opensnoop"
GUEST = os.environ.get("VIGIL_GUEST") == "1"
PROGS = ["fl_finish", "fl_enter_openat", "fl_enter_open", "fl_exit_open", "fl_enter_unlink",
         "fl_exit_unlink", "fl_enter_fsync", "fl_exit_fsync", "fl_uring_submit",
         "fl_uring_complete", "fl_uring_submit_sqe", "fl_enter_fchmodat2"]
EVENT_KEYS = {"type", "ts", "time", "pid", "tid", "ppid", "uid", "comm", "cgroup_id", "op",
              "path", "arg", "ret", "latency_ns"}


@pytest.fixture(autouse=True)
def nothing_left_behind():
    yield
    assert wait_progs_gone(PROGS) == []


class Child:
    """filework.py under a unique comm, in its own directory, waiting for go()."""

    def __init__(self, script):
        self.dir = tempfile.mkdtemp(prefix="vigil-file-")
        os.chmod(self.dir, 0o755)
        self.comm = "fl" + uuid.uuid4().hex[:12]
        with open(os.path.join(self.dir, "exists"), "w") as f:
            f.write("hello")
        with open(os.path.join(self.dir, "secret"), "w") as f:
            f.write("root only")
        os.chmod(os.path.join(self.dir, "secret"), 0o600)
        os.mkdir(os.path.join(self.dir, "sub"))
        exe = os.path.join(self.dir, self.comm)
        os.symlink(os.path.realpath(sys.executable), exe)
        self.proc = subprocess.Popen([exe, FILEWORK, self.dir, script], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("pid "), line
        self.pid = int(line.split()[1])

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def go(self, timeout=120):
        self.proc.stdin.write(b"x")
        self.proc.stdin.flush()
        out, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0
        self.did = json.loads(out.decode().splitlines()[-1])
        return self.did

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def traced(child, *tracers):
    ts = [Tracer("file", *args) for args in tracers]
    try:
        for t in ts:
            t.start()
        child.go()
        time.sleep(0.3)
        recs = []
        for t in ts:
            assert t.stop(signal.SIGINT) == 0, t.stderr()
            recs.append([r for r in t.records() if r["type"] == "file"])
        return recs
    finally:
        for t in ts:
            t.__exit__(None, None, None)


def mine(recs, child):
    return [r for r in recs if r["comm"] == child.comm]


def opens_of(recs, path):
    return [r for r in recs if r["op"] in ("open", "openat", "openat2", "creat")
            and r["path"] == path]


def one(found, what):
    assert len(found) == 1, (what, found)
    return found[0]


# ---- opens --------------------------------------------------------------------------------

def check_opens(recs, child):
    did = child.did
    ex = [r for r in opens_of(recs, child.path("exists")) if r["op"] == "openat"]
    # the plain open and the cwd-relative one name the same file
    assert len(ex) == 2, ex
    plain = one([r for r in ex if r["arg"] == child.path("exists")], "exists")
    assert plain["ret"] == plain["fd"] == did["exists"] and did["exists"] >= 0
    assert plain["flags"] == "O_RDONLY|O_CLOEXEC" and plain["dirfd"] == -100
    assert "errno" not in plain and plain["created"] is False and "mode" not in plain
    assert plain["pid"] == child.pid and plain["uid"] == 0
    for k in EVENT_KEYS:
        assert k in plain, k

    rel = one([r for r in ex if r["arg"] == "../exists"], "relative")
    assert rel["fd"] == did["relative"] >= 0

    miss = one(opens_of(recs, child.path("missing")), "missing")
    assert miss["ret"] == -errno.ENOENT == did["missing"] and miss["errno"] == "ENOENT"
    assert "fd" not in miss

    sec = one(opens_of(recs, child.path("secret")), "secret")
    assert did["secret"] == -errno.EACCES
    assert sec["errno"] == "EACCES" and sec["uid"] == 65534 and sec["pid"] == did["secret_pid"]

    inner = one(opens_of(recs, child.path("sub", "inner")), "inner")
    assert inner["arg"] == "inner" and inner["dirfd"] == did["dirfd"]
    assert inner["flags"] == "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC" and inner["mode"] == "0640"
    assert inner["fd"] == did["inner"] and inner["created"] is True

    o2 = one([r for r in recs if r["op"] == "openat2"], "openat2")
    assert o2["path"] == child.path("exists") and o2["fd"] == did["openat2"] >= 0
    assert o2["flags"] == "O_RDONLY|O_CLOEXEC" and o2["resolve"] == 0x04


def test_opens_resolved_with_flags_and_results():
    child = Child("opens")
    try:
        [recs] = traced(child, ["-c", child.comm])
    finally:
        child.cleanup()
    check_opens(mine(recs, child), child)


def test_failed_only_and_path_prefix_in_the_kernel():
    child = Child("opens")
    try:
        failed, sub, two = traced(child, ["-c", child.comm, "--failed"],
                                  ["-c", child.comm, "--path", child.path("sub") + "/"],
                                  ["-c", child.comm, "--path", child.path("miss"),
                                   "--path", child.path("secret")])
    finally:
        child.cleanup()
    failed = mine(failed, child)
    assert failed and all(r["ret"] < 0 for r in failed), failed
    assert {r["path"] for r in opens_of(failed, child.path("missing"))} == {child.path("missing")}
    assert opens_of(failed, child.path("exists")) == []
    # the prefix is matched before anything is sent: only what is under it arrives. The
    # kernel compares the path as built, before ".." is cleaned up: "../exists" from the cwd
    # sub/ is "sub/../exists" there, so it matches sub/ (docs/file.md)
    got = {(r["path"], r["arg"]) for r in mine(sub, child)}
    assert got == {(child.path("sub", "inner"), "inner"), (child.path("exists"), "../exists")}
    assert sorted(r["path"] for r in mine(two, child)) == [child.path("missing"),
                                                           child.path("secret")]


def test_same_opens_as_opensnoop():
    """libbpf-tools opensnoop (open/openat tracepoints) on the same activity: the same
    opens, fds and errors. It has no openat2 and leaves relative paths as passed."""
    if not os.path.exists(OPENSNOOP):
        pytest.skip("libbpf-tools is not installed here")
    child = Child("opens")
    # line-buffered: its header (printed once it is attached) must reach us at once
    snoop = subprocess.Popen(["stdbuf", "-oL", OPENSNOOP, "-n", child.comm, "-e"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        # its header comes once it is attached
        assert "PID" in snoop.stdout.readline()
        [recs] = traced(child, ["-c", child.comm])
    finally:
        child.cleanup()
        snoop.send_signal(signal.SIGINT)
        out, err = snoop.communicate(timeout=60)
    lines = [l.split() for l in out.splitlines() if l.strip()]
    # PID COMM FD ERR FLAGS PATH
    theirs = sorted((int(l[0]), int(l[2]), int(l[3]), l[5]) for l in lines
                    if l[-1].startswith(child.dir) or l[-1] in ("inner", "../exists"))
    vig = [r for r in mine(recs, child) if r["op"] in ("open", "openat")
           and (r["arg"].startswith(child.dir) or r["arg"] in ("inner", "../exists"))]
    ours = sorted((r["pid"], r.get("fd", -1), -r["ret"] if r["ret"] < 0 else 0, r["arg"])
                  for r in vig)
    assert ours == theirs, (ours, theirs)
    # exists, missing, secret (EACCES, the child), the dirfd of sub, inner, ../exists
    assert len(ours) == 6


# ---- lifecycle -----------------------------------------------------------------------------

def test_create_rename_unlink_with_lifetime():
    child = Child("life")
    try:
        [recs] = traced(child, ["-c", child.comm, "--path", child.dir + "/"])
    finally:
        child.cleanup()
    recs = mine(recs, child)
    assert [r["op"] for r in recs if r["op"] not in ("openat",)] in (
        ["rename", "unlink"], ["renameat", "unlink"], ["renameat2", "unlink"],
        ["rename", "unlinkat"], ["renameat2", "unlinkat"])
    assert len(recs) == 3, recs
    cr, rn, ul = recs
    assert cr["op"] == "openat" and cr["path"] == child.path("life") and cr["created"] is True
    assert cr["flags"] == "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC" and cr["mode"] == "0600"
    assert rn["path"] == child.path("life") and rn["path2"] == child.path("life2")
    assert rn["ret"] == 0 == child.did["rename"]
    assert ul["path"] == child.path("life2") and ul["ret"] == 0
    # the lifetime runs from the create to the unlink, as both records say
    assert ul["lifetime_ns"] == ul["ts"] - cr["ts"] > 0


def test_other_lifecycle_calls():
    child = Child("more")
    try:
        [recs] = traced(child, ["-c", child.comm, "--path", child.dir + "/"])
    finally:
        child.cleanup()
    recs = mine(recs, child)
    did = child.did
    def op(*names):
        return [r for r in recs if r["op"] in names]
    mk = one(op("mkdir", "mkdirat"), "mkdir")
    assert mk["path"] == child.path("d") and mk["mode"] == "0750" and mk["ret"] == 0
    sl = one(op("symlink", "symlinkat"), "symlink")
    assert sl["path"] == child.path("d", "ln") and sl["target"] == "target" and sl["ret"] == 0
    ln = one(op("link", "linkat"), "link")
    assert (ln["path"], ln["path2"]) == (child.path("exists"), child.path("hard"))
    tr = one(op("truncate"), "truncate")
    assert tr["path"] == child.path("exists") and tr["length"] == 3 and tr["ret"] == 0
    ch = one(op("chmod", "fchmodat"), "chmod")
    assert ch["mode"] == "0604" and ch["path"] == child.path("exists")
    co = one(op("chown", "fchownat", "lchown"), "chown")
    assert (co["owner_uid"], co["owner_gid"]) == (0, 0) and co["path"] == child.path("exists")
    rms = op("rmdir", "unlinkat")
    rmdirs = [r for r in rms if r["path"] == child.path("d")]
    assert [r.get("errno") for r in rmdirs] == ["ENOTEMPTY", None], rmdirs
    assert did["rmdir_full"] == -errno.ENOTEMPTY and did["rmdir"] == 0
    # the directory was seen made, so its removal has a lifetime
    assert rmdirs[1]["lifetime_ns"] == rmdirs[1]["ts"] - mk["ts"]


def have_tp(group, name):
    return os.path.exists(f"/sys/kernel/tracing/events/{group}/{name}")


def test_fchmodat2():
    """fchmodat2 (6.6+): the mode, the absolute and the dirfd-relative path, the result."""
    subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                   capture_output=True)
    if not have_tp("syscalls", "sys_enter_fchmodat2"):
        pytest.skip("kernel lacks fchmodat2 (Linux 6.6+)")
    child = Child("chmod2")
    try:
        [recs] = traced(child, ["-c", child.comm])
    finally:
        child.cleanup()
    did = child.did
    got = [r for r in mine(recs, child) if r["op"] == "fchmodat2"]
    assert len(got) == 2, got
    a, m = got
    assert (a["path"], a["mode"], a["ret"], a["dirfd"] if "dirfd" in a else -100) == (
        child.path("exists"), "0640", did["abs"], -100) and did["abs"] == 0
    assert (m["path"], m["arg"], m["mode"], m["errno"]) == (
        child.path("missing"), "missing", "0600", "ENOENT") and did["missing"] == -errno.ENOENT


FL_URING = os.path.join(ROOT, "build", "tests", "workloads", "fl_uring")


def test_io_uring_lifecycle_requests(tmp_path):
    """Opens, mkdir, rename, symlink, link and unlinks made as io_uring requests (not syscalls):
    one record each with the submitter's pid, the resolved paths, flags, mode and the
    request's result; lifetimes follow them as they do syscalls; and --failed and the
    agent-style counters apply to them."""
    subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                   capture_output=True)
    if not (have_tp("io_uring", "io_uring_submit_req") or have_tp("io_uring", "io_uring_submit_sqe")):
        pytest.skip("kernel without the io_uring tracepoints")
    d = tempfile.mkdtemp(prefix="vigil-fluring-")
    os.chmod(d, 0o755)
    p = subprocess.Popen([FL_URING, d], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    assert line.startswith("pid "), line
    pid = int(line.split()[1])
    ts = [Tracer("file", "-p", str(pid)), Tracer("file", "-p", str(pid), "--failed"),
          Tracer("file", "-p", str(pid), "--path", d + "/ud/")]
    try:
        for t in ts:
            t.start()
        p.stdin.write(b"x")
        p.stdin.flush()
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        did = json.loads(out.decode().splitlines()[-1])
        time.sleep(0.3)
        recs = []
        for t in ts:
            assert t.stop(signal.SIGINT) == 0, t.stderr()
            recs.append([r for r in t.records() if r["type"] == "file"])
    finally:
        for t in ts:
            t.__exit__(None, None, None)
        if p.poll() is None:
            p.kill()
        shutil.rmtree(d, ignore_errors=True)
    allr, failed, under = recs
    j = lambda *a: os.path.join(d, *a)
    got = [(r["op"], r["path"], r.get("path2") or r.get("target"), r["ret"]) for r in allr]
    assert got == [
        ("io_uring_openat", j("u1"), None, did["open_create"]),
        ("io_uring_openat", j("missing"), None, -errno.ENOENT),
        ("io_uring_openat2", j("u1"), None, did["openat2"]),
        ("io_uring_mkdirat", j("ud"), None, 0),
        ("io_uring_renameat", j("u1"), j("ud", "u2"), 0),
        ("io_uring_symlinkat", j("ud", "sl"), "tgt", 0),
        ("io_uring_linkat", j("ud", "u2"), j("hl"), 0),
        ("io_uring_unlinkat", j("ud", "sl"), None, 0),
        ("io_uring_unlinkat", j("hl"), None, 0),
        ("io_uring_unlinkat", j("ud", "u2"), None, 0),
        ("io_uring_unlinkat", j("ud"), None, 0),
        ("io_uring_unlinkat", j("missing"), None, -errno.ENOENT),
    ], got
    assert all(r["pid"] == pid and r["comm"] == "fl_uring" and r["latency_ns"] > 0 for r in allr)
    create, missing, o2, mk, ren, sl, ln, u_sl, u_hl, u_u2, rmd, u_miss = allr
    # io_uring forces O_LARGEFILE on every open
    assert create["flags"] == "O_WRONLY|O_CREAT|O_EXCL|O_LARGEFILE" and create["mode"] == "0640"
    assert create["fd"] == did["open_create"] >= 0 and create["created"] is True
    assert missing["arg"] == "missing" and missing["dirfd"] == did["dirfd"]
    assert missing["errno"] == "ENOENT" and missing["created"] is False
    assert o2["flags"] == "O_RDONLY|O_LARGEFILE" and o2["resolve"] == 0x04
    assert mk["mode"] == "0750" and mk["arg"] == "ud"
    assert ren["arg2"] == "ud/u2" and rmd["at_flags"] == 0x200  # AT_REMOVEDIR
    # made by the open, renamed, linked: lifetimes from when vigil saw each path made
    assert u_u2["lifetime_ns"] == u_u2["ts"] - create["ts"]
    assert u_sl["lifetime_ns"] == u_sl["ts"] - sl["ts"]
    assert u_hl["lifetime_ns"] == u_hl["ts"] - ln["ts"]
    assert rmd["lifetime_ns"] == rmd["ts"] - mk["ts"]
    assert "lifetime_ns" not in u_miss
    assert [(r["op"], r["path"]) for r in failed] == [("io_uring_openat", j("missing")),
                                                      ("io_uring_unlinkat", j("missing"))]
    # --path in the kernel: either path under DIR/ud/
    assert [(r["op"], r["path"]) for r in under] == [
        ("io_uring_renameat", j("u1")), ("io_uring_symlinkat", j("ud", "sl")),
        ("io_uring_linkat", j("ud", "u2")), ("io_uring_unlinkat", j("ud", "sl")),
        ("io_uring_unlinkat", j("ud", "u2"))]


# ---- slow operations, histograms -----------------------------------------------------------

def test_slow_fsync_on_a_loop_device(tmp_path):
    """A large dirty file on a small ext4 loop device: its fsync writes it all out and is
    over --min; the other calls (small writes) are not."""
    img = tmp_path / "img"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    size_mb = 24 if GUEST else 96
    subprocess.run(["truncate", "-s", f"{size_mb * 2 + 32}M", str(img)], check=True)
    # the guests carry busybox's mke2fs (ext2, mounted by the ext4 driver)
    mkfs = shutil.which("mkfs.ext4") or shutil.which("mke2fs")
    assert mkfs, "no mkfs.ext4 or mke2fs (scripts/deps.sh: e2fsprogs)"
    subprocess.run([mkfs, "-q", "-F", str(img)] if mkfs.endswith("ext4") else [mkfs, "-F", str(img)],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], check=True)
    comm = "fs" + uuid.uuid4().hex[:12]
    target = mnt / "big"
    code = ("import os,sys\n"
            "sys.stdin.buffer.read(1)\n"
            f"fd=os.open({str(target)!r}, os.O_WRONLY|os.O_CREAT, 0o600)\n"
            f"b=b'x'*(1<<20)\n"
            f"for _ in range({size_mb}): os.write(fd, b)\n"
            "os.fsync(fd)\n"
            "print(fd, flush=True)\n")
    exe = tmp_path / comm
    os.symlink(os.path.realpath(sys.executable), exe)
    try:
        p = subprocess.Popen([str(exe), "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        t = Tracer("file", "-c", comm, "--min", "1ms")
        with t:  # __enter__ starts it
            p.stdin.write(b"x")
            p.stdin.flush()
            out, _ = p.communicate(timeout=300)
            fd = int(out)
            time.sleep(0.3)
            assert t.stop(signal.SIGINT) == 0, t.stderr()
            recs = [r for r in t.records() if r["type"] == "file" and r["comm"] == comm]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
    fs = one([r for r in recs if r["op"] == "fsync"], "fsync")
    assert fs["path"] == str(target) and fs["fd"] == fd and fs["ret"] == 0
    assert fs["latency_ns"] >= 1_000_000
    for r in recs:
        assert r["latency_ns"] >= 1_000_000, r
        if r["op"] == "write":
            assert r["path"] == str(target) and r["size"] == 1 << 20
            assert r["bytes"] == 1 << 20 and r["offset"] % (1 << 20) == 0


def test_hist_counts_every_call():
    child = Child("life")
    t = Tracer("file", "-c", child.comm, "--hist")
    try:
        with t:  # __enter__ starts it
            child.go()
            time.sleep(0.3)
            assert t.stop(signal.SIGINT) == 0, t.stderr()
            recs = t.records()
    finally:
        child.cleanup()
    hists = {r["op"]: r for r in recs if r["type"] == "file_hist"}
    assert [r for r in recs if r["type"] == "file"] == []
    ren = [h for op, h in hists.items() if op.startswith("rename")]
    assert len(ren) == 1 and ren[0]["count"] == 1
    assert sum(b["count"] for b in ren[0]["buckets"]) == 1
    unl = [h for op, h in hists.items() if op.startswith("unlink")]
    assert len(unl) == 1 and unl[0]["count"] == 1


def test_table_output():
    child = Child("life")
    t = Tracer("file", "-c", child.comm, json_out=False)
    try:
        with t:  # __enter__ starts it
            child.go()
            time.sleep(0.3)
            assert t.stop(signal.SIGINT) == 0, t.stderr()
            out = t.output()
    finally:
        child.cleanup()
    lines = [l for l in out.splitlines() if child.comm in l]
    assert any(" unlink" in l and child.path("life2") in l and " lived " in l for l in lines), out
    assert any("O_WRONLY|O_CREAT|O_EXCL" in l and "fd=" in l for l in lines), out
    assert "OP" in out and "RESULT" in out and "DETAIL" in out


# ---- usage, cleanup, docs ------------------------------------------------------------------

def test_usage_errors():
    for args, what in [(["--path", "rel"], "--path 'rel' is not absolute"),
                       (["--path", "/a", "--path", "/b", "--path", "/c", "--path", "/d",
                         "--path", "/e"], "more than 4 --path prefixes"),
                       (["--min", "fast"], "--min"),
                       (["extra"], "unexpected argument 'extra'")]:
        r = run("file", *args, "-d", "1s")
        assert r.returncode == 2, (args, r)
        assert what in r.stderr, r.stderr
    assert wait_progs_gone(PROGS) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_nothing_left_loaded_after(sig):
    t = Tracer("file", "--min", "1s")
    try:
        t.start()
        pid = t.proc.pid
        rc = t.stop(sig)
        assert rc == (-signal.SIGKILL if sig == signal.SIGKILL else 0), t.stderr()
    finally:
        t.__exit__(None, None, None)
    assert not os.path.exists(f"/proc/{pid}")
    assert wait_progs_gone(PROGS) == []


def test_json_keys_are_documented():
    with open(os.path.join(ROOT, "docs", "events.md")) as f:
        doc = f.read()
    section = doc[doc.index("## file\n"):]
    section = section[:section.index("\n## ", 4)]
    for k in EVENT_KEYS | {"dirfd", "flags", "flags_raw", "mode", "fd", "errno", "created",
                           "resolve", "path2", "arg2", "target", "lifetime_ns", "owner_uid",
                           "owner_gid", "length", "offset", "size", "bytes", "truncated",
                           "rename_flags", "file_hist", "count", "buckets"}:
        # the common keys are documented once, for every record
        assert f"`{k}`" in section or (k in EVENT_KEYS and f"`{k}`" in doc), k


# ---- the agent -----------------------------------------------------------------------------

def parse_metrics(text):
    """Prometheus text -> {(name, ((label, value), ...)): float}, labels sorted."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = tuple(sorted(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def series(metrics, name, **labels):
    """{rest-of-labels: value} of name's series whose labels include labels."""
    got = {}
    for (n, ls), v in metrics.items():
        d = dict(ls)
        if n == name and all(d.get(k) == w for k, w in labels.items()):
            got[tuple((k, x) for k, x in ls if k not in labels)] = v
    return got


def test_agent_metrics_count_exactly(tmp_path):
    """The agent's file: and filetop: sections, counted in the kernel: exactly the child's
    opens, failed opens, creates and unlinks by op and result (with and without --failed,
    which only chooses what is streamed), one latency histogram per op whose count is the
    calls, and filetop's bytes by kind and direction for a child that does every kind."""
    from test_filetop import IoChild  # its comm is ft_io; pid: would end with it
    child = Child("counts")
    io = IoChild(150000, 70000, 50000, 123457)
    port = 19000 + os.getpid() % 1000
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""outputs:
  events: {tmp_path}/events.json
metrics:
  listen: 127.0.0.1:{port}
features:
  file:
    - name: all
      comm: {child.comm}
      path: [{child.dir}/]
    - name: failed
      comm: {child.comm}
      path: [{child.dir}/]
      failed: true
    - name: hist
      comm: {child.comm}
      path: [{child.dir}/]
      hist: true
  filetop:
    comm: ft_io
""")
    err = open(tmp_path / "err", "w")
    agent = subprocess.Popen([os.path.join(ROOT, "build", "vigil"), "agent", "--config", str(cfg)],
                             stderr=err)
    try:
        deadline = time.monotonic() + 120
        while "; attached" not in (tmp_path / "err").read_text():
            assert agent.poll() is None and time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.05)
        did = child.go()
        io.go()
        n, m, k, j = did["opens"], did["failed_opens"], did["creates"], did["failed_unlinks"]
        ops = {(("op", "openat"), ("result", "ok")): n + k,
               (("op", "openat"), ("result", "ENOENT")): m,
               (("op", "unlink"), ("result", "ok")): k,
               (("op", "unlink"), ("result", "ENOENT")): j}
        for _ in range(100):
            mx = parse_metrics(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                                      timeout=5).read().decode())
            if series(mx, "vigil_file_ops_total", feature="file/all") == ops:
                break
            time.sleep(0.2)
        for inst in ("all", "failed", "hist"):
            assert series(mx, "vigil_file_ops_total", feature=f"file/{inst}") == ops, inst
        # records: only the instances that stream send any, --failed only the failures
        assert series(mx, "vigil_file_untracked_total", feature="file/all") == {(): 0}
        for op, calls in (("openat", n + m + k), ("unlink", k + j)):
            h = series(mx, "vigil_file_op_latency_seconds_count", feature="file/hist", op=op)
            assert h == {(): calls}, (op, h)
            inf = series(mx, "vigil_file_op_latency_seconds_bucket", feature="file/hist", op=op,
                         le="+Inf")
            assert inf == {(): calls}
            buckets = sorted((float(dict(ls)["le"]), v) for ls, v in series(
                mx, "vigil_file_op_latency_seconds_bucket", feature="file/hist", op=op).items()
                if dict(ls)["le"] != "+Inf")
            assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
            total = series(mx, "vigil_file_op_latency_seconds_sum", feature="file/hist", op=op)[()]
            assert 0 < total < 10 * calls
        assert not series(mx, "vigil_file_op_latency_seconds_count", feature="file/all")

        # filetop: ft_io's calls, by kind (tests/workloads/ft_io.c, test_filetop.io_want)
        nn, mm, kk, uu = io.sizes
        d = io.did
        ureqs = (uu + 4095) // 4096
        want = {  # (kind, direction): (calls, bytes)
            ("rw", "read"): (0, 0), ("rw", "write"): (0, 0),
            ("vectored", "read"): (3, d["d_read"] - 150),
            ("vectored", "write"): (3, nn + d["d_written"]),
            ("sendfile", "read"): (1, mm), ("sendfile", "write"): (1, mm),
            ("copy_file_range", "read"): (1, kk), ("copy_file_range", "write"): (1, kk),
            ("splice", "read"): (1, 150), ("splice", "write"): (1, d["e_written"]),
            ("io_uring", "read"): (ureqs, uu), ("io_uring", "write"): (0, 0),
        }
        for _ in range(50):
            mx = parse_metrics(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                                      timeout=5).read().decode())
            calls = series(mx, "vigil_filetop_calls_total", feature="filetop")
            got = {(dict(ls)["kind"], dict(ls)["direction"]):
                   (int(v), int(series(mx, "vigil_filetop_bytes_total", feature="filetop",
                                       **dict(ls))[()])) for ls, v in calls.items()}
            if got == want:
                break
            time.sleep(0.2)
        assert got == want
        assert series(mx, "vigil_filetop_dropped_total", feature="filetop") == {
            (("reason", "full"),): 0, (("reason", "inflight"),): 0}
    finally:
        agent.send_signal(signal.SIGINT)
        agent.wait(timeout=60)
        err.close()
        child.cleanup()
        io.cleanup()
