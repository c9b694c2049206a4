"""etcd's v2 HTTP API (--enable-v2), differential: the reference etcd
3.4.23 and ours (see v2util.py for which binary that is and for what is
normalised), one member of each started once for the module, get the same
raw HTTP requests in lockstep; status, header names (and values, but for
the ones that differ by construction) and JSON bodies must agree. Each
scenario also checks the reference's answers against etcd's documented
behaviour, so a scenario fails when the two agree on something wrong.

The tests share the two servers and run in file order; each works under
its own key prefix, and every short TTL a test sets has expired before it
ends (an expiry is a write: it moves the etcd index)."""

import http.client
import json
import time

import pytest

from v2util import (RFC3339_UTC, SIDES, Pair, keys, make_server, norm_body, request, settle,
                    shape, start_both, stop_all)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("v2api")
    s = {side: make_server(side, base) for side in SIDES}
    try:
        start_both(s)
        yield s
    finally:
        stop_all(s.values())


@pytest.fixture(scope="module")
def pair(servers) -> Pair:
    # The internal writes first (see test_starting_index_is_the_same), also
    # when a test runs alone.
    for p in servers.values():
        settle(p)
    return Pair(servers)


def err(resp, code: int, status: int, cause: str | None = None) -> dict:
    """Asserts resp is the v2 error `code` with HTTP `status` (and cause)."""
    assert resp.status == status, resp
    body = resp.json
    assert body["errorCode"] == code, body
    if cause is not None:
        assert body.get("cause") == cause, body
    assert resp.headers["content-type"] == "application/json"
    assert int(resp.headers["x-etcd-index"]) == body["index"]
    return body


def test_starting_index_is_the_same(servers):
    """Both stores made their three internal writes (member raftAttributes,
    attributes, /0/version) before the first user write: index 3."""
    got = {side: settle(p) for side, p in servers.items()}
    assert got == {"ref": 3, "ours": 3}, (
        f"etcd index after start: {got} (the first user write must get index 4, "
        "as on the reference)")


def test_set_get_update_delete(pair):
    r = pair.put("/kv/a", value="1")
    assert r.status == 201
    node = r.json["node"]
    assert r.json["action"] == "set" and node["value"] == "1"
    assert node["createdIndex"] == node["modifiedIndex"] == int(r.headers["x-etcd-index"])
    assert r.headers["content-type"] == "application/json"
    assert {"x-raft-index", "x-raft-term", "x-etcd-cluster-id"} <= set(r.headers)

    r = pair.get("/kv/a")
    assert r.status == 200 and r.json == {"action": "get", "node": node}

    r = pair.put("/kv/a", value="2")
    assert r.status == 200 and r.json["action"] == "set"
    assert r.json["prevNode"] == node
    assert r.json["node"]["createdIndex"] == r.json["node"]["modifiedIndex"]

    r = pair.put("/kv/a", query={"prevExist": "true"}, value="3")
    assert r.status == 200 and r.json["action"] == "update"
    assert r.json["prevNode"]["value"] == "2"
    # An update keeps the creation index.
    assert r.json["node"]["createdIndex"] < r.json["node"]["modifiedIndex"]

    err(pair.put("/kv/b", query={"prevExist": "true"}, value="x"), 100, 404, "/kv/b")
    err(pair.put("/kv/a", query={"prevExist": "false"}, value="x"), 105, 412, "/kv/a")
    r = pair.put("/kv/b", query={"prevExist": "false"}, value="new")
    assert r.status == 201 and r.json["action"] == "create"
    err(pair.get("/kv/missing"), 100, 404, "/kv/missing")

    r = pair.delete("/kv/a")
    assert r.status == 200 and r.json["action"] == "delete"
    assert r.json["prevNode"]["value"] == "3" and "value" not in r.json["node"]
    err(pair.get("/kv/a"), 100, 404, "/kv/a")
    err(pair.delete("/kv/a"), 100, 404, "/kv/a")

    # Values as curl sends them (form-encoded), in the query string too,
    # and empty.
    r = pair.put("/kv/odd", value="a b&c=d/ü\n")
    assert r.json["node"]["value"] == "a b&c=d/ü\n"
    r = pair.do("PUT", keys("/kv/q"), query={"value": "from-query"})
    assert r.json["node"]["value"] == "from-query"
    r = pair.put("/kv/empty")
    assert r.status == 201 and r.json["node"]["value"] == ""
    r = pair.put("/kv/nv", query={"noValueOnSuccess": "true"}, value="x")
    assert r.status == 201 and r.json == {"action": "set"}

    # Escaped keys: the path is decoded.
    r = pair.do("PUT", "/v2/keys/kv/%E4%B8%AD%20x", form={"value": "u"})
    assert r.status == 201 and r.json["node"]["key"] == "/kv/中 x"
    assert pair.get("/kv/%E4%B8%AD%20x").json["node"]["value"] == "u"

    # Non-canonical paths: Go's mux redirects them.
    r = pair.do("GET", "/v2/keys/kv//b")
    assert r.status == 301 and r.headers["location"] == "/v2/keys/kv/b"
    r = pair.do("GET", "/v2/keys/kv/./b")
    assert r.status == 301 and r.headers["location"] == "/v2/keys/kv/b"


def test_directories(pair):
    r = pair.put("/dir/d", query={"dir": "true"})
    assert r.status == 201 and r.json["node"] == {
        "key": "/dir/d", "dir": True, "modifiedIndex": r.json["node"]["modifiedIndex"],
        "createdIndex": r.json["node"]["createdIndex"]}
    err(pair.put("/dir/d", query={"dir": "true"}), 102, 403, "/dir/d")
    err(pair.put("/dir/d", value="v"), 102, 403, "/dir/d")
    for k, v in (("/dir/d/y", "2"), ("/dir/d/x", "1"), ("/dir/d/sub/z", "3"),
                 ("/dir/d/_hidden", "h"), ("/dir/d/a", "0")):
        assert pair.put(k, value=v).status == 201

    r = pair.get("/dir/d")
    nodes = r.json["node"]["nodes"]
    assert r.json["node"]["dir"] is True
    assert sorted(n["key"] for n in nodes) == ["/dir/d/a", "/dir/d/sub", "/dir/d/x", "/dir/d/y"]
    sub = next(n for n in nodes if n["key"] == "/dir/d/sub")
    assert sub["dir"] is True and "nodes" not in sub

    r = pair.get("/dir/d", recursive="true")
    sub = next(n for n in r.json["node"]["nodes"] if n["key"] == "/dir/d/sub")
    assert [n["key"] for n in sub["nodes"]] == ["/dir/d/sub/z"]

    r = pair.do("GET", keys("/dir/d"), query={"recursive": "true", "sorted": "true"},
                sorted_listing=True)
    assert [n["key"] for n in r.json["node"]["nodes"]] == [
        "/dir/d/a", "/dir/d/sub", "/dir/d/x", "/dir/d/y"]
    # The hidden key is there, just not listed.
    assert pair.get("/dir/d/_hidden").json["node"]["value"] == "h"
    # A key under a file.
    err(pair.get("/dir/d/x/deeper"), 104, 400, "/dir/d/x")
    err(pair.put("/dir/d/x/deeper", value="v"), 104, 400, "/dir/d/x")

    err(pair.delete("/dir/d", dir="true"), 108, 403, "/dir/d")
    err(pair.delete("/dir/d"), 102, 403, "/dir/d")
    err(pair.delete("/", dir="true"), 107, 400, "/")
    r = pair.delete("/dir/d", recursive="true")
    assert r.status == 200 and r.json["action"] == "delete"
    assert r.json["node"]["dir"] is True and r.json["prevNode"]["dir"] is True
    err(pair.get("/dir/d/x"), 100, 404, "/dir/d")

    assert pair.put("/dir/empty", query={"dir": "true"}).status == 201
    r = pair.delete("/dir/empty", dir="true")
    assert r.status == 200 and r.json["action"] == "delete"


def test_ttl_expiry_and_refresh(pair):
    r = pair.put("/ttl/a", value="1", ttl="2")
    assert r.status == 201
    node = r.json["node"]
    assert RFC3339_UTC.match(node["expiration"]) and 1 <= node["ttl"] <= 2
    r = pair.get("/ttl/a")
    assert 1 <= r.json["node"]["ttl"] <= 2
    created = node["modifiedIndex"]

    ws = pair.waiters(keys("/ttl/a"), {"wait": "true"})
    # Both sides expire the key within a bounded time.
    deadline = time.monotonic() + 8
    gone = {}
    while len(gone) < 2 and time.monotonic() < deadline:
        for side in SIDES:
            if side not in gone:
                resp = request(pair.port(side), "GET", keys("/ttl/a"))
                if resp.status == 404:
                    gone[side] = resp
        time.sleep(0.1)
    assert set(gone) == set(SIDES), f"the key did not expire within 8 s on {set(SIDES) - set(gone)}"
    pair.check("GET /ttl/a after expiry", gone)
    ev = pair.results("wait on /ttl/a", ws).json
    assert ev["action"] == "expire"
    assert ev["node"] == {"key": "/ttl/a", "modifiedIndex": created + 1, "createdIndex": created}
    assert ev["prevNode"]["value"] == "1" and "expiration" in ev["prevNode"]
    err(pair.get("/ttl/a"), 100, 404, "/ttl/a")

    # A long TTL, refreshed (no value; watchers are not told).
    r = pair.put("/ttl/b", value="x", ttl="300")
    idx = r.json["node"]["modifiedIndex"]
    ws = pair.waiters(keys("/ttl/b"), {"wait": "true"})
    r = pair.put("/ttl/b", query={"refresh": "true", "ttl": "600", "prevExist": "true"})
    assert r.status == 200 and r.json["action"] == "update"
    assert r.json["node"]["value"] == "x" and 590 <= r.json["node"]["ttl"] <= 600
    assert r.json["node"]["modifiedIndex"] == idx + 1
    err(pair.put("/ttl/b", query={"refresh": "true", "ttl": "5"}, value="y"), 211, 400,
        "A value was provided on a refresh")
    err(pair.put("/ttl/b", query={"refresh": "true", "prevExist": "true"}), 212, 400,
        "No TTL value set")
    err(pair.put("/ttl/none", query={"refresh": "true", "ttl": "5", "prevExist": "true"}),
        100, 404, "/ttl/none")
    # An empty ttl takes the TTL away.
    r = pair.put("/ttl/b", query={"prevExist": "true"}, value="y", ttl="")
    assert "ttl" not in r.json["node"] and "expiration" not in r.json["node"]
    assert r.json["prevNode"]["ttl"] > 0
    assert r.json["node"]["modifiedIndex"] == idx + 2
    # The refresh told no watcher, and the history skips it.
    ev = pair.results("wait on /ttl/b", ws).json
    assert ev["action"] == "update" and ev["node"]["value"] == "y"
    r = pair.do("GET", keys("/ttl/b"), query={"wait": "true", "waitIndex": str(idx + 1)})
    assert r.json["node"]["modifiedIndex"] == idx + 2
    # A directory with a TTL.
    r = pair.put("/ttl/d", query={"dir": "true", "ttl": "300"})
    assert r.json["node"]["dir"] is True and r.json["node"]["ttl"] > 290
    for bad in ("abc", "-1", "1.5"):
        err(pair.put("/ttl/c", value="v", ttl=bad), 202, 400, 'invalid value for "ttl"')


def test_compare_and_swap_and_delete(pair):
    r = pair.put("/cas/k", value="one")
    i1 = r.json["node"]["modifiedIndex"]
    r = pair.put("/cas/k", query={"prevValue": "one"}, value="two")
    assert r.status == 200 and r.json["action"] == "compareAndSwap"
    i2 = r.json["node"]["modifiedIndex"]
    assert i2 == i1 + 1 and r.json["prevNode"]["value"] == "one"
    err(pair.put("/cas/k", query={"prevValue": "one"}, value="three"), 101, 412,
        "[one != two]")
    r = pair.put("/cas/k", query={"prevIndex": str(i2)}, value="four")
    assert r.status == 200 and r.json["action"] == "compareAndSwap"
    i4 = r.json["node"]["modifiedIndex"]
    err(pair.put("/cas/k", query={"prevIndex": "1"}, value="five"), 101, 412, f"[1 != {i4}]")
    err(pair.put("/cas/k", query={"prevValue": "x", "prevIndex": "1"}, value="five"), 101, 412,
        f"[x != four] [1 != {i4}]")
    r = pair.put("/cas/k", query={"prevValue": "four", "prevIndex": str(i4)}, value="six")
    assert r.json["action"] == "compareAndSwap"
    err(pair.put("/cas/k", query={"prevValue": ""}, value="x"), 201, 400,
        '"prevValue" cannot be empty')
    err(pair.put("/cas/k", query={"prevIndex": "abc"}, value="x"), 203, 400,
        'invalid value for "prevIndex"')
    err(pair.put("/cas/missing", query={"prevValue": "a"}, value="x"), 100, 404, "/cas/missing")
    err(pair.put("/cas/k", query={"prevExist": "maybe"}, value="x"), 209, 400,
        "invalid value for prevExist")
    # prevExist=false with prevValue: the key exists.
    err(pair.put("/cas/k", query={"prevExist": "false", "prevValue": "six"}, value="x"),
        105, 412, "/cas/k")

    err(pair.delete("/cas/k", prevValue="wrong"), 101, 412, "[wrong != six]")
    cur = pair.get("/cas/k").json["node"]["modifiedIndex"]
    err(pair.delete("/cas/k", prevIndex="1"), 101, 412, f"[1 != {cur}]")
    r = pair.delete("/cas/k", prevValue="six", prevIndex=str(cur))
    assert r.status == 200 and r.json["action"] == "compareAndDelete"
    assert r.json["prevNode"]["value"] == "six"
    pair.put("/cas/j", value="v")
    cur = pair.get("/cas/j").json["node"]["modifiedIndex"]
    r = pair.delete("/cas/j", prevIndex=str(cur))
    assert r.json["action"] == "compareAndDelete"
    # Compare-and-swap on a directory.
    pair.put("/cas/d", query={"dir": "true"})
    err(pair.put("/cas/d", query={"prevValue": "x"}, value="y"), 102, 403, "/cas/d")
    err(pair.delete("/cas/d", prevValue="x"), 102, 403, "/cas/d")


def test_in_order_keys(pair):
    created = []
    for v in ("job1", "job2", "job3"):
        r = pair.post("/queue", value=v)
        assert r.status == 201 and r.json["action"] == "create"
        node = r.json["node"]
        assert node["key"] == f"/queue/{node['createdIndex']:020d}"
        created.append(node)
    r = pair.do("GET", keys("/queue"), query={"sorted": "true"}, sorted_listing=True)
    assert [n["value"] for n in r.json["node"]["nodes"]] == ["job1", "job2", "job3"]
    assert [n["key"] for n in r.json["node"]["nodes"]] == [n["key"] for n in created]
    r = pair.post("/queue", query={"ttl": "300"}, value="job4")
    assert r.json["node"]["ttl"] > 290
    pair.put("/queuefile", value="f")
    err(pair.post("/queuefile", value="x"), 104, 400, "/queuefile")


def test_wait(pair):
    # A long poll, answered by a later write.
    ws = pair.waiters(keys("/w/a"), {"wait": "true"})
    for side, w in ws.items():
        assert not w.done.is_set(), f"{side}: the wait returned before any write"
    r = pair.put("/w/a", value="1")
    first = r.json["node"]["modifiedIndex"]
    ev = pair.results("wait on /w/a", ws)
    assert ev.status == 200 and ev.json["action"] == "set"
    assert ev.json["node"]["value"] == "1"
    # The headers came before the event: X-Etcd-Index is the index the
    # watch started at.
    assert int(ev.headers["x-etcd-index"]) == first - 1
    assert ev.headers.get("transfer-encoding") == "chunked"

    pair.put("/w/a", value="2")
    # From the history.
    r = pair.do("GET", keys("/w/a"), query={"wait": "true", "waitIndex": str(first)})
    assert r.json["action"] == "set" and r.json["node"]["value"] == "1"
    r = pair.do("GET", keys("/w/a"), query={"wait": "true", "waitIndex": str(first + 1)})
    assert r.json["node"]["value"] == "2" and r.json["prevNode"]["value"] == "1"

    # Recursive wait on a directory.
    ws = pair.waiters(keys("/w"), {"wait": "true", "recursive": "true"})
    pair.put("/w/sub/x", value="deep")
    ev = pair.results("recursive wait on /w", ws).json
    assert ev["action"] == "set" and ev["node"]["key"] == "/w/sub/x"
    # A non-recursive wait on a directory fires on a change of the
    # directory itself only; with waitIndex it finds the delete below.
    pair.put("/w/d", query={"dir": "true"})
    idx = pair.get("/w/d").json["node"]["modifiedIndex"]
    pair.put("/w/d/child", value="c")
    pair.delete("/w/d", recursive="true")
    r = pair.do("GET", keys("/w/d"), query={"wait": "true", "waitIndex": str(idx + 1)})
    assert r.json["action"] == "delete" and r.json["node"]["key"] == "/w/d"

    # A stream: several events on one response.
    ws = pair.waiters(keys("/w/s"), {"wait": "true", "stream": "true"}, read_body=False)
    try:
        for i in range(3):
            pair.put("/w/s", value=f"s{i}")
        lines = {side: [w.readline() for _ in range(3)] for side, w in ws.items()}
    finally:
        for w in ws.values():
            w.close()
    got = {side: [json.loads(l) for l in ls] for side, ls in lines.items()}
    assert [e["node"]["value"] for e in got["ref"]] == ["s0", "s1", "s2"]
    ttls = {side: [] for side in SIDES}
    assert ([norm_body(e, ttls["ours"]) for e in got["ours"]]
            == [norm_body(e, ttls["ref"]) for e in got["ref"]]), got

    # Request errors.
    err(pair.do("PUT", keys("/w/a"), query={"wait": "true"}, form={"value": "x"}), 209, 400,
        '"wait" can only be used with GET requests')
    err(pair.do("GET", keys("/w/a"), query={"wait": "true", "waitIndex": "abc"}), 203, 400,
        'invalid value for "waitIndex"')


def test_quorum_head_methods_and_fields(pair):
    pair.put("/m/k", value="v")
    plain = pair.get("/m/k")
    q = pair.get("/m/k", quorum="true")
    assert q.status == 200 and q.json == plain.json
    assert q.headers["x-etcd-index"] == plain.headers["x-etcd-index"] == str(
        plain.json["node"]["modifiedIndex"])

    r = pair.do("HEAD", keys("/m/k"))
    assert r.status == 200 and r.text == ""
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-etcd-index"] == plain.headers["x-etcd-index"]
    r = pair.do("HEAD", keys("/m/none"))
    assert r.status == 404 and r.text == ""

    r = pair.do("PATCH", keys("/m/k"), body=b"")
    assert r.status == 405 and r.headers["allow"] == "HEAD,GET,PUT,POST,DELETE"
    assert r.text == "Method Not Allowed\n"
    r = pair.do("POST", "/v2/machines", body=b"")
    assert r.status == 405 and r.headers["allow"] == "GET,HEAD"
    for path in ("/v2/stats/store", "/v2/stats/self", "/v2/stats/leader"):
        r = pair.do("PUT", path, body=b"")
        assert r.status == 405 and r.headers["allow"] == "GET"

    for field in ("recursive", "sorted", "wait", "dir", "quorum", "stream", "noValueOnSuccess"):
        err(pair.do("GET", keys("/m/k"), query={field: "maybe"}), 209, 400,
            f'invalid value for "{field}"')
    err(pair.do("PUT", keys("/m/k"), query={"refresh": "yes"}, form={"ttl": "5"}), 209, 400,
        "invalid value for refresh")
    # Go's strconv.ParseBool spellings.
    for spelling in ("1", "t", "T", "TRUE", "True"):
        assert pair.get("/m/k", quorum=spelling).status == 200


def test_info_endpoints(pair, servers):
    for side, p in servers.items():
        r = request(p.client_port, "GET", "/v2/machines")
        assert (r.status, r.text) == (200, p.client_url), side
    members = {s: request(p.client_port, "GET", "/v2/members") for s, p in servers.items()}
    for side, r in members.items():
        assert r.status == 200 and r.headers["content-type"] == "application/json"
        m = r.json["members"]
        assert len(m) == 1 and m[0]["clientURLs"] == [servers[side].client_url]
        assert m[0]["peerURLs"] == [servers[side].peer_url] and m[0]["name"] == "infra1"
    assert shape(members["ours"].json) == shape(members["ref"].json)
    assert set(members["ours"].headers) == set(members["ref"].headers)
    leaders = {s: request(p.client_port, "GET", "/v2/members/leader") for s, p in servers.items()}
    assert shape(leaders["ours"].json) == shape(leaders["ref"].json)
    assert leaders["ref"].json == members["ref"].json["members"][0]

    for path in ("/v2/stats/self", "/v2/stats/leader", "/v2/stats/store", "/version"):
        got = {s: request(p.client_port, "GET", path) for s, p in servers.items()}
        for side, r in got.items():
            assert r.status == 200 and r.headers["content-type"] == "application/json", (side, r)
        assert shape(got["ours"].json) == shape(got["ref"].json), (
            f"{path}:\n  reference: {got['ref'].text}\n  ours:      {got['ours'].text}")
        assert set(got["ours"].headers) == set(got["ref"].headers), path
    self_ = {s: request(p.client_port, "GET", "/v2/stats/self").json for s, p in servers.items()}
    for side, st in self_.items():
        assert st["state"] == "StateLeader" and st["name"] == "infra1"
        assert st["leaderInfo"]["leader"] == st["id"]
        assert RFC3339_UTC.match(st["startTime"]), st
    store = request(servers["ref"].client_port, "GET", "/v2/stats/store").json
    assert all(isinstance(v, int) for v in store.values())
    assert store["watchers"] == 0


def test_headers_of_errors_and_index(pair):
    r = pair.put("/h/k", value="v")
    assert int(r.headers["x-etcd-index"]) == r.json["node"]["modifiedIndex"]
    r = pair.put("/h/k", query={"prevValue": "nope"}, value="x")
    body = err(r, 101, 412)
    assert body["index"] == int(r.headers["x-etcd-index"])
    # A request error is answered before the store is asked: index 0.
    r = pair.put("/h/k", value="x", ttl="bad")
    assert err(r, 202, 400)["index"] == 0 and r.headers["x-etcd-index"] == "0"
    assert "x-raft-index" not in r.headers
    # The root, with and without the slash.
    r = pair.do("GET", "/v2/keys")
    assert r.status == 200 and r.json["node"]["dir"] is True and "key" not in r.json["node"]
    assert "/h" in [n["key"] for n in r.json["node"]["nodes"]]
    pair.do("GET", "/v2/keys/", query={"recursive": "true"})


def test_wait_index_cleared(pair, servers):
    """After more than 1000 events, the oldest are gone from the history:
    401 with the oldest index kept and the current one."""
    start = {s: settle(p, 0) for s, p in servers.items()}
    assert start["ref"] == start["ours"]
    conns = {s: http.client.HTTPConnection("127.0.0.1", p.client_port, timeout=15)
             for s, p in servers.items()}
    try:
        for i in range(1010):
            for side in SIDES:
                r = request(0, "PUT", keys("/hist/k"), form={"value": str(i)}, conn=conns[side])
                assert r.status in (200, 201), (side, r)
    finally:
        for c in conns.values():
            c.close()
    cur = pair.get("/hist/k").json["node"]["modifiedIndex"]
    assert cur == start["ref"] + 1010
    r = pair.do("GET", keys("/hist/k"), query={"wait": "true", "waitIndex": str(start["ref"])})
    body = err(r, 401, 400, f"the requested history has been cleared [{cur - 999}/{start['ref']}]")
    assert body["index"] == cur
    # An index still in the history is answered from it.
    r = pair.do("GET", keys("/hist/k"), query={"wait": "true", "waitIndex": str(cur - 5)})
    assert r.json["node"]["value"] == "1004"


def test_without_enable_v2(tmp_path):
    s = {side: make_server(side, tmp_path, extra_args=()) for side in SIDES}
    try:
        start_both(s)
        for path in ("/v2/keys/foo", "/v2/keys", "/v2/members", "/v2/machines",
                     "/v2/stats/self", "/v2/stats/store"):
            answers = {side: request(p.client_port, "GET", path) for side, p in s.items()}
            for side, r in answers.items():
                assert (r.status, r.text) == (404, "404 page not found\n"), (side, path, r)
            Pair(s).check(f"GET {path} without --enable-v2", answers)
        r = request(s["ours"].client_port, "PUT", "/v2/keys/foo", form={"value": "x"})
        assert r.status == 404
        for side, p in s.items():
            assert request(p.client_port, "GET", "/version").status == 200, side
    finally:
        stop_all(s.values())
