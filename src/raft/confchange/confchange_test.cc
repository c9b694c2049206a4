#include "raft/confchange/confchange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace etcd::raft::confchange {
namespace {

using tracker::Progress;
using tracker::ProgressTracker;

// ---------------------------------------------------------------------------
// Scripted scenarios (those of etcd's confchange/testdata). As in etcd's
// harness the tracker starts empty with max_inflight 10, and the last index
// handed to the Changer is 0 for the first step and grows by one with every
// step (failed ones included), so `next` of a Progress tells in which step it
// was created. A step's output is either the error text, or the resulting
// Config followed by one line per Progress.

enum class Op { kSimple, kEnterJoint, kEnterJointAutoLeave, kLeaveJoint };

struct Step {
  Op op;
  std::string changes;  // etcd's compact syntax, e.g. "v1 l2 r3 u4"
  std::string want;
};

std::string op_name(Op op) {
  switch (op) {
    case Op::kSimple:
      return "simple";
    case Op::kEnterJoint:
      return "enter-joint";
    case Op::kEnterJointAutoLeave:
      return "enter-joint autoleave=true";
    case Op::kLeaveJoint:
      return "leave-joint";
  }
  return "?";
}

void run_script(const std::vector<Step>& steps) {
  ProgressTracker t(10);
  uint64_t last_index = 0;
  for (size_t i = 0; i < steps.size(); ++i, ++last_index) {
    const Step& step = steps[i];
    SCOPED_TRACE("step " + std::to_string(i) + ": " + op_name(step.op) + " " + step.changes);
    auto changes = parse_changes(step.changes);
    ASSERT_TRUE(changes.is_ok()) << changes.status().to_string();
    const Changer changer(t, last_index);
    Result<Outcome> r = invalid_argument("unreached");
    switch (step.op) {
      case Op::kSimple:
        r = changer.simple(*changes);
        break;
      case Op::kEnterJoint:
        r = changer.enter_joint(false, *changes);
        break;
      case Op::kEnterJointAutoLeave:
        r = changer.enter_joint(true, *changes);
        break;
      case Op::kLeaveJoint:
        ASSERT_TRUE(changes->empty()) << "leave-joint takes no changes";
        r = changer.leave_joint();
        break;
    }
    std::string got;
    if (r.is_ok()) {
      t.config = std::move(r->config);
      t.progress = std::move(r->progress);
      got = t.config.to_string() + "\n" + tracker::to_string(t.progress);
    } else {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      got = r.status().message() + "\n";
    }
    EXPECT_EQ(got, step.want);
  }
}

TEST(ConfChangeScript, SimpleSafety) {
  run_script({
      {Op::kSimple, "l1", "removed all voters\n"},
      {Op::kSimple, "v1",
       "voters=(1)\n"
       "1: StateProbe match=0 next=1\n"},
      {Op::kSimple, "v2 l3",
       "voters=(1 2) learners=(3)\n"
       "1: StateProbe match=0 next=1\n"
       "2: StateProbe match=0 next=2\n"
       "3: StateProbe match=0 next=2 learner\n"},
      {Op::kSimple, "r1 v5", "more than one voter changed without entering joint config\n"},
      {Op::kSimple, "r1 r2", "removed all voters\n"},
      {Op::kSimple, "v3 v4", "more than one voter changed without entering joint config\n"},
      {Op::kSimple, "l1 v5", "more than one voter changed without entering joint config\n"},
      {Op::kSimple, "l1 l2", "removed all voters\n"},
      {Op::kSimple, "l2 l3 l4 l5",
       "voters=(1) learners=(2 3 4 5)\n"
       "1: StateProbe match=0 next=1\n"
       "2: StateProbe match=0 next=2 learner\n"
       "3: StateProbe match=0 next=2 learner\n"
       "4: StateProbe match=0 next=8 learner\n"
       "5: StateProbe match=0 next=8 learner\n"},
      {Op::kSimple, "r1", "removed all voters\n"},
      {Op::kSimple, "r2 r3 r4 r5",
       "voters=(1)\n"
       "1: StateProbe match=0 next=1\n"},
  });
}

TEST(ConfChangeScript, SimpleIdempotency) {
  run_script({
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      {Op::kSimple, "v2",
       "voters=(1 2)\n"
       "1: StateProbe match=0 next=0\n"
       "2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "l1",
       "voters=(2) learners=(1)\n"
       "1: StateProbe match=0 next=0 learner\n"
       "2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "l1",
       "voters=(2) learners=(1)\n"
       "1: StateProbe match=0 next=0 learner\n"
       "2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "r1", "voters=(2)\n2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "r1", "voters=(2)\n2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "v3",
       "voters=(2 3)\n"
       "2: StateProbe match=0 next=2\n"
       "3: StateProbe match=0 next=7\n"},
      {Op::kSimple, "r3", "voters=(2)\n2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "r3", "voters=(2)\n2: StateProbe match=0 next=2\n"},
      {Op::kSimple, "r4", "voters=(2)\n2: StateProbe match=0 next=2\n"},
  });
}

TEST(ConfChangeScript, SimplePromoteDemote) {
  const std::string three_voters =
      "voters=(1 2 3)\n"
      "1: StateProbe match=0 next=0\n"
      "2: StateProbe match=0 next=1\n"
      "3: StateProbe match=0 next=2\n";
  const std::string two_demoted =
      "voters=(1 3) learners=(2)\n"
      "1: StateProbe match=0 next=0\n"
      "2: StateProbe match=0 next=1 learner\n"
      "3: StateProbe match=0 next=2\n";
  run_script({
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      {Op::kSimple, "v2",
       "voters=(1 2)\n"
       "1: StateProbe match=0 next=0\n"
       "2: StateProbe match=0 next=1\n"},
      {Op::kSimple, "v3", three_voters},
      // Demoting and promoting again in one change is pointless but legal.
      {Op::kSimple, "l1 v1", three_voters},
      {Op::kSimple, "l2", two_demoted},
      {Op::kSimple, "v2 l2", two_demoted},
      {Op::kSimple, "v2", three_voters},
  });
}

TEST(ConfChangeScript, JointSafety) {
  run_script({
      {Op::kLeaveJoint, "", "can't leave a non-joint config\n"},
      {Op::kEnterJoint, "", "can't make a zero-voter config joint\n"},
      {Op::kEnterJoint, "v1", "can't make a zero-voter config joint\n"},
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=3\n"},
      {Op::kLeaveJoint, "", "can't leave a non-joint config\n"},
      {Op::kEnterJoint, "", "voters=(1)&&(1)\n1: StateProbe match=0 next=3\n"},
      {Op::kEnterJoint, "", "config is already joint\n"},
      {Op::kLeaveJoint, "", "voters=(1)\n1: StateProbe match=0 next=3\n"},
      {Op::kLeaveJoint, "", "can't leave a non-joint config\n"},
      {Op::kEnterJoint, "r1 v2 v3 l4",
       "voters=(2 3)&&(1) learners=(4)\n"
       "1: StateProbe match=0 next=3\n"
       "2: StateProbe match=0 next=9\n"
       "3: StateProbe match=0 next=9\n"
       "4: StateProbe match=0 next=9 learner\n"},
      {Op::kEnterJoint, "", "config is already joint\n"},
      {Op::kEnterJoint, "v12", "config is already joint\n"},
      {Op::kSimple, "l15", "can't apply simple config change in joint config\n"},
      {Op::kLeaveJoint, "",
       "voters=(2 3) learners=(4)\n"
       "2: StateProbe match=0 next=9\n"
       "3: StateProbe match=0 next=9\n"
       "4: StateProbe match=0 next=9 learner\n"},
      {Op::kSimple, "l9",
       "voters=(2 3) learners=(4 9)\n"
       "2: StateProbe match=0 next=9\n"
       "3: StateProbe match=0 next=9\n"
       "4: StateProbe match=0 next=9 learner\n"
       "9: StateProbe match=0 next=14 learner\n"},
  });
}

TEST(ConfChangeScript, JointAutoLeave) {
  const std::string joint_progress =
      "1: StateProbe match=0 next=0\n"
      "2: StateProbe match=0 next=1\n"
      "3: StateProbe match=0 next=1\n";
  run_script({
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      {Op::kEnterJointAutoLeave, "v2 v3", "voters=(1 2 3)&&(1) autoleave\n" + joint_progress},
      // Entering twice fails whatever the flag.
      {Op::kEnterJoint, "", "config is already joint\n"},
      {Op::kLeaveJoint, "", "voters=(1 2 3)\n" + joint_progress},
  });
}

TEST(ConfChangeScript, JointIdempotency) {
  run_script({
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      // Removing absent nodes, adding twice etc. is harmless.
      {Op::kEnterJoint, "r1 r2 r9 v2 v3 v4 v2 v3 v4 l2 l2 r4 r4 l1 l1",
       "voters=(3)&&(1) learners=(2) learners_next=(1)\n"
       "1: StateProbe match=0 next=0\n"
       "2: StateProbe match=0 next=1 learner\n"
       "3: StateProbe match=0 next=1\n"},
      {Op::kLeaveJoint, "",
       "voters=(3) learners=(1 2)\n"
       "1: StateProbe match=0 next=0 learner\n"
       "2: StateProbe match=0 next=1 learner\n"
       "3: StateProbe match=0 next=1\n"},
  });
}

TEST(ConfChangeScript, JointLearnersNext) {
  // A demoted outgoing voter waits in learners_next and becomes a learner
  // only on leaving, keeping its Progress (next tells its creation step).
  run_script({
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      {Op::kEnterJoint, "v2 l1",
       "voters=(2)&&(1) learners_next=(1)\n"
       "1: StateProbe match=0 next=0\n"
       "2: StateProbe match=0 next=1\n"},
      {Op::kLeaveJoint, "",
       "voters=(2) learners=(1)\n"
       "1: StateProbe match=0 next=0 learner\n"
       "2: StateProbe match=0 next=1\n"},
  });
}

TEST(ConfChangeScript, UpdateIsANoOp) {
  const std::string two =
      "voters=(1 2)\n"
      "1: StateProbe match=0 next=0\n"
      "2: StateProbe match=0 next=1\n";
  run_script({
      {Op::kSimple, "v1", "voters=(1)\n1: StateProbe match=0 next=0\n"},
      {Op::kSimple, "v2 u1", two},
      {Op::kSimple, "u1 u2 u3 u1 u2 u3", two},
  });
}

TEST(ConfChangeScript, NodeZeroIsIgnored) {
  run_script({
      {Op::kSimple, "v1 r0 v0 l0", "voters=(1)\n1: StateProbe match=0 next=0\n"},
  });
}

// ---------------------------------------------------------------------------
// Targeted Changer tests.

raftpb::ConfChangeSingle cc(raftpb::ConfChangeType type, NodeId id) {
  raftpb::ConfChangeSingle c;
  c.set_type(type);
  c.set_node_id(id);
  return c;
}

std::vector<raftpb::ConfChangeSingle> changes(const std::string& text) {
  auto r = parse_changes(text);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::vector<raftpb::ConfChangeSingle>{};
}

void install(ProgressTracker& t, Result<Outcome> r) {
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  t.config = std::move(r->config);
  t.progress = std::move(r->progress);
}

// (1 2 3) with matches 11, 12, 13.
ProgressTracker three_voters() {
  ProgressTracker t(5);
  install(t, Changer(t, 10).simple(changes("v1")));
  install(t, Changer(t, 10).simple(changes("v2")));
  install(t, Changer(t, 10).simple(changes("v3")));
  for (auto& [id, pr] : t.progress) pr.match = 10 + id;
  return t;
}

TEST(Changer, NewMemberProgress) {
  ProgressTracker t(7);
  auto r = Changer(t, 42).simple(changes("v1"));
  ASSERT_TRUE(r.is_ok());
  const Progress& pr = r->progress.at(1);
  EXPECT_EQ(pr.next, 42u);  // etcd starts a new member at the last index
  EXPECT_EQ(pr.match, 0u);
  EXPECT_EQ(pr.state, tracker::ProgressState::kProbe);
  EXPECT_TRUE(pr.recent_active);
  EXPECT_FALSE(pr.is_learner);
  EXPECT_EQ(pr.inflights.capacity(), 7u);
}

TEST(Changer, LeavesTheTrackerAlone) {
  const ProgressTracker t = three_voters();
  const tracker::Config before = t.config;
  const Changer c(t, 20);
  ASSERT_TRUE(c.simple(changes("r3")).is_ok());
  ASSERT_TRUE(c.enter_joint(true, changes("v4 l1")).is_ok());
  EXPECT_EQ(t.config, before);
  EXPECT_EQ(t.progress.size(), 3u);
}

TEST(Changer, KeepsExistingProgress) {
  ProgressTracker t = three_voters();
  install(t, Changer(t, 20).enter_joint(false, changes("l2 v4")));
  EXPECT_EQ(t.config.to_string(), "voters=(1 3 4)&&(1 2 3) learners_next=(2)");
  EXPECT_EQ(t.progress.at(1).match, 11u);
  EXPECT_EQ(t.progress.at(2).match, 12u);
  EXPECT_FALSE(t.progress.at(2).is_learner);  // still an outgoing voter
  EXPECT_EQ(t.progress.at(4).next, 20u);
  install(t, Changer(t, 21).leave_joint());
  EXPECT_EQ(t.config.to_string(), "voters=(1 3 4) learners=(2)");
  EXPECT_EQ(t.progress.at(2).match, 12u);
  EXPECT_TRUE(t.progress.at(2).is_learner);
}

TEST(Changer, RemovedVoterLingersInTheOutgoingHalf) {
  ProgressTracker t = three_voters();
  install(t, Changer(t, 20).enter_joint(false, changes("r3")));
  EXPECT_EQ(t.config.to_string(), "voters=(1 2)&&(1 2 3)");
  // 3 still votes in the outgoing half, so its Progress stays.
  ASSERT_EQ(t.progress.count(3), 1u);
  EXPECT_EQ(t.progress.at(3).match, 13u);
  install(t, Changer(t, 21).leave_joint());
  EXPECT_EQ(t.config.to_string(), "voters=(1 2)");
  EXPECT_EQ(t.progress.count(3), 0u);
}

TEST(Changer, StagedDemotionCanBeRemovedAgain) {
  ProgressTracker t = three_voters();
  // Demote 3 (staged), then remove it altogether: the staging is dropped but
  // the Progress lives on while 3 is an outgoing voter.
  install(t, Changer(t, 20).enter_joint(false, changes("l3 r3")));
  EXPECT_EQ(t.config.to_string(), "voters=(1 2)&&(1 2 3)");
  EXPECT_EQ(t.progress.count(3), 1u);
  install(t, Changer(t, 21).leave_joint());
  EXPECT_EQ(t.config.to_string(), "voters=(1 2)");
  EXPECT_EQ(t.progress.count(3), 0u);
}

TEST(Changer, StagedDemotionCanBePromotedAgain) {
  ProgressTracker t = three_voters();
  install(t, Changer(t, 20).enter_joint(false, changes("l3 v3 v4")));
  EXPECT_EQ(t.config.to_string(), "voters=(1 2 3 4)&&(1 2 3)");
  EXPECT_FALSE(t.progress.at(3).is_learner);
  install(t, Changer(t, 21).leave_joint());
  EXPECT_EQ(t.config.to_string(), "voters=(1 2 3 4)");
}

TEST(Changer, LearnerJoiningAsAVoterDuringJoint) {
  ProgressTracker t = three_voters();
  install(t, Changer(t, 20).simple(changes("l4")));
  install(t, Changer(t, 21).enter_joint(true, changes("v4 r1")));
  EXPECT_EQ(t.config.to_string(), "voters=(2 3 4)&&(1 2 3) autoleave");
  EXPECT_FALSE(t.progress.at(4).is_learner);
  EXPECT_EQ(t.progress.at(4).next, 20u);
  install(t, Changer(t, 22).leave_joint());
  EXPECT_EQ(t.config.to_string(), "voters=(2 3 4)");
  EXPECT_FALSE(t.config.auto_leave);
  EXPECT_EQ(t.progress.count(1), 0u);
}

TEST(Changer, EnterJointCanRemoveAllOldVoters) {
  ProgressTracker t = three_voters();
  install(t, Changer(t, 20).enter_joint(false, changes("r1 r2 r3 v4 v5")));
  EXPECT_EQ(t.config.to_string(), "voters=(4 5)&&(1 2 3)");
  EXPECT_EQ(t.progress.size(), 5u);
  auto r = Changer(t, 21).enter_joint(false, {});
  EXPECT_EQ(r.status(), invalid_argument("config is already joint"));
  install(t, Changer(t, 21).leave_joint());
  EXPECT_EQ(t.config.to_string(), "voters=(4 5)");
  EXPECT_EQ(t.progress.size(), 2u);
}

TEST(Changer, EnterJointMustKeepAVoter) {
  const ProgressTracker t = three_voters();
  EXPECT_EQ(Changer(t, 20).enter_joint(false, changes("r1 r2 r3")).status(),
            invalid_argument("removed all voters"));
  EXPECT_EQ(Changer(t, 20).enter_joint(false, changes("l1 l2 l3")).status(),
            invalid_argument("removed all voters"));
}

TEST(Changer, UnknownChangeType) {
  const ProgressTracker t = three_voters();
  // Type 7 does not exist; proto3 keeps unknown enum values when parsing.
  raftpb::ConfChangeSingle bad;
  ASSERT_TRUE(bad.ParseFromString(std::string("\x08\x07\x10\x04", 4)));
  ASSERT_EQ(static_cast<int>(bad.type()), 7);
  EXPECT_EQ(Changer(t, 20).simple({bad}).status(), invalid_argument("unexpected conf type 7"));
  EXPECT_EQ(Changer(t, 20).enter_joint(false, {cc(raftpb::ConfChangeAddNode, 4), bad}).status(),
            invalid_argument("unexpected conf type 7"));
  // A zero node id is skipped before its type is looked at.
  raftpb::ConfChangeSingle bad_zero = bad;
  bad_zero.set_node_id(0);
  EXPECT_TRUE(Changer(t, 20).simple({bad_zero}).is_ok());
}

TEST(Changer, SimpleChecksTheVoterDelta) {
  const ProgressTracker t = three_voters();
  // Swapping a voter is two changes.
  EXPECT_EQ(Changer(t, 20).simple(changes("r1 v4")).status().message(),
            "more than one voter changed without entering joint config");
  // Adding and removing the same new voter is no change at all.
  auto r = Changer(t, 20).simple(changes("v4 r4 v5"));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->config.to_string(), "voters=(1 2 3 5)");
  // Learners do not count.
  r = Changer(t, 20).simple(changes("l4 l5 l6 r2"));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->config.to_string(), "voters=(1 3) learners=(4 5 6)");
}

// Broken invariants of the tracker handed in come back as Internal errors.
TEST(Changer, InvariantViolations) {
  struct Case {
    std::string name;
    void (*corrupt)(ProgressTracker&);
    std::string want;
  };
  const std::vector<Case> cases = {
      {"voter without progress", [](ProgressTracker& t) { t.progress.erase(2); },
       "no progress for 2"},
      {"learner without progress", [](ProgressTracker& t) { t.config.learners.insert(9); },
       "no progress for 9"},
      {"learner also a voter",
       [](ProgressTracker& t) {
         t.config.learners.insert(1);
         t.progress.at(1).is_learner = true;
       },
       "1 is in Learners and Voters[0]"},
      {"learner not marked",
       [](ProgressTracker& t) {
         t.config.voters.incoming().mutable_ids().erase(3);
         t.config.learners.insert(3);
       },
       "3 is in Learners, but is not marked as learner"},
      {"learners_next outside the outgoing half",
       [](ProgressTracker& t) {
         t.config.voters.outgoing().mutable_ids() = {1, 2};
         t.config.learners_next.insert(3);
       },
       "3 is in LearnersNext, but not Voters[1]"},
      {"learners_next already a learner",
       [](ProgressTracker& t) {
         t.config.voters.outgoing().mutable_ids() = {1, 2, 3};
         t.config.voters.incoming().mutable_ids().erase(3);
         t.config.learners_next.insert(3);
         t.progress.at(3).is_learner = true;
       },
       "3 is in LearnersNext, but is already marked as learner"},
      {"learner in the outgoing half",
       [](ProgressTracker& t) {
         t.config.voters.outgoing().mutable_ids() = {1, 2, 3};
         t.config.voters.incoming().mutable_ids().erase(3);
         t.config.learners.insert(3);
         t.progress.at(3).is_learner = true;
       },
       "3 is in Learners and Voters[1]"},
      {"auto_leave while not joint", [](ProgressTracker& t) { t.config.auto_leave = true; },
       "AutoLeave must be false when not joint"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ProgressTracker t = three_voters();
    c.corrupt(t);
    const Changer changer(t, 20);
    for (const Result<Outcome>& r :
         {changer.simple({}), changer.enter_joint(false, {}), changer.leave_joint()}) {
      EXPECT_EQ(r.status(), internal_error(c.want));
    }
  }
}

// ---------------------------------------------------------------------------
// restore()

std::vector<uint64_t> sorted(const google::protobuf::RepeatedField<uint64_t>& f) {
  std::vector<uint64_t> v(f.begin(), f.end());
  std::sort(v.begin(), v.end());
  return v;
}

raftpb::ConfState make_cs(std::vector<uint64_t> voters, std::vector<uint64_t> learners = {},
                          std::vector<uint64_t> outgoing = {},
                          std::vector<uint64_t> learners_next = {}, bool auto_leave = false) {
  raftpb::ConfState cs;
  for (uint64_t id : voters) cs.add_voters(id);
  for (uint64_t id : learners) cs.add_learners(id);
  for (uint64_t id : outgoing) cs.add_voters_outgoing(id);
  for (uint64_t id : learners_next) cs.add_learners_next(id);
  cs.set_auto_leave(auto_leave);
  return cs;
}

// Restores `cs` and checks that the result describes exactly `cs`, that every
// member has a fresh Progress of the right kind, and that the result passes
// the Changer's invariant checks.
void check_restore(const raftpb::ConfState& cs) {
  SCOPED_TRACE(cs.ShortDebugString());
  constexpr uint64_t kLastIndex = 10;
  Result<Outcome> r = restore(cs, kLastIndex, 20);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ProgressTracker t(20);
  t.config = std::move(r->config);
  t.progress = std::move(r->progress);

  const raftpb::ConfState got = t.conf_state();
  EXPECT_EQ(sorted(got.voters()), sorted(cs.voters()));
  EXPECT_EQ(sorted(got.learners()), sorted(cs.learners()));
  EXPECT_EQ(sorted(got.voters_outgoing()), sorted(cs.voters_outgoing()));
  EXPECT_EQ(sorted(got.learners_next()), sorted(cs.learners_next()));
  EXPECT_EQ(got.auto_leave(), cs.auto_leave());

  std::set<NodeId> members(cs.voters().begin(), cs.voters().end());
  members.insert(cs.voters_outgoing().begin(), cs.voters_outgoing().end());
  members.insert(cs.learners().begin(), cs.learners().end());
  members.insert(cs.learners_next().begin(), cs.learners_next().end());
  EXPECT_EQ(t.progress.size(), members.size());
  const std::set<NodeId> learners(cs.learners().begin(), cs.learners().end());
  for (const auto& [id, pr] : t.progress) {
    EXPECT_TRUE(members.contains(id)) << id;
    EXPECT_EQ(pr.is_learner, learners.contains(id)) << id;
    EXPECT_EQ(pr.next, kLastIndex) << id;
    EXPECT_EQ(pr.match, 0u) << id;
    EXPECT_EQ(pr.inflights.capacity(), 20u) << id;
  }
  // The restored configuration is one the Changer accepts to work on.
  if (t.config.voters.joint()) {
    EXPECT_TRUE(Changer(t, kLastIndex).leave_joint().is_ok());
  } else if (!t.config.voters.incoming().empty()) {
    EXPECT_TRUE(Changer(t, kLastIndex).simple({}).is_ok());
  }
}

TEST(Restore, Examples) {
  check_restore(make_cs({}));
  check_restore(make_cs({1, 2, 3}));
  check_restore(make_cs({1, 2, 3}, {4, 5, 6}));
  check_restore(make_cs({1, 2, 3}, {5}, {1, 2, 4, 6}, {4}));
  check_restore(make_cs({3, 1, 2}, {}, {2, 1}, {}, true));
}

TEST(Restore, JointExampleConfig) {
  auto r = restore(make_cs({1, 2, 3}, {5}, {1, 2, 4, 6}, {4}, true), 7, 3);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->config.to_string(),
            "voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4) autoleave");
  EXPECT_EQ(tracker::to_string(r->progress),
            "1: StateProbe match=0 next=7\n"
            "2: StateProbe match=0 next=7\n"
            "3: StateProbe match=0 next=7\n"
            "4: StateProbe match=0 next=7\n"
            "5: StateProbe match=0 next=7 learner\n"
            "6: StateProbe match=0 next=7\n");
}

TEST(Restore, EmptyConfState) {
  auto r = restore(raftpb::ConfState(), 5, 3);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->config, tracker::Config{});
  EXPECT_TRUE(r->progress.empty());
}

TEST(Restore, RejectsConfStatesWithoutVoters) {
  EXPECT_EQ(restore(make_cs({}, {1}), 5, 3).status(), invalid_argument("removed all voters"));
  EXPECT_EQ(restore(make_cs({}, {}, {1, 2}), 5, 3).status(),
            invalid_argument("removed all voters"));
}

// A random ConfState that respects the invariants: voters, learners and
// removed outgoing voters are disjoint; the outgoing half is some of the
// voters plus the removed ones; learners_next is some of the removed ones;
// auto_leave only while joint. Lists come in random order.
raftpb::ConfState random_conf_state(std::mt19937_64& rng) {
  auto below = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const int n_voters = 1 + below(5);
  const int n_learners = below(5);
  const int n_removed = below(3);
  std::vector<uint64_t> ids;
  for (int i = 1; i <= 2 * (n_voters + n_learners + n_removed); ++i) ids.push_back(i);
  std::shuffle(ids.begin(), ids.end(), rng);
  auto take = [&ids](int n) {
    std::vector<uint64_t> out(ids.begin(), ids.begin() + n);
    ids.erase(ids.begin(), ids.begin() + n);
    return out;
  };
  const std::vector<uint64_t> voters = take(n_voters);
  const std::vector<uint64_t> learners = take(n_learners);
  const std::vector<uint64_t> removed = take(n_removed);

  std::vector<uint64_t> outgoing(voters.begin(), voters.begin() + below(n_voters + 1));
  outgoing.insert(outgoing.end(), removed.begin(), removed.end());
  std::shuffle(outgoing.begin(), outgoing.end(), rng);
  std::vector<uint64_t> learners_next(removed.begin(), removed.begin() + below(n_removed + 1));
  const bool auto_leave = !outgoing.empty() && below(2) == 1;
  return make_cs(voters, learners, outgoing, learners_next, auto_leave);
}

TEST(Restore, RandomConfStatesRoundTrip) {
  std::mt19937_64 rng(20190725);
  int joint = 0;
  for (int i = 0; i < 1000; ++i) {
    const raftpb::ConfState cs = random_conf_state(rng);
    joint += cs.voters_outgoing_size() > 0 ? 1 : 0;
    check_restore(cs);
    if (HasFailure()) break;
  }
  // Both shapes were exercised (about 90% come out joint).
  EXPECT_GT(joint, 500);
  EXPECT_GT(1000 - joint, 30);
}

// ---------------------------------------------------------------------------
// parse_changes / describe_changes

TEST(ParseChanges, AllKinds) {
  auto r = parse_changes("v1 l2 r3 u4");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].type(), raftpb::ConfChangeAddNode);
  EXPECT_EQ((*r)[0].node_id(), 1u);
  EXPECT_EQ((*r)[1].type(), raftpb::ConfChangeAddLearnerNode);
  EXPECT_EQ((*r)[1].node_id(), 2u);
  EXPECT_EQ((*r)[2].type(), raftpb::ConfChangeRemoveNode);
  EXPECT_EQ((*r)[2].node_id(), 3u);
  EXPECT_EQ((*r)[3].type(), raftpb::ConfChangeUpdateNode);
  EXPECT_EQ((*r)[3].node_id(), 4u);
  EXPECT_EQ(describe_changes(*r), "v1 l2 r3 u4");
}

TEST(ParseChanges, EmptyAndSurroundingWhitespace) {
  auto r = parse_changes("");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->empty());
  r = parse_changes("  \n\t ");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->empty());
  r = parse_changes("\n v12 r0\n");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(describe_changes(*r), "v12 r0");
  r = parse_changes("v18446744073709551615");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)[0].node_id(), 18446744073709551615u);
}

TEST(ParseChanges, Errors) {
  struct Case {
    std::string input;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"v", "unknown token v"},
      {"v1 x", "unknown token x"},
      {"v1  v2", "unknown token "},  // tokens are split on single spaces
      {"x1", "unknown input: x1"},
      {"v1 V2", "unknown input: V2"},
      {"vx", "strconv.ParseUint: parsing \"x\": invalid syntax"},
      {"v-1", "strconv.ParseUint: parsing \"-1\": invalid syntax"},
      {"l1,2", "strconv.ParseUint: parsing \"1,2\": invalid syntax"},
      {"r18446744073709551616",
       "strconv.ParseUint: parsing \"18446744073709551616\": value out of range"},
  };
  for (const Case& c : cases) {
    auto r = parse_changes(c.input);
    ASSERT_FALSE(r.is_ok()) << c.input;
    EXPECT_EQ(r.status(), invalid_argument(c.want)) << c.input;
  }
}

TEST(DescribeChanges, Formats) {
  EXPECT_EQ(describe_changes({}), "");
  EXPECT_EQ(describe_changes({cc(raftpb::ConfChangeRemoveNode, 7)}), "r7");
  raftpb::ConfChangeSingle bad;
  ASSERT_TRUE(bad.ParseFromString(std::string("\x08\x09\x10\x03", 4)));
  EXPECT_EQ(describe_changes({cc(raftpb::ConfChangeAddLearnerNode, 1), bad}), "l1 unknown3");
}

}  // namespace
}  // namespace etcd::raft::confchange
