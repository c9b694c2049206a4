// The invariant checker of the simulation. It knows nothing of RawNode: the
// world reports what it observes after every step (leaders, log entries,
// commit indexes, applied entries, read states) and the checker keeps the
// global history those observations must agree with. The first violation
// is kept; later ones are ignored (the run stops at the first).
//
// The invariants (Raft thesis Figure 3.2 and 6.4):
//   1. election safety: at most one leader per term, across the whole run;
//   2. log matching: two logs holding an entry with the same index and term
//      are identical up to it;
//   3. leader completeness: a leader's log holds every entry committed
//      in an earlier term (a stale leader of an older term, elected late
//      by delayed votes, need not hold entries committed after its term);
//   4. state-machine safety: no two members apply different entries at the
//      same index, and an installed snapshot holds exactly what was applied;
//   5. no committed entry is lost: the committed prefix never changes;
//   6. ReadIndex linearizability: a read returns an index at least the
//      highest index known committed when the read was issued;
//   7. liveness: reported by the world when a healed cluster fails to
//      commit in time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"

namespace etcd::sim {

using raft::NodeId;

struct Violation {
  std::string invariant;  // "election-safety", "log-matching", ...
  std::string detail;
};

// A member's log as the leader-completeness check reads it.
struct LogView {
  // Index and term of the snapshot (or compaction point) the log starts
  // after; entries in (snapshot_index, last_index] are available.
  uint64_t snapshot_index = 0;
  uint64_t snapshot_term = 0;
  uint64_t last_index = 0;
  // Term of an entry in (snapshot_index, last_index].
  std::function<uint64_t(uint64_t)> term_at;
};

class Checker {
 public:
  bool failed() const { return violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }
  // Records a violation found outside the checker (liveness, a panic).
  void fail(std::string invariant, std::string detail);

  // (1) `id` is leader of `term` now. Returns true the first time this
  // (term, id) is seen: the caller then runs check_new_leader().
  bool observe_leader(NodeId id, uint64_t term);
  // (3) The log of a leader that just took office (term `term`).
  void check_new_leader(NodeId id, uint64_t term, const LogView& log);

  // (2) `id` holds entry (index, term) whose predecessor has `prev_term`
  // (nullopt when the predecessor is compacted and unknown). `digest`
  // identifies the entry's type and payload.
  void observe_entry(NodeId id, uint64_t index, uint64_t term, std::optional<uint64_t> prev_term,
                     const std::string& digest);

  // (5) `id`, now in term `node_term`, knows the entry (index, term)
  // committed. The entry was committed in a term <= node_term (a member
  // learns a commit from a leader of its term or an older one); the
  // smallest such term seen bounds the term it was committed in.
  void observe_committed(NodeId id, uint64_t index, uint64_t term, uint64_t node_term);
  // The highest index known committed by anyone so far.
  uint64_t max_committed() const { return committed_term_.size() - 1; }
  uint64_t committed_term(uint64_t index) const {
    return index < committed_term_.size() ? committed_term_[index] : 0;
  }

  // (4) `id` applied entry (index, term) with `digest`.
  void observe_applied(NodeId id, uint64_t index, uint64_t term, const std::string& digest);
  // (4) `id` installed a snapshot at `index` whose state machine holds
  // `payloads` (the applied normal entries, in order). Compared with what
  // was applied at indexes 1..index.
  void observe_snapshot_state(NodeId id, uint64_t index, const std::vector<std::string>& payloads);
  uint64_t max_applied() const { return applied_.size() - 1; }
  // Distinct normal payloads applied (statistics).
  uint64_t applied_payloads() const { return applied_payloads_; }

  // (6) A ReadIndex request with `ctx` is issued at simulated time `time`:
  // remembers the highest index known committed then (no write
  // acknowledged before the read started can be above it).
  void read_issued(const std::string& ctx, uint64_t time);
  // (6) A ReadState came back for `ctx` at `index` on member `id`.
  void observe_read_state(NodeId id, const std::string& ctx, uint64_t index);

  // Read-only access for statistics.
  size_t leaders_seen() const { return leader_of_term_.size(); }

 private:
  struct EntryRecord {
    uint64_t term = 0;
    std::optional<uint64_t> prev_term;
    std::string digest;
    NodeId first_seen_on = 0;
  };
  struct AppliedRecord {
    bool known = false;
    uint64_t term = 0;
    std::string digest;
    NodeId first_applied_on = 0;
  };

  std::optional<Violation> violation_;
  // (1) term -> leader.
  std::map<uint64_t, NodeId> leader_of_term_;
  // (2) index -> the entries ever seen at that index, one per term.
  std::vector<std::vector<EntryRecord>> entries_ = std::vector<std::vector<EntryRecord>>(1);
  // (5) index -> term of the committed entry (0: not known yet). Index 0
  // is a sentinel; the vector grows as commits are observed.
  std::vector<uint64_t> committed_term_ = std::vector<uint64_t>(1, 0);
  std::vector<NodeId> committed_by_ = std::vector<NodeId>(1, 0);
  // index -> an upper bound of the term in which it was committed.
  std::vector<uint64_t> committed_in_term_ = std::vector<uint64_t>(1, 0);
  // (4) index -> what was applied there.
  std::vector<AppliedRecord> applied_ = std::vector<AppliedRecord>(1);
  uint64_t applied_payloads_ = 0;
  // (6) ctx -> the commit floor and the time of issue.
  struct ReadRecord {
    uint64_t floor = 0;
    uint64_t time = 0;
  };
  std::map<std::string, ReadRecord> reads_;
};

}  // namespace etcd::sim
