#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>

#include "metrics/process.h"

namespace etcd::metrics {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> b;
  b.reserve(static_cast<size_t>(count));
  double v = start;
  for (int i = 0; i < count; ++i) {
    b.push_back(v);
    v *= factor;
  }
  return b;
}

CollectHook::CollectHook(CollectHook&& o) noexcept : metrics_(o.metrics_), id_(o.id_) {
  o.metrics_ = nullptr;
}

CollectHook& CollectHook::operator=(CollectHook&& o) noexcept {
  if (this != &o) {
    reset();
    metrics_ = o.metrics_;
    id_ = o.id_;
    o.metrics_ = nullptr;
  }
  return *this;
}

CollectHook::~CollectHook() { reset(); }

void CollectHook::reset() {
  if (metrics_ != nullptr) metrics_->remove_hook(id_);
  metrics_ = nullptr;
}

namespace {

Counter* counter(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return &BuildCounter().Name(name).Help(help).Register(r).Add({});
}

Gauge* gauge(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return &BuildGauge().Name(name).Help(help).Register(r).Add({});
}

Histogram* histogram(prometheus::Registry& r, const std::string& name, const std::string& help,
                     std::vector<double> buckets) {
  return &BuildHistogram().Name(name).Help(help).Register(r).Add({}, std::move(buckets));
}

}  // namespace

Metrics::Metrics() : registry_(std::make_unique<prometheus::Registry>()) {
  auto& r = *registry_;
  // Server state and Raft.
  has_leader = gauge(r, "etcd_server_has_leader", "1 while this member knows a leader, else 0.");
  is_leader = gauge(r, "etcd_server_is_leader", "1 while this member is the leader, else 0.");
  is_learner = gauge(r, "etcd_server_is_learner", "1 while this member is a learner, else 0.");
  leader_changes =
      counter(r, "etcd_server_leader_changes_seen_total", "Leader changes this member has seen.");
  heartbeat_send_failures =
      counter(r, "etcd_server_heartbeat_send_failures_total",
              "Heartbeats the leader could not send in time (often a slow disk).");
  slow_apply = counter(r, "etcd_server_slow_apply_total",
                       "Entries whose apply took longer than expected (often a slow disk).");
  proposals_committed = gauge(r, "etcd_server_proposals_committed_total",
                              "Raft commit index: proposals committed so far.");
  proposals_applied =
      gauge(r, "etcd_server_proposals_applied_total", "Applied index: proposals applied so far.");
  proposals_pending =
      gauge(r, "etcd_server_proposals_pending", "Proposals waiting to be committed now.");
  proposals_failed = counter(r, "etcd_server_proposals_failed_total",
                             "Proposals that failed (no leader, timeout, dropped).");
  quota_backend_bytes = gauge(r, "etcd_server_quota_backend_bytes",
                              "The backend size quota in bytes (--quota-backend-bytes).");
  auth_failures = counter(r, "etcd_server_auth_failures_total",
                          "Authentication requests refused (wrong user name or password).");
  server_id_family_ = &BuildGauge()
                           .Name("etcd_server_id")
                           .Help("Always 1; the server_id label is this member's id in hex.")
                           .Register(r);
  server_version_family_ =
      &BuildGauge()
           .Name("etcd_server_version")
           .Help("Always 1; the server_version label is this server's version.")
           .Register(r);
  cluster_version_family_ =
      &BuildGauge()
           .Name("etcd_cluster_version")
           .Help("Always 1; the cluster_version label is the cluster's current version.")
           .Register(r);
  // Disk.
  wal_fsync_seconds =
      histogram(r, "etcd_disk_wal_fsync_duration_seconds",
                "How long the WAL's fdatasync calls took.", exponential_buckets(0.001, 2, 14));
  wal_write_bytes = gauge(r, "etcd_disk_wal_write_bytes_total", "Bytes written to the WAL so far.");
  backend_commit_seconds = histogram(r, "etcd_disk_backend_commit_duration_seconds",
                                     "How long the backend's write-transaction commits took.",
                                     exponential_buckets(0.001, 2, 14));
  backend_snapshot_seconds =
      histogram(r, "etcd_disk_backend_snapshot_duration_seconds",
                "How long sending a backend snapshot took.", exponential_buckets(0.01, 2, 17));
  backend_defrag_seconds =
      histogram(r, "etcd_disk_backend_defrag_duration_seconds",
                "How long backend defragmentations took.", exponential_buckets(0.1, 2, 13));
  // MVCC.
  db_total_size =
      gauge(r, "etcd_mvcc_db_total_size_in_bytes", "Size of the backend database file in bytes.");
  db_total_size_in_use = gauge(r, "etcd_mvcc_db_total_size_in_use_in_bytes",
                               "Bytes of the backend database file holding live pages.");
  keys_total = gauge(r, "etcd_debugging_mvcc_keys_total", "Keys live in the key index.");
  put_total = counter(r, "etcd_mvcc_put_total", "Puts this member has applied.");
  delete_total = counter(r, "etcd_mvcc_delete_total", "Deletes this member has applied.");
  range_total = counter(r, "etcd_mvcc_range_total", "Ranges this member has served.");
  txn_total = counter(r, "etcd_mvcc_txn_total", "Transactions this member has applied.");
  watcher_total = gauge(r, "etcd_debugging_mvcc_watcher_total", "Watchers open now.");
  current_revision =
      gauge(r, "etcd_debugging_mvcc_current_revision", "The store's current revision.");
  compact_revision =
      gauge(r, "etcd_debugging_mvcc_compact_revision", "The revision last compacted to.");
  // Leases.
  lease_granted = counter(r, "etcd_debugging_lease_granted_total", "Leases granted.");
  lease_revoked = counter(r, "etcd_debugging_lease_revoked_total", "Leases revoked.");
  lease_renewed = counter(r, "etcd_debugging_lease_renewed_total", "Lease renewals.");
  // Client traffic.
  client_grpc_sent_bytes = counter(r, "etcd_network_client_grpc_sent_bytes_total",
                                   "Bytes of messages sent to gRPC clients.");
  client_grpc_received_bytes = counter(r, "etcd_network_client_grpc_received_bytes_total",
                                       "Bytes of messages received from gRPC clients.");
  // Peers (series per peer, see peer()).
  peer_rtt_family_ = &BuildHistogram()
                          .Name("etcd_network_peer_round_trip_time_seconds")
                          .Help("Round-trip times of probes to each peer.")
                          .Register(r);
  peer_sent_bytes_family_ = &BuildCounter()
                                 .Name("etcd_network_peer_sent_bytes_total")
                                 .Help("Bytes sent to each peer.")
                                 .Register(r);
  peer_received_bytes_family_ = &BuildCounter()
                                     .Name("etcd_network_peer_received_bytes_total")
                                     .Help("Bytes received from each peer.")
                                     .Register(r);
  peer_sent_failures_family_ = &BuildCounter()
                                    .Name("etcd_network_peer_sent_failures_total")
                                    .Help("Messages to each peer that could not be sent.")
                                    .Register(r);
}

Metrics::~Metrics() = default;

Metrics& Metrics::global() {
  // Never destroyed: threads still counting at exit find it alive.
  static Metrics* m = new Metrics();
  return *m;
}

CollectHook Metrics::add_collect_hook(std::function<void()> f) {
  MutexLock l(&hooks_mu_);
  uint64_t id = next_hook_++;
  hooks_.emplace(id, std::move(f));
  return CollectHook(this, id);
}

void Metrics::remove_hook(uint64_t id) {
  MutexLock l(&hooks_mu_);
  hooks_.erase(id);
}

PeerMetrics Metrics::peer(const std::string& id_hex) {
  MutexLock l(&mu_);
  auto it = peers_.find(id_hex);
  if (it != peers_.end()) return it->second;
  PeerMetrics p;
  p.round_trip_time = &peer_rtt_family_->Add({{"To", id_hex}}, exponential_buckets(0.0001, 2, 16));
  p.sent_bytes = &peer_sent_bytes_family_->Add({{"To", id_hex}});
  p.received_bytes = &peer_received_bytes_family_->Add({{"From", id_hex}});
  p.sent_failures = &peer_sent_failures_family_->Add({{"To", id_hex}});
  peers_.emplace(id_hex, p);
  return p;
}

void Metrics::set_info(Family<Gauge>& family, const std::string& label, const std::string& value,
                       Gauge*& current) {
  Gauge* g = &family.Add({{label, value}});
  if (current != nullptr && current != g) family.Remove(current);
  g->Set(1);
  current = g;
}

void Metrics::set_server_id(const std::string& id_hex) {
  MutexLock l(&mu_);
  set_info(*server_id_family_, "server_id", id_hex, server_id_);
}

void Metrics::set_server_version(const std::string& version) {
  MutexLock l(&mu_);
  set_info(*server_version_family_, "server_version", version, server_version_);
}

void Metrics::set_cluster_version(const std::string& version) {
  MutexLock l(&mu_);
  set_info(*cluster_version_family_, "cluster_version", version, cluster_version_);
}

std::vector<prometheus::MetricFamily> Metrics::collect() {
  {
    MutexLock l(&hooks_mu_);
    for (auto& [id, f] : hooks_) f();
  }
  auto families = registry_->Collect();
  for (auto& f : process_families()) families.push_back(std::move(f));
  std::sort(families.begin(), families.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return families;
}

std::string Metrics::scrape() { return prometheus::TextSerializer().Serialize(collect()); }

}  // namespace etcd::metrics
