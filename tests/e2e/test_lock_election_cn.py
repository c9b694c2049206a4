"""Lock and Election for callers known by their client certificate (TLS
with --client-cert-auth, auth on, no token): the certificate's CN is the
user of the services' inner calls, as etcd's self-client passes the
caller's connection on. Ours and the reference etcd 3.4.23 give the same
answers."""

import grpc
import pytest

import etcdpb
from certs import Pki
from conftest import REFERENCE_ETCDCTL
from test_tls_client import TlsEtcd, ctl, tls_flags


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = Pki(tmp_path_factory.mktemp("lock-cn-pki"))
    return {
        "pki": p,
        "server": p.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"]),
        "root": p.issue("root", "client", cn="root"),
        "alice": p.issue("alice", "client", cn="alice"),
        "nobody": p.issue("nobody", "client", cn="nobody"),
    }


def channel(server, pki, cn):
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki["pki"].ca.read_bytes(),
        private_key=pki[cn].key.read_bytes(),
        certificate_chain=pki[cn].cert.read_bytes())
    return grpc.secure_channel(server.endpoint, creds)


def unary(ch, path, req, resp_type):
    f = ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=resp_type.FromString)
    try:
        return f(req, timeout=10)
    except grpc.RpcError as e:
        return ("error", e.code().name, e.details())


def scenario(server, pki) -> list:
    def as_root(*args):
        r = ctl(REFERENCE_ETCDCTL, server.client_url,
                *tls_flags(pki["root"], pki["pki"].ca), *args)
        assert r.returncode == 0, r.stderr

    for args in (("user", "add", "root", "--new-user-password=rootpw"),
                 ("user", "add", "alice", "--new-user-password=apw"),
                 ("user", "add", "nobody", "--new-user-password=npw"),
                 ("role", "add", "r"),
                 ("role", "grant-permission", "r", "readwrite", "a/", "--prefix"),
                 ("user", "grant-role", "alice", "r"),
                 ("auth", "enable")):
        as_root(*args)
    rpc, L, E = etcdpb.rpc(), etcdpb.lock(), etcdpb.election()
    out = []
    chans = {cn: channel(server, pki, cn) for cn in ("root", "alice", "nobody")}
    try:
        lease = unary(chans["root"], "/etcdserverpb.Lease/LeaseGrant",
                      rpc.LeaseGrantRequest(TTL=30), rpc.LeaseGrantResponse).ID

        def lock(cn, name):
            r = unary(chans[cn], "/v3lockpb.Lock/Lock", L.LockRequest(name=name, lease=lease),
                      L.LockResponse)
            return r if isinstance(r, tuple) else ("key", r.key == name + b"/" +
                                                   f"{lease:x}".encode())

        def leader(cn, name):
            r = unary(chans[cn], "/v3electionpb.Election/Leader", E.LeaderRequest(name=name),
                      E.LeaderResponse)
            return r if isinstance(r, tuple) else ("leader", r.kv.key.split(b"/")[0])

        out.append(("alice locks a", lock("alice", b"a")))
        out.append(("alice locks b", lock("alice", b"b")))
        out.append(("nobody locks a", lock("nobody", b"a")))
        out.append(("root locks b", lock("root", b"b")))
        out.append(("alice asks the leader of a", leader("alice", b"a")))
        out.append(("alice asks the leader of b", leader("alice", b"b")))
        as_root("auth", "disable")
    finally:
        for ch in chans.values():
            ch.close()
    return out


def test_certificate_callers_match_reference(pki, tmp_path):
    results = {}
    for kind in ("ref", "ours"):
        s = TlsEtcd(tmp_path / kind, kind,
                    server_flags=[f"--cert-file={pki['server'].cert}",
                                  f"--key-file={pki['server'].key}",
                                  f"--trusted-ca-file={pki['pki'].ca}", "--client-cert-auth"],
                    ctl_flags=tls_flags(pki["root"], pki["pki"].ca))
        s.start()
        try:
            results[kind] = scenario(s, pki)
        finally:
            s.stop()
    assert results["ours"] == results["ref"]
    got = dict(results["ours"])
    assert got["alice locks a"] == ("key", True)
    assert got["alice locks b"] == ("error", "UNKNOWN", "etcdserver: permission denied")
    assert got["nobody locks a"] == ("error", "UNKNOWN", "etcdserver: permission denied")
    assert got["root locks b"] == ("key", True)
    assert got["alice asks the leader of a"] == ("leader", b"a")
