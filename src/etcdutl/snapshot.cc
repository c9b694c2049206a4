#include "etcdutl/snapshot.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "env/clock.h"
#include "env/file_system.h"
#include "env/posix_file_system.h"
#include "etcdutl/db_reader.h"
#include "raft/raftpb_encode.h"
#include "raftpb/raft.pb.h"
#include "server/cluster_ids.h"
#include "server/config/config.h"
#include "server/membership.h"
#include "server/membership_mirror.h"
#include "server/raft_storage.h"
#include "server/v2_api.h"
#include "server/wal_metadata.h"
#include "storage/backend/backend.h"
#include "storage/backend/schema.h"
#include "storage/backend/snapshot.h"
#include "storage/bbolt/bbolt.h"

namespace etcd::utl {
namespace {

namespace stdfs = std::filesystem;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// etcd's fileutil.Exist && !DirEmpty: a file, or a directory with entries
// or that cannot be listed.
bool exists_and_not_empty(const std::string& path) {
  std::error_code ec;
  if (!stdfs::exists(path, ec)) return ec ? true : false;
  if (!stdfs::is_directory(path, ec)) return true;
  stdfs::directory_iterator it(path, ec);
  if (ec) return true;
  return it != stdfs::directory_iterator();
}

// The new cluster's members, by id (etcd's NewClusterFromURLsMap): each
// id derived from its sorted peer URLs and the token, as the server does.
std::map<MemberId, server::Member> members_of(
    const std::map<std::string, std::vector<std::string>>& initial, const std::string& token) {
  std::map<MemberId, server::Member> out;
  for (const auto& [name, urls] : initial) {
    server::Member m;
    m.id = server::compute_member_id(urls, token);
    m.name = name;
    m.peer_urls = urls;
    std::sort(m.peer_urls.begin(), m.peer_urls.end());
    out[m.id] = m;
  }
  return out;
}

// etcd's VerifyBootstrap for the restored member, after types.NewURLs of
// the advertised URLs and types.NewURLsMap of the initial cluster.
Status verify_bootstrap(const RestoreOptions& o,
                        const std::map<std::string, std::vector<std::string>>& initial) {
  for (const auto& u : o.initial_advertise_peer_urls) {
    if (auto err = config::check_url(u)) return invalid_argument(*err);
  }
  for (const auto& [name, urls] : initial) {
    for (const auto& u : urls) {
      if (auto err = config::check_url(u)) return invalid_argument(*err);
    }
  }
  auto self = initial.find(o.name);
  if (self == initial.end()) {
    return invalid_argument("couldn't find local name " + quoted(o.name) +
                            " in the initial cluster configuration");
  }
  std::vector<std::string> advertised = o.initial_advertise_peer_urls;
  std::vector<std::string> listed = self->second;
  std::sort(advertised.begin(), advertised.end());
  std::sort(listed.begin(), listed.end());
  if (advertised != listed) {
    std::vector<std::string> want;
    for (const auto& u : self->second) want.push_back(o.name + "=" + u);
    return invalid_argument("--initial-cluster has " + join(want, ",") +
                            " but missing from --initial-advertise-peer-urls=" +
                            join(o.initial_advertise_peer_urls, ","));
  }
  std::vector<std::string> all;
  for (const auto& [name, urls] : initial) all.insert(all.end(), urls.begin(), urls.end());
  std::sort(all.begin(), all.end());
  if (std::adjacent_find(all.begin(), all.end()) != all.end()) {
    return invalid_argument("initial cluster " + o.initial_cluster + " has duplicate url");
  }
  return Status::ok();
}

// The latest main revision the store will report: the last record of the
// key bucket, or a compaction beyond it.
int64_t latest_revision(backend::BatchTx& tx) {
  int64_t latest = 1;
  tx.for_each(backend::Bucket::kKey, "", "", [&](std::string_view k, std::string_view) {
    if (auto p = backend::parse_revision_key(k)) latest = std::max(latest, p->rev.main);
    return true;
  });
  for (auto key : {backend::kMetaScheduledCompactRev, backend::kMetaFinishedCompactRev}) {
    if (auto v = tx.get(backend::Bucket::kMeta, key)) {
      if (auto p = backend::parse_revision_key(*v)) latest = std::max(latest, p->rev.main);
    }
  }
  return latest;
}

// Rewrites the installed db for the new cluster in one batch: the old
// membership out, the new one in, the consistent index of the restored
// log, and the revision bump. etcd 3.5 does the same in saveDB,
// saveWALAndSnap, updateCIndex and modifyLatestRevision.
Status rewrite_db(const std::string& db, const RestoreOptions& o,
                  const std::map<MemberId, server::Member>& members, log::Logger* logger) {
  env::RealClock clock;
  backend::Options bo;
  bo.background_commit = false;
  bo.sync_mode = backend::SyncMode::kSync;
  auto opened = backend::Backend::open(db, bo, clock);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<backend::Backend> be = std::move(opened).value();
  {
    backend::BatchTx tx = be->batch_tx();
    for (backend::Bucket b : {backend::Bucket::kMembers, backend::Bucket::kMembersRemoved}) {
      for (const auto& kv : tx.range(b, "", "")) tx.del(b, kv.key);
    }
    std::vector<MemberId> ids;
    for (const auto& [id, m] : members) ids.push_back(id);
    server::Membership membership(members.begin()->first, server::compute_cluster_id(ids));
    for (const auto& [id, m] : members) membership.add(m, tx);
    if (o.bump_revision > 0) {
      const int64_t latest = latest_revision(tx);
      const int64_t bumped = latest + static_cast<int64_t>(o.bump_revision);
      if (logger != nullptr) {
        logger->info("bumping latest revision", {{"latest-revision", latest},
                                                 {"bump-amount", o.bump_revision},
                                                 {"new-latest-revision", bumped}});
        logger->info("marking revision compacted", {{"revision", bumped}});
      }
      // A scheduled compaction at the bumped revision: the store starts
      // there (its revision is at least the compaction's) and finishes the
      // compaction when it opens, so nothing below it can be read or
      // watched. etcd also writes an empty record at that revision in the
      // key bucket; ours needs none (see docs/etcdutl.md).
      RETURN_IF_ERROR(tx.put(backend::Bucket::kMeta, backend::kMetaScheduledCompactRev,
                             backend::revision_key(Revision{bumped, 0})));
    }
    tx.set_consistent_index({Index(members.size()), Term(1)});
  }
  be->close();
  return Status::ok();
}

// The member's WAL and raft snapshot file: one ConfChangeAddNode entry per
// member (term 1, indexes 1..n, ascending ids), committed, and a raft
// snapshot at n whose ConfState names every member as a voter and whose
// Data is a v2 store holding the members (etcd's saveWALAndSnap). A
// restart opens the log at that snapshot.
Status write_raft_state(const std::string& wal_dir, const std::string& snap_dir,
                        const std::map<MemberId, server::Member>& members, MemberId local,
                        uint64_t cluster_id) {
  env::PosixFileSystem fs;
  auto created = server::RaftStorage::create(fs, wal_dir, snap_dir,
                                             server::wal_metadata(local, cluster_id), {});
  if (!created.is_ok()) return created.status();
  server::RaftStorage rs = std::move(created).value();
  std::vector<raftpb::Entry> entries;
  raftpb::ConfState cs;
  for (const auto& [id, m] : members) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(id.value());
    cc.set_context(m.to_json());
    raftpb::Entry& e = entries.emplace_back();
    e.set_type(raftpb::EntryConfChange);
    e.set_term(1);
    e.set_index(entries.size());
    e.set_data(raft::gogo::encode(cc));  // etcd's bytes
    cs.add_voters(id.value());
  }
  const uint64_t commit = entries.size();
  v2store::Store store({std::string(server::kV2ClusterPrefix), std::string(server::kV2KeysPrefix)});
  server::MembershipMirror mirror(store);
  for (const auto& [id, m] : members) mirror.added(id, m.peer_urls, m.is_learner);
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_vote(members.begin()->first.value());
  hs.set_commit(commit);
  RETURN_IF_ERROR(rs.wal->save(hs, entries, /*must_sync=*/true));
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(commit);
  snap.mutable_metadata()->set_term(1);
  *snap.mutable_metadata()->mutable_conf_state() = cs;
  snap.set_data(store.save());
  RETURN_IF_ERROR(rs.snapshotter->save(snap));
  RETURN_IF_ERROR(rs.wal->save_snapshot(wal::WalSnapshot{Index(commit), Term(1)}));
  return rs.wal->close();
}

// etcd's snapshot status over a bbolt file: bbolt's integrity check, then
// the CRC-32C of every top-level bucket's name and its keys and values in
// bbolt's order (a nested bucket's value counts as empty, as bolt's ForEach
// gives nil), the revision of the key bucket's last key, and tx.Size(): the
// high water mark's pages.
Result<SnapshotStatus> bbolt_status(const std::string& path) {
  auto opened = bbolt::Reader::open(path);
  if (!opened.is_ok()) return opened.status();
  bbolt::Reader& r = **opened;
  if (Status ok = r.check(); !ok.is_ok()) {
    return data_loss("snapshot file integrity check failed. 1 errors found.\n" + ok.message());
  }
  SnapshotStatus st;
  st.total_size = static_cast<int64_t>(r.meta().high_water * r.meta().page_size);
  auto names = r.bucket_names();
  if (!names.is_ok()) return names.status();
  uint32_t crc = 0;
  for (const std::string& name : *names) {
    crc = crc32c::extend(crc, name.data(), name.size());
    const bool key_bucket = name == backend::bucket_name(backend::Bucket::kKey);
    RETURN_IF_ERROR(r.for_each({name}, [&](const bbolt::Entry& e) {
      crc = crc32c::extend(crc, e.key.data(), e.key.size());
      if (!e.is_bucket) crc = crc32c::extend(crc, e.value.data(), e.value.size());
      if (key_bucket && e.key.size() >= 8) {
        st.revision =
            static_cast<int64_t>(get_u64_be(reinterpret_cast<const uint8_t*>(e.key.data())));
      }
      ++st.total_keys;
      return Status::ok();
    }));
  }
  st.hash = crc;
  return st;
}

}  // namespace

Result<SnapshotStatus> snapshot_status(const std::string& path) {
  RETURN_IF_ERROR(check_snapshot_file(path));
  // etcd checks the file's integrity first (bolt's tx.Check). A snapshot
  // file carries the digest of its image: a damaged image is refused here
  // (beyond etcd, which does not read the digest; LMDB trusts its page
  // numbers). A db file has no digest and is walked as it is.
  std::error_code ec;
  const auto size = stdfs::file_size(path, ec);
  if (!ec && backend::has_sha256_trailer(size)) {
    Status ok = backend::verify_snapshot_file(path);
    if (!ok.is_ok()) {
      return data_loss("snapshot file integrity check failed. 1 errors found.\n" + ok.message());
    }
  }
  if (sniff_db_kind(path) == DbKind::kBbolt) return bbolt_status(path);
  SnapshotStatus st;
  uint32_t crc = 0;
  bool in_key_bucket = false;
  DbVisitor v;
  v.bucket = [&](std::string_view name) {
    crc = crc32c::extend(crc, name.data(), name.size());
    in_key_bucket = name == backend::bucket_name(backend::Bucket::kKey);
  };
  v.kv = [&](std::string_view k, std::string_view val) {
    crc = crc32c::extend(crc, k.data(), k.size());
    crc = crc32c::extend(crc, val.data(), val.size());
    if (in_key_bucket && k.size() >= 8) {
      st.revision = static_cast<int64_t>(get_u64_be(reinterpret_cast<const uint8_t*>(k.data())));
    }
    ++st.total_keys;
  };
  RETURN_IF_ERROR(walk_db(path, v, &st.total_size));
  st.hash = crc;
  return st;
}

Status snapshot_restore(const RestoreOptions& o, log::Logger* logger) {
  if ((o.bump_revision == 0 && o.mark_compacted) || (o.bump_revision > 0 && !o.mark_compacted)) {
    return invalid_argument("--mark-compacted required if --revision-bump > 0");
  }
  auto initial = server::parse_initial_cluster(o.initial_cluster);
  if (!initial.is_ok()) return initial.status();
  RETURN_IF_ERROR(verify_bootstrap(o, *initial));
  const auto members = members_of(*initial, o.initial_cluster_token);
  std::vector<MemberId> ids;
  for (const auto& [id, m] : members) ids.push_back(id);
  const uint64_t cluster_id = server::compute_cluster_id(ids);
  const MemberId local = server::compute_member_id(initial->at(o.name), o.initial_cluster_token);

  const std::string data_dir = o.data_dir.empty() ? o.name + ".etcd" : o.data_dir;
  if (exists_and_not_empty(data_dir)) {
    return failed_precondition("data-dir " + quoted(data_dir) + " not empty or could not be read");
  }
  const std::string member_dir = env::join_path(data_dir, "member");
  const std::string wal_dir = o.wal_dir.empty() ? env::join_path(member_dir, "wal") : o.wal_dir;
  std::error_code ec;
  if (stdfs::exists(wal_dir, ec))
    return failed_precondition("wal-dir " + quoted(wal_dir) + " exists");
  const std::string snap_dir = env::join_path(member_dir, "snap");
  const std::string db = env::join_path(snap_dir, "db");
  RETURN_IF_ERROR(check_snapshot_file(o.snapshot_path));

  const log::Fields where = {{"path", o.snapshot_path},
                             {"wal-dir", wal_dir},
                             {"data-dir", data_dir},
                             {"snap-dir", snap_dir}};
  if (logger != nullptr) logger->info("restoring snapshot", where);

  const bool data_dir_existed = stdfs::exists(data_dir, ec);
  Status s = [&]() -> Status {
    env::PosixFileSystem fs;
    RETURN_IF_ERROR(env::mkdir_all(fs, snap_dir, env::kPrivateDirMode));
    ::chmod(data_dir.c_str(), 0700);
    RETURN_IF_ERROR(backend::install_snapshot(o.snapshot_path, db, o.skip_hash_check));
    RETURN_IF_ERROR(rewrite_db(db, o, members, logger));
    return write_raft_state(wal_dir, snap_dir, members, local, cluster_id);
  }();
  if (!s.is_ok()) {
    // Leave nothing half-made behind (a db without its WAL is refused by
    // the server); only what this restore created goes.
    stdfs::remove_all(data_dir_existed ? member_dir : data_dir, ec);
    if (!o.wal_dir.empty()) stdfs::remove_all(wal_dir, ec);
    return s;
  }
  if (logger != nullptr) logger->info("restored snapshot", where);
  return Status::ok();
}

}  // namespace etcd::utl
