#include "server/quota.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace etcd::server {
namespace {

// etcd's quota defaults (DefaultQuotaBytes, MaxQuotaBytes).
constexpr int64_t kDefaultQuotaBytes = int64_t{2} << 30;
constexpr int64_t kMaxQuotaBytes = int64_t{8} << 30;

}  // namespace

int64_t put_cost(const etcdserverpb::PutRequest& r) {
  return kKvOverhead + static_cast<int64_t>(r.key().size() + r.value().size());
}

int64_t txn_cost(const etcdserverpb::TxnRequest& r) {
  auto branch = [](const auto& ops) {
    int64_t c = 0;
    for (const auto& op : ops) {
      if (op.has_request_put()) c += put_cost(op.request_put());
    }
    return c;
  };
  return std::max(branch(r.success()), branch(r.failure()));
}

std::string human_bytes(int64_t n) {
  auto s = static_cast<double>(n < 0 ? 0 : n);
  if (s < 10) return std::to_string(n) + " B";
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int e = static_cast<int>(std::floor(std::log(s) / std::log(1000.0)));
  double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  char buf[64];
  std::snprintf(buf, sizeof buf, val < 10 ? "%.1f %s" : "%.0f %s", val, kUnits[e]);
  return buf;
}

Quota::Quota(int64_t configured, const backend::Backend& backend, log::Logger& logger)
    : backend_(backend) {
  if (configured < 0) {
    bytes_ = -1;
    logger.info("disabled backend quota",
                {{"quota-name", "v3-applier"}, {"quota-size-bytes", configured}});
  } else if (configured == 0) {
    bytes_ = kDefaultQuotaBytes;
    logger.info("enabled backend quota with default value", {{"quota-name", "v3-applier"},
                                                             {"quota-size-bytes", bytes_},
                                                             {"quota-size", human_bytes(bytes_)}});
  } else {
    bytes_ = configured;
    if (bytes_ > kMaxQuotaBytes) {
      logger.warn("quota exceeds the maximum value",
                  {{"quota-name", "v3-applier"},
                   {"quota-size-bytes", bytes_},
                   {"quota-size", human_bytes(bytes_)},
                   {"quota-maximum-size-bytes", kMaxQuotaBytes},
                   {"quota-maximum-size", human_bytes(kMaxQuotaBytes)}});
    }
    logger.info("enabled backend quota", {{"quota-name", "v3-applier"},
                                          {"quota-size-bytes", bytes_},
                                          {"quota-size", human_bytes(bytes_)}});
  }
}

bool Quota::available(int64_t cost) const {
  if (cost == 0 || bytes_ < 0) return true;
  return backend_.size() + cost < bytes_;
}

}  // namespace etcd::server
