// etcdctl alarm list|disarm, defrag, move-leader and snapshot
// save|status|restore, as etcd 3.5's etcdctl (docs/etcdctl.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "etcdctl/cluster_util.h"
#include "etcdctl/global.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/humanize.h"
#include "etcdutl/cli.h"
#include "etcdutl/defrag.h"

namespace etcd::ctl {
namespace {

using client::Connection;
using etcdserverpb::Maintenance;

// Go's error text for a failed system call: strerror with a lowercase
// first letter ("no such file or directory").
std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// Progress lines go to stderr only when it is a terminal, and are erased
// before anything else is written there.
class Progress {
 public:
  Progress() : on_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() { clear(); }
  void show(const std::string& line) {
    if (!on_) return;
    std::cerr << "\r\033[K" << line << std::flush;
    shown_ = true;
  }
  void clear() {
    if (!on_ || !shown_) return;
    std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
};

// ---- alarm ----

void print_alarms(const Display& d, const etcdserverpb::AlarmResponse& r) {
  switch (d.format) {
    case OutputFormat::kSimple:
      // Go's %+v of *AlarmMember: its compact proto text, which leaves out
      // zero fields (a CORRUPT alarm raised for the cluster has member 0).
      for (const auto& a : r.alarms()) {
        if (a.memberid() != 0) std::cout << "memberID:" << a.memberid() << " ";
        if (a.alarm() != etcdserverpb::NONE) {
          std::cout << "alarm:" << etcdserverpb::AlarmType_Name(a.alarm()) << " ";
        }
        std::cout << "\n";
      }
      break;
    case OutputFormat::kJson:
      std::cout << go_json(r) << "\n";
      break;
    case OutputFormat::kFields:
      std::cout << "\"ClusterID\" : " << r.header().cluster_id() << "\n"
                << "\"MemberID\" : " << r.header().member_id() << "\n"
                << "\"Revision\" : " << r.header().revision() << "\n"
                << "\"RaftTerm\" : " << r.header().raft_term() << "\n";
      for (const auto& a : r.alarms()) {
        std::cout << "\"MemberID\" : " << a.memberid() << "\n"
                  << "\"AlarmType\" : " << etcdserverpb::AlarmType_Name(a.alarm()) << "\n\n";
      }
      break;
    case OutputFormat::kProtobuf:
      std::cout << r.SerializeAsString();
      break;
    case OutputFormat::kTable:
      unsupported_format(d);
  }
}

etcdserverpb::AlarmResponse alarm_list_of(client::Client& c, client::Deadline deadline) {
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::GET);
  etcdserverpb::AlarmResponse resp;
  check(c.call(&Connection::maintenance, &Maintenance::Stub::Alarm, req, &resp, deadline,
               client::Idempotent::kYes));
  return resp;
}

void alarm_list(Invocation& inv) {
  if (!inv.args.empty()) {
    exit_with_error(kExitBadArgs, "alarm list command accepts no arguments");
  }
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  print_alarms(display_from(inv), alarm_list_of(*c, deadline));
}

void alarm_disarm(Invocation& inv) {
  if (!inv.args.empty()) {
    exit_with_error(kExitBadArgs, "alarm disarm command accepts no arguments");
  }
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  // As etcd's client disarms "everything": each listed alarm in turn; the
  // answer is the alarms disarmed, without a header.
  etcdserverpb::AlarmResponse all;
  const etcdserverpb::AlarmResponse listed = alarm_list_of(*c, deadline);
  for (const auto& a : listed.alarms()) {
    etcdserverpb::AlarmRequest req;
    req.set_action(etcdserverpb::AlarmRequest::DEACTIVATE);
    req.set_memberid(a.memberid());
    req.set_alarm(a.alarm());
    etcdserverpb::AlarmResponse resp;
    check(c->call(&Connection::maintenance, &Maintenance::Stub::Alarm, req, &resp, deadline,
                  client::Idempotent::kNo));
    for (const auto& d : resp.alarms()) *all.add_alarms() = d;
  }
  print_alarms(display_from(inv), all);
}

// ---- defrag ----

// etcdutl's logger (its lines on stderr), for what etcdctl runs of it.
std::unique_ptr<log::Logger> etcdutl_logger() {
  auto l = log::Logger::create(log::Level::kInfo, {"stderr"}, [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
  return l.is_ok() ? std::move(l).value() : nullptr;
}

// etcd 3.5 sends --data-dir to etcdutl's offline defrag (DefragData: no
// "Finished" line, the error as it is).
void defrag_data_dir(const std::string& data_dir) {
  std::cerr << "Use `etcdutl defrag` instead. The --data-dir is going to be decomissioned in "
               "v3.6.\n\n";
  const auto start = std::chrono::steady_clock::now();
  bool warned = false;
  auto logger = etcdutl_logger();
  while (true) {
    auto r = utl::defrag_data_dir(data_dir, logger.get());
    if (logger) logger->flush();
    if (r.is_ok()) return;
    if (r.status().code() != Code::kUnavailable) {
      exit_with_error(kExitError, r.status().message());
    }
    // A running etcd holds the file: wait for it to go, as etcd does,
    // saying so after a second.
    if (!warned && std::chrono::steady_clock::now() - start >= std::chrono::seconds(1)) {
      std::cerr << "waiting for etcd to close and release its lock on \"" << data_dir
                << "/member/snap/db\". To defrag a running etcd instance, omit --data-dir.\n";
      warned = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void defrag(Invocation& inv) {
  const std::string data_dir = inv.get_string("data-dir");
  if (!data_dir.empty()) {
    defrag_data_dir(data_dir);
    return;
  }
  int failures = 0;
  auto c = must_client(inv);
  const std::vector<std::string> eps = endpoints_from_cluster(inv);
  Progress progress;
  for (size_t i = 0; i < eps.size(); ++i) {
    const std::string& ep = eps[i];
    if (eps.size() > 1) {
      progress.show("defragmenting " + std::to_string(i + 1) + "/" + std::to_string(eps.size()) +
                    ": " + ep + " ...");
    }
    etcdserverpb::DefragmentResponse resp;
    grpc::Status s = c->call_on(ep, &Connection::maintenance, &Maintenance::Stub::Defragment,
                                etcdserverpb::DefragmentRequest(), &resp, command_deadline(inv));
    progress.clear();
    if (!s.ok()) {
      std::cout.flush();
      std::cerr << "Failed to defragment etcd member[" << ep << "] (" << go_error_string(s)
                << ")\n";
      ++failures;
    } else {
      std::cout << "Finished defragmenting etcd member[" << ep << "]\n" << std::flush;
    }
  }
  if (failures != 0) {
    std::cout.flush();
    std::exit(kExitError);
  }
}

// ---- move-leader ----

void move_leader(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "move-leader command needs 1 argument");
  }
  ParsedUint target = parse_hex_uint64(inv.args[0]);
  if (!target.error.empty()) exit_with_error(kExitBadArgs, target.error);
  const Display d = display_from(inv);
  const std::vector<std::string> eps = inv.get_slice("endpoints");
  must_client(inv);  // etcdctl dials the whole list first
  const auto deadline = command_deadline(inv);
  // The leader among the given endpoints: the one whose status names itself.
  std::unique_ptr<client::Client> leader;
  uint64_t leader_id = 0;
  for (const auto& ep : eps) {
    // etcdctl reads its configuration again for each one.
    client::Options one = client_config_from(inv);
    one.endpoints = {ep};
    auto c = must_client(std::move(one));
    etcdserverpb::StatusResponse st;
    check(c->call_on(ep, &Connection::maintenance, &Maintenance::Stub::Status,
                     etcdserverpb::StatusRequest(), &st, deadline));
    if (st.header().member_id() == st.leader()) {
      leader = std::move(c);
      leader_id = st.leader();
      break;
    }
  }
  if (!leader) exit_with_error(kExitBadArgs, "no leader endpoint given at " + go_string_slice(eps));
  etcdserverpb::MoveLeaderRequest req;
  req.set_targetid(target.value);
  etcdserverpb::MoveLeaderResponse resp;
  check(leader->call(&Connection::maintenance, &Maintenance::Stub::MoveLeader, req, &resp, deadline,
                     client::Idempotent::kNo));
  switch (d.format) {
    case OutputFormat::kSimple:
      std::cout << "Leadership transferred from " << hex_u64(leader_id) << " to "
                << hex_u64(target.value) << "\n";
      break;
    case OutputFormat::kJson:
      std::cout << go_json(resp) << "\n";
      break;
    case OutputFormat::kProtobuf:
      std::cout << resp.SerializeAsString();
      break;
    default:
      unsupported_format(d);
  }
}

// ---- snapshot ----

// go-humanize's Time(then) for a past moment: "now", "1 second ago", ...
std::string humanize_ago(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  const int64_t s = duration_cast<seconds>(d).count();
  if (s < 1) return "now";
  if (s < 2) return "1 second ago";
  if (s < 60) return std::to_string(s) + " seconds ago";
  if (s < 120) return "1 minute ago";
  if (s < 3600) return std::to_string(s / 60) + " minutes ago";
  if (s < 7200) return "1 hour ago";
  if (s < 86400) return std::to_string(s / 3600) + " hours ago";
  if (s < 2 * 86400) return "1 day ago";
  return std::to_string(s / 86400) + " days ago";
}

constexpr const char* kSnapshotGo = "snapshot/v3_snapshot.go:";
constexpr const char* kMaintenanceGo = "v3/maintenance.go:";

// etcd's snapshot.Save: the stream into "<path>.part", checked for its
// sha256 trailer, fsynced, renamed. Returns "" or the error.
std::string save_snapshot(const Invocation& inv, const std::string& path,
                          client::Deadline deadline) {
  client::Options o = client_config_from(inv);
  const std::vector<std::string> eps = o.endpoints;
  if (eps.size() != 1) {
    return "snapshot must be requested to one selected node, not multiple " + go_string_slice(eps);
  }
  std::unique_ptr<client::Client> cp;
  if (grpc::Status s = new_client(std::move(o), cp); !s.ok()) return go_error_string(s);
  client::Client& c = *cp;
  const std::string part = path + ".part";
  struct RemovePart {
    std::string path;
    ~RemovePart() { ::unlink(path.c_str()); }
  } remove_part{part};
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return "could not open " + part + " (open " + part + ": " + errno_text(errno) + ")";
  }
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } close_fd{fd};
  zap_log("info", "", std::string(kSnapshotGo) + "65", "created temporary db file",
          {{"path", part}});
  const auto start = std::chrono::steady_clock::now();

  Progress progress;
  uint64_t size = 0;
  std::string write_error;
  grpc::Status st;
  auto conn = c.connection(deadline);
  if (!conn) return "context deadline exceeded";
  {
    grpc::ClientContext ctx;
    c.prepare(ctx, deadline);
    auto reader = conn->maintenance->Snapshot(&ctx, etcdserverpb::SnapshotRequest());
    zap_log("info", "client", std::string(kMaintenanceGo) + "212",
            "opened snapshot stream; downloading");
    zap_log("info", "", std::string(kSnapshotGo) + "73", "fetching snapshot",
            {{"endpoint", eps[0]}});
    etcdserverpb::SnapshotResponse chunk;
    auto last_shown = std::chrono::steady_clock::now();
    while (reader->Read(&chunk)) {
      const std::string& blob = chunk.blob();
      size_t off = 0;
      while (off < blob.size()) {
        const ssize_t n = ::write(fd, blob.data() + off, blob.size() - off);
        if (n < 0) {
          if (errno == EINTR) continue;
          write_error = "write " + part + ": " + errno_text(errno);
          break;
        }
        off += static_cast<size_t>(n);
      }
      if (!write_error.empty()) {
        ctx.TryCancel();
        break;
      }
      size += blob.size();
      const auto now = std::chrono::steady_clock::now();
      if (now - last_shown >= std::chrono::milliseconds(200)) {
        const int64_t remaining = static_cast<int64_t>(chunk.remaining_bytes());
        std::string line = "downloading snapshot: " + humanize_bytes(size);
        if (remaining > 0) line += " (" + humanize_bytes(size + remaining) + " total)";
        progress.show(line);
        last_shown = now;
      }
    }
    st = reader->Finish();
  }
  progress.clear();
  if (!write_error.empty()) return write_error;
  if (!st.ok()) {
    zap_log("warn", "client", std::string(kMaintenanceGo) + "222",
            "failed to receive from snapshot stream; closing", {{"error", grpc_error_text(st)}});
    return go_error_string(st);
  }
  zap_log("info", "client", std::string(kMaintenanceGo) + "220",
          "completed snapshot read; closing");
  // 512 divides the db size (whole pages); the stream appends 32 sha256 bytes.
  if (size % 512 != 32) return "sha256 checksum not found [bytes: " + std::to_string(size) + "]";
  if (::fsync(fd) != 0) return "sync " + part + ": " + errno_text(errno);
  const int fd_to_close = close_fd.fd;
  close_fd.fd = -1;
  if (::close(fd_to_close) != 0) return "close " + part + ": " + errno_text(errno);
  zap_log("info", "", std::string(kSnapshotGo) + "88", "fetched snapshot",
          {{"endpoint", eps[0]},
           {"size", humanize_bytes(size)},
           {"took", humanize_ago(std::chrono::steady_clock::now() - start)}});
  if (::rename(part.c_str(), path.c_str()) != 0) {
    return "could not rename " + part + " to " + path + " (rename " + part + " " + path + ": " +
           errno_text(errno) + ")";
  }
  zap_log("info", "", std::string(kSnapshotGo) + "97", "saved", {{"path", path}});
  return "";
}

void snapshot_save(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "snapshot save expects one argument");
  }
  display_from(inv);
  // Without an explicit --command-timeout the download may take as long as
  // it needs.
  const client::Deadline deadline =
      inv.changed("command-timeout") ? command_deadline(inv) : client::Deadline::max();
  const std::string path = inv.args[0];
  if (std::string err = save_snapshot(inv, path, deadline); !err.empty()) {
    exit_with_error(kExitInterrupted, err);
  }
  std::cout << "Snapshot saved at " << path << "\n";
}

// etcd 3.5's deprecated `snapshot status|restore`: the notice, then what
// `etcdutl snapshot status|restore` does with the same arguments.
int run_etcdutl(std::vector<std::string> args, const std::vector<std::string>& positional) {
  args.push_back("--");
  args.insert(args.end(), positional.begin(), positional.end());
  std::cout.flush();
  const int code = utl::run_cli(args, std::cout, std::cerr);
  std::cout.flush();
  return code;
}

void snapshot_status(Invocation& inv) {
  std::cerr << "Deprecated: Use `etcdutl snapshot status` instead.\n\n";
  const int code =
      run_etcdutl({"snapshot", "status", "--write-out=" + inv.get_string("write-out")}, inv.args);
  if (code != 0) std::exit(code);
}

void snapshot_restore(Invocation& inv) {
  std::cerr << "Deprecated: Use `etcdutl snapshot restore` instead.\n\n";
  std::vector<std::string> args = {"snapshot", "restore"};
  for (const char* name : {"data-dir", "wal-dir", "initial-cluster", "initial-cluster-token",
                           "initial-advertise-peer-urls", "name", "skip-hash-check",
                           "bump-revision", "mark-compacted"}) {
    args.push_back(std::string("--") + name + "=" + inv.get_string(name));
  }
  const int code = run_etcdutl(args, inv.args);
  if (code != 0) std::exit(code);
}

}  // namespace

void add_maintenance_commands(Command& root) {
  Command& alarm = root.add("alarm <subcommand>", "Alarm related commands", "", nullptr);
  alarm.add("disarm", "Disarms all alarms", "", alarm_disarm);
  alarm.add("list", "Lists all alarms", "", alarm_list);

  Command& df = root.add(
      "defrag", "Defragments the storage of the etcd members with given endpoints", "", defrag);
  df.persistent_flags().add(FlagKind::kBool, "cluster", "", "false",
                            "use all endpoints from the cluster member list");
  df.flags().add(FlagKind::kString, "data-dir", "", "",
                 "Optional. If present, defragments a data directory not in use by etcd.");

  root.add("move-leader <transferee-member-id>",
           "Transfers leadership to another etcd cluster member.", "", move_leader);

  Command& snap = root.add("snapshot <subcommand>", "Manages etcd node snapshots", "", nullptr);
  snap.add("save <filename>", "Stores an etcd node backend snapshot to a given file", "",
           snapshot_save);
  Command& restore = snap.add("restore <filename> [options]",
                              "Restores an etcd member snapshot to an etcd directory",
                              "Moved to `etcdutl snapshot restore ...`\n", snapshot_restore);
  FlagSet& rf = restore.flags();
  rf.add(FlagKind::kString, "data-dir", "", "", "Path to the data directory");
  rf.add(FlagKind::kString, "wal-dir", "", "",
         "Path to the WAL directory (use --data-dir if none given)");
  rf.add(FlagKind::kString, "initial-cluster", "", "default=http://localhost:2380",
         "Initial cluster configuration for restore bootstrap");
  rf.add(FlagKind::kString, "initial-cluster-token", "", "etcd-cluster",
         "Initial cluster token for the etcd cluster during restore bootstrap");
  rf.add(FlagKind::kString, "initial-advertise-peer-urls", "", "http://localhost:2380",
         "List of this member's peer URLs to advertise to the rest of the cluster");
  rf.add(FlagKind::kString, "name", "", "default", "Human-readable name for this member");
  rf.add(FlagKind::kBool, "skip-hash-check", "", "false",
         "Ignore snapshot integrity hash value (required if copied from data directory)");
  rf.add(FlagKind::kUint, "bump-revision", "", "0",
         "How much to increase the latest revision after restore");
  rf.add(FlagKind::kBool, "mark-compacted", "", "false",
         "Mark the latest revision after restore as the point of scheduled compaction (required "
         "if --bump-revision > 0, disallowed otherwise)");
  snap.add("status <filename>", "[deprecated] Gets backend snapshot status of a given file",
           "When --write-out is set to simple, this command prints out comma-separated status "
           "lists for each endpoint.\nThe items in the lists are hash, revision, total keys, "
           "total size.\n\nMoved to 'etcdutl snapshot status ...'\n",
           snapshot_status);
}

}  // namespace etcd::ctl
