"""flannel's use of the v2 API, replayed request by request against the
reference etcd 3.4.23 and ours (--enable-v2), answers compared (see
v2util.py for the normalisation).

What flannel does (its subnet/etcdv2 registry, through the etcd v2 Go
client, which shapes the requests):

  * network config: GET <prefix>/config?quorum=true&recursive=false&sorted=false
    (an operator put it there first: `etcdctl set .../config '{json}'`);
  * list leases: GET <prefix>/subnets?quorum=true&recursive=true&sorted=false;
    "key not found" (100) counts as no leases, the error's index being
    where the watch starts; else the answer's X-Etcd-Index;
  * acquire: PUT <prefix>/subnets/<a.b.c.d-len>?prevExist=false with the
    form value=<lease attrs JSON>&ttl=<seconds> (24 h in production; a
    412/105 means another node took the subnet: it picks another);
  * renew: PUT ...?prevIndex=<the lease's modifiedIndex> with value and ttl
    (a compare-and-swap);
  * watch: GET <prefix>/subnets?wait=true&waitIndex=<last index + 1>&recursive=true,
    again and again from the event's modifiedIndex; "expire" and "delete"
    events remove a lease;
  * release: DELETE <prefix>/subnets/<subnet>.

The TTLs here are seconds, not a day: one lease is left to expire and the
watcher must see the "expire" event."""

import http.client
import json
import time

import pytest

from v2util import SIDES, Pair, keys, make_server, request, settle, start_both, stop_all

PREFIX = "/coreos.com/network"
CONFIG = {"Network": "10.5.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}
LEASE_A = {"PublicIP": "192.168.64.3", "PublicIPv6": None, "BackendType": "vxlan",
           "BackendData": {"VNI": 1, "VtepMAC": "c6:d2:32:6f:8f:44"}}
LEASE_B = {"PublicIP": "192.168.64.4", "PublicIPv6": None, "BackendType": "vxlan",
           "BackendData": {"VNI": 1, "VtepMAC": "aa:bb:cc:dd:ee:ff"}}
SUBNET_A = "10.5.52.0-24"
SUBNET_B = "10.5.53.0-24"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    s = {side: make_server(side, tmp_path_factory.mktemp("v2flannel")) for side in SIDES}
    try:
        start_both(s)
        idx = {side: settle(p) for side, p in s.items()}
        assert idx["ref"] == idx["ours"], f"etcd index after start: {idx}"
        yield Pair(s)
    finally:
        stop_all(s.values())


def get_q(recursive: bool) -> list:
    """The query the v2 Go client sends for a quorum GET."""
    return [("quorum", "true"), ("recursive", str(recursive).lower()), ("sorted", "false")]


def watch_q(after: int) -> list:
    return [("recursive", "true"), ("wait", "true"), ("waitIndex", str(after + 1))]


def list_leases(pair: Pair):
    """flannel's getSubnets: (leases by subnet, the index to watch after)."""
    r = pair.do("GET", keys(f"{PREFIX}/subnets"), query=get_q(True))
    if r.status == 404:
        assert r.json["errorCode"] == 100
        return {}, r.json["index"]
    assert r.status == 200, r
    leases = {n["key"].rsplit("/", 1)[1]: n for n in r.json["node"].get("nodes", [])}
    return leases, int(r.headers["x-etcd-index"])


def acquire(pair: Pair, subnet: str, attrs: dict, ttl: int):
    return pair.do("PUT", keys(f"{PREFIX}/subnets/{subnet}"), query=[("prevExist", "false")],
                   form=[("value", json.dumps(attrs)), ("ttl", str(ttl))])


def renew(pair: Pair, subnet: str, attrs: dict, ttl: int, asof: int):
    return pair.do("PUT", keys(f"{PREFIX}/subnets/{subnet}"), query=[("prevIndex", str(asof))],
                   form=[("value", json.dumps(attrs)), ("ttl", str(ttl))])


def test_flannel_lease_lifecycle(pair):
    # The operator stores the network config; flannel reads it.
    r = pair.do("PUT", keys(f"{PREFIX}/config"), form=[("value", json.dumps(CONFIG))])
    assert r.status == 201
    r = pair.do("GET", keys(f"{PREFIX}/config"), query=get_q(False))
    assert r.status == 200 and json.loads(r.json["node"]["value"]) == CONFIG

    # No leases yet: the answer is "key not found", with the index to
    # watch from.
    leases, since = list_leases(pair)
    assert leases == {} and since == int(r.headers["x-etcd-index"])

    # Node B watches the subnets while node A acquires a lease.
    ws = pair.waiters(keys(f"{PREFIX}/subnets"), watch_q(since))
    r = acquire(pair, SUBNET_A, LEASE_A, 4)
    assert r.status == 201 and r.json["action"] == "create"
    asof_a = r.json["node"]["modifiedIndex"]
    assert 3 <= r.json["node"]["ttl"] <= 4 and "expiration" in r.json["node"]
    ev = pair.results("watch subnets (create A)", ws).json
    assert ev["action"] == "create" and ev["node"]["key"] == f"{PREFIX}/subnets/{SUBNET_A}"
    assert json.loads(ev["node"]["value"]) == LEASE_A
    since = ev["node"]["modifiedIndex"]

    # Node B wants the same subnet: taken.
    r = acquire(pair, SUBNET_A, LEASE_B, 60)
    assert r.status == 412 and r.json["errorCode"] == 105
    assert r.json["cause"] == f"{PREFIX}/subnets/{SUBNET_A}"
    # It takes the next one.
    r = acquire(pair, SUBNET_B, LEASE_B, 60)
    assert r.status == 201
    asof_b = r.json["node"]["modifiedIndex"]

    # The watcher, started after the last event it saw, gets B's lease
    # from the history.
    r = pair.do("GET", keys(f"{PREFIX}/subnets"), query=watch_q(since))
    assert r.json["action"] == "create" and r.json["node"]["modifiedIndex"] == asof_b
    since = asof_b

    # A renews its lease (compare-and-swap on the index it holds); a renewal
    # with a stale index fails.
    r = renew(pair, SUBNET_A, LEASE_A, 4, asof_a)
    assert r.status == 200 and r.json["action"] == "compareAndSwap"
    assert r.json["prevNode"]["modifiedIndex"] == asof_a
    asof_a = r.json["node"]["modifiedIndex"]
    r = renew(pair, SUBNET_A, LEASE_A, 4, asof_a - 1)
    assert r.status == 412 and r.json["errorCode"] == 101
    assert r.json["cause"] == f"[{asof_a - 1} != {asof_a}]"

    # Every lease, as a joining node lists them.
    leases, index = list_leases(pair)
    assert sorted(leases) == [SUBNET_A, SUBNET_B]
    assert json.loads(leases[SUBNET_B]["value"]) == LEASE_B
    assert leases[SUBNET_A]["modifiedIndex"] == asof_a == index

    # The renewal shows in the watch; then A stops renewing and its lease
    # expires: the watcher sees "expire".
    r = pair.do("GET", keys(f"{PREFIX}/subnets"), query=watch_q(since))
    assert r.json["action"] == "compareAndSwap" and r.json["node"]["modifiedIndex"] == asof_a
    ws = pair.waiters(keys(f"{PREFIX}/subnets"), watch_q(asof_a))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(w.done.is_set() for w in ws.values()):
        time.sleep(0.1)
    ev = pair.results("watch subnets (expire A)", ws).json
    assert ev["action"] == "expire"
    assert ev["node"] == {"key": f"{PREFIX}/subnets/{SUBNET_A}",
                          "modifiedIndex": asof_a + 1, "createdIndex": ev["node"]["createdIndex"]}
    assert json.loads(ev["prevNode"]["value"]) == LEASE_A
    since = ev["node"]["modifiedIndex"]
    leases, _ = list_leases(pair)
    assert sorted(leases) == [SUBNET_B]

    # B releases its lease.
    r = pair.do("DELETE", keys(f"{PREFIX}/subnets/{SUBNET_B}"),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.json["action"] == "delete"
    r = pair.do("GET", keys(f"{PREFIX}/subnets"), query=watch_q(since))
    assert r.json["action"] == "delete" and r.json["node"]["key"].endswith(SUBNET_B)
    # The subnets directory stays, empty.
    r = pair.do("GET", keys(f"{PREFIX}/subnets"), query=get_q(True))
    assert r.status == 200 and r.json["node"]["dir"] is True and "nodes" not in r.json["node"]
    leases, _ = list_leases(pair)
    assert leases == {}


def test_flannel_watch_restarts_after_the_history_is_cleared(pair):
    """A watcher that fell more than 1000 events behind gets 401 and (as
    flannel does) lists the leases again and watches from that index."""
    leases, since = list_leases(pair)
    conns = {}
    try:
        for side in SIDES:
            conns[side] = http.client.HTTPConnection("127.0.0.1", pair.port(side), timeout=15)
        for i in range(1001):
            for side in SIDES:
                r = request(0, "PUT", keys(f"{PREFIX}/subnets/10.5.60.0-24"),
                            form=[("value", json.dumps(LEASE_A)), ("ttl", "300")],
                            conn=conns[side])
                assert r.status in (200, 201), (side, r)
    finally:
        for c in conns.values():
            c.close()
    r = pair.do("GET", keys(f"{PREFIX}/subnets"), query=watch_q(since))
    assert r.status == 400 and r.json["errorCode"] == 401
    leases, since = list_leases(pair)
    assert sorted(leases) == ["10.5.60.0-24"] and leases["10.5.60.0-24"]["ttl"] > 290
    ws = pair.waiters(keys(f"{PREFIX}/subnets"), watch_q(since))
    pair.do("DELETE", keys(f"{PREFIX}/subnets/10.5.60.0-24"))
    ev = pair.results("watch after relist", ws).json
    assert ev["action"] == "delete"
