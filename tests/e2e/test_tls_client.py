"""TLS on the client port, as an operator sets it up with the guides' cfssl
certificates (tests/e2e/certs.py): etcdctl (the reference 3.4.23 and ours)
with --cacert/--cert/--key, client-certificate authentication with its
refusals (no certificate, another CA, expired, revoked through a CRL, a
hostname not allowed), --auto-tls, plain and TLS listeners side by side,
--cipher-suites and the TLS version bounds (seen with openssl s_client),
etcd's start-up errors, and certificate rotation without a restart.

Every case runs against our etcd and the reference etcd 3.4.23 where the
reference has the feature (3.4 has no --tls-min/max-version). Servers are
shared per module and kind to keep the suite fast."""

import json
import pathlib
import re
import shutil
import stat
import subprocess
import threading
import time

import pytest

from certs import Pki
from conftest import (BIN, ETCDCTL_TIMEOUT_S, REFERENCE_ETCDCTL, EtcdProcess, etcdctl_env,
                      free_ports)

KINDS = ["ours", "ref"]
OUR_ETCDCTL = BIN / "etcdctl"


class Certs:
    """The PKI of the module: one CA (RSA, as the guides' ca-csr.json), an
    ECDSA server certificate for 127.0.0.1/localhost, client certificates,
    and the certificates that must be refused."""

    def __init__(self, base: pathlib.Path):
        self.pki = Pki(base / "pki")
        self.server = self.pki.issue("server", "server", cn="etcd",
                                     hosts=["127.0.0.1", "localhost"])
        self.client = self.pki.issue("client", "client", cn="client",
                                     hosts=["client.example.com"])
        self.client_rsa = self.pki.issue("client-rsa", "client", cn="root", algo="rsa",
                                         size=2048)
        self.other_host = self.pki.issue("other-host", "client", cn="other",
                                         hosts=["other.example.com"])
        self.revoked = self.pki.issue("revoked", "client", cn="revoked")
        self.expired = self.pki.issue_expired("expired", cn="expired")
        self.crl = self.pki.crl([self.revoked.serial])
        self.other_pki = Pki(base / "other-pki", ca_cn="another-ca", algo="ecdsa", size=256)
        self.stranger = self.other_pki.issue("stranger", "client", cn="client")


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("tls"))


class TlsEtcd(EtcdProcess):
    """A member whose client URL is https://, optionally with a plain
    http:// listener beside it; etcdctl calls carry `ctl_flags`."""

    def __init__(self, base, kind: str, server_flags=(), ctl_flags=(), plain: bool = False):
        super().__init__(base, name="tls1", reference=kind == "ref",
                         extra_args=tuple(server_flags))
        self.ctl_flags = list(ctl_flags)
        self.plain_port = free_ports(1)[0] if plain else None

    @property
    def client_url(self) -> str:
        return f"https://127.0.0.1:{self.client_port}"

    @property
    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.plain_port}"

    def args(self) -> list[str]:
        args = super().args()
        if self.plain_port:
            i = args.index("--listen-client-urls")
            args[i + 1] = f"{self.client_url},{self.plain_url}"
        return args

    def etcdctl(self, *args, input=None, timeout=ETCDCTL_TIMEOUT_S):
        return ctl(REFERENCE_ETCDCTL, self.client_url, *self.ctl_flags, *args, timeout=timeout)


def ctl(binary, endpoint: str, *args: str, timeout: float = ETCDCTL_TIMEOUT_S):
    return subprocess.run([str(binary), f"--endpoints={endpoint}", *args], env=etcdctl_env(),
                          capture_output=True, text=True, timeout=timeout)


def tls_flags(issued, ca) -> list[str]:
    return [f"--cacert={ca}", f"--cert={issued.cert}", f"--key={issued.key}"]


def refused(server: TlsEtcd, *flags: str) -> subprocess.CompletedProcess:
    """etcdctl get with `flags`: must fail."""
    r = ctl(REFERENCE_ETCDCTL, server.client_url, *flags, "--dial-timeout=1s",
            "--command-timeout=2s", "get", "k")
    assert r.returncode != 0, r.stdout
    return r


def log_has(server: TlsEtcd, msg: str, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in server.log_entries() if e.get("msg") == msg]
        if found:
            return found
        time.sleep(0.1)
    return []


def started(tmp_path_factory, request, name, **kw) -> TlsEtcd:
    s = TlsEtcd(tmp_path_factory.mktemp(name), request.param, **kw)
    if request.param == "ref":
        s.extra_args = ("--logger=zap", *s.extra_args)
    s.start()
    request.addfinalizer(s.stop)
    return s


def s_client(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)


def presented_serial(port: int, *args: str) -> int | None:
    """The serial of the certificate the server presents."""
    r = s_client(port, *args)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", r.stdout, re.S)
    if not m:
        return None
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=m.group(0),
                         capture_output=True, text=True, timeout=10).stdout
    return int(out.strip().split("=", 1)[1], 16)


# --------------------------------------------------------------------------
# Client-certificate authentication: one server per kind with the CA, the
# CRL, --client-cert-auth, and a plain listener beside the TLS one.
# --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=KINDS)
def mtls(request, certs, tmp_path_factory) -> TlsEtcd:
    return started(tmp_path_factory, request, f"mtls-{request.param}",
                   server_flags=[f"--cert-file={certs.server.cert}",
                                 f"--key-file={certs.server.key}",
                                 f"--trusted-ca-file={certs.pki.ca}", "--client-cert-auth",
                                 f"--client-crl-file={certs.crl}"],
                   ctl_flags=tls_flags(certs.client, certs.pki.ca), plain=True)


@pytest.mark.parametrize("etcdctl", ["reference", "ours"])
def test_etcdctl_put_get_with_client_certificates(mtls, certs, etcdctl):
    binary = REFERENCE_ETCDCTL if etcdctl == "reference" else OUR_ETCDCTL
    key = f"tls-{etcdctl}"
    for client in (certs.client, certs.client_rsa):  # ECDSA and RSA client keys
        flags = tls_flags(client, certs.pki.ca)
        r = ctl(binary, mtls.client_url, *flags, "put", key, "v1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "OK"
        r = ctl(binary, mtls.client_url, *flags, "get", key)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == [key, "v1"]


def test_without_a_client_certificate_refused(mtls, certs):
    refused(mtls, f"--cacert={certs.pki.ca}")
    if not mtls.reference:
        entries = log_has(mtls, "rejected connection")
        assert entries, mtls.log_tail()
        assert entries[-1]["level"] == "warn"
        assert entries[-1]["remote-addr"].startswith("127.0.0.1:")
        assert "server-name" in entries[-1]
        assert "certificate" in entries[-1]["error"], entries[-1]
    assert mtls.running()


def test_certificate_of_another_ca_refused(mtls, certs):
    refused(mtls, *tls_flags(certs.stranger, certs.pki.ca))
    assert mtls.ok("put", "still", "serving").strip() == "OK"


def test_expired_certificate_refused(mtls, certs):
    refused(mtls, *tls_flags(certs.expired, certs.pki.ca))
    if not mtls.reference:
        entries = log_has(mtls, "rejected connection")
        assert any("expired" in e["error"] for e in entries), entries


def test_revoked_certificate_refused(mtls, certs):
    refused(mtls, *tls_flags(certs.revoked, certs.pki.ca))
    if not mtls.reference:
        entries = log_has(mtls, "rejected connection")
        assert any(e["error"].endswith("certificate revoked") for e in entries), entries
    # A certificate the CRL does not name still works.
    assert mtls.ok("put", "after-revoked", "ok").strip() == "OK"


def test_server_certificate_verified_by_the_client(mtls, certs):
    # The client checks the server against its CA: another CA fails.
    r = ctl(REFERENCE_ETCDCTL, mtls.client_url, f"--cacert={certs.other_pki.ca}",
            f"--cert={certs.client.cert}", f"--key={certs.client.key}", "--dial-timeout=1s",
            "--command-timeout=2s", "get", "k")
    assert r.returncode != 0


def test_plain_and_tls_listeners_side_by_side(mtls, certs):
    assert mtls.ok("put", "side", "by-side").strip() == "OK"
    r = ctl(REFERENCE_ETCDCTL, mtls.plain_url, "get", "side")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["side", "by-side"]
    # TLS to the plain port fails, plain to the TLS port fails.
    r = ctl(REFERENCE_ETCDCTL, mtls.plain_url.replace("http://", "https://"),
            *tls_flags(certs.client, certs.pki.ca), "--dial-timeout=1s", "--command-timeout=2s",
            "get", "side")
    assert r.returncode != 0
    r = ctl(REFERENCE_ETCDCTL, mtls.client_url.replace("https://", "http://"),
            "--dial-timeout=1s", "--command-timeout=2s", "get", "side")
    assert r.returncode != 0
    if not mtls.reference:
        secure = log_has(mtls, "serving client traffic securely")
        insecure = log_has(mtls, "serving client traffic insecurely; this is strongly discouraged!")
        assert [e["address"] for e in secure] == [f"127.0.0.1:{mtls.client_port}"]
        assert [e["address"] for e in insecure] == [f"127.0.0.1:{mtls.plain_port}"]
        assert log_has(mtls, "scheme is HTTP while --client-cert-auth is enabled; ignoring client "
                             "cert auth for this URL")


def test_member_list_advertises_https(mtls):
    members = mtls.json("member", "list")["members"]
    assert members[0]["clientURLs"] == [mtls.client_url]


# --------------------------------------------------------------------------
# --client-cert-allowed-hostname
# --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=KINDS)
def by_hostname(request, certs, tmp_path_factory) -> TlsEtcd:
    return started(tmp_path_factory, request, f"host-{request.param}",
                   server_flags=[f"--cert-file={certs.server.cert}",
                                 f"--key-file={certs.server.key}",
                                 f"--trusted-ca-file={certs.pki.ca}", "--client-cert-auth",
                                 "--client-cert-allowed-hostname=client.example.com"],
                   ctl_flags=tls_flags(certs.client, certs.pki.ca))


def test_allowed_hostname(by_hostname, certs):
    assert by_hostname.ok("put", "h", "1").strip() == "OK"
    refused(by_hostname, *tls_flags(certs.other_host, certs.pki.ca))
    refused(by_hostname, *tls_flags(certs.client_rsa, certs.pki.ca))  # no SANs, CN "root"
    if not by_hostname.reference:
        entries = log_has(by_hostname, "rejected connection")
        assert entries and all(e["error"] == "client certificate authentication failed"
                               for e in entries), entries


# --------------------------------------------------------------------------
# --auto-tls
# --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=KINDS)
def auto_tls(request, tmp_path_factory) -> TlsEtcd:
    return started(tmp_path_factory, request, f"auto-{request.param}",
                   server_flags=["--auto-tls"],
                   ctl_flags=["--insecure-transport=false", "--insecure-skip-tls-verify"])


def test_auto_tls(auto_tls):
    assert auto_tls.ok("put", "auto", "tls").strip() == "OK"
    assert auto_tls.ok("get", "auto").splitlines() == ["auto", "tls"]
    r = ctl(OUR_ETCDCTL, auto_tls.client_url, *auto_tls.ctl_flags, "get", "auto")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["auto", "tls"]
    fixtures = auto_tls.data_dir / "fixtures" / "client"
    assert stat.S_IMODE(fixtures.stat().st_mode) == 0o700
    assert stat.S_IMODE((fixtures / "key.pem").stat().st_mode) == 0o600
    text = subprocess.run(["openssl", "x509", "-in", str(fixtures / "cert.pem"), "-noout",
                           "-text"], capture_output=True, text=True, timeout=10).stdout
    assert "IP Address:127.0.0.1" in text
    assert "Public Key Algorithm: id-ecPublicKey" in text
    # Without skipping verification the self-signed certificate is refused.
    r = ctl(REFERENCE_ETCDCTL, auto_tls.client_url, "--insecure-transport=false",
            "--dial-timeout=1s", "--command-timeout=2s", "get", "auto")
    assert r.returncode != 0
    if not auto_tls.reference:
        created = log_has(auto_tls, "created cert file")
        assert created and created[0]["path"].endswith("fixtures/client/cert.pem")


# --------------------------------------------------------------------------
# --cipher-suites and --tls-min-version / --tls-max-version
# --------------------------------------------------------------------------

CIPHER = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"


@pytest.fixture(scope="module", params=KINDS)
def ciphers(request, certs, tmp_path_factory) -> TlsEtcd:
    flags = [f"--cert-file={certs.server.cert}", f"--key-file={certs.server.key}",
             f"--cipher-suites={CIPHER}"]
    if request.param == "ours":
        flags.append("--tls-max-version=TLS1.2")
    return started(tmp_path_factory, request, f"cipher-{request.param}", server_flags=flags,
                   ctl_flags=[f"--cacert={certs.pki.ca}"])


def test_cipher_suites(ciphers, certs):
    ok = s_client(ciphers.client_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
                  "-CAfile", str(certs.pki.ca))
    assert ok.returncode == 0, ok.stderr
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in ok.stdout
    for other in ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"):
        bad = s_client(ciphers.client_port, "-tls1_2", "-cipher", other)
        assert bad.returncode != 0, other
    assert ciphers.ok("put", "c", "1").strip() == "OK"


def test_tls_max_version(ciphers):
    assert s_client(ciphers.client_port, "-tls1_2").returncode == 0
    r = s_client(ciphers.client_port, "-tls1_3")
    if ciphers.reference:
        # etcd 3.4 has no --tls-max-version: Go's default takes TLS 1.3.
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0, r.stdout


def test_tls_min_version(certs, tmp_path):
    s = TlsEtcd(tmp_path, "ours", server_flags=[f"--cert-file={certs.server.cert}",
                                                f"--key-file={certs.server.key}",
                                                "--tls-min-version=TLS1.3"],
                ctl_flags=[f"--cacert={certs.pki.ca}"])
    try:
        s.start()
        assert s_client(s.client_port, "-tls1_2").returncode != 0
        r = s_client(s.client_port, "-tls1_3")
        assert r.returncode == 0, r.stderr
        assert "TLSv1.3" in r.stdout
        assert s.ok("put", "v13", "1").strip() == "OK"
    finally:
        s.stop()


# --------------------------------------------------------------------------
# Start-up errors, with etcd's messages.
# --------------------------------------------------------------------------

def failed_start(tmp_path, kind: str, *flags: str) -> str:
    s = TlsEtcd(tmp_path / kind, kind, server_flags=["--logger=zap", *flags])
    try:
        s.start(wait=False)
        rc = s.wait_exit()
        assert rc != 0
    finally:
        s.stop()
    fatal = [e for e in s.log_entries() if e.get("level") == "fatal"]
    assert fatal, s.log_tail()
    return fatal[-1]["error"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_cipher_suite_fails_at_start(tmp_path, certs, kind):
    err = failed_start(tmp_path, kind, f"--cert-file={certs.server.cert}",
                       f"--key-file={certs.server.key}", "--cipher-suites=TLS_BOGUS_SUITE")
    assert err == 'unexpected TLS cipher suite "TLS_BOGUS_SUITE"'


@pytest.mark.parametrize("kind", KINDS)
def test_cipher_suites_without_an_http2_suite_fail_at_start(tmp_path, certs, kind):
    err = failed_start(tmp_path, kind, f"--cert-file={certs.server.cert}",
                       f"--key-file={certs.server.key}",
                       "--cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    assert err == ("http2: TLSConfig.CipherSuites is missing an HTTP/2-required "
                   "AES_128_GCM_SHA256 cipher (need at least one of "
                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or "
                   "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)")


@pytest.mark.parametrize("kind", KINDS)
def test_https_without_certificate_fails_at_start(tmp_path, kind):
    err = failed_start(tmp_path, kind)
    assert re.fullmatch(r"TLS key/cert \(--cert-file, --key-file\) must be provided for client "
                        r"url https://127\.0\.0\.1:\d+ with HTTPS scheme", err), err


def test_missing_certificate_file_fails_at_start(tmp_path, certs):
    err = failed_start(tmp_path, "ours", f"--cert-file={tmp_path}/nope.pem",
                       f"--key-file={certs.server.key}")
    assert err == f"open {tmp_path}/nope.pem: no such file or directory"


# --------------------------------------------------------------------------
# Rotation: new files on disk, new connections get them, streams go on.
# --------------------------------------------------------------------------

class Watch:
    """`etcdctl watch` running over TLS; its output collected by a thread."""

    def __init__(self, server: TlsEtcd, prefix: str):
        self.proc = subprocess.Popen(
            [str(REFERENCE_ETCDCTL), f"--endpoints={server.client_url}", *server.ctl_flags,
             "watch", "--prefix", prefix],
            env=etcdctl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.lines:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.thread.join(timeout=5)


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_rotation(tmp_path, certs, kind):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(certs.server.cert, live / "server.pem")
    shutil.copy(certs.server.key, live / "server-key.pem")
    s = TlsEtcd(tmp_path / "member", kind,
                server_flags=[f"--cert-file={live / 'server.pem'}",
                              f"--key-file={live / 'server-key.pem'}",
                              f"--trusted-ca-file={certs.pki.ca}", "--client-cert-auth"],
                ctl_flags=tls_flags(certs.client, certs.pki.ca))
    watch = None
    try:
        s.start()
        client_args = ("-CAfile", str(certs.pki.ca), "-cert", str(certs.client.cert), "-key",
                       str(certs.client.key))
        old_serial = presented_serial(s.client_port, *client_args)
        assert old_serial == certs.server.serial
        watch = Watch(s, "rot/")
        time.sleep(0.5)
        assert s.ok("put", "rot/a", "1").strip() == "OK"
        assert watch.wait_for("rot/a"), watch.lines

        # Renewal: a newly issued certificate (RSA this time) replaces the files.
        renewed = certs.pki.issue(f"renewed-{kind}", "server", cn="etcd",
                                  hosts=["127.0.0.1", "localhost"], algo="rsa", size=2048)
        assert renewed.serial != old_serial
        shutil.copy(renewed.key, live / "server-key.pem")
        shutil.copy(renewed.cert, live / "server.pem")
        serial = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            serial = presented_serial(s.client_port, *client_args)
            if serial == renewed.serial:
                break
            time.sleep(0.2)
        assert serial == renewed.serial

        # The watch opened before the renewal keeps working; new clients work.
        assert s.ok("put", "rot/b", "2").strip() == "OK"
        assert watch.wait_for("rot/b"), watch.lines
        assert s.ok("get", "rot/a").splitlines() == ["rot/a", "1"]
        assert watch.proc.poll() is None
    finally:
        if watch:
            watch.stop()
        s.stop()
