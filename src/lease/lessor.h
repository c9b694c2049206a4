// etcd's lessor: leases with a TTL, the keys attached to them, and their
// expiry. The state changes through Raft (grant, revoke, checkpoint are
// applied on the apply thread); renewals and reads come from gRPC threads
// and do not go through Raft, as in etcd.
//
// Primary: only the leader's lessor tracks expiry ("primary"). promote()
// (on the first entry of the leader's term) sets every lease to expire at
// now + extend + its TTL (or its checkpointed remaining TTL); demote() sets
// them to never expire. A follower's lease is never expired locally: the
// leader proposes LeaseRevoke for it.
//
// Expiry: an ordered queue (expiry time, id) holds one entry per lease while
// primary; run_once() (every 500 ms from the loop thread) pops the expired
// ones, at most kRevokeRate / 2 per round, hands them to the revoker (which
// proposes LeaseRevoke through Raft) and requeues each at now +
// expired_retry_interval, so a revoke that is lost is proposed again.
//
// Keys: the KVStore observer keeps key -> lease right for every write txn
// (a put with lease L attaches the key to L and detaches it from its old
// lease; a put with lease 0 or a delete detaches it).
//
// Persistence: leasepb.Lease{ID, TTL, RemainingTTL} under lease_key(id) in
// the `lease` bucket, written in the same backend batch as the raft entry's
// consistent index; revoke deletes the attached keys and the lease in one
// KVStore write txn (one revision).
//
// Threads and locks: mu_ guards every field below it. Lock order: the
// backend's writer scope, then mu_ (the observer runs inside a write txn);
// callbacks (revoker, checkpointer) are called without mu_.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/ids.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/worker.h"
#include "env/clock.h"
#include "mvcc/kvstore.h"
#include "storage/backend/backend.h"

namespace etcd::lease {

// etcd's MaxLeaseTTL (seconds).
inline constexpr int64_t kMaxLeaseTtl = 9'000'000'000;
// etcd's leaseRevokeRate: leases revoked per second at most.
inline constexpr int kRevokeRate = 1000;
// etcd's leaseCheckpointRate and maxLeaseCheckpointBatchSize.
inline constexpr int kCheckpointRate = 1000;
inline constexpr size_t kMaxCheckpointBatch = 1000;
// How often the loop looks for expired leases and due checkpoints.
inline constexpr std::chrono::milliseconds kLoopInterval{500};

// The lessor's errors. The server maps them to etcd's client errors by code.
Status err_lease_not_found();  // kNotFound "lease not found"
Status err_lease_exists();     // kFailedPrecondition "lease already exists"
Status err_ttl_too_large();    // kOutOfRange "too large lease TTL"
Status err_not_primary();      // kUnavailable "not a primary lessor"

struct LessorOptions {
  // Grants below it are raised to it (etcd: ceil(1.5 x election timeout)).
  int64_t min_ttl_s = 1;
  // Checkpointing is on (etcd: a checkpointer is set, by
  // --experimental-enable-lease-checkpoint).
  bool checkpoint = false;
  // Applied checkpoints are written to the lease bucket
  // (--experimental-enable-lease-checkpoint-persist).
  bool checkpoint_persist = false;
  // etcd's defaultLeaseCheckpointInterval.
  std::chrono::milliseconds checkpoint_interval{std::chrono::minutes(5)};
  // etcd's defaultExpiredleaseRetryInterval: an expired lease is handed to
  // the revoker again after this long if it still exists.
  std::chrono::milliseconds expired_retry_interval{std::chrono::seconds(3)};
};

struct Checkpoint {
  LeaseId id;
  int64_t remaining_ttl_s = 0;
};

// What TimeToLive shows of a lease.
struct LeaseView {
  LeaseId id;
  int64_t ttl_s = 0;              // granted TTL (after the minimum)
  int64_t remaining_s = 0;        // truncated seconds until expiry (huge when not primary)
  std::vector<std::string> keys;  // sorted; filled only when asked
};

class Lessor {
 public:
  using Clock = std::chrono::steady_clock;
  // Proposes LeaseRevoke for each id (through Raft); called on the loop
  // thread without locks.
  using Revoker = std::function<void(const std::vector<LeaseId>&)>;
  // Proposes one LeaseCheckpoint request; called without locks.
  using Checkpointer = std::function<void(const std::vector<Checkpoint>&)>;

  // Adds the key -> lease observer to `kv`; call restore() before the first
  // write.
  Lessor(mvcc::KVStore& kv, env::Clock& clock, LessorOptions opts);
  ~Lessor();
  Lessor(const Lessor&) = delete;
  Lessor& operator=(const Lessor&) = delete;

  // Start-up, after the KVStore restored: loads the lease bucket (TTLs below
  // the minimum raised to it, expiry "forever" until promoted) and attaches
  // the live keys that name a lease (KVStore::restore found them).
  Status restore(const mvcc::KVStore::LeasedKeys& leased_keys);
  // The backend was replaced (a snapshot from the leader): forgets every
  // lease, then restores from it. Apply thread.
  Status reload(const mvcc::KVStore::LeasedKeys& leased_keys);

  void set_revoker(Revoker fn);
  void set_checkpointer(Checkpointer fn);  // only used when opts.checkpoint
  // The loop asks this whether the local member still leads; a primary
  // lessor whose member does not lead demotes itself.
  void set_leader_check(std::function<bool()> fn);

  // ---- apply thread: each records `ci` in the same backend batch ----
  // Errors: err_lease_not_found (id 0), err_ttl_too_large, err_lease_exists.
  Result<LeaseView> grant(LeaseId id, int64_t ttl_s, backend::ConsistentIndex ci);
  // Deletes every attached key in one write txn (sorted, so every member
  // deletes in the same order) and the lease, in the same batch.
  Status revoke(LeaseId id, backend::ConsistentIndex ci);
  // Records remaining TTLs (unknown ids are skipped, as etcd).
  void checkpoint(const std::vector<Checkpoint>& cps, backend::ConsistentIndex ci);
  // Becomes primary: every lease expires at now + extend + remaining TTL;
  // with many leases, expiries are spread so at most 3/4 of kRevokeRate
  // fall in any second (etcd's Promote).
  void promote(std::chrono::milliseconds extend);
  // Stops being primary: no lease expires.
  void demote();

  // ---- any thread ----
  bool exists(LeaseId id) const;
  bool is_primary() const;
  // Keep-alive: the lease expires TTL seconds from now; returns the TTL.
  // err_not_primary when not primary, err_lease_not_found when unknown. An
  // expired lease waits (up to `wait`) for its revoke: then not found.
  Result<int64_t> renew(LeaseId id, std::chrono::milliseconds wait = std::chrono::seconds(5));
  std::optional<LeaseView> lookup(LeaseId id, bool with_keys) const;
  // Every lease id, soonest expiry first.
  std::vector<LeaseId> leases() const;
  // The lease `key` is attached to (0: none).
  LeaseId lease_of(const std::string& key) const;

  // ---- the loop ----
  // One round: demote if no longer leader, hand expired leases to the
  // revoker, propose due checkpoints. Tests call it directly.
  void run_once();
  // A thread running run_once() every kLoopInterval until stop().
  void start();
  void stop();

  // Expired leases (primary only), at most `limit`; each is requeued at
  // now + expired_retry_interval. Exposed for tests.
  std::vector<LeaseId> find_expired(size_t limit);
  std::vector<Checkpoint> find_due_checkpoints(size_t limit);

 private:
  struct Lease {
    LeaseId id;
    int64_t ttl_s = 0;
    int64_t remaining_ttl_s = 0;                          // last checkpoint; 0: unset
    Clock::time_point expiry = Clock::time_point::max();  // max: forever
    // The time of its expiry_queue_ entry (max: none). Equals expiry, except
    // after an expired lease was handed to the revoker: then the retry time.
    Clock::time_point queued = Clock::time_point::max();
    std::set<std::string> keys;
    // The TTL promotion and renewal count from.
    int64_t effective_ttl() const { return remaining_ttl_s > 0 ? remaining_ttl_s : ttl_s; }
  };

  void on_write(const mvcc::KVStore::WriteTxn& txn);
  void persist(const Lease& l, backend::BatchTx& tx) const;
  // Sets a lease's expiry and its entry in the expiry queue.
  void set_expiry(Lease& l, Clock::time_point t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void schedule_checkpoint(const Lease& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void demote_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mvcc::KVStore& kv_;
  env::Clock& clock_;
  const LessorOptions opts_;

  mutable Mutex mu_;
  // Signalled when a lease is revoked or the lessor is demoted or stopped
  // (renewals of an expired lease wait for it).
  mutable std::condition_variable changed_cv_;
  std::unordered_map<LeaseId, Lease> leases_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, LeaseId> key_lease_ ABSL_GUARDED_BY(mu_);
  // key_lease_.size(), written under mu_; read without it by the observer's
  // fast path (written and read on the apply thread only, so never stale
  // there).
  std::atomic<size_t> attached_keys_{0};
  // While primary: exactly one (queued, id) per lease that can expire.
  std::set<std::pair<Clock::time_point, LeaseId>> expiry_queue_ ABSL_GUARDED_BY(mu_);
  // Due checkpoints (time, id); stale entries are skipped when popped.
  std::set<std::pair<Clock::time_point, LeaseId>> checkpoint_queue_ ABSL_GUARDED_BY(mu_);
  bool primary_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t primary_epoch_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every promote/demote
  // Stopped: renewals waiting on an expired lease give up.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Revoker revoker_ ABSL_GUARDED_BY(mu_);
  Checkpointer checkpointer_ ABSL_GUARDED_BY(mu_);
  std::function<bool()> leader_check_ ABSL_GUARDED_BY(mu_);

  Worker loop_;  // start()'s thread: run_once() every kLoopInterval
};

}  // namespace etcd::lease
