// The Raft step/ready path without I/O: an in-memory 3-node group commits
// entries as fast as the state machine allows. Reports entries committed
// per second with 1 and 64 proposals per Ready cycle.
//
//   build/bin/raft_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <vector>

#include "raft/rawnode.h"

namespace etcd::raft {
namespace {

class Group {
 public:
  explicit Group(int n) {
    raftpb::ConfState cs;
    for (int i = 1; i <= n; ++i) cs.add_voters(static_cast<NodeId>(i));
    for (int i = 1; i <= n; ++i) {
      auto storage = std::make_unique<MemoryStorage>();
      raftpb::Snapshot snap;
      snap.mutable_metadata()->set_index(1);
      snap.mutable_metadata()->set_term(1);
      *snap.mutable_metadata()->mutable_conf_state() = cs;
      (void)storage->apply_snapshot(snap);
      Config c;
      c.id = static_cast<NodeId>(i);
      c.storage = storage.get();
      c.max_inflight_msgs = 1024;
      c.seed = 1;
      nodes_.push_back(std::move(RawNode::create(c)).value());
      storages_.push_back(std::move(storage));
    }
    (void)nodes_[0]->campaign();
    settle();
  }

  RawNode& leader() { return *nodes_[0]; }

  // Processes Readies and delivers messages until quiet; returns the number
  // of normal entries the leader applied.
  uint64_t settle() {
    uint64_t applied = 0;
    bool progress = true;
    while (progress) {
      progress = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        RawNode& n = *nodes_[i];
        while (n.has_ready()) {
          progress = true;
          Ready rd = n.ready();
          (void)storages_[i]->append(rd.entries);
          if (!is_empty_hard_state(rd.hard_state)) storages_[i]->set_hard_state(rd.hard_state);
          for (auto& m : rd.messages) queue_.push_back(std::move(m));
          if (i == 0) {
            for (const auto& e : rd.committed_entries) applied += !e.data().empty();
          }
          n.advance(rd);
        }
      }
      while (!queue_.empty()) {
        progress = true;
        raftpb::Message m = std::move(queue_.front());
        queue_.pop_front();
        (void)nodes_[m.to() - 1]->step(std::move(m));
      }
    }
    return applied;
  }

  // Keeps logs bounded across long runs.
  void compact() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      uint64_t applied = nodes_[i]->raft().raft_log().applied();
      if (applied > storages_[i]->first_index()->value() + 10000) {
        (void)storages_[i]->compact(Index(applied - 1000));
      }
    }
  }

 private:
  std::vector<std::unique_ptr<MemoryStorage>> storages_;
  std::vector<std::unique_ptr<RawNode>> nodes_;
  std::deque<raftpb::Message> queue_;
};

void BM_CommitThreeNodes(benchmark::State& state) {
  const int per_ready = static_cast<int>(state.range(0));
  Group g(3);
  std::string payload(256, 'x');
  uint64_t committed = 0;
  for (auto _ : state) {
    for (int i = 0; i < per_ready; ++i) (void)g.leader().propose(payload);
    committed += g.settle();
    g.compact();
  }
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
  state.SetItemsProcessed(static_cast<int64_t>(committed));
}
BENCHMARK(BM_CommitThreeNodes)->Arg(1)->Arg(64);

}  // namespace
}  // namespace etcd::raft

BENCHMARK_MAIN();
