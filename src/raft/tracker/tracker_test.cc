#include "raft/tracker/tracker.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace etcd::raft::tracker {
namespace {

quorum::MajorityConfig majority(std::set<NodeId> ids) {
  return quorum::MajorityConfig(std::move(ids));
}

// A tracker with the given voters (incoming, outgoing) and learners, each
// member with a fresh Progress.
ProgressTracker make_tracker(std::set<NodeId> incoming, std::set<NodeId> outgoing = {},
                             std::set<NodeId> learners = {}) {
  ProgressTracker t(8);
  t.config.voters = quorum::JointConfig(majority(incoming), majority(outgoing));
  t.config.learners = learners;
  for (const auto* ids : {&incoming, &outgoing, &learners}) {
    for (NodeId id : *ids) t.progress.emplace(id, Progress(1, t.max_inflight()));
  }
  for (NodeId id : learners) t.progress.at(id).is_learner = true;
  return t;
}

std::vector<uint64_t> ids_of(const google::protobuf::RepeatedField<uint64_t>& f) {
  return {f.begin(), f.end()};
}

TEST(Config, ToString) {
  Config c;
  EXPECT_EQ(c.to_string(), "voters=()");
  c.voters = quorum::JointConfig(majority({1, 2, 3}), {});
  EXPECT_EQ(c.to_string(), "voters=(1 2 3)");
  c.learners = {5, 4};
  EXPECT_EQ(c.to_string(), "voters=(1 2 3) learners=(4 5)");
  c.voters.outgoing() = majority({1, 2, 6});
  c.learners_next = {6};
  c.auto_leave = true;
  EXPECT_EQ(c.to_string(), "voters=(1 2 3)&&(1 2 6) learners=(4 5) learners_next=(6) autoleave");
  c.learners.clear();
  EXPECT_EQ(c.to_string(), "voters=(1 2 3)&&(1 2 6) learners_next=(6) autoleave");
}

TEST(ProgressMap, ToString) {
  ProgressMap m;
  EXPECT_EQ(to_string(m), "");
  m.emplace(2, Progress(5, 4));
  m.emplace(1, Progress(3, 4));
  m.at(1).recent_active = true;
  m.at(2).recent_active = true;
  m.at(2).is_learner = true;
  EXPECT_EQ(to_string(m),
            "1: StateProbe match=0 next=3\n"
            "2: StateProbe match=0 next=5 learner\n");
}

TEST(ProgressTracker, StartsEmpty) {
  const ProgressTracker t(20);
  EXPECT_EQ(t.max_inflight(), 20u);
  EXPECT_EQ(t.config, Config{});
  EXPECT_TRUE(t.progress.empty());
  EXPECT_TRUE(t.votes.empty());
  EXPECT_FALSE(t.is_singleton());
  EXPECT_TRUE(t.voter_nodes().empty());
  EXPECT_TRUE(t.learner_nodes().empty());
  // An empty configuration has no limit on what it commits.
  EXPECT_EQ(t.committed(), kNoLimit);
}

TEST(ProgressTracker, ConfState) {
  ProgressTracker t = make_tracker({3, 1, 2}, {1, 2, 4}, {5});
  t.config.learners_next = {4};
  t.config.auto_leave = true;
  const raftpb::ConfState cs = t.conf_state();
  EXPECT_EQ(ids_of(cs.voters()), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(ids_of(cs.voters_outgoing()), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(ids_of(cs.learners()), (std::vector<uint64_t>{5}));
  EXPECT_EQ(ids_of(cs.learners_next()), (std::vector<uint64_t>{4}));
  EXPECT_TRUE(cs.auto_leave());

  const raftpb::ConfState simple = make_tracker({1}).conf_state();
  EXPECT_EQ(ids_of(simple.voters()), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(simple.voters_outgoing().empty());
  EXPECT_TRUE(simple.learners().empty());
  EXPECT_TRUE(simple.learners_next().empty());
  EXPECT_FALSE(simple.auto_leave());
}

TEST(ProgressTracker, IsSingleton) {
  EXPECT_TRUE(make_tracker({1}).is_singleton());
  EXPECT_TRUE(make_tracker({1}, {}, {2, 3}).is_singleton());  // learners don't vote
  EXPECT_FALSE(make_tracker({1, 2}).is_singleton());
  EXPECT_FALSE(make_tracker({1}, {1}).is_singleton());
  EXPECT_FALSE(make_tracker({1}, {2}).is_singleton());
}

TEST(ProgressTracker, Committed) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4});
  t.progress.at(1).match = 10;
  t.progress.at(2).match = 8;
  t.progress.at(3).match = 5;
  t.progress.at(4).match = 100;  // a learner's match never counts
  EXPECT_EQ(t.committed(), 8u);
  t.progress.at(2).match = 4;
  EXPECT_EQ(t.committed(), 5u);

  // Joint: both halves must have it.
  t.config.voters.outgoing() = majority({3, 5});
  t.progress.emplace(5, Progress(1, 8));
  t.progress.at(5).match = 9;
  EXPECT_EQ(t.committed(), 5u);
  t.progress.at(3).match = 7;  // (1 2 3) -> 7, (3 5) -> 7
  EXPECT_EQ(t.committed(), 7u);
  t.progress.at(5).match = 6;  // (3 5) -> 6
  EXPECT_EQ(t.committed(), 6u);
}

TEST(ProgressTracker, CommittedCountsMissingProgressAsUnknown) {
  ProgressTracker t = make_tracker({1, 2, 3});
  t.progress.at(1).match = 10;
  t.progress.at(2).match = 10;
  t.progress.erase(3);
  EXPECT_EQ(t.committed(), 10u);
  t.progress.erase(2);
  EXPECT_EQ(t.committed(), 0u);
}

TEST(ProgressTracker, VisitInIdOrder) {
  ProgressTracker t = make_tracker({9, 3, 7}, {}, {1, 5});
  std::vector<NodeId> seen;
  t.visit([&seen](NodeId id, Progress& pr) {
    seen.push_back(id);
    pr.match = id * 10;
  });
  EXPECT_EQ(seen, (std::vector<NodeId>{1, 3, 5, 7, 9}));
  EXPECT_EQ(t.progress.at(7).match, 70u);  // visit may modify
}

TEST(ProgressTracker, VoterAndLearnerNodes) {
  const ProgressTracker t = make_tracker({5, 1, 3}, {3, 4}, {9, 2});
  EXPECT_EQ(t.voter_nodes(), (std::vector<NodeId>{1, 3, 4, 5}));
  EXPECT_EQ(t.learner_nodes(), (std::vector<NodeId>{2, 9}));
}

TEST(ProgressTracker, QuorumActive) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4, 5});
  EXPECT_FALSE(t.quorum_active());
  t.progress.at(1).recent_active = true;
  t.progress.at(4).recent_active = true;  // learners do not count
  t.progress.at(5).recent_active = true;
  EXPECT_FALSE(t.quorum_active());
  t.progress.at(3).recent_active = true;
  EXPECT_TRUE(t.quorum_active());

  // Joint: the outgoing half (3 6 7) needs its own majority.
  t.config.voters.outgoing() = majority({3, 6, 7});
  t.progress.emplace(6, Progress(1, 8));
  t.progress.emplace(7, Progress(1, 8));
  EXPECT_FALSE(t.quorum_active());
  t.progress.at(7).recent_active = true;
  EXPECT_TRUE(t.quorum_active());
}

TEST(ProgressTracker, RecordVoteKeepsTheFirst) {
  ProgressTracker t = make_tracker({1, 2, 3});
  t.record_vote(1, true);
  t.record_vote(1, false);
  t.record_vote(2, false);
  t.record_vote(2, true);
  EXPECT_EQ(t.votes, (std::map<NodeId, bool>{{1, true}, {2, false}}));
  t.reset_votes();
  EXPECT_TRUE(t.votes.empty());
  t.record_vote(1, false);
  EXPECT_EQ(t.votes, (std::map<NodeId, bool>{{1, false}}));
}

TEST(ProgressTracker, TallyVotes) {
  ProgressTracker t = make_tracker({1, 2, 3, 4, 5}, {}, {6});
  ProgressTracker::Tally r = t.tally_votes();
  EXPECT_EQ(r.granted, 0);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_EQ(r.result, quorum::VoteResult::kPending);

  t.record_vote(1, true);
  t.record_vote(2, false);
  t.record_vote(6, true);   // a learner's vote is not counted
  t.record_vote(42, true);  // nor is that of a non-member
  r = t.tally_votes();
  EXPECT_EQ(r.granted, 1);
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.result, quorum::VoteResult::kPending);

  t.record_vote(3, true);
  t.record_vote(4, true);
  r = t.tally_votes();
  EXPECT_EQ(r.granted, 3);
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.result, quorum::VoteResult::kWon);

  ProgressTracker lost = make_tracker({1, 2, 3});
  lost.record_vote(1, false);
  lost.record_vote(2, false);
  r = lost.tally_votes();
  EXPECT_EQ(r.granted, 0);
  EXPECT_EQ(r.rejected, 2);
  EXPECT_EQ(r.result, quorum::VoteResult::kLost);
}

TEST(ProgressTracker, TallyVotesJoint) {
  ProgressTracker t = make_tracker({1, 2, 3}, {3, 4, 5});
  t.record_vote(1, true);
  t.record_vote(2, true);
  t.record_vote(3, true);
  EXPECT_EQ(t.tally_votes().result, quorum::VoteResult::kPending);
  t.record_vote(4, false);
  t.record_vote(5, false);
  const ProgressTracker::Tally r = t.tally_votes();
  EXPECT_EQ(r.granted, 3);
  EXPECT_EQ(r.rejected, 2);
  EXPECT_EQ(r.result, quorum::VoteResult::kLost);
}

}  // namespace
}  // namespace etcd::raft::tracker
