"""File calls with known paths and results, for the `vigil file` tests.

  filework.py DIR SCRIPT

Prints "pid N", waits for one byte on stdin (so a tracer attaches in
between), runs SCRIPT, then prints one JSON line of what each call returned.
SCRIPT is one of:

  opens   open an existing file (DIR/exists), a missing one (DIR/missing),
          as uid 65534 in a child a root-only file (DIR/secret: EACCES),
          relative to a dirfd of DIR/sub ("inner", O_WRONLY|O_CREAT|O_TRUNC,
          0640), relative to the cwd DIR/sub ("../exists"), and DIR/exists
          through openat2 (O_RDONLY|O_CLOEXEC, RESOLVE_NO_SYMLINKS)
  life    create DIR/life (O_CREAT|O_EXCL|O_WRONLY, 0600), rename it to
          DIR/life2, unlink DIR/life2
  more    mkdir DIR/d, symlink DIR/d/ln -> "target", link DIR/exists to
          DIR/hard, truncate DIR/exists to 3, chmod DIR/exists 0604, chown
          DIR/exists to 0:0, rmdir DIR/d after unlinking ln (fails first:
          ENOTEMPTY)
  chmod2  fchmodat2 (Linux 6.6+): DIR/exists to 0640 (absolute), "missing"
          relative to a dirfd of DIR (ENOENT)
  counts  for the agent's counters: 7 opens of DIR/exists, 5 of DIR/missing
          (ENOENT), 4 files DIR/cN created, each closed and unlinked, 3
          unlinks of DIR/missing (ENOENT); every call checked
"""
import ctypes
import json
import os
import struct
import sys

SYS_OPENAT2 = 437  # x86_64
RESOLVE_NO_SYMLINKS = 0x04
AT_FDCWD = -100


def openat2(path, flags, resolve):
    libc = ctypes.CDLL(None, use_errno=True)
    how = ctypes.create_string_buffer(struct.pack("QQQ", flags, 0, resolve))
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(SYS_OPENAT2, AT_FDCWD, path.encode(), how, ctypes.c_size_t(24))
    if fd < 0:
        return -ctypes.get_errno()
    return fd


def try_call(fn, *args, **kw):
    try:
        r = fn(*args, **kw)
        return 0 if r is None else r
    except OSError as e:
        return -e.errno


def opens(d, did):
    did["exists"] = try_call(os.open, os.path.join(d, "exists"), os.O_RDONLY)
    did["missing"] = try_call(os.open, os.path.join(d, "missing"), os.O_RDONLY)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        os.setgid(65534)
        os.setuid(65534)
        res = try_call(os.open, os.path.join(d, "secret"), os.O_RDONLY)
        os.write(w, str(res).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    did["secret"] = int(os.read(r, 64))
    did["secret_pid"] = child
    os.close(r)
    dfd = os.open(os.path.join(d, "sub"), os.O_RDONLY | os.O_DIRECTORY)
    did["dirfd"] = dfd
    did["inner"] = try_call(os.open, "inner", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640,
                            dir_fd=dfd)
    os.chdir(os.path.join(d, "sub"))
    did["relative"] = try_call(os.open, "../exists", os.O_RDONLY)
    did["openat2"] = openat2(os.path.join(d, "exists"), os.O_RDONLY | os.O_CLOEXEC,
                             RESOLVE_NO_SYMLINKS)


def life(d, did):
    p = os.path.join(d, "life")
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    did["fd"] = fd
    did["rename"] = try_call(os.rename, p, p + "2")
    did["unlink"] = try_call(os.unlink, p + "2")


def more(d, did):
    sub = os.path.join(d, "d")
    did["mkdir"] = try_call(os.mkdir, sub, 0o750)
    did["symlink"] = try_call(os.symlink, "target", os.path.join(sub, "ln"))
    did["link"] = try_call(os.link, os.path.join(d, "exists"), os.path.join(d, "hard"))
    did["truncate"] = try_call(os.truncate, os.path.join(d, "exists"), 3)
    did["chmod"] = try_call(os.chmod, os.path.join(d, "exists"), 0o604)
    did["chown"] = try_call(os.chown, os.path.join(d, "exists"), 0, 0)
    did["rmdir_full"] = try_call(os.rmdir, sub)
    did["unlink_ln"] = try_call(os.unlink, os.path.join(sub, "ln"))
    did["rmdir"] = try_call(os.rmdir, sub)


SYS_FCHMODAT2 = 452  # x86_64; newer than Debian 12's headers and Python


def chmod2(d, did):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def call(dfd, path, mode):
        r = libc.syscall(SYS_FCHMODAT2, dfd, path.encode(), mode, 0)
        return -ctypes.get_errno() if r < 0 else r
    did["abs"] = call(AT_FDCWD, os.path.join(d, "exists"), 0o640)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    did["dirfd"] = dfd
    did["missing"] = call(dfd, "missing", 0o600)


COUNTS = {"opens": 7, "failed_opens": 5, "creates": 4, "failed_unlinks": 3}


def counts(d, did):
    for _ in range(COUNTS["opens"]):
        os.close(os.open(os.path.join(d, "exists"), os.O_RDONLY))
    for _ in range(COUNTS["failed_opens"]):
        assert try_call(os.open, os.path.join(d, "missing"), os.O_RDONLY) == -2
    for i in range(COUNTS["creates"]):
        p = os.path.join(d, f"c{i}")
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(p)
    for _ in range(COUNTS["failed_unlinks"]):
        assert try_call(os.unlink, os.path.join(d, "missing")) == -2
    did.update(COUNTS)


def main():
    d, script = sys.argv[1], sys.argv[2]
    print(f"pid {os.getpid()}", flush=True)
    sys.stdin.buffer.read(1)
    did = {}
    {"opens": opens, "life": life, "more": more, "counts": counts, "chmod2": chmod2}[script](d, did)
    print(json.dumps(did), flush=True)


if __name__ == "__main__":
    main()
