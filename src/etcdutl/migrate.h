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

#include "base/log.h"
#include "base/status.h"

namespace etcd::utl {

struct MigrateResult {
  bool already = false;  // db was a bbolt file already: nothing was done
  uint64_t bytes = 0;    // size of the bbolt file written
  std::string db;        // member/snap/db
  std::string backup;    // where the LMDB file is kept
};

std::string migrate_tmp_path(const std::string& db);     // db.bbolt.tmp
std::string migrate_backup_path(const std::string& db);  // db.lmdb-backup

// Errors: no db (kNotFound), a running member holds it (kUnavailable),
// not a db of ours; on any error db is unchanged.
Result<MigrateResult> migrate_to_etcd(const std::string& data_dir, log::Logger* logger = nullptr);

}  // namespace etcd::utl
