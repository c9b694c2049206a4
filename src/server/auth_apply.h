// Applies the Auth service's entries (InternalRaftRequest fields
// 1000-1204) to the auth store, inside the backend batch that records the
// entry's consistent index, with etcd's admin rule (authApplierV3): while
// auth is enabled, every auth management request needs a root user in the
// entry's header; UserGet is also allowed for oneself and RoleGet for a
// role one has.
//
// Owner thread: the apply thread (StoreApplier calls it).
#pragma once

#include "auth/auth_store.h"
#include "base/log.h"
#include "server/apply_result.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class AuthRequestApplier {
 public:
  AuthRequestApplier(auth::AuthStore& store, backend::Backend& backend, log::Logger& logger)
      : store_(store), backend_(backend), logger_(logger) {}

  // Whether `req` is one of the Auth service's requests.
  static bool handles(const serverpb::InternalRaftRequest& req);
  ApplyResult apply(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci);

 private:
  ApplyResult apply_in_tx(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci,
                          backend::BatchTx& tx);

  auth::AuthStore& store_;
  backend::Backend& backend_;
  log::Logger& logger_;
};

}  // namespace etcd::server
