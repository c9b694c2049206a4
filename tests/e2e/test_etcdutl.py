"""etcdutl, the offline tool, against data made by our server: `snapshot
status` of a file the reference `etcdctl snapshot save` downloaded from our
member, `snapshot restore` into data dirs that our etcd starts as a new
one- or three-member cluster, `defrag` of a stopped member, `hashkv`, and
the command line's errors. Expected texts are etcd 3.5's etcdutl's."""

import json
import math
import pathlib
import subprocess

import pytest

from cluster import OURS, Cluster
from conftest import KvClient, binary, clean_env, wait_log


def etcdutl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary("etcdutl")), *args], env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def ok(*args: str) -> str:
    r = etcdutl(*args)
    assert r.returncode == 0, f"etcdutl {' '.join(args)}: rc={r.returncode} {r.stderr}"
    return r.stdout


def log_lines(stderr: str) -> list[tuple[str, str, dict]]:
    """(level, msg, fields) of etcdutl's log lines, in zap's console encoding:
    time, level, caller, message and the fields as JSON, tab-separated."""
    out = []
    for line in stderr.splitlines():
        parts = line.split("\t")
        if len(parts) >= 4 and parts[0].endswith("Z"):
            out.append((parts[1], parts[3], json.loads(parts[4]) if len(parts) > 4 else {}))
    return out


def go_humanize(n: int) -> str:
    """go-humanize's Bytes (SI), as etcd prints TOTAL SIZE."""
    if n < 10:
        return f"{n} B"
    e = int(math.floor(math.log(n) / math.log(1000)))
    val = math.floor(n / 1000 ** e * 10 + 0.5) / 10
    return ("%.1f %s" if val < 10 else "%.0f %s") % (val, ["B", "kB", "MB", "GB", "TB"][e])


def server_status(m) -> dict:
    return json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"]


def revision(m) -> int:
    return server_status(m)["header"]["revision"]


def count(m, prefix: str) -> int:
    """Keys under `prefix` in m's own store (a serializable read)."""
    return json.loads(m.ok("get", prefix, "--prefix", "--consistency=s", "--keys-only",
                           "-w", "json")).get("count", 0)


def save_snapshot(m, path: pathlib.Path) -> pathlib.Path:
    m.ok("snapshot", "save", str(path))
    return path


@pytest.fixture
def source(etcd_factory, tmp_path):
    """A member of ours holding keys k00..k09 and a snapshot of it; returns
    (member, snapshot path, revision at the snapshot)."""
    m = etcd_factory(name="src").start()
    for i in range(10):
        m.ok("put", f"k{i:02d}", f"v{i}")
    m.ok("del", "k09")
    rev = revision(m)
    snap = save_snapshot(m, tmp_path / "snap.db")
    return m, snap, rev


def restore(snap: pathlib.Path, m, initial_cluster: str | None = None, token: str = "restored",
            *extra: str) -> subprocess.CompletedProcess:
    return etcdutl("snapshot", "restore", str(snap),
                   "--name", m.name, "--data-dir", str(m.data_dir),
                   "--initial-cluster", initial_cluster or f"{m.name}={m.peer_url}",
                   "--initial-cluster-token", token,
                   "--initial-advertise-peer-urls", m.peer_url, *extra)


# ---- snapshot status ----


def test_snapshot_status_in_every_format(source, tmp_path):
    m, snap, rev = source
    st = json.loads(ok("snapshot", "status", str(snap), "-w", "json"))
    assert set(st) == {"hash", "revision", "totalKey", "totalSize"}
    assert st["revision"] == rev == 12  # 10 puts and a delete after revision 1
    assert st["totalSize"] > 0 and st["totalSize"] % 4096 == 0
    assert st["totalSize"] + 32 <= snap.stat().st_size

    size = st["totalSize"]
    human = go_humanize(size)
    simple = ok("snapshot", "status", str(snap))
    assert simple == f"{st['hash']:x}, {rev}, {st['totalKey']}, {human}\n"
    assert ok("snapshot", "status", str(snap), "--write-out=fields") == (
        f'"Hash" : {st["hash"]}\n"Revision" : {rev}\n"Keys" : {st["totalKey"]}\n'
        f'"Size" : {size}\n')
    table = ok("snapshot", "-w", "table", "status", str(snap)).splitlines()
    assert len(table) == 5
    assert table[0] == table[2] == table[4] and table[0].startswith("+-")
    assert [c.strip() for c in table[1].strip("|").split("|")] == [
        "HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"]
    assert [c.strip() for c in table[3].strip("|").split("|")] == [
        f"{st['hash']:x}", str(rev), str(st["totalKey"]), human]

    # Three more puts: three more records, three more revisions, a new hash.
    for i in range(3):
        m.ok("put", f"more{i}", "x")
    st2 = json.loads(ok("snapshot", "status", str(save_snapshot(m, tmp_path / "b.db")),
                        "-w", "json"))
    assert st2["revision"] == revision(m) == rev + 3
    assert st2["totalKey"] - st["totalKey"] == 3
    assert st2["hash"] != st["hash"]
    # The same snapshot file gives the same status (reading changes nothing).
    assert json.loads(ok("snapshot", "status", str(snap), "-w", "json")) == st


def test_snapshot_status_errors(source, tmp_path):
    m, snap, _ = source
    r = etcdutl("snapshot", "status", str(tmp_path / "missing.db"))
    assert r.returncode == 1
    assert r.stderr == f"Error: stat {tmp_path / 'missing.db'}: no such file or directory\n"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 1000)
    r = etcdutl("snapshot", "status", str(junk))
    assert r.returncode == 1 and "is not a snapshot" in r.stderr
    r = etcdutl("snapshot", "status", str(snap), "-w", "protobuf")
    assert (r.returncode, r.stderr) == (4, "Error: protobuf not supported as output format\n")
    r = etcdutl("snapshot", "status")
    assert (r.returncode, r.stderr) == (128, "Error: snapshot status requires exactly one argument\n")
    # The db of a running member is refused rather than read under its writer.
    r = etcdutl("snapshot", "status", str(m.data_dir / "member" / "snap" / "db"))
    assert r.returncode == 1 and "in use by a running etcd" in r.stderr


# ---- snapshot restore ----


def test_restore_starts_a_new_member_with_the_keys_and_revision(source, etcd_factory):
    src, snap, rev = source
    old_cluster = server_status(src)["header"]["cluster_id"]
    m = etcd_factory(name="restored", sub="restored")
    r = restore(snap, m)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    logs = log_lines(r.stderr)
    assert [(level, msg) for level, msg, _ in logs] == [
        ("info", "restoring snapshot"), ("info", "restored snapshot")]
    assert logs[0][2] == {"path": str(snap), "wal-dir": str(m.data_dir / "member" / "wal"),
                          "data-dir": str(m.data_dir),
                          "snap-dir": str(m.data_dir / "member" / "snap")}
    assert sorted(p.name for p in (m.data_dir / "member").iterdir()) == ["snap", "wal"]
    assert len(list((m.data_dir / "member" / "snap").glob("*.snap"))) == 1

    m.start()
    st = server_status(m)
    assert st["header"]["revision"] == rev
    assert st["header"]["cluster_id"] != old_cluster
    assert count(m, "k") == 9
    assert m.ok("get", "k03", "--print-value-only") == "v3\n"
    assert m.ok("get", "k09") == ""
    members = m.json("member", "list")["members"]
    assert [(x["name"], x["peerURLs"]) for x in members] == [("restored", [m.peer_url])]
    # A new cluster: writes go on from the snapshot's revision, and history
    # before it is there too.
    m.ok("put", "after", "restore")
    assert revision(m) == rev + 1
    assert m.ok("get", "k00", f"--rev={rev - 1}", "--print-value-only") == "v0\n"
    # And it restarts from its own data dir.
    m.stop()
    m.start()
    assert revision(m) == rev + 1
    assert count(m, "k") == 9


def test_restore_three_members_form_one_cluster(source, tmp_path):
    _, snap, rev = source
    c = Cluster(tmp_path / "c3", [OURS] * 3, token="restored-3")
    try:
        ic = c.initial_cluster()
        for m in c.members:
            r = restore(snap, m, ic, c.token)
            assert r.returncode == 0, r.stderr
            # The flags a member of a new cluster gets; ignored on a data dir
            # that has a WAL, as etcd ignores them.
            m.bootstrap = ["--initial-advertise-peer-urls", m.peer_url, "--initial-cluster", ic,
                           "--initial-cluster-token", c.token, "--initial-cluster-state", "new"]
            m.start(wait=False)
        c.wait_healthy()
        ids = set()
        for i, m in enumerate(c.members):
            assert count(m, "k") == 9
            assert server_status(m)["header"]["revision"] == rev
            ids.add(m.id)
        assert len(ids) == 3
        listed = c.member_list(member=0)
        assert sorted(x["name"] for x in listed) == ["infra0", "infra1", "infra2"]
        assert {x["ID"] for x in listed} == ids
        # The restored cluster replicates new writes to every member.
        c.ok("put", "new", "value")
        for i in range(3):
            c.wait_key("new", "value", member=i)
            assert count(c.members[i], "") == 10
    finally:
        c.close()


def test_restore_refuses_an_existing_data_dir(source, tmp_path):
    _, snap, _ = source
    d = tmp_path / "busy.etcd"
    (d / "member").mkdir(parents=True)
    (d / "member" / "keep").write_text("mine")
    r = etcdutl("snapshot", "restore", str(snap), "--data-dir", str(d))
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == f'Error: data-dir "{d}" not empty or could not be read'
    assert [p.name for p in (d / "member").iterdir()] == ["keep"]
    # The default data dir is <name>.etcd in the working directory.
    r = subprocess.run([str(binary("etcdutl")), "snapshot", "restore", str(snap), "--name", "n1",
                        "--initial-cluster", "n1=http://127.0.0.1:2380",
                        "--initial-advertise-peer-urls", "http://127.0.0.1:2380"],
                       cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "n1.etcd" / "member" / "snap" / "db").exists()
    assert list((tmp_path / "n1.etcd" / "member" / "wal").glob("*.wal"))


def test_restore_checks_the_snapshot_hash(source, etcd_factory, tmp_path):
    _, snap, rev = source
    bad = tmp_path / "bad.db"
    data = bytearray(snap.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the SHA-256 trailer
    bad.write_bytes(bytes(data))
    m = etcd_factory(name="h", sub="hash")
    r = restore(bad, m)
    assert r.returncode == 1
    err = r.stderr.splitlines()[-1]
    assert err.startswith("Error: expected sha256 [") and "], got [" in err, err
    assert not m.data_dir.exists()  # nothing half-made is left behind
    r = etcdutl("snapshot", "status", str(bad))
    assert r.returncode == 1
    assert r.stderr.startswith("Error: snapshot file integrity check failed. 1 errors found.\n"
                               "expected sha256 ["), r.stderr
    r = restore(bad, m, None, "restored", "--skip-hash-check")
    assert r.returncode == 0, r.stderr
    m.start()
    assert revision(m) == rev
    assert count(m, "k") == 9


def test_restore_of_a_db_file_needs_skip_hash_check(source, etcd_factory):
    src, _, rev = source
    src.stop()
    db = src.data_dir / "member" / "snap" / "db"
    m = etcd_factory(name="fromdb", sub="fromdb")
    r = restore(db, m)
    assert (r.returncode, r.stderr.splitlines()[-1]) == (
        1, "Error: snapshot missing hash but --skip-hash-check=false")
    r = restore(db, m, None, "restored", "--skip-hash-check")
    assert r.returncode == 0, r.stderr
    m.start()
    assert revision(m) == rev
    assert count(m, "k") == 9


def test_restore_bump_revision_marks_it_compacted(source, etcd_factory):
    _, snap, rev = source
    # The initial corruption check verifies the restored key space before
    # the member serves.
    m = etcd_factory(name="bumped", sub="bumped",
                     extra_args=("--experimental-initial-corrupt-check=true",))
    r = restore(snap, m, None, "restored", "--bump-revision", "1000")
    assert (r.returncode, r.stderr) == (
        128, "Error: --mark-compacted required if --revision-bump > 0\n")
    r = restore(snap, m, None, "restored", "--bump-revision=1000", "--mark-compacted")
    assert r.returncode == 0, r.stderr
    m.start()
    wait_log(m, "initial corruption checking passed; no corruption")
    assert revision(m) == rev + 1000
    assert count(m, "k") == 9
    r = m.etcdctl("get", "k00", f"--rev={rev}")
    assert r.returncode != 0
    assert "required revision has been compacted" in r.stderr
    m.ok("put", "next", "1")
    assert revision(m) == rev + 1001


# A snapshot of the reference etcd (bbolt) is restored by etcdutl, and
# ours by the reference: test_snapshot_bbolt.py.


def test_restore_with_a_separate_wal_dir(source, etcd_factory, tmp_path):
    _, snap, rev = source
    wal = tmp_path / "elsewhere" / "wal"
    m = etcd_factory(name="w", sub="waldir", extra_args=("--wal-dir", str(wal)))
    r = restore(snap, m, None, "restored", "--wal-dir", str(wal))
    assert r.returncode == 0, r.stderr
    assert list(wal.glob("*.wal")) and not (m.data_dir / "member" / "wal").exists()
    m.start()
    assert revision(m) == rev
    assert count(m, "k") == 9
    r = restore(snap, etcd_factory(name="w2", sub="waldir2"), None, "restored",
                "--wal-dir", str(wal))
    assert (r.returncode, r.stderr.splitlines()[-1]) == (1, f'Error: wal-dir "{wal}" exists')


# ---- defrag ----


def test_offline_defrag_shrinks_the_db_and_the_member_starts(etcd_factory):
    m = etcd_factory(name="d").start()
    kv = KvClient(m.endpoint)
    try:
        for i in range(300):
            kv.put(f"big{i:03d}", "x" * 4096)
        kv.put("keep", "me")
    finally:
        kv.close()
    m.ok("del", "big", "--prefix")
    rev = revision(m)
    m.ok("compact", str(rev))
    data_dir = str(m.data_dir)
    # A running member holds its db.
    r = etcdutl("defrag", "--data-dir", data_dir)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith(f"Error: Failed to defragment etcd data[{data_dir}] (")
    m.stop()
    db = m.data_dir / "member" / "snap" / "db"
    before = db.stat().st_size
    r = etcdutl("defrag", "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # etcd 3.5's etcdutl prints nothing on success
    logs = log_lines(r.stderr)
    assert [msg for _, msg, _ in logs] == ["defragmenting", "finished defragmenting directory"]
    assert logs[0][2]["current-db-size-bytes"] == before
    assert logs[1][2]["current-db-size-bytes"] == db.stat().st_size
    after = db.stat().st_size
    assert after * 3 < before, (before, after)
    m.start()
    assert revision(m) == rev
    assert m.ok("get", "keep", "--print-value-only") == "me\n"
    assert count(m, "big") == 0
    r = etcdutl("defrag", "--data-dir", str(m.base / "nowhere"))
    assert r.returncode == 1 and not (m.base / "nowhere").exists()


# ---- hashkv ----


def test_hashkv_matches_the_servers(source, tmp_path):
    m, snap, rev = source
    want = json.loads(m.ok("endpoint", "hashkv", "-w", "json"))[0]["HashKV"]
    at5 = json.loads(m.ok("endpoint", "hashkv", "--rev", "5", "-w", "json"))[0]["HashKV"]
    m.stop()
    db = str(m.data_dir / "member" / "snap" / "db")
    got = json.loads(ok("hashkv", db, "-w", "json"))
    assert got == {"hash": want["hash"], "hashRevision": rev,
                   "compactRevision": want["compact_revision"]}
    assert ok("hashkv", db) == f"{want['hash']}, {rev}, -1\n"
    assert ok("hashkv", db, "--rev", "5", "-w", "fields") == (
        f'"Hash" : {at5["hash"]}\n"Hash revision" : 5\n"Compact revision" : -1\n')
    # The snapshot file hashes the same, and keeps its digest.
    assert json.loads(ok("hashkv", str(snap), "-w", "json"))["hash"] == want["hash"]
    assert json.loads(ok("snapshot", "status", str(snap), "-w", "json"))["revision"] == rev
    r = etcdutl("hashkv", db, "--rev", str(rev + 5))
    assert r.returncode == 1 and r.stderr.startswith("Error: mvcc: required revision is a future")


# ---- the command line ----


def test_command_line():
    r = etcdutl("x")
    assert (r.returncode, r.stdout, r.stderr) == (
        1, "", 'Error: unknown command "x" for "etcdutl"\nRun \'etcdutl --help\' for usage.\n')
    v = ok("version").splitlines()
    assert v[0].startswith("etcdutl version: 3.5") and v[1] == "API version: 3.5"
    h = ok("--help")
    for cmd in ("defrag", "hashkv", "snapshot", "version", "help"):
        assert f"\n  {cmd} " in h
    assert "etcdctl" not in h
    sub = ok("snapshot", "--help")
    assert "restore" in sub and "status" in sub
    r = etcdutl("defrag")
    assert (r.returncode, r.stderr) == (
        1, 'Error: required flag(s) "data-dir" not set\nRun \'etcdutl --help\' for usage.\n')
