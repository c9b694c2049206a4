"""contrib/systemd: the example unit passes `systemd-analyze verify` without
a warning, and the example environment file runs a three-member TLS
cluster of our etcd as the guides lay it out (each member's own name and
addresses, the same token and initial cluster), with every variable of the
file recognised and used, logs going to journald (a fake one per member,
in a mount namespace of its own) and READY=1 per member."""

import json
import pathlib
import re
import signal
import socket
import subprocess
import sys

from certs import Pki
from conftest import BIN, ROOT, STOP_TIMEOUT_S, clean_env, free_ports, run_etcdctl

CONTRIB = ROOT / "contrib" / "systemd"
UNIT = CONTRIB / "etcd.service"
ENV_FILE = CONTRIB / "etcd.conf"
FAKE_JOURNALD = pathlib.Path(__file__).resolve().parent / "fake_journald.py"
READY_TIMEOUT_S = 30.0


def verify(unit: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)


def installed_unit(tmp_path: pathlib.Path, text: str | None = None) -> pathlib.Path:
    """The unit as installed here: ExecStart the built binary, EnvironmentFile
    a copy of the example file (verify checks the binary exists)."""
    text = UNIT.read_text() if text is None else text
    env_copy = tmp_path / "etcd.conf"
    env_copy.write_text(ENV_FILE.read_text())
    text = text.replace("ExecStart=/opt/etcd/bin/etcd", f"ExecStart={BIN / 'etcd'}")
    text = text.replace("EnvironmentFile=/opt/etcd/cfg/etcd.conf", f"EnvironmentFile={env_copy}")
    unit = tmp_path / "etcd.service"
    unit.write_text(text)
    return unit


def test_unit_is_type_notify_with_the_guides_settings():
    text = UNIT.read_text()
    service = text.split("[Service]", 1)[1].split("[Install]", 1)[0]
    keys = dict(l.split("=", 1) for l in service.splitlines() if l and not l.startswith("#"))
    assert keys["Type"] == "notify"
    assert keys["ExecStart"] == "/opt/etcd/bin/etcd"
    assert keys["EnvironmentFile"] == "/opt/etcd/cfg/etcd.conf"
    assert keys["LimitNOFILE"] == "65536"
    assert keys["Restart"] == "on-failure"
    assert "WantedBy=multi-user.target" in text


def test_unit_verifies_without_warnings(tmp_path):
    r = verify(installed_unit(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    # The check can fail: a misspelt key is a warning, a missing binary an error.
    typo = installed_unit(tmp_path, UNIT.read_text().replace("RestartSec=", "RestartSecs="))
    r = verify(typo)
    assert "Unknown key 'RestartSecs'" in r.stderr
    r = verify(UNIT)  # ExecStart=/opt/etcd/bin/etcd does not exist here
    assert r.returncode != 0
    assert "Command /opt/etcd/bin/etcd is not executable" in r.stderr


def parse_env_file(path: pathlib.Path) -> dict[str, str]:
    """systemd's EnvironmentFile= rules as the example file uses them: comment
    lines, VAR=value with optional double quotes."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        assert "#" not in value, f"{key}: a trailing comment would be part of the value"
        out[key] = value
    return out


class JournaledMember:
    """One member run from the environment file under fake_journald.py."""

    def __init__(self, base: pathlib.Path, env: dict, journal: pathlib.Path,
                 notify: pathlib.Path):
        self.journal = journal
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(notify))
        self.log = open(base / "stderr.log", "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", sys.executable,
             str(FAKE_JOURNALD), str(journal), "--", str(BIN / "etcd")],
            env=clean_env(**env, NOTIFY_SOCKET=str(notify)), cwd=base,
            stdout=self.log, stderr=subprocess.STDOUT)

    def receive(self, timeout: float) -> str | None:
        self.notify.settimeout(timeout)
        try:
            return self.notify.recv(4096).decode()
        except socket.timeout:
            return None

    def entries(self) -> list[dict]:
        if not self.journal.exists():
            return []
        return [json.loads(l) for l in self.journal.read_text().splitlines()]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.log.close()
        self.notify.close()
        return self.proc.returncode


def test_environment_file_runs_the_guides_cluster(tmp_path):
    template = parse_env_file(ENV_FILE)
    pki = Pki(tmp_path / "ssl")
    # server.pem and server-key.pem: the file names the example file uses.
    pki.issue("server", "server", cn="etcd", hosts=["127.0.0.1", "localhost"])
    client = pki.issue("client", "client", cn="root", algo="rsa", size=2048)
    ports = {i: dict(zip(("peer", "client", "local"), free_ports(3))) for i in (1, 2, 3)}

    def adapt(key: str, value: str, me: int) -> str:
        # The file is etcd-1's: the other members change their own
        # addresses, not the initial cluster.
        if key != "ETCD_INITIAL_CLUSTER":
            value = value.replace("192.168.0.1:", f"192.168.0.{me}:")
        for i in (1, 2, 3):
            value = value.replace(f"https://192.168.0.{i}:2380",
                                  f"https://127.0.0.1:{ports[i]['peer']}")
            value = value.replace(f"https://192.168.0.{i}:2379",
                                  f"https://127.0.0.1:{ports[i]['client']}")
        value = value.replace("http://127.0.0.1:2379", f"http://127.0.0.1:{ports[me]['local']}")
        value = value.replace("/opt/etcd/ssl/", f"{tmp_path / 'ssl'}/")
        value = value.replace("/var/lib/etcd/", f"{tmp_path}/etcd-{me}/")
        return value

    members = {}
    try:
        for i in (1, 2, 3):
            env = {k: adapt(k, v, i) for k, v in template.items()}
            env["ETCD_NAME"] = f"etcd-{i}"
            assert "192.168.0." not in "".join(env.values())
            base = tmp_path / f"etcd-{i}"
            base.mkdir()
            members[i] = JournaledMember(base, env, base / "journal.jsonl",
                                         base / "notify.sock")

        tls = ["--cacert", str(pki.ca), "--cert", str(client.cert), "--key", str(client.key)]
        for i, m in members.items():
            msg = m.receive(READY_TIMEOUT_S)
            assert msg == "READY=1", (
                f"etcd-{i}: {msg!r}\n{(tmp_path / f'etcd-{i}' / 'stderr.log').read_text()}")
            r = run_etcdctl(f"https://127.0.0.1:{ports[i]['client']}", *tls, "endpoint",
                            "health", "--command-timeout=5s")
            assert r.returncode == 0, r.stderr
            r = run_etcdctl(f"127.0.0.1:{ports[i]['local']}", "endpoint", "health",
                            "--command-timeout=5s")
            assert r.returncode == 0, r.stderr
        r = run_etcdctl(f"https://127.0.0.1:{ports[1]['client']}", *tls, "member", "list",
                        "-w", "json")
        assert r.returncode == 0, r.stderr
        listed = sorted((m["name"], m["peerURLs"][0]) for m in json.loads(r.stdout)["members"])
        assert listed == [(f"etcd-{i}", f"https://127.0.0.1:{ports[i]['peer']}")
                          for i in (1, 2, 3)]
        # A plain client is refused on the TLS port (client-cert-auth).
        r = run_etcdctl(f"https://127.0.0.1:{ports[1]['client']}", "--cacert", str(pki.ca),
                        "endpoint", "health", "--command-timeout=3s")
        assert r.returncode != 0

        for i, m in members.items():
            entries = m.entries()
            assert entries, f"etcd-{i} sent nothing to the journal"
            lines = [json.loads(e["MESSAGE"]) for e in entries]
            used = {l["variable-name"] for l in lines
                    if l["msg"] == "recognized and used environment variable"}
            assert used == set(template), sorted(set(template) ^ used)
            assert not [l for l in lines if l["msg"] == "unrecognized environment variable"]
            prio = {"debug": "7", "info": "6", "warn": "4", "error": "3"}
            for e, l in zip(entries, lines):
                assert e["PRIORITY"] == prio[l["level"]]
                assert e["SYSLOG_IDENTIFIER"] == "etcd"
                assert e["PACKAGE"] == l["caller"].rsplit("/", 1)[0]
            conf = next(l for l in lines if l["msg"] == "starting an etcd server")
            assert conf["name"] == f"etcd-{i}"
            assert conf["data-dir"] == f"{tmp_path}/etcd-{i}/default.etcd"
            assert conf["quota-backend-bytes"] == 8589934592
            assert conf["auto-compaction-mode"] == "periodic"
            assert conf["initial-cluster-token"] == "etcd_cluster"
        # Under systemd/journal nothing but the wrapper's own output is on stderr.
        for i in (1, 2, 3):
            text = (tmp_path / f"etcd-{i}" / "stderr.log").read_text()
            assert not re.search(r'^\{"level"', text, re.M), text[:500]
    finally:
        codes = {i: m.stop() for i, m in members.items()}
    assert codes == {1: 128 + signal.SIGTERM, 2: 128 + signal.SIGTERM, 3: 128 + signal.SIGTERM}
    for i, m in members.items():
        lines = [json.loads(e["MESSAGE"]) for e in m.entries()]
        assert "received signal; shutting down" in [l["msg"] for l in lines]
