"""Guide 002 (/work/shared/seeds/002_4deb45b510fc3f49.txt, 5.4.2-5.4.3)
writes /opt/etcd/cfg/etcd.conf, a systemd EnvironmentFile with
ETCD_ENABLE_V2="true" ("compatible with v2, flannel needs v2"), and a unit
whose ExecStart adds the TLS flags. Here that file is taken from the guide's
text, only its addresses, ports, data dir and certificate paths rewritten
to test-local ones (one member: the initial cluster is etcd-1 alone), and
the server is started with those variables and the unit's flags; the v2
API must answer on both client listeners the file asks for (https on the
member's address, plain http on 127.0.0.1). The same file without
ETCD_ENABLE_V2 serves no v2. Run for the reference and for ours (see
v2util.py for which binary that is).

The guide's file has trailing comments after some values
(`ETCD_NAME="etcd-1" #其他节点修改etcd-2,和etcd-3`,
`ETCD_QUOTA_BACKEND_BYTES=8589934592   #默认限制是2GB,推荐8G`). systemd
does not strip those (they would become part of the value, and etcd would
refuse the quota); the guide's own copies for nodes 2 and 3 have none, and
contrib/systemd/etcd.conf is the file without them. They are stripped here,
as an operator fixing the file would."""

import http.client
import pathlib
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.parse

import pytest

from certs import Pki
from conftest import STOP_TIMEOUT_S, clean_env, free_ports
from v2util import SIDES, keys, request, side_binary

SEED = pathlib.Path("/work/shared/seeds/002_4deb45b510fc3f49.txt")
START_TIMEOUT_S = 20.0


def guide_env_file() -> dict[str, str]:
    """The ETCD_* variables of the guide's first etcd.conf heredoc."""
    text = SEED.read_text()
    m = re.search(r"cat > etcd\.conf << EOF\s*\n(.*?)\nEOF", text, re.S)
    assert m, "the guide's etcd.conf heredoc is gone"
    out = {}
    for line in m.group(1).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        value = re.sub(r"\s+#.*$", "", value).strip()  # the trailing comment
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out[key] = value
    return out


def guide_exec_flags() -> list[str]:
    """The flags of the guide's ExecStart (the TLS files)."""
    text = SEED.read_text()
    m = re.search(r"ExecStart=/opt/etcd/bin/etcd \\\n(.*?)\n\n", text, re.S)
    assert m, "the guide's ExecStart is gone"
    return [l.strip().rstrip("\\").strip() for l in m.group(1).splitlines() if l.strip()]


def test_the_guide_text_is_what_this_test_assumes():
    env = guide_env_file()
    assert env["ETCD_ENABLE_V2"] == "true"
    assert env["ETCD_NAME"] == "etcd-1"
    assert env["ETCD_LISTEN_CLIENT_URLS"] == "https://192.168.0.1:2379,http://127.0.0.1:2379"
    assert env["ETCD_QUOTA_BACKEND_BYTES"] == "8589934592"
    assert len(env) == 14, sorted(env)
    assert guide_exec_flags() == [
        "--cert-file=/opt/etcd/ssl/server.pem", "--key-file=/opt/etcd/ssl/server-key.pem",
        "--peer-cert-file=/opt/etcd/ssl/server.pem",
        "--peer-key-file=/opt/etcd/ssl/server-key.pem",
        "--trusted-ca-file=/opt/etcd/ssl/ca.pem", "--peer-trusted-ca-file=/opt/etcd/ssl/ca.pem"]


class GuideMember:
    """etcd started as the guide's unit would: the file's variables in the
    environment, the unit's flags on the command line."""

    def __init__(self, side: str, base: pathlib.Path, ssl_dir: pathlib.Path,
                 enable_v2: bool = True):
        self.peer, self.client, self.local = free_ports(3)
        env = {}
        for k, v in guide_env_file().items():
            if k == "ETCD_INITIAL_CLUSTER":
                v = f"etcd-1=https://127.0.0.1:{self.peer}"
            v = v.replace("https://192.168.0.1:2380", f"https://127.0.0.1:{self.peer}")
            v = v.replace("https://192.168.0.1:2379", f"https://127.0.0.1:{self.client}")
            v = v.replace("http://127.0.0.1:2379", f"http://127.0.0.1:{self.local}")
            v = v.replace("/var/lib/etcd/", f"{base}/")
            env[k] = v
        assert "192.168.0." not in "".join(env.values())
        if not enable_v2:
            del env["ETCD_ENABLE_V2"]
        self.env = env
        self.data_dir = pathlib.Path(env["ETCD_DATA_DIR"])
        flags = [f.replace("/opt/etcd/ssl/", f"{ssl_dir}/") for f in guide_exec_flags()]
        base.mkdir(parents=True)
        self.log_path = base / "etcd.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(side_binary(side)), *flags], env=clean_env(**env),
                                     cwd=base, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        """Until the plain listener answers /health with a leader."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                f"etcd exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                r = request(self.local, "GET", "/health", timeout=3)
                if r.status == 200 and '"health":"true"' in r.text:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not healthy after {START_TIMEOUT_S}s:\n"
                             f"{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)  # the WAL preallocates 64 MB


def https_request(port: int, pki: Pki, client, method: str, path: str, form=None):
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    ctx.load_cert_chain(str(client.cert), str(client.key))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=15)
    try:
        body = urllib.parse.urlencode(form).encode() if form else None
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize("side", SIDES)
def test_guide_environment_file_serves_v2(tmp_path, side):
    pki = Pki(tmp_path / "ssl")
    # server.pem / server-key.pem / ca.pem: the names the unit uses.
    pki.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"])
    # With --trusted-ca-file etcd asks TLS clients for a certificate.
    client = pki.issue("client", "client", cn="flannel")
    assert pki.ca == tmp_path / "ssl" / "ca.pem"
    members = []
    try:
        m = GuideMember(side, tmp_path / "v2on", tmp_path / "ssl")
        members.append(m)
        off = GuideMember(side, tmp_path / "v2off", tmp_path / "ssl", enable_v2=False)
        members.append(off)
        m.wait_ready()
        off.wait_ready()

        # Set and get over the plain local listener.
        r = request(m.local, "PUT", keys("/coreos.com/network/config"),
                    form={"value": '{"Network":"10.244.0.0/16"}'})
        assert r.status == 201, r
        assert r.json["action"] == "set"
        r = request(m.local, "GET", keys("/coreos.com/network/config"))
        assert r.status == 200 and r.json["node"]["value"] == '{"Network":"10.244.0.0/16"}'
        # And over the TLS listener, with a client certificate.
        status, text = https_request(m.client, pki, client, "PUT", keys("/tls"),
                                     form={"value": "t"})
        assert status == 201, text
        status, text = https_request(m.client, pki, client, "GET",
                                     keys("/coreos.com/network/config"))
        assert status == 200 and '"value":"{\\"Network\\":\\"10.244.0.0/16\\"}"' in text, text
        r = request(m.local, "GET", "/v2/members")
        assert r.status == 200
        got = r.json["members"][0]
        assert got["name"] == "etcd-1"
        assert got["clientURLs"] == [f"https://127.0.0.1:{m.client}"]
        assert got["peerURLs"] == [f"https://127.0.0.1:{m.peer}"]

        # Without ETCD_ENABLE_V2 the same file serves v3 only.
        r = request(off.local, "GET", keys("/coreos.com/network/config"))
        assert (r.status, r.text) == (404, "404 page not found\n")
        r = request(off.local, "GET", "/version")
        assert r.status == 200
    finally:
        for x in members:
            x.stop()
