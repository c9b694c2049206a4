// The member as its peers see it (PeerHost): Raft messages in, reports on
// unreachable peers and snapshots, the backend image to send with a
// snapshot, and the member's other endpoints on the peer port, as etcd
// serves them there:
//   GET  /members              the member list (JSON, etcd's Member form)
//   GET  /version              {"etcdserver":..., "etcdcluster":...}
//   POST /leases               a follower's LeaseKeepAlive, for the leader
//   POST /leases/internal      a follower's LeaseTimeToLive, for the leader
//   POST /members/promote/<id> a follower's MemberPromote, for the leader
//   GET  /members/hashkv       this member's HashKV at a revision (JSON)
// It also sends those requests: lease renewals and TTL queries from this
// member when it follows, and promotions (LeaderForwarding below).
//
// Threads: the peer transport's I/O thread (process, reports) and its
// HTTP pool (http()); gRPC threads (forwarding). Holds no state of its own
// beyond the removal flag.
#pragma once

#include <atomic>
#include <functional>

#include "lease/lessor.h"
#include "server/cluster_front.h"
#include "server/corruption.h"
#include "server/peer_network.h"
#include "server/raft_node.h"
#include "server/server_core.h"
#include "server/v2_stats.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class PeerService final : public PeerHost {
 public:
  PeerService(ServerCore& core, RaftNode& raft, lease::Lessor& lessor, backend::Backend& backend,
              ClusterFront& cluster, std::string snap_dir, PeerHttpCall http_call)
      : core_(core),
        raft_(raft),
        lessor_(lessor),
        backend_(backend),
        cluster_(cluster),
        snap_dir_(std::move(snap_dir)),
        http_call_(std::move(http_call)) {}

  // GET /members/hashkv answers with it (the corruption check's peers).
  void set_hash_kv(std::function<Result<etcdserverpb::HashKVResponse>(int64_t revision)> f) {
    hash_kv_ = std::move(f);
  }
  // Every other member's HashKV at `revision` over its peer URLs (etcd's
  // getPeerHashKVs), for the corruption checker.
  std::vector<PeerHashKV> peer_hashes(MainRev revision);

  // Where the Raft traffic is counted for /v2/stats (set once, before the
  // network starts).
  void set_stats(V2Stats* stats) { stats_ = stats; }

  // Called once when a peer says this member was removed.
  void set_on_removed(std::function<void()> f) { on_removed_ = std::move(f); }

  // PeerHost.
  void process(raftpb::Message m) override;
  bool is_removed(MemberId id) override { return core_.membership.is_removed(id); }
  void report_unreachable(MemberId id) override {
    if (stats_ != nullptr) stats_->unreachable(id);
    raft_.report_unreachable(id);
  }
  void report_snapshot(MemberId id, bool failed) override { raft_.report_snapshot(id, failed); }
  void removed_from_cluster() override;
  Result<std::unique_ptr<SnapshotSource>> open_snapshot() override;
  std::string snapshot_db_path(uint64_t index) override;
  PeerHttpReply http(const std::string& method, const std::string& target,
                     const std::string& body) override;

  // Forwarding to the leader over its peer URLs (a follower's requests).
  Result<int64_t> forward_renew(MemberId leader, LeaseId id);
  Result<etcdserverpb::LeaseTimeToLiveResponse> forward_time_to_live(
      MemberId leader, const etcdserverpb::LeaseTimeToLiveRequest& r);
  Status forward_promote(MemberId leader, MemberId learner);
  // GET /version of every peer: the lowest server version ("" when one did
  // not answer), for the cluster version the leader decides.
  std::string lowest_peer_version();

  // The JSON etcd's peer /members answers.
  static std::string members_json(const std::vector<Member>& members);

 private:
  Result<PeerHttpReply> post_to(MemberId leader, const std::string& target,
                                const std::string& body);

  ServerCore& core_;
  RaftNode& raft_;
  lease::Lessor& lessor_;
  backend::Backend& backend_;
  ClusterFront& cluster_;
  const std::string snap_dir_;
  const PeerHttpCall http_call_;
  std::function<void()> on_removed_;
  V2Stats* stats_ = nullptr;
  std::function<Result<etcdserverpb::HashKVResponse>(int64_t)> hash_kv_;
  std::atomic<bool> removed_{false};
};

}  // namespace etcd::server
