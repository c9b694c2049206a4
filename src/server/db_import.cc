#include "server/db_import.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <optional>
#include <variant>

#include <nlohmann/json.hpp>
#include <set>

#include "base/duration.h"
#include "server/membership.h"
#include "server/v2_api.h"
#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"
#include "storage/bbolt/bbolt.h"
#include "storage/snap/snapshotter.h"
#include "v2store/store.h"

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

// The members and removed members recorded in a v2 store JSON (a .snap's
// data) under /0/members/<hex id>/{raftAttributes,attributes} and
// /0/removed_members/<hex id>. An empty member list when there are none.
struct V2Membership {
  std::vector<Member> members;
  std::set<uint64_t> removed;
};

Result<V2Membership> v2_membership(std::string_view store_json) {
  v2store::Store store({std::string(kV2ClusterPrefix), std::string(kV2KeysPrefix)});
  auto recovered = store.recovery(store_json);
  if (const auto* err = std::get_if<v2store::Error>(&recovered)) {
    return Status(Code::kDataLoss, "the snapshot's v2 store is not readable: " + err->message());
  }
  V2Membership out;
  auto hex_id = [](const std::string& key) -> std::optional<uint64_t> {
    const std::string name = key.substr(key.rfind('/') + 1);
    if (name.empty() || name.size() > 16) return std::nullopt;
    uint64_t v = 0;
    for (char c : name) {
      const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                                                                : -1;
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<uint64_t>(d);
    }
    return v;
  };
  auto members = store.get("/0/members", /*recursive=*/true, /*sorted=*/true);
  const auto* listed = std::get_if<v2store::Event>(&members);
  if (listed != nullptr && listed->node && listed->node->nodes) {
    for (const v2store::NodeExtern& m : *listed->node->nodes) {
      auto id = hex_id(m.key);
      if (!id || !m.nodes) continue;
      nlohmann::json raft, attrs;
      for (const v2store::NodeExtern& f : *m.nodes) {
        if (!f.value) continue;
        auto j = nlohmann::json::parse(*f.value, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.is_object()) continue;
        if (f.key.ends_with("/raftAttributes")) raft = std::move(j);
        if (f.key.ends_with("/attributes")) attrs = std::move(j);
      }
      if (!raft.is_object()) continue;  // not a member etcd would load either
      nlohmann::json merged = {{"id", *id}};
      for (auto& [k, v] : raft.items()) merged[k] = v;
      for (auto& [k, v] : attrs.items()) merged[k] = v;
      auto member = Member::from_json(merged.dump());
      if (member.is_ok()) out.members.push_back(std::move(member).value());
    }
  }
  auto removed = store.get("/0/removed_members", /*recursive=*/false, /*sorted=*/true);
  const auto* gone = std::get_if<v2store::Event>(&removed);
  if (gone != nullptr && gone->node && gone->node->nodes) {
    for (const v2store::NodeExtern& r : *gone->node->nodes) {
      if (auto id = hex_id(r.key)) out.removed.insert(*id);
    }
  }
  return out;
}

// See import_etcd_db: the newest .snap's membership replaces the members
// buckets of the imported LMDB file `lmdb` when the two are at one index.
Status adopt_snapshot_membership(const DbImportPaths& p, const std::string& lmdb,
                                 log::Logger& logger, env::Clock& clock) {
  if (p.snap_dir.empty() || p.fs == nullptr) return Status::ok();
  snap::Snapshotter snapshotter(*p.fs, p.snap_dir, /*max_snapshots=*/0);
  auto snapshot = snapshotter.load_newest();
  if (!snapshot.is_ok()) {
    // No .snap (a WAL-only dir): the WAL's entries carry the membership.
    return snapshot.status().code() == Code::kNotFound ? Status::ok() : snapshot.status();
  }
  const uint64_t snap_index = snapshot->metadata().index();
  auto v2 = v2_membership(snapshot->data());
  if (!v2.is_ok() || v2->members.empty()) return Status::ok();
  backend::Options bo;
  bo.background_commit = false;
  auto opened = backend::Backend::open(lmdb, bo, clock);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<backend::Backend> be = std::move(opened).value();
  Status result = Status::ok();
  if (be->consistent_index().index.value() == snap_index) {
    std::vector<std::string> before;
    {
      backend::ReadTx r = be->read_tx();
      r.for_each(backend::Bucket::kMembers, "", "", [&](std::string_view k, std::string_view) {
        before.emplace_back(k);
        return true;
      });
    }
    std::vector<std::string> after;
    for (const Member& m : v2->members) after.push_back(backend::member_key(m.id));
    std::sort(after.begin(), after.end());
    if (before != after) {
      {
        backend::BatchTx tx = be->batch_tx();
        for (const auto& bucket : {backend::Bucket::kMembers, backend::Bucket::kMembersRemoved}) {
          std::vector<std::string> keys;
          tx.for_each(bucket, "", "", [&](std::string_view k, std::string_view) {
            keys.emplace_back(k);
            return true;
          });
          for (const std::string& k : keys) tx.del(bucket, k);
        }
        for (const Member& m : v2->members) {
          if (Status st = tx.put(backend::Bucket::kMembers, backend::member_key(m.id), m.to_json());
              !st.is_ok() && result.is_ok()) {
            result = st;
          }
        }
        for (uint64_t id : v2->removed) {
          if (Status st = tx.put(backend::Bucket::kMembersRemoved,
                                 backend::member_key(MemberId(id)), backend::kMemberRemovedValue);
              !st.is_ok() && result.is_ok()) {
            result = st;
          }
        }
      }
      be->force_commit();
      logger.warn(
          "the db's members differ from its snapshot's; took the snapshot's (etcd keeps the "
          "membership in the v2 store)",
          {{"db-members", before}, {"snapshot-members", after}, {"snapshot-index", snap_index}});
    }
  }
  be->close();
  return result;
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
  if (Status st = adopt_snapshot_membership(p, tmp, logger, clock); !st.is_ok()) {
    (void)remove_tmp(tmp);
    return Status(st.code(), "importing the etcd (bbolt) db " + p.db + " failed: " + st.message() +
                                 " (the db is unchanged)");
  }
  RETURN_IF_ERROR(fs::remove_if_exists(lock_path(tmp)));
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
