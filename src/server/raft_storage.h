// A member's durable Raft state: its WAL, its snapshot files and the raft
// log rebuilt from them in memory. create() makes a new one, open() recovers
// one after a stop or a crash. Bootstrap (production) and the simulator
// (src/sim) both use it, so a restart in the simulation runs the same
// recovery code as etcd's own.
//
// Owner: whoever drives the ReadyLoop over it (single-threaded; the
// MemoryStorage alone is also read by the raft library under its own lock).
#pragma once

#include <memory>
#include <string>

#include "base/log.h"
#include "base/status.h"
#include "env/file_system.h"
#include "raft/raft.h"
#include "raft/storage.h"
#include "storage/snap/snapshotter.h"
#include "storage/wal/wal.h"

namespace etcd::server {

struct RaftStorageOptions {
  wal::WalOptions wal;
  size_t max_snapshots = snap::Snapshotter::kDefaultMaxSnapshots;
  log::Logger* logger = nullptr;
};

struct RaftStorage {
  std::unique_ptr<wal::Wal> wal;
  std::unique_ptr<snap::Snapshotter> snapshotter;
  std::unique_ptr<raft::MemoryStorage> log;
  // What open() recovered: the WAL's metadata record, the snapshot the log
  // starts from (empty when none) and the last hard state. create() leaves
  // the metadata it was given and empty state.
  std::string metadata;
  raftpb::Snapshot snapshot;
  raftpb::HardState hard_state;

  // A new WAL in wal_dir (kAlreadyExists when one is there) and a
  // snapshotter over snap_dir.
  static Result<RaftStorage> create(env::FileSystem& fs, const std::string& wal_dir,
                                    const std::string& snap_dir, std::string metadata,
                                    const RaftStorageOptions& options);
  // Recovers from the newest snapshot file whose marker the WAL holds (a
  // crash between saving a snapshot file and its WAL marker leaves a newer
  // file the WAL does not know; etcd 3.5 skips it the same way), then the
  // WAL's records after it (the WAL drops entries of a log that a received
  // snapshot replaced). A commit index below the snapshot's is raised to
  // it. A torn WAL tail is repaired (wal::Wal); other damage is kDataLoss.
  static Result<RaftStorage> open(env::FileSystem& fs, const std::string& wal_dir,
                                  const std::string& snap_dir, const RaftStorageOptions& options);
};

}  // namespace etcd::server
