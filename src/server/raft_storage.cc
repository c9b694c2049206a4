#include "server/raft_storage.h"

namespace etcd::server {

Result<RaftStorage> RaftStorage::create(env::FileSystem& fs, const std::string& wal_dir,
                                        const std::string& snap_dir, std::string metadata,
                                        const RaftStorageOptions& options) {
  RaftStorage rs;
  auto w = wal::Wal::create(fs, wal_dir, metadata, options.wal);
  if (!w.is_ok()) return w.status();
  rs.wal = std::move(w).value();
  rs.snapshotter =
      std::make_unique<snap::Snapshotter>(fs, snap_dir, options.max_snapshots, options.logger);
  rs.log = std::make_unique<raft::MemoryStorage>();
  rs.metadata = std::move(metadata);
  return rs;
}

Result<RaftStorage> RaftStorage::open(env::FileSystem& fs, const std::string& wal_dir,
                                      const std::string& snap_dir,
                                      const RaftStorageOptions& options) {
  RaftStorage rs;
  rs.snapshotter =
      std::make_unique<snap::Snapshotter>(fs, snap_dir, options.max_snapshots, options.logger);
  auto loaded = rs.snapshotter->load_newest();
  while (true) {
    raftpb::Snapshot snap;
    if (loaded.is_ok()) {
      snap = std::move(loaded).value();
    } else if (loaded.status().code() != Code::kNotFound) {
      return loaded.status();
    }
    auto w = wal::Wal::open(
        fs, wal_dir, wal::WalSnapshot{Index(snap.metadata().index()), Term(snap.metadata().term())},
        options.wal);
    if (!w.is_ok()) return w.status();
    auto contents = (*w)->read_all();
    if (!contents.is_ok()) {
      if (contents.status().code() == Code::kNotFound && snap.metadata().index() > 0) {
        // The snapshot file outlived its WAL marker: use an older one.
        if (options.logger != nullptr) {
          options.logger->warn("snapshot not recorded in the WAL; trying an older one",
                               {{"snapshot-index", snap.metadata().index()},
                                {"error", contents.status().message()}});
        }
        loaded = rs.snapshotter->load_newest_below(Index(snap.metadata().index()));
        continue;
      }
      return contents.status();
    }
    // A snapshot holds committed state only, so the commit index is at
    // least its index. The hard state saved after a received snapshot may
    // be lost in a crash (its marker was synced first), leaving an older
    // commit index behind it that Raft would refuse.
    if (!raft::is_empty_snap(snap) && !raft::is_empty_hard_state(contents->hard_state) &&
        contents->hard_state.commit() < snap.metadata().index()) {
      contents->hard_state.set_commit(snap.metadata().index());
    }
    rs.wal = std::move(w).value();
    rs.log = std::make_unique<raft::MemoryStorage>();
    if (!raft::is_empty_snap(snap)) RETURN_IF_ERROR(rs.log->apply_snapshot(snap));
    rs.log->set_hard_state(contents->hard_state);
    RETURN_IF_ERROR(rs.log->append(contents->entries));
    rs.metadata = std::move(contents->metadata);
    rs.snapshot = std::move(snap);
    rs.hard_state = contents->hard_state;
    return rs;
  }
}

}  // namespace etcd::server
