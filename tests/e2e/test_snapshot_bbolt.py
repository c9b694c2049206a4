"""Snapshots in etcd's format (bbolt) across ours and the reference etcd
3.4.23: a snapshot of ours restored by the reference's etcdctl and served
by the reference etcd; a snapshot (or a member/snap/db) of the reference
restored by our etcdutl and served by ours, with the same `snapshot
status`; and raft snapshots sent between members of a mixed cluster, a
leader of ours catching up a reference follower and the reverse."""

import base64
import json
import pathlib
import shutil
import subprocess

import pytest

from cluster import CLUSTER_TIMEOUT_S, OURS, REF, Cluster, write_entries, log_tails_on_failure
from conftest import REFERENCE_ETCDCTL, binary, clean_env, etcdctl_env

# The reference and ours keep this many entries behind a snapshot for
# slow followers (snapshotCatchUpEntries, fixed in 3.4).
SNAPSHOT_CATCHUP_ENTRIES = 5000
SNAPSHOT_COUNT = 100


def ref_etcdctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(REFERENCE_ETCDCTL), *args], env=etcdctl_env(),
                          capture_output=True, text=True, timeout=timeout)


def our_etcdctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary("etcdctl")), *args], env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def etcdutl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary("etcdutl")), *args], env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def must(r: subprocess.CompletedProcess, what: str) -> str:
    assert r.returncode == 0, f"{what}: rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def ref_status(path: pathlib.Path) -> dict:
    return json.loads(must(ref_etcdctl("snapshot", "status", str(path), "-w", "json"),
                           "reference snapshot status"))


def our_status(path: pathlib.Path) -> dict:
    return json.loads(must(etcdutl("snapshot", "status", str(path), "-w", "json"),
                           "etcdutl snapshot status"))


def is_bbolt(path: pathlib.Path) -> bool:
    head = path.read_bytes()[:24]
    return len(head) == 24 and head[16:20] == bytes([0xED, 0xDA, 0x0C, 0xED])


def fill(m, n: int = 20) -> int:
    """Keys s00..s(n-1), some overwritten, one deleted, a lease; returns the
    revision."""
    for i in range(n):
        m.ok("put", f"s{i:02d}", f"v{i}")
    m.ok("put", "s00", "again")
    m.ok("del", "s01")
    return revision(m)


def revision(m) -> int:
    return json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"]["header"]["revision"]


def contents(m, prefix: str = "s") -> dict:
    """key -> (value, create, mod, version) under `prefix`, read from m's
    own store."""
    out = json.loads(m.ok("get", prefix, "--prefix", "--consistency=s", "-w", "json"))
    return {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv.get("value", "")).decode(),
                                                   kv["create_revision"], kv["mod_revision"],
                                                   kv["version"])
            for kv in out.get("kvs", [])}


def restore_args(m, snap: pathlib.Path, token: str = "restored") -> list[str]:
    return ["snapshot", "restore", str(snap), "--name", m.name, "--data-dir", str(m.data_dir),
            "--initial-cluster", f"{m.name}={m.peer_url}", "--initial-cluster-token", token,
            "--initial-advertise-peer-urls", m.peer_url]


# ---- a snapshot of ours, restored and served by the reference -------------------


@pytest.mark.parametrize("saver", ["ours", "reference"])
def test_our_snapshot_is_restored_by_the_reference(etcd_factory, tmp_path, saver):
    src = etcd_factory(name="src").start()
    rev = fill(src)
    want = contents(src)
    snap = tmp_path / "ours.db"
    save = our_etcdctl if saver == "ours" else ref_etcdctl
    must(save(f"--endpoints={src.endpoint}", "snapshot", "save", str(snap)), "snapshot save")
    assert is_bbolt(snap), "the snapshot is not a bbolt file"
    assert snap.stat().st_size % 4096 == 32  # whole pages and the SHA-256

    # The reference reads it (its bolt check included), as ours does.
    ref = ref_status(snap)
    assert ref["revision"] == rev
    assert our_status(snap) == ref

    dst = etcd_factory(name="dst", reference=True, sub="restored")
    must(ref_etcdctl(*restore_args(dst, snap)), "reference snapshot restore")
    dst.start()
    assert revision(dst) == rev
    assert contents(dst) == want
    dst.ok("put", "after", "1")
    assert revision(dst) == rev + 1


# ---- a snapshot of the reference, restored and served by ours -------------------


def test_a_reference_snapshot_is_restored_by_etcdutl(etcd_factory, tmp_path):
    src = etcd_factory(name="ref", reference=True).start()
    rev = fill(src, 30)
    want = contents(src)
    snap = tmp_path / "ref.db"
    must(ref_etcdctl(f"--endpoints={src.endpoint}", "snapshot", "save", str(snap)),
         "reference snapshot save")
    assert is_bbolt(snap)

    ref = ref_status(snap)
    assert ref["revision"] == rev
    assert our_status(snap) == ref
    # The table and simple outputs carry the same numbers.
    r_table = must(ref_etcdctl("snapshot", "status", str(snap), "-w", "table"), "ref table")
    o_table = must(etcdutl("snapshot", "status", str(snap), "-w", "table"), "our table")
    assert o_table == r_table
    # Our etcdctl's deprecated `snapshot status` is etcdutl's.
    ctl = our_etcdctl("snapshot", "status", str(snap), "-w", "json")
    assert json.loads(must(ctl, "etcdctl snapshot status")) == ref

    dst = etcd_factory(name="dst", sub="restored")
    must(etcdutl(*restore_args(dst, snap)), "etcdutl snapshot restore")
    dst.start()
    assert revision(dst) == rev
    assert contents(dst) == want
    dst.ok("put", "after", "1")
    assert revision(dst) == rev + 1

    # A damaged snapshot is refused by its digest.
    bad = tmp_path / "bad.db"
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    dst2 = etcd_factory(name="dst2", sub="damaged")
    r = etcdutl(*restore_args(dst2, bad))
    assert r.returncode != 0 and "expected sha256" in r.stderr, r.stderr
    assert not dst2.data_dir.exists()


def test_a_reference_db_file_is_restored_with_skip_hash_check(etcd_factory, tmp_path):
    src = etcd_factory(name="ref", reference=True).start()
    rev = fill(src, 10)
    want = contents(src)
    src.stop()
    db = tmp_path / "db"
    shutil.copyfile(src.data_dir / "member" / "snap" / "db", db)
    assert is_bbolt(db)

    assert our_status(db) == ref_status(db)

    dst = etcd_factory(name="dst", sub="restored")
    r = etcdutl(*restore_args(dst, db))
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] == (
        "Error: snapshot missing hash but --skip-hash-check=false")
    must(etcdutl(*restore_args(dst, db), "--skip-hash-check"), "restore --skip-hash-check")
    dst.start()
    assert revision(dst) == rev
    assert contents(dst) == want


# ---- raft snapshots between members of a mixed cluster --------------------------


def kvs(c: Cluster, prefix: str, member: int) -> dict:
    out = json.loads(c.ok("get", prefix, "--prefix", "--consistency=s", "-w", "json",
                          member=member))
    return {kv["key"]: (kv.get("value"), kv["mod_revision"]) for kv in out.get("kvs", [])}


CATCHUP = {
    # (kinds, the kind of the leader, the kind of the lagging follower)
    "ours-leads-ref": ([OURS, OURS, REF], OURS, REF),
    "ref-leads-ours": ([REF, REF, OURS], REF, OURS),
}


@pytest.mark.mixed
@pytest.mark.parametrize("case", list(CATCHUP.values()), ids=list(CATCHUP))
def test_mixed_cluster_catches_up_a_follower_with_a_snapshot(tmp_path, case):
    kinds, lead_kind, lag_kind = case
    c = Cluster(tmp_path / "c", kinds, extra_args=(f"--snapshot-count={SNAPSHOT_COUNT}",))
    try:
        c.start()
        lag = kinds.index(lag_kind)
        lead = c.leader()
        if kinds[lead] != lead_kind:
            target = next(i for i, k in enumerate(kinds) if k == lead_kind)
            c.ok("move-leader", f"{c.member_id(target):x}", member=lead)
            lead = c.leader()
        assert kinds[lead] == lead_kind
        c.ok("put", "pre", "1")
        c.wait_key("pre", "1", lag)

        c.stop(lag)
        rest = [i for i in range(len(kinds)) if i != lag]
        # Enough entries that the leader's log no longer holds what the
        # stopped member lacks: a snapshot every SNAPSHOT_COUNT entries,
        # each keeping SNAPSHOT_CATCHUP_ENTRIES behind it.
        write_entries(c, SNAPSHOT_CATCHUP_ENTRIES + 3 * SNAPSHOT_COUNT, "w/", members=rest,
                      value_size=32)
        c.ok("put", "last", "L", member=rest)
        assert c.leader(rest) == lead, "the leader changed while the follower was down"

        c.restart(lag, wait=False)
        c.wait_key("last", "L", lag, timeout=2 * CLUSTER_TIMEOUT_S)
        c.members[lag].wait_healthy(timeout=CLUSTER_TIMEOUT_S)
        log = c.members[lag].log_text()
        assert "received and saved database snapshot" in log, (
            "the follower was not caught up by a snapshot")
        # The same keyspace and revision as the leader's.
        assert kvs(c, "w/", lag) == kvs(c, "w/", lead)
        assert kvs(c, "pre", lag) == kvs(c, "pre", lead)
        st_lag, st_lead = c.status(lag), c.status(lead)
        assert st_lag["header"]["revision"] == st_lead["header"]["revision"]
        # ... and it goes on with the cluster.
        c.ok("put", "post", "P", member=lag)
        for i in range(len(kinds)):
            c.wait_key("post", "P", i)
    finally:
        c.close()
