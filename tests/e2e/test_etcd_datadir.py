"""An etcd 3.4 data dir in and out: the reference etcd writes a data set,
ours starts on the same data dir (importing member/snap/db from bbolt to
LMDB at start) and answers as the reference did; ours writes more,
`etcdutl migrate-to-etcd` hands the dir back, and the reference starts on it
and sees everything. Also: kill -9 at random points of the import, and a
half-made bbolt data dir (db without WAL).

The comparisons use the reference etcdctl's -w json outputs against both
servers (header revisions, every key's create/mod revision and version,
leases, members, alarms, users and roles)."""

import filecmp
import json
import pathlib
import random
import shutil
import time

import pytest

from conftest import KvClient, run, wait_log

ROOT_AUTH = ("--user", "root:rootpw")
BBOLT_MAGIC = 0xED0CDAED


def is_bbolt(path: pathlib.Path) -> bool:
    """bbolt's meta page: the magic at offset 16 (page header) of page 0."""
    with open(path, "rb") as f:
        head = f.read(32)
    return len(head) >= 20 and int.from_bytes(head[16:20], "little") == BBOLT_MAGIC


def snap_dir(data_dir: pathlib.Path) -> pathlib.Path:
    return data_dir / "member" / "snap"


def same_ports(p, q):
    """Makes q listen where p listened: the member's URLs are in its data."""
    q.client_port, q.peer_port = p.client_port, p.peer_port


def start_with_auth(m, timeout: float = 20.0):
    """Starts m and waits until root can read (auth is on in the data set,
    so `endpoint health` without a user is refused)."""
    m.start(wait=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert m.running(), f"etcd exited:\n{m.log_tail()}"
        r = m.etcdctl(*ROOT_AUTH, "endpoint", "health", "--command-timeout=2s",
                      "--dial-timeout=1s", timeout=6)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"not healthy for root after {timeout}s:\n{m.log_tail()}")


def ctl(m, *args):
    return m.ok(*ROOT_AUTH, *args)


def ctl_json(m, *args):
    return json.loads(ctl(m, *args, "-w", "json"))


def observe(m, lease_ids) -> dict:
    """What a client sees, through the reference etcdctl."""
    get = ctl_json(m, "get", "", "--prefix")
    out = {
        "revision": get["header"]["revision"],
        "kvs": get.get("kvs", []),
        "count": get.get("count", 0),
        "members": sorted(
            (x["ID"], x["name"], tuple(x["peerURLs"]), tuple(x.get("clientURLs", [])))
            for x in ctl_json(m, "member", "list")["members"]),
        "alarms": ctl(m, "alarm", "list"),
        "users": ctl(m, "user", "list"),
        "roles": ctl(m, "role", "list"),
        "user_u1": ctl(m, "user", "get", "u1"),
        "role_r1": ctl(m, "role", "get", "r1"),
        # Auth is on: no user, and a user outside its role's range, are refused.
        "no_user": m.etcdctl("get", "a").stderr.strip().splitlines()[-1:],
        "u1_denied": m.etcdctl("--user", "u1:u1pw", "get", "a").stderr.strip().splitlines()[-1:],
        "u1_allowed": m.etcdctl("--user", "u1:u1pw", "get", "k/1", "--print-value-only").stdout,
        "leases": [],
    }
    # A compacted revision reads as such on both.
    r = m.etcdctl(*ROOT_AUTH, "get", "a", "--rev=1")
    out["compacted"] = (r.returncode, r.stderr.strip().splitlines()[-1:] if r.stderr else [])
    # The history below the current revision (versions of "a").
    hist = ctl_json(m, "get", "a", f"--rev={out['revision'] - 1}")
    out["a_before"] = hist.get("kvs", [])
    for lid in lease_ids:
        t = ctl_json(m, "lease", "timetolive", format(lid, "x"), "--keys")
        out["leases"].append({"id": t["id"], "granted": t["granted-ttl"], "ttl": t["ttl"],
                              "keys": sorted(t.get("keys") or [])})
    return out


def assert_same(ref: dict, ours: dict):
    """Everything equal except the lease TTLs, which tick (roughly equal)."""
    a = dict(ref, leases=None)
    b = dict(ours, leases=None)
    assert a == b
    assert len(ref["leases"]) == len(ours["leases"])
    for x, y in zip(ref["leases"], ours["leases"]):
        assert (x["id"], x["granted"], x["keys"]) == (y["id"], y["granted"], y["keys"])
        assert y["ttl"] > 0 and abs(x["ttl"] - y["ttl"]) <= 60, (x, y)


def write_reference_data(ref) -> list[int]:
    """The data set: versions, deletes, a txn, leases with keys, a
    compaction, users and roles with auth on, a NOSPACE alarm."""
    for v in ("1", "2", "3"):
        ref.ok("put", "a", v)
    ref.ok("put", "b", "x")
    ref.ok("put", "c", "gone")
    ref.ok("del", "c")
    ref.ok("txn", input='value("a") = "3"\n\nput t1 yes\nput t2 yes\n\nput t3 no\n\n')
    leases = []
    for ttl in (600, 900):
        g = json.loads(ref.ok("lease", "grant", str(ttl), "-w", "json"))
        leases.append(g["ID"])
        ref.ok("put", f"leased/{ttl}", "v", "--lease", format(g["ID"], "x"))
    rev = json.loads(ref.ok("get", "a", "-w", "json"))["header"]["revision"]
    ref.ok("compact", str(rev - 2))
    ref.ok("put", "a", "4")
    ref.ok("user", "add", "root:rootpw")
    ref.ok("role", "add", "r1")
    ref.ok("role", "grant-permission", "r1", "readwrite", "k/", "k0")
    ref.ok("user", "add", "u1:u1pw")
    ref.ok("user", "grant-role", "u1", "r1")
    ref.ok("auth", "enable")
    ctl(ref, "put", "k/1", "by-root")
    r = ref.etcdctl("--user", "u1:u1pw", "put", "k/2", "by-u1")
    assert r.returncode == 0, r.stderr
    # Past the quota: the put fails and NOSPACE is raised.
    r = ref.etcdctl(*ROOT_AUTH, "put", "big", input="x" * 300000)
    assert r.returncode != 0 and "database space exceeded" in r.stderr, r.stderr
    assert "NOSPACE" in ctl(ref, "alarm", "list")
    return leases


@pytest.fixture
def ref_data(etcd_factory):
    """A reference 3.4 data dir with the data set, stopped; its observation."""
    ref = etcd_factory(reference=True, name="m1",
                       extra_args=("--quota-backend-bytes", "200000"))
    ref.start()
    leases = write_reference_data(ref)
    seen = observe(ref, leases)
    ref.stop()
    db = snap_dir(ref.data_dir) / "db"
    assert is_bbolt(db)
    return ref, leases, seen


def test_ours_starts_on_an_etcd_data_dir_and_hands_it_back(etcd_factory, ref_data):
    ref, leases, seen_ref = ref_data
    db = snap_dir(ref.data_dir) / "db"
    original = ref.base / "db.original"
    shutil.copyfile(db, original)

    ours = etcd_factory(name="m1", data_dir=ref.data_dir)
    same_ports(ref, ours)
    start_with_auth(ours)
    e = wait_log(ours, "imported etcd bbolt db; the original is kept until the operator removes it")
    assert e["source"] == str(db)
    assert e["keys"] > 0 and e["bytes"] > 0 and "took" in e
    assert e["original-kept-at"] == str(db) + ".etcd-bbolt"
    assert not is_bbolt(db)
    assert filecmp.cmp(str(db) + ".etcd-bbolt", original, shallow=False)
    assert not (snap_dir(ref.data_dir) / "db.import.tmp").exists()
    assert not (snap_dir(ref.data_dir) / "db.import.tmp-lock").exists()

    seen_ours = observe(ours, leases)
    assert_same(seen_ref, seen_ours)

    # Ours writes more, then hands the dir back.
    ctl(ours, "alarm", "disarm")
    ctl(ours, "put", "after", "ours")
    ctl(ours, "put", "a", "5")
    ctl(ours, "del", "b")
    seen_ours2 = observe(ours, leases)
    assert seen_ours2["revision"] == seen_ours["revision"] + 3
    assert ours.stop() is not None
    # A restart of ours does not import again.
    start_with_auth(ours)
    assert sum(1 for x in ours.log_entries() if x.get("msg", "").startswith("imported etcd")) == 1
    assert_same(seen_ours2, observe(ours, leases))
    ours.stop()

    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(ref.data_dir))
    assert r.returncode == 0, r.stderr
    assert is_bbolt(db)
    assert (snap_dir(ref.data_dir) / "db.lmdb-backup").exists()
    assert not (snap_dir(ref.data_dir) / "db-lock").exists()
    assert not (snap_dir(ref.data_dir) / "db.bbolt.tmp").exists()
    # Idempotent.
    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(ref.data_dir))
    assert r.returncode == 0 and "already" in r.stdout, r.stdout + r.stderr

    ref2 = etcd_factory(reference=True, name="m1", data_dir=ref.data_dir, sub="ref2")
    same_ports(ref, ref2)
    start_with_auth(ref2)
    assert_same(seen_ours2, observe(ref2, leases))
    ctl(ref2, "put", "ref-again", "1")
    ref2.stop()


def test_migrate_refuses_a_running_member(etcd_factory):
    m = etcd_factory().start()
    m.ok("put", "k", "v")
    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(m.data_dir))
    assert r.returncode == 1
    assert "a member is running on this data dir" in r.stderr, r.stderr
    assert not is_bbolt(snap_dir(m.data_dir) / "db")
    assert not (snap_dir(m.data_dir) / "db.bbolt.tmp").exists()
    m.stop()
    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(m.base / "nowhere"))
    assert r.returncode == 1 and "no member db" in r.stderr, r.stderr


def count_keys(m) -> tuple[int, int]:
    j = json.loads(m.ok("get", "", "--prefix", "--limit=1", "-w", "json"))
    return j["header"]["revision"], j["count"]


def test_kill_during_import_leaves_a_startable_dir(etcd_factory, tmp_path):
    ref = etcd_factory(reference=True, name="m1")
    ref.start()
    kv = KvClient(ref.endpoint)
    val = "v" * 2000
    for i in range(6000):
        kv.put(f"key/{i:05d}", val)
    kv.close()
    want = count_keys(ref)
    ref.stop()
    pristine = tmp_path / "pristine"
    shutil.copytree(ref.data_dir, pristine)
    pristine_db = snap_dir(pristine) / "db"

    rng = random.Random(7)
    outcomes = {"bbolt": 0, "imported": 0, "killed-while-importing": 0}
    for i in range(8):
        d = tmp_path / f"run{i}"
        shutil.copytree(pristine, d)
        ours = etcd_factory(name="m1", data_dir=d, sub=f"ours{i}")
        same_ports(ref, ours)
        ours.start(wait=False)
        time.sleep(rng.uniform(0.0, 0.4))  # the import of this db takes ~150 ms here
        ours.kill()
        msgs = [e.get("msg", "") for e in ours.log_entries()]
        if "importing etcd bbolt db" in msgs and not any(m.startswith("imported") for m in msgs):
            outcomes["killed-while-importing"] += 1
        db = snap_dir(d) / "db"
        keep = snap_dir(d) / "db.etcd-bbolt"
        ref_ran = False
        if is_bbolt(db):
            outcomes["bbolt"] += 1
            # The original is whole: etcd byte for byte.
            assert filecmp.cmp(db, pristine_db, shallow=False)
            if outcomes["bbolt"] == 1:
                r2 = etcd_factory(reference=True, name="m1", data_dir=d, sub=f"ref{i}")
                same_ports(ref, r2)
                r2.start()
                assert count_keys(r2)[1] == want[1]
                r2.stop()
                ref_ran = True  # it wrote to the db: no longer the pristine one
        else:
            outcomes["imported"] += 1
            assert filecmp.cmp(keep, pristine_db, shallow=False)
        ours.start()
        rev, n = count_keys(ours)
        assert n == want[1] and rev >= want[0]
        assert not is_bbolt(db) and is_bbolt(keep)
        assert ref_ran or filecmp.cmp(keep, pristine_db, shallow=False)
        assert not (snap_dir(d) / "db.import.tmp").exists()
        assert not (snap_dir(d) / "db.import.tmp-lock").exists()
        ours.stop()
        shutil.rmtree(d, ignore_errors=True)
    print("kill outcomes", outcomes)
    assert outcomes["bbolt"] + outcomes["imported"] == 8, outcomes


def test_half_made_bbolt_data_dir_is_refused(etcd_factory):
    ref = etcd_factory(reference=True, name="m1")
    ref.start()
    ref.ok("put", "k", "v")
    ref.stop()
    shutil.rmtree(ref.data_dir / "member" / "wal")
    db = snap_dir(ref.data_dir) / "db"
    before = db.read_bytes()
    ours = etcd_factory(name="m1", data_dir=ref.data_dir)
    same_ports(ref, ours)
    ours.start(wait=False)
    rc = ours.wait_exit(timeout=15)
    assert rc != 0
    log = ours.log_text()
    assert "is half-made" in log and "(an etcd bbolt db)" in log and "there is no WAL" in log, log
    assert db.read_bytes() == before
    assert not (snap_dir(ref.data_dir) / "db.import.tmp").exists()
    assert not (snap_dir(ref.data_dir) / "db.etcd-bbolt").exists()


def test_a_data_dir_ours_made_goes_to_etcd(etcd_factory):
    """Made by ours from scratch (LMDB db, our WAL), handed to etcd 3.4."""
    ours = etcd_factory(name="m1").start()
    for v in ("1", "2"):
        ours.ok("put", "a", v)
    ours.ok("put", "b", "x")
    ours.ok("del", "b")
    g = json.loads(ours.ok("lease", "grant", "600", "-w", "json"))
    ours.ok("put", "leased", "v", "--lease", format(g["ID"], "x"))
    before = json.loads(ours.ok("get", "", "--prefix", "-w", "json"))
    members = json.loads(ours.ok("member", "list", "-w", "json"))["members"]
    ours.stop()
    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(ours.data_dir))
    assert r.returncode == 0, r.stderr
    assert "Migrated" in r.stdout
    ref = etcd_factory(reference=True, name="m1", data_dir=ours.data_dir)
    same_ports(ours, ref)
    ref.start()
    after = json.loads(ref.ok("get", "", "--prefix", "-w", "json"))
    assert after["header"]["revision"] == before["header"]["revision"]
    assert after["kvs"] == before["kvs"]
    assert [(m["ID"], m["name"], m["peerURLs"]) for m in
            json.loads(ref.ok("member", "list", "-w", "json"))["members"]] == \
        [(m["ID"], m["name"], m["peerURLs"]) for m in members]
    t = json.loads(ref.ok("lease", "timetolive", format(g["ID"], "x"), "--keys", "-w", "json"))
    assert t["granted-ttl"] == 600 and 0 < t["ttl"] <= 600
    ref.ok("put", "c", "by-etcd")
    ref.stop()
    # And back to ours: imported again (the older kept original replaced).
    ours.start()
    assert json.loads(ours.ok("get", "c", "-w", "json"))["kvs"][0]["value"] == "YnktZXRjZA=="


def test_migrate_caps_the_cluster_version_of_snap_files_for_etcd_34(etcd_factory, tmp_path):
    """Ours decides cluster version 3.5 and a .snap file it takes carries it
    in its v2 store; etcd 3.4.23 refuses that ("cluster cannot be
    downgraded") unless migrate-to-etcd caps it at 3.4 (its default)."""
    ours = etcd_factory(name="m1", extra_args=("--snapshot-count", "5")).start()
    time.sleep(1)  # the cluster version is decided
    for i in range(20):
        ours.ok("put", f"k{i}", "v")
    want = json.loads(ours.ok("get", "", "--prefix", "-w", "json"))
    ours.stop()
    assert list(snap_dir(ours.data_dir).glob("*.snap"))
    keep = tmp_path / "copy"
    shutil.copytree(ours.data_dir, keep)

    # --target-version 3.5 leaves the .snap files: 3.4.23 refuses.
    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(keep), "--target-version", "3.5")
    assert r.returncode == 0, r.stderr
    ref = etcd_factory(reference=True, name="m1", data_dir=keep, sub="ref35")
    same_ports(ours, ref)
    ref.start(wait=False)
    assert ref.wait_exit(timeout=15) != 0
    assert "cluster cannot be downgraded" in ref.log_text()

    r = run("etcdutl", "migrate-to-etcd", "--data-dir", str(ours.data_dir))
    assert r.returncode == 0, r.stderr
    ref = etcd_factory(reference=True, name="m1", data_dir=ours.data_dir, sub="ref34")
    same_ports(ours, ref)
    ref.start()
    got = json.loads(ref.ok("get", "", "--prefix", "-w", "json"))
    assert got["header"]["revision"] == want["header"]["revision"]
    assert got["kvs"] == want["kvs"]
    ref.stop()
