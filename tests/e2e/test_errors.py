"""How a member refuses to start: bad flags, a bootstrap configuration that
does not name it, ports and data dirs already in use. Where the reference
etcd behaves the same, the test runs against both (ids "ours"/"reference")
so the expectation is checked on the oracle too."""

import os
import socket

import pytest

BOTH = pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])


@BOTH
def test_unknown_flag_exits_2(etcd_factory, reference):
    m = etcd_factory(reference=reference)
    m.start("--no-such-flag", wait=False)
    assert m.wait_exit() == 2
    log = m.log_text()
    assert "flag provided but not defined: -no-such-flag" in log
    assert "Usage:" in log
    assert not m.data_dir.exists(), "nothing is created before the flags are valid"


@BOTH
def test_initial_cluster_without_our_name(etcd_factory, reference):
    m = etcd_factory(reference=reference)
    m.start("--initial-cluster", f"someone-else={m.peer_url}", wait=False)
    assert m.wait_exit() == 1
    log = m.log_text()
    assert f'couldn\'t find local name "{m.name}" in the initial cluster configuration' in log.replace(
        '\\"', '"'), log
    if not reference:
        fatal = [e for e in m.log_entries() if e["level"] == "fatal"]
        assert len(fatal) == 1
        assert fatal[0]["error"] == (
            f'couldn\'t find local name "{m.name}" in the initial cluster configuration')
    assert not (m.data_dir / "member" / "wal").exists(), "no WAL for a member that never started"


@BOTH
def test_advertised_peer_urls_must_match_initial_cluster(etcd_factory, reference):
    m = etcd_factory(reference=reference)
    other = "http://127.0.0.1:1"
    m.start("--initial-cluster", f"{m.name}={other}", wait=False)
    assert m.wait_exit() == 1
    assert (f"--initial-cluster has {m.name}={other} but missing from "
            f"--initial-advertise-peer-urls={m.peer_url}") in m.log_text()


@BOTH
def test_client_port_taken_by_another_program(etcd_factory, reference):
    m = etcd_factory(reference=reference)
    with socket.socket() as s:
        s.bind(("127.0.0.1", m.client_port))
        s.listen()
        m.start(wait=False)
        assert m.wait_exit() == 1
    assert "address already in use" in m.log_text(), (
        "the failure does not say why the member could not serve clients "
        f"(etcd: listen tcp {m.endpoint}: bind: address already in use):\n{m.log_tail(2)}")


@BOTH
def test_peer_port_taken_by_another_program(etcd_factory, reference):
    """The peer port is bound at start-up too: taken, the member exits
    naming the bind error, as etcd does, and leaves no data dir behind."""
    m = etcd_factory(reference=reference)
    with socket.socket() as s:
        s.bind(("127.0.0.1", m.peer_port))
        s.listen()
        m.start(wait=False)
        assert m.wait_exit() == 1
    log = m.log_text()
    assert "address already in use" in log, m.log_tail(3)
    assert str(m.peer_port) in log, m.log_tail(3)
    assert not os.path.exists(os.path.join(m.data_dir, "member")), "the data dir was touched"


@BOTH
def test_two_members_cannot_share_a_client_port(etcd_factory, reference):
    """A second member on the client port of a running one must fail to
    start (etcd: `listen tcp ...: bind: address already in use`), not share
    the port: clients would reach either member at random."""
    first = etcd_factory("infra1", reference=reference).start()
    first.ok("put", "owner", "first")
    second = etcd_factory("infra2", reference=reference)
    second.client_port = first.client_port
    second.start(wait=False)
    try:
        status = second.proc.wait(timeout=10)
    except Exception:  # noqa: BLE001 - still running: that is the failure
        status = None
    assert status is not None and status != 0, (
        "a second member started on a client port that is in use "
        f"({first.endpoint}); its log:\n{second.log_tail(8)}")
    assert "address already in use" in second.log_text()
    assert first.ok("get", "owner", "--print-value-only") == "first\n"


def test_data_dir_in_use_by_a_running_member(etcd_factory):
    """Ours refuses a data dir that a running member holds (the reference
    3.4 blocks on bbolt's flock instead, so this runs on ours only)."""
    first = etcd_factory("infra1").start()
    first.ok("put", "k", "v")
    second = etcd_factory("infra1", sub="second", data_dir=first.data_dir)
    second.start(wait=False)
    assert second.wait_exit() == 1
    fatal = [e for e in second.log_entries() if e["level"] == "fatal"]
    assert fatal and "in use by another process" in fatal[-1]["error"], second.log_tail()
    assert first.ok("get", "k") == "k\nv\n"


def test_half_made_data_dir_is_refused_and_left_alone(etcd_factory):
    """Issue 13.3: member/snap/db with applied data but no WAL (a failed
    restore) used to make the member lead, then wait forever on its own
    publish proposal with no client port. It must exit, naming the files."""
    import hashlib
    import shutil
    m = etcd_factory().start()
    m.ok("put", "kept", "value")
    m.stop()
    shutil.rmtree(m.data_dir / "member" / "wal")
    db = m.data_dir / "member" / "snap" / "db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    m.start(wait=False)
    assert m.wait_exit(timeout=15) == 1
    fatal = [e for e in m.log_entries() if e["level"] == "fatal"]
    assert fatal and fatal[-1]["msg"] == "failed to start etcd", m.log_tail()
    err = fatal[-1]["error"]
    assert f"data dir {m.data_dir} is half-made" in err
    assert str(db) in err and "no WAL in " + str(m.data_dir / "member" / "wal") in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, "the db was modified"
    assert not (m.data_dir / "member" / "wal").exists(), "a WAL was created"


def test_member_without_quorum_says_so_periodically(etcd_factory):
    """Issue 13.3: a member that cannot reach a quorum (its --initial-cluster
    names a peer it cannot reach) does not serve, and says why in the log at
    warn level, again and again, never waiting in silence."""
    import datetime
    import time
    m = etcd_factory()
    m.start("--initial-cluster", f"{m.name}={m.peer_url},absent=http://127.0.0.1:1", wait=False)
    # etcd's cadence: a publish warning per request timeout (7 s), a peer
    # warning from the prober every 5 s (etcd's every 30 s), naming it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        warns = [e for e in m.log_entries() if e["level"] == "warn"]
        publish = [e for e in warns if e["msg"] ==
                   "failed to publish local member to cluster through raft"]
        peer = [e for e in warns if e["msg"] == "prober detected unhealthy status"]
        if len(publish) >= 2 and len(peer) >= 2:
            break
        assert m.running(), m.log_tail()
        time.sleep(0.5)
    assert len(publish) >= 2 and len(peer) >= 2, m.log_tail()
    assert publish[0]["request-path"].startswith("/0/members/")
    assert publish[0]["publish-timeout"] == "7s"
    assert all(p["remote-peer-id"] == peer[0]["remote-peer-id"] for p in peer)
    assert peer[0]["remote-peer-urls"] == ["http://127.0.0.1:1"]
    assert "refused" in peer[0]["error"].lower()
    gap = (datetime.datetime.fromisoformat(publish[1]["ts"].replace("Z", "+00:00")) -
           datetime.datetime.fromisoformat(publish[0]["ts"].replace("Z", "+00:00")))
    assert gap.total_seconds() >= 6, "one publish warning per request timeout, not a flood"
    assert any(e["msg"] == "starting initial election tick advance" for e in m.log_entries())
    assert not any(e["msg"].startswith("started as single-node") for e in m.log_entries())
    # Not serving clients meanwhile (etcd opens the client port once published).
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", m.client_port), 0.5).close()
