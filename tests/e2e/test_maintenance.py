"""The Maintenance service of one member: HashKV, Hash, Defragment,
Snapshot, MoveLeader, and the backend quota with its NOSPACE alarm, driven
with the reference etcdctl 3.4.23 as an operator would. Expected texts are
what etcd prints for the same commands (hashes were checked against
/usr/bin/etcd: the same writes give the same HashKV)."""

import hashlib
import json
import time

import grpc

import etcdpb
from conftest import KvClient, error_line

NO_SPACE = "Error: etcdserver: mvcc: database space exceeded"


def ok(m, *args) -> str:
    r = m.etcdctl(*args)
    assert r.returncode == 0, f"etcdctl {' '.join(args)}: rc={r.returncode} {r.stderr}"
    return r.stdout


def fails(m, *args) -> str:
    r = m.etcdctl(*args)
    assert r.returncode != 0, f"etcdctl {' '.join(args)} should fail: {r.stdout}"
    return error_line(r)


def status(m) -> dict:
    return json.loads(ok(m, "endpoint", "status", "-w", "json"))[0]["Status"]


def hashkv(m, rev: int = 0) -> dict:
    return json.loads(ok(m, "endpoint", "hashkv", "--rev", str(rev), "-w", "json"))[0]["HashKV"]


def db_file_size(m) -> int:
    return (m.data_dir / "member" / "snap" / "db").stat().st_size


# ---- HashKV ----


def test_hashkv_matches_etcd_and_survives_restart(etcd_factory):
    m = etcd_factory().start()
    ok(m, "put", "a", "1")
    ok(m, "put", "a", "2")
    # The same two puts on etcd 3.4.23 hash to these (the algorithm and the
    # stored bytes are etcd's).
    assert ok(m, "endpoint", "hashkv") == f"{m.endpoint}, 535221974\n"
    assert ok(m, "endpoint", "hashkv", "--rev", "2") == f"{m.endpoint}, 2587454935\n"
    h = hashkv(m)
    assert h["hash"] == 535221974
    assert h["compact_revision"] == -1
    assert h["header"]["revision"] == 3
    assert fails(m, "endpoint", "hashkv", "--rev", "9") == (
        "Error: etcdserver: mvcc: required revision is a future revision")

    for i in range(5):
        ok(m, "put", f"k{i % 2}", f"v{i}")
    ok(m, "compact", "5")
    assert fails(m, "endpoint", "hashkv", "--rev", "5") == (
        "Error: etcdserver: mvcc: required revision has been compacted")
    before = {rev: hashkv(m, rev) for rev in (0, 6, 8)}
    assert before[0]["compact_revision"] == 5
    # Later writes do not change the hash at an older revision.
    ok(m, "put", "k9", "later")
    assert hashkv(m, 8)["hash"] == before[8]["hash"]
    assert hashkv(m, 0)["hash"] != before[0]["hash"]
    now = hashkv(m)
    m.stop()
    m.start()
    assert hashkv(m)["hash"] == now["hash"]
    for rev in (6, 8):
        assert hashkv(m, rev)["hash"] == before[rev]["hash"]
    assert hashkv(m)["compact_revision"] == 5


def test_hash_and_hashkv_over_raw_grpc(member):
    """Maintenance.Hash (etcdctl has no command for it) and the
    hash_revision field of HashKV, which etcdctl 3.4 does not print."""
    ok(member, "put", "a", "1")
    ok(member, "put", "a", "2")
    c = etcdpb.Client(member.endpoint)
    pb = c.pb

    def hash_():
        return c.call("Maintenance", "Hash", pb.HashRequest(), pb.HashResponse, timeout=5)

    def hashkv(rev=0):
        return c.call("Maintenance", "HashKV", pb.HashKVRequest(revision=rev), pb.HashKVResponse,
                      timeout=5)

    try:
        h1 = hash_()
        assert h1.hash != 0
        assert h1.header.revision == 3
        assert hash_().hash == h1.hash
        r = hashkv(2)
        assert r.hash == 2587454935
        assert r.hash_revision == 2
        assert r.header.revision == 3  # the current one
        r = hashkv()
        assert r.hash == 535221974 and r.hash_revision == 3
        ok(member, "put", "b", "1")
        assert hash_().hash != h1.hash
    finally:
        c.close()


# ---- Defragment ----


def test_defrag_shrinks_the_db_file_and_db_size(etcd_factory):
    m = etcd_factory().start()
    c = KvClient(m.endpoint)
    try:
        value = "x" * 100_000
        for i in range(40):  # 4 MB
            c.put(f"big/{i:02d}", value)
    finally:
        c.close()
    # Writes reach the file with the next backend commit (<= 100 ms); a
    # delete before it would leave nothing to reclaim.
    deadline = time.monotonic() + 5
    while status(m)["dbSize"] < 4_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    ok(m, "del", "--prefix", "big/")
    rev = status(m)["header"]["revision"]
    assert ok(m, "compact", str(rev), "--physical") == f"compacted revision {rev}\n"
    size_before, file_before = status(m)["dbSize"], db_file_size(m)
    assert size_before > 4_000_000
    assert file_before == size_before
    assert ok(m, "defrag") == f"Finished defragmenting etcd member[{m.endpoint}]\n"
    st = status(m)
    assert st["dbSize"] < 1_000_000 < size_before
    assert db_file_size(m) < 1_000_000
    assert st["dbSizeInUse"] <= st["dbSize"]
    entries = [e for e in m.log_entries() if e.get("msg") == "finished defragmenting directory"]
    assert len(entries) == 1
    e = entries[0]
    assert e["current-db-size-bytes"] == st["dbSize"]
    assert e["current-db-size-bytes-diff"] == st["dbSize"] - size_before
    for field in ("path", "current-db-size", "current-db-size-in-use-bytes",
                  "current-db-size-in-use-bytes-diff", "current-db-size-in-use", "took"):
        assert field in e
    # The data is intact, and writes go on.
    assert ok(m, "get", "big/00") == ""
    ok(m, "put", "after", "defrag")
    assert ok(m, "get", "after") == "after\ndefrag\n"


# ---- Snapshot ----


def test_snapshot_save_writes_the_image_and_its_sha256(etcd_factory, tmp_path):
    m = etcd_factory().start()
    c = KvClient(m.endpoint)
    try:
        for i in range(20):  # several 32 kB chunks
            c.put(f"k{i}", "v" * 10_000)
    finally:
        c.close()
    path = tmp_path / "backup.db"
    r = m.etcdctl("snapshot", "save", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Snapshot saved at {path}\n"
    data = path.read_bytes()
    assert len(data) > 200_000
    assert (len(data) - 32) % 512 == 0
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]
    # The member goes on serving.
    assert ok(m, "get", "k3", "--print-value-only") == "v" * 10_000 + "\n"


# ---- MoveLeader ----


def test_move_leader_on_a_single_member(etcd_factory):
    m = etcd_factory().start()
    me = "%x" % status(m)["header"]["member_id"]
    # etcd: transferring to the leader itself succeeds at once.
    assert ok(m, "move-leader", me) == f"Leadership transferred from {me} to {me}\n"
    assert fails(m, "move-leader", "1234") == "Error: etcdserver: bad leader transferee"


# ---- alarms and the backend quota ----

QUOTA = 16 * 1024 * 1024


def fill_until_no_space(m, cap: int = 600) -> int:
    """Puts 60 kB values over a few keys until the quota refuses one;
    returns how many succeeded."""
    c = KvClient(m.endpoint)
    value = "v" * 60_000
    try:
        for i in range(cap):
            try:
                c.put(f"fill/{i % 4}", value)
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
                assert e.details() == "etcdserver: mvcc: database space exceeded"
                # The put that crossed the quota may have been refused when
                # applied (etcd's quotaApplierV3), which raises no alarm;
                # the next one is refused before Raft and raises NOSPACE.
                try:
                    c.put(f"fill/{i % 4}", value)
                    raise AssertionError("a put after database space exceeded succeeded")
                except grpc.RpcError as e2:
                    assert e2.details() == "etcdserver: mvcc: database space exceeded"
                return i
    finally:
        c.close()
    raise AssertionError(f"{cap} puts of 60 kB did not exceed a {QUOTA} byte quota")


def test_alarm_list_and_disarm_without_alarms(member):
    assert ok(member, "alarm", "list") == ""
    assert ok(member, "alarm", "disarm") == ""
    assert status(member).get("errors") is None


def test_nospace_runbook(etcd_factory):
    m = etcd_factory(extra_args=("--quota-backend-bytes", str(QUOTA))).start()
    assert any(e.get("msg") == "enabled backend quota" and e.get("quota-size-bytes") == QUOTA
               for e in m.log_entries())
    ok(m, "put", "keep", "me")
    n = fill_until_no_space(m)
    assert n > 100
    member_id = status(m)["header"]["member_id"]
    alarm = f"memberID:{member_id} alarm:NOSPACE \n"
    assert ok(m, "alarm", "list") == alarm
    assert status(m)["errors"] == [alarm.rstrip("\n")]
    assert any(e.get("msg") == "alarm raised" and e.get("alarm") == "NOSPACE"
               for e in m.log_entries())

    # Capped: puts and txns with puts fail; reads, deletes and txns
    # without puts succeed.
    assert fails(m, "put", "small", "x") == NO_SPACE
    r = m.etcdctl("txn", input="\nput t x\n\n\n")
    assert r.returncode != 0 and error_line(r) == NO_SPACE
    assert ok(m, "get", "keep") == "keep\nme\n"
    assert ok(m, "del", "keep") == "1\n"
    # A put in either branch counts (etcd's cost is the larger branch's).
    r = m.etcdctl("txn", input="\nget fill/0 --keys-only\n\nput t x\n\n")
    assert r.returncode != 0 and error_line(r) == NO_SPACE
    r = m.etcdctl("txn", input="\nget fill/0 --keys-only\n\n\n")
    assert r.returncode == 0 and r.stdout == "SUCCESS\n\nfill/0\n\n"

    # The alarm is persisted: it survives a restart, and so does the cap.
    m.stop()
    m.start()
    assert ok(m, "alarm", "list") == alarm
    assert fails(m, "put", "small", "x") == NO_SPACE

    # The runbook: compact to the current revision, defragment, disarm.
    rev = status(m)["header"]["revision"]
    assert ok(m, "compact", str(rev), "--physical") == f"compacted revision {rev}\n"
    size_before = status(m)["dbSize"]
    assert ok(m, "defrag") == f"Finished defragmenting etcd member[{m.endpoint}]\n"
    size_after = status(m)["dbSize"]
    assert size_after < size_before // 4
    assert db_file_size(m) == size_after
    # Still capped until disarmed.
    assert fails(m, "put", "small", "x") == NO_SPACE
    assert ok(m, "alarm", "disarm") == alarm
    assert ok(m, "alarm", "list") == ""
    assert status(m).get("errors") is None
    assert ok(m, "put", "small", "x") == "OK\n"
    assert ok(m, "get", "small", "--print-value-only") == "x\n"
    assert any(e.get("msg") == "alarm disarmed" and e["level"] == "warn" for e in m.log_entries())
    # Disarmed for good: a restart does not bring it back.
    m.stop()
    m.start()
    assert ok(m, "alarm", "list") == ""
    assert ok(m, "put", "small", "y") == "OK\n"
