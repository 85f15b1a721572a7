"""make install, the bash completion it installs, and make deb installed for real with dpkg."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, VIGIL

pytestmark = pytest.mark.skipif(shutil.which("make") is None,
                                reason="needs make (the kernel-matrix guests do not carry it)")


def make(*args):
    r = subprocess.run(["make", "-s", "-C", ROOT, *args], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


def version():
    out = subprocess.run([VIGIL, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def expected_files(prefix):
    """What make install must put under PREFIX (no leading /), from this tree."""
    want = {f"{prefix}/bin/vigil": 0o755,
            f"{prefix}/share/bash-completion/completions/vigil": 0o644,
            f"{prefix}/share/doc/vigil/README.md": 0o644}
    for f in os.listdir(os.path.join(ROOT, "docs")):
        if f.endswith(".md"):
            want[f"{prefix}/share/doc/vigil/{f}"] = 0o644
    deploy = os.path.join(ROOT, "deploy")
    for d, _, files in os.walk(deploy):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), deploy)
            want[f"{prefix}/share/vigil/{rel}"] = 0o644
            if rel == "vigil.service":
                want[f"{prefix}/lib/systemd/system/vigil.service"] = 0o644
    return want


def tree(root):
    got = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            got[os.path.relpath(p, root)] = os.stat(p).st_mode & 0o777
    return got


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    return str(dest)


def test_make_install_puts_exactly_the_layout(installed):
    assert tree(installed) == expected_files("usr")


def test_make_install_default_prefix_is_usr_local(tmp_path):
    make("install", f"DESTDIR={tmp_path}")
    assert tree(str(tmp_path)) == expected_files("usr/local")


def test_installed_binary_runs(installed):
    r = subprocess.run([os.path.join(installed, "usr/bin/vigil"), "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout == f"vigil {version()}\n"


# ---- bash completion --------------------------------------------------------

def complete(script, *words):
    """What bash completes for the command line `words` (the last one being completed):
    the function `complete -p vigil` names, called as readline would, COMPREPLY back."""
    prog = f'''
source "$1"
spec=$(complete -p vigil) || exit 3
fn=$(printf '%s\\n' "$spec" | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
[ -n "$fn" ] || exit 4
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${{#COMP_LINE}}
"$fn" vigil "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
'''
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog, "bash", script, *words],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


@pytest.fixture(scope="module")
def script(installed):
    return os.path.join(installed, "usr/share/bash-completion/completions/vigil")


def commands():
    out = subprocess.run([VIGIL, "--help"], capture_output=True, text=True, check=True).stdout
    section = out.split("Commands:\n")[1].split("\n\n")[0]
    names = [line.split()[0] for line in section.splitlines() if line.strip()]
    assert "firewall" in names and "completion" in names
    return names


def test_completion_completes_commands_and_options(script):
    assert complete(script, "vigil", "fire") == ["firewall"]
    assert complete(script, "vigil", "proc", "--exec") == ["--exec-only"]
    assert set(complete(script, "vigil", "")) >= set(commands()) | {"help", "--version"}
    fi = sorted(c for c in commands() if c.startswith("fi"))
    assert len(fi) >= 2 and "firewall" in fi
    assert sorted(complete(script, "vigil", "help", "fi")) == fi


def test_completion_firewall_verbs(script):
    verbs = verbs_of("firewall")
    assert sorted(verbs) == sorted(["load", "reload", "unload", "status", "events", "check"])
    assert sorted(complete(script, "vigil", "firewall", "")) == sorted(verbs)
    assert complete(script, "vigil", "firewall", "rel") == ["reload"]
    # after a verb, the rules file: bash's own file completion (no words from us)
    assert complete(script, "vigil", "firewall", "load", "") == []
    # each verb completes its own options only
    assert complete(script, "vigil", "firewall", "load", "--pers") == ["--persist"]
    assert complete(script, "vigil", "firewall", "status", "--pers") == []
    # an option's value is not a verb or an option either
    assert complete(script, "vigil", "firewall", "load", "--iface", "") == []


def verbs_of(cmd):
    text = subprocess.run([VIGIL, "help", cmd], capture_output=True, text=True, check=True).stdout
    if "\nVerbs:\n" not in text:
        return []
    block = text.split("\nVerbs:\n")[1].split("\n\n")[0]
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def test_completion_has_every_option_help_lists(script):
    """Generated from the same tables: nothing vigil help prints can be missing."""
    for cmd in commands():
        for verb in verbs_of(cmd) or [None]:
            words = [cmd] + ([verb] if verb else [])
            text = subprocess.run([VIGIL, "help", *words], capture_output=True, text=True,
                                  check=True).stdout
            listed = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", text))
            assert "--help" in listed
            offered = set(complete(script, "vigil", *words, "--"))
            assert listed <= offered, f"{words}: not completed: {sorted(listed - offered)}"
            assert offered <= listed, f"{words}: completed, not in its help: {sorted(offered - listed)}"


def test_completion_command_usage_errors():
    assert subprocess.run([VIGIL, "completion"], capture_output=True).returncode == 2
    r = subprocess.run([VIGIL, "completion", "zsh"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown shell 'zsh'" in r.stderr


# ---- the Debian package -----------------------------------------------------

def dpkg_status(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def dpkg(*args, timeout=300):
    """dpkg, waiting while another session's apt or dpkg holds its lock."""
    deadline = time.monotonic() + timeout
    while True:
        r = subprocess.run(["dpkg", *args], capture_output=True, text=True)
        if r.returncode == 0 or "lock" not in r.stderr or time.monotonic() > deadline:
            return r
        time.sleep(1)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_deb_installs_runs_and_removes():
    make("deb")
    ver = version()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    deb = os.path.join(ROOT, "build", f"vigil_{ver}_{arch}.deb")
    info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True,
                          check=True).stdout
    fields = dict(re.findall(r"^ ([A-Z][\w-]*): (.*)$", info, re.M))
    assert fields["Package"] == "vigil" and fields["Version"] == ver
    assert fields["Architecture"] == arch
    assert "Depends" not in fields and "Pre-Depends" not in fields     # static binary
    contents = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True,
                              check=True).stdout
    files = {}
    for line in contents.splitlines():
        mode, owner, _, _, _, path = line.split(None, 5)
        assert owner == "root/root", line
        if mode.startswith("-"):
            files[path.removeprefix("./")] = mode
    want = expected_files("usr")
    assert set(files) == set(want)
    assert files["usr/bin/vigil"] == "-rwxr-xr-x"

    st = dpkg_status("vigil")
    if st and not st.endswith("not-installed"):
        pytest.skip(f"a vigil package is already on this host ({st}): "
                    "not replacing it")
    for f in want:
        if os.path.lexists("/" + f):
            pytest.skip(f"/{f} exists outside any vigil package: not overwriting it")
    try:
        r = dpkg("-i", deb)
        assert r.returncode == 0, r.stderr
        assert dpkg_status("vigil") == "install ok installed"
        r = subprocess.run(["/usr/bin/vigil", "--version"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout == f"vigil {ver}\n"
        r = subprocess.run(["/usr/bin/vigil", "doctor", "--json"], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["type"] == "doctor" and doc["version"] == ver
        assert doc["commands"]["proc"]["runnable"] is True
    finally:
        r = dpkg("-r", "vigil")
    assert r.returncode == 0, r.stderr
    assert dpkg_status("vigil") in ("", "deinstall ok config-files", "unknown ok not-installed")
    assert not any(os.path.lexists("/" + f) for f in want)
