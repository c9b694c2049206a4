#include "raft/raft_log.h"

#include <algorithm>

namespace etcd::raft {

// ---- Unstable ----

std::optional<uint64_t> Unstable::maybe_first_index() const {
  if (snapshot) return snapshot->metadata().index() + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::maybe_last_index() const {
  if (!entries.empty()) return offset + entries.size() - 1;
  if (snapshot) return snapshot->metadata().index();
  return std::nullopt;
}

std::optional<uint64_t> Unstable::maybe_term(uint64_t i) const {
  if (i < offset) {
    if (snapshot && snapshot->metadata().index() == i) return snapshot->metadata().term();
    return std::nullopt;
  }
  auto last = maybe_last_index();
  if (!last || i > *last) return std::nullopt;
  return entries[i - offset].term();
}

void Unstable::stable_to(uint64_t i, uint64_t t) {
  auto gt = maybe_term(i);
  if (!gt) return;
  // Only entries the caller actually persisted: a newer leader may have
  // replaced them with entries of another term meanwhile.
  if (*gt == t && i >= offset) {
    entries.erase(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(i + 1 - offset));
    offset = i + 1;
  }
}

void Unstable::stable_snap_to(uint64_t i) {
  if (snapshot && snapshot->metadata().index() == i) snapshot.reset();
}

void Unstable::restore(const raftpb::Snapshot& s) {
  offset = s.metadata().index() + 1;
  entries.clear();
  snapshot = s;
}

void Unstable::truncate_and_append(const std::vector<raftpb::Entry>& ents) {
  uint64_t after = ents.front().index();
  if (after == offset + entries.size()) {
    entries.insert(entries.end(), ents.begin(), ents.end());
  } else if (after <= offset) {
    // Replaces the whole unstable tail.
    offset = after;
    entries = ents;
  } else {
    // Keeps [offset, after), then appends.
    entries = slice(offset, after);
    entries.insert(entries.end(), ents.begin(), ents.end());
  }
}

std::vector<raftpb::Entry> Unstable::slice(uint64_t lo, uint64_t hi) const {
  ASSERT(lo <= hi, "invalid unstable slice");
  ASSERT(lo >= offset && hi <= offset + entries.size(), "unstable slice out of bound");
  return {entries.begin() + static_cast<ptrdiff_t>(lo - offset),
          entries.begin() + static_cast<ptrdiff_t>(hi - offset)};
}

// ---- RaftLog ----

RaftLog::RaftLog(const Storage& storage, uint64_t max_next_ents_size)
    : storage_(storage), max_next_ents_size_(max_next_ents_size) {
  auto first = storage.first_index();
  auto last = storage.last_index();
  ASSERT(first.is_ok() && last.is_ok(), "storage has no first/last index");
  unstable_.offset = last->value() + 1;
  committed_ = first->value() - 1;
  applied_ = first->value() - 1;
}

std::optional<uint64_t> RaftLog::maybe_append(uint64_t index, uint64_t log_term, uint64_t committed,
                                              const std::vector<raftpb::Entry>& ents) {
  if (!match_term(index, log_term)) return std::nullopt;
  uint64_t lastnewi = index + ents.size();
  uint64_t ci = find_conflict(ents);
  if (ci != 0) {
    ASSERT(ci > committed_, "entry conflicts with a committed entry");
    std::vector<raftpb::Entry> tail(ents.begin() + static_cast<ptrdiff_t>(ci - (index + 1)),
                                    ents.end());
    append(tail);
  }
  commit_to(std::min(committed, lastnewi));
  return lastnewi;
}

uint64_t RaftLog::append(const std::vector<raftpb::Entry>& ents) {
  if (ents.empty()) return last_index();
  ASSERT(ents.front().index() - 1 >= committed_, "append below the committed index");
  unstable_.truncate_and_append(ents);
  return last_index();
}

uint64_t RaftLog::find_conflict(const std::vector<raftpb::Entry>& ents) const {
  for (const auto& e : ents) {
    if (!match_term(e.index(), e.term())) return e.index();
  }
  return 0;
}

uint64_t RaftLog::find_conflict_by_term(uint64_t index, uint64_t term) const {
  if (index > last_index()) return index;
  while (true) {
    auto t = this->term(index);
    if (!t.is_ok() || *t <= term) break;
    --index;
  }
  return index;
}

std::vector<raftpb::Entry> RaftLog::next_ents() const {
  uint64_t off = std::max(applied_ + 1, first_index());
  if (committed_ + 1 > off) {
    auto ents = slice(off, committed_ + 1, max_next_ents_size_);
    ASSERT(ents.is_ok(), "unexpected error when getting unapplied entries");
    return std::move(ents).value();
  }
  return {};
}

bool RaftLog::has_next_ents() const {
  uint64_t off = std::max(applied_ + 1, first_index());
  return committed_ + 1 > off;
}

bool RaftLog::has_pending_snapshot() const {
  return unstable_.snapshot.has_value() && unstable_.snapshot->metadata().index() != 0;
}

Result<raftpb::Snapshot> RaftLog::snapshot() const {
  if (unstable_.snapshot) return *unstable_.snapshot;
  return storage_.snapshot();
}

uint64_t RaftLog::first_index() const {
  if (auto i = unstable_.maybe_first_index()) return *i;
  auto i = storage_.first_index();
  ASSERT(i.is_ok(), "storage first_index failed");
  return i->value();
}

uint64_t RaftLog::last_index() const {
  if (auto i = unstable_.maybe_last_index()) return *i;
  auto i = storage_.last_index();
  ASSERT(i.is_ok(), "storage last_index failed");
  return i->value();
}

uint64_t RaftLog::last_term() const {
  auto t = term(last_index());
  ASSERT(t.is_ok(), "unexpected error when getting the last term");
  return *t;
}

Result<uint64_t> RaftLog::term(uint64_t i) const {
  // The valid range is [first_index - 1, last_index].
  uint64_t dummy = first_index() - 1;
  if (i < dummy || i > last_index()) return uint64_t{0};
  if (auto t = unstable_.maybe_term(i)) return *t;
  auto t = storage_.term(Index(i));
  if (t.is_ok()) return t->value();
  if (is_compacted(t.status()) || is_unavailable(t.status())) return t.status();
  PANIC("unexpected storage error: " + t.status().to_string());
}

uint64_t RaftLog::zero_term_on_err_compacted(uint64_t i) const {
  auto t = term(i);
  if (t.is_ok()) return *t;
  ASSERT(is_compacted(t.status()), "unexpected error: " + t.status().to_string());
  return 0;
}

Result<std::vector<raftpb::Entry>> RaftLog::entries(uint64_t i, uint64_t max_size) const {
  if (i > last_index()) return std::vector<raftpb::Entry>{};
  return slice(i, last_index() + 1, max_size);
}

std::vector<raftpb::Entry> RaftLog::all_entries() const {
  auto ents = entries(first_index(), kNoLimit);
  if (ents.is_ok()) return std::move(ents).value();
  ASSERT(is_compacted(ents.status()), "unexpected error: " + ents.status().to_string());
  return all_entries();  // racing with a compaction: retry
}

bool RaftLog::is_up_to_date(uint64_t lasti, uint64_t t) const {
  return t > last_term() || (t == last_term() && lasti >= last_index());
}

bool RaftLog::match_term(uint64_t i, uint64_t t) const {
  auto lt = term(i);
  return lt.is_ok() && *lt == t;
}

bool RaftLog::maybe_commit(uint64_t max_index, uint64_t t) {
  if (max_index > committed_ && zero_term_on_err_compacted(max_index) == t) {
    commit_to(max_index);
    return true;
  }
  return false;
}

void RaftLog::restore(const raftpb::Snapshot& s) {
  committed_ = s.metadata().index();
  unstable_.restore(s);
}

void RaftLog::commit_to(uint64_t to_commit) {
  if (committed_ < to_commit) {
    ASSERT(last_index() >= to_commit,
           "commit index is out of range: the log is corrupt, "
           "truncated or lost");
    committed_ = to_commit;
  }
}

void RaftLog::applied_to(uint64_t i) {
  if (i == 0) return;
  ASSERT(committed_ >= i && i >= applied_, "applied index out of range");
  applied_ = i;
}

Status RaftLog::check_out_of_bounds(uint64_t lo, uint64_t hi) const {
  ASSERT(lo <= hi, "invalid slice");
  uint64_t fi = first_index();
  if (lo < fi) return err_compacted();
  ASSERT(hi <= last_index() + 1, "slice out of bound");
  return Status::ok();
}

Result<std::vector<raftpb::Entry>> RaftLog::slice(uint64_t lo, uint64_t hi,
                                                  uint64_t max_size) const {
  RETURN_IF_ERROR(check_out_of_bounds(lo, hi));
  std::vector<raftpb::Entry> ents;
  if (lo == hi) return ents;
  if (lo < unstable_.offset) {
    auto stored = storage_.entries(Index(lo), Index(std::min(hi, unstable_.offset)), max_size);
    if (!stored.is_ok()) {
      if (is_compacted(stored.status())) return stored.status();
      if (is_unavailable(stored.status())) {
        PANIC("entries are unavailable from storage");
      }
      PANIC("unexpected storage error: " + stored.status().to_string());
    }
    ents = std::move(stored).value();
    // A size-limited read from storage: do not add unstable entries.
    if (ents.size() < std::min(hi, unstable_.offset) - lo) return ents;
  }
  if (hi > unstable_.offset) {
    auto tail = unstable_.slice(std::max(lo, unstable_.offset), hi);
    ents.insert(ents.end(), tail.begin(), tail.end());
  }
  limit_size(&ents, max_size);
  return ents;
}

std::string RaftLog::to_string() const {
  return "committed=" + std::to_string(committed_) + ", applied=" + std::to_string(applied_) +
         ", unstable.offset=" + std::to_string(unstable_.offset) +
         ", len(unstable.Entries)=" + std::to_string(unstable_.entries.size());
}

}  // namespace etcd::raft
