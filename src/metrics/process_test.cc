#include "metrics/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace etcd::metrics {
namespace {

std::map<std::string, double> values(const std::vector<prometheus::MetricFamily>& fams) {
  std::map<std::string, double> v;
  for (const auto& f : fams) {
    EXPECT_EQ(f.metric.size(), 1u) << f.name;
    v[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                          : f.metric[0].gauge.value;
  }
  return v;
}

TEST(ProcessMetrics, ReadsAFakeProc) {
  namespace fs = std::filesystem;
  fs::path root = fs::path(testing::TempDir()) / ("proc-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "42" / "fd");
  for (int i = 0; i < 3; ++i) std::ofstream(root / "42" / "fd" / std::to_string(i)) << "";
  const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // A command with a space and a parenthesis; utime 250 and stime 150
  // ticks, starttime 1000 ticks after boot, vsize 8192, rss 3 pages.
  std::ofstream(root / "42" / "stat")
      << "42 (etcd (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 1000 8192 3 "
         "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  std::ofstream(root / "42" / "limits")
      << "Limit                     Soft Limit           Hard Limit           Units\n"
         "Max address space         unlimited            unlimited            bytes\n"
         "Max open files            1024                 4096                 files\n";
  std::ofstream(root / "stat") << "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
  auto v = values(process_families(root.string(), "42"));
  EXPECT_DOUBLE_EQ(v["process_cpu_seconds_total"], 400 / tck);
  EXPECT_DOUBLE_EQ(v["process_resident_memory_bytes"], 3 * page);
  EXPECT_DOUBLE_EQ(v["process_virtual_memory_bytes"], 8192);
  EXPECT_DOUBLE_EQ(v["process_start_time_seconds"], 1700000000 + 1000 / tck);
  EXPECT_DOUBLE_EQ(v["process_open_fds"], 3);
  EXPECT_DOUBLE_EQ(v["os_fd_used"], 3);
  EXPECT_DOUBLE_EQ(v["process_max_fds"], 1024);
  EXPECT_DOUBLE_EQ(v["os_fd_limit"], 1024);
  EXPECT_DOUBLE_EQ(v["process_virtual_memory_max_bytes"], 18446744073709551615.0);
  fs::remove_all(root);
}

TEST(ProcessMetrics, ThisProcess) {
  auto before = values(process_families());
  std::ofstream extra("/proc/self/status");  // one more descriptor while open
  auto v = values(process_families());
  EXPECT_EQ(v["process_open_fds"], before["process_open_fds"] + 1);
  EXPECT_GT(v["process_resident_memory_bytes"], 0);
  EXPECT_GT(v["process_max_fds"], 0);
  // Started within the last day, not in the future.
  double now = static_cast<double>(time(nullptr));
  EXPECT_LE(v["process_start_time_seconds"], now + 1);
  EXPECT_GT(v["process_start_time_seconds"], now - 86400);
}

TEST(ProcessMetrics, MissingProcGivesNothing) {
  EXPECT_TRUE(process_families("/nonexistent-proc", "self").empty());
}

}  // namespace
}  // namespace etcd::metrics
