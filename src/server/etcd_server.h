// One etcd member: the composition root. create() bootstraps the data dir
// (bootstrap.h) and wires the parts; start() and stop() run them in order.
// The parts, each with its owner thread:
//
//   RaftNode      raft thread: ticks, the ReadyLoop (WAL, snapshots, raft log)
//   ApplyLoop     apply thread: committed entries through the ApplierChain
//                 (corrupt -> capped -> quota -> stores) and the
//                 MembershipApplier; applied index; snapshot trigger
//   Proposer      request ids, proposal waits, ReadIndex rounds (callers')
//   KvFront, LeaseFront, MaintenanceFront, ClusterFront
//                 one front per etcd service: validation, quota, then
//                 propose or read (gRPC threads; ServerCore is shared)
//   Lessor        its expiry loop; WatchableStore its sync thread;
//   Compactor, CorruptionChecker, Publisher   a Worker each
//
// The request path: gRPC service -> front -> Proposer -> RaftNode ->
// ReadyLoop (WAL) -> ApplyLoop -> ApplierChain -> Proposer::complete ->
// front -> gRPC. docs/architecture.md draws it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "auth/auth_store.h"
#include "base/log.h"
#include "env/clock.h"
#include "env/file_system.h"
#include "lease/lessor.h"
#include "metrics/metrics.h"
#include "mvcc/kvstore.h"
#include "mvcc/watchable_store.h"
#include "server/alarm_store.h"
#include "server/applier.h"
#include "server/apply_loop.h"
#include "server/auth_apply.h"
#include "server/auth_checks.h"
#include "server/auth_front.h"
#include "server/cluster_front.h"
#include "server/compactor.h"
#include "server/config/config.h"
#include "server/corruption.h"
#include "server/kv_apply.h"
#include "server/kv_front.h"
#include "server/lease_front.h"
#include "server/maintenance_front.h"
#include "server/membership.h"
#include "server/membership_applier.h"
#include "server/membership_mirror.h"
#include "server/peer_network.h"
#include "server/peer_service.h"
#include "server/proposer.h"
#include "server/publisher.h"
#include "server/quota.h"
#include "server/raft_node.h"
#include "server/server_core.h"
#include "server/v2_front.h"
#include "server/v2_stats.h"
#include "storage/backend/backend.h"
#include "v2store/store.h"

namespace etcd::server {

class EtcdServer {
 public:
  // Opens or creates the data dir and everything in it; does not start.
  // `peers` reaches the other members (none when empty: unit tests).
  static Result<std::unique_ptr<EtcdServer>> create(const config::ServerConfig& cfg,
                                                    log::Logger& logger, env::Clock& clock,
                                                    env::FileSystem& fs, PeerWiring peers = {});
  ~EtcdServer();

  void start();
  void stop();

  // The service fronts (gRPC adapts them).
  KvFront& kv() { return *kv_front_; }
  LeaseFront& lease() { return *lease_front_; }
  MaintenanceFront& maintenance() { return *maintenance_front_; }
  ClusterFront& cluster() { return *cluster_front_; }
  AuthFront& auth() { return *auth_front_; }
  // The v2 API's member side (served over HTTP with --enable-v2).
  V2Api& v2() { return *v2_front_; }
  bool v2_enabled() const { return cfg_.enable_v2; }
  // Users, roles, tokens and the permission checks (thread-safe reads).
  auth::AuthStore& auth_store() { return *auth_store_; }
  // The permission checks of requests (fronts, Watch service, AuthApplier).
  const AuthChecks& auth_checks() const { return *auth_checks_; }
  // The watchers of the KV store (the Watch service's streams).
  mvcc::WatchableStore& watchable_store() { return *watchable_; }
  void fill_header(etcdserverpb::ResponseHeader* h, int64_t revision) const {
    core_->fill_header(h, revision);
  }

  // Blocks until this member has published itself through Raft (etcd serves
  // clients only then); false on timeout.
  bool wait_ready(std::chrono::milliseconds timeout) { return publisher_->wait_ready(timeout); }
  // --experimental-initial-corrupt-check on a restarted member (etcd checks
  // before serving; a new member is not checked). Call before start().
  Status initial_corruption_check();

  // True once this member was removed from the cluster (an applied
  // removal of itself, or a peer's answer): the process should stop.
  bool removed() const { return removed_.load(std::memory_order_acquire); }
  // A learner serves serializable reads and Status only (etcd 3.4/3.5).
  bool is_learner() const {
    auto m = membership_->member(id());
    return m && m->is_learner;
  }
  MemberId id() const { return membership_->local_id(); }
  uint64_t cluster_id() const { return membership_->cluster_id(); }
  // For /health, /readyz and /version (any thread).
  MemberId leader() const;
  std::vector<etcdserverpb::AlarmMember> alarms() const;
  std::string cluster_version() const { return membership_->version(); }  // "" until decided
  std::chrono::milliseconds request_timeout() const;
  // For the v2 API's members and stats endpoints (any thread).
  const std::string& name() const { return cfg_.name; }
  bool is_removed(MemberId id) const { return membership_->is_removed(id); }
  V2Stats& v2_stats() { return *v2_stats_; }

 private:
  EtcdServer(const config::ServerConfig& cfg, log::Logger& logger, env::Clock& clock);
  Status open(env::FileSystem& fs, PeerWiring peers);
  void on_membership_changed(const raftpb::ConfChange& cc);
  void mark_removed();
  // A snapshot from the leader: the backend becomes the image the
  // transport received, and every store reloads from it (apply thread).
  void recover_from_snapshot(const raftpb::Snapshot& snap);
  // The v2 store becomes the one a snapshot's Data holds (etcd's JSON; an
  // empty Data, from a member that kept none, is an empty store).
  Status recover_v2_store(const std::string& data);
  void transfer_leadership_on_stop();
  // Info gauges and the collect hook (start()).
  void start_metrics();
  void log_starting() const;

  const config::ServerConfig cfg_;
  log::Logger& logger_;
  env::Clock& clock_;

  // From bootstrap.
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<mvcc::KVStore> kv_;
  std::unique_ptr<lease::Lessor> lessor_;
  std::unique_ptr<AlarmStore> alarms_;
  std::unique_ptr<auth::AuthStore> auth_store_;
  std::unique_ptr<Membership> membership_;
  // In memory: restored from the raft snapshot, then the log replayed.
  std::unique_ptr<v2store::Store> v2_store_;
  std::unique_ptr<MembershipMirror> membership_mirror_;
  bool restarted_ = false;
  size_t voters_at_start_ = 0;
  std::vector<Member> remote_members_;  // joining a running cluster

  // After kv_ (it observes the store's writes).
  std::unique_ptr<mvcc::WatchableStore> watchable_;
  std::unique_ptr<KvApplier> kv_applier_;
  std::unique_ptr<Quota> quota_;
  std::unique_ptr<AuthChecks> auth_checks_;  // over auth_store_ and lessor_
  std::unique_ptr<MembershipApplier> membership_applier_;
  std::unique_ptr<AuthRequestApplier> auth_applier_;
  std::unique_ptr<ApplierChain> chain_;
  // Raft's transport: it forwards to network_, which is built last (it
  // needs the parts below as its host).
  class LateTransport;
  std::unique_ptr<LateTransport> transport_;
  // Fed by transport_ (appends sent), the peer service (appends received)
  // and leader changes; read by /v2/stats.
  std::unique_ptr<V2Stats> v2_stats_;
  std::unique_ptr<RaftNode> raft_node_;
  std::unique_ptr<Proposer> proposer_;
  std::unique_ptr<ApplyLoop> apply_loop_;
  std::unique_ptr<V2Front> v2_front_;
  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<KvFront> kv_front_;
  std::unique_ptr<LeaseFront> lease_front_;
  std::unique_ptr<MaintenanceFront> maintenance_front_;
  std::unique_ptr<ClusterFront> cluster_front_;
  std::unique_ptr<AuthFront> auth_front_;
  // Auto-compaction and corruption checks reach the fronts through it.
  class OpsHost;
  std::unique_ptr<OpsHost> ops_host_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<CorruptionChecker> corruption_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<PeerService> peer_service_;
  std::unique_ptr<PeerNetwork> network_;
  std::atomic<bool> removed_{false};
  // Sets the state gauges (db size, keys, revisions, versions) at each
  // scrape while the member runs; reset in stop() before the parts go.
  metrics::CollectHook metrics_hook_;
  int64_t last_size_in_use_ = 0;  // under the hook (scrapes are serialised)
};

}  // namespace etcd::server
