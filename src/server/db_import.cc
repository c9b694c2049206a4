#include "server/db_import.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "base/duration.h"
#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::server {
namespace {

namespace fs = backend::fs;

std::string lock_path(const std::string& lmdb) { return lmdb + "-lock"; }

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The consistent index a bbolt db records (0 when it has none).
Result<uint64_t> bbolt_consistent_index(bbolt::Reader& r) {
  std::optional<uint64_t> ci;
  Status s = r.for_each({std::string(backend::bucket_name(backend::Bucket::kMeta))},
                        [&](const bbolt::Entry& e) -> Status {
                          if (!e.is_bucket && e.key == backend::kMetaConsistentIndex) {
                            ci = backend::parse_u64_value(e.value);
                            if (!ci) return data_loss("meta consistent_index is not 8 bytes");
                          }
                          return Status::ok();
                        });
  if (s.code() == Code::kNotFound) return uint64_t{0};
  if (!s.is_ok()) return s;
  return ci.value_or(0);
}

// bbolt's own lock: an etcd holding the file has an exclusive flock on it.
// Held (fd open) for the whole import, so no etcd starts on it meanwhile.
class BboltLock {
 public:
  ~BboltLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status lock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return fs::errno_status("open " + path, errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return Status(Code::kUnavailable,
                      path + " is locked by another process (an etcd running on this data dir?)");
      }
      return fs::errno_status("flock " + path, errno);
    }
    return Status::ok();
  }

 private:
  int fd_ = -1;
};

// Removes the import's temporary LMDB file and its lock file.
Status remove_tmp(const std::string& tmp) {
  RETURN_IF_ERROR(fs::remove_if_exists(tmp));
  return fs::remove_if_exists(lock_path(tmp));
}

}  // namespace

std::string import_tmp_path(const std::string& db) { return db + ".import.tmp"; }
std::string import_backup_path(const std::string& db) { return db + ".etcd-bbolt"; }

Status half_made_error(const DbImportPaths& p, uint64_t ci, bool bbolt) {
  return failed_precondition(
      "data dir " + p.data_dir + " is half-made: " + p.db + (bbolt ? " (an etcd bbolt db)" : "") +
      " holds applied data (consistent index " + std::to_string(ci) + ") but there is no WAL in " +
      p.wal +
      " (a failed 'snapshot restore' or a moved --wal-dir leaves this); restore again into an "
      "empty data dir, point --wal-dir at the member's WAL, or move the db away to start a "
      "new member");
}

Status import_etcd_db(const DbImportPaths& p, log::Logger& logger, env::Clock& clock,
                      bool* imported) {
  if (imported != nullptr) *imported = false;
  const std::string tmp = import_tmp_path(p.db);
  const std::string keep = import_backup_path(p.db);
  if (!exists(p.db) || !bbolt::is_bbolt_file(p.db)) {
    // Nothing to import (a new member, or our own LMDB file). A temporary
    // file left by an import that crashed before its rename is garbage.
    if (exists(tmp) || exists(lock_path(tmp))) {
      logger.info("removing an unfinished bbolt import", {{"path", tmp}});
      RETURN_IF_ERROR(remove_tmp(tmp));
    }
    return Status::ok();
  }
  const auto start = clock.now();
  BboltLock lock;
  RETURN_IF_ERROR(lock.lock(p.db));
  if (!p.wal_exists) {
    // The half-made check, before anything in the dir changes.
    auto reader = bbolt::Reader::open(p.db);
    if (!reader.is_ok()) {
      return Status(reader.status().code(),
                    "cannot read the etcd (bbolt) db " + p.db + ": " + reader.status().message());
    }
    auto ci = bbolt_consistent_index(**reader);
    if (!ci.is_ok()) {
      return Status(ci.status().code(),
                    "cannot read the etcd (bbolt) db " + p.db + ": " + ci.status().message());
    }
    if (*ci > 0) return half_made_error(p, *ci, /*bbolt=*/true);
  }
  logger.info("importing etcd bbolt db", {{"path", p.db}, {"into", tmp}});
  RETURN_IF_ERROR(remove_tmp(tmp));
  backend::ImportStats stats;
  // Writes tmp (synced), removes its -lock; on error nothing is left.
  if (Status st = backend::convert_to_lmdb(p.db, tmp, &stats); !st.is_ok()) {
    (void)remove_tmp(tmp);
    return Status(st.code(), "importing the etcd (bbolt) db " + p.db + " failed: " + st.message() +
                                 " (the db is unchanged)");
  }
  RETURN_IF_ERROR(fs::sync_dir(fs::dir_of(p.db)));
  for (const std::string& b : stats.skipped_buckets) {
    logger.warn("skipped a bucket etcd does not use", {{"path", p.db}, {"bucket", b}});
  }
  // LMDB's lock file of db, if one is left from an earlier life of this
  // dir (a migrate-to-etcd killed before its cleanup): no process uses it
  // while db is a bbolt file. Removed before the rename, never after (a
  // member starting on the new db may hold it then).
  RETURN_IF_ERROR(fs::remove_if_exists(lock_path(p.db)));
  RETURN_IF_ERROR(fs::replace_keeping_original(p.db, tmp, keep));
  logger.info("imported etcd bbolt db; the original is kept until the operator removes it",
              {{"source", p.db},
               {"keys", stats.keys},
               {"bytes", stats.bytes},
               {"skipped-buckets", stats.skipped_buckets},
               {"took", format_go_duration(clock.now() - start)},
               {"original-kept-at", keep}});
  if (imported != nullptr) *imported = true;
  return Status::ok();
}

}  // namespace etcd::server
