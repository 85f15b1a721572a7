"""Harness self-test: proves the kernel matrix can boot, run and collect without vigil.

Runs tests/kernels/selftest/standin (a static libbpf program, built by mk/kernels.mk) once per
attach mechanism. A mechanism the kernel refuses is a skip with the kernel's reason, unless the
harness told the guest to expect it (VIGIL_EXPECT, from tests/kernels/kernels.conf): then it fails.
"""
import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
STANDIN = os.environ.get("STANDIN", os.path.join(ROOT, "build", "kernels", "selftest", "standin"))
EXPECT = {m for m in os.environ.get("VIGIL_EXPECT", "").split(",") if m}


def run_standin(mech):
    if not os.path.exists(STANDIN):
        pytest.fail(f"stand-in binary '{STANDIN}' is missing (make -f mk/kernels.mk standin)")
    p = subprocess.run([STANDIN, mech], capture_output=True, text=True, timeout=120)
    try:
        rec = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"standin {mech}: no JSON on stdout (rc {p.returncode}): {p.stderr.strip()}")
    return p.returncode, rec


def test_tracepoint_runs():
    rc, rec = run_standin("tp")
    assert rc == 0, rec
    assert rec["hits"] >= 10, rec


@pytest.mark.parametrize("mech", ["kprobe", "fentry", "lsm"])
def test_optional_mechanism(mech):
    rc, rec = run_standin(mech)
    if rc == 3 and mech not in EXPECT:
        pytest.skip(f"kernel lacks {mech}: {rec['error']}")
    assert rc == 0, rec
    assert rec["hits"] > 0, rec
