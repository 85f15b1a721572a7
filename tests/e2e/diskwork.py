#!/usr/bin/python3
"""Block I/O of exactly known shape, for the disk tests.

  diskwork.py OPS_JSON

Prints "pid N", then waits for one byte on stdin, so tracers attach after
the process exists and before the counted I/O. OPS_JSON is a list, run in
order; every operation is one O_DIRECT call of SIZE bytes at a distinct,
aligned offset, so the page cache is out of the way and each call is one
block request:

  ["write", DEV, SIZE, COUNT]   COUNT pwrite() calls
  ["read", DEV, SIZE, COUNT]    COUNT pread() calls
  ["cgroup", PROCS_FILE]        move itself into a cgroup (its cgroup.procs)

At the end it prints {"reads": N, "writes": M, "rbytes": .., "wbytes": ..}
from the calls' return values, and exits after one more byte on stdin when
it is run with --hold (so its pid stays known until the tracer is done).
"""
import json
import mmap
import os
import sys


def main():
    hold = "--hold" in sys.argv[1:]
    ops = json.loads([a for a in sys.argv[1:] if a != "--hold"][0])
    print(f"pid {os.getpid()}", flush=True)
    sys.stdin.buffer.read(1)
    done = {"reads": 0, "writes": 0, "rbytes": 0, "wbytes": 0}
    offsets = {}
    for op in ops:
        if op[0] == "cgroup":
            with open(op[1], "w") as f:
                f.write(str(os.getpid()))
            continue
        kind, dev, size, count = op
        buf = mmap.mmap(-1, size)	# page aligned, as O_DIRECT needs
        buf.write(b"v" * size)
        fd = os.open(dev, (os.O_RDWR if kind == "write" else os.O_RDONLY) | os.O_DIRECT)
        try:
            for _ in range(count):
                # a fresh, non-adjacent offset per call: nothing merges
                off = offsets.get(dev, 0)
                offsets[dev] = off + 2 * size
                if kind == "write":
                    n = os.pwritev(fd, [buf], off)
                    done["writes"] += 1
                    done["wbytes"] += n
                else:
                    n = os.preadv(fd, [buf], off)
                    done["reads"] += 1
                    done["rbytes"] += n
                assert n == size, (kind, n, size)
        finally:
            os.close(fd)
    print(json.dumps(done), flush=True)
    if hold:
        sys.stdin.buffer.read(1)


if __name__ == "__main__":
    main()


# ---- loop devices over files, without losetup (the guests have busybox) ----

LOOP_CTL_GET_FREE = 0x4C82
LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_DIRECT_IO = 0x4C08


def loop_attach(backing, direct_io=False):
    """Attach a free loop device to the file (or device) backing; returns its /dev path.

    direct_io: the loop device reads its backing with O_DIRECT, so each of its
    requests is a request on a backing device too (no page cache between)."""
    import fcntl
    import time
    ctl = os.open("/dev/loop-control", os.O_RDWR)
    try:
        n = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
    finally:
        os.close(ctl)
    dev = f"/dev/loop{n}"
    for _ in range(100):	# devtmpfs makes the node a moment after the device appears
        if os.path.exists(dev):
            break
        time.sleep(0.05)
    bfd = os.open(backing, os.O_RDWR)
    lfd = os.open(dev, os.O_RDWR)
    try:
        fcntl.ioctl(lfd, LOOP_SET_FD, bfd)
        if direct_io:
            fcntl.ioctl(lfd, LOOP_SET_DIRECT_IO, 1)
    finally:
        os.close(lfd)
        os.close(bfd)
    return dev


def loop_detach(dev):
    import fcntl
    fd = os.open(dev, os.O_RDWR)
    try:
        fcntl.ioctl(fd, LOOP_CLR_FD, 0)
    finally:
        os.close(fd)
