"""etcdctl version and completion: the version lines, the completion
commands' help as the reference etcdctl (3.4.23, whose cobra has the same
`completion <shell>` commands) prints it, cobra's __complete protocol, and a
bash completion script that completes commands and flags in a real bash."""

import os
import pathlib
import re
import subprocess

import pytest

from conftest import REFERENCE_ETCDCTL, ROOT, etcdctl_env

OUR_ETCDCTL = pathlib.Path(os.environ.get("E2E_CTL", ROOT / "build" / "bin" / "etcdctl"))


def run(binary, *args, input=None):
    return subprocess.run([str(binary), *args], env=etcdctl_env(), input=input,
                          capture_output=True, text=True, timeout=30)


def versionless(text):
    # The reference says 3.4 where we say 3.5: the API VERSION block.
    return re.sub(r"API VERSION:\n\t3\.\d\n", "API VERSION:\n\t3.x\n", text)


def test_version():
    r = run(OUR_ETCDCTL, "version")
    assert r.returncode == 0 and r.stderr == ""
    assert re.fullmatch(r"etcdctl version: 3\.5\.\d+\nAPI version: 3\.5\n", r.stdout), r.stdout


@pytest.mark.parametrize("args", [
    ("completion", "--help"),
    ("completion",),
    ("completion", "bash", "--help"),
    ("completion", "zsh", "--help"),
    ("completion", "fish", "--help"),
    ("completion", "powershell", "--help"),
    ("completion", "bash", "extra"),
    ("version", "--help"),
], ids=" ".join)
def test_completion_help_matches_reference(args):
    a, b = run(OUR_ETCDCTL, *args), run(REFERENCE_ETCDCTL, *args)
    assert (a.returncode, versionless(a.stdout), a.stderr) == \
        (b.returncode, versionless(b.stdout), b.stderr)


@pytest.mark.parametrize("words", [
    ("user", ""),
    ("user", "g"),
    ("role", ""),
    ("role", "grant-permission", "--"),
    ("role", "grant-permission", "--prefix", "--"),
    ("role", "grant-permission", "-"),
    ("user", "add", "--"),
    ("user", "add", "alice", ""),
    ("user", "nosuch", ""),
    ("completion", ""),
    ("completion", "b"),
    ("completion", "bash", "-"),
    ("help", "user", ""),
    ("help", "us"),
    ("-w=j",),
    ("user", "list", "--write-out", ""),
    ("user", "list", "--hex", ""),
    ("--endpoints", "x", "user", ""),
    ("nosuch", ""),
    ("-",),
    ("--",),
], ids=lambda w: " ".join(repr(x) for x in w))
def test_complete_protocol_matches_reference(words):
    for request in ("__complete", "__completeNoDesc"):
        a = run(OUR_ETCDCTL, request, *words)
        b = run(REFERENCE_ETCDCTL, request, *words)
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def test_auth_completes_etcd_35s_status_too():
    r = run(OUR_ETCDCTL, "__complete", "auth", "")
    assert r.stdout == ("disable\tDisables authentication\nenable\tEnables authentication\n"
                        "status\tReturns authentication status\n:4\n")


def test_root_completions_are_the_references():
    # Every command group of ours completes as the reference's does (groups
    # still being written are simply absent here).
    a = run(OUR_ETCDCTL, "__complete", "").stdout.splitlines()
    b = run(REFERENCE_ETCDCTL, "__complete", "").stdout.splitlines()
    assert a[-1] == b[-1] == ":4"
    assert set(a) <= set(b)
    assert {"auth\tEnable or disable authentication", "user\tUser related commands",
            "role\tRole related commands", "version\tPrints the version of etcdctl",
            "help\tHelp about any command"} <= set(a)


def bash_complete(line, script_args=("completion", "bash")):
    """COMPREPLY of our bash script for the command line `line` (completing
    its last word; a trailing space starts a new word)."""
    script = run(OUR_ETCDCTL, *script_args).stdout
    words = line.split(" ")
    prog = str(OUR_ETCDCTL)
    program = f"""
{script}
etcdctl() {{ "{prog}" "$@"; }}
COMP_WORDS=({" ".join(repr(w) if w else "''" for w in [prog] + words[1:])})
COMP_CWORD={len(words) - 1}
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
_etcdctl_complete
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30,
                       env=etcdctl_env())
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.split("\n") if l]


def test_bash_script_completes_commands_and_flags():
    assert bash_complete("etcdctl us") == ["user"]
    assert bash_complete("etcdctl user gr") == ["grant-role"]
    assert bash_complete("etcdctl role grant-permission --pr") == ["--prefix"]
    assert bash_complete("etcdctl user add --no-") == ["--no-password"]
    # Several candidates: their common prefix goes on the line first ...
    assert bash_complete("etcdctl role re") == ["revoke-permission"]
    assert bash_complete("etcdctl user g") == [
        "get  (Gets detailed information of a user)", "grant-role  (Grants a role to a user)"]
    # ... then the list, with descriptions.
    got = bash_complete("etcdctl user ")
    assert "add  (Adds a new user)" in got and len(got) == 7
    got = bash_complete("etcdctl role ", ("completion", "bash", "--no-descriptions"))
    assert got == ["add", "delete", "get", "grant-permission", "list", "revoke-permission"]
    # The script registers itself.
    assert "complete -o default -F _etcdctl_complete etcdctl" in run(
        OUR_ETCDCTL, "completion", "bash").stdout


@pytest.mark.parametrize("shell", ["zsh", "fish", "powershell"])
def test_other_shells_ask_etcdctl(shell):
    r = run(OUR_ETCDCTL, "completion", shell)
    assert r.returncode == 0 and "__complete" in r.stdout
    nodesc = run(OUR_ETCDCTL, "completion", shell, "--no-descriptions").stdout
    assert "__completeNoDesc" in nodesc


def test_debug_lists_the_flags_but_never_a_password():
    """--debug prints every global flag as its ETCDCTL_* variable, as
    etcdctl does, except that passwords are masked (etcdctl 3.4 prints
    --user's "name:password" whole)."""
    ref = run(REFERENCE_ETCDCTL, "--debug", "--user", "root:hunter2", "--endpoints=127.0.0.1:1",
              "--dial-timeout=1s", "get", "x")
    assert "ETCDCTL_USER=root:hunter2\n" in ref.stderr  # what the reference leaks
    ours = run(OUR_ETCDCTL, "--debug", "--user", "root:hunter2", "--password", "pw-xyz",
               "--endpoints=127.0.0.1:1", "--dial-timeout=1s", "get", "x")
    assert ours.returncode != 0
    assert "ETCDCTL_USER=root:******\n" in ours.stderr
    assert "ETCDCTL_PASSWORD=******\n" in ours.stderr
    assert "ETCDCTL_DIAL_TIMEOUT=1s\n" in ours.stderr
    assert "hunter2" not in ours.stderr + ours.stdout
    assert "pw-xyz" not in ours.stderr + ours.stdout
