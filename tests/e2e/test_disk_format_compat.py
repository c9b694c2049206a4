"""Our WAL and .snap files against etcd 3.4.23's, byte for byte where the
format allows and record by record where it does not.

The reference etcd and ours run one after the other with IDENTICAL flags
(--name, peer and client URLs, --initial-cluster, --initial-cluster-token,
--snapshot-count) on their own data dirs, take the same writes and stop.
Their member and cluster ids are then the same (both derive from the
peer URLs and the token), so the WAL's head records (crc, metadata,
snapshot marker), the bootstrap conf change entry (etcd's gogoproto
encoding of raftpb, the member's JSON as its context), hard states of the
same values, the snapshot markers and the .snap file's raft metadata must
be the same bytes. Entries whose content differs (etcd 3.4 publishes its
attributes as a v2 request, we as etcd 3.5's ClusterMemberAttrSet; request
ids differ) are compared by what they decode to only. The files are decoded with the
small independent reader in diskformat.py (framing, padding, CRC chain).

Then the files cross over: the reference's `etcdctl backup` reads our
data dir and the reference etcd starts on the backup; each server starts
on a WAL the other wrote; our `etcdctl backup` reads the reference's WAL
and .snap. The db is left out of every crossing (ours is LMDB, etcd's is
bbolt): only the WAL and the .snap files move.
"""

import base64
import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest
from google.protobuf.message import DecodeError

import diskformat as df
import etcdpb
from conftest import BIN, REFERENCE_ETCDCTL, clean_env

OURS, REF = "ours", "ref"
TOKEN = "disk-format-compat"
KEYS = 15
SNAPSHOT_COUNT = 10  # both snapshot once within KEYS puts

raftpb = etcdpb.module("raftpb/raft")
serverpb = etcdpb.module("etcdserverpb/etcdserver")
internalpb = etcdpb.module("serverpb/raft_internal")
walpb = etcdpb.module("walpb/record")


def v2_set(m, key, value):
    req = urllib.request.Request(f"{m.client_url}/v2/keys/{key}", method="PUT",
                                 data=urllib.parse.urlencode({"value": value}).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status in (200, 201)


def v2_get(m, key):
    try:
        with urllib.request.urlopen(f"{m.client_url}/v2/keys/{key}", timeout=10) as r:
            return json.load(r)["node"]["value"]
    except urllib.error.HTTPError as e:
        assert e.code == 404
        return None


def v3_keys(m):
    out = m.json("get", "k", "--prefix")
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in out.get("kvs", [])}


def write_and_stop(etcd_factory, kind, ports, snapshot_count, sub=None):
    """One member of `kind` on `ports` (client, peer), KEYS v3 puts and one
    v2 set, stopped. The flags are the same for both kinds."""
    m = etcd_factory(reference=kind == REF, sub=sub or kind, extra_args=(
        f"--initial-cluster-token={TOKEN}", f"--snapshot-count={snapshot_count}",
        "--enable-v2"))
    if ports is not None:
        m.client_port, m.peer_port = ports
    m.start()
    for i in range(KEYS):
        m.ok("put", f"k{i:02d}", f"v{i}")
    v2_set(m, "v2k/a", "b")
    m.stop()
    return m


def decode_entry(e):
    """What an entry carries, as a comparable tuple."""
    if e.type == raftpb.EntryConfChange:
        cc = raftpb.ConfChange.FromString(e.data)
        return ("confchange", cc.type, cc.node_id, json.loads(cc.context))
    if not e.data:
        return ("empty",)
    try:  # etcd's own order: an InternalRaftRequest, else a raw v2 Request
        r = internalpb.InternalRaftRequest.FromString(e.data)
        if r.HasField("put"):
            return ("put", r.put.key.decode(), r.put.value.decode())
        if r.HasField("v2"):
            return ("v2", r.v2.method, r.v2.path)
        return ("v3", tuple(f.name for f, _ in r.ListFields() if f.name != "header"))
    except DecodeError:
        r = serverpb.Request.FromString(e.data)
        return ("v2", r.method, r.path)


class Wal:
    def __init__(self, data_dir):
        self.dir = data_dir / "member" / "wal"
        self.records = df.read_wal(self.dir)
        self.entries = {}
        self.states = []
        self.snap_markers = []
        for r in self.records:
            if r.type == df.ENTRY:
                e = raftpb.Entry.FromString(r.data)
                assert e.index >= 1 and e.term >= 1
                self.entries[e.index] = e  # a later record wins (none here: one member)
            elif r.type == df.STATE:
                self.states.append(raftpb.HardState.FromString(r.data))
            elif r.type == df.SNAPSHOT:
                self.snap_markers.append((walpb.Snapshot.FromString(r.data), r.data))
        self.indexes = sorted(self.entries)
        first = self.indexes[0] if self.indexes else 1
        assert self.indexes == list(range(first, first + len(self.indexes))), "not contiguous"
        self.decoded = [decode_entry(self.entries[i]) for i in self.indexes]
        self.metadata = serverpb.Metadata.FromString(
            next(r.data for r in self.records if r.type == df.METADATA))


def only_snap(data_dir):
    snaps = sorted((data_dir / "member" / "snap").glob("*.snap"))
    assert len(snaps) == 1, snaps
    return snaps[0]


def test_wal_and_snap_match_the_reference(etcd_factory):
    ref = write_and_stop(etcd_factory, REF, None, SNAPSHOT_COUNT)
    ours = write_and_stop(etcd_factory, OURS, (ref.client_port, ref.peer_port), SNAPSHOT_COUNT)
    w = {REF: Wal(ref.data_dir), OURS: Wal(ours.data_dir)}

    # Same segment names and preallocated size.
    assert [p.name for p in df.segments(w[OURS].dir)] == [p.name for p in df.segments(w[REF].dir)]
    first = df.segments(w[REF].dir)[0]
    assert first.name == "0000000000000000-0000000000000000.wal"
    assert df.segments(w[OURS].dir)[0].stat().st_size == first.stat().st_size

    # The head: crc record, metadata, the empty snapshot marker; same bytes.
    for kind in (REF, OURS):
        assert [r.type for r in w[kind].records[:3]] == [df.CRC, df.METADATA, df.SNAPSHOT], kind
    for i in range(3):
        assert w[OURS].records[i].raw == w[REF].records[i].raw, f"head record {i}"
    # etcdserverpb.Metadata with both fields, the ids the flags give.
    md = w[REF].metadata
    assert md.node_id != 0 and md.cluster_id != 0
    assert w[OURS].records[1].data == b"\x08" + _varint(md.node_id) + b"\x10" + _varint(
        md.cluster_id)

    # The bootstrap conf change is the same record, byte for byte (same
    # data, same CRC chain up to it): {"id","peerURLs","name"} in etcd's
    # order inside a gogoproto ConfChange inside a gogoproto Entry.
    for kind in (REF, OURS):
        assert w[kind].records[3].type == df.ENTRY, kind
    assert w[OURS].records[3].raw == w[REF].records[3].raw, (
        w[OURS].records[3].data, w[REF].records[3].data)
    cc = raftpb.ConfChange.FromString(w[REF].entries[1].data)
    assert cc.context == (b'{"id":%d,"peerURLs":["%s"],"name":"%s"}' % (
        md.node_id, ref.peer_url.encode(), ref.name.encode())), cc.context
    # Every entry starts with type, term and index, zeros written (etcd's
    # gogoproto form); the new leader's empty entry is the same bytes.
    for kind in (REF, OURS):
        for i in w[kind].indexes:
            e = w[kind].entries[i]
            head = b"\x08" + _varint(e.type) + b"\x10" + _varint(e.term) + b"\x18" + _varint(i)
            raw = _entry_data(w[kind], i)
            assert raw.startswith(head), (kind, i, raw[:16])
    assert _entry_data(w[OURS], 2) == _entry_data(w[REF], 2) == b"\x08\x00\x10\x02\x18\x02"

    # The log: the bootstrap conf change first (the member, by id and
    # peer URL), the new leader's empty entry, then the same puts in order.
    for kind in (REF, OURS):
        d = w[kind].decoded
        assert d[0][:3] == ("confchange", raftpb.ConfChangeAddNode, md.node_id), (kind, d[0])
        assert d[0][3]["id"] == md.node_id and d[0][3]["peerURLs"] == [ref.peer_url], (kind, d[0])
        assert d[1] == ("empty",), (kind, d[1])
        assert w[kind].entries[2].term == 2
        # The member publishes its attributes (a v2 PUT), and the v2 set.
        assert ("v2", "PUT", f"/0/members/{md.node_id:x}/attributes") in d, kind
        assert ("v2", "PUT", "/1/v2k/a") in d, kind
    puts = {kind: [x for x in w[kind].decoded if x[0] == "put"] for kind in (REF, OURS)}
    assert puts[OURS] == puts[REF] == [("put", f"k{i:02d}", f"v{i}") for i in range(KEYS)]

    # Hard state: the last one holds the leader's term and vote and commits
    # everything.
    for kind in (REF, OURS):
        hs = w[kind].states[-1]
        assert (hs.term, hs.vote, hs.commit) == (2, md.node_id, w[kind].indexes[-1]), kind
        assert all(s.commit <= w[kind].indexes[-1] for s in w[kind].states)
    # Hard states of the same values are the same bytes: all three fields,
    # zeros included.
    state_bytes = {kind: {(s.term, s.vote, s.commit): r.data for s, r in zip(
        w[kind].states, [r for r in w[kind].records if r.type == df.STATE])} for kind in (REF, OURS)}
    common = set(state_bytes[REF]) & set(state_bytes[OURS])
    assert (1, 0, 1) in common and (2, md.node_id, w[REF].indexes[-1]) in common, common
    for v in common:
        assert state_bytes[OURS][v] == state_bytes[REF][v], v
        assert state_bytes[REF][v] == b"\x08" + _varint(v[0]) + b"\x10" + _varint(
            v[1]) + b"\x18" + _varint(v[2])

    # The .snap file: same name (term-index), same envelope, same raft
    # metadata; the data is the v2 store's JSON on both.
    snap = {REF: only_snap(ref.data_dir), OURS: only_snap(ours.data_dir)}
    assert snap[OURS].name == snap[REF].name
    s = {kind: df.read_snap(snap[kind])[0] for kind in (REF, OURS)}
    assert s[OURS].metadata == s[REF].metadata
    # The raft snapshot's metadata (ConfState with auto_leave written, index,
    # term) is the same bytes in both files.
    meta = {kind: _field(df.read_snap(snap[kind])[1][2], 2) for kind in (REF, OURS)}
    assert meta[OURS] == meta[REF], meta
    assert list(s[REF].metadata.conf_state.voters) == [md.node_id]
    assert snap[REF].name == f"{s[REF].metadata.term:016x}-{s[REF].metadata.index:016x}.snap"
    stores = {kind: json.loads(s[kind].data) for kind in (REF, OURS)}
    assert set(stores[OURS]) == set(stores[REF])
    for kind in (REF, OURS):
        root = stores[kind]["Root"]
        assert set(root["Children"]) == {"0", "1"}, kind
        member = root["Children"]["0"]["Children"]["members"]["Children"][f"{md.node_id:x}"]
        assert json.loads(member["Children"]["raftAttributes"]["Value"]) == {
            "peerURLs": [ref.peer_url]}, kind
    # The WAL records the snapshot: the same marker (its crc differs: the
    # chain covers the entries, whose request ids differ).
    for kind in (REF, OURS):
        marker, _ = w[kind].snap_markers[-1]
        assert (marker.index, marker.term) == (s[kind].metadata.index, s[kind].metadata.term)
    assert [d for _, d in w[OURS].snap_markers] == [d for _, d in w[REF].snap_markers]


def _entry_data(wal, index):
    """The raw Entry bytes of the (last) record for `index`."""
    out = None
    for r in wal.records:
        if r.type == df.ENTRY and raftpb.Entry.FromString(r.data).index == index:
            out = r.data
    return out


def _field(buf, number):
    """The raw bytes of length-delimited field `number` of a protobuf message."""
    for num, value in df.proto_fields(buf):
        if num == number and isinstance(value, bytes):
            return value
    raise AssertionError(f"no field {number}")


def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def etcdctl_backup(kind, src, dest):
    binary = BIN / "etcdctl" if kind == OURS else REFERENCE_ETCDCTL
    return subprocess.run([str(binary), "backup", "--data-dir", str(src), "--backup-dir",
                           str(dest)], env=clean_env(ETCDCTL_API="2"), capture_output=True,
                          text=True, timeout=60)


def copy_wal_and_snaps(src, dest):
    """member/wal and member/snap/*.snap of `src` (no db) into `dest`."""
    shutil.copytree(src / "member" / "wal", dest / "member" / "wal")
    (dest / "member" / "snap").mkdir(parents=True)
    for p in (src / "member" / "snap").glob("*.snap"):
        shutil.copy2(p, dest / "member" / "snap" / p.name)


@pytest.mark.parametrize("source", [OURS, REF])
def test_reference_backup_of_a_data_dir_and_the_reference_on_it(etcd_factory, tmp_path, source):
    """`ETCDCTL_API=2 etcdctl backup` (the reference's, without --with-v3:
    the db is not read) reads the WAL and .snap of a stopped member. On
    the reference's own data dir the reference etcd then starts on the
    backup with --force-new-cluster, holding the v2 key (the v3 keys stay
    behind, as etcd does). On ours it reads the backup's snapshot and WAL
    just as far, then refuses to run: our v2 store says cluster version
    3.5, and etcd 3.4 does not downgrade a cluster."""
    src = write_and_stop(etcd_factory, source, None, SNAPSHOT_COUNT)
    snap_index = df.read_snap(only_snap(src.data_dir))[0].metadata.index
    bak = tmp_path / "backup"
    r = etcdctl_backup(REF, src.data_dir, bak)
    assert r.returncode == 0, r.stderr
    assert "panic" not in r.stderr
    # Its own .snap encoding of the same snapshot.
    assert df.read_snap(only_snap(bak))[0] == df.read_snap(only_snap(src.data_dir))[0]
    m = etcd_factory(name="restored", reference=True, data_dir=bak, sub="restored",
                     extra_args=("--enable-v2",))
    if source == REF:
        m.start("--force-new-cluster")
        assert v2_get(m, "v2k/a") == "b"
        assert v3_keys(m) == {}
        assert len(m.ok("member", "list").splitlines()) == 1
        m.ok("put", "k-new", "x")
        return
    m.start("--force-new-cluster", wait=False)
    assert m.wait_exit() != 0
    log = m.log_text()
    assert f"recovered store from snapshot at index {snap_index}" in log, m.log_tail()
    assert re.search(r"forcing restart of member [0-9a-f]+ in cluster [0-9a-f]+ at commit index "
                     r"\d+", log), m.log_tail()
    assert ("cluster cannot be downgraded (current version: 3.4.23 is lower than determined "
            "cluster version: 3.5)") in log, m.log_tail()


@pytest.mark.parametrize("writer,reader", [(REF, OURS), (OURS, REF)],
                         ids=["ours-reads-ref", "ref-reads-ours"])
def test_a_server_replays_the_others_wal(etcd_factory, tmp_path, writer, reader):
    """A WAL without a snapshot, copied alone (no db, no .snap), and the
    other server started on it with the same flags.

    Ours on the reference's WAL: the same member of the same cluster,
    every entry replayed into a new db, the v3 keys and the v2 key served.
    The reference on ours: it reads the WAL (the member and cluster ids of
    our metadata record, the bootstrap conf change), then stops at our
    cluster-version entry, an etcd 3.5 request (InternalRaftRequest
    cluster_version_set) that etcd 3.4 cannot apply ("not implemented")."""
    w = write_and_stop(etcd_factory, writer, None, 100000)
    assert not list((w.data_dir / "member" / "snap").glob("*.snap"))
    wal = Wal(w.data_dir)
    copy = tmp_path / "copy"
    copy_wal_and_snaps(w.data_dir, copy)
    m = etcd_factory(reference=reader == REF, data_dir=copy, sub="reader",
                     extra_args=(f"--initial-cluster-token={TOKEN}", "--enable-v2"))
    m.client_port, m.peer_port = w.client_port, w.peer_port
    if reader == REF:
        assert ("v3", ("cluster_version_set",)) in wal.decoded
        m.start(wait=False)
        assert m.wait_exit() != 0
        log = m.log_text()
        assert (f"added member {wal.metadata.node_id:x} [{w.peer_url}] to cluster "
                f"{wal.metadata.cluster_id:x}") in log, m.log_tail()
        assert "panic: not implemented" in log, m.log_tail()
        return
    m.start()
    st = m.json("endpoint", "status")[0]["Status"]
    assert st["header"]["member_id"] == wal.metadata.node_id
    assert st["header"]["cluster_id"] == wal.metadata.cluster_id
    assert v3_keys(m) == {f"k{i:02d}": f"v{i}" for i in range(KEYS)}
    assert v2_get(m, "v2k/a") == "b"


def test_our_backup_reads_the_references_wal_and_snap(etcd_factory, tmp_path):
    """Our `etcdctl backup` (without --with-v3) on the reference's WAL and
    .snap, the db left behind (it is bbolt): it reads both and writes a
    backup that decodes as etcd's: the same snapshot, a new WAL with a
    protobuf metadata record of new ids, and the source's v2 entries after
    the snapshot (the v3 ones dropped)."""
    src = write_and_stop(etcd_factory, REF, None, SNAPSHOT_COUNT)
    copy = tmp_path / "copy"
    copy_wal_and_snaps(src.data_dir, copy)
    bak = tmp_path / "backup"
    r = etcdctl_backup(OURS, copy, bak)
    assert r.returncode == 0, r.stderr
    # The reference's snapshot, carried over: re-encoded, as etcd's backup
    # does, into the same bytes (our raftpb encoding is etcd's).
    snap = df.read_snap(only_snap(src.data_dir))[0]
    assert df.read_snap(only_snap(bak))[0] == snap
    assert only_snap(bak).read_bytes() == only_snap(src.data_dir).read_bytes()
    old, new = Wal(src.data_dir), Wal(bak)
    assert new.metadata.node_id not in (0, old.metadata.node_id)
    assert new.metadata.cluster_id not in (0, old.metadata.cluster_id)
    assert new.records[1].data == b"\x08" + _varint(new.metadata.node_id) + b"\x10" + _varint(
        new.metadata.cluster_id)
    assert [(m.index, m.term) for m, _ in new.snap_markers] == [
        (0, 0), (snap.metadata.index, snap.metadata.term)]
    # After the snapshot the source has puts and the v2 set; the v2 set stays.
    assert [x for x in old.decoded[snap.metadata.index:] if x[0] != "put"] == [
        ("v2", "PUT", "/1/v2k/a")]
    assert new.decoded == [("v2", "PUT", "/1/v2k/a")]
    assert new.states[-1].commit == new.indexes[-1] == snap.metadata.index + 1


@pytest.mark.parametrize("kind", [REF, OURS])
def test_a_missing_db_behind_a_snapshot_is_refused(etcd_factory, kind):
    """A restart on a WAL and a .snap past index 0 whose member/snap/db is
    gone: the WAL no longer has the entries before the snapshot, so the v3
    keys up to it exist nowhere. etcd 3.4 refuses to start ("failed to find
    database snapshot file"); ours refuses too, naming the db and the
    snapshot index, and creates no empty db."""
    m = write_and_stop(etcd_factory, kind, None, SNAPSHOT_COUNT)
    snap_index = df.read_snap(only_snap(m.data_dir))[0].metadata.index
    assert snap_index > 0
    db = m.data_dir / "member" / "snap" / "db"
    db.unlink()
    m.start(wait=False)
    assert m.wait_exit(timeout=15) != 0
    log = m.log_text()
    assert "failed to find database snapshot file" in log, m.log_tail()
    if kind == OURS:
        assert f"{db} is missing" in log, m.log_tail()
        assert f"raft snapshot at index {snap_index} " in log, m.log_tail()
        assert not db.exists(), "an empty db was created"
