// The simulation as a unit test: a fixed range of seeds for 3, 5 and 7
// members, plus tests proving the harness notices broken durability and a
// cluster that never recovers. SIM_SEEDS (seeds per world size) and
// SIM_STEPS override the defaults, e.g. SIM_SEEDS=5000 for a long run.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim/world.h"

namespace etcd::sim {
namespace {

uint64_t env_or(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return def;
  return std::strtoull(v, nullptr, 10);
}

// Defaults sized so the whole binary stays under a minute in Release and
// about a minute and a half in the ASan+UBSan Debug build, on two cores.
#ifdef NDEBUG
constexpr uint64_t kDefaultSeeds = 3000;
#else
constexpr uint64_t kDefaultSeeds = 100;
#endif
constexpr uint64_t kDefaultSteps = 3000;

// Runs seeds [first, first + count) on all cores; returns the failures.
std::vector<std::string> sweep(int nodes, uint64_t first, uint64_t count, SimStats* total) {
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  std::vector<std::string> failures;
  uint64_t steps = env_or("SIM_STEPS", kDefaultSteps);
  auto worker = [&] {
    for (uint64_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      SimOptions o;
      o.seed = first + i;
      o.nodes = nodes;
      o.steps = steps;
      SimResult r = run_simulation(o);
      std::lock_guard lock(mu);
      total->add(r.stats);
      if (r.known_limitation) {
        // Raft's known liveness gap (etcd-io/etcd#12359): reported, not failed.
        std::printf("known limitation: %s\n", r.failure.c_str());
      } else if (!r.ok) {
        failures.push_back(r.failure);
      }
    }
  };
  unsigned n = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < n; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  std::sort(failures.begin(), failures.end());
  return failures;
}

void run_sweep(int nodes, uint64_t first) {
  install_abort_reporter();
  SimStats total;
  uint64_t seeds = env_or("SIM_SEEDS", kDefaultSeeds);
  std::vector<std::string> failures = sweep(nodes, first, seeds, &total);
  for (const auto& f : failures) ADD_FAILURE() << f;
  // The sweep must actually exercise the faults and the operations.
  EXPECT_EQ(total.runs, seeds);
  if (seeds >= 20) {
    EXPECT_GT(total.faults[static_cast<size_t>(FaultKind::kCrash)], 0u);
    EXPECT_GT(total.faults[static_cast<size_t>(FaultKind::kCrashInReady)], 0u);
    EXPECT_GT(total.faults[static_cast<size_t>(FaultKind::kAsymmetric)], 0u);
    EXPECT_GT(total.reads_served, 0u);
    EXPECT_GT(total.conf_changes_applied, 0u);
    EXPECT_GT(total.snapshots_installed, 0u);
    EXPECT_GT(total.commits, seeds * 10);
  }
  std::printf("%d nodes, seeds %llu..%llu:\n%s", nodes, static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(first + seeds - 1), total.to_string().c_str());
}

// Disjoint seed ranges per world size.
TEST(Sim, ThreeNodes) { run_sweep(3, 1000000); }
TEST(Sim, FiveNodes) { run_sweep(5, 2000000); }
TEST(Sim, SevenNodes) { run_sweep(7, 3000000); }

// The full event trace of one run.
std::string trace_of(SimOptions o) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  o.verbose = true;
  o.trace_out = f;
  SimResult r = run_simulation(o);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out + (r.ok ? "ok" : r.failure);
}

TEST(Sim, ReplayIsDeterministic) {
  // The same seed gives the same run, event for event; another seed does not.
  SimOptions o;
  o.seed = 77;
  o.nodes = 5;
  o.steps = 1500;
  std::string a = trace_of(o);
  std::string b = trace_of(o);
  EXPECT_GT(a.size(), 10000u);
  EXPECT_TRUE(a == b) << "traces of seed 77 differ";
  o.seed = 78;
  EXPECT_NE(a, trace_of(o));
}

// The sabotage tests break one assumption of the model on purpose and
// check that the harness notices. They run in a forked child (a gtest death
// test) because a corrupted member may also trip one of Raft's own ASSERTs,
// which aborts the process.

// Runs seeds of `o` until the checker reports a violation of `invariant`
// (any invariant when empty); exits 0 then, 1 when no seed shows one.
[[noreturn]] void hunt(SimOptions o, uint64_t seeds, const std::string& invariant) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    o.seed = seed;
    SimResult r = run_simulation(o);
    if (!r.ok &&
        (invariant.empty() || r.failure.find(": " + invariant + ":") != std::string::npos)) {
      std::fprintf(stderr, "caught: %s\n", r.failure.c_str());
      std::exit(0);
    }
  }
  std::fprintf(stderr, "not caught in %llu seeds\n", static_cast<unsigned long long>(seeds));
  std::exit(1);
}

bool exited_ok_or_raft_assert(int status) {
  return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
         (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

TEST(SimSabotage, LocalReadsAreStale) {
  // Reads answered from a member's own commit index, skipping ReadIndex:
  // a lagging follower or a deposed leader serves stale data.
  SimOptions o;
  o.nodes = 3;
  o.steps = 1500;
  o.local_reads = true;
  EXPECT_EXIT(hunt(o, 20, "read-index"), ::testing::ExitedWithCode(0), "caught");
}

#ifdef NDEBUG
// Needs a few hundred seeds: too slow for the sanitizer build.
TEST(SimSabotage, ForgottenVotesElectTwoLeaders) {
  // A member that loses its vote in a crash can vote twice in one term.
  // Five members: more concurrent candidates, so a forgotten vote is
  // used twice sooner (seed 1103 at the time of writing).
  SimOptions o;
  o.nodes = 5;
  o.steps = 3000;
  o.forget_votes = true;
  // Two leaders in a term may also leave a member in a state Raft's own
  // invariants reject (an ASSERT): noticed either way.
  EXPECT_EXIT(hunt(o, 5000, "election-safety"), exited_ok_or_raft_assert, "");
}
#endif

TEST(SimSabotage, LyingFsyncIsNoticed) {
  // A disk that acknowledges fsync without writing loses acknowledged
  // votes and entries in a crash. It never goes unnoticed: the real WAL
  // finds the hole at restart (a later record survived an earlier one:
  // "corrupt record", the member refuses to start), or the checker reports
  // what was lost, or Raft finds its log corrupt and ASSERTs.
  SimOptions o;
  o.nodes = 3;
  o.steps = 3000;
  o.lying_fsync = true;
  EXPECT_EXIT(hunt(o, 100, ""), exited_ok_or_raft_assert, "");
}

TEST(SimSabotage, NeverHealedClusterFailsLiveness) {
  SimOptions o;
  o.seed = 3;
  o.nodes = 3;
  o.steps = 500;
  o.never_heal = true;
  SimResult r = run_simulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find(": liveness:"), std::string::npos) << r.failure;
  EXPECT_NE(r.failure.find("seed=3 "), std::string::npos) << r.failure;
  EXPECT_NE(r.failure.find("raft_sim --start 3 --seeds 1 --nodes 3"), std::string::npos)
      << r.failure;
}

}  // namespace
}  // namespace etcd::sim
