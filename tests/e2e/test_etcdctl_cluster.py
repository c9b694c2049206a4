"""Our etcdctl's member, endpoint and maintenance commands, black box:
`member add|remove|update|list|promote`, `endpoint health|status|hashkv`
(also with --cluster), `alarm list|disarm`, `defrag`, `move-leader` and
`snapshot save|status|restore`.

Where etcd 3.4.23's etcdctl (the reference here) and 3.5's agree, our output
is compared byte for byte with the reference's, run against the same server
in the same state; durations ("took") are the only thing normalised, and the
reference's client-side retry warnings (zap lines of its grpc interceptor)
are dropped from its stderr. Where 3.5 differs from 3.4 (the healthy line of
`endpoint health` on stdout, its alarm check, the deprecated `snapshot
status|restore`, the zap lines of `snapshot save`, hash_revision in hashkv's
JSON), the test asserts 3.5's exact text.

One 3-member cluster of ours serves the membership and cluster-wide tests
(module scope; every test leaves three healthy voting members), a single
member with a small --quota-backend-bytes serves the alarm tests.
"""

import json
import os
import pathlib
import re
import subprocess
import time

import pytest

from cluster import OURS, Cluster, log_tails_on_failure
from conftest import (BIN, ETCDCTL_TIMEOUT_S, REFERENCE_ETCDCTL, EtcdProcess,
                      etcdctl_env, free_ports)

CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))


def run(ctl: pathlib.Path, endpoints: str, *args: str, input: bytes | None = None,
        timeout: float = ETCDCTL_TIMEOUT_S) -> subprocess.CompletedProcess:
    """etcdctl `args` with --endpoints; stdout and stderr as bytes."""
    return subprocess.run([str(ctl), f"--endpoints={endpoints}", *args], env=etcdctl_env(),
                          input=input, capture_output=True, timeout=timeout)


def ours(endpoints: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return run(CTL, endpoints, *args, **kw)


def ref(endpoints: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return run(REFERENCE_ETCDCTL, endpoints, *args, **kw)


_DURATION = re.compile(rb"[0-9.]+(?:ns|\xc2\xb5s|ms|s|m[0-9.]+s)")


def norm(b: bytes) -> bytes:
    """Durations of `took` replaced by a placeholder."""
    b = re.sub(rb"took = " + _DURATION.pattern, b"took = D", b)
    b = re.sub(rb'"took":"[^"]*"', b'"took":"D"', b)
    return re.sub(rb"\| +" + _DURATION.pattern + rb" \|", b"| D |", b)


def retry_norm(b: bytes) -> bytes:
    """The client's retry warnings with their timestamp, client uuid and
    attempt number replaced, a run of them that then agrees counted once
    (how often a client retries before its deadline is timing)."""
    b = re.sub(rb'"ts":"[^"]*"', b'"ts":"T"', b)
    b = re.sub(rb"client-[0-9a-f-]{36}", b"client-U", b)
    b = re.sub(rb'("msg":"retrying of unary invoker failed".*"attempt":)\d+', rb"\1N", b)
    out: list[bytes] = []
    for line in b.splitlines(keepends=True):
        if not (out and line == out[-1] and b"retrying of unary invoker failed" in line):
            out.append(line)
    return b"".join(out)


def without_retry_warnings(b: bytes) -> bytes:
    return b"".join(l for l in b.splitlines(keepends=True)
                    if b"retrying of unary invoker failed" not in l)


def assert_same(endpoints: str, *args: str, attempts: int = 1) -> subprocess.CompletedProcess:
    """Runs both etcdctls; stdout, stderr and the exit code must match.
    With `attempts`, a pair that differs is run again (for outputs with raft
    indexes, which a background entry may move between the two runs)."""
    for i in range(attempts):
        r = ref(endpoints, *args)
        o = ours(endpoints, *args)
        got = (o.returncode, norm(o.stdout), norm(retry_norm(o.stderr)))
        want = (r.returncode, norm(r.stdout), norm(retry_norm(r.stderr)))
        if got == want or i == attempts - 1:
            break
        time.sleep(0.2)
    assert got == want, args
    return o


def text(r: subprocess.CompletedProcess) -> tuple[int, str, str]:
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def dead_endpoint() -> str:
    return f"127.0.0.1:{free_ports(1)[0]}"


@pytest.fixture(scope="module")
def c3(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("c3"), [OURS] * 3)
    try:
        c.start()
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def quota_member(tmp_path_factory):
    """A single member of ours whose backend quota a few puts exceed."""
    m = EtcdProcess(tmp_path_factory.mktemp("quota"), name="q1",
                    extra_args=("--quota-backend-bytes=200000",))
    try:
        m.start()
        yield m
    finally:
        m.kill()


def eps(c: Cluster) -> str:
    return c.endpoints()


def ep(c: Cluster, i: int) -> str:
    return c.members[i].endpoint


def leader_and_followers(c: Cluster) -> tuple[int, list[int]]:
    lead = c.leader()
    return lead, [i for i in range(3) if i != lead]


def retry_reconfig(endpoint: str, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """A membership change through our etcdctl, retried while the server
    refuses it as "unhealthy cluster" (the strict reconfiguration check
    right after members start)."""
    deadline = time.monotonic() + timeout
    while True:
        r = ours(endpoint, *args)
        if b"etcdserver: unhealthy cluster" not in r.stderr or time.monotonic() > deadline:
            return r
        time.sleep(0.25)


# -- member ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["simple", "json", "table", "fields", "protobuf"])
def test_member_list_matches_reference(c3, fmt):
    assert_same(ep(c3, 0), "member", "list", "-w", fmt)


def test_member_list_hex_json_is_etcd_35s(c3):
    # 3.5 prints IDs as hex strings with its own layout (3.4 has no such form).
    r = ours(ep(c3, 0), "member", "list", "-w", "json", "--hex")
    assert r.returncode == 0, r.stderr
    plain = json.loads(ours(ep(c3, 0), "member", "list", "-w", "json").stdout)
    h = plain["header"]
    expected = (f'{{"header":{{"cluster_id":"{h["cluster_id"]:x}","member_id":"{h["member_id"]:x}",'
                f'"raft_term":{h["raft_term"]}}}')
    for i, m in enumerate(plain["members"]):
        expected += ',"members":[{' if i == 0 else ",{"
        expected += (f'"ID":"{m["ID"]:x}","name":"{m["name"]}","peerURLs":'
                     f'{json.dumps(m["peerURLs"], separators=(",", ":"))},"clientURLS":'
                     f'{json.dumps(m["clientURLs"], separators=(",", ":"))}}}')
    expected += "]}\n"
    assert r.stdout.decode() == expected


@pytest.mark.parametrize("args", [
    ["member", "add"],
    ["member", "add", "a", "b", "http://x:1", "HTTPS://y:2"],
    ["member", "add", "a"],
    ["member", "add", "a", "--peer-urls=127.0.0.1:1"],
    ["member", "add", "a", "--peer-urls=http://127.0.0.1"],
    ["member", "add", "a", "--peer-urls=http://127.0.0.1:1/path"],
    ["member", "remove"],
    ["member", "remove", "zz"],
    ["member", "remove", "0x12"],
    ["member", "remove", "123456789abcdef01"],
    ["member", "remove", "1", "2"],
    ["member", "remove", "1"],
    ["member", "update", "1"],
    ["member", "update", "zz", "--peer-urls=http://a:1"],
    ["member", "update", "1", "--peer-urls=http://127.0.0.1:5"],
    ["member", "promote"],
    ["member", "promote", "q"],
    ["member", "promote", "1"],
])
def test_member_errors_match_reference(c3, args):
    assert_same(ep(c3, 0), *args)


def test_member_add_learner_update_promote_remove(c3):
    peer = f"http://127.0.0.1:{free_ports(1)[0]}"
    r = retry_reconfig(ep(c3, 0), "member", "add", "newbie", f"--peer-urls={peer}", "--learner")
    code, out, err = text(r)
    assert (code, err) == (0, ""), err
    lines = out.split("\n")
    m = re.fullmatch(r"Member ([ 0-9a-f]{16}) added to cluster ([ 0-9a-f]{16})", lines[0])
    assert m, out
    new_id = int(m.group(1), 16)
    members = c3.member_list()
    cluster_id = json.loads(ours(ep(c3, 0), "member", "list", "-w", "json").stdout)[
        "header"]["cluster_id"]
    assert m.group(2) == f"{cluster_id:16x}"
    conf = ",".join(f"{'newbie' if x['ID'] == new_id else x.get('name', '')}={u}"
                    for x in members for u in x["peerURLs"])
    assert lines[1:] == ["",
                         'ETCD_NAME="newbie"',
                         f'ETCD_INITIAL_CLUSTER="{conf}"',
                         f'ETCD_INITIAL_ADVERTISE_PEER_URLS="{peer}"',
                         'ETCD_INITIAL_CLUSTER_STATE="existing"',
                         ""]
    row = [l for l in ours(ep(c3, 0), "member", "list").stdout.decode().splitlines()
           if l.startswith(f"{new_id:x}, ")]
    assert row == [f"{new_id:x}, unstarted, , {peer}, , true"]

    # An unstarted learner is not in sync: the same refusal as the reference.
    assert_same(ep(c3, 0), "member", "promote", f"{new_id:x}")

    peer2 = f"http://127.0.0.1:{free_ports(1)[0]}"
    r = retry_reconfig(ep(c3, 0), "member", "update", f"{new_id:x}", f"--peer-urls={peer2}")
    assert text(r) == (0, f"Member {new_id:16x} updated in cluster {cluster_id:16x}\n", "")
    r = retry_reconfig(ep(c3, 1), "member", "remove", f"{new_id:x}")
    assert text(r) == (0, f"Member {new_id:16x} removed from cluster {cluster_id:16x}\n", "")
    assert len(c3.member_list()) == 3


def test_member_add_in_other_formats(c3):
    # json: the MemberAddResponse, no ETCD_* lines.
    peer = f"http://127.0.0.1:{free_ports(1)[0]}"
    r = retry_reconfig(ep(c3, 0), "-w", "json", "member", "add", "j", f"--peer-urls={peer}",
                       "--learner")
    assert r.returncode == 0, r.stderr
    resp = json.loads(r.stdout)
    assert resp["member"]["peerURLs"] == [peer] and resp["member"]["isLearner"] is True
    assert r.stdout.count(b"\n") == 1
    r = retry_reconfig(ep(c3, 0), "-w", "json", "member", "remove", f"{resp['member']['ID']:x}")
    assert r.returncode == 0 and "members" in json.loads(r.stdout)
    # table: etcdctl adds the member, then says the format has no printer.
    peer = f"http://127.0.0.1:{free_ports(1)[0]}"
    r = retry_reconfig(ep(c3, 0), "-w", "table", "member", "add", "t", f"--peer-urls={peer}",
                       "--learner")
    assert text(r) == (4, "", "Error: table not supported as output format\n")
    added = [m for m in c3.member_list() if m["peerURLs"] == [peer]]
    assert len(added) == 1
    r = retry_reconfig(ep(c3, 0), "-w", "fields", "member", "remove", f"{added[0]['ID']:x}")
    assert text(r) == (4, "", "Error: fields not supported as output format\n")
    assert len(c3.member_list()) == 3


# -- endpoint ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["simple", "json", "table", "fields", "protobuf"])
@pytest.mark.parametrize("cluster", [False, True])
def test_endpoint_status_matches_reference(c3, fmt, cluster):
    endpoints = ep(c3, 0) if cluster else eps(c3)
    assert_same(endpoints, "endpoint", "status", "-w", fmt, *(["--cluster"] if cluster else []),
                attempts=5)


@pytest.mark.parametrize("fmt", ["simple", "table", "fields", "protobuf"])
@pytest.mark.parametrize("cluster", [False, True])
def test_endpoint_hashkv_matches_reference(c3, fmt, cluster):
    endpoints = ep(c3, 0) if cluster else eps(c3)
    assert_same(endpoints, "endpoint", "hashkv", "-w", fmt, *(["--cluster"] if cluster else []))


def test_endpoint_hashkv_json_has_no_hash_revision(c3):
    # Our server sends hash_revision (etcd 3.6 added it), but etcd 3.5's
    # HashKVResponse has no such field: its JSON, as 3.4's, leaves it out.
    o = assert_same(eps(c3), "endpoint", "hashkv", "-w", "json")
    assert all("hash_revision" not in e["HashKV"] for e in json.loads(o.stdout))
    assert_same(ep(c3, 0), "endpoint", "hashkv", "--rev", "100000")


def test_endpoint_health(c3):
    code, out, err = text(ours(eps(c3), "endpoint", "health"))
    assert (code, err) == (0, "")
    # 3.5 prints the healthy lines on stdout, in the order the checks end.
    pat = r"(127\.0\.0\.1:\d+) is healthy: successfully committed proposal: took = [0-9.]+(µs|ms|s)"
    got = sorted(re.fullmatch(pat, l).group(1) for l in out.splitlines())
    assert got == sorted(eps(c3).split(","))

    r = ours(ep(c3, 0), "endpoint", "health", "--cluster", "-w", "json")
    assert r.returncode == 0 and r.stderr == b""
    health = json.loads(r.stdout)
    assert sorted(h["endpoint"] for h in health) == sorted(m.client_url for m in c3.members)
    assert all(h["health"] is True and "error" not in h and h["took"] for h in health)

    r = ours(ep(c3, 0), "endpoint", "health", "-w", "table")
    lines = r.stdout.decode().splitlines()
    w = len(lines[3].split("|")[3])  # the took column's width
    rule = f"+-----------------+--------+{'-' * w}+-------+"
    gap = w - 2 - len("TOOK")  # tablewriter centres with the odd space on the right
    took = " " * (gap // 2) + "TOOK" + " " * (gap - gap // 2)
    assert lines[:2] == [rule, f"|    ENDPOINT     | HEALTH | {took} | ERROR |"]
    assert lines[2] == lines[4] == rule and len(lines) == 5
    assert re.fullmatch(rf"\| {ep(c3, 0)} \|   true \| +[0-9.]+(µs|ms|s) \|       \|", lines[3])
    r = ours(ep(c3, 0), "endpoint", "health", "-w", "fields")
    assert re.fullmatch(rf'"Endpoint" : "{ep(c3, 0)}"\n"Health" : true\n"Took" : [0-9.]+(µs|ms|s)\n'
                        r'"Error" : \n\n', r.stdout.decode())
    r = ours(ep(c3, 0), "endpoint", "health", "-w", "protobuf")
    assert text(r) == (4, "", "Error: protobuf not supported as output format\n")


def test_endpoint_health_unreachable(c3):
    dead = dead_endpoint()
    code, out, err = text(ours(f"{ep(c3, 0)},{dead}", "--command-timeout=1s", "endpoint",
                               "health"))
    assert code == 1
    assert re.fullmatch(rf"{ep(c3, 0)} is healthy: successfully committed proposal: "
                        r"took = [0-9.]+(µs|ms|s)\n", out)
    # (the client's retry warning for the dead endpoint: compared with the
    # reference's in test_unreachable_endpoint_among_others_matches_reference)
    assert without_retry_warnings(err.encode()).decode() == (
        f"{dead} is unhealthy: failed to commit proposal: context deadline exceeded\n"
        "Error: unhealthy cluster\n")


# A call to one endpoint (status, hashkv, defrag) that cannot connect: the
# client's retry warning names that endpoint ("passthrough:///<endpoint>").
@pytest.mark.parametrize("cmd", [["endpoint", "status"], ["endpoint", "hashkv"], ["defrag"]])
def test_unreachable_endpoint_among_others_matches_reference(c3, cmd):
    assert_same(f"{ep(c3, 0)},{dead_endpoint()}", "--command-timeout=1s", *cmd)


@pytest.mark.parametrize("cmd", [["endpoint", "status"], ["endpoint", "hashkv"], ["defrag"],
                                 ["member", "list"], ["alarm", "list"],
                                 ["endpoint", "status", "--cluster"]])
def test_unreachable_endpoint_matches_reference(cmd):
    assert_same(dead_endpoint(), "--command-timeout=1s", *cmd)


# -- move-leader -------------------------------------------------------------

def test_move_leader_refuses_without_leader_endpoint(c3):
    lead, followers = leader_and_followers(c3)
    target = f"{c3.member_id(followers[0]):x}"
    assert_same(ep(c3, followers[1]), "move-leader", target)
    assert_same(",".join(ep(c3, i) for i in followers), "move-leader", target)
    for bad in ([], ["zz"], ["1", "2"], ["123456789abcdef01"]):
        assert_same(eps(c3), "move-leader", *bad)


def test_move_leader_transfers(c3):
    lead, followers = leader_and_followers(c3)
    target = c3.member_id(followers[0])
    r = ours(eps(c3), "move-leader", f"{target:x}")
    assert text(r) == (0, f"Leadership transferred from {c3.member_id(lead):x} to {target:x}\n",
                       "")
    assert c3.leader() == followers[0]
    # json: the MoveLeaderResponse of the old leader.
    lead, followers = leader_and_followers(c3)
    r = ours(eps(c3), "-w", "json", "move-leader", f"{c3.member_id(followers[0]):x}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["header"]["member_id"] == c3.member_id(lead)
    assert c3.leader() == followers[0]


# -- defrag ------------------------------------------------------------------

def test_defrag_matches_reference(c3):
    o = assert_same(eps(c3), "defrag")
    assert o.stdout.decode() == "".join(f"Finished defragmenting etcd member[{e}]\n"
                                        for e in eps(c3).split(","))
    o = assert_same(ep(c3, 0), "defrag", "--cluster")
    assert len(o.stdout.decode().splitlines()) == 3 and b"http://127.0.0.1:" in o.stdout


def test_defrag_unreachable_member_fails_without_error_line(c3):
    dead = dead_endpoint()
    code, out, err = text(ours(f"{ep(c3, 0)},{dead}", "--command-timeout=1s", "defrag"))
    err = without_retry_warnings(err.encode()).decode()  # (as above)
    assert (code, out, err) == (
        1, f"Finished defragmenting etcd member[{ep(c3, 0)}]\n",
        f"Failed to defragment etcd member[{dead}] (context deadline exceeded)\n")


# -- alarm -------------------------------------------------------------------

def fill_until_nospace(m: EtcdProcess) -> None:
    value = os.urandom(60000).hex().encode()
    for i in range(100):
        r = ref(m.endpoint, "put", f"fill{i}", input=value)
        if b"database space exceeded" in r.stderr:
            break
        assert r.returncode == 0, r.stderr
    else:
        raise AssertionError("the quota never raised NOSPACE")
    # The refused put proposes the alarm; it is applied a moment later (as
    # in etcd, which raises it from a goroutine), so wait until it is listed.
    deadline = time.monotonic() + 10
    while b"NOSPACE" not in ref(m.endpoint, "alarm", "list").stdout:
        assert time.monotonic() < deadline, "NOSPACE was refused but never listed as an alarm"
        time.sleep(0.05)


def test_alarm_list_and_disarm(quota_member):
    e = quota_member.endpoint
    # No alarm yet: empty output in every format that has one.
    for fmt in ("simple", "json", "fields", "protobuf", "table"):
        assert_same(e, "alarm", "list", "-w", fmt)
    fill_until_nospace(quota_member)
    member_id = json.loads(ours(e, "endpoint", "status", "-w", "json").stdout)[0][
        "Status"]["header"]["member_id"]
    o = assert_same(e, "alarm", "list")
    assert o.stdout.decode() == f"memberID:{member_id} alarm:NOSPACE \n"
    for fmt in ("json", "fields", "protobuf", "table"):
        assert_same(e, "alarm", "list", "-w", fmt)
    assert_same(e, "alarm", "list", "extra")

    # 3.5: an alarm makes the endpoint unhealthy.
    code, out, err = text(ours(e, "endpoint", "health"))
    assert (code, out) == (1, "")
    assert err == (f"{e} is unhealthy: failed to commit proposal: Active Alarm(s): NOSPACE \n"
                   "Error: unhealthy cluster\n")
    r = ours(e, "endpoint", "health", "-w", "json")
    assert r.returncode == 1
    assert [(h["health"], h["error"]) for h in json.loads(r.stdout)] == [
        (False, "Active Alarm(s): NOSPACE ")]

    # Disarm: the disarmed alarms, as the reference prints them.
    r = ours(e, "alarm", "disarm", "-w", "json")
    assert text(r) == (0, f'{{"alarms":[{{"memberID":{member_id},"alarm":1}}]}}\n', "")
    assert text(ours(e, "alarm", "list")) == (0, "", "")
    assert text(ours(e, "alarm", "disarm")) == (0, "", "")
    assert_same(e, "alarm", "disarm", "extra")


# -- snapshot ----------------------------------------------------------------

ZAP = re.compile(r'\{"level":"(\w+)","ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d{4})"'
                 r'(,"logger":"client")?,"caller":"([^"]+)","msg":"([^"]+)"(.*)\}')


def test_snapshot_save(c3, tmp_path):
    path = tmp_path / "snap.db"
    code, out, err = text(ours(ep(c3, 0), "snapshot", "save", str(path)))
    assert (code, out) == (0, f"Snapshot saved at {path}\n"), err
    lines = [ZAP.fullmatch(l) for l in err.splitlines()]
    assert all(lines), err
    assert [(m.group(1), m.group(4), m.group(5)) for m in lines] == [
        ("info", "snapshot/v3_snapshot.go:65", "created temporary db file"),
        ("info", "v3/maintenance.go:212", "opened snapshot stream; downloading"),
        ("info", "snapshot/v3_snapshot.go:73", "fetching snapshot"),
        ("info", "v3/maintenance.go:220", "completed snapshot read; closing"),
        ("info", "snapshot/v3_snapshot.go:88", "fetched snapshot"),
        ("info", "snapshot/v3_snapshot.go:97", "saved"),
    ]
    assert [bool(m.group(3)) for m in lines] == [False, True, False, True, False, False]
    size = path.stat().st_size
    assert lines[0].group(6) == f',"path":"{path}.part"'
    assert lines[2].group(6) == f',"endpoint":"{ep(c3, 0)}"'
    assert re.fullmatch(rf',"endpoint":"{ep(c3, 0)}","size":"[0-9.]+ [kMG]?B","took":"now"',
                        lines[4].group(6))
    assert lines[5].group(6) == f',"path":"{path}"'
    assert size % 512 == 32 and not (tmp_path / "snap.db.part").exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    # The reference's copy of the same (quiet) member has the same keys.
    ref_path = tmp_path / "ref.db"
    assert ref(ep(c3, 0), "snapshot", "save", str(ref_path)).returncode == 0
    st = [json.loads(ours("", "-w", "json", "snapshot", "status", str(p)).stdout)
          for p in (path, ref_path)]
    assert st[0]["totalKey"] == st[1]["totalKey"] and st[0]["revision"] == st[1]["revision"]


def test_snapshot_save_errors_match_reference(c3, tmp_path):
    assert_same(eps(c3), "snapshot", "save", str(tmp_path / "multi.db"))
    assert_same(ep(c3, 0), "snapshot", "save", str(tmp_path / "missing" / "x.db"))
    assert_same(ep(c3, 0), "snapshot", "save")
    assert_same(ep(c3, 0), "snapshot", "save", "a", "b")
    assert not list(tmp_path.iterdir())


def test_snapshot_status_and_restore_are_deprecated_etcdutl(c3, tmp_path):
    path = tmp_path / "s.db"
    assert ours(ep(c3, 0), "snapshot", "save", str(path)).returncode == 0
    notice = "Deprecated: Use `etcdutl snapshot status` instead.\n\n"
    code, out, err = text(ours("", "snapshot", "status", str(path)))
    assert (code, err) == (0, notice)
    assert re.fullmatch(r"[0-9a-f]+, \d+, \d+, [0-9.]+ [kMG]?B\n", out)
    code, out, err = text(ours("", "snapshot", "status", str(path), "-w", "table"))
    # (the hash is %x: its column is as wide as its digits, 8 or fewer)
    assert code == 0 and re.match(r"\+-+\+----------\+------------\+------------\+\n"
                                  r"\| +HASH +\| REVISION \| TOTAL KEYS \| TOTAL SIZE \|\n", out)
    assert text(ours("", "snapshot", "status")) == (
        128, "", notice + "Error: snapshot status requires exactly one argument\n")

    data_dir = tmp_path / "restored"
    code, out, err = text(ours("", "snapshot", "restore", str(path), f"--data-dir={data_dir}",
                               "--name=r1", "--initial-cluster=r1=http://127.0.0.1:1",
                               "--initial-advertise-peer-urls=http://127.0.0.1:1"))
    assert (code, out) == (0, ""), err
    assert err.startswith("Deprecated: Use `etcdutl snapshot restore` instead.\n\n")
    assert (data_dir / "member" / "snap" / "db").exists()
    assert (data_dir / "member" / "wal").is_dir()
    code, out, err = text(ours("", "snapshot", "restore", str(path), "--bump-revision=5"))
    assert (code, err.splitlines()[-1]) == (128, "Error: --mark-compacted required if "
                                                 "--revision-bump > 0")

    # defrag --data-dir is etcdutl's offline defrag in 3.5, with a notice.
    code, out, err = text(ours("", "defrag", f"--data-dir={data_dir}"))
    assert (code, out) == (0, ""), err
    assert err.startswith("Use `etcdutl defrag` instead. The --data-dir is going to be "
                          "decomissioned in v3.6.\n\n")
    code, out, err = text(ours("", "defrag", f"--data-dir={tmp_path / 'none'}"))
    assert code == 1 and err.splitlines()[-1].startswith("Error: ")
    assert not (tmp_path / "none").exists()
