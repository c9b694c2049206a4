#include "sim/checker.h"

#include <algorithm>

namespace etcd::sim {
namespace {

std::string str(uint64_t v) { return std::to_string(v); }

std::string show_prev(std::optional<uint64_t> t) { return t ? str(*t) : std::string("?"); }

}  // namespace

void Checker::fail(std::string invariant, std::string detail) {
  if (violation_) return;
  violation_ = Violation{std::move(invariant), std::move(detail)};
}

bool Checker::observe_leader(NodeId id, uint64_t term) {
  auto [it, inserted] = leader_of_term_.emplace(term, id);
  if (!inserted && it->second != id) {
    fail("election-safety",
         "two leaders in term " + str(term) + ": " + str(it->second) + " and " + str(id));
  }
  return inserted;
}

void Checker::check_new_leader(NodeId id, uint64_t term, const LogView& log) {
  // Every entry committed in an earlier term must be in the new leader's
  // log (thesis 3.6.3). Entries it compacted are covered by its snapshot,
  // whose own index and term must then agree with the committed history.
  for (uint64_t i = std::max<uint64_t>(log.snapshot_index, 1); i <= max_committed(); ++i) {
    uint64_t ct = committed_term_[i];
    if (ct == 0 || committed_in_term_[i] >= term) continue;
    std::string what = "leader " + str(id) + " of term " + str(term);
    std::string committed = "the entry committed there (term " + str(ct) + ", committed by term " +
                            str(committed_in_term_[i]) + ", seen on " + str(committed_by_[i]) + ")";
    if (i > log.last_index) {
      fail("leader-completeness", what + " has last index " + str(log.last_index) +
                                      " and misses index " + str(i) + ", " + committed);
      return;
    }
    uint64_t lt = i == log.snapshot_index ? log.snapshot_term : log.term_at(i);
    if (lt != ct) {
      fail("leader-completeness",
           what + " has term " + str(lt) + " at index " + str(i) + " but " + committed);
      return;
    }
  }
}

void Checker::observe_entry(NodeId id, uint64_t index, uint64_t term,
                            std::optional<uint64_t> prev_term, const std::string& digest) {
  if (entries_.size() <= index) entries_.resize(index + 1);
  for (EntryRecord& r : entries_[index]) {
    if (r.term != term) continue;
    // Same index and term: the same entry (one leader per term appends
    // once per index), and by induction the same predecessor.
    if (r.digest != digest) {
      fail("log-matching", "entry " + str(index) + "/" + str(term) + " differs on members " +
                               str(r.first_seen_on) + " and " + str(id) + ": [" + r.digest +
                               "] vs [" + digest + "]");
      return;
    }
    if (prev_term && r.prev_term && *prev_term != *r.prev_term) {
      fail("log-matching", "entry " + str(index) + "/" + str(term) + " follows term " +
                               show_prev(r.prev_term) + " on member " + str(r.first_seen_on) +
                               " but term " + show_prev(prev_term) + " on member " + str(id));
      return;
    }
    if (!r.prev_term) r.prev_term = prev_term;
    return;
  }
  entries_[index].push_back(EntryRecord{term, prev_term, digest, id});
}

void Checker::observe_committed(NodeId id, uint64_t index, uint64_t term, uint64_t node_term) {
  if (index == 0) return;
  if (committed_term_.size() <= index) {
    committed_term_.resize(index + 1, 0);
    committed_by_.resize(index + 1, 0);
    committed_in_term_.resize(index + 1, 0);
  }
  uint64_t& ct = committed_term_[index];
  if (ct == 0) {
    ct = term;
    committed_by_[index] = id;
    committed_in_term_[index] = node_term;
    return;
  }
  if (ct != term) {
    fail("committed-entry-lost", "index " + str(index) + " was committed with term " + str(ct) +
                                     " (seen on " + str(committed_by_[index]) + ") but member " +
                                     str(id) + " has it committed with term " + str(term));
    return;
  }
  committed_in_term_[index] = std::min(committed_in_term_[index], node_term);
}

void Checker::observe_applied(NodeId id, uint64_t index, uint64_t term, const std::string& digest) {
  if (applied_.size() <= index) applied_.resize(index + 1);
  AppliedRecord& r = applied_[index];
  if (!r.known) {
    r = AppliedRecord{true, term, digest, id};
    applied_payloads_ += digest.size() > 2 && digest[0] == 'N';
    return;
  }
  if (r.term != term || r.digest != digest) {
    fail("state-machine-safety", "index " + str(index) + " applied as " + str(r.term) + ":[" +
                                     r.digest + "] on member " + str(r.first_applied_on) +
                                     " but as " + str(term) + ":[" + digest + "] on member " +
                                     str(id));
  }
}

void Checker::observe_snapshot_state(NodeId id, uint64_t index,
                                     const std::vector<std::string>& payloads) {
  // The state machine of the snapshot is the list of normal payloads
  // applied at indexes up to `index`: rebuild it from the global history.
  std::vector<std::string> expected;
  for (uint64_t i = 2; i <= index; ++i) {
    if (i >= applied_.size() || !applied_[i].known) {
      fail("state-machine-safety", "member " + str(id) + " installed a snapshot at " + str(index) +
                                       " covering index " + str(i) +
                                       " that no member ever applied");
      return;
    }
    const std::string& d = applied_[i].digest;
    if (d.size() > 2 && d[0] == 'N') expected.push_back(d.substr(2));
  }
  if (expected != payloads) {
    size_t k = 0;
    while (k < expected.size() && k < payloads.size() && expected[k] == payloads[k]) ++k;
    fail("state-machine-safety", "member " + str(id) + " installed a snapshot at " + str(index) +
                                     " holding " + str(payloads.size()) +
                                     " payloads; history has " + str(expected.size()) +
                                     "; first difference at payload #" + str(k) + ": [" +
                                     (k < payloads.size() ? payloads[k] : "") + "] vs [" +
                                     (k < expected.size() ? expected[k] : "") + "]");
  }
}

void Checker::read_issued(const std::string& ctx, uint64_t time) {
  reads_[ctx] = ReadRecord{max_committed(), time};
}

void Checker::observe_read_state(NodeId id, const std::string& ctx, uint64_t index) {
  auto it = reads_.find(ctx);
  if (it == reads_.end()) {
    fail("read-index", "member " + str(id) + " got a read state for unknown ctx " + ctx);
    return;
  }
  if (index < it->second.floor) {
    fail("read-index", "read " + ctx + " issued at t=" + str(it->second.time) +
                           " was served on member " + str(id) + " at index " + str(index) +
                           " but index " + str(it->second.floor) +
                           " was already committed when it was issued (stale read)");
  }
}

}  // namespace etcd::sim
