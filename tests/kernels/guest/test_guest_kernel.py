"""Guest-only checks: run inside the kernel-matrix guests, never on the host.

They pin down what the guest kernels must offer, so a guest that silently lost a feature (a
Debian config change, a missing lsm= argument) fails here instead of turning vigil's tests into
skips. VIGIL_EXPECT comes from tests/kernels/kernels.conf through the kernel command line.
"""
import os

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("VIGIL_GUEST") != "1", reason="guest-only check")
EXPECT = {m for m in os.environ.get("VIGIL_EXPECT", "").split(",") if m}


def test_bpf_lsm_active():
    if "lsm" not in EXPECT:
        pytest.skip("this kernel is not expected to offer the BPF LSM")
    with open("/sys/kernel/security/lsm") as f:
        assert "bpf" in f.read().strip().split(",")


def test_btf_present():
    assert os.path.exists("/sys/kernel/btf/vmlinux")


def test_kprobes_available():
    if "kprobe" not in EXPECT:
        pytest.skip("this kernel is not expected to offer kprobes")
    assert os.path.exists("/sys/kernel/tracing/kprobe_events")

