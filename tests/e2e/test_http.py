"""The HTTP/1.1 face of the client port: /health (etcd 3.5's semantics),
/livez and /readyz (etcd 3.6's), /version, on the same port as gRPC (plain
and TLS), on --listen-client-http-urls and on --listen-metrics-urls."""

import http.client
import json
import ssl
import subprocess
import time

import pytest

import etcdpb
from certs import Pki
from cluster import Cluster
from conftest import free_ports, run_etcdctl
from test_corruption import activate_corrupt


def get(port: int, path: str, method: str = "GET", body: bytes | None = None,
        context: ssl.SSLContext | None = None, timeout: float = 15.0):
    """(status, headers dict with lower-case names, body text)."""
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


def activate(member, alarm: str) -> None:
    c = etcdpb.Client(member.endpoint)
    try:
        pb = c.pb
        c.call("Maintenance", "Alarm",
               pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=0,
                               alarm=getattr(pb, alarm)),
               pb.AlarmResponse, timeout=5)
    finally:
        c.close()


HEALTHY = '{"health":"true","reason":""}'


def test_health_version_livez_readyz(member):
    port = member.client_port
    status, headers, body = get(port, "/health")
    assert (status, body) == (200, HEALTHY)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert get(port, "/health?serializable=true")[::2] == (200, HEALTHY)

    status, headers, body = get(port, "/version")
    assert status == 200 and headers["content-type"] == "application/json"
    v = json.loads(body)
    assert list(v) == ["etcdserver", "etcdcluster"]
    assert v["etcdserver"].startswith("3.5.") and v["etcdcluster"] == "3.5.0"

    status, headers, body = get(port, "/livez")
    assert (status, body) == (200, "ok\n")
    assert headers["x-content-type-options"] == "nosniff"
    assert get(port, "/livez?verbose")[::2] == (200, "[+]serializable_read ok\nok\n")
    assert get(port, "/readyz?verbose")[::2] == (
        200, "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n"
             "[+]non_learner ok\nok\n")
    assert get(port, "/readyz?verbose&exclude=linearizable_read&exclude=non_learner")[::2] == (
        200, "[+]data_corruption ok\n[+]serializable_read ok\nok\n")
    assert get(port, "/readyz/linearizable_read?verbose")[::2] == (
        200, "[+]linearizable_read ok\nok\n")
    # Excluding a check that does not exist is not an error (etcd warns).
    assert get(port, "/readyz?exclude=no_such_check")[::2] == (200, "ok\n")
    assert any(e.get("msg") == "some health checks cannot be excluded"
               for e in member.log_entries())

    # Only GET; unknown paths as Go's mux answers them.
    status, headers, body = get(port, "/health", method="POST", body=b"")
    assert (status, body, headers["allow"]) == (405, "Method Not Allowed\n", "GET")
    assert get(port, "/readyz", method="PUT", body=b"")[0] == 405
    assert get(port, "/no/such/path")[::2] == (404, "404 page not found\n")

    # gRPC goes on on the same port, and keep-alive connections carry
    # several requests.
    assert member.ok("put", "k", "v") == "OK\n"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(3):
        conn.request("GET", "/health")
        r = conn.getresponse()
        assert (r.status, r.read().decode()) == (200, HEALTHY)
    conn.close()


def test_version_has_the_reference_shape(etcd_factory):
    ref = etcd_factory(reference=True).start()
    status, _, body = get(ref.client_port, "/version")
    assert status == 200 and list(json.loads(body)) == ["etcdserver", "etcdcluster"]


def test_health_under_alarms(member):
    port = member.client_port
    activate(member, "NOSPACE")
    status, headers, body = get(port, "/health")
    assert (status, body) == (503, '{"health":"false","reason":"ALARM NOSPACE"}\n')
    assert headers["x-content-type-options"] == "nosniff"
    assert get(port, "/health?exclude=NOSPACE")[::2] == (200, HEALTHY)
    # NOSPACE does not make the member unready (only CORRUPT does).
    assert get(port, "/readyz")[::2] == (200, "ok\n")
    assert any(e.get("msg") == "/health error" for e in member.log_entries())

    activate_corrupt(member, 0)
    assert get(port, "/health?exclude=NOSPACE")[::2] == (
        503, '{"health":"false","reason":"ALARM CORRUPT"}\n')
    assert get(port, "/health?exclude=NOSPACE&exclude=CORRUPT")[::2] == (200, HEALTHY)
    status, _, body = get(port, "/readyz")
    assert status == 503
    assert "[-]data_corruption failed: alarm activated: CORRUPT\n" in body
    assert get(port, "/readyz?exclude=data_corruption")[::2] == (200, "ok\n")
    assert get(port, "/livez")[::2] == (200, "ok\n")


def test_health_without_quorum(tmp_path):
    c = Cluster(tmp_path, ["ours", "ours", "ours"]).start()
    try:
        leader = c.leader()
        survivor = next(i for i in range(3) if i != leader)
        port = c.members[survivor].client_port
        assert get(port, "/health")[::2] == (200, HEALTHY)
        for i in range(3):
            if i != survivor:
                c.stop(i)
        deadline = time.monotonic() + 30
        while True:
            status, _, body = get(port, "/health", timeout=20)
            if status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 503, body
        reason = json.loads(body)["reason"]
        assert reason == "RAFT NO LEADER" or reason.startswith("RANGE ERROR:"), body
        # Local reads still work: the serializable check passes.
        assert get(port, "/health?serializable=true")[::2] == (200, HEALTHY)
        assert get(port, "/livez")[::2] == (200, "ok\n")
        status, _, body = get(port, "/readyz?verbose", timeout=20)
        assert status == 503 and "[-]linearizable_read failed: " in body, body
        assert "[+]serializable_read ok\n" in body
    finally:
        c.close()


def test_listen_client_http_urls_split_http_from_grpc(etcd_factory):
    http_port, metrics_port = free_ports(2)
    m = etcd_factory(extra_args=(
        "--listen-client-http-urls", f"http://127.0.0.1:{http_port}",
        "--listen-metrics-urls", f"http://127.0.0.1:{metrics_port}")).start()
    assert get(http_port, "/health")[::2] == (200, HEALTHY)
    assert get(http_port, "/version")[0] == 200
    assert get(metrics_port, "/health")[::2] == (200, HEALTHY)
    # The metrics listener serves /metrics and /health only.
    assert get(metrics_port, "/version")[0] == 404
    # The client URL is gRPC only now.
    assert m.ok("put", "a", "1") == "OK\n"
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        get(m.client_port, "/health", timeout=5)
    # And the HTTP URL does not serve gRPC.
    r = run_etcdctl(f"127.0.0.1:{http_port}", "get", "a", "--command-timeout=2s")
    assert r.returncode != 0
    log = m.log_entries()
    assert any(e.get("msg") == "serving metrics"
               and e.get("address") == f"http://127.0.0.1:{metrics_port}" for e in log)


def test_same_url_for_grpc_and_http_only_is_refused(etcd_factory):
    m = etcd_factory()
    m.extra_args = ("--listen-client-http-urls", m.client_url)
    m.start(wait=False)
    assert m.wait_exit() != 0
    assert ("cannot bind both --client-listen-urls and --client-listen-http-urls on the same url "
            + m.client_url) in m.log_text()


def test_http_and_grpc_share_a_tls_port(etcd_factory, tmp_path):
    pki = Pki(tmp_path / "pki")
    server = pki.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"])
    client = pki.issue("client", "client", cn="client")
    m = etcd_factory()
    url = f"https://127.0.0.1:{m.client_port}"
    m.start("--listen-client-urls", url, "--advertise-client-urls", url,
            "--cert-file", str(server.cert), "--key-file", str(server.key),
            "--trusted-ca-file", str(pki.ca), "--client-cert-auth", wait=False)
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ctx.load_cert_chain(str(client.cert), str(client.key))
    deadline = time.monotonic() + 30
    while True:
        try:
            status, _, body = get(m.client_port, "/health", context=ctx)
            break
        except OSError:
            assert time.monotonic() < deadline, m.log_tail()
            time.sleep(0.3)
    assert (status, body) == (200, HEALTHY)
    assert get(m.client_port, "/readyz?verbose", context=ctx)[0] == 200
    # Without a client certificate the handshake is refused, as for gRPC.
    bare = ssl.create_default_context(cafile=str(pki.ca))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        get(m.client_port, "/health", context=bare, timeout=5)
    # gRPC on the same port.
    r = subprocess.run([str(m.binary.parent / "etcdctl"), f"--endpoints={url}",
                        "--cacert", str(pki.ca), "--cert", str(client.cert),
                        "--key", str(client.key), "put", "x", "y"],
                       capture_output=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, b"OK\n"), r.stderr


def b64(s: str) -> str:
    import base64
    return base64.b64encode(s.encode()).decode()


def post_json(port: int, path: str, body: dict, timeout: float = 15.0) -> tuple[int, dict]:
    status, _, text = get(port, path, method="POST", body=json.dumps(body).encode(),
                          timeout=timeout)
    return status, json.loads(text)


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_lock_and_election_through_the_gateway(etcd_factory, reference):
    m = etcd_factory(reference=reference).start()
    port = m.client_port
    status, lease = post_json(port, "/v3/lease/grant", {"TTL": 30})
    assert status == 200
    lease_id = lease["ID"]
    status, locked = post_json(port, "/v3/lock/lock", {"name": b64("gwlock"), "lease": lease_id})
    assert status == 200 and set(locked) == {"header", "key"}
    import base64
    key = base64.b64decode(locked["key"]).decode()
    assert key == "gwlock/" + format(int(lease_id), "x")
    status, unlocked = post_json(port, "/v3/lock/unlock", {"key": locked["key"]})
    assert status == 200 and set(unlocked) == {"header"}

    status, won = post_json(port, "/v3/election/campaign",
                            {"name": b64("gwel"), "lease": lease_id, "value": b64("v1")})
    assert status == 200
    leader = won["leader"]
    assert base64.b64decode(leader["name"]) == b"gwel" and leader["lease"] == lease_id
    status, now = post_json(port, "/v3/election/leader", {"name": b64("gwel")})
    assert status == 200 and base64.b64decode(now["kv"]["value"]) == b"v1"
    status, _ = post_json(port, "/v3/election/proclaim", {"leader": leader, "value": b64("v2")})
    assert status == 200
    status, now = post_json(port, "/v3/election/leader", {"name": b64("gwel")})
    assert base64.b64decode(now["kv"]["value"]) == b"v2"
    status, _ = post_json(port, "/v3/election/resign", {"leader": leader})
    assert status == 200
    status, err = post_json(port, "/v3/election/leader", {"name": b64("gwel")})
    assert status != 200 and err["message"] == "election: no leader", err
