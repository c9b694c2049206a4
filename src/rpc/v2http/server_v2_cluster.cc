#include "rpc/v2http/server_v2_cluster.h"

#include <algorithm>

#include "server/errors.h"

namespace etcd::rpc::v2http {

namespace {

V2Member from_pb(const etcdserverpb::Member& m) {
  V2Member out;
  out.id = m.id();
  out.name = m.name();
  out.peer_urls.assign(m.peerurls().begin(), m.peerurls().end());
  out.client_urls.assign(m.clienturls().begin(), m.clienturls().end());
  return out;
}

ChangeResult failed(const Status& s) { return ChangeResult{change_outcome(s), s.message(), {}}; }

}  // namespace

ChangeOutcome change_outcome(const Status& s) {
  namespace errors = server::errors;
  if (s.is_ok()) return ChangeOutcome::kOk;
  if (s.message() == errors::member_not_found().message()) return ChangeOutcome::kNotFound;
  if (s.message() == errors::member_exists().message()) return ChangeOutcome::kIdExists;
  if (s.message() == errors::peer_url_exists().message()) return ChangeOutcome::kPeerUrlExists;
  return ChangeOutcome::kFailed;
}

std::vector<V2Member> ServerV2Cluster::members() {
  std::vector<V2Member> out;
  auto list = server_.cluster().member_list(etcdserverpb::MemberListRequest());
  if (!list.is_ok()) return out;
  for (const auto& m : list->members()) out.push_back(from_pb(m));
  std::sort(out.begin(), out.end(),
            [](const V2Member& a, const V2Member& b) { return a.id < b.id; });
  return out;
}

ChangeResult ServerV2Cluster::add_member(const std::vector<std::string>& peer_urls) {
  etcdserverpb::MemberAddRequest r;
  for (const auto& u : peer_urls) r.add_peerurls(u);
  auto resp = server_.cluster().member_add(server::Caller::client({}), r);
  if (!resp.is_ok()) return failed(resp.status());
  ChangeResult c;
  c.member = from_pb(resp->member());
  return c;
}

ChangeResult ServerV2Cluster::remove_member(uint64_t id) {
  if (server_.is_removed(MemberId(id))) return ChangeResult{ChangeOutcome::kRemoved, "", {}};
  etcdserverpb::MemberRemoveRequest r;
  r.set_id(id);
  auto resp = server_.cluster().member_remove(server::Caller::client({}), r);
  if (!resp.is_ok()) {
    // Removed while the change was proposed.
    if (server_.is_removed(MemberId(id))) return ChangeResult{ChangeOutcome::kRemoved, "", {}};
    return failed(resp.status());
  }
  return {};
}

ChangeResult ServerV2Cluster::update_member(uint64_t id,
                                            const std::vector<std::string>& peer_urls) {
  etcdserverpb::MemberUpdateRequest r;
  r.set_id(id);
  for (const auto& u : peer_urls) r.add_peerurls(u);
  auto resp = server_.cluster().member_update(server::Caller::client({}), r);
  if (!resp.is_ok()) return failed(resp.status());
  return {};
}

std::optional<std::string> ServerV2Cluster::leader_stats() {
  if (server_.leader() != server_.id()) return std::nullopt;
  std::vector<MemberId> followers;
  for (const auto& m : members()) {
    if (MemberId(m.id) != server_.id()) followers.push_back(MemberId(m.id));
  }
  return server_.v2_stats().leader_json(followers);
}

}  // namespace etcd::rpc::v2http
