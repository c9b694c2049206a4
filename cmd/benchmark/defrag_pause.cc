#include "defrag_pause.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "etcdserverpb/rpc.grpc.pb.h"

namespace etcd::bench {
namespace {

using Clock = std::chrono::steady_clock;
// A request may wait for a whole defrag (the reference blocks during it).
constexpr auto kDeadline = std::chrono::seconds(600);
// Bound on the requests one loop records (a few hours at full speed).
constexpr size_t kMaxRecords = 20'000'000;

struct Span {
  Clock::time_point start, end;
  bool ok = true;  // a failed request (e.g. timed out) still paused its client
};

struct Record {
  std::vector<Span> spans;
  int64_t errors = 0;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Requests that overlap [from, to): the successful ones entirely inside it,
// the failed ones overlapping it, and the longest latency among all those
// overlapping it.
struct Window {
  int64_t inside = 0;
  int64_t failed = 0;
  double longest_s = 0;
};
Window in_window(const std::vector<Span>& spans, Clock::time_point from, Clock::time_point to) {
  Window w;
  for (const Span& s : spans) {
    if (s.end < from || s.start > to) continue;
    w.longest_s = std::max(w.longest_s, seconds(s.end - s.start));
    if (!s.ok) {
      ++w.failed;
    } else if (s.start >= from && s.end <= to) {
      ++w.inside;
    }
  }
  return w;
}

}  // namespace

int run_defrag_pause(const GlobalOptions& g, const DefragPauseOptions& o) {
  auto endpoints = split_endpoints(g.endpoints);
  if (endpoints.empty()) {
    std::fprintf(stderr, "no endpoint\n");
    return 1;
  }
  // Separate connections, so a blocked call does not queue the others.
  auto writer_ch = dial(endpoints[0]);
  auto s_ch = dial(endpoints[0]);
  auto l_ch = dial(endpoints[0]);
  auto admin_ch = dial(endpoints[0]);
  if (!writer_ch || !s_ch || !l_ch || !admin_ch) return 1;
  const std::string value(static_cast<size_t>(o.val_size), 'v');
  const std::string read_key = "defrag-pause/read";
  {
    auto kv = etcdserverpb::KV::NewStub(writer_ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
    etcdserverpb::PutRequest req;
    req.set_key(read_key);
    req.set_value("r");
    etcdserverpb::PutResponse resp;
    grpc::Status st = kv->Put(&ctx, req, &resp);
    if (!st.ok()) {
      std::fprintf(stderr, "put %s: %s\n", read_key.c_str(), st.error_message().c_str());
      return 1;
    }
  }

  std::atomic<bool> stop{false};
  Record puts, s_reads, l_reads;
  auto writer = std::thread([&] {
    auto kv = etcdserverpb::KV::NewStub(writer_ch);
    for (size_t i = 0; !stop && puts.spans.size() < kMaxRecords; ++i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
      etcdserverpb::PutRequest req;
      req.set_key("defrag-pause/" + std::to_string(i));
      req.set_value(value);
      etcdserverpb::PutResponse resp;
      auto t0 = Clock::now();
      bool ok = kv->Put(&ctx, req, &resp).ok();
      puts.spans.push_back({t0, Clock::now(), ok});
      if (!ok) ++puts.errors;
    }
  });
  auto reader = [&](const std::shared_ptr<grpc::Channel>& ch, bool serializable, Record& rec) {
    auto kv = etcdserverpb::KV::NewStub(ch);
    while (!stop && rec.spans.size() < kMaxRecords) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
      etcdserverpb::RangeRequest req;
      req.set_key(read_key);
      req.set_serializable(serializable);
      etcdserverpb::RangeResponse resp;
      auto t0 = Clock::now();
      bool ok = kv->Range(&ctx, req, &resp).ok() && resp.kvs_size() == 1;
      rec.spans.push_back({t0, Clock::now(), ok});
      if (!ok) ++rec.errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  auto s_reader = std::thread(reader, s_ch, true, std::ref(s_reads));
  auto l_reader = std::thread(reader, l_ch, false, std::ref(l_reads));

  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));
  auto maint = etcdserverpb::Maintenance::NewStub(admin_ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
  etcdserverpb::DefragmentResponse dresp;
  auto d0 = Clock::now();
  grpc::Status dst = maint->Defragment(&ctx, etcdserverpb::DefragmentRequest(), &dresp);
  auto d1 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.cooldown_s));
  stop = true;
  writer.join();
  s_reader.join();
  l_reader.join();
  if (!dst.ok()) {
    std::fprintf(stderr, "defragment: %s\n", dst.error_message().c_str());
    return 1;
  }

  Window pw = in_window(puts.spans, d0, d1);
  Window sw = in_window(s_reads.spans, d0, d1);
  Window lw = in_window(l_reads.spans, d0, d1);
  double before_max = 0;
  for (const Span& s : puts.spans) {
    if (s.end < d0) before_max = std::max(before_max, seconds(s.end - s.start));
  }
  std::printf("Defrag:\n");
  std::printf("  Took:\t%.4f secs.\n", seconds(d1 - d0));
  std::printf("Writes (1 client, %d-byte values):\n", o.val_size);
  std::printf("  Longest put during defrag:\t%.4f secs.\n", pw.longest_s);
  std::printf("  Longest put before defrag:\t%.4f secs.\n", before_max);
  std::printf("  Puts completed during defrag:\t%lld\n", static_cast<long long>(pw.inside));
  std::printf("  Puts failed during defrag:\t%lld\n", static_cast<long long>(pw.failed));
  std::printf("  Puts in total:\t%zu (errors %lld)\n", puts.spans.size(),
              static_cast<long long>(puts.errors));
  std::printf("Reads answered during defrag:\n");
  std::printf("  Serializable:\t%lld (longest %.4f secs., failed %lld)\n",
              static_cast<long long>(sw.inside), sw.longest_s, static_cast<long long>(sw.failed));
  std::printf("  Linearizable:\t%lld (longest %.4f secs., failed %lld)\n",
              static_cast<long long>(lw.inside), lw.longest_s, static_cast<long long>(lw.failed));
  std::printf(
      "RESULT defrag_s=%.4f max_put_s=%.4f puts_during=%lld puts_failed=%lld s_reads_during=%lld "
      "max_s_read_s=%.4f l_reads_during=%lld max_l_read_s=%.4f\n",
      seconds(d1 - d0), pw.longest_s, static_cast<long long>(pw.inside),
      static_cast<long long>(pw.failed), static_cast<long long>(sw.inside), sw.longest_s,
      static_cast<long long>(lw.inside), lw.longest_s);
  return 0;
}

}  // namespace etcd::bench
