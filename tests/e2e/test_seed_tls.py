"""The operator guides' TLS procedures, run as written (/work/shared/seeds):

    guide 000 单节点数据迁移到集群  cfssl CA (ECDSA), server/peer/client
        certificates; a 2-member cluster with TLS on both ports started from
        the guide's environment file and ExecStart line; `member add etcd-3`
        and etcd-3 started `existing`; member list, endpoint --cluster
        status; make-mirror from a plain single member into the TLS cluster
        with --dest-cacert/--dest-cert/--dest-key; snapshot save over TLS;
        restore.sh into 3 data dirs, started again; keys counted; compaction,
        a compacted read, defrag.
    guide 001 部署etcd集群          an RSA CA, ECDSA server and per-member
        peer certificates, --client-cert-auth and --peer-client-cert-auth on
        a 3-member cluster; etcdctl without a certificate is refused, with
        the server certificate it lists the members.

The guides' hosts become loopback addresses (127.0.0.1-3, one per member;
Linux routes all of 127/8 to lo) with free ports, the guides' extra
`https://127.0.0.1:2379` listener a free port on 127.0.0.1, and `systemctl
start etcd` the ExecStart line run by bash with the environment file
sourced. The servers are ours (E2E_SEED_SERVERS=ref: the reference etcd
3.4.23, which is how these tests were validated); etcdctl is E2E_CTL
(default build/bin/etcdctl) found on PATH, as the guides call it.
"""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, clean_env, free_ports

CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))
REF_SERVERS = os.environ.get("E2E_SEED_SERVERS", "ours") == "ref"
ETCD = pathlib.Path("/usr/bin/etcd") if REF_SERVERS else BIN / "etcd"
STEP_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0

# guide 000: cfssl print-defaults config, edited into three profiles.
CONFIG_000 = {"signing": {"default": {"expiry": "438000h"}, "profiles": {
    "server": {"expiry": "438000h",
               "usages": ["signing", "key encipherment", "server auth", "client auth"]},
    "client": {"expiry": "438000h", "usages": ["signing", "key encipherment", "client auth"]},
    "peer": {"expiry": "438000h",
             "usages": ["signing", "key encipherment", "server auth", "client auth"]}}}}
ECDSA = {"algo": "ecdsa", "size": 256}
RSA = {"algo": "rsa", "size": 2048}

# The ExecStart of guide 000's unit, with the guide's /opt/etcd paths under
# the test's dir ({ssl}, {bin}) and its extra https://127.0.0.1:2379
# listener on {extra} (one per member here: they share a host).
EXEC_000 = """set -a; . {conf}; set +a
exec {bin}/etcd \\
  --name=${{NAME}} \\
  --data-dir=${{DATA_DIR}} \\
  --listen-peer-urls=${{LISTEN_PEER_URLS}} \\
  --listen-client-urls=${{LISTEN_CLIENT_URLS}},https://127.0.0.1:{extra} \\
  --advertise-client-urls=${{ADVERTISE_CLIENT_URLS}} \\
  --initial-advertise-peer-urls=${{INITIAL_ADVERTISE_PEER_URLS}} \\
  --initial-cluster=${{INITIAL_CLUSTER}} \\
  --initial-cluster-token=${{INITIAL_CLUSTER_TOKEN}} \\
  --initial-cluster-state=${{INITIAL_CLUSTER_STATE}} \\
  --cert-file={ssl}/server.pem \\
  --key-file={ssl}/server-key.pem \\
  --peer-cert-file={ssl}/peer.pem \\
  --peer-key-file={ssl}/peer-key.pem \\
  --trusted-ca-file={ssl}/ca.pem \\
  --peer-trusted-ca-file={ssl}/ca.pem
"""

# guide 001's etcd-N.service ExecStart (WorkingDirectory=/data/etcd).
EXEC_001 = """exec {bin}/etcd \\
  --name etcd-{n} \\
  --initial-advertise-peer-urls https://{ip}:{peer} \\
  --listen-peer-urls https://{ip}:{peer} \\
  --listen-client-urls https://{ip}:{client},https://127.0.0.1:{extra} \\
  --advertise-client-urls https://{ip}:{client} \\
  --initial-cluster-token etcd-cluster-1 \\
  --initial-cluster {cluster} \\
  --initial-cluster-state new \\
  --client-cert-auth \\
  --cert-file ssl/server.pem \\
  --key-file ssl/server-key.pem \\
  --trusted-ca-file ssl/ca.pem \\
  --peer-client-cert-auth \\
  --peer-trusted-ca-file ssl/ca.pem \\
  --peer-cert-file ssl/etcd-{n}.pem \\
  --peer-key-file ssl/etcd-{n}-key.pem \\
  --data-dir data \\
  --snapshot-count 50000 \\
  --auto-compaction-retention 1 \\
  --auto-compaction-mode periodic \\
  --max-request-bytes 10485760 \\
  --quota-backend-bytes 8589934592
"""


class Unit:
    """One `systemctl start etcd`: bash runs the unit's ExecStart; stopped
    by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, script: str, cwd: pathlib.Path, log: pathlib.Path):
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=clean_env(),
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    stopped = False

    def stop(self):
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def tail(self, n: int = 30) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])


@pytest.fixture
def units():
    started: list[Unit] = []
    yield started
    for u in started:
        u.stop()


@pytest.fixture
def tools(tmp_path) -> pathlib.Path:
    d = tmp_path / "tools"
    d.mkdir()
    (d / "etcdctl").symlink_to(CTL)
    return d


def sh(tools: pathlib.Path, script: str, cwd: pathlib.Path, check: bool = True,
       timeout: float = STEP_TIMEOUT_S) -> subprocess.CompletedProcess:
    e = clean_env(ETCDCTL_API="3")
    e["PATH"] = f"{tools}:{e.get('PATH', '/usr/bin:/bin')}"
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=e, capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, (f"exit {r.returncode}:\n$ {script}\n"
                                   f"--- stdout\n{r.stdout}--- stderr\n{r.stderr}")
    return r


def cfssl(ssl: pathlib.Path, cmd: str):
    r = subprocess.run(["bash", "-c", cmd], cwd=ssl, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{cmd}\n{r.stderr}"


def write_json(path: pathlib.Path, obj):
    path.write_text(json.dumps(obj, indent=4))


def wait_healthy(tools, cwd, tls: str, endpoint: str, units_: list[Unit]):
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        for u in units_:
            if not u.stopped and u.proc.poll() is not None:
                raise AssertionError(f"etcd exited with {u.proc.returncode}:\n{u.tail()}")
        r = sh(tools, f'etcdctl {tls} --endpoints="{endpoint}" --command-timeout=2s '
                      f'endpoint health', cwd, check=False, timeout=10)
        if r.returncode == 0:
            return
        last = r.stderr
        time.sleep(0.3)
    raise AssertionError(f"{endpoint} not healthy: {last}\n" +
                         "\n".join(u.tail() for u in units_))


def table_rows(out: str) -> list[list[str]]:
    rows = []
    for line in out.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows[1:]  # without the header


def test_guide_000_tls_cluster_migration_backup_restore(tools, units, tmp_path):
    ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    ports = free_ports(12)
    peer = dict(zip(ips, ports[0:3]))
    client = dict(zip(ips, ports[3:6]))
    extra = dict(zip(ips, ports[6:9]))
    single_client, single_peer = ports[9], ports[10]
    ssl = tmp_path / "ssl"
    ssl.mkdir()
    # 创建证书
    write_json(ssl / "config.json", CONFIG_000)
    write_json(ssl / "ca-csr.json", {"CN": "etcd", "key": ECDSA})
    cfssl(ssl, "cfssl gencert -initca ca-csr.json | cfssljson -bare ca")
    write_json(ssl / "client.json", {"CN": "client", "key": ECDSA})
    cfssl(ssl, "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=config.json "
               "-profile=client client.json | cfssljson -bare client")
    write_json(ssl / "etcd.json", {"CN": "etcd", "hosts": ips, "key": ECDSA,
                                   "names": [{"C": "CN", "L": "GG", "ST": "SZ"}]})
    cfssl(ssl, "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=config.json "
               "-profile=server etcd.json | cfssljson -bare server")
    cfssl(ssl, "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=config.json "
               "-profile=peer etcd.json | cfssljson -bare peer")
    for f in ("ca.pem", "server.pem", "server-key.pem", "peer.pem", "peer-key.pem",
              "client.pem", "client-key.pem"):
        assert (ssl / f).is_file(), f
    server_tls = f"--cacert={ssl}/ca.pem --cert={ssl}/server.pem --key={ssl}/server-key.pem"
    client_tls = f"--cacert={ssl}/ca.pem --cert={ssl}/client.pem --key={ssl}/client-key.pem"

    # The single plain member the data comes from (guide: 192.168.116.10).
    single = tmp_path / "single"
    single.mkdir()
    units.append(Unit(
        f"exec {ETCD.parent}/etcd --name default --data-dir {single}/default.etcd "
        f"--listen-client-urls http://127.0.0.4:{single_client} "
        f"--advertise-client-urls http://127.0.0.4:{single_client} "
        f"--listen-peer-urls http://127.0.0.4:{single_peer} "
        f"--initial-advertise-peer-urls http://127.0.0.4:{single_peer} "
        f"--initial-cluster default=http://127.0.0.4:{single_peer}",
        single, tmp_path / "single.log"))
    single_ep = f"http://127.0.0.4:{single_client}"
    wait_healthy(tools, tmp_path, "", single_ep, units)
    data = {f"/registry/configmaps/kube-system/cm{i:03d}": f"value-{i}" for i in range(25)}
    for k, v in data.items():
        sh(tools, f'etcdctl --endpoints="{single_ep}" put {k} {v}', tmp_path)

    def conf(n: int, ip: str, cluster: list[str], state: str) -> pathlib.Path:
        d = tmp_path / f"etcd-{n}"
        (d / "data").mkdir(parents=True, exist_ok=True)
        os.chmod(d / "data", 0o700)  # 数据目录权限要求700
        initial = ",".join(f"etcd-{ips.index(x) + 1}=https://{x}:{peer[x]}" for x in cluster)
        p = d / "etcd.conf"
        p.write_text(f'NAME="etcd-{n}"\nDATA_DIR="{d}/data"\n'
                     f'LISTEN_PEER_URLS="https://{ip}:{peer[ip]}"\n'
                     f'LISTEN_CLIENT_URLS="https://{ip}:{client[ip]}"\n'
                     f'INITIAL_ADVERTISE_PEER_URLS="https://{ip}:{peer[ip]}"\n'
                     f'ADVERTISE_CLIENT_URLS="https://{ip}:{client[ip]}"\n'
                     f'INITIAL_CLUSTER="{initial}"\n'
                     f'INITIAL_CLUSTER_TOKEN="etcd-cluster"\n'
                     f'INITIAL_CLUSTER_STATE="{state}"\n')
        return p

    def start(n: int, ip: str, conf_path: pathlib.Path) -> Unit:
        u = Unit(EXEC_000.format(conf=conf_path, bin=ETCD.parent, extra=extra[ip], ssl=ssl),
                 conf_path.parent, tmp_path / f"etcd-{n}.log")
        units.append(u)
        return u

    # etcd-1 and etcd-2, then the cluster's state.
    for n, ip in ((1, ips[0]), (2, ips[1])):
        start(n, ip, conf(n, ip, ips[:2], "new"))
    eps2 = ",".join(f"https://{ip}:{client[ip]}" for ip in ips[:2])
    wait_healthy(tools, tmp_path, server_tls, eps2, units)
    st = sh(tools, f'etcdctl {server_tls} --endpoints="{eps2}" -w table endpoint --cluster '
                   f'status', tmp_path).stdout
    rows = table_rows(st)
    assert sorted(r[0] for r in rows) == sorted(f"https://{ip}:{client[ip]}" for ip in ips[:2])
    assert sorted(r[4] for r in rows) == ["false", "true"]  # IS LEADER

    # 将etcd3加入集群
    # (A member added within 5 s of the cluster's start is refused as an
    # "unhealthy cluster" by etcd's --strict-reconfig-check: retried.)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        r = sh(tools, f'etcdctl {server_tls} --endpoints="{eps2}" member add etcd-3 '
                      f'--peer-urls=https://{ips[2]}:{peer[ips[2]]}', tmp_path, check=False)
        if r.returncode == 0 or "unhealthy cluster" not in r.stderr or \
                time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.returncode == 0, r.stderr
    added = r.stdout
    assert re.match(r"Member [ 0-9a-f]{16} added to cluster [ 0-9a-f]{16}\n", added), added
    assert f'ETCD_INITIAL_ADVERTISE_PEER_URLS="https://{ips[2]}:{peer[ips[2]]}"' in added
    assert 'ETCD_INITIAL_CLUSTER_STATE="existing"' in added
    ml = table_rows(sh(tools, f'etcdctl {server_tls} --endpoints="{eps2}" -w table member '
                              f'list', tmp_path).stdout)
    assert sorted(r[1] for r in ml) == ["started", "started", "unstarted"]
    start(3, ips[2], conf(3, ips[2], ips, "existing"))
    eps3 = ",".join(f"https://{ip}:{client[ip]}" for ip in ips)
    wait_healthy(tools, tmp_path, server_tls, f"https://{ips[2]}:{client[ips[2]]}", units)
    ml = table_rows(sh(tools, f'etcdctl {server_tls} --endpoints="{eps2}" -w table member '
                              f'list', tmp_path).stdout)
    assert sorted((r[1], r[2], r[3], r[4]) for r in ml) == sorted(
        ("started", f"etcd-{i + 1}", f"https://{ip}:{peer[ip]}", f"https://{ip}:{client[ip]}")
        for i, ip in enumerate(ips))
    rows = table_rows(sh(tools, f'etcdctl {server_tls} --endpoints="{eps2}" -w table endpoint '
                                f'--cluster status', tmp_path).stdout)
    assert len(rows) == 3 and [r[4] for r in rows].count("true") == 1

    # 数据迁移: make-mirror from the plain member into the TLS cluster.
    mirror = subprocess.Popen(
        ["bash", "-c", f'ETCDCTL_API=3 etcdctl make-mirror --endpoints="{single_ep}" '
                       f'https://{ips[0]}:{client[ips[0]]} --dest-cacert={ssl}/ca.pem '
                       f'--dest-cert={ssl}/client.pem --dest-key={ssl}/client-key.pem'],
        cwd=tmp_path, env={**clean_env(ETCDCTL_API="3"),
                           "PATH": f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        count = 0
        while time.monotonic() < deadline:
            r = sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="{eps3}" get / '
                          f'--prefix --keys-only | egrep -v \'^$\' | wc -l', tmp_path)
            count = int(r.stdout.strip())
            if count == len(data):
                break
            time.sleep(0.5)
        assert count == len(data)
    finally:
        os.killpg(mirror.pid, signal.SIGTERM)
        mirror.wait(timeout=10)
    head = sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="{eps3}" get / --prefix '
                     f'--keys-only | head -20', tmp_path).stdout
    assert [x for x in head.splitlines() if x] == sorted(data)[:10]

    # 集群的备份与恢复: snapshot save over TLS, restore.sh, start again.
    # The guide names all three endpoints, which etcdctl refuses (etcd's
    # too); then one endpoint, as its single-member backup does.
    r = sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="{eps3}" snapshot save '
                  f'etcd-snapshot-`date +%Y%m%d`.db', tmp_path, check=False)
    assert r.returncode == 5
    assert r.stderr.strip() == ("Error: snapshot must be requested to one selected node, not "
                                "multiple [" + eps3.replace(",", " ") + "]")
    sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="https://{ips[0]}:'
              f'{client[ips[0]]}" snapshot save etcd-snapshot-`date +%Y%m%d`.db', tmp_path)
    backup = tmp_path / f"etcd-snapshot-{time.strftime('%Y%m%d')}.db"
    assert backup.stat().st_size > 0
    for u in list(units)[1:]:  # systemctl stop etcd, on every member
        u.stop()
    initial = ",".join(f"etcd-{i + 1}=https://{ip}:{peer[ip]}" for i, ip in enumerate(ips))
    restore = "count=1\n"
    for ip in ips:
        restore += (f'ETCDCTL_API=3 etcdctl snapshot restore {backup} --name etcd-${{count}} '
                    f'--initial-cluster "{initial}" --initial-cluster-token etcd-cluster '
                    f'--initial-advertise-peer-urls https://{ip}:{peer[ip]} '
                    f'--data-dir={tmp_path}/node${{count}}\n'
                    f'rm -rf {tmp_path}/etcd-${{count}}/data && '
                    f'cp -a {tmp_path}/node${{count}} {tmp_path}/etcd-${{count}}/data\n'
                    f'let count++\n')
    sh(tools, restore, tmp_path)
    for i, ip in enumerate(ips):
        n = i + 1
        os.chmod(tmp_path / f"etcd-{n}" / "data", 0o700)
        start(n, ip, conf(n, ip, ips, "new"))
    wait_healthy(tools, tmp_path, server_tls, eps3, units)
    rows = table_rows(sh(tools, f'etcdctl {server_tls} --endpoints="{eps3}" -w table endpoint '
                                f'status', tmp_path).stdout)
    assert len(rows) == 3 and [r[4] for r in rows].count("true") == 1
    n_keys = sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="{eps3}" get / '
                       f'--prefix --keys-only | egrep -v \'^$\' | wc -l', tmp_path).stdout
    assert int(n_keys) == len(data)

    # 历史数据压缩, then 碎片清理.
    key = sorted(data)[0]
    sh(tools, f'etcdctl {client_tls} --endpoints="{eps3}" put {key} changed', tmp_path)
    got = json.loads(sh(tools, f'etcdctl {client_tls} --endpoints="{eps3}" get {key} -w json',
                        tmp_path).stdout)
    rev = got["header"]["revision"]
    sh(tools, f'etcdctl {client_tls} --endpoints="{eps3}" compaction {rev}', tmp_path)
    old = sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="{eps3}" get {key} '
                    f'--rev={rev - 1}', tmp_path, check=False)
    assert old.returncode != 0
    assert "Error: etcdserver: mvcc: required revision has been compacted" in old.stderr
    out = sh(tools, f'ETCDCTL_API=3 etcdctl {client_tls} --endpoints="{eps3}" defrag',
             tmp_path).stdout
    assert out.count("Finished defragmenting etcd member") == 3, out


def test_guide_001_mutual_tls_cluster(tools, units, tmp_path):
    ips = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    ports = free_ports(9)
    peer = dict(zip(ips, ports[0:3]))
    client = dict(zip(ips, ports[3:6]))
    extra = dict(zip(ips, ports[6:9]))
    work = tmp_path / "etcd"  # /data/etcd
    ssl = work / "ssl"
    ssl.mkdir(parents=True)
    profile = ["signing", "key encipherment", "server auth", "client auth"]
    write_json(ssl / "ca-config.json", {"signing": {"default": {"expiry": "43800h"}, "profiles": {
        "server": {"expiry": "43800h", "usages": profile},
        "client": {"expiry": "43800h", "usages": ["signing", "key encipherment", "client auth"]},
        "peer": {"expiry": "43800h", "usages": profile}}}})
    names = [{"C": "CN", "L": "Shanghai", "ST": "Shanghai"}]
    write_json(ssl / "ca-csr.json", {"CN": "local-etcd-ca", "key": RSA, "names": [
        {"C": "CN", "L": "Shanghai", "O": "duduniao", "ST": "Shanghai", "OU": "devops"}]})
    cfssl(ssl, "cfssl gencert -initca ca-csr.json | cfssljson -bare ca -")
    write_json(ssl / "server.json", {"CN": "local-etcd.duduniao.com",
                                     "hosts": ips + ["etcd-1", "etcd-2", "etcd-3", "localhost"],
                                     "key": ECDSA, "names": names})
    cfssl(ssl, "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json "
               "-profile=server server.json | cfssljson -bare server")
    for i, ip in enumerate(ips):
        n = i + 1
        # + 127.0.0.1: on lo every connection comes from 127.0.0.1, and
        # with --peer-client-cert-auth etcd checks the connecting member's
        # address against its certificate's SANs.
        write_json(ssl / f"etcd-{n}.json", {"CN": f"local-etcd-{n}.duduniao.com",
                                            "hosts": sorted({ip, "127.0.0.1"}) + [f"etcd-{n}"],
                                            "key": ECDSA,
                                            "names": names})
        cfssl(ssl, f"cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json "
                   f"-profile=peer etcd-{n}.json | cfssljson -bare etcd-{n}")
    cluster = ",".join(f"etcd-{i + 1}=https://{ip}:{peer[ip]}" for i, ip in enumerate(ips))
    for i, ip in enumerate(ips):
        n = i + 1
        # 下发证书: each host's /data/etcd/ssl gets the CA, the server
        # certificate and its own peer certificate; /data/etcd/data is its
        # data dir (the members share this machine, not a directory).
        host = tmp_path / f"host-{n}" / "data" / "etcd"
        (host / "ssl").mkdir(parents=True)
        (host / "data").mkdir()
        for f in ("ca.pem", "server.pem", "server-key.pem", f"etcd-{n}.pem", f"etcd-{n}-key.pem"):
            shutil.copy(ssl / f, host / "ssl" / f)
        units.append(Unit(EXEC_001.format(bin=ETCD.parent, n=n, ip=ip, peer=peer[ip],
                                          client=client[ip], extra=extra[ip], cluster=cluster),
                          host, tmp_path / f"etcd-{n}.log"))
    tls = "--cacert ca.pem --cert server.pem --key server-key.pem"
    eps = ",".join(f"https://{ip}:{client[ip]}" for ip in ips)
    wait_healthy(tools, ssl, tls, eps, units)

    # 不加证书: refused (the connection never becomes usable).
    r = sh(tools, f"etcdctl --endpoints={ips[0]}:{client[ips[0]]} --dial-timeout=2s "
                  f"--command-timeout=3s member list --write-out=table", ssl, check=False)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] == "Error: context deadline exceeded", r.stderr
    # Only the CA, no client certificate: refused too (--client-cert-auth).
    r = sh(tools, f"etcdctl --cacert ca.pem --endpoints https://{ips[0]}:{client[ips[0]]} "
                  f"--dial-timeout=2s --command-timeout=3s member list", ssl, check=False)
    assert r.returncode != 0, r.stdout
    # 加上证书
    out = sh(tools, f"cd {ssl}/ && etcdctl {tls} --endpoints https://{ips[0]}:{client[ips[0]]} "
                    f"member list", ssl).stdout
    lines = sorted(out.strip().splitlines())
    assert len(lines) == 3
    for i, ip in enumerate(ips):
        assert any(re.fullmatch(rf"[0-9a-f]+, started, etcd-{i + 1}, https://{ip}:{peer[ip]}, "
                                rf"https://{ip}:{client[ip]}, false", x) for x in lines), lines
    sh(tools, f"etcdctl {tls} --endpoints {eps} put /guide/001 ok", ssl)
    for ip in ips:
        got = sh(tools, f"etcdctl {tls} --endpoints https://{ip}:{client[ip]} get /guide/001 "
                        f"--print-value-only", ssl).stdout
        assert got == "ok\n"
