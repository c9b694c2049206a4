#include "watch_lease.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcdserverpb/rpc.grpc.pb.h"

namespace etcd::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kCreateTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(30);
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr const char* kKeyPrefix = "watch-bench/";
constexpr const char* kKeyPrefixEnd = "watch-bench0";  // '/' + 1
constexpr int kPrefixKeys = 100;                       // keys the puts spread over

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::vector<std::shared_ptr<grpc::Channel>> dial_all(const GlobalOptions& g) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  auto endpoints = split_endpoints(g.endpoints);
  if (endpoints.empty()) {
    std::fprintf(stderr, "benchmark: no endpoints given\n");
    return out;
  }
  for (int i = 0; i < g.conns; ++i) {
    auto ch = dial(endpoints[static_cast<size_t>(i) % endpoints.size()]);
    if (!ch) return {};
    out.push_back(std::move(ch));
  }
  return out;
}

// One watch stream and the thread reading it.
struct Stream {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
      rw;
  std::thread reader;
  std::atomic<int> created{0};
  std::atomic<int64_t> events{0};
  Results results;
};

}  // namespace

int run_watch_latency(const GlobalOptions& g, const WatchLatencyOptions& o) {
  auto channels = dial_all(g);
  if (channels.empty()) return 1;
  // send_ns[i]: when put i was sent; written before the put goes out and read
  // by readers once its event arrives.
  std::vector<std::atomic<int64_t>> send_ns(static_cast<size_t>(o.put_total));
  const int64_t expected_per_stream = o.put_total * o.watchers_per_stream;

  std::vector<std::unique_ptr<Stream>> streams;
  for (int s = 0; s < o.streams; ++s) {
    auto st = std::make_unique<Stream>();
    auto stub = etcdserverpb::Watch::NewStub(channels[static_cast<size_t>(s) % channels.size()]);
    st->rw = stub->Watch(&st->ctx);
    for (int w = 0; w < o.watchers_per_stream; ++w) {
      etcdserverpb::WatchRequest req;
      auto* c = req.mutable_create_request();
      if (o.prefix) {
        c->set_key(kKeyPrefix);
        c->set_range_end(kKeyPrefixEnd);
      } else {
        c->set_key(std::string(kKeyPrefix) + "key");
      }
      if (!st->rw->Write(req)) {
        std::fprintf(stderr, "benchmark: watch stream closed while creating watchers\n");
        return 1;
      }
    }
    Stream* raw = st.get();
    raw->results.latencies_s.reserve(static_cast<size_t>(expected_per_stream));
    raw->reader = std::thread([raw, &send_ns, expected_per_stream] {
      etcdserverpb::WatchResponse resp;
      while (raw->rw->Read(&resp)) {
        if (resp.created()) raw->created.fetch_add(1);
        if (resp.canceled()) ++raw->results.errors["watch canceled: " + resp.cancel_reason()];
        const int64_t t = now_ns();
        for (const auto& ev : resp.events()) {
          size_t idx = std::stoull(ev.kv().value().substr(0, ev.kv().value().find(' ')));
          if (idx < send_ns.size()) {
            raw->results.latencies_s.push_back(
                static_cast<double>(t - send_ns[idx].load(std::memory_order_acquire)) / 1e9);
          }
        }
        if (raw->events.fetch_add(resp.events_size()) + resp.events_size() >= expected_per_stream) {
          break;
        }
      }
    });
    streams.push_back(std::move(st));
  }
  const auto create_deadline = Clock::now() + kCreateTimeout;
  for (auto& st : streams) {
    while (st->created.load() < o.watchers_per_stream && Clock::now() < create_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (st->created.load() < o.watchers_per_stream) {
      std::fprintf(stderr, "benchmark: watchers not created within %llds\n",
                   static_cast<long long>(kCreateTimeout.count()));
      for (auto& s : streams) s->ctx.TryCancel();
      for (auto& s : streams) s->reader.join();
      return 1;
    }
  }

  auto kv = etcdserverpb::KV::NewStub(channels[0]);
  std::string filler(static_cast<size_t>(std::max(o.val_size, 1)), 'v');
  int64_t put_errors = 0;
  const auto begin = Clock::now();
  for (int64_t i = 0; i < o.put_total; ++i) {
    if (o.put_rate > 0) {
      std::this_thread::sleep_until(begin + std::chrono::microseconds(i * 1000000 / o.put_rate));
    }
    etcdserverpb::PutRequest req;
    req.set_key(o.prefix ? std::string(kKeyPrefix) + "k" + std::to_string(i % kPrefixKeys)
                         : std::string(kKeyPrefix) + "key");
    std::string value = std::to_string(i) + " ";
    if (value.size() < filler.size()) value += filler.substr(value.size());
    req.set_value(std::move(value));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kRequestTimeout);
    etcdserverpb::PutResponse resp;
    send_ns[static_cast<size_t>(i)].store(now_ns(), std::memory_order_release);
    if (!kv->Put(&ctx, req, &resp).ok()) ++put_errors;
  }
  const auto drain_deadline = Clock::now() + kDrainTimeout;
  for (auto& st : streams) {
    while (st->events.load() < expected_per_stream && Clock::now() < drain_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  for (auto& st : streams) st->ctx.TryCancel();
  int64_t delivered = 0;
  std::vector<Results> per_stream;
  for (auto& st : streams) {
    st->reader.join();
    delivered += st->events.load();
    per_stream.push_back(std::move(st->results));
  }
  std::printf("Watchers: %d (%d streams), puts: %lld (errors %lld), events: %lld of %lld\n",
              o.streams * o.watchers_per_stream, o.streams, static_cast<long long>(o.put_total),
              static_cast<long long>(put_errors), static_cast<long long>(delivered),
              static_cast<long long>(expected_per_stream * o.streams));
  report(per_stream, elapsed, g.precise);
  return delivered == expected_per_stream * o.streams ? 0 : 1;
}

int run_lease_keepalive(const GlobalOptions& g, const LeaseKeepaliveOptions& o) {
  auto channels = dial_all(g);
  if (channels.empty()) return 1;
  std::atomic<int64_t> next{0};
  std::vector<Results> results(static_cast<size_t>(g.clients));
  std::atomic<bool> failed{false};
  auto client = [&](int c) {
    Results& res = results[static_cast<size_t>(c)];
    auto stub = etcdserverpb::Lease::NewStub(channels[static_cast<size_t>(c) % channels.size()]);
    etcdserverpb::LeaseGrantRequest greq;
    greq.set_ttl(o.ttl);
    etcdserverpb::LeaseGrantResponse gresp;
    grpc::ClientContext gctx;
    gctx.set_deadline(std::chrono::system_clock::now() + kRequestTimeout);
    grpc::Status st = stub->LeaseGrant(&gctx, greq, &gresp);
    if (!st.ok()) {
      ++res.errors["lease grant: " + st.error_message()];
      failed = true;
      return;
    }
    grpc::ClientContext ctx;
    auto rw = stub->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(gresp.id());
    etcdserverpb::LeaseKeepAliveResponse resp;
    while (next.fetch_add(1, std::memory_order_relaxed) < g.total) {
      const auto t0 = Clock::now();
      if (!rw->Write(req) || !rw->Read(&resp)) {
        ++res.errors["keep-alive stream closed"];
        break;
      }
      if (resp.ttl() <= 0) {
        ++res.errors["keep-alive: lease not found"];
        continue;
      }
      res.latencies_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    rw->WritesDone();
    (void)rw->Finish();
    etcdserverpb::LeaseRevokeRequest rreq;
    rreq.set_id(gresp.id());
    etcdserverpb::LeaseRevokeResponse rresp;
    grpc::ClientContext rctx;
    rctx.set_deadline(std::chrono::system_clock::now() + kRequestTimeout);
    (void)stub->LeaseRevoke(&rctx, rreq, &rresp);
  };
  const auto begin = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < g.clients; ++c) threads.emplace_back(client, c);
  for (auto& t : threads) t.join();
  report(results, std::chrono::duration<double>(Clock::now() - begin).count(), g.precise);
  return failed ? 1 : 0;
}

}  // namespace etcd::bench
