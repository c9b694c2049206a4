#include "server/membership_applier.h"

#include "server/bootstrap.h"
#include "server/errors.h"

namespace etcd::server {

MembershipApplier::ConfChangeOutcome MembershipApplier::apply_conf_change(
    const raftpb::ConfChange& cc, backend::ConsistentIndex ci, bool already) {
  ConfChangeOutcome out;
  if (!already) {
    backend::BatchTx tx = backend_.batch_tx();
    tx.set_consistent_index(ci);
    out.status = validate(cc);
    if (out.status.is_ok()) apply_valid(cc, tx);
  }
  if (already || out.status.is_ok()) mirror_conf_change(cc);
  for (const Member& m : membership_.members()) {
    if (m.is_learner) {
      out.conf_state.add_learners(m.id.value());
    } else {
      out.conf_state.add_voters(m.id.value());
    }
  }
  return out;
}

Status MembershipApplier::validate(const raftpb::ConfChange& cc) const {
  const MemberId id(cc.node_id());
  if (membership_.is_removed(id)) return errors::member_not_found();
  auto existing = membership_.member(id);
  auto m = cc.context().empty() ? Result<Member>(invalid_argument("no context"))
                                : Member::from_json(cc.context());
  auto url_taken = [&](const Member& nm) {
    for (const Member& other : membership_.members()) {
      if (other.id == nm.id) continue;
      for (const auto& u : other.peer_urls) {
        for (const auto& v : nm.peer_urls) {
          if (u == v) return true;
        }
      }
    }
    return false;
  };
  switch (cc.type()) {
    case raftpb::ConfChangeAddNode:
      if (existing) {
        // Only a learner's promotion adds an existing member.
        return existing->is_learner ? Status::ok() : errors::member_exists();
      }
      if (!m.is_ok()) return errors::member_bad_urls();
      if (url_taken(*m)) return errors::peer_url_exists();
      return Status::ok();
    case raftpb::ConfChangeAddLearnerNode:
      if (existing) return errors::member_exists();
      if (!m.is_ok()) return errors::member_bad_urls();
      if (url_taken(*m)) return errors::peer_url_exists();
      return Status::ok();
    case raftpb::ConfChangeRemoveNode:
      return existing ? Status::ok() : errors::member_not_found();
    case raftpb::ConfChangeUpdateNode:
      if (!existing) return errors::member_not_found();
      if (!m.is_ok()) return errors::member_bad_urls();
      if (url_taken(*m)) return errors::peer_url_exists();
      return Status::ok();
    default:
      return Status::ok();
  }
}

void MembershipApplier::apply_valid(const raftpb::ConfChange& cc, backend::BatchTx& tx) {
  const std::string cid = to_hex(MemberId(membership_.cluster_id()));
  const std::string local = to_hex(membership_.local_id());
  auto m = cc.context().empty() ? Result<Member>(invalid_argument("no context"))
                                : Member::from_json(cc.context());
  switch (cc.type()) {
    case raftpb::ConfChangeAddNode:
      if (membership_.member(MemberId(cc.node_id()))) {
        membership_.promote(MemberId(cc.node_id()), tx);
        logger_.info("promote member", {{"cluster-id", cid},
                                        {"local-member-id", local},
                                        {"promoted-member-id", to_hex(MemberId(cc.node_id()))}});
      } else if (m.is_ok()) {
        membership_.add(*m, tx);
        logger_.info("added member", {{"cluster-id", cid},
                                      {"local-member-id", local},
                                      {"added-peer-id", to_hex(m->id)},
                                      {"added-peer-peer-urls", m->peer_urls}});
      }
      break;
    case raftpb::ConfChangeAddLearnerNode:
      if (m.is_ok()) {
        Member learner = *m;
        learner.is_learner = true;
        membership_.add(learner, tx);
        logger_.info("added member", {{"cluster-id", cid},
                                      {"local-member-id", local},
                                      {"added-peer-id", to_hex(m->id)},
                                      {"added-peer-peer-urls", m->peer_urls},
                                      {"added-peer-is-learner", true}});
      }
      break;
    case raftpb::ConfChangeRemoveNode: {
      auto was = membership_.member(MemberId(cc.node_id()));
      membership_.remove(MemberId(cc.node_id()), tx);
      logger_.info("removed member", {{"cluster-id", cid},
                                      {"local-member-id", local},
                                      {"removed-remote-peer-id", to_hex(MemberId(cc.node_id()))},
                                      {"removed-remote-peer-urls",
                                       was ? was->peer_urls : std::vector<std::string>{}}});
      break;
    }
    case raftpb::ConfChangeUpdateNode:
      if (m.is_ok()) {
        membership_.update_peer_urls(m->id, m->peer_urls, tx);
        logger_.info("updated member", {{"cluster-id", cid},
                                        {"local-member-id", local},
                                        {"updated-remote-peer-id", to_hex(m->id)},
                                        {"updated-remote-peer-urls", m->peer_urls}});
      }
      break;
    default:
      break;
  }
}

void MembershipApplier::mirror_conf_change(const raftpb::ConfChange& cc) {
  if (mirror_ == nullptr) return;
  const MemberId id(cc.node_id());
  if (cc.type() == raftpb::ConfChangeRemoveNode) {
    mirror_->removed(id);
    return;
  }
  auto m = cc.context().empty() ? Result<Member>(invalid_argument("no context"))
                                : Member::from_json(cc.context());
  if (!m.is_ok()) return;
  switch (cc.type()) {
    case raftpb::ConfChangeAddNode:
      if (m->is_promote) {
        mirror_->raft_attributes_updated(id, m->peer_urls, /*is_learner=*/false);
      } else {
        mirror_->added(id, m->peer_urls, /*is_learner=*/false);
      }
      break;
    case raftpb::ConfChangeAddLearnerNode:
      mirror_->added(id, m->peer_urls, /*is_learner=*/true);
      break;
    case raftpb::ConfChangeUpdateNode:
      mirror_->raft_attributes_updated(id, m->peer_urls, m->is_learner);
      break;
    default:
      break;
  }
}

void MembershipApplier::apply_attributes(MemberId id, const membershippb::Attributes& a,
                                         backend::ConsistentIndex ci) {
  backend::BatchTx tx = backend_.batch_tx();
  tx.set_consistent_index(ci);
  // etcd skips (with a warning) the attributes of a removed member.
  if (mirror_ != nullptr && membership_.member(id)) mirror_->attributes(id, a);
  membership_.update_attributes(id, a.name(), {a.client_urls().begin(), a.client_urls().end()}, tx);
}

void MembershipApplier::apply_cluster_version(const std::string& v, backend::ConsistentIndex ci) {
  backend::BatchTx tx = backend_.batch_tx();
  tx.set_consistent_index(ci);
  const std::string was = membership_.set_version(v, tx);
  if (mirror_ != nullptr) mirror_->cluster_version(v);
  const std::string cid = to_hex(MemberId(membership_.cluster_id()));
  const std::string local = to_hex(membership_.local_id());
  if (was.empty()) {
    logger_.info(
        "set initial cluster version",
        {{"cluster-id", cid}, {"local-member-id", local}, {"cluster-version", cluster_version(v)}});
  } else if (was != v) {
    logger_.info("updated cluster version", {{"cluster-id", cid},
                                             {"local-member-id", local},
                                             {"from", cluster_version(was)},
                                             {"to", cluster_version(v)}});
  }
  logger_.info("enabled capabilities for version", {{"cluster-version", cluster_version(v)}});
}

}  // namespace etcd::server
