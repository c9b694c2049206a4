// The KV service's front (etcd's v3 KV server side): validates each request
// (etcd's checks), checks the quota for writes, then proposes it through
// Raft or serves it as a read (after the linearizable barrier unless
// serializable). Reads check the caller's permissions here; writes carry the
// caller into the raft entry and are checked when applied (AuthApplier). gRPC adapts it today; the
// HTTP gateway will adapt the same front. Thread-safe: called from gRPC threads and the compactor.
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

  Result<etcdserverpb::RangeResponse> range(const Caller& who, const etcdserverpb::RangeRequest& r);
  Result<etcdserverpb::PutResponse> put(const Caller& who, const etcdserverpb::PutRequest& r);
  Result<etcdserverpb::DeleteRangeResponse> delete_range(const Caller& who,
                                                         const etcdserverpb::DeleteRangeRequest& r);
  Result<etcdserverpb::TxnResponse> txn(const Caller& who, const etcdserverpb::TxnRequest& r);
  // No permission needed (etcd); the caller still goes into the entry.
  Result<etcdserverpb::CompactionResponse> compact(const Caller& who,
                                                   const etcdserverpb::CompactionRequest& r);

 private:
  ServerCore& core_;
  KvApplier& kv_;
  backend::Backend& backend_;
};

}  // namespace etcd::server
