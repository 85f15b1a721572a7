"""Helpers of the guard tests: a foreground guard, exec and connect attempts
whose outcome is read from the kernel's answer, a child in a cgroup."""
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from conftest import ROOT, VIGIL, parse_ndjson

TOUCH = os.path.join(ROOT, "build", "tests", "workloads", "gd_touch")
GUEST = os.environ.get("VIGIL_GUEST") == "1"


class Guard:
    """vigil guard load -f POLICY in the background, NDJSON to a file. start()
    returns once the policy is in the maps (the 'enforcing' line)."""

    def __init__(self, policy, *args):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-guard-")
        self.out = os.path.join(self.tmp.name, "out")
        self.err = os.path.join(self.tmp.name, "err")
        self.argv = [VIGIL, "guard", "load", "-f", policy, "--json", "-o", self.out, *args]
        self.proc = None

    def start(self, timeout=180):
        self.errf = open(self.err, "w")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=self.errf)
        self.wait_err("guard: enforcing", timeout=timeout)
        return self

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def wait_err(self, text, count=1, timeout=120):
        deadline = time.monotonic() + timeout
        while self.stderr().count(text) < count:
            assert self.proc.poll() is None, f"guard exited {self.proc.returncode}: {self.stderr()}"
            assert time.monotonic() < deadline, f"no '{text}' x{count}: {self.stderr()}"
            time.sleep(0.01)

    def records(self):
        with open(self.out) as f:
            text = f.read()
        return parse_ndjson(text[:text.rfind("\n") + 1])

    def guard_records(self):
        return [r for r in self.records() if r["type"] == "guard"]

    def wait_guard(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.guard_records()) < n:
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, self.guard_records()
            time.sleep(0.02)
        return self.guard_records()

    def mechanism(self):
        m = [r for r in self.records() if r["type"] == "mechanism"]
        assert len(m) == 1, self.records()
        return m[0]["mechanism"]

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=120)
        self.errf.close()
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


def attempt_exec(path, marker):
    """Exec path (a copy of gd_touch) to create marker. Returns ('ran', 0),
    ('killed', -9) or ('eperm', None), and checks the marker agrees."""
    try:
        p = subprocess.run([path, marker], timeout=60)
    except PermissionError as e:
        assert e.errno == errno.EPERM
        assert not os.path.exists(marker), "denied with EPERM, yet its code ran"
        return "eperm"
    if p.returncode == 0:
        assert os.path.exists(marker)
        os.unlink(marker)
        return "ran"
    assert p.returncode == -signal.SIGKILL, p.returncode
    # killed before its first instruction: it never created the file
    assert not os.path.exists(marker), "killed, yet its code ran"
    return "killed"


def denied_as(mech):
    """What a denied exec looks like under the chosen mechanism."""
    return {"lsm": "eperm", "sigkill": "killed"}[mech]


def copy_touch(dst, extra=b""):
    shutil.copyfile(TOUCH, dst)
    if extra:
        with open(dst, "ab") as f:
            f.write(extra)
    os.chmod(dst, 0o755)
    return dst


def in_cgroup(cg):
    """preexec_fn: move the child into cgroup directory cg before it runs."""
    def move():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return move


CONNECT_PY = r"""
import socket, sys, errno
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(fam, socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
try:
    if proto == 'tcp':
        s.connect((host, port))
    else:
        s.sendto(b'guard', (host, port))
    print('ok')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"""


def attempt_connect(host, port, proto="tcp", cgroup=None):
    """connect() (tcp) or sendto() (udp) from a fresh process; 'ok' or the errno name."""
    p = subprocess.run([sys.executable, "-c", CONNECT_PY, host, str(port), proto],
                       capture_output=True, text=True, timeout=60,
                       preexec_fn=in_cgroup(cgroup) if cgroup else None)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


class Listener:
    """A TCP listener and a UDP socket on one port, counting what arrives."""

    def __init__(self, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tcp = socket.socket(fam, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp.listen(1024)
        self.tcp.setblocking(False)
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        self.udp.bind((host, self.port))
        self.udp.setblocking(False)

    def drain(self):
        """(tcp connections, udp datagrams) accepted since the last call."""
        n_tcp = n_udp = 0
        while True:
            try:
                c, _ = self.tcp.accept()
                c.close()
                n_tcp += 1
            except BlockingIOError:
                break
        while True:
            try:
                self.udp.recv(100)
                n_udp += 1
            except BlockingIOError:
                break
        return n_tcp, n_udp

    def close(self):
        self.tcp.close()
        self.udp.close()
