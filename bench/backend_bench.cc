// Benchmarks of the LMDB backend (src/storage/backend): batched put
// throughput, and the cost of making an acknowledged write visible to
// readers, with the read buffer (writes batched, readers merge the buffer)
// and with "commit before acknowledging" (batch_limit 1: every scope is an
// LMDB commit). Results and their reading: docs/storage-backend.md.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "env/clock.h"
#include "storage/backend/backend.h"

namespace etcd::backend {
namespace {

constexpr size_t kValueSize = 256;

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/backend_bench.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string db() const { return path_ + "/member/snap/db"; }

 private:
  std::string path_;
};

std::string key8(uint64_t i) {
  std::string k;
  append_u64_be(&k, i);
  return k;
}

// Visibility mechanisms under test.
enum Mode : int64_t {
  kReadBuffer = 0,       // batch_limit 10000, interval 100 ms, committer thread
  kCommitPerScope = 1,   // batch_limit 1, commit inline before the scope returns
  kReadBufferInline = 2  // batch_limit 10000, commits inline on the writer thread
};

Options options_for(int64_t mode, SyncMode sync) {
  Options o;
  o.sync_mode = sync;
  switch (mode) {
    case kReadBuffer:
      break;
    case kCommitPerScope:
      o.batch_limit = 1;
      o.background_commit = false;
      break;
    case kReadBufferInline:
      o.background_commit = false;
      break;
  }
  return o;
}

const char* mode_name(int64_t mode) {
  switch (mode) {
    case kReadBuffer:
      return "read_buffer";
    case kCommitPerScope:
      return "commit_per_scope";
    default:
      return "read_buffer_inline_commit";
  }
}

std::unique_ptr<Backend> open_or_die(const BenchDir& dir, const Options& o, env::Clock& clock) {
  auto b = Backend::open(dir.db(), o, clock);
  if (!b.is_ok()) std::abort();
  return std::move(b).value();
}

// Put throughput: one scope (one applied request) per iteration with
// `range(1)` puts of 8-byte keys and 256-byte values.
void BM_Put(benchmark::State& state) {
  const int64_t mode = state.range(0);
  const int64_t puts_per_scope = state.range(1);
  const auto sync = static_cast<SyncMode>(state.range(2));
  BenchDir dir;
  env::RealClock clock;
  auto b = open_or_die(dir, options_for(mode, sync), clock);
  const std::string value(kValueSize, 'v');
  uint64_t next = 0;
  // Per-scope latency (one applied request), commit stalls included.
  std::vector<float> scope_us;
  scope_us.reserve(1 << 20);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    {
      BatchTx tx = b->batch_tx();
      for (int64_t i = 0; i < puts_per_scope; ++i) {
        if (!tx.put(Bucket::kKey, key8(next++), value).is_ok()) std::abort();
      }
    }
    if (scope_us.size() < scope_us.capacity()) {
      scope_us.push_back(
          std::chrono::duration<float, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    }
  }
  b->force_commit();  // not timed: at most one batch
  std::sort(scope_us.begin(), scope_us.end());
  if (!scope_us.empty()) {
    state.counters["p99_scope_us"] = scope_us[scope_us.size() * 99 / 100];
    state.counters["max_scope_us"] = scope_us.back();
  }
  state.SetItemsProcessed(static_cast<int64_t>(next));
  state.SetBytesProcessed(static_cast<int64_t>(next * (8 + kValueSize)));
  state.counters["commits"] = static_cast<double>(b->stats().commits);
  state.SetLabel(mode_name(mode));
}
BENCHMARK(BM_Put)
    ->ArgNames({"mode", "puts", "sync"})
    ->Args({kReadBuffer, 1, static_cast<int64_t>(SyncMode::kNoSync)})
    ->Args({kReadBufferInline, 1, static_cast<int64_t>(SyncMode::kNoSync)})
    ->Args({kCommitPerScope, 1, static_cast<int64_t>(SyncMode::kNoSync)})
    ->Args({kReadBuffer, 16, static_cast<int64_t>(SyncMode::kNoSync)})
    ->Args({kCommitPerScope, 16, static_cast<int64_t>(SyncMode::kNoSync)})
    ->Args({kReadBuffer, 1, static_cast<int64_t>(SyncMode::kNoMetaSync)})
    ->Args({kCommitPerScope, 1, static_cast<int64_t>(SyncMode::kNoMetaSync)})
    ->UseRealTime()
    ->MinTime(1.0);

// The duration of one batch commit: 10000 buffered puts written to LMDB in
// one transaction (no fsync), what the committer thread spends per batch.
// Timed: the scope whose close fills the batch and commits it inline.
void BM_CommitBatch(benchmark::State& state) {
  BenchDir dir;
  env::RealClock clock;
  Options o;
  o.background_commit = false;
  o.batch_interval = std::chrono::hours(1);
  auto b = open_or_die(dir, o, clock);
  const std::string value(kValueSize, 'v');
  uint64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      BatchTx tx = b->batch_tx();
      for (uint32_t i = 0; i + 1 < o.batch_limit; ++i) {
        if (!tx.put(Bucket::kKey, key8(next++), value).is_ok()) std::abort();
      }
    }
    state.ResumeTiming();
    BatchTx tx = b->batch_tx();
    if (!tx.put(Bucket::kKey, key8(next++), value).is_ok()) std::abort();
  }
  state.counters["commits"] = static_cast<double>(b->stats().commits);
}
BENCHMARK(BM_CommitBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

// Read-after-write on one thread: close a scope with one put (the
// acknowledgement), then begin a ReadTx and read the key back. The time per
// iteration is the cost of acknowledging plus the first read that sees it.
void BM_ReadAfterWrite(benchmark::State& state) {
  const int64_t mode = state.range(0);
  BenchDir dir;
  env::RealClock clock;
  auto b = open_or_die(dir, options_for(mode, SyncMode::kNoSync), clock);
  const std::string value(kValueSize, 'v');
  uint64_t next = 0;
  for (auto _ : state) {
    const std::string k = key8(next++);
    {
      BatchTx tx = b->batch_tx();
      if (!tx.put(Bucket::kKey, k, value).is_ok()) std::abort();
    }
    auto got = b->read_tx().get(Bucket::kKey, k);
    if (!got.has_value()) std::abort();
    benchmark::DoNotOptimize(got);
  }
  state.SetLabel(mode_name(mode));
}
BENCHMARK(BM_ReadAfterWrite)->Arg(kReadBuffer)->Arg(kCommitPerScope)->UseRealTime();

// Read-after-write across threads: the writer closes a scope and publishes
// the key's number; a reader thread spinning on it begins a ReadTx and reads
// the key. Reported time: from just before the writer's scope opens to the
// reader holding the value (manual time), so it includes the writer's
// acknowledgement path and the hand-off (~100 ns of spinning).
void BM_ReadAfterWriteOtherThread(benchmark::State& state) {
  const int64_t mode = state.range(0);
  BenchDir dir;
  env::RealClock clock;
  auto b = open_or_die(dir, options_for(mode, SyncMode::kNoSync), clock);
  const std::string value(kValueSize, 'v');
  std::atomic<int64_t> published{-1};
  std::atomic<int64_t> seen{-1};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> misses{0};
  std::thread reader([&] {
    int64_t last = -1;
    while (!stop.load(std::memory_order_acquire)) {
      const int64_t i = published.load(std::memory_order_acquire);
      if (i == last) {
        std::this_thread::yield();  // two cores: never starve the writer
        continue;
      }
      if (!b->read_tx().get(Bucket::kKey, key8(static_cast<uint64_t>(i))).has_value()) misses++;
      last = i;
      seen.store(i, std::memory_order_release);
    }
  });
  int64_t next = 0;
  for (auto _ : state) {
    const int64_t i = next++;
    const auto start = std::chrono::steady_clock::now();
    {
      BatchTx tx = b->batch_tx();
      if (!tx.put(Bucket::kKey, key8(static_cast<uint64_t>(i)), value).is_ok()) std::abort();
    }
    published.store(i, std::memory_order_release);
    while (seen.load(std::memory_order_acquire) != i) std::this_thread::yield();
    const auto end = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  stop = true;
  reader.join();
  if (misses.load() != 0) state.SkipWithError("an acknowledged write was not visible");
  state.SetLabel(mode_name(mode));
}
BENCHMARK(BM_ReadAfterWriteOtherThread)->Arg(kReadBuffer)->Arg(kCommitPerScope)->UseManualTime();

// The read side of the buffer: a point get in a fresh ReadTx, with the
// buffer empty (everything committed) or holding `range(0)` writes.
void BM_ReadTxGet(benchmark::State& state) {
  const int64_t buffered = state.range(0);
  BenchDir dir;
  env::RealClock clock;
  Options o;
  o.background_commit = false;
  o.batch_limit = 1 << 20;
  o.batch_interval = std::chrono::hours(1);
  auto b = open_or_die(dir, o, clock);
  const std::string value(kValueSize, 'v');
  constexpr uint64_t kCommitted = 100000;
  {
    BatchTx tx = b->batch_tx();
    for (uint64_t i = 0; i < kCommitted; ++i) {
      if (!tx.put(Bucket::kKey, key8(i), value).is_ok()) std::abort();
    }
  }
  b->force_commit();
  for (int64_t i = 0; i < buffered; ++i) {
    BatchTx tx = b->batch_tx();
    if (!tx.put(Bucket::kKey, key8(kCommitted + static_cast<uint64_t>(i)), value).is_ok()) {
      std::abort();
    }
  }
  uint64_t n = 0;
  for (auto _ : state) {
    auto got = b->read_tx().get(Bucket::kKey, key8((n++ * 7919) % kCommitted));
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_ReadTxGet)->Arg(0)->Arg(5000);

}  // namespace
}  // namespace etcd::backend

BENCHMARK_MAIN();
