"""deploy/: the systemd unit verifies, the configs load, the image builds and runs."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, VIGIL, run, token

DEPLOY = os.path.join(ROOT, "deploy")


def test_systemd_unit_verifies(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "vigil.service"
    text = open(os.path.join(DEPLOY, "vigil.service")).read()
    assert "ProtectSystem=strict" in text and "CapabilityBoundingSet=" in text
    unit.write_text(text.replace("/usr/bin/vigil", VIGIL))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_example_configs_are_valid(tmp_path):
    r = run("agent", "--config", os.path.join(DEPLOY, "agent.yaml"), "--check")
    assert r.returncode == 0, r.stderr
    # the ConfigMap's embedded config too
    yaml = pytest.importorskip("yaml")
    cm = yaml.safe_load(open(os.path.join(DEPLOY, "configmap.yaml")))
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(cm["data"]["agent.yaml"])
    r = run("agent", "--config", str(cfg), "--check")
    assert r.returncode == 0, r.stderr
    ds = yaml.safe_load(open(os.path.join(DEPLOY, "daemonset.yaml")))
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] is True
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert {"/sys/fs/bpf", "/sys/kernel/btf", "/sys/fs/cgroup"} <= set(mounts)
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "config", os.path.join(DEPLOY, "prometheus.yml")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_image_from_scratch_builds_and_runs():
    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.skip("podman and runc are not installed (scripts/deps.sh test)")
    podman = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    tag = f"localhost/vigil-e2e:{token()}"
    try:
        r = subprocess.run(podman + ["build", "-f", os.path.join(DEPLOY, "Containerfile"), "-t", tag, ROOT],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(podman + ["run", "--rm", "--ulimit", "nofile=20000:20000",
                            "--ulimit", "nproc=4096:4096", tag, "--version"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("vigil ")
    finally:
        subprocess.run(podman + ["rmi", "-f", tag], capture_output=True)
