// A simulated disk for one member: a write-ahead log whose records are
// durable only once synced. It models what etcd's server relies on:
//   - each Ready is written as one WAL record (snapshot, entries, hard
//     state), fsynced when the Ready says must_sync (or carries a snapshot);
//   - an fsync makes every earlier record durable (the WAL is one file);
//   - a crash keeps the synced records and a random prefix of the unsynced
//     ones (the kernel may have written some pages back), never a hole.
// Restart rebuilds the member from durable() alone.
#pragma once

#include <optional>
#include <vector>

#include "base/rng.h"
#include "raftpb/raft.pb.h"

namespace etcd::sim {

// What survived on disk: the state a restarted member boots from.
struct DiskState {
  raftpb::HardState hard_state;
  // The latest snapshot (the bootstrap one at index 1 at first).
  raftpb::Snapshot snapshot;
  // Entries after snapshot.metadata().index(), contiguous.
  std::vector<raftpb::Entry> entries;
};

// One WAL record: either what one Ready asked to persist, or a local
// compaction (a snapshot the member took of its own state machine).
struct WalRecord {
  enum class Kind { kReady, kCompaction };
  Kind kind = Kind::kReady;
  // kReady: a snapshot received from the leader replaces the whole log.
  // kCompaction: the member's own snapshot; entries up to it are dropped.
  std::optional<raftpb::Snapshot> snapshot;
  std::vector<raftpb::Entry> entries;
  std::optional<raftpb::HardState> hard_state;
};

class Disk {
 public:
  // A disk holding `initial` durably (the bootstrap state).
  explicit Disk(DiskState initial) : durable_(std::move(initial)) {}

  // Appends a record to the OS page cache: not durable until sync().
  void write(WalRecord r) { unsynced_.push_back(std::move(r)); }
  // fsync: every record written so far becomes durable. With `lying_fsync`
  // (a test hook modelling a disk that acknowledges fsync without writing)
  // nothing happens.
  void sync();
  // The process died: a random prefix of the unsynced records reaches the
  // platter, the rest is lost.
  void crash(Rng& rng);

  const DiskState& durable() const { return durable_; }
  size_t unsynced_records() const { return unsynced_.size(); }
  void set_lying_fsync(bool v) { lying_fsync_ = v; }

 private:
  static void apply(DiskState& d, const WalRecord& r);

  DiskState durable_;
  std::vector<WalRecord> unsynced_;
  bool lying_fsync_ = false;
};

}  // namespace etcd::sim
