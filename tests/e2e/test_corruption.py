"""Corruption checks: --experimental-initial-corrupt-check and
--experimental-corrupt-check-time (their log lines beside the reference etcd,
and what they find in a member's own damaged data), and the CORRUPT alarm
(writes fail with `etcdserver: corrupt cluster`, reads go on), activated
through raw gRPC Maintenance/Alarm as a peer's check would."""

import pytest

import etcdpb
from conftest import KvClient, error_line, wait_log

CORRUPT = "Error: etcdserver: corrupt cluster"


def activate_corrupt(member, member_id: int = 0) -> None:
    """Maintenance/Alarm ACTIVATE CORRUPT for `member_id`."""
    c = etcdpb.Client(member.endpoint)
    try:
        pb = c.pb
        resp = c.call("Maintenance", "Alarm",
                      pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=member_id,
                                      alarm=pb.CORRUPT),
                      pb.AlarmResponse, timeout=5)
        assert [(a.memberID, a.alarm) for a in resp.alarms] == [(member_id, pb.CORRUPT)], resp
    finally:
        c.close()


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_initial_check_runs_on_restart_only(etcd_factory, reference):
    m = etcd_factory(reference=reference,
                     extra_args=("--logger=zap", "--experimental-initial-corrupt-check")).start()
    m.ok("put", "a", "1")
    # A new member has nothing to check.
    assert not any(e.get("msg") == "starting initial corruption check" for e in m.log_entries())
    m.stop()
    m.start()
    start = wait_log(m, "starting initial corruption check")
    assert set(start) >= {"local-member-id", "timeout"}
    passed = wait_log(m, "initial corruption checking passed; no corruption")
    assert passed["local-member-id"] == start["local-member-id"]
    assert m.ok("get", "a", "--print-value-only") == "1\n"


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_periodic_check_logs(etcd_factory, reference):
    m = etcd_factory(reference=reference,
                     extra_args=("--logger=zap", "--experimental-corrupt-check-time=500ms")).start()
    enabled = wait_log(m, "enabled corruption checking")
    assert enabled["interval"] == "500ms"
    done = wait_log(m, "finished peer corruption check")
    assert done["number-of-peers-checked"] == 0
    assert m.ok("alarm", "list") == ""


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_corrupt_alarm_fails_writes_and_serves_reads(etcd_factory, reference):
    m = etcd_factory(reference=reference, extra_args=("--logger=zap",)).start()
    m.ok("put", "a", "1")
    activate_corrupt(m)
    assert m.ok("alarm", "list") == "alarm:CORRUPT \n"
    assert wait_log(m, "alarm raised")["alarm"] == "CORRUPT"
    for args in (("put", "a", "2"), ("del", "a"), ("compact", "1")):
        r = m.etcdctl(*args)
        assert r.returncode != 0 and error_line(r) == CORRUPT, (args, r.stderr)
    r = m.etcdctl("txn", input="\nput x y\n\n\n")
    assert error_line(r) == CORRUPT, r.stderr
    r = m.etcdctl("lease", "grant", "10")
    assert error_line(r) == "Error: failed to grant lease (etcdserver: corrupt cluster)", r.stderr
    # Reads are served (etcd answers them outside the applier chain).
    assert m.ok("get", "a", "--print-value-only") == "1\n"
    assert m.ok("get", "a", "--print-value-only", "--consistency=s") == "1\n"
    assert "alarm:CORRUPT" in m.ok("endpoint", "status")
    # The alarm survives a restart.
    m.stop()
    m.start()
    assert m.ok("alarm", "list") == "alarm:CORRUPT \n"
    assert error_line(m.etcdctl("put", "a", "2")) == CORRUPT
    assert m.ok("alarm", "disarm") == "alarm:CORRUPT \n"
    assert m.ok("alarm", "list") == ""
    m.ok("put", "a", "2")
    assert m.ok("get", "a", "--print-value-only") == "2\n"


# ---- our own data, damaged on disk ----

KEY = b"corruption-probe-key"


def damage_mod_revision(data_dir) -> int:
    """Rewrites, in the stopped member's db file, the mod_revision recorded
    in KEY's KeyValue (revision < 128: one varint byte) to another value.
    LMDB keeps no page checksums, so the record still reads; only its
    content is wrong. Returns the number of copies changed."""
    db = data_dir / "member" / "snap" / "db"
    raw = bytearray(db.read_bytes())
    head = b"\x0a" + bytes([len(KEY)]) + KEY + b"\x10"
    changed = 0
    i = raw.find(head)
    while i >= 0:
        j = i + len(head)
        # create_revision (1 byte), then field 3 (mod_revision) tag 0x18.
        if raw[j + 1] == 0x18 and raw[j + 2] < 0x7f:
            raw[j + 2] += 1
            changed += 1
        i = raw.find(head, i + 1)
    db.write_bytes(bytes(raw))
    return changed


def make_damaged_member(etcd_factory, *extra):
    m = etcd_factory(extra_args=extra).start()
    kv = KvClient(m.endpoint)
    rev = kv.put(KEY.decode(), "v")
    kv.close()
    m.stop()
    assert damage_mod_revision(m.data_dir) >= 1
    return m, rev


def test_initial_check_refuses_a_damaged_member(etcd_factory):
    m, rev = make_damaged_member(etcd_factory, "--experimental-initial-corrupt-check")
    m.start(wait=False)
    assert m.wait_exit() == 1
    fatal = [e for e in m.log_entries() if e.get("level") == "fatal"][-1]
    assert fatal["msg"] == "discovery failed"
    member_id = wait_log(m, "starting initial corruption check")["local-member-id"]
    assert fatal["error"] == (
        f"{member_id} found data inconsistency in its own backend (revision {{{rev} 0}} of key "
        f"\"{KEY.decode()}\" records mod_revision {rev + 1})")
    warn = wait_log(m, "failed to start etcd")
    assert warn["error"] == fatal["error"]


def test_periodic_check_raises_corrupt_for_a_damaged_member(etcd_factory):
    m, rev = make_damaged_member(etcd_factory)
    m.start("--experimental-corrupt-check-time=300ms")
    member_id = wait_log(m, "enabled corruption checking")["local-member-id"]
    wait_log(m, "found data inconsistency in the local backend")
    raised = wait_log(m, "alarm raised")
    assert raised["alarm"] == "CORRUPT" and raised["from"] == member_id
    assert m.ok("alarm", "list") == f"memberID:{int(member_id, 16)} alarm:CORRUPT \n"
    assert error_line(m.etcdctl("put", "a", "1")) == CORRUPT
