#include "server/apply_loop.h"

#include <utility>

#include "base/duration.h"
#include "metrics/metrics.h"
#include "server/raft_entry.h"
#include "serverpb/raft_internal.pb.h"

namespace etcd::server {

ApplyLoop::ApplyLoop(backend::Backend& backend, Applier& chain, MembershipApplier& membership,
                     v2store::Store& v2, log::Logger& logger, Hooks hooks, Options options)
    : backend_(backend),
      chain_(chain),
      membership_(membership),
      v2_(membership, backend, v2, logger),
      logger_(logger),
      hooks_(std::move(hooks)),
      snapshot_count_(options.snapshot_count),
      local_id_(options.local_id),
      snapshot_index_(options.snapshot_index),
      conf_state_(std::move(options.conf_state)) {}

ApplyLoop::~ApplyLoop() { stop(); }

void ApplyLoop::start() {
  {
    MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void ApplyLoop::stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  { MutexLock lock(&applied_mu_); }
  applied_cv_.notify_all();
}

void ApplyLoop::push(ApplyBatch b) {
  MutexLock lock(&mu_);
  lock.wait(cv_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return stopping_ || queue_.size() < kMaxBatches;
  });
  if (stopping_) return;
  queue_.push_back(std::move(b));
  cv_.notify_all();
}

void ApplyLoop::run() {
  while (true) {
    ApplyBatch b;
    {
      MutexLock lock(&mu_);
      lock.wait(cv_,
                [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      b = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
    }
    apply_batch(b);
  }
}

bool ApplyLoop::wait_applied(uint64_t index, std::chrono::milliseconds timeout,
                             const std::function<bool()>& stop) {
  MutexLock lock(&applied_mu_);
  return lock.wait_for(applied_cv_, timeout, [&] {
    return applied() >= index || (stop && stop());
  }) && applied() >= index;
}

void ApplyLoop::apply_batch(const ApplyBatch& batch) {
  if (!raft::is_empty_snap(batch.snapshot)) {
    // A snapshot from the leader: its backend image (received by the peer
    // transport beside the .snap file) replaces the store first.
    if (hooks_.restore_snapshot) hooks_.restore_snapshot(batch.snapshot);
    conf_state_ = batch.snapshot.metadata().conf_state();
    snapshot_index_ = batch.snapshot.metadata().index();
    applied_.store(batch.snapshot.metadata().index(), std::memory_order_release);
  }
  for (const auto& e : batch.entries) apply_entry(e);
  metrics::Metrics::global().proposals_applied->Set(
      static_cast<double>(applied_.load(std::memory_order_relaxed)));
  // applied_ is atomic; passing through the waiters' mutex orders this
  // notify after any waiter's check of it, so no wake-up is lost.
  { MutexLock lock(&applied_mu_); }
  applied_cv_.notify_all();
  maybe_trigger_snapshot();
}

void ApplyLoop::apply_entry(const raftpb::Entry& e) {
  const backend::ConsistentIndex ci{Index(e.index()), Term(e.term())};
  const bool already = e.index() <= backend_.consistent_index().index.value();
  switch (e.type()) {
    case raftpb::EntryNormal: {
      // A new leader's empty entry: once it is applied, everything of the
      // earlier terms is, and the leader's lessor takes over expiry.
      if (e.data().empty() && hooks_.is_leader && hooks_.is_leader()) {
        if (hooks_.leader_noop_applied) hooks_.leader_noop_applied();
      }
      if (already) {
        if (!e.data().empty()) replay_v2(e.data(), ci);
        break;
      }
      if (e.data().empty()) {
        record_consistent_index(backend_, ci);
        break;
      }
      {
        // etcd counts an apply slower than 100 ms as slow (and says so).
        const auto start = std::chrono::steady_clock::now();
        apply_normal(e.data(), ci);
        const auto took = std::chrono::steady_clock::now() - start;
        if (took > kSlowApply) {
          metrics::Metrics::global().slow_apply->Increment();
          logger_.warn(
              "apply request took too long",
              {{"took", format_go_duration(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(took).count())},
               {"expected-duration", "100ms"}});
        }
      }
      break;
    }
    case raftpb::EntryConfChange: {
      raftpb::ConfChange cc;
      if (!cc.ParseFromString(e.data())) PANIC("malformed conf change entry");
      auto outcome = membership_.apply_conf_change(cc, ci, already);
      conf_state_ = outcome.conf_state;
      const uint64_t id = cc.id();
      // A refused change still goes to Raft, as a change of nobody, so Raft
      // does not wait for it forever (etcd does the same).
      raftpb::ConfChange for_raft = cc;
      if (!outcome.status.is_ok()) for_raft.set_node_id(0);
      if (hooks_.apply_conf_change) hooks_.apply_conf_change(std::move(for_raft));
      if (!already && outcome.status.is_ok()) {
        // A member added at run time (the bootstrap's own conf changes
        // carry no request id).
        if (id != 0 && (cc.type() == raftpb::ConfChangeAddNode ||
                        cc.type() == raftpb::ConfChangeAddLearnerNode)) {
          member_joined_ = true;
        }
        if (hooks_.membership_changed) hooks_.membership_changed(cc);
      }
      if (hooks_.complete) hooks_.complete(id, ApplyResult{outcome.status, std::monostate{}});
      break;
    }
    default:
      if (!already) record_consistent_index(backend_, ci);
      break;
  }
  applied_.store(e.index(), std::memory_order_release);
}

void ApplyLoop::apply_normal(const std::string& data, backend::ConsistentIndex ci) {
  uint64_t id = 0;
  ApplyResult result;
  switch (classify_entry(data)) {
    case EntryKind::kV2: {
      // etcd 3.4/3.5 members propose their v2 requests unwrapped.
      etcdserverpb::Request r;
      if (!r.ParseFromString(data)) PANIC("malformed v2 request in raft entry");
      id = r.id();
      result = v2_.apply(r, ci, /*already=*/false);
      break;
    }
    case EntryKind::kInternal: {
      serverpb::InternalRaftRequest req;
      if (!req.ParseFromString(data)) PANIC("malformed request in raft entry");
      if (req.has_v2()) {
        id = req.v2().id();
        result = v2_.apply(req.v2(), ci, /*already=*/false);
      } else {
        // etcd's waiter key: the old top-level id, else the header's.
        id = req.id() != 0 ? req.id() : req.header().id();
        result = chain_.apply(req, ci);
      }
      break;
    }
    case EntryKind::kEmpty:
    case EntryKind::kMalformed:
      PANIC("malformed request in raft entry");
  }
  if (hooks_.complete && id != 0) hooks_.complete(id, std::move(result));
}

void ApplyLoop::replay_v2(const std::string& data, backend::ConsistentIndex ci) {
  switch (classify_entry(data)) {
    case EntryKind::kV2: {
      etcdserverpb::Request r;
      if (r.ParseFromString(data)) (void)v2_.apply(r, ci, /*already=*/true);
      return;
    }
    case EntryKind::kInternal: {
      serverpb::InternalRaftRequest req;
      if (!req.ParseFromString(data)) return;
      if (req.has_v2()) {
        (void)v2_.apply(req.v2(), ci, /*already=*/true);
      } else if (req.has_cluster_member_attr_set()) {
        const auto& r = req.cluster_member_attr_set();
        membership_.replay_attributes(MemberId(r.member_id()), r.member_attributes());
      } else if (req.has_cluster_version_set() &&
                 is_cluster_version(req.cluster_version_set().ver())) {
        membership_.replay_cluster_version(req.cluster_version_set().ver());
      }
      return;
    }
    default:
      return;
  }
}

void ApplyLoop::maybe_trigger_snapshot() {
  const uint64_t applied = applied_.load(std::memory_order_acquire);
  if (applied <= snapshot_index_) return;
  // After a member joined, at once (not in etcd): should the leader have
  // to catch the new member up with a snapshot, it must be one that names
  // the member, and ours cost no copy (the backend is the state; the image
  // goes with the MsgSnap). That snapshot leaves the log uncompacted.
  const bool joined = std::exchange(member_joined_, false);
  if (!joined && applied - snapshot_index_ <= snapshot_count_) return;
  // The backend must hold everything up to the snapshot before the WAL may
  // be released below it.
  backend_.force_commit();
  logger_.info("triggering snapshot", {{"local-member-id", to_hex(local_id_)},
                                       {"local-member-applied-index", applied},
                                       {"local-member-snapshot-index", snapshot_index_},
                                       {"local-member-snapshot-count", snapshot_count_}});
  if (hooks_.snapshot) hooks_.snapshot(applied, conf_state_, /*compact=*/!joined);
  snapshot_index_ = applied;
}

}  // namespace etcd::server
