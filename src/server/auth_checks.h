// etcd's RBAC checks of one request against the auth store (etcd's
// authApplierV3 and checkTxnAuth, with etcd 3.6's recursion into nested
// txns and lease checks inside txns, which 3.5 misses). Shared by the
// fronts, which check reads before serving them, and the AuthApplier,
// which checks writes when they are applied, so every member decides
// alike with the auth store of that raft index.
//
// Each returns OK, or the store's error: user_empty, auth_old_revision,
// permission_denied (etcd's strings and codes, src/auth/errors.h). Thread:
// any (the store's and the lessor's reads are thread-safe).
#pragma once

#include <string_view>

#include "auth/auth_store.h"
#include "base/ids.h"
#include "etcdserverpb/rpc.pb.h"
#include "lease/lessor.h"

namespace etcd::server {

// etcd's Maintenance service returns the auth store's errors unconverted
// for Defragment, Hash, HashKV and Snapshot, so clients see gRPC Unknown
// with the store's own text ("auth: permission denied", "auth: user name is
// empty", "auth: invalid auth token", ...). This maps an auth error to that
// form; other errors pass unchanged.
Status unconverted_auth_error(const Status& st);

class AuthChecks {
 public:
  AuthChecks(const auth::AuthStore& store, const lease::Lessor& lessor)
      : store_(store), lessor_(lessor) {}

  const auth::AuthStore& store() const { return store_; }

  Status range(const auth::AuthInfo& who, const etcdserverpb::RangeRequest& r) const;
  // Write on the key; with prev_kv, read on it too; with a lease, write on
  // every key already attached to it (etcd: whoever cannot revoke the lease
  // must not attach keys to it).
  Status put(const auth::AuthInfo& who, const etcdserverpb::PutRequest& r) const;
  // Write on the range; with prev_kv, read on it too.
  Status delete_range(const auth::AuthInfo& who, const etcdserverpb::DeleteRangeRequest& r) const;
  // Read on every compared key or range; every op as above, nested txns
  // included.
  Status txn(const auth::AuthInfo& who, const etcdserverpb::TxnRequest& r) const;
  // LeaseRevoke, and a put naming a lease: root, or write on every key
  // attached to the lease.
  Status lease_keys_writable(const auth::AuthInfo& who, LeaseId id) const;
  // LeaseTimeToLive with keys (etcd 3.5): read on every attached key.
  Status lease_keys_readable(const auth::AuthInfo& who, LeaseId id) const;
  // A watch on [key, end): read on the range. An end of "\0" (every key >=
  // key) is checked as that open range; etcd 3.5 checks only `key` then.
  Status watch(const auth::AuthInfo& who, std::string_view key, std::string_view end) const;
  Status admin(const auth::AuthInfo& who) const { return store_.is_admin_permitted(who); }
  // Compaction: any authenticated user (user_empty without credentials
  // while auth is on). Stricter than etcd, which lets an anonymous client
  // compact; not root-only, so Kubernetes' API server, which compacts as an
  // ordinary user, keeps working.
  Status authenticated(const auth::AuthInfo& who) const;

 private:
  // The ops of one branch; nested txns recurse (their depth is bounded by
  // protobuf's parse recursion limit).
  Status txn_ops(const auth::AuthInfo& who,
                 const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) const;

  const auth::AuthStore& store_;
  const lease::Lessor& lessor_;
};

}  // namespace etcd::server
