#include "raft/storage.h"

#include "raft/types.h"

namespace etcd::raft {

Status err_compacted() {
  return Status(Code::kOutOfRange, "requested index is unavailable due to compaction");
}
Status err_unavailable() {
  return Status(Code::kNotFound, "requested entry at index is unavailable");
}
Status err_snap_out_of_date() {
  return Status(Code::kFailedPrecondition, "requested index is older than the existing snapshot");
}
Status err_snapshot_temporarily_unavailable() {
  return Status(Code::kUnavailable, "snapshot is temporarily unavailable");
}
bool is_compacted(const Status& s) { return s.code() == Code::kOutOfRange; }
bool is_unavailable(const Status& s) { return s.code() == Code::kNotFound; }
bool is_snapshot_temporarily_unavailable(const Status& s) { return s.code() == Code::kUnavailable; }

uint64_t entries_size(const std::vector<raftpb::Entry>& ents) {
  uint64_t n = 0;
  for (const auto& e : ents) n += e.ByteSizeLong();
  return n;
}

void limit_size(std::vector<raftpb::Entry>* ents, uint64_t max_size) {
  if (ents->empty()) return;
  uint64_t size = (*ents)[0].ByteSizeLong();
  size_t limit = 1;
  for (; limit < ents->size(); ++limit) {
    size += (*ents)[limit].ByteSizeLong();
    if (size > max_size) break;
  }
  ents->resize(limit);
}

MemoryStorage::MemoryStorage() { ents_.emplace_back(); }

Result<InitialState> MemoryStorage::initial_state() const {
  MutexLock lock(&mu_);
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

void MemoryStorage::set_hard_state(const raftpb::HardState& hs) {
  MutexLock lock(&mu_);
  hard_state_ = hs;
}

Result<std::vector<raftpb::Entry>> MemoryStorage::entries(Index lo_id, Index hi_id,
                                                          uint64_t max_size) const {
  MutexLock lock(&mu_);
  uint64_t lo = lo_id.value();
  uint64_t hi = hi_id.value();
  uint64_t offset = ents_[0].index();
  if (lo <= offset) return err_compacted();
  ASSERT(hi <= last_index_locked() + 1, "entries' hi is out of bound");
  if (ents_.size() == 1) return err_unavailable();  // only the dummy
  std::vector<raftpb::Entry> out(ents_.begin() + static_cast<ptrdiff_t>(lo - offset),
                                 ents_.begin() + static_cast<ptrdiff_t>(hi - offset));
  limit_size(&out, max_size);
  return out;
}

Result<Term> MemoryStorage::term(Index i_id) const {
  MutexLock lock(&mu_);
  uint64_t i = i_id.value();
  uint64_t offset = ents_[0].index();
  if (i < offset) return err_compacted();
  if (i - offset >= ents_.size()) return err_unavailable();
  return Term(ents_[i - offset].term());
}

Result<Index> MemoryStorage::last_index() const {
  MutexLock lock(&mu_);
  return Index(last_index_locked());
}

Result<Index> MemoryStorage::first_index() const {
  MutexLock lock(&mu_);
  return Index(first_index_locked());
}

Result<raftpb::Snapshot> MemoryStorage::snapshot() const {
  MutexLock lock(&mu_);
  return snapshot_;
}

Status MemoryStorage::apply_snapshot(const raftpb::Snapshot& snap) {
  MutexLock lock(&mu_);
  if (snapshot_.metadata().index() >= snap.metadata().index()) return err_snap_out_of_date();
  snapshot_ = snap;
  ents_.clear();
  raftpb::Entry dummy;
  dummy.set_index(snap.metadata().index());
  dummy.set_term(snap.metadata().term());
  ents_.push_back(std::move(dummy));
  return Status::ok();
}

Result<raftpb::Snapshot> MemoryStorage::create_snapshot(Index i_id, const raftpb::ConfState* cs,
                                                        const std::string& data) {
  MutexLock lock(&mu_);
  uint64_t i = i_id.value();
  if (i <= snapshot_.metadata().index()) return err_snap_out_of_date();
  uint64_t offset = ents_[0].index();
  ASSERT(i <= last_index_locked(), "snapshot index is out of bound");
  snapshot_.mutable_metadata()->set_index(i);
  snapshot_.mutable_metadata()->set_term(ents_[i - offset].term());
  if (cs != nullptr) *snapshot_.mutable_metadata()->mutable_conf_state() = *cs;
  snapshot_.set_data(data);
  return snapshot_;
}

Status MemoryStorage::compact(Index i_id) {
  MutexLock lock(&mu_);
  uint64_t i = i_id.value();
  uint64_t offset = ents_[0].index();
  if (i <= offset) return err_compacted();
  ASSERT(i <= last_index_locked(), "compact index is out of bound");
  size_t k = i - offset;
  std::vector<raftpb::Entry> kept;
  kept.reserve(ents_.size() - k);
  raftpb::Entry dummy;
  dummy.set_index(ents_[k].index());
  dummy.set_term(ents_[k].term());
  kept.push_back(std::move(dummy));
  for (size_t j = k + 1; j < ents_.size(); ++j) kept.push_back(std::move(ents_[j]));
  ents_ = std::move(kept);
  return Status::ok();
}

Status MemoryStorage::append(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return Status::ok();
  MutexLock lock(&mu_);
  uint64_t first = first_index_locked();
  uint64_t last = entries.front().index() + entries.size() - 1;
  if (last < first) return Status::ok();  // entirely compacted away
  size_t skip = first > entries.front().index() ? first - entries.front().index() : 0;
  uint64_t start = entries[skip].index();
  uint64_t offset = start - ents_[0].index();
  ASSERT(offset <= ents_.size(), "missing log entries before an append");
  ents_.resize(offset);
  for (size_t j = skip; j < entries.size(); ++j) ents_.push_back(entries[j]);
  return Status::ok();
}

}  // namespace etcd::raft
