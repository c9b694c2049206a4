#include "common.h"

#include "client/client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace etcd::bench {
namespace {

constexpr auto kDialTimeout = std::chrono::seconds(10);
constexpr int kHistogramBuckets = 10;
constexpr int kBarWidth = 40;

}  // namespace

std::string code_name(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const auto i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "Code(" + std::to_string(i) + ")";
}

std::vector<std::string> split_endpoints(const std::string& list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string ep = list.substr(pos, comma - pos);
    for (const char* scheme : {"http://", "https://"}) {
      if (ep.rfind(scheme, 0) == 0) ep = ep.substr(std::string(scheme).size());
    }
    if (!ep.empty()) out.push_back(ep);
    pos = comma + 1;
  }
  return out;
}

std::shared_ptr<grpc::Channel> dial(const std::string& endpoint) {
  // One client per connection: each gets its own TCP connection (the
  // client's channels do not share subchannels).
  client::Options options;
  options.endpoints = {endpoint};
  client::Client c(options);
  auto conn = c.connection(std::chrono::system_clock::now() + kDialTimeout);
  if (!conn) {
    std::fprintf(stderr, "benchmark: cannot connect to %s\n", endpoint.c_str());
    return nullptr;
  }
  return conn->channel;
}

void report(const std::vector<Results>& per_conn, double elapsed_s, bool precise) {
  auto secs = [precise](double v) {
    char buf[64];
    if (precise) {
      std::snprintf(buf, sizeof buf, "%g", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return std::string(buf);
  };
  std::vector<double> lats;
  std::map<std::string, int64_t> errors;
  for (const auto& r : per_conn) {
    lats.insert(lats.end(), r.latencies_s.begin(), r.latencies_s.end());
    for (const auto& [msg, count] : r.errors) errors[msg] += count;
  }
  std::sort(lats.begin(), lats.end());
  std::printf("\nSummary:\n");
  std::printf("  Total:\t%s secs.\n", secs(elapsed_s).c_str());
  if (!lats.empty()) {
    double sum = 0;
    for (double l : lats) sum += l;
    const double avg = sum / static_cast<double>(lats.size());
    double var = 0;
    for (double l : lats) var += (l - avg) * (l - avg);
    const double stddev = std::sqrt(var / static_cast<double>(lats.size()));
    std::printf("  Slowest:\t%s secs.\n", secs(lats.back()).c_str());
    std::printf("  Fastest:\t%s secs.\n", secs(lats.front()).c_str());
    std::printf("  Average:\t%s secs.\n", secs(avg).c_str());
    std::printf("  Stddev:\t%s secs.\n", secs(stddev).c_str());
  }
  std::printf("  Requests/sec:\t%.4f\n", static_cast<double>(lats.size()) / elapsed_s);

  if (!lats.empty()) {
    // Ten equal-width buckets from the fastest to the slowest request; each row
    // counts the requests up to its upper edge.
    const double lo = lats.front();
    const double width = (lats.back() - lo) / kHistogramBuckets;
    std::vector<int64_t> counts(kHistogramBuckets + 1, 0);
    size_t b = 0;
    for (double l : lats) {
      while (b < static_cast<size_t>(kHistogramBuckets) && l > lo + width * static_cast<double>(b))
        ++b;
      ++counts[b];
    }
    const int64_t max_count = *std::max_element(counts.begin(), counts.end());
    std::printf("\nResponse time histogram:\n");
    for (int i = 0; i <= kHistogramBuckets; ++i) {
      const double edge = i == kHistogramBuckets ? lats.back() : lo + width * i;
      const int bar = max_count > 0 ? static_cast<int>(counts[i] * kBarWidth / max_count) : 0;
      std::string bars;
      for (int k = 0; k < bar; ++k) bars += "\u220e";
      std::printf("  %s [%lld]\t|%s\n", secs(edge).c_str(), static_cast<long long>(counts[i]),
                  bars.c_str());
    }

    std::printf("\nLatency distribution:\n");
    for (double pct : {10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9}) {
      // Nearest rank: the smallest latency with at least pct% of requests at or below it.
      auto rank = static_cast<size_t>(std::ceil(pct / 100.0 * static_cast<double>(lats.size())));
      const double v = lats[std::clamp<size_t>(rank, 1, lats.size()) - 1];
      std::printf("  %g%% in %s secs.\n", pct, secs(v).c_str());
    }
  }

  if (!errors.empty()) {
    std::printf("\nError distribution:\n");
    for (const auto& [msg, count] : errors) {
      std::printf("  [%lld]\t%s\n", static_cast<long long>(count), msg.c_str());
    }
  }
}

}  // namespace etcd::bench
