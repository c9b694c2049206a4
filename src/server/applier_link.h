// One link of the applier chain (applier.h): it refuses, marks or
// forwards a committed request. Owner thread: the apply thread.
#pragma once

#include "server/apply_result.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class Applier {
 public:
  virtual ~Applier() = default;
  virtual ApplyResult apply(const serverpb::InternalRaftRequest& req,
                            backend::ConsistentIndex ci) = 0;
};

// Records `ci` alone (a request refused before it reached a store).
void record_consistent_index(backend::Backend& b, backend::ConsistentIndex ci);

}  // namespace etcd::server
