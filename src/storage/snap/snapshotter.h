// Raft snapshot files in member/snap: "<term>-<index>.snap" (16 hex digits
// each, as etcd names them), each holding a raftpb::Snapshot and its
// CRC-32C (snap_file.h). The backend's database (member/snap/db) lives in the
// same directory but is not ours (docs/storage-backend.md).
//
// Writes go to a temporary name, are synced, renamed and the directory
// synced, so a crash leaves either the whole file or none. A file that does
// not read back (torn, bit rot, wrong CRC) is renamed "<name>.broken" and
// skipped. A failed fsync PANICs, as in the WAL.
//
// Not thread-safe: one owner (the server's snapshot path).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/log.h"
#include "base/status.h"
#include "env/file_system.h"
#include "raftpb/raft.pb.h"

namespace etcd::snap {

class Snapshotter {
 public:
  // etcd's --max-snapshots default; 0 keeps every file.
  static constexpr size_t kDefaultMaxSnapshots = 5;

  Snapshotter(env::FileSystem& fs, std::string dir, size_t max_snapshots = kDefaultMaxSnapshots,
              log::Logger* logger = nullptr);

  // "%016x-%016x.snap" of (term, index).
  static std::string snap_name(Term term, Index index);

  // Writes the snapshot durably, then purges beyond max_snapshots. An empty
  // snapshot (index 0) is not written, as in etcd. Creates the directory
  // (mode 0700) when missing.
  Status save(const raftpb::Snapshot& snapshot) { return save(snapshot, /*purge_after=*/true); }
  // The same; without purge_after the caller purges once the snapshot is
  // recorded elsewhere too (the server: after its WAL marker), so a crash
  // in between never leaves only snapshots the WAL does not know.
  Status save(const raftpb::Snapshot& snapshot, bool purge_after);

  // The newest snapshot that reads back intact, renaming broken files out of
  // the way. kNotFound ("snap: no available snapshot") when there is none.
  Result<raftpb::Snapshot> load_newest();
  // The same among the snapshots below `index` (a restart whose newest
  // snapshot's WAL marker was lost in a crash falls back to an older one).
  Result<raftpb::Snapshot> load_newest_below(Index index);

  // The snapshot a WAL snapshot marker names. kNotFound when the file does
  // not exist; kDataLoss when it is broken (and renamed .broken).
  Result<raftpb::Snapshot> load(Index index, Term term);

  // Deletes the oldest .snap files while more than max_snapshots remain;
  // returns the names deleted.
  Result<std::vector<std::string>> purge();

  const std::string& dir() const { return dir_; }

 private:
  // Makes the directory exist with mode 0700 and fixes the modes of the
  // snapshot files in it to 0600 (etcd CVE-2020-15113).
  Status prepare_dir();
  // The .snap names, oldest first; removes temporary files left by a crash.
  Result<std::vector<std::string>> snap_names();
  // Reads and decodes one file; a broken one is renamed <name>.broken.
  Result<raftpb::Snapshot> read(const std::string& name);

  env::FileSystem& fs_;
  const std::string dir_;
  const size_t max_snapshots_;
  log::Logger* const logger_;
};

}  // namespace etcd::snap
