// `etcdutl defrag --data-dir <dir>`: offline defragmentation of a stopped
// member's backend (<dir>/member/snap/db), the compacting copy and swap of
// Backend::defrag.
#pragma once

#include <string>

#include "base/log.h"
#include "base/status.h"

namespace etcd::utl {

struct DefragStats {
  int64_t size_before = 0;
  int64_t size_after = 0;
};

// Errors: no db in the data dir (nothing is created), the db is held by a
// running server (kUnavailable), the copy failed (the old file stays).
// `logger` (optional) gets etcd's "defragmenting" / "finished defragmenting
// directory" lines.
Result<DefragStats> defrag_data_dir(const std::string& data_dir, log::Logger* logger = nullptr);

}  // namespace etcd::utl
