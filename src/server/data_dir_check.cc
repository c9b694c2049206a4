#include "server/data_dir_check.h"

namespace etcd::server {

std::string go_file_mode(uint32_t mode, bool is_dir) {
  std::string out(1, is_dir ? 'd' : '-');
  const char* rwx = "rwx";
  for (int bit = 8; bit >= 0; --bit) out += (mode & (1u << bit)) ? rwx[(8 - bit) % 3] : '-';
  return out;
}

namespace {

constexpr int kMaxDepth = 4;       // data-dir/member/snap/<file>
constexpr size_t kMaxWarned = 32;  // a bound on the log lines of one start

void walk(env::FileSystem& fs, const std::string& path, int depth, log::Logger& logger,
          std::vector<std::string>* warned) {
  if (warned->size() >= kMaxWarned) return;
  auto info = fs.stat(path);
  if (!info.is_ok()) return;
  const uint32_t wanted = info->is_dir ? env::kPrivateDirMode : env::kPrivateFileMode;
  if ((info->mode & 077) != 0) {
    const char* what = info->is_dir ? "directory" : "file";
    logger.warn(
        "check file permission",
        {{"error", std::string(what) + " \"" + path + "\" exist, but the permission is \"" +
                       go_file_mode(info->mode, info->is_dir) +
                       "\". The recommended permission is \"" + go_file_mode(wanted, false) +
                       "\" to prevent possible unprivileged access to the data."}});
    warned->push_back(path);
  }
  if (!info->is_dir || depth >= kMaxDepth) return;
  auto names = fs.list_dir(path);
  if (!names.is_ok()) return;
  for (const auto& n : *names) walk(fs, env::join_path(path, n), depth + 1, logger, warned);
}

}  // namespace

std::vector<std::string> warn_loose_permissions(env::FileSystem& fs, const std::string& data_dir,
                                                log::Logger& logger) {
  std::vector<std::string> warned;
  walk(fs, data_dir, 0, logger, &warned);
  return warned;
}

Status check_db_for_snapshot(env::FileSystem& fs, const std::string& snap_dir,
                             const std::string& db_path, bool wal_exists) {
  if (!wal_exists || env::exists(fs, db_path)) return Status::ok();
  auto names = fs.list_dir(snap_dir);
  if (!names.is_ok()) return Status::ok();  // no snap dir: no snapshot
  // "<term>-<index>.snap", 16 hex digits each (the snapshotter's names).
  uint64_t newest = 0;
  std::string newest_name;
  for (const std::string& n : *names) {
    if (n.size() != 38 || n[16] != '-' || n.compare(33, 5, ".snap") != 0) continue;
    const std::string hex = n.substr(17, 16);
    if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
    const uint64_t index = std::stoull(hex, nullptr, 16);
    if (index > newest) {
      newest = index;
      newest_name = n;
    }
  }
  if (newest == 0) return Status::ok();
  return failed_precondition(
      "failed to find database snapshot file: " + db_path + " is missing, but " +
      env::join_path(snap_dir, newest_name) + " is a raft snapshot at index " +
      std::to_string(newest) +
      " and the WAL no longer holds the entries before it: starting would lose the v3 data up "
      "to that index; put the member's db back, or restore it ('etcdutl snapshot restore') into a "
      "new data dir");
}

}  // namespace etcd::server
