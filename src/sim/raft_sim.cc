// raft_sim: sweeps seeds of the Raft simulation (src/sim/world.h) and
// prints a summary; replays one seed with --verbose.
//
//   raft_sim --seeds 20000 --start 1            # 3, 5 and 7 nodes in turn
//   raft_sim --seeds 1 --start 4242 --nodes 5 --steps 3000 --verbose
//
// Exit status: 0 when every seed passed, 1 on a failure, 2 on bad usage.
// Stalls in the known liveness gap of apply-time membership changes
// (etcd-io/etcd#12359) are printed as KNOWN and counted apart.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim/world.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: raft_sim [--seeds N] [--start S] [--nodes K] [--steps M] [--verbose]\n"
               "                [--threads T] [--keep-going] [--stop-removed]\n"
               "                [--lying-fsync] [--forget-votes] [--local-reads] [--never-heal]\n"
               "  --seeds N     seeds to run (default 100)\n"
               "  --start S     first seed (default 1)\n"
               "  --nodes K     3, 5 or 7; 0 cycles 3/5/7 by seed (default 0)\n"
               "  --steps M     events in the fault phase per seed (default 3000)\n"
               "  --verbose     print every event (forces one thread)\n"
               "  --threads T   worker threads (default: all cores)\n"
               "  --keep-going  do not stop at the first failing seed\n"
               "  --stop-removed  a removed member stops for good, as etcd's server does\n"
               "                (liveness can then fail: etcd-io/etcd#12359)\n"
               "  --lying-fsync, --forget-votes, --local-reads, --never-heal\n"
               "                break the model on purpose (checker self-test)\n");
}

bool parse_u64(const char* s, uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 100;
  uint64_t start = 1;
  uint64_t nodes = 0;
  uint64_t steps = 3000;
  uint64_t threads = std::max(1u, std::thread::hardware_concurrency());
  bool verbose = false;
  bool keep_going = false;
  bool lying_fsync = false;
  bool never_heal = false;
  bool stop_removed = false;
  bool forget_votes = false;
  bool local_reads = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](uint64_t* out) {
      if (i + 1 >= argc || !parse_u64(argv[i + 1], out)) {
        usage();
        std::exit(2);
      }
      ++i;
    };
    if (a == "--seeds") {
      value(&seeds);
    } else if (a == "--start") {
      value(&start);
    } else if (a == "--nodes") {
      value(&nodes);
    } else if (a == "--steps") {
      value(&steps);
    } else if (a == "--threads") {
      value(&threads);
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--keep-going") {
      keep_going = true;
    } else if (a == "--lying-fsync") {
      lying_fsync = true;
    } else if (a == "--stop-removed") {
      stop_removed = true;
    } else if (a == "--forget-votes") {
      forget_votes = true;
    } else if (a == "--local-reads") {
      local_reads = true;
    } else if (a == "--never-heal") {
      never_heal = true;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (nodes != 0 && nodes != 3 && nodes != 5 && nodes != 7) {
    std::fprintf(stderr, "raft_sim: --nodes must be 3, 5, 7 or 0\n");
    return 2;
  }
  if (verbose || threads == 0) threads = 1;
  etcd::sim::install_abort_reporter();

  auto options_for = [&](uint64_t seed) {
    etcd::sim::SimOptions o;
    o.seed = seed;
    static constexpr int kSizes[] = {3, 5, 7};
    o.nodes = nodes != 0 ? static_cast<int>(nodes) : kSizes[seed % 3];
    o.steps = steps;
    o.verbose = verbose;
    o.lying_fsync = lying_fsync;
    o.never_heal = never_heal;
    o.stop_removed = stop_removed;
    o.forget_votes = forget_votes;
    o.local_reads = local_reads;
    return o;
  };

  std::vector<etcd::sim::SimResult> results(seeds);
  std::vector<bool> done(seeds, false);
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  auto worker = [&] {
    while (!stop.load()) {
      uint64_t i = next.fetch_add(1);
      if (i >= seeds) return;
      etcd::sim::SimResult r = etcd::sim::run_simulation(options_for(start + i));
      std::lock_guard lock(mu);
      if (!r.ok) {
        std::fprintf(stderr, "%s %s\n", r.known_limitation ? "KNOWN" : "FAIL", r.failure.c_str());
        if (!keep_going && !r.known_limitation) stop.store(true);
      }
      results[i] = std::move(r);
      done[i] = true;
    }
  };
  std::vector<std::thread> pool;
  for (uint64_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();

  etcd::sim::SimStats total;
  uint64_t failures = 0;
  uint64_t run = 0;
  for (uint64_t i = 0; i < seeds; ++i) {
    if (!done[i]) continue;
    ++run;
    total.add(results[i].stats);
    failures += !results[i].ok && !results[i].known_limitation;
  }
  std::printf(
      "raft_sim: seeds %llu..%llu, nodes %s, %llu fault-phase steps per seed\n",
      static_cast<unsigned long long>(start), static_cast<unsigned long long>(start + seeds - 1),
      nodes == 0 ? "3/5/7" : std::to_string(nodes).c_str(), static_cast<unsigned long long>(steps));
  std::printf("%s", total.to_string().c_str());
  std::printf("  failures: %llu (of %llu seeds run)\n", static_cast<unsigned long long>(failures),
              static_cast<unsigned long long>(run));
  for (uint64_t i = 0; i < seeds; ++i) {
    if (done[i] && !results[i].ok) {
      std::printf("%s %s\n", results[i].known_limitation ? "KNOWN" : "FAIL",
                  results[i].failure.c_str());
    }
  }
  return failures == 0 ? 0 : 1;
}
