// etcd's backend quota (etcdserver/quota.go): whether a write's cost still
// fits --quota-backend-bytes. The fronts check it before proposing (and
// raise NOSPACE when it does not fit); the QuotaApplier checks it again
// when the write is applied. Immutable after construction; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "base/log.h"
#include "etcdserverpb/rpc.pb.h"
#include "storage/backend/backend.h"

namespace etcd::server {

// etcd's kvOverhead: the cost of a put beyond its key and value.
inline constexpr int64_t kKvOverhead = 256;
// etcd's leaseOverhead: the quota cost of a lease grant.
inline constexpr int64_t kLeaseOverhead = 64;

int64_t put_cost(const etcdserverpb::PutRequest& r);
// etcd's costTxn: the larger branch's puts (top level only, as etcd).
int64_t txn_cost(const etcdserverpb::TxnRequest& r);

// go-humanize's Bytes (SI units), which etcd logs sizes with: "2.1 GB".
std::string human_bytes(int64_t n);

class Quota {
 public:
  // `configured` is --quota-backend-bytes: < 0 disables the quota, 0 means
  // etcd's default (2 GiB). Logs the choice as etcd does.
  Quota(int64_t configured, const backend::Backend& backend, log::Logger& logger);

  // Whether a write costing `cost` bytes still fits.
  bool available(int64_t cost) const;
  int64_t bytes() const { return bytes_; }  // < 0: no quota

 private:
  const backend::Backend& backend_;
  int64_t bytes_ = 0;
};

}  // namespace etcd::server
