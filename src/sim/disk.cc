#include "sim/disk.h"

namespace etcd::sim {

void Disk::sync() {
  if (lying_fsync_) return;
  for (const WalRecord& r : unsynced_) apply(durable_, r);
  unsynced_.clear();
}

void Disk::crash(Rng& rng) {
  // Any prefix, including none and all, may have been written back.
  size_t keep = static_cast<size_t>(rng.uniform(unsynced_.size() + 1));
  if (lying_fsync_) keep = 0;  // the lie is discovered only now
  for (size_t i = 0; i < keep; ++i) apply(durable_, unsynced_[i]);
  unsynced_.clear();
}

void Disk::apply(DiskState& d, const WalRecord& r) {
  if (r.snapshot) {
    uint64_t si = r.snapshot->metadata().index();
    if (si > d.snapshot.metadata().index()) {
      if (r.kind == WalRecord::Kind::kReady) {
        // Raft restored the snapshot and discarded its whole log; the WAL
        // replay must not resurrect entries it dropped.
        d.entries.clear();
      } else {
        // A local compaction keeps the entries after the snapshot.
        std::vector<raftpb::Entry> kept;
        for (auto& e : d.entries) {
          if (e.index() > si) kept.push_back(std::move(e));
        }
        d.entries = std::move(kept);
      }
      d.snapshot = *r.snapshot;
    }
  }
  if (!r.entries.empty()) {
    uint64_t first = r.entries.front().index();
    uint64_t snap = d.snapshot.metadata().index();
    // Truncate the conflicting suffix, as MemoryStorage::append and the WAL
    // replay do, then append what lies after the snapshot.
    while (!d.entries.empty() && d.entries.back().index() >= first) d.entries.pop_back();
    for (const auto& e : r.entries) {
      if (e.index() > snap) d.entries.push_back(e);
    }
  }
  if (r.hard_state) d.hard_state = *r.hard_state;
}

}  // namespace etcd::sim
