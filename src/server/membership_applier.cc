#include "server/membership_applier.h"

#include "server/bootstrap.h"

namespace etcd::server {

raftpb::ConfState MembershipApplier::apply_conf_change(const raftpb::ConfChange& cc,
                                                       backend::ConsistentIndex ci, bool already) {
  if (!already) {
    backend::BatchTx tx = backend_.batch_tx();
    tx.set_consistent_index(ci);
    auto m = cc.context().empty() ? Result<Member>(invalid_argument("no context"))
                                  : Member::from_json(cc.context());
    switch (cc.type()) {
      case raftpb::ConfChangeAddNode:
        if (membership_.member(MemberId(cc.node_id()))) {
          membership_.promote(MemberId(cc.node_id()), tx);
        } else if (m.is_ok()) {
          membership_.add(*m, tx);
          logger_.info("added member", {{"cluster-id", to_hex(MemberId(membership_.cluster_id()))},
                                        {"local-member-id", to_hex(membership_.local_id())},
                                        {"added-peer-id", to_hex(m->id)},
                                        {"added-peer-peer-urls", m->peer_urls}});
        }
        break;
      case raftpb::ConfChangeAddLearnerNode:
        if (m.is_ok()) {
          Member learner = *m;
          learner.is_learner = true;
          membership_.add(learner, tx);
        }
        break;
      case raftpb::ConfChangeRemoveNode:
        membership_.remove(MemberId(cc.node_id()), tx);
        break;
      case raftpb::ConfChangeUpdateNode:
        if (m.is_ok()) membership_.update_peer_urls(m->id, m->peer_urls, tx);
        break;
      default:
        break;
    }
  }
  raftpb::ConfState cs;
  for (const Member& m : membership_.members()) {
    if (m.is_learner) {
      cs.add_learners(m.id.value());
    } else {
      cs.add_voters(m.id.value());
    }
  }
  return cs;
}

void MembershipApplier::apply_attributes(MemberId id, const membershippb::Attributes& a,
                                         backend::ConsistentIndex ci) {
  backend::BatchTx tx = backend_.batch_tx();
  tx.set_consistent_index(ci);
  membership_.update_attributes(id, a.name(), {a.client_urls().begin(), a.client_urls().end()}, tx);
}

void MembershipApplier::apply_cluster_version(const std::string& v, backend::ConsistentIndex ci) {
  backend::BatchTx tx = backend_.batch_tx();
  tx.set_consistent_index(ci);
  const std::string was = membership_.set_version(v, tx);
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
