// benchmark: a small load generator for the etcd v3 KV API, shaped like etcd's
// tools/benchmark (same flag names, same report layout) so figures taken with it
// against our server and against the reference etcd can be compared directly.
//
//   benchmark [--endpoints h:p,...] [--conns N] [--clients N] [--total N] put
//             [--key-size 8] [--val-size 8] [--sequential-keys] [--key-space-size 1]
//   benchmark [...] range <key> [<range_end>] [--consistency l|s]
//
// Concurrency model: one gRPC channel (its own TCP connection) per --conns, and
// one thread per channel driving an async CompletionQueue. The --clients
// concurrent "clients" are request slots spread over the channels: each slot
// keeps exactly one request in flight and issues the next as soon as its
// previous one completes, as a client goroutine does in etcd's tool. Every
// request carries a deadline; failures are counted by status and printed.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "etcdserverpb/rpc.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using etcdserverpb::KV;

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr auto kDialTimeout = std::chrono::seconds(10);
constexpr int kHistogramBuckets = 10;
constexpr int kBarWidth = 40;

struct GlobalOptions {
  std::string endpoints = "127.0.0.1:2379";
  int conns = 1;
  int clients = 1;
  int64_t total = 10000;
  bool precise = false;
};

struct PutOptions {
  int key_size = 8;
  int val_size = 8;
  bool sequential_keys = false;
  int64_t key_space_size = 1;
};

struct RangeOptions {
  std::string key;
  std::string range_end;
  std::string consistency = "l";
};

// One request in flight. Owned by the driver thread of its channel from issue
// to completion; a ClientContext cannot be reused, so each request has its own.
struct Call {
  grpc::ClientContext ctx;
  grpc::Status status;
  etcdserverpb::PutResponse put_resp;
  etcdserverpb::RangeResponse range_resp;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> put_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::RangeResponse>> range_reader;
  Clock::time_point start;
};

// Starts one request (index in [0, total)) on the stub; must arrange for the
// completion queue to return `call` as the tag.
using IssueFn =
    std::function<void(Call& call, int64_t index, KV::Stub& stub, grpc::CompletionQueue& cq)>;

// Latencies and errors gathered by one driver thread (no sharing while running).
struct Results {
  std::vector<double> latencies_s;
  std::map<std::string, int64_t> errors;
};

// gRPC's status code names, as Go's client prints them.
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

// Runs `total` requests over `conns` channels with `clients` slots in flight.
// Returns false if a channel could not connect; fills results and elapsed time.
bool run(const GlobalOptions& g, const IssueFn& issue, std::vector<Results>& results,
         double& elapsed_s) {
  std::vector<std::string> endpoints = split_endpoints(g.endpoints);
  if (endpoints.empty()) {
    std::fprintf(stderr, "benchmark: no endpoints given\n");
    return false;
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < g.conns; ++i) {
    grpc::ChannelArguments args;
    // A local subchannel pool per channel: every --conns gets its own TCP connection
    // instead of gRPC sharing one subchannel between identical channels.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    const std::string& ep = endpoints[i % endpoints.size()];
    auto ch = grpc::CreateCustomChannel(ep, grpc::InsecureChannelCredentials(), args);
    if (!ch->WaitForConnected(std::chrono::system_clock::now() + kDialTimeout)) {
      std::fprintf(stderr, "benchmark: cannot connect to %s\n", ep.c_str());
      return false;
    }
    channels.push_back(std::move(ch));
  }

  std::atomic<int64_t> next{0};
  results.assign(channels.size(), Results{});
  auto drive = [&](size_t conn, int slots, Results& res) {
    auto stub = KV::NewStub(channels[conn]);
    grpc::CompletionQueue cq;
    res.latencies_s.reserve(static_cast<size_t>(g.total / g.conns + 1));
    int in_flight = 0;
    auto start_one = [&]() -> bool {
      int64_t index = next.fetch_add(1, std::memory_order_relaxed);
      if (index >= g.total) return false;
      auto* call = new Call;
      call->start = Clock::now();
      call->ctx.set_deadline(std::chrono::system_clock::now() + kRequestTimeout);
      issue(*call, index, *stub, cq);
      ++in_flight;
      return true;
    };
    for (int s = 0; s < slots; ++s) {
      if (!start_one()) break;
    }
    void* tag = nullptr;
    bool ok = false;
    while (in_flight > 0 && cq.Next(&tag, &ok)) {
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      --in_flight;
      double latency = std::chrono::duration<double>(Clock::now() - call->start).count();
      if (ok && call->status.ok()) {
        res.latencies_s.push_back(latency);
      } else {
        std::string msg = ok ? call->status.error_message() : "completion queue failure";
        ++res.errors["rpc error: code = " + code_name(call->status.error_code()) +
                     " desc = " + msg];
      }
      start_one();
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  };

  std::vector<std::thread> threads;
  const auto begin = Clock::now();
  const int n = static_cast<int>(channels.size());
  for (int i = 0; i < n; ++i) {
    int slots = g.clients / n + (i < g.clients % n ? 1 : 0);
    if (slots == 0) continue;
    threads.emplace_back(drive, static_cast<size_t>(i), slots, std::ref(results[i]));
  }
  for (auto& t : threads) t.join();
  elapsed_s = std::chrono::duration<double>(Clock::now() - begin).count();
  return true;
}

// Prints the report in the layout of etcd's benchmark tool.
// --precise prints seconds with full precision instead of four decimals.
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

// etcd's benchmark writes the key number as a signed varint into a zeroed key of
// --key-size bytes; the same layout keeps key sizes and spread comparable.
void put_varint_key(std::string& key, int64_t n) {
  uint64_t u = (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
  size_t i = 0;
  while (i < key.size()) {
    uint8_t byte = u & 0x7f;
    u >>= 7;
    key[i++] = static_cast<char>(u != 0 ? byte | 0x80 : byte);
    if (u == 0) break;
  }
}

int run_put(const GlobalOptions& g, const PutOptions& p) {
  std::mt19937_64 rng(std::random_device{}());
  std::string value(static_cast<size_t>(p.val_size), '\0');
  for (auto& c : value) c = static_cast<char>(rng() & 0xff);
  // Random key numbers are drawn up front so driver threads share no generator.
  std::vector<int64_t> random_keys;
  if (!p.sequential_keys) {
    std::uniform_int_distribution<int64_t> dist(0, p.key_space_size - 1);
    random_keys.resize(static_cast<size_t>(g.total));
    for (auto& k : random_keys) k = dist(rng);
  }
  IssueFn issue = [&](Call& call, int64_t index, KV::Stub& stub, grpc::CompletionQueue& cq) {
    etcdserverpb::PutRequest req;
    std::string key(static_cast<size_t>(p.key_size), '\0');
    put_varint_key(key, p.sequential_keys ? index % p.key_space_size
                                          : random_keys[static_cast<size_t>(index)]);
    req.set_key(std::move(key));
    req.set_value(value);
    call.put_reader = stub.PrepareAsyncPut(&call.ctx, req, &cq);
    call.put_reader->StartCall();
    call.put_reader->Finish(&call.put_resp, &call.status, &call);
  };
  std::vector<Results> results;
  double elapsed = 0;
  if (!run(g, issue, results, elapsed)) return 1;
  report(results, elapsed, g.precise);
  return 0;
}

int run_range(const GlobalOptions& g, const RangeOptions& r) {
  IssueFn issue = [&](Call& call, int64_t, KV::Stub& stub, grpc::CompletionQueue& cq) {
    etcdserverpb::RangeRequest req;
    req.set_key(r.key);
    if (!r.range_end.empty()) req.set_range_end(r.range_end);
    req.set_serializable(r.consistency == "s");
    call.range_reader = stub.PrepareAsyncRange(&call.ctx, req, &cq);
    call.range_reader->StartCall();
    call.range_reader->Finish(&call.range_resp, &call.status, &call);
  };
  std::vector<Results> results;
  double elapsed = 0;
  if (!run(g, issue, results, elapsed)) return 1;
  report(results, elapsed, g.precise);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A low-level benchmark tool for etcd's v3 KV API"};
  const auto positive = CLI::Range(1, std::numeric_limits<int>::max());
  const auto positive64 = CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max());
  app.name("benchmark");
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand, as with cobra

  GlobalOptions g;
  app.add_option("--endpoints", g.endpoints, "comma-separated list of host:port endpoints")
      ->capture_default_str();
  app.add_option("--conns", g.conns, "number of gRPC connections")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--clients", g.clients, "number of concurrent clients (requests in flight)")
      ->capture_default_str()
      ->check(positive);
  app.add_option("--total", g.total, "total number of requests")
      ->capture_default_str()
      ->check(positive64);
  app.add_flag("--precise", g.precise, "use full floating point precision");

  PutOptions p;
  CLI::App* put = app.add_subcommand("put", "Benchmark put");
  put->add_option("--key-size", p.key_size, "key size of put request")
      ->capture_default_str()
      ->check(positive);
  put->add_option("--val-size", p.val_size, "value size of put request")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  put->add_flag("--sequential-keys", p.sequential_keys, "use sequential keys");
  put->add_option("--key-space-size", p.key_space_size, "maximum possible keys")
      ->capture_default_str()
      ->check(positive64);

  RangeOptions r;
  CLI::App* range = app.add_subcommand("range", "Benchmark range");
  range->add_option("key", r.key, "key to range over")->required();
  range->add_option("range_end", r.range_end, "end of the range (exclusive)");
  range->add_option("--consistency", r.consistency, "linearizable (l) or serializable (s) reads")
      ->capture_default_str()
      ->check(CLI::IsMember({"l", "s"}));

  CLI11_PARSE(app, argc, argv);
  if (*put) return run_put(g, p);
  return run_range(g, r);
}
