"""Multi-member clusters for the black-box suites: n members on loopback,
each one either our etcd or the reference etcd 3.4.23, driven with the
reference etcdctl as an operator would.

    c = Cluster(base_dir, [OURS, REF, OURS])   # a mixed cluster
    c.start()                                   # static bootstrap, waits healthy
    c.ok("put", "k", "v")                       # etcdctl --endpoints=<all>
    c.ok("get", "k", member=2)                  # etcdctl against member 2
    lead = c.leader()                           # index of the agreed leader
    c.kill(lead); c.restart(lead)
    m = c.add_member(OURS)                      # the scale-out runbook
    c.close()

With `peer_tls` (a function of the member giving its --peer-* flags) the
members' peer URLs are https:

    c = Cluster(base, [OURS] * 3, peer_tls=lambda m: ["--peer-auto-tls"])

"ours" is E2E_OURS_ETCD when set (e.g. E2E_OURS_ETCD=/usr/bin/etcd runs
every suite against reference members only), else BIN/etcd.

Every wait is bounded; no test asserts on timing.
"""

import base64
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import (BIN, ETCDCTL_TIMEOUT_S, REFERENCE_ETCD, START_TIMEOUT_S,
                      EtcdProcess, KvClient, run_etcdctl)

REF = "ref"
OURS = "ours"


def ours_binary() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("E2E_OURS_ETCD", BIN / "etcd"))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build first (scripts/build release)"
                                " or set E2E_OURS_ETCD")
    return path


def binary_for(kind: str) -> pathlib.Path:
    """REF or OURS, or a path to any etcd binary."""
    if kind == REF:
        return REFERENCE_ETCD
    if kind == OURS:
        return ours_binary()
    return pathlib.Path(kind)


# Short raft timers keep elections (and so the tests) fast. The reference
# is stable with these on loopback, also with 5 members on 2 CPUs; a
# heartbeat of 50 ms with an election timeout of 500 ms is the ratio etcd
# recommends (10x). --initial-election-tick-advance is etcd's default.
TIMING = ("--heartbeat-interval=50", "--election-timeout=500")

# A member that has to elect a leader or catch up gets this long.
CLUSTER_TIMEOUT_S = 30.0

_live: list["Cluster"] = []  # for the failure reports of test modules


class Member(EtcdProcess):
    """One cluster member. Unlike EtcdProcess (a single-member cluster), its
    bootstrap settings (initial cluster, state, token) come from the
    Cluster, as flags; a member started by the member-add runbook gets them
    as the ETCD_* environment variables `member add` prints instead."""

    def __init__(self, base: pathlib.Path, name: str, kind: str, extra_args: tuple = ()):
        super().__init__(base, name=name, reference=True, extra_args=extra_args)
        self.reference = kind == REF
        self.kind = kind
        self.binary = binary_for(kind)
        self.bootstrap: list[str] = []  # --initial-cluster... flags, or none
        self.id: int | None = None  # the member id, once known
        self.peer_tls_args: list[str] = []  # --peer-* TLS flags; https peer URLs when set

    @property
    def peer_url(self) -> str:
        scheme = "https" if self.peer_tls_args else "http"
        return f"{scheme}://127.0.0.1:{self.peer_port}"

    def args(self) -> list[str]:
        # The reference refuses to start when a flag shadows an ETCD_*
        # variable ("conflicting environment variable "ETCD_NAME" is
        # shadowed by corresponding command-line flag"), so a member
        # configured by environment gets no --name.
        name = [] if "ETCD_NAME" in self.env else ["--name", self.name]
        return [
            *name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            *self.bootstrap,
            *self.peer_tls_args,
            *TIMING,
            *self.extra_args,
        ]

    def status(self, timeout: float = 5.0) -> dict | None:
        """`endpoint status -w json` of this member alone (its "Status"), or
        None when it does not answer."""
        r = self.etcdctl("endpoint", "status", "-w", "json", "--dial-timeout=1s",
                         f"--command-timeout={timeout:.0f}s", timeout=timeout + 3)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)[0]["Status"]
        except (ValueError, IndexError, KeyError):
            return None

    def __repr__(self):
        return f"<{self.name} {self.kind} {self.endpoint}>"


class Cluster:
    """n members (kinds[i] is REF, OURS or a binary path) on loopback, each
    on its own free client and peer ports, data dirs and logs under `base`.
    Members keep their index for the life of the cluster; removed members
    stay in `members` with `removed` set."""

    def __init__(self, base: pathlib.Path, kinds: list[str], token: str | None = None,
                 extra_args: tuple = (), peer_tls=None):
        self.base = pathlib.Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.token = token or f"tok-{self.base.name}"
        self.extra_args = tuple(extra_args)
        self.peer_tls = peer_tls  # Member -> its --peer-* TLS flags, or None
        self.members: list[Member] = []
        self.removed: set[int] = set()
        for kind in kinds:
            self._new_member(kind)
        _live.append(self)

    # -- building ---------------------------------------------------------
    def _new_member(self, kind: str, peer_tls=None) -> Member:
        m = Member(self.base, f"infra{len(self.members)}", kind, self.extra_args)
        peer_tls = peer_tls or self.peer_tls
        if peer_tls:
            m.peer_tls_args = list(peer_tls(m))
        self.members.append(m)
        return m

    def initial_cluster(self, members=None) -> str:
        members = self.members if members is None else members
        return ",".join(f"{m.name}={m.peer_url}" for m in members)

    def start(self, wait: bool = True) -> "Cluster":
        """Static bootstrap of every member: --initial-cluster-state new."""
        ic = self.initial_cluster()
        for m in self.members:
            m.bootstrap = ["--initial-advertise-peer-urls", m.peer_url,
                           "--initial-cluster", ic,
                           "--initial-cluster-token", self.token,
                           "--initial-cluster-state", "new"]
            m.start(wait=False)
        if wait:
            self.wait_healthy()
        return self

    # -- observation ------------------------------------------------------
    def running(self) -> list[int]:
        return [i for i, m in enumerate(self.members) if m.running()]

    def endpoints(self, idx=None) -> str:
        idx = self.running() if idx is None else idx
        return ",".join(self.members[i].endpoint for i in idx)

    def etcdctl(self, *args: str, member: int | list[int] | None = None,
                input: str | None = None,
                timeout: float = ETCDCTL_TIMEOUT_S) -> subprocess.CompletedProcess:
        """etcdctl against one member (an index), some (a list), or every
        running member (None)."""
        idx = [member] if isinstance(member, int) else member
        return run_etcdctl(self.endpoints(idx), *args, input=input, timeout=timeout)

    def ok(self, *args: str, member=None, input: str | None = None) -> str:
        r = self.etcdctl(*args, member=member, input=input)
        assert r.returncode == 0, (
            f"etcdctl {' '.join(args)} (member {member}) failed: {r.stderr}\n{self.log_tails()}")
        return r.stdout

    def json(self, *args: str, member=None):
        return json.loads(self.ok(*args, "-w", "json", member=member))

    def status(self, i: int) -> dict | None:
        return self.members[i].status()

    def member_list(self, member=None) -> list[dict]:
        """`member list -w json` members (ID, name, peerURLs, clientURLs,
        isLearner)."""
        return self.json("member", "list", member=member)["members"]

    def wait_healthy(self, idx=None, timeout: float = CLUSTER_TIMEOUT_S) -> None:
        """Until every (running) member answers a linearizable read, and
        they agree on one leader."""
        idx = self.running() if idx is None else idx
        deadline = time.monotonic() + timeout
        for i in idx:
            self.members[i].wait_healthy(timeout=max(1.0, deadline - time.monotonic()))
        self.leader(idx, timeout=max(1.0, deadline - time.monotonic()))
        for i in idx:
            st = self.status(i)
            if st:
                self.members[i].id = st["header"]["member_id"]

    def leader(self, idx=None, timeout: float = CLUSTER_TIMEOUT_S) -> int:
        """The index of the leader every member in `idx` (default: running)
        reports, waiting until they agree and it is one of them."""
        idx = self.running() if idx is None else idx
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            sts = {i: self.status(i) for i in idx}
            last = {i: (st and (st["header"]["member_id"], st.get("leader", 0))) for i, st in sts.items()}
            if all(sts.values()):
                leaders = {st.get("leader", 0) for st in sts.values()}
                ids = {st["header"]["member_id"]: i for i, st in sts.items()}
                for i, st in sts.items():
                    self.members[i].id = st["header"]["member_id"]
                if len(leaders) == 1:
                    lead = leaders.pop()
                    if lead in ids:
                        return ids[lead]
            time.sleep(0.1)
        raise AssertionError(f"no agreed leader among {idx} after {timeout}s: "
                             f"(member id, leader) = {last}\n{self.log_tails()}")

    def voters(self) -> list[int]:
        """Running members that were not removed (learners included)."""
        return [i for i in self.running() if i not in self.removed]

    def followers(self, idx=None) -> list[int]:
        idx = self.running() if idx is None else idx
        lead = self.leader(idx)
        return [i for i in idx if i != lead]

    def wait_key(self, key: str, value: str, member: int,
                 timeout: float = CLUSTER_TIMEOUT_S) -> None:
        """Until a serializable read of `key` on `member` gives `value`
        (the member has caught up to it)."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            r = self.etcdctl("get", key, "--print-value-only", "--consistency=s",
                             "--command-timeout=2s", member=member, timeout=5)
            got = r.stdout.rstrip("\n") if r.returncode == 0 else r.stderr.strip()
            if r.returncode == 0 and got == value:
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.members[member]} never served {key}={value!r} "
                             f"within {timeout}s (last: {got!r})\n{self.log_tails()}")

    # -- faults and lifecycle ---------------------------------------------
    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        m = self.members[i]
        if sig == signal.SIGKILL:
            m.kill()
        else:
            m.proc.send_signal(sig)
            m.wait_exit(START_TIMEOUT_S)
            m._close_log()

    def stop(self, i: int) -> None:
        self.members[i].stop()

    def restart(self, i: int, wait: bool = True) -> None:
        """Starts member i again on its data dir (its bootstrap flags are
        ignored by etcd once the data dir has a WAL)."""
        m = self.members[i]
        m.start(wait=False)
        if wait:
            m.wait_healthy(timeout=CLUSTER_TIMEOUT_S)

    def stop_all(self) -> None:
        """SIGTERM to one member after the other (SIGKILL after
        STOP_TIMEOUT_S). One at a time: the reference, stopped as leader,
        first hands leadership to a connected peer; with every member
        stopping at once that transfer times out and a stop takes ~6 s."""
        for m in self.members:
            try:
                m.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                m.kill()

    def close(self, remove_data: bool = True) -> None:
        """Ends every member (kill -9 when the data goes anyway: a graceful
        stop of a leader whose peers are gone waits seconds for a
        leadership transfer) and removes the data dirs (the WAL
        preallocates 64 MB per member) unless asked to keep them."""
        if remove_data:
            for m in self.members:
                m.kill()
        self.stop_all()
        if self in _live:
            _live.remove(self)
        if remove_data:  # the logs stay, for inspection
            for m in self.members:
                shutil.rmtree(m.data_dir, ignore_errors=True)

    # -- membership -------------------------------------------------------
    def add_member(self, kind: str, learner: bool = False, start: bool = True,
                   via: int | None = None, peer_tls=None) -> tuple[Member, dict]:
        """The scale-out runbook: `etcdctl member add NAME --peer-urls=URL`
        (with `--learner`), then the new member is started on a fresh data
        dir with the ETCD_* lines member add printed as its environment.
        `peer_tls` replaces the cluster's for this member. Returns (member,
        the printed variables)."""
        m = self._new_member(kind, peer_tls)
        args = ["member", "add", m.name, f"--peer-urls={m.peer_url}"]
        if learner:
            args.append("--learner")
        out = self.retry_unhealthy(*args, member=via)
        env = parse_member_add(out)
        m.bootstrap = []
        m.env = {k: v for k, v in env.items() if k.startswith("ETCD_")}
        if start:
            m.start(wait=False)
        return m, env

    def retry_unhealthy(self, *args: str, member=None,
                        timeout: float = CLUSTER_TIMEOUT_S) -> str:
        """Runs a membership command, retrying while the cluster refuses it
        as not healthy enough yet. The reference (--strict-reconfig-check,
        on by default) refuses reconfiguration until every voting member
        has been connected to the serving member for 5 s (HealthInterval),
        so right after a start or restart it answers:

            Error: etcdserver: unhealthy cluster

        (a retryable answer; the member stays unchanged)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.etcdctl(*args, member=member)
            if r.returncode == 0:
                return r.stdout
            if ("etcdserver: unhealthy cluster" not in r.stderr
                    or time.monotonic() > deadline):
                raise AssertionError(f"etcdctl {' '.join(args)} (member {member}) failed: "
                                     f"{r.stderr}\n{self.log_tails()}")
            time.sleep(0.25)

    def remove_member(self, i: int, via: int | None = None) -> str:
        """`etcdctl member remove <hex id>`; returns its output."""
        m = self.members[i]
        if m.id is None:
            m.id = self.status(i)["header"]["member_id"]
        via = [j for j in self.running() if j != i] if via is None else via
        out = self.retry_unhealthy("member", "remove", f"{m.id:x}", member=via)
        self.removed.add(i)
        return out

    def member_id(self, i: int) -> int:
        if self.members[i].id is None:
            self.members[i].id = self.status(i)["header"]["member_id"]
        return self.members[i].id

    # -- reports ----------------------------------------------------------
    def log_tails(self, n: int = 25) -> str:
        out = []
        for m in self.members:
            out.append(f"----- {m!r} ({'running' if m.running() else 'stopped'}) "
                       f"last {n} log lines:\n{m.log_tail(n)}")
        return "\n".join(out)


def write_entries(c: "Cluster", n: int, prefix: str, members: list[int] | None = None,
                  threads: int = 8, value_size: int = 64, timeout: float = 300) -> None:
    """n puts over gRPC ({prefix}{j:06d}), spread over `members` (default: the
    voters) and `threads` connections, so the raft log grows by about n
    entries."""
    idx = c.voters() if members is None else members
    errors = []

    def work(k):
        cl = KvClient(c.members[idx[k % len(idx)]].endpoint)
        try:
            for j in range(k, n, threads):
                cl.put(f"{prefix}{j:06d}", "x" * value_size)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            cl.close()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=timeout)
    assert not errors, errors[:3]


def live_clusters() -> list[Cluster]:
    return list(_live)


MEMBER_ADD_RE = re.compile(
    r'^Member ([ 0-9a-f]{16}) added to cluster ([ 0-9a-f]{16})\n\n'
    r'ETCD_NAME="([^"]+)"\n'
    r'ETCD_INITIAL_CLUSTER="([^"]+)"\n'
    r'ETCD_INITIAL_ADVERTISE_PEER_URLS="([^"]+)"\n'
    r'ETCD_INITIAL_CLUSTER_STATE="existing"\n$')


@pytest.fixture(autouse=True)
def log_tails_on_failure(request):
    """When a test fails, print the tail of every live member's log. Active
    in every test module that imports it."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for c in live_clusters():
            print(f"===== cluster {c.base}\n{c.log_tails(40)}")


def parse_member_add(out: str) -> dict:
    """The ETCD_* variables `etcdctl member add` prints. The reference
    3.4.23 etcdctl prints exactly (ids in hex, Go's %16x: padded with
    spaces to 16 characters; the initial cluster lists every member, the
    new one included, in no particular order):

        Member  ea11148954d3b5e added to cluster c926b73fc29c19d3

        ETCD_NAME="infra3"
        ETCD_INITIAL_CLUSTER="infra0=http://127.0.0.1:p0,...,infra3=http://127.0.0.1:p3"
        ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:p3"
        ETCD_INITIAL_CLUSTER_STATE="existing"

    (the same with --learner: "Member <id> added to cluster <id>")."""
    mt = MEMBER_ADD_RE.match(out)
    assert mt, f"unexpected `member add` output:\n{out}"
    env = {}
    for line in out.splitlines():
        if line.startswith("ETCD_"):
            k, v = line.split("=", 1)
            env[k] = v.strip('"')
    env["_member_id"] = mt.group(1).strip()
    env["_cluster_id"] = mt.group(2).strip()
    return env


class Writer:
    """A background client that keeps putting unique keys (prefix + a
    sequence number) through the given members over gRPC, moving on to
    the next member when one fails, and records every acknowledged put.
    A put that failed or timed out may or may not have been applied; only
    acknowledged ones are checked."""

    def __init__(self, cluster: Cluster, prefix: str = "w/", members=None):
        self.cluster = cluster
        self.prefix = prefix
        self.members = members  # indexes to use; None: whatever runs
        self.acked: dict[str, str] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._seq = 0

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_acked(self, n: int, timeout: float = CLUSTER_TIMEOUT_S) -> None:
        """Until at least n more puts than now have been acknowledged."""
        target = len(self.acked) + n
        deadline = time.monotonic() + timeout
        while len(self.acked) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acked) >= target, (
            f"only {len(self.acked)} of {target} puts acknowledged after {timeout}s; "
            f"last errors: {self.errors[-5:]}\n{self.cluster.log_tails()}")

    def _run(self):
        clients: dict[int, KvClient] = {}
        turn = 0
        try:
            while not self._stop.is_set():
                idx = [i for i in (self.members if self.members is not None
                                   else range(len(self.cluster.members)))
                       if self.cluster.members[i].running()
                       and i not in self.cluster.removed]
                if not idx:
                    time.sleep(0.05)
                    continue
                turn += 1  # every put through the next member
                i = idx[turn % len(idx)]
                if i not in clients:
                    clients[i] = KvClient(self.cluster.members[i].endpoint)
                self._seq += 1
                key, value = f"{self.prefix}{self._seq:06d}", f"v{self._seq}"
                try:
                    clients[i].put(key, value, timeout=3.0)
                    self.acked[key] = value
                except Exception as e:  # noqa: BLE001 - any failure: next member
                    self.errors.append(f"{i}: {type(e).__name__}: {str(e)[:200]}")
                    clients.pop(i).close()
                    time.sleep(0.02)
        finally:
            for c in clients.values():
                c.close()

    def missing(self, member: int | None = None) -> dict[str, str]:
        """The acknowledged puts a linearizable range read (through
        `member`, or any) does not return with their value."""
        out = self.cluster.etcdctl("get", self.prefix, "--prefix", "-w", "json",
                                   member=member, timeout=60)
        assert out.returncode == 0, out.stderr
        got = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
               for kv in json.loads(out.stdout).get("kvs", [])}
        return {k: v for k, v in self.acked.items() if got.get(k) != v}
