"""pytest plugin of the kernel matrix: streams one line per test to the result port as it finishes.

    START<TAB>nodeid                          before a test's setup
    RESULT<TAB>nodeid<TAB>pass|fail|skip<TAB>reason   after its teardown

With $VIGIL_GUEST_SKIPS naming tests/kernels/guest-skips.txt (the guests set it), the tests
listed there are skipped with the listed reason.

The port is the file named by $VIGIL_RESULTS (/dev/ttyS1 in a guest, a file on the host), opened
in append mode and flushed per line, so a guest that panics halfway still reports every test that
finished and names the one that was running. Loaded with `-p resultport` (tests/kernels on
PYTHONPATH). Standard library only: it runs inside the initramfs.
"""
import os

import pytest

_port = None
_state = {}  # nodeid -> (outcome, reason)


def _emit(*fields):
    global _port
    if _port is None:
        path = os.environ.get("VIGIL_RESULTS")
        if not path:
            return
        _port = open(path, "a", buffering=1)
    _port.write("\t".join(" ".join(str(f).split()) if i else f for i, f in enumerate(fields)) + "\n")
    _port.flush()


def _short(s, limit=300):
    s = " ".join((s or "").split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _fail_reason(report):
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    lines = [l for l in (report.longreprtext or "").splitlines() if l.strip()]
    return lines[-1] if lines else "failed"


def _skip_reason(report):
    if getattr(report, "wasxfail", None) is not None:
        return "xfail: " + (report.wasxfail or "expected failure")
    lr = report.longrepr
    msg = lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr or "")
    return msg[len("Skipped: "):] if msg.startswith("Skipped: ") else msg


def _skip_list(path):
    entries = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                prefix, _, reason = line.partition(" ")
                entries.append((prefix, " ".join(reason.split()) or "listed in guest-skips.txt"))
    return entries


def pytest_collection_modifyitems(config, items):
    path = os.environ.get("VIGIL_GUEST_SKIPS")
    if not path:
        return
    entries = _skip_list(path)
    for item in items:
        for prefix, reason in entries:
            if item.nodeid == prefix or item.nodeid.startswith(prefix + "::") or item.nodeid.startswith(prefix + "["):
                item.add_marker(pytest.mark.skip(reason=f"guest skip-list: {reason}"))
                break


def pytest_runtest_logstart(nodeid, location):
    _state.pop(nodeid, None)
    _emit("START", nodeid)


def pytest_runtest_logreport(report):
    prev = _state.get(report.nodeid)
    if report.failed:
        what = "" if report.when == "call" else f"in {report.when}: "
        out = ("fail", what + _fail_reason(report))
    elif report.skipped:
        out = ("skip", _skip_reason(report))
    else:
        out = ("pass", "")
    # the worst phase wins: fail > skip > pass; a failed teardown fails a passed test
    rank = {"pass": 0, "skip": 1, "fail": 2}
    if prev is None or rank[out[0]] > rank[prev[0]]:
        _state[report.nodeid] = out


def pytest_runtest_logfinish(nodeid, location):
    outcome, reason = _state.pop(nodeid, ("fail", "no report from pytest"))
    _emit("RESULT", nodeid, outcome, _short(reason))


def pytest_collectreport(report):
    if report.failed:
        _emit("RESULT", report.nodeid or "<collection>", "fail", "collection error: " + _short(_fail_reason(report)))
