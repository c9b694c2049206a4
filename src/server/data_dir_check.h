// The start-up check of the data dir's permissions. etcd creates its data
// private to its user (0700 directories, 0600 files) and, since
// CVE-2020-15113, warns when an existing data dir is more open. We warn the
// same way for the data dir, and also name every directory and file below
// it (member/, wal/, snap/, the db and its lock) that others could read.
#pragma once

#include <string>
#include <vector>

#include "base/log.h"
#include "env/file_system.h"

namespace etcd::server {

// Go's os.FileMode text: 0755 directory -> "drwxr-xr-x", 0600 file ->
// "-rw-------".
std::string go_file_mode(uint32_t mode, bool is_dir);

// The warnings for `data_dir` (nothing when it does not exist yet). Returns
// the paths warned about, for tests.
std::vector<std::string> warn_loose_permissions(env::FileSystem& fs, const std::string& data_dir,
                                                log::Logger& logger);

}  // namespace etcd::server
