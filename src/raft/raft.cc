#include "raft/raft.h"

#include <algorithm>

#include "base/ids.h"
#include "raft/confchange/confchange.h"
#include "raft/raftpb_encode.h"

namespace etcd::raft {
namespace {

// A node id as etcd raft's logs print it (%x).
std::string hex(NodeId id) { return to_hex(MemberId(id)); }

constexpr const char* kCampaignTransfer = "CampaignTransfer";

raftpb::MessageType vote_resp_msg_type(raftpb::MessageType t) {
  switch (t) {
    case raftpb::MsgVote:
      return raftpb::MsgVoteResp;
    case raftpb::MsgPreVote:
      return raftpb::MsgPreVoteResp;
    default:
      PANIC("not a vote message");
  }
}

uint64_t payload_size(const raftpb::Entry& e) { return e.data().size(); }

size_t num_of_pending_conf(const std::vector<raftpb::Entry>& ents) {
  return static_cast<size_t>(std::count_if(ents.begin(), ents.end(), [](const raftpb::Entry& e) {
    return e.type() == raftpb::EntryConfChange || e.type() == raftpb::EntryConfChangeV2;
  }));
}

// Whether the change list means "leave the joint configuration".
bool leave_joint(const raftpb::ConfChangeV2& cc) {
  return cc.transition() == raftpb::ConfChangeTransitionAuto && cc.changes_size() == 0;
}

// Whether the change must use joint consensus, and if so whether to leave it
// automatically.
std::optional<bool> enter_joint(const raftpb::ConfChangeV2& cc) {
  if (cc.transition() != raftpb::ConfChangeTransitionAuto || cc.changes_size() > 1) {
    switch (cc.transition()) {
      case raftpb::ConfChangeTransitionAuto:
      case raftpb::ConfChangeTransitionJointImplicit:
        return true;
      case raftpb::ConfChangeTransitionJointExplicit:
        return false;
      default:
        PANIC("unknown conf change transition");
    }
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "StateFollower";
    case StateType::kCandidate:
      return "StateCandidate";
    case StateType::kLeader:
      return "StateLeader";
    case StateType::kPreCandidate:
      return "StatePreCandidate";
  }
  return "?";
}

Status err_proposal_dropped() {
  return Status(Code::kUnavailable, "raft proposal dropped", Reason::kProposalDropped);
}
bool is_proposal_dropped(const Status& s) { return s.reason() == Reason::kProposalDropped; }
Status err_step_local_msg() {
  return Status(Code::kInvalidArgument, "raft: cannot step raft local message");
}
Status err_step_peer_not_found() {
  return Status(Code::kNotFound, "raft: cannot step as peer not found");
}

bool is_empty_hard_state(const raftpb::HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}
bool hard_state_equal(const raftpb::HardState& a, const raftpb::HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}
bool is_empty_snap(const raftpb::Snapshot& s) { return s.metadata().index() == 0; }

raftpb::ConfChangeV2 as_v2(const raftpb::ConfChange& cc) {
  raftpb::ConfChangeV2 out;
  auto* c = out.add_changes();
  c->set_type(cc.type());
  c->set_node_id(cc.node_id());
  out.set_context(cc.context());
  return out;
}

tracker::Progress& Raft::progress_of(NodeId id) {
  auto it = prs_.progress.find(id);
  ASSERT(it != prs_.progress.end(), "no progress for member " + std::to_string(id));
  return it->second;
}

Status Config::validate() {
  if (id == kNone) return invalid_argument("cannot use none as id");
  if (heartbeat_tick <= 0) return invalid_argument("heartbeat tick must be greater than 0");
  if (election_tick <= heartbeat_tick) {
    return invalid_argument("election tick must be greater than heartbeat tick");
  }
  if (storage == nullptr) return invalid_argument("storage cannot be nil");
  if (max_uncommitted_entries_size == 0) max_uncommitted_entries_size = kNoLimit;
  if (max_committed_size_per_ready == 0) max_committed_size_per_ready = max_size_per_msg;
  if (max_inflight_msgs == 0)
    return invalid_argument("max inflight messages must be greater than 0");
  if (read_only_option == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return invalid_argument(
        "CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased");
  }
  return Status::ok();
}

Raft::Raft(Config c)
    : id_(c.id),
      logger_(c.logger),
      raft_log_(*c.storage, c.max_committed_size_per_ready ? c.max_committed_size_per_ready
                                                           : c.max_size_per_msg),
      max_msg_size_(c.max_size_per_msg),
      max_uncommitted_size_(c.max_uncommitted_entries_size ? c.max_uncommitted_entries_size
                                                           : kNoLimit),
      prs_(c.max_inflight_msgs),
      read_only_(c.read_only_option),
      check_quorum_(c.check_quorum),
      pre_vote_(c.pre_vote),
      heartbeat_timeout_(c.heartbeat_tick),
      election_timeout_(c.election_tick),
      disable_proposal_forwarding_(c.disable_proposal_forwarding),
      rng_(c.seed ^ (c.id * 0x9E3779B97F4A7C15ULL)) {
  Status valid = c.validate();
  ASSERT(valid.is_ok(), valid.message());
  auto init = c.storage->initial_state();
  ASSERT(init.is_ok(), "storage initial_state failed");
  auto restored =
      confchange::restore(init->conf_state, raft_log_.last_index(), c.max_inflight_msgs);
  ASSERT(restored.is_ok(), "unable to restore the configuration: " + restored.status().message());
  switch_to_config(std::move(restored->config), std::move(restored->progress));
  if (!is_empty_hard_state(init->hard_state)) load_state(init->hard_state);
  if (c.applied > 0) raft_log_.applied_to(c.applied);
  become_follower(term_, kNone);
  if (logger_) {
    std::string peers;
    for (NodeId id : prs_.config.voters.ids()) {
      peers += (peers.empty() ? "" : ",") + hex(id);
    }
    info("newRaft " + hex_id() + " [peers: [" + peers + "], term: " + std::to_string(term_) +
         ", commit: " + std::to_string(raft_log_.committed()) +
         ", applied: " + std::to_string(raft_log_.applied()) +
         ", lastindex: " + std::to_string(raft_log_.last_index()) +
         ", lastterm: " + std::to_string(raft_log_.last_term()) + "]");
  }
}

std::string Raft::hex_id() const { return hex(id_); }

raftpb::HardState Raft::hard_state() const {
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(raft_log_.committed());
  return hs;
}

void Raft::send(raftpb::Message m) {
  if (m.from() == kNone) m.set_from(id_);
  if (m.type() == raftpb::MsgVote || m.type() == raftpb::MsgVoteResp ||
      m.type() == raftpb::MsgPreVote || m.type() == raftpb::MsgPreVoteResp) {
    // Vote messages carry the term they are for, which for pre-votes is the
    // future term, and for responses the term of the request.
    ASSERT(m.term() != 0, "term should be set when sending a vote message");
  } else {
    ASSERT(m.term() == 0, "term should not be set when sending a non-vote message");
    // Proposals and forwarded read requests are local to the term-less path.
    if (m.type() != raftpb::MsgProp && m.type() != raftpb::MsgReadIndex) m.set_term(term_);
  }
  msgs_.push_back(std::move(m));
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  auto it = prs_.progress.find(to);
  if (it == prs_.progress.end()) return false;
  tracker::Progress& pr = it->second;
  if (pr.is_paused()) return false;
  raftpb::Message m;
  m.set_to(to);

  auto term = raft_log_.term(pr.next - 1);
  auto ents = raft_log_.entries(pr.next, max_msg_size_);
  if (ents.is_ok() && ents->empty() && !send_if_empty) return false;

  if (!term.is_ok() || !ents.is_ok()) {
    // The entries the follower needs are compacted: send a snapshot.
    if (!pr.recent_active) return false;
    m.set_type(raftpb::MsgSnap);
    auto snap = raft_log_.snapshot();
    if (!snap.is_ok()) {
      if (is_snapshot_temporarily_unavailable(snap.status())) return false;
      PANIC("unexpected snapshot error: " + snap.status().to_string());
    }
    ASSERT(!is_empty_snap(*snap), "need a non-empty snapshot");
    pr.become_snapshot(snap->metadata().index());
    *m.mutable_snapshot() = std::move(snap).value();
  } else {
    m.set_type(raftpb::MsgApp);
    m.set_index(pr.next - 1);
    m.set_log_term(*term);
    for (auto& e : *ents) *m.add_entries() = std::move(e);
    m.set_commit(raft_log_.committed());
    if (int n = m.entries_size(); n != 0) {
      switch (pr.state) {
        case tracker::ProgressState::kReplicate: {
          uint64_t last = m.entries(n - 1).index();
          pr.optimistic_update(last);
          pr.inflights.add(last);
          break;
        }
        case tracker::ProgressState::kProbe:
          pr.probe_sent = true;
          break;
        case tracker::ProgressState::kSnapshot:
          PANIC("sending append in unhandled state");
      }
    }
  }
  send(std::move(m));
  return true;
}

void Raft::send_heartbeat(NodeId to, const std::string& ctx) {
  // Never commit beyond what the follower is known to have (thesis 3.5):
  // its log may not contain the leader's committed entries yet.
  uint64_t commit = std::min(progress_of(to).match, raft_log_.committed());
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MsgHeartbeat);
  m.set_commit(commit);
  m.set_context(ctx);
  send(std::move(m));
}

void Raft::bcast_append() {
  prs_.visit([this](NodeId id, tracker::Progress&) {
    if (id != id_) send_append(id);
  });
}

void Raft::bcast_heartbeat() {
  std::string ctx = read_only_.last_pending_request_ctx();
  bcast_heartbeat_with_ctx(ctx);
}

void Raft::bcast_heartbeat_with_ctx(const std::string& ctx) {
  prs_.visit([this, &ctx](NodeId id, tracker::Progress&) {
    if (id != id_) send_heartbeat(id, ctx);
  });
}

bool Raft::maybe_commit() { return raft_log_.maybe_commit(prs_.committed(), term_); }

void Raft::reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  prs_.reset_votes();
  uint64_t last = raft_log_.last_index();
  prs_.visit([this, last](NodeId id, tracker::Progress& pr) {
    bool learner = pr.is_learner;
    pr = tracker::Progress(last + 1, prs_.max_inflight());
    pr.is_learner = learner;
    if (id == id_) pr.match = last;
  });
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  read_only_ = ReadOnly(read_only_.option());
}

bool Raft::append_entry(std::vector<raftpb::Entry> es) {
  uint64_t li = raft_log_.last_index();
  for (size_t i = 0; i < es.size(); ++i) {
    es[i].set_term(term_);
    es[i].set_index(li + 1 + i);
  }
  // Bound the uncommitted tail so a partitioned leader cannot grow it
  // without limit.
  if (!increase_uncommitted_size(es)) return false;
  li = raft_log_.append(es);
  // A leader that removed itself keeps leading until its removal commits
  // (thesis 4.2.2) but has no Progress of its own: it does not count
  // towards the quorum. (A learner leader leaving a joint configuration it
  // is not in reaches here through the auto-leave in advance().)
  if (auto self = prs_.progress.find(id_); self != prs_.progress.end()) {
    self->second.maybe_update(li);
  }
  // The leader's own entry counts towards commit once it is persisted; a
  // single-node group commits here.
  maybe_commit();
  return true;
}

void Raft::tick() {
  if (state_ == StateType::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    raftpb::Message m;
    m.set_from(id_);
    m.set_type(raftpb::MsgHup);
    (void)step(std::move(m));
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      raftpb::Message m;
      m.set_from(id_);
      m.set_type(raftpb::MsgCheckQuorum);
      (void)step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is aborted.
    if (state_ == StateType::kLeader && lead_transferee_ != kNone) abort_leader_transfer();
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    raftpb::Message m;
    m.set_from(id_);
    m.set_type(raftpb::MsgBeat);
    (void)step(std::move(m));
  }
}

void Raft::become_follower(uint64_t term, NodeId lead) {
  reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
  info(hex_id() + " became follower at term " + std::to_string(term_));
}

void Raft::become_candidate() {
  ASSERT(state_ != StateType::kLeader, "invalid transition [leader -> candidate]");
  reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
  info(hex_id() + " became candidate at term " + std::to_string(term_));
}

void Raft::become_pre_candidate() {
  ASSERT(state_ != StateType::kLeader, "invalid transition [leader -> pre-candidate]");
  // A pre-candidate changes neither its term nor its vote (thesis 9.6).
  prs_.reset_votes();
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
  info(hex_id() + " became pre-candidate at term " + std::to_string(term_));
}

void Raft::become_leader() {
  ASSERT(state_ != StateType::kFollower, "invalid transition [follower -> leader]");
  reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  info(hex_id() + " became leader at term " + std::to_string(term_));
  // The leader's own progress is always replicating; probing it makes no sense.
  progress_of(id_).become_replicate();
  // Conservatively treat any configuration change in the log as pending.
  pending_conf_index_ = raft_log_.last_index();
  // An empty entry of the new term: committing it commits everything before
  // (thesis 3.6.2) and lets ReadIndex start (thesis 6.4).
  std::vector<raftpb::Entry> empty(1);
  bool ok = append_entry(std::move(empty));
  ASSERT(ok, "empty entry was dropped");
  // The empty entry does not count against the uncommitted limit.
  reduce_uncommitted_size({raftpb::Entry()});
}

void Raft::hup(CampaignType t) {
  if (state_ == StateType::kLeader) return;
  if (!promotable()) return;
  auto ents = raft_log_.slice(raft_log_.applied() + 1, raft_log_.committed() + 1, kNoLimit);
  ASSERT(ents.is_ok(), "unexpected error getting unapplied entries");
  if (num_of_pending_conf(*ents) != 0 && raft_log_.committed() > raft_log_.applied()) {
    // A configuration change is committed but not applied: the member may
    // not know the configuration it would lead.
    return;
  }
  info(hex_id() + " is starting a new election at term " + std::to_string(term_));
  campaign(t);
}

void Raft::campaign(CampaignType t) {
  if (!promotable()) return;
  uint64_t term;
  raftpb::MessageType vote_msg;
  if (t == CampaignType::kPreElection) {
    become_pre_candidate();
    vote_msg = raftpb::MsgPreVote;
    // Pre-votes ask for the next term without incrementing ours.
    term = term_ + 1;
  } else {
    become_candidate();
    vote_msg = raftpb::MsgVote;
    term = term_;
  }
  if (poll(id_, vote_resp_msg_type(vote_msg), true).result == quorum::VoteResult::kWon) {
    // A single-voter group wins at once.
    if (t == CampaignType::kPreElection) {
      campaign(CampaignType::kElection);
    } else {
      become_leader();
    }
    return;
  }
  std::vector<NodeId> ids;
  for (NodeId id : prs_.config.voters.ids()) ids.push_back(id);
  for (NodeId id : ids) {
    if (id == id_) continue;
    raftpb::Message m;
    m.set_term(term);
    m.set_to(id);
    m.set_type(vote_msg);
    m.set_index(raft_log_.last_index());
    m.set_log_term(raft_log_.last_term());
    if (t == CampaignType::kTransfer) m.set_context(kCampaignTransfer);
    info(hex_id() + " [logterm: " + std::to_string(raft_log_.last_term()) + ", index: " +
         std::to_string(raft_log_.last_index()) + "] sent " + raftpb::MessageType_Name(vote_msg) +
         " request to " + hex(id) + " at term " + std::to_string(term_));
    send(std::move(m));
  }
}

tracker::ProgressTracker::Tally Raft::poll(NodeId id, raftpb::MessageType t, bool granted) {
  info(hex_id() + " received " + raftpb::MessageType_Name(t) + (granted ? "" : " rejection") +
       " from " + hex(id) + " at term " + std::to_string(term_));
  prs_.record_vote(id, granted);
  return prs_.tally_votes();
}

Status Raft::step(raftpb::Message m) {
  // Term rules first (thesis 3.3, 9.6 for pre-votes, 4.2.3 for leases).
  if (m.term() == 0) {
    // Local message.
  } else if (m.term() > term_) {
    if (m.type() == raftpb::MsgVote || m.type() == raftpb::MsgPreVote) {
      bool force = m.context() == kCampaignTransfer;
      bool in_lease = check_quorum_ && lead_ != kNone && election_elapsed_ < election_timeout_;
      // With a live leader in its lease, ignore votes (a disruptive rejoining
      // member must not depose it, thesis 4.2.3), unless a transfer asked.
      if (!force && in_lease) return Status::ok();
    }
    if (m.type() == raftpb::MsgPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type() == raftpb::MsgPreVoteResp && !m.reject()) {
      // The future term of a granted pre-vote; we become that term's
      // candidate once a quorum grants.
    } else if (m.type() == raftpb::MsgApp || m.type() == raftpb::MsgHeartbeat ||
               m.type() == raftpb::MsgSnap) {
      become_follower(m.term(), m.from());
    } else {
      become_follower(m.term(), kNone);
    }
  } else if (m.term() < term_) {
    if ((check_quorum_ || pre_vote_) &&
        (m.type() == raftpb::MsgHeartbeat || m.type() == raftpb::MsgApp)) {
      // A stale leader (e.g. after a partition healed) learns of the newer
      // term from this response and steps down; without it, it could never
      // learn, since our pre-votes and check-quorum keep us from disrupting.
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MsgAppResp);
      send(std::move(resp));
    } else if (m.type() == raftpb::MsgPreVote) {
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_term(term_);
      resp.set_type(raftpb::MsgPreVoteResp);
      resp.set_reject(true);
      send(std::move(resp));
    }
    return Status::ok();
  }

  switch (m.type()) {
    case raftpb::MsgHup:
      hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return Status::ok();
    case raftpb::MsgVote:
    case raftpb::MsgPreVote: {
      // We can vote for the candidate we already voted for, or when we have
      // voted for nobody and know no leader, or for a pre-vote of a future
      // term.
      bool can_vote = vote_ == m.from() || (vote_ == kNone && lead_ == kNone) ||
                      (m.type() == raftpb::MsgPreVote && m.term() > term_);
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_type(vote_resp_msg_type(m.type()));
      if (can_vote && raft_log_.is_up_to_date(m.index(), m.log_term())) {
        // Reply with the term of the request: for a pre-vote that is the
        // future term, so the candidate can match it to its request.
        resp.set_term(m.term());
        send(std::move(resp));
        if (m.type() == raftpb::MsgVote) {
          election_elapsed_ = 0;
          vote_ = m.from();
        }
      } else {
        resp.set_term(term_);
        resp.set_reject(true);
        send(std::move(resp));
      }
      return Status::ok();
    }
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return step_leader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return step_candidate(m);
    case StateType::kFollower:
      return step_follower(m);
  }
  return Status::ok();
}

Status Raft::step_leader(raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MsgBeat:
      bcast_heartbeat();
      return Status::ok();
    case raftpb::MsgCheckQuorum: {
      // Thesis 6.2: step down when a quorum has not been heard from.
      if (auto it = prs_.progress.find(id_); it != prs_.progress.end()) {
        it->second.recent_active = true;
      }
      if (!prs_.quorum_active()) become_follower(term_, kNone);
      prs_.visit([this](NodeId id, tracker::Progress& pr) {
        if (id != id_) pr.recent_active = false;
      });
      return Status::ok();
    }
    case raftpb::MsgProp: {
      ASSERT(m.entries_size() > 0, "stepped empty MsgProp");
      if (prs_.progress.count(id_) == 0) {
        // Removed from the configuration while leader: drop proposals.
        return err_proposal_dropped();
      }
      if (lead_transferee_ != kNone) return err_proposal_dropped();
      for (int i = 0; i < m.entries_size(); ++i) {
        raftpb::Entry* e = m.mutable_entries(i);
        std::optional<raftpb::ConfChangeV2> cc;
        if (e->type() == raftpb::EntryConfChange) {
          raftpb::ConfChange v1;
          ASSERT(v1.ParseFromString(e->data()), "malformed ConfChange proposal");
          cc = as_v2(v1);
        } else if (e->type() == raftpb::EntryConfChangeV2) {
          raftpb::ConfChangeV2 v2;
          ASSERT(v2.ParseFromString(e->data()), "malformed ConfChangeV2 proposal");
          cc = std::move(v2);
        }
        if (!cc) continue;
        bool already_pending = pending_conf_index_ > raft_log_.applied();
        bool already_joint = prs_.config.voters.joint();
        bool wants_leave_joint = cc->changes_size() == 0;
        // At most one change in flight; a joint configuration must be left
        // before another change; only a joint one can be left.
        if (already_pending || (already_joint && !wants_leave_joint) ||
            (!already_joint && wants_leave_joint)) {
          *e = raftpb::Entry();  // refused: replaced by an empty normal entry
        } else {
          pending_conf_index_ = raft_log_.last_index() + static_cast<uint64_t>(i) + 1;
        }
      }
      std::vector<raftpb::Entry> ents(m.entries().begin(), m.entries().end());
      if (!append_entry(std::move(ents))) return err_proposal_dropped();
      bcast_append();
      return Status::ok();
    }
    case raftpb::MsgReadIndex: {
      if (prs_.is_singleton()) {
        // A single voter is its own quorum.
        raftpb::Message resp = response_to_read_index_req(m, raft_log_.committed());
        if (resp.to() != kNone) send(std::move(resp));
        return Status::ok();
      }
      // Thesis 6.4: a new leader serves reads only after committing an
      // entry of its term, so its commit index is current.
      if (!committed_entry_in_current_term()) {
        pending_read_index_messages_.push_back(m);
        return Status::ok();
      }
      send_read_index_response(m);
      return Status::ok();
    }
    default:
      break;
  }

  auto it = prs_.progress.find(m.from());
  if (it == prs_.progress.end()) return Status::ok();
  tracker::Progress& pr = it->second;
  switch (m.type()) {
    case raftpb::MsgAppResp: {
      pr.recent_active = true;
      if (m.reject()) {
        // Fast backtracking: the follower hints at the last index whose
        // term is <= the term we sent (reject_hint, log_term); skip every
        // index of ours whose term is above that in one step.
        uint64_t next_probe = m.reject_hint();
        if (m.log_term() > 0)
          next_probe = raft_log_.find_conflict_by_term(m.reject_hint(), m.log_term());
        if (pr.maybe_decr_to(m.index(), next_probe)) {
          if (pr.state == tracker::ProgressState::kReplicate) pr.become_probe();
          send_append(m.from());
        }
      } else {
        bool old_paused = pr.is_paused();
        if (pr.maybe_update(m.index())) {
          if (pr.state == tracker::ProgressState::kProbe) {
            pr.become_replicate();
          } else if (pr.state == tracker::ProgressState::kSnapshot &&
                     pr.match >= pr.pending_snapshot) {
            pr.become_probe();
            pr.become_replicate();
          } else if (pr.state == tracker::ProgressState::kReplicate) {
            pr.inflights.free_le(m.index());
          }
          if (maybe_commit()) {
            release_pending_read_index_messages();
            bcast_append();
          } else if (old_paused) {
            // The follower was paused and may now take more.
            send_append(m.from());
          }
          // Keep sending while the window allows, so a large backlog drains
          // without waiting for more acknowledgements.
          while (maybe_send_append(m.from(), false)) {
          }
          if (m.from() == lead_transferee_ &&
              progress_of(m.from()).match == raft_log_.last_index()) {
            send_timeout_now(m.from());
          }
        }
      }
      return Status::ok();
    }
    case raftpb::MsgHeartbeatResp: {
      pr.recent_active = true;
      pr.probe_sent = false;
      // A full window may be stuck behind lost messages: free one slot.
      if (pr.state == tracker::ProgressState::kReplicate && pr.inflights.full()) {
        pr.inflights.free_first_one();
      }
      if (pr.match < raft_log_.last_index()) send_append(m.from());
      if (read_only_.option() != ReadOnlyOption::kSafe || m.context().empty()) {
        return Status::ok();
      }
      const auto* acks = read_only_.recv_ack(m.from(), m.context());
      if (acks == nullptr || prs_.config.voters.vote_result(*acks) != quorum::VoteResult::kWon) {
        return Status::ok();
      }
      for (ReadIndexStatus& rs : read_only_.advance(m)) {
        raftpb::Message resp = response_to_read_index_req(rs.req, rs.index);
        if (resp.to() != kNone) send(std::move(resp));
      }
      return Status::ok();
    }
    case raftpb::MsgSnapStatus:
      if (pr.state != tracker::ProgressState::kSnapshot) return Status::ok();
      if (m.reject()) pr.pending_snapshot = 0;
      // Either way, probe from here; wait for a heartbeat response (or the
      // follower's append response) before sending again.
      pr.become_probe();
      pr.probe_sent = true;
      return Status::ok();
    case raftpb::MsgUnreachable:
      // Optimistic pipelining is pointless to an unreachable member.
      if (pr.state == tracker::ProgressState::kReplicate) pr.become_probe();
      return Status::ok();
    case raftpb::MsgTransferLeader: {
      if (pr.is_learner) return Status::ok();
      NodeId transferee = m.from();
      if (lead_transferee_ != kNone) {
        if (lead_transferee_ == transferee) return Status::ok();  // already underway
        abort_leader_transfer();
      }
      if (transferee == id_) return Status::ok();
      // The transfer must finish within an election timeout (thesis 3.10).
      election_elapsed_ = 0;
      lead_transferee_ = transferee;
      if (pr.match == raft_log_.last_index()) {
        send_timeout_now(transferee);
      } else {
        send_append(transferee);
      }
      return Status::ok();
    }
    default:
      return Status::ok();
  }
}

Status Raft::step_candidate(raftpb::Message& m) {
  raftpb::MessageType my_vote_resp =
      state_ == StateType::kPreCandidate ? raftpb::MsgPreVoteResp : raftpb::MsgVoteResp;
  switch (m.type()) {
    case raftpb::MsgProp:
      return err_proposal_dropped();
    case raftpb::MsgApp:
      become_follower(m.term(), m.from());
      handle_append_entries(m);
      return Status::ok();
    case raftpb::MsgHeartbeat:
      become_follower(m.term(), m.from());
      handle_heartbeat(m);
      return Status::ok();
    case raftpb::MsgSnap:
      become_follower(m.term(), m.from());
      handle_snapshot(m);
      return Status::ok();
    default:
      break;
  }
  if (m.type() == my_vote_resp) {
    auto tally = poll(m.from(), m.type(), !m.reject());
    if (tally.result == quorum::VoteResult::kWon) {
      if (state_ == StateType::kPreCandidate) {
        campaign(CampaignType::kElection);
      } else {
        become_leader();
        bcast_append();
      }
    } else if (tally.result == quorum::VoteResult::kLost) {
      // A lost pre-vote keeps our term; a lost vote keeps the new one.
      become_follower(term_, kNone);
    }
  }
  return Status::ok();
}

Status Raft::step_follower(raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MsgProp:
      if (lead_ == kNone || disable_proposal_forwarding_) return err_proposal_dropped();
      m.set_to(lead_);
      send(std::move(m));
      return Status::ok();
    case raftpb::MsgApp:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_append_entries(m);
      return Status::ok();
    case raftpb::MsgHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_heartbeat(m);
      return Status::ok();
    case raftpb::MsgSnap:
      election_elapsed_ = 0;
      lead_ = m.from();
      handle_snapshot(m);
      return Status::ok();
    case raftpb::MsgTransferLeader:
      if (lead_ == kNone) return Status::ok();
      m.set_to(lead_);
      send(std::move(m));
      return Status::ok();
    case raftpb::MsgTimeoutNow:
      // The leader hands over: campaign at once, bypassing pre-vote and the
      // lease check of the other members. Through hup(), as etcd 3.5 does: a
      // member with a committed but unapplied configuration change must not
      // campaign, whatever triggered the election.
      hup(CampaignType::kTransfer);
      return Status::ok();
    case raftpb::MsgReadIndex:
      if (lead_ == kNone) return Status::ok();
      m.set_to(lead_);
      send(std::move(m));
      return Status::ok();
    case raftpb::MsgReadIndexResp:
      if (m.entries_size() != 1) return Status::ok();
      read_states_.push_back(ReadState{m.index(), m.entries(0).data()});
      return Status::ok();
    default:
      return Status::ok();
  }
}

void Raft::handle_append_entries(const raftpb::Message& m) {
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MsgAppResp);
  if (m.index() < raft_log_.committed()) {
    resp.set_index(raft_log_.committed());
    send(std::move(resp));
    return;
  }
  std::vector<raftpb::Entry> ents(m.entries().begin(), m.entries().end());
  if (auto last = raft_log_.maybe_append(m.index(), m.log_term(), m.commit(), ents)) {
    resp.set_index(*last);
    send(std::move(resp));
    return;
  }
  // Reject with a hint for fast backtracking: the largest index <= m.index
  // whose term is <= m.log_term. The leader skips past every entry of a
  // term we cannot match, instead of probing one index at a time.
  uint64_t hint_index = std::min(m.index(), raft_log_.last_index());
  hint_index = raft_log_.find_conflict_by_term(hint_index, m.log_term());
  auto hint_term = raft_log_.term(hint_index);
  ASSERT(hint_term.is_ok(), "term(" + std::to_string(hint_index) + ") must be valid");
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(hint_index);
  resp.set_log_term(*hint_term);
  send(std::move(resp));
}

void Raft::handle_heartbeat(const raftpb::Message& m) {
  raft_log_.commit_to(m.commit());
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MsgHeartbeatResp);
  resp.set_context(m.context());
  send(std::move(resp));
}

void Raft::handle_snapshot(const raftpb::Message& m) {
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(raftpb::MsgAppResp);
  if (restore(m.snapshot())) {
    resp.set_index(raft_log_.last_index());
  } else {
    resp.set_index(raft_log_.committed());
  }
  send(std::move(resp));
}

bool Raft::restore(const raftpb::Snapshot& s) {
  if (s.metadata().index() <= raft_log_.committed()) return false;
  if (state_ != StateType::kFollower) {
    // Defensive, as etcd: only followers restore; force a new election.
    become_follower(term_ + 1, kNone);
    return false;
  }
  const raftpb::ConfState& cs = s.metadata().conf_state();
  bool found = std::find(cs.voters().begin(), cs.voters().end(), id_) != cs.voters().end() ||
               std::find(cs.learners().begin(), cs.learners().end(), id_) != cs.learners().end() ||
               std::find(cs.voters_outgoing().begin(), cs.voters_outgoing().end(), id_) !=
                   cs.voters_outgoing().end();
  if (!found) return false;  // a snapshot of a configuration without us
  if (raft_log_.match_term(s.metadata().index(), s.metadata().term())) {
    // We have the entries: fast-forward the commit index instead.
    raft_log_.commit_to(s.metadata().index());
    return false;
  }
  raft_log_.restore(s);
  auto restored = confchange::restore(cs, raft_log_.last_index(), prs_.max_inflight());
  ASSERT(restored.is_ok(), "unable to restore config: " + restored.status().message());
  prs_ = tracker::ProgressTracker(prs_.max_inflight());
  switch_to_config(std::move(restored->config), std::move(restored->progress));
  tracker::Progress& pr = progress_of(id_);
  pr.maybe_update(pr.next - 1);
  return true;
}

bool Raft::promotable() const {
  auto it = prs_.progress.find(id_);
  return it != prs_.progress.end() && !it->second.is_learner && !raft_log_.has_pending_snapshot();
}

raftpb::ConfState Raft::apply_conf_change(const raftpb::ConfChangeV2& cc) {
  confchange::Changer changer(prs_, raft_log_.last_index());
  Result<confchange::Outcome> out = [&]() -> Result<confchange::Outcome> {
    std::vector<raftpb::ConfChangeSingle> changes(cc.changes().begin(), cc.changes().end());
    if (leave_joint(cc)) return changer.leave_joint();
    if (auto auto_leave = enter_joint(cc)) return changer.enter_joint(*auto_leave, changes);
    return changer.simple(changes);
  }();
  ASSERT(out.is_ok(), "invalid configuration change: " + out.status().message());
  return switch_to_config(std::move(out->config), std::move(out->progress));
}

raftpb::ConfState Raft::switch_to_config(tracker::Config cfg, tracker::ProgressMap prs) {
  prs_.config = std::move(cfg);
  prs_.progress = std::move(prs);
  info(hex_id() + " switched to configuration " + prs_.config.to_string());
  raftpb::ConfState cs = prs_.conf_state();
  auto it = prs_.progress.find(id_);
  bool ok = it != prs_.progress.end();
  is_learner_ = ok && it->second.is_learner;
  if ((!ok || is_learner_) && state_ == StateType::kLeader) {
    // The leader was removed or demoted. It keeps leading until the change
    // is committed (thesis 4.2.2); the application is expected to step it
    // down (e.g. by a leadership transfer or by stopping the member).
    return cs;
  }
  if (state_ != StateType::kLeader || cs.voters_size() == 0) return cs;
  // The quorum may have changed: commit what the new one allows, and start
  // replicating to new members.
  if (maybe_commit()) {
    bcast_append();
  } else {
    prs_.visit([this](NodeId id, tracker::Progress&) {
      if (id != id_) maybe_send_append(id, false);
    });
  }
  // A transferee that was removed or demoted to learner can never win.
  if (lead_transferee_ != kNone && prs_.config.voters.ids().count(lead_transferee_) == 0) {
    abort_leader_transfer();
  }
  return cs;
}

void Raft::load_state(const raftpb::HardState& hs) {
  ASSERT(hs.commit() >= raft_log_.committed() && hs.commit() <= raft_log_.last_index(),
         "hard state commit is out of range");
  raft_log_.set_committed(hs.commit());
  term_ = hs.term();
  vote_ = hs.vote();
}

void Raft::reset_randomized_election_timeout() {
  randomized_election_timeout_ =
      election_timeout_ + static_cast<int>(rng_.uniform(static_cast<uint64_t>(election_timeout_)));
}

void Raft::send_timeout_now(NodeId to) {
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MsgTimeoutNow);
  send(std::move(m));
}

bool Raft::committed_entry_in_current_term() const {
  return raft_log_.zero_term_on_err_compacted(raft_log_.committed()) == term_;
}

raftpb::Message Raft::response_to_read_index_req(const raftpb::Message& req, uint64_t read_index) {
  if (req.from() == kNone || req.from() == id_) {
    read_states_.push_back(ReadState{read_index, req.entries(0).data()});
    return raftpb::Message();
  }
  raftpb::Message resp;
  resp.set_type(raftpb::MsgReadIndexResp);
  resp.set_to(req.from());
  resp.set_index(read_index);
  *resp.mutable_entries() = req.entries();
  return resp;
}

void Raft::send_read_index_response(const raftpb::Message& m) {
  if (read_only_.option() == ReadOnlyOption::kSafe) {
    read_only_.add_request(raft_log_.committed(), m);
    // The leader acknowledges its own request.
    read_only_.recv_ack(id_, m.entries(0).data());
    bcast_heartbeat_with_ctx(m.entries(0).data());
    return;
  }
  raftpb::Message resp = response_to_read_index_req(m, raft_log_.committed());
  if (resp.to() != kNone) send(std::move(resp));
}

void Raft::release_pending_read_index_messages() {
  if (!committed_entry_in_current_term()) return;
  auto pending = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const auto& m : pending) send_read_index_response(m);
}

bool Raft::increase_uncommitted_size(const std::vector<raftpb::Entry>& ents) {
  uint64_t s = 0;
  for (const auto& e : ents) s += payload_size(e);
  if (uncommitted_size_ > 0 && s > 0 && uncommitted_size_ + s > max_uncommitted_size_) return false;
  uncommitted_size_ += s;
  return true;
}

void Raft::reduce_uncommitted_size(const std::vector<raftpb::Entry>& ents) {
  if (uncommitted_size_ == 0) return;
  uint64_t s = 0;
  for (const auto& e : ents) s += payload_size(e);
  uncommitted_size_ = s > uncommitted_size_ ? 0 : uncommitted_size_ - s;
}

void Raft::advance(uint64_t applied_cursor, const std::vector<raftpb::Entry>& persisted_entries,
                   const raftpb::Snapshot& persisted_snapshot,
                   const std::vector<raftpb::Entry>& committed_entries) {
  reduce_uncommitted_size(committed_entries);
  if (applied_cursor > 0) {
    uint64_t old_applied = raft_log_.applied();
    raft_log_.applied_to(applied_cursor);
    // Auto-leave a joint configuration once its entry is applied.
    if (prs_.config.auto_leave && old_applied <= pending_conf_index_ &&
        applied_cursor >= pending_conf_index_ && state_ == StateType::kLeader) {
      raftpb::Entry e;
      e.set_type(raftpb::EntryConfChangeV2);
      e.set_data(gogo::encode(raftpb::ConfChangeV2()));  // etcd's data: 08 00
      bool ok = append_entry({e});
      ASSERT(ok, "refused un-refusable auto-leaving ConfChangeV2");
      pending_conf_index_ = raft_log_.last_index();
    }
  }
  if (!persisted_entries.empty()) {
    const raftpb::Entry& e = persisted_entries.back();
    raft_log_.stable_to(e.index(), e.term());
  }
  if (!is_empty_snap(persisted_snapshot)) {
    raft_log_.stable_snap_to(persisted_snapshot.metadata().index());
  }
}

}  // namespace etcd::raft
