// One etcd member: bootstraps or restarts from the data dir, runs the raft
// thread (RaftNode) and the apply thread, and serves the client API's
// requests: writes are proposed through Raft and answered once applied;
// linearizable reads wait for a ReadIndex round and for the apply thread to
// reach it; serializable reads go straight to the MVCC store.
#pragma once

#include <absl/base/thread_annotations.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/mutex.h"
#include "base/worker.h"
#include "env/clock.h"
#include "env/posix_file_system.h"
#include "etcdserverpb/rpc.pb.h"
#include "lease/lessor.h"
#include "mvcc/kvstore.h"
#include "mvcc/watchable_store.h"
#include "server/alarm_store.h"
#include "server/compactor.h"
#include "server/config/config.h"
#include "server/corruption.h"
#include "server/kv_apply.h"
#include "server/membership.h"
#include "server/proposer.h"
#include "server/raft_node.h"
#include "server/unreachable_transport.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"

namespace etcd::server {

// Entries the raft log keeps behind a snapshot so slow followers can catch
// up without one (etcd's snapshotCatchUpEntries).
inline constexpr uint64_t kSnapshotCatchUpEntries = 5000;

class EtcdServer {
 public:
  // Opens or creates the data dir and everything in it; does not start.
  static Result<std::unique_ptr<EtcdServer>> create(const config::ServerConfig& cfg,
                                                    log::Logger& logger, env::Clock& clock);
  ~EtcdServer();

  void start();
  void stop();

  // Client API. Requests are validated here (etcd's checks), then served.
  Result<etcdserverpb::RangeResponse> range(const etcdserverpb::RangeRequest& r);
  Result<etcdserverpb::PutResponse> put(const etcdserverpb::PutRequest& r);
  Result<etcdserverpb::DeleteRangeResponse> delete_range(const etcdserverpb::DeleteRangeRequest& r);
  Result<etcdserverpb::TxnResponse> txn(const etcdserverpb::TxnRequest& r);
  Result<etcdserverpb::CompactionResponse> compact(const etcdserverpb::CompactionRequest& r);
  Result<etcdserverpb::MemberListResponse> member_list(const etcdserverpb::MemberListRequest& r);
  Result<etcdserverpb::StatusResponse> status();
  Result<etcdserverpb::AlarmResponse> alarm(const etcdserverpb::AlarmRequest& r);
  Result<etcdserverpb::DefragmentResponse> defragment();
  Result<etcdserverpb::HashResponse> hash();
  Result<etcdserverpb::HashKVResponse> hash_kv(const etcdserverpb::HashKVRequest& r);
  // Streams the backend snapshot: chunks of the db image with
  // remaining_bytes (the header in the first only), then the image's
  // SHA-256 as the last message, as etcd's Maintenance.Snapshot.
  Status snapshot(const std::function<Status(const etcdserverpb::SnapshotResponse&)>& send);
  Result<etcdserverpb::MoveLeaderResponse> move_leader(const etcdserverpb::MoveLeaderRequest& r);
  // Lease service (etcd's v3_server.go). Grant picks an id when r.id is 0;
  // renew and time-to-live are served by the leader without Raft, once the
  // apply thread caught up with the commit index. lease_time_to_live fails
  // with lease_not_found for an unknown lease (the gRPC layer answers TTL -1).
  Result<etcdserverpb::LeaseGrantResponse> lease_grant(etcdserverpb::LeaseGrantRequest r);
  Result<etcdserverpb::LeaseRevokeResponse> lease_revoke(const etcdserverpb::LeaseRevokeRequest& r);
  // The renewed TTL.
  Result<int64_t> lease_renew(LeaseId id);
  Result<etcdserverpb::LeaseTimeToLiveResponse> lease_time_to_live(
      const etcdserverpb::LeaseTimeToLiveRequest& r);
  Result<etcdserverpb::LeaseLeasesResponse> lease_leases();

  // Fills cluster_id, member_id, raft_term and the revision (the store's
  // current one when `revision` is 0).
  void fill_header(etcdserverpb::ResponseHeader* h, int64_t revision) const;
  // The Cluster service's header: no revision, as etcd's.
  void fill_cluster_header(etcdserverpb::ResponseHeader* h) const;
  // Blocks until this member has published itself through Raft (etcd serves
  // clients only then); false on timeout.
  bool wait_ready(std::chrono::milliseconds timeout);
  // The watchers of the KV store (the Watch service's streams).
  mvcc::WatchableStore& watchable_store() { return *watchable_; }
  // --experimental-initial-corrupt-check on a restarted member (etcd checks
  // before serving; a new member is not checked). Call before start().
  Status initial_corruption_check();

  MemberId id() const { return membership_->local_id(); }
  uint64_t cluster_id() const { return membership_->cluster_id(); }
  uint64_t applied_index() const { return applied_.load(std::memory_order_acquire); }
  bool has_leader() const { return raft_node_->lead() != 0; }

 private:
  EtcdServer(const config::ServerConfig& cfg, log::Logger& logger, env::Clock& clock);
  Status open();
  Status bootstrap_new(std::unique_ptr<raft::RawNode>* node);
  Status restart(std::unique_ptr<raft::RawNode>* node);
  raft::Config raft_config(raft::NodeId id) const;
  // etcd's ReqTimeout: 5 s plus two election timeouts.
  std::chrono::milliseconds request_timeout() const {
    return std::chrono::milliseconds(5000 + 2 * cfg_.election_timeout_ms);
  }

  // etcd's quotaKVServer: fails a write whose cost does not fit the quota
  // with no_space, after raising the NOSPACE alarm through Raft.
  Status check_quota(int64_t cost);
  bool quota_available(int64_t cost) const;
  ApplyResult apply_alarm(const etcdserverpb::AlarmRequest& r, backend::ConsistentIndex ci);

  // Proposes a request and waits for its application (Proposer).
  Result<ApplyResult> process(serverpb::InternalRaftRequest req);
  // Waits until the apply thread reached the commit index (etcd's
  // waitAppliedIndex), for reads served by the leader's lessor.
  Status wait_applied_index();
  // The lessor's revoker (its loop thread): LeaseRevoke through Raft.
  void revoke_expired_leases(const std::vector<LeaseId>& ids);
  ApplyResult apply_lease(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci);
  // Returns once every write acknowledged before the call is visible to
  // local reads (ReadIndex, then applied >= read index).
  Status linearizable_read_barrier();

  // Apply thread.
  void apply_loop();
  void apply_batch(const ApplyBatch& batch);
  void apply_entry(const raftpb::Entry& e);
  ApplyResult apply_request(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci);
  void apply_conf_change(const raftpb::Entry& e);
  void record_consistent_index(backend::ConsistentIndex ci);
  void maybe_trigger_snapshot();

  const config::ServerConfig cfg_;
  log::Logger& logger_;
  env::Clock& clock_;
  env::PosixFileSystem fs_;
  std::string member_dir_, wal_dir_, snap_dir_;

  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<mvcc::KVStore> kv_;
  std::unique_ptr<KvApplier> kv_applier_;
  // After kv_ (it observes the store's writes); grants, revokes and
  // checkpoints on the apply thread, renewals and reads on gRPC threads,
  // expiry on its own loop thread.
  std::unique_ptr<lease::Lessor> lessor_;
  // After kv_ (it observes the store's writes): watchers, fed by the apply
  // thread, caught up by its own sync thread (started with the server).
  std::unique_ptr<mvcc::WatchableStore> watchable_;
  std::unique_ptr<Membership> membership_;
  AlarmStore alarms_;
  // NOSPACE is active: the apply thread refuses puts and txns with puts
  // (etcd's applierV3Capped).
  std::atomic<bool> capped_{false};
  // CORRUPT is active: the apply thread fails puts, deletes, txns and
  // compactions with "etcdserver: corrupt cluster" (etcd's applierV3Corrupt).
  std::atomic<bool> corrupt_{false};
  // Auto-compaction and corruption checks, each on its own thread; they
  // reach the server through ops_host_ (compactor.h, corruption.h).
  class OpsHost;
  std::unique_ptr<OpsHost> ops_host_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<CorruptionChecker> corruption_;
  bool restarted_ = false;      // the WAL existed at open()
  size_t voters_at_start_ = 0;  // the voting members known at open()
  int64_t quota_bytes_ = 0;     // < 0: no quota
  std::unique_ptr<raft::MemoryStorage> raft_storage_;
  std::unique_ptr<wal::Wal> wal_;
  std::unique_ptr<snap::Snapshotter> snapshotter_;
  std::unique_ptr<UnreachableTransport> transport_;
  std::unique_ptr<RaftNode> raft_node_;
  raftpb::ConfState conf_state_;  // apply thread

  // Request ids, proposals and their waits, ReadIndex rounds (after
  // raft_node_, which it proposes to).
  std::unique_ptr<Proposer> proposer_;

  // Apply queue (bounded: the raft thread waits when the apply thread lags).
  static constexpr size_t kMaxApplyBatches = 64;
  Mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<ApplyBatch> apply_queue_ ABSL_GUARDED_BY(apply_mu_);
  bool apply_stopping_ ABSL_GUARDED_BY(apply_mu_) = false;
  std::thread apply_thread_;
  std::atomic<uint64_t> applied_{0};
  uint64_t snapshot_index_ = 0;  // apply thread
  Mutex applied_mu_;
  std::condition_variable applied_cv_;

  std::atomic<bool> started_{false};
  // Publishes this member's attributes through Raft, retrying until it
  // succeeds (start() to stop()).
  Worker publisher_;
  Mutex ready_mu_;
  std::condition_variable ready_cv_;
  bool ready_ ABSL_GUARDED_BY(ready_mu_) = false;
};

}  // namespace etcd::server
