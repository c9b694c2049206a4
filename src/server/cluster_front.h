// The Cluster service's front: the member list (linearizable on request)
// and the membership changes (add, add as learner, remove, update peer
// URLs, promote). A change is checked as etcd checks it with
// --strict-reconfig-check (the started members keep a quorum, this member
// has been connected to the others), then proposed as a Raft conf change;
// the answer comes once it is applied, with the membership as it is then.
// Thread-safe (gRPC threads, the peer port's promote endpoint).
#pragma once

#include "server/peer_network.h"
#include "server/server_core.h"

namespace etcd::server {

class ClusterFront {
 public:
  explicit ClusterFront(ServerCore& core) : core_(core) {}
  // Set once before serving: whom this member is connected to.
  void set_peers(PeerNetwork* peers) { peers_ = peers; }

  Result<etcdserverpb::MemberListResponse> member_list(const etcdserverpb::MemberListRequest& r);
  // The changes are root only (etcd's checkMembershipOperationPermission,
  // checked here, before proposing).
  Result<etcdserverpb::MemberAddResponse> member_add(const Caller& who,
                                                     const etcdserverpb::MemberAddRequest& r);
  Result<etcdserverpb::MemberRemoveResponse> member_remove(
      const Caller& who, const etcdserverpb::MemberRemoveRequest& r);
  Result<etcdserverpb::MemberUpdateResponse> member_update(
      const Caller& who, const etcdserverpb::MemberUpdateRequest& r);
  // On the leader; a follower's promotion is forwarded to it (`forward`,
  // set by the server: the peer port's /members/promote/<id>).
  Result<etcdserverpb::MemberPromoteResponse> member_promote(
      const Caller& who, const etcdserverpb::MemberPromoteRequest& r);
  using PromoteForwarder = std::function<Status(MemberId leader, MemberId learner)>;
  void set_promote_forwarder(PromoteForwarder f) { forward_promote_ = std::move(f); }
  // The leader's own checks and the conf change (the peer endpoint calls it).
  Status promote_on_leader(MemberId id);

 private:
  Status may_add(bool learner);
  Status may_remove(MemberId id);
  Status learner_ready(MemberId id);
  // Connected to every other voting member for at least 5 s (etcd's
  // HealthInterval).
  size_t connected_voters(bool* all);
  Status change(raftpb::ConfChange cc);
  template <typename Resp>
  void fill_members(Resp* resp);

  ServerCore& core_;
  PeerNetwork* peers_ = nullptr;
  PromoteForwarder forward_promote_;
};

}  // namespace etcd::server
