"""Shared helpers for vigil's end-to-end tests.

Tests run as root, load the real BPF programs through the real binary, drive
real activity and assert on what vigil printed (parsed, never grepped).
"""
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIGIL = os.environ.get("VIGIL", os.path.join(ROOT, "build", "vigil"))
SCHEMA_VERSION = 2
# an internal error (a row past its limit, a key read that is not there) aborts
os.environ["VIGIL_STRICT"] = "1"


LOCK = "/run/lock/vigil-e2e.lock"
_lock = None


def pytest_configure(config):
    global _lock
    if os.geteuid() != 0:
        pytest.exit("the end-to-end tests load BPF programs and must run as root", 2)
    if not os.access(VIGIL, os.X_OK):
        pytest.exit(f"no vigil binary at {VIGIL}: run make first", 2)
    # The tests assert on host-wide state (no vigil program left loaded, bpffs
    # pins): two sessions on one host, e.g. from two checkouts, would see each
    # other's programs. They take turns instead.
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    _lock = open(LOCK, "w")
    try:
        fcntl.flock(_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"\nvigil e2e: another test session holds {LOCK}; waiting for it",
              file=sys.__stderr__, flush=True)
        fcntl.flock(_lock, fcntl.LOCK_EX)


SC_LOOP = os.path.join(ROOT, "build", "tests", "workloads", "sc_loop")


def waiting_loop(*args):
    """sc_loop -w ARGS: started, printing its pid, waiting for a byte on stdin."""
    p = subprocess.Popen([SC_LOOP, "-w", *map(str, args)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    assert line.startswith("pid "), line
    return p, int(line.split()[1])


def run(*args, timeout=60, check=False):
    """Run vigil to completion; returns CompletedProcess with text output."""
    return subprocess.run([VIGIL, *args], capture_output=True, text=True,
                          timeout=timeout, check=check)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape_values(port):
    """GET /metrics of an agent on 127.0.0.1, parsed: {'name{labels}': value}."""
    import urllib.request
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def token():
    """A unique string to find our own activity among the host's."""
    return "vigil-e2e-" + uuid.uuid4().hex[:12]


def settle():
    # events are flushed per record; give the consumer a moment before stopping
    time.sleep(0.3)


def parse_ndjson(text):
    """Every line must be one JSON object: a bad line fails the test."""
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))
    # a stream starts with the schema it follows (docs/events.md); the tests
    # see the records after it
    if out and out[0].get("type") == "schema":
        assert out[0]["version"] == SCHEMA_VERSION, out[0]
        assert "ts" in out[0] and "time" in out[0]
        out = out[1:]
    return out


class Tracer:
    """A vigil command running in the background, writing NDJSON to a file.

    start() returns once vigil reports its programs attached (the status line
    on stderr), so activity generated afterwards must be seen.
    """

    def __init__(self, *args, json_out=True):
        self.args = list(args)
        self.json_out = json_out
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-e2e-")
        self.out_path = os.path.join(self.tmp.name, "out")
        self.err_path = os.path.join(self.tmp.name, "err")
        self.proc = None

    def start(self, timeout=120):
        argv = [VIGIL, *self.args]
        if self.json_out:
            argv += ["--json", "-o", self.out_path]
        self.err = open(self.err_path, "w")
        out = subprocess.DEVNULL if self.json_out else open(self.out_path, "w")
        self.proc = subprocess.Popen(argv, stdout=out, stderr=self.err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "attached" in self.stderr():
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"vigil exited early ({self.proc.returncode}): {self.stderr()}")
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError(f"vigil did not attach in {timeout}s: {self.stderr()}")

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def output(self):
        with open(self.out_path) as f:
            return f.read()

    def records(self):
        return parse_ndjson(self.output())

    def records_so_far(self):
        """What vigil has written while it runs: complete lines only."""
        text = self.output()
        return parse_ndjson(text[:text.rfind("\n") + 1])

    def wait_records(self, cond, timeout=60):
        """Poll the output until cond(records) holds; returns those records."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records_so_far()
            if cond(recs):
                return recs
            assert self.proc.poll() is None, f"vigil exited ({self.proc.returncode}): {self.stderr()}"
            assert time.monotonic() < deadline, f"no such output in {timeout}s: {recs}"
            time.sleep(0.02)

    def stop(self, sig=signal.SIGINT, timeout=120):
        """Signal vigil and wait; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.err.close()
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


def bpftool_prog_names():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                         text=True, check=True).stdout
    return [p.get("name", "") for p in json.loads(out or "[]")]


def wait_progs_gone(names, timeout=60):
    """Program teardown is asynchronous (RCU); poll until none of names is loaded."""
    deadline = time.monotonic() + timeout
    left = []
    while time.monotonic() < deadline:
        loaded = set(bpftool_prog_names())
        # the kernel truncates program names to 15 characters
        left = [n for n in names if n[:15] in loaded]
        if not left:
            return []
        time.sleep(0.1)
    return left


def cgroup2_mount():
    """The cgroup v2 mount point, from /proc/self/mountinfo (never hard-coded), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[0] == "cgroup2":
                return pre.split()[4]
    return None


@pytest.fixture
def cgroup2_root():
    root = cgroup2_mount()
    if not root:
        pytest.skip("no cgroup v2 hierarchy mounted")
    return root


@pytest.fixture
def scratch_cgroup(cgroup2_root):
    """A fresh, empty cgroup v2 directory, removed afterwards."""
    path = os.path.join(cgroup2_root, f"vigil-test-{os.getpid()}-{time.monotonic_ns()}")
    os.mkdir(path)
    yield path
    for _ in range(50):
        try:
            os.rmdir(path)
            break
        except OSError:
            time.sleep(0.1)


@pytest.fixture
def rules(tmp_path):
    """rules(text[, name]): a firewall rules file in the test's directory; its path."""
    def write(text, name="fw.rules"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write
