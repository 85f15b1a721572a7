"""Container identity without a runtime: a hand-made cgroup v2 directory in podman's
layout. Needs no image, so it runs in the kernel matrix's guests too."""
import os
import secrets
import subprocess
import time

import pytest

from conftest import Tracer, cgroup2_root, run, token  # noqa: F401 (fixture)


@pytest.fixture
def fake_container(cgroup2_root):  # noqa: F811
    cid = secrets.token_hex(32)
    parent = os.path.join(cgroup2_root, "libpod_parent")
    made_parent = not os.path.isdir(parent)
    if made_parent:
        os.mkdir(parent)
    path = os.path.join(parent, f"libpod-{cid}")
    os.mkdir(path)
    yield cid, path
    for d in [path] + ([parent] if made_parent else []):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.1)


def run_in(path, *argv):
    """Run argv inside the cgroup: the child moves itself in before it execs."""
    script = f'echo $$ > {path}/cgroup.procs && exec "$@"'
    subprocess.run(["/bin/sh", "-c", script, "sh", *argv], check=True,
                   stdout=subprocess.DEVNULL)


def test_exec_in_a_cgroup_of_a_container_layout_carries_its_identity(fake_container):
    cid, path = fake_container
    tok = token()
    with Tracer("proc", "--exec-only") as t:
        run_in(path, "/bin/echo", tok)
        subprocess.run(["/bin/echo", tok], check=True, stdout=subprocess.DEVNULL)
        assert t.stop() == 0
        recs = t.records()
    ex = [r for r in recs if r["type"] == "exec" and r["argv"] == ["/bin/echo", tok]]
    assert len(ex) == 2
    inside = [r for r in ex if "container" in r]
    assert len(inside) == 1
    assert inside[0]["container"]["id"] == cid and inside[0]["container"]["runtime"] == "podman"
    assert inside[0]["cgroup_id"] == os.stat(path).st_ino


def test_container_filter_by_id_in_the_kernel(fake_container):
    cid, path = fake_container
    tok = token()
    with Tracer("proc", "--exec-only", "--container", cid[:12]) as t:
        for _ in range(3):
            run_in(path, "/bin/echo", tok)
            subprocess.run(["/bin/echo", tok], check=True, stdout=subprocess.DEVNULL)
        assert t.stop() == 0
        recs = t.records()
    ex = [r for r in recs if r["type"] == "exec"]
    assert len([r for r in ex if r["argv"] == ["/bin/echo", tok]]) == 3
    assert all(r["container"]["id"] == cid for r in ex)


def test_top_folds_the_container(fake_container):
    cid, path = fake_container
    with Tracer("top", "-i", "1s") as t:
        for _ in range(5):
            run_in(path, "/bin/true")
        assert t.stop() == 0
        recs = t.records()
    final = [r for r in recs if r["type"] == "top" and r["final"] and r.get("container", {}).get("id") == cid]
    assert len(final) == 1 and final[0]["execs"] == 5


def test_unknown_container_is_a_usage_error(fake_container):
    r = run("proc", "--container", "no-such-container-" + token(), "-d", "1s")
    assert r.returncode == 2 and "no-such-container" in r.stderr
