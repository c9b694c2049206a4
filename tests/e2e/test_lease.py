"""The Lease service of one member, driven with the reference etcdctl 3.4.23
as an operator would: grant, list, keep-alive (streaming and --once),
timetolive (with --keys), revoke, put --lease, the errors, expiry (the keys go
and a watcher sees their DELETE) and a restart with live leases. Each
scenario runs against the reference etcd too and the outputs are compared
with the lease ids (which differ) normalised."""

import re
import subprocess
import threading
import time

import pytest

import etcdpb
from conftest import REFERENCE_ETCDCTL, error_line, etcdctl_env

ID_RE = re.compile(r"\b[0-9a-f]{16}\b")
REMAINING_RE = re.compile(r"remaining\((-?\d+)s\)")


def lease_id(out: str) -> str:
    m = re.search(r"lease ([0-9a-f]{16}) granted", out)
    assert m, f"no lease id in {out!r}"
    return m.group(1)


def normalise(text: str) -> str:
    """Lease ids become <ID>; attached keys are sorted (etcd lists them in
    Go map order)."""
    text = ID_RE.sub("<ID>", text)
    return re.sub(r"attached keys\(\[([^\]]*)\]\)",
                  lambda m: "attached keys([" + " ".join(sorted(m.group(1).split())) + "])", text)


def remaining(out: str) -> int:
    m = REMAINING_RE.search(out)
    assert m, f"no remaining TTL in {out!r}"
    return int(m.group(1))


def outcome(r: subprocess.CompletedProcess) -> str:
    """What an operator sees of one command: stdout, or the error line."""
    if r.returncode == 0:
        return normalise(r.stdout)
    return f"rc={r.returncode} {normalise(error_line(r))}"


class Background:
    """A long-running etcdctl (keep-alive, watch) whose stdout lines are
    collected by a thread, so the test can wait for lines with a bound."""

    def __init__(self, endpoint: str, *args: str):
        self.proc = subprocess.Popen(
            [str(REFERENCE_ETCDCTL), f"--endpoints={endpoint}", *args],
            env=etcdctl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_lines(self, n: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.lines) < n and time.monotonic() < deadline:
                if self.proc.poll() is not None and not self._reader.is_alive():
                    break
                self._cv.wait(max(0.0, min(0.2, deadline - time.monotonic())))
            return list(self.lines)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)


@pytest.fixture
def pair(etcd_factory):
    """Our member and the reference etcd, both started."""
    ours = etcd_factory().start()
    ref = etcd_factory(reference=True).start()
    return ours, ref


def wait_gone(m, key: str, timeout: float = 15.0) -> float:
    """Polls until `key` has no value; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if m.ok("get", key) == "":
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{key} still there after {timeout}s:\n{m.log_tail()}")


# ---- the commands, side by side with etcd ----


def command_scenario(m) -> list[tuple[str, str]]:
    """Every lease command once, with the outputs an operator sees."""
    steps: list[tuple[str, str]] = []

    def step(*args: str) -> subprocess.CompletedProcess:
        r = m.etcdctl(*args)
        steps.append((" ".join(ID_RE.sub("<ID>", a) for a in args), outcome(r)))
        return r

    lid = lease_id(step("lease", "grant", "60").stdout)
    short = lease_id(step("lease", "grant", "1").stdout)  # raised to the minimum, 2 s
    step("lease", "revoke", short)
    step("put", "--lease", lid, "k1", "v1")
    step("put", "--lease", lid, "k2", "v2")
    step("put", "k3", "v3")
    r = m.etcdctl("get", "k1", "-w", "fields")  # shows the lease id on the key, in decimal
    fields = re.sub(r'"(ClusterID|MemberID)" : \d+', r'"\1" : N', r.stdout)
    assert f'"Lease" : {int(lid, 16)}\n' in fields, fields
    steps.append(("get k1 -w fields", fields.replace(str(int(lid, 16)), "<LEASE>")))
    r = m.etcdctl("lease", "timetolive", lid)
    assert 55 <= remaining(r.stdout) <= 60, r.stdout
    steps.append(("lease timetolive <ID>", REMAINING_RE.sub("remaining(N)", outcome(r))))
    r = m.etcdctl("lease", "timetolive", "--keys", lid)
    steps.append(("lease timetolive --keys <ID>", REMAINING_RE.sub("remaining(N)", outcome(r))))
    step("lease", "list")
    step("lease", "keep-alive", "--once", lid)
    step("put", "--lease", lid, "--ignore-lease", "k1", "v1b")  # lease and value given: refused
    step("put", "--ignore-lease", "k1", "v1c")  # keeps lease lid
    step("put", "k2", "v2b")  # detaches k2
    r = m.etcdctl("lease", "timetolive", "--keys", lid)
    steps.append(("lease timetolive --keys <ID> (after detach)",
                  REMAINING_RE.sub("remaining(N)", outcome(r))))
    step("lease", "revoke", lid)
    step("get", "--prefix", "k")
    step("lease", "timetolive", lid)
    step("lease", "timetolive", "--keys", lid)
    step("lease", "keep-alive", "--once", lid)
    step("lease", "revoke", lid)
    step("lease", "list")
    step("put", "--lease", "1234abcd", "k4", "v4")
    step("lease", "grant", "9000000001")
    big = lease_id(step("lease", "grant", "9000000000").stdout)
    step("lease", "revoke", big)
    step("lease", "grant", "0")
    step("lease", "grant", "-5")
    return steps


def test_lease_commands_match_reference(pair):
    ours, ref = pair
    got, want = command_scenario(ours), command_scenario(ref)
    for (cmd, g), (_, w) in zip(got, want):
        assert g == w, f"`etcdctl {cmd}`: ours {g!r}, etcd {w!r}"
    assert len(got) == len(want)
    # Spot checks of etcd's exact texts (the comparison above covers the rest).
    d: dict[str, str] = {}
    for cmd, g in got:
        d.setdefault(cmd, g)  # the first run of each command
    assert d["lease grant 60"] == "lease <ID> granted with TTL(60s)\n"
    assert d["lease grant 1"] == "lease <ID> granted with TTL(2s)\n"
    assert d["lease timetolive --keys <ID>"] == (
        "lease <ID> granted with TTL(60s), remaining(N), attached keys([k1 k2])\n")
    assert d["lease keep-alive --once <ID>"].startswith("lease <ID> keepalived with TTL(60)\n")
    assert d["put --lease 1234abcd k4 v4"] == "rc=1 Error: etcdserver: requested lease not found"
    assert d["lease grant 9000000001"] == (
        "rc=1 Error: failed to grant lease (etcdserver: too large lease TTL)")


def raw_lease_grant(m, ttl: int, lease: int) -> tuple[int, int]:
    """Lease.LeaseGrant over plain gRPC with an explicit id (etcdctl cannot
    choose one); returns (ID, TTL)."""
    c = etcdpb.Client(m.endpoint)
    try:
        resp = c.lease_grant(ttl, lease)
        return resp.ID, resp.TTL
    finally:
        c.close()


def test_grant_with_id_and_existing_id(pair):
    import grpc

    for m in pair:
        assert raw_lease_grant(m, 30, 0x1234) == (0x1234, 30)
        with pytest.raises(grpc.RpcError) as e:
            raw_lease_grant(m, 30, 0x1234)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert e.value.details() == "etcdserver: lease already exists"
        out = m.ok("lease", "timetolive", "0000000000001234")
        assert out.startswith("lease 0000000000001234 granted with TTL(30s), remaining("), out


# ---- keep-alive stream ----


def keepalive_scenario(m) -> tuple[list[str], int | None]:
    lid = lease_id(m.ok("lease", "grant", "6"))
    ka = Background(m.endpoint, "lease", "keep-alive", lid)
    try:
        # The client renews every TTL/3 = 2 s: two answers within ~3 s.
        first = ka.wait_lines(2, timeout=8)
        assert len(first) >= 2, f"keep-alive printed {first}; stderr: {ka.proc.stderr}"
        # The renewals keep the lease alive past its TTL.
        time.sleep(0.5)
        assert remaining(m.ok("lease", "timetolive", lid)) >= 3
        m.ok("lease", "revoke", lid)
        # The next renewal answers TTL 0: etcdctl says so and exits.
        rc = ka.wait_exit(timeout=8)
        lines = ka.wait_lines(100, timeout=1)
    finally:
        ka.stop()
    return [normalise(l) for l in lines], rc


def test_keep_alive_stream_matches_reference(pair):
    ours, ref = pair
    got, rc = keepalive_scenario(ours)
    want, ref_rc = keepalive_scenario(ref)
    assert rc == ref_rc == 0
    assert got[0] == "lease <ID> keepalived with TTL(6)"
    assert got[-1] == "lease <ID> expired or revoked."
    # The number of renewals depends on timing; their text does not.
    assert set(got[:-1]) == set(want[:-1]) == {"lease <ID> keepalived with TTL(6)"}
    assert got[-1] == want[-1]


# ---- expiry ----


def test_key_on_a_short_lease_expires_and_a_watcher_sees_the_delete(pair):
    watchers = []
    try:
        started = []
        for m in pair:
            lid = lease_id(m.ok("lease", "grant", "5"))
            m.ok("put", "--lease", lid, "ephemeral", "v")
            m.ok("put", "--lease", lid, "ephemeral2", "v")
            m.ok("put", "stays", "v")
            w = Background(m.endpoint, "watch", "--prefix", "ephemeral")
            watchers.append(w)
            started.append((m, lid, time.monotonic()))
        time.sleep(0.5)  # let the watchers register
        for m, lid, t0 in started:
            wait_gone(m, "ephemeral")
            took = time.monotonic() - t0
            # 5 s TTL, revoked by the leader's loop (every 500 ms) through Raft.
            assert 4.0 <= took <= 10.0, took
            assert m.ok("get", "ephemeral2") == ""
            assert m.ok("get", "stays") == "stays\nv\n"
            assert m.ok("lease", "timetolive", lid) == f"lease {lid} already expired\n"
            assert m.ok("lease", "list") == "found 0 leases\n"
        outputs = []
        for w in watchers:
            # Both DELETEs arrive in one revision: key, empty value, per event.
            lines = w.wait_lines(6, timeout=5)
            outputs.append(lines)
        assert outputs[0] == outputs[1], f"ours {outputs[0]}, etcd {outputs[1]}"
        assert outputs[0][:6] == ["DELETE", "ephemeral", "", "DELETE", "ephemeral2", ""]
    finally:
        for w in watchers:
            w.stop()


# ---- restart ----


def restart_scenario(m) -> list[str]:
    long_id = lease_id(m.ok("lease", "grant", "60"))
    short_id = lease_id(m.ok("lease", "grant", "5"))
    m.ok("put", "--lease", long_id, "lk1", "a")
    m.ok("put", "--lease", long_id, "lk2", "b")
    m.ok("put", "--lease", short_id, "sk", "c")
    time.sleep(2)
    before = remaining(m.ok("lease", "timetolive", long_id))
    assert 56 <= before <= 58, before
    m.stop()
    m.start()
    out = []
    ttl = m.ok("lease", "timetolive", "--keys", long_id)
    # Refreshed on promotion: the full TTL again (plus an election timeout).
    assert 59 <= remaining(ttl) <= 61, ttl
    out.append(normalise(REMAINING_RE.sub("remaining(N)", ttl)))
    out.append(normalise(m.ok("lease", "list")))
    out.append(m.ok("get", "--prefix", "lk", "--keys-only"))
    # The short lease expires after the restart, with its key.
    wait_gone(m, "sk", timeout=15)
    out.append(normalise(m.ok("lease", "list")))
    # Keys re-attached at start-up go with their lease.
    out.append(normalise(m.ok("lease", "revoke", long_id)))
    out.append(m.ok("get", "--prefix", "lk"))
    return out


def test_restart_keeps_leases_and_keys(etcd_factory):
    ours = etcd_factory().start()
    ref = etcd_factory(reference=True).start()
    got = restart_scenario(ours)
    want = restart_scenario(ref)
    assert got == want
    assert got[0] == "lease <ID> granted with TTL(60s), remaining(N), attached keys([lk1 lk2])\n"
    assert got[2] == "lk1\n\nlk2\n\n"
    assert got[3] == "found 1 leases\n<ID>\n"


def test_lease_checkpoint_flags(etcd_factory, etcd):
    r = etcd("--experimental-enable-lease-checkpoint-persist")
    assert r.returncode == 1
    assert ("setting experimental-enable-lease-checkpoint-persist requires "
            "experimental-enable-lease-checkpoint") in r.stderr
    m = etcd_factory(extra_args=("--experimental-enable-lease-checkpoint",
                                 "--experimental-enable-lease-checkpoint-persist")).start()
    lid = lease_id(m.ok("lease", "grant", "30"))
    m.ok("put", "--lease", lid, "ck", "v")
    assert m.ok("lease", "keep-alive", "--once", lid) == f"lease {lid} keepalived with TTL(30)\n"
    m.stop()
    m.start()
    assert m.ok("lease", "timetolive", "--keys", lid).endswith("attached keys([ck])\n")
