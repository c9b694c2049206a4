"""Auto-compaction (--auto-compaction-mode periodic|revision with
--auto-compaction-retention), observed through its log lines and through
`etcdctl get --rev` failing below the compacted revision; start-up errors of
bad values beside the reference etcd; the flags as ETCD_* variables and
config-file keys."""

import json
import subprocess
import time

import pytest

from conftest import KvClient, REFERENCE_ETCD, binary, error_line, wait_log

COMPACTED = "Error: etcdserver: mvcc: required revision has been compacted"



def write_keys(member, n: int, pause: float = 0.0) -> int:
    """n puts of key k<i>; returns the last revision."""
    kv = KvClient(member.endpoint)
    try:
        rev = 0
        for i in range(n):
            rev = kv.put(f"k{i}", f"v{i}")
            if pause:
                time.sleep(pause)
        return rev
    finally:
        kv.close()


def assert_compacted_at(member, rev: int) -> None:
    """History before `rev` is gone; `rev` itself is readable."""
    r = member.etcdctl("get", "k0", f"--rev={rev - 1}")
    assert r.returncode != 0 and error_line(r) == COMPACTED, r.stderr
    member.ok("get", "k0", f"--rev={rev}")
    status = json.loads(member.ok("endpoint", "status", "-w", "json"))
    assert status[0]["Status"]["header"]["revision"] >= rev


@pytest.mark.parametrize("reference", [False, True], ids=["ours", "reference"])
def test_periodic_mode_compacts_the_revision_of_one_retention_ago(etcd_factory, reference):
    m = etcd_factory(reference=reference,
                     extra_args=("--logger=zap", "--auto-compaction-retention=2s")).start()
    # Writes spread over more than one retention, so the sample taken at
    # the start is behind the current revision.
    last = write_keys(m, 30, pause=0.1)
    e = wait_log(m, "completed auto periodic compaction", pred=lambda e: e["revision"] > 1)
    assert e["compact-period"] == "2s"
    assert 1 < e["revision"] <= last
    assert "took" in e
    start = wait_log(m, "starting auto periodic compaction",
                     pred=lambda s: s["revision"] == e["revision"])
    assert start["compact-period"] == "2s"
    assert_compacted_at(m, e["revision"])


def test_periodic_mode_bare_number_is_hours(etcd_factory):
    m = etcd_factory(extra_args=("--auto-compaction-retention=1",)).start()
    write_keys(m, 5)
    conf = wait_log(m, "starting an etcd server")
    assert conf["auto-compaction-mode"] == "periodic"
    assert conf["auto-compaction-retention"] == "1h0m0s"  # a bare number is hours, as etcd logs it
    time.sleep(1.0)
    assert not any("compaction" in e.get("msg", "") for e in m.log_entries())
    m.ok("get", "k0", "--rev=2")  # nothing compacted


def test_revision_mode_keeps_the_last_retention_revisions(etcd_factory):
    m = etcd_factory(extra_args=(
        "--auto-compaction-mode=revision", "--auto-compaction-retention=10",
        "--experimental-auto-compaction-revision-interval=300ms")).start()
    last = write_keys(m, 40)
    e = wait_log(m, "completed auto revision compaction",
                 pred=lambda e: e["revision"] == last - 10)
    assert e["revision-compaction-retention"] == 10
    wait_log(m, "starting auto revision compaction", pred=lambda s: s["revision"] == last - 10)
    assert_compacted_at(m, last - 10)
    # No new writes: the same revision is not compacted twice.
    time.sleep(1.0)
    done = [e for e in m.log_entries() if e.get("msg") == "completed auto revision compaction"
            and e["revision"] == last - 10]
    assert len(done) == 1


def test_revision_mode_default_interval_is_five_minutes(etcd_factory):
    m = etcd_factory(extra_args=("--auto-compaction-mode=revision",
                                 "--auto-compaction-retention=2")).start()
    write_keys(m, 10)
    time.sleep(1.0)
    assert not any("revision compaction" in e.get("msg", "") for e in m.log_entries())
    m.ok("get", "k0", "--rev=2")


# ---- start-up errors, beside the reference ----

def start_error(binary, tmp_path, *args) -> tuple[int, str, str]:
    """(exit status, last log message, its error) of a failed start."""
    r = subprocess.run(
        [str(binary), "--logger=zap", f"--data-dir={tmp_path / 'd'}",
         "--listen-client-urls=http://127.0.0.1:0", "--advertise-client-urls=http://127.0.0.1:0",
         "--listen-peer-urls=http://127.0.0.1:0", *args],
        capture_output=True, text=True, timeout=30)
    lines = [l for l in r.stderr.splitlines() if l.startswith("{")]
    if not lines:
        return r.returncode, r.stderr.splitlines()[0], ""
    last = json.loads(lines[-1])
    return r.returncode, last["msg"], last.get("error", "")


@pytest.mark.parametrize("args", [
    ("--auto-compaction-mode=foo",),
    ("--auto-compaction-retention=abc",),
    ("--auto-compaction-retention=-1",),
    ("--auto-compaction-mode=revision", "--auto-compaction-retention=5x"),
    ("--experimental-corrupt-check-time=abc",),
    ("--experimental-initial-corrupt-check=abc",),
], ids=["mode", "retention", "negative", "unit", "check-time", "initial-check"])
def test_invalid_values_fail_start_up_as_the_reference(tmp_path, args):
    ours = start_error(binary("etcd"), tmp_path / "ours", *args)
    ref = start_error(REFERENCE_ETCD, tmp_path / "ref", *args)
    assert ours == ref
    assert ours[0] != 0


# ---- ETCD_* variables and config-file keys ----

def test_flags_as_environment_variables(etcd_factory):
    m = etcd_factory(env={
        "ETCD_AUTO_COMPACTION_RETENTION": "1s",
        "ETCD_AUTO_COMPACTION_MODE": "periodic",
        "ETCD_MAX_REQUEST_BYTES": "4096",
        "ETCD_QUOTA_BACKEND_BYTES": "100000000",
    }).start()
    used = {e["variable-name"]: e["variable-value"] for e in m.log_entries()
            if e.get("msg") == "recognized and used environment variable"}
    assert used["ETCD_AUTO_COMPACTION_RETENTION"] == "1s"
    assert used["ETCD_MAX_REQUEST_BYTES"] == "4096"
    quota = wait_log(m, "enabled backend quota")
    assert quota["quota-size-bytes"] == 100000000
    r = m.etcdctl("put", "big", "x" * 5000)
    assert error_line(r) == "Error: etcdserver: request is too large"
    write_keys(m, 20, pause=0.1)
    e = wait_log(m, "completed auto periodic compaction", pred=lambda e: e["revision"] > 1)
    assert e["compact-period"] == "1s"


def test_flags_as_config_file_keys(etcd_factory, tmp_path):
    m = etcd_factory()
    conf = tmp_path / "etcd.yaml"
    conf.write_text(f"""
name: {m.name}
data-dir: {m.data_dir}
listen-client-urls: {m.client_url}
advertise-client-urls: {m.client_url}
listen-peer-urls: {m.peer_url}
initial-advertise-peer-urls: {m.peer_url}
initial-cluster: {m.name}={m.peer_url}
auto-compaction-mode: revision
auto-compaction-retention: "5"
experimental-auto-compaction-revision-interval: 200ms
max-request-bytes: 2048
quota-backend-bytes: 200000000
experimental-corrupt-check-time: 1s
""")
    m.start("--config-file", str(conf))
    c = wait_log(m, "starting an etcd server")
    assert c["auto-compaction-mode"] == "revision"
    assert c["max-request-bytes"] == 2048
    assert c["quota-backend-bytes"] == 200000000
    assert c["corrupt-check-time-interval"] == "1s"
    assert error_line(m.etcdctl("put", "big", "x" * 3000)) == \
        "Error: etcdserver: request is too large"
    last = write_keys(m, 20)
    e = wait_log(m, "completed auto revision compaction",
                 pred=lambda e: e["revision"] == last - 5)
    assert e["revision-compaction-retention"] == 5
    assert_compacted_at(m, last - 5)
    wait_log(m, "enabled corruption checking", pred=lambda e: e["interval"] == "1s")
