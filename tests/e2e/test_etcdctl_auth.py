"""etcdctl auth / user / role: our etcdctl against the reference etcdctl
(etcd 3.4.23), byte for byte.

- Against our server: every command's output, error, stdout/stderr split and
  exit code. Mutations run on two of our servers, one driven by each
  etcdctl, with the same history (tests/e2e/test_auth.py compares our
  server with the reference server).
- Against a reference etcd 3.4.23 server: the whole auth workflow (root user,
  roles and permissions, auth enable, --user with and without a prompt,
  authentication failures, permission denied, auth disable). Mutations run
  step by step on two reference servers, one driven by each etcdctl, with the
  same history, so even the revisions in the headers agree; reads are also
  compared on one server in every output format.

Only the time, client uuid and attempt count of the Go client's zap
warnings on stderr, and member/cluster IDs (which differ between servers by
construction) are normalised.
"""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import (REFERENCE_ETCDCTL, ROOT, EtcdProcess, etcdctl_env)

OUR_ETCDCTL = pathlib.Path(os.environ.get("E2E_CTL", ROOT / "build" / "bin" / "etcdctl"))


def ctl(binary, endpoint, *args, input=None):
    r = subprocess.run([str(binary), f"--endpoints={endpoint}", *args], env=etcdctl_env(),
                       input=input.encode() if input is not None else None,
                       capture_output=True, timeout=30)
    return r


def normalised(r, ids=False):
    # The Go client's zap warnings: their time, the client's uuid, and how
    # many attempts a run of them counted (timing) are normalised.
    err = re.sub(rb'"ts":"[^"]*"', b'"ts":"<ts>"', r.stderr)
    err = re.sub(rb"client-[0-9a-f-]{36}/", b"client-<uuid>/", err)
    err = re.sub(rb'(\{"level":"warn"[^\n]*"attempt":)\d+(,[^\n]*\n)(?:\1\d+\2)*', rb"\1<n>\2",
                 err)
    out = r.stdout
    if ids:  # two servers: their ports differ too
        err = re.sub(rb'(client-<uuid>/127\.0\.0\.1:)\d+', rb"\1<port>", err)
        out = re.sub(rb'"(cluster_id|member_id)":\d+', rb'"\1":ID', out)
        out = re.sub(rb'"(ClusterID|MemberID)" : \d+', rb'"\1" : ID', out)
    return r.returncode, out, err


def same(endpoint_ours, endpoint_ref, *args, input=None, ids=False):
    """Runs `args` with our etcdctl and the reference's; asserts identical
    results; returns ours."""
    a = ctl(OUR_ETCDCTL, endpoint_ours, *args, input=input)
    b = ctl(REFERENCE_ETCDCTL, endpoint_ref, *args, input=input)
    assert normalised(a, ids) == normalised(b, ids), f"etcdctl {' '.join(args)}"
    return a


@pytest.fixture(scope="module")
def ours_pair(tmp_path_factory):
    """Two of our servers: ours etcdctl drives the first, the reference's the
    second, so mutations see the same history on both."""
    made = []
    for name in ("s1", "s2"):
        p = EtcdProcess(tmp_path_factory.mktemp(f"ours{name}"), name=name)
        made.append(p)
        p.start()
    yield made
    for p in made:
        p.stop()
        shutil.rmtree(p.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ours_server(ours_pair):
    return ours_pair[0]


@pytest.fixture(scope="module")
def ref_servers(tmp_path_factory):
    made = []
    for name in ("a", "b"):
        p = EtcdProcess(tmp_path_factory.mktemp(f"ref{name}"), name=name, reference=True)
        made.append(p)
        p.start()
    yield made
    for p in made:
        p.stop()
        shutil.rmtree(p.data_dir, ignore_errors=True)


# -- against our server: the same answers, as the reference prints them ------

COMMANDS = [
    ("auth", "enable"),
    ("auth", "disable"),
    ("user", "add", "u1:pw"),
    ("user", "add", "--no-password", "u1"),
    ("user", "add", "--new-user-password=pw", "u1"),
    ("user", "delete", "u1"),
    ("user", "get", "u1"),
    ("user", "get", "--detail", "u1"),
    ("user", "list"),
    ("user", "grant-role", "u1", "r1"),
    ("user", "revoke-role", "u1", "r1"),
    ("role", "add", "r1"),
    ("role", "delete", "r1"),
    ("role", "get", "r1"),
    ("role", "list"),
    ("role", "grant-permission", "r1", "read", "k"),
    ("role", "grant-permission", "--prefix", "r1", "readwrite", "k"),
    ("role", "revoke-permission", "r1", "k", "l"),
    ("--user", "root:pw", "role", "list"),
    ("--user", "root", "--password", "pw", "user", "list"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_auth_commands_match_reference(ours_pair, args):
    a, b = ours_pair
    same(a.endpoint, b.endpoint, *args, ids=True)


def test_prompts_match_reference(ours_pair):
    a, b = ours_pair

    def both(*args, input=None):
        return same(a.endpoint, b.endpoint, *args, input=input, ids=True)
    r = both("user", "add", "u2", input="pw\npw\n")  # both prompts, then the server
    assert r.returncode == 0 and r.stdout.endswith(b"User u2 created\n")
    both("user", "add", "u2", input="pw\nother\n")  # different
    r = both("user", "add", "u2", input="\n")  # empty
    assert r.returncode != 0
    both("user", "passwd", "u2", input="pw\npw\n")
    both("user", "passwd", "--interactive=false", "u2", input="pw\n")
    both("--user", "root", "user", "list", input="pw\n")  # "Password: "
    # The prompts come before the output format is checked.
    both("-w", "yaml", "--user", "root", "user", "list", input="pw\n")
    both("-w", "yaml", "user", "add", "u3", input="pw\npw\n")


def test_auth_status_shows_the_flag_and_revision(ours_server):
    r = ctl(OUR_ETCDCTL, ours_server.endpoint, "auth", "status")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rb"Authentication Status: false\nAuthRevision: [1-9][0-9]*\n", r.stdout)


ARG_ERRORS = [
    ("auth", "enable", "x"),
    ("auth", "disable", "x"),
    ("user", "add"),
    ("user", "add", ":pw"),
    ("user", "delete"),
    ("user", "get", "a", "b"),
    ("user", "list", "x"),
    ("user", "passwd"),
    ("user", "grant-role", "u"),
    ("user", "revoke-role", "u"),
    ("role", "add"),
    ("role", "delete"),
    ("role", "get"),
    ("role", "list", "x"),
    ("role", "grant-permission", "r", "read"),
    ("role", "grant-permission", "r", "execute", "k"),
    ("role", "grant-permission", "--prefix", "--from-key", "r", "read", "k"),
    ("role", "grant-permission", "--prefix", "--from-key", "r", "read", ""),
    ("role", "grant-permission", "--prefix", "r", "read", "k", "l"),
    ("role", "grant-permission", "--from-key", "r", "read", "k", "l"),
    ("role", "revoke-permission", "r"),
    ("role", "revoke-permission", "--prefix", "r", "k", "l"),
    ("role", "revoke-permission", "--from-key", "r", "k", "l"),
    ("-w", "yaml", "user", "list"),
]


@pytest.mark.parametrize("args", ARG_ERRORS, ids=" ".join)
def test_argument_errors_match_reference(ours_server, args):
    r = same(ours_server.endpoint, ours_server.endpoint, *args)
    assert r.returncode != 0


# -- against the reference server: the whole workflow -------------------------

FORMATS = (("-w", "simple"), ("-w", "json"), ("-w", "fields"), ("-w", "protobuf"),
           ("-w", "table"))


def test_auth_workflow_against_reference_server(ref_servers):
    a, b = ref_servers
    ROOT_AUTH = ("--user", "root:rootpw")

    def step(*args, input=None):
        """A mutation: ours on server a, the reference's on server b."""
        return same(a.endpoint, b.endpoint, *args, input=input, ids=True)

    def read(*args, auth=ROOT_AUTH):
        """A read, in every format, on one server; and on both servers."""
        for fmt in FORMATS:
            same(a.endpoint, a.endpoint, *auth, *fmt, *args)
        same(a.endpoint, b.endpoint, *auth, *args, ids=True)

    assert step("user", "add", "root:rootpw").stdout == b"User root created\n"
    step("user", "add", "root:again")  # already exists
    step("role", "add", "r1")
    step("-w", "json", "role", "add", "r2")
    step("-w", "fields", "role", "add", "r3")
    step("role", "add", "r1")  # already exists
    assert step("role", "grant-permission", "r1", "read", "a").stdout == b"Role r1 updated\n"
    step("role", "grant-permission", "r1", "write", "b", "c")
    step("role", "grant-permission", "--prefix", "r1", "readwrite", "p/")
    step("role", "grant-permission", "--from-key", "r1", "read", "z")
    step("role", "grant-permission", "--prefix", "r1", "READ", "")
    step("role", "grant-permission", "-w", "json", "r2", "Write", "x")
    step("role", "grant-permission", "nosuch", "read", "x")
    read("role", "get", "r1", auth=())
    out = ctl(OUR_ETCDCTL, a.endpoint, "role", "get", "r1").stdout.decode()
    assert "\t[b, c) (prefix b)\n" in out and "\t[p/, p0) (prefix p/)\n" in out
    assert "\t[z, <open ended>\n" in out
    read("role", "list", auth=())
    read("role", "get", "nosuch", auth=())

    step("user", "add", "alice:apw")
    step("user", "add", "--no-password", "nopw")
    step("user", "add", "bob", input="bpw\nbpw\n")
    step("user", "add", "carol", "--interactive=false", input="cpw\n")
    step("user", "passwd", "bob", input="bpw2\nbpw2\n")
    step("user", "passwd", "--interactive=false", "carol", input="  cpw2 rest\n")
    step("user", "grant-role", "alice", "r1")
    step("user", "grant-role", "alice", "r2")
    step("user", "grant-role", "alice", "nosuch")
    step("user", "grant-role", "nosuch", "r1")
    read("user", "get", "alice", auth=())
    read("user", "get", "--detail", "alice", auth=())
    read("user", "list", auth=())
    read("user", "get", "nosuch", auth=())

    # auth enable gives root its root role first.
    assert step("auth", "enable").stdout == b"Authentication Enabled\n"
    step("user", "list")  # no user now
    read("user", "list")
    read("role", "get", "root")
    step("--user", "root", "user", "list", input="rootpw\n")  # the prompt
    step("--user", "root", "--password", "rootpw", "role", "list")
    step("--user", "root:", "role", "list")  # no password: no authentication at all
    step("--user", "root", "role", "list", input="\n")  # the same, from the prompt
    step("--user", "root:wrong", "user", "list")  # authentication failed, exit 2
    step("--user", "nosuch:pw", "role", "list")
    step("--user", "alice:apw", "user", "list")  # permission denied
    step("--user", "alice:apw", "role", "get", "r1")
    step("--user", "alice:apw", "user", "get", "alice")
    step("--user", "bob:bpw", "user", "list")  # the old password
    step("--user", "bob:bpw2", "user", "get", "bob")
    step("--user", "alice:apw", "auth", "disable")  # not root

    step(*ROOT_AUTH, "role", "revoke-permission", "r1", "a")
    step(*ROOT_AUTH, "role", "revoke-permission", "r1", "b", "c")
    step(*ROOT_AUTH, "role", "revoke-permission", "--prefix", "r1", "p/")
    step(*ROOT_AUTH, "role", "revoke-permission", "--from-key", "r1", "z")
    step(*ROOT_AUTH, "role", "revoke-permission", "--prefix", "r1", "")
    step(*ROOT_AUTH, "role", "revoke-permission", "r1", "never")
    read("role", "get", "r1")
    step(*ROOT_AUTH, "user", "revoke-role", "alice", "r1")
    step(*ROOT_AUTH, "user", "revoke-role", "alice", "r1")
    step(*ROOT_AUTH, "-w", "json", "role", "delete", "r2")
    step(*ROOT_AUTH, "role", "delete", "r1")
    step(*ROOT_AUTH, "user", "delete", "alice")
    step(*ROOT_AUTH, "-w", "fields", "user", "delete", "bob")
    step(*ROOT_AUTH, "user", "delete", "alice")
    assert step(*ROOT_AUTH, "auth", "disable").stdout == b"Authentication Disabled\n"
    step("--user", "root:rootpw", "user", "list")  # auth is off: the token is not needed
    step("auth", "disable")
    read("user", "list", auth=())


def on_terminal(binary, endpoint, args, lines):
    """Runs etcdctl on a pseudo-terminal, typing `lines` after it starts;
    returns what the terminal showed (zap lines normalised)."""
    import pty
    import select
    import time
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["ETCDCTL_API"] = "3"
        os.execv(str(binary), [str(binary), f"--endpoints={endpoint}", *args])
    shown = b""
    try:
        for line in lines:
            time.sleep(0.3)
            os.write(fd, line)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            shown += data
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    shown = re.sub(rb'"ts":"[^"]*"', b'"ts":"<ts>"', shown)
    return re.sub(rb"client-[0-9a-f-]{36}/", b"client-<uuid>/", shown)


@pytest.mark.parametrize("args,lines", [
    (("user", "add", "u4"), [b"secret\n", b"secret\n"]),
    (("user", "passwd", "u4"), [b"secret\n", b"other\n"]),
    (("--user", "root", "role", "list"), [b"secret\n"]),
], ids=lambda x: " ".join(x) if isinstance(x[0], str) else "")
def test_terminal_prompts_hide_the_password(ours_pair, args, lines):
    a, b = ours_pair
    ours = on_terminal(OUR_ETCDCTL, a.endpoint, args, lines)
    ref = on_terminal(REFERENCE_ETCDCTL, b.endpoint, args, lines)
    port = re.compile(rb"(127\.0\.0\.1:)\d+")
    assert port.sub(rb"\1<port>", ours) == port.sub(rb"\1<port>", ref)
    assert b"secret" not in ours and b"Password" in ours


def test_unreachable_endpoint_matches_reference():
    from conftest import free_ports
    dead = f"127.0.0.1:{free_ports(1)[0]}"
    # No dial wait without a user: the command's deadline ends it (exit 1);
    # with a user the token is fetched at dial time (exit 2).
    same(dead, dead, "--dial-timeout=1s", "--command-timeout=2s", "auth", "enable")
    same(dead, dead, "--dial-timeout=1s", "--user", "root:pw", "user", "list")
    same(dead, dead, "--dial-timeout=1s", "--user", "root:pw", "-w", "json", "role", "get", "r")


@pytest.mark.parametrize("args", [
    ("user",), ("role",), ("auth",), ("user", "add"), ("user", "delete"), ("user", "get"),
    ("user", "list"), ("user", "passwd"), ("user", "grant-role"), ("user", "revoke-role"),
    ("role", "add"), ("role", "delete"), ("role", "get"), ("role", "list"),
    ("role", "grant-permission"), ("role", "revoke-permission"), ("auth", "enable"),
    ("auth", "disable"),
], ids=" ".join)
def test_help_matches_reference(args):
    def text(binary):
        r = subprocess.run([str(binary), *args, "--help"], env=etcdctl_env(),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stderr == ""
        out = re.sub(r"API VERSION:\n\t3\.\d\n", "API VERSION:\n\t3.x\n", r.stdout)
        # etcd 3.5 added `auth status`.
        return out.replace("\tstatus\tReturns authentication status\n", "")
    assert text(OUR_ETCDCTL) == text(REFERENCE_ETCDCTL)
