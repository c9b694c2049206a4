// Applies v2 store requests (etcd's applyV2Request): the v2 API's writes
// and quorum reads, the leader's SYNC (TTL expiry), and what etcd 3.4/3.5
// members propose as v2 PUTs: their published attributes
// (PUT /0/members/<id>/attributes, a JSON value) and the cluster version
// (PUT /0/version), which also change the membership.
//
//   POST    create an in-order key under the path
//   PUT     prevExist=true: update, or compare-and-swap with prevValue or
//           prevIndex; prevExist=false: create; else compare-and-swap
//           with prevValue or prevIndex; else set
//   DELETE  compare-and-delete with prevValue or prevIndex, else delete
//   QGET    get (a read through Raft)
//   SYNC    delete the keys expired at the request's time
//
// The v2 store is in memory, restored from the raft snapshot at start and
// brought up to date by replaying the log after it, so a request is
// applied to the store even when the backend has its entry already
// (`already`); only the backend's consistent index is then left alone.
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
#include "v2store/store.h"

namespace etcd::server {

class V2Applier {
 public:
  V2Applier(MembershipApplier& membership, backend::Backend& backend, v2store::Store& store,
            log::Logger& logger)
      : membership_(membership), backend_(backend), store_(store), logger_(logger) {}

  ApplyResult apply(const etcdserverpb::Request& r, backend::ConsistentIndex ci, bool already);

 private:
  ApplyResult put(const etcdserverpb::Request& r, backend::ConsistentIndex ci, bool already);
  ApplyResult store_put(const etcdserverpb::Request& r);

  MembershipApplier& membership_;
  backend::Backend& backend_;
  v2store::Store& store_;
  log::Logger& logger_;
};

}  // namespace etcd::server
