#include "server/cluster_front.h"

#include "server/cluster_ids.h"
#include "server/errors.h"

namespace etcd::server {
namespace {

constexpr auto kHealthInterval = std::chrono::seconds(5);
// etcd's readyPercent: a learner within 90% of the leader's log is ready.
constexpr double kLearnerReadyPercent = 0.9;

bool valid_peer_url(const std::string& u) {
  auto sep = u.find("://");
  if (sep == std::string::npos) return false;
  const std::string scheme = u.substr(0, sep);
  if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs") return false;
  std::string rest = u.substr(sep + 3);
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  return rest.rfind(':') != std::string::npos;
}

void fill_member(etcdserverpb::Member* pm, const Member& m) {
  pm->set_id(m.id.value());
  pm->set_name(m.name);
  for (const auto& u : m.peer_urls) pm->add_peerurls(u);
  for (const auto& u : m.client_urls) pm->add_clienturls(u);
  pm->set_islearner(m.is_learner);
}

}  // namespace

template <typename Resp>
void ClusterFront::fill_members(Resp* resp) {
  core_.fill_cluster_header(resp->mutable_header());
  for (const Member& m : core_.membership.members()) fill_member(resp->add_members(), m);
}

Result<etcdserverpb::MemberListResponse> ClusterFront::member_list(
    const etcdserverpb::MemberListRequest& r) {
  if (r.linearizable()) RETURN_IF_ERROR(core_.linearizable_read_barrier());
  etcdserverpb::MemberListResponse resp;
  fill_members(&resp);
  return resp;
}

size_t ClusterFront::connected_voters(bool* all) {
  const auto since = std::chrono::steady_clock::now() - kHealthInterval;
  size_t n = 0;
  *all = true;
  for (const Member& m : core_.membership.members()) {
    if (m.is_learner) continue;
    if (m.id == core_.id()) {
      ++n;
      continue;
    }
    auto t = peers_->active_since(m.id);
    if (t && *t <= since) {
      ++n;
    } else {
      *all = false;
    }
  }
  return n;
}

Status ClusterFront::may_add(bool learner) {
  if (!core_.cfg.strict_reconfig_check) return Status::ok();
  if (!learner) {
    // etcd's IsReadyToAddVotingMember: the started voters (those that
    // published a name) must keep a quorum of the grown cluster.
    size_t members = 1, started = 0;
    for (const Member& m : core_.membership.members()) {
      if (m.is_learner) continue;
      ++members;
      if (!m.name.empty()) ++started;
    }
    const bool one_to_two = started == 1 && members == 2;
    if (!one_to_two && started < members / 2 + 1) {
      core_.logger.warn("rejecting member add request; not enough healthy members",
                        {{"local-member-id", to_hex(core_.id())}});
      return errors::not_enough_started_members();
    }
  }
  bool all = false;
  connected_voters(&all);
  if (!all) {
    core_.logger.warn(
        "rejecting member add request; local member has not been connected to all peers, "
        "reconfigure breaks active quorum",
        {{"local-member-id", to_hex(core_.id())}});
    return errors::unhealthy();
  }
  return Status::ok();
}

Status ClusterFront::may_remove(MemberId id) {
  if (!core_.cfg.strict_reconfig_check) return Status::ok();
  auto target = core_.membership.member(id);
  if (target && target->is_learner) return Status::ok();
  size_t members = 0, started = 0;
  for (const Member& m : core_.membership.members()) {
    if (m.is_learner || m.id == id) continue;
    ++members;
    if (!m.name.empty()) ++started;
  }
  if (started < members / 2 + 1) {
    core_.logger.warn(
        "rejecting member remove request; not enough healthy members",
        {{"local-member-id", to_hex(core_.id())}, {"requested-member-remove-id", to_hex(id)}});
    return errors::not_enough_started_members();
  }
  // A member that is down is safe to remove: it is not in the active quorum.
  if (id != core_.id() && !peers_->active_since(id)) return Status::ok();
  size_t voters = 0;
  for (const Member& m : core_.membership.members()) voters += m.is_learner ? 0 : 1;
  bool all = false;
  const size_t active = connected_voters(&all);
  if (active < 1 + 1 + (voters - 1) / 2) {
    core_.logger.warn(
        "rejecting member remove request; local member has not been connected to all peers, "
        "reconfigure breaks active quorum",
        {{"local-member-id", to_hex(core_.id())}, {"requested-member-remove", to_hex(id)}});
    return errors::unhealthy();
  }
  return Status::ok();
}

Status ClusterFront::change(raftpb::ConfChange cc) {
  auto r = core_.proposer.propose_conf_change(std::move(cc));
  if (!r.is_ok()) return r.status();
  return r->status;
}

Result<etcdserverpb::MemberAddResponse> ClusterFront::member_add(
    const Caller& who, const etcdserverpb::MemberAddRequest& r) {
  Member m;
  for (const auto& u : r.peerurls()) {
    if (!valid_peer_url(u)) return errors::member_bad_urls();
    m.peer_urls.push_back(u);
  }
  if (m.peer_urls.empty()) return errors::member_bad_urls();
  RETURN_IF_ERROR(core_.check_admin(who));
  std::sort(m.peer_urls.begin(), m.peer_urls.end());
  // etcd: SHA-1 of the URLs and the time, so a re-added member gets a new id.
  m.id = compute_member_id(m.peer_urls, "", core_.clock.wall_unix_ms() / 1000);
  m.is_learner = r.islearner();
  RETURN_IF_ERROR(may_add(m.is_learner));
  raftpb::ConfChange cc;
  cc.set_type(m.is_learner ? raftpb::ConfChangeAddLearnerNode : raftpb::ConfChangeAddNode);
  cc.set_node_id(m.id.value());
  cc.set_context(m.to_json());
  RETURN_IF_ERROR(change(std::move(cc)));
  etcdserverpb::MemberAddResponse resp;
  fill_member(resp.mutable_member(), m);
  fill_members(&resp);
  return resp;
}

Result<etcdserverpb::MemberRemoveResponse> ClusterFront::member_remove(
    const Caller& who, const etcdserverpb::MemberRemoveRequest& r) {
  RETURN_IF_ERROR(core_.check_admin(who));
  const MemberId id(r.id());
  RETURN_IF_ERROR(may_remove(id));
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeRemoveNode);
  cc.set_node_id(id.value());
  RETURN_IF_ERROR(change(std::move(cc)));
  etcdserverpb::MemberRemoveResponse resp;
  fill_members(&resp);
  return resp;
}

Result<etcdserverpb::MemberUpdateResponse> ClusterFront::member_update(
    const Caller& who, const etcdserverpb::MemberUpdateRequest& r) {
  Member m;
  m.id = MemberId(r.id());
  for (const auto& u : r.peerurls()) {
    if (!valid_peer_url(u)) return errors::member_bad_urls();
    m.peer_urls.push_back(u);
  }
  std::sort(m.peer_urls.begin(), m.peer_urls.end());
  RETURN_IF_ERROR(core_.check_admin(who));
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeUpdateNode);
  cc.set_node_id(m.id.value());
  cc.set_context(m.to_json());
  RETURN_IF_ERROR(change(std::move(cc)));
  etcdserverpb::MemberUpdateResponse resp;
  fill_members(&resp);
  return resp;
}

Status ClusterFront::learner_ready(MemberId id) {
  auto st = core_.raft.status();
  auto it = st.progress.find(id.value());
  if (it == st.progress.end() || !it->second.is_learner) return errors::member_not_learner();
  auto lead = st.progress.find(core_.id().value());
  const uint64_t leader_match = lead == st.progress.end() ? 0 : lead->second.match;
  if (static_cast<double>(it->second.match) <
      static_cast<double>(leader_match) * kLearnerReadyPercent) {
    return errors::learner_not_ready();
  }
  return Status::ok();
}

Status ClusterFront::promote_on_leader(MemberId id) {
  if (!core_.raft.is_leader()) return errors::not_leader();
  auto m = core_.membership.member(id);
  if (!m) return errors::member_not_found();
  if (!m->is_learner) return errors::member_not_learner();
  RETURN_IF_ERROR(learner_ready(id));
  if (core_.cfg.strict_reconfig_check) {
    size_t members = 1, started = 1;
    for (const Member& v : core_.membership.members()) {
      if (v.is_learner) continue;
      ++members;
      if (!v.name.empty()) ++started;
    }
    if (started < members / 2 + 1) return errors::not_enough_started_members();
  }
  Member ctx;
  ctx.id = id;
  ctx.is_promote = true;
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeAddNode);
  cc.set_node_id(id.value());
  cc.set_context(ctx.to_json());
  return change(std::move(cc));
}

Result<etcdserverpb::MemberPromoteResponse> ClusterFront::member_promote(
    const Caller& who, const etcdserverpb::MemberPromoteRequest& r) {
  // Checked by the member the client asked; the leader trusts its peer.
  RETURN_IF_ERROR(core_.check_admin(who));
  const MemberId id(r.id());
  if (!core_.membership.member(id)) return errors::member_not_found();
  if (core_.raft.is_leader()) {
    RETURN_IF_ERROR(promote_on_leader(id));
  } else {
    const MemberId lead = core_.raft.lead();
    if (lead == MemberId(0)) return errors::no_leader();
    if (!forward_promote_) return errors::not_leader();
    RETURN_IF_ERROR(forward_promote_(lead, id));
  }
  etcdserverpb::MemberPromoteResponse resp;
  fill_members(&resp);
  return resp;
}

}  // namespace etcd::server
