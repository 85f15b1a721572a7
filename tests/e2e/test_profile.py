"""vigil profile: sampled stacks of workloads with known hot functions, symbolized, against perf."""
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import xml.etree.ElementTree as ET
import zlib

import pytest

from conftest import Tracer, VIGIL, bpftool_prog_names, parse_ndjson, run, wait_progs_gone
from profwork import GUEST, PROFWORK, start, stacks, shares

# samples come per second of CPU time the workload gets: a loaded host or an emulated guest
# gives it less than its wall time
MIN_3S = 50

PROGS = ["profile_sample", "profile_exec", "profile_exit"]


def profile_pid(mode, secs, *args, cpu=None):
    """profile -p of a profwork run to its end (the run ends with the process); cpu, a list,
    gets the CPU seconds the workload used"""
    w = subprocess.Popen([PROFWORK, mode, str(secs)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env={**os.environ, "PROFWORK_WAIT": "1"})
    line = w.stdout.readline()
    assert line.startswith("waiting "), line
    pid = int(line.split()[1])
    with Tracer("profile", "-p", str(pid), *args) as tr:
        # it runs from now: all of its CPU time is profiled
        w.stdin.write("g")
        w.stdin.close()
        assert w.stdout.readline().startswith("ready "), "profwork did not start"
        rest = w.stdout.read()
        w.wait()
        tr.proc.wait(timeout=60)
        assert tr.stop() == 0, tr.stderr()
        if cpu is not None:
            cpu.append(float(rest.split("cpu ")[1].split()[0]))
        return pid, tr.records(), tr.stderr()


def summary(recs):
    s = [r for r in recs if r["type"] == "profile" and r["final"]]
    assert len(s) == 1, s
    return s[0]


def test_hot_function_on_top_with_its_parent():
    cpu = []
    pid, recs, err = profile_pid("hot", 3, cpu=cpu)
    mine = stacks(recs, pid)
    total = sum(r["count"] for r in mine)
    # 99 samples per second of its CPU time (it started spinning once vigil was attached)
    want = 99 * cpu[0]
    # (a statistical count: ~6% deviation at 300 samples, and perf adapts its period at first)
    assert total >= MIN_3S and 0.8 * want - 5 <= total <= 1.2 * want + 5, (total, cpu, err)
    hot = sum(r["count"] for r in mine if r["ustack"][-2:] == ["prof_parent", "prof_hot"]
              and not r["kstack"])
    assert hot >= 0.9 * total, (hot, total, mine)
    s = summary(recs)
    assert s["samples"] == total, s
    assert s["frequency"] == 99 and s["cpus"] == os.cpu_count()
    # a user stack the kernel cannot read (its page not present in an NMI) is rare, and counted
    assert s["user_stack_errors"] <= 0.02 * total and s["counts_full"] == 0, s
    # frame pointers all the way: its stacks reach libc's start of main
    assert s["truncated"] <= 0.05 * total, s
    fns = {r["function"]: r for r in recs if r["type"] == "profile_function" and r["final"]}
    # self: on top; total: anywhere (an interrupt taken in it puts kernel frames on top)
    assert fns["prof_hot"]["total"] >= fns["prof_hot"]["self"] >= 0.9 * total
    # prof_parent only loops around its calls: a sample between two of them is on it, rarely
    assert fns["prof_parent"]["self"] <= 0.02 * total and fns["prof_parent"]["total"] >= 0.9 * total
    assert wait_progs_gone(PROGS) == []


def test_syscall_loop_shows_named_kernel_frames():
    pid, recs, err = profile_pid("syscall", 3)
    mine = stacks(recs, pid)
    total = sum(r["count"] for r in mine)
    inkernel = [r for r in mine if r["kstack"]]
    kn = sum(r["count"] for r in inkernel)
    # read(2) of 64 KiB from /dev/zero: most of the time is the kernel's copy. Under QEMU's
    # TCG (the kernel matrix) a timer interrupt waits for the end of a translated block, and
    # the copy's one `rep stos` is one: its samples land after it, in user space (seen: 49
    # of 299 in the kernel on 6.12). There only the shape of the kernel stacks is checked.
    assert kn >= (0.1 if GUEST else 0.7) * total and kn >= 20, (kn, total)
    # a sample can land in the syscall entry/exit code itself (do_syscall_64 and what is
    # inlined into it): a real stack, only two frames deep; under QEMU's TCG (the kernel
    # matrix) that code is slow enough to take a fifth of the samples
    entry = ("entry_SYSCALL_64", "do_syscall_64", "syscall_exit", "syscall_enter", "x64_sys_call",
             "exit_to_user_mode", "arch_exit_to_user_mode")
    deep = sum(r["count"] for r in inkernel if not all(f.startswith(entry) for f in r["kstack"]))
    assert deep >= 0.5 * kn, inkernel
    named = sum(r["count"] for r in inkernel
                if r["kstack"][0].startswith("entry_SYSCALL_64")
                and {"ksys_read", "__x64_sys_read", "vfs_read"} & set(r["kstack"]))
    assert named >= 0.9 * deep, inkernel
    # the device's handler is on top of most of them, under its own name
    top, _ = shares(inkernel)
    assert top.get("read_zero", 0) + top.get("iov_iter_zero", 0) + top.get("clear_user", 0) + \
        top.get("rep_stos_alternative", 0) + top.get("clear_user_rep_good", 0) >= (0.15 * deep if GUEST else 50), top
    # and the user side: libc's read() wrapper on top (without frame pointers in libc, the
    # walk skips its caller prof_syscalls and goes on at main: docs/profile.md)
    wrapped = sum(r["count"] for r in inkernel if r["ustack"] and "read" in r["ustack"][-1]
                  and "main" in r["ustack"])
    assert wrapped >= 0.9 * kn, inkernel


def libc_paths(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if "libc.so" in line}


def test_libc_function_named_through_the_process_maps():
    w, pid = start("libc", 3)
    paths = libc_paths(pid)
    assert paths, "profwork has no libc mapped"
    with Tracer("profile", "-p", str(pid)) as tr:
        w.wait()
        tr.proc.wait(timeout=60)
        assert tr.stop() == 0, tr.stderr()
        recs = tr.records()
    mine = stacks(recs, pid)
    top, total = shares(mine)
    # rand() -> random() -> random_r(): libc's .dynsym names them, or its build-id debug file
    libc = sum(v for k, v in top.items() if k.lstrip("_") in ("rand", "random", "random_r"))
    assert libc >= 60, top
    assert not any(k.startswith("[libc") for k in top if top[k] > 5), top


def test_process_that_exits_during_the_profile_is_symbolized():
    # the child spins once vigil is attached, says its CPU time and exits; the parent says
    # "exited" once it reaped it, and lives on
    w = subprocess.Popen([PROFWORK, "exit", "3"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env={**os.environ, "PROFWORK_WAIT": "1"})
    assert w.stdout.readline().startswith("waiting ")
    with Tracer("profile", "-c", "profwork", "-d", "8s") as tr:
        w.stdin.write("g")
        w.stdin.close()
        line = w.stdout.readline()
        assert line.startswith("ready "), line
        child = int(line.split()[1])
        cpu = float(w.stdout.readline().split()[1])
        line = w.stdout.readline()
        assert line == f"exited {child}\n", line
        assert not os.path.exists(f"/proc/{child}")
        tr.proc.wait(timeout=60)
        assert tr.stop() == 0, tr.stderr()
        recs = tr.records()
    w.wait()
    mine = stacks(recs, child)
    total = sum(r["count"] for r in mine)
    # 99 samples per CPU second it had
    assert total >= 5 and total >= 0.8 * 99 * cpu - 5, (total, cpu, recs)
    named = sum(r["count"] for r in mine if r["ustack"][-2:] == ["prof_exiting", "prof_hot"])
    assert named >= 0.9 * total, mine


FOLDED = re.compile(r"^([^;\n]+(?:;[^;\n]+)*) ([0-9]+)$")


def test_folded_is_the_flamegraph_format_and_matches_the_stacks(tmp_path):
    folded = tmp_path / "out.folded"
    pid, recs, _ = profile_pid("mix", 2, "--folded-file", str(folded))
    raw = folded.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw and b"\t" not in raw
    lines = raw.decode().splitlines()
    want = {}
    for r in stacks(recs):
        key = ";".join([r["comm"]] + r["ustack"] + r["kstack"])
        want[key] = want.get(key, 0) + r["count"]
    got = {}
    for line in lines:
        m = FOLDED.match(line)
        assert m, repr(line)
        # one line per distinct stack: flamegraph.pl and inferno sum them, but need not
        assert m.group(1) not in got, line
        got[m.group(1)] = int(m.group(2))
        assert all(f and f == f.strip() or f.startswith("[") for f in m.group(1).split(";"))
    assert got == want
    assert lines == sorted(lines)
    assert any(k.startswith("profwork;") and k.endswith(";prof_parent;prof_hot_a") for k in got)


def test_folded_to_stdout(tmp_path):
    w, pid = start("hot", 2)
    r = run("profile", "-p", str(pid), "--folded", "-q")
    w.wait()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and all(FOLDED.match(x) for x in lines), r.stdout
    hot = sum(int(x.rsplit(" ", 1)[1]) for x in lines if x.endswith(";prof_parent;prof_hot " +
                                                                    x.rsplit(" ", 1)[1]))
    assert hot >= 0.9 * sum(int(x.rsplit(" ", 1)[1]) for x in lines)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    return struct.unpack(">II", head[16:24])


def png_colours(path):
    """distinct RGB(A) pixel values of a non-interlaced 8-bit PNG (rough: rows unfiltered)"""
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    return len(set(raw[i:i + 3] for i in range(0, min(len(raw), 3_000_000), 3)))


CHROMIUM = shutil.which("chromium")


def chromium(*args):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--user-data-dir=/tmp/vigil-e2e-chromium",
                           "--enable-logging=stderr", *args],
                          capture_output=True, text=True, timeout=120)


def test_svg_flame_graph(tmp_path):
    svg = tmp_path / "flame.svg"
    pid, recs, _ = profile_pid("hot", 3, "--svg", str(svg))
    total = sum(r["count"] for r in stacks(recs, pid))
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg"
    width, height = int(root.get("width")), int(root.get("height"))
    titles = [t.text for t in root.iter(ns + "title")]
    hot = [t for t in titles if t.startswith("prof_hot (")]
    assert len(hot) == 1, titles
    m = re.match(r"prof_hot \(([0-9]+) samples, ([0-9.]+)%\)", hot[0])
    assert m and int(m.group(1)) >= 0.9 * total and float(m.group(2)) >= 90.0, hot
    # self-contained: the script is inline and nothing is fetched
    assert root.find(ns + "script") is not None
    text = svg.read_text()
    assert "href" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    if not CHROMIUM:
        pytest.skip("chromium is not installed (scripts/deps.sh test)")
    png = tmp_path / "shot.png"
    # the page's margin around the SVG: no scroll bars
    win = (width + 20, height + 20)
    r = chromium(f"--screenshot={png}", f"--window-size={win[0]},{win[1]}", f"file://{svg}")
    assert png.exists(), r.stderr
    assert png_size(png) == win
    assert png_colours(png) > 20, "the screenshot is blank"
    assert "Uncaught" not in r.stderr and "SyntaxError" not in r.stderr, r.stderr
    # the script ran: a search given in the URL marks the hot function's share
    r = chromium("--virtual-time-budget=3000", "--dump-dom", f"file://{svg}?s=^prof_hot$")
    assert "Uncaught" not in r.stderr, r.stderr
    m = re.search(r"matched: ([0-9.]+)%", r.stdout)
    assert m and float(m.group(1)) >= 90.0, r.stdout[-2000:]


def perf_self_shares(data):
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-q",
                        "--sort", "symbol", "-g", "none"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+\[[.k]\]\s+(\S+)", line)
        if m:
            out[m.group(2)] = out.get(m.group(2), 0) + float(m.group(1))
    return out


def perf_works():
    return shutil.which("perf") and subprocess.run(["perf", "--version"],
                                                   capture_output=True).returncode == 0


@pytest.mark.skipif(not perf_works(), reason="perf (linux-perf) is not installed here")
def test_side_by_side_with_perf_record(tmp_path):
    """The same hottest functions as perf record -g + perf report, shares within 10 points."""
    data = str(tmp_path / "perf.data")
    w, pid = start("mix", 4)
    with Tracer("profile", "-p", str(pid)) as tr:
        # both end when the process does
        pr = subprocess.run(["perf", "record", "-F", "99", "-g", "-p", str(pid), "-o", data],
                            capture_output=True, text=True, timeout=60)
        assert pr.returncode == 0, pr.stderr
        w.wait()
        tr.proc.wait(timeout=60)
        assert tr.stop() == 0, tr.stderr()
        recs = tr.records()
    theirs = perf_self_shares(data)
    ours, total = shares(stacks(recs, pid))
    assert total >= MIN_3S
    top_theirs = sorted(theirs, key=theirs.get, reverse=True)[:2]
    top_ours = sorted(ours, key=ours.get, reverse=True)[:2]
    assert top_theirs == top_ours == ["prof_hot_a", "prof_hot_b"], (theirs, ours)
    for fn in top_ours:
        assert abs(ours[fn] - theirs[fn]) <= 10.0, (fn, ours, theirs)


def test_interval_records_add_up_to_the_final_ones():
    pid, recs, _ = profile_pid("hot", 3, "-i", "1s")
    ticks = [r for r in recs if r["type"] == "profile" and not r["final"]]
    assert len(ticks) >= 2, recs
    final = summary(recs)
    assert sum(t["samples"] for t in ticks) <= final["samples"]
    per = sum(r["count"] for r in stacks(recs, pid, final=False))
    assert 0 < per <= sum(r["count"] for r in stacks(recs, pid))


@pytest.mark.parametrize("args", [
    ["-F", "0"], ["-F", "100001"], ["--cpu", "9999"], ["--cpu", "1-0"], ["--cpu", "x"],
    ["--kernel-only", "--user-only"], ["--top", "-1"], ["--stack-storage", "1"],
])
def test_bad_flags_exit_2_and_load_nothing(args):
    assert wait_progs_gone(PROGS) == []  # none left by an earlier test
    r = run("profile", *args, "-d", "1s")
    assert r.returncode == 2, (args, r.stderr)
    assert r.stderr.strip() and "attached" not in r.stderr, args
    assert not set(bpftool_prog_names()) & {p[:15] for p in PROGS}


def test_sigkill_leaves_nothing_loaded():
    tr = Tracer("profile", "-d", "60s")
    tr.start()
    try:
        assert {p[:15] for p in PROGS} <= set(bpftool_prog_names())
        tr.proc.send_signal(signal.SIGKILL)
        tr.proc.wait(timeout=30)
    finally:
        tr.__exit__(None, None, None)
    assert wait_progs_gone(PROGS) == []
    # the perf events went with the process: no bpf link of type perf_event is left
    out = subprocess.run(["bpftool", "link", "show"], capture_output=True, text=True).stdout
    assert "profile_sample" not in out, out


def test_cpu_list_samples_only_those_cpus():
    w, pid = start("hot", 2)
    with Tracer("profile", "--cpu", "0", "-p", str(pid)) as tr:
        w.wait()
        tr.proc.wait(timeout=60)
        assert tr.stop() == 0
        s = summary(tr.records())
    assert s["cpus"] == 1


def test_agent_section_writes_interval_stacks(tmp_path):
    events = tmp_path / "events.json"
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"""
outputs:
  events: {events}
features:
  profile:
    frequency: 49
    interval: 1s
    folded-file: {tmp_path / 'last.folded'}
""")
    err = open(tmp_path / "err", "w")
    ag = subprocess.Popen([VIGIL, "agent", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                          stderr=err)
    try:
        deadline = time.monotonic() + 30
        while "attached" not in (tmp_path / "err").read_text():
            assert ag.poll() is None and time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.05)
        w, pid = start("hot", 2.5)
        w.wait()
        time.sleep(1.5)
        ag.send_signal(signal.SIGINT)
        assert ag.wait(timeout=30) == 0
    finally:
        if ag.poll() is None:
            ag.kill()
            ag.wait()
    recs = parse_ndjson(events.read_text())
    ticks = [r for r in recs if r["type"] == "profile" and not r["final"]]
    assert len(ticks) >= 2 and all(t["frequency"] == 49 for t in ticks)
    mine = stacks(recs, pid, final=False)
    assert sum(r["count"] for r in mine if r["ustack"][-1:] == ["prof_hot"]) >= 49
    assert (tmp_path / "last.folded").exists()
    assert wait_progs_gone(PROGS) == []
