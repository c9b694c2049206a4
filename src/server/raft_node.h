// The raft thread: the only owner of the RawNode, the WAL and the raft log
// storage. It ticks the clock, runs posted work (proposals, peer messages,
// read requests), and handles each Ready in etcd's order:
//   1. a leader sends its messages first (thesis 10.2.1: it appends to its
//      own log in parallel with its followers);
//   2. snapshot and WAL records are written, one fdatasync per Ready when
//      must_sync;
//   3. the log storage is updated, followers send their messages (only now,
//      after their vote/entries are durable);
//   4. committed entries go to the apply thread, then advance().
// Because committed entries leave only after the WAL write, an entry is
// durable locally before it is applied, and so before it is acknowledged.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/mutex.h"
#include "env/clock.h"
#include "raft/rawnode.h"
#include "server/proposer.h"
#include "storage/snap/snapshotter.h"
#include "storage/wal/wal.h"

namespace etcd::server {

// Sends raft messages to peers. A single member has none.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(std::vector<raftpb::Message> msgs) = 0;
};

// What the apply thread receives from one Ready.
struct ApplyBatch {
  std::vector<raftpb::Entry> entries;
  raftpb::Snapshot snapshot;
};

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

  RaftNode(std::unique_ptr<raft::RawNode> node, raft::MemoryStorage& storage, wal::Wal& wal,
           snap::Snapshotter& snapshotter, Transport& transport, log::Logger& logger,
           Options options);
  ~RaftNode();

  void start(ApplyFn apply, ReadStateFn on_read_state);
  // Stops the thread after the current iteration; pending work is dropped.
  void stop();

  // Hands data to Raft; returns its verdict (dropped without a leader...).
  Status propose(std::string data) override;
  Status propose_conf_change(raftpb::ConfChange cc);
  void read_index(std::string ctx) override;
  void step(raftpb::Message m);
  // Applied by the apply thread once a conf change entry is applied; async.
  void apply_conf_change(raftpb::ConfChange cc);
  void transfer_leader(raft::NodeId to);
  // Records a raft snapshot at `index` (the backend already holds the state
  // up to it), then compacts the log keeping `catch_up` entries and
  // releases WAL segments below it.
  void snapshot(uint64_t index, raftpb::ConfState cs, uint64_t catch_up);
  // Runs fn on the raft thread and waits for it.
  void run(const std::function<void(raft::RawNode&)>& fn);

  // Any thread.
  uint64_t lead() const override { return lead_.load(std::memory_order_acquire); }
  uint64_t term() const { return term_.load(std::memory_order_acquire); }
  uint64_t commit_index() const { return commit_.load(std::memory_order_acquire); }
  bool is_leader() const { return leader_.load(std::memory_order_acquire); }
  raft::NodeStatus status();

 private:
  using Task = std::function<void(raft::RawNode&)>;
  void post(Task t);
  void loop();
  void handle_ready();

  std::unique_ptr<raft::RawNode> node_;
  raft::MemoryStorage& storage_;
  wal::Wal& wal_;
  snap::Snapshotter& snapshotter_;
  Transport& transport_;
  log::Logger& logger_;
  const Options options_;
  ApplyFn apply_;
  ReadStateFn on_read_state_;

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
};

}  // namespace etcd::server
