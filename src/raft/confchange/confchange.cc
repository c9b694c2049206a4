#include "raft/confchange/confchange.h"

#include <string>
#include <string_view>

namespace etcd::raft::confchange {

using tracker::Config;
using tracker::Progress;
using tracker::ProgressMap;

namespace {

// The mutable state a Changer works on: copies of the tracker's Config and
// ProgressMap, plus what a new member's Progress is initialized with.
// Changes to voters always go to the incoming half; the outgoing half only
// ever holds the voters of the configuration being left.
class Work {
 public:
  Work(const tracker::ProgressTracker& t, uint64_t last_index)
      : cfg_(t.config),
        prs_(t.progress),
        last_index_(last_index),
        max_inflight_(t.max_inflight()) {}

  Config& cfg() { return cfg_; }
  ProgressMap& prs() { return prs_; }
  std::set<NodeId>& incoming() { return cfg_.voters.incoming().mutable_ids(); }
  std::set<NodeId>& outgoing() { return cfg_.voters.outgoing().mutable_ids(); }

  Outcome take() { return Outcome{std::move(cfg_), std::move(prs_)}; }

  // Applies `changes` in order; see Changer::simple for the rules.
  Status apply(const std::vector<raftpb::ConfChangeSingle>& changes) {
    for (const raftpb::ConfChangeSingle& cc : changes) {
      if (cc.node_id() == kNone) continue;
      switch (cc.type()) {
        case raftpb::ConfChangeAddNode:
          make_voter(cc.node_id());
          break;
        case raftpb::ConfChangeAddLearnerNode:
          make_learner(cc.node_id());
          break;
        case raftpb::ConfChangeRemoveNode:
          remove(cc.node_id());
          break;
        case raftpb::ConfChangeUpdateNode:
          break;  // tracked outside of Raft
        default:
          return invalid_argument("unexpected conf type " +
                                  std::to_string(static_cast<int>(cc.type())));
      }
    }
    if (incoming().empty()) return invalid_argument("removed all voters");
    return Status::ok();
  }

 private:
  // Adds `id` to the incoming voters, promoting it if it was a learner (or a
  // staged one).
  void make_voter(NodeId id) {
    auto it = prs_.find(id);
    if (it == prs_.end()) {
      add_member(id, /*learner=*/false);
      return;
    }
    it->second.is_learner = false;
    cfg_.learners.erase(id);
    cfg_.learners_next.erase(id);
    incoming().insert(id);
  }

  // Makes `id` a learner. A voter of the outgoing half cannot be a learner
  // at the same time (the two sets must stay disjoint), so its demotion is
  // staged in learners_next and completed by leave_joint().
  void make_learner(NodeId id) {
    auto it = prs_.find(id);
    if (it == prs_.end()) {
      add_member(id, /*learner=*/true);
      return;
    }
    Progress& pr = it->second;
    if (pr.is_learner) return;
    // Drop the incoming-voter role but keep the Progress: the member stays.
    drop_incoming_roles(id);
    if (outgoing().count(id) > 0) {
      cfg_.learners_next.insert(id);
    } else {
      pr.is_learner = true;
      cfg_.learners.insert(id);
    }
  }

  // Removes `id` from the incoming half and from the learners. Its Progress
  // survives while it is still a voter of the outgoing half.
  void remove(NodeId id) {
    auto it = prs_.find(id);
    if (it == prs_.end()) return;
    drop_incoming_roles(id);
    if (outgoing().count(id) == 0) prs_.erase(it);
  }

  void drop_incoming_roles(NodeId id) {
    incoming().erase(id);
    cfg_.learners.erase(id);
    cfg_.learners_next.erase(id);
  }

  void add_member(NodeId id, bool learner) {
    if (learner) {
      cfg_.learners.insert(id);
    } else {
      incoming().insert(id);
    }
    Progress pr(last_index_, max_inflight_);
    pr.is_learner = learner;
    // A new member counts as active: otherwise check-quorum could depose the
    // leader before the member had a chance to answer.
    pr.recent_active = true;
    prs_.emplace(id, std::move(pr));
  }

  Config cfg_;
  ProgressMap prs_;
  uint64_t last_index_;
  size_t max_inflight_;
};

Status check_invariants(const Config& cfg, const ProgressMap& prs) {
  const auto& incoming = cfg.voters.incoming();
  const auto& outgoing = cfg.voters.outgoing();
  for (const std::set<NodeId>& ids : {cfg.voters.ids(), cfg.learners, cfg.learners_next}) {
    for (NodeId id : ids) {
      if (prs.count(id) == 0) return internal_error("no progress for " + std::to_string(id));
    }
  }
  for (NodeId id : cfg.learners_next) {
    const std::string s = std::to_string(id);
    if (!outgoing.contains(id)) return internal_error(s + " is in LearnersNext, but not Voters[1]");
    if (prs.at(id).is_learner) {
      return internal_error(s + " is in LearnersNext, but is already marked as learner");
    }
  }
  for (NodeId id : cfg.learners) {
    const std::string s = std::to_string(id);
    if (outgoing.contains(id)) return internal_error(s + " is in Learners and Voters[1]");
    if (incoming.contains(id)) return internal_error(s + " is in Learners and Voters[0]");
    if (!prs.at(id).is_learner) {
      return internal_error(s + " is in Learners, but is not marked as learner");
    }
  }
  if (!cfg.voters.joint()) {
    if (!cfg.learners_next.empty()) {
      return internal_error("LearnersNext must be empty when not joint");
    }
    if (cfg.auto_leave) return internal_error("AutoLeave must be false when not joint");
  }
  return Status::ok();
}

Result<Outcome> checked(Work& w) {
  RETURN_IF_ERROR(check_invariants(w.cfg(), w.prs()));
  return w.take();
}

// The number of ids in exactly one of the two sets.
size_t symmetric_difference_size(const std::set<NodeId>& a, const std::set<NodeId>& b) {
  size_t n = 0;
  for (NodeId id : a) n += b.count(id) == 0 ? 1 : 0;
  for (NodeId id : b) n += a.count(id) == 0 ? 1 : 0;
  return n;
}

raftpb::ConfChangeSingle make_change(raftpb::ConfChangeType type, NodeId id) {
  raftpb::ConfChangeSingle cc;
  cc.set_type(type);
  cc.set_node_id(id);
  return cc;
}

}  // namespace

Result<Outcome> Changer::enter_joint(bool auto_leave,
                                     const std::vector<raftpb::ConfChangeSingle>& changes) const {
  RETURN_IF_ERROR(check_invariants(tracker_.config, tracker_.progress));
  if (tracker_.config.voters.joint()) return invalid_argument("config is already joint");
  if (tracker_.config.voters.incoming().empty()) {
    // An empty configuration may grow by simple changes (bootstrap, tests),
    // but there is nothing to be joint with.
    return invalid_argument("can't make a zero-voter config joint");
  }
  Work w(tracker_, last_index_);
  // C_old becomes the outgoing half; the changes turn the incoming half into
  // C_new, giving C_old,new (Raft thesis 4.3).
  w.outgoing() = w.incoming();
  RETURN_IF_ERROR(w.apply(changes));
  w.cfg().auto_leave = auto_leave;
  return checked(w);
}

Result<Outcome> Changer::leave_joint() const {
  RETURN_IF_ERROR(check_invariants(tracker_.config, tracker_.progress));
  if (!tracker_.config.voters.joint()) return invalid_argument("can't leave a non-joint config");
  Work w(tracker_, last_index_);
  Config& cfg = w.cfg();
  // Complete the staged demotions, keeping their Progress as it is.
  for (NodeId id : cfg.learners_next) {
    cfg.learners.insert(id);
    w.prs().at(id).is_learner = true;
  }
  cfg.learners_next.clear();
  // Voters of C_old that are in no role of C_new leave the group.
  for (NodeId id : w.outgoing()) {
    if (!w.incoming().contains(id) && !cfg.learners.contains(id)) w.prs().erase(id);
  }
  w.outgoing().clear();
  cfg.auto_leave = false;
  return checked(w);
}

Result<Outcome> Changer::simple(const std::vector<raftpb::ConfChangeSingle>& changes) const {
  RETURN_IF_ERROR(check_invariants(tracker_.config, tracker_.progress));
  if (tracker_.config.voters.joint()) {
    return invalid_argument("can't apply simple config change in joint config");
  }
  Work w(tracker_, last_index_);
  RETURN_IF_ERROR(w.apply(changes));
  // Raft thesis 4.1: without joint consensus, any two majorities of the old
  // and new configurations overlap only if at most one voter changed.
  if (symmetric_difference_size(tracker_.config.voters.incoming().ids(), w.incoming()) > 1) {
    return invalid_argument("more than one voter changed without entering joint config");
  }
  return checked(w);
}

Result<Outcome> restore(const raftpb::ConfState& cs, uint64_t last_index, size_t max_inflight) {
  // Replays `cs` as changes on an empty configuration. Joint example:
  // voters=(1 2 3) voters_outgoing=(1 2 4 6) learners=(5) learners_next=(4):
  //   simple v1, simple v2, simple v4, simple v6     -> (1 2 4 6)
  //   enter_joint r1 r2 r4 r6 v1 v2 v3 l5 l4         -> (1 2 3)&&(1 2 4 6)
  // where l4 lands in learners_next since 4 is an outgoing voter. Without an
  // outgoing half, every change of the second list is a simple change.
  std::vector<raftpb::ConfChangeSingle> outgoing_ops;
  std::vector<raftpb::ConfChangeSingle> incoming_ops;
  for (uint64_t id : cs.voters_outgoing()) {
    outgoing_ops.push_back(make_change(raftpb::ConfChangeAddNode, id));
    incoming_ops.push_back(make_change(raftpb::ConfChangeRemoveNode, id));
  }
  for (uint64_t id : cs.voters()) {
    incoming_ops.push_back(make_change(raftpb::ConfChangeAddNode, id));
  }
  for (uint64_t id : cs.learners()) {
    incoming_ops.push_back(make_change(raftpb::ConfChangeAddLearnerNode, id));
  }
  for (uint64_t id : cs.learners_next()) {
    incoming_ops.push_back(make_change(raftpb::ConfChangeAddLearnerNode, id));
  }

  tracker::ProgressTracker t(max_inflight);
  auto install = [&t](Result<Outcome> r) -> Status {
    if (!r.is_ok()) return r.status();
    t.config = std::move(r->config);
    t.progress = std::move(r->progress);
    return Status::ok();
  };
  if (outgoing_ops.empty()) {
    for (const raftpb::ConfChangeSingle& cc : incoming_ops) {
      RETURN_IF_ERROR(install(Changer(t, last_index).simple({cc})));
    }
  } else {
    for (const raftpb::ConfChangeSingle& cc : outgoing_ops) {
      RETURN_IF_ERROR(install(Changer(t, last_index).simple({cc})));
    }
    RETURN_IF_ERROR(install(Changer(t, last_index).enter_joint(cs.auto_leave(), incoming_ops)));
  }
  return Outcome{std::move(t.config), std::move(t.progress)};
}

namespace {

// Go's strconv.ParseUint(s, 10, 64), with its error texts.
Result<uint64_t> parse_uint64(std::string_view s) {
  auto fail = [s](std::string_view why) {
    return invalid_argument("strconv.ParseUint: parsing \"" + std::string(s) +
                            "\": " + std::string(why));
  };
  if (s.empty()) return fail("invalid syntax");
  uint64_t v = 0;
  bool overflow = false;
  for (char c : s) {
    if (c < '0' || c > '9') return fail("invalid syntax");
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (kNoLimit - digit) / 10) overflow = true;
    if (!overflow) v = v * 10 + digit;
  }
  if (overflow) return fail("value out of range");
  return v;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

Result<std::vector<raftpb::ConfChangeSingle>> parse_changes(const std::string& text) {
  std::string_view rest = text;
  while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && is_space(rest.back())) rest.remove_suffix(1);

  std::vector<raftpb::ConfChangeSingle> changes;
  if (rest.empty()) return changes;
  // Tokens are separated by exactly one space, as in etcd: a doubled space
  // yields an empty (and so invalid) token.
  while (true) {
    const size_t space = rest.find(' ');
    const std::string_view tok = rest.substr(0, space);
    if (tok.size() < 2) return invalid_argument("unknown token " + std::string(tok));
    raftpb::ConfChangeType type;
    switch (tok[0]) {
      case 'v':
        type = raftpb::ConfChangeAddNode;
        break;
      case 'l':
        type = raftpb::ConfChangeAddLearnerNode;
        break;
      case 'r':
        type = raftpb::ConfChangeRemoveNode;
        break;
      case 'u':
        type = raftpb::ConfChangeUpdateNode;
        break;
      default:
        return invalid_argument("unknown input: " + std::string(tok));
    }
    Result<uint64_t> id = parse_uint64(tok.substr(1));
    if (!id.is_ok()) return id.status();
    changes.push_back(make_change(type, *id));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return changes;
}

std::string describe_changes(const std::vector<raftpb::ConfChangeSingle>& changes) {
  std::string out;
  for (const raftpb::ConfChangeSingle& cc : changes) {
    if (!out.empty()) out += ' ';
    switch (cc.type()) {
      case raftpb::ConfChangeAddNode:
        out += 'v';
        break;
      case raftpb::ConfChangeAddLearnerNode:
        out += 'l';
        break;
      case raftpb::ConfChangeRemoveNode:
        out += 'r';
        break;
      case raftpb::ConfChangeUpdateNode:
        out += 'u';
        break;
      default:
        out += "unknown";
        break;
    }
    out += std::to_string(cc.node_id());
  }
  return out;
}

}  // namespace etcd::raft::confchange
