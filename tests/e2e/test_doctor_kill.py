"""vigil doctor killed mid-probe must leave the host as it found it.

A probe changes the host while it runs: a clsact qdisc and a filter on 'lo',
a cgroup program, a uprobe. SIGINT or SIGTERM at any point, and SIGKILL, must
leave no qdisc or filter on the host's 'lo', no vigil-probe cgroup directory,
no vigil program loaded and no "leaking uprobe" kernel message.

The kill points come from doctor's own timeline: one calibration run with -v
gives the moment each probe starts ("doctor: probing 'tc'"), and each kill
lands at a fraction of a probe's measured length after that probe's line, so
every probe is hit at its start, middle and end whatever the machine's speed.
A binary without those lines (older versions) is killed on a grid of times
across its measured run instead.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import ROOT, VIGIL, bpftool_prog_names, cgroup2_mount, run

ANCHOR = re.compile(r"^vigil: doctor: (?:probing '([\w]+)'|probing the mechanism of '([\w]+)'|probes (done))")
# the probes that change the host beyond fd-owned objects, and their neighbours
HOST_STATE = ("xdp", "tc", "cgroup", "perf_event", "uprobe")
LEAK = "leaking uprobe"



# doctor loads its probes and the objects of the commands that choose a mechanism
DOCTOR_OBJECTS = ("probe", "filetop")


def vigil_prog_names():
    """Every program doctor can load, as the kernel names them (15 chars)."""
    names = set()
    for o in DOCTOR_OBJECTS:
        obj = os.path.join(ROOT, "build", "bpf", o + ".bpf.o")
        out = subprocess.run(["bpftool", "-j", "btf", "dump", "file", obj], capture_output=True,
                             text=True, check=True).stdout
        for t in json.loads(out)["types"]:
            if t["kind"] == "FUNC" and t.get("linkage") == "global":
                names.add(t["name"][:15])
    assert "probe_tc" in names
    return names


def leak_lines():
    out = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if LEAK in line)


def host_state(names):
    """What a doctor run could leave behind, in comparable form."""
    qd = json.loads(subprocess.run(["tc", "-j", "qdisc", "show", "dev", "lo"], capture_output=True,
                                   text=True, check=True).stdout or "[]")
    flt = json.loads(subprocess.run(["tc", "-j", "filter", "show", "dev", "lo", "ingress"],
                                    capture_output=True, text=True, check=True).stdout or "[]")
    root = cgroup2_mount()
    dirs = sorted(d for d in os.listdir(root) if d.startswith("vigil-probe")) if root else []
    return {
        "clsact": sorted(q["handle"] for q in qd if q["kind"] == "clsact"),
        "filters": sorted(json.dumps(f, sort_keys=True) for f in flt),
        "cgroup_dirs": dirs,
        "progs": sorted(n for n in bpftool_prog_names() if n in names),
        "leaks": leak_lines(),
    }


def wait_state(want, names, timeout=5):
    """Program and namespace teardown is asynchronous: poll until the state is want."""
    deadline = time.monotonic() + timeout
    while True:
        got = host_state(names)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def undo(base, got):
    """Remove what a failing run left, so one failure does not spill into the next."""
    if got["clsact"] and not base["clsact"]:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "clsact"], capture_output=True)
    root = cgroup2_mount()
    for d in set(got["cgroup_dirs"]) - set(base["cgroup_dirs"]):
        try:
            os.rmdir(os.path.join(root, d))
        except OSError:
            pass


class Doctor:
    """vigil doctor -v, its stderr lines timed as they arrive."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([VIGIL, "doctor", "--json", "-v"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.anchors = {}
        self.cond = threading.Condition()
        self.eof = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            m = ANCHOR.match(line)
            if m:
                with self.cond:
                    self.anchors[next(g for g in m.groups() if g)] = time.monotonic()
                    self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_anchor(self, name, timeout=30):
        with self.cond:
            self.cond.wait_for(lambda: name in self.anchors or self.eof, timeout)
            return self.anchors.get(name)

    def finish(self, timeout=60):
        """Wait for doctor and, through EOF on stderr, for every process it started."""
        rc = self.proc.wait(timeout=timeout)
        self.reader.join(timeout)
        assert not self.reader.is_alive(), "a process doctor started is still running"
        return rc


@pytest.fixture(scope="module")
def names():
    return vigil_prog_names()


@pytest.fixture(scope="module")
def timeline():
    """[(anchor, seconds after it to the next anchor)] from one uninterrupted run."""
    d = Doctor()
    rc = d.finish()
    assert rc == 0
    end = time.monotonic()
    order = sorted(d.anchors.items(), key=lambda kv: kv[1])
    if not order:
        return [(None, end - d.t0)]
    return [(a, (order[i + 1][1] if i + 1 < len(order) else end) - t)
            for i, (a, t) in enumerate(order)]


def kill_points(timeline, fractions, only=None):
    if timeline[0][0] is None:
        # no timeline from the binary: a grid over its whole run
        total = timeline[0][1]
        return [(None, total * k / 24) for k in range(1, 24)]
    return [(a, length * f) for a, length in timeline
            if a != "done" and (only is None or a in only) for f in fractions]


def diff(base, got):
    return {k: v for k, v in got.items() if v != base[k]}


def sweep(sig, points, names, next_run=False):
    """Kill at each point; with next_run, a full run follows and must leave the host clean."""
    base = host_state(names)
    assert not base["progs"], f"vigil programs loaded before the test: {base['progs']}"
    bad = []
    for anchor, offset in points:
        d = Doctor()
        at = d.wait_anchor(anchor) if anchor else d.t0
        if at is not None:
            # the kill's timing is the stimulus here, not a wait for a condition
            time.sleep(max(0.0, at + offset - time.monotonic()))
            if d.proc.poll() is None:
                d.proc.send_signal(sig)
        rc = d.finish()
        # killed by the signal, or the kill came after the probes were over
        assert rc in (0, -sig), (anchor, offset, rc)
        got = wait_state(base, names)
        if got != base:
            bad.append((anchor, round(offset, 3), "after the kill", diff(base, got)))
        if next_run:
            r = run("doctor", "--json", timeout=120)
            assert r.returncode == 0, r.stderr
            after = wait_state(base, names)
            if after != base:
                bad.append((anchor, round(offset, 3), "after the next run", diff(base, after)))
            got = after if after != base else got
        undo(base, got)
        base["leaks"] = leak_lines()
    return bad


def test_timeline_covers_every_probe(timeline):
    # the sweep is only as good as its timeline: every probe must have an anchor
    got = {a for a, _ in timeline}
    for m in ["tracepoint", "raw_tp", "tp_btf", "ringbuf", "xdp", "tc", "cgroup", "perf_event",
              "uprobe", "kprobe", "fentry", "lsm", "send_signal", "filetop", "done"]:
        assert m in got, (m, timeline)


def test_sigint_mid_probe_leaves_nothing(timeline, names):
    points = kill_points(timeline, [0.5]) + kill_points(timeline, [0.1, 0.9], HOST_STATE)
    bad = sweep(signal.SIGINT, points, names)
    assert not bad, bad


def test_sigterm_mid_probe_leaves_nothing(timeline, names):
    bad = sweep(signal.SIGTERM, kill_points(timeline, [0.3, 0.7], HOST_STATE), names)
    assert not bad, bad


def test_sigkill_mid_probe_and_the_next_run_leave_nothing(timeline, names):
    bad = sweep(signal.SIGKILL, kill_points(timeline, [0.1, 0.5, 0.9], HOST_STATE), names,
                next_run=True)
    assert not bad, bad


def test_next_run_removes_a_stale_probe_cgroup(names):
    """Older versions made vigil-probe-PID directories that a SIGKILL left behind."""
    root = cgroup2_mount()
    if not root:
        pytest.skip("no cgroup v2 hierarchy mounted")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(root, f"vigil-probe-{dead.pid}")
    os.mkdir(stale)
    try:
        base = host_state(names)
        r = run("doctor", "--json", timeout=120)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["mechanisms"]["cgroup"]["available"] is True
        got = wait_state(dict(base, cgroup_dirs=[d for d in base["cgroup_dirs"]
                                                 if d != os.path.basename(stale)]), names)
        assert os.path.basename(stale) not in got["cgroup_dirs"]
        assert not got["progs"] and got["clsact"] == base["clsact"]
        assert got["leaks"] == base["leaks"]
    finally:
        if os.path.isdir(stale):
            os.rmdir(stale)
