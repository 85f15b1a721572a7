"""deploy/: the systemd unit verifies, the configs load, the image builds and runs."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, VIGIL, run, token

DEPLOY = os.path.join(ROOT, "deploy")
# the kernel guests carry tests/ and docs/, not deploy/: nothing here is about the kernel
pytestmark = pytest.mark.skipif(not os.path.isdir(DEPLOY), reason="no deploy/ directory here")


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


def test_image_runs_as_the_daemonset_runs_it_and_is_scraped(tmp_path):
    """The DaemonSet's capabilities (not privileged) and mounts, host pid namespace, scraped."""
    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.skip("podman and runc are not installed (scripts/deps.sh test)")
    yaml = pytest.importorskip("yaml")
    import socket
    import time
    import urllib.request
    from conftest import wait_progs_gone
    spec = yaml.safe_load(open(os.path.join(DEPLOY, "daemonset.yaml")))["spec"]["template"]["spec"]
    ctr = spec["containers"][0]
    caps = ctr["securityContext"]["capabilities"]["add"]
    assert ctr["securityContext"]["privileged"] is False
    vols = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    mounts = []
    for m in ctr["volumeMounts"]:
        if m["name"] in vols and os.path.exists(vols[m["name"]]):
            mounts += ["-v", f"{vols[m['name']]}:{m['mountPath']}" + (":ro" if m.get("readOnly") else "")]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    (tmp_path / "agent.yaml").write_text(f"metrics:\n  listen: 127.0.0.1:{port}\nfeatures:\n  proc: {{exec-only: true}}\n")
    podman = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    tag, name = f"localhost/vigil-e2e:{token()}", f"vigil-e2e-{token()}"
    try:
        r = subprocess.run(podman + ["build", "-f", os.path.join(DEPLOY, "Containerfile"), "-t", tag, ROOT],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(podman + ["run", "-d", "--name", name, "--pid=host", "--network=host",
                                     "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                                     "--cap-drop", "all", "--cap-add", ",".join(caps), *mounts,
                                     "-v", f"{tmp_path}:/etc/vigil:ro", tag,
                                     *ctr["args"]], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 30
        body = ""
        while time.monotonic() < deadline:
            subprocess.run(["/bin/true"])
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                if 'vigil_proc_events_total{feature="proc",type="exec"} 0' not in body and "vigil_proc_events_total" in body:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        logs = subprocess.run(podman + ["logs", name], capture_output=True, text=True).stderr
        assert "vigil_build_info" in body, logs
        execs = [l for l in body.splitlines() if l.startswith('vigil_proc_events_total{feature="proc",type="exec"}')]
        assert execs and float(execs[0].split()[1]) >= 1, body
    finally:
        subprocess.run(podman + ["rm", "-f", "-t", "0", name], capture_output=True)
        subprocess.run(podman + ["rmi", "-f", tag], capture_output=True)
    # the container was killed: nothing of it stays loaded
    assert wait_progs_gone(["proc_exec"]) == []
