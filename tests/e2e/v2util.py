"""Helpers of the v2 HTTP API suites (test_v2_*.py): servers of both kinds,
raw HTTP requests, long-poll waiters, and the normalisation that lets the
answers of two servers be compared.

The two sides:

    "ref"   the reference etcd 3.4.23, /usr/bin/etcd
    "ours"  V2_TESTS_OURS_BIN when set, else E2E_OURS_ETCD when set, else
            build/bin/etcd of this checkout (see cluster.ours_binary)

So `V2_TESTS_OURS_BIN=/usr/bin/etcd python3 -m pytest tests/e2e/test_v2_api.py`
runs every v2 suite reference against reference (how they were validated
before our server served v2), and without it they compare our build with
the reference.

What is normalised when two answers are compared, and why:

  * header values that differ by construction: Date (the clock),
    Content-Length (follows the body, whose normalised form is compared),
    X-Etcd-Cluster-Id (a hash of the member's peer URLs, which are on
    different ports), X-Raft-Index and X-Raft-Term (raft's log: the two
    servers' raft logs need not be the same length; checked to be decimal
    numbers). Header names are compared as a set, every value else
    exactly, X-Etcd-Index included.
  * in JSON bodies, "expiration" (a wall-clock time: checked to be RFC 3339
    in UTC with a Z, then replaced) and "ttl" (seconds left, rounded up:
    checked to be a non-zero number no larger than TTL_MAX in magnitude:
    the prevNode of the "expire" event of a key that expired while its
    member was down has a negative one; then replaced; the two sides'
    values must be within TTL_SLACK of each other).
  * the order of "nodes" of a directory listing that was not asked for
    sorted (etcd walks a Go map: the order is random, even between two
    requests to one server); sorted listings are compared as they are.

The etcd index (X-Etcd-Index, modifiedIndex, createdIndex, the error's
"index") is NOT normalised. etcd's v2 store counts its internal writes
too: on a fresh single member the member's raftAttributes (1), its
attributes (2, when it publishes itself) and the cluster version /0/version
(3) come before the first user write, which gets index 4. Both servers
start empty and the suites send the same requests to both in lockstep, so
the indexes must agree; `settle()` waits until a server's store has made
those internal writes before a suite starts, and test_v2_api.py checks that
both reach the same starting index.
"""

import http.client
import json
import os
import pathlib
import re
import shutil
import threading
import time
import urllib.parse

from cluster import ours_binary
from conftest import REFERENCE_ETCD, EtcdProcess

SIDES = ("ref", "ours")

TTL_MAX = 100_000  # no scenario asks for more (flannel's lease is 86400)
TTL_SLACK = 2  # seconds the two sides' remaining TTLs may differ by
HTTP_TIMEOUT_S = 15.0

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")

# Header values that differ between two members by construction.
VOLATILE_HEADERS = ("date", "content-length", "x-etcd-cluster-id", "x-raft-index",
                    "x-raft-term")


def side_binary(side: str) -> pathlib.Path:
    if side == "ref":
        return REFERENCE_ETCD
    override = os.environ.get("V2_TESTS_OURS_BIN")
    path = pathlib.Path(override) if override else ours_binary()
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    return path


def make_server(side: str, base: pathlib.Path, extra_args: tuple = ("--enable-v2",),
                env: dict | None = None, name: str = "infra1") -> EtcdProcess:
    """An EtcdProcess (not started) of the given side under base/side."""
    # (reference=True only keeps the constructor from looking for
    # build/bin/etcd; the binary is set right after.)
    p = EtcdProcess(pathlib.Path(base) / side, name=name, reference=True,
                    extra_args=extra_args, env=env)
    p.reference = side == "ref"
    p.binary = side_binary(side)
    return p


def stop_all(servers) -> None:
    """Stops every server (SIGTERM, SIGKILL when that fails) and removes its
    data dir (the WAL preallocates 64 MB); the logs stay."""
    for p in servers:
        try:
            p.stop()
        except Exception:  # noqa: BLE001 - stop the others too
            p.kill()
        shutil.rmtree(p.data_dir, ignore_errors=True)


def start_both(servers: dict) -> None:
    """Starts every server, then waits for each to be healthy (the starts
    overlap)."""
    for p in servers.values():
        p.start(wait=False)
    for p in servers.values():
        p.wait_healthy()


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

class Resp:
    def __init__(self, status: int, headers: list, text: str):
        self.status = status
        self.header_list = headers  # [(name, value)] as received
        self.headers = {k.lower(): v for k, v in headers}
        self.text = text

    @property
    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.text!r}>"


def url_path(path: str, query: dict | list | None = None) -> str:
    if query:
        return path + "?" + urllib.parse.urlencode(query)
    return path


def request(port: int, method: str, path: str, query=None, form=None,
            headers: dict | None = None, body: bytes | None = None,
            timeout: float = HTTP_TIMEOUT_S, conn: http.client.HTTPConnection | None = None
            ) -> Resp:
    """One request. `form` (dict or list of pairs) is sent url-encoded in
    the body, as curl -d does. With `conn` the request goes over that
    (keep-alive) connection, which stays open."""
    hdrs = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, url_path(path, query), body=body, headers=hdrs)
        r = conn.getresponse()
        text = r.read().decode()
        return Resp(r.status, r.getheaders(), text)
    finally:
        if own:
            conn.close()


def keys(path: str) -> str:
    """/v2/keys + path."""
    return "/v2/keys" + path


def store_index(port: int) -> int:
    r = request(port, "GET", "/v2/keys/")
    assert r.status == 200, r
    return int(r.headers["x-etcd-index"])


def settle(server: EtcdProcess, want: int = 3, timeout: float = 15.0) -> int:
    """Waits until the v2 store of a fresh member has made its internal
    writes (its etcd index reaches `want`) and returns the index then (or
    whatever it is after `timeout`: the caller compares)."""
    deadline = time.monotonic() + timeout
    idx = -1
    while time.monotonic() < deadline:
        try:
            idx = store_index(server.client_port)
            if idx >= want:
                return idx
        except (OSError, http.client.HTTPException, AssertionError):
            pass
        time.sleep(0.1)
    return idx


# ---------------------------------------------------------------------------
# Long polls
# ---------------------------------------------------------------------------

class Waiter:
    """A `wait=true` GET in its own thread. `ready` is set once the status
    line and headers arrived (etcd flushes them as soon as the watcher is
    registered, before any event): a write after that is seen. With
    `stream`, lines() gives the events one by one."""

    def __init__(self, port: int, path: str, query=None, timeout: float = 20.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.path = url_path(path, query)
        self.ready = threading.Event()
        self.done = threading.Event()
        self.status = None
        self.header_list = []
        self.text = None
        self.error = None
        self._resp = None

    def start(self, read_body: bool = True) -> "Waiter":
        def run():
            try:
                self.conn.request("GET", self.path)
                self._resp = self.conn.getresponse()
                self.status = self._resp.status
                self.header_list = self._resp.getheaders()
                self.ready.set()
                if read_body:
                    self.text = self._resp.read().decode()
            except Exception as e:  # noqa: BLE001 - reported by result()
                self.error = e
            finally:
                self.ready.set()
                self.done.set()
        threading.Thread(target=run, daemon=True).start()
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        assert self.ready.wait(timeout), f"no headers for {self.path} within {timeout}s"
        assert self.error is None, f"{self.path}: {self.error!r}"

    def result(self, timeout: float = 15.0) -> Resp:
        assert self.done.wait(timeout), f"no event for {self.path} within {timeout}s"
        assert self.error is None, f"{self.path}: {self.error!r}"
        return Resp(self.status, self.header_list, self.text)

    def readline(self) -> str:
        """The next line of a stream (read from the caller's thread; start
        with read_body=False)."""
        return self._resp.readline().decode()

    def close(self):
        try:
            if self._resp is not None:
                self._resp.close()
        finally:
            self.conn.close()


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

def norm_headers(resp: Resp) -> dict:
    out = {}
    for k, v in resp.headers.items():
        if k in VOLATILE_HEADERS:
            if k in ("x-raft-index", "x-raft-term"):
                assert v.isdigit(), f"{k}: {v!r}"
            v = "<volatile>"
        out[k] = v
    return out


def norm_body(v, ttls: list, sort_nodes: bool = True):
    """The JSON value with expiration and ttl replaced (their values
    checked, the ttls appended to `ttls`) and, unless the listing was asked
    for sorted, every "nodes" list ordered by key."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k == "expiration":
                assert isinstance(x, str) and RFC3339_UTC.match(x), f"expiration {x!r}"
                x = "<expiration>"
            elif k == "ttl":
                # (A key that expired while its member was down shows a
                # negative ttl in the prevNode of its "expire" event.)
                assert isinstance(x, int) and x != 0 and abs(x) <= TTL_MAX, f"ttl {x!r}"
                ttls.append(x)
                x = "<ttl>"
            else:
                x = norm_body(x, ttls, sort_nodes)
            out[k] = x
        if sort_nodes and isinstance(out.get("nodes"), list):
            out["nodes"] = sorted(out["nodes"], key=lambda n: n.get("key", ""))
        return out
    if isinstance(v, list):
        return [norm_body(x, ttls, sort_nodes) for x in v]
    return v


def parse_body(text: str):
    """JSON when the body is JSON (one value, or one per line for a stream),
    else the text."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = [l for l in text.split("\n") if l.strip()]
    try:
        return [json.loads(l) for l in lines] if lines else text
    except ValueError:
        return text


def normalised(resp: Resp, sort_nodes: bool = True):
    """(status, headers, body, ttls) of an answer, comparable between sides."""
    ttls: list = []
    body = norm_body(parse_body(resp.text), ttls, sort_nodes)
    return resp.status, norm_headers(resp), body, ttls


def diff(what: str, answers: dict, sort_nodes: bool = True) -> str | None:
    """None when the answers (side -> Resp) agree after normalisation, else
    a description of the difference."""
    n = {s: normalised(r, sort_nodes) for s, r in answers.items()}
    ref, ours = n["ref"], n["ours"]
    problems = []
    if ref[0] != ours[0]:
        problems.append(f"status {ref[0]} != {ours[0]}")
    if ref[1] != ours[1]:
        only_ref = {k: v for k, v in ref[1].items() if ours[1].get(k) != v}
        only_ours = {k: v for k, v in ours[1].items() if ref[1].get(k) != v}
        problems.append(f"headers: reference has {only_ref}, ours has {only_ours}")
    if ref[2] != ours[2]:
        problems.append(f"body:\n    reference: {ref[2]}\n    ours:      {ours[2]}")
    if len(ref[3]) != len(ours[3]) or any(abs(a - b) > TTL_SLACK
                                          for a, b in zip(ref[3], ours[3])):
        problems.append(f"ttls {ref[3]} != {ours[3]}")
    if not problems:
        return None
    return f"{what}: " + "; ".join(problems) + (
        f"\n  raw reference: {answers['ref']!r}\n  raw ours:      {answers['ours']!r}")


class Pair:
    """The two servers of a differential suite; every request goes to both
    (reference first), the answers are compared, and the reference's is
    returned for the suite's own assertions."""

    def __init__(self, servers: dict):
        self.servers = servers

    def port(self, side: str) -> int:
        return self.servers[side].client_port

    def do(self, method: str, path: str, query=None, form=None, headers=None,
           body=None, sorted_listing: bool = False) -> Resp:
        answers = {s: request(self.port(s), method, path, query=query, form=form,
                              headers=headers, body=body)
                   for s in SIDES}
        self.check(f"{method} {url_path(path, query)} {form or ''}", answers,
                   sort_nodes=not sorted_listing)
        return answers["ref"]

    def get(self, path: str, **query) -> Resp:
        return self.do("GET", keys(path), query=query or None)

    def put(self, path: str, query=None, **form) -> Resp:
        return self.do("PUT", keys(path), query=query, form=form)

    def delete(self, path: str, **query) -> Resp:
        return self.do("DELETE", keys(path), query=query or None)

    def post(self, path: str, query=None, **form) -> Resp:
        return self.do("POST", keys(path), query=query, form=form)

    def check(self, what: str, answers: dict, sort_nodes: bool = True) -> None:
        d = diff(what, answers, sort_nodes)
        assert d is None, d

    def waiters(self, path: str, query=None, read_body: bool = True) -> dict:
        """A started Waiter per side, each registered (headers received)."""
        ws = {s: Waiter(self.port(s), path, query).start(read_body) for s in SIDES}
        for w in ws.values():
            w.wait_ready()
        return ws

    def results(self, what: str, waiters: dict, timeout: float = 15.0) -> Resp:
        try:
            answers = {s: w.result(timeout) for s, w in waiters.items()}
        finally:
            for w in waiters.values():
                w.close()
        self.check(what, answers)
        return answers["ref"]


def shape(v):
    """The JSON value's structure: field names and value types, no values."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v[:1]]
    return type(v).__name__
