"""vigil agent with a guard section: a SIGHUP re-reads the guard's policy file
even when the config text is the same, swaps it atomically, and a bad file
keeps the running policy, names file:line:col and counts the error."""
import signal
import subprocess
import time

from conftest import VIGIL, free_port, parse_ndjson, scrape_values, wait_progs_gone
from guardwork import attempt_exec, copy_touch, denied_as

PROGS = ["gd_bprm_check", "gd_exec", "gd_connect4", "gd_connect6", "gd_sendmsg4", "gd_sendmsg6"]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def test_sighup_rereads_the_policy_file(tmp_path):
    a = copy_touch(str(tmp_path / "a"))
    b = copy_touch(str(tmp_path / "b"), b"\0b")
    policy = write(tmp_path / "policy", f"deny exec {a}\n")
    port = free_port()
    events = tmp_path / "events.json"
    cfg = write(tmp_path / "agent.yaml",
                f"outputs:\n  events: {events}\nmetrics:\n  listen: 127.0.0.1:{port}\n"
                f"features:\n  guard: {{policy: {policy}}}\n")
    errp = tmp_path / "err"
    err = open(errp, "w")
    ag = subprocess.Popen([VIGIL, "agent", "--config", cfg], stdout=subprocess.DEVNULL, stderr=err)
    marker = str(tmp_path / "marker")

    def wait_err(text, count=1):
        deadline = time.monotonic() + 120
        while errp.read_text().count(text) < count:
            assert ag.poll() is None and time.monotonic() < deadline, errp.read_text()
            time.sleep(0.02)

    try:
        wait_err("guard: enforcing")
        mech = "lsm" if "with lsm" in errp.read_text() else "sigkill"
        assert attempt_exec(a, marker) == denied_as(mech)
        assert attempt_exec(b, marker) == "ran"

        # the config is the same text; only the policy file changed
        write(policy, f"deny exec {b}\n")
        ag.send_signal(signal.SIGHUP)
        wait_err("agent: config reloaded")
        assert "guard: reloaded" in errp.read_text()
        assert "agent: stopping 'guard'" not in errp.read_text()   # swapped, not restarted
        assert attempt_exec(a, marker) == "ran"
        assert attempt_exec(b, marker) == denied_as(mech)

        # a bad file: the running policy stays, the error names file:line:col
        write(policy, f"deny exec {a}\ndeny exce /bin/true\n")
        ag.send_signal(signal.SIGHUP)
        wait_err("agent: config reloaded", 2)
        text = errp.read_text()
        assert f"{policy}:2:6: error: expected 'exec' or 'connect', got 'exce'" in text, text
        assert "agent: 'guard' kept its running state" in text
        assert attempt_exec(a, marker) == "ran"
        assert attempt_exec(b, marker) == denied_as(mech)

        m = scrape_values(port)
        assert m['vigil_guard_reloads_total{feature="guard",result="ok"}'] == 1, m
        assert m['vigil_guard_reloads_total{feature="guard",result="error"}'] == 1, m
        assert m['vigil_agent_reloads_total{result="ok"}'] == 1, m
        assert m['vigil_agent_reloads_total{result="error"}'] == 1, m
        assert m['vigil_guard_rules{feature="guard"}'] == 1, m
        assert m[f'vigil_guard_decisions_total{{feature="guard",kind="exec",action="deny",mechanism="{mech}"}}'] == 3, m
    finally:
        ag.send_signal(signal.SIGINT)
        ag.wait(timeout=60)
        err.close()
    # every deny record names the rule of the generation that decided it
    recs = [r for r in parse_ndjson(events.read_text()) if r.get("type") == "guard"]
    assert [(r["path"], r["rule"]) for r in recs] == [
        (a, f"deny exec {a}"), (b, f"deny exec {b}"), (b, f"deny exec {b}")], recs
    assert wait_progs_gone(PROGS) == []
