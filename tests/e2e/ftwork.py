"""File activity with exactly known counts, for the filetop tests.

  ftwork.py DIR OPS_JSON

Opens the files it names under DIR first, prints "pid N", then waits for one
byte on stdin, so a tracer can attach after the process exists and before
the counted calls. OPS_JSON is a list of operations, run in order:

  ["write", NAME, SIZE, COUNT]    COUNT write() calls of SIZE bytes
  ["pwrite", NAME, SIZE, COUNT]   COUNT pwrite64() calls at offset 0
  ["read", NAME, SIZE, COUNT]     lseek to 0, then COUNT read() calls of up to SIZE bytes
  ["pread", NAME, SIZE, COUNT]    COUNT pread64() calls at offset 0
  ["pipe", SIZE, COUNT]           COUNT write() calls into a pipe, each drained by one read()
  ["failread", NAME, COUNT]       COUNT read() calls on a write-only fd of NAME: all fail (EBADF)
  ["sleep", SECONDS]

Every call is one syscall (os.read/os.write are thin wrappers). At the end
it prints what its successful calls did, per file, as one JSON line:
{"NAME": {"reads": ..., "rbytes": ..., "writes": ..., "wbytes": ...},
"pipe": {...}}, summing the calls' real return values.
"""
import errno
import json
import os
import sys
import time


def main():
    d, ops = sys.argv[1], json.loads(sys.argv[2])
    fds, wo, seen = {}, {}, {}
    for op in ops:
        if op[0] in ("write", "pwrite", "read", "pread", "failread") and op[1] not in fds:
            fds[op[1]] = os.open(os.path.join(d, op[1]), os.O_RDWR | os.O_CREAT, 0o600)
        if op[0] == "failread" and op[1] not in wo:
            wo[op[1]] = os.open(os.path.join(d, op[1]), os.O_WRONLY)
    rp, wp = os.pipe()
    print(f"pid {os.getpid()}", flush=True)
    sys.stdin.buffer.read(1)

    def count(name, kind, n):
        s = seen.setdefault(name, {"reads": 0, "rbytes": 0, "writes": 0, "wbytes": 0})
        s[kind + "s"] += 1
        s["rbytes" if kind == "read" else "wbytes"] += n

    for op in ops:
        if op[0] == "sleep":
            time.sleep(op[1])
            continue
        if op[0] == "pipe":
            for _ in range(op[2]):
                count("pipe", "write", os.write(wp, b"p" * op[1]))
                count("pipe", "read", len(os.read(rp, op[1])))
            continue
        if op[0] == "failread":
            for _ in range(op[2]):
                try:
                    os.read(wo[op[1]], 16)
                except OSError as e:
                    assert e.errno == errno.EBADF, e
                else:
                    raise AssertionError("read on a write-only fd succeeded")
            continue
        kind, name, size, n = op
        fd = fds[name]
        if kind == "read":
            os.lseek(fd, 0, os.SEEK_SET)
        for _ in range(n):
            if kind == "write":
                count(name, "write", os.write(fd, b"w" * size))
            elif kind == "pwrite":
                count(name, "write", os.pwrite(fd, b"w" * size, 0))
            elif kind == "read":
                count(name, "read", len(os.read(fd, size)))
            else:
                count(name, "read", len(os.pread(fd, size, 0)))
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
