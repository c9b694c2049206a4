#include "etcdctl/output/humanize.h"

#include <cmath>
#include <cstdio>

namespace etcd::ctl {

std::string humanize_bytes(uint64_t size) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (size < 10) return std::to_string(size) + " B";
  // The unit and the value are computed in floating point exactly as
  // go-humanize does, so the same rounding edges appear.
  const double s = static_cast<double>(size);
  const double e = std::floor(std::log(s) / std::log(1000.0));
  const double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  char buf[64];
  std::snprintf(buf, sizeof(buf), val < 10 ? "%.1f %s" : "%.0f %s", val,
                kUnits[static_cast<int>(e)]);
  return buf;
}

}  // namespace etcd::ctl
