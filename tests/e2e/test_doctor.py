"""vigil doctor: its report must match what independently checkable facts say."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import run, bpftool_prog_names

MECHS = ["tracepoint", "raw_tp", "tp_btf", "ringbuf", "xdp", "tc", "cgroup", "perf_event",
         "uprobe", "kprobe", "fentry", "lsm", "send_signal"]


@pytest.fixture(scope="module")
def doc():
    r = run("doctor", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_document_shape(doc):
    assert doc["type"] == "doctor"
    assert doc["kernel"]["release"] == os.uname().release
    assert doc["btf"]["present"] is True
    assert doc["privileges"]["root"] is True
    assert set(doc["mechanisms"]) == set(MECHS)
    for name, m in doc["mechanisms"].items():
        assert isinstance(m["available"], bool)
        if not m["available"]:
            assert m["reason"], name
            assert m["stage"] in ("open", "load", "attach", "trigger", "run")


def test_roundtrip_delivers_every_event(doc):
    rt = doc["roundtrip"]
    assert rt["ok"] is True and rt["received"] == rt["sent"] == 20
    assert rt["median_us"] > 0


def test_default_path_mechanisms_work(doc):
    # the tracepoint-based default path is what every command relies on
    for m in ["tracepoint", "raw_tp", "tp_btf", "ringbuf", "xdp", "tc", "cgroup", "perf_event",
              "uprobe", "send_signal"]:
        assert doc["mechanisms"][m]["available"], (m, doc["mechanisms"][m])
        assert doc["mechanisms"][m]["hits"] > 0


def test_kprobe_matches_the_kernel(doc):
    has_pmu = os.path.exists("/sys/bus/event_source/devices/kprobe")
    k = doc["mechanisms"]["kprobe"]
    assert k["available"] == has_pmu
    if not has_pmu:
        assert "CONFIG_KPROBES" in k["reason"] and k["error"] in ("ENOENT", "EOPNOTSUPP")


def _trampolines_work():
    """Ground truth from another tool: bpftrace's kfunc probes are fentry."""
    if not shutil.which("bpftrace"):
        pytest.skip("bpftrace not installed")
    r = subprocess.run(["bpftrace", "-e", "kfunc:vfs_read { exit(); }"], capture_output=True,
                       text=True, timeout=60, input="")
    return r.returncode == 0


def test_fentry_and_lsm_match_the_kernel(doc):
    works = _trampolines_work()
    f, l = doc["mechanisms"]["fentry"], doc["mechanisms"]["lsm"]
    assert f["available"] == works, f
    if not works:
        assert f["stage"] == "load" and f["error"] == "EPERM"
        assert l["available"] is False and l["stage"] == "load"
    lsm_on = "bpf" in doc["lsm"]
    if not lsm_on:
        assert l["available"] is False and "bpf LSM is not active" in l["reason"]


def test_commands_section(doc):
    assert doc["commands"]["proc"]["runnable"] is True
    assert "tp_btf" in doc["commands"]["proc"]["uses"]


def test_doctor_leaves_nothing_behind(doc):
    names = bpftool_prog_names()
    assert not [n for n in names if n.startswith("probe_")]
    qd = subprocess.run(["tc", "filter", "show", "dev", "lo", "ingress"], capture_output=True, text=True)
    assert "probe_tc" not in qd.stdout
    link = subprocess.run(["ip", "link", "show", "lo"], capture_output=True, text=True).stdout
    assert "xdp" not in link


def test_table_mode():
    r = run("doctor", timeout=120)
    assert r.returncode == 0
    assert "MECHANISM" in r.stdout and "round trip" in r.stdout and "COMMAND" in r.stdout
