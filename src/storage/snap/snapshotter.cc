#include "storage/snap/snapshotter.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "storage/snap/snap_file.h"

namespace etcd::snap {
namespace {

constexpr std::string_view kSnapSuffix = ".snap";
constexpr std::string_view kTmpSuffix = ".snap.tmp";
constexpr std::string_view kBrokenSuffix = ".snap.broken";

// Files that share member/snap with the snapshots and are expected there:
// the backend's database, its lock file and a defrag's temporary copy
// (storage/backend), set-aside broken snapshots, and the database images
// etcd receives from a leader ("<index>.snap.db").
bool is_expected_other_file(std::string_view name) {
  return name == "db" || name == "db-lock" || name == "db.defrag.tmp" ||
         name.ends_with(kBrokenSuffix) || name.ends_with(".snap.db");
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// After a failed fsync the kernel may have dropped the data and will not
// say so again: stop rather than retry (design brief, error tier 3).
void sync_or_panic(env::File& f) {
  Status s = f.sync();
  if (!s.is_ok()) PANIC("snap: fsync failed: " + s.to_string());
}

void sync_dir_or_panic(env::FileSystem& fs, const std::string& dir) {
  Status s = fs.sync_dir(dir);
  if (!s.is_ok()) PANIC("snap: directory fsync failed: " + s.to_string());
}

}  // namespace

Snapshotter::Snapshotter(env::FileSystem& fs, std::string dir, size_t max_snapshots,
                         log::Logger* logger)
    : fs_(fs), dir_(std::move(dir)), max_snapshots_(max_snapshots), logger_(logger) {}

std::string Snapshotter::snap_name(Term term, Index index) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%016llx-%016llx.snap",
                static_cast<unsigned long long>(term.value()),
                static_cast<unsigned long long>(index.value()));
  return buf;
}

Status Snapshotter::prepare_dir() {
  RETURN_IF_ERROR(env::mkdir_all(fs_, dir_, env::kPrivateDirMode));
  RETURN_IF_ERROR(fs_.chmod(dir_, env::kPrivateDirMode));
  auto names = fs_.list_dir(dir_);
  if (!names.is_ok()) return names.status();
  for (const std::string& name : *names) {
    if (!ends_with(name, kSnapSuffix) && !ends_with(name, kBrokenSuffix)) continue;
    std::string path = env::join_path(dir_, name);
    auto info = fs_.stat(path);
    if (info.is_ok() && !info->is_dir && info->mode != env::kPrivateFileMode) {
      RETURN_IF_ERROR(fs_.chmod(path, env::kPrivateFileMode));
    }
  }
  return Status::ok();
}

Result<std::vector<std::string>> Snapshotter::snap_names() {
  auto names = fs_.list_dir(dir_);
  if (!names.is_ok()) return names.status();
  std::vector<std::string> out;
  bool removed = false;
  for (const std::string& name : *names) {
    if (ends_with(name, kTmpSuffix)) {
      // A save that crashed before its rename: never a valid snapshot.
      RETURN_IF_ERROR(fs_.remove(env::join_path(dir_, name)));
      removed = true;
    } else if (ends_with(name, kSnapSuffix)) {
      out.push_back(name);
    } else if (logger_ != nullptr && !is_expected_other_file(name)) {
      logger_->warn("found unexpected non-snap file; skipping", {{"path", name}});
    }
  }
  if (removed) sync_dir_or_panic(fs_, dir_);
  // Fixed-width hex (term, index) names sort oldest first.
  std::sort(out.begin(), out.end());
  return out;
}

Status Snapshotter::save(const raftpb::Snapshot& snapshot, bool purge_after) {
  if (snapshot.metadata().index() == 0) return Status::ok();
  RETURN_IF_ERROR(prepare_dir());
  const std::string name =
      snap_name(Term(snapshot.metadata().term()), Index(snapshot.metadata().index()));
  const std::string path = env::join_path(dir_, name);
  const std::string tmp = path + ".tmp";
  {
    auto f = fs_.open(tmp, env::OpenMode::kCreateTruncate, env::kPrivateFileMode);
    if (!f.is_ok()) return f.status();
    Status s = (*f)->write_at(0, encode_snap_file(snapshot));
    if (!s.is_ok()) {
      (void)fs_.remove(tmp);
      return s;
    }
    sync_or_panic(**f);
  }
  RETURN_IF_ERROR(fs_.rename(tmp, path));
  sync_dir_or_panic(fs_, dir_);
  if (!purge_after) return Status::ok();
  auto purged = purge();
  return purged.status();
}

Result<raftpb::Snapshot> Snapshotter::read(const std::string& name) {
  const std::string path = env::join_path(dir_, name);
  auto bytes = env::read_file(fs_, path);
  if (!bytes.is_ok()) return bytes.status();
  auto snapshot = decode_snap_file(*bytes);
  if (snapshot.is_ok()) return snapshot;
  const std::string broken = path + ".broken";
  if (logger_ != nullptr) {
    logger_->warn("failed to read a snap file",
                  {{"path", path}, {"error", snapshot.status().message()}});
  }
  Status s = fs_.rename(path, broken);
  if (s.is_ok()) {
    sync_dir_or_panic(fs_, dir_);
    if (logger_ != nullptr) {
      logger_->warn("renamed to a broken snap file", {{"path", path}, {"broken-path", broken}});
    }
  } else if (logger_ != nullptr) {
    logger_->warn("failed to rename a broken snap file", {{"path", path}, {"error", s.message()}});
  }
  return data_loss(path + ": " + snapshot.status().message());
}

Result<raftpb::Snapshot> Snapshotter::load_newest() {
  return load_newest_below(Index(std::numeric_limits<uint64_t>::max()));
}

Result<raftpb::Snapshot> Snapshotter::load_newest_below(Index index) {
  if (!env::exists(fs_, dir_)) return not_found("snap: no available snapshot");
  RETURN_IF_ERROR(prepare_dir());
  auto names = snap_names();
  if (!names.is_ok()) return names.status();
  for (auto it = names->rbegin(); it != names->rend(); ++it) {
    uint64_t term = 0, at = 0;
    // "%016x-%016x.snap": skip by name the files not below `index`.
    if (std::sscanf(it->c_str(), "%16" SCNx64 "-%16" SCNx64, &term, &at) == 2 &&
        at >= index.value()) {
      continue;
    }
    auto snapshot = read(*it);
    if (snapshot.is_ok()) {
      if (snapshot->metadata().index() >= index.value()) continue;
      return snapshot;
    }
    if (snapshot.status().code() != Code::kDataLoss) return snapshot.status();
  }
  return not_found("snap: no available snapshot");
}

Result<raftpb::Snapshot> Snapshotter::load(Index index, Term term) {
  if (!env::exists(fs_, dir_)) return not_found("snap: no available snapshot");
  RETURN_IF_ERROR(prepare_dir());
  const std::string name = snap_name(term, index);
  if (!env::exists(fs_, env::join_path(dir_, name))) {
    return not_found("snap: no snapshot file " + name);
  }
  auto snapshot = read(name);
  if (!snapshot.is_ok()) return snapshot.status();
  // The name is only a hint; the contents decide.
  if (snapshot->metadata().index() != index.value() ||
      snapshot->metadata().term() != term.value()) {
    return data_loss("snap: " + name + " holds the snapshot at index " +
                     std::to_string(snapshot->metadata().index()) + " term " +
                     std::to_string(snapshot->metadata().term()));
  }
  return snapshot;
}

Result<std::vector<std::string>> Snapshotter::purge() {
  std::vector<std::string> removed;
  if (max_snapshots_ == 0) return removed;
  auto names = snap_names();
  if (!names.is_ok()) return names.status();
  for (size_t i = 0; names->size() - i > max_snapshots_; ++i) {
    RETURN_IF_ERROR(fs_.remove(env::join_path(dir_, (*names)[i])));
    removed.push_back((*names)[i]);
    if (logger_ != nullptr) {
      logger_->info("purged snap file", {{"path", env::join_path(dir_, (*names)[i])}});
    }
  }
  if (!removed.empty()) sync_dir_or_panic(fs_, dir_);
  return removed;
}

}  // namespace etcd::snap
