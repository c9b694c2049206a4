#include "lease/lessor.h"

#include <algorithm>
#include <cmath>

#include "base/assert.h"
#include "leasepb/lease.pb.h"
#include "metrics/metrics.h"

namespace etcd::lease {
namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// Go's time.Duration(math.MaxInt64) in whole seconds: what etcd reports as
// the remaining TTL of a lease that never expires (not primary).
constexpr int64_t kForeverSeconds = INT64_MAX / 1'000'000'000;

}  // namespace

Status err_lease_not_found() { return {Code::kNotFound, "lease not found"}; }
Status err_lease_exists() { return {Code::kFailedPrecondition, "lease already exists"}; }
Status err_ttl_too_large() { return {Code::kOutOfRange, "too large lease TTL"}; }
Status err_not_primary() { return {Code::kUnavailable, "not a primary lessor"}; }

Lessor::Lessor(mvcc::KVStore& kv, env::Clock& clock, LessorOptions opts)
    : kv_(kv), clock_(clock), opts_(opts) {
  kv_.add_observer([this](const mvcc::KVStore::WriteTxn& txn) { on_write(txn); });
}

Lessor::~Lessor() { stop(); }

Status Lessor::reload(const mvcc::KVStore::LeasedKeys& leased_keys) {
  {
    MutexLock lock(&mu_);
    leases_.clear();
    key_lease_.clear();
    attached_keys_.store(0, std::memory_order_relaxed);
  }
  return restore(leased_keys);
}

Status Lessor::restore(const mvcc::KVStore::LeasedKeys& leased_keys) {
  std::vector<leasepb::Lease> stored;
  Status status;
  {
    backend::ReadTx rtx = kv_.backend().read_tx();
    rtx.for_each(backend::Bucket::kLease, "", "", [&](std::string_view k, std::string_view v) {
      leasepb::Lease pb;
      if (!pb.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        auto id = backend::parse_lease_key(k);
        status = data_loss("failed to Unmarshal lease proto item; lease ID=" +
                           (id ? to_hex(*id) : std::string("?")));
        return false;
      }
      stored.push_back(std::move(pb));
      return true;
    });
  }
  RETURN_IF_ERROR(status);
  MutexLock lock(&mu_);
  for (const auto& pb : stored) {
    Lease l;
    l.id = LeaseId(pb.id());
    l.ttl_s = std::max(pb.ttl(), opts_.min_ttl_s);
    l.remaining_ttl_s = pb.remainingttl();
    leases_[l.id] = std::move(l);
  }
  // Every live key naming a lease joins it (keys of a lease that is gone
  // are left alone, as etcd only logs them).
  for (const auto& [key, lease] : leased_keys) {
    auto it = leases_.find(LeaseId(lease));
    if (it == leases_.end()) continue;
    it->second.keys.insert(key);
    key_lease_[key] = it->first;
  }
  attached_keys_.store(key_lease_.size(), std::memory_order_relaxed);
  return Status::ok();
}

void Lessor::set_revoker(Revoker fn) {
  MutexLock lock(&mu_);
  revoker_ = std::move(fn);
}

void Lessor::set_checkpointer(Checkpointer fn) {
  MutexLock lock(&mu_);
  checkpointer_ = std::move(fn);
}

void Lessor::set_leader_check(std::function<bool()> fn) {
  MutexLock lock(&mu_);
  leader_check_ = std::move(fn);
}

// ---- apply thread ----

void Lessor::on_write(const mvcc::KVStore::WriteTxn& txn) {
  const auto& changes = txn.changes();
  const auto& deleted = txn.change_is_delete();
  // Fast path for the common write: no key is attached to any lease and
  // none of these changes names one.
  if (attached_keys_.load(std::memory_order_relaxed) == 0 &&
      std::all_of(changes.begin(), changes.end(), [](const auto& kv) { return kv.lease() == 0; })) {
    return;
  }
  MutexLock lock(&mu_);
  for (size_t i = 0; i < changes.size(); ++i) {
    const std::string& key = changes[i].key();
    LeaseId now_lease(deleted[i] ? 0 : changes[i].lease());
    auto cur = key_lease_.find(key);
    LeaseId old_lease = cur == key_lease_.end() ? LeaseId(0) : cur->second;
    if (old_lease == now_lease) continue;
    if (cur != key_lease_.end()) {
      if (auto l = leases_.find(old_lease); l != leases_.end()) l->second.keys.erase(key);
      key_lease_.erase(cur);
      attached_keys_.store(key_lease_.size(), std::memory_order_relaxed);
    }
    if (now_lease.value() != 0) {
      // The KV applier checked that the lease exists before writing.
      auto l = leases_.find(now_lease);
      if (l == leases_.end()) continue;
      l->second.keys.insert(key);
      key_lease_[key] = now_lease;
      attached_keys_.store(key_lease_.size(), std::memory_order_relaxed);
    }
  }
}

void Lessor::persist(const Lease& l, backend::BatchTx& tx) const {
  leasepb::Lease pb;
  pb.set_id(l.id.value());
  pb.set_ttl(l.ttl_s);
  pb.set_remainingttl(l.remaining_ttl_s);
  Status st = tx.put(backend::Bucket::kLease, backend::lease_key(l.id), pb.SerializeAsString());
  ASSERT(st.is_ok(), "storing a lease failed: " + st.to_string());
}

void Lessor::set_expiry(Lease& l, Clock::time_point t) {
  expiry_queue_.erase({l.queued, l.id});
  l.expiry = t;
  l.queued = Clock::time_point::max();
  if (primary_ && t != Clock::time_point::max()) {
    l.queued = t;
    expiry_queue_.insert({t, l.id});
  }
}

void Lessor::schedule_checkpoint(const Lease& l) {
  if (!opts_.checkpoint || !checkpointer_) return;
  if (l.effective_ttl() > duration_cast<seconds>(opts_.checkpoint_interval).count()) {
    checkpoint_queue_.insert({clock_.now() + opts_.checkpoint_interval, l.id});
  }
}

Result<LeaseView> Lessor::grant(LeaseId id, int64_t ttl_s, backend::ConsistentIndex ci) {
  backend::BatchTx tx = kv_.backend().batch_tx();
  tx.set_consistent_index(ci);
  if (id.value() == 0) return err_lease_not_found();
  if (ttl_s > kMaxLeaseTtl) return err_ttl_too_large();
  MutexLock lock(&mu_);
  if (leases_.count(id) != 0) return err_lease_exists();
  Lease& l = leases_[id];
  l.id = id;
  l.ttl_s = std::max(ttl_s, opts_.min_ttl_s);
  persist(l, tx);
  if (primary_) {
    set_expiry(l, clock_.now() + seconds(l.effective_ttl()));
    schedule_checkpoint(l);
  }
  metrics::Metrics::global().lease_granted->Increment();
  return LeaseView{id, l.ttl_s, l.ttl_s, {}};
}

Status Lessor::revoke(LeaseId id, backend::ConsistentIndex ci) {
  std::set<std::string> keys;
  bool found = false;
  {
    MutexLock lock(&mu_);
    auto it = leases_.find(id);
    if (it != leases_.end()) {
      found = true;
      keys = it->second.keys;
    }
  }
  if (!found) {
    backend::BatchTx tx = kv_.backend().batch_tx();
    tx.set_consistent_index(ci);
    return err_lease_not_found();
  }
  // One write txn: every key goes at one revision, with the lease, in one
  // backend batch. std::set keeps the keys sorted, so every member deletes
  // them in the same order.
  auto txn = kv_.write();
  for (const std::string& key : keys) txn->delete_range(mvcc::KeyRange{key, ""});
  {
    MutexLock lock(&mu_);
    auto it = leases_.find(id);
    ASSERT(it != leases_.end(), "lease vanished during its revoke");
    expiry_queue_.erase({it->second.queued, id});
    leases_.erase(it);
  }
  txn->batch_tx().del(backend::Bucket::kLease, backend::lease_key(id));
  txn->set_consistent_index(ci);
  txn->end();  // the observer detaches the deleted keys
  changed_cv_.notify_all();
  metrics::Metrics::global().lease_revoked->Increment();
  return Status::ok();
}

void Lessor::checkpoint(const std::vector<Checkpoint>& cps, backend::ConsistentIndex ci) {
  backend::BatchTx tx = kv_.backend().batch_tx();
  tx.set_consistent_index(ci);
  MutexLock lock(&mu_);
  for (const Checkpoint& cp : cps) {
    auto it = leases_.find(cp.id);
    if (it == leases_.end()) continue;
    // Only the remaining TTL changes; promotion applies it to the expiry.
    it->second.remaining_ttl_s = cp.remaining_ttl_s;
    if (opts_.checkpoint_persist) persist(it->second, tx);
    if (primary_) schedule_checkpoint(it->second);
  }
}

void Lessor::promote(std::chrono::milliseconds extend) {
  MutexLock lock(&mu_);
  primary_ = true;
  ++primary_epoch_;
  const Clock::time_point now = clock_.now();
  expiry_queue_.clear();
  checkpoint_queue_.clear();
  for (auto& [id, l] : leases_) {
    l.queued = Clock::time_point::max();  // the queue was cleared
    set_expiry(l, now + extend + seconds(l.effective_ttl()));
    schedule_checkpoint(l);
  }
  if (leases_.size() < static_cast<size_t>(kRevokeRate)) return;  // no pile-up possible
  // Spread expiries that pile up, so that at most 3/4 of the revoke rate
  // expires in any one-second window (the rest of the rate stays free for
  // leases that expire on their own).
  std::vector<Lease*> by_expiry;
  by_expiry.reserve(leases_.size());
  for (auto& [id, l] : leases_) by_expiry.push_back(&l);
  std::sort(by_expiry.begin(), by_expiry.end(),
            [](const Lease* a, const Lease* b) { return a->expiry < b->expiry; });
  const int64_t target_per_second = (3 * kRevokeRate) / 4;
  nanoseconds base = by_expiry.front()->expiry - now;
  nanoseconds next = base + seconds(1);
  int64_t expires = 0;
  for (Lease* l : by_expiry) {
    nanoseconds remaining = l->expiry - now;
    if (remaining > next) {
      base = remaining;
      next = base + seconds(1);
      expires = 1;
      continue;
    }
    ++expires;
    if (expires <= target_per_second) continue;
    // Later leases in a crowded window move out by their share of a second,
    // less how far they already are past the window's start.
    double delay_ns = 1e9 * static_cast<double>(expires) / static_cast<double>(target_per_second) -
                      static_cast<double>((remaining - base).count());
    auto delay = nanoseconds(static_cast<int64_t>(delay_ns));
    next = base + delay;
    set_expiry(*l, now + delay + extend + seconds(l->effective_ttl()));
    schedule_checkpoint(*l);
  }
}

void Lessor::demote() {
  MutexLock lock(&mu_);
  demote_locked();
}

void Lessor::demote_locked() {
  for (auto& [id, l] : leases_) {
    l.expiry = Clock::time_point::max();
    l.queued = Clock::time_point::max();
  }
  expiry_queue_.clear();
  checkpoint_queue_.clear();
  if (primary_) ++primary_epoch_;
  primary_ = false;
  changed_cv_.notify_all();
}

// ---- any thread ----

bool Lessor::exists(LeaseId id) const {
  MutexLock lock(&mu_);
  return leases_.count(id) != 0;
}

bool Lessor::is_primary() const {
  MutexLock lock(&mu_);
  return primary_;
}

Result<int64_t> Lessor::renew(LeaseId id, std::chrono::milliseconds wait) {
  Checkpointer cp;
  {
    MutexLock lock(&mu_);
    if (!primary_) return err_not_primary();
    auto it = leases_.find(id);
    if (it == leases_.end()) return err_lease_not_found();
    if (it->second.expiry <= clock_.now()) {
      // Expired: its revoke is pending or on its way through Raft. Answer
      // once it is done, so a renewal never revives a revoked lease.
      uint64_t epoch = primary_epoch_;
      bool settled = lock.wait_for(changed_cv_, wait, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return leases_.count(id) == 0 || primary_epoch_ != epoch || stopping_;
      });
      if (settled && leases_.count(id) == 0) return err_lease_not_found();
      return err_not_primary();
    }
    // A checkpointed remaining TTL is cleared through Raft first, so a
    // later promotion counts from the full TTL again.
    if (opts_.checkpoint && checkpointer_ && it->second.remaining_ttl_s > 0) cp = checkpointer_;
  }
  if (cp) cp({Checkpoint{id, 0}});
  MutexLock lock(&mu_);
  if (!primary_) return err_not_primary();
  auto it = leases_.find(id);
  if (it == leases_.end()) return err_lease_not_found();
  set_expiry(it->second, clock_.now() + seconds(it->second.effective_ttl()));
  metrics::Metrics::global().lease_renewed->Increment();
  return it->second.ttl_s;
}

std::optional<LeaseView> Lessor::lookup(LeaseId id, bool with_keys) const {
  MutexLock lock(&mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  const Lease& l = it->second;
  LeaseView v;
  v.id = id;
  v.ttl_s = l.ttl_s;
  v.remaining_s = l.expiry == Clock::time_point::max()
                      ? kForeverSeconds
                      : duration_cast<seconds>(l.expiry - clock_.now()).count();
  if (with_keys) v.keys.assign(l.keys.begin(), l.keys.end());
  return v;
}

std::vector<LeaseId> Lessor::leases() const {
  std::vector<std::pair<Clock::time_point, LeaseId>> all;
  {
    MutexLock lock(&mu_);
    all.reserve(leases_.size());
    for (const auto& [id, l] : leases_) all.emplace_back(l.expiry, id);
  }
  std::sort(all.begin(), all.end());
  std::vector<LeaseId> out;
  out.reserve(all.size());
  for (const auto& e : all) out.push_back(e.second);
  return out;
}

LeaseId Lessor::lease_of(const std::string& key) const {
  MutexLock lock(&mu_);
  auto it = key_lease_.find(key);
  return it == key_lease_.end() ? LeaseId(0) : it->second;
}

// ---- the loop ----

std::vector<LeaseId> Lessor::find_expired(size_t limit) {
  std::vector<LeaseId> out;
  MutexLock lock(&mu_);
  if (!primary_) return out;
  const Clock::time_point now = clock_.now();
  std::vector<LeaseId> requeue;
  while (!expiry_queue_.empty() && out.size() < limit) {
    auto [t, id] = *expiry_queue_.begin();
    if (t > now) break;
    expiry_queue_.erase(expiry_queue_.begin());
    auto it = leases_.find(id);
    ASSERT(it != leases_.end(), "expiry queue names a lease that does not exist");
    requeue.push_back(id);
    if (it->second.expiry <= now) out.push_back(id);
  }
  // Looked at again after the retry interval, in case its revoke does not
  // land; the queue entry moves, the lease's expiry does not.
  const Clock::time_point retry = now + opts_.expired_retry_interval;
  for (LeaseId id : requeue) {
    leases_[id].queued = retry;
    expiry_queue_.insert({retry, id});
  }
  return out;
}

std::vector<Checkpoint> Lessor::find_due_checkpoints(size_t limit) {
  std::vector<Checkpoint> out;
  MutexLock lock(&mu_);
  if (!primary_ || !opts_.checkpoint || !checkpointer_) return out;
  const Clock::time_point now = clock_.now();
  while (!checkpoint_queue_.empty() && out.size() < limit) {
    auto [t, id] = *checkpoint_queue_.begin();
    if (t > now) break;
    checkpoint_queue_.erase(checkpoint_queue_.begin());
    auto it = leases_.find(id);
    if (it == leases_.end()) continue;
    const Lease& l = it->second;
    if (now >= l.expiry) continue;
    auto left = std::chrono::duration<double>(l.expiry - now).count();
    auto remaining = static_cast<int64_t>(std::ceil(left));
    if (remaining >= l.ttl_s) continue;
    out.push_back(Checkpoint{id, remaining});
  }
  return out;
}

void Lessor::run_once() {
  std::function<bool()> leader_check;
  Revoker revoker;
  Checkpointer checkpointer;
  bool primary;
  {
    MutexLock lock(&mu_);
    leader_check = leader_check_;
    revoker = revoker_;
    checkpointer = checkpointer_;
    primary = primary_;
  }
  if (primary && leader_check && !leader_check()) demote();
  auto expired = find_expired(static_cast<size_t>(kRevokeRate / 2));
  if (!expired.empty() && revoker) revoker(expired);
  if (!checkpointer) return;
  for (int i = 0; i < kCheckpointRate / 2; ++i) {
    auto cps = find_due_checkpoints(kMaxCheckpointBatch);
    if (!cps.empty()) checkpointer(cps);
    if (cps.size() < kMaxCheckpointBatch) break;
  }
}

void Lessor::start() {
  if (loop_.running()) return;
  {
    MutexLock lock(&mu_);
    stopping_ = false;
  }
  loop_.start([this](Worker& self) {
    do {
      run_once();
    } while (self.sleep_for(kLoopInterval));
  });
}

void Lessor::stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_cv_.notify_all();
  loop_.stop();
}

}  // namespace etcd::lease
