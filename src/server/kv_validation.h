// etcd's checks of a KV request before it is proposed or served (its
// v3rpc check*Request): the KV front runs them first. Pure functions, any
// thread.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "etcdserverpb/rpc.pb.h"

namespace etcd::server {

Status check_range_request(const etcdserverpb::RangeRequest& r);
Status check_put_request(const etcdserverpb::PutRequest& r);
Status check_delete_request(const etcdserverpb::DeleteRangeRequest& r);
// Includes the duplicate-key check over puts and deletes of each branch
// (etcd's checkIntervals) and the --max-txn-ops limit.
Status check_txn_request(const etcdserverpb::TxnRequest& r, int64_t max_txn_ops);
// No put or delete anywhere in it (nested txns included): served as a read.
bool is_txn_read_only(const etcdserverpb::TxnRequest& r);

}  // namespace etcd::server
