// Starting on an etcd 3.4/3.5 data dir: its member/snap/db is a bbolt file,
// which this member converts to its LMDB backend before anything else opens
// it (docs/storage-backend.md, "Importing an etcd data dir").
//
//   member/snap/db              bbolt (etcd's) -> LMDB (ours), same content
//   member/snap/db.import.tmp   the LMDB file being written (+ its -lock)
//   member/snap/db.etcd-bbolt   the original, kept until the operator removes it
//
// Runs on the bootstrap thread, before the backend is opened.
#pragma once

#include <cstdint>
#include <string>

#include "base/log.h"
#include "base/status.h"
#include "env/clock.h"
#include "env/file_system.h"

namespace etcd::server {

struct DbImportPaths {
  std::string data_dir;  // for messages
  std::string db;        // member/snap/db
  std::string wal;       // the WAL directory (member/wal or --wal-dir)
  bool wal_exists = false;
  // The .snap files' directory (member/snap); empty: no membership check.
  std::string snap_dir;
  env::FileSystem* fs = nullptr;
};

// The names beside `db` the import uses.
std::string import_tmp_path(const std::string& db);     // db.import.tmp
std::string import_backup_path(const std::string& db);  // db.etcd-bbolt

// If `db` is a bbolt file: checks the data dir is not half-made (no WAL but
// a consistent index above 0: the error of half_made_error, and nothing is
// touched), imports it into db.import.tmp, fsyncs, keeps the original as
// db.etcd-bbolt and renames the import over db, and logs what it did.
// etcd 3.4/3.5 keep the membership in the v2 store and the members buckets
// only as a copy, and etcd 3.4's `snapshot restore` leaves the source
// cluster's members in the buckets (its new members are only in the .snap).
// So when the imported db is exactly at the newest .snap (consistent index
// == snapshot index, as a restore leaves it), the members and removed
// members of that snapshot's v2 store replace the buckets' (logged).
// Otherwise it only removes a leftover db.import.tmp (a crash before the
// rename). Sets *imported when it converted the file.
// Errors: kUnavailable (another process holds the bbolt file's lock),
// kDataLoss (the bbolt file is damaged: names the page), kInvalidArgument
// (a key LMDB cannot hold), kFailedPrecondition (half-made). On any error
// db is left as it was.
Status import_etcd_db(const DbImportPaths& paths, log::Logger& logger, env::Clock& clock,
                      bool* imported = nullptr);

// The refusal of a data dir whose db holds applied entries (consistent
// index `ci` > 0) but that has no WAL (a failed restore or a moved
// --wal-dir leaves this): such a member would never apply anything.
Status half_made_error(const DbImportPaths& paths, uint64_t ci, bool bbolt);

}  // namespace etcd::server
