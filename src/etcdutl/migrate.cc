#include "etcdutl/migrate.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/duration.h"
#include "env/clock.h"
#include "env/file_system.h"
#include "etcdutl/db_reader.h"
#include "storage/backend/backend.h"
#include "storage/backend/bbolt_convert.h"
#include "storage/backend/fs_util.h"
#include "storage/bbolt/bbolt.h"
#include "storage/snap/snap_file.h"

namespace etcd::utl {

namespace fs = backend::fs;

namespace {

// Sets the v2 store's /0/version node (etcd's cluster version) to "3.4.0"
// when it is above 3.4. True when it changed something.
bool cap_version_node(nlohmann::ordered_json& node) {
  if (!node.is_object()) return false;
  auto path = node.find("Path");
  if (path != node.end() && path->is_string() && *path == "/0/version") {
    auto value = node.find("Value");
    if (value == node.end() || !value->is_string()) return false;
    const std::string v = value->get<std::string>();
    int major = 0;
    int minor = 0;
    if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return false;
    if (major < 3 || (major == 3 && minor <= 4)) return false;
    *value = "3.4.0";
    return true;
  }
  auto children = node.find("Children");
  if (children == node.end() || !children->is_object()) return false;
  bool changed = false;
  for (auto& [name, child] : children->items()) changed |= cap_version_node(child);
  return changed;
}

// Caps the cluster version in every .snap file of `snap_dir` at 3.4.
Status cap_snap_versions(const std::string& snap_dir, std::vector<std::string>* capped) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(snap_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 5 && name.ends_with(".snap")) files.push_back(e.path().string());
  }
  if (ec) return internal_error("list " + snap_dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in.good() && !in.eof()) return internal_error("read " + f);
    auto snap = snap::decode_snap_file(bytes.str());
    if (!snap.is_ok()) return Status(snap.status().code(), f + ": " + snap.status().message());
    auto store = nlohmann::ordered_json::parse(snap->data(), nullptr, false);
    if (store.is_discarded() || !store.contains("Root")) {
      return data_loss(f + ": the v2 store in it is not etcd's JSON");
    }
    if (!cap_version_node(store["Root"])) continue;
    snap->set_data(store.dump());
    const std::string tmp = f + ".tmp";
    {
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return fs::errno_status("create " + tmp, errno);
      Status w = fs::write_all(fd, snap::encode_snap_file(*snap));
      if (w.is_ok() && ::fsync(fd) != 0) w = fs::errno_status("fsync " + tmp, errno);
      ::close(fd);
      if (!w.is_ok()) {
        ::unlink(tmp.c_str());
        return w;
      }
    }
    if (::rename(tmp.c_str(), f.c_str()) != 0) return fs::errno_status("rename " + tmp, errno);
    RETURN_IF_ERROR(fs::sync_dir(snap_dir));
    capped->push_back(f);
  }
  return Status::ok();
}

}  // namespace

std::string migrate_tmp_path(const std::string& db) { return db + ".bbolt.tmp"; }
std::string migrate_backup_path(const std::string& db) { return db + ".lmdb-backup"; }

Result<MigrateResult> migrate_to_etcd(const std::string& data_dir, log::Logger* logger,
                                      const std::string& target_version) {
  if (target_version != "3.4" && target_version != "3.5") {
    return invalid_argument("--target-version must be 3.4 or 3.5, not \"" + target_version + "\"");
  }
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
  // Before the swap: a crash between the two leaves ours' db with .snap
  // files capped at 3.4, which ours reads as it does any 3.4 data dir.
  if (st.is_ok() && target_version == "3.4") {
    st = cap_snap_versions(fs::dir_of(res.db), &res.snaps_capped);
  }
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
