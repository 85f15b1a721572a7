"""Command line contract: help, version, usage errors and their exit codes."""
import json
import subprocess

import pytest

from conftest import parse_ndjson, VIGIL, run


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("vigil ")


@pytest.mark.parametrize("args", [["--help"], ["help"], ["help", "proc"], ["proc", "--help"],
                                  ["doctor", "-h"]])
def test_help_exits_zero(args):
    r = run(*args)
    assert r.returncode == 0
    assert "usage: vigil" in r.stdout


def test_help_lists_every_option_the_parser_takes():
    r = run("help", "proc")
    for opt in ["--pid", "--tid", "--uid", "--comm", "--cgroup", "--json", "--output",
                "--duration", "--exec-only", "--exit-only", "--failed"]:
        assert opt in r.stdout


@pytest.mark.parametrize("args,why", [
    (["proc", "--bogus"], "unknown option '--bogus'"),
    (["proc", "-Z"], "unknown option '-Z'"),
    (["proc", "-p", "abc"], "invalid pid 'abc'"),
    (["proc", "-p"], "needs a value"),
    (["proc", "--duration", "soon"], "invalid value 'soon'"),
    (["proc", "--ringbuf-size", "1000"], "power of two"),
    (["proc", "--comm", "a-name-longer-than-15"], "invalid comm"),
    (["proc", "--exec-only", "--exit-only"], "exclude each other"),
    (["proc", "extra"], "unexpected argument 'extra'"),
    (["nosuchcmd"], "'nosuchcmd' is not a vigil command"),
    (["--bogus"], "unknown option '--bogus'"),
    ([], "usage: vigil"),
])
def test_usage_errors_exit_2(args, why):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert why in r.stderr
    assert r.stdout == ""


def test_missing_cgroup_is_a_usage_error_naming_it():
    r = run("proc", "--cgroup", "/no/such/vigil-cgroup", "--json")
    assert r.returncode == 2
    assert "cannot open cgroup '/no/such/vigil-cgroup'" in r.stderr
    # JSON mode also puts the error on stdout, as a record
    rec = parse_ndjson(r.stdout)[0]
    assert rec["type"] == "error" and "vigil-cgroup" in rec["message"]


def test_unwritable_output_file_fails():
    r = run("proc", "-o", "/nonexistent-dir/out.json", "--duration", "100ms")
    assert r.returncode == 1
    assert "cannot open output file '/nonexistent-dir/out.json'" in r.stderr


def test_output_to_file(tmp_path):
    out = tmp_path / "events.json"
    r = run("proc", "--json", "-o", str(out), "--duration", "200ms")
    assert r.returncode == 0
    assert r.stdout == ""
    lines = out.read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "lost"


@pytest.mark.parametrize("args", [["proc", "-j", "-d", "300ms"], ["doctor", "-j"]])
def test_lost_output_is_a_failure(args):
    """Writing to a full device must fail loudly, not exit 0."""
    with open("/dev/full", "w") as full:
        r = subprocess.run([VIGIL, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 1
    assert "cannot write output: No space left on device" in r.stderr
