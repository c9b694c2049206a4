// The Cluster service's front: the member list (linearizable on request).
// Member add/remove/update/promote arrive here with the cluster issue.
// Thread-safe.
#pragma once

#include "server/server_core.h"

namespace etcd::server {

class ClusterFront {
 public:
  explicit ClusterFront(ServerCore& core) : core_(core) {}

  Result<etcdserverpb::MemberListResponse> member_list(const etcdserverpb::MemberListRequest& r);

 private:
  ServerCore& core_;
};

}  // namespace etcd::server
