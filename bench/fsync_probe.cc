// Measures this disk's fdatasync latency, the floor under every WAL batch:
// 200 writes of 4 KiB, each followed by fdatasync, into a file preallocated
// with fallocate (as the WAL's segments are), into one filled with written
// zeros (no unwritten extents to convert), and into a growing one, with
// p50/p90/p99/max.
//
//   build/bin/fsync_probe [dir] [count]        (default: /tmp 200)
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "env/clock.h"
#include "env/posix_file_system.h"

namespace {

constexpr uint64_t kWriteBytes = 4096;

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

enum class Layout { kFallocated, kZeroFilled, kGrowing };

bool probe(etcd::env::FileSystem& fs, etcd::env::Clock& clock, const std::string& path, int count,
           Layout layout) {
  auto f = fs.open(path, etcd::env::OpenMode::kCreateTruncate);
  if (!f.is_ok()) {
    std::fprintf(stderr, "%s\n", f.status().to_string().c_str());
    return false;
  }
  const uint64_t total = kWriteBytes * static_cast<uint64_t>(count);
  if (layout != Layout::kGrowing) {
    auto s = layout == Layout::kFallocated ? (*f)->allocate(total)
                                           : (*f)->write_at(0, std::string(total, '\0'));
    if (s.is_ok()) s = (*f)->sync();
    if (!s.is_ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return false;
    }
  }
  const std::string block(kWriteBytes, 'p');
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto start = clock.now();
    auto s = (*f)->write_at(static_cast<uint64_t>(i) * kWriteBytes, block);
    if (s.is_ok()) s = (*f)->sync();
    auto end = clock.now();
    if (!s.is_ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return false;
    }
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  double sum = 0;
  for (double m : micros) sum += m;
  std::printf(
      "%-22s n=%d  mean %8.1f us  p50 %8.1f us  p90 %8.1f us  p99 %8.1f us  max %8.1f us"
      "  (%.0f syncs/s at p50)\n",
      layout == Layout::kFallocated   ? "fallocated file:"
      : layout == Layout::kZeroFilled ? "zero-filled file:"
                                      : "growing file:",
      count, sum / static_cast<double>(count), percentile(micros, 50), percentile(micros, 90),
      percentile(micros, 99), *std::max_element(micros.begin(), micros.end()),
      1e6 / percentile(micros, 50));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string base = argc > 1 ? argv[1] : "/tmp";
  const int count = argc > 2 ? std::atoi(argv[2]) : 200;
  if (count <= 0) {
    std::fprintf(stderr, "usage: fsync_probe [dir] [count]\n");
    return 2;
  }
  std::string dir = base + "/fsync_probe_XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  etcd::env::PosixFileSystem fs;
  etcd::env::RealClock clock;
  std::printf("fdatasync latency in %s, %d writes of %llu bytes each\n", dir.c_str(), count,
              static_cast<unsigned long long>(kWriteBytes));
  bool ok = probe(fs, clock, dir + "/fallocated", count, Layout::kFallocated) &&
            probe(fs, clock, dir + "/zero-filled", count, Layout::kZeroFilled) &&
            probe(fs, clock, dir + "/growing", count, Layout::kGrowing);
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
