// The KV half of etcd's applier: Range, Put, DeleteRange, Txn and
// Compaction on the MVCC store, with etcd's semantics (filters, sorting,
// limits and `more`, prev_kv, ignore_value/ignore_lease, txn compares
// evaluated up front on the state before the txn, one revision per txn).
// The request checks done before proposing are in kv_validation.h.
#pragma once

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/kvstore.h"

namespace etcd::server {

// Whether a lease id exists (the lessor answers; until leases exist only
// lease 0, "no lease", does).
using LeaseExists = std::function<bool(int64_t)>;

class KvApplier {
 public:
  KvApplier(mvcc::KVStore& store, LeaseExists lease_exists)
      : store_(store), lease_exists_(std::move(lease_exists)) {}

  // A read outside Raft (serializable, or linearizable after ReadIndex).
  Result<etcdserverpb::RangeResponse> range(const etcdserverpb::RangeRequest& r) const;

  // A transaction without puts or deletes, served like a read: compares and
  // ranges all see the store at one revision.
  Result<etcdserverpb::TxnResponse> txn_read_only(const etcdserverpb::TxnRequest& r) const;

  // Writes, on the apply thread. Each runs in its own write transaction
  // (one revision) and records `ci` in the same backend batch. The response
  // header carries the revision only; the caller fills in the rest.
  Result<etcdserverpb::PutResponse> put(const etcdserverpb::PutRequest& r,
                                        backend::ConsistentIndex ci);
  Result<etcdserverpb::DeleteRangeResponse> delete_range(const etcdserverpb::DeleteRangeRequest& r,
                                                         backend::ConsistentIndex ci);
  Result<etcdserverpb::TxnResponse> txn(const etcdserverpb::TxnRequest& r,
                                        backend::ConsistentIndex ci);
  Result<etcdserverpb::CompactionResponse> compact(const etcdserverpb::CompactionRequest& r,
                                                   backend::ConsistentIndex ci);

 private:
  mvcc::KVStore& store_;
  LeaseExists lease_exists_;
};

}  // namespace etcd::server
