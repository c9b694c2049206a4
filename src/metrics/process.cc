#include "metrics/process.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

namespace etcd::metrics {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

prometheus::MetricFamily one(std::string name, std::string help, prometheus::MetricType type,
                             double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// The soft limit of a /proc/<pid>/limits row ("Max open files  1024  4096
// files"); "unlimited" is the largest uint64 (as Go's procfs reads it).
std::optional<double> soft_limit(const std::string& limits, const std::string& row) {
  auto pos = limits.find(row);
  if (pos == std::string::npos) return std::nullopt;
  std::istringstream in(limits.substr(pos + row.size()));
  std::string soft;
  if (!(in >> soft)) return std::nullopt;
  if (soft == "unlimited") return static_cast<double>(std::numeric_limits<uint64_t>::max());
  try {
    return std::stod(soft);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<prometheus::MetricFamily> process_families(const std::string& proc,
                                                       const std::string& pid_dir) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const std::string dir = proc + "/" + pid_dir;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  // /proc/<pid>/stat: the fields after the command's closing parenthesis
  // (the command itself may hold spaces and parentheses). Counted from
  // field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
  if (auto stat = read_file(dir + "/stat")) {
    auto close = stat->rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(stat->substr(close + 1));
      std::vector<std::string> f;
      for (std::string w; in >> w;) f.push_back(w);
      auto field = [&f](int n) -> std::optional<double> {
        size_t i = static_cast<size_t>(n - 3);
        if (i >= f.size()) return std::nullopt;
        try {
          return std::stod(f[i]);
        } catch (...) {
          return std::nullopt;
        }
      };
      auto utime = field(14), stime = field(15), start = field(22), vsize = field(23),
           rss = field(24);
      if (utime && stime) {
        out.push_back(one("process_cpu_seconds_total",
                          "CPU time the process has used, user plus system, in seconds.",
                          MetricType::Counter, (*utime + *stime) / ticks));
      }
      if (rss) {
        out.push_back(one("process_resident_memory_bytes",
                          "Bytes of the process's memory resident in RAM.", MetricType::Gauge,
                          *rss * page));
      }
      if (vsize) {
        out.push_back(one("process_virtual_memory_bytes",
                          "Bytes of virtual memory the process has mapped.", MetricType::Gauge,
                          *vsize));
      }
      // The start time is in ticks since boot; /proc/stat's btime is the
      // boot time in Unix seconds.
      if (start) {
        if (auto pstat = read_file(proc + "/stat")) {
          auto pos = pstat->find("\nbtime ");
          if (pos != std::string::npos) {
            double btime = std::stod(pstat->substr(pos + 7));
            out.push_back(one("process_start_time_seconds",
                              "When the process started, in seconds since the Unix epoch.",
                              MetricType::Gauge, btime + *start / ticks));
          }
        }
      }
    }
  }
  std::error_code ec;
  double open_fds = 0;
  bool fds_ok = false;
  for (std::filesystem::directory_iterator it(dir + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++open_fds;
    fds_ok = true;
  }
  if (!ec) fds_ok = true;
  auto limits = read_file(dir + "/limits");
  std::optional<double> max_fds, max_vm;
  if (limits) {
    max_fds = soft_limit(*limits, "Max open files");
    max_vm = soft_limit(*limits, "Max address space");
  }
  if (fds_ok) {
    out.push_back(one("process_open_fds", "File descriptors the process has open.",
                      MetricType::Gauge, open_fds));
    out.push_back(
        one("os_fd_used", "File descriptors in use by the process.", MetricType::Gauge, open_fds));
  }
  if (max_fds) {
    out.push_back(one("process_max_fds", "Soft limit on the file descriptors the process may open.",
                      MetricType::Gauge, *max_fds));
    out.push_back(one("os_fd_limit", "Soft limit on open file descriptors (RLIMIT_NOFILE).",
                      MetricType::Gauge, *max_fds));
  }
  if (max_vm) {
    out.push_back(one("process_virtual_memory_max_bytes",
                      "Soft limit on the process's address space in bytes.", MetricType::Gauge,
                      *max_vm));
  }
  return out;
}

}  // namespace etcd::metrics
