// `etcdutl hashkv <db file> [--rev N]`: the MVCC key space's hash at a
// revision, as the server's Maintenance.HashKV computes it (etcd's
// HashByRev), read offline from a stopped member's db or a snapshot file.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace etcd::utl {

// etcd's etcdutl.HashKV.
struct HashKvResult {
  uint32_t hash = 0;
  int64_t hash_revision = 0;
  int64_t compact_revision = 0;  // -1 when never compacted
};

// rev 0 hashes the latest revision. Errors: the file is missing or not a
// backend image of ours, a running server holds it, the revision is
// compacted ("mvcc: required revision has been compacted") or in the future.
Result<HashKvResult> hash_kv(const std::string& path, int64_t rev);

}  // namespace etcd::utl
