// The apply thread: takes the committed entries of each Ready (handed over
// by the raft thread through a bounded queue) and applies them in order:
// normal entries through the applier chain (v2 store requests, which etcd
// members propose, through the V2Applier), configuration changes through
// the MembershipApplier, then completes the proposal waiting for each. An
// entry at or below the backend's consistent index was applied before a
// restart and is skipped (only a conf change is handed to Raft again). It
// keeps the applied index, wakes the readers waiting for it, and asks for a
// raft snapshot every --snapshot-count entries. An entry the backend has is
// still applied to the v2 store (kept in memory, restored from the
// snapshot and brought up to date by this replay, as etcd does).
//
// Owner thread: its own (start() to stop()). push() is the raft thread's;
// applied() and wait_applied() are for any thread. apply_batch() is the
// thread's body, public so tests can drive it without the thread.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <thread>

#include "base/log.h"
#include "base/mutex.h"
#include "server/applier.h"
#include "server/membership_applier.h"
#include "server/ready_loop.h"
#include "server/v2_applier.h"
#include "storage/backend/backend.h"

namespace etcd::server {

// Entries the raft log keeps behind a snapshot so slow followers can catch
// up without one (etcd's snapshotCatchUpEntries).
inline constexpr uint64_t kSnapshotCatchUpEntries = 5000;
// etcd's warnApplyDuration: an entry applied slower than this is slow.
inline constexpr std::chrono::milliseconds kSlowApply{100};
// As `catch_up`: a snapshot that compacts nothing.
inline constexpr uint64_t kKeepWholeLog = UINT64_MAX;

class ApplyLoop {
 public:
  // What the apply thread tells the rest of the member.
  struct Hooks {
    // The result of the request with this id (Proposer::complete).
    std::function<void(uint64_t id, ApplyResult)> complete;
    // An applied conf change, for Raft (RaftNode::apply_conf_change).
    std::function<void(raftpb::ConfChange)> apply_conf_change;
    // A conf change that changed the membership (the peer transport
    // follows it; a member removed itself stops).
    std::function<void(const raftpb::ConfChange&)> membership_changed;
    // A new leader's empty entry was applied by this member as leader
    // (the lessor takes over expiry then).
    std::function<void()> leader_noop_applied;
    std::function<bool()> is_leader;
    // A snapshot received from the leader, durable in the WAL: the backend
    // becomes its image.
    std::function<void(const raftpb::Snapshot&)> restore_snapshot;
    // A raft snapshot at `index` with `cs` (RaftNode::snapshot). `compact`
    // is false for the snapshot taken because a member joined: it only
    // names the new member, and the log stays whole behind it, so the
    // leader still catches a new member up with entries, as etcd does
    // (a reference etcd member can not read our snapshot's image).
    std::function<void(uint64_t index, raftpb::ConfState cs, bool compact)> snapshot;
  };
  struct Options {
    uint64_t snapshot_count = 100000;
    // The snapshot the raft log started from (restart).
    uint64_t snapshot_index = 0;
    raftpb::ConfState conf_state;
    MemberId local_id;
  };

  // `v2` is the member's v2 store (V2Applier).
  ApplyLoop(backend::Backend& backend, Applier& chain, MembershipApplier& membership,
            v2store::Store& v2, log::Logger& logger, Hooks hooks, Options options);
  ~ApplyLoop();

  void start();
  // Ends the thread after the batch in hand; queued batches are dropped.
  void stop();

  // Queues a batch, waiting while kMaxBatches are queued (so the raft
  // thread slows down when applying lags). Dropped after stop().
  void push(ApplyBatch b);

  uint64_t applied() const { return applied_.load(std::memory_order_acquire); }
  // Waits until applied() >= index, for at most `timeout` or until `stop`
  // says so; returns whether it got there.
  bool wait_applied(uint64_t index, std::chrono::milliseconds timeout,
                    const std::function<bool()>& stop = {});

  void apply_batch(const ApplyBatch& batch);

 private:
  static constexpr size_t kMaxBatches = 64;
  void run();
  void apply_entry(const raftpb::Entry& e);
  // A normal entry with data: an InternalRaftRequest or a v2 Request
  // (server/raft_entry.h).
  void apply_normal(const std::string& data, backend::ConsistentIndex ci);
  // A normal entry the backend holds already: only its v2 store part (the
  // v2 store is rebuilt from the snapshot and the log after it).
  void replay_v2(const std::string& data, backend::ConsistentIndex ci);
  void maybe_trigger_snapshot();

  backend::Backend& backend_;
  Applier& chain_;
  MembershipApplier& membership_;
  V2Applier v2_;
  log::Logger& logger_;
  const Hooks hooks_;
  const uint64_t snapshot_count_;
  const MemberId local_id_;

  // The apply thread's own.
  uint64_t snapshot_index_;
  bool member_joined_ = false;  // a member was added: snapshot now
  raftpb::ConfState conf_state_;

  Mutex mu_;
  std::condition_variable cv_;
  std::deque<ApplyBatch> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  std::atomic<uint64_t> applied_{0};
  Mutex applied_mu_;
  std::condition_variable applied_cv_;
};

}  // namespace etcd::server
