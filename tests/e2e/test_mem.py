"""vigil mem: page faults of known counts per process and mapping, major faults on a
file whose page cache was dropped, a real OOM kill in a memory-limited cgroup (the
victim, its memory as the kernel's own log line has it, the cgroup and its limit),
100 MB of RSS growth, and libbpf-tools' oomkill, which needs a kprobe.

The workload (tests/workloads/memwork.c) prints its pid and waits for a byte on
stdin before it touches anything, so vigil is attached first; it waits again once
done, so vigil can read its /proc/PID/maps while it still exists.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import ROOT, VIGIL, Tracer, free_port, parse_ndjson, run, wait_progs_gone

MEMWORK = os.path.join(ROOT, "build", "tests", "workloads", "memwork")
PROGS = ["mem_fault_user", "mem_fault_kernel", "mem_major", "mem_rss_stat", "mem_oom",
         "mem_kill_sig"]
GUEST = bool(os.environ.get("VIGIL_GUEST"))
PAGE = os.sysconf("SC_PAGE_SIZE")
# faults of the workload beyond its own pages that the test can explain: none are in
# the fresh mapping, whose pages are each written once (no huge pages)
SLACK = 2
FAULT_KEYS = {"type", "ts", "time", "final", "span_ns", "pid", "uid", "comm", "cgroup_id",
              "kind", "mapping", "faults", "minor", "major"}
OOM_KEYS = {"type", "ts", "time", "pid", "tid", "ppid", "uid", "comm", "cgroup_id", "victim_tid",
            "tracepoint_args", "victim_source", "total_vm_kb", "anon_rss_kb", "file_rss_kb",
            "shmem_rss_kb", "swap_kb", "pgtables_kb", "oom_score_adj", "trigger_pid",
            "trigger_tid", "trigger_comm", "trigger_cgroup_id", "scope", "missing"}


@pytest.fixture(autouse=True)
def nothing_left_behind():
    yield
    assert wait_progs_gone(PROGS) == []


class Work:
    """memwork MODE ARG, started and waiting for go()."""

    def __init__(self, *args, cgroup_procs=None):
        pre = None
        if cgroup_procs:
            # join the cgroup before exec, so every page it touches is charged there
            def pre():
                with open(cgroup_procs, "w") as f:
                    f.write(str(os.getpid()))
        self.proc = subprocess.Popen([MEMWORK, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, preexec_fn=pre)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("pid "), line
        self.pid = int(line.split()[1])

    def go(self):
        self.proc.stdin.write(b"x")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode()
        return line.split() if line else None

    def end(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"x")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
        return self.proc.wait(timeout=120)


def final_rows(recs, typ, pid):
    return [r for r in recs if r["type"] == typ and r["final"] and r["pid"] == pid]


def test_anon_pages_are_counted_exactly_as_minor_faults_in_their_mapping():
    n = 500 if GUEST else 3000
    w = Work("anon", n)
    with Tracer("mem", "-p", str(w.pid), "-i", "200ms", "--top", "0") as t:
        done = w.go()
        assert done and done[0] == "done" and int(done[1]) == n, done
        # an interval while the process lives: its maps are read then
        t.wait_records(lambda rs: any(r["type"] == "mem_faults" and not r["final"] and
                                      r["kind"] == "anon" and r["pid"] == w.pid for r in rs))
        assert t.stop() == 0
        recs = t.records()
    with open(f"/proc/{w.pid}/maps") as f:
        paths = {l.split(None, 5)[5].strip() for l in f if len(l.split(None, 5)) == 6}
    w.end()
    rows = final_rows(recs, "mem_faults", w.pid)
    assert all(FAULT_KEYS <= set(r) for r in rows), rows
    anon = [r for r in rows if r["kind"] == "anon"]
    assert len(anon) == 1, rows
    a = anon[0]
    assert n <= a["faults"] <= n + SLACK, a
    assert a["major"] == 0 and a["minor"] == a["faults"], a
    assert a["mapping"] == "anon" and a["comm"] == "memwork", a
    # the intervals' deltas add up to the total
    iv = [r for r in recs if r["type"] == "mem_faults" and not r["final"] and
          r["pid"] == w.pid and r["kind"] == "anon"]
    assert sum(r["faults"] for r in iv) == a["faults"], iv
    # only its own process: -p runs in the kernel
    assert {r["pid"] for r in recs if r["type"] == "mem_faults"} == {w.pid}
    summ = [r for r in recs if r["type"] == "mem_faults_summary" and r["final"]]
    assert len(summ) == 1 and summ[0]["dropped"] == 0 and summ[0]["mechanism"] == "find_vma"
    assert summ[0]["faults"] == sum(r["faults"] for r in rows), (summ, rows)
    # its program file and libraries are file mappings, with their paths from /proc
    files = [r for r in rows if r["kind"] == "file"]
    assert all(r["mapping"] in paths and r["ino"] > 0 for r in files), (files, paths)
    lost = [r for r in recs if r["type"] == "lost" and r["final"]]
    assert lost and lost[0]["lost"] == 0


def test_maps_mechanism_resolves_the_same_faults_from_proc():
    n = 300 if GUEST else 2000
    w = Work("anon", n)
    with Tracer("mem", "--mechanism", "maps", "-p", str(w.pid), "-i", "200ms", "--top", "0") as t:
        w.go()
        t.wait_records(lambda rs: any(r["type"] == "mem_faults" and r["kind"] == "anon" and
                                      r["pid"] == w.pid for r in rs))
        assert t.stop() == 0
        recs = t.records()
    w.end()
    mech = [r for r in recs if r["type"] == "mechanism"]
    assert mech and mech[0]["mechanism"] == "maps", mech
    anon = [r for r in final_rows(recs, "mem_faults", w.pid) if r["kind"] == "anon"]
    # per 64 KiB in the kernel, summed into its mapping here: one row
    assert len(anon) == 1 and n <= anon[0]["faults"] <= n + SLACK, anon


@pytest.mark.parametrize("kernel", [False, True])
def test_kernel_mode_faults_only_with_kernel(kernel):
    """read() into N fresh pages: the kernel takes the N faults (page_fault_kernel)."""
    n = 300 if GUEST else 1000
    w = Work("kread", n)
    with Tracer("mem", "-p", str(w.pid), "--top", "0", *(["--kernel"] if kernel else [])) as t:
        done = w.go()
        assert done and int(done[1]) == n, done
        assert t.stop() == 0
        recs = t.records()
    w.end()
    anon = sum(r["faults"] for r in final_rows(recs, "mem_faults", w.pid) if r["kind"] == "anon")
    if kernel:
        assert n <= anon <= n + SLACK, recs
    else:
        # the buffer's pages are never touched in user mode
        assert anon <= SLACK, recs


def test_min_faults_and_top_keep_only_the_big_rows():
    n = 400 if GUEST else 1500
    w = Work("anon", n)
    with Tracer("mem", "-p", str(w.pid), "--min-faults", str(n), "--top", "1") as t:
        w.go()
        assert t.stop() == 0
        recs = t.records()
    w.end()
    rows = [r for r in recs if r["type"] == "mem_faults"]
    fin = [r for r in rows if r["final"]]
    assert len(fin) == 1 and fin[0]["kind"] == "anon" and fin[0]["faults"] >= n, fin
    assert all(r["faults"] >= n for r in rows), rows


def fs_type(d):
    """The filesystem type of the mount holding d, from /proc/self/mountinfo."""
    best, typ = "", None
    d = os.path.realpath(d)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            mnt = pre.split()[4]
            if (d == mnt or d.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, typ = mnt, post.split()[0]
    return typ


def block_backed_dir():
    """A directory whose page cache drop_caches can empty (not tmpfs or ramfs)."""
    for d in ("/var/tmp", "/root", os.path.join(ROOT, "build")):
        if os.path.isdir(d) and fs_type(d) not in (None, "tmpfs", "ramfs", "rootfs", "devtmpfs"):
            return d
    return None


def test_file_read_after_drop_caches_gives_major_faults_on_that_file():
    d = block_backed_dir()
    if not d:
        pytest.skip("no block-backed filesystem here: dropped pages would not need I/O")
    pages = 256 if GUEST else 1024
    path = os.path.join(d, "vigil-mem-" + uuid.uuid4().hex[:12])
    with open(path, "wb") as f:
        f.write(os.urandom(pages * PAGE))
    try:
        os.sync()
        w = Work("file", path)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        with Tracer("mem", "-p", str(w.pid), "--top", "0") as t:
            done = w.go()
            assert done and int(done[1]) == pages, done
            assert t.stop() == 0
            recs = t.records()
        w.end()
    finally:
        os.unlink(path)
    rows = [r for r in final_rows(recs, "mem_faults", w.pid) if r["kind"] == "file" and
            r["mapping"] == path]
    assert len(rows) == 1, final_rows(recs, "mem_faults", w.pid)
    r = rows[0]
    # MADV_RANDOM: no read-ahead, so every page read is a fault that waits for the disk
    assert pages * 0.9 <= r["major"] <= r["faults"] <= pages + SLACK, r
    assert r["ino"] == os.stat(d).st_ino or r["ino"] > 0


def test_100mb_allocated_and_touched_show_as_100mb_of_anon_rss_growth():
    mb = 32 if GUEST else 100
    w = Work("anon", mb * (1 << 20) // PAGE)
    with Tracer("mem", "-e", "rss", "-p", str(w.pid), "--top", "0") as t:
        w.go()
        assert t.stop() == 0
        recs = t.records()
    w.end()
    rows = final_rows(recs, "mem_rss", w.pid)
    assert len(rows) == 1, recs
    r = rows[0]
    # the kernel's counters are per-CPU batched: at most a few hundred KiB off
    assert abs(r["anon_bytes"] - mb * (1 << 20)) <= 1 << 20, r
    assert r["growth_bytes"] >= r["anon_bytes"] and r["file_bytes"] >= 0 and r["swap_bytes"] == 0, r
    assert r["rss_anon_bytes"] >= mb * (1 << 20) - (1 << 20), r


# ---- OOM kills ------------------------------------------------------------------------

def memory_controller():
    """(mount, 'v1' | 'v2') of the memory controller, from /proc/self/mountinfo."""
    v2 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fs, _, sopts = post.split()[:3]
            mnt = pre.split()[4]
            if fs == "cgroup" and "memory" in sopts.split(","):
                return mnt, "v1"
            if fs == "cgroup2" and not v2:
                v2 = mnt
    if v2:
        with open(os.path.join(v2, "cgroup.controllers")) as f:
            if "memory" in f.read().split():
                return v2, "v2"
    return None, None


@pytest.fixture
def oom_cgroup():
    """A memory cgroup limited to 32 MiB without swap: (path below its mount, limit, procs file)."""
    mnt, ver = memory_controller()
    if not mnt:
        pytest.skip("no memory controller mounted")
    name = "vigil-oom-" + uuid.uuid4().hex[:10]
    path = os.path.join(mnt, name)
    limit = 32 << 20
    if ver == "v2":
        with open(os.path.join(mnt, "cgroup.subtree_control")) as f:
            enabled = "memory" in f.read().split()
        if not enabled:
            with open(os.path.join(mnt, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")
    os.mkdir(path)
    try:
        if ver == "v1":
            with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
                f.write(str(limit))
            if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
                with open(os.path.join(path, "memory.memsw.limit_in_bytes"), "w") as f:
                    f.write(str(limit))
        else:
            with open(os.path.join(path, "memory.max"), "w") as f:
                f.write(str(limit))
            if os.path.exists(os.path.join(path, "memory.swap.max")):
                with open(os.path.join(path, "memory.swap.max"), "w") as f:
                    f.write("0")
        yield "/" + name, limit, os.path.join(path, "cgroup.procs")
    finally:
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.1)


def mark_victim_has_task():
    """Whether this kernel's oom:mark_victim carries the victim's memory (6.8+), from tracefs."""
    fmt = "/sys/kernel/tracing/events/oom/mark_victim/format"
    if not os.path.exists(fmt):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"],
                       capture_output=True)
    with open(fmt) as f:
        return "anon_rss" in f.read()


def kernel_kill_line(pid, timeout=10):
    """The kernel's own 'Killed process PID (comm) ...' line, as a dict of its kB fields."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        m = None
        for m in re.finditer(rf"Killed process {pid} \((\S+)\) total-vm:(\d+)kB, anon-rss:(\d+)kB, "
                             r"file-rss:(\d+)kB, shmem-rss:(\d+)kB, UID:(\d+) pgtables:(\d+)kB "
                             r"oom_score_adj:(-?\d+)", out):
            pass
        if m:
            return {"comm": m[1], "total_vm_kb": int(m[2]), "anon_rss_kb": int(m[3]),
                    "file_rss_kb": int(m[4]), "shmem_rss_kb": int(m[5]), "uid": int(m[6]),
                    "pgtables_kb": int(m[7]), "oom_score_adj": int(m[8])}
        time.sleep(0.1)
    return None


def oom_kill(t, oom_cgroup):
    """memwork in the limited cgroup, past its limit: its kill as vigil reported it."""
    cg, limit, procs = oom_cgroup
    w = Work("oom", 4 * limit >> 20, cgroup_procs=procs)
    w.go()
    assert w.proc.wait(timeout=120) == -signal.SIGKILL
    recs = t.wait_records(lambda rs: any(r["type"] == "oom_kill" for r in rs))
    kills = [r for r in recs if r["type"] == "oom_kill"]
    assert len(kills) == 1, kills
    return w, kills[0]


def check_kill(k, w, oom_cgroup):
    cg, limit, _ = oom_cgroup
    assert OOM_KEYS <= set(k), k
    # the victim, and the task whose charge failed: the same single-threaded process
    assert k["pid"] == w.pid and k["victim_tid"] == w.pid and k["comm"] == "memwork", k
    assert k["trigger_pid"] == w.pid and k["trigger_comm"] == "memwork", k
    # the memory cgroup at its limit, found by walking up from the victim's
    assert k["scope"] == "memcg" and k["memcg"] == cg and k["limit_memcg"] == cg, k
    assert k["limit_bytes"] == limit and k["usage_bytes"] >= limit - (4 << 20), k
    assert k["anon_rss_kb"] >= (limit >> 10) // 2, k
    if mark_victim_has_task():
        assert k["tracepoint_args"] == "task" and k["victim_source"] == "mark_victim", k
    else:
        # 6.1: the tracepoint has only the pid; the victim comes from the killer's SIGKILL
        assert k["tracepoint_args"] == "pid" and k["victim_source"] == "signal_generate", k
    assert k["missing"] == [], k
    # the same numbers as the kernel's own log line of this kill
    line = kernel_kill_line(w.pid)
    assert line, "no 'Killed process' line in the kernel log"
    if line:
        for key in ("anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "pgtables_kb", "total_vm_kb",
                    "oom_score_adj"):
            assert k[key] == line[key], (key, k, line)
        assert k["comm"] == line["comm"]


def test_oom_kill_in_a_limited_memory_cgroup_names_victim_cgroup_and_limit(oom_cgroup):
    with Tracer("mem", "-e", "oom") as t:
        w, k = oom_kill(t, oom_cgroup)
        assert t.stop() == 0
        # what the kernel's tracepoint lacks is said, and only where it lacks it
        said = "has only the victim's pid" in t.stderr()
        assert said == (not mark_victim_has_task()), t.stderr()
    check_kill(k, w, oom_cgroup)


def test_oomkill_of_libbpf_tools_needs_a_kprobe_and_vigil_reports_the_kill(oom_cgroup):
    if not os.path.exists("/usr/sbin/oomkill"):
        pytest.skip("no /usr/sbin/oomkill here (libbpf-tools: scripts/deps.sh test)")
    anchor = subprocess.Popen(["/usr/sbin/oomkill"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    kprobes = os.path.exists("/sys/kernel/tracing/kprobe_events") or \
        os.path.exists("/sys/kernel/debug/tracing/kprobe_events")
    try:
        if not kprobes:
            # it hooks oom_kill_process with a kprobe: this kernel has none
            out, err = anchor.communicate(timeout=60)
            assert anchor.returncode != 0, (out, err)
            assert re.search(r"kprobe|attach|failed", err + out, re.I), (out, err)
        else:
            time.sleep(2)
            assert anchor.poll() is None, anchor.communicate()
        with Tracer("mem", "-e", "oom") as t:
            w, k = oom_kill(t, oom_cgroup)
            assert t.stop() == 0
        check_kill(k, w, oom_cgroup)
        if kprobes:
            time.sleep(1)
            anchor.send_signal(signal.SIGINT)
            out, _ = anchor.communicate(timeout=30)
            # "... OOM kill of PID 123 ("memwork"), ..."
            victims = [int(v) for v in re.findall(r"OOM kill of PID (\d+)", out)]
            assert victims == [w.pid], out
    finally:
        if anchor.poll() is None:
            anchor.kill()
            anchor.wait()


def test_oom_filters_run_on_the_victim(oom_cgroup):
    """-c with another comm: the kill is filtered out in the kernel, nothing is received."""
    with Tracer("mem", "-e", "oom", "-c", "nosuchcomm") as t:
        cg, limit, procs = oom_cgroup
        w = Work("oom", 4 * limit >> 20, cgroup_procs=procs)
        w.go()
        assert w.proc.wait(timeout=120) == -signal.SIGKILL
        time.sleep(0.5)
        assert t.stop() == 0
        recs = t.records()
    assert not [r for r in recs if r["type"] == "oom_kill"]
    lost = [r for r in recs if r["type"] == "lost" and r["final"]]
    assert lost and lost[0]["received"] == 0 and lost[0]["lost"] == 0


# ---- the agent ----------------------------------------------------------------------------

def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def metric(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[len(name):line.rfind("}") + 1]))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_agent_exports_faults_and_oom_kills(tmp_path, oom_cgroup):
    port = free_port()
    events = tmp_path / "events.json"
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""
outputs:
  events: {events}
metrics:
  listen: 127.0.0.1:{port}
features:
  mem:
    comm: memwork
    interval: 200ms
""")
    err = open(tmp_path / "err", "w")
    ag = subprocess.Popen([VIGIL, "agent", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                          stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "attached" not in (tmp_path / "err").read_text():
            assert ag.poll() is None and time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.05)
        n = 400 if GUEST else 2000
        w = Work("anon", n)
        w.go()
        w.end()
        cg, limit, procs = oom_cgroup
        o = Work("oom", 4 * limit >> 20, cgroup_procs=procs)
        o.go()
        assert o.proc.wait(timeout=120) == -signal.SIGKILL
        deadline = time.monotonic() + 30
        while True:
            text = scrape(port)
            minor = metric(text, "vigil_mem_page_faults_total", feature="mem", kind="minor",
                           container="(host)")
            kills = metric(text, "vigil_mem_oom_kills_total", feature="mem", scope="memcg",
                           memcg=cg)
            if minor is not None and minor >= 2 * n and kills == 1:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        # two memwork processes: the anon pages of one, at least the pages the other
        # touched before its kill; the counters do not drop when they exit
        assert metric(text, "vigil_mem_page_faults_total", feature="mem", kind="major",
                      container="(host)") is not None
        assert "vigil_mem_rss_bytes" not in text  # opt-in only
    finally:
        ag.send_signal(signal.SIGINT)
        assert ag.wait(timeout=30) == 0
        err.close()
    recs = parse_ndjson(events.read_text())
    assert [r["pid"] for r in recs if r["type"] == "oom_kill"] == [o.pid]


# ---- usage and teardown ---------------------------------------------------------------------

@pytest.mark.parametrize("args,why", [
    (["-e", "faults,bogus"], "invalid event kind 'bogus'"),
    (["-e", ""], "invalid event kind"),
    (["--max-maps", "0"], "max-maps"),
    (["-e", "oom", "--kernel"], "--kernel"),
    (["-e", "rss", "--min-faults", "3"], "--min-faults"),
    (["--mechanism", "nope"], "nope"),
    (["--top", "x"], "top"),
])
def test_bad_input_exits_2_and_loads_nothing(args, why):
    r = run("mem", *args, "--duration", "1")
    assert r.returncode == 2, r
    assert why in r.stderr, r.stderr
    assert "attached" not in r.stderr
    assert wait_progs_gone(PROGS, timeout=1) == []


def test_sigkill_leaves_nothing_loaded():
    t = Tracer("mem", "-e", "faults,oom,rss", "--kernel").start()
    try:
        t.proc.send_signal(signal.SIGKILL)
        t.proc.wait(timeout=30)
    finally:
        t.__exit__()
    assert wait_progs_gone(PROGS) == []
    out = subprocess.run(["bpftool", "-j", "link", "show"], capture_output=True, text=True).stdout
    assert not [l for l in json.loads(out or "[]") if "mem_" in str(l.get("prog_name", ""))]


def test_table_output_and_verbose_cost_per_program():
    n = 300
    w = Work("anon", n)
    with Tracer("mem", "-v", "-p", str(w.pid), "-e", "faults,rss", json_out=False) as t:
        w.go()
        assert t.stop() == 0
        out, err = t.output(), t.stderr()
    w.end()
    assert "PID COMM" in out and "MAPPING" in out and "GROWTH_KB" in out, out
    m = re.search(r"cost: 'mem_fault_user' ran (\d+) times, \d+ ns in all, (\d+) ns per run", err)
    assert m and int(m[1]) >= n, err
    row = [l for l in out.splitlines() if re.match(rf"\s*{w.pid}\s+memwork\s+\d+", l) and " anon " in l]
    assert row and int(row[-1].split()[2]) >= n, out
