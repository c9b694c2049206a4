// The log storage the Raft state machine reads (etcd raft's Storage): the
// persisted hard state and configuration, entries, their terms and the
// latest snapshot. Raft only reads it; the caller writes to it after
// persisting each Ready. MemoryStorage keeps everything in memory (tests,
// the simulation, and the read side of the WAL-backed storage).
#pragma once

#include <mutex>
#include <vector>

#include "base/ids.h"
#include "base/mutex.h"
#include "base/status.h"
#include "raftpb/raft.pb.h"

namespace etcd::raft {

// Errors a Storage returns, recognised by the library.
Status err_compacted();    // the index is below the first available one
Status err_unavailable();  // the index is above the last one
Status err_snap_out_of_date();
Status err_snapshot_temporarily_unavailable();
bool is_compacted(const Status& s);
bool is_unavailable(const Status& s);
bool is_snapshot_temporarily_unavailable(const Status& s);

struct InitialState {
  raftpb::HardState hard_state;
  raftpb::ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual Result<InitialState> initial_state() const = 0;
  // Entries in [lo, hi), at least one when any, and no more than max_size
  // bytes beyond the first.
  virtual Result<std::vector<raftpb::Entry>> entries(Index lo, Index hi,
                                                     uint64_t max_size) const = 0;
  // The term of entry i, in [first_index - 1, last_index].
  virtual Result<Term> term(Index i) const = 0;
  virtual Result<Index> last_index() const = 0;
  // The first index available through entries(); older ones are compacted.
  virtual Result<Index> first_index() const = 0;
  virtual Result<raftpb::Snapshot> snapshot() const = 0;
};

class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  Result<InitialState> initial_state() const override;
  Result<std::vector<raftpb::Entry>> entries(Index lo, Index hi, uint64_t max_size) const override;
  Result<Term> term(Index i) const override;
  Result<Index> last_index() const override;
  Result<Index> first_index() const override;
  Result<raftpb::Snapshot> snapshot() const override;

  void set_hard_state(const raftpb::HardState& hs);
  // Replaces the contents with a snapshot; err_snap_out_of_date if older.
  Status apply_snapshot(const raftpb::Snapshot& snap);
  // Records a snapshot at index i (<= last index) with the given state.
  Result<raftpb::Snapshot> create_snapshot(Index i, const raftpb::ConfState* cs,
                                           const std::string& data);
  // Discards entries before index i.
  Status compact(Index i);
  // Appends entries, truncating any conflicting suffix. Entries must be
  // contiguous and not older than the first index - 1.
  Status append(const std::vector<raftpb::Entry>& entries);

 private:
  uint64_t first_index_locked() const { return ents_[0].index() + 1; }
  uint64_t last_index_locked() const { return ents_[0].index() + ents_.size() - 1; }

  mutable Mutex mu_;
  raftpb::HardState hard_state_;
  raftpb::Snapshot snapshot_;
  // ents_[0] is a dummy holding the snapshot's index and term.
  std::vector<raftpb::Entry> ents_;
};

// Entries whose total size stays within max_size (at least one entry).
void limit_size(std::vector<raftpb::Entry>* ents, uint64_t max_size);
uint64_t entries_size(const std::vector<raftpb::Entry>& ents);

}  // namespace etcd::raft
