#include "server/etcd_server.h"

#include "auth/password.h"
#include "auth/token_factory.h"
#include "base/duration.h"
#include "base/version.h"
#include "server/bootstrap.h"

#include <unistd.h>

namespace etcd::server {

// The server as the compactor and the corruption checker see it. Their
// threads call it; every call is thread-safe on the server's side.
class EtcdServer::OpsHost final : public CompactorHost, public CorruptionHost {
 public:
  explicit OpsHost(EtcdServer& s) : s_(s) {}
  MainRev current_revision() override { return s_.kv_->rev(); }
  bool is_leader() override { return s_.raft_node_->is_leader(); }
  Status compact(MainRev revision) override {
    etcdserverpb::CompactionRequest r;
    r.set_revision(revision.value());
    return s_.kv_front_->compact(Caller::self(), r).status();
  }
  MemberId member_id() override { return s_.id(); }
  // Every other member's HashKV, over the peer port.
  std::vector<PeerHashKV> peer_hashes(MainRev rev) override {
    return s_.peer_service_->peer_hashes(rev);
  }
  Status linearizable_barrier() override { return s_.core_->linearizable_read_barrier(); }
  void raise_corrupt_alarm(MemberId member) override {
    etcdserverpb::AlarmRequest a;
    a.set_memberid(member.value());
    a.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    a.set_alarm(etcdserverpb::CORRUPT);
    (void)s_.core_->alarm(a);
  }

 private:
  EtcdServer& s_;
};

class EtcdServer::LateTransport final : public Transport {
 public:
  explicit LateTransport(V2Stats& stats) : stats_(stats) {}
  void send(std::vector<raftpb::Message> msgs) override {
    stats_.sent(msgs);
    if (target_ != nullptr) target_->send(std::move(msgs));
  }
  void set(Transport* t) { target_ = t; }

 private:
  V2Stats& stats_;
  Transport* target_ = nullptr;  // set once, before the raft thread starts
};

EtcdServer::EtcdServer(const config::ServerConfig& cfg, log::Logger& logger, env::Clock& clock)
    : cfg_(cfg), logger_(logger), clock_(clock) {}

EtcdServer::~EtcdServer() { stop(); }

Result<std::unique_ptr<EtcdServer>> EtcdServer::create(const config::ServerConfig& cfg,
                                                       log::Logger& logger, env::Clock& clock,
                                                       env::FileSystem& fs, PeerWiring peers) {
  std::unique_ptr<EtcdServer> s(new EtcdServer(cfg, logger, clock));
  RETURN_IF_ERROR(s->open(fs, std::move(peers)));
  return s;
}

Status EtcdServer::open(env::FileSystem& fs, PeerWiring peers) {
  // A bad --auth-token fails the start before the data dir is touched.
  auto tokens = auth::make_token_provider(
      cfg_.auth_token, std::chrono::seconds(cfg_.auth_token_ttl_s), clock_, logger_);
  if (!tokens.is_ok()) {
    logger_.warn("failed to create token provider", {{"error", tokens.status().message()}});
    return tokens.status();
  }
  int bcrypt_cost = static_cast<int>(std::min<uint64_t>(cfg_.bcrypt_cost, 1000));
  if (bcrypt_cost < auth::kBcryptMinCost || bcrypt_cost > auth::kBcryptMaxCost) {
    logger_.warn("use default bcrypt cost instead of the invalid given cost",
                 {{"min-cost", auth::kBcryptMinCost},
                  {"max-cost", auth::kBcryptMaxCost},
                  {"default-cost", auth::kBcryptDefaultCost},
                  {"given-cost", cfg_.bcrypt_cost}});
    bcrypt_cost = auth::kBcryptDefaultCost;
  }
  auto b = bootstrap(cfg_, fs, logger_, clock_, peers.http);
  if (!b.is_ok()) return b.status();
  backend_ = std::move(b->backend);
  kv_ = std::move(b->kv);
  lessor_ = std::move(b->lessor);
  alarms_ = std::move(b->alarms);
  membership_ = std::move(b->membership);
  v2_store_ = std::make_unique<v2store::Store>(
      std::vector<std::string>{std::string(kV2ClusterPrefix), std::string(kV2KeysPrefix)});
  if (Status st = recover_v2_store(b->raft.snapshot.data()); !st.is_ok()) return st;
  membership_mirror_ = std::make_unique<MembershipMirror>(*v2_store_);
  auth::TokenProvider* token_provider = tokens->get();
  auth_store_ = std::make_unique<auth::AuthStore>(std::move(tokens).value(), bcrypt_cost);
  auth_store_->load(*backend_);
  restarted_ = b->restarted;
  voters_at_start_ = b->voters_at_start;
  remote_members_ = b->remote_members;
  {
    // etcd raises a progress interval below 100ms to 100ms, and keeps its
    // 10 minutes for one <= 0.
    auto ms = std::chrono::milliseconds(cfg_.watch_progress_notify_interval_ns / 1000000);
    if (cfg_.watch_progress_notify_interval_ns <= 0) ms = std::chrono::minutes(10);
    if (ms < std::chrono::milliseconds(100)) {
      logger_.warn("adjusting watch progress notify interval to minimum period",
                   {{"min-watch-progress-notify-interval", "100ms"}});
      ms = std::chrono::milliseconds(100);
    }
    watchable_ = std::make_unique<mvcc::WatchableStore>(*kv_, clock_, ms);
  }
  kv_applier_ = std::make_unique<KvApplier>(
      *kv_, [this](int64_t id) { return lessor_->exists(LeaseId(id)); });
  quota_ = std::make_unique<Quota>(cfg_.quota_backend_bytes, *backend_, logger_);
  membership_applier_ = std::make_unique<MembershipApplier>(*membership_, *backend_, logger_);
  membership_applier_->set_mirror(membership_mirror_.get());
  auth_applier_ = std::make_unique<AuthRequestApplier>(*auth_store_, *backend_, logger_);
  auth_checks_ = std::make_unique<AuthChecks>(*auth_store_, *lessor_);
  chain_ = std::make_unique<ApplierChain>(*kv_applier_, *kv_, *lessor_, *alarms_, *auth_applier_,
                                          *membership_applier_, *quota_, *auth_checks_, *backend_,
                                          logger_);

  RaftNode::Options ro;
  ro.tick_interval = std::chrono::milliseconds(cfg_.heartbeat_interval_ms);
  {
    // etcd fast-forwards all but one election tick for a lone voter, and
    // all but two in a cluster (pre-vote keeps that from disrupting one).
    const int ticks = static_cast<int>(cfg_.election_timeout_ms / cfg_.heartbeat_interval_ms);
    ro.initial_tick_advance = !cfg_.initial_election_tick_advance ? 0
                              : voters_at_start_ == 1             ? ticks - 1
                                                                  : std::max(0, ticks - 2);
  }
  v2_stats_ = std::make_unique<V2Stats>(cfg_.name, membership_->local_id(), clock_);
  transport_ = std::make_unique<LateTransport>(*v2_stats_);
  raft_node_ = std::make_unique<RaftNode>(std::move(b->raft), std::move(b->node), *transport_,
                                          clock_, logger_, ro);
  proposer_ =
      std::make_unique<Proposer>(*raft_node_, membership_->local_id(), clock_, logger_,
                                 Proposer::Options{.request_timeout = server::request_timeout(cfg_),
                                                   .max_request_bytes = cfg_.max_request_bytes});

  ApplyLoop::Hooks hooks;
  hooks.complete = [this](uint64_t id, ApplyResult r) { proposer_->complete(id, std::move(r)); };
  hooks.apply_conf_change = [this](raftpb::ConfChange cc) {
    raft_node_->apply_conf_change(std::move(cc));
  };
  hooks.restore_snapshot = [this](const raftpb::Snapshot& snap) { recover_from_snapshot(snap); };
  hooks.membership_changed = [this](const raftpb::ConfChange& cc) { on_membership_changed(cc); };
  hooks.is_leader = [this] { return raft_node_->is_leader(); };
  hooks.leader_noop_applied = [this] {
    // etcd extends every lease by an election timeout when a leader takes
    // over expiry.
    lessor_->promote(std::chrono::milliseconds(cfg_.election_timeout_ms));
  };
  hooks.snapshot = [this](uint64_t index, raftpb::ConfState cs, bool compact) {
    // The apply thread: the v2 store is at `index` exactly.
    raft_node_->snapshot(index, std::move(cs), v2_store_->save(),
                         compact ? cfg_.snapshot_catchup_entries : kKeepWholeLog);
  };
  apply_loop_ = std::make_unique<ApplyLoop>(
      *backend_, chain_->head(), *membership_applier_, *v2_store_, logger_, std::move(hooks),
      ApplyLoop::Options{.snapshot_count = cfg_.snapshot_count,
                         .snapshot_index = b->snapshot_index,
                         .conf_state = b->conf_state,
                         .local_id = membership_->local_id()});

  // A simple token issued through another member names an index this one
  // may not have applied yet: wait for it (bounded by the request timeout).
  token_provider->set_index_waiter([this](uint64_t index) {
    return apply_loop_->wait_applied(index, server::request_timeout(cfg_));
  });
  v2_front_ = std::make_unique<V2Front>(*proposer_, *raft_node_, *v2_store_);
  core_ = std::make_unique<ServerCore>(cfg_, logger_, clock_, *kv_, *membership_, *raft_node_,
                                       *proposer_, *apply_loop_, *quota_, *auth_checks_);
  kv_front_ = std::make_unique<KvFront>(*core_, *kv_applier_, *backend_);
  lease_front_ = std::make_unique<LeaseFront>(*core_, *lessor_);
  maintenance_front_ = std::make_unique<MaintenanceFront>(*core_, *backend_, *alarms_);
  auth_front_ = std::make_unique<AuthFront>(*core_, *auth_store_);
  ops_host_ = std::make_unique<OpsHost>(*this);
  corruption_ = std::make_unique<CorruptionChecker>(*kv_, *ops_host_, logger_);
  publisher_ = std::make_unique<Publisher>(*core_);

  // The peer network last: it calls into everything above.
  cluster_front_ = std::make_unique<ClusterFront>(*core_);
  peer_service_ = std::make_unique<PeerService>(*core_, *raft_node_, *lessor_, *backend_,
                                                *cluster_front_, DataDir(cfg_).snap, peers.http);
  peer_service_->set_on_removed([this] { mark_removed(); });
  peer_service_->set_stats(v2_stats_.get());
  if (peers.network) {
    auto net = peers.network(PeerNetworkContext{membership_->local_id(), membership_->cluster_id(),
                                                peer_service_.get()});
    if (!net.is_ok()) return net.status();
    network_ = std::move(net).value();
  } else {
    network_ = std::make_unique<LonePeerNetwork>();
  }
  cluster_front_->set_peers(network_.get());
  peer_service_->set_hash_kv([this](int64_t rev) {
    etcdserverpb::HashKVRequest r;
    r.set_revision(rev);
    return maintenance_front_->hash_kv(Caller::self(), r);
  });
  publisher_->set_version_source([this] { return peer_service_->lowest_peer_version(); });
  transport_->set(network_.get());
  cluster_front_->set_promote_forwarder([this](MemberId leader, MemberId learner) {
    return peer_service_->forward_promote(leader, learner);
  });
  lease_front_->set_forwarders(
      [this](MemberId leader, LeaseId id) { return peer_service_->forward_renew(leader, id); },
      [this](MemberId leader, const etcdserverpb::LeaseTimeToLiveRequest& r) {
        return peer_service_->forward_time_to_live(leader, r);
      });
  return Status::ok();
}

void EtcdServer::on_membership_changed(const raftpb::ConfChange& cc) {
  const MemberId id(cc.node_id());
  switch (cc.type()) {
    case raftpb::ConfChangeAddNode:
    case raftpb::ConfChangeAddLearnerNode:
      if (auto m = membership_->member(id)) network_->add_peer(id, m->peer_urls);
      break;
    case raftpb::ConfChangeRemoveNode:
      if (id == this->id()) {
        logger_.warn("the member has been permanently removed from the cluster",
                     {{"local-member-id", to_hex(id)}});
        logger_.warn("the data-dir used by this member must be removed",
                     {{"data-dir", cfg_.data_dir}});
        mark_removed();
      } else {
        network_->remove_peer(id);
      }
      break;
    case raftpb::ConfChangeUpdateNode:
      if (auto m = membership_->member(id)) network_->update_peer(id, m->peer_urls);
      break;
    default:
      break;
  }
}

Status EtcdServer::recover_v2_store(const std::string& data) {
  if (data.empty()) {
    const v2store::Store fresh(
        std::vector<std::string>{std::string(kV2ClusterPrefix), std::string(kV2KeysPrefix)});
    (void)v2_store_->recovery(fresh.save());
    return Status::ok();
  }
  auto r = v2_store_->recovery(data);
  if (auto* e = std::get_if<v2store::Error>(&r)) {
    logger_.error("failed to recover v2 store", {{"error", e->cause}});
    return Status(Code::kDataLoss, "failed to recover v2 store: " + e->cause);
  }
  return Status::ok();
}

void EtcdServer::recover_from_snapshot(const raftpb::Snapshot& snap) {
  const uint64_t index = snap.metadata().index();
  if (Status st = recover_v2_store(snap.data()); !st.is_ok()) PANIC(st.to_string());
  const std::string path = peer_service_->snapshot_db_path(index);
  if (::access(path.c_str(), F_OK) != 0) {
    // Recovery replays a snapshot the backend already holds.
    if (backend_->consistent_index().index.value() >= index) return;
    PANIC("failed to open snapshot backend: no database snapshot file " + path);
  }
  logger_.info("applying snapshot", {{"local-member-id", to_hex(id())},
                                     {"incoming-leader-snapshot-index", index},
                                     {"incoming-leader-snapshot-term", snap.metadata().term()}});
  if (Status st = backend_->replace_with(path); !st.is_ok()) {
    PANIC("failed to restore snapshot backend: " + st.to_string());
  }
  mvcc::KVStore::LeasedKeys leased;
  if (Status st = kv_->reload(&leased); !st.is_ok()) PANIC("restore KV: " + st.to_string());
  if (Status st = lessor_->reload(leased); !st.is_ok()) PANIC("restore leases: " + st.to_string());
  alarms_->load(*backend_);
  auth_store_->load(*backend_);
  membership_->load(*backend_);
  watchable_->on_restore();
  for (const Member& m : membership_->members()) network_->add_peer(m.id, m.peer_urls);
  logger_.info("applied snapshot",
               {{"local-member-id", to_hex(id())},
                {"incoming-leader-snapshot-index", index},
                {"backend-consistent-index", backend_->consistent_index().index.value()},
                {"current-rev", kv_->rev().value()}});
}

void EtcdServer::mark_removed() { removed_.store(true, std::memory_order_release); }

Status EtcdServer::initial_corruption_check() {
  if (!cfg_.initial_corrupt_check || !restarted_) return Status::ok();
  return corruption_->initial_check(core_->request_timeout());
}

void EtcdServer::log_starting() const {
  std::string v = membership_->version();
  logger_.info("starting etcd server",
               {{"local-member-id", to_hex(id())},
                {"local-server-version", kEtcdVersion},
                {"cluster-id", to_hex(MemberId(cluster_id()))},
                {"cluster-version", v.empty() ? "to_be_decided" : server::cluster_version(v)}});
  // RaftNode advances all but one election tick at start: a lone voter
  // need not wait a whole election timeout for a leader (etcd does too).
  const uint64_t election_ticks = cfg_.election_timeout_ms / cfg_.heartbeat_interval_ms;
  const int64_t tick_ns = static_cast<int64_t>(cfg_.heartbeat_interval_ms) * 1000000;
  if (voters_at_start_ != 1) {
    logger_.info("starting initial election tick advance", {{"election-ticks", election_ticks}});
  } else {
    logger_.info(
        "started as single-node; fast-forwarding election ticks",
        {{"local-member-id", to_hex(id())},
         {"forward-ticks", election_ticks - 1},
         {"forward-duration",
          format_go_duration(static_cast<int64_t>(election_ticks - 1) * tick_ns)},
         {"election-ticks", election_ticks},
         {"election-timeout", format_go_duration(static_cast<int64_t>(election_ticks) * tick_ns)}});
  }
}

void EtcdServer::start() {
  if (core_->set_started(true)) return;
  log_starting();
  apply_loop_->start();
  lessor_->set_revoker(
      [this](const std::vector<LeaseId>& ids) { lease_front_->revoke_expired(ids); });
  lessor_->set_leader_check([this] { return raft_node_->is_leader(); });
  if (cfg_.lease_checkpoint) {
    lessor_->set_checkpointer(
        [this](const std::vector<lease::Checkpoint>& cps) { lease_front_->checkpoint(cps); });
  }
  lessor_->start();
  watchable_->start();
  network_->start();
  for (const Member& m : membership_->members()) network_->add_peer(m.id, m.peer_urls);
  for (const Member& m : remote_members_) network_->add_peer(m.id, m.peer_urls);
  raft_node_->start([this](ApplyBatch b) { apply_loop_->push(std::move(b)); },
                    [this](const raft::ReadState& rs) { proposer_->on_read_state(rs); },
                    [this] {
                      proposer_->on_leader_change();
                      v2_stats_->leader_changed(raft_node_->is_leader());
                    });
  // Auto-compaction: the retention was checked at start-up (main).
  auto retention =
      parse_compaction_retention(cfg_.auto_compaction_mode, cfg_.auto_compaction_retention);
  if (retention.is_ok() && *retention > 0) {
    compactor_ = std::make_unique<Compactor>(
        cfg_.auto_compaction_mode == "revision" ? CompactionMode::kRevision
                                                : CompactionMode::kPeriodic,
        *retention, *ops_host_, logger_, clock_,
        std::chrono::nanoseconds(cfg_.auto_compaction_revision_interval_ns));
    compactor_->run();
  }
  if (cfg_.corrupt_check_time_ns > 0) {
    corruption_->run(std::chrono::nanoseconds(cfg_.corrupt_check_time_ns));
  }
  publisher_->start();
  v2_front_->start();
  start_metrics();
}

void EtcdServer::start_metrics() {
  auto& m = metrics::Metrics::global();
  m.set_server_id(to_hex(id()));
  m.set_server_version(kEtcdVersion);
  m.quota_backend_bytes->Set(static_cast<double>(quota_->bytes()));
  metrics_hook_ = m.add_collect_hook([this, &m] {
    m.db_total_size->Set(static_cast<double>(backend_->size()));
    // Never waits for a commit or a defrag: the last value stays meanwhile.
    if (auto n = backend_->try_size_in_use()) last_size_in_use_ = *n;
    m.db_total_size_in_use->Set(static_cast<double>(last_size_in_use_));
    m.keys_total->Set(static_cast<double>(kv_->live_keys()));
    m.current_revision->Set(static_cast<double>(kv_->rev().value()));
    m.compact_revision->Set(static_cast<double>(kv_->compact_rev().value()));
    m.is_learner->Set(is_learner() ? 1 : 0);
    // etcd labels the cluster version as major.minor ("3.5"), once known.
    std::string v = membership_->version();
    if (!v.empty()) {
      auto dot = v.find('.');
      if (dot != std::string::npos) dot = v.find('.', dot + 1);
      m.set_cluster_version(v.substr(0, dot));
    }
  });
}

void EtcdServer::stop() {
  if (!core_ || !core_->set_started(false)) {
    if (backend_) backend_->close();
    return;
  }
  // etcd hands leadership over before stopping; a lone voter has no one
  // to hand it to.
  transfer_leadership_on_stop();
  metrics_hook_.reset();
  // The apply thread first: the raft thread may be waiting to hand it a
  // batch. Entries not applied now are in the WAL and applied at restart.
  apply_loop_->stop();
  raft_node_->stop();  // closes the WAL
  // The publisher may be waiting on a proposal: fail pending waiters.
  proposer_->stop();
  lessor_->stop();  // its revokes fail now that the server stopped
  if (compactor_) compactor_->stop();
  corruption_->stop();
  publisher_->stop();
  v2_front_->stop();   // after proposer_->stop(): a SYNC in flight has failed
  watchable_->stop();  // its sync rounds read the backend
  network_->stop();
  backend_->close();
}

void EtcdServer::transfer_leadership_on_stop() {
  const std::string lead = to_hex(raft_node_->lead());
  if (!raft_node_->is_leader()) {
    logger_.info("skipped leadership transfer; local server is not leader",
                 {{"local-member-id", to_hex(id())}, {"current-leader-member-id", lead}});
    return;
  }
  size_t voters = 0;
  for (const Member& m : membership_->members()) voters += m.is_learner ? 0 : 1;
  if (voters <= 1) {
    logger_.info("skipped leadership transfer for single voting member cluster",
                 {{"local-member-id", to_hex(id())}, {"current-leader-member-id", lead}});
    return;
  }
  // etcd's longestConnected: the voter connected the longest.
  MemberId to;
  std::optional<std::chrono::steady_clock::time_point> best;
  for (const Member& m : membership_->members()) {
    if (m.is_learner || m.id == id()) continue;
    auto since = network_->active_since(m.id);
    if (since && (!best || *since < *best)) {
      best = since;
      to = m.id;
    }
  }
  if (to == MemberId(0)) return;
  logger_.info("leadership transfer starting", {{"local-member-id", to_hex(id())},
                                                {"current-leader-member-id", lead},
                                                {"transferee-member-id", to_hex(to)}});
  raft_node_->transfer_leader(to);
  const auto deadline = clock_.now() + std::chrono::milliseconds(cfg_.election_timeout_ms) * 2;
  while (clock_.now() < deadline) {
    if (MemberId now = raft_node_->lead(); now != id() && now != MemberId(0)) {
      logger_.info("leadership transfer finished", {{"local-member-id", to_hex(id())},
                                                    {"old-leader-member-id", lead},
                                                    {"new-leader-member-id", to_hex(now)}});
      // Let the new leader hear our last messages before we go.
      clock_.sleep_for(std::chrono::milliseconds(cfg_.heartbeat_interval_ms));
      return;
    }
    clock_.sleep_for(std::chrono::milliseconds(10));
  }
  logger_.warn("leadership transfer failed",
               {{"local-member-id", to_hex(id())}, {"transferee-member-id", to_hex(to)}});
}

MemberId EtcdServer::leader() const { return core_->raft.lead(); }

std::vector<etcdserverpb::AlarmMember> EtcdServer::alarms() const {
  return alarms_->get(etcdserverpb::AlarmType::NONE);
}

std::chrono::milliseconds EtcdServer::request_timeout() const { return core_->request_timeout(); }

}  // namespace etcd::server
