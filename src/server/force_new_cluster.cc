#include "server/force_new_cluster.h"

#include <algorithm>
#include <set>

#include "raft/raftpb_encode.h"
#include "server/membership.h"

namespace etcd::server {

std::vector<uint64_t> member_ids_in_log(const raftpb::Snapshot* snapshot,
                                        const std::vector<raftpb::Entry>& entries) {
  std::set<uint64_t> ids;
  if (snapshot != nullptr) {
    for (uint64_t id : snapshot->metadata().conf_state().voters()) ids.insert(id);
  }
  for (const raftpb::Entry& e : entries) {
    if (e.type() != raftpb::EntryConfChange) continue;
    raftpb::ConfChange cc;
    if (!cc.ParseFromString(e.data())) PANIC("malformed conf change entry in the WAL");
    switch (cc.type()) {
      case raftpb::ConfChangeAddNode:
      case raftpb::ConfChangeAddLearnerNode:
        ids.insert(cc.node_id());
        break;
      case raftpb::ConfChangeRemoveNode:
        ids.erase(cc.node_id());
        break;
      case raftpb::ConfChangeUpdateNode:
        break;
      default:
        PANIC("unknown ConfChange type " + std::to_string(static_cast<int>(cc.type())));
    }
  }
  return {ids.begin(), ids.end()};
}

std::vector<raftpb::Entry> standalone_conf_changes(const std::vector<uint64_t>& ids, MemberId self,
                                                   uint64_t term, uint64_t after) {
  std::vector<raftpb::Entry> out;
  uint64_t next = after + 1;
  auto push = [&](const raftpb::ConfChange& cc) {
    raftpb::Entry e;
    e.set_type(raftpb::EntryConfChange);
    e.set_term(term);
    e.set_index(next++);
    e.set_data(raft::gogo::encode(cc));
    out.push_back(std::move(e));
  };
  // The add goes first: removing the others before would leave Raft with
  // no voter at all.
  if (std::find(ids.begin(), ids.end(), self.value()) == ids.end()) {
    Member m;
    m.id = self;
    m.peer_urls = {"http://localhost:2380"};
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(self.value());
    cc.set_context(m.to_json());
    push(cc);
  }
  for (uint64_t id : ids) {
    if (id == self.value()) continue;
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeRemoveNode);
    cc.set_node_id(id);
    push(cc);
  }
  return out;
}

Status force_new_cluster(RaftStorage& rs, MemberId self, uint64_t cluster_id, log::Logger& logger) {
  raftpb::HardState hs = rs.hard_state;
  std::vector<raftpb::Entry> kept;
  {
    auto first = rs.log->first_index();
    auto last = rs.log->last_index();
    if (!first.is_ok()) return first.status();
    if (!last.is_ok()) return last.status();
    if (*last >= *first) {
      auto ents = rs.log->entries(*first, Index(last->value() + 1), UINT64_MAX);
      if (!ents.is_ok()) return ents.status();
      kept = std::move(ents).value();
    }
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i].index() > hs.commit()) {
      logger.info("discarding uncommitted WAL entries",
                  {{"entry-index", kept[i].index()},
                   {"commit-index-from-wal", hs.commit()},
                   {"number-of-discarded-entries", static_cast<uint64_t>(kept.size() - i)}});
      kept.resize(i);
      break;
    }
  }
  const bool has_snapshot = !raft::is_empty_snap(rs.snapshot);
  std::vector<raftpb::Entry> added = standalone_conf_changes(
      member_ids_in_log(has_snapshot ? &rs.snapshot : nullptr, kept), self, hs.term(), hs.commit());
  if (!added.empty()) {
    // etcd saves the entries without a hard state (the commit lives in
    // memory until Raft saves its next one); saving the commit with them
    // keeps the one-member configuration if the member stops before that.
    hs.set_commit(added.back().index());
    RETURN_IF_ERROR(rs.wal->save(hs, added, /*must_sync=*/true));
  }
  kept.insert(kept.end(), added.begin(), added.end());
  auto log = std::make_unique<raft::MemoryStorage>();
  if (has_snapshot) RETURN_IF_ERROR(log->apply_snapshot(rs.snapshot));
  log->set_hard_state(hs);
  RETURN_IF_ERROR(log->append(kept));
  rs.log = std::move(log);
  rs.hard_state = hs;
  logger.info("forcing restart member", {{"cluster-id", to_hex(MemberId(cluster_id))},
                                         {"local-member-id", to_hex(self)},
                                         {"commit-index", hs.commit()}});
  return Status::ok();
}

}  // namespace etcd::server
