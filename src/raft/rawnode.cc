#include "raft/rawnode.h"

#include "raft/raftpb_encode.h"

namespace etcd::raft {

bool Ready::contains_updates() const {
  return soft_state.has_value() || !is_empty_hard_state(hard_state) || !is_empty_snap(snapshot) ||
         !entries.empty() || !committed_entries.empty() || !messages.empty() ||
         !read_states.empty();
}

uint64_t Ready::applied_cursor() const {
  if (!committed_entries.empty()) return committed_entries.back().index();
  if (!is_empty_snap(snapshot)) return snapshot.metadata().index();
  return 0;
}

Result<std::unique_ptr<RawNode>> RawNode::create(Config config) {
  RETURN_IF_ERROR(config.validate());
  return std::unique_ptr<RawNode>(new RawNode(std::move(config)));
}

RawNode::RawNode(Config config) : raft_(std::make_unique<Raft>(std::move(config))) {
  prev_soft_state_ = raft_->soft_state();
  prev_hard_state_ = raft_->hard_state();
}

Status RawNode::bootstrap(const std::vector<NodeId>& ids) {
  std::vector<Peer> peers;
  for (NodeId id : ids) peers.push_back(Peer{id, ""});
  return bootstrap(peers);
}

Status RawNode::bootstrap(const std::vector<Peer>& peers) {
  if (peers.empty()) return invalid_argument("must provide at least one peer to Bootstrap");
  if (raft_->raft_log().last_index() != 0) {
    return failed_precondition("can't bootstrap a nonempty Storage");
  }
  // The ConfChange entries are appended at term 1 and applied at once, as
  // if they had been committed (every member writes the same ones).
  prev_hard_state_ = raftpb::HardState();
  raft_->become_follower(1, kNone);
  std::vector<raftpb::Entry> ents;
  for (size_t i = 0; i < peers.size(); ++i) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(peers[i].id);
    cc.set_context(peers[i].context);
    raftpb::Entry e;
    e.set_type(raftpb::EntryConfChange);
    e.set_term(1);
    e.set_index(i + 1);
    e.set_data(gogo::encode(cc));
    ents.push_back(std::move(e));
  }
  raft_->mutable_raft_log().append(ents);
  raft_->mutable_raft_log().commit_to(ents.size());
  for (const Peer& p : peers) {
    raftpb::ConfChange cc;
    cc.set_type(raftpb::ConfChangeAddNode);
    cc.set_node_id(p.id);
    raft_->apply_conf_change(as_v2(cc));
  }
  return Status::ok();
}

Status RawNode::campaign() {
  raftpb::Message m;
  m.set_type(raftpb::MsgHup);
  return raft_->step(std::move(m));
}

Status RawNode::propose(std::string data) {
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  m.set_from(raft_->id());
  m.add_entries()->set_data(std::move(data));
  return raft_->step(std::move(m));
}

Status RawNode::propose_conf_change(const raftpb::ConfChange& cc) {
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  auto* e = m.add_entries();
  e->set_type(raftpb::EntryConfChange);
  e->set_data(gogo::encode(cc));
  return raft_->step(std::move(m));
}

Status RawNode::propose_conf_change(const raftpb::ConfChangeV2& cc) {
  raftpb::Message m;
  m.set_type(raftpb::MsgProp);
  auto* e = m.add_entries();
  e->set_type(raftpb::EntryConfChangeV2);
  e->set_data(gogo::encode(cc));
  return raft_->step(std::move(m));
}

raftpb::ConfState RawNode::apply_conf_change(const raftpb::ConfChange& cc) {
  return raft_->apply_conf_change(as_v2(cc));
}

raftpb::ConfState RawNode::apply_conf_change(const raftpb::ConfChangeV2& cc) {
  return raft_->apply_conf_change(cc);
}

Status RawNode::step(raftpb::Message m) {
  switch (m.type()) {
    case raftpb::MsgHup:
    case raftpb::MsgBeat:
    case raftpb::MsgUnreachable:
    case raftpb::MsgSnapStatus:
    case raftpb::MsgCheckQuorum:
      return err_step_local_msg();
    default:
      break;
  }
  bool response = m.type() == raftpb::MsgAppResp || m.type() == raftpb::MsgVoteResp ||
                  m.type() == raftpb::MsgHeartbeatResp || m.type() == raftpb::MsgPreVoteResp;
  if (response && raft_->tracker().progress.count(m.from()) == 0) {
    return err_step_peer_not_found();
  }
  return raft_->step(std::move(m));
}

Ready RawNode::ready() {
  Raft& r = *raft_;
  Ready rd;
  rd.entries = r.raft_log().unstable_entries();
  rd.committed_entries = r.raft_log().next_ents();
  rd.messages = std::move(r.msgs());
  r.msgs().clear();
  rd.read_states = std::move(r.read_states());
  r.read_states().clear();
  SoftState ss = r.soft_state();
  if (!(ss == prev_soft_state_)) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  raftpb::HardState hs = r.hard_state();
  if (!hard_state_equal(hs, prev_hard_state_)) rd.hard_state = hs;
  if (const auto& snap = r.raft_log().unstable_snapshot()) rd.snapshot = *snap;
  // Entries and a new term or vote must reach the disk before any message
  // that depends on them is sent (thesis 3.8); a commit index alone need not.
  rd.must_sync = !rd.entries.empty() ||
                 (!is_empty_hard_state(rd.hard_state) &&
                  (hs.vote() != prev_hard_state_.vote() || hs.term() != prev_hard_state_.term()));
  return rd;
}

bool RawNode::has_ready() const {
  const Raft& r = *raft_;
  if (!(r.soft_state() == prev_soft_state_)) return true;
  raftpb::HardState hs = r.hard_state();
  if (!is_empty_hard_state(hs) && !hard_state_equal(hs, prev_hard_state_)) return true;
  if (r.raft_log().has_pending_snapshot()) return true;
  if (!raft_->msgs().empty() || r.raft_log().has_unstable_entries() ||
      r.raft_log().has_next_ents()) {
    return true;
  }
  return !raft_->read_states().empty();
}

void RawNode::advance(const Ready& rd) {
  if (!is_empty_hard_state(rd.hard_state)) prev_hard_state_ = rd.hard_state;
  raft_->advance(rd.applied_cursor(), rd.entries, rd.snapshot, rd.committed_entries);
}

NodeStatus RawNode::status() const {
  const Raft& r = *raft_;
  NodeStatus s;
  s.id = MemberId(r.id());
  s.term = Term(r.term());
  s.vote = MemberId(r.vote());
  s.lead = MemberId(r.lead());
  s.commit = Index(r.raft_log().committed());
  s.applied = Index(r.raft_log().applied());
  s.raft_state = r.state();
  s.lead_transferee = MemberId(r.lead_transferee());
  s.config = r.tracker().config;
  if (r.state() == StateType::kLeader) {
    for (const auto& [id, pr] : r.tracker().progress) {
      s.progress[id] = ProgressStatus{pr.match,      pr.next,        pr.state,
                                      pr.is_learner, pr.is_paused(), pr.inflights.count()};
    }
  }
  return s;
}

void RawNode::report_unreachable(NodeId id) {
  raftpb::Message m;
  m.set_type(raftpb::MsgUnreachable);
  m.set_from(id);
  (void)raft_->step(std::move(m));
}

void RawNode::report_snapshot(NodeId id, SnapshotStatus status) {
  raftpb::Message m;
  m.set_type(raftpb::MsgSnapStatus);
  m.set_from(id);
  m.set_reject(status == SnapshotStatus::kFailure);
  (void)raft_->step(std::move(m));
}

void RawNode::transfer_leader(NodeId transferee) {
  raftpb::Message m;
  m.set_type(raftpb::MsgTransferLeader);
  m.set_from(transferee);
  (void)raft_->step(std::move(m));
}

void RawNode::read_index(std::string ctx) {
  raftpb::Message m;
  m.set_type(raftpb::MsgReadIndex);
  m.add_entries()->set_data(std::move(ctx));
  (void)raft_->step(std::move(m));
}

}  // namespace etcd::raft
