// The backend (LMDB) to and from bbolt, etcd's db format. The schema is the
// same on both sides (bucket names, keys and values are etcd's, byte for
// byte; see schema.h), so a conversion copies every bucket as it is.
//
//   import: an etcd data dir's member/snap/db, a snapshot taken by etcd, a
//           db image an etcd member sent with a raft snapshot;
//   export: Maintenance.Snapshot, `etcdutl migrate-to-etcd`, the db image
//           sent to members with a raft snapshot.
//
// Both stream: memory stays bounded whatever the size of the db.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/backend/backend.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::backend {

struct ImportStats {
  uint64_t keys = 0;   // key/value pairs copied, all buckets
  uint64_t bytes = 0;  // bytes of keys and values copied
  // Top-level buckets of the bbolt file that etcd 3.4/3.5 does not use,
  // left out (the caller logs them).
  std::vector<std::string> skipped_buckets;
};

// Copies every bucket of `src` that schema.h names into `dest`, which must
// be empty and used by no other thread, in batches; force-commits at the
// end. Errors: kDataLoss from the reader (names the page), kInvalidArgument
// for a key LMDB cannot hold (names the bucket and key).
Result<ImportStats> import_bbolt(bbolt::Reader& src, Backend& dest);

// Writes what `tx` sees, every bucket in name order, through `w`, and
// finishes it (metas, fsync). Returns the file size. `txid` of the image is
// set by the writer's options.
Result<uint64_t> export_bbolt(const ReadTx& tx, bbolt::Writer& w);

// Makes the LMDB file `lmdb_path` (replaced if present; its "-lock" file is
// removed afterwards) from the bbolt file `bbolt_path` (a db or a snapshot
// file: a trailing digest is ignored) through import_bbolt, synced. On
// error nothing is left at lmdb_path. `stats` (optional) gets what was
// copied.
Status convert_to_lmdb(const std::string& bbolt_path, const std::string& lmdb_path,
                       ImportStats* stats = nullptr);

}  // namespace etcd::backend
