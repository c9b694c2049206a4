// The applier chain's auth link (etcd's authApplierV3): every write is
// checked when it is applied, against the auth store as it is at that raft
// index, with the user and auth revision its proposer wrote in the entry's
// header. A permission granted or revoked between propose and apply is
// honoured, and every member decides the same way. A refused request
// records its consistent index and answers with the store's error
// (permission denied, user name is empty, revision of auth store is old).
//
// Owner thread: the apply thread.
#pragma once

#include "server/applier_link.h"
#include "server/auth_checks.h"

namespace etcd::server {

class AuthApplier final : public Applier {
 public:
  AuthApplier(Applier& next, const AuthChecks& checks, backend::Backend& backend)
      : next_(next), checks_(checks), backend_(backend) {}
  ApplyResult apply(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci) override;

  // The check alone (unit tests and the chain).
  Status check(const serverpb::InternalRaftRequest& req) const;

 private:
  Applier& next_;
  const AuthChecks& checks_;
  backend::Backend& backend_;
};

}  // namespace etcd::server
