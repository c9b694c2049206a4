// The Raft log as the state machine sees it: the stable part in Storage and
// an unstable tail (entries and possibly a snapshot) not yet persisted.
//
//   snapshot/first.....applied....committed....stable.....last
//   -----------|----------|------------|----------|---------|
//              storage (persisted)                unstable
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "raft/storage.h"
#include "raft/types.h"

namespace etcd::raft {

// Entries (and a snapshot) received but not yet written to Storage.
// entries[i] has index offset + i. Owned by RaftLog.
struct Unstable {
  std::optional<raftpb::Snapshot> snapshot;
  std::vector<raftpb::Entry> entries;
  uint64_t offset = 0;

  std::optional<uint64_t> maybe_first_index() const;
  std::optional<uint64_t> maybe_last_index() const;
  std::optional<uint64_t> maybe_term(uint64_t i) const;
  void stable_to(uint64_t i, uint64_t t);
  void stable_snap_to(uint64_t i);
  void restore(const raftpb::Snapshot& s);
  void truncate_and_append(const std::vector<raftpb::Entry>& ents);
  std::vector<raftpb::Entry> slice(uint64_t lo, uint64_t hi) const;
};

class RaftLog {
 public:
  RaftLog(const Storage& storage, uint64_t max_next_ents_size);

  // Appends from a leader's MsgApp: if the entry at `index` has `log_term`,
  // resolves conflicts, appends and advances commit; returns the last new
  // index, or nothing when the terms do not match.
  std::optional<uint64_t> maybe_append(uint64_t index, uint64_t log_term, uint64_t committed,
                                       const std::vector<raftpb::Entry>& ents);
  uint64_t append(const std::vector<raftpb::Entry>& ents);
  // The index of the first entry whose term differs from ours (0 if none).
  uint64_t find_conflict(const std::vector<raftpb::Entry>& ents) const;
  // The largest index <= `index` whose term is <= `term` (fast backtracking
  // of a rejected append); 0 when none is known.
  uint64_t find_conflict_by_term(uint64_t index, uint64_t term) const;

  const std::vector<raftpb::Entry>& unstable_entries() const { return unstable_.entries; }
  bool has_unstable_entries() const { return !unstable_.entries.empty(); }
  // Committed entries not yet applied, up to max_next_ents_size bytes.
  std::vector<raftpb::Entry> next_ents() const;
  bool has_next_ents() const;
  bool has_pending_snapshot() const;
  Result<raftpb::Snapshot> snapshot() const;
  const std::optional<raftpb::Snapshot>& unstable_snapshot() const { return unstable_.snapshot; }

  uint64_t first_index() const;
  uint64_t last_index() const;
  uint64_t last_term() const;
  Result<uint64_t> term(uint64_t i) const;
  // term(i), or 0 when unknown (compacted or beyond the log).
  uint64_t zero_term_on_err_compacted(uint64_t i) const;
  Result<std::vector<raftpb::Entry>> entries(uint64_t i, uint64_t max_size) const;
  std::vector<raftpb::Entry> all_entries() const;
  // Whether a log ending at (lasti, term) is at least as up to date as ours
  // (Raft thesis 3.6.1).
  bool is_up_to_date(uint64_t lasti, uint64_t term) const;
  bool match_term(uint64_t i, uint64_t term) const;
  // Commits max_index if its term is `term` (only entries of the current
  // term commit by counting, thesis 3.6.2 / Figure 3.7).
  bool maybe_commit(uint64_t max_index, uint64_t term);
  void restore(const raftpb::Snapshot& s);
  Result<std::vector<raftpb::Entry>> slice(uint64_t lo, uint64_t hi, uint64_t max_size) const;

  void commit_to(uint64_t to_commit);
  void applied_to(uint64_t i);
  void stable_to(uint64_t i, uint64_t t) { unstable_.stable_to(i, t); }
  void stable_snap_to(uint64_t i) { unstable_.stable_snap_to(i); }

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  // For restoring a persisted commit index.
  void set_committed(uint64_t c) { committed_ = c; }

  std::string to_string() const;

 private:
  Status check_out_of_bounds(uint64_t lo, uint64_t hi) const;

  const Storage& storage_;
  Unstable unstable_;
  // Highest index known committed on a quorum. Invariant: applied_ <= committed_.
  uint64_t committed_ = 0;
  // Highest index the application has applied.
  uint64_t applied_ = 0;
  uint64_t max_next_ents_size_;
};

}  // namespace etcd::raft
