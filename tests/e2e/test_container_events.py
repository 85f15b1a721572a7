"""Container identity on the records of every feature, and --container, with live podman."""
import subprocess

from conftest import Tracer, run, token
from test_containers import PODMAN, ULIMITS, podman, podman_image  # noqa: F401 (fixtures)


def pexec(name, *argv):
    subprocess.run(PODMAN + ["exec", name, *argv], check=True, capture_output=True)


def execs_of(recs, tok):
    return [r for r in recs if r["type"] == "exec" and r["argv"] == ["/bin/echo", tok]]


def test_exec_in_a_container_carries_its_identity(podman):
    t = token()
    name = f"{t}-web"
    cid, _ = podman.start(name)
    with Tracer("proc", "--exec-only") as tr:
        pexec(name, "/bin/echo", t)
        assert tr.stop() == 0
        recs = tr.records()
    ex = execs_of(recs, t)
    assert len(ex) == 1
    c = ex[0]["container"]
    assert c["id"] == cid and c["runtime"] == "podman"
    # the name is read from podman's state: in the record, or in a later container record
    names = [c.get("name")] + [r["container"].get("name") for r in recs
                                if r["type"] == "container" and r["cgroup_id"] == ex[0]["cgroup_id"]]
    assert name in names
    # a host task carries none
    host = [r for r in recs if r["type"] == "exec" and r["pid"] != ex[0]["pid"] and "container" not in r]
    assert all("container" not in r for r in host)


def test_container_filter_sees_exactly_that_container(podman):
    t = token()
    a, b = f"{t}-a", f"{t}-b"
    ida, _ = podman.start(a)
    podman.start(b)
    with Tracer("proc", "--exec-only", "--container", a) as tr:
        for _ in range(5):
            pexec(a, "/bin/echo", t)
            pexec(b, "/bin/echo", t)
            subprocess.run(["/bin/echo", t], check=True, capture_output=True)
        assert tr.stop() == 0
        recs = tr.records()
    ex = execs_of(recs, t)
    assert len(ex) == 5
    assert {r["container"]["id"] for r in ex} == {ida}
    # nothing of the host or of the other container passed the kernel filter
    assert all(r.get("container", {}).get("id") == ida for r in recs if r["type"] == "exec")


def test_two_containers_at_once_by_name_and_id_prefix(podman):
    t = token()
    a, b, c = f"{t}-a", f"{t}-b", f"{t}-c"
    ida, _ = podman.start(a)
    idb, _ = podman.start(b)
    podman.start(c)
    with Tracer("proc", "--exec-only", "--container", f"{a},{idb[:12]}") as tr:
        for n in (a, b, c):
            pexec(n, "/bin/echo", t)
        assert tr.stop() == 0
        recs = tr.records()
    ex = execs_of(recs, t)
    assert sorted(r["container"]["id"] for r in ex) == sorted([ida, idb])


def test_unknown_container_is_a_usage_error_listing_the_running_ones(podman):
    t = token()
    podman.start(f"{t}-web")
    r = run("proc", "--container", f"{t}-nope", "-d", "1s")
    assert r.returncode == 2
    assert f"{t}-nope" in r.stderr and f"{t}-web" in r.stderr


def test_container_that_exits_right_after_its_exec_still_resolves(podman_image):  # noqa: F811
    t = token()
    name = f"{t}-once"
    with Tracer("proc", "--exec-only") as tr:
        r = subprocess.run(PODMAN + ["run", "--rm", "--name", name, *ULIMITS, podman_image,
                                     "/bin/echo", t], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert tr.stop() == 0
        recs = tr.records()
    ex = execs_of(recs, t)
    assert len(ex) == 1
    c = ex[0]["container"]
    assert len(c["id"]) == 64 and c["runtime"] == "podman"
