"""vigil containers against live podman (and docker when dockerd runs here).

Images are imported from a local busybox-static rootfs: no registry. Every
container and image a test makes is removed by its fixture.
"""
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import VIGIL, cgroup2_mount, parse_ndjson, run, token

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
# root here lacks CAP_SYS_RESOURCE: podman's default ulimits would fail
ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
DOCKERD = "/usr/sbin/dockerd"
DOCKER = ["/usr/bin/docker", "-H", "unix:///run/vigil-e2e-docker.sock"]


def wait_for(cond, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rootfs_tar(path):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("busybox-static is not installed (scripts/deps.sh test)")
    with tarfile.open(path, "w") as t:
        for d in ("bin", "proc", "sys", "dev", "etc", "tmp"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            t.addfile(info)
        t.add(busybox, "bin/busybox")
        for applet in ("sh", "sleep", "echo", "true", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)


def cgroup2_root():
    root = cgroup2_mount()
    if not root:
        pytest.skip("no cgroup v2 hierarchy mounted")
    return root


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    raise AssertionError(f"pid {pid} has no cgroup v2 path")


def ctr_rows(text):
    return [r for r in parse_ndjson(text) if r.get("type") == "container"]


# ---- podman ----

@pytest.fixture(scope="module")
def podman_image():
    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.skip("podman and runc are not installed (scripts/deps.sh test)")
    name = f"localhost/vigil-e2e-busybox:{token()}"
    with tempfile.TemporaryDirectory(prefix="vigil-e2e-") as d:
        tar = os.path.join(d, "rootfs.tar")
        rootfs_tar(tar)
        subprocess.run(PODMAN + ["import", tar, name], check=True, capture_output=True)
    yield name
    subprocess.run(PODMAN + ["rmi", "-f", name], capture_output=True)


class Podman:
    def __init__(self, image):
        self.image = image
        self.names = []

    def start(self, name):
        r = subprocess.run(PODMAN + ["run", "-d", "--name", name, *ULIMITS, self.image,
                                     "/bin/sleep", "600"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        self.names.append(name)
        cid = r.stdout.strip().splitlines()[-1]
        assert len(cid) == 64
        pid = int(subprocess.run(PODMAN + ["inspect", "-f", "{{.State.Pid}}", name],
                                 capture_output=True, text=True, check=True).stdout)
        return cid, pid

    def remove(self, name):
        subprocess.run(PODMAN + ["rm", "-f", "-t", "0", name], capture_output=True)

    def cleanup(self):
        for n in self.names:
            self.remove(n)


@pytest.fixture
def podman(podman_image):
    p = Podman(podman_image)
    yield p
    p.cleanup()


def test_lists_podman_containers(podman):
    t = token()
    a, b = f"{t}-web", f"{t}-db"
    ida, pida = podman.start(a)
    idb, _ = podman.start(b)
    root = cgroup2_root()
    # the container's own cgroup: its id is the directory's inode
    ino = os.stat(root + cgroup_of(pida)).st_ino

    r = run("containers", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in ctr_rows(r.stdout)}
    assert ida in rows and idb in rows, r.stdout
    for cid, name in ((ida, a), (idb, b)):
        row = rows[cid]
        assert row["runtime"] == "podman"
        assert row["name"] == name and row["name_state"] == "known"
        assert row["exited"] is False
        assert "pod" not in row
    assert rows[ida]["cgroup_id"] == ino
    assert cgroup_of(pida) == f"/libpod_parent/libpod-{ida}"
    assert rows[ida]["cgroup_level"] == 2

    # the table shows the same two
    r = run("containers")
    assert r.returncode == 0
    lines = [l.split() for l in r.stdout.splitlines()[1:]]
    assert [str(ino), "running", "podman", ida[:12], a] in [l[:5] for l in lines]


def test_container_filter(podman):
    t = token()
    a, b = f"{t}-one", f"{t}-two"
    ida, _ = podman.start(a)
    idb, _ = podman.start(b)

    r = run("containers", "--json", "--container", f"{a},{idb[:12]}")
    assert r.returncode == 0, r.stderr
    assert sorted(row["id"] for row in ctr_rows(r.stdout)) == sorted([ida, idb])
    r = run("containers", "--json", "--container", b)
    assert [row["name"] for row in ctr_rows(r.stdout)] == [b]

    # an unknown name is a usage error that lists what runs
    r = run("containers", "--container", f"{t}-nope")
    assert r.returncode == 2
    assert f"unknown container '{t}-nope'" in r.stderr
    assert f"{a} (podman {ida[:12]})" in r.stderr and f"{b} (podman {idb[:12]})" in r.stderr
    r = run("containers", "--json", "--container", f"{t}-nope")
    assert r.returncode == 2
    errs = [x for x in parse_ndjson(r.stdout) if x.get("type") == "error"]
    assert errs and f"{t}-nope" in errs[0]["message"]


def test_lazy_lookup_by_id(podman):
    """An id the start-up scan never saw is found through its file handle."""
    t = token()
    name = f"{t}-lazy"
    cid, pid = podman.start(name)
    ino = os.stat(cgroup2_root() + cgroup_of(pid)).st_ino

    r = run("containers", "--json", "--no-scan", "--stats", "--lookup", f"{ino},1")
    assert r.returncode == 0, r.stderr
    recs = parse_ndjson(r.stdout)
    rows = ctr_rows(r.stdout)
    assert len(rows) == 1 and rows[0]["id"] == cid and rows[0]["name"] == name
    assert rows[0]["cgroup_id"] == ino
    assert {"type": "lookup", "cgroup_id": 1, "result": "not a container"} in recs
    stats = [x for x in recs if x["type"] == "container_stats"][0]
    assert stats["lazy_handle"] == 2 and stats["lazy_rescan"] == 0
    assert stats["lookup_pending"] == 1 and stats["lookup_host"] == 1
    assert stats["containers"] == 1


def test_exited_container_is_kept_then_forgotten(podman):
    t = token()
    keep, short = f"{t}-keep", f"{t}-short"
    podman.start(keep)
    retain_ns = 2_000_000_000
    with tempfile.TemporaryDirectory(prefix="vigil-e2e-") as d:
        out, err = os.path.join(d, "out"), os.path.join(d, "err")
        with open(err, "w") as ef:
            p = subprocess.Popen([VIGIL, "containers", "--follow", "--json", "-o", out,
                                  "--interval", "100ms", "--retain", "2s"],
                                 stdout=subprocess.DEVNULL, stderr=ef)
        try:
            def events():
                with open(out) as f:
                    return ctr_rows(f.read())

            def find(ev, cid=None, name=None):
                return [r for r in events() if r.get("event") == ev and
                        (cid is None or r["id"] == cid) and (name is None or r.get("name") == name)]

            wait_for(lambda: "watching" in open(err).read(), what="vigil to start")
            assert find("present", name=keep), events()
            cid, _ = podman.start(short)
            wait_for(lambda: find("start", cid), what="the start event")
            assert find("start", cid)[0]["runtime"] == "podman"
            podman.remove(short)
            ex = wait_for(lambda: find("exit", cid), what="the exit event")[0]
            # still known, by name, after it is gone from the cgroup tree
            assert ex["exited"] is True and ex["name"] == short
            gone = wait_for(lambda: find("gone", cid), what="the gone event")[0]
            assert gone["exited_for_ns"] >= retain_ns
            # the one still running is not touched
            assert not find("exit", name=keep) and not find("gone", name=keep)
        finally:
            p.send_signal(signal.SIGINT)
            assert p.wait(timeout=30) == 0


# ---- docker ----

@pytest.fixture(scope="module")
def dockerd():
    """A private dockerd (own socket and pidfile; Debian's docker.io)."""
    if not os.path.exists(DOCKERD) or not os.path.exists(DOCKER[0]):
        pytest.skip("docker.io is not installed (scripts/deps.sh test)")
    logf = tempfile.NamedTemporaryFile(prefix="vigil-e2e-dockerd-", delete=False)
    p = subprocess.Popen([DOCKERD, "--host", DOCKER[2], "--pidfile", "/run/vigil-e2e-docker.pid",
                          "--iptables=false", "--ip6tables=false", "--bridge=none"],
                         stdout=logf, stderr=logf)

    def up():
        if p.poll() is not None:
            raise AssertionError(f"dockerd exited: {open(logf.name).read()[-2000:]}")
        return subprocess.run(DOCKER + ["info"], capture_output=True).returncode == 0

    try:
        wait_for(up, timeout=60, what="dockerd")
        yield p
    finally:
        p.terminate()
        p.wait(timeout=60)
        os.unlink(logf.name)


def test_lists_docker_container(dockerd):
    t = token()
    image, name = f"vigil-e2e-busybox:{t}", f"{t}-docker"
    with tempfile.TemporaryDirectory(prefix="vigil-e2e-") as d:
        tar = os.path.join(d, "rootfs.tar")
        rootfs_tar(tar)
        subprocess.run(DOCKER + ["import", tar, image], check=True, capture_output=True)
    try:
        r = subprocess.run(DOCKER + ["run", "-d", "--network", "none", "--name", name, image,
                                     "/bin/sleep", "600"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        pid = int(subprocess.run(DOCKER + ["inspect", "-f", "{{.State.Pid}}", name],
                                 capture_output=True, text=True, check=True).stdout)
        assert cgroup_of(pid) == f"/docker/{cid}"
        ino = os.stat(cgroup2_root() + cgroup_of(pid)).st_ino

        r = run("containers", "--json", "--container", name)
        assert r.returncode == 0, r.stderr
        rows = ctr_rows(r.stdout)
        assert len(rows) == 1
        assert rows[0]["id"] == cid and rows[0]["runtime"] == "docker"
        assert rows[0]["name"] == name and rows[0]["cgroup_id"] == ino
    finally:
        subprocess.run(DOCKER + ["rm", "-f", name], capture_output=True)
        subprocess.run(DOCKER + ["rmi", "-f", image], capture_output=True)
