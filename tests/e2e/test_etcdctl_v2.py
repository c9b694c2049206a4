"""etcdctl's v2 mode (ETCDCTL_API=2), differentially: every scenario runs
twice, with the reference etcdctl 3.4.23 (/usr/bin/etcdctl) against one
fresh server and with ours (build/bin/etcdctl) against another fresh server
of the same kind, and the transcripts (stdout, stderr, exit code of each
step) must be identical.

Which pair of sides a scenario compares is a parameter (E2E_V2_SERVER, a
comma list; default "servers,ours"):
- servers: the reference etcdctl against the reference etcd and against
  ours (build/bin/etcd --enable-v2): our server is a drop-in for its users;
- ours: the reference etcdctl and ours, both against our server;
- reference: the reference etcdctl and ours, both against the reference
  etcd (how the etcdctl was developed; v2 auth always runs so, as our
  server has no v2 auth). Normalised, and only these, because they differ by
construction between two servers: the client and peer ports, the member ids
(they hash the peer URLs) and ids the server picks (an added member's),
expiration times, the remaining TTL of keys with a TTL (steps marked so),
and the version in help (ours is the 3.5 line; the reference says 3.4.23).

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_etcdctl_v2.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import BIN, REFERENCE_ETCD, binary, clean_env, free_ports

REF_CTL = pathlib.Path(os.environ.get("E2E_REF_CTL", "/usr/bin/etcdctl"))
CAND_CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))
STEP_TIMEOUT_S = 20.0
START_TIMEOUT_S = 15.0
SERVERS = [s.strip() for s in os.environ.get("E2E_V2_SERVER", "servers,ours").split(",")
           if s.strip()]
# The two sides of each mode: (label, etcdctl, server kind).
SIDES = {
    "reference": (("ref", REF_CTL, "reference"), ("cand", CAND_CTL, "reference")),
    "ours": (("ref", REF_CTL, "ours"), ("cand", CAND_CTL, "ours")),
    "servers": (("ref", REF_CTL, "reference"), ("cand", REF_CTL, "ours")),
}


class V2Server:
    """One member with the v2 API on, on free loopback ports."""

    def __init__(self, base: pathlib.Path, kind: str, tls: tuple | None = None):
        self.tls = tls  # (cert, key, ca) files: the client port serves https
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.client_port, self.peer_port = free_ports(2)
        self.proc = None
        self.log = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    def start(self) -> "V2Server":
        exe = REFERENCE_ETCD if self.kind == "reference" else binary("etcd")
        peer = f"http://127.0.0.1:{self.peer_port}"
        self.log = open(self.base / "etcd.log", "ab")
        self.proc = subprocess.Popen(
            [str(exe), "--enable-v2", "--data-dir", str(self.base / "data"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"default={peer}",
             *(["--cert-file", str(self.tls[0]), "--key-file", str(self.tls[1])]
               if self.tls else [])],
            stdout=self.log, stderr=subprocess.STDOUT, env=clean_env())
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.base / "etcd.log").read_text()
            try:
                with urllib.request.urlopen(self.url + "/v2/keys/?quorum=true", timeout=1,
                                            context=self._ssl()) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("v2 server not ready:\n" + (self.base / "etcd.log").read_text())

    def _ssl(self):
        if not self.tls:
            return None
        import ssl
        return ssl.create_default_context(cafile=str(self.tls[2]))

    def member_ids(self) -> list[str]:
        with urllib.request.urlopen(self.url + "/v2/members", timeout=5,
                                    context=self._ssl()) as r:
            return [m["id"] for m in json.load(r)["members"]]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log:
            self.log.close()


@dataclasses.dataclass
class Step:
    """One etcdctl run. `{ep}` in args/env is the server's client URL,
    `{peer}` a free port, `{name}` a value captured earlier. `background`
    runs it while the following `during` steps run, then waits for it to
    exit (or interrupts it after `interrupt_after` seconds)."""
    args: tuple
    env: dict | None = None
    endpoints: bool = True  # prepend --endpoints={ep}
    stdin: str | None = None
    ttl: bool = False  # the step prints a remaining TTL
    sort_lines: bool = False  # the server orders members by id
    capture: dict | None = None  # name -> regex over stdout (group 1)
    during: tuple = ()  # steps run while this one runs
    interrupt_after: float | None = None  # SIGINT after this many seconds


def step(*args, **kw) -> Step:
    return Step(tuple(args), **kw)


class Side:
    """One etcdctl binary against its own server: runs steps, keeps a
    normalised transcript."""

    def __init__(self, ctl: pathlib.Path, server: V2Server, spare_port: int):
        self.ctl = ctl
        self.server = server
        self.spare_port = spare_port
        self.values: dict[str, str] = {}
        self.ids: list[str] = list(server.member_ids())
        self.lines: list[str] = []

    def expand(self, s: str) -> str:
        s = s.replace("{ep}", self.server.url).replace("{peer}", str(self.spare_port))
        for k, v in self.values.items():
            s = s.replace("{" + k + "}", v)
        return s

    def command(self, st: Step) -> tuple[list[str], dict]:
        args = [self.expand(a) for a in st.args]
        if st.endpoints:
            args = [f"--endpoints={self.server.url}", *args]
        env = clean_env(ETCDCTL_API="2")
        for k, v in (st.env or {}).items():
            env[k] = self.expand(v)
        return [str(self.ctl), *args], env

    def normalise(self, text: str, st: Step) -> str:
        text = text.replace(str(self.server.client_port), "<client-port>")
        text = text.replace(str(self.server.peer_port), "<peer-port>")
        text = text.replace(str(self.spare_port), "<spare-port>")
        for i, mid in enumerate(self.ids):
            text = text.replace(mid, f"<id-{i}>")
        text = text.replace("3.4.23", "<version>").replace("3.5.0", "<version>")
        text = re.sub(r'"expiration":"[^"]*"', '"expiration":"<time>"', text)
        if st.ttl:
            text = re.sub(r'"ttl":\d+', '"ttl":<ttl>', text)
            text = re.sub(r"TTL: \d+", "TTL: <ttl>", text)
        if st.sort_lines:
            text = "\n".join(sorted(text.split("\n")))
            # ETCD_INITIAL_CLUSTER lists the members in id order too.
            text = re.sub(r'ETCD_INITIAL_CLUSTER="([^"]*)"',
                          lambda m: 'ETCD_INITIAL_CLUSTER="' + ",".join(
                              sorted(m.group(1).split(","))) + '"', text)
        return text

    def record(self, st: Step, out: str, err: str, rc: int):
        for name, rx in (st.capture or {}).items():
            m = re.search(rx, out)
            assert m, f"{name}: no match of {rx!r} in {out!r}"
            self.values[name] = m.group(1)
            if m.group(1) not in self.ids:
                self.ids.append(m.group(1))
        self.lines.append("$ etcdctl " + " ".join(st.args))
        self.lines.append("stdout:\n" + self.normalise(out, st))
        self.lines.append("stderr:\n" + self.normalise(err, st))
        self.lines.append(f"exit: {rc}")

    def run(self, st: Step):
        cmd, env = self.command(st)
        if not st.during and st.interrupt_after is None:
            r = subprocess.run(cmd, env=env, input=st.stdin or "", capture_output=True,
                               text=True, timeout=STEP_TIMEOUT_S)
            self.record(st, r.stdout, r.stderr, r.returncode)
            return
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.7)  # until the watch request is in
            for d in st.during:
                self.run(d)
            if st.interrupt_after is not None:
                time.sleep(st.interrupt_after)
                p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=STEP_TIMEOUT_S)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.record(st, out, err, p.returncode)


def run_scenario(tmp_path: pathlib.Path, kind: str, steps: list[Step], tls: tuple | None = None,
                 on_start=None):
    """`on_start(server)`, when given, runs once each side's server is up
    (e.g. to point a redirector at it)."""
    transcripts = []
    servers = []
    try:
        for label, ctl, server in SIDES[kind]:
            srv = V2Server(tmp_path / label, server, tls).start()
            servers.append(srv)
            if on_start:
                on_start(srv)
            side = Side(ctl, srv, free_ports(1)[0])
            for st in steps:
                side.run(st)
            transcripts.append("\n".join(side.lines))
    finally:
        for s in servers:
            s.stop()
    ref, cand = transcripts
    if ref != cand:
        import difflib
        diff = "\n".join(difflib.unified_diff(ref.split("\n"), cand.split("\n"), "reference",
                                              "ours", lineterm=""))
        pytest.fail(f"transcripts differ ({kind}: {SIDES[kind][0][1]} on {SIDES[kind][0][2]} vs "
                    f"{SIDES[kind][1][1]} on {SIDES[kind][1][2]}):\n" + diff)


@pytest.fixture(params=SERVERS)
def server_kind(request) -> str:
    """Which sides a scenario compares (SIDES)."""
    return request.param


def test_guide_v2_commands_verbatim(tmp_path, server_kind):
    """The v2 commands of the etcd backup guide, as written there (the
    endpoint comes from ETCDCTL_ENDPOINTS, so the command lines are the
    guide's own; 实例 is the guide's placeholder)."""
    e = {"ETCDCTL_ENDPOINTS": "{ep}"}
    steps = [
        step("set", "key", "value", env=e, endpoints=False),
        step("mk", "key", "value", env=e, endpoints=False),
        step("rm", "key", env=e, endpoints=False),
        step("update", "key", "value", env=e, endpoints=False),
        step("get", "key", env=e, endpoints=False),
        step("setdir", "dir", env=e, endpoints=False),
        step("mkdir", "dir", env=e, endpoints=False),
        step("rmdir", "dir", env=e, endpoints=False),
        step("updatedir", "dir", env=e, endpoints=False),
        step("ls", env=e, endpoints=False),
        step("watch", "key", env=e, endpoints=False,
             during=(step("set", "key", "v2", env=e, endpoints=False),)),
        # exec-watch key --sh -c "ls": urfave leaves the unknown flags as
        # arguments, so etcdctl watches "ls" and runs `key --sh -c`.
        step("exec-watch", "key", "--sh", "-c", "ls", env=e, endpoints=False,
             during=(step("set", "ls", "x", env=e, endpoints=False),)),
        step("member", "list", env=e, endpoints=False),
        step("member", "add", "实例", env=e, endpoints=False),
        step("member", "remove", "实例", env=e, endpoints=False),
        step("member", "update", "实例", env=e, endpoints=False),
        step("cluster-health", env=e, endpoints=False),
    ]
    run_scenario(tmp_path, server_kind, steps)


def test_keys_outputs_and_errors(tmp_path, server_kind):
    steps = [
        step("set", "/foo", "bar"),
        step("get", "/foo"),
        step("-o", "extended", "get", "/foo"),
        step("-o", "json", "get", "/foo"),
        step("get", "/nokey"),  # 100: Key not found, exit 4
        step("-o", "json", "get", "/nokey"),
        step("mk", "/foo", "x"),  # 105: Key already exists
        step("mk", "/foo2", "y"),
        step("-o", "json", "mk", "--in-order", "/q", "1"),
        step("-o", "extended", "mk", "--in-order", "/q", "2"),
        step("update", "/foo", "baz"),
        step("update", "/none", "v"),
        step("-o", "json", "set", "/html", "<&> \u2028 \x01"),
        step("set", "--swap-with-value", "nope", "/foo", "z"),  # 101: Compare failed
        step("set", "--swap-with-index", "1", "/foo", "z"),
        step("-o", "extended", "set", "--swap-with-value", "baz", "/foo", "z"),
        step("set", "/fromstdin", stdin="piped value\n"),
        step("set", "/k"),  # value required
        step("set"),  # key required
        step("mkdir", "/d"),
        step("mkdir", "/d"),
        step("-o", "json", "mkdir", "/d2"),
        step("setdir", "/d"),  # 102: Not a file
        step("updatedir", "/d"),
        step("get", "/d"),  # /d: is a directory
        step("set", "/d/x", "1"),
        step("rmdir", "/d"),  # 108: Directory not empty
        step("rm", "/d"),  # 102: Not a file
        step("rm", "--dir", "/d"),
        step("-o", "extended", "rm", "-r", "/d"),
        step("rm", "--with-value", "nope", "/foo"),
        step("-o", "json", "rm", "--with-value", "z", "/foo"),
        step("rm", "/foo"),
        step("ls", sort_lines=True),  # the server lists a dir in any order
        step("ls", "-p", "--sort"),
        step("ls", "-r", "--sort", "/"),
        step("-o", "json", "ls", "-r", "--sort"),
        step("-o", "extended", "ls", "/q"),
        step("ls", "/nokey"),
        step("ls", "/html"),
        step("-o", "yaml", "get", "/html"),  # Unsupported output format
        step("get", "--quorum", "/html"),
        step("get", "-q", "/html", "--sort"),
        step("--debug", "set", "/dbg", "a b&c"),
        step("--debug", "--no-sync", "get", "--sort", "/dbg"),
        step("--debug", "rm", "-r", "--with-value", "x", "--with-index", "3", "/q"),
        step("--no-sync", "rmdir", "/d2"),
    ]
    run_scenario(tmp_path, server_kind, steps)


def test_ttls(tmp_path, server_kind):
    steps = [
        step("set", "--ttl", "100", "/t", "v"),
        step("-o", "json", "get", "/t", ttl=True),
        step("-o", "extended", "get", "/t", ttl=True),
        step("update", "--ttl", "50", "/t", "w"),
        step("-o", "extended", "get", "/t", ttl=True),
        step("mkdir", "--ttl", "100", "/td"),
        step("-o", "json", "setdir", "--ttl", "1", "/td", ttl=True),
        step("-o", "json", "updatedir", "--ttl", "200", "/td", ttl=True),
        step("mk", "--ttl", "1", "/short", "s"),
        step("get", "/short"),
    ]
    run_scenario(tmp_path, server_kind, steps)
    # After the TTL: gone for both (checked on its own, as it needs a wait).
    steps = [
        step("mk", "--ttl", "1", "/short", "s"),
        step("watch", "/short", during=()),  # the expire event ends the watch
        step("get", "/short"),
    ]
    run_scenario(tmp_path / "expire", server_kind, steps)


def test_watch_and_exec_watch(tmp_path, server_kind):
    steps = [
        step("set", "/w/a", "1"),
        step("watch", "/w/a", during=(step("set", "/w/a", "2"),)),
        step("-o", "extended", "watch", "-r", "/w", during=(step("set", "/w/b", "3"),)),
        step("-o", "json", "watch", "--after-index", "4", "/w/a"),
        step("watch", "--forever", "-r", "/w",
             during=(step("set", "/w/a", "5"), step("rm", "/w/b"), step("mkdir", "/w/dir"),
                     step("set", "/w/c", "6")),
             interrupt_after=1.0),
        step("exec-watch", "-r", "/w", "--", "sh", "-c",
             "echo $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE "
             "$ETCD_WATCH_MODIFIED_INDEX",
             during=(step("set", "/w/x", "7"), step("mkdir", "/w/d2")),
             interrupt_after=1.0),
        step("exec-watch", "-r", "/w/a", "--", "sh", "-c", "echo $ETCD_WATCH_KEY",
             env={"ETCD_WATCH_KEY": "inherited"}, during=(step("set", "/w/a", "env"),),
             interrupt_after=1.0),
        step("exec-watch", "--after-index", "5", "-r", "/w/a", "--", "sh", "-c",
             "echo $ETCD_WATCH_VALUE", interrupt_after=1.0),
        step("exec-watch", "/w/a"),  # key and command to exec required
        step("watch"),  # key required
        # Without a flag before the key, urfave moves "--" first and
        # etcdctl takes the last argument for the key (as in the step
        # above); with -r before it, the key is /w/a.
        step("exec-watch", "-r", "/w/a", "--", "no-such-command-here",
             during=(step("set", "/w/a", "8"),)),
        step("exec-watch", "-r", "/w/a", "--", "./no/such/path",
             during=(step("set", "/w/a", "9"),)),
        step("exec-watch", "-r", "/w/a", "--", "sh", "-c", "read x; echo read=$x",
             during=(step("set", "/w/a", "10"),), interrupt_after=1.0),
    ]
    run_scenario(tmp_path, server_kind, steps)


def test_members_and_cluster_health(tmp_path, server_kind):
    steps = [
        step("member", "list"),
        step("--no-sync", "member", "list"),
        step("member", "list", "extra"),
        step("cluster-health"),
        step("--debug", "cluster-health"),
        step("member", "add", "onlyname"),
        step("member", "add", "n", "ftp://127.0.0.1:1"),
        step("member", "add", "n", "http://127.0.0.1"),
        step("member", "add", "n", "http://127.0.0.1:1/path"),
        step("member", "remove", "abcdef"),
        step("member", "remove", "default"),
        step("member", "update", "abcdef", "http://127.0.0.1:1"),
        step("member", "update", "onlyone"),
        step("member", "add", "newbie", "http://127.0.0.1:{peer}",
             capture={"new": r"with ID (\w+) to cluster"}, sort_lines=True),
        step("member", "list", sort_lines=True),
        # The added member never starts: it has no client URLs, and the
        # one-member cluster lost its quorum (unhealthy): exit 5.
        step("cluster-health", sort_lines=True),
    ]
    run_scenario(tmp_path, server_kind, steps)


@pytest.mark.parametrize("server_kind", ["reference"])
def test_v2_auth(tmp_path, server_kind):
    steps = [
        step("user", "list"),
        step("role", "list"),
        step("user", "add", "root:rootpw"),
        step("--debug", "user", "add", "alice:pw"),
        step("--debug", "role", "list"),
        step("user", "get", "alice"),
        step("role", "add", "reader"),
        step("role", "add", "reader"),
        step("--debug", "role", "grant", "--path", "/pub/*", "--read", "reader"),
        step("role", "grant", "--path", "/pub/*", "--read", "reader"),  # unchanged
        step("role", "grant", "--path", "/rw", "--rw", "reader"),
        step("role", "grant", "--path", "/w", "--write", "reader"),
        step("role", "grant", "--path", "/pub//x", "--read", "reader"),
        step("role", "grant", "--path", "/pub", "reader"),
        step("role", "grant", "reader"),
        step("role", "get", "reader"),
        step("--debug", "user", "grant", "--roles", "reader", "--roles", "nosuch", "alice"),
        step("user", "grant", "--roles", "reader", "alice"),
        step("user", "grant", "alice"),
        step("user", "get", "alice"),
        step("user", "list"),
        step("role", "list"),
        step("auth", "enable"),
        step("user", "list"),
        step("-u", "root:rootpw", "user", "list"),
        step("-u", "root", "user", "list", stdin="rootpw\n"),  # asks for the password
        step("user", "list", env={"ETCDCTL_USERNAME": "root:rootpw"}),
        step("-u", "root:rootpw", "user", "add", "bob", stdin="bobpw\n"),
        step("-u", "root:rootpw", "user", "passwd", "bob", stdin="newpw\n"),
        step("-u", "bob:newpw", "get", "/pub/x"),
        step("-u", "alice:pw", "set", "/pub/x", "1"),
        step("-u", "root:rootpw", "user", "revoke", "--roles", "reader", "alice"),
        step("-u", "root:rootpw", "role", "revoke", "--path", "/pub/*", "--read", "reader"),
        step("-u", "root:rootpw", "role", "remove", "reader"),
        step("-u", "root:rootpw", "user", "remove", "alice"),
        step("-u", "root:rootpw", "auth", "disable"),
        step("auth", "disable", "extra"),
        step("user", "get"),
        step("role", "get"),
    ]
    run_scenario(tmp_path, server_kind, steps)


def test_connection_errors(tmp_path, server_kind):
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    steps = [
        step("--endpoints=" + dead, "get", "/foo", endpoints=False),  # sync fails: exit 2
        step("--no-sync", "--endpoints=" + dead, "get", "/foo", endpoints=False),  # exit 4
        step("--endpoints=" + dead, "member", "list", endpoints=False),
        step("--endpoints=" + dead, "cluster-health", endpoints=False),
        step("--endpoints=127.0.0.1:1", "get", "/foo", endpoints=False),
        step("--no-sync", "--endpoints=http://nonexistent.invalid:1", "ls", endpoints=False),
        step("--peers", "{ep}", "ls", endpoints=False),
        step("-C", "{ep}", "--endpoint", dead, "ls", endpoints=False),
        step("ls", env={"ETCDCTL_PEERS": "{ep}"}, endpoints=False),
        step("ls", env={"ETCDCTL_ENDPOINT": dead}, endpoints=False),
        # One dead endpoint of two: whichever order the shuffle picks, the
        # live one answers.
        step("--endpoints=" + dead + ",{ep}", "set", "/two", "eps", endpoints=False),
        step("--no-sync", "--endpoints={ep}," + dead, "get", "/two", endpoints=False),
        step("--total-timeout", "0s", "get", "/two"),
    ]
    run_scenario(tmp_path, server_kind, steps)


def test_help_and_usage_errors(tmp_path, server_kind):
    steps = [step("--help", endpoints=False), step("help", endpoints=False),
             step(endpoints=False), step("h", endpoints=False),
             step("--version", endpoints=False), step("-v", endpoints=False),
             step("nosuchcommand", endpoints=False), step("--nosuchflag", endpoints=False),
             step("help", "nosuch", endpoints=False), step("help", "--help", endpoints=False),
             step("--output", "json", "-o", "x", "get", "a", endpoints=False),
             step("--timeout", "x", "get", endpoints=False),
             step("---x", endpoints=False)]
    for cmd in ["backup", "cluster-health", "mk", "mkdir", "rm", "rmdir", "get", "ls", "set",
                "setdir", "update", "updatedir", "watch", "exec-watch", "member", "user", "role",
                "auth"]:
        steps.append(step(cmd, "--help", endpoints=False))
        steps.append(step("help", cmd, endpoints=False))
    for group, subs in {"member": ["list", "add", "remove", "update"],
                        "user": ["add", "get", "list", "remove", "grant", "revoke", "passwd"],
                        "role": ["add", "get", "list", "remove", "grant", "revoke"],
                        "auth": ["enable", "disable"]}.items():
        steps.append(step(group, endpoints=False))
        steps.append(step(group, "help", endpoints=False))
        steps.append(step(group, "nosuch", endpoints=False))
        steps.append(step(group, "--nosuch", endpoints=False))
        for s in subs:
            steps.append(step(group, s, "-h", endpoints=False))
            steps.append(step(group, "help", s, endpoints=False))
    steps += [step("get", "--nosuch", endpoints=False),
              step("get", "--quorum", "-q", "a", endpoints=False),
              step("get", "--sort=maybe", "a", endpoints=False),
              step("set", "--ttl", endpoints=False), step("set", "--ttl", "abc", endpoints=False),
              step("rm", "--with-index", "1x", endpoints=False)]
    run_scenario(tmp_path, server_kind, steps)


def test_timeouts(tmp_path, server_kind):
    """An endpoint that takes connections and never answers: --timeout
    (per request, "exceeded header timeout", not a connection error, so the
    sync's failure is ignored and the command's own request fails, exit 4)
    and --total-timeout ("context deadline exceeded", a connection error:
    the sync fails, exit 2)."""
    import socket
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes handshakes; nobody reads
    ep = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        steps = [
            step("--endpoints=" + ep, "--timeout", "300ms", "get", "/a", endpoints=False),
            step("--endpoints=" + ep, "--timeout", "300ms", "--no-sync", "get", "/a",
                 endpoints=False),
            step("--endpoints=" + ep, "--total-timeout", "300ms", "get", "/a",
                 endpoints=False),
            step("--endpoints=" + ep, "--total-timeout", "300ms", "--no-sync", "member", "list",
                 endpoints=False),
        ]
        run_scenario(tmp_path, server_kind, steps)
    finally:
        silent.close()


def test_tls(tmp_path, server_kind):
    """A client port on https: the CA from --ca-file or ETCDCTL_CA_FILE, a
    client certificate from --cert-file/--key-file; without the CA the
    server's certificate is refused."""
    from certs import Pki
    pki = Pki(tmp_path / "pki")
    server = pki.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"])
    client = pki.issue("client", "client", cn="client")
    ca = str(pki.ca)
    steps = [
        step("--ca-file", ca, "set", "/s", "secure"),
        step("--ca-file", ca, "--cert-file", str(client.cert), "--key-file", str(client.key),
             "-o", "extended", "get", "/s"),
        step("get", "/s", env={"ETCDCTL_CA_FILE": ca}),
        step("--ca-file", ca, "member", "list"),
        step("--ca-file", ca, "cluster-health"),
        step("--no-sync", "get", "/s"),  # x509: certificate signed by unknown authority
        step("--cert-file", str(client.cert), "get", "/s"),  # the key missing
        step("--ca-file", "/no/such/ca.pem", "get", "/s"),
        step("--ca-file", "/no/such/ca.pem", "cluster-health"),
        step("--cert-file", "/no/cert.pem", "--key-file", "/no/key.pem", "ls"),
    ]
    run_scenario(tmp_path, server_kind, steps, tls=(server.cert, server.key, ca))


def test_special_keys_and_values(tmp_path, server_kind):
    """Keys that need escaping in the URL path, values in the form body,
    "--" before a value starting with '-', and paths Go's path.Clean
    rewrites."""
    steps = [
        step("--debug", "set", "/a b?c%d#e!*()'", "x y+z&w=v"),
        step("-o", "json", "get", "/a b?c%d#e!*()'"),
        step("set", "--", "/dash", "-v"),
        step("get", "/dash"),
        step("--debug", "set", "rel/../k//x/./y/", "v"),
        step("ls", "-r", "--sort", "/k/"),
        step("-o", "json", "set", "/uni/实例", "值 \u00e9"),
        step("ls", "/uni"),
        step("--debug", "mkdir", "/sp ace/"),
        step("--debug", "--no-sync", "watch", "--after-index", "1", "/a b?c%d#e!*()'"),
    ]
    run_scenario(tmp_path, server_kind, steps)


def test_redirects(tmp_path, server_kind):
    """An endpoint that answers 307 with a Location on the real server (the
    Go client follows it, body and all), and one that answers 307 without
    a Location."""
    import http.server
    import threading
    target = {"url": ""}

    class Redirect(http.server.BaseHTTPRequestHandler):
        def answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            self.send_response(307)
            if not self.path.startswith("/v2/keys/nolocation"):
                self.send_header("Location", target["url"] + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_DELETE = do_POST = answer

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    ep = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        steps = [
            step("--no-sync", "--endpoints=" + ep, "set", "/r", "via redirect", endpoints=False),
            step("--no-sync", "--endpoints=" + ep, "-o", "extended", "get", "/r",
                 endpoints=False),
            step("--no-sync", "--endpoints=" + ep, "get", "/nolocation", endpoints=False),
            step("--endpoints=" + ep, "--debug", "get", "/r", endpoints=False),
        ]
        run_scenario(tmp_path, server_kind, steps,
                     on_start=lambda srv: target.update(url=srv.url))
    finally:
        httpd.shutdown()
        httpd.server_close()
