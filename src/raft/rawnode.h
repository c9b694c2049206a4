// The Raft library's API (etcd raft's RawNode): a thread-unsafe wrapper
// around the state machine that the owner drives in a loop:
//
//   tick() / step(msg) / propose(data) ...
//   if (node.has_ready()) {
//     Ready rd = node.ready();
//     persist rd.hard_state, rd.entries, rd.snapshot (fsync if rd.must_sync);
//     send rd.messages;
//     apply rd.committed_entries (and apply_conf_change for config entries);
//     node.advance(rd);
//   }
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "base/ids.h"
#include "raft/raft.h"

namespace etcd::raft {

struct Ready {
  // Changed volatile state; nothing when unchanged.
  std::optional<SoftState> soft_state;
  // State to persist before sending messages; empty when unchanged.
  raftpb::HardState hard_state;
  // Linearizable reads that became servable.
  std::vector<ReadState> read_states;
  // Entries to persist before sending messages.
  std::vector<raftpb::Entry> entries;
  // A snapshot to persist.
  raftpb::Snapshot snapshot;
  // Committed entries to apply (already persisted, here or earlier).
  std::vector<raftpb::Entry> committed_entries;
  // Messages to send once entries and hard state are persisted. (A leader
  // may send its MsgApp before its own write finishes, thesis 10.2.1.)
  std::vector<raftpb::Message> messages;
  // Whether the hard state and entries must be fsynced before messages go
  // out: a vote, a term change or new entries.
  bool must_sync = false;

  bool contains_updates() const;
  // The highest index the application will have applied after this Ready.
  uint64_t applied_cursor() const;
};

struct ProgressStatus {
  uint64_t match = 0;
  uint64_t next = 0;
  tracker::ProgressState state = tracker::ProgressState::kProbe;
  bool is_learner = false;
  bool paused = false;
  size_t inflight = 0;
};

struct NodeStatus {
  MemberId id;
  Term term;
  MemberId vote;
  MemberId lead;
  Index commit;
  Index applied;
  StateType raft_state = StateType::kFollower;
  MemberId lead_transferee;
  tracker::Config config;
  // Leaders only: every member's progress.
  std::map<NodeId, ProgressStatus> progress;
};

enum class SnapshotStatus { kFinish, kFailure };

// A member of the initial configuration; `context` travels in its
// ConfChange entry (etcd puts the member's JSON there).
struct Peer {
  NodeId id = kNone;
  std::string context;
};

class RawNode {
 public:
  // Errors from Config::validate are returned.
  static Result<std::unique_ptr<RawNode>> create(Config config);

  // Writes the initial configuration of a new cluster (every peer a voter)
  // as conf change entries at term 1, as etcd's bootstrap does. Only on an
  // empty storage.
  Status bootstrap(const std::vector<Peer>& peers);
  Status bootstrap(const std::vector<NodeId>& ids);

  void tick() { raft_->tick(); }
  Status campaign();
  Status propose(std::string data);
  Status propose_conf_change(const raftpb::ConfChange& cc);
  Status propose_conf_change(const raftpb::ConfChangeV2& cc);
  raftpb::ConfState apply_conf_change(const raftpb::ConfChange& cc);
  raftpb::ConfState apply_conf_change(const raftpb::ConfChangeV2& cc);
  // A message from a peer. Local message types are refused.
  Status step(raftpb::Message m);
  bool has_ready() const;
  Ready ready();
  void advance(const Ready& rd);
  NodeStatus status() const;
  void report_unreachable(NodeId id);
  void report_snapshot(NodeId id, SnapshotStatus status);
  void transfer_leader(NodeId transferee);
  // Requests a linearizable read; a ReadState with `ctx` comes in a later Ready.
  void read_index(std::string ctx);

  Raft& raft() { return *raft_; }
  const Raft& raft() const { return *raft_; }

 private:
  explicit RawNode(Config config);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  raftpb::HardState prev_hard_state_;
};

}  // namespace etcd::raft
