// What every service front shares: proposing a request through Raft and
// waiting for its result, the linearizable read barrier, the quota check
// that raises NOSPACE, and the response headers. It owns no thread; its
// methods are called from gRPC threads and the server's workers and are
// thread-safe (they only call thread-safe parts).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "base/log.h"
#include "env/clock.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/kvstore.h"
#include "server/apply_loop.h"
#include "server/apply_result.h"
#include "server/auth_checks.h"
#include "server/caller.h"
#include "server/config/config.h"
#include "server/membership.h"
#include "server/proposer.h"
#include "server/quota.h"
#include "server/raft_node.h"

namespace etcd::server {

// etcd's ReqTimeout: 5 s plus two election timeouts. The one place it is
// written: proposals, reads, publishing and leader transfer all wait this.
inline std::chrono::milliseconds request_timeout(const config::ServerConfig& cfg) {
  return std::chrono::milliseconds(5000 + 2 * cfg.election_timeout_ms);
}

class ServerCore {
 public:
  ServerCore(const config::ServerConfig& cfg, log::Logger& logger, env::Clock& clock,
             mvcc::KVStore& kv, Membership& membership, RaftNode& raft, Proposer& proposer,
             ApplyLoop& apply, const Quota& quota, const AuthChecks& auth)
      : cfg(cfg),
        logger(logger),
        clock(clock),
        kv(kv),
        membership(membership),
        raft(raft),
        proposer(proposer),
        apply(apply),
        quota(quota),
        auth(auth) {}

  std::chrono::milliseconds request_timeout() const { return server::request_timeout(cfg); }
  MemberId id() const { return membership.local_id(); }
  uint64_t cluster_id() const { return membership.cluster_id(); }
  bool started() const { return started_.load(std::memory_order_acquire); }
  // Sets the flag; returns its previous value.
  bool set_started(bool s) { return started_.exchange(s, std::memory_order_acq_rel); }

  // Proposes a request and waits (once) for its application.
  Result<ApplyResult> process(serverpb::InternalRaftRequest req);
  // The same for a raw v2 Request (etcd 3.4's publish and cluster version).
  Result<ApplyResult> process_v2(etcdserverpb::Request req);
  // The same, answering with the typed response of its kind.
  template <typename Resp>
  Result<Resp> propose(serverpb::InternalRaftRequest req) {
    return response_of<Resp>(process(std::move(req)));
  }
  // A caller's request: its user and auth revision go into the entry's
  // header (etcd's raftRequest), where the AuthApplier checks them when the
  // entry is applied. The member's own requests go as root at the current
  // auth revision (etcd's AuthStore.WithRoot, for the lessor's revokes).
  Result<ApplyResult> process(const Caller& who, serverpb::InternalRaftRequest req);
  template <typename Resp>
  Result<Resp> propose(const Caller& who, serverpb::InternalRaftRequest req) {
    return response_of<Resp>(process(who, std::move(req)));
  }
  // A read served locally (etcd's doSerialize): `check` the caller's
  // permission, `read`, then refuse the answer with auth_old_revision if
  // the auth store changed since the caller's token was issued.
  template <typename Resp>
  Result<Resp> serve_read(const Caller& who,
                          const std::function<Status(const auth::AuthInfo&)>& check,
                          const std::function<Result<Resp>()>& read) {
    if (!who.member) RETURN_IF_ERROR(check(who.info));
    auto resp = read();
    if (!who.member) RETURN_IF_ERROR(check_revision_unchanged(who));
    return resp;
  }
  // Root only (Defragment, Hash, HashKV, Snapshot, member changes).
  Status check_admin(const Caller& who) const {
    return who.member ? Status::ok() : auth.admin(who.info);
  }
  // Returns once every write acknowledged before the call is visible to
  // local reads (ReadIndex, then applied >= read index).
  Status linearizable_read_barrier();
  // Waits until the apply thread reached the commit index (etcd's
  // waitAppliedIndex), for reads served by the leader's lessor.
  Status wait_applied_index();
  // etcd's quotaKVServer: fails a write whose cost does not fit the quota
  // with no_space, after raising the NOSPACE alarm through Raft.
  Status check_quota(int64_t cost);
  // Proposes an AlarmRequest (every action goes through Raft, as etcd's).
  Result<etcdserverpb::AlarmResponse> alarm(const etcdserverpb::AlarmRequest& r);

  // Fills cluster_id, member_id, raft_term and the revision (the store's
  // current one when `revision` is 0).
  void fill_header(etcdserverpb::ResponseHeader* h, int64_t revision) const;
  // The Cluster service's header: no revision, as etcd's.
  void fill_cluster_header(etcdserverpb::ResponseHeader* h) const;

  const config::ServerConfig& cfg;
  log::Logger& logger;
  env::Clock& clock;
  mvcc::KVStore& kv;
  Membership& membership;
  RaftNode& raft;
  Proposer& proposer;
  ApplyLoop& apply;
  const Quota& quota;
  const AuthChecks& auth;

 private:
  Status check_revision_unchanged(const Caller& who) const;

  std::atomic<bool> started_{false};
};

}  // namespace etcd::server
