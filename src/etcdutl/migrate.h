// `etcdutl migrate-to-etcd --data-dir <dir>`: the way back from this etcd to
// etcd 3.4/3.5 on the same data dir. The member must be stopped. The LMDB
// backend (member/snap/db) is written out in etcd's bbolt format and takes
// its place; the WAL and .snap files are etcd's formats already. See
// docs/etcdutl.md and docs/storage-backend.md.
//
//   member/snap/db.bbolt.tmp   the bbolt file being written
//   member/snap/db             LMDB -> bbolt
//   member/snap/db.lmdb-backup the LMDB file as it was, until the operator removes it
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace etcd::utl {

struct MigrateResult {
  bool already = false;                   // db was a bbolt file already: nothing was done
  uint64_t bytes = 0;                     // size of the bbolt file written
  std::string db;                         // member/snap/db
  std::string backup;                     // where the LMDB file is kept
  std::vector<std::string> snaps_capped;  // .snap files whose cluster version became 3.4.0
};

std::string migrate_tmp_path(const std::string& db);     // db.bbolt.tmp
std::string migrate_backup_path(const std::string& db);  // db.lmdb-backup

// `target_version` "3.4" (etcd 3.4 refuses a cluster version above its
// own, which it reads from the v2 store of the newest .snap file): every
// .snap file's /0/version above 3.4 is set to "3.4.0" (the file rewritten
// whole: tmp, fsync, rename); "3.5": the .snap files stay as they are.
// Errors: no db (kNotFound), a running member holds it (kUnavailable),
// not a db of ours, an unreadable .snap file, a target other than 3.4 or
// 3.5 (kInvalidArgument); on any error db is unchanged.
Result<MigrateResult> migrate_to_etcd(const std::string& data_dir, log::Logger* logger = nullptr,
                                      const std::string& target_version = "3.4");

}  // namespace etcd::utl
