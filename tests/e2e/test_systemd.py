"""systemd's Type=notify protocol (sd_notify): etcd sends READY=1 on
$NOTIFY_SOCKET once the member has joined its cluster and serves clients,
and (ours) STOPPING=1 when a shutdown begins. The tests play the init
daemon: they bind the datagram socket $NOTIFY_SOCKET names (a path, or
'@name' in the abstract namespace) and read what arrives.

The reference etcd 3.4.23 runs the same scenario: it sends READY=1 at the
same point and nothing when it stops (etcd 3.5 neither)."""

import os
import signal
import socket

from cluster import OURS, Cluster
from conftest import STOP_TIMEOUT_S, run_etcdctl, wait_log

READY_TIMEOUT_S = 30.0


class InitDaemon:
    """The receiving end of $NOTIFY_SOCKET."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # Python binds "\0name" in the abstract namespace.
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.received: list[str] = []

    def receive(self, timeout: float) -> str | None:
        """The next notification, or None if none comes within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        self.received.append(data)
        return data

    def close(self):
        self.sock.close()


def notify_env(address: str) -> dict:
    return {"NOTIFY_SOCKET": address}


def health(endpoint: str) -> tuple[bool, str]:
    r = run_etcdctl(endpoint, "endpoint", "health", "--dial-timeout=2s",
                    "--command-timeout=3s", timeout=10)
    return r.returncode == 0, r.stdout + r.stderr


def ready_then_stop(member, daemon: InitDaemon) -> dict:
    """Starts `member` (not waiting), expects READY=1 within the bound, checks
    the member answers right then, stops it with SIGTERM and collects what
    arrives meanwhile."""
    member.start(wait=False)
    msg = daemon.receive(READY_TIMEOUT_S)
    assert msg is not None, f"no notification in {READY_TIMEOUT_S}s:\n{member.log_tail()}"
    ok, out = health(member.endpoint)
    assert ok, f"READY=1 arrived but the member does not serve: {out}\n{member.log_tail()}"
    first = msg
    member.proc.send_signal(signal.SIGTERM)
    rc = member.proc.wait(timeout=STOP_TIMEOUT_S)
    after = []
    while (m := daemon.receive(0.5)) is not None:
        after.append(m)
    member.stop()
    return {"first": first, "after_sigterm": after, "rc": rc}


def test_ready_once_serving_and_stopping_on_sigterm(etcd_factory, tmp_path):
    daemon = InitDaemon(str(tmp_path / "notify.sock"))
    m = etcd_factory(env=notify_env(daemon.address))
    try:
        got = ready_then_stop(m, daemon)
    finally:
        daemon.close()
    assert got["first"] == "READY=1"
    assert got["after_sigterm"] == ["STOPPING=1"]
    assert got["rc"] == -signal.SIGTERM
    msgs = [e["msg"] for e in m.log_entries()]
    # etcd 3.5's lines, after the member serves clients.
    assert "notifying init daemon" in msgs and "successfully notified init daemon" in msgs
    assert msgs.index("ready to serve client requests") < msgs.index("notifying init daemon")
    assert msgs.index("notifying init daemon") < msgs.index("successfully notified init daemon")
    assert msgs.index("successfully notified init daemon") < msgs.index(
        "received signal; shutting down")


def test_abstract_namespace_socket(etcd_factory, tmp_path):
    daemon = InitDaemon(f"@etcd-e2e-notify-{os.getpid()}-{tmp_path.name}")
    m = etcd_factory(env=notify_env(daemon.address))
    try:
        got = ready_then_stop(m, daemon)
    finally:
        daemon.close()
    assert got["first"] == "READY=1"
    assert got["after_sigterm"] == ["STOPPING=1"]


def test_without_notify_socket_nothing_fails(etcd_factory):
    m = etcd_factory().start()
    assert m.stop() == -signal.SIGTERM
    entries = m.log_entries()
    msgs = [e["msg"] for e in entries]
    # As etcd 3.5: the two info lines, no error.
    assert "notifying init daemon" in msgs
    assert "successfully notified init daemon" in msgs
    assert not [e for e in entries if e["level"] in ("warn", "error") and "notif" in e["msg"]]


def test_unreachable_notify_socket_is_logged_and_etcd_serves(etcd_factory, tmp_path):
    missing = str(tmp_path / "nobody.sock")
    m = etcd_factory(env=notify_env(missing)).start()
    e = next(e for e in m.log_entries() if e["msg"] == "failed to notify systemd for readiness")
    assert e["level"] == "error"
    assert e["error"] == f"dial unixgram {missing}: connect: no such file or directory"
    ok, out = health(m.endpoint)
    assert ok, out
    assert m.stop() == -signal.SIGTERM


def test_reference_sends_ready_and_nothing_on_stop(etcd_factory, tmp_path):
    """What the reference etcd 3.4.23 sends, for comparison: READY=1 once it
    serves, nothing on SIGTERM (ours adds STOPPING=1)."""
    daemon = InitDaemon(str(tmp_path / "ref-notify.sock"))
    m = etcd_factory(reference=True, env=notify_env(daemon.address))
    try:
        got = ready_then_stop(m, daemon)
    finally:
        daemon.close()
    assert got["first"] == "READY=1"
    assert got["after_sigterm"] == []


def test_each_cluster_member_notifies_once_it_serves(tmp_path):
    """A member of a new three-member cluster cannot publish itself before a
    quorum is up: alone it stays unready (no READY=1), and each member
    notifies once the cluster has formed and it serves."""
    c = Cluster(tmp_path / "c", [OURS] * 3)
    daemons = []
    try:
        for i, m in enumerate(c.members):
            d = InitDaemon(str(tmp_path / f"notify{i}.sock"))
            daemons.append(d)
            m.env["NOTIFY_SOCKET"] = d.address
        ic = c.initial_cluster()
        for m in c.members:
            m.bootstrap = ["--initial-advertise-peer-urls", m.peer_url,
                           "--initial-cluster", ic,
                           "--initial-cluster-token", c.token,
                           "--initial-cluster-state", "new"]
        c.members[0].start(wait=False)
        assert daemons[0].receive(3.0) is None, "READY=1 without a quorum"
        assert c.members[0].running()
        for m in c.members[1:]:
            m.start(wait=False)
        for i, (m, d) in enumerate(zip(c.members, daemons)):
            msg = d.receive(READY_TIMEOUT_S)
            assert msg == "READY=1", f"member {i}: {msg!r}\n{m.log_tail()}"
            ok, out = health(m.endpoint)
            assert ok, f"member {i} notified but does not serve: {out}"
        for i, (m, d) in enumerate(zip(c.members, daemons)):
            m.proc.send_signal(signal.SIGTERM)
            m.proc.wait(timeout=STOP_TIMEOUT_S)
            assert d.receive(2.0) == "STOPPING=1", f"member {i}"
            assert d.receive(0.2) is None
    finally:
        c.close()
        for d in daemons:
            d.close()


def test_stop_before_ready_sends_only_stopping(tmp_path):
    """A member that never became ready (no quorum) and gets SIGTERM tells
    systemd it is stopping, and never that it is ready."""
    c = Cluster(tmp_path / "c", [OURS] * 3)
    m = c.members[0]
    daemon = InitDaemon(str(tmp_path / "notify.sock"))
    try:
        m.env["NOTIFY_SOCKET"] = daemon.address
        m.bootstrap = ["--initial-advertise-peer-urls", m.peer_url,
                       "--initial-cluster", c.initial_cluster(),
                       "--initial-cluster-token", c.token,
                       "--initial-cluster-state", "new"]
        m.start(wait=False)
        wait_log(m, "now serving peer/client/metrics")
        assert daemon.receive(1.0) is None
        m.proc.send_signal(signal.SIGTERM)
        assert m.proc.wait(timeout=STOP_TIMEOUT_S) == -signal.SIGTERM
        assert daemon.receive(2.0) == "STOPPING=1"
        assert daemon.receive(0.2) is None
        assert "notifying init daemon" not in [e["msg"] for e in m.log_entries()]
    finally:
        c.close()
        daemon.close()
