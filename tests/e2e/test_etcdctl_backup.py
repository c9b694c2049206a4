"""`ETCDCTL_API=2 etcdctl backup`, black box: a stopped member's data dir
is backed up with and without --with-v3, and the backup starts with
`etcd --data-dir <backup> --force-new-cluster` as a new one-member
cluster: a new member id, the v3 keys (with --with-v3) or none (without),
writes work, and it restarts without the flag.

Each scenario runs with ours (our etcd, our etcdctl) and with the
reference 3.4.23 (its etcd, its etcdctl) as the control: the assertions
hold for both, and the command's output is compared line by line in
form. The member snapshots every 20 entries (the backup carries a raft
snapshot and the WAL after it) or never (no snapshot file).

The members serve v2 (--enable-v2): v2 keys written between the v3 ones
are in the backup whether or not --with-v3 is given (the v2 store is the
raft snapshot's data and the WAL's v2 entries, which the backup keeps).
"""

import base64
import json
import re
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, REFERENCE_ETCDCTL, clean_env

KEYS = 30
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} I \| (.*)$")
# What the backup logs for the entries it drops (etcd's lines).
DROP_LINES = re.compile(r"^(ignoring v3 raft entry|ignoring EntryConfChange raft entry|"
                        r"ignoring member attribute update on /0/members/[0-9a-f]+/attributes)$")

OURS, REF = "ours", "ref"


def etcdctl_binary(kind):
    return BIN / "etcdctl" if kind == OURS else REFERENCE_ETCDCTL


def backup(kind, *args):
    return subprocess.run([str(etcdctl_binary(kind)), "backup", *args],
                          env=clean_env(ETCDCTL_API="2"), capture_output=True, text=True,
                          timeout=60)


def kvs(m, prefix="k/"):
    out = m.json("get", prefix, "--prefix")
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in out.get("kvs", [])}


def v2_set(m, key, value):
    req = urllib.request.Request(f"{m.client_url}/v2/keys/{key}", method="PUT",
                                 data=urllib.parse.urlencode({"value": value}).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status in (200, 201)


def v2_values(m, d="v2k"):
    with urllib.request.urlopen(f"{m.client_url}/v2/keys/{d}?recursive=true", timeout=10) as r:
        node = json.load(r)["node"]
    return {n["key"]: n["value"] for n in node.get("nodes", [])}


def log_messages(stderr: str) -> list[str]:
    msgs = []
    for line in stderr.splitlines():
        mt = LOG_LINE.match(line)
        assert mt, f"not a log line: {line!r}"
        msgs.append(mt.group(1))
    return msgs


@pytest.mark.parametrize("snapshot_count", [20, 100000], ids=["snapshot", "no-snapshot"])
@pytest.mark.parametrize("with_v3", [True, False], ids=["with-v3", "without-v3"])
@pytest.mark.parametrize("kind", [OURS, REF])
def test_backup_starts_as_a_new_one_member_cluster(etcd_factory, tmp_path, kind, with_v3,
                                                   snapshot_count):
    src = etcd_factory(reference=kind == REF, extra_args=(
        f"--snapshot-count={snapshot_count}", "--logger=zap", "--log-outputs=stderr",
        "--enable-v2"))
    src.start()
    for i in range(KEYS):
        src.ok("put", f"k/{i:02d}", f"v{i}")
        if i % 3 == 0:
            v2_set(src, f"v2k/{i:02d}", f"w{i}")
    want_v2 = {f"/v2k/{i:02d}": f"w{i}" for i in range(0, KEYS, 3)}
    old = src.json("endpoint", "status")[0]["Status"]["header"]
    src.stop()
    if snapshot_count == 20:
        assert list((src.data_dir / "member" / "snap").glob("*.snap"))

    bak = tmp_path / "backup"
    args = ["--data-dir", str(src.data_dir), "--backup-dir", str(bak)]
    if with_v3:
        args.append("--with-v3")
    r = backup(kind, *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    msgs = log_messages(r.stderr)
    assert all(DROP_LINES.match(m) for m in msgs), msgs
    if not with_v3:
        assert "ignoring v3 raft entry" in msgs
    assert (bak / "member" / "snap" / "db").is_file()
    assert list((bak / "member" / "wal").glob("*.wal"))
    assert bool(list((bak / "member" / "snap").glob("*.snap"))) == (snapshot_count == 20)
    # The source is left as it was: it starts as before.

    m = etcd_factory(name="restored", reference=kind == REF, data_dir=bak, sub="restored",
                     extra_args=("--logger=zap", "--log-outputs=stderr", "--enable-v2"))
    m.start("--force-new-cluster")
    st = m.json("endpoint", "status")[0]["Status"]
    new_id = st["header"]["member_id"]
    assert new_id != old["member_id"]
    assert st["leader"] == new_id
    assert st["header"]["cluster_id"] != old["cluster_id"]
    # One member: the new one, added with etcd's default peer URL; it
    # publishes its name and client URL once it leads.
    assert m.ok("member", "list").splitlines() == [
        f"{new_id:x}, started, restored, http://localhost:2380, {m.client_url}, false"]
    if with_v3:
        assert kvs(m) == {f"k/{i:02d}": f"v{i}" for i in range(KEYS)}
    else:
        assert kvs(m) == {}
    assert v2_values(m) == want_v2
    m.ok("put", "k/new", "x")
    assert kvs(m)["k/new"] == "x"
    # And it restarts as that cluster without the flag.
    m.stop()
    m.start()
    assert m.json("endpoint", "status")[0]["Status"]["header"]["member_id"] == new_id
    assert kvs(m)["k/new"] == "x"
    assert len(kvs(m)) == (KEYS + 1 if with_v3 else 1)
    assert len(m.ok("member", "list").splitlines()) == 1
    assert v2_values(m) == want_v2

    # The source member still starts, with its data.
    src.start()
    assert kvs(src) == {f"k/{i:02d}": f"v{i}" for i in range(KEYS)}


@pytest.mark.parametrize("kind", [OURS, REF])
def test_backup_help_and_errors(tmp_path, kind):
    r = backup(kind, "--help")
    assert r.returncode == 0
    ours = backup(OURS, "--help").stdout
    assert r.stdout == ours
    assert "   --with-v3               Backup v3 backend data\n" in r.stdout

    r = backup(kind, "--bogus")
    assert r.returncode == 1
    assert r.stdout.startswith("Incorrect Usage: flag provided but not defined: -bogus\n\nNAME:\n")
    assert r.stderr == "flag provided but not defined: -bogus\n"

    missing = tmp_path / "missing"
    r = backup(kind, "--data-dir", str(missing), "--backup-dir", str(tmp_path / "b"))
    assert r.returncode == 1
    assert log_messages(r.stderr) == [f"open {missing}/member/snap: no such file or directory"]
    # etcd made the backup's snap dir before failing.
    assert (tmp_path / "b" / "member" / "snap").is_dir()


@pytest.mark.parametrize("kind", [OURS])
def test_backup_with_v3_of_a_killed_member_neither_skips_nor_reapplies(etcd_factory, tmp_path,
                                                                       kind):
    """kill -9 right after the writes: the db may not have every applied
    entry yet (it commits in batches; the WAL is what is durable), so its
    consistent index lags the WAL's commit. The backup renumbers the
    entries (the conf changes and the attribute update go) and the db's
    consistent index with them: the restarted member applies exactly the
    entries the db lacks. A re-applied put would show as version 2, a
    skipped one as a missing key.

    Ours only: the reference 3.4.23 keeps the db's consistent index as it
    was, so when the db lagged, the entries it lacks get lower indexes
    than that and are skipped; run against it, this test failed with
    k/28 and k/29 missing (their puts skipped) in one of two runs."""
    src = etcd_factory(reference=kind == REF, extra_args=("--logger=zap", "--log-outputs=stderr"))
    src.start()
    for i in range(KEYS):
        src.ok("put", f"k/{i:02d}", f"v{i}")
    rev = src.json("get", "k/00")["header"]["revision"]
    src.kill()

    bak = tmp_path / "backup"
    r = backup(kind, "--data-dir", str(src.data_dir), "--backup-dir", str(bak), "--with-v3")
    assert r.returncode == 0, r.stderr
    m = etcd_factory(name="restored", reference=kind == REF, data_dir=bak, sub="restored")
    m.start("--force-new-cluster")
    out = m.json("get", "k/", "--prefix")
    got = {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv["value"]).decode(),
                                                  kv["version"], kv["mod_revision"])
           for kv in out["kvs"]}
    assert got == {f"k/{i:02d}": (f"v{i}", 1, rev - KEYS + 1 + i) for i in range(KEYS)}
    assert out["header"]["revision"] == rev


@pytest.mark.parametrize("kind", [OURS, REF])
def test_backup_waits_while_a_server_holds_the_db(etcd_factory, tmp_path, kind):
    """As etcd, the backup waits for a running member to let go of its db
    ("waiting to acquire lock on <db>") and goes on once it stops. Ours
    takes that lock before it reads the WAL (a live WAL is not read)."""
    src = etcd_factory(reference=kind == REF)
    src.start()
    src.ok("put", "k/a", "1")
    bak = tmp_path / "backup"
    p = subprocess.Popen([str(etcdctl_binary(kind)), "backup", "--data-dir", str(src.data_dir),
                          "--backup-dir", str(bak), "--with-v3"],
                         env=clean_env(ETCDCTL_API="2"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(timeout=2.5)
        src.stop()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    db = src.data_dir / "member" / "snap" / "db"
    assert f"waiting to acquire lock on {db}" in log_messages(err)
    m = etcd_factory(name="restored", reference=kind == REF, data_dir=bak, sub="restored")
    m.start("--force-new-cluster")
    assert kvs(m) == {"k/a": "1"}
