// The raft thread: drives the member's ReadyLoop (which owns the RawNode,
// the WAL, the snapshot files and the raft log) in production. It ticks on
// the given clock, runs posted work (proposals, peer messages, read
// requests, conf changes, snapshots) and then handles every Ready. The
// simulator drives the same ReadyLoop from its own event loop instead.
//
// Owner thread: its own (start() to stop()); every public method is safe
// from any thread.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/mutex.h"
#include "env/clock.h"
#include "raft/rawnode.h"
#include "server/proposer.h"
#include "server/ready_loop.h"

namespace etcd::server {

class RaftNode final : public RaftPort {
 public:
  struct Options {
    std::chrono::milliseconds tick_interval{100};
    // Ticks fast-forwarded at start so a lone member elects itself quickly
    // (etcd's --initial-election-tick-advance).
    int initial_tick_advance = 0;
  };
  using ApplyFn = std::function<void(ApplyBatch)>;
  using ReadStateFn = std::function<void(const raft::ReadState&)>;
  using LeaderChangeFn = std::function<void()>;

  RaftNode(RaftStorage storage, std::unique_ptr<raft::RawNode> node, Transport& transport,
           env::Clock& clock, log::Logger& logger, Options options);
  ~RaftNode();

  // on_leader_change runs on the raft thread when a new leader is known.
  void start(ApplyFn apply, ReadStateFn on_read_state, LeaderChangeFn on_leader_change = {});
  // Stops the thread after the current iteration (pending work is
  // dropped), then closes the WAL (synced).
  void stop();

  // Hands data to Raft; returns its verdict (dropped without a leader...).
  Status propose(std::string data) override;
  Status propose_conf_change(raftpb::ConfChange cc) override;
  // From the peer transport: a peer could not be reached, a snapshot sent
  // to it arrived or failed.
  void report_unreachable(MemberId id);
  void report_snapshot(MemberId id, bool failed);
  void read_index(std::string ctx) override;
  void step(raftpb::Message m);
  // Applied by the apply thread once a conf change entry is applied; async.
  void apply_conf_change(raftpb::ConfChange cc);
  void transfer_leader(MemberId to);
  // Records a raft snapshot at `index` (the backend already holds the state
  // up to it), then compacts the log keeping `catch_up` entries and
  // releases WAL segments below it; async. `data` is the snapshot's Data:
  // the v2 store's JSON at `index`, as etcd's.
  void snapshot(uint64_t index, raftpb::ConfState cs, std::string data, uint64_t catch_up);
  // Runs fn on the raft thread and waits for it.
  void run(const std::function<void(raft::RawNode&)>& fn);

  // Any thread.
  // Member ids cross this boundary typed; raft's NodeId stays inside.
  MemberId lead() const override { return MemberId(lead_.load(std::memory_order_acquire)); }
  uint64_t term() const { return term_.load(std::memory_order_acquire); }
  uint64_t commit_index() const { return commit_.load(std::memory_order_acquire); }
  bool is_leader() const { return leader_.load(std::memory_order_acquire); }
  raft::NodeStatus status();

 private:
  using Task = std::function<void(ReadyLoop&)>;
  void post(Task t);
  void loop();
  // ReadyLoop's first look at a Ready: the leader and term for any thread,
  // and etcd raft's node-level log lines.
  void observe(const raft::Ready& rd);

  env::Clock& clock_;
  log::Logger& logger_;
  const Options options_;
  ApplyFn apply_;
  ReadStateFn on_read_state_;
  LeaderChangeFn on_leader_change_;
  std::unique_ptr<ReadyLoop> ready_loop_;  // the raft thread's, once started

  Mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  // True while no loop runs (before start, after the thread ended): work
  // posted then is never run.
  std::atomic<bool> exited_{true};
  std::atomic<uint64_t> lead_{0};
  std::atomic<uint64_t> term_{0};
  std::atomic<uint64_t> commit_{0};
  std::atomic<bool> leader_{false};
  // Raft thread: when this leader last sent each peer a heartbeat (etcd's
  // timeout detector: a gap over two heartbeat intervals is a failure to
  // send on time).
  std::map<uint64_t, std::chrono::steady_clock::time_point> last_heartbeat_;
  void check_heartbeats(const raft::Ready& rd);
};

}  // namespace etcd::server
