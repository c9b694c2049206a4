#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <sstream>

namespace etcd::metrics {
namespace {

// The value of the sample line that starts with `series` ("name{...} v").
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, ExponentialBucketsAsGo) {
  EXPECT_EQ(exponential_buckets(0.001, 2, 3), (std::vector<double>{0.001, 0.002, 0.004}));
  auto wal = exponential_buckets(0.001, 2, 14);
  ASSERT_EQ(wal.size(), 14u);
  EXPECT_DOUBLE_EQ(wal.back(), 8.192);
}

TEST(Metrics, CountersGaugesAndTypesInTheText) {
  Metrics m;
  m.put_total->Increment();
  m.put_total->Increment();
  m.has_leader->Set(1);
  m.wal_write_bytes->Increment(1424);
  std::string text = m.scrape();
  EXPECT_TRUE(has_line(text, "# TYPE etcd_mvcc_put_total counter")) << text;
  EXPECT_EQ(sample(text, "etcd_mvcc_put_total"), 2);
  EXPECT_TRUE(has_line(text, "# TYPE etcd_server_has_leader gauge"));
  EXPECT_EQ(sample(text, "etcd_server_has_leader"), 1);
  // etcd's types, even where the name says otherwise.
  EXPECT_TRUE(has_line(text, "# TYPE etcd_disk_wal_write_bytes_total gauge"));
  EXPECT_TRUE(has_line(text, "# TYPE etcd_server_proposals_committed_total gauge"));
  EXPECT_EQ(sample(text, "etcd_disk_wal_write_bytes_total"), 1424);
  // Process metrics of this very process.
  EXPECT_GT(sample(text, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(sample(text, "process_open_fds").value_or(0), 0);
  // Families sorted by name.
  EXPECT_LT(text.find("# TYPE etcd_debugging_lease_granted_total"),
            text.find("# TYPE etcd_server_has_leader"));
  EXPECT_LT(text.find("# TYPE etcd_server_has_leader"), text.find("# TYPE process_open_fds"));
}

TEST(Metrics, HistogramBucketsAsEtcd) {
  Metrics m;
  m.wal_fsync_seconds->Observe(0.0015);
  m.wal_fsync_seconds->Observe(20);
  std::string text = m.scrape();
  EXPECT_TRUE(has_line(text, "# TYPE etcd_disk_wal_fsync_duration_seconds histogram"));
  EXPECT_EQ(sample(text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"}"), 0);
  EXPECT_EQ(sample(text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"}"), 1);
  EXPECT_EQ(sample(text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"}"), 1);
  EXPECT_EQ(sample(text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"}"), 2);
  EXPECT_EQ(sample(text, "etcd_disk_wal_fsync_duration_seconds_count"), 2);
  EXPECT_EQ(sample(text, "etcd_disk_backend_snapshot_duration_seconds_bucket{le=\"655.36\"}"), 0);
}

TEST(Metrics, InfoGaugesKeepOneSeries) {
  Metrics m;
  m.set_cluster_version("3.0");
  m.set_cluster_version("3.5");
  m.set_server_id("8e9e05c52164694d");
  std::string text = m.scrape();
  EXPECT_EQ(sample(text, "etcd_cluster_version{cluster_version=\"3.5\"}"), 1);
  EXPECT_EQ(sample(text, "etcd_cluster_version{cluster_version=\"3.0\"}"), std::nullopt);
  EXPECT_EQ(sample(text, "etcd_server_id{server_id=\"8e9e05c52164694d\"}"), 1);
}

TEST(Metrics, PeerSeriesLabelledToAndFrom) {
  Metrics m;
  PeerMetrics p = m.peer("a1");
  EXPECT_EQ(m.peer("a1").sent_bytes, p.sent_bytes);  // one series per peer
  p.sent_bytes->Increment(100);
  p.received_bytes->Increment(7);
  p.sent_failures->Increment();
  p.round_trip_time->Observe(0.00015);
  std::string text = m.scrape();
  EXPECT_EQ(sample(text, "etcd_network_peer_sent_bytes_total{To=\"a1\"}"), 100);
  EXPECT_EQ(sample(text, "etcd_network_peer_received_bytes_total{From=\"a1\"}"), 7);
  EXPECT_EQ(sample(text, "etcd_network_peer_sent_failures_total{To=\"a1\"}"), 1);
  EXPECT_EQ(
      sample(text, "etcd_network_peer_round_trip_time_seconds_bucket{To=\"a1\",le=\"0.0001\"}"), 0);
  EXPECT_EQ(
      sample(text, "etcd_network_peer_round_trip_time_seconds_bucket{To=\"a1\",le=\"0.0002\"}"), 1);
}

TEST(Metrics, CollectHooksRunAtScrapeUntilDropped) {
  Metrics m;
  int runs = 0;
  {
    CollectHook h = m.add_collect_hook([&] {
      ++runs;
      m.keys_total->Set(42);
    });
    EXPECT_EQ(sample(m.scrape(), "etcd_debugging_mvcc_keys_total"), 42);
    CollectHook moved = std::move(h);
    m.scrape();
    EXPECT_EQ(runs, 2);
  }
  m.scrape();
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace etcd::metrics
