"""vigil top: per-container counters from the kernel, against what a known workload did."""
import os
import subprocess

from conftest import Tracer, cgroup2_mount, token
from test_containers import PODMAN, podman, podman_image  # noqa: F401 (fixtures)


def cpu_usage_us(cgroup):
    with open(os.path.join(cgroup, "cpu.stat")) as f:
        for line in f:
            k, v = line.split()
            if k == "usage_usec":
                return int(v)
    raise AssertionError("no usage_usec")


def cgroup_dir(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                rel = line.strip()[3:]
    return cgroup2_mount() + rel


def test_top_counts_a_containers_execs_and_cpu(podman):
    t = token()
    name = f"{t}-top"
    cid, pid = podman.start(name)
    cg = cgroup_dir(pid)
    with Tracer("top", "-i", "500ms", "--json") as tr:
        before = cpu_usage_us(cg)
        # 30 execs of true from one shell, then a busy loop: known work inside the container
        subprocess.run(PODMAN + ["exec", name, "/bin/sh", "-c",
                                 "i=0; while [ $i -lt 30 ]; do /bin/true; i=$((i+1)); done; "
                                 "j=0; while [ $j -lt 200000 ]; do j=$((j+1)); done"],
                       check=True, capture_output=True)
        after = cpu_usage_us(cg)
        assert tr.stop() == 0, tr.stderr()
        recs = tr.records()
    finals = [r for r in recs if r["type"] == "top" and r["final"]]
    mine = [r for r in finals if r.get("container", {}).get("id") == cid]
    assert len(mine) == 1, finals
    row = mine[0]
    assert row["scope"] == "container" and row["runtime"] == "podman"
    # the shell and its 30 children (podman's exec adds runc's own init at most)
    assert 31 <= row["execs"] <= 33, row
    # on-CPU time within 10% of what the cgroup itself counted
    used_ns = (after - before) * 1000
    assert abs(row["cpu_ns"] - used_ns) <= 0.1 * used_ns + 20_000_000, (row["cpu_ns"], used_ns)
    host = [r for r in finals if r["scope"] == "host"]
    assert len(host) == 1 and "container" not in host[0]
    # interval rows add up to the final one
    ticks = [r for r in recs if r["type"] == "top" and not r["final"]
             and r.get("container", {}).get("id") == cid]
    assert sum(r["execs"] for r in ticks) <= row["execs"]
