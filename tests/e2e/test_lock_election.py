"""The server's v3lockpb.Lock and v3electionpb.Election services over plain
gRPC, against our etcd and the reference etcd 3.4.23 side by side: the same
calls give the same answers (revisions, keys, values, error codes and
messages), locks and elections wait for their turn, end when the caller
cancels (cleaning up their key) and when a holder's lease goes away; and
ours ends blocked calls at shutdown.

What is normalised between the two servers: cluster and member ids and the
raft term (ids and election history), and lease ids (each server picks its
own), which are numbered in order of appearance, in decimal and in the hex
of the keys named after them."""

import queue
import re
import signal
import threading
import time

import grpc
import pytest

import etcdpb

LOCK = "v3lockpb.Lock"
ELECTION = "v3electionpb.Election"
WAIT_S = 15.0  # bound on every wait for a server-side change


class Conc:
    """Lock, Election, KV and Lease calls on one channel."""

    def __init__(self, endpoint: str):
        self.kvc = etcdpb.Client(endpoint)
        self.pb = self.kvc.pb
        self.L = etcdpb.lock()
        self.E = etcdpb.election()
        self.channel = self.kvc.channel

    def _unary(self, service, method, resp_type):
        return self.channel.unary_unary(f"/{service}/{method}",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=resp_type.FromString)

    def call(self, service, method, req, resp_type, timeout=10.0, token=None):
        md = [("token", token)] if token else None
        return self._unary(service, method, resp_type)(req, timeout=timeout, metadata=md)

    def future(self, service, method, req, resp_type, timeout=None, token=None):
        md = [("token", token)] if token else None
        return self._unary(service, method, resp_type).future(req, timeout=timeout, metadata=md)

    def lock(self, name: bytes, lease: int, **kw):
        return self.call(LOCK, "Lock", self.L.LockRequest(name=name, lease=lease),
                         self.L.LockResponse, **kw)

    def lock_future(self, name: bytes, lease: int, **kw):
        return self.future(LOCK, "Lock", self.L.LockRequest(name=name, lease=lease),
                           self.L.LockResponse, **kw)

    def unlock(self, key: bytes, **kw):
        return self.call(LOCK, "Unlock", self.L.UnlockRequest(key=key), self.L.UnlockResponse,
                         **kw)

    def campaign(self, name: bytes, lease: int, value: bytes, **kw):
        return self.call(ELECTION, "Campaign",
                         self.E.CampaignRequest(name=name, lease=lease, value=value),
                         self.E.CampaignResponse, **kw)

    def campaign_future(self, name: bytes, lease: int, value: bytes, **kw):
        return self.future(ELECTION, "Campaign",
                           self.E.CampaignRequest(name=name, lease=lease, value=value),
                           self.E.CampaignResponse, **kw)

    def proclaim(self, leader, value: bytes | None, **kw):
        req = self.E.ProclaimRequest(value=value or b"")
        if leader is not None:
            req.leader.CopyFrom(leader)
        return self.call(ELECTION, "Proclaim", req, self.E.ProclaimResponse, **kw)

    def resign(self, leader, **kw):
        req = self.E.ResignRequest()
        if leader is not None:
            req.leader.CopyFrom(leader)
        return self.call(ELECTION, "Resign", req, self.E.ResignResponse, **kw)

    def leader(self, name: bytes, **kw):
        return self.call(ELECTION, "Leader", self.E.LeaderRequest(name=name),
                         self.E.LeaderResponse, **kw)

    def observe(self, name: bytes) -> "Observer":
        call = self.channel.unary_stream(f"/{ELECTION}/Observe",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=self.E.LeaderResponse.FromString)
        return Observer(call(self.E.LeaderRequest(name=name)))

    def grant(self, ttl: int) -> int:
        return self.kvc.lease_grant(ttl).ID

    def keys(self, prefix: bytes) -> list[bytes]:
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        return [kv.key for kv in self.kvc.range(prefix, end).kvs]

    def close(self):
        self.kvc.close()


class Observer:
    """An Observe stream read by a thread into a queue (so waits are bounded)."""

    def __init__(self, stream):
        self.stream = stream
        self.q: queue.Queue = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        try:
            for r in self.stream:
                self.q.put(r)
            self.q.put(("end", grpc.StatusCode.OK, ""))
        except grpc.RpcError as e:
            self.q.put(("end", e.code(), e.details()))

    def next(self, timeout=WAIT_S):
        return self.q.get(timeout=timeout)

    def cancel(self):
        self.stream.cancel()
        self.t.join(timeout=WAIT_S)


def err(f):
    """(code name, message) of a failed call, or the response."""
    try:
        return f()
    except grpc.RpcError as e:
        return ("error", e.code().name, e.details())


def wait_until(pred, timeout=WAIT_S, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["ours", "ref"])
def server(request, etcd_factory):
    """One started member: ours or the reference."""
    m = etcd_factory(reference=request.param == "ref").start()
    c = Conc(m.endpoint)
    yield m, c
    c.close()


# --------------------------------------------------------------------------
# The same script against both servers.
# --------------------------------------------------------------------------

def script(c: Conc) -> list[str]:
    """Calls covering the answers and errors of both services, in an order
    that leaves nothing to timing; returns one text line per step."""
    out = []

    def step(label, f):
        r = err(f)
        text = r if isinstance(r, tuple) else r.__class__.__name__ + " " + str(r)
        out.append(f"{label}: {' '.join(str(text).split())}")
        return r

    step("lock bad lease", lambda: c.lock(b"l", 12345))
    step("lock lease 0", lambda: c.lock(b"l0", 0))
    step("keys l0", lambda: c.kvc.range(b"l0/", b"l00"))
    a = c.grant(30)
    b = c.grant(30)
    held = step("lock", lambda: c.lock(b"l", a))
    step("lock again, same lease", lambda: c.lock(b"l", a))
    step("lock empty name", lambda: c.lock(b"", a))
    step("unlock empty key", lambda: c.unlock(b""))
    step("unlock missing key", lambda: c.unlock(b"nothing"))
    # A waiter that gives up: its key goes away.
    step("lock, second lease, deadline", lambda: c.lock(b"l", b, timeout=1.0))
    wait_until(lambda: len(c.keys(b"l/")) == 1, what="the waiter's key to go")
    step("keys l after cancel", lambda: c.kvc.range(b"l/", b"l0"))
    step("unlock", lambda: c.unlock(held.key))
    step("lock second lease", lambda: c.lock(b"l", b))
    step("leader, none", lambda: c.leader(b"e"))
    step("leader, empty name", lambda: c.leader(b""))
    step("proclaim without leader", lambda: c.proclaim(None, b"x"))
    step("resign without leader", lambda: c.resign(None))
    step("campaign bad lease", lambda: c.campaign(b"e", 999, b"v"))
    step("campaign lease 0", lambda: c.campaign(b"e0", 0, b"v"))
    won = step("campaign", lambda: c.campaign(b"e", a, b"v1"))
    step("campaign again, other value", lambda: c.campaign(b"e", a, b"v1b"))
    step("leader", lambda: c.leader(b"e"))
    lk = won.leader
    step("proclaim", lambda: c.proclaim(lk, b"v2"))
    bad_rev = c.E.LeaderKey(name=lk.name, key=lk.key, rev=lk.rev + 100, lease=lk.lease)
    step("proclaim, wrong rev", lambda: c.proclaim(bad_rev, b"v3"))
    step("resign, wrong rev", lambda: c.resign(bad_rev))
    bad_lease = c.E.LeaderKey(name=lk.name, key=lk.key, rev=lk.rev, lease=4242)
    step("proclaim, unknown lease", lambda: c.proclaim(bad_lease, b"v3"))
    step("leader after proclaims", lambda: c.leader(b"e"))
    step("campaign, second lease, deadline", lambda: c.campaign(b"e", b, b"w", timeout=1.0))
    wait_until(lambda: len(c.keys(b"e/")) == 1, what="the candidate's key to go")
    step("keys e after cancel", lambda: c.kvc.range(b"e/", b"e0"))
    step("resign", lambda: c.resign(lk))
    step("resign again", lambda: c.resign(lk))
    step("proclaim after resign", lambda: c.proclaim(lk, b"v5"))
    step("leader after resign", lambda: c.leader(b"e"))
    # Lease 0 in a LeaderKey: a new lease for the proclaimed value, as etcd.
    won2 = step("campaign 2", lambda: c.campaign(b"f", a, b"x1"))
    zero = c.E.LeaderKey(name=won2.leader.name, key=won2.leader.key, rev=won2.leader.rev,
                         lease=0)
    step("proclaim, lease 0", lambda: c.proclaim(zero, b"x2"))
    step("leader f", lambda: c.leader(b"f"))
    return out


def normalise(lines: list[str]) -> list[str]:
    leases: dict[int, str] = {}

    def name(n: int) -> str:
        if n not in leases:
            leases[n] = f"L{len(leases) + 1}"
        return leases[n]

    out = []
    for line in lines:
        line = re.sub(r"(cluster_id|member_id|raft_term): \d+ ", "", line)
        # Lease ids: "lease: <decimal>", and the hex that ends a key.
        line = re.sub(r"lease: (\d+)", lambda m: f"lease: {name(int(m.group(1)))}", line)
        line = re.sub(r'/([0-9a-f]{8,16})"', lambda m: f'/<{name(int(m.group(1), 16))}>"', line)
        out.append(line)
    return out


def test_script_matches_reference(etcd_factory):
    results = {}
    for kind in ("ref", "ours"):
        m = etcd_factory(reference=kind == "ref").start()
        c = Conc(m.endpoint)
        try:
            results[kind] = normalise(script(c))
        finally:
            c.close()
            m.stop()
    assert results["ours"] == results["ref"]
    # And the answers are what a client relies on (not two identical bugs).
    text = "\n".join(results["ours"])
    assert ("lock bad lease: ('error', 'UNKNOWN', 'etcdserver: requested lease not found')"
            in text)
    assert "leader, none: ('error', 'UNKNOWN', 'election: no leader')" in text
    assert "proclaim, wrong rev: ('error', 'UNKNOWN', 'election: not leader')" in text
    assert ("proclaim without leader: ('error', 'UNKNOWN', '\"leader\" field must be provided')"
            in text)
    assert "unlock empty key: ('error', 'UNKNOWN', 'etcdserver: key is not provided')" in text


# --------------------------------------------------------------------------
# Behaviour, on each server.
# --------------------------------------------------------------------------

def test_second_locker_waits_for_unlock(server):
    _, c = server
    a, b = c.grant(30), c.grant(30)
    first = c.lock(b"job", a)
    assert first.key == f"job/{a:x}".encode()
    waiter = c.lock_future(b"job", b)
    time.sleep(1.0)
    assert not waiter.done(), "the second locker got the lock while it was held"
    assert c.keys(b"job/") == sorted([first.key, f"job/{b:x}".encode()])
    unlocked = c.unlock(first.key)
    second = waiter.result(timeout=WAIT_S)
    assert second.key == f"job/{b:x}".encode()
    assert second.header.revision >= unlocked.header.revision
    assert c.keys(b"job/") == [second.key]


def test_lock_whose_lease_expired_while_it_waited(server):
    """etcd 3.5's mutex checks its key once the wait is over: gone (its
    lease expired meanwhile) -> 'mutex: session is expired'. The reference
    3.4 grants a lock whose key no longer exists."""
    m, c = server
    a, b = c.grant(30), c.grant(2)
    held = c.lock(b"job", a)
    waiter = c.lock_future(b"job", b)
    wait_until(lambda: len(c.keys(b"job/")) == 2, what="the waiter's key")
    wait_until(lambda: c.keys(b"job/") == [held.key], what="the waiter's lease to expire")
    assert not waiter.done()
    c.unlock(held.key)
    got = err(lambda: waiter.result(timeout=WAIT_S))
    if m.reference:
        assert got.key == f"job/{b:x}".encode()
    else:
        assert got == ("error", "UNKNOWN", "mutex: session is expired")
    assert c.keys(b"job/") == []


def test_locker_gets_the_lock_when_the_holders_lease_is_revoked(server):
    _, c = server
    a, b = c.grant(30), c.grant(30)
    c.lock(b"job", a)
    waiter = c.lock_future(b"job", b)
    time.sleep(0.5)
    assert not waiter.done()
    c.kvc.lease_revoke(a)
    assert waiter.result(timeout=WAIT_S).key == f"job/{b:x}".encode()


def test_cancelled_lock_deletes_its_key_and_keeps_its_lease(server):
    _, c = server
    a, b = c.grant(30), c.grant(30)
    c.lock(b"job", a)
    waiter = c.lock_future(b"job", b)
    wait_until(lambda: len(c.keys(b"job/")) == 2, what="the waiter's key")
    waiter.cancel()
    wait_until(lambda: c.keys(b"job/") == [f"job/{a:x}".encode()],
               what="the cancelled waiter's key to be deleted")
    ttl = c.kvc.call("Lease", "LeaseTimeToLive", c.pb.LeaseTimeToLiveRequest(ID=b),
                     c.pb.LeaseTimeToLiveResponse)
    assert ttl.TTL > 0


def test_candidate_takes_over_when_the_leaders_lease_expires(server):
    """The acceptance case: two candidates, the first wins; when its 2 s
    lease expires (nobody keeps it alive), the second becomes leader, and
    an observer sees both, in order."""
    _, c = server
    short, long_ = c.grant(2), c.grant(60)
    obs = c.observe(b"svc")
    won = c.campaign(b"svc", short, b"first")
    assert won.leader.name == b"svc"
    assert won.leader.key == f"svc/{short:x}".encode()
    assert won.leader.lease == short
    assert won.leader.rev == won.header.revision
    r = obs.next()
    assert (r.kv.key, r.kv.value) == (won.leader.key, b"first")
    second = c.campaign_future(b"svc", long_, b"second")
    time.sleep(0.5)
    assert not second.done(), "a second leader while the first one's lease is alive"
    now_leader = c.leader(b"svc")
    assert now_leader.kv.value == b"first"
    took = second.result(timeout=WAIT_S)
    assert took.leader.key == f"svc/{long_:x}".encode()
    assert took.leader.lease == long_
    assert c.leader(b"svc").kv.value == b"second"
    r = obs.next()
    assert (r.kv.key, r.kv.value) == (took.leader.key, b"second")
    assert r.header.revision >= took.leader.rev
    c.proclaim(took.leader, b"second-v2")
    r = obs.next()
    assert (r.kv.key, r.kv.value) == (took.leader.key, b"second-v2")
    obs.cancel()


def test_proclaim_and_resign_by_a_non_leader(server):
    _, c = server
    a, b = c.grant(30), c.grant(30)
    won = c.campaign(b"svc", a, b"a")
    waiting = c.campaign_future(b"svc", b, b"b")
    wait_until(lambda: len(c.keys(b"svc/")) == 2, what="the second candidate's key")
    # The waiting candidate's key, as a LeaderKey: it is not the leader's,
    # but Proclaim only checks that the key has that create revision.
    mine = c.kvc.range(f"svc/{b:x}".encode()).kvs[0]
    not_leader = c.E.LeaderKey(name=b"svc", key=mine.key, rev=mine.create_revision + 1,
                               lease=b)
    assert err(lambda: c.proclaim(not_leader, b"x")) == (
        "error", "UNKNOWN", "election: not leader")
    c.resign(won.leader)
    assert waiting.result(timeout=WAIT_S).leader.key == mine.key
    # The old leader's key is gone: proclaiming with it fails.
    assert err(lambda: c.proclaim(won.leader, b"again")) == (
        "error", "UNKNOWN", "election: not leader")


def test_cancelled_campaign_resigns(server):
    _, c = server
    a, b = c.grant(30), c.grant(30)
    c.campaign(b"svc", a, b"a")
    waiting = c.campaign_future(b"svc", b, b"b")
    wait_until(lambda: len(c.keys(b"svc/")) == 2, what="the second candidate's key")
    waiting.cancel()
    wait_until(lambda: c.keys(b"svc/") == [f"svc/{a:x}".encode()],
               what="the cancelled candidate's key to be deleted")


def test_observe_waits_for_a_first_leader(server):
    _, c = server
    a = c.grant(30)
    obs = c.observe(b"quiet")
    time.sleep(0.5)
    assert obs.q.empty()
    won = c.campaign(b"quiet", a, b"v")
    r = obs.next()
    assert (r.kv.key, r.kv.value) == (won.leader.key, b"v")
    assert r.header.revision == r.kv.mod_revision
    obs.cancel()


# --------------------------------------------------------------------------
# Ours only: shutdown, bounds, auth.
# --------------------------------------------------------------------------

def test_shutdown_ends_blocked_calls(etcd_factory):
    m = etcd_factory().start()
    c = Conc(m.endpoint)
    try:
        a, b = c.grant(30), c.grant(30)
        c.lock(b"job", a)
        c.campaign(b"svc", a, b"a")
        lock_waiter = c.lock_future(b"job", b)
        campaign_waiter = c.campaign_future(b"svc", b, b"b")
        obs = c.observe(b"svc")
        obs.next()
        wait_until(lambda: len(c.keys(b"job/")) == 2 and len(c.keys(b"svc/")) == 2,
                   what="both waiters' keys")
        t0 = time.monotonic()
        # etcd ends by re-raising SIGTERM once it stopped (-15, not SIGKILL's -9).
        assert m.stop() == -signal.SIGTERM
        assert time.monotonic() - t0 < 5.0, "shutdown waited for blocked calls"
        for f in (lock_waiter, campaign_waiter):
            with pytest.raises(grpc.RpcError) as e:
                f.result(timeout=WAIT_S)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        end = obs.next()
        assert end[0] == "end" and end[1] == grpc.StatusCode.UNAVAILABLE
    finally:
        c.close()


def test_auth_token_reaches_the_inner_calls(server):
    """With auth on: no token -> etcd's 'user name is empty'; a user without
    permission on the lock's prefix -> 'permission denied'; root -> the lock.
    The same answers as the reference."""
    m, c = server
    for args in (("user", "add", "root:rootpw"), ("user", "add", "alice:apw"),
                 ("role", "add", "r"), ("role", "grant-permission", "r", "readwrite", "a/",
                                        "--prefix"),
                 ("user", "grant-role", "alice", "r"), ("auth", "enable")):
        m.ok(*args)

    def token(user, pw):
        return c.kvc.call("Auth", "Authenticate", c.pb.AuthenticateRequest(name=user,
                                                                            password=pw),
                          c.pb.AuthenticateResponse).token

    root = token("root", "rootpw")
    alice = token("alice", "apw")
    lease = c.call("etcdserverpb.Lease", "LeaseGrant", c.pb.LeaseGrantRequest(TTL=30),
                   c.pb.LeaseGrantResponse, token=root).ID
    assert err(lambda: c.lock(b"b", lease)) == (
        "error", "UNKNOWN", "etcdserver: user name is empty")
    assert err(lambda: c.lock(b"b", lease, token=alice)) == (
        "error", "UNKNOWN", "etcdserver: permission denied")
    assert err(lambda: c.lock(b"a", lease, token="bogus")) == (
        "error", "UNKNOWN", "etcdserver: invalid auth token")
    got = c.lock(b"a", lease, token=alice)
    assert got.key == f"a/{lease:x}".encode()
    assert c.lock(b"b", lease, token=root).key == f"b/{lease:x}".encode()
    assert err(lambda: c.leader(b"b", token=alice)) == (
        "error", "UNKNOWN", "etcdserver: permission denied")
    assert c.leader(b"a", token=alice).kv.key == got.key
    m.ok("--user=root:rootpw", "auth", "disable")


@pytest.mark.parametrize("kind", ["ours", "ref"])
def test_a_learner_refuses_every_call(tmp_path, kind):
    from cluster import OURS, REF, Cluster

    k = OURS if kind == "ours" else REF
    cl = Cluster(tmp_path / "c", [k])
    try:
        cl.start()
        cl.ok("put", "seen", "1")
        m, _ = cl.add_member(k, learner=True)
        cl.wait_key("seen", "1", len(cl.members) - 1)
        c = Conc(m.endpoint)
        try:
            refused = ("error", "UNAVAILABLE", "etcdserver: rpc not supported for learner")
            assert err(lambda: c.lock(b"l", 1)) == refused
            assert err(lambda: c.unlock(b"l/1")) == refused
            assert err(lambda: c.campaign(b"e", 1, b"v")) == refused
            assert err(lambda: c.leader(b"e")) == refused
            assert err(lambda: c.proclaim(None, b"v")) == refused
            assert err(lambda: c.resign(None)) == refused
            obs = c.observe(b"e")
            assert obs.next() == ("end", grpc.StatusCode.UNAVAILABLE,
                                  "etcdserver: rpc not supported for learner")
        finally:
            c.close()
    finally:
        cl.close()
