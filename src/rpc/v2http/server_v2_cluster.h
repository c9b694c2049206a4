// V2Cluster over the EtcdServer: the member list, the leader and the
// membership changes through its ClusterFront (as an unauthenticated
// client, as etcd's v2 API calls them: refused when v3 auth is on), the
// statistics from its V2Stats.
//
// Thread-safe: the server's fronts are.
#pragma once

#include "rpc/v2http/members.h"
#include "server/etcd_server.h"

namespace etcd::rpc::v2http {

class ServerV2Cluster final : public V2Cluster {
 public:
  explicit ServerV2Cluster(server::EtcdServer& server) : server_(server) {}

  uint64_t cluster_id() override { return server_.cluster_id(); }
  std::vector<V2Member> members() override;
  uint64_t leader() override { return server_.leader().value(); }
  ChangeResult add_member(const std::vector<std::string>& peer_urls) override;
  ChangeResult remove_member(uint64_t id) override;
  ChangeResult update_member(uint64_t id, const std::vector<std::string>& peer_urls) override;
  std::string self_stats() override { return server_.v2_stats().self_json(); }
  std::optional<std::string> leader_stats() override;

 private:
  server::EtcdServer& server_;
};

// How the v2 API tells a ClusterFront failure apart.
ChangeOutcome change_outcome(const Status& s);

}  // namespace etcd::rpc::v2http
