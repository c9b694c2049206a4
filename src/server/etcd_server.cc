#include "server/etcd_server.h"

#include <cmath>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>

#include "storage/backend/snapshot.h"

#include "base/duration.h"
#include "base/encoding.h"
#include "base/version.h"
#include "server/cluster_ids.h"
#include "server/errors.h"

namespace etcd::server {
namespace {

std::string wal_metadata(MemberId id, uint64_t cluster_id) {
  nlohmann::json j;
  j["member_id"] = id.value();
  j["cluster_id"] = cluster_id;
  return j.dump();
}

// etcd's version.Cluster: "3.5.0" -> "3.5", as the cluster version is logged.
std::string cluster_version(const std::string& v) {
  auto first = v.find('.');
  if (first == std::string::npos) return v;
  auto second = v.find('.', first + 1);
  return second == std::string::npos ? v : v.substr(0, second);
}

// etcd's quota defaults (DefaultQuotaBytes, MaxQuotaBytes).
constexpr int64_t kDefaultQuotaBytes = int64_t{2} << 30;
constexpr int64_t kMaxQuotaBytes = int64_t{8} << 30;
// etcd's kvOverhead: the cost of a put beyond its key and value.
constexpr int64_t kKvOverhead = 256;
// etcd's leaseOverhead: the quota cost of a lease grant.
constexpr int64_t kLeaseOverhead = 64;

// go-humanize's Bytes (SI units), which etcd logs sizes with: "2.1 GB".
std::string human_bytes(int64_t n) {
  auto s = static_cast<double>(n < 0 ? 0 : n);
  if (s < 10) return std::to_string(n) + " B";
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int e = static_cast<int>(std::floor(std::log(s) / std::log(1000.0)));
  double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  char buf[64];
  std::snprintf(buf, sizeof buf, val < 10 ? "%.1f %s" : "%.0f %s", val, kUnits[e]);
  return buf;
}

int64_t put_cost(const etcdserverpb::PutRequest& r) {
  return kKvOverhead + static_cast<int64_t>(r.key().size() + r.value().size());
}

// etcd's costTxn: the larger branch's puts (top level only, as etcd).
int64_t txn_cost(const etcdserverpb::TxnRequest& r) {
  auto branch = [](const auto& ops) {
    int64_t c = 0;
    for (const auto& op : ops) {
      if (op.has_request_put()) c += put_cost(op.request_put());
    }
    return c;
  };
  return std::max(branch(r.success()), branch(r.failure()));
}

}  // namespace

// The server as the compactor and the corruption checker see it. Their
// threads call it; every call is thread-safe on the server's side.
class EtcdServer::OpsHost final : public CompactorHost, public CorruptionHost {
 public:
  explicit OpsHost(EtcdServer& s) : s_(s) {}
  int64_t current_revision() override { return s_.kv_->rev(); }
  bool is_leader() override { return s_.raft_node_->is_leader(); }
  Status compact(int64_t revision) override {
    etcdserverpb::CompactionRequest r;
    r.set_revision(revision);
    return s_.compact(r).status();
  }
  MemberId member_id() override { return s_.id(); }
  // A single member has no peers to compare with (clusters fill this in).
  std::vector<PeerHashKV> peer_hashes(int64_t) override { return {}; }
  Status linearizable_barrier() override { return s_.linearizable_read_barrier(); }
  void raise_corrupt_alarm(MemberId member) override {
    etcdserverpb::AlarmRequest a;
    a.set_memberid(member.value());
    a.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    a.set_alarm(etcdserverpb::CORRUPT);
    (void)s_.alarm(a);
  }

 private:
  EtcdServer& s_;
};

EtcdServer::EtcdServer(const config::ServerConfig& cfg, log::Logger& logger, env::Clock& clock)
    : cfg_(cfg), logger_(logger), clock_(clock) {
  member_dir_ = env::join_path(cfg.data_dir, "member");
  wal_dir_ = cfg.wal_dir.empty() ? env::join_path(member_dir_, "wal") : cfg.wal_dir;
  snap_dir_ = env::join_path(member_dir_, "snap");
}

EtcdServer::~EtcdServer() { stop(); }

Result<std::unique_ptr<EtcdServer>> EtcdServer::create(const config::ServerConfig& cfg,
                                                       log::Logger& logger, env::Clock& clock) {
  std::unique_ptr<EtcdServer> s(new EtcdServer(cfg, logger, clock));
  RETURN_IF_ERROR(s->open());
  return s;
}

raft::Config EtcdServer::raft_config(raft::NodeId id) const {
  raft::Config c;
  c.id = id;
  c.election_tick = static_cast<int>(cfg_.election_timeout_ms / cfg_.heartbeat_interval_ms);
  c.heartbeat_tick = 1;
  c.storage = raft_storage_.get();
  c.max_size_per_msg = 1024 * 1024;
  c.max_inflight_msgs = 4096 / 8;
  c.check_quorum = true;
  c.pre_vote = true;
  c.seed = id ^ static_cast<uint64_t>(clock_.wall_unix_ms());
  c.logger = [this](const std::string& msg) { logger_.info(msg); };
  return c;
}

Status EtcdServer::open() {
  RETURN_IF_ERROR(env::mkdir_all(fs_, member_dir_, env::kPrivateDirMode));
  backend::Options bo;
  bo.sync_mode = backend::SyncMode::kNoMetaSync;
  const auto opening = clock_.now();
  const std::string db_path = env::join_path(snap_dir_, "db");
  auto b = backend::Backend::open(db_path, bo, clock_);
  if (!b.is_ok()) return b.status();
  backend_ = std::move(b).value();
  logger_.info("opened backend db",
               {{"path", db_path}, {"took", format_go_duration(clock_.now() - opening)}});
  // Checked before anything reads or writes the backend (the KV store's
  // restore may resume a compaction, which writes).
  restarted_ = wal::Wal::exists(fs_, wal_dir_);
  if (!restarted_) {
    // A backend that has applied entries but no WAL to go with them (what a
    // failed restore, or a lost --wal-dir, leaves behind): a new member's
    // log would start below the backend's consistent index, so its entries
    // would be taken as applied already and nothing would ever complete.
    // Refuse, naming the files, and touch nothing.
    if (uint64_t ci = backend_->consistent_index().index.value(); ci > 0) {
      return failed_precondition(
          "data dir " + cfg_.data_dir + " is half-made: " + db_path +
          " holds applied data (consistent index " + std::to_string(ci) +
          ") but there is no WAL in " + wal_dir_ +
          " (a failed 'snapshot restore' or a moved --wal-dir leaves this); restore again into an "
          "empty data dir, point --wal-dir at the member's WAL, or move the db away to start a "
          "new member");
    }
  }
  kv_ = std::make_unique<mvcc::KVStore>(*backend_);
  mvcc::KVStore::LeasedKeys leased_keys;
  RETURN_IF_ERROR(kv_->restore(&leased_keys));
  logger_.info("kvstore restored", {{"current-rev", kv_->rev()}});
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
  {
    // etcd's minTTL: 1.5 election timeouts in whole heartbeats, rounded up
    // to seconds.
    uint64_t election_ticks = cfg_.election_timeout_ms / cfg_.heartbeat_interval_ms;
    uint64_t min_ttl_ms = (3 * election_ticks) / 2 * cfg_.heartbeat_interval_ms;
    lease::LessorOptions lo;
    lo.min_ttl_s = static_cast<int64_t>((min_ttl_ms + 999) / 1000);
    lo.checkpoint = cfg_.lease_checkpoint;
    lo.checkpoint_persist = cfg_.lease_checkpoint_persist;
    if (cfg_.lease_checkpoint && !cfg_.lease_checkpoint_persist) {
      logger_.warn(
          "Detected that checkpointing is enabled without persistence. Consider enabling "
          "experimental-enable-lease-checkpoint-persist");
    }
    lessor_ = std::make_unique<lease::Lessor>(*kv_, clock_, lo);
    RETURN_IF_ERROR(lessor_->restore(leased_keys));
  }
  alarms_.load(*backend_);
  capped_ = !alarms_.get(etcdserverpb::NOSPACE).empty();
  corrupt_ = !alarms_.get(etcdserverpb::CORRUPT).empty();
  kv_applier_ = std::make_unique<KvApplier>(
      *kv_, [this](int64_t id) { return lessor_->exists(LeaseId(id)); });
  raft_storage_ = std::make_unique<raft::MemoryStorage>();
  snapshotter_ = std::make_unique<snap::Snapshotter>(fs_, snap_dir_, cfg_.max_snapshots, &logger_);
  wal::WalOptions wo;
  wo.max_wals = cfg_.max_wals;
  wo.logger = &logger_;
  std::unique_ptr<raft::RawNode> node;
  if (restarted_) {
    RETURN_IF_ERROR(restart(&node));
  } else {
    RETURN_IF_ERROR(bootstrap_new(&node));
  }
  if (cfg_.quota_backend_bytes < 0) {
    quota_bytes_ = -1;
    logger_.info("disabled backend quota",
                 {{"quota-name", "v3-applier"}, {"quota-size-bytes", cfg_.quota_backend_bytes}});
  } else if (cfg_.quota_backend_bytes == 0) {
    quota_bytes_ = kDefaultQuotaBytes;
    logger_.info("enabled backend quota with default value",
                 {{"quota-name", "v3-applier"},
                  {"quota-size-bytes", quota_bytes_},
                  {"quota-size", human_bytes(quota_bytes_)}});
  } else {
    quota_bytes_ = cfg_.quota_backend_bytes;
    if (quota_bytes_ > kMaxQuotaBytes) {
      logger_.warn("quota exceeds the maximum value",
                   {{"quota-name", "v3-applier"},
                    {"quota-size-bytes", quota_bytes_},
                    {"quota-size", human_bytes(quota_bytes_)},
                    {"quota-maximum-size-bytes", kMaxQuotaBytes},
                    {"quota-maximum-size", human_bytes(kMaxQuotaBytes)}});
    }
    logger_.info("enabled backend quota", {{"quota-name", "v3-applier"},
                                           {"quota-size-bytes", quota_bytes_},
                                           {"quota-size", human_bytes(quota_bytes_)}});
  }
  RaftNode::Options ro;
  ro.tick_interval = std::chrono::milliseconds(cfg_.heartbeat_interval_ms);
  ro.initial_tick_advance =
      static_cast<int>(cfg_.election_timeout_ms / cfg_.heartbeat_interval_ms) - 1;
  transport_ = std::make_unique<UnreachableTransport>(logger_, clock_);
  raft_node_ = std::make_unique<RaftNode>(std::move(node), *raft_storage_, *wal_, *snapshotter_,
                                          *transport_, logger_, ro);
  proposer_ = std::make_unique<Proposer>(
      *raft_node_, membership_->local_id(), clock_.wall_unix_ms(), logger_,
      Proposer::Options{.request_timeout = request_timeout(),
                        .max_request_bytes = cfg_.max_request_bytes});
  ops_host_ = std::make_unique<OpsHost>(*this);
  corruption_ = std::make_unique<CorruptionChecker>(*kv_, *ops_host_, logger_);
  return Status::ok();
}

Status EtcdServer::initial_corruption_check() {
  if (!cfg_.initial_corrupt_check || !restarted_) return Status::ok();
  return corruption_->initial_check(request_timeout());
}

Status EtcdServer::bootstrap_new(std::unique_ptr<raft::RawNode>* node) {
  if (cfg_.initial_cluster_state == "existing") {
    return failed_precondition(
        "--initial-cluster-state=existing: joining a running cluster is not supported by this "
        "build yet (it arrives with multi-member clusters)");
  }
  auto initial = parse_initial_cluster(cfg_.initial_cluster);
  if (!initial.is_ok()) return initial.status();
  auto self = initial->find(cfg_.name);
  if (self == initial->end()) {
    return invalid_argument("couldn't find local name \"" + cfg_.name +
                            "\" in the initial cluster configuration");
  }
  std::vector<std::string> advertised = cfg_.initial_advertise_peer_urls;
  std::vector<std::string> listed = self->second;
  std::sort(advertised.begin(), advertised.end());
  std::sort(listed.begin(), listed.end());
  if (advertised != listed) {
    std::string adv;
    for (const auto& u : cfg_.initial_advertise_peer_urls) adv += (adv.empty() ? "" : ",") + u;
    std::string want;
    for (const auto& u : self->second) want += (want.empty() ? "" : ",") + cfg_.name + "=" + u;
    return invalid_argument("--initial-cluster has " + want +
                            " but missing from --initial-advertise-peer-urls=" + adv);
  }
  std::vector<Member> members;
  std::vector<MemberId> ids;
  for (const auto& [name, urls] : *initial) {
    Member m;
    m.id = compute_member_id(urls, cfg_.initial_cluster_token);
    m.name = name;
    m.peer_urls = urls;
    std::sort(m.peer_urls.begin(), m.peer_urls.end());
    members.push_back(m);
    ids.push_back(m.id);
  }
  voters_at_start_ = members.size();
  MemberId local = compute_member_id(self->second, cfg_.initial_cluster_token);
  uint64_t cid = compute_cluster_id(ids);
  membership_ = std::make_unique<Membership>(local, cid);
  auto w = wal::Wal::create(fs_, wal_dir_, wal_metadata(local, cid),
                            wal::WalOptions{.max_wals = cfg_.max_wals, .logger = &logger_});
  if (!w.is_ok()) return w.status();
  wal_ = std::move(w).value();
  logger_.info("starting local member", {{"local-member-id", to_hex(local)},
                                         {"cluster-id", to_hex(MemberId(cid))},
                                         {"initial-cluster", cfg_.initial_cluster}});
  auto n = raft::RawNode::create(raft_config(local.value()));
  if (!n.is_ok()) return n.status();
  std::vector<raft::Peer> peers;
  for (Member m : members) {
    m.name.clear();  // names are published by each member when it starts
    peers.push_back(raft::Peer{m.id.value(), m.to_json()});
  }
  RETURN_IF_ERROR((*n)->bootstrap(peers));
  *node = std::move(n).value();
  return Status::ok();
}

Status EtcdServer::restart(std::unique_ptr<raft::RawNode>* node) {
  raftpb::Snapshot snap;
  auto loaded = snapshotter_->load_newest();
  if (loaded.is_ok()) {
    snap = std::move(loaded).value();
  } else if (loaded.status().code() != Code::kNotFound) {
    return loaded.status();
  }
  wal::WalOptions wo;
  wo.max_wals = cfg_.max_wals;
  wo.logger = &logger_;
  auto w = wal::Wal::open(
      fs_, wal_dir_, wal::WalSnapshot{Index(snap.metadata().index()), Term(snap.metadata().term())},
      wo);
  if (!w.is_ok()) return w.status();
  wal_ = std::move(w).value();
  auto contents = wal_->read_all();
  if (!contents.is_ok()) return contents.status();
  auto meta = nlohmann::json::parse(contents->metadata, nullptr, false);
  if (meta.is_discarded() || !meta.contains("member_id") || !meta.contains("cluster_id")) {
    return data_loss("WAL metadata is not readable");
  }
  MemberId local(meta["member_id"].get<uint64_t>());
  uint64_t cid = meta["cluster_id"].get<uint64_t>();
  membership_ = std::make_unique<Membership>(local, cid);
  membership_->load(*backend_);
  voters_at_start_ = 0;
  for (const Member& m : membership_->members()) {
    voters_at_start_ += m.is_learner ? 0 : 1;
    logger_.info("recovered/added member from store",
                 {{"cluster-id", to_hex(MemberId(cid))},
                  {"local-member-id", to_hex(local)},
                  {"recovered-remote-peer-id", to_hex(m.id)},
                  {"recovered-remote-peer-urls", m.peer_urls}});
  }
  if (std::string v = membership_->version(); !v.empty()) {
    logger_.info("enabled capabilities for version", {{"cluster-version", cluster_version(v)}});
    logger_.info("set cluster version from store", {{"cluster-version", cluster_version(v)}});
  }
  if (!raft::is_empty_snap(snap)) {
    RETURN_IF_ERROR(raft_storage_->apply_snapshot(snap));
    conf_state_ = snap.metadata().conf_state();
    snapshot_index_ = snap.metadata().index();
  }
  raft_storage_->set_hard_state(contents->hard_state);
  RETURN_IF_ERROR(raft_storage_->append(contents->entries));
  logger_.info("restarting local member",
               {{"local-member-id", to_hex(local)},
                {"cluster-id", to_hex(MemberId(cid))},
                {"commit-index", contents->hard_state.commit()},
                {"backend-consistent-index", backend_->consistent_index().index.value()}});
  auto n = raft::RawNode::create(raft_config(local.value()));
  if (!n.is_ok()) return n.status();
  *node = std::move(n).value();
  return Status::ok();
}

void EtcdServer::start() {
  if (started_.exchange(true)) return;
  {
    std::string v = membership_->version();
    logger_.info("starting etcd server",
                 {{"local-member-id", to_hex(id())},
                  {"local-server-version", kEtcdVersion},
                  {"cluster-id", to_hex(MemberId(cluster_id()))},
                  {"cluster-version", v.empty() ? "to_be_decided" : cluster_version(v)}});
    // RaftNode advances all but one election tick at start: a lone voter
    // need not wait a whole election timeout for a leader (etcd does too).
    const uint64_t election_ticks = cfg_.election_timeout_ms / cfg_.heartbeat_interval_ms;
    const int64_t tick_ns = static_cast<int64_t>(cfg_.heartbeat_interval_ms) * 1000000;
    if (voters_at_start_ != 1) {
      logger_.info("starting initial election tick advance", {{"election-ticks", election_ticks}});
    } else {
      logger_.info("started as single-node; fast-forwarding election ticks",
                   {{"local-member-id", to_hex(id())},
                    {"forward-ticks", election_ticks - 1},
                    {"forward-duration",
                     format_go_duration(static_cast<int64_t>(election_ticks - 1) * tick_ns)},
                    {"election-ticks", election_ticks},
                    {"election-timeout",
                     format_go_duration(static_cast<int64_t>(election_ticks) * tick_ns)}});
    }
  }
  apply_thread_ = std::thread([this] { apply_loop(); });
  lessor_->set_revoker([this](const std::vector<LeaseId>& ids) { revoke_expired_leases(ids); });
  lessor_->set_leader_check([this] { return raft_node_->is_leader(); });
  if (cfg_.lease_checkpoint) {
    lessor_->set_checkpointer([this](const std::vector<lease::Checkpoint>& cps) {
      serverpb::InternalRaftRequest req;
      for (const auto& cp : cps) {
        auto* c = req.mutable_lease_checkpoint()->add_checkpoints();
        c->set_id(cp.id.value());
        c->set_remaining_ttl(cp.remaining_ttl_s);
      }
      (void)process(std::move(req));
    });
  }
  lessor_->start();
  watchable_->start();
  raft_node_->start(
      [this](ApplyBatch b) {
        MutexLock lock(&apply_mu_);
        lock.wait(apply_cv_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return apply_stopping_ || apply_queue_.size() < kMaxApplyBatches;
        });
        if (apply_stopping_) return;
        apply_queue_.push_back(std::move(b));
        apply_cv_.notify_all();
      },
      [this](const raft::ReadState& rs) { proposer_->on_read_state(rs); });
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
  // Publish this member's name and client URLs once it is serving.
  publisher_.start([this](Worker& self) {
    serverpb::InternalRaftRequest req;
    auto* a = req.mutable_member_attributes();
    a->set_member_id(id().value());
    a->set_name(cfg_.name);
    for (const auto& u : cfg_.advertise_client_urls) a->add_client_urls(u);
    // Retried until it succeeds or the server stops (etcd retries too).
    std::string attributes = "{Name:" + cfg_.name + " ClientURLs:[";
    for (size_t i = 0; i < cfg_.advertise_client_urls.size(); ++i) {
      attributes += (i ? " " : "") + cfg_.advertise_client_urls[i];
    }
    attributes += "]}";
    const std::string request_path = "/0/members/" + to_hex(id()) + "/attributes";
    const std::string timeout = format_go_duration(request_timeout());
    // etcd's proposal blocks until there is a leader and goes through at
    // once; ours is dropped while there is none, so it is retried every
    // 100 ms. The warning comes as etcd's does: once a whole request
    // timeout passed without success, and once per timeout after that.
    auto warn_at = std::chrono::steady_clock::now() + request_timeout();
    while (!self.stopping()) {
      auto done = process(req);
      const Status published = done.is_ok() ? done->status : done.status();
      if (published.is_ok()) {
        logger_.info("published local member to cluster through raft",
                     {{"local-member-id", to_hex(id())},
                      {"local-member-attributes", attributes},
                      {"request-path", request_path},
                      {"cluster-id", to_hex(MemberId(cluster_id()))},
                      {"publish-timeout", timeout}});
        {
          MutexLock lock(&ready_mu_);
          ready_ = true;
        }
        ready_cv_.notify_all();
        // As etcd, the leader then records the cluster version.
        if (raft_node_->is_leader() && membership_->version().empty()) {
          logger_.info("setting up initial cluster version", {{"cluster-version", kApiVersion}});
          serverpb::InternalRaftRequest v;
          v.mutable_cluster_version_set()->set_version(std::string(kApiVersion) + ".0");
          if (process(v).is_ok()) {
            logger_.info("cluster version is updated", {{"cluster-version", kApiVersion}});
          }
        }
        return;
      }
      if (!started_ || self.stopping()) return;
      if (auto now = std::chrono::steady_clock::now(); now >= warn_at) {
        // Not serving until this succeeds: say so.
        logger_.warn("failed to publish local member to cluster through raft",
                     {{"local-member-id", to_hex(id())},
                      {"local-member-attributes", attributes},
                      {"request-path", request_path},
                      {"publish-timeout", timeout},
                      {"error", published.message()}});
        warn_at = now + request_timeout();
      }
      self.sleep_for(std::chrono::milliseconds(100));
    }
  });
}

void EtcdServer::stop() {
  if (!started_.exchange(false)) {
    if (backend_) backend_->close();
    return;
  }
  // etcd hands leadership over before stopping; a lone voter has no one
  // to hand it to.
  if (!raft_node_->is_leader()) {
    logger_.info("skipped leadership transfer; local server is not leader",
                 {{"local-member-id", to_hex(id())},
                  {"current-leader-member-id", to_hex(MemberId(raft_node_->lead()))}});
  } else {
    logger_.info("skipped leadership transfer for single voting member cluster",
                 {{"local-member-id", to_hex(id())},
                  {"current-leader-member-id", to_hex(MemberId(raft_node_->lead()))}});
  }
  raft_node_->stop();
  // The publisher may be waiting on a proposal: fail pending waiters first.
  proposer_->stop();
  lessor_->stop();  // its revokes fail now that the server stopped
  // Their proposals now fail at once ("server stopped").
  if (compactor_) compactor_->stop();
  corruption_->stop();
  publisher_.stop();
  {
    MutexLock lock(&apply_mu_);
    apply_stopping_ = true;
  }
  apply_cv_.notify_all();
  if (apply_thread_.joinable()) apply_thread_.join();
  watchable_->stop();  // its sync rounds read the backend
  proposer_->stop();
  if (wal_) (void)wal_->close();
  backend_->close();
}

// ---- apply thread ----

void EtcdServer::apply_loop() {
  while (true) {
    ApplyBatch b;
    {
      MutexLock lock(&apply_mu_);
      lock.wait(apply_cv_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return apply_stopping_ || !apply_queue_.empty();
      });
      if (apply_stopping_) return;
      b = std::move(apply_queue_.front());
      apply_queue_.pop_front();
      apply_cv_.notify_all();
    }
    apply_batch(b);
  }
}

void EtcdServer::apply_batch(const ApplyBatch& batch) {
  if (!raft::is_empty_snap(batch.snapshot)) {
    // A single member never receives a snapshot from a leader; clusters do
    // (the backend arrives separately, with the cluster issue).
    conf_state_ = batch.snapshot.metadata().conf_state();
    snapshot_index_ = batch.snapshot.metadata().index();
    applied_.store(batch.snapshot.metadata().index(), std::memory_order_release);
  }
  for (const auto& e : batch.entries) apply_entry(e);
  // applied_ is atomic; passing through the waiters' mutex orders this
  // notify after any waiter's check of it, so no wake-up is lost.
  { MutexLock lock(&applied_mu_); }
  applied_cv_.notify_all();
  maybe_trigger_snapshot();
}

void EtcdServer::record_consistent_index(backend::ConsistentIndex ci) {
  backend::BatchTx tx = backend_->batch_tx();
  tx.set_consistent_index(ci);
}

void EtcdServer::apply_entry(const raftpb::Entry& e) {
  backend::ConsistentIndex ci{Index(e.index()), Term(e.term())};
  bool already = e.index() <= backend_->consistent_index().index.value();
  switch (e.type()) {
    case raftpb::EntryNormal: {
      // A new leader's empty entry: once it is applied, everything of the
      // earlier terms is, and the leader's lessor takes over expiry (etcd
      // extends every lease by an election timeout then).
      if (e.data().empty() && raft_node_->is_leader()) {
        lessor_->promote(std::chrono::milliseconds(cfg_.election_timeout_ms));
      }
      if (already) break;
      if (e.data().empty()) {
        record_consistent_index(ci);  // a new leader's empty entry
        break;
      }
      serverpb::InternalRaftRequest req;
      if (!req.ParseFromString(e.data())) PANIC("malformed request in raft entry");
      proposer_->complete(req.header().id(), apply_request(req, ci));
      break;
    }
    case raftpb::EntryConfChange:
      apply_conf_change(e);
      break;
    default:
      if (!already) record_consistent_index(ci);
      break;
  }
  applied_.store(e.index(), std::memory_order_release);
}

ApplyResult EtcdServer::apply_request(const serverpb::InternalRaftRequest& req,
                                      backend::ConsistentIndex ci) {
  ApplyResult out;
  auto take = [&out](auto result) {
    if (result.is_ok()) {
      out.response = std::make_unique<std::decay_t<decltype(*result)>>(std::move(result).value());
    } else {
      out.status = result.status();
    }
  };
  switch (req.request_case()) {
    case serverpb::InternalRaftRequest::kPut:
    case serverpb::InternalRaftRequest::kDeleteRange:
    case serverpb::InternalRaftRequest::kTxn:
    case serverpb::InternalRaftRequest::kCompaction:
    case serverpb::InternalRaftRequest::kLeaseGrant:
    case serverpb::InternalRaftRequest::kLeaseRevoke:
      if (corrupt_) {  // etcd's applierV3Corrupt
        record_consistent_index(ci);
        out.status = errors::corrupt();
        return out;
      }
      break;
    default:
      break;
  }
  switch (req.request_case()) {
    case serverpb::InternalRaftRequest::kPut: {
      if (capped_) {
        record_consistent_index(ci);
        out.status = errors::no_space();
        break;
      }
      // etcd's quotaApplierV3: the put is applied, but reported as failed
      // when it did not fit.
      bool fits = quota_available(put_cost(req.put()));
      take(kv_applier_->put(req.put(), ci));
      if (out.status.is_ok() && !fits) {
        out.response.reset();
        out.status = errors::no_space();
      }
      break;
    }
    case serverpb::InternalRaftRequest::kDeleteRange:
      take(kv_applier_->delete_range(req.delete_range(), ci));
      break;
    case serverpb::InternalRaftRequest::kTxn: {
      int64_t cost = txn_cost(req.txn());
      if (capped_ && cost > 0) {
        record_consistent_index(ci);
        out.status = errors::no_space();
        break;
      }
      bool fits = quota_available(cost);
      take(kv_applier_->txn(req.txn(), ci));
      if (out.status.is_ok() && !fits) {
        out.response.reset();
        out.status = errors::no_space();
      }
      break;
    }
    case serverpb::InternalRaftRequest::kLeaseGrant:
    case serverpb::InternalRaftRequest::kLeaseRevoke:
    case serverpb::InternalRaftRequest::kLeaseCheckpoint:
      out = apply_lease(req, ci);
      break;
    case serverpb::InternalRaftRequest::kAlarm:
      out = apply_alarm(req.alarm(), ci);
      break;
    case serverpb::InternalRaftRequest::kCompaction:
      take(kv_applier_->compact(req.compaction(), ci));
      break;
    case serverpb::InternalRaftRequest::kMemberAttributes: {
      backend::BatchTx tx = backend_->batch_tx();
      tx.set_consistent_index(ci);
      const auto& a = req.member_attributes();
      membership_->update_attributes(MemberId(a.member_id()), a.name(),
                                     {a.client_urls().begin(), a.client_urls().end()}, tx);
      break;
    }
    case serverpb::InternalRaftRequest::kClusterVersionSet: {
      backend::BatchTx tx = backend_->batch_tx();
      tx.set_consistent_index(ci);
      const std::string& v = req.cluster_version_set().version();
      const std::string was = membership_->set_version(v, tx);
      const std::string cid = to_hex(MemberId(cluster_id()));
      if (was.empty()) {
        logger_.info("set initial cluster version", {{"cluster-id", cid},
                                                     {"local-member-id", to_hex(id())},
                                                     {"cluster-version", cluster_version(v)}});
      } else if (was != v) {
        logger_.info("updated cluster version", {{"cluster-id", cid},
                                                 {"local-member-id", to_hex(id())},
                                                 {"from", cluster_version(was)},
                                                 {"to", cluster_version(v)}});
      }
      logger_.info("enabled capabilities for version", {{"cluster-version", cluster_version(v)}});
      break;
    }
    default:
      record_consistent_index(ci);
      out.status = Status(Code::kUnimplemented, "etcdserver: request not supported by this build");
      break;
  }
  return out;
}

void EtcdServer::apply_conf_change(const raftpb::Entry& e) {
  raftpb::ConfChange cc;
  if (!cc.ParseFromString(e.data())) PANIC("malformed conf change entry");
  bool already = e.index() <= backend_->consistent_index().index.value();
  if (!already) {
    backend::BatchTx tx = backend_->batch_tx();
    tx.set_consistent_index({Index(e.index()), Term(e.term())});
    auto m = cc.context().empty() ? Result<Member>(invalid_argument("no context"))
                                  : Member::from_json(cc.context());
    switch (cc.type()) {
      case raftpb::ConfChangeAddNode:
        if (membership_->member(MemberId(cc.node_id()))) {
          membership_->promote(MemberId(cc.node_id()), tx);
        } else if (m.is_ok()) {
          membership_->add(*m, tx);
          logger_.info("added member", {{"cluster-id", to_hex(MemberId(cluster_id()))},
                                        {"local-member-id", to_hex(id())},
                                        {"added-peer-id", to_hex(m->id)},
                                        {"added-peer-peer-urls", m->peer_urls}});
        }
        break;
      case raftpb::ConfChangeAddLearnerNode:
        if (m.is_ok()) {
          Member learner = *m;
          learner.is_learner = true;
          membership_->add(learner, tx);
        }
        break;
      case raftpb::ConfChangeRemoveNode:
        membership_->remove(MemberId(cc.node_id()), tx);
        break;
      case raftpb::ConfChangeUpdateNode:
        if (m.is_ok()) membership_->update_peer_urls(m->id, m->peer_urls, tx);
        break;
      default:
        break;
    }
  }
  raft_node_->apply_conf_change(cc);
  // The configuration as raft will have it (snapshot metadata).
  conf_state_.clear_voters();
  conf_state_.clear_learners();
  for (const Member& m : membership_->members()) {
    if (m.is_learner) {
      conf_state_.add_learners(m.id.value());
    } else {
      conf_state_.add_voters(m.id.value());
    }
  }
}

void EtcdServer::maybe_trigger_snapshot() {
  uint64_t applied = applied_.load(std::memory_order_acquire);
  if (applied <= snapshot_index_ || applied - snapshot_index_ <= cfg_.snapshot_count) return;
  // The backend must hold everything up to the snapshot before the WAL may
  // be released below it.
  backend_->force_commit();
  logger_.info("triggering snapshot", {{"local-member-id", to_hex(id())},
                                       {"local-member-applied-index", applied},
                                       {"local-member-snapshot-index", snapshot_index_},
                                       {"local-member-snapshot-count", cfg_.snapshot_count}});
  raft_node_->snapshot(applied, conf_state_, kSnapshotCatchUpEntries);
  snapshot_index_ = applied;
}

// ---- reads ----

Status EtcdServer::linearizable_read_barrier() {
  auto index = proposer_->read_index();
  if (!index.is_ok()) return index.status();
  MutexLock lock(&applied_mu_);
  if (!lock.wait_for(applied_cv_, request_timeout(), [&] { return applied_index() >= *index; })) {
    return errors::timeout();
  }
  return Status::ok();
}

// ---- client API ----

Result<ApplyResult> EtcdServer::process(serverpb::InternalRaftRequest req) {
  if (!started_) return errors::stopped();
  return proposer_->propose(std::move(req));
}

void EtcdServer::fill_cluster_header(etcdserverpb::ResponseHeader* h) const {
  h->set_cluster_id(cluster_id());
  h->set_member_id(id().value());
  h->set_raft_term(raft_node_->term());
}

bool EtcdServer::wait_ready(std::chrono::milliseconds timeout) {
  MutexLock lock(&ready_mu_);
  return lock.wait_for(ready_cv_, timeout,
                       [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ready_; });
}

void EtcdServer::fill_header(etcdserverpb::ResponseHeader* h, int64_t revision) const {
  h->set_cluster_id(cluster_id());
  h->set_member_id(id().value());
  h->set_revision(revision > 0 ? revision : kv_->rev());
  h->set_raft_term(raft_node_->term());
}

template <typename Resp>
static Result<Resp> unwrap(Result<ApplyResult> r) {
  if (!r.is_ok()) return r.status();
  if (!r->status.is_ok()) return r->status;
  auto* resp = dynamic_cast<Resp*>(r->response.get());
  ASSERT(resp != nullptr, "unexpected response type");
  return std::move(*resp);
}

Result<etcdserverpb::RangeResponse> EtcdServer::range(const etcdserverpb::RangeRequest& r) {
  RETURN_IF_ERROR(check_range_request(r));
  if (!r.serializable()) RETURN_IF_ERROR(linearizable_read_barrier());
  auto resp = kv_applier_->range(r);
  if (resp.is_ok()) fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::PutResponse> EtcdServer::put(const etcdserverpb::PutRequest& r) {
  RETURN_IF_ERROR(check_put_request(r));
  RETURN_IF_ERROR(check_quota(put_cost(r)));
  serverpb::InternalRaftRequest req;
  *req.mutable_put() = r;
  auto resp = unwrap<etcdserverpb::PutResponse>(process(std::move(req)));
  if (resp.is_ok()) fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::DeleteRangeResponse> EtcdServer::delete_range(
    const etcdserverpb::DeleteRangeRequest& r) {
  RETURN_IF_ERROR(check_delete_request(r));
  serverpb::InternalRaftRequest req;
  *req.mutable_delete_range() = r;
  auto resp = unwrap<etcdserverpb::DeleteRangeResponse>(process(std::move(req)));
  if (resp.is_ok()) fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::TxnResponse> EtcdServer::txn(const etcdserverpb::TxnRequest& r) {
  RETURN_IF_ERROR(check_txn_request(r, static_cast<int64_t>(cfg_.max_txn_ops)));
  Result<etcdserverpb::TxnResponse> resp = Status(Code::kInternal, "unset");
  if (is_txn_read_only(r)) {
    // Served locally like a range; linearizable unless every range in it
    // is serializable.
    bool serializable = true;
    for (const auto* ops : {&r.success(), &r.failure()}) {
      for (const auto& op : *ops) {
        if (op.has_request_range() && !op.request_range().serializable()) serializable = false;
      }
    }
    if (!serializable) RETURN_IF_ERROR(linearizable_read_barrier());
    resp = kv_applier_->txn_read_only(r);
  } else {
    RETURN_IF_ERROR(check_quota(txn_cost(r)));
    serverpb::InternalRaftRequest req;
    *req.mutable_txn() = r;
    resp = unwrap<etcdserverpb::TxnResponse>(process(std::move(req)));
  }
  if (resp.is_ok()) fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::CompactionResponse> EtcdServer::compact(
    const etcdserverpb::CompactionRequest& r) {
  serverpb::InternalRaftRequest req;
  *req.mutable_compaction() = r;
  auto resp = unwrap<etcdserverpb::CompactionResponse>(process(std::move(req)));
  if (resp.is_ok()) {
    if (r.physical()) backend_->force_commit();  // compaction is done when apply returns
    fill_header(resp->mutable_header(), resp->header().revision());
  }
  return resp;
}

Result<etcdserverpb::MemberListResponse> EtcdServer::member_list(
    const etcdserverpb::MemberListRequest& r) {
  if (r.linearizable()) RETURN_IF_ERROR(linearizable_read_barrier());
  etcdserverpb::MemberListResponse resp;
  fill_cluster_header(resp.mutable_header());
  for (const Member& m : membership_->members()) {
    auto* pm = resp.add_members();
    pm->set_id(m.id.value());
    pm->set_name(m.name);
    for (const auto& u : m.peer_urls) pm->add_peerurls(u);
    for (const auto& u : m.client_urls) pm->add_clienturls(u);
    pm->set_islearner(m.is_learner);
  }
  return resp;
}

Result<etcdserverpb::StatusResponse> EtcdServer::status() {
  etcdserverpb::StatusResponse resp;
  fill_header(resp.mutable_header(), 0);
  resp.set_version(kEtcdVersion);
  resp.set_dbsize(backend_->size());
  resp.set_dbsizeinuse(backend_->size_in_use());
  resp.set_leader(raft_node_->lead());
  resp.set_raftindex(raft_node_->commit_index());
  resp.set_raftterm(raft_node_->term());
  resp.set_raftappliedindex(applied_index());
  auto self = membership_->member(id());
  resp.set_islearner(self && self->is_learner);
  for (const auto& a : alarms_.get(etcdserverpb::NONE)) resp.add_errors(alarm_text(a));
  return resp;
}

Result<etcdserverpb::AlarmResponse> EtcdServer::alarm(const etcdserverpb::AlarmRequest& r) {
  // Every action goes through Raft, as etcd's.
  serverpb::InternalRaftRequest req;
  *req.mutable_alarm() = r;
  auto resp = unwrap<etcdserverpb::AlarmResponse>(process(std::move(req)));
  if (resp.is_ok()) fill_header(resp->mutable_header(), 0);
  return resp;
}

ApplyResult EtcdServer::apply_alarm(const etcdserverpb::AlarmRequest& r,
                                    backend::ConsistentIndex ci) {
  auto resp = std::make_unique<etcdserverpb::AlarmResponse>();
  backend::BatchTx tx = backend_->batch_tx();
  tx.set_consistent_index(ci);
  size_t old_count = alarms_.get(r.alarm()).size();
  switch (r.action()) {
    case etcdserverpb::AlarmRequest::GET:
      for (const auto& m : alarms_.get(r.alarm())) *resp->add_alarms() = m;
      break;
    case etcdserverpb::AlarmRequest::ACTIVATE: {
      if (r.alarm() == etcdserverpb::NONE) break;
      auto m = alarms_.activate(MemberId(r.memberid()), r.alarm(), tx);
      if (!m) break;
      *resp->add_alarms() = *m;
      if (old_count != 0 || alarms_.get(m->alarm()).size() != 1) break;
      logger_.warn("alarm raised", {{"alarm", etcdserverpb::AlarmType_Name(m->alarm())},
                                    {"from", to_hex(MemberId(m->memberid()))}});
      if (m->alarm() == etcdserverpb::NOSPACE) capped_ = true;
      if (m->alarm() == etcdserverpb::CORRUPT) corrupt_ = true;
      break;
    }
    case etcdserverpb::AlarmRequest::DEACTIVATE: {
      auto m = alarms_.deactivate(MemberId(r.memberid()), r.alarm(), tx);
      if (!m) break;
      *resp->add_alarms() = *m;
      if (old_count == 0 || !alarms_.get(r.alarm()).empty()) break;
      if (m->alarm() == etcdserverpb::NOSPACE || m->alarm() == etcdserverpb::CORRUPT) {
        logger_.warn("alarm disarmed", {{"alarm", etcdserverpb::AlarmType_Name(m->alarm())},
                                        {"from", to_hex(MemberId(m->memberid()))}});
      }
      if (m->alarm() == etcdserverpb::NOSPACE) capped_ = false;
      if (m->alarm() == etcdserverpb::CORRUPT) corrupt_ = false;
      break;
    }
    default:
      break;
  }
  return ApplyResult{Status::ok(), std::move(resp)};
}

bool EtcdServer::quota_available(int64_t cost) const {
  if (cost == 0 || quota_bytes_ < 0) return true;
  return backend_->size() + cost < quota_bytes_;
}

Status EtcdServer::check_quota(int64_t cost) {
  if (quota_available(cost)) return Status::ok();
  etcdserverpb::AlarmRequest a;
  a.set_memberid(id().value());
  a.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  a.set_alarm(etcdserverpb::NOSPACE);
  (void)alarm(a);
  return errors::no_space();
}

Result<etcdserverpb::DefragmentResponse> EtcdServer::defragment() {
  logger_.info("starting defragment");
  auto start = std::chrono::steady_clock::now();
  int64_t size_before = backend_->size();
  int64_t in_use_before = backend_->size_in_use();
  logger_.info("defragmenting", {{"path", backend_->path()},
                                 {"current-db-size-bytes", size_before},
                                 {"current-db-size", human_bytes(size_before)},
                                 {"current-db-size-in-use-bytes", in_use_before},
                                 {"current-db-size-in-use", human_bytes(in_use_before)}});
  auto d = backend_->defrag();
  if (!d.is_ok()) {
    logger_.warn("failed to defragment", {{"error", d.status().message()}});
    return d.status();
  }
  int64_t size_after = backend_->size();
  int64_t in_use_after = backend_->size_in_use();
  logger_.info("finished defragmenting directory",
               {{"path", backend_->path()},
                {"current-db-size-bytes-diff", size_after - size_before},
                {"current-db-size-bytes", size_after},
                {"current-db-size", human_bytes(size_after)},
                {"current-db-size-in-use-bytes-diff", in_use_after - in_use_before},
                {"current-db-size-in-use-bytes", in_use_after},
                {"current-db-size-in-use", human_bytes(in_use_after)},
                {"took", format_go_duration(std::chrono::steady_clock::now() - start)}});
  logger_.info("finished defragment");
  return etcdserverpb::DefragmentResponse();  // etcd's has no header
}

Result<etcdserverpb::HashResponse> EtcdServer::hash() {
  etcdserverpb::HashResponse resp;
  resp.set_hash(backend_->hash());
  fill_header(resp.mutable_header(), kv_->rev());
  return resp;
}

Result<etcdserverpb::HashKVResponse> EtcdServer::hash_kv(const etcdserverpb::HashKVRequest& r) {
  auto h = kv_->hash_by_rev(r.revision());
  if (!h.is_ok()) {
    if (mvcc::is_compacted(h.status())) return errors::compacted();
    if (mvcc::is_future_rev(h.status())) return errors::future_rev();
    return h.status();
  }
  etcdserverpb::HashKVResponse resp;
  resp.set_hash(h->hash);
  resp.set_compact_revision(h->compact_rev);
  resp.set_hash_revision(h->hash_rev);
  fill_header(resp.mutable_header(), h->current_rev);
  return resp;
}

Status EtcdServer::snapshot(
    const std::function<Status(const etcdserverpb::SnapshotResponse&)>& send) {
  auto reader = backend_->snapshot();
  if (!reader.is_ok()) return reader.status();
  auto& rd = **reader;
  auto start = std::chrono::steady_clock::now();
  auto total = static_cast<int64_t>(rd.size());
  logger_.info("sending database snapshot to client",
               {{"total-bytes", total}, {"size", human_bytes(total)}});
  std::string buf(backend::kSnapshotChunkSize, '\0');
  bool first = true;
  while (rd.remaining() > 0) {
    auto n = rd.read(buf.data(), buf.size());
    if (!n.is_ok()) return n.status();
    if (*n == 0) return data_loss("snapshot: unexpected end of the db image");
    etcdserverpb::SnapshotResponse resp;
    if (first) fill_header(resp.mutable_header(), 0);
    first = false;
    resp.set_remaining_bytes(rd.remaining());
    resp.set_blob(buf.data(), *n);
    RETURN_IF_ERROR(send(resp));
  }
  const backend::Sha256& sha = rd.sha256();
  logger_.info("sending database sha256 checksum to client",
               {{"total-bytes", total}, {"checksum-size", sha.size()}});
  etcdserverpb::SnapshotResponse last;
  if (first) fill_header(last.mutable_header(), 0);
  last.set_remaining_bytes(0);
  last.set_blob(reinterpret_cast<const char*>(sha.data()), sha.size());
  RETURN_IF_ERROR(send(last));
  logger_.info("successfully sent database snapshot to client",
               {{"total-bytes", total},
                {"size", human_bytes(total)},
                {"took", format_go_duration(std::chrono::steady_clock::now() - start)}});
  return Status::ok();
}

Result<etcdserverpb::MoveLeaderResponse> EtcdServer::move_leader(
    const etcdserverpb::MoveLeaderRequest& r) {
  uint64_t lead = raft_node_->lead();
  if (lead != id().value()) return errors::not_leader();
  auto target = membership_->member(MemberId(r.targetid()));
  if (!target || target->is_learner) return errors::bad_leader_transferee();
  logger_.info("leadership transfer starting",
               {{"local-member-id", to_hex(id())},
                {"current-leader-member-id", to_hex(MemberId(lead))},
                {"transferee-member-id", to_hex(target->id)}});
  raft_node_->transfer_leader(r.targetid());
  auto deadline = std::chrono::steady_clock::now() + request_timeout();
  while (raft_node_->lead() != r.targetid()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(Code::kUnavailable,
                    "etcdserver: request timed out, leader transfer took too long");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.heartbeat_interval_ms));
  }
  logger_.info("leadership transfer finished", {{"local-member-id", to_hex(id())},
                                                {"old-leader-member-id", to_hex(MemberId(lead))},
                                                {"new-leader-member-id", to_hex(target->id)}});
  etcdserverpb::MoveLeaderResponse resp;
  fill_header(resp.mutable_header(), 0);
  return resp;
}

// ---- leases ----

namespace {

// The lessor's errors as etcd's client errors.
Status lease_error(const Status& s) {
  switch (s.code()) {
    case Code::kNotFound:
      return errors::lease_not_found();
    case Code::kFailedPrecondition:
      return errors::lease_exists();
    case Code::kOutOfRange:
      return errors::lease_ttl_too_large();
    default:
      return s;
  }
}

}  // namespace

ApplyResult EtcdServer::apply_lease(const serverpb::InternalRaftRequest& req,
                                    backend::ConsistentIndex ci) {
  ApplyResult out;
  switch (req.request_case()) {
    case serverpb::InternalRaftRequest::kLeaseGrant: {
      // etcd's applierV3Capped refuses grants under NOSPACE; its
      // quotaApplierV3 applies one that does not fit but reports no_space.
      if (capped_) {
        record_consistent_index(ci);
        out.status = errors::no_space();
        break;
      }
      bool fits = quota_available(kLeaseOverhead);
      const auto& r = req.lease_grant();
      auto l = lessor_->grant(LeaseId(r.id()), r.ttl(), ci);
      if (!l.is_ok()) {
        out.status = lease_error(l.status());
        break;
      }
      if (!fits) {
        out.status = errors::no_space();
        break;
      }
      auto resp = std::make_unique<etcdserverpb::LeaseGrantResponse>();
      resp->mutable_header()->set_revision(kv_->rev());
      resp->set_id(l->id.value());
      resp->set_ttl(l->ttl_s);
      out.response = std::move(resp);
      break;
    }
    case serverpb::InternalRaftRequest::kLeaseRevoke: {
      Status st = lessor_->revoke(LeaseId(req.lease_revoke().id()), ci);
      if (!st.is_ok()) {
        out.status = lease_error(st);
        break;
      }
      auto resp = std::make_unique<etcdserverpb::LeaseRevokeResponse>();
      resp->mutable_header()->set_revision(kv_->rev());
      out.response = std::move(resp);
      break;
    }
    case serverpb::InternalRaftRequest::kLeaseCheckpoint: {
      std::vector<lease::Checkpoint> cps;
      for (const auto& c : req.lease_checkpoint().checkpoints()) {
        cps.push_back(lease::Checkpoint{LeaseId(c.id()), c.remaining_ttl()});
      }
      lessor_->checkpoint(cps, ci);
      auto resp = std::make_unique<etcdserverpb::LeaseCheckpointResponse>();
      resp->mutable_header()->set_revision(kv_->rev());
      out.response = std::move(resp);
      break;
    }
    default:
      ASSERT(false, "not a lease request");
  }
  return out;
}

void EtcdServer::revoke_expired_leases(const std::vector<LeaseId>& ids) {
  for (LeaseId id : ids) {
    if (!started_) return;
    serverpb::InternalRaftRequest req;
    req.mutable_lease_revoke()->set_id(id.value());
    auto r = process(std::move(req));
    Status st = r.is_ok() ? r->status : r.status();
    if (!st.is_ok() && st != errors::lease_not_found()) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx",
                    static_cast<unsigned long long>(static_cast<uint64_t>(id.value())));
      logger_.warn("failed to revoke lease", {{"lease-id", hex}, {"error", st.message()}});
    }
  }
}

Status EtcdServer::wait_applied_index() {
  uint64_t target = raft_node_->commit_index();
  MutexLock lock(&applied_mu_);
  // etcd's applyTimeout.
  if (!lock.wait_for(applied_cv_, std::chrono::seconds(1),
                     [&] { return applied_index() >= target || !started_; })) {
    return Status(Code::kUnavailable,
                  "etcdserver: request timed out, waiting for the applied index took too long");
  }
  return started_ ? Status::ok() : errors::stopped();
}

Result<etcdserverpb::LeaseGrantResponse> EtcdServer::lease_grant(
    etcdserverpb::LeaseGrantRequest r) {
  RETURN_IF_ERROR(check_quota(kLeaseOverhead));
  // No id given: one from the request-id generator, kept positive (etcd).
  while (r.id() == 0) {
    r.set_id(static_cast<int64_t>(proposer_->next_id() & ((uint64_t{1} << 63) - 1)));
  }
  serverpb::InternalRaftRequest req;
  *req.mutable_lease_grant() = r;
  auto resp = unwrap<etcdserverpb::LeaseGrantResponse>(process(std::move(req)));
  if (resp.is_ok()) fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::LeaseRevokeResponse> EtcdServer::lease_revoke(
    const etcdserverpb::LeaseRevokeRequest& r) {
  serverpb::InternalRaftRequest req;
  *req.mutable_lease_revoke() = r;
  auto resp = unwrap<etcdserverpb::LeaseRevokeResponse>(process(std::move(req)));
  if (resp.is_ok()) fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<int64_t> EtcdServer::lease_renew(LeaseId id) {
  // Renewals do not go through Raft: the leader's lessor answers. A leader
  // whose lessor is not promoted yet (its first entry is not applied) is
  // retried for up to an election timeout; etcd forwards to the leader
  // until its request timeout.
  auto deadline = std::chrono::steady_clock::now() + request_timeout();
  while (true) {
    if (!started_) return errors::stopped();
    if (raft_node_->is_leader()) {
      RETURN_IF_ERROR(wait_applied_index());
      auto ttl = lessor_->renew(id);
      if (ttl.is_ok()) return ttl;
      if (ttl.status().code() == Code::kNotFound) return errors::lease_not_found();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return has_leader() ? errors::timeout() : errors::no_leader();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.heartbeat_interval_ms));
  }
}

Result<etcdserverpb::LeaseTimeToLiveResponse> EtcdServer::lease_time_to_live(
    const etcdserverpb::LeaseTimeToLiveRequest& r) {
  // Served by the leader, once its apply thread caught up (etcd forwards a
  // follower's request to the leader).
  if (!raft_node_->is_leader()) return has_leader() ? errors::not_leader() : errors::no_leader();
  RETURN_IF_ERROR(wait_applied_index());
  auto l = lessor_->lookup(LeaseId(r.id()), r.keys());
  if (!l) return errors::lease_not_found();
  etcdserverpb::LeaseTimeToLiveResponse resp;
  fill_header(resp.mutable_header(), 0);
  resp.set_id(r.id());
  resp.set_ttl(l->remaining_s);
  resp.set_grantedttl(l->ttl_s);
  for (auto& k : l->keys) resp.add_keys(std::move(k));
  return resp;
}

Result<etcdserverpb::LeaseLeasesResponse> EtcdServer::lease_leases() {
  etcdserverpb::LeaseLeasesResponse resp;
  fill_header(resp.mutable_header(), 0);
  for (LeaseId id : lessor_->leases()) resp.add_leases()->set_id(id.value());
  return resp;
}

}  // namespace etcd::server
