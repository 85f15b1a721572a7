#!/usr/bin/env python3
"""Drop the line info from a BPF object's .BTF.ext, and the relocations of .BTF/.BTF.ext.

  scripts/bpf-slim.py OBJ       rewrites OBJ in place (the Makefile runs it after llvm-strip -g)

The objects are embedded in the one binary, and line info (source line per instruction, for
verifier logs and `bpftool prog dump` only) was about 0.8 MB of the 3.7 MB they took; the
.rel.BTF* sections, which libbpf skips, about as much. func_info (needed for subprograms and
global functions) and the CO-RE relocations stay, so the object loads exactly as before.
"""
import os
import struct
import subprocess
import sys
import tempfile

OBJCOPY = os.environ.get("LLVM_OBJCOPY", "llvm-objcopy")


def slim(ext):
    # struct btf_ext_header: magic, version, flags, hdr_len, then (off, len) pairs
    # relative to the end of the header: func_info, line_info, and core_relo when hdr_len >= 32
    magic, version, flags, hdr_len = struct.unpack_from("<HBBI", ext, 0)
    if magic != 0xeB9F:
        raise SystemExit(f"bpf-slim: .BTF.ext has magic {magic:#x}, not 0xeb9f")
    pairs = [struct.unpack_from("<II", ext, off) for off in range(8, hdr_len, 8)]
    body = ext[hdr_len:]
    parts = [body[o:o + n] for o, n in pairs]
    parts[1] = b""                      # line_info: gone
    out, off = [], 0
    for p in parts:
        out.append((off, len(p)))
        off += len(p)
    hdr = struct.pack("<HBBI", magic, version, flags, hdr_len)
    hdr += b"".join(struct.pack("<II", o, n) for o, n in out)
    return hdr + b"".join(parts)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    obj = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        raw = os.path.join(d, "ext")
        r = subprocess.run([OBJCOPY, "--dump-section", f".BTF.ext={raw}", obj, os.path.join(d, "o")],
                           capture_output=True, text=True)
        if r.returncode:
            return 0                    # no .BTF.ext: nothing to slim
        with open(raw, "rb") as f:
            new = slim(f.read())
        with open(raw, "wb") as f:
            f.write(new)
        subprocess.run([OBJCOPY, "--update-section", f".BTF.ext={raw}", "--remove-section=.rel.BTF.ext",
                        "--remove-section=.rel.BTF", obj], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
