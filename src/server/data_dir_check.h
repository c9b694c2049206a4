// The start-up check of the data dir's permissions. etcd creates its data
// private to its user (0700 directories, 0600 files) and, since
// CVE-2020-15113, warns when an existing data dir is more open. We warn the
// same way for the data dir, and also name every directory and file below
// it (member/, wal/, snap/, the db and its lock) that others could read.
#pragma once

#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "env/file_system.h"

namespace etcd::server {

// Go's os.FileMode text: 0755 directory -> "drwxr-xr-x", 0600 file ->
// "-rw-------".
std::string go_file_mode(uint32_t mode, bool is_dir);

// The warnings for `data_dir` (nothing when it does not exist yet). Returns
// the paths warned about, for tests.
std::vector<std::string> warn_loose_permissions(env::FileSystem& fs, const std::string& data_dir,
                                                log::Logger& logger);

// A restart (the WAL exists) whose backend db is gone while a raft snapshot
// past index 0 is on disk: the WAL no longer holds the entries up to that
// snapshot, so starting with a new empty db would silently lose the v3 data
// up to it. etcd 3.4 refuses such a start ("failed to find database
// snapshot file"); so do we, with kFailedPrecondition naming the db, the
// snapshot and its index. Only file names are read; nothing is changed.
Status check_db_for_snapshot(env::FileSystem& fs, const std::string& snap_dir,
                             const std::string& db_path, bool wal_exists);

}  // namespace etcd::server
