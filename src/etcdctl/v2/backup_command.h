// `ETCDCTL_API=2 etcdctl backup` (etcdctl 3.4's ctlv2 backup): an offline
// copy of a stopped member's data dir that starts, with
// `etcd --data-dir <backup> --force-new-cluster`, as a new one-member
// cluster holding the data. docs/etcdctl.md, "v2 backup".
//
// What it writes under --backup-dir (or --backup-wal-dir for the WAL):
// - member/snap: the newest raft snapshot file of the source, unchanged;
// - member/wal: a new WAL with fresh random member and cluster ids in its
//   metadata (etcd's form, server::wal_metadata), the snapshot's
//   marker, and the source's entries after the snapshot without the
//   conf changes, the member-attribute updates and (unless --with-v3) the
//   v3 requests; the kept entries are renumbered to stay contiguous, and
//   the commit index with them;
// - member/snap/db: with --with-v3 a compacted copy of the source's db
//   (LMDB; its consistent index renumbered like the entries, so the
//   restarted member neither skips nor re-applies any); without it an
//   empty db whose consistent index is the new commit index (the v3 data
//   is left behind, as etcd does). In both the members bucket keeps the
//   snapshot's voters only, which --force-new-cluster then removes.
//
// Runs on the caller's thread; no server may hold the source db (waits
// for it, as etcd waits for bolt's lock).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"

namespace etcd::ctl::v2 {

struct BackupOptions {
  std::string data_dir;
  std::string wal_dir;  // default <data-dir>/member/wal
  std::string backup_dir;
  std::string backup_wal_dir;  // default <backup-dir>/member/wal
  bool with_v3 = false;
};

// One of etcd's log lines ("ignoring v3 raft entry", ...), without the
// timestamp and level.
using BackupLog = std::function<void(const std::string& line)>;

// The backup itself. Errors carry etcd's message where the reference
// prints one ("open <dir>: no such file or directory").
Status backup(const BackupOptions& options, const BackupLog& log);

// etcdctl's command: parses the arguments after "backup" as etcdctl
// 3.4's urfave/cli does (--flag value, --flag=value, -flag; -h/--help),
// prints its help to `out`, log lines and errors to `err` in capnslog's
// form ("2006-01-02 15:04:05.000000 I | ..."). Returns the exit status:
// 0, or 1 on a usage error or a failure.
int run_backup(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `etcdctl backup --help`.
std::string backup_help();

}  // namespace etcd::ctl::v2
