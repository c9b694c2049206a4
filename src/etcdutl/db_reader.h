// Read-only access to a backend image (member/snap/db, or a snapshot file:
// the image followed by its SHA-256) without opening a Backend: nothing is
// written, no lock file is made, so a snapshot's digest stays valid. What
// `etcdutl snapshot status` walks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace etcd::utl {

// What the first page of a file says it is.
enum class DbKind { kLmdb, kBbolt, kUnknown };
DbKind sniff_db_kind(const std::string& path);

// Called for every bucket (LMDB named database) in byte order of the names,
// then for each of its keys in key order.
struct DbVisitor {
  std::function<void(std::string_view bucket)> bucket;
  std::function<void(std::string_view key, std::string_view value)> kv;
};

// Walks the image at `path`. `size_bytes` (optional) gets the bytes of the
// pages the image uses (bolt's tx.Size()). Errors: kNotFound (no file),
// kInvalidArgument (not an image of ours; a bbolt file is named as such),
// kUnavailable (a running server holds the db).
Status walk_db(const std::string& path, const DbVisitor& visitor, int64_t* size_bytes = nullptr);

// Fails as walk_db does when `path` is not a backend image of ours (LMDB):
// what defrag and walk_db open.
Status check_db_file(const std::string& path);
// A snapshot or db file `snapshot status|restore` and `hashkv` accept: a
// bbolt file (etcd's format: what etcd and ours stream as a snapshot, or
// an etcd member's member/snap/db) or an LMDB image of ours.
Status check_snapshot_file(const std::string& path);

}  // namespace etcd::utl
