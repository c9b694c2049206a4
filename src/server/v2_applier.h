// Applies the v2 store requests etcd 3.4/3.5 members propose (raw, or in
// InternalRaftRequest.v2): what they mean for the membership is applied,
// the rest only records the entry's consistent index.
//
// - SYNC (the leader's v2 TTL sweep, every 500 ms): nothing to do.
// - PUT /0/members/<id>/attributes, a JSON value: the member's published
//   name and client URLs (as a ClusterMemberAttrSet).
// - PUT /0/version: the cluster version (as a ClusterVersionSet).
// - any other v2 request (the v2 API's keys): ignored, and said so; there
//   is no v2 store yet.
//
// Nothing here stops the member: a value etcd would panic on is logged as
// an error and skipped.
//
// Owner thread: the apply thread.
#pragma once

#include "base/log.h"
#include "etcdserverpb/etcdserver.pb.h"
#include "server/apply_result.h"
#include "server/membership_applier.h"
#include "storage/backend/backend.h"

namespace etcd::server {

class V2Applier {
 public:
  V2Applier(MembershipApplier& membership, backend::Backend& backend, log::Logger& logger)
      : membership_(membership), backend_(backend), logger_(logger) {}

  ApplyResult apply(const etcdserverpb::Request& r, backend::ConsistentIndex ci);

 private:
  ApplyResult put(const etcdserverpb::Request& r, backend::ConsistentIndex ci);
  // Records `ci` and says the request was not applied.
  ApplyResult ignore(const etcdserverpb::Request& r, backend::ConsistentIndex ci);

  MembershipApplier& membership_;
  backend::Backend& backend_;
  log::Logger& logger_;
};

}  // namespace etcd::server
