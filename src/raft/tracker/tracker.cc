#include "raft/tracker/tracker.h"

namespace etcd::raft::tracker {

namespace {

// Reads each voter's acknowledged index from its Progress::match.
class MatchAckIndexer final : public quorum::AckedIndexer {
 public:
  explicit MatchAckIndexer(const ProgressMap& progress) : progress_(progress) {}
  std::optional<uint64_t> acked_index(NodeId id) const override {
    auto it = progress_.find(id);
    if (it == progress_.end()) return std::nullopt;
    return it->second.match;
  }

 private:
  const ProgressMap& progress_;
};

template <typename RepeatedIds>
void add_ids(const std::set<NodeId>& ids, RepeatedIds* out) {
  for (NodeId id : ids) out->Add(id);  // std::set iterates ascending
}

}  // namespace

std::string Config::to_string() const {
  std::string out = "voters=" + voters.to_string();
  if (!learners.empty()) out += " learners=" + quorum::MajorityConfig(learners).to_string();
  if (!learners_next.empty()) {
    out += " learners_next=" + quorum::MajorityConfig(learners_next).to_string();
  }
  if (auto_leave) out += " autoleave";
  return out;
}

std::string to_string(const ProgressMap& m) {
  std::string out;
  for (const auto& [id, pr] : m) out += std::to_string(id) + ": " + pr.to_string() + "\n";
  return out;
}

raftpb::ConfState ProgressTracker::conf_state() const {
  raftpb::ConfState cs;
  add_ids(config.voters.incoming().ids(), cs.mutable_voters());
  add_ids(config.voters.outgoing().ids(), cs.mutable_voters_outgoing());
  add_ids(config.learners, cs.mutable_learners());
  add_ids(config.learners_next, cs.mutable_learners_next());
  cs.set_auto_leave(config.auto_leave);
  return cs;
}

bool ProgressTracker::is_singleton() const {
  return config.voters.incoming().size() == 1 && config.voters.outgoing().empty();
}

uint64_t ProgressTracker::committed() const {
  return config.voters.committed_index(MatchAckIndexer(progress));
}

void ProgressTracker::visit(const std::function<void(NodeId, Progress&)>& f) {
  for (auto& [id, pr] : progress) f(id, pr);  // std::map iterates ids ascending
}

bool ProgressTracker::quorum_active() const {
  std::map<NodeId, bool> active;
  for (const auto& [id, pr] : progress) {
    if (!pr.is_learner) active[id] = pr.recent_active;
  }
  return config.voters.vote_result(active) == quorum::VoteResult::kWon;
}

std::vector<NodeId> ProgressTracker::voter_nodes() const {
  std::set<NodeId> ids = config.voters.ids();
  return {ids.begin(), ids.end()};
}

std::vector<NodeId> ProgressTracker::learner_nodes() const {
  return {config.learners.begin(), config.learners.end()};
}

void ProgressTracker::record_vote(NodeId id, bool granted) { votes.emplace(id, granted); }

ProgressTracker::Tally ProgressTracker::tally_votes() const {
  // Counted over tracked non-learners, so votes of members that have since
  // left the configuration do not show up in the numbers.
  Tally t;
  for (const auto& [id, pr] : progress) {
    if (pr.is_learner) continue;
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    if (it->second) {
      ++t.granted;
    } else {
      ++t.rejected;
    }
  }
  t.result = config.voters.vote_result(votes);
  return t;
}

}  // namespace etcd::raft::tracker
