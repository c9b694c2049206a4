// etcd's Prometheus metrics (etcd 3.5's names, label names and histogram
// buckets, so that etcd's Grafana dashboard and alert rules work unchanged),
// kept in prometheus-cpp families. docs/operations.md#metrics lists them.
//
// One process-wide instance, Metrics::global(), as Go's default registry in
// etcd: the code that counts (WAL, backend, MVCC, lessor, raft, transport,
// gRPC) would otherwise need a reference threaded through every
// constructor, and a process runs one member. Tests that run several
// members in one process see their sums, as they would with etcd.
//
// Hot paths hold plain pointers to the concrete counters below (a
// prometheus-cpp Counter or Gauge is an atomic double; a Histogram takes a
// short lock): no lookup by name or label per event. Values that are
// state rather than events (db size, key count, leader, commit index) are
// read when scraped, through collect hooks.
//
// Thread-safe: every member may be used from any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"

namespace etcd::metrics {

// Go's prometheus.ExponentialBuckets(start, factor, count).
std::vector<double> exponential_buckets(double start, double factor, int count);

// Seconds between two steady_clock points, for histograms.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class Metrics;

// Keeps a collect hook registered; unregisters it when destroyed (before
// whatever the hook reads goes away).
class CollectHook {
 public:
  CollectHook() = default;
  CollectHook(CollectHook&& o) noexcept;
  CollectHook& operator=(CollectHook&& o) noexcept;
  CollectHook(const CollectHook&) = delete;
  CollectHook& operator=(const CollectHook&) = delete;
  ~CollectHook();
  void reset();

 private:
  friend class Metrics;
  CollectHook(Metrics* m, uint64_t id) : metrics_(m), id_(id) {}
  Metrics* metrics_ = nullptr;
  uint64_t id_ = 0;
};

// The per-peer series of the peer transport (label "To" or "From": the
// peer's member id in hex, as etcd's types.ID prints it).
struct PeerMetrics {
  prometheus::Histogram* round_trip_time = nullptr;  // seconds
  prometheus::Counter* sent_bytes = nullptr;
  prometheus::Counter* received_bytes = nullptr;
  prometheus::Counter* sent_failures = nullptr;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The process's instance (see the file comment).
  static Metrics& global();

  // The text exposition format (version 0.0.4) of every family, sorted by
  // name, with the process_* metrics read from /proc/self at this moment.
  // Runs the collect hooks first.
  std::string scrape();
  // The families themselves (hooks run, process metrics included).
  std::vector<prometheus::MetricFamily> collect();

  // f runs at every scrape until the returned hook is destroyed. It must
  // not block for long and must not call scrape().
  [[nodiscard]] CollectHook add_collect_hook(std::function<void()> f);

  // The series of one peer, created on first use (kept afterwards, as
  // etcd's: a removed peer's totals stay).
  PeerMetrics peer(const std::string& id_hex);

  // Labelled "info" gauges: exactly one series at 1 (the previous value's
  // series is removed, as etcd's cluster version gauge is reset).
  void set_server_id(const std::string& id_hex);
  void set_server_version(const std::string& version);
  void set_cluster_version(const std::string& version);

  prometheus::Registry& registry() { return *registry_; }

  // etcd_server_* (etcdserver/metrics.go)
  prometheus::Gauge* has_leader;
  prometheus::Gauge* is_leader;
  prometheus::Gauge* is_learner;
  prometheus::Counter* leader_changes;
  prometheus::Counter* heartbeat_send_failures;
  prometheus::Counter* slow_apply;
  prometheus::Gauge* proposals_committed;
  prometheus::Gauge* proposals_applied;
  prometheus::Gauge* proposals_pending;
  prometheus::Counter* proposals_failed;
  prometheus::Gauge* quota_backend_bytes;
  prometheus::Counter* auth_failures;  // ours: failed Authenticate calls
  // etcd_disk_* (wal/metrics.go, mvcc/backend/metrics.go)
  prometheus::Histogram* wal_fsync_seconds;
  prometheus::Gauge* wal_write_bytes;  // a gauge in etcd, though named _total
  prometheus::Histogram* backend_commit_seconds;
  prometheus::Histogram* backend_snapshot_seconds;
  prometheus::Histogram* backend_defrag_seconds;
  // etcd_mvcc_* and etcd_debugging_mvcc_* (mvcc/metrics.go)
  prometheus::Gauge* db_total_size;
  prometheus::Gauge* db_total_size_in_use;
  prometheus::Gauge* keys_total;
  prometheus::Counter* put_total;
  prometheus::Counter* delete_total;
  prometheus::Counter* range_total;
  prometheus::Counter* txn_total;
  prometheus::Gauge* watcher_total;
  prometheus::Gauge* current_revision;
  prometheus::Gauge* compact_revision;
  // etcd_debugging_lease_* (lease/metrics.go)
  prometheus::Counter* lease_granted;
  prometheus::Counter* lease_revoked;
  prometheus::Counter* lease_renewed;
  // etcd_network_client_grpc_* (etcdserver/api/v3rpc/metrics.go)
  prometheus::Counter* client_grpc_sent_bytes;
  prometheus::Counter* client_grpc_received_bytes;

 private:
  friend class CollectHook;
  void remove_hook(uint64_t id);
  void set_info(prometheus::Family<prometheus::Gauge>& family, const std::string& label,
                const std::string& value, prometheus::Gauge*& current);

  std::unique_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* server_id_family_;
  prometheus::Family<prometheus::Gauge>* server_version_family_;
  prometheus::Family<prometheus::Gauge>* cluster_version_family_;
  prometheus::Family<prometheus::Histogram>* peer_rtt_family_;
  prometheus::Family<prometheus::Counter>* peer_sent_bytes_family_;
  prometheus::Family<prometheus::Counter>* peer_received_bytes_family_;
  prometheus::Family<prometheus::Counter>* peer_sent_failures_family_;

  // Held while hooks run: a hook is never running once remove_hook returns.
  Mutex hooks_mu_;
  uint64_t next_hook_ ABSL_GUARDED_BY(hooks_mu_) = 1;
  std::map<uint64_t, std::function<void()>> hooks_ ABSL_GUARDED_BY(hooks_mu_);
  Mutex mu_;
  std::map<std::string, PeerMetrics> peers_ ABSL_GUARDED_BY(mu_);
  prometheus::Gauge* server_id_ ABSL_GUARDED_BY(mu_) = nullptr;
  prometheus::Gauge* server_version_ ABSL_GUARDED_BY(mu_) = nullptr;
  prometheus::Gauge* cluster_version_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace etcd::metrics
