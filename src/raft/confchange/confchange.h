// Configuration changes (Raft thesis 4.1 single-server changes and 4.3 joint
// consensus), computed on a copy of the tracker's configuration: the caller
// installs the returned Config and ProgressMap only if no error came back.
#pragma once

#include <utility>
#include <vector>

#include "base/status.h"
#include "raft/tracker/tracker.h"
#include "raftpb/raft.pb.h"

namespace etcd::raft::confchange {

struct Outcome {
  tracker::Config config;
  tracker::ProgressMap progress;
};

class Changer {
 public:
  // `last_index` is the leader's last log index: a new member's Progress
  // starts with next = last_index (match 0, kProbe), marked recent_active.
  // This is etcd's choice (not last_index + 1): the first probe then carries
  // the last entry, and traces (MsgApp Log:term/index) match etcd's.
  //
  // Every method first checks the tracker's configuration against the
  // invariants below and checks its own result the same way; a violation is
  // returned as an Internal error carrying etcd's text (e.g. "no progress
  // for 3", "3 is in Learners and Voters[0]"), never ASSERTed, so a caller
  // may log the bad configuration before deciding to crash:
  //   - every voter (both halves), learner and learners_next member has a
  //     Progress;
  //   - learners_next is a subset of the outgoing half and its Progress is
  //     not yet marked is_learner;
  //   - learners intersect neither half and are marked is_learner;
  //   - while not joint, learners_next is empty and auto_leave is false.
  Changer(const tracker::ProgressTracker& tracker, uint64_t last_index)
      : tracker_(tracker), last_index_(last_index) {}

  // Enters a joint configuration: outgoing = current voters, then applies
  // `changes` to the incoming half. Errors (InvalidArgument, etcd's texts):
  // "config is already joint", "can't make a zero-voter config joint",
  // "removed all voters", and those of apply().
  Result<Outcome> enter_joint(bool auto_leave,
                              const std::vector<raftpb::ConfChangeSingle>& changes) const;
  // Leaves the joint configuration: drops the outgoing half, turns
  // learners_next into learners, removes members in neither half.
  // Error: "can't leave a non-joint config".
  Result<Outcome> leave_joint() const;
  // A change of at most one voter without joint consensus. Errors: "can't
  // apply simple config change in joint config", "more than one voter
  // changed without entering joint config", "removed all voters".
  //
  // In every change list a node_id of 0 is skipped (etcd zeroes changes it
  // decided not to apply), ConfChangeUpdateNode changes nothing, and an
  // unknown type fails with "unexpected conf type N".
  Result<Outcome> simple(const std::vector<raftpb::ConfChangeSingle>& changes) const;

 private:
  const tracker::ProgressTracker& tracker_;
  uint64_t last_index_;
};

// Rebuilds a tracker configuration from a ConfState (after a restart or a
// snapshot) by replaying it as a series of changes through a Changer, as
// etcd's confchange.Restore does. `max_inflight` sizes new Progress entries.
Result<Outcome> restore(const raftpb::ConfState& cs, uint64_t last_index, size_t max_inflight);

// Parses etcd's compact change syntax used by trace tests: "v1 l2 r3 u4"
// (v = add voter, l = add learner, r = remove, u = update).
Result<std::vector<raftpb::ConfChangeSingle>> parse_changes(const std::string& text);
// The inverse, for printing.
std::string describe_changes(const std::vector<raftpb::ConfChangeSingle>& changes);

}  // namespace etcd::raft::confchange
