// The KV service's front (etcd's v3 KV server side): validates each request
// (etcd's checks), checks the quota for writes, then proposes it through
// Raft or serves it as a read (after the linearizable barrier unless
// serializable). gRPC adapts it today; the HTTP gateway will adapt the same
// front. Thread-safe: called from gRPC threads and the compactor.
#pragma once

#include "server/kv_apply.h"
#include "server/kv_validation.h"
#include "server/server_core.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class KvFront {
 public:
  KvFront(ServerCore& core, KvApplier& kv, backend::Backend& backend)
      : core_(core), kv_(kv), backend_(backend) {}

  Result<etcdserverpb::RangeResponse> range(const etcdserverpb::RangeRequest& r);
  Result<etcdserverpb::PutResponse> put(const etcdserverpb::PutRequest& r);
  Result<etcdserverpb::DeleteRangeResponse> delete_range(const etcdserverpb::DeleteRangeRequest& r);
  Result<etcdserverpb::TxnResponse> txn(const etcdserverpb::TxnRequest& r);
  Result<etcdserverpb::CompactionResponse> compact(const etcdserverpb::CompactionRequest& r);

 private:
  ServerCore& core_;
  KvApplier& kv_;
  backend::Backend& backend_;
};

}  // namespace etcd::server
