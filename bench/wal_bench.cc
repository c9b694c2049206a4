// WAL append + fdatasync on the real disk: one save(must_sync=true) per
// batch of 1, 16 or 256 entries of 256 bytes, as the server's Ready loop
// does. Reports entries/s and batches/s (one fdatasync per batch, so
// batches/s is bounded by the disk's fdatasync latency; see fsync_probe).
// The no-sync variant shows the encoding cost alone.
//
//   build/bin/wal_bench [--benchmark_min_time=2]
//   WAL_BENCH_DIR=/some/dir build/bin/wal_bench     (default: /tmp)
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "env/posix_file_system.h"
#include "storage/wal/wal.h"

namespace etcd::wal {
namespace {

constexpr size_t kEntryBytes = 256;

std::string make_temp_dir() {
  const char* base = std::getenv("WAL_BENCH_DIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/wal_bench_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

void run(benchmark::State& state, bool must_sync, bool zero_fill = false) {
  const auto batch = static_cast<size_t>(state.range(0));
  const std::string root = make_temp_dir();
  if (root.empty()) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  env::PosixFileSystem fs;
  WalOptions options;
  options.zero_fill_segments = zero_fill;
  auto created = Wal::create(fs, root + "/member/wal", "bench-metadata", options);
  if (!created.is_ok()) {
    state.SkipWithError(created.status().to_string().c_str());
    return;
  }
  auto w = std::move(*created);
  std::vector<raftpb::Entry> ents(batch);
  for (auto& e : ents) {
    e.set_term(1);
    e.set_data(std::string(kEntryBytes, 'x'));
  }
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_vote(1);
  uint64_t index = 0;
  for (auto _ : state) {
    for (auto& e : ents) e.set_index(++index);
    hs.set_commit(index);
    Status s = w->save(hs, ents, must_sync);
    if (!s.is_ok()) {
      state.SkipWithError(s.to_string().c_str());
      break;
    }
  }
  (void)w->close();
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["entries/s"] =
      benchmark::Counter(iterations * static_cast<double>(batch), benchmark::Counter::kIsRate);
  state.counters["batches/s"] = benchmark::Counter(iterations, benchmark::Counter::kIsRate);
  state.counters["bytes/s"] =
      benchmark::Counter(iterations * static_cast<double>(batch * kEntryBytes),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
  std::filesystem::remove_all(root);
}

void BM_WalSaveSync(benchmark::State& state) { run(state, true); }
void BM_WalSaveNoSync(benchmark::State& state) { run(state, false); }
// WalOptions::zero_fill_segments: segments preallocated with written zeros.
void BM_WalSaveSyncZeroFilled(benchmark::State& state) { run(state, true, true); }

BENCHMARK(BM_WalSaveSync)->Arg(1)->Arg(16)->Arg(256)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WalSaveSyncZeroFilled)
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WalSaveNoSync)
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace etcd::wal

BENCHMARK_MAIN();
