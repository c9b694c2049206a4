// The applier chain, as etcd's (etcdserver/apply.go): each committed
// request passes corrupt -> capped -> quota -> auth -> the stores (the auth
// link is in auth_applier.h).
// Each link is a small class that refuses, marks or forwards the request,
// and every path records the entry's consistent index in the backend, so a
// refused request is not applied again after a restart.
//
// Owner thread: the apply thread (ApplyLoop) calls apply(); nothing else.
#pragma once

#include "base/log.h"
#include "lease/lessor.h"
#include "server/alarm_store.h"
#include "server/applier_link.h"
#include "server/apply_result.h"
#include "server/auth_applier.h"
#include "server/auth_apply.h"
#include "server/kv_apply.h"
#include "server/membership_applier.h"
#include "server/quota.h"
#include "serverpb/raft_internal.pb.h"
#include "storage/backend/backend.h"

namespace etcd::server {

// A link that refuses some requests while an alarm is active, recording
// their consistent index, and passes the rest on.
class AlarmGate : public Applier {
 public:
  AlarmGate(Applier& next, const AlarmStore& alarms, backend::Backend& backend)
      : next_(next), alarms_(alarms), backend_(backend) {}

 protected:
  Applier& next_;
  const AlarmStore& alarms_;
  backend::Backend& backend_;
};

// etcd's applierV3Corrupt: under a CORRUPT alarm, writes (put, delete, txn,
// compaction, lease grant and revoke) fail with "etcdserver: corrupt cluster".
class CorruptApplier final : public AlarmGate {
 public:
  using AlarmGate::AlarmGate;
  ApplyResult apply(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci) override;
};

// etcd's applierV3Capped: under a NOSPACE alarm, puts, txns with puts and
// lease grants fail with no_space; deletes, reads and compactions pass.
class CappedApplier final : public AlarmGate {
 public:
  using AlarmGate::AlarmGate;
  ApplyResult apply(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci) override;
};

// etcd's quotaApplierV3: a put, txn or lease grant that does not fit the
// quota is applied, but answered with no_space.
class QuotaApplier final : public Applier {
 public:
  QuotaApplier(Applier& next, const Quota& quota) : next_(next), quota_(quota) {}
  ApplyResult apply(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci) override;

 private:
  Applier& next_;
  const Quota& quota_;
};

// The end of the chain: the KV store, the lessor, the alarms, the auth
// store (through the AuthRequestApplier) and, through the
// MembershipApplier, the member attributes and cluster version.
class StoreApplier final : public Applier {
 public:
  StoreApplier(KvApplier& kv, mvcc::KVStore& store, lease::Lessor& lessor, AlarmStore& alarms,
               AuthRequestApplier& auth, MembershipApplier& membership, backend::Backend& backend,
               log::Logger& logger)
      : kv_(kv),
        store_(store),
        lessor_(lessor),
        alarms_(alarms),
        auth_(auth),
        membership_(membership),
        backend_(backend),
        logger_(logger) {}
  ApplyResult apply(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci) override;

 private:
  ApplyResult apply_lease(const serverpb::InternalRaftRequest& req, backend::ConsistentIndex ci);
  ApplyResult apply_alarm(const etcdserverpb::AlarmRequest& r, backend::ConsistentIndex ci);

  KvApplier& kv_;
  mvcc::KVStore& store_;
  lease::Lessor& lessor_;
  AlarmStore& alarms_;
  AuthRequestApplier& auth_;
  MembershipApplier& membership_;
  backend::Backend& backend_;
  log::Logger& logger_;
};

// The whole chain, in etcd's order, owning its links.
class ApplierChain {
 public:
  ApplierChain(KvApplier& kv, mvcc::KVStore& store, lease::Lessor& lessor, AlarmStore& alarms,
               AuthRequestApplier& auth_requests, MembershipApplier& membership, const Quota& quota,
               const AuthChecks& auth, backend::Backend& backend, log::Logger& logger)
      : store_(kv, store, lessor, alarms, auth_requests, membership, backend, logger),
        auth_(store_, auth, backend),
        quota_(auth_, quota),
        capped_(quota_, alarms, backend),
        corrupt_(capped_, alarms, backend) {}
  Applier& head() { return corrupt_; }

 private:
  StoreApplier store_;
  AuthApplier auth_;
  QuotaApplier quota_;
  CappedApplier capped_;
  CorruptApplier corrupt_;
};

}  // namespace etcd::server
