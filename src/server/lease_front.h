// The Lease service's front (etcd's v3_server.go lease half). Grant and
// revoke go through Raft (grant picks an id when r.id is 0); renew and
// time-to-live are served by the leader's lessor without Raft, once the
// apply thread caught up with the commit index. It also revokes the
// expired leases the lessor reports, and proposes its checkpoints.
// Thread-safe: gRPC threads and the lessor's loop thread call it.
#pragma once

#include <functional>
#include <vector>

#include "lease/lessor.h"
#include "server/server_core.h"

namespace etcd::server {

class LeaseFront {
 public:
  LeaseFront(ServerCore& core, lease::Lessor& lessor) : core_(core), lessor_(lessor) {}

  // No permission needed (etcd).
  Result<etcdserverpb::LeaseGrantResponse> grant(const Caller& who,
                                                 etcdserverpb::LeaseGrantRequest r);
  // Checked when applied: root, or write on every attached key.
  Result<etcdserverpb::LeaseRevokeResponse> revoke(const Caller& who,
                                                   const etcdserverpb::LeaseRevokeRequest& r);
  // The renewed TTL.
  Result<int64_t> renew(LeaseId id);
  // lease_not_found for an unknown lease (the gRPC layer answers TTL -1).
  // With keys and auth enabled, the caller needs read on every attached key
  // (etcd 3.5), and the answer is refused if the auth store changed meanwhile.
  Result<etcdserverpb::LeaseTimeToLiveResponse> time_to_live(
      const Caller& who, const etcdserverpb::LeaseTimeToLiveRequest& r);
  Result<etcdserverpb::LeaseLeasesResponse> leases();

  // The lessor's revoker (its loop thread): LeaseRevoke through Raft, as
  // root when auth is enabled (etcd's WithRoot).
  void revoke_expired(const std::vector<LeaseId>& ids);
  // The lessor's checkpointer: LeaseCheckpoint through Raft.
  void checkpoint(const std::vector<lease::Checkpoint>& cps);

  void fill_header(etcdserverpb::ResponseHeader* h) const { core_.fill_header(h, 0); }

  // A follower forwards renewals and TTL queries to the leader's lessor
  // (etcd's /leases and /leases/internal on the peer port).
  using RenewForwarder = std::function<Result<int64_t>(MemberId leader, LeaseId id)>;
  using TtlForwarder = std::function<Result<etcdserverpb::LeaseTimeToLiveResponse>(
      MemberId leader, const etcdserverpb::LeaseTimeToLiveRequest&)>;
  void set_forwarders(RenewForwarder renew, TtlForwarder ttl) {
    forward_renew_ = std::move(renew);
    forward_ttl_ = std::move(ttl);
  }

 private:
  Result<etcdserverpb::LeaseTimeToLiveResponse> lookup_time_to_live(
      const etcdserverpb::LeaseTimeToLiveRequest& r);

  ServerCore& core_;
  lease::Lessor& lessor_;
  RenewForwarder forward_renew_;
  TtlForwarder forward_ttl_;
};

}  // namespace etcd::server
