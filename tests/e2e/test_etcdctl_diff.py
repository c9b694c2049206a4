"""Golden differential tests for etcdctl: every scenario runs with the
reference etcdctl 3.4.23 and with the candidate (E2E_CTL, default
build/bin/etcdctl), each against its own fresh server of ours started
identically; stdout, stderr and exit status must agree byte for byte after
the normalisation described in ctl_diff.py.

Self-check (reference against reference, must pass):
    E2E_CTL=/usr/bin/etcdctl /usr/bin/python3 -m pytest tests/e2e/test_etcdctl_diff.py
"""

import dataclasses
import os
import shutil
import stat

import pytest

import ctl_diff
from ctl_diff import Group, Pair, Scenario, Step

S = Step
DEAD = ("--endpoints={dead}", "--dial-timeout=1s", "--command-timeout=2s")


def fmt(*args, formats=("simple", "json", "table", "fields", "protobuf")):
    """The same command in each output format."""
    return [S((*args, "-w", f)) for f in formats]


# ---------------------------------------------------------------------------
# Group "kv": put, get, del, txn, compaction
# ---------------------------------------------------------------------------

TXN_OK = ('mod("k1") > "0"\nvalue("k1") = "v1"\nversion("k1") = "1"\ncreate("k1") > "0"\n'
          '\nput k1 v1-new\nget k1\n\nput failed 1\n\n')
# etcdctl 3.4.23 panics on a lease() compare (a Go stack trace, exit 2):
# only the exit status is compared for it.
TXN_LEASE = 'lease("k1") = "0"\n\nput k1 v1-lease\n\n\n'
TXN_FAIL = ('value("k1") = "nope"\n\nput never 1\n\nget k1 --prefix\ndel k2 --prev-kv\n\n')

# etcd 3.5's get has --count-only, for -w fields only (ExitBadArgs, 128,
# after the Range call); 3.4 does not know the flag.
COUNT_ONLY_NOT_FIELDS = ((r"(?s)\[exit 1\]\n--- stdout\n.*",
                          "[exit 128]\n--- stdout\n--- stderr\n"
                          "Error: --count-only is only for `--write-out=fields`\n"),)

KV = Group("kv", [
    Scenario("put", [
        S(("put", "k1", "v1")),
        S(("put", "k2", "v2", "-w", "json")),
        S(("put", "k1", "v1b", "--prev-kv")),
        S(("put", "k1", "v1", "--prev-kv", "-w", "json")),
        S(("put", "k3", "--prev-kv", "-w", "fields"), stdin="v3 from stdin"),
        S(("put", "k3", "-w", "table"), stdin="again"),
        S(("put", "k3", "-w", "protobuf"), stdin="proto"),
        S(("put", "k2", "--ignore-value")),
        S(("put", "nokey", "--ignore-value")),
        S(("put", "k2", "x", "--ignore-lease")),
        S(("put", "k2", "x", "--lease=1234")),
        S(("put", "k2", "x", "--lease=zz")),
        S(("put",)),
        S(("put", "a", "b", "c")),
        S(("put", "-- -dash", "v")),
        S(("put", "--", "-dash", "v")),
        S(("put", "ключ", "значение 🙂")),
        S(("put", "sp ace", "multi\nline")),
        S(("put", "", "empty-key")),
        S(("put", "big"), stdin="x" * 1_600_000),
    ]),
    Scenario("get", [
        S(("get", "k1")),
        *fmt("get", "k1"),
        S(("get", "k", "--prefix")),
        *fmt("get", "k", "--prefix"),
        S(("get", "k", "--from-key")),
        S(("get", "k1", "k3")),
        S(("get", "k", "--prefix", "--rev=3")),
        S(("get", "k", "--prefix", "--limit=2", "-w", "json")),
        S(("get", "k", "--prefix", "--limit=1")),
        *[S(("get", "", "--prefix", f"--sort-by={t}", f"--order={o}", "--keys-only"))
          for t in ("KEY", "VERSION", "CREATE", "MODIFY", "VALUE") for o in ("ASCEND", "DESCEND")],
        S(("get", "", "--prefix", "--order=DESCEND")),
        S(("get", "", "--prefix", "--sort-by=bogus")),
        S(("get", "", "--prefix", "--order=bogus")),
        S(("get", "k", "--prefix", "--keys-only")),
        S(("get", "k", "--prefix", "--print-value-only")),
        S(("get", "k", "--prefix", "--count-only"), v35=COUNT_ONLY_NOT_FIELDS),
        S(("get", "k", "--prefix", "--count-only", "-w", "json"), v35=COUNT_ONLY_NOT_FIELDS),
        S(("get", "k", "--prefix", "--consistency=s")),
        S(("get", "k", "--prefix", "--consistency=x")),
        S(("get", "", "--prefix", "--keys-only", "--min-mod-revision=4")),
        S(("get", "", "--prefix", "--keys-only", "--max-mod-revision=4")),
        S(("get", "", "--prefix", "--keys-only", "--min-create-revision=3")),
        S(("get", "", "--prefix", "--keys-only", "--max-create-revision=3")),
        S(("get", "k", "--prefix", "--hex")),
        S(("get", "ключ", "--hex")),
        S(("get", "ключ", "-w", "json")),
        S(("get", "sp ace", "-w", "fields")),
        S(("get", "missing")),
        *fmt("get", "missing"),
        S(("get",)),
        S(("get", "a", "b", "c")),
        S(("get", "k", "--prefix", "--from-key")),
        S(("get", "k1", "--rev=-1")),
        S(("get", "k1", "--rev=1000")),
    ]),
    Scenario("del", [
        S(("put", "d1", "1")), S(("put", "d2", "2")), S(("put", "d3", "3")), S(("put", "e1", "1")),
        S(("del", "missing")),
        S(("del", "d1", "--prev-kv")),
        S(("del", "d", "--prefix", "-w", "json")),
        S(("put", "d4", "4")),
        S(("del", "d", "--prefix", "--prev-kv", "-w", "fields")),
        S(("del", "e", "--from-key", "--prev-kv", "-w", "table")),
        S(("del", "x", "--from-key", "-w", "protobuf")),
        S(("del",)),
        S(("del", "k", "--prefix", "--from-key")),
        S(("get", "", "--prefix", "--keys-only")),
    ]),
    Scenario("txn", [
        S(("put", "k1", "v1")),
        S(("txn",), stdin=TXN_OK),
        S(("txn",), stdin=TXN_FAIL),
        S(("txn", "-w", "json"), stdin=TXN_OK),
        S(("txn",), stdin=TXN_LEASE, compare=("rc",)),
        S(("txn", "-w", "json"), stdin=TXN_FAIL),
        S(("txn", "-w", "fields"), stdin=TXN_FAIL),
        S(("txn", "-w", "table"), stdin=TXN_FAIL),
        S(("txn", "-w", "protobuf"), stdin=TXN_FAIL),
        S(("txn", "--hex"), stdin="\nget k1\n\n\n"),
        S(("txn",), stdin='create("nokey") = "0"\nversion("nokey") = "0"\nmod("nokey") < "1"\n\n'
                          "put e 1\n\n\n"),
        S(("txn",), stdin='value("e") != "1"\n\nput a 1\n\nput b 1\n\n'),
        S(("txn",), stdin="\nput d 1\nput d 2\n\n\n"),
        S(("txn",), stdin="\n" + "".join(f"put t{i} v\n" for i in range(129)) + "\n\n"),
        S(("txn",), stdin="\nput k v --lease=1234\n\n\n"),
        S(("txn",), stdin='value("k1) = "x"\n\n\n\n'),
        S(("txn",), stdin='bogus("k1") = "x"\n\n\n\n'),
        S(("txn",), stdin="\nfrobnicate k1\n\n\n"),
        S(("txn", "extra")),
        S(("txn", "-i"), stdin='value("k1") = "v1-new"\n\nget k1\n\n\n'),
    ]),
    Scenario("compaction", [
        S(("put", "c", "1")), S(("put", "c", "2")), S(("put", "c", "3")),
        S(("compaction", "3")),
        S(("get", "c", "--rev=2")),
        S(("get", "c", "--rev=3")),
        S(("compaction", "3")),
        S(("compaction", "2")),
        S(("compaction", "100000")),
        S(("compaction", "--physical", "4")),
        S(("compaction", "abc")),
        S(("compaction",)),
        S(("compact", "4")),
        S(("txn",), stdin="\nget c --rev=2\n\n\n"),
    ]),
])

# Group "watch": on its own servers, so that history from revision 1 is there.
WATCH = Group("watch", [
    Scenario("watch", [
        S(("put", "w1", "a")), S(("put", "w1", "b")), S(("del", "w1")),
        S(("watch", "w1", "--rev=1"), run_for=2.0),
        S(("watch", "w", "--prefix", "--rev=1", "--prev-kv"), run_for=2.0),
        S(("watch", "w", "--prefix", "--rev=1", "-w", "json"), run_for=2.0),
        S(("watch", "w1", "--rev=1", "--hex"), run_for=2.0),
        S(("watch", "w1", "--rev=2", "-w", "protobuf"), run_for=2.0),
        S(("watch", "w2"), run_for=3.0, during=(S(("put", "w2", "live")),
                                               S(("del", "w2")))),
        S(("watch", "w", "--prefix", "-w", "fields"), run_for=3.0,
          during=(S(("put", "w3", "x")),)),
        S(("watch", "-i"), stdin="watch w4\nwatch w5 --prefix\n", run_for=3.0, hold_stdin=True,
          during=(S(("put", "w4", "1")), S(("put", "w55", "2")))),
        S(("watch", "-i"), stdin="bogus w4\n", run_for=3.0),
        S(("watch", "w6", "--", "echo", "changed"), run_for=3.0,
          during=(S(("put", "w6", "1")),)),
        S(("watch",)),
        S(("watch", "a", "b", "c")),
        S(("put", "w7", "1")), S(("put", "w7", "2")),
        S(("compaction", "--physical", "10")),
        S(("watch", "w7", "--rev=2"), run_for=2.0),
    ]),
])

# ---------------------------------------------------------------------------
# Group "lease": leases, lock, elect
# ---------------------------------------------------------------------------

LEASE = Group("lease", [
    Scenario("lease", [
        S(("lease", "grant", "600"), capture={"l1": r"lease ([0-9a-f]+) granted"}),
        S(("lease", "grant", "600", "-w", "json")),
        S(("lease", "grant", "300", "-w", "table")),
        S(("lease", "grant", "300", "-w", "fields")),
        S(("lease", "list")),
        S(("lease", "list", "-w", "json")),
        S(("put", "lk1", "v", "--lease={l1}")),
        S(("put", "lk2", "v", "--lease={l1}")),
        S(("put", "lk1", "w", "--ignore-lease")),
        S(("get", "lk", "--prefix", "-w", "json")),
        S(("lease", "timetolive", "{l1}"), tolerate=(r"remaining\((\d+)s\)",)),
        S(("lease", "timetolive", "{l1}", "--keys"), tolerate=(r"remaining\((\d+)s\)",)),
        S(("lease", "timetolive", "{l1}", "--keys", "-w", "json"), tolerate=(r'"TTL":(\d+)',)),
        S(("lease", "timetolive", "{l1}", "-w", "fields"), tolerate=(r'"TTL" : (\d+)',)),
        S(("lease", "timetolive", "1234")),
        S(("lease", "timetolive", "1234", "-w", "json")),
        S(("lease", "timetolive", "zz")),
        S(("lease", "timetolive")),
        S(("lease", "keep-alive", "--once", "{l1}")),
        S(("lease", "keep-alive", "--once", "{l1}", "-w", "json")),
        S(("lease", "keep-alive", "--once", "1234")),
        S(("lease", "keep-alive", "{l1}"), run_for=2.5),
        S(("lease", "keep-alive")),
        S(("lease", "revoke", "{l1}")),
        S(("get", "lk", "--prefix")),
        S(("lease", "revoke", "{l1}")),
        S(("lease", "revoke", "1234", "-w", "json")),
        S(("lease", "revoke")),
        S(("lease", "grant")),
        S(("lease", "grant", "abc")),
        S(("lease", "grant", "0")),
        S(("lease", "grant", "-5")),
        S(("lease", "bogus")),
        S(("lease",)),
        S(("lease", "list")),
    ]),
    Scenario("lock", [
        S(("lock", "mylock", "--", "echo", "hi")),
        S(("lock", "mylock", "sh", "-c", "exit 3")),
        S(("lock", "mylock", "--", "sh", "-c", "echo out; echo err >&2; exit 3")),
        S(("lock", "mylock", "/nonexistent/cmd")),
        S(("lock", "mylock"), run_for=2.0, ids=(r"mylock/([0-9a-f]+)",)),
        S(("lock", "mylock", "--ttl=5", "--", "echo", "again")),
        S(("lock",)),
        S(("get", "mylock", "--prefix", "--keys-only")),
    ]),
    Scenario("elect", [
        S(("elect", "myelection", "proposal"), run_for=2.0, ids=(r"myelection/([0-9a-f]+)",)),
        S(("elect", "-l", "myelection"), run_for=2.0, during=(
            S(("elect", "myelection", "p2"), run_for=1.5, ids=(r"myelection/([0-9a-f]+)",)),),
          settle=0.3, ids=(r"myelection/([0-9a-f]+)",)),
        S(("elect",)),
        S(("elect", "a", "b", "c")),
    ]),
])

# ---------------------------------------------------------------------------
# Group "cluster": members, endpoints, maintenance, auth
# ---------------------------------------------------------------------------

# etcd 3.5's printer_json.go: `member list -w json --hex` is printed by
# printMemberListWithHexJSON (3.4 ignored --hex there): the header's and the
# members' ids as quoted hex strings, and "clientURLS" spelt so.
MEMBER_LIST_HEX_JSON_V35 = (
    (r'\{"header":\{"cluster_id":(<id-\d+>),"member_id":(<id-\d+>),',
     r'{"header":{"cluster_id":"\1","member_id":"\2",'),
    (r'\{"ID":(<id-\d+>),"name"', r'{"ID":"\1","name"'),
    (r'"clientURLs":', r'"clientURLS":'),
)
# etcd 3.5's printer_simple.go EndpointHealth: a healthy endpoint's line
# goes to stdout (3.4: stderr; the unhealthy line stays on stderr).
HEALTH_STDOUT_V35 = (
    (r"--- stdout\n--- stderr\n((?:\S+ is healthy: successfully committed proposal: "
     r"took = <duration>\n)+)", r"--- stdout\n\1--- stderr\n"),
)
# etcd 3.5's ep_command.go: `endpoint health` also calls AlarmList for a
# healthy endpoint, and the server applies an alarm request through raft:
# the scenario's four `endpoint health` steps leave the raft index 4 higher
# (11 -> 15) when `endpoint status` runs.
STATUS_AFTER_4_HEALTH_V35 = (
    (r"(, 2, )11, 11, ", r"\g<1>15, 15, "),
    (r"\| 2 \| 11 \| 11 \|", "| 2 | 15 | 15 |"),
    (r'"raftIndex":11,', '"raftIndex":15,'),
    (r'"raftAppliedIndex":11,', '"raftAppliedIndex":15,'),
    (r'"RaftIndex" : 11\n', '"RaftIndex" : 15\n'),
    (r'"RaftAppliedIndex" : 11\n', '"RaftAppliedIndex" : 15\n'),
)
# etcd 3.5 hands `defrag --data-dir` to etcdutl's DefragData, which checks
# that the db file exists (etcd-io/etcd 06bcacece, "validate data file path
# and return consistent errors instead of panic"): Error: stat ..., exit 1,
# where 3.4 panicked (exit 2).
DEFRAG_DATA_DIR_V35 = ((r"(?m)^\[exit 2\]$", "[exit 1]"),)
# etcd 3.5's snapshot_command.go: `snapshot status` first warns on stderr
# that it is deprecated, then runs etcdutl's.
SNAPSHOT_STATUS_V35 = (
    (r"--- stderr\n", "--- stderr\nDeprecated: Use `etcdutl snapshot status` instead.\n\n"),
)
# etcd 3.5 adds `auth status` (3.4 answers `auth status` with the auth
# help, exit 0): 3.5's simple printer shows the flag and the auth revision
# (a new store's is 1).
AUTH_STATUS_V35 = (
    (r"(?s)\[exit 0\]\n--- stdout\nNAME:\n\tauth - Enable or disable authentication\n.*"
     r"--- stderr\n$",
     "[exit 0]\n--- stdout\nAuthentication Status: false\nAuthRevision: 1\n--- stderr\n"),
)

CLUSTER = Group("cluster", [
    Scenario("member", [
        *fmt("member", "list"),
        S(("member", "list", "--hex", "-w", "json"), v35=MEMBER_LIST_HEX_JSON_V35),
        S(("member", "add", "learner1", "--peer-urls=http://127.0.0.1:9", "--learner"),
          capture={"lrn": r"Member\s+([0-9a-f]+) added"}),
        S(("member", "list")),
        S(("member", "list", "-w", "table")),
        S(("member", "list", "-w", "json")),
        S(("member", "update", "{lrn}", "--peer-urls=http://127.0.0.1:10")),
        S(("member", "update", "{lrn}", "--peer-urls=http://127.0.0.1:10", "-w", "json")),
        S(("member", "list", "-w", "fields")),
        S(("member", "promote", "{lrn}")),
        S(("member", "promote", "1234")),
        S(("member", "promote")),
        S(("member", "remove", "{lrn}")),
        S(("member", "remove", "{lrn}")),
        S(("member", "remove", "zz")),
        S(("member", "remove")),
        S(("member", "add")),
        S(("member", "add", "x")),
        S(("member", "add", "x", "--peer-urls=not a url")),
        S(("member", "update", "1234")),
        S(("member", "add", "learner2", "--peer-urls=http://127.0.0.1:11", "--learner",
           "-w", "json"), capture_dec={"lrn2": r'"member":\{"ID":(\d+)'}, unordered=True),
        S(("member", "list", "-w", "simple")),
        S(("member", "bogus")),
    ]),
    Scenario("endpoint", [
        S(("put", "e", "1")),
        S(("endpoint", "health"), v35=HEALTH_STDOUT_V35),
        *fmt("endpoint", "health", formats=("json", "table", "fields")),
        S(("endpoint", "status"), v35=STATUS_AFTER_4_HEALTH_V35),
        *[dataclasses.replace(st, v35=STATUS_AFTER_4_HEALTH_V35)
          for st in fmt("endpoint", "status", formats=("json", "table", "fields", "protobuf"))],
        S(("endpoint", "hashkv")),
        *fmt("endpoint", "hashkv", formats=("json", "table", "fields", "protobuf")),
        S(("endpoint", "hashkv", "--rev=2")),
        S(("endpoint", "status", "--cluster"), v35=STATUS_AFTER_4_HEALTH_V35),
        S(("endpoint", "health", "--cluster", "-w", "json")),
        S(("endpoint", "bogus")),
    ]),
    Scenario("maintenance", [
        S(("alarm", "list")),
        S(("alarm", "list", "-w", "json")),
        S(("alarm", "list", "-w", "table")),
        S(("alarm", "disarm")),
        S(("alarm", "disarm", "-w", "json")),
        S(("alarm", "bogus")),
        S(("defrag",)),
        S(("defrag", "-w", "json")),
        S(("defrag", "--cluster")),
        # etcdctl 3.4.23 panics here (a Go stack trace): the exit status only.
        S(("defrag", "--data-dir=/nonexistent"), compare=("rc", "stdout"),
          v35=DEFRAG_DATA_DIR_V35),
        S(("snapshot", "save", "snap.db"), compare=("rc", "stdout")),
        S(("snapshot", "save")),
        S(("snapshot", "save", "/nonexistent/dir/x.db")),
        S(("snapshot", "status"), v35=SNAPSHOT_STATUS_V35),
        S(("snapshot", "status", "missing.db"), v35=SNAPSHOT_STATUS_V35),
        S(("move-leader", "1234")),
        S(("move-leader",)),
        S(("move-leader", "zz")),
        S(("check", "perf", "--load=bogus")),
        S(("check", "datascale", "--load=bogus")),
        S(("migrate",), compare=("rc",)),
    ]),
    Scenario("auth", [
        S(("auth", "status"), v35=AUTH_STATUS_V35),
        S(("auth", "enable")),
        S(("auth", "disable")),
        S(("user", "add", "alice", "--no-password")),
        S(("user", "add", "bob:secret")),
        S(("user", "add", "carol", "--new-user-password=pw")),
        S(("user", "add")),
        S(("user", "list")),
        S(("user", "list", "-w", "json")),
        S(("user", "get", "alice")),
        S(("user", "get", "alice", "--detail")),
        S(("user", "get", "nobody")),
        S(("user", "get")),
        S(("user", "grant-role", "alice", "r1")),
        S(("user", "revoke-role", "alice", "r1")),
        S(("user", "passwd", "alice"), stdin="pw\npw\n"),
        S(("user", "delete", "bob")),
        S(("role", "add", "r1")),
        S(("role", "add")),
        S(("role", "list")),
        S(("role", "list", "-w", "json")),
        S(("role", "get", "r1")),
        S(("role", "grant-permission", "r1", "readwrite", "/foo")),
        S(("role", "grant-permission", "r1", "read", "/p", "--prefix")),
        S(("role", "grant-permission", "r1", "write", "a", "z")),
        S(("role", "grant-permission", "r1", "bogus", "/foo")),
        S(("role", "grant-permission", "r1")),
        S(("role", "revoke-permission", "r1", "/foo")),
        S(("role", "revoke-permission", "r1")),
        S(("role", "delete", "r1")),
        S(("--user=root:pw", "get", "x")),
    ]),
])

# A voting member that never starts costs a single member its quorum: last,
# alone, with short timeouts.
VOTER = Group("voter", [
    Scenario("member-add-voter", [
        S(("member", "add", "voter2", "--peer-urls=http://127.0.0.1:12",
           "--command-timeout=3s"), capture={"v2": r"Member\s+([0-9a-f]+) added"}),
        S(("member", "list", "--consistency=s", "--command-timeout=3s")),
        # Without quorum the deadline's message depends on which side noticed it first.
        S(("member", "remove", "{v2}", "--command-timeout=2s"), compare=("rc", "stdout", "error")),
    ]),
])

# ---------------------------------------------------------------------------
# Group "cli": no server work: version, help, usage errors, dead endpoint
# ---------------------------------------------------------------------------

CLI = Group("cli", [
    Scenario("cli", [
        S(("version",), endpoints=False),
        S(("--help",), endpoints=False),
        S(("help",), endpoints=False),
        S(("help", "put"), endpoints=False),
        S(("put", "--help"), endpoints=False),
        S(("get", "-h"), endpoints=False),
        S(("txn", "--help"), endpoints=False),
        S(("watch", "--help"), endpoints=False),
        S(("lease", "--help"), endpoints=False),
        S(("member", "add", "--help"), endpoints=False),
        S(("snapshot", "--help"), endpoints=False),
        S(("frobnicate",), endpoints=False),
        S(("gte", "k"), endpoints=False),
        S(("GET", "k"), endpoints=False),
        S(("le", "k"), endpoints=False),
        S(("get", "k", "--frobnicate"), endpoints=False),
        S(("--frobnicate", "get", "k"), endpoints=False),
        S(("get", "k", "-w", "yaml")),
        S(("put", "k", "v", "-w", "bogus")),
        S(("get", "k", "--dial-timeout=abc")),
        S((), endpoints=False),
        S(("get", "k", *DEAD), endpoints=False),
        S(("put", "k", "v", *DEAD), endpoints=False),
        S(("endpoint", "health", *DEAD), endpoints=False),
        S(("endpoint", "status", *DEAD), endpoints=False),
        S(("member", "list", *DEAD), endpoints=False),
        S(("get", "k", "--endpoints=127.0.0.1:notaport", "--dial-timeout=1s"), endpoints=False),
        S(("get", "k"), env={"ETCDCTL_ENDPOINTS": "{ep}"}, endpoints=False),
        S(("put", "envk", "v"), env={"ETCDCTL_ENDPOINTS": "{ep}", "ETCDCTL_WRITE_OUT": "json"},
          endpoints=False),
        S(("get", "envk"), env={"ETCDCTL_ENDPOINTS": "{ep}"}),
        S(("get", "envk", "--print-value-only"), env={"ETCDCTL_HEX": "true"}),
    ]),
])

# etcd lists members and leases in an order that follows their ids, and the
# ids differ between the sides. Leases listed are ids to normalise (the
# lease of a `lease grant -w table` that failed to print is granted anyway).
for _g in (CLUSTER, VOTER, LEASE):
    for _sc in _g.scenarios:
        for _st in _sc.steps:
            if _st.args[:1] == ("member",) or _st.args[:2] == ("lease", "list"):
                _st.unordered = True
            if _st.args[:2] == ("lease", "list"):
                _st.ids = (*_st.ids, r"(?m)^([0-9a-f]{16})$")

GROUPS = [KV, WATCH, LEASE, CLUSTER, CLI, VOTER]
PARAMS = [pytest.param(g, sc, id=f"{g.name}-{sc.name}") for g in GROUPS for sc in g.scenarios]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """A fresh server pair per group, made on first use, stopped (and its
    data dirs removed; logs stay) when the module ends."""
    made: dict[str, Pair] = {}

    def get(group: Group) -> Pair:
        if group.name not in made:
            made[group.name] = Pair(tmp_path_factory.mktemp(f"ctl-{group.name}"), group)
        return made[group.name]

    yield get
    for p in made.values():
        p.close()
        for side in (p.ref, p.cand):
            shutil.rmtree(side.server.data_dir, ignore_errors=True)


@pytest.mark.parametrize("group,scenario", PARAMS)
def test_etcdctl_matches_reference(pairs, group, scenario):
    assert ctl_diff.CAND_CTL.exists(), f"candidate etcdctl {ctl_diff.CAND_CTL} is missing"
    report = pairs(group).run(scenario)
    assert not report, report


# ---------------------------------------------------------------------------
# The harness itself
# ---------------------------------------------------------------------------

class _FakeSide:
    """Enough of a Side for normalise()."""

    class _Srv:
        client_port, peer_port = 40001, 40002

    def __init__(self, ids):
        self.server = self._Srv()
        self.ids = list(ids)


def test_normalisation_maps_ids_and_keeps_data():
    a = _FakeSide([0xea11148954d3b5e, 0x8e9e05c52164694d])
    b = _FakeSide([0x1ea11148954d3b5e, 0x0e9e05c52164694d])
    # %16x padding, hex and decimal forms, order of first appearance.
    assert ctl_diff.normalise("Member  ea11148954d3b5e added to cluster 8e9e05c52164694d\n", a) == \
        ctl_diff.normalise("Member 1ea11148954d3b5e added to cluster  e9e05c52164694d\n", b) == \
        "Member <id-1> added to cluster <id-2>\n"
    ja = ctl_diff.normalise(f'{{"member_id":{0xea11148954d3b5e},"revision":5}}', a)
    jb = ctl_diff.normalise(f'{{"member_id":{0x1ea11148954d3b5e},"revision":5}}', b)
    assert ja == jb == '{"member_id":<id-1>,"revision":5}'
    # Revisions, values and other numbers stay.
    assert ctl_diff.normalise('{"revision":5}', a) != ctl_diff.normalise('{"revision":6}', a)
    assert ctl_diff.normalise("lease 694d8c03cd2f520c granted with TTL(60s)\n", a) == \
        "lease 694d8c03cd2f520c granted with TTL(60s)\n"
    # Ports and durations.
    assert ctl_diff.normalise("127.0.0.1:40001 is healthy: successfully committed proposal: "
                              "took = 3.345431ms\n", a) == \
        "127.0.0.1:<client-port> is healthy: successfully committed proposal: took = <duration>\n"
    assert ctl_diff.normalise("127.0.0.1:40003\n", a) == "127.0.0.1:40003\n"


def test_tables_compare_by_cell_and_must_be_well_formed():
    a = _FakeSide([0xea11148954d3b5e])
    good = ("+-----------------+------+\n|       ID        | NAME |\n"
            "+-----------------+------+\n| ea11148954d3b5e | n1   |\n+-----------------+------+\n")
    n = ctl_diff.normalise(good, a)
    assert "<table error" not in n and "| <id-1> | n1 |" in n
    bad = good.replace("| n1   |", "| n1  |")
    assert "<table error" in ctl_diff.normalise(bad, a)


def test_protobuf_dump_normalises_ids():
    def varint(v):
        out = b""
        while True:
            c = v & 0x7F
            v >>= 7
            if v:
                out += bytes([c | 0x80])
            else:
                return out + bytes([c])

    def header(mid):
        inner = b"\x08" + varint(7) + b"\x10" + varint(mid) + b"\x18" + varint(5)
        return b"\x0a" + varint(len(inner)) + inner

    da, db = ctl_diff.proto_dump(header(0xea11148954d3b5e)), ctl_diff.proto_dump(header(0x8e9e05c52164694d))
    a, b = _FakeSide([0xea11148954d3b5e]), _FakeSide([0x8e9e05c52164694d])
    assert da != db
    assert ctl_diff.normalise(da, a) == ctl_diff.normalise(db, b) == "1 {\n  1: 7\n  2: <id-1>\n  3: 5\n}\n"


def test_harness_reports_a_differing_etcdctl(tmp_path, monkeypatch):
    """A candidate that is the reference with one word changed must fail."""
    fake = tmp_path / "fake-etcdctl"
    fake.write_text(f'#!/bin/sh\n"{ctl_diff.REF_CTL}" "$@" | sed s/OK/KO/\nexit 0\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(ctl_diff, "CAND_CTL", fake)
    group = Group("selftest", [Scenario("selftest-put", [S(("put", "a", "1")), S(("get", "a"))])])
    pair = Pair(tmp_path / "pair", group)
    try:
        report = pair.run(group.scenarios[0])
    finally:
        pair.close()
    assert "1 of 2 steps differ" in report, report
    assert "-OK\n+KO\n" in report, report
