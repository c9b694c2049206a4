#include "server/applier.h"

#include "server/errors.h"
#include "server/raft_entry.h"

namespace etcd::server {

using Req = serverpb::InternalRaftRequest;

void record_consistent_index(backend::Backend& b, backend::ConsistentIndex ci) {
  backend::BatchTx tx = b.batch_tx();
  tx.set_consistent_index(ci);
}

ApplyResult CorruptApplier::apply(const Req& req, backend::ConsistentIndex ci) {
  switch (req.request_case()) {
    case Req::kPut:
    case Req::kDeleteRange:
    case Req::kTxn:
    case Req::kCompaction:
    case Req::kLeaseGrant:
    case Req::kLeaseRevoke:
      if (alarms_.corrupt()) {
        record_consistent_index(backend_, ci);
        return ApplyResult::error(errors::corrupt());
      }
      break;
    default:
      break;
  }
  return next_.apply(req, ci);
}

ApplyResult CappedApplier::apply(const Req& req, backend::ConsistentIndex ci) {
  if (alarms_.nospace()) {
    const bool refused =
        req.has_put() || req.has_lease_grant() || (req.has_txn() && txn_cost(req.txn()) > 0);
    if (refused) {
      record_consistent_index(backend_, ci);
      return ApplyResult::error(errors::no_space());
    }
  }
  return next_.apply(req, ci);
}

ApplyResult QuotaApplier::apply(const Req& req, backend::ConsistentIndex ci) {
  int64_t cost = 0;
  if (req.has_put()) {
    cost = put_cost(req.put());
  } else if (req.has_txn()) {
    cost = txn_cost(req.txn());
  } else if (req.has_lease_grant()) {
    cost = kLeaseOverhead;
  }
  // Measured before the write, as etcd's.
  const bool fits = quota_.available(cost);
  ApplyResult out = next_.apply(req, ci);
  if (out.status.is_ok() && !fits) return ApplyResult::error(errors::no_space());
  return out;
}

ApplyResult StoreApplier::apply(const Req& req, backend::ConsistentIndex ci) {
  switch (req.request_case()) {
    case Req::kPut:
      return ApplyResult::of(kv_.put(req.put(), ci));
    case Req::kDeleteRange:
      return ApplyResult::of(kv_.delete_range(req.delete_range(), ci));
    case Req::kTxn:
      return ApplyResult::of(kv_.txn(req.txn(), ci));
    case Req::kCompaction:
      return ApplyResult::of(kv_.compact(req.compaction(), ci));
    case Req::kLeaseGrant:
    case Req::kLeaseRevoke:
    case Req::kLeaseCheckpoint:
      return apply_lease(req, ci);
    case Req::kAlarm:
      return apply_alarm(req.alarm(), ci);
    case Req::kClusterMemberAttrSet: {
      const auto& r = req.cluster_member_attr_set();
      membership_.apply_attributes(MemberId(r.member_id()), r.member_attributes(), ci);
      return ApplyResult{};
    }
    case Req::kClusterVersionSet: {
      const std::string& v = req.cluster_version_set().ver();
      if (!is_cluster_version(v)) {
        logger_.error("invalid cluster version in raft entry", {{"cluster-version", v}});
        record_consistent_index(backend_, ci);
        return ApplyResult{};
      }
      membership_.apply_cluster_version(v, ci);
      return ApplyResult{};
    }
    case Req::kDowngradeInfoSet:
      // Downgrades are not supported yet; the entry is only recorded.
      record_consistent_index(backend_, ci);
      logger_.info("ignored downgrade info request",
                   {{"enabled", req.downgrade_info_set().enabled()},
                    {"target-version", req.downgrade_info_set().ver()}});
      return ApplyResult{};
    default:
      if (AuthRequestApplier::handles(req)) return auth_.apply(req, ci);
      record_consistent_index(backend_, ci);
      return ApplyResult::error(
          Status(Code::kUnimplemented, "etcdserver: request not supported by this build"));
  }
}

namespace {

// The lessor's errors as etcd's client errors.
Status lease_error(const Status& s) {
  switch (s.code()) {
    case Code::kNotFound:
      return errors::lease_not_found();
    case Code::kFailedPrecondition:
      return errors::lease_exists();
    case Code::kOutOfRange:
      return errors::lease_ttl_too_large();
    default:
      return s;
  }
}

}  // namespace

ApplyResult StoreApplier::apply_lease(const Req& req, backend::ConsistentIndex ci) {
  switch (req.request_case()) {
    case Req::kLeaseGrant: {
      const auto& r = req.lease_grant();
      auto l = lessor_.grant(LeaseId(r.id()), r.ttl(), ci);
      if (!l.is_ok()) return ApplyResult::error(lease_error(l.status()));
      etcdserverpb::LeaseGrantResponse resp;
      resp.mutable_header()->set_revision(store_.rev().value());
      resp.set_id(l->id.value());
      resp.set_ttl(l->ttl_s);
      return ApplyResult{Status::ok(), std::move(resp)};
    }
    case Req::kLeaseRevoke: {
      Status st = lessor_.revoke(LeaseId(req.lease_revoke().id()), ci);
      if (!st.is_ok()) return ApplyResult::error(lease_error(st));
      etcdserverpb::LeaseRevokeResponse resp;
      resp.mutable_header()->set_revision(store_.rev().value());
      return ApplyResult{Status::ok(), std::move(resp)};
    }
    default: {
      std::vector<lease::Checkpoint> cps;
      for (const auto& c : req.lease_checkpoint().checkpoints()) {
        cps.push_back(lease::Checkpoint{LeaseId(c.id()), c.remaining_ttl()});
      }
      lessor_.checkpoint(cps, ci);
      etcdserverpb::LeaseCheckpointResponse resp;
      resp.mutable_header()->set_revision(store_.rev().value());
      return ApplyResult{Status::ok(), std::move(resp)};
    }
  }
}

ApplyResult StoreApplier::apply_alarm(const etcdserverpb::AlarmRequest& r,
                                      backend::ConsistentIndex ci) {
  etcdserverpb::AlarmResponse resp;
  backend::BatchTx tx = backend_.batch_tx();
  tx.set_consistent_index(ci);
  const size_t old_count = alarms_.get(r.alarm()).size();
  switch (r.action()) {
    case etcdserverpb::AlarmRequest::GET:
      for (const auto& m : alarms_.get(r.alarm())) *resp.add_alarms() = m;
      break;
    case etcdserverpb::AlarmRequest::ACTIVATE: {
      if (r.alarm() == etcdserverpb::NONE) break;
      auto m = alarms_.activate(MemberId(r.memberid()), r.alarm(), tx);
      if (!m) break;
      *resp.add_alarms() = *m;
      if (old_count != 0 || alarms_.get(m->alarm()).size() != 1) break;
      logger_.warn("alarm raised", {{"alarm", etcdserverpb::AlarmType_Name(m->alarm())},
                                    {"from", to_hex(MemberId(m->memberid()))}});
      break;
    }
    case etcdserverpb::AlarmRequest::DEACTIVATE: {
      auto m = alarms_.deactivate(MemberId(r.memberid()), r.alarm(), tx);
      if (!m) break;
      *resp.add_alarms() = *m;
      if (old_count == 0 || !alarms_.get(r.alarm()).empty()) break;
      if (m->alarm() == etcdserverpb::NOSPACE || m->alarm() == etcdserverpb::CORRUPT) {
        logger_.warn("alarm disarmed", {{"alarm", etcdserverpb::AlarmType_Name(m->alarm())},
                                        {"from", to_hex(MemberId(m->memberid()))}});
      }
      break;
    }
    default:
      break;
  }
  return ApplyResult{Status::ok(), std::move(resp)};
}

}  // namespace etcd::server
