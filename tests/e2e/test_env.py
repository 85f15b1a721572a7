"""Environment checks: privileges and pseudo filesystems, with actionable errors."""
import os
import shutil
import subprocess

import pytest

from conftest import VIGIL, Tracer, token, settle


def test_unprivileged_user_gets_exit_3_and_the_fix():
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) not installed")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", VIGIL, "proc", "-d", "100ms"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, r.stderr
    assert "needs root, or CAP_BPF and CAP_PERFMON" in r.stderr


def test_doctor_unprivileged_still_reports():
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) not installed")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", VIGIL, "doctor"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert "insufficient" in r.stdout and "not probed" in r.stdout


def test_tracefs_is_mounted_when_missing():
    """In a private mount namespace without tracefs, --failed mounts it and works."""
    script = ("umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; "
              "test ! -e /sys/kernel/tracing/events || exit 99; "
              f"{VIGIL} proc --failed -d 200ms -j -v >/dev/null; rc=$?; "
              "test -e /sys/kernel/tracing/events || exit 98; exit $rc")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 99:
        pytest.skip("cannot unmount tracefs in a private mount namespace here")
    assert r.returncode == 0, r.stderr
    assert "mounted tracefs" in r.stderr


def test_tid_filter_includes_and_excludes():
    tok_in, tok_out = token(), token()
    target = subprocess.Popen(["sh", "-c", f"read x; exec /bin/echo {tok_in}"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        with Tracer("proc", "--exec-only", "--tid", str(target.pid)) as t:
            subprocess.run(["/bin/echo", tok_out], stdout=subprocess.DEVNULL)
            target.communicate(b"go\n", timeout=10)
            settle()
            t.stop()
            recs = [r for r in t.records() if r["type"] == "exec"]
    finally:
        target.kill()
    assert [r["argv"] for r in recs] == [["/bin/echo", tok_in]]
    assert recs[0]["tid"] == target.pid
