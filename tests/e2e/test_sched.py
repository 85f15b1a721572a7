"""vigil sched: run-queue latency, off-CPU time by state and context switches,
against workloads whose size the test knows (tests/workloads/sched_work.c)."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import ROOT, Tracer, free_port, run, scrape_values, wait_progs_gone

WORK = os.path.join(ROOT, "build", "tests", "workloads", "sched_work")
GUEST = os.environ.get("VIGIL_GUEST") == "1"
PROGS = ["sched_wakeup", "sched_wakeup_new", "sched_switch", "sched_migrate"]


class Work:
    """sched_work MODE ARGS: blocked on stdin until go(), then again until end()."""

    def __init__(self, *args):
        self.p = subprocess.Popen([WORK, *map(str, args)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.p.stdout.readline().decode()
        assert line.startswith("pid "), line
        self.pid = int(line.split()[1])
        self.wait_blocked()

    def wait_blocked(self):
        """Until the process sleeps in its read of stdin."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(f"/proc/{self.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{self.pid}/wchan") as f:
                wchan = f.read()
            if state == "S" and "pipe" in wchan:
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.pid} never blocked on stdin")

    def go(self):
        self.p.stdin.write(b"g")
        self.p.stdin.flush()

    def output(self):
        """The lines up to "done"; then it is blocked on stdin again."""
        lines = []
        while True:
            line = self.p.stdout.readline().decode()
            assert line, f"workload ended early: {self.p.stderr.read()}"
            if line.strip() == "done":
                break
            lines.append(line.split())
        self.wait_blocked()
        return lines

    def end(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=30) == 0

    def status(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == key:
                    return int(v)
        raise AssertionError(key)


def final(recs, type_, scope, **match):
    rows = [r for r in recs if r["type"] == type_ and r["final"] and r["scope"] == scope
            and all(r.get(k) == v for k, v in match.items())]
    assert len(rows) == 1, (type_, scope, match, [r for r in recs if r["type"] == type_])
    return rows[0]


def traced(work, *args):
    """vigil sched ARGS around the measured part of work; its records."""
    with Tracer("sched", *map(str, args)) as tr:
        work.go()
        out = work.output()
        assert tr.stop() == 0, tr.stderr()
        recs = tr.records()
    return out, recs


def test_two_spinners_on_one_cpu_wait_as_long_as_they_were_kept_off():
    ms = 300 if GUEST else 1000
    w = Work("spin2", 0, ms)
    out, recs = traced(w, "-p", w.pid, "--threads", "-P")
    w.end()
    mine = {int(l[1]): (int(l[3]), int(l[5])) for l in out if l[0] == "tid"}
    assert len(mine) == 2, out
    for tid, (cpu, wall) in mine.items():
        row = final(recs, "sched_stat", "thread", tid=tid)
        # pinned and never sleeping: every moment not on the CPU was spent runnable
        kept_off = wall - cpu
        assert kept_off > wall // 4, (tid, cpu, wall)
        assert abs(row["runq_ns"] - kept_off) <= 0.10 * kept_off + 5_000_000, (row, kept_off)
        assert row["invol"] >= 2 and row["runq_n"] >= 2, row
        # the thread's histogram holds the same waits
        h = final(recs, "sched_hist", "thread", tid=tid)
        assert h["count"] == row["runq_n"] and h["total_ns"] == row["runq_ns"]
        assert sum(b["count"] for b in h["buckets"]) == h["count"]
    # each waits about as long as the other runs: the two waits are alike
    waits = [final(recs, "sched_stat", "thread", tid=t)["runq_ns"] for t in mine]
    assert min(waits) >= 0.5 * max(waits), waits


def slept_ns(out):
    """The wall time the workload's sleeps took, as it measured them."""
    return int(next(l[1] for l in out if l[0] == "slept"))


def in_sleep_window(off, want, slept):
    """Off-CPU time of N 10 ms sleeps: at least what was asked (less 5%), at most what the
    sleeps took by the workload's own clock (a late timer under QEMU's TCG or a loaded host
    makes each one longer; the run-queue wait after the wakeup is not in it)."""
    return want * 0.95 <= off <= slept * 1.02 + 1_000_000


def test_sleeping_thread_is_off_cpu_in_s_for_its_sleeps():
    n = 20 if GUEST else 50
    w = Work("sleep", n)
    out, recs = traced(w, "-p", w.pid)
    w.end()
    row = final(recs, "sched_stat", "process", pid=w.pid)
    want, slept = n * 10_000_000, slept_ns(out)
    # S time runs from the switch out to the wakeup (the run-queue wait after it is runq_ns),
    # and a sleep preempted before it blocked (a loaded host) is off the CPU as preempted
    off = row["off_sleep_ns"] + row["off_preempted_ns"]
    assert in_sleep_window(off, want, slept), (off, want, slept, row)
    assert row["off_sleep_ns"] >= want * 0.5, row
    assert row["off_disk_ns"] == 0 and row["off_other_ns"] == 0, row
    # n sleeps, and the block on stdin at the end: voluntary switches
    assert n <= row["vol"] <= n + 3, row


def test_vfork_parent_waits_in_d_for_its_child():
    n = 10 if GUEST else 30
    w = Work("vfork", n)
    out, recs = traced(w, "-p", w.pid)
    w.end()
    vfork_ns = int(next(l[1] for l in out if l[0] == "vfork_ns"))
    row = final(recs, "sched_stat", "process", pid=w.pid)
    # the parent of a vfork waits TASK_KILLABLE (D) while the child sleeps 10 ms and exits:
    # at least the sleeps, at most the time it spent inside vfork() (an emulated guest
    # oversleeps by a third, so the clock around the call is the bound, not the sleeps)
    want = n * 10_000_000
    assert want * 0.95 <= row["off_disk_ns"] <= vfork_ns, (row["off_disk_ns"], want, vfork_ns)


@pytest.fixture
def loopdev(tmp_path):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop driver here to read a block device with O_DIRECT")
    # the disk tests' attach, through ioctls: the guests' busybox losetup has no --find
    from diskwork import loop_attach, loop_detach
    dev = loop_attach(str(img))
    yield dev
    loop_detach(dev)


def test_odirect_reads_show_d_time(loopdev):
    n = 100 if GUEST else 400
    w = Work("odirect", loopdev, n)
    out, recs = traced(w, "-p", w.pid)
    w.end()
    read_ns = int(next(l[1] for l in out if l[0] == "read_ns"))
    row = final(recs, "sched_stat", "process", pid=w.pid)
    # blocked in the loop device's I/O, uninterruptibly; never longer than the reads took
    assert 0 < row["off_disk_ns"] <= read_ns, (row, read_ns)
    assert row["vol"] >= 1


def test_min_shows_only_waits_above_it():
    w = Work("spin2", 0, 300 if GUEST else 600)
    # 2^21 ns is a bucket's low bound: the histogram of a second tracer tells exactly
    # how many waits were at least that long
    low = 1 << 21
    with Tracer("sched", "--min", f"{low}ns", "-p", str(w.pid)) as tr, \
            Tracer("sched", "-P", "-p", str(w.pid)) as th:
        w.go()
        out = w.output()
        assert tr.stop() == 0 and th.stop() == 0, (tr.stderr(), th.stderr())
        recs, hrecs = tr.records(), th.records()
    w.end()
    tids = {int(l[1]) for l in out if l[0] == "tid"}
    waits = [r for r in recs if r["type"] == "sched_wait"]
    for r in waits:
        assert r["delay_ns"] >= low, r
        # the spinners on CPU 0, or the main thread that made them there
        assert r["pid"] == w.pid and r["tid"] in tids | {w.pid} and r["cpu"] == 0, r
    # two CPU hogs on one CPU wait whole time slices, some of them over 2 ms
    assert [r for r in waits if r["tid"] in tids], waits
    h = final(hrecs, "sched_hist", "process", pid=w.pid)
    # the two tracers time each wait with their own clock reads, a few microseconds apart
    # (their programs run one after the other), so a wait that close to the bound may fall
    # on either side of it in the two; every other wait is counted by both alike
    above = sum(b["count"] for b in h["buckets"] if b["low"] >= low)
    near = sum(1 for r in waits if r["delay_ns"] < low + 200_000)
    assert abs(len(waits) - above) <= max(1, near), (len(waits), above, near, h)
    assert any(b["count"] for b in h["buckets"] if b["low"] < low), h
    assert not [r for r in recs if r["type"] in ("sched_hist", "sched_stat")]


def test_pipe_ping_pong_switches_match_proc_status():
    n = 2000 if GUEST else 20000
    w = Work("pingpong", n)
    v0, i0 = w.status("voluntary_ctxt_switches"), w.status("nonvoluntary_ctxt_switches")
    out, recs = traced(w, "-p", w.pid)
    v1, i1 = w.status("voluntary_ctxt_switches"), w.status("nonvoluntary_ctxt_switches")
    w.end()
    row = final(recs, "sched_stat", "process", pid=w.pid)
    # the kernel's own counters over the same span: exact
    assert row["vol"] == v1 - v0, (row, v0, v1)
    assert row["invol"] == i1 - i0, (row, i0, i1)
    assert row["vol"] >= n // 2, row
    host = final(recs, "sched_stat", "host")
    assert host["vol"] >= row["vol"] and host["runq_n"] >= row["runq_n"]


def runqlat_hist(text):
    """runqlat's usecs histogram: {low: count}."""
    out = {}
    for m in re.finditer(r"^\s*(\d+) -> (\d+)\s*: (\d+)", text, re.M):
        out[int(m.group(1))] = int(m.group(3))
    return out


def mean_of(buckets):
    """A mean from log2 buckets (midpoints): enough to compare two tools' distributions."""
    n = sum(c for _, _, c in buckets)
    return sum((lo + hi) / 2 * c for lo, hi, c in buckets) / n


def test_side_by_side_with_runqlat():
    if not os.access("/usr/sbin/runqlat", os.X_OK):
        # the kernel matrix's guests do not carry libbpf-tools; the host runs this
        pytest.skip("no /usr/sbin/runqlat here (Debian package libbpf-tools)")
    w = Work("pingpong", 2000 if GUEST else 20000)
    rq = subprocess.Popen(["stdbuf", "-oL", "/usr/sbin/runqlat", "-p", str(w.pid)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = rq.stdout.readline()
        assert "Tracing" in line, (line, rq.stderr.read() if rq.poll() is not None else "")
        _, recs = traced(w, "-p", w.pid)
    finally:
        rq.send_signal(signal.SIGINT)
        text = rq.communicate(timeout=60)[0]
    w.end()
    theirs = runqlat_hist(text)
    assert theirs, text
    mine = final(recs, "sched_hist", "host")
    row = final(recs, "sched_stat", "process", pid=w.pid)
    # vigil started after runqlat and stopped before it, around the same activity:
    # the same waits of this process
    assert row["runq_n"] == sum(theirs.values()), (row, theirs)
    assert mine["count"] >= row["runq_n"]
    # similar distributions: means from the buckets within a factor of 2
    ours = final(recs, "sched_stat", "process", pid=w.pid)["runq_avg_ns"] / 1000
    est = mean_of([(lo, lo * 2 - 1 if lo else 1, c) for lo, c in theirs.items()])
    assert est / 2 <= ours <= est * 2 + 2, (ours, est, theirs)


def test_cpu_filter_counts_only_that_cpu():
    w = Work("spin2", 1, 300)
    with Tracer("sched", "-p", str(w.pid), "--threads", "--cpu", "0") as t0, \
            Tracer("sched", "-p", str(w.pid), "--threads", "--cpu", "1") as t1:
        w.go()
        out = w.output()
        assert t0.stop() == 0 and t1.stop() == 0, (t0.stderr(), t1.stderr())
        r0, r1 = t0.records(), t1.records()
    w.end()
    for tid in (int(l[1]) for l in out if l[0] == "tid"):
        # pinned to CPU 1 from its start and kept waiting there; never on CPU 0
        on1 = final(r1, "sched_stat", "thread", tid=tid)
        assert on1["invol"] >= 1 and on1["off_preempted_ns"] > 0 and on1["runq_n"] >= 1, on1
        on0 = [r for r in r0 if r["type"] == "sched_stat" and r.get("tid") == tid]
        assert all(r["invol"] == 0 and r["runq_n"] == 0 for r in on0), on0


def test_per_container_rows_fold_the_host():
    with Tracer("sched", "--per-container", "-i", "300ms") as tr:
        time.sleep(0.8)
        assert tr.stop() == 0, tr.stderr()
        recs = tr.records()
    host = final(recs, "sched_stat", "container", name="(host)")
    total = final(recs, "sched_stat", "host")
    rows = [r for r in recs if r["type"] == "sched_stat" and r["final"] and r["scope"] == "container"]
    # every row is a container or the host; together they are all that was counted
    assert sum(r["vol"] for r in rows) <= total["vol"]
    assert host["vol"] > 0
    ticks = [r for r in recs if r["type"] == "sched_hist" and r["scope"] == "host" and not r["final"]]
    assert ticks and sum(r["count"] for r in ticks) <= final(recs, "sched_hist", "host")["count"]


@pytest.mark.parametrize("args,msg", [
    (["--min", "1ms", "-P"], "--min is an event mode"),
    (["--threads", "--per-container"], "exclude each other"),
    (["--per-cgroup", "--per-container"], "exclude each other"),
    (["--cpu", "9999"], "invalid CPU '9999'"),
    (["--cpu", "x"], "invalid CPU 'x'"),
    (["--min", "2h"], "--min"),
    (["--sort", "bogus"], "invalid sort key 'bogus'"),
    (["--no-rows", "-P"], "--no-rows keeps no rows"),
])
def test_bad_flags_exit_2_and_load_nothing(args, msg):
    r = run("sched", *args, "--duration", "1s")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert msg in r.stderr, r.stderr
    assert "attached" not in r.stderr


def test_sigkill_leaves_nothing_loaded():
    with Tracer("sched", "-P") as tr:
        tr.proc.send_signal(signal.SIGKILL)
        tr.proc.wait()
    assert wait_progs_gone(PROGS) == []


def test_verbose_reports_cost_per_program():
    r = run("sched", "-v", "--duration", "500ms")
    assert r.returncode == 0, r.stderr
    for p in ("sched_switch", "sched_wakeup"):
        m = re.search(rf"cost: '{p}' ran (\d+) times, (\d+) ns in all", r.stderr)
        assert m, r.stderr
    assert int(re.search(r"cost: 'sched_switch' ran (\d+) times", r.stderr).group(1)) > 0


def test_agent_exports_switches_offcpu_and_the_histogram(tmp_path):
    port = free_port()
    n = 2000 if GUEST else 20000
    w = Work("pingpong", n)
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"metrics:\n  listen: 127.0.0.1:{port}\nfeatures:\n"
                   f"  sched:\n    pid: {w.pid}\n    no-rows: true\n")
    err = tmp_path / "err"
    ag = subprocess.Popen([os.path.join(ROOT, "build", "vigil"), "agent", "--config", str(cfg)],
                          stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    try:
        deadline = time.monotonic() + 60
        while "attached" not in err.read_text():
            assert ag.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
        v0 = w.status("voluntary_ctxt_switches")
        w.go()
        w.output()
        v1 = w.status("voluntary_ctxt_switches")
        m = scrape_values(port)
    finally:
        ag.send_signal(signal.SIGINT)
        assert ag.wait(timeout=30) == 0, err.read_text()
        w.end()
    host = 'feature="sched",container="(host)"'
    assert m[f'vigil_sched_context_switches_total{{{host},kind="voluntary"}}'] == v1 - v0, m
    waits = m[f"vigil_sched_runq_latency_seconds_count{{{host}}}"]
    assert waits >= n // 2, m
    # blocked on the pipe: S time, and the histogram's sum is the waits' total
    assert m[f'vigil_sched_offcpu_seconds_total{{{host},state="S"}}'] > 0
    assert 0 < m[f"vigil_sched_runq_latency_seconds_sum{{{host}}}"] < 60
    assert m[f'vigil_bpf_program_runs_total{{feature="sched",program="sched_switch"}}'] > 0


def test_stacks_fold_the_off_cpu_time_of_each_state():
    n = 10 if GUEST else 30
    w = Work("sleep", n)
    _, recs = traced(w, "-p", w.pid, "--stacks")
    w.end()
    row = final(recs, "sched_stat", "process", pid=w.pid)
    stacks = [r for r in recs if r["type"] == "sched_stack" and r["pid"] == w.pid]
    s = [r for r in stacks if r["state"] == "S"]
    # every off-CPU period went to one stack pair: the folded S time is the row's S time
    assert s and sum(r["ns"] for r in s) == row["off_sleep_ns"], (s, row)
    top = max(s, key=lambda r: r["ns"])
    frames = top["folded"].split(";")
    assert frames[0] == "sched_work" and frames[1] == "S", top
    # kernel frames named by vigil profile's symbolizer: where it blocked, through schedule()
    assert "schedule" in frames[2:] and any(f.startswith("entry_SYSCALL_64") for f in frames), top
    assert any("nanosleep" in f for f in frames[2:]), top
    assert top["ns"] >= n * 10_000_000 * 0.9, top


def test_per_cgroup_rows_name_the_cgroup_and_hold_its_tasks(scratch_cgroup, cgroup2_root):
    n = 10 if GUEST else 30
    w = Work("sleep", n)
    with open(os.path.join(scratch_cgroup, "cgroup.procs"), "w") as f:
        f.write(str(w.pid))
    rel = scratch_cgroup[len(cgroup2_root):]
    try:
        out, recs = traced(w, "--per-cgroup", "--cgroup", scratch_cgroup)
    finally:
        w.end()
    row = final(recs, "sched_stat", "cgroup", name=rel)
    # only the workload is in it: its sleeps, and one histogram of its waits
    want, slept = n * 10_000_000, slept_ns(out)
    assert in_sleep_window(row["off_sleep_ns"] + row["off_preempted_ns"], want, slept), (slept, row)
    h = final(recs, "sched_hist", "cgroup", name=rel)
    assert h["count"] == row["runq_n"] >= n, (h, row)
    assert row["cgroup_id"] == os.stat(scratch_cgroup).st_ino
