#!/usr/bin/python3
"""Read the result directories written by tests/kernels/run.sh and print the kernel x test matrix.

Each directory holds:
  meta         NAME<TAB>KERNEL_RELEASE<TAB>SECONDS<TAB>QEMU_EXIT ("-" for the host)
  results.txt  the result port: BEGIN, MOUNT, LSM, MODULE, PAYLOAD, RESULT, ERROR, END, POWEROFF lines
  console.log  the guest's serial console (or the host's pytest output)

Besides one row per test, every guest gets harness rows ([guest] ...): a guest that did not boot,
panicked, oopsed, timed out, lost its result port or never finished the suite fails there, so no
guest can pass by saying nothing. Exit status: 0 no failure anywhere, 1 otherwise.
"""
import argparse
import os
import re
import sys

# anywhere in a line: the kernel's messages can land in the middle of pytest's output on ttyS0
KERNEL_TROUBLE = re.compile(
    r"\[\s*\d+\.\d+\]\s*(Kernel panic.*|BUG:.*|Oops.*|general protection fault.*|WARNING:.*)$")


class Column:
    def __init__(self, path):
        self.path = path
        meta = read(os.path.join(path, "meta")).strip().split("\t")
        if meta == [""]:  # the run died before writing it
            meta = [os.path.basename(os.path.normpath(path))]
        meta += ["?"] * (5 - len(meta))
        self.name, self.release, self.seconds, self.qemu_rc, self.timeout = meta[:5]
        self.guest = os.path.basename(os.path.normpath(path)) != "host"
        self.uptime = {}  # init/suite/end -> guest uptime in seconds, for information only
        self.rows = {}  # row -> (outcome, reason)
        self.order = []
        self.parse()

    def add(self, row, outcome, reason=""):
        if row not in self.rows:
            self.order.append(row)
        self.rows[row] = (outcome, reason)

    def parse(self):
        lines = [l.rstrip("\r") for l in read(os.path.join(self.path, "results.txt")).split("\n")]
        begin = end = poweroff = None
        lsm = None
        errors = []
        fails = 0
        running = None  # START seen, RESULT not yet
        for line in lines:
            word, _, rest = line.partition(" ")
            if line.startswith("START\t"):
                running = line.split("\t")[1]
            elif line.startswith("RESULT\t"):
                f = line.split("\t") + [""] * 3
                self.add(f[1], f[2] if f[2] in ("pass", "fail", "skip") else "fail",
                         f[3] if f[2] in ("pass", "fail", "skip") else f"unknown outcome '{f[2]}'")
                fails += self.rows[f[1]][0] == "fail"
                if running == f[1]:
                    running = None
            elif word == "UPTIME":
                k, _, v = rest.partition(" ")
                self.uptime[k] = v.strip()
            elif word == "BEGIN":
                begin = rest
            elif word == "MOUNT":
                fs, _, how = rest.partition(" ")
                ok = how.startswith("ok")
                self.add(f"[guest] mount {fs}", "pass" if ok else "fail", "" if ok else how)
            elif word == "LSM":
                lsm = rest
            elif word == "MODULE":
                m, _, how = rest.partition(" ")
                self.add(f"[guest] module {m}", "pass" if how == "ok" else "fail",
                         "" if how == "ok" else "modprobe failed (see console.log)")
            elif word == "ERROR":
                errors.append(rest)
            elif word == "END":
                end = rest.strip()
            elif word == "POWEROFF":
                poweroff = True
        console = os.path.join(self.path, "console.log")
        trouble = []
        if self.guest:
            trouble = [m.group(1).strip() for m in map(KERNEL_TROUBLE.search, read(console).split("\n")) if m]
            timed_out = self.qemu_rc in ("124", "137")
            if begin is None:
                why = (f"timed out after {self.timeout} s" if timed_out else trouble[0] if trouble else
                       f"qemu exited {self.qemu_rc}" if self.qemu_rc != "0" else "no result markers")
                self.add("[guest] boot", "fail", f"{why} (see {console})")
            else:
                self.add("[guest] boot", "pass")
                if lsm is None:
                    self.add("[guest] bpf lsm active", "fail", "no LSM line from the guest")
                elif "bpf" in lsm.split(","):
                    self.add("[guest] bpf lsm active", "pass")
                else:
                    self.add("[guest] bpf lsm active", "fail", f"bpf not in /sys/kernel/security/lsm: {lsm}")
            if trouble:
                self.add("[guest] kernel log clean", "fail", "; ".join(dict.fromkeys(trouble))[:300])
            else:
                self.add("[guest] kernel log clean", "pass")
            if begin is not None:
                if timed_out:
                    self.add("[guest] clean poweroff", "fail", f"timed out after {self.timeout} s")
                elif not poweroff or self.qemu_rc != "0":
                    self.add("[guest] clean poweroff", "fail",
                             f"qemu exited {self.qemu_rc}" + ("" if poweroff else ", no POWEROFF marker"))
                else:
                    self.add("[guest] clean poweroff", "pass")
        if running is not None:
            why = trouble[0] if trouble else "timed out" if self.guest and self.qemu_rc in ("124", "137") else "the run ended"
            self.add(running, "fail", f"did not finish: {why}")
            fails += 1
        # the suite as a whole: it must have finished and its exit code must agree with the rows
        row = "[harness] suite completed"
        if begin is None and self.guest:
            self.add(row, "fail", "guest never started")
        elif end is None:
            self.add(row, "fail", "no END marker: the run died mid-suite" + (f" ({trouble[0]})" if trouble else ""))
        elif errors:
            self.add(row, "fail", "; ".join(errors))
        elif end == "0" and fails == 0:
            self.add(row, "pass")
        elif end == "1" and fails > 0:
            self.add(row, "pass", "")
        elif end == "5":
            self.add(row, "fail", "pytest collected no tests")
        else:
            self.add(row, "fail", f"pytest exited {end} with {fails} failed rows")

    def times(self):
        u = self.uptime
        if "init" in u and "end" in u and "suite" in u:
            try:
                return f"{float(u['init']):.1f}+{float(u['end']) - float(u['suite']):.1f} s"
            except ValueError:
                pass
        return "-"


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def render(cols):
    rows = []
    for c in cols:  # harness rows first, then tests, in first-seen order
        for r in c.order:
            if r not in rows:
                rows.append(r)
    first = {r: i for i, r in enumerate(rows)}
    lead = ["[guest] boot", "[guest] kernel log clean", "[guest] clean poweroff", "[harness] suite completed",
            "[guest] bpf lsm active"]
    rows.sort(key=lambda r: (lead.index(r) if r in lead else len(lead), not r.startswith("["), first[r]))
    reasons = {}  # (outcome, reason) -> number, for skips and failures

    def cell(c, r):
        if r not in c.rows:
            return "-"
        o, why = c.rows[r]
        if o == "pass" or not why:
            return o
        key = (o, why)
        if key not in reasons:
            reasons[key] = len(reasons) + 1
        return f"{o}({reasons[key]})"

    cells = [[cell(c, r) for c in cols] for r in rows]
    w0 = max([len("test")] + [len(r) for r in rows])
    ws = [max([len(c.name), len(c.release), len(f"{c.seconds} s"), len(c.times())] + [len(x[i]) for x in cells])
          for i, c in enumerate(cols)]
    out = []
    line = lambda first, xs: (first.ljust(w0) + "  " + "  ".join(x.ljust(w) for x, w in zip(xs, ws))).rstrip()
    out.append(line("kernel", [c.name for c in cols]))
    out.append(line("release", [c.release for c in cols]))
    out.append(line("wall time", [f"{c.seconds} s" for c in cols]))
    out.append(line("boot+suite (guest clock)", [c.times() for c in cols]))
    out.append("-" * (w0 + 2 + sum(w + 2 for w in ws) - 2))
    for r, xs in zip(rows, cells):
        out.append(line(r, xs))
    out.append("")
    out.append("pass/fail/skip(n): outcome, (n) numbers the reason below; -: not run on that kernel")
    if reasons:
        out.append("")
        for (o, why), n in sorted(reasons.items(), key=lambda kv: kv[1]):
            out.append(f"({n}) {o}: {why}")
    out.append("")
    total_fail = 0
    for c in cols:
        n = {"pass": 0, "fail": 0, "skip": 0}
        for o, _ in c.rows.values():
            n[o] += 1
        total_fail += n["fail"]
        rel = os.path.relpath(c.path)
        out.append(f"{c.name}: {n['pass']} pass, {n['fail']} fail, {n['skip']} skip  "
                   f"({c.path if rel.startswith('..') else rel})")
    # the failures last, named, so that the tail of a CI log says which test broke where
    for c in cols:
        for r, (o, why) in c.rows.items():
            if o == "fail":
                out.append(f"failed on {c.name}: {r}" + (f": {why.splitlines()[0][:200]}" if why else ""))
    out.append("result: " + ("FAIL" if total_fail else "PASS"))
    return "\n".join(out) + "\n", total_fail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="also write the matrix to this file")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    cols = [Column(d) for d in a.dirs]
    text, fails = render(cols)
    sys.stdout.write(text)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
