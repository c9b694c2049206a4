"""The single-member server's KV API, Cluster.MemberList and
Maintenance.Status, driven with the reference etcdctl 3.4.23 as an operator
would. Every expected text below is what etcd prints for the same commands
(checked against /usr/bin/etcd; test_differential.py re-checks it side by
side)."""

import base64
import json
import re
import subprocess
import threading

import pytest

from conftest import REFERENCE_ETCDCTL, KvClient, error_line

COMPACTED = "Error: etcdserver: mvcc: required revision has been compacted"
FUTURE = "Error: etcdserver: mvcc: required revision is a future revision"


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def ok(etcdctl, *args, input=None) -> str:
    r = etcdctl(*args, input=input)
    assert r.returncode == 0, f"etcdctl {' '.join(args)}: rc={r.returncode} {r.stderr}"
    return r.stdout


def fails(etcdctl, *args, input=None) -> str:
    """Runs a command that must fail; returns its `Error: ...` line."""
    r = etcdctl(*args, input=input)
    assert r.returncode != 0, f"etcdctl {' '.join(args)} should fail: {r.stdout}"
    assert r.stdout == ""
    return error_line(r)


def ids(etcdctl) -> tuple[int, int]:
    """(cluster id, member id) as the member reports them."""
    h = json.loads(ok(etcdctl, "endpoint", "status", "-w", "json"))[0]["Status"]["header"]
    return h["cluster_id"], h["member_id"]


def put_all(etcdctl, *pairs):
    for k, v in pairs:
        assert ok(etcdctl, "put", k, v) == "OK\n"


# ---- put / get ----


def test_put_prints_ok_and_get_prints_key_then_value(etcdctl):
    assert ok(etcdctl, "put", "foo", "bar") == "OK\n"
    assert ok(etcdctl, "get", "foo") == "foo\nbar\n"
    assert ok(etcdctl, "put", "foo", "bar2") == "OK\n"
    assert ok(etcdctl, "get", "foo") == "foo\nbar2\n"
    # A missing key prints nothing and is no error.
    assert ok(etcdctl, "get", "missing") == ""
    # Values with spaces and newlines come back byte for byte.
    assert ok(etcdctl, "put", "multi", "a b\nc") == "OK\n"
    assert ok(etcdctl, "get", "multi", "--print-value-only") == "a b\nc\n"
    # The value may come from stdin.
    assert ok(etcdctl, "put", "stdin-key", input="from stdin") == "OK\n"
    assert ok(etcdctl, "get", "stdin-key", "--print-value-only") == "from stdin\n"


def test_put_prev_kv(etcdctl):
    assert ok(etcdctl, "put", "k", "v1", "--prev-kv") == "OK\n"  # nothing before
    assert ok(etcdctl, "put", "k", "v2", "--prev-kv") == "OK\nk\nv1\n"
    j = json.loads(ok(etcdctl, "put", "k", "v3", "--prev-kv", "-w", "json"))
    assert j["header"]["revision"] == 4
    assert j["prev_kv"] == {"key": b64("k"), "create_revision": 2, "mod_revision": 3,
                            "version": 2, "value": b64("v2")}


def test_put_ignore_value_and_lease(etcdctl):
    assert fails(etcdctl, "put", "nokey", "--ignore-value") == "Error: etcdserver: key not found"
    put_all(etcdctl, ("k", "v"))
    assert ok(etcdctl, "put", "k", "--ignore-value") == "OK\n"
    assert ok(etcdctl, "get", "k", "-w", "json").count('"version":2') == 1
    assert ok(etcdctl, "get", "k", "--print-value-only") == "v\n"
    assert ok(etcdctl, "put", "k", "w", "--ignore-lease") == "OK\n"
    assert ok(etcdctl, "get", "k", "--print-value-only") == "w\n"


def test_get_json(etcdctl):
    cid, mid = ids(etcdctl)
    put_all(etcdctl, ("foo", "bar"), ("foo1", "bar1"), ("foo2", "bar2"), ("foo", "bar3"))
    j = json.loads(ok(etcdctl, "get", "foo", "-w", "json"))
    assert j["header"]["cluster_id"] == cid
    assert j["header"]["member_id"] == mid
    assert j["header"]["revision"] == 5
    assert j["header"]["raft_term"] >= 2
    assert j["kvs"] == [{"key": b64("foo"), "create_revision": 2, "mod_revision": 5,
                         "version": 2, "value": b64("bar3")}]
    assert j["count"] == 1
    assert "more" not in j  # false is omitted, as Go's JSON printer does

    j = json.loads(ok(etcdctl, "get", "foo", "--prefix", "--limit=2", "-w", "json"))
    assert [kv["key"] for kv in j["kvs"]] == [b64("foo"), b64("foo1")]
    assert j["more"] is True
    assert j["count"] == 3  # count is of the whole range, not of the page

    j = json.loads(ok(etcdctl, "get", "nothing", "-w", "json"))
    assert j == {"header": {"cluster_id": cid, "member_id": mid, "revision": 5,
                            "raft_term": j["header"]["raft_term"]}}

    j = json.loads(ok(etcdctl, "get", "foo", "--prefix", "--keys-only", "-w", "json"))
    assert all("value" not in kv for kv in j["kvs"])
    assert [base64.b64decode(kv["key"]).decode() for kv in j["kvs"]] == ["foo", "foo1", "foo2"]


def test_get_prefix_from_key_keys_only_print_value_only(etcdctl):
    put_all(etcdctl, ("fo", "0"), ("foo", "1"), ("foo1", "2"), ("foo2", "3"), ("zoo", "4"),
            ("a", "5"))
    assert ok(etcdctl, "get", "foo", "--prefix") == "foo\n1\nfoo1\n2\nfoo2\n3\n"
    assert ok(etcdctl, "get", "foo", "--from-key") == "foo\n1\nfoo1\n2\nfoo2\n3\nzoo\n4\n"
    # keys-only prints each key followed by an empty value line.
    assert ok(etcdctl, "get", "foo", "--prefix", "--keys-only") == "foo\n\nfoo1\n\nfoo2\n\n"
    assert ok(etcdctl, "get", "foo", "--prefix", "--print-value-only") == "1\n2\n3\n"
    assert ok(etcdctl, "get", "", "--prefix", "--keys-only") == (
        "a\n\nfo\n\nfoo\n\nfoo1\n\nfoo2\n\nzoo\n\n")
    # An explicit range [foo1, zoo).
    assert ok(etcdctl, "get", "foo1", "zoo") == "foo1\n2\nfoo2\n3\n"
    assert ok(etcdctl, "get", "foo", "--prefix", "--hex") == (
        "\\x66\\x6f\\x6f\n\\x31\n\\x66\\x6f\\x6f\\x31\n\\x32\n\\x66\\x6f\\x6f\\x32\n\\x33\n")
    # Serializable reads see the same data.
    assert ok(etcdctl, "get", "foo", "--prefix", "--consistency=s") == "foo\n1\nfoo1\n2\nfoo2\n3\n"


def test_get_limit(etcdctl):
    put_all(etcdctl, *[(f"k{i}", f"v{i}") for i in range(5)])
    assert ok(etcdctl, "get", "k", "--prefix", "--limit=2") == "k0\nv0\nk1\nv1\n"
    assert ok(etcdctl, "get", "k", "--prefix", "--limit=5") == "".join(
        f"k{i}\nv{i}\n" for i in range(5))
    j = json.loads(ok(etcdctl, "get", "k", "--prefix", "--limit=5", "-w", "json"))
    assert "more" not in j and j["count"] == 5
    # With a sort, the limit applies after sorting.
    assert ok(etcdctl, "get", "k", "--prefix", "--limit=2", "--order=DESCEND") == (
        "k4\nv4\nk3\nv3\n")
    j = json.loads(ok(etcdctl, "get", "k", "--prefix", "--limit=2", "--sort-by=KEY",
                      "--order=DESCEND", "-w", "json"))
    assert [kv["key"] for kv in j["kvs"]] == [b64("k4"), b64("k3")]
    assert j["more"] is True and j["count"] == 5


def test_get_rev_reads_history(etcdctl):
    assert ok(etcdctl, "put", "k", "v1") == "OK\n"  # rev 2
    assert ok(etcdctl, "put", "k", "v2") == "OK\n"  # rev 3
    assert ok(etcdctl, "del", "k") == "1\n"  # rev 4
    assert ok(etcdctl, "put", "k", "v3") == "OK\n"  # rev 5
    assert ok(etcdctl, "get", "k", "--rev=1") == ""
    assert ok(etcdctl, "get", "k", "--rev=2") == "k\nv1\n"
    assert ok(etcdctl, "get", "k", "--rev=3") == "k\nv2\n"
    assert ok(etcdctl, "get", "k", "--rev=4") == ""
    assert ok(etcdctl, "get", "k", "--rev=5") == "k\nv3\n"
    assert ok(etcdctl, "get", "k", "--rev=0") == "k\nv3\n"  # 0 is "now"
    j = json.loads(ok(etcdctl, "get", "k", "--rev=3", "-w", "json"))
    # The header carries the current revision; the kv its own.
    assert j["header"]["revision"] == 5
    assert j["kvs"] == [{"key": b64("k"), "create_revision": 2, "mod_revision": 3,
                         "version": 2, "value": b64("v2")}]
    # The key was re-created at rev 5: a new generation, version 1.
    j = json.loads(ok(etcdctl, "get", "k", "-w", "json"))
    assert j["kvs"][0]["create_revision"] == 5 and j["kvs"][0]["version"] == 1


def test_future_revision_is_an_error(etcdctl):
    put_all(etcdctl, ("k", "v"))  # rev 2
    assert ok(etcdctl, "get", "k", "--rev=2") == "k\nv\n"
    r = etcdctl("get", "k", "--rev=3")
    assert r.returncode != 0
    assert error_line(r) == FUTURE
    assert "code = OutOfRange" in r.stderr  # the gRPC status code etcd uses


# Keys whose order differs for every sort target:
#            key  value  version  create  mod
#            a    x2     1        5       5
#            b    x1     3        3       7
#            c    x4     4        4       11
#            d    x3     2        2       8
SORT_WRITES = [("d", "x3"), ("b", "x1"), ("c", "x4"), ("a", "x2"), ("b", "x1"), ("b", "x1"),
               ("d", "x3"), ("c", "x4"), ("c", "x4"), ("c", "x4")]
VALUES = {"a": "x2", "b": "x1", "c": "x4", "d": "x3"}
ASCENDING = {
    "KEY": "abcd",
    "VALUE": "badc",
    "VERSION": "adbc",
    "CREATE": "dbca",
    "MODIFY": "abdc",
}


@pytest.fixture
def sort_data(etcdctl):
    put_all(etcdctl, *SORT_WRITES)
    return etcdctl


@pytest.mark.parametrize("target", sorted(ASCENDING))
def test_get_sort_by(sort_data, target):
    etcdctl = sort_data

    def expect(order: str) -> str:
        return "".join(f"{k}\n{VALUES[k]}\n" for k in order)

    asc = ASCENDING[target]
    assert ok(etcdctl, "get", "", "--prefix", f"--sort-by={target}") == expect(asc)
    assert ok(etcdctl, "get", "", "--prefix", f"--sort-by={target}",
              "--order=ASCEND") == expect(asc)
    assert ok(etcdctl, "get", "", "--prefix", f"--sort-by={target}",
              "--order=DESCEND") == expect(asc[::-1])
    assert ok(etcdctl, "get", "", "--prefix", f"--sort-by={target}", "--order=DESCEND",
              "--limit=2", "--keys-only") == "".join(f"{k}\n\n" for k in asc[::-1][:2])


def test_get_order_without_sort_target_sorts_by_key(sort_data):
    assert ok(sort_data, "get", "", "--prefix", "--order=DESCEND", "--keys-only") == (
        "d\n\nc\n\nb\n\na\n\n")


def test_get_write_out_formats(etcdctl):
    cid, mid = ids(etcdctl)
    put_all(etcdctl, ("foo", "bar"), ("foo1", "bar1"))
    term = json.loads(ok(etcdctl, "get", "foo", "-w", "json"))["header"]["raft_term"]
    assert ok(etcdctl, "get", "foo", "--prefix", "-w", "simple") == "foo\nbar\nfoo1\nbar1\n"
    assert ok(etcdctl, "get", "foo", "--prefix", "-w", "fields") == (
        f'"ClusterID" : {cid}\n'
        f'"MemberID" : {mid}\n'
        '"Revision" : 3\n'
        f'"RaftTerm" : {term}\n'
        '"Key" : "foo"\n'
        '"CreateRevision" : 2\n'
        '"ModRevision" : 2\n'
        '"Version" : 1\n'
        '"Value" : "bar"\n'
        '"Lease" : 0\n'
        '"Key" : "foo1"\n'
        '"CreateRevision" : 3\n'
        '"ModRevision" : 3\n'
        '"Version" : 1\n'
        '"Value" : "bar1"\n'
        '"Lease" : 0\n'
        '"More" : false\n'
        '"Count" : 2\n'
    )
    assert json.loads(ok(etcdctl, "get", "foo", "--prefix", "-w", "json"))["count"] == 2
    # etcdctl has no table form for get (a client-side refusal).
    assert fails(etcdctl, "get", "foo", "-w", "table") == (
        "Error: table not supported as output format")


# ---- del ----


def test_del(etcdctl):
    cid, mid = ids(etcdctl)
    put_all(etcdctl, ("a", "1"), ("foo", "2"), ("foo1", "3"), ("foo2", "4"), ("zoo", "5"),
            ("zoo2", "6"))  # revs 2..7
    assert ok(etcdctl, "del", "missing") == "0\n"
    assert ok(etcdctl, "del", "a") == "1\n"  # rev 8
    assert ok(etcdctl, "get", "a") == ""
    assert ok(etcdctl, "del", "foo1", "--prev-kv") == "1\nfoo1\n3\n"  # rev 9
    assert ok(etcdctl, "del", "foo", "--prefix", "--prev-kv") == "2\nfoo\n2\nfoo2\n4\n"  # 10
    j = json.loads(ok(etcdctl, "del", "z", "--from-key", "--prev-kv", "-w", "json"))  # 11
    assert j["header"]["cluster_id"] == cid and j["header"]["member_id"] == mid
    assert j["header"]["revision"] == 11
    assert j["deleted"] == 2
    assert j["prev_kvs"] == [
        {"key": b64("zoo"), "create_revision": 6, "mod_revision": 6, "version": 1,
         "value": b64("5")},
        {"key": b64("zoo2"), "create_revision": 7, "mod_revision": 7, "version": 1,
         "value": b64("6")},
    ]
    assert ok(etcdctl, "get", "", "--from-key") == ""
    # Nothing to delete: no new revision, "deleted" omitted.
    j = json.loads(ok(etcdctl, "del", "nothing", "-w", "json"))
    assert j["header"]["revision"] == 11 and "deleted" not in j


def test_del_range_and_from_key(etcdctl):
    put_all(etcdctl, *[(k, k.upper()) for k in ("a", "b", "c", "d", "e")])
    assert ok(etcdctl, "del", "b", "d") == "2\n"  # [b, d)
    assert ok(etcdctl, "get", "", "--prefix", "--keys-only") == "a\n\nd\n\ne\n\n"
    assert ok(etcdctl, "del", "d", "--from-key") == "2\n"
    assert ok(etcdctl, "get", "", "--prefix") == "a\nA\n"
    assert ok(etcdctl, "del", "", "--prefix") == "1\n"


# ---- txn ----

# etcd's documented example (etcdctl README, `txn`), fed on stdin: compares,
# a blank line, success requests, a blank line, failure requests, a blank line.
DOCS_TXN = (
    'mod("key1") > "0"\n'
    "\n"
    'put key1 "overwrote-key1"\n'
    "\n"
    'put key1 "created-key1"\n'
    'put key2 "some extra key"\n'
    "\n"
)


def test_txn_docs_example(etcdctl):
    # key1 does not exist: mod("key1") is 0, the failure branch runs.
    assert ok(etcdctl, "txn", input=DOCS_TXN) == "FAILURE\n\nOK\n\nOK\n"
    assert ok(etcdctl, "get", "key", "--prefix") == (
        "key1\ncreated-key1\nkey2\nsome extra key\n")
    # Now it exists: the success branch.
    assert ok(etcdctl, "txn", input=DOCS_TXN) == "SUCCESS\n\nOK\n"
    assert ok(etcdctl, "get", "key", "--prefix") == (
        "key1\noverwrote-key1\nkey2\nsome extra key\n")
    j = json.loads(ok(etcdctl, "get", "key1", "-w", "json"))
    # Both puts of the failed txn share revision 2; the second txn is rev 3.
    assert j["kvs"][0]["create_revision"] == 2
    assert j["kvs"][0]["mod_revision"] == 3
    assert j["kvs"][0]["version"] == 2
    assert j["header"]["revision"] == 3


def test_txn_compares_and_mixed_ops(etcdctl):
    put_all(etcdctl, ("k1", "v1"), ("k2", "v2"), ("k3", "v3"))  # revs 2, 3, 4
    txn = (
        'value("k1") = "v1"\n'
        'version("k2") = "1"\n'
        'create("k3") > "3"\n'
        'mod("k3") < "5"\n'
        "\n"
        "get k --prefix\n"
        "put k4 v4\n"
        "del k1\n"
        "\n"
        "put failed x\n"
        "\n"
    )
    assert ok(etcdctl, "txn", input=txn) == (
        "SUCCESS\n\nk1\nv1\nk2\nv2\nk3\nv3\n\nOK\n\n1\n")
    assert ok(etcdctl, "get", "k", "--prefix", "--keys-only") == "k2\n\nk3\n\nk4\n\n"
    assert ok(etcdctl, "get", "failed") == ""
    # The same compares now fail (k1 is gone): the failure branch.
    assert ok(etcdctl, "txn", input=txn) == "FAILURE\n\nOK\n"
    assert ok(etcdctl, "get", "failed") == "failed\nx\n"
    # A value compare against a missing key is false, even with "!=".
    assert ok(etcdctl, "txn", input='value("nope") != "x"\n\nput yes 1\n\nput no 1\n\n') == (
        "FAILURE\n\nOK\n")


def test_txn_json_and_read_only(etcdctl):
    cid, mid = ids(etcdctl)
    put_all(etcdctl, ("k", "v"))  # rev 2
    j = json.loads(ok(etcdctl, "txn", "-w", "json",
                      input='value("k") = "v"\n\nput k w\nget k\n\n\n'))
    assert j["header"]["cluster_id"] == cid and j["header"]["member_id"] == mid
    assert j["header"]["revision"] == 3
    assert j["succeeded"] is True
    assert j["responses"][0] == {"Response": {"ResponsePut": {"header": {"revision": 3}}}}
    rng = j["responses"][1]["Response"]["ResponseRange"]
    assert rng["kvs"] == [{"key": b64("k"), "create_revision": 2, "mod_revision": 3,
                           "version": 2, "value": b64("w")}]
    assert rng["count"] == 1
    # A read-only txn whose compare fails: no revision change, "succeeded"
    # omitted (false), the failure branch's gets answered.
    j = json.loads(ok(etcdctl, "txn", "-w", "json",
                      input='value("k") = "nope"\n\nput a b\n\nget k\nget missing\n\n'))
    assert j["header"]["revision"] == 3
    assert "succeeded" not in j
    assert j["responses"][0]["Response"]["ResponseRange"]["count"] == 1
    assert j["responses"][1] == {"Response": {"ResponseRange": {"header": {"revision": 3}}}}
    assert ok(etcdctl, "get", "a") == ""


def test_txn_errors(etcdctl):
    put_all(etcdctl, ("k", "v"))
    assert fails(etcdctl, "txn", input="\nput d 1\nput d 2\n\n\n") == (
        "Error: etcdserver: duplicate key given in txn request")
    too_many = "\n" + "".join(f"put k{i} v\n" for i in range(129)) + "\n\n"
    assert fails(etcdctl, "txn", input=too_many) == (
        "Error: etcdserver: too many operations in txn request")
    max_ops = "\n" + "".join(f"put k{i} v\n" for i in range(128)) + "\n\n"
    assert ok(etcdctl, "txn", input=max_ops) == "SUCCESS\n" + "\nOK\n" * 128
    assert fails(etcdctl, "txn", input='version("k") > "0"\n\nget k --rev=1000\n\n\n') == FUTURE
    assert fails(etcdctl, "txn", input="\nput k w --lease=1234\n\n\n") == (
        "Error: etcdserver: requested lease not found")
    # A failing txn changed nothing.
    assert ok(etcdctl, "get", "k", "--print-value-only") == "v\n"
    assert ok(etcdctl, "get", "d") == ""


# ---- compaction ----


def test_compaction(etcdctl):
    for i in range(1, 7):
        assert ok(etcdctl, "put", "k", f"v{i}") == "OK\n"  # revs 2..7
    assert ok(etcdctl, "compaction", "3") == "compacted revision 3\n"
    r = etcdctl("get", "k", "--rev=2")
    assert r.returncode != 0
    assert r.stdout == ""
    assert error_line(r) == COMPACTED
    # The compacted revision itself is still readable; later ones too.
    assert ok(etcdctl, "get", "k", "--rev=3") == "k\nv2\n"
    assert ok(etcdctl, "get", "k", "--rev=4") == "k\nv3\n"
    # Compacting at or below the compacted revision, or in the future, fails.
    assert fails(etcdctl, "compaction", "3") == COMPACTED
    assert fails(etcdctl, "compaction", "2") == COMPACTED
    assert fails(etcdctl, "compaction", "100") == FUTURE
    assert ok(etcdctl, "compaction", "--physical", "5") == "compacted revision 5\n"
    assert fails(etcdctl, "get", "k", "--rev=4") == COMPACTED
    assert ok(etcdctl, "get", "k", "--rev=5") == "k\nv4\n"
    assert ok(etcdctl, "get", "k") == "k\nv6\n"
    # Compaction does not change the revision; the next write continues.
    j = json.loads(ok(etcdctl, "get", "k", "-w", "json"))
    assert j["header"]["revision"] == 7
    assert j["kvs"][0]["version"] == 6 and j["kvs"][0]["create_revision"] == 2
    assert ok(etcdctl, "put", "k", "v7") == "OK\n"
    assert json.loads(ok(etcdctl, "get", "k", "-w", "json"))["header"]["revision"] == 8
    # Compacting to the current revision is allowed.
    assert ok(etcdctl, "compaction", "8") == "compacted revision 8\n"
    assert ok(etcdctl, "get", "k", "--rev=8") == "k\nv7\n"


def test_compaction_removes_deleted_keys_history(etcdctl):
    put_all(etcdctl, ("gone", "1"), ("kept", "2"))  # revs 2, 3
    assert ok(etcdctl, "del", "gone") == "1\n"  # rev 4
    assert ok(etcdctl, "compaction", "4") == "compacted revision 4\n"
    assert ok(etcdctl, "get", "", "--prefix", "--rev=4") == "kept\n2\n"
    assert ok(etcdctl, "put", "gone", "again") == "OK\n"  # rev 5
    j = json.loads(ok(etcdctl, "get", "gone", "-w", "json"))
    assert j["kvs"][0]["create_revision"] == 5 and j["kvs"][0]["version"] == 1


# ---- request errors ----


def test_put_empty_key_is_an_error(etcdctl):
    r = etcdctl("put", "", "x")
    assert r.returncode != 0
    assert error_line(r) == "Error: etcdserver: key is not provided"
    assert "code = InvalidArgument" in r.stderr


def test_put_with_unknown_lease(etcdctl):
    r = etcdctl("put", "k", "v", "--lease=1234")
    assert r.returncode != 0
    assert error_line(r) == "Error: etcdserver: requested lease not found"
    assert "code = NotFound" in r.stderr
    assert ok(etcdctl, "get", "k") == ""


def test_request_too_large(etcdctl):
    # Above --max-request-bytes (1.5 MiB) but below the gRPC limit: etcd's error.
    assert fails(etcdctl, "put", "big", input="x" * 1_600_000) == (
        "Error: etcdserver: request is too large")
    assert ok(etcdctl, "put", "big", input="x" * 1_400_000) == "OK\n"
    assert ok(etcdctl, "get", "big", "--print-value-only") == "x" * 1_400_000 + "\n"


def test_limit_flags_are_honoured(etcd_factory):
    m = etcd_factory(extra_args=("--max-txn-ops=3", "--max-request-bytes=1024")).start()
    assert fails(m.etcdctl, "txn", input="\nput a 1\nput b 1\nput c 1\nput d 1\n\n\n") == (
        "Error: etcdserver: too many operations in txn request")
    assert ok(m.etcdctl, "txn", input="\nput a 1\nput b 1\nput c 1\n\n\n") == (
        "SUCCESS\n\nOK\n\nOK\n\nOK\n")
    assert fails(m.etcdctl, "put", "big", "x" * 1100) == "Error: etcdserver: request is too large"
    assert ok(m.etcdctl, "put", "big", "x" * 900) == "OK\n"
    # Beyond --max-request-bytes + 512 KiB gRPC itself refuses the message.
    # (The text differs: grpc-go says "grpc: received message larger than
    # max", gRPC C++ "Received message larger than max"; the code is the same.)
    r = m.etcdctl("put", "big", input="x" * (1024 + 512 * 1024 + 100))
    assert r.returncode != 0 and "code = ResourceExhausted" in error_line(r)
    assert "larger than max (525421 vs. 525312)" in error_line(r)


# ---- cluster and maintenance ----


def test_member_list(member):
    cid, mid = ids(member.etcdctl)
    hex_id = f"{mid:x}"
    row = [hex_id, "started", member.name, member.peer_url, member.client_url, "false"]
    assert member.ok("member", "list") == ", ".join(row) + "\n"
    assert member.ok("member", "list", "-w", "simple") == ", ".join(row) + "\n"
    widths = [max(len(h), len(c)) + 2 for h, c in
              zip(["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"], row)]
    border = "+" + "+".join("-" * w for w in widths) + "+\n"
    table = member.ok("member", "list", "-w", "table")
    lines = table.splitlines(keepends=True)
    assert lines[0] == border and lines[2] == border and lines[4] == border
    assert [c.strip() for c in lines[1].strip("|\n").split("|")] == [
        "ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]
    assert [c.strip() for c in lines[3].strip("|\n").split("|")] == row
    assert len(lines) == 5

    j = json.loads(member.ok("member", "list", "-w", "json"))
    assert j["members"] == [{"ID": mid, "name": member.name, "peerURLs": [member.peer_url],
                             "clientURLs": [member.client_url]}]
    assert j["header"]["cluster_id"] == cid and j["header"]["member_id"] == mid
    fields = member.ok("member", "list", "-w", "fields")
    assert f'"ID" : {mid}\n"Name" : "{member.name}"\n' in fields
    assert f'"PeerURL" : "{member.peer_url}"\n"ClientURL" : "{member.client_url}"\n' in fields
    assert '"IsLearner" : false\n' in fields


def test_member_list_header_has_no_revision(member):
    """etcd's Cluster service fills cluster id, member id and raft term only
    (v3rpc ClusterServer.header()): `member list -w json` has no "revision"
    and `-w fields` prints "Revision" : 0, even after writes."""
    member.ok("put", "k", "v")
    j = json.loads(member.ok("member", "list", "-w", "json"))
    assert "revision" not in j["header"], (
        f"MemberList header carries revision {j['header'].get('revision')}; etcd sends none")
    assert '"Revision" : 0\n' in member.ok("member", "list", "-w", "fields")


def test_endpoint_status(member):
    cid, mid = ids(member.etcdctl)
    member.ok("put", "k", "v")
    j = json.loads(member.ok("endpoint", "status", "-w", "json"))
    assert len(j) == 1 and j[0]["Endpoint"] == member.endpoint
    st = j[0]["Status"]
    assert st["header"]["cluster_id"] == cid and st["header"]["member_id"] == mid
    assert st["header"]["revision"] == 2
    assert st["version"] == "3.5.0"
    assert st["leader"] == mid  # a single member leads itself
    assert st["raftTerm"] == st["header"]["raft_term"] >= 2
    assert st["raftIndex"] >= 3 and st["raftAppliedIndex"] == st["raftIndex"]
    assert 0 < st["dbSizeInUse"] <= st["dbSize"]
    assert "isLearner" not in st  # false, omitted

    simple = member.ok("endpoint", "status")
    assert re.fullmatch(
        rf"{member.endpoint}, {mid:x}, 3\.5\.0, \d+(\.\d+)? [kMG]?B, true, false, "
        rf"{st['raftTerm']}, {st['raftIndex']}, {st['raftAppliedIndex']}, \n", simple), simple

    table = member.ok("endpoint", "status", "-w", "table").splitlines()
    assert [c.strip() for c in table[1].strip("|").split("|")] == [
        "ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM",
        "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"]
    cells = [c.strip() for c in table[3].strip("|").split("|")]
    assert cells[:3] == [member.endpoint, f"{mid:x}", "3.5.0"]
    assert cells[4:] == ["true", "false", str(st["raftTerm"]), str(st["raftIndex"]),
                         str(st["raftAppliedIndex"]), ""]

    fields = member.ok("endpoint", "status", "-w", "fields")
    for line in (f'"ClusterID" : {cid}', f'"MemberID" : {mid}', '"Revision" : 2',
                 '"Version" : "3.5.0"', f'"Leader" : {mid}', '"IsLearner" : false',
                 f'"RaftIndex" : {st["raftIndex"]}', f'"Endpoint" : "{member.endpoint}"'):
        assert line + "\n" in fields, line


def test_endpoint_status_revision_extraction_from_guides(member):
    """The operations guides read the revision with
    etcdctl endpoint status --write-out="json" | egrep -o '"revision":[0-9]*'"""
    for i in range(4):
        member.ok("put", f"k{i}", "v")
    out = subprocess.run(
        f"{REFERENCE_ETCDCTL} --endpoints={member.endpoint} endpoint status --write-out=\"json\""
        " | egrep -o '\"revision\":[0-9]*' | egrep -o '[0-9].*'",
        shell=True, capture_output=True, text=True, timeout=20,
        env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout == "5\n"
    # ... and compacts to it, as the maintenance guide does.
    assert member.ok("compaction", out.stdout.strip()) == "compacted revision 5\n"


def test_endpoint_health(member):
    r = member.etcdctl("endpoint", "health")
    assert r.returncode == 0
    # etcdctl 3.4 prints the health line on stderr.
    assert re.fullmatch(
        rf"{re.escape(member.endpoint)} is healthy: successfully committed proposal: "
        r"took = \d+(\.\d+)?(ns|µs|ms|s)\n", r.stderr), r.stderr
    j = json.loads(member.ok("endpoint", "health", "-w", "json"))
    assert j[0]["endpoint"] == member.endpoint and j[0]["health"] is True


def test_read_right_after_start(etcd_factory):
    """A linearizable read sent as soon as the client port accepts
    connections must be answered once the member has elected itself (well
    under a second). etcd serves clients only after the member is ready, and
    3.5 re-sends a ReadIndex that got no answer every 500 ms."""
    m = etcd_factory()
    m.start(wait=False)
    m.wait_port()
    r = m.etcdctl("get", "k", "--command-timeout=5s")
    assert r.returncode == 0, (
        "a read sent before the first election did not complete within 5 s: "
        f"{error_line(r)}")
    m.wait_healthy()


def test_reads_see_acknowledged_writes_under_concurrency(member):
    """Linearizable (and, on the one member, serializable) reads on another
    connection see every write acknowledged before they were sent, and the
    header revision a client sees never goes backwards."""
    failures: list[str] = []

    def worker(w: int):
        writer, reader = KvClient(member.endpoint), KvClient(member.endpoint)
        seen = 0
        try:
            for i in range(60):
                key = f"c{w}"
                rev = writer.put(key, str(i))
                for serializable in (False, True):
                    hrev, kv = reader.get(key, serializable=serializable)
                    if kv is None or kv["value"] != str(i) or kv["mod_revision"] != rev:
                        failures.append(f"{key}: put {i} at rev {rev}, read {kv} "
                                        f"(serializable={serializable})")
                        return
                    if hrev < rev or hrev < seen:
                        failures.append(f"{key}: header revision {hrev} after {max(rev, seen)}")
                        return
                    seen = hrev
                if kv["version"] != i + 1:
                    failures.append(f"{key}: version {kv['version']} after {i + 1} puts")
                    return
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(f"worker {w}: {e!r}")
        finally:
            writer.close()
            reader.close()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a worker hung"
    assert not failures, failures
    assert json.loads(member.ok("get", "c", "--prefix", "-w", "json"))["header"]["revision"] == (
        1 + 4 * 60)
