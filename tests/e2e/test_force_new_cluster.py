"""--force-new-cluster, black box: a 3-member cluster with data, stopped;
one member restarted with the flag leads alone, `member list` names it
alone, every key is there, writes work, and it restarts again without the
flag as the same one-member cluster. The same scenario runs against the
reference etcd 3.4.23 (whose behaviour the assertions record) and ours.

The cluster snapshots every 20 entries, so the member restarts from a
snapshot whose ConfState names all three members plus the log after it.
"""

import base64
import json

import pytest

from cluster import OURS, REF, Cluster, log_tails_on_failure
from conftest import wait_log

SNAPSHOT_COUNT = 20
KEYS = 45


@pytest.fixture
def make_cluster(tmp_path):
    made = []

    def _make(kinds, **kw) -> Cluster:
        c = Cluster(tmp_path / f"c{len(made)}", kinds, **kw)
        made.append(c)
        return c.start()

    yield _make
    for c in made:
        c.close()


def decoded(out: dict) -> dict:
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
            for kv in out.get("kvs", [])}


def all_kvs(m) -> dict:
    return decoded(m.json("get", "k/", "--prefix"))


def member_lines(m) -> list[str]:
    return m.ok("member", "list").splitlines()


@pytest.mark.parametrize("kind", [OURS, REF])
def test_force_new_cluster_restarts_one_member_alone_with_all_data(make_cluster, kind):
    c = make_cluster([kind] * 3,
                     extra_args=(f"--snapshot-count={SNAPSHOT_COUNT}", "--logger=zap",
                                 "--log-outputs=stderr"))
    for i in range(KEYS):
        c.ok("put", f"k/{i:03d}", f"v{i}")
    ids = [c.member_id(i) for i in range(3)]
    before = c.json("get", "k/", "--prefix", member=0)
    revision = before["header"]["revision"]
    expected = decoded(before)
    assert len(expected) == KEYS
    c.stop_all()

    # A follower or the old leader: member 1 either way.
    m = c.members[1]
    m.start("--force-new-cluster", wait=False)
    m.wait_healthy(timeout=30)
    st = m.status()
    assert st["header"]["member_id"] == ids[1]
    assert st["leader"] == ids[1]
    assert st["header"]["cluster_id"] == before["header"]["cluster_id"]
    # The conf changes are entries of the log: the raft index moved on.
    assert st["raftIndex"] > 0

    # Only this member, with its name and URLs from before.
    assert member_lines(m) == [f"{ids[1]:x}, started, {m.name}, {m.peer_url}, {m.client_url}, false"]
    listed = m.json("member", "list")["members"]
    assert [x["ID"] for x in listed] == [ids[1]]

    # etcd's log lines: the forced restart, then the removals applied.
    assert wait_log(m, "starting an etcd server",
                    pred=lambda e: e.get("force-new-cluster") is True)["member-initialized"]
    forced = wait_log(m, "forcing restart member")
    assert forced["local-member-id"] == f"{ids[1]:x}"
    assert forced["cluster-id"] == f"{before['header']['cluster_id']:x}"
    removed = {e["removed-remote-peer-id"] for e in m.log_entries()
               if e.get("msg") == "removed member"}
    assert removed == {f"{ids[0]:x}", f"{ids[2]:x}"}

    # Every key, at the revision it had; then writes.
    assert all_kvs(m) == expected
    assert expected["k/044"] == "v44"
    got = m.json("get", "k/", "--prefix")
    assert got["header"]["revision"] == revision
    m.ok("put", "k/after", "forced")
    assert m.ok("get", "k/after", "--print-value-only") == "forced\n"

    # A plain restart (no flag) is the same one-member cluster.
    m.stop()
    m.start(wait=False)
    m.wait_healthy(timeout=30)
    st = m.status()
    assert st["leader"] == ids[1]
    assert member_lines(m) == [f"{ids[1]:x}, started, {m.name}, {m.peer_url}, {m.client_url}, false"]
    kvs = all_kvs(m)
    assert kvs["k/after"] == "forced"
    assert len(kvs) == KEYS + 1
    m.ok("put", "k/again", "1")
    text = m.log_text()
    # The flag was used once: one forced restart in the log.
    assert text.count('"forcing restart member"') == 1


@pytest.mark.parametrize("kind", [OURS, REF])
def test_force_new_cluster_on_a_new_member_is_ignored(tmp_path, kind):
    c = Cluster(tmp_path / "c", [kind], extra_args=("--force-new-cluster", "--logger=zap",
                                                    "--log-outputs=stderr"))
    try:
        c.start()
        m = c.members[0]
        m.ok("put", "a", "1")
        assert len(member_lines(m)) == 1
        assert "forcing restart member" not in m.log_text()
        assert json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"]["leader"] == \
            c.member_id(0)
    finally:
        c.close()
