#include "server/lease_front.h"

#include <cstdio>
#include <thread>

#include "auth/errors.h"
#include "server/errors.h"

namespace etcd::server {

Result<etcdserverpb::LeaseGrantResponse> LeaseFront::grant(const Caller& who,
                                                           etcdserverpb::LeaseGrantRequest r) {
  RETURN_IF_ERROR(core_.check_quota(kLeaseOverhead));
  // No id given: one from the request-id generator, kept positive (etcd).
  while (r.id() == 0) {
    r.set_id(static_cast<int64_t>(core_.proposer.next_id() & ((uint64_t{1} << 63) - 1)));
  }
  serverpb::InternalRaftRequest req;
  *req.mutable_lease_grant() = r;
  auto resp = core_.propose<etcdserverpb::LeaseGrantResponse>(who, std::move(req));
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<etcdserverpb::LeaseRevokeResponse> LeaseFront::revoke(
    const Caller& who, const etcdserverpb::LeaseRevokeRequest& r) {
  serverpb::InternalRaftRequest req;
  *req.mutable_lease_revoke() = r;
  auto resp = core_.propose<etcdserverpb::LeaseRevokeResponse>(who, std::move(req));
  if (resp.is_ok()) core_.fill_header(resp->mutable_header(), resp->header().revision());
  return resp;
}

Result<int64_t> LeaseFront::renew(LeaseId id) {
  // Renewals do not go through Raft: the leader's lessor answers. A leader
  // whose lessor is not promoted yet (its first entry is not applied) is
  // retried until the request timeout; etcd forwards to the leader.
  const auto deadline = core_.clock.now() + core_.request_timeout();
  const auto heartbeat = std::chrono::milliseconds(core_.cfg.heartbeat_interval_ms);
  while (true) {
    if (!core_.started()) return errors::stopped();
    if (core_.raft.is_leader()) {
      RETURN_IF_ERROR(core_.wait_applied_index());
      auto ttl = lessor_.renew(id);
      if (ttl.is_ok()) return ttl;
      if (ttl.status().code() == Code::kNotFound) return errors::lease_not_found();
    } else if (MemberId lead = core_.raft.lead(); lead != MemberId(0) && forward_renew_) {
      auto ttl = forward_renew_(lead, id);
      if (ttl.is_ok() || ttl.status() == errors::lease_not_found()) return ttl;
    }
    if (core_.clock.now() >= deadline) {
      return core_.raft.lead() != MemberId(0) ? errors::timeout() : errors::no_leader();
    }
    core_.clock.sleep_for(heartbeat);
  }
}

Result<etcdserverpb::LeaseTimeToLiveResponse> LeaseFront::time_to_live(
    const Caller& who, const etcdserverpb::LeaseTimeToLiveRequest& r) {
  const auth::AuthStore& store = core_.auth.store();
  if (!r.keys() || who.member || !store.enabled()) return lookup_time_to_live(r);
  const uint64_t rev = store.revision();
  RETURN_IF_ERROR(core_.auth.lease_keys_readable(who.info, LeaseId(r.id())));
  auto resp = lookup_time_to_live(r);
  if (resp.is_ok() && store.enabled() && store.revision() != rev) {
    return auth::errors::auth_old_revision();
  }
  return resp;
}

Result<etcdserverpb::LeaseTimeToLiveResponse> LeaseFront::lookup_time_to_live(
    const etcdserverpb::LeaseTimeToLiveRequest& r) {
  // Served by the leader, once its apply thread caught up (etcd forwards a
  // follower's request to the leader).
  if (!core_.raft.is_leader()) {
    const MemberId lead = core_.raft.lead();
    if (lead == MemberId(0)) return errors::no_leader();
    if (!forward_ttl_) return errors::not_leader();
    auto resp = forward_ttl_(lead, r);
    if (resp.is_ok()) core_.fill_header(resp->mutable_header(), 0);
    return resp;
  }
  RETURN_IF_ERROR(core_.wait_applied_index());
  auto l = lessor_.lookup(LeaseId(r.id()), r.keys());
  if (!l) return errors::lease_not_found();
  etcdserverpb::LeaseTimeToLiveResponse resp;
  core_.fill_header(resp.mutable_header(), 0);
  resp.set_id(r.id());
  resp.set_ttl(l->remaining_s);
  resp.set_grantedttl(l->ttl_s);
  for (auto& k : l->keys) resp.add_keys(std::move(k));
  return resp;
}

Result<etcdserverpb::LeaseLeasesResponse> LeaseFront::leases() {
  etcdserverpb::LeaseLeasesResponse resp;
  core_.fill_header(resp.mutable_header(), 0);
  for (LeaseId id : lessor_.leases()) resp.add_leases()->set_id(id.value());
  return resp;
}

void LeaseFront::revoke_expired(const std::vector<LeaseId>& ids) {
  for (LeaseId id : ids) {
    if (!core_.started()) return;
    serverpb::InternalRaftRequest req;
    req.mutable_lease_revoke()->set_id(id.value());
    auto r = core_.process(Caller::self(), std::move(req));
    Status st = r.is_ok() ? r->status : r.status();
    if (!st.is_ok() && st != errors::lease_not_found()) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx",
                    static_cast<unsigned long long>(static_cast<uint64_t>(id.value())));
      core_.logger.warn("failed to revoke lease", {{"lease-id", hex}, {"error", st.message()}});
    }
  }
}

void LeaseFront::checkpoint(const std::vector<lease::Checkpoint>& cps) {
  serverpb::InternalRaftRequest req;
  for (const auto& cp : cps) {
    auto* c = req.mutable_lease_checkpoint()->add_checkpoints();
    c->set_id(cp.id.value());
    c->set_remaining_ttl(cp.remaining_ttl_s);
  }
  (void)core_.process(std::move(req));
}

}  // namespace etcd::server
