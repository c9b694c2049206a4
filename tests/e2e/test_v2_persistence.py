"""v2 keys survive a kill -9 and a restart (from the WAL), and a restart
from snapshots (--snapshot-count 10), with what etcd keeps: values, dirs,
in-order keys, TTL'd keys with the same absolute expiration (so less TTL
left), keys whose TTL ran out while the member was down expire after the
restart (an "expire" event), the etcd index goes on from where it was, and
the event history is back (a wait with a waitIndex from before the restart
is answered from it; etcd replays the WAL into the store, and a snapshot
carries the store's event history).

Both servers (reference and ours, see v2util.py) get the same requests and
the same kills; their answers are compared as in test_v2_api.py, and each
side's state after the restart is compared with its own before."""

import json
import time

import pytest

from v2util import SIDES, Pair, keys, make_server, norm_body, request, settle, stop_all


@pytest.fixture
def pair_factory(tmp_path):
    made = []

    def make(*extra: str) -> Pair:
        s = {side: make_server(side, tmp_path, extra_args=("--enable-v2", *extra))
             for side in SIDES}
        made.extend(s.values())
        for p in s.values():
            p.start(wait=False)
        for p in s.values():
            p.wait_healthy()
        idx = {side: settle(p) for side, p in s.items()}
        assert idx["ref"] == idx["ours"], f"etcd index after start: {idx}"
        return Pair(s)

    yield make
    stop_all(made)


def kill_and_restart(pair: Pair, down_s: float = 0.0) -> None:
    for p in pair.servers.values():
        p.kill()
    time.sleep(down_s)
    for p in pair.servers.values():
        p.start(wait=False)
    for p in pair.servers.values():
        p.wait_healthy()


def dump(pair: Pair) -> dict:
    """side -> the whole keyspace (sorted, expirations and ttls replaced)."""
    out = {}
    for side in SIDES:
        r = request(pair.port(side), "GET", keys("/"), query={"recursive": "true",
                                                               "sorted": "true"})
        assert r.status == 200, r
        out[side] = norm_body(r.json["node"], [], sort_nodes=False)
    return out


def wait_gone(pair: Pair, path: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    gone = set()
    while len(gone) < 2 and time.monotonic() < deadline:
        for side in SIDES:
            if side not in gone and request(pair.port(side), "GET", keys(path)).status == 404:
                gone.add(side)
        time.sleep(0.1)
    assert gone == set(SIDES), f"{path} still there after {timeout}s on {set(SIDES) - gone}"


def test_kill9_and_restart_keeps_the_store(pair_factory):
    pair = pair_factory()
    first = pair.put("/p/a", value="1").json["node"]["modifiedIndex"]
    assert first == 4
    pair.put("/p/a", value="2")
    pair.put("/p/dir", query={"dir": "true"})
    pair.put("/p/dir/x", value="x")
    pair.put("/p/empty", query={"dir": "true"})
    pair.post("/p/queue", value="q1")
    pair.post("/p/queue", value="q2")
    pair.put("/p/cas", value="old")
    pair.put("/p/cas", query={"prevValue": "old"}, value="new")
    pair.put("/p/gone", value="g")
    pair.delete("/p/gone")
    long_ttl = pair.put("/p/ttl", value="t", ttl="60").json["node"]
    short = pair.put("/p/short", value="s", ttl="2").json["node"]
    before = dump(pair)
    index_before = {s: int(request(pair.port(s), "GET", keys("/p")).headers["x-etcd-index"])
                    for s in SIDES}
    assert index_before["ref"] == index_before["ours"] == short["modifiedIndex"]
    expiration = {s: request(pair.port(s), "GET", keys("/p/ttl")).json["node"]["expiration"]
                  for s in SIDES}

    # Down for longer than /p/short's TTL.
    kill_and_restart(pair, down_s=2.5)

    # /p/short expires after the restart; a wait from its index sees it.
    wait_gone(pair, "/p/short")
    ev = pair.do("GET", keys("/p/short"),
                 query={"wait": "true", "waitIndex": str(short["modifiedIndex"] + 1)}).json
    assert ev["action"] == "expire" and ev["prevNode"]["value"] == "s"

    after = dump(pair)
    for side in SIDES:
        want = json.loads(json.dumps(before[side]))
        want["nodes"][0]["nodes"] = [n for n in want["nodes"][0]["nodes"]
                                     if n["key"] != "/p/short"]
        assert after[side] == want, side
    # The same absolute expiration: less time left.
    for side in SIDES:
        node = request(pair.port(side), "GET", keys("/p/ttl")).json["node"]
        assert node["expiration"] == expiration[side], side
        assert node["ttl"] < long_ttl["ttl"], (side, node)
    pair.get("/p/ttl")
    pair.get("/p", recursive="true")

    # The history from before the kill.
    r = pair.do("GET", keys("/p/a"), query={"wait": "true", "waitIndex": str(first)})
    assert r.json["action"] == "set" and r.json["node"] == {
        "key": "/p/a", "value": "1", "modifiedIndex": first, "createdIndex": first}
    r = pair.do("GET", keys("/p"), query={"wait": "true", "waitIndex": str(first + 1),
                                         "recursive": "true"})
    assert r.json["node"]["value"] == "2" and r.json["prevNode"]["value"] == "1"

    # The index goes on: the member publishing its attributes again when
    # it starts (a store write, done before it serves clients), the expiry
    # of /p/short, then the next write.
    r = pair.put("/p/next", value="n")
    assert r.json["node"]["modifiedIndex"] == index_before["ref"] + 3


def test_restart_from_snapshots(pair_factory):
    pair = pair_factory("--snapshot-count", "10")
    first = None
    for i in range(50):
        r = pair.put(f"/snap/k{i:02d}", value=f"v{i}")
        first = first or r.json["node"]["modifiedIndex"]
    pair.put("/snap/ttl", value="t", ttl="120")
    before = dump(pair)
    for side, p in pair.servers.items():
        snaps = sorted((p.data_dir / "member" / "snap").glob("*.snap"))
        assert snaps, f"{side}: no snapshot file after 50 writes with --snapshot-count 10"

    kill_and_restart(pair)

    assert dump(pair) == before
    r = pair.get("/snap", recursive="true", sorted="true")
    assert [n["value"] for n in r.json["node"]["nodes"][:50]] == [f"v{i}" for i in range(50)]
    # The event history came back with the snapshot: the first write is
    # still answered from it.
    r = pair.do("GET", keys("/snap"), query={"wait": "true", "waitIndex": str(first),
                                            "recursive": "true"})
    assert r.json["action"] == "set" and r.json["node"]["key"] == "/snap/k00"
    r = pair.do("GET", keys("/snap/k25"), query={"wait": "true", "waitIndex": str(first)})
    assert r.json["node"]["value"] == "v25"

    # Writes go on, and another kill after more snapshots loses nothing.
    for i in range(50, 75):
        pair.put(f"/snap/k{i:02d}", value=f"v{i}")
    before = dump(pair)
    kill_and_restart(pair)
    assert dump(pair) == before
    r = pair.do("GET", keys("/snap/k60"), query={"wait": "true", "waitIndex": str(first)})
    assert r.json["node"]["value"] == "v60"
