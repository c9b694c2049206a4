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

#include "common.h"
#include "defrag_pause.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "watch_lease.h"

namespace {

using namespace etcd::bench;  // NOLINT: the tool's shared pieces
using Clock = std::chrono::steady_clock;
using etcdserverpb::KV;

constexpr auto kRequestTimeout = std::chrono::seconds(10);

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
    const std::string& ep = endpoints[i % endpoints.size()];
    auto ch = dial(ep);
    if (!ch) return false;
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

  WatchLatencyOptions wl;
  CLI::App* watch_latency =
      app.add_subcommand("watch-latency", "Benchmark put -> watch event latency and fan-out");
  watch_latency->add_option("--streams", wl.streams, "number of watch streams")
      ->capture_default_str()
      ->check(positive);
  watch_latency
      ->add_option("--watchers-per-stream", wl.watchers_per_stream, "number of watchers per stream")
      ->capture_default_str()
      ->check(positive);
  watch_latency->add_option("--put-total", wl.put_total, "total number of puts")
      ->capture_default_str()
      ->check(positive64);
  watch_latency->add_option("--put-rate", wl.put_rate, "puts per second (0: back to back)")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  watch_latency->add_flag("--prefix", wl.prefix, "watch a prefix; puts spread over 100 keys");
  watch_latency->add_option("--val-size", wl.val_size, "value size of put request")
      ->capture_default_str()
      ->check(positive);

  LeaseKeepaliveOptions lk;
  CLI::App* lease_keepalive =
      app.add_subcommand("lease-keepalive", "Benchmark lease keep-alive (--total renewals)");
  lease_keepalive->add_option("--ttl", lk.ttl, "TTL of each client's lease, seconds")
      ->capture_default_str()
      ->check(positive64);

  DefragPauseOptions dp;
  auto* defrag_pause = app.add_subcommand(
      "defrag-pause", "Measure how long a Defragment pauses writes and reads (not in etcd's tool)");
  defrag_pause->add_option("--val-size", dp.val_size, "value size of the writer's puts")
      ->check(positive);
  defrag_pause->add_option("--warmup", dp.warmup_s, "seconds of load before the defrag");
  defrag_pause->add_option("--cooldown", dp.cooldown_s, "seconds of load after the defrag");

  CLI11_PARSE(app, argc, argv);
  if (*defrag_pause) return run_defrag_pause(g, dp);
  if (*put) return run_put(g, p);
  if (*watch_latency) return run_watch_latency(g, wl);
  if (*lease_keepalive) return run_lease_keepalive(g, lk);
  return run_range(g, r);
}
