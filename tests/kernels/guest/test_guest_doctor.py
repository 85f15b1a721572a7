"""Guest-only: vigil's own feature check must agree with what the guest kernel offers."""
import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("VIGIL_GUEST") != "1", reason="guest-only check")
EXPECT = {m for m in os.environ.get("VIGIL_EXPECT", "").split(",") if m}


def test_doctor_reports_expected_mechanisms():
    """vigil's own feature check must see what these kernels offer (the host lacks all three).

    Relies only on the JSON contract documented in docs/doctor.md (and pinned by tests/e2e/test_doctor.py):
    {"type": "doctor", "mechanisms": {NAME: {"available": bool, "reason": str, ...}}}.
    """
    want = sorted(EXPECT & {"kprobe", "fentry", "lsm"})
    if not want:
        pytest.skip("this kernel is not expected to offer kprobe, fentry or lsm")
    vigil = os.environ.get("VIGIL", "/vigil/build/vigil")
    if not os.access(vigil, os.X_OK):
        pytest.fail(f"no vigil binary at '{vigil}'")
    r = subprocess.run([vigil, "doctor", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["type"] == "doctor"
    missing = {m: doc["mechanisms"][m].get("reason", "") for m in want if doc["mechanisms"][m]["available"] is not True}
    assert not missing, f"doctor reports unavailable: {missing}"
