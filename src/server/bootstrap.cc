#include "server/bootstrap.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/duration.h"
#include "server/cluster_ids.h"
#include "server/data_dir_check.h"
#include "server/db_import.h"
#include "server/force_new_cluster.h"
#include "server/wal_metadata.h"

namespace etcd::server {

namespace {

RaftStorageOptions storage_options(const config::ServerConfig& cfg, log::Logger& logger) {
  RaftStorageOptions o;
  o.wal.max_wals = cfg.max_wals;
  o.wal.logger = &logger;
  o.max_snapshots = cfg.max_snapshots;
  o.logger = &logger;
  return o;
}

// etcd's GetClusterFromRemotePeers: the member list and cluster id of the
// first running member (of --initial-cluster, this one excepted) that
// answers /members.
Status fetch_remote_cluster(const config::ServerConfig& cfg,
                            const std::map<std::string, std::vector<std::string>>& initial,
                            const PeerHttpCall& http, log::Logger& logger,
                            std::vector<Member>* members, uint64_t* cluster_id) {
  std::vector<std::string> urls;
  for (const auto& [name, list] : initial) {
    for (const auto& u : list) {
      if (std::find(cfg.initial_advertise_peer_urls.begin(), cfg.initial_advertise_peer_urls.end(),
                    u) == cfg.initial_advertise_peer_urls.end()) {
        urls.push_back(u);
      }
    }
  }
  if (!http) return failed_precondition("cannot fetch cluster info from peer urls");
  for (const auto& url : urls) {
    auto r = http(url, "GET", "/members", "", std::chrono::seconds(2));
    if (!r.is_ok() || r->status != 200) {
      logger.warn(
          "failed to get cluster response",
          {{"address", url + "/members"},
           {"error", r.is_ok() ? "status " + std::to_string(r->status) : r.status().message()}});
      continue;
    }
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_array()) continue;
    members->clear();
    for (const auto& e : j) {
      auto m = Member::from_json(e.dump());
      if (m.is_ok()) members->push_back(*m);
    }
    try {
      *cluster_id = std::stoull(r->cluster_id, nullptr, 16);
    } catch (...) {
      continue;
    }
    return Status::ok();
  }
  return failed_precondition(
      "cannot fetch cluster info from peer urls: could not retrieve cluster "
      "information from the given URLs");
}

Status bootstrap_new(const config::ServerConfig& cfg, const DataDir& dir, env::FileSystem& fs,
                     log::Logger& logger, env::Clock& clock, const PeerHttpCall& http,
                     Bootstrapped& b) {
  auto initial = parse_initial_cluster(cfg.initial_cluster);
  if (!initial.is_ok()) return initial.status();
  auto self = initial->find(cfg.name);
  if (self == initial->end()) {
    return invalid_argument("couldn't find local name \"" + cfg.name +
                            "\" in the initial cluster configuration");
  }
  std::vector<std::string> advertised = cfg.initial_advertise_peer_urls;
  std::vector<std::string> listed = self->second;
  std::sort(advertised.begin(), advertised.end());
  std::sort(listed.begin(), listed.end());
  if (advertised != listed) {
    std::string adv;
    for (const auto& u : cfg.initial_advertise_peer_urls) adv += (adv.empty() ? "" : ",") + u;
    std::string want;
    for (const auto& u : self->second) want += (want.empty() ? "" : ",") + cfg.name + "=" + u;
    return invalid_argument("--initial-cluster has " + want +
                            " but missing from --initial-advertise-peer-urls=" + adv);
  }
  if (cfg.initial_cluster_state == "existing") {
    // Join a running cluster: its members and ids come from a running
    // member; this member must be one of them (added by `member add`).
    std::vector<Member> remote;
    uint64_t cid = 0;
    RETURN_IF_ERROR(fetch_remote_cluster(cfg, *initial, http, logger, &remote, &cid));
    std::optional<MemberId> local;
    for (const Member& m : remote) {
      std::vector<std::string> urls = m.peer_urls;
      std::sort(urls.begin(), urls.end());
      if (urls == advertised) local = m.id;
    }
    if (!local) {
      std::string adv;
      for (const auto& u : cfg.initial_advertise_peer_urls) adv += (adv.empty() ? "" : ",") + u;
      return invalid_argument("error validating peerURLs {ClusterID:" + to_hex(MemberId(cid)) +
                              " Members:[...] RemovedMemberIDs:[]}: PeerURLs: no match found "
                              "for existing member (" +
                              adv + "); add it with `member add` first");
    }
    b.membership = std::make_unique<Membership>(*local, cid);
    b.remote_members = remote;
    b.voters_at_start = 0;
    for (const Member& m : remote) b.voters_at_start += m.is_learner ? 0 : 1;
    auto rs = RaftStorage::create(fs, dir.wal, dir.snap, wal_metadata(*local, cid),
                                  storage_options(cfg, logger));
    if (!rs.is_ok()) return rs.status();
    b.raft = std::move(rs).value();
    logger.info("starting local member", {{"local-member-id", to_hex(*local)},
                                          {"cluster-id", to_hex(MemberId(cid))},
                                          {"initial-cluster-state", "existing"}});
    auto n =
        raft::RawNode::create(raft_config(cfg, local->value(), b.raft.log.get(), logger, clock));
    if (!n.is_ok()) return n.status();
    b.node = std::move(n).value();
    return Status::ok();
  }
  std::vector<Member> members;
  std::vector<MemberId> ids;
  for (const auto& [name, urls] : *initial) {
    Member m;
    m.id = compute_member_id(urls, cfg.initial_cluster_token);
    m.name = name;
    m.peer_urls = urls;
    std::sort(m.peer_urls.begin(), m.peer_urls.end());
    members.push_back(m);
    ids.push_back(m.id);
  }
  b.voters_at_start = members.size();
  MemberId local = compute_member_id(self->second, cfg.initial_cluster_token);
  uint64_t cid = compute_cluster_id(ids);
  b.membership = std::make_unique<Membership>(local, cid);
  auto rs = RaftStorage::create(fs, dir.wal, dir.snap, wal_metadata(local, cid),
                                storage_options(cfg, logger));
  if (!rs.is_ok()) return rs.status();
  b.raft = std::move(rs).value();
  logger.info("starting local member", {{"local-member-id", to_hex(local)},
                                        {"cluster-id", to_hex(MemberId(cid))},
                                        {"initial-cluster", cfg.initial_cluster}});
  auto n = raft::RawNode::create(raft_config(cfg, local.value(), b.raft.log.get(), logger, clock));
  if (!n.is_ok()) return n.status();
  std::vector<raft::Peer> peers;
  for (const Member& m : members) {
    // etcd 3.4's context: the member with its name from --initial-cluster.
    peers.push_back(raft::Peer{m.id.value(), m.to_json()});
  }
  RETURN_IF_ERROR((*n)->bootstrap(peers));
  b.node = std::move(n).value();
  return Status::ok();
}

Status restart(const config::ServerConfig& cfg, const DataDir& dir, env::FileSystem& fs,
               log::Logger& logger, env::Clock& clock, Bootstrapped& b) {
  auto rs = RaftStorage::open(fs, dir.wal, dir.snap, storage_options(cfg, logger));
  if (!rs.is_ok()) return rs.status();
  b.raft = std::move(rs).value();
  auto meta = parse_wal_metadata(b.raft.metadata);
  if (!meta.is_ok()) return meta.status();
  const MemberId local = meta->member_id;
  const uint64_t cid = meta->cluster_id;
  if (meta->legacy_json) {
    // New segments keep this form (a WAL's segments share one metadata):
    // etcd's tools cannot read this WAL until the member is restored or
    // backed up into a new data dir.
    logger.warn("WAL metadata is in the JSON form of earlier builds, not etcd's protobuf",
                {{"local-member-id", to_hex(local)}, {"cluster-id", to_hex(MemberId(cid))}});
  }
  if (cfg.force_new_cluster) RETURN_IF_ERROR(force_new_cluster(b.raft, local, cid, logger));
  b.membership = std::make_unique<Membership>(local, cid);
  b.membership->load(*b.backend);
  b.voters_at_start = 0;
  for (const Member& m : b.membership->members()) {
    b.voters_at_start += m.is_learner ? 0 : 1;
    logger.info("recovered/added member from store", {{"cluster-id", to_hex(MemberId(cid))},
                                                      {"local-member-id", to_hex(local)},
                                                      {"recovered-remote-peer-id", to_hex(m.id)},
                                                      {"recovered-remote-peer-urls", m.peer_urls}});
  }
  if (std::string v = b.membership->version(); !v.empty()) {
    logger.info("enabled capabilities for version", {{"cluster-version", cluster_version(v)}});
    logger.info("set cluster version from store", {{"cluster-version", cluster_version(v)}});
  }
  if (!raft::is_empty_snap(b.raft.snapshot)) {
    b.conf_state = b.raft.snapshot.metadata().conf_state();
    b.snapshot_index = b.raft.snapshot.metadata().index();
  }
  if (!cfg.force_new_cluster) {
    logger.info("restarting local member",
                {{"local-member-id", to_hex(local)},
                 {"cluster-id", to_hex(MemberId(cid))},
                 {"commit-index", b.raft.hard_state.commit()},
                 {"backend-consistent-index", b.backend->consistent_index().index.value()}});
  }
  auto n = raft::RawNode::create(raft_config(cfg, local.value(), b.raft.log.get(), logger, clock));
  if (!n.is_ok()) return n.status();
  b.node = std::move(n).value();
  return Status::ok();
}

}  // namespace

DataDir::DataDir(const config::ServerConfig& cfg) {
  member = env::join_path(cfg.data_dir, "member");
  wal = cfg.wal_dir.empty() ? env::join_path(member, "wal") : cfg.wal_dir;
  snap = env::join_path(member, "snap");
  db = env::join_path(snap, "db");
}

std::string cluster_version(const std::string& v) {
  auto first = v.find('.');
  if (first == std::string::npos) return v;
  auto second = v.find('.', first + 1);
  return second == std::string::npos ? v : v.substr(0, second);
}

raft::Config raft_config(const config::ServerConfig& cfg, raft::NodeId id, raft::Storage* storage,
                         log::Logger& logger, env::Clock& clock) {
  raft::Config c;
  c.id = id;
  c.election_tick = static_cast<int>(cfg.election_timeout_ms / cfg.heartbeat_interval_ms);
  c.heartbeat_tick = 1;
  c.storage = storage;
  c.max_size_per_msg = 1024 * 1024;
  c.max_inflight_msgs = 4096 / 8;
  c.check_quorum = true;
  c.pre_vote = cfg.pre_vote;
  c.seed = id ^ static_cast<uint64_t>(clock.wall_unix_ms());
  c.logger = [&logger](const std::string& msg) { logger.info(msg); };
  return c;
}

Result<Bootstrapped> bootstrap(const config::ServerConfig& cfg, env::FileSystem& fs,
                               log::Logger& logger, env::Clock& clock, const PeerHttpCall& http) {
  const DataDir dir(cfg);
  Bootstrapped b;
  (void)warn_loose_permissions(fs, cfg.data_dir, logger);
  if (!cfg.wal_dir.empty()) (void)warn_loose_permissions(fs, cfg.wal_dir, logger);
  RETURN_IF_ERROR(env::mkdir_all(fs, dir.member, env::kPrivateDirMode));
  // Before the backend is opened (which would create an empty db).
  RETURN_IF_ERROR(check_db_for_snapshot(fs, dir.snap, dir.db, wal::Wal::exists(fs, dir.wal)));
  const DbImportPaths import_paths{cfg.data_dir, dir.db, dir.wal, wal::Wal::exists(fs, dir.wal),
                                   dir.snap,     &fs};
  // An etcd data dir: its bbolt db becomes ours before anything opens it
  // (also the half-made check of a bbolt db, before it is touched).
  RETURN_IF_ERROR(import_etcd_db(import_paths, logger, clock));
  backend::Options bo;
  bo.sync_mode = backend::SyncMode::kNoMetaSync;
  const auto opening = clock.now();
  auto opened = backend::Backend::open(dir.db, bo, clock);
  if (!opened.is_ok()) return opened.status();
  b.backend = std::move(opened).value();
  logger.info("opened backend db",
              {{"path", dir.db}, {"took", format_go_duration(clock.now() - opening)}});
  // Checked before anything reads or writes the backend (the KV store's
  // restore may resume a compaction, which writes).
  b.restarted = wal::Wal::exists(fs, dir.wal);
  if (!b.restarted) {
    // A backend that has applied entries but no WAL to go with them (what a
    // failed restore, or a lost --wal-dir, leaves behind): a new member's
    // log would start below the backend's consistent index, so its entries
    // would be taken as applied already and nothing would ever complete.
    // Refuse, naming the files, and touch nothing.
    if (uint64_t ci = b.backend->consistent_index().index.value(); ci > 0) {
      return half_made_error(import_paths, ci, /*bbolt=*/false);
    }
  }
  b.kv = std::make_unique<mvcc::KVStore>(*b.backend);
  mvcc::KVStore::LeasedKeys leased_keys;
  RETURN_IF_ERROR(b.kv->restore(&leased_keys));
  logger.info("kvstore restored", {{"current-rev", b.kv->rev().value()}});
  {
    // etcd's minTTL: 1.5 election timeouts in whole heartbeats, rounded up
    // to seconds.
    uint64_t election_ticks = cfg.election_timeout_ms / cfg.heartbeat_interval_ms;
    uint64_t min_ttl_ms = (3 * election_ticks) / 2 * cfg.heartbeat_interval_ms;
    lease::LessorOptions lo;
    lo.min_ttl_s = static_cast<int64_t>((min_ttl_ms + 999) / 1000);
    lo.checkpoint = cfg.lease_checkpoint;
    lo.checkpoint_persist = cfg.lease_checkpoint_persist;
    if (cfg.lease_checkpoint && !cfg.lease_checkpoint_persist) {
      logger.warn(
          "Detected that checkpointing is enabled without persistence. Consider enabling "
          "experimental-enable-lease-checkpoint-persist");
    }
    b.lessor = std::make_unique<lease::Lessor>(*b.kv, clock, lo);
    RETURN_IF_ERROR(b.lessor->restore(leased_keys));
  }
  b.alarms = std::make_unique<AlarmStore>();
  b.alarms->load(*b.backend);
  if (b.restarted) {
    RETURN_IF_ERROR(restart(cfg, dir, fs, logger, clock, b));
  } else {
    RETURN_IF_ERROR(bootstrap_new(cfg, dir, fs, logger, clock, http, b));
  }
  return b;
}

}  // namespace etcd::server
