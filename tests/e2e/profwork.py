"""profile's workload (tests/workloads/profwork.c): known hot functions, with frame pointers."""
import os
import subprocess

from conftest import ROOT

PROFWORK = os.path.join(ROOT, "build", "tests", "workloads", "profwork")
GUEST = bool(os.environ.get("VIGIL_GUEST"))


def start(mode, secs):
    """profwork MODE SECS, running; returns (Popen, pid of the spinning process)."""
    p = subprocess.Popen([PROFWORK, mode, str(secs)], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready "), line
    return p, int(line.split()[1])


def stacks(recs, pid=None, final=True):
    return [r for r in recs if r["type"] == "profile_stack" and r["final"] == final
            and (pid is None or r["pid"] == pid)]


def leaf(r):
    """The frame on top: the kernel's innermost, else the user's."""
    return (r["kstack"] or r["ustack"] or [None])[-1]


def shares(stks):
    """self share of each leaf frame, in percent"""
    total = sum(r["count"] for r in stks)
    out = {}
    for r in stks:
        out[leaf(r)] = out.get(leaf(r), 0) + r["count"]
    return {k: 100.0 * v / total for k, v in out.items()}, total
