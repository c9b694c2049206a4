"""GET /metrics, black box: etcd's Prometheus metrics under etcd's names,
types, label names and histogram buckets (the reference etcd 3.4.23's
scrape is the oracle), each moving when what it counts happens, on the
client port and on --listen-metrics-urls, and the per-peer series of a
3-member cluster.

The scrape is parsed with python3-prometheus-client, as Prometheus would
parse it. That parser names a counter family without its `_total` suffix;
`scrape()` below keys every family by its exposed name instead.
"""

import json
import subprocess
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from cluster import OURS, Cluster
from conftest import etcdctl_env, free_ports

# Every metric the project promises (docs/operations.md#metrics), with
# etcd's type and label names. Histograms have an `le` label besides.
REQUIRED = {
    "etcd_server_has_leader": ("gauge", set()),
    "etcd_server_is_leader": ("gauge", set()),
    "etcd_server_is_learner": ("gauge", set()),
    "etcd_server_leader_changes_seen_total": ("counter", set()),
    "etcd_server_proposals_committed_total": ("gauge", set()),
    "etcd_server_proposals_applied_total": ("gauge", set()),
    "etcd_server_proposals_pending": ("gauge", set()),
    "etcd_server_proposals_failed_total": ("counter", set()),
    "etcd_server_id": ("gauge", {"server_id"}),
    "etcd_server_version": ("gauge", {"server_version"}),
    "etcd_cluster_version": ("gauge", {"cluster_version"}),
    "etcd_server_slow_apply_total": ("counter", set()),
    "etcd_server_heartbeat_send_failures_total": ("counter", set()),
    "etcd_server_quota_backend_bytes": ("gauge", set()),
    "etcd_server_auth_failures_total": ("counter", set()),
    "etcd_disk_wal_fsync_duration_seconds": ("histogram", set()),
    "etcd_disk_backend_commit_duration_seconds": ("histogram", set()),
    "etcd_disk_backend_snapshot_duration_seconds": ("histogram", set()),
    "etcd_disk_backend_defrag_duration_seconds": ("histogram", set()),
    "etcd_disk_wal_write_bytes_total": ("gauge", set()),
    "etcd_mvcc_db_total_size_in_bytes": ("gauge", set()),
    "etcd_mvcc_db_total_size_in_use_in_bytes": ("gauge", set()),
    "etcd_debugging_mvcc_keys_total": ("gauge", set()),
    "etcd_debugging_mvcc_current_revision": ("gauge", set()),
    "etcd_debugging_mvcc_compact_revision": ("gauge", set()),
    "etcd_mvcc_put_total": ("counter", set()),
    "etcd_mvcc_delete_total": ("counter", set()),
    "etcd_mvcc_range_total": ("counter", set()),
    "etcd_mvcc_txn_total": ("counter", set()),
    "etcd_debugging_mvcc_watcher_total": ("gauge", set()),
    "etcd_debugging_lease_granted_total": ("counter", set()),
    "etcd_debugging_lease_revoked_total": ("counter", set()),
    "etcd_debugging_lease_renewed_total": ("counter", set()),
    "etcd_network_client_grpc_sent_bytes_total": ("counter", set()),
    "etcd_network_client_grpc_received_bytes_total": ("counter", set()),
    "grpc_server_started_total": ("counter", {"grpc_type", "grpc_service", "grpc_method"}),
    "grpc_server_handled_total": ("counter",
                                  {"grpc_type", "grpc_service", "grpc_method", "grpc_code"}),
    "grpc_server_msg_received_total": ("counter", {"grpc_type", "grpc_service", "grpc_method"}),
    "grpc_server_msg_sent_total": ("counter", {"grpc_type", "grpc_service", "grpc_method"}),
    "process_cpu_seconds_total": ("counter", set()),
    "process_resident_memory_bytes": ("gauge", set()),
    "process_virtual_memory_bytes": ("gauge", set()),
    "process_virtual_memory_max_bytes": ("gauge", set()),
    "process_open_fds": ("gauge", set()),
    "process_max_fds": ("gauge", set()),
    "process_start_time_seconds": ("gauge", set()),
    "os_fd_used": ("gauge", set()),
    "os_fd_limit": ("gauge", set()),
}
# Only with --metrics extensive.
EXTENSIVE = {
    "grpc_server_handling_seconds": ("histogram", {"grpc_type", "grpc_service", "grpc_method"}),
}
# Only once there are peers.
PEER = {
    "etcd_network_peer_round_trip_time_seconds": ("histogram", {"To"}),
    "etcd_network_peer_sent_bytes_total": ("counter", {"To"}),
    "etcd_network_peer_received_bytes_total": ("counter", {"From"}),
    "etcd_network_peer_sent_failures_total": ("counter", {"To"}),
}
# Listed metrics a single reference 3.4.23 member does not export: ours,
# or etcd 3.5's additions.
NOT_IN_REFERENCE = {"etcd_server_auth_failures_total"}

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Scrape:
    """One scrape: families by exposed name, and sample lookups."""

    def __init__(self, text: str):
        self.text = text
        self.families = {}
        for f in text_string_to_metric_families(text):
            name = f.name
            if f.type == "counter" and f.samples and f.samples[0].name == name + "_total":
                name += "_total"
            self.families[name] = f

    def value(self, name: str, suffix: str = "", **labels) -> float:
        """The sample `name + suffix` whose labels include `labels`; fails
        when there is none."""
        f = self.families.get(name)
        assert f is not None, f"{name} missing from the scrape"
        sample_name = (name + suffix) if f.type != "counter" or name.endswith("_total") else name
        for s in f.samples:
            if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError(f"no sample {sample_name}{labels} in {f.samples[:5]}...")

    def label_names(self, name: str) -> set:
        f = self.families[name]
        out = set()
        for s in f.samples:
            out |= set(s.labels) - {"le"}
        return out

    def buckets(self, name: str) -> list:
        f = self.families[name]
        first = None
        bounds = []
        for s in f.samples:
            if not s.name.endswith("_bucket"):
                continue
            key = {k: v for k, v in s.labels.items() if k != "le"}
            if first is None:
                first = key
            if key == first:
                bounds.append(float(s.labels["le"]))
        return bounds


def get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def scrape(base_url: str) -> Scrape:
    status, ctype, body = get(base_url + "/metrics")
    assert status == 200
    return Scrape(body)


def wait_for(pred, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def check_listed(s: Scrape, listed: dict):
    for name, (typ, labels) in listed.items():
        assert name in s.families, f"{name} missing"
        assert s.families[name].type == typ, (name, s.families[name].type)
        if s.families[name].samples:
            assert s.label_names(name) == labels, (name, s.label_names(name))


def test_served_on_the_client_port_with_every_listed_metric(member):
    status, ctype, body = get(member.client_url + "/metrics")
    assert status == 200
    assert ctype == CONTENT_TYPE
    s = Scrape(body)
    check_listed(s, REQUIRED)
    # Basic metrics: no handling-time histogram.
    assert "grpc_server_handling_seconds" not in s.families
    # go-grpc-prometheus' zeroes for every method, before any call.
    assert s.value("grpc_server_handled_total", grpc_service="etcdserverpb.KV",
                   grpc_method="Compact", grpc_type="unary", grpc_code="Unavailable") == 0
    assert s.value("grpc_server_started_total", grpc_service="etcdserverpb.Watch",
                   grpc_method="Watch", grpc_type="bidi_stream") == 0
    assert s.value("grpc_server_started_total", grpc_service="etcdserverpb.Maintenance",
                   grpc_method="Snapshot", grpc_type="server_stream") == 0


def test_same_names_types_labels_and_buckets_as_the_reference(etcd_factory):
    ours = etcd_factory().start("--metrics", "extensive")
    ref = etcd_factory(reference=True).start("--metrics", "extensive")
    for m in (ours, ref):
        m.ok("put", "k", "v")
        m.ok("get", "k")
    so, sr = scrape(ours.client_url), scrape(ref.client_url)
    listed = {**REQUIRED, **EXTENSIVE}
    missing_in_ref = {n for n in listed if n not in sr.families}
    assert missing_in_ref == NOT_IN_REFERENCE
    for name in listed:
        if name in NOT_IN_REFERENCE:
            continue
        assert name in so.families, f"{name} missing from ours"
        assert so.families[name].type == sr.families[name].type, name
        if sr.families[name].samples:
            assert so.label_names(name) == sr.label_names(name), name
        if sr.families[name].type == "histogram":
            assert so.buckets(name) == sr.buckets(name), name
    # The same grpc label values for a call both served.
    put = dict(grpc_service="etcdserverpb.KV", grpc_method="Put", grpc_type="unary")
    for s in (so, sr):
        assert s.value("grpc_server_handled_total", grpc_code="OK", **put) == 1
        assert s.value("grpc_server_handling_seconds", "_count", **put) == 1
    # The same set of (service, method, type) series, pre-initialised.
    # (The reference also serves grpc.health.v1.Health.)
    def methods(s):
        return {(x.labels["grpc_service"], x.labels["grpc_method"], x.labels["grpc_type"])
                for x in s.families["grpc_server_started_total"].samples
                if x.labels["grpc_service"].startswith("etcdserverpb.")}
    # etcd 3.5 added two RPCs the 3.4 reference lacks.
    assert methods(so) == methods(sr) | {("etcdserverpb.Auth", "AuthStatus", "unary"),
                                         ("etcdserverpb.Maintenance", "Downgrade", "unary")}


def member_id_hex(m) -> str:
    st = json.loads(m.ok("endpoint", "status", "-w", "json"))[0]["Status"]
    return format(st["header"]["member_id"], "x")


def test_each_metric_moves_with_what_it_counts(member):
    before = scrape(member.client_url)
    assert before.value("etcd_server_has_leader") == 1
    assert before.value("etcd_server_is_leader") == 1
    assert before.value("etcd_server_is_learner") == 0
    assert before.value("etcd_server_leader_changes_seen_total") >= 1
    assert before.value("etcd_server_quota_backend_bytes") == 2 * 1024 ** 3
    assert before.value("etcd_server_id", server_id=member_id_hex(member)) == 1
    assert before.value("etcd_server_version", server_version="3.5.0") == 1
    assert before.value("etcd_cluster_version", cluster_version="3.5") == 1
    assert before.value("etcd_mvcc_db_total_size_in_bytes") > 0
    assert 0 < before.value("etcd_mvcc_db_total_size_in_use_in_bytes") <= \
        before.value("etcd_mvcc_db_total_size_in_bytes")

    member.ok("put", "a", "1")
    after = scrape(member.client_url)

    def moved(name, suffix="", by=None, **labels):
        d = after.value(name, suffix, **labels) - before.value(name, suffix, **labels)
        if by is None:
            assert d > 0, f"{name}{suffix}{labels} did not move"
        else:
            assert d == by, f"{name}{suffix}{labels} moved by {d}, not {by}"

    moved("etcd_server_proposals_committed_total")
    moved("etcd_server_proposals_applied_total")
    assert after.value("etcd_server_proposals_applied_total") <= \
        after.value("etcd_server_proposals_committed_total")
    assert after.value("etcd_server_proposals_pending") == 0
    moved("etcd_mvcc_put_total", by=1)
    moved("etcd_disk_wal_fsync_duration_seconds", "_count")
    moved("etcd_disk_wal_write_bytes_total")
    moved("etcd_debugging_mvcc_keys_total", by=1)
    moved("etcd_debugging_mvcc_current_revision", by=1)
    put = dict(grpc_service="etcdserverpb.KV", grpc_method="Put", grpc_type="unary")
    moved("grpc_server_started_total", by=1, **put)
    moved("grpc_server_handled_total", by=1, grpc_code="OK", **put)
    moved("grpc_server_msg_received_total", by=1, **put)
    moved("grpc_server_msg_sent_total", by=1, **put)
    moved("etcd_network_client_grpc_received_bytes_total")
    moved("etcd_network_client_grpc_sent_bytes_total")

    # Reads, deletes, transactions, a failed call.
    before = after
    member.ok("get", "a")
    member.ok("del", "a")
    member.ok("txn", input="\nput t1 x\nput t2 y\n\n\n")
    r = member.etcdctl("get", "a", "--rev=1000")
    assert r.returncode != 0
    after = scrape(member.client_url)
    moved("etcd_mvcc_range_total", by=2)  # etcd counts a failed range too
    moved("etcd_mvcc_delete_total", by=1)
    moved("etcd_mvcc_put_total", by=2)
    moved("etcd_mvcc_txn_total", by=1)
    assert after.value("etcd_debugging_mvcc_keys_total") == 2
    moved("grpc_server_handled_total", by=1, grpc_code="OutOfRange",
          grpc_service="etcdserverpb.KV", grpc_method="Range", grpc_type="unary")
    moved("grpc_server_handled_total", by=1, grpc_code="OK",
          grpc_service="etcdserverpb.KV", grpc_method="Txn", grpc_type="unary")

    # Leases.
    before = after
    lease = member.ok("lease", "grant", "60").split()[1]
    member.ok("lease", "keep-alive", "--once", lease)
    member.ok("lease", "revoke", lease)
    after = scrape(member.client_url)
    moved("etcd_debugging_lease_granted_total", by=1)
    moved("etcd_debugging_lease_renewed_total", by=1)
    moved("etcd_debugging_lease_revoked_total", by=1)
    moved("grpc_server_msg_received_total", by=1, grpc_service="etcdserverpb.Lease",
          grpc_method="LeaseKeepAlive", grpc_type="bidi_stream")

    # A watcher while its stream is open.
    before = after
    w = subprocess.Popen(["/usr/bin/etcdctl", "--endpoints", member.endpoint, "watch", "w"],
                         env=etcdctl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: scrape(member.client_url).value("etcd_debugging_mvcc_watcher_total")
                 == before.value("etcd_debugging_mvcc_watcher_total") + 1,
                 what="the watcher to be counted")
    finally:
        w.terminate()
        w.wait(timeout=10)
    wait_for(lambda: scrape(member.client_url).value("etcd_debugging_mvcc_watcher_total")
             == before.value("etcd_debugging_mvcc_watcher_total"),
             what="the watcher to be gone")

    # A snapshot, a defrag, a backend commit.
    before = scrape(member.client_url)
    member.ok("snapshot", "save", str(member.base / "snap.db"))
    member.ok("defrag")
    # Commits run every 100 ms while there are writes.
    member.ok("put", "c", "1")

    def committed():
        s = scrape(member.client_url)
        return s if s.value("etcd_disk_backend_commit_duration_seconds", "_count") > \
            before.value("etcd_disk_backend_commit_duration_seconds", "_count") else None

    after = wait_for(committed, what="a backend commit")
    moved("etcd_disk_backend_snapshot_duration_seconds", "_count", by=1)
    moved("etcd_disk_backend_defrag_duration_seconds", "_count", by=1)

    # Process metrics of the member's own process.
    s = scrape(member.client_url)
    assert s.value("process_open_fds") > 3
    assert s.value("process_max_fds") >= s.value("process_open_fds")
    assert s.value("process_resident_memory_bytes") > 1 << 20
    assert s.value("process_virtual_memory_bytes") >= s.value("process_resident_memory_bytes")
    assert s.value("process_cpu_seconds_total") > 0
    assert abs(s.value("process_start_time_seconds") - time.time()) < 600
    with open(f"/proc/{member.proc.pid}/limits") as f:
        nofile = next(line for line in f if line.startswith("Max open files")).split()[3]
    assert s.value("process_max_fds") == int(nofile)

    # Authentication failures (ours; etcd 3.5 has no such counter).
    member.ok("user", "add", "root", "--new-user-password=rootpw")
    member.ok("auth", "enable")
    before = scrape(member.client_url)
    r = member.etcdctl("--user", "root:wrong", "get", "a")
    assert r.returncode != 0
    assert "authentication failed, invalid user ID or password" in r.stderr
    after = scrape(member.client_url)
    moved("etcd_server_auth_failures_total", by=1)
    moved("grpc_server_handled_total", by=1, grpc_code="InvalidArgument",
          grpc_service="etcdserverpb.Auth", grpc_method="Authenticate", grpc_type="unary")


def test_extensive_adds_the_handling_histogram(etcd_factory):
    m = etcd_factory().start("--metrics", "extensive")
    m.ok("put", "k", "v")
    s = scrape(m.client_url)
    check_listed(s, {**REQUIRED, **EXTENSIVE})
    put = dict(grpc_service="etcdserverpb.KV", grpc_method="Put", grpc_type="unary")
    assert s.value("grpc_server_handling_seconds", "_count", **put) == 1
    assert s.value("grpc_server_handling_seconds", "_bucket", le="+Inf", **put) == 1
    assert s.buckets("grpc_server_handling_seconds") == [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")]


def test_listen_metrics_urls_serves_its_own_port(etcd_factory):
    port = free_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    m = etcd_factory().start("--listen-metrics-urls", url)
    m.ok("put", "k", "v")
    status, ctype, body = get(url + "/metrics")
    assert status == 200 and ctype == CONTENT_TYPE
    s = Scrape(body)
    check_listed(s, REQUIRED)
    assert s.value("etcd_mvcc_put_total") == 1
    # The client port serves it too.
    assert scrape(m.client_url).value("etcd_mvcc_put_total") == 1


def test_cluster_members_report_each_peer(tmp_path):
    c = Cluster(tmp_path / "c", [OURS] * 3)
    try:
        c.start()
        members = c.member_list()
        ids = {m["name"]: format(int(m["ID"]), "x") for m in members}
        for i in range(10):
            c.ok("put", f"k{i}", "v")
        # The prober measures every 5 s.
        def all_measured():
            for m in c.members:
                s = scrape(m.client_url)
                for name, pid in ids.items():
                    if name == m.name:
                        continue
                    if s.value("etcd_network_peer_round_trip_time_seconds", "_count", To=pid) < 1:
                        return False
            return True
        wait_for(all_measured, timeout=20, what="a round-trip time to every peer")
        for m in c.members:
            s = scrape(m.client_url)
            check_listed(s, PEER)
            others = [pid for name, pid in ids.items() if name != m.name]
            assert s.label_names("etcd_network_peer_sent_bytes_total") == {"To"}
            for pid in others:
                assert s.value("etcd_network_peer_sent_bytes_total", To=pid) > 0
                assert s.value("etcd_network_peer_received_bytes_total", From=pid) > 0
                assert s.value("etcd_network_peer_sent_failures_total", To=pid) == 0
                # Loopback: well under a second.
                assert s.value("etcd_network_peer_round_trip_time_seconds", "_bucket",
                               To=pid, le="1.6384") >= 1
            assert ids[m.name] not in [x.labels.get("To") for x in
                                       s.families["etcd_network_peer_sent_bytes_total"].samples]
        leaders = [scrape(m.client_url).value("etcd_server_is_leader") for m in c.members]
        assert sorted(leaders) == [0, 0, 1]
    finally:
        c.close()
