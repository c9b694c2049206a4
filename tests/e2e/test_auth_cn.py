"""Client-certificate authentication (etcd's TestCtlV3AuthCertCN scenario,
our own test): with --client-cert-auth and no token, the client
certificate's CN is the user. Run against our etcd and the reference etcd
3.4.23 with the reference etcdctl; answers compared exactly."""

import pytest

from certs import Pki
from conftest import REFERENCE_ETCDCTL
from test_tls_client import TlsEtcd, ctl, tls_flags

KINDS = ["ours", "ref"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = Pki(tmp_path_factory.mktemp("cn-pki"))
    return {
        "pki": p,
        "server": p.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"]),
        "root": p.issue("root", "client", cn="root"),
        "client": p.issue("client", "client", cn="client"),
        "other": p.issue("other", "client", cn="other"),
    }


@pytest.fixture(scope="module", params=KINDS)
def server(request, pki, tmp_path_factory):
    s = TlsEtcd(tmp_path_factory.mktemp(f"cn-{request.param}"), request.param,
                server_flags=[f"--cert-file={pki['server'].cert}",
                              f"--key-file={pki['server'].key}",
                              f"--trusted-ca-file={pki['pki'].ca}", "--client-cert-auth"],
                ctl_flags=tls_flags(pki["root"], pki["pki"].ca))
    s.start()
    request.addfinalizer(s.stop)
    return s


def as_cn(server, pki, cn: str, *args: str):
    return ctl(REFERENCE_ETCDCTL, server.client_url, *tls_flags(pki[cn], pki["pki"].ca), *args)


def ok(r) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def error(r) -> str:
    assert r.returncode != 0, r.stdout
    return r.stderr.strip().splitlines()[-1]


def test_the_certificate_cn_is_the_user(server, pki):
    # Set-up as root, named by its certificate alone (no --user).
    assert ok(as_cn(server, pki, "root", "user", "add", "root",
                    "--new-user-password=rootpw")) == "User root created\n"
    assert ok(as_cn(server, pki, "root", "user", "add", "client",
                    "--new-user-password=clientpw")) == "User client created\n"
    assert ok(as_cn(server, pki, "root", "role", "add", "test-role")) == "Role test-role created\n"
    assert ok(as_cn(server, pki, "root", "role", "grant-permission", "test-role", "readwrite",
                    "foo")) == "Role test-role updated\n"
    assert ok(as_cn(server, pki, "root", "user", "grant-role", "client",
                    "test-role")) == "Role test-role is granted to user client\n"
    assert ok(as_cn(server, pki, "root", "auth", "enable")) == "Authentication Enabled\n"
    try:
        # CN "client": its role's key only.
        assert ok(as_cn(server, pki, "client", "put", "foo", "bar")) == "OK\n"
        assert ok(as_cn(server, pki, "client", "get", "foo")) == "foo\nbar\n"
        assert error(as_cn(server, pki, "client", "put", "other", "x")) == \
            "Error: etcdserver: permission denied"
        # CN "root": everything, and the admin RPCs.
        assert ok(as_cn(server, pki, "root", "put", "other", "y")) == "OK\n"
        assert ok(as_cn(server, pki, "root", "user", "list")) == "client\nroot\n"
        # CN "other" names no user: nothing is permitted.
        assert error(as_cn(server, pki, "other", "get", "foo")) == \
            "Error: etcdserver: permission denied"
        assert error(as_cn(server, pki, "other", "put", "foo", "z")) == \
            "Error: etcdserver: permission denied"
        # A token wins over the certificate: root's certificate, client's token.
        assert error(as_cn(server, pki, "root", "--user=client:clientpw", "put", "other",
                           "w")) == "Error: etcdserver: permission denied"
        assert ok(as_cn(server, pki, "root", "get", "other", "--print-value-only")) == "y\n"
        assert ok(as_cn(server, pki, "client", "get", "foo", "--print-value-only")) == "bar\n"
    finally:
        ok(as_cn(server, pki, "root", "auth", "disable"))
