"""Durability of the single member: kill -9 in the middle of acknowledged
writes, restart from raft snapshots + WAL, clean SIGTERM shutdowns, restarts
with changed --initial-* flags, and the data-dir layout and modes."""

import base64
import json
import os
import stat
import threading
import time

import grpc
import pytest

from conftest import KvClient, free_ports

def kvs(m, prefix: str = "") -> tuple[int, dict]:
    """(header revision, {key: kv}) of every key under prefix."""
    j = json.loads(m.ok("get", prefix, "--prefix", "-w", "json"))
    out = {}
    for kv in j.get("kvs", []):
        kv = dict(kv)
        kv["key"] = base64.b64decode(kv["key"]).decode()
        kv["value"] = base64.b64decode(kv.get("value", "")).decode()
        out[kv["key"]] = kv
    return j["header"]["revision"], out


def current_revision(m) -> int:
    return json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"]["header"]["revision"]


def member_id(m) -> int:
    return json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"]["header"]["member_id"]


# ---- (a) kill -9 in the middle of a stream of acknowledged writes ----

WRITERS = 4
WRITES_PER_WRITER = 75  # 300 in all
KEYS_PER_WRITER = 25  # each key is overwritten three times


def test_kill_9_keeps_every_acknowledged_write(etcd_factory):
    m = etcd_factory().start()
    acked: list[list[tuple[str, str, int]]] = [[] for _ in range(WRITERS)]
    in_flight: list[tuple[str, str] | None] = [None] * WRITERS
    errors: list[str] = [""] * WRITERS
    stop = threading.Event()

    def writer(w: int):
        c = KvClient(m.endpoint)
        try:
            for i in range(WRITES_PER_WRITER):
                if stop.is_set():
                    return
                key, value = f"w{w}/k{i % KEYS_PER_WRITER:02d}", f"w{w}-{i}"
                in_flight[w] = (key, value)
                try:
                    rev = c.put(key, value)
                except grpc.RpcError as e:
                    errors[w] = str(e.code())
                    return  # the server is gone: this put is unacknowledged
                acked[w].append((key, value, rev))
                in_flight[w] = None
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(map(len, acked)) < WRITERS * WRITES_PER_WRITER // 2:
        assert time.monotonic() < deadline, "writes too slow"
        assert not any(errors), f"a put failed before the kill: {errors}"
        time.sleep(0.002)
    m.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    total = sum(map(len, acked))
    assert total < WRITERS * WRITES_PER_WRITER, "the kill came after every write"

    revs = sorted(rev for a in acked for _, _, rev in a)
    assert len(set(revs)) == len(revs), "two acknowledged puts share a revision"

    m.start()
    rev, got = kvs(m, "w")
    last_acked = revs[-1]
    unacked = [f for f in in_flight if f is not None]
    # Every acknowledged write is there; an unacknowledged one may be too.
    assert last_acked <= rev <= last_acked + len(unacked), (rev, last_acked, unacked)
    for w in range(WRITERS):
        latest: dict[str, tuple[str, int]] = {}
        for key, value, r in acked[w]:
            latest[key] = (value, r)
        for key, (value, r) in latest.items():
            assert key in got, f"acknowledged {key}={value} (rev {r}) lost"
            kv = got[key]
            if in_flight[w] and in_flight[w][0] == key and kv["value"] == in_flight[w][1]:
                continue  # the unacknowledged put reached the log too
            assert (kv["value"], kv["mod_revision"]) == (value, r), (key, kv, value, r)
            writes = sum(1 for k, _, _ in acked[w] if k == key)
            assert kv["version"] == writes, (key, kv, writes)
    expected_keys = {k for a in acked for k, _, _ in a}
    extra = set(got) - expected_keys - {k for k, _ in unacked}
    assert not extra, f"keys nobody wrote: {extra}"

    # The revision continues from the last one.
    m.ok("put", "after-restart", "x")
    _, after = kvs(m, "after-restart")
    assert after["after-restart"]["mod_revision"] == rev + 1


def test_kill_9_right_after_deletes_txns_and_compaction(etcd_factory):
    """The backend commits in batches (every 100 ms); what it had not
    committed at the kill is re-applied from the WAL, once: deletes,
    txns and a compaction included."""
    m = etcd_factory().start()
    c = KvClient(m.endpoint)
    try:
        for i in range(20):
            c.put(f"k{i:02d}", f"v{i}")  # revs 2..21
    finally:
        c.close()
    m.ok("del", "k03")  # 22
    m.ok("del", "k10", "k15")  # 23: k10..k14
    m.ok("txn", input='value("k04") = "v4"\n\nput k04 v4b\ndel k05\n\n\n')  # 24
    assert m.ok("compaction", "12") == "compacted revision 12\n"
    m.ok("put", "k00", "v0b")  # 25
    before = m.ok("get", "", "--prefix", "-w", "json")
    m.kill()
    m.start()
    after = m.ok("get", "", "--prefix", "-w", "json")
    jb, ja = json.loads(before), json.loads(after)
    assert ja["header"]["revision"] == jb["header"]["revision"] == 25
    assert ja["kvs"] == jb["kvs"]
    assert ja["count"] == 20 - 1 - 5 - 1
    r = m.etcdctl("get", "k00", "--rev=11")
    assert r.returncode != 0 and "required revision has been compacted" in r.stderr
    assert m.ok("get", "k10", "--rev=12") == "k10\nv10\n"
    assert m.ok("get", "k04", "--rev=23") == "k04\nv4\n"
    assert m.ok("put", "next", "x") == "OK\n"
    assert current_revision(m) == 26


# ---- (b) raft snapshots: .snap files, WAL release, restart from them ----


def snap_files(m) -> list[str]:
    return sorted(p.name for p in (m.data_dir / "member" / "snap").glob("*.snap"))


def wal_files(m) -> list[str]:
    return sorted(p.name for p in (m.data_dir / "member" / "wal").iterdir())


def test_snapshots_and_restart_from_snapshot_plus_wal(etcd_factory):
    m = etcd_factory(extra_args=("--snapshot-count=50", "--max-snapshots=2", "--max-wals=1"))
    m.start()
    c = KvClient(m.endpoint)
    try:
        for i in range(400):
            c.put(f"s/{i % 150:03d}", f"v{i}")
    finally:
        c.close()
    rev_before, before = kvs(m, "s/")
    assert len(before) == 150 and rev_before == 401

    # A raft snapshot is cut every 50 applied entries; with --max-snapshots=2
    # older .snap files go (etcd purges them within 30 s; ours at once).
    deadline = time.monotonic() + 5
    while len(snap_files(m)) > 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    snaps = snap_files(m)
    assert 1 <= len(snaps) <= 2, snaps
    applied = json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"][
        "raftAppliedIndex"]
    newest_term, newest_index = (int(x, 16) for x in snaps[-1][:-len(".snap")].split("-"))
    # A snapshot is due once more than 50 entries were applied after the last.
    assert newest_term >= 2 and applied - 51 <= newest_index <= applied, (snaps, applied)
    wals = wal_files(m)
    assert wals and all(w.endswith(".wal") for w in wals), wals  # no .tmp, no .broken

    # kill -9 and restart: state = the newest snapshot + the WAL after it.
    m.kill()
    m.start()
    rev, after = kvs(m, "s/")
    assert (rev, after) == (rev_before, before)
    assert snap_files(m)  # still there
    c = KvClient(m.endpoint)
    try:
        assert c.put("s/next", "n") == rev + 1
        for i in range(120):  # more snapshots, after the restart
            c.put(f"t/{i}", str(i))
    finally:
        c.close()
    assert snap_files(m) != snaps
    # A clean restart from the newer snapshot.
    m.stop()
    m.start()
    rev2, after2 = kvs(m, "t/")
    assert rev2 == rev + 1 + 120 and len(after2) == 120
    assert all(kv["value"] == k[2:] for k, kv in after2.items())
    assert kvs(m, "s/")[1]["s/next"]["value"] == "n"


# ---- (c) clean shutdown ----


def test_sigterm_then_restart_keeps_everything(etcd_factory):
    m = etcd_factory().start()
    mid = member_id(m)
    for i in range(1, 11):
        m.ok("put", f"k{i}", f"v{i}")  # revs 2..11
    m.ok("del", "k10")  # rev 12
    m.ok("put", "k1", "v1b")  # rev 13
    assert m.ok("compaction", "5") == "compacted revision 5\n"
    rev, before = kvs(m)

    status = m.stop()
    # etcd re-raises SIGTERM after cleaning up (killed by the signal); exit
    # status 0 is as clean. Either way the process went on its own.
    assert status in (0, -15), f"exit status {status}:\n{m.log_tail()}"

    m.start()
    assert member_id(m) == mid
    rev2, after = kvs(m)
    assert (rev2, after) == (rev, before) and rev == 13
    assert "k10" not in after
    assert after["k1"]["version"] == 2 and after["k1"]["create_revision"] == 2
    # The compaction survived the restart; history after it is intact.
    r = m.etcdctl("get", "k1", "--rev=4")
    assert r.returncode != 0
    assert "Error: etcdserver: mvcc: required revision has been compacted" in r.stderr
    assert m.ok("get", "k10", "--rev=11") == "k10\nv10\n"
    assert m.ok("get", "k1", "--rev=12") == "k1\nv1\n"
    m.ok("put", "k11", "v11")
    assert kvs(m, "k11")[1]["k11"]["mod_revision"] == 14
    # And a second clean restart in a row.
    m.stop()
    m.start()
    assert current_revision(m) == 14


def test_sigterm_during_writes(etcd_factory):
    """SIGTERM while four clients write: the member exits on its own, and
    every write it acknowledged is there after the restart."""
    m = etcd_factory().start()
    acked: list[list[str]] = [[] for _ in range(4)]

    def writer(w: int):
        c = KvClient(m.endpoint)
        try:
            for i in range(2000):
                c.put(f"t{w}/{i:04d}", str(i))
                acked[w].append(f"t{w}/{i:04d}")
        except grpc.RpcError:
            pass  # stopped
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(map(len, acked)) < 200:
        assert time.monotonic() < deadline and all(t.is_alive() for t in threads)
        time.sleep(0.01)
    status = m.stop()
    assert status in (0, -15), f"exit status {status}:\n{m.log_tail()}"
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    m.start()
    rev, got = kvs(m, "t")
    for w in range(4):
        for key in acked[w]:
            assert key in got, f"acknowledged {key} lost"
    assert sum(map(len, acked)) <= len(got) <= sum(map(len, acked)) + 4
    assert rev == 1 + len(got)


# ---- (d) --initial-* flags are ignored once the data dir exists ----


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_restart_ignores_changed_initial_flags(etcd_factory, reference):
    m = etcd_factory(reference=reference).start()
    mid = member_id(m)
    old_peer = m.peer_url
    m.ok("put", "k", "v")
    m.stop()
    # New client port, and --initial-* flags that would not even bootstrap:
    # the name is not in --initial-cluster, another token, state "existing",
    # advertised peer URLs that disagree.
    m.client_port, _ = free_ports(2)
    m.start(
        "--initial-cluster", "someone-else=http://127.0.0.1:1",
        "--initial-cluster-token", "another-token",
        "--initial-cluster-state", "existing",
        "--initial-advertise-peer-urls", "http://127.0.0.1:2",
    )
    assert member_id(m) == mid  # the id comes from the WAL, not from the token
    assert m.ok("get", "k") == "k\nv\n"
    # Peer URLs come from the stored membership; client URLs are published
    # anew at every start.
    assert m.ok("member", "list") == (
        f"{mid:x}, started, {m.name}, {old_peer}, {m.client_url}, false\n")


# ---- (e) data dir layout and modes ----


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_data_dir_layout_and_modes(etcd_factory, reference):
    m = etcd_factory(reference=reference, extra_args=("--snapshot-count=10",)).start()
    for i in range(30):
        m.ok("put", f"k{i}", "v")
    m.stop()
    d = m.data_dir

    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)

    assert mode(d) == 0o700
    for sub in ("member", "member/wal", "member/snap"):
        assert (d / sub).is_dir(), sub
        assert mode(d / sub) == 0o700, f"{sub}: {oct(mode(d / sub))}"
    wals = list((d / "member" / "wal").glob("*.wal"))
    assert wals, "no WAL segment"
    assert (d / "member" / "wal" / "0000000000000000-0000000000000000.wal").is_file()
    assert (d / "member" / "snap" / "db").is_file()
    assert list((d / "member" / "snap").glob("*.snap")), "no raft snapshot file"
    for p in d.rglob("*"):
        if p.is_file():
            if reference and p.suffix == ".snap":
                # etcd 3.4 writes .snap files 0666 & ~umask; we keep every
                # file 0600 (docs/storage.md, CVE-2020-15113).
                continue
            assert mode(p) == 0o600, f"{p.relative_to(d)}: {oct(mode(p))}"
        else:
            assert mode(p) == 0o700, f"{p.relative_to(d)}: {oct(mode(p))}"
    for w in wals:
        seq, index = w.stem.split("-")
        assert len(seq) == len(index) == 16
        int(seq, 16), int(index, 16)
    for s in (d / "member" / "snap").glob("*.snap"):
        term, index = s.stem.split("-")
        assert len(term) == len(index) == 16
