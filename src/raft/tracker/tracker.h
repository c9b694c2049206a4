// The leader's (and every node's) view of the current configuration and of
// every member's progress and vote.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "raft/quorum/quorum.h"
#include "raft/tracker/progress.h"
#include "raftpb/raft.pb.h"

namespace etcd::raft::tracker {

// The active configuration (Raft thesis 4.3, etcd's tracker.Config).
struct Config {
  quorum::JointConfig voters;
  // While joint: leave the joint configuration automatically once it is
  // committed (ConfChangeTransitionAuto / JointImplicit).
  bool auto_leave = false;
  // Learners; never overlaps voters (either half).
  std::set<NodeId> learners;
  // Voters of the outgoing half being demoted to learners: they become
  // learners when the joint configuration is left.
  std::set<NodeId> learners_next;

  // "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(5) autoleave", with
  // the parts after voters only when non-empty / true.
  std::string to_string() const;
  bool operator==(const Config&) const = default;
};

using ProgressMap = std::map<NodeId, Progress>;
// One "id: progress" line per member, ids ascending (etcd's
// ProgressMap.String(), as printed by the trace tests).
std::string to_string(const ProgressMap& m);

class ProgressTracker {
 public:
  explicit ProgressTracker(size_t max_inflight) : max_inflight_(max_inflight) {}

  Config config;
  ProgressMap progress;
  std::map<NodeId, bool> votes;

  size_t max_inflight() const { return max_inflight_; }

  raftpb::ConfState conf_state() const;
  // One voter, no learners of the outgoing half: a single-node group.
  bool is_singleton() const;
  // The index a quorum of voters has acknowledged (Progress::match).
  uint64_t committed() const;
  // Calls f for every member (voters and learners), ids ascending.
  void visit(const std::function<void(NodeId, Progress&)>& f);
  // True when a quorum of voters was recently active (check-quorum); the
  // leader's own entry must be marked active by the caller.
  bool quorum_active() const;
  std::vector<NodeId> voter_nodes() const;    // ascending
  std::vector<NodeId> learner_nodes() const;  // ascending

  void reset_votes() { votes.clear(); }
  // Records the first vote of `id` (later ones are ignored).
  void record_vote(NodeId id, bool granted);
  struct Tally {
    int granted = 0;
    int rejected = 0;
    quorum::VoteResult result = quorum::VoteResult::kPending;
  };
  // Counts recorded votes of current voters and the outcome.
  Tally tally_votes() const;

 private:
  size_t max_inflight_;
};

}  // namespace etcd::raft::tracker
