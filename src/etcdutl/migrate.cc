#include "etcdutl/migrate.h"

#include <unistd.h>

#include <chrono>
#include <memory>

#include "base/duration.h"
#include "env/clock.h"
#include "env/file_system.h"
#include "etcdutl/db_reader.h"
#include "storage/backend/backend.h"
#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::utl {

namespace fs = backend::fs;

std::string migrate_tmp_path(const std::string& db) { return db + ".bbolt.tmp"; }
std::string migrate_backup_path(const std::string& db) { return db + ".lmdb-backup"; }

Result<MigrateResult> migrate_to_etcd(const std::string& data_dir, log::Logger* logger) {
  MigrateResult res;
  res.db = env::join_path(env::join_path(env::join_path(data_dir, "member"), "snap"), "db");
  res.backup = migrate_backup_path(res.db);
  const std::string tmp = migrate_tmp_path(res.db);
  const std::string lock = res.db + "-lock";
  if (::access(res.db.c_str(), F_OK) != 0) {
    return fs::errno_status("no member db in " + data_dir + ": stat " + res.db, errno);
  }
  if (bbolt::is_bbolt_file(res.db)) {
    // Done already (a rerun, or a run that was killed after its rename):
    // only the leftovers go.
    RETURN_IF_ERROR(fs::remove_if_exists(tmp));
    RETURN_IF_ERROR(fs::remove_if_exists(lock));
    res.already = true;
    if (logger != nullptr) {
      logger->info("db is in etcd's bbolt format already; nothing to migrate", {{"path", res.db}});
    }
    return res;
  }
  RETURN_IF_ERROR(check_db_file(res.db));
  const auto start = std::chrono::steady_clock::now();
  env::RealClock clock;
  backend::Options bo;
  bo.background_commit = false;
  bo.sync_mode = backend::SyncMode::kSync;
  // The exclusive flock on db-lock tells whether a member runs here; it is
  // held until the bbolt file has replaced db, so none starts meanwhile.
  auto opened = backend::Backend::open(res.db, bo, clock);
  if (!opened.is_ok()) {
    if (opened.status().code() == Code::kUnavailable) {
      return Status(Code::kUnavailable, res.db +
                                            " is in use: a member is running on this data dir "
                                            "(stop it first): " +
                                            opened.status().message());
    }
    return opened.status();
  }
  std::unique_ptr<backend::Backend> be = std::move(opened).value();
  if (logger != nullptr) logger->info("migrating db to etcd's bbolt format", {{"path", res.db}});
  Status st = fs::remove_if_exists(tmp);
  if (st.is_ok()) {
    auto w = bbolt::Writer::create(tmp);
    if (!w.is_ok()) {
      st = w.status();
    } else {
      backend::ReadTx tx = be->read_tx();
      auto size = backend::export_bbolt(tx, **w);  // finish() fsyncs the file
      if (size.is_ok()) {
        res.bytes = *size;
      } else {
        st = size.status();
      }
    }
  }
  if (st.is_ok()) st = fs::sync_dir(fs::dir_of(res.db));
  if (st.is_ok()) st = fs::replace_keeping_original(res.db, tmp, res.backup);
  be->close();
  if (!st.is_ok()) {
    (void)fs::remove_if_exists(tmp);
    return Status(st.code(),
                  "migrating " + res.db + " failed (the db is unchanged): " + st.message());
  }
  // LMDB's lock file: etcd has no use for it.
  RETURN_IF_ERROR(fs::remove_if_exists(lock));
  RETURN_IF_ERROR(fs::sync_dir(fs::dir_of(res.db)));
  if (logger != nullptr) {
    logger->info(
        "migrated db to etcd's bbolt format; the LMDB file is kept until the operator "
        "removes it",
        {{"path", res.db},
         {"size-bytes", res.bytes},
         {"lmdb-kept-at", res.backup},
         {"took", format_go_duration(std::chrono::steady_clock::now() - start)}});
  }
  return res;
}

}  // namespace etcd::utl
