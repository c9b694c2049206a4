#include "etcdctl/v2/backup_command.h"

#include "etcdctl/global.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "env/clock.h"
#include "env/file_system.h"
#include "env/posix_file_system.h"
#include "etcdutl/db_reader.h"
#include "server/membership.h"
#include "server/raft_entry.h"
#include "server/wal_metadata.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"
#include "storage/backend/snapshot.h"
#include "storage/snap/snapshotter.h"
#include "storage/wal/wal.h"

namespace etcd::ctl::v2 {
namespace {

// How long to wait for a running server to let go of the source db
// (etcd waits for bolt's lock without a bound).
constexpr auto kDbLockWait = std::chrono::minutes(10);

// Go's os errors: "open <path>: no such file or directory".
Status os_error(const std::string& op, const std::string& path, int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return Status(err == ENOENT ? Code::kNotFound : Code::kInternal, op + " " + path + ": " + text);
}

// The source dirs must be readable directories (etcd's first read of each
// fails with Go's error otherwise).
Status check_readable_dir(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return os_error("open", path, errno);
  if (!S_ISDIR(st.st_mode)) return os_error("readdirent", path, ENOTDIR);
  if (::access(path.c_str(), R_OK | X_OK) != 0) return os_error("open", path, errno);
  return Status::ok();
}

// A fresh non-zero member or cluster id.
uint64_t random_id(std::mt19937_64& rng) {
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

bool is_member_attributes_put(const etcdserverpb::Request& r) {
  // etcd matches "/0/members/<1 to 16 hex digits>/attributes" anywhere in
  // the path.
  static const std::regex kAttributes("/0/members/[[:xdigit:]]{1,16}/attributes");
  return r.method() == "PUT" && std::regex_search(r.path(), kAttributes);
}

struct Filtered {
  std::vector<raftpb::Entry> entries;  // kept, renumbered
  // Original indexes of the dropped entries, ascending.
  std::vector<uint64_t> dropped;
};

// Drops what a new one-member cluster must not replay, logging each as
// etcd does, and renumbers the rest.
Result<Filtered> filter_entries(std::vector<raftpb::Entry> entries, bool with_v3,
                                const BackupLog& log) {
  Filtered out;
  for (raftpb::Entry& e : entries) {
    bool drop = false;
    if (e.type() == raftpb::EntryConfChange || e.type() == raftpb::EntryConfChangeV2) {
      log("ignoring EntryConfChange raft entry");
      drop = true;
    } else {
      std::optional<etcdserverpb::Request> v2;
      bool v3 = false;
      switch (server::classify_entry(e.data())) {
        case server::EntryKind::kEmpty:
          break;
        case server::EntryKind::kV2: {
          etcdserverpb::Request r;
          if (!r.ParseFromString(e.data())) {
            return data_loss("malformed v2 request in WAL entry " + std::to_string(e.index()));
          }
          v2 = std::move(r);
          break;
        }
        case server::EntryKind::kInternal: {
          serverpb::InternalRaftRequest r;
          if (!r.ParseFromString(e.data())) {
            return data_loss("malformed request in WAL entry " + std::to_string(e.index()));
          }
          if (r.has_v2()) {
            v2 = r.v2();
          } else {
            v3 = r.has_header();
          }
          break;
        }
        case server::EntryKind::kMalformed:
          return data_loss("malformed WAL entry " + std::to_string(e.index()));
      }
      if (v2 && is_member_attributes_put(*v2)) {
        log("ignoring member attribute update on " + v2->path());
        drop = true;
      } else if (v3 && !with_v3) {
        log("ignoring v3 raft entry");
        drop = true;
      }
    }
    if (drop) {
      out.dropped.push_back(e.index());
      continue;
    }
    e.set_index(e.index() - out.dropped.size());
    out.entries.push_back(std::move(e));
  }
  return out;
}

// How many of `dropped` are at or below `index`.
uint64_t dropped_upto(const std::vector<uint64_t>& dropped, uint64_t index) {
  return static_cast<uint64_t>(std::upper_bound(dropped.begin(), dropped.end(), index) -
                               dropped.begin());
}

// The new (index, term) of the last kept entry at or below original index
// `index`; `floor` when none is.
backend::ConsistentIndex renumbered(const Filtered& f, uint64_t index,
                                    backend::ConsistentIndex floor) {
  const uint64_t new_index = index - dropped_upto(f.dropped, index);
  backend::ConsistentIndex ci = floor;
  for (const raftpb::Entry& e : f.entries) {
    if (e.index() > new_index) break;
    ci = {Index(e.index()), Term(e.term())};
  }
  if (ci.index.value() < new_index) ci.index = Index(new_index);
  return ci;
}

Result<std::unique_ptr<backend::Backend>> open_db(const std::string& path, env::Clock& clock,
                                                  const BackupLog& log) {
  backend::Options o;
  o.background_commit = false;
  o.sync_mode = backend::SyncMode::kSync;
  const auto deadline = std::chrono::steady_clock::now() + kDbLockWait;
  const auto say_waiting = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  bool said = false;
  while (true) {
    auto b = backend::Backend::open(path, o, clock);
    if (b.is_ok() || b.status().code() != Code::kUnavailable ||
        std::chrono::steady_clock::now() > deadline) {
      return b;
    }
    if (!said && std::chrono::steady_clock::now() >= say_waiting) {
      log("waiting to acquire lock on " + path);
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Writes the compacted image of `src` to `dest` (mode 0644 as etcd's
// os.Create leaves it under the usual umask), synced.
Status copy_db(backend::Backend& src, const std::string& dest) {
  auto reader = src.copy_lmdb();
  if (!reader.is_ok()) return reader.status();
  int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return os_error("open", dest, errno);
  std::vector<char> buf(1 << 20);
  Status st = Status::ok();
  while (st.is_ok()) {
    auto n = (*reader)->read(buf.data(), buf.size());
    if (!n.is_ok()) {
      st = n.status();
      break;
    }
    if (*n == 0) break;
    size_t off = 0;
    while (off < *n) {
      ssize_t w = ::write(fd, buf.data() + off, *n - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        st = os_error("write", dest, errno);
        break;
      }
      off += static_cast<size_t>(w);
    }
  }
  if (st.is_ok() && ::fsync(fd) != 0) st = os_error("sync", dest, errno);
  ::close(fd);
  return st;
}

std::vector<backend::KeyValue> all_of(backend::BatchTx& tx, backend::Bucket b) {
  return tx.range(b, std::string(1, '\0'), "");
}

// The membership facts of `src` into `tx` (no --with-v3: the new db gets
// them from the source, as etcd's v2 store in the snapshot carries them).
void copy_membership(backend::Backend& src, backend::BatchTx& tx) {
  backend::ReadTx r = src.read_tx();
  for (backend::Bucket b :
       {backend::Bucket::kMembers, backend::Bucket::kMembersRemoved, backend::Bucket::kCluster}) {
    for (const auto& kv : r.range(b, std::string(1, '\0'), "")) (void)tx.put(b, kv.key, kv.value);
  }
}

// Keeps the members the snapshot names as voters: --force-new-cluster
// removes exactly those (etcd's getIDs), so none is left behind; without a
// snapshot it removes none and none is kept.
void keep_snapshot_voters(backend::BatchTx& tx, const std::set<uint64_t>& voters) {
  for (const auto& kv : all_of(tx, backend::Bucket::kMembers)) {
    auto m = server::Member::from_json(kv.value);
    if (!m.is_ok() || voters.count(m->id.value()) == 0) tx.del(backend::Bucket::kMembers, kv.key);
  }
}

}  // namespace

Status backup(const BackupOptions& o, const BackupLog& log) {
  env::PosixFileSystem fs;
  env::RealClock clock;
  const std::string src_snap = env::join_path(env::join_path(o.data_dir, "member"), "snap");
  const std::string dest_snap = env::join_path(env::join_path(o.backup_dir, "member"), "snap");
  const std::string src_wal =
      o.wal_dir.empty() ? env::join_path(env::join_path(o.data_dir, "member"), "wal") : o.wal_dir;
  const std::string dest_wal = o.backup_wal_dir.empty()
                                   ? env::join_path(env::join_path(o.backup_dir, "member"), "wal")
                                   : o.backup_wal_dir;
  if (Status st = env::mkdir_all(fs, dest_snap); !st.is_ok()) {
    return Status(st.code(),
                  "failed creating backup snapshot dir " + dest_snap + ": " + st.message());
  }
  {
    // etcd's CreateDirAll: the dir must be empty (a second backup into the
    // same dir is refused before anything is written).
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dest_snap, ec)) {
      names.push_back(e.path().filename().string());
    }
    if (!names.empty()) {
      std::sort(names.begin(), names.end());
      std::string got;
      for (const auto& n : names) got += (got.empty() ? "\"" : " \"") + n + "\"";
      return failed_precondition("failed creating backup snapshot dir " + dest_snap +
                                 ": expected \"" + dest_snap + "\" to be empty, got [" + got + "]");
    }
  }

  RETURN_IF_ERROR(check_readable_dir(src_snap));
  // The source db first: while a server holds it, its WAL is live and
  // must not be read (reading repairs a torn tail). etcd opens it last,
  // and only with --with-v3; it waits for the lock the same way.
  const std::string src_db = env::join_path(src_snap, "db");
  const std::string dest_db = env::join_path(dest_snap, "db");
  std::unique_ptr<backend::Backend> src;
  struct stat db_stat {};
  if (::stat(src_db.c_str(), &db_stat) == 0) {
    if (utl::sniff_db_kind(src_db) == utl::DbKind::kBbolt) {
      return invalid_argument(src_db +
                              " is a bbolt db (etcd's): this etcdctl backs up the data dirs of "
                              "its own etcd (LMDB)");
    }
    auto opened = open_db(src_db, clock, log);
    if (!opened.is_ok()) return opened.status();
    src = std::move(opened).value();
  } else if (o.with_v3) {
    return os_error("open", src_db, errno);
  }

  // The newest snapshot whose marker the WAL holds, and the WAL after it.
  snap::Snapshotter src_snapshotter(fs, src_snap, /*max_snapshots=*/0);
  auto loaded = src_snapshotter.load_newest();
  raftpb::Snapshot snapshot;
  wal::WalContents contents;
  while (true) {
    snapshot.Clear();
    if (loaded.is_ok()) {
      snapshot = std::move(loaded).value();
    } else if (loaded.status().code() != Code::kNotFound) {
      return loaded.status();
    }
    const wal::WalSnapshot walsnap{Index(snapshot.metadata().index()),
                                   Term(snapshot.metadata().term())};
    RETURN_IF_ERROR(check_readable_dir(src_wal));
    if (!wal::Wal::exists(fs, src_wal)) return not_found("wal: file not found");
    auto w = wal::Wal::open(fs, src_wal, walsnap);
    if (!w.is_ok()) return w.status();
    auto read = (*w)->read_all();
    (void)(*w)->close();
    if (read.is_ok()) {
      contents = std::move(read).value();
      break;
    }
    if (read.status().code() != Code::kNotFound || walsnap.index.value() == 0) {
      return read.status();
    }
    // The snapshot file outlived its WAL marker (a crash between the two):
    // an older snapshot the WAL knows will do.
    log("Failed to find the match snapshot record {Index:" + std::to_string(walsnap.index.value()) +
        " Term:" + std::to_string(walsnap.term.value()) + "} in wal " + src_wal + ".");
    log("etcdctl will use the newest older snapshot the WAL records instead.");
    loaded = src_snapshotter.load_newest_below(walsnap.index);
  }
  // The source's ids are replaced below; like etcd, refuse a WAL whose
  // metadata does not decode.
  if (auto meta = server::parse_wal_metadata(contents.metadata); !meta.is_ok()) {
    return meta.status();
  }
  const uint64_t snap_index = snapshot.metadata().index();
  const uint64_t snap_term = snapshot.metadata().term();
  if (snap_index > 0) {
    snap::Snapshotter dest(fs, dest_snap, /*max_snapshots=*/0);
    RETURN_IF_ERROR(dest.save(snapshot));
  }

  auto filtered = filter_entries(std::move(contents.entries), o.with_v3, log);
  if (!filtered.is_ok()) return filtered.status();
  raftpb::HardState hs = contents.hard_state;
  const backend::ConsistentIndex floor{Index(snap_index), Term(snap_term)};
  const backend::ConsistentIndex new_commit = renumbered(*filtered, hs.commit(), floor);
  hs.set_commit(new_commit.index.value());

  // The v3 backend.
  std::set<uint64_t> voters(snapshot.metadata().conf_state().voters().begin(),
                            snapshot.metadata().conf_state().voters().end());
  if (o.with_v3) RETURN_IF_ERROR(copy_db(*src, dest_db));
  {
    auto opened = open_db(dest_db, clock, log);
    if (!opened.is_ok()) return opened.status();
    std::unique_ptr<backend::Backend> dest = std::move(opened).value();
    {
      backend::BatchTx tx = dest->batch_tx();
      if (o.with_v3) {
        // The copy's consistent index, renumbered as its entries were.
        const backend::ConsistentIndex ci = dest->consistent_index();
        if (ci.index.value() > snap_index) {
          tx.set_consistent_index(renumbered(*filtered, ci.index.value(), floor));
        }
      } else {
        if (src) copy_membership(*src, tx);
        // Every kept entry up to the commit is applied already as far as
        // the v3 store goes: none of them is a v3 request.
        tx.set_consistent_index(new_commit);
      }
      keep_snapshot_voters(tx, voters);
    }
    dest->close();
    // LMDB's lock file: the server makes its own.
    (void)::unlink((dest_db + "-lock").c_str());
  }
  if (src) src->close();

  // The new WAL: fresh ids, the snapshot's marker, the kept entries.
  std::mt19937_64 rng(std::random_device{}());
  const uint64_t member_id = random_id(rng);
  const uint64_t cluster_id = random_id(rng);
  auto w = wal::Wal::create(fs, dest_wal, server::wal_metadata(MemberId(member_id), cluster_id));
  if (!w.is_ok()) return w.status();
  if (snap_index > 0) {
    RETURN_IF_ERROR((*w)->save_snapshot(wal::WalSnapshot{Index(snap_index), Term(snap_term)}));
  }
  RETURN_IF_ERROR((*w)->save(hs, filtered->entries, /*must_sync=*/true));
  return (*w)->close();
}

std::string backup_help() {
  return "NAME:\n"
         "   etcdctl backup - backup an etcd directory\n"
         "\n"
         "USAGE:\n"
         "   etcdctl backup [command options]  \n"
         "\n"
         "OPTIONS:\n"
         "   --data-dir value        Path to the etcd data dir\n"
         "   --wal-dir value         Path to the etcd wal dir\n"
         "   --backup-dir value      Path to the backup dir\n"
         "   --backup-wal-dir value  Path to the backup wal dir\n"
         "   --with-v3               Backup v3 backend data\n"
         "   \n";
}

int run_backup(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  BackupOptions o;
  auto usage_error = [&](const std::string& msg) {
    out << "Incorrect Usage: " << msg << "\n\n" << backup_help();
    err << msg << "\n";
    return 1;
  };
  // Go's flag package: -name, --name, -name=value, a string flag's value
  // in the next argument; parsing stops at the first non-flag or "--".
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') break;
    if (a == "--") break;
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    if (name.empty() || name[0] == '-' || name[0] == '=')
      return usage_error("bad flag syntax: " + a);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    std::string* target = name == "data-dir"         ? &o.data_dir
                          : name == "wal-dir"        ? &o.wal_dir
                          : name == "backup-dir"     ? &o.backup_dir
                          : name == "backup-wal-dir" ? &o.backup_wal_dir
                                                     : nullptr;
    if (target != nullptr) {
      if (!value) {
        if (i + 1 >= args.size()) return usage_error("flag needs an argument: -" + name);
        value = args[++i];
      }
      *target = *value;
    } else if (name == "with-v3") {
      static const std::set<std::string> kTrue = {"1", "t", "T", "true", "TRUE", "True"};
      static const std::set<std::string> kFalse = {"0", "f", "F", "false", "FALSE", "False"};
      if (!value || kTrue.count(*value)) {
        o.with_v3 = true;
      } else if (kFalse.count(*value)) {
        o.with_v3 = false;
      } else {
        return usage_error("invalid boolean value \"" + *value + "\" for -" + name +
                           ": parse error");
      }
    } else if (name == "help" || name == "h") {
      out << backup_help();
      return 0;
    } else {
      return usage_error("flag provided but not defined: -" + name);
    }
  }
  auto log = [&err](const std::string& line) {
    err << capnslog_time() << " I | " << line << "\n";
    err.flush();
  };
  Status st = backup(o, log);
  if (!st.is_ok()) {
    // etcd's log.Fatal: the error as a log line, exit status 1.
    log(st.message());
    return 1;
  }
  return 0;
}

}  // namespace etcd::ctl::v2
