// Bootstrap: opens or creates a member's data dir and returns everything in
// it, ready to serve: the backend, the KV store and lessor restored from it,
// the alarms, the membership, the raft storage (WAL, snapshot files, raft
// log) and the RawNode over it. A new member writes its WAL and bootstraps
// Raft with the --initial-cluster members; a restarted one recovers from
// its snapshot and WAL. Nothing is started (no threads).
//
// Used by EtcdServer::create; `etcdutl snapshot restore` and the bbolt
// import will reuse it. Runs on the caller's thread.
#pragma once

#include <memory>
#include <string>

#include "base/log.h"
#include "env/clock.h"
#include "env/file_system.h"
#include "lease/lessor.h"
#include "mvcc/kvstore.h"
#include "raft/rawnode.h"
#include "server/alarm_store.h"
#include "server/config/config.h"
#include "server/membership.h"
#include "server/peer_network.h"
#include "server/raft_storage.h"
#include "storage/backend/backend.h"

namespace etcd::server {

// The data dir's paths (etcd's layout: member/wal, member/snap/db).
struct DataDir {
  std::string member;
  std::string wal;
  std::string snap;
  std::string db;
  explicit DataDir(const config::ServerConfig& cfg);
};

struct Bootstrapped {
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<mvcc::KVStore> kv;
  // After kv (it observes the store's writes).
  std::unique_ptr<lease::Lessor> lessor;
  std::unique_ptr<AlarmStore> alarms;
  std::unique_ptr<Membership> membership;
  RaftStorage raft;
  std::unique_ptr<raft::RawNode> node;
  bool restarted = false;      // the WAL existed
  size_t voters_at_start = 0;  // the voting members known at start
  // The snapshot the raft log starts from (restart); 0 and empty otherwise.
  uint64_t snapshot_index = 0;
  raftpb::ConfState conf_state;
  // A member joining a running cluster: the members it learnt from the
  // others' /members, to reach before its log tells it the membership.
  std::vector<Member> remote_members;
};

// The raft::Config of member `id` from the server's flags (election and
// heartbeat ticks, etcd's message size and inflight limits, pre-vote and
// check-quorum on).
raft::Config raft_config(const config::ServerConfig& cfg, raft::NodeId id, raft::Storage* storage,
                         log::Logger& logger, env::Clock& clock);

// An etcd data dir's bbolt db is imported first (db_import.h).
// Errors: a half-made data dir (a backend with applied data and no WAL, or
// an etcd bbolt db in that state), a bbolt db that cannot be imported,
// an --initial-cluster that does not name this member, a damaged WAL or
// snapshot (kDataLoss), "existing" when no running member answers or none
// lists this member.
// `http` asks the running members for their member list when joining
// with --initial-cluster-state=existing.
Result<Bootstrapped> bootstrap(const config::ServerConfig& cfg, env::FileSystem& fs,
                               log::Logger& logger, env::Clock& clock,
                               const PeerHttpCall& http = {});

// etcd's version.Cluster: "3.5.0" -> "3.5", as the cluster version is logged.
std::string cluster_version(const std::string& v);

}  // namespace etcd::server
