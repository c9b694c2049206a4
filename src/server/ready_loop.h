// One member's Ready loop: the persist -> send -> apply -> advance sequence
// that turns each raft::Ready into durable state, messages and committed
// entries. It is the only copy: production's raft thread (RaftNode) and the
// deterministic simulator (src/sim) both drive this class, so the order the
// simulator proves safe is the order production follows.
//
// Owner: one thread, the one that drives it (RaftNode's raft thread, or the
// simulator's event loop). It owns the RawNode and the member's RaftStorage
// (WAL, snapshot files, raft log); nothing else touches them.
//
// Each Ready, in this order:
//   1. hooks.on_ready sees it first (soft state, observation);
//   2. a leader sends the MsgApp, MsgHeartbeat and MsgSnap of its current
//      term before its own write (thesis 10.2.1: it appends to its log in
//      parallel with its followers); every other message promises durable
//      state (a vote, an append response) and waits;
//   3. a received snapshot is saved (file, then WAL marker, both synced),
//      then the hard state and entries go to the WAL, one fdatasync when
//      must_sync or with a snapshot;
//   4. the raft log storage takes the snapshot, entries and hard state;
//   5. the remaining messages are sent;
//   6. read states are handed out, then the committed entries (and the
//      received snapshot) go to hooks.apply;
//   7. advance().
// Committed entries leave only after the WAL write, so an entry is durable
// locally before it is applied, and so before any client hears of it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/log.h"
#include "raft/rawnode.h"
#include "server/raft_storage.h"

namespace etcd::server {

// Sends raft messages to peers (a single member has none to reach).
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(std::vector<raftpb::Message> msgs) = 0;
};

// What the state machine receives from one Ready: committed entries and,
// before them, a snapshot received from the leader.
struct ApplyBatch {
  std::vector<raftpb::Entry> entries;
  raftpb::Snapshot snapshot;
};

class ReadyLoop {
 public:
  struct Hooks {
    // First look at every Ready; may be empty.
    std::function<void(const raft::Ready&)> on_ready;
    std::function<void(const raft::ReadState&)> on_read_state;
    // A hard state, once written (durable when the Ready asked for a sync).
    std::function<void(const raftpb::HardState&)> on_persisted;
    // Committed entries and a received snapshot, once durable.
    std::function<void(ApplyBatch)> apply;
  };

  ReadyLoop(RaftStorage storage, std::unique_ptr<raft::RawNode> node, Transport& transport,
            Hooks hooks, log::Logger* logger = nullptr);

  raft::RawNode& node() { return *node_; }
  RaftStorage& storage() { return storage_; }

  bool has_ready() const { return node_->has_ready(); }
  // Handles one Ready as described above. A failed write PANICs (the WAL
  // and snapshotter do for a failed fsync): the state on disk is unknown.
  void handle_ready();
  // Handles Readies until there is none.
  void drain() {
    while (has_ready()) handle_ready();
  }

  // A snapshot of the state machine at `index` (its data is `data`; a
  // server's backend holds the state itself, so it passes none): saved and
  // recorded in the WAL, the WAL released below it, and the raft log
  // compacted keeping `catch_up` entries for slow followers. A snapshot not
  // newer than the stored one is skipped (kFailedPrecondition).
  Status snapshot(uint64_t index, const raftpb::ConfState& cs, std::string data, uint64_t catch_up);

 private:
  // The snapshot file, its WAL marker (both synced), then the purge of old
  // snapshot files.
  void save_snapshot(const raftpb::Snapshot& snap);

  RaftStorage storage_;
  std::unique_ptr<raft::RawNode> node_;
  Transport& transport_;
  Hooks hooks_;
  log::Logger* logger_;
};

}  // namespace etcd::server
