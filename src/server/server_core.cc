#include "server/server_core.h"

#include "auth/errors.h"
#include "server/errors.h"

namespace etcd::server {

Result<ApplyResult> ServerCore::process(serverpb::InternalRaftRequest req) {
  if (!started()) return errors::stopped();
  return proposer.propose(std::move(req));
}

Result<ApplyResult> ServerCore::process(const Caller& who, serverpb::InternalRaftRequest req) {
  auto* h = req.mutable_header();
  if (who.member) {
    if (!auth.store().enabled()) return process(std::move(req));
    h->set_username(std::string(auth::kRootUser));
    h->set_auth_revision(auth.store().revision());
  } else if (!who.info.username.empty()) {
    h->set_username(who.info.username);
    h->set_auth_revision(who.info.revision);
  }
  return process(std::move(req));
}

Status ServerCore::check_revision_unchanged(const Caller& who) const {
  if (who.info.revision != 0 && who.info.revision != auth.store().revision()) {
    return auth::errors::auth_old_revision();
  }
  return Status::ok();
}

Result<ApplyResult> ServerCore::process_v2(etcdserverpb::Request req) {
  if (!started()) return errors::stopped();
  return proposer.propose_v2(std::move(req));
}

Status ServerCore::linearizable_read_barrier() {
  auto index = proposer.read_index();
  if (!index.is_ok()) return index.status();
  if (!apply.wait_applied(*index, request_timeout(), [this] { return !started(); })) {
    return started() ? errors::timeout() : errors::stopped();
  }
  return Status::ok();
}

Status ServerCore::wait_applied_index() {
  // etcd's applyTimeout.
  if (!apply.wait_applied(raft.commit_index(), std::chrono::seconds(1),
                          [this] { return !started(); })) {
    if (!started()) return errors::stopped();
    return Status(Code::kUnavailable,
                  "etcdserver: request timed out, waiting for the applied index took too long");
  }
  return Status::ok();
}

Status ServerCore::check_quota(int64_t cost) {
  if (quota.available(cost)) return Status::ok();
  etcdserverpb::AlarmRequest a;
  a.set_memberid(id().value());
  a.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  a.set_alarm(etcdserverpb::NOSPACE);
  (void)alarm(a);
  return errors::no_space();
}

Result<etcdserverpb::AlarmResponse> ServerCore::alarm(const etcdserverpb::AlarmRequest& r) {
  serverpb::InternalRaftRequest req;
  *req.mutable_alarm() = r;
  auto resp = propose<etcdserverpb::AlarmResponse>(std::move(req));
  if (resp.is_ok()) fill_header(resp->mutable_header(), 0);
  return resp;
}

void ServerCore::fill_header(etcdserverpb::ResponseHeader* h, int64_t revision) const {
  h->set_cluster_id(cluster_id());
  h->set_member_id(id().value());
  h->set_revision(revision > 0 ? revision : kv.rev().value());
  h->set_raft_term(raft.term());
}

void ServerCore::fill_cluster_header(etcdserverpb::ResponseHeader* h) const {
  h->set_cluster_id(cluster_id());
  h->set_member_id(id().value());
  h->set_raft_term(raft.term());
}

}  // namespace etcd::server
