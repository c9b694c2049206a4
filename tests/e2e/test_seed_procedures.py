"""The operator guides' procedures (/work/shared/seeds/*.txt, in Chinese)
run as tests, with the candidate etcdctl (E2E_CTL, default build/bin/etcdctl)
and etcdutl (E2E_UTL, default build/bin/etcdutl) found on PATH as `etcdctl`
and `etcdutl`, the way the guides call them. The servers are ours.

The commands are the guides' own, with their hosts, ports and TLS files
replaced by our test members (the guides use TLS; these runs are plain
HTTP), and `systemctl stop/start etcd` replaced by stopping/starting the
member. Where the guides use etcd 3.4's `etcdctl snapshot restore`, the
3.5 way, `etcdutl snapshot restore`, runs as well.

    guide 000 备份脚本        daily backup script: snapshot save
                              etcd-snapshot-`date +%Y%m%d`.db, prune after 30 days
    guide 000 单节点恢复      single-node restore into a fresh data dir, start, read
    guide 000/003 集群恢复    restore.sh: 3 data dirs with --initial-cluster, start, count
    guide 000 数据迁移        make-mirror from one server into another
    guide 002 配额不足处理流程 NOSPACE: endpoint status, compact $rev, defrag,
                              alarm disarm, put newkey 100
    guide 004 验证            root password (auth on), etcdctl --user root:$ROOT_PASSWORD
                              put/get /message (the TLS procedures: test_seed_tls.py)

Validation now: E2E_CTL=/usr/bin/etcdctl runs the steps the reference 3.4
etcdctl can do (backup, make-mirror, quota runbook); the restore steps need
an etcdutl that reads our snapshots and are validated once ours is done.
With E2E_SEED_SERVERS=ref the servers are the reference etcd 3.4.23 too, so
the whole procedure, restores included (the `etcdctl snapshot restore`
variants), runs reference-only:
    E2E_CTL=/usr/bin/etcdctl E2E_SEED_SERVERS=ref /usr/bin/python3 -m pytest \
        tests/e2e/test_seed_procedures.py -k "not etcdutl"
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from cluster import OURS, REF, Cluster
from conftest import BIN, clean_env

CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))
UTL = pathlib.Path(os.environ.get("E2E_UTL", BIN / "etcdutl"))
REF_SERVERS = os.environ.get("E2E_SEED_SERVERS", "ours") == "ref"
KIND = REF if REF_SERVERS else OURS
STEP_TIMEOUT_S = 60.0
MIRROR_WAIT_S = 30.0


@pytest.fixture
def server(etcd_factory):
    """etcd_factory for the servers of these procedures: ours, or the
    reference with E2E_SEED_SERVERS=ref."""
    def make(**kw):
        return etcd_factory(reference=REF_SERVERS, **kw)
    return make


@pytest.fixture
def tools(tmp_path) -> pathlib.Path:
    """A bin dir with `etcdctl` and `etcdutl` (the candidates), first on PATH."""
    d = tmp_path / "tools"
    d.mkdir()
    for name, target in (("etcdctl", CTL), ("etcdutl", UTL)):
        (d / name).symlink_to(target)
    return d


def sh(tools: pathlib.Path, script: str, cwd: pathlib.Path, check: bool = True,
       timeout: float = STEP_TIMEOUT_S, **env) -> subprocess.CompletedProcess:
    """Runs a guide's shell lines with bash, the candidate tools on PATH."""
    e = clean_env(ETCDCTL_API="3", **env)
    e["PATH"] = f"{tools}:{e.get('PATH', '/usr/bin:/bin')}"
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=e, capture_output=True,
                       text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, (f"exit {r.returncode}:\n$ {script}\n"
                                   f"--- stdout\n{r.stdout}--- stderr\n{r.stderr}")
    return r


def fill(member, n: int = 20, prefix: str = "/registry/configmaps/kube-system/cm") -> dict:
    """n keys shaped like the guides' Kubernetes data, put with the reference
    etcdctl (setup, not the procedure under test); returns them."""
    data = {f"{prefix}{i:03d}": f"value-{i}-" + "x" * (i % 7) for i in range(n)}
    for k, v in data.items():
        member.ok("put", k, v)
    return data


def read_all(tools, cwd, endpoints: str, prefix: str = "/", serializable=False) -> dict:
    """Every key under prefix, read with the candidate etcdctl (-w json)."""
    cons = " --consistency=s" if serializable else ""
    r = sh(tools, f'etcdctl --endpoints="{endpoints}" get {prefix} --prefix -w json{cons}', cwd)
    kvs = json.loads(r.stdout).get("kvs", [])
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in kvs}


def backup_name() -> str:
    return f"etcd-snapshot-{time.strftime('%Y%m%d')}.db"


def save_backup(tools, member, workdir: pathlib.Path) -> pathlib.Path:
    """The guide's backup command (000 备份), TLS flags left out."""
    sh(tools, f'ETCDCTL_API=3 etcdctl --endpoints="{member.endpoint}" '
              f'snapshot save {workdir}/etcd-snapshot-`date +%Y%m%d`.db', workdir)
    path = workdir / backup_name()
    assert path.is_file() and path.stat().st_size > 0, f"no backup at {path}"
    return path


# ---------------------------------------------------------------------------
# 备份脚本: the daily backup script
# ---------------------------------------------------------------------------

BACKUP_SCRIPT = """#!/usr/bin/env bash
ENDPOINTS="{endpoints}"

ETCDCTL_API=3 etcdctl \\
--endpoints=${{ENDPOINTS}} \\
snapshot save {backup_dir}/etcd-snapshot-`date +%Y%m%d`.db

# 备份保留30天
find {backup_dir} -name *.db -mtime +30 -exec rm -f {{}} \\;
"""


def test_daily_backup_script(server, tools, tmp_path):
    m = server().start()
    fill(m, 10)
    backup_dir = tmp_path / "backup" / "etcd"
    backup_dir.mkdir(parents=True)  # mkdir /tmp/backup/etcd/
    old = backup_dir / "etcd-snapshot-20000101.db"
    old.write_bytes(b"old backup")
    forty_days_ago = time.time() - 40 * 86400
    os.utime(old, (forty_days_ago, forty_days_ago))
    recent = backup_dir / "etcd-snapshot-recent.db"
    recent.write_bytes(b"recent backup")

    script = tmp_path / "backup.sh"
    script.write_text(BACKUP_SCRIPT.format(endpoints=m.endpoint, backup_dir=backup_dir))
    r = sh(tools, f"bash {script}", tmp_path)

    today = backup_dir / backup_name()
    assert today.is_file() and today.stat().st_size > 0, r.stdout + r.stderr
    assert f"Snapshot saved at {today}" in r.stdout, r.stdout
    assert not old.exists(), "the 30-day pruning kept a 40-day-old backup"
    assert recent.exists()


def test_backup_is_readable_by_etcdutl(server, tools, tmp_path):
    """The backup holds the data: etcdutl snapshot status counts its keys."""
    m = server().start()
    fill(m, 10)
    snap = save_backup(tools, m, tmp_path)
    st = sh(tools, f"etcdutl snapshot status {snap} -w json", tmp_path)
    status = json.loads(st.stdout)
    assert status["totalKey"] >= 10 and status["revision"] >= 11, st.stdout
    t = sh(tools, f"etcdutl snapshot status {snap} -w table", tmp_path)
    assert "TOTAL KEYS" in t.stdout, t.stdout


# ---------------------------------------------------------------------------
# 单节点恢复: single-node restore
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("tool", ["etcdutl", "etcdctl"])
def test_single_node_restore(server, tools, tmp_path, tool):
    """1 stop etcd; 3 mv default.etcd{,.bak}; 4 restore into the data dir;
    5 start; 6 read the data back."""
    data_root = tmp_path / "data" / "etcd"
    data_root.mkdir(parents=True)
    src = server(name="default", data_dir=data_root / "default.etcd").start()
    want = fill(src, 25)
    work = tmp_path / "root"
    work.mkdir()
    save_backup(tools, src, work)
    src.stop()  # systemctl stop etcd

    sh(tools, f"mv {data_root}/default.etcd{{,.bak}}", work)
    assert (data_root / "default.etcd.bak" / "member").is_dir()
    r = sh(tools, f"ETCDCTL_API=3 {tool} snapshot restore {backup_name()} "
                  f"--data-dir={data_root}/default.etcd", work)
    assert (data_root / "default.etcd" / "member" / "snap" / "db").is_file(), r.stderr
    assert list((data_root / "default.etcd" / "member" / "wal").glob("*.wal")), r.stderr

    # systemctl start etcd: the restored member (name "default", as the
    # guide's ETCD_NAME=default) on the restored data dir.
    dst = server(name="default", sub="restored", data_dir=data_root / "default.etcd").start()
    got = read_all(tools, work, dst.endpoint, "/registry/")
    assert got == want
    # The restored member takes writes.
    sh(tools, f"etcdctl --endpoints={dst.endpoint} put after-restore yes", work)
    assert read_all(tools, work, dst.endpoint, "after-restore") == {"after-restore": "yes"}


# ---------------------------------------------------------------------------
# 集群的备份与恢复: restore.sh onto three members
# ---------------------------------------------------------------------------

RESTORE_SH = """#!/bin/bash
count=0
for url in {peer_urls}
do
ETCDCTL_API=3 {tool} snapshot restore {snapshot} --name infra${{count}} --initial-cluster "{initial_cluster}" \\
--initial-cluster-token etcd-cluster --initial-advertise-peer-urls ${{url}} --data-dir={root}/node${{count}}
let count++
done
"""


# The last case restores with the reference etcdctl 3.4.23 (our snapshot,
# a bbolt image): etcd 3.4's restore leaves the source cluster's members in
# the db's members bucket and writes the new ones only into the .snap's v2
# store, which is where etcd reads them; ours takes them from there too.
@pytest.mark.parametrize("tool", ["etcdutl", "etcdctl", "/usr/bin/etcdctl"],
                         ids=["etcdutl", "etcdctl", "reference-etcdctl"])
def test_three_member_restore(server, tools, tmp_path, tool):
    src = server().start()
    want = fill(src, 40)
    work = tmp_path / "root"
    work.mkdir()
    snap = save_backup(tools, src, work)
    src.stop()

    c = Cluster(tmp_path / "cluster", [KIND, KIND, KIND], token="etcd-cluster")
    try:
        script = work / "restore.sh"
        script.write_text(RESTORE_SH.format(
            peer_urls=" ".join(m.peer_url for m in c.members), tool=tool, snapshot=snap,
            initial_cluster=c.initial_cluster(), root=work))
        sh(tools, f"bash {script}", work)  # the guide: sh restore.sh (sh is bash there)
        for i, m in enumerate(c.members):
            node = work / f"node{i}"
            assert (node / "member" / "snap" / "db").is_file(), f"{node} not restored"
            assert list((node / "member" / "wal").glob("*.wal")), f"{node} has no WAL"
            # rsync -av --delete /root/node${count}/ $ip:/opt/etcd/data; chmod 700
            shutil.copytree(node, m.data_dir)
            m.data_dir.chmod(0o700)
        c.start()  # 依次启动etcd

        eps = c.endpoints()
        r = sh(tools, f'ETCDCTL_API=3 etcdctl --endpoints="{eps}" endpoint health', work)
        # (etcdctl 3.4 prints endpoint health on stderr)
        assert (r.stdout + r.stderr).count("is healthy") == 3, r.stdout + r.stderr
        ml = json.loads(sh(tools, f'etcdctl --endpoints="{eps}" member list -w json', work).stdout)
        assert sorted(x["name"] for x in ml["members"]) == ["infra0", "infra1", "infra2"]
        for m in c.members:  # every member has every key
            got = read_all(tools, work, m.endpoint, "/registry/", serializable=True)
            assert got == want, f"{m}: {len(got)} keys of {len(want)}"
        keys = sh(tools, f'etcdctl --endpoints="{eps}" get / --prefix --keys-only | grep -c .',
                  work)
        assert int(keys.stdout) == len(want)
    finally:
        c.close()


# ---------------------------------------------------------------------------
# 数据迁移: make-mirror
# ---------------------------------------------------------------------------

def test_make_mirror_until_counts_match(server, tools, tmp_path):
    src = server(name="etcd1", sub="src").start()
    dst = server(name="etcd-1", sub="dst").start()
    want = fill(src, 30)
    e = clean_env(ETCDCTL_API="3")
    e["PATH"] = f"{tools}:{e['PATH']}"
    # ETCDCTL_API=3 etcdctl make-mirror --endpoints="http://<src>" <dst> (TLS flags left out)
    log = open(tmp_path / "make-mirror.log", "wb")
    p = subprocess.Popen(["etcdctl", "make-mirror", f"--endpoints=http://{src.endpoint}",
                          f"http://{dst.endpoint}"], env=e, cwd=tmp_path,
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        # Keys written while the mirror runs follow too.
        time.sleep(1.0)
        for i in range(10):
            k = f"/registry/live/{i}"
            src.ok("put", k, f"live-{i}")
            want[k] = f"live-{i}"
        deadline = time.monotonic() + MIRROR_WAIT_S
        got: dict = {}
        while time.monotonic() < deadline:
            assert p.poll() is None, f"make-mirror exited {p.returncode}:\n" + \
                (tmp_path / "make-mirror.log").read_text(errors="replace")
            got = read_all(tools, tmp_path, dst.endpoint, "/registry/")
            if len(got) >= len(want):
                break
            time.sleep(0.5)
        assert got == want, f"mirror has {len(got)} of {len(want)} keys"
        # the guide's check: get / --prefix --keys-only | head -20
        r = sh(tools, f'etcdctl --endpoints="{dst.endpoint}" get / --prefix --keys-only | head -20',
               tmp_path)
        keys = [l for l in r.stdout.splitlines() if l]
        assert keys and keys == sorted(want)[:len(keys)], r.stdout
    finally:
        p.terminate()  # 镜像是不会停止的: ends only when killed
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        log.close()


# ---------------------------------------------------------------------------
# 配额不足处理流程: NOSPACE, then compact, defrag, alarm disarm
# ---------------------------------------------------------------------------

QUOTA_BYTES = 4 * 1024 * 1024
FILL_VALUE = "v" * (256 * 1024)
MAX_FILL_PUTS = 200  # 50 MB of puts at most: far beyond the quota


def test_quota_runbook(server, tools, tmp_path):
    m = server(extra_args=(f"--quota-backend-bytes={QUOTA_BYTES}",)).start()
    ep = m.endpoint
    # Fill: one key overwritten (history grows) until the quota alarm.
    nospace = None
    for i in range(MAX_FILL_PUTS):
        r = subprocess.run([str(tools / "etcdctl"), f"--endpoints={ep}", "put", "big"],
                           input=FILL_VALUE, env=clean_env(ETCDCTL_API="3"),
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            nospace = r
            break
    assert nospace is not None, f"no error after {MAX_FILL_PUTS} puts of 256 KiB"
    assert "etcdserver: mvcc: database space exceeded" in nospace.stderr, nospace.stderr

    # 显示配额情况
    st = sh(tools, f"etcdctl --endpoints={ep} --write-out=table endpoint status", tmp_path)
    assert "alarm:NOSPACE" in st.stdout, st.stdout
    al = sh(tools, f"etcdctl --endpoints={ep} alarm list", tmp_path)
    assert "alarm:NOSPACE" in al.stdout, al.stdout
    blocked = sh(tools, f"etcdctl --endpoints={ep} put newkey 100", tmp_path, check=False)
    assert blocked.returncode != 0 and "database space exceeded" in blocked.stderr

    # 获取当前版本号 / 压缩所有旧版本 / 去碎片化 / 取消报警 / 测试通过
    rev = sh(tools, f"""rev=$(etcdctl --endpoints={ep} endpoint status --write-out="json" | egrep -o '"revision":[0-9]*' | egrep -o '[0-9]*')
echo $rev""", tmp_path).stdout.strip()
    assert rev.isdigit() and int(rev) > 1, rev
    r = sh(tools, f"etcdctl --endpoints={ep} compact {rev}", tmp_path)
    assert f"compacted revision {rev}" in r.stdout, r.stdout
    r = sh(tools, f"etcdctl --endpoints={ep} defrag", tmp_path)
    assert f"Finished defragmenting etcd member[{ep}]" in r.stdout, r.stdout
    sh(tools, f"etcdctl --endpoints={ep} alarm disarm", tmp_path)
    assert sh(tools, f"etcdctl --endpoints={ep} alarm list", tmp_path).stdout.strip() == ""
    r = sh(tools, f"etcdctl --endpoints={ep} put newkey 100", tmp_path)
    assert r.stdout.strip() == "OK"
    assert sh(tools, f"etcdctl --endpoints={ep} get newkey --print-value-only",
              tmp_path).stdout == "100\n"
    # 查看节点健康状态
    h = sh(tools, f"etcdctl --endpoints={ep} endpoint health", tmp_path)
    assert f"{ep} is healthy: successfully committed proposal" in h.stdout + h.stderr


# ---------------------------------------------------------------------------
# guide 004 验证: etcd with a root password (Bitnami's chart), then
# `etcdctl --user root:$ROOT_PASSWORD put/get /message` with ETCDCTL_ENDPOINTS
# ---------------------------------------------------------------------------

def test_root_password_put_get(server, tools, tmp_path):
    m = server().start()
    # What the chart's set-up does before the guide starts: a root user with
    # the generated password, then auth on.
    password = "s3cr3t-Root_pw"
    sh(tools, f"etcdctl --endpoints={m.endpoint} user add root:{password}", tmp_path)
    r = sh(tools, f"etcdctl --endpoints={m.endpoint} auth enable", tmp_path)
    assert r.stdout == "Authentication Enabled\n"
    env = {"ROOT_PASSWORD": password, "ETCDCTL_ENDPOINTS": m.endpoint}
    # 存储键 / 获取键
    r = sh(tools, "etcdctl --user root:$ROOT_PASSWORD put /message Hello", tmp_path, **env)
    assert r.stdout == "OK\n"
    r = sh(tools, "etcdctl --user root:$ROOT_PASSWORD get /message", tmp_path, **env)
    assert r.stdout == "/message\nHello\n"
    # Without the user, or with a wrong password, nothing is read.
    r = sh(tools, "etcdctl get /message", tmp_path, check=False, **env)
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1] == "Error: etcdserver: user name is empty"
    r = sh(tools, "etcdctl --user root:wrong get /message", tmp_path, check=False, **env)
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1] == \
        "Error: etcdserver: authentication failed, invalid user ID or password"
