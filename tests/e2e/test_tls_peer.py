"""TLS on the peer port (2380), as the operator guides set it up: a CA and
peer certificates made with cfssl (server and client auth usages, the
members' IPs as hosts), --peer-cert-file / --peer-key-file /
--peer-trusted-ca-file with --peer-client-cert-auth, and --peer-auto-tls.

Clusters are shared within the module (each start costs seconds):
`secure` (3 of ours, client certificates required, CN "etcd-peer"
allowed) carries the refusal and rotation tests; the auto-TLS and the mixed
cluster (2 reference etcd 3.4.23 members + 1 of ours) start once each.
"""

import signal
import subprocess
import time
import types

import pytest

from cluster import CLUSTER_TIMEOUT_S, OURS, REF, Cluster
from peer_certs import PeerCa, cert_serial

ALLOWED_CN = "etcd-peer"
# A member looks at its certificate files at most once a second (on the
# next handshake after that): a renewal applies to connections made from
# then on.
RELOAD_CHECK_S = 1.2


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("peer-pki")
    ca = PeerCa(d / "ca")
    other = PeerCa(d / "other", cn="other-ca")
    # Trusting both CAs: an intruder that knows the cluster's CA certificate
    # (so it accepts the members' certificates) but holds one of its own.
    bundle = d / "both-ca.pem"
    bundle.write_text(ca.cert.read_text() + other.cert.read_text())
    return types.SimpleNamespace(ca=ca, other=other, bundle=bundle)


def secure_flags(cert, ca_file) -> list[str]:
    return ["--peer-cert-file", str(cert.cert), "--peer-key-file", str(cert.key),
            "--peer-trusted-ca-file", str(ca_file), "--peer-client-cert-auth",
            f"--peer-cert-allowed-cn={ALLOWED_CN}"]


@pytest.fixture(scope="module")
def secure(pki, tmp_path_factory):
    base = tmp_path_factory.mktemp("secure")
    c = Cluster(base, [OURS] * 3,
                peer_tls=lambda m: secure_flags(pki.ca.issue(m.name, cn=ALLOWED_CN), pki.ca.cert))
    try:
        c.start()
        yield c
    finally:
        c.close()


def logs(c: Cluster, idx) -> str:
    return "".join(c.members[i].log_path.read_text(errors="replace") for i in idx)


def wait_logged(c: Cluster, idx, *parts: str, timeout: float = CLUSTER_TIMEOUT_S) -> str:
    """Until one line of the members' logs holds every part; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in logs(c, idx).splitlines():
            if all(p in line for p in parts):
                return line
        time.sleep(0.2)
    raise AssertionError(f"no log line with {parts} within {timeout}s\n{c.log_tails()}")


def writes_everywhere(c: Cluster, tag: str, idx=None) -> None:
    """A put through each member, each read back from every member."""
    idx = c.running() if idx is None else idx
    for i in idx:
        c.ok("put", f"{tag}/{i}", f"from-{i}", member=i)
    for i in idx:
        for j in idx:
            c.wait_key(f"{tag}/{i}", f"from-{i}", member=j)


def served_serial(port: int, client) -> int:
    """The serial of the certificate a member's peer listener presents, as
    `openssl s_client` (with a client certificate) sees it."""
    r = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-cert", str(client.cert),
         "-key", str(client.key), "-showcerts"],
        input="", capture_output=True, text=True, timeout=20)
    pem = r.stdout[r.stdout.index("-----BEGIN CERTIFICATE-----"):]
    pem = pem[:pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem,
                         capture_output=True, text=True, timeout=20)
    return int(out.stdout.strip().split("=", 1)[1], 16)


def refused_join(c: Cluster, peer_tls, *log_parts: str) -> str:
    """The scale-out runbook for a member the cluster must refuse: it never
    joins, a member's log names it, and once it is removed again the
    cluster serves as before. Returns the logged line."""
    voters = c.voters()
    m, env = c.add_member(OURS, peer_tls=peer_tls, via=voters)
    i = c.members.index(m)
    try:
        line = wait_logged(c, voters, '"rejected connection"', *log_parts)
        # Its bootstrap (GET /members over the peer port) is refused: it
        # gives up without ever serving.
        try:
            rc = m.proc.wait(timeout=CLUSTER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            rc = None
        assert rc not in (None, 0), f"the refused member still runs\n{m.log_tail(30)}"
        assert m.status() is None
        assert "could not retrieve cluster information" in m.log_tail(50) or \
            "cannot fetch cluster info" in m.log_tail(50), m.log_tail(50)
    finally:
        m.kill()
        m.id = int(env["_member_id"], 16)
        c.remove_member(i, via=voters)
    c.wait_healthy(voters)
    listed = {x["name"] for x in c.member_list(member=voters[0])}
    assert m.name not in listed
    return line


def test_writes_reach_every_member_over_peer_tls(secure):
    writes_everywhere(secure, "secure")
    peers = [u for m in secure.member_list() for u in m["peerURLs"]]
    assert len(peers) == 3 and all(u.startswith("https://127.0.0.1:") for u in peers), peers
    assert '"starting with peer TLS"' in logs(secure, [0])
    # Raft runs over the TLS streams.
    wait_logged(secure, [0], "established TCP streaming connection with remote peer")


def test_member_with_a_certificate_of_another_ca_is_refused(secure, pki):
    rogue = pki.other.issue("intruder", cn="intruder")
    line = refused_join(secure, lambda m: secure_flags(rogue, pki.bundle),
                        '"intruder"', "127.0.0.1:")
    # (OpenSSL's reason: the intruder sends its CA along, from its store.)
    assert "certificate verify failed: self-signed certificate in certificate chain" in line \
        or "certificate verify failed: unable to get local issuer certificate" in line, line
    writes_everywhere(secure, "after-intruder")


def test_allowed_cn_refuses_a_member_with_another_cn(secure, pki):
    wrong = pki.ca.issue("wrong-cn", cn="not-etcd-peer")
    line = refused_join(secure, lambda m: secure_flags(wrong, pki.ca.cert),
                        '"not-etcd-peer"')
    assert "certificate verify failed" in line, line
    writes_everywhere(secure, "after-wrong-cn")


def test_renewed_peer_certificate_is_used_by_new_connections(secure, pki):
    ca_dir = pki.ca.dir
    first = cert_serial(ca_dir / "infra0.pem")
    probe = pki.ca.issue("probe-client", cn=ALLOWED_CN)
    assert served_serial(secure.members[0].peer_port, probe) == first
    renewed = pki.ca.issue("infra0", cn=ALLOWED_CN)  # same files, new certificate
    assert renewed.serial != first
    time.sleep(RELOAD_CHECK_S)
    # Another member loses its connections and makes new ones.
    other = 1
    secure.kill(other)
    secure.restart(other)
    secure.wait_healthy()
    assert served_serial(secure.members[0].peer_port, probe) == renewed.serial
    wait_logged(secure, [other], "established TCP streaming connection with remote peer")
    writes_everywhere(secure, "renewed")


@pytest.fixture(scope="module")
def auto(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("auto"), [OURS] * 3,
                peer_tls=lambda m: ["--peer-auto-tls"])
    try:
        c.start()
        yield c
    finally:
        c.close()


def test_peer_auto_tls_cluster(auto):
    writes_everywhere(auto, "auto")
    peers = [u for m in auto.member_list() for u in m["peerURLs"]]
    assert all(u.startswith("https://") for u in peers), peers
    for m in auto.members:
        fixtures = m.data_dir / "fixtures" / "peer"
        assert (fixtures / "cert.pem").exists() and (fixtures / "key.pem").exists()
        # Its peer listener speaks TLS with that certificate.
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{m.peer_port}"],
                           input="", capture_output=True, text=True, timeout=20)
        assert "Server certificate" in r.stdout, r.stdout + r.stderr


@pytest.fixture(scope="module")
def mixed(pki, tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("mixed"), [REF, REF, OURS],
                peer_tls=lambda m: secure_flags(pki.ca.issue(f"mixed-{m.name}", cn=ALLOWED_CN),
                                                pki.ca.cert))
    try:
        c.start()
        yield c
    finally:
        c.close()


def test_mixed_cluster_with_reference_members_over_peer_tls(mixed, pki):
    writes_everywhere(mixed, "mixed")
    listed = mixed.member_list(member=2)
    assert all(u.startswith("https://") for m in listed for u in m["peerURLs"]), listed
    # Our member's certificate is renewed in place; a reference member
    # killed and restarted reconnects to ours (verifying the renewed
    # certificate) and ours to it.
    ours = 2
    renewed = pki.ca.issue(f"mixed-{mixed.members[ours].name}", cn=ALLOWED_CN)
    time.sleep(RELOAD_CHECK_S)
    ref = 0
    mixed.kill(ref)
    mixed.restart(ref)
    mixed.wait_healthy()
    probe = pki.ca.issue("mixed-probe", cn=ALLOWED_CN)
    assert served_serial(mixed.members[ours].peer_port, probe) == renewed.serial
    writes_everywhere(mixed, "mixed-again")


def test_https_peer_url_without_certificate_fails_to_start(tmp_path):
    c = Cluster(tmp_path, [OURS], peer_tls=lambda m: ["--peer-client-cert-auth"])
    try:
        c.start(wait=False)
        m = c.members[0]
        rc = m.proc.wait(timeout=START_WAIT_S)
        assert rc != 0
        tail = m.log_tail(5)
        assert (f"cannot listen on TLS for 127.0.0.1:{m.peer_port}: "
                "KeyFile and CertFile are not presented") in tail, tail
    finally:
        c.close()


START_WAIT_S = 20
