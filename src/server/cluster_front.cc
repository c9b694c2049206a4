#include "server/cluster_front.h"

namespace etcd::server {

Result<etcdserverpb::MemberListResponse> ClusterFront::member_list(
    const etcdserverpb::MemberListRequest& r) {
  if (r.linearizable()) RETURN_IF_ERROR(core_.linearizable_read_barrier());
  etcdserverpb::MemberListResponse resp;
  core_.fill_cluster_header(resp.mutable_header());
  for (const Member& m : core_.membership.members()) {
    auto* pm = resp.add_members();
    pm->set_id(m.id.value());
    pm->set_name(m.name);
    for (const auto& u : m.peer_urls) pm->add_peerurls(u);
    for (const auto& u : m.client_urls) pm->add_clienturls(u);
    pm->set_islearner(m.is_learner);
  }
  return resp;
}

}  // namespace etcd::server
