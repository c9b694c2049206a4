#include "raft/quorum/quorum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace etcd::raft::quorum {
namespace {

// In the tables below an index (or vote) of kAbsent means "this voter has
// not reported anything", which differs from reporting 0. Inputs list one
// value per distinct voter, in the order the voters first appear in cfg and
// then cfgj (scenarios from etcd's quorum/testdata).
constexpr uint64_t kAbsent = 0;

std::vector<NodeId> voter_order(const std::vector<NodeId>& cfg, const std::vector<NodeId>& cfgj) {
  std::vector<NodeId> order;
  for (const auto* half : {&cfg, &cfgj}) {
    for (NodeId id : *half) {
      if (std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
    }
  }
  return order;
}

MapAckIndexer make_acks(const std::vector<NodeId>& order, const std::vector<uint64_t>& idx) {
  EXPECT_EQ(order.size(), idx.size()) << "one index per voter";
  std::map<NodeId, uint64_t> m;
  for (size_t i = 0; i < order.size() && i < idx.size(); ++i) {
    if (idx[i] != kAbsent) m[order[i]] = idx[i];
  }
  return MapAckIndexer(std::move(m));
}

MajorityConfig majority(const std::vector<NodeId>& ids) {
  return MajorityConfig(std::set<NodeId>(ids.begin(), ids.end()));
}

// The highest index that at least a majority has acknowledged, by brute
// force over every candidate index.
uint64_t brute_force_committed(const MajorityConfig& c, const AckedIndexer& l) {
  if (c.empty()) return kNoLimit;
  std::vector<uint64_t> candidates{0};
  for (NodeId id : c.ids()) candidates.push_back(l.acked_index(id).value_or(0));
  uint64_t best = 0;
  for (uint64_t cand : candidates) {
    size_t have = 0;
    for (NodeId id : c.ids()) have += l.acked_index(id).value_or(0) >= cand ? 1 : 0;
    if (have >= c.size() / 2 + 1) best = std::max(best, cand);
  }
  return best;
}

struct MajorityCommitCase {
  std::vector<NodeId> cfg;
  std::vector<uint64_t> idx;
  uint64_t want;
};

TEST(MajorityConfig, CommittedIndex) {
  const std::vector<MajorityCommitCase> cases = {
      // The empty config commits everything (so a joint config with an empty
      // half behaves as the other half).
      {{}, {}, kNoLimit},
      {{1}, {kAbsent}, 0},
      {{1}, {12}, 12},
      {{1, 2}, {kAbsent, kAbsent}, 0},
      {{1, 2}, {12, kAbsent}, 0},
      {{1, 2}, {12, 5}, 5},
      {{1, 2, 3}, {kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {12, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {12, 5, kAbsent}, 5},
      {{1, 2, 3}, {12, 5, 6}, 6},
      {{1, 2, 3}, {12, 5, 4}, 5},
      {{1, 2, 3}, {5, 5, kAbsent}, 5},
      {{1, 2, 3}, {5, 5, 12}, 5},
      {{1, 2, 3}, {100, 101, 103}, 101},
      {{1, 2, 3, 4, 5}, {101, 104, 103, 103, kAbsent}, 103},
      {{1, 2, 3, 4, 5}, {101, 102, 103, 103, kAbsent}, 102},
      // Larger than etcd's on-stack fast path.
      {{1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1}, 4},
      {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, kAbsent, kAbsent, kAbsent, kAbsent}, 5},
  };
  for (const MajorityCommitCase& tc : cases) {
    const MajorityConfig c = majority(tc.cfg);
    const MapAckIndexer l = make_acks(tc.cfg, tc.idx);
    SCOPED_TRACE(c.to_string() + "\n" + c.describe(l));
    const uint64_t got = c.committed_index(l);
    EXPECT_EQ(got, tc.want);
    // Alternative computations must agree.
    EXPECT_EQ(brute_force_committed(c, l), got);
    EXPECT_EQ(JointConfig(c, MajorityConfig()).committed_index(l), got);
    EXPECT_EQ(JointConfig(c, c).committed_index(l), got);
    EXPECT_EQ(JointConfig(MajorityConfig(), c).committed_index(l), got);
  }
}

// Lowering the index of a voter that is already below the committed index
// cannot change the outcome.
TEST(MajorityConfig, CommittedIndexStableUnderLoweringLaggards) {
  const MajorityConfig c = majority({1, 2, 3, 4, 5});
  const std::map<NodeId, uint64_t> acks = {{1, 101}, {2, 104}, {3, 103}, {4, 103}, {5, 20}};
  const uint64_t committed = c.committed_index(MapAckIndexer(acks));
  ASSERT_EQ(committed, 103u);
  for (const auto& [id, idx] : acks) {
    if (idx >= committed) continue;
    for (uint64_t lowered : {idx - 1, uint64_t{0}}) {
      auto m = acks;
      m[id] = lowered;
      EXPECT_EQ(c.committed_index(MapAckIndexer(m)), committed) << "id " << id;
    }
  }
}

struct JointCommitCase {
  std::vector<NodeId> cfg;
  std::vector<NodeId> cfgj;  // empty: the zero outgoing half
  std::vector<uint64_t> idx;
  uint64_t want;
};

TEST(JointConfig, CommittedIndex) {
  const std::vector<JointCommitCase> cases = {
      // Joint with the zero config is the plain majority.
      {{1, 2, 3}, {}, {100, 101, 99}, 100},
      // Non-overlapping singletons.
      {{1}, {2}, {kAbsent, kAbsent}, 0},
      {{1}, {2}, {100, kAbsent}, 0},
      {{1}, {2}, {13, 100}, 13},
      // Identical singletons.
      {{1}, {1}, {kAbsent}, 0},
      {{1}, {1}, {100}, 100},
      // Two nodes joint with a disjoint single node.
      {{1, 3}, {2}, {kAbsent, kAbsent, kAbsent}, 0},
      {{1, 3}, {2}, {100, kAbsent, kAbsent}, 0},
      {{1, 3}, {2}, {100, kAbsent, 50}, 0},
      {{1, 3}, {2}, {100, 45, 50}, 45},
      // Two nodes joint with an overlapping single node.
      {{1, 2}, {2}, {kAbsent, kAbsent}, 0},
      {{1, 2}, {2}, {100, kAbsent}, 0},
      {{1, 2}, {2}, {kAbsent, 100}, 0},
      {{1, 2}, {2}, {50, 100}, 50},
      {{1, 2}, {2}, {100, 50}, 50},
      // Disjoint two-node halves.
      {{1, 2}, {3, 4}, {50, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2}, {3, 4}, {50, kAbsent, 49, kAbsent}, 0},
      {{1, 2}, {3, 4}, {50, 48, 49, kAbsent}, 0},
      {{1, 2}, {3, 4}, {50, 48, 49, 47}, 47},
      // Overlapping two-node halves.
      {{1, 2}, {2, 3}, {kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2}, {2, 3}, {100, kAbsent, kAbsent}, 0},
      {{1, 2}, {2, 3}, {kAbsent, 100, kAbsent}, 0},
      {{1, 2}, {2, 3}, {kAbsent, 100, 99}, 0},
      {{1, 2}, {2, 3}, {101, 100, 99}, 99},
      // Identical two-node halves.
      {{1, 2}, {1, 2}, {kAbsent, kAbsent}, 0},
      {{1, 2}, {1, 2}, {kAbsent, 40}, 0},
      {{1, 2}, {1, 2}, {41, 40}, 40},
      // Disjoint three-node halves.
      {{1, 2, 3}, {4, 5, 6}, {kAbsent, kAbsent, kAbsent, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {4, 5, 6}, {100, kAbsent, kAbsent, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {4, 5, 6}, {100, kAbsent, kAbsent, 90, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {4, 5, 6}, {100, 99, kAbsent, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {4, 5, 6}, {kAbsent, 99, 90, 97, 95, kAbsent}, 90},
      {{1, 2, 3}, {4, 5, 6}, {92, 99, 90, 97, 95, kAbsent}, 92},
      {{1, 2, 3}, {4, 5, 6}, {92, 99, 90, 97, 95, 77}, 92},
      // Three-node halves sharing one voter.
      {{1, 2, 3}, {1, 4, 5}, {kAbsent, kAbsent, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {1, 4, 5}, {100, kAbsent, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {1, 4, 5}, {100, 101, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {1, 4, 5}, {100, 101, 100, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {1, 4, 5}, {kAbsent, 100, kAbsent, 99, 98}, 0},
      {{1, 2, 3}, {1, 4, 5}, {kAbsent, 100, 99, 99, 98}, 98},
      {{1, 2, 3}, {1, 4, 5}, {1, 100, 99, 99, 98}, 98},
      {{1, 2, 3}, {1, 4, 5}, {100, 100, 99, 99, 98}, 99},
      // Three-node halves sharing two voters.
      {{1, 2, 3}, {2, 3, 4}, {kAbsent, kAbsent, kAbsent, kAbsent}, 0},
      {{1, 2, 3}, {2, 3, 4}, {kAbsent, 100, 99, kAbsent}, 99},
      {{1, 2, 3}, {2, 3, 4}, {98, 100, 99, kAbsent}, 99},
      {{1, 2, 3}, {2, 3, 4}, {100, 100, 99, kAbsent}, 99},
      {{1, 2, 3}, {2, 3, 4}, {100, 100, 99, 98}, 99},
      {{1, 2, 3}, {2, 3, 4}, {100, kAbsent, kAbsent, 101}, 0},
      {{1, 2, 3}, {2, 3, 4}, {100, 99, kAbsent, 101}, 99},
      // Identical three-node halves.
      {{1, 2, 3}, {1, 2, 3}, {50, 45, kAbsent}, 45},
  };
  for (const JointCommitCase& tc : cases) {
    const JointConfig c(majority(tc.cfg), majority(tc.cfgj));
    const MapAckIndexer l = make_acks(voter_order(tc.cfg, tc.cfgj), tc.idx);
    SCOPED_TRACE(c.to_string() + "\n" + c.describe(l));
    EXPECT_EQ(c.committed_index(l), tc.want);
    // Swapping the halves must not matter.
    EXPECT_EQ(JointConfig(c.outgoing(), c.incoming()).committed_index(l), tc.want);
    // The joint result is the smaller of the halves' results.
    EXPECT_EQ(std::min(c.incoming().committed_index(l), c.outgoing().committed_index(l)), tc.want);
  }
}

TEST(JointConfig, CommittedIndexOfEmptyJointIsNoLimit) {
  const MapAckIndexer l({});
  EXPECT_EQ(JointConfig().committed_index(l), kNoLimit);
}

// Votes: 'y' granted, 'n' rejected, '_' not voted.
std::map<NodeId, bool> make_votes(const std::vector<NodeId>& order, const std::string& votes) {
  EXPECT_EQ(order.size(), votes.size()) << "one vote per voter";
  std::map<NodeId, bool> m;
  for (size_t i = 0; i < order.size() && i < votes.size(); ++i) {
    if (votes[i] == 'y') m[order[i]] = true;
    if (votes[i] == 'n') m[order[i]] = false;
  }
  return m;
}

struct MajorityVoteCase {
  std::vector<NodeId> cfg;
  std::string votes;
  VoteResult want;
};

TEST(MajorityConfig, VoteResult) {
  using enum VoteResult;
  const std::vector<MajorityVoteCase> cases = {
      {{}, "", kWon},  // the empty config wins by convention
      {{1}, "_", kPending},
      {{1}, "n", kLost},
      {{123}, "y", kWon},
      {{4, 8}, "__", kPending},
      {{4, 8}, "n_", kLost},  // with two voters one rejection loses
      {{4, 8}, "y_", kPending},
      {{4, 8}, "ny", kLost},
      {{4, 8}, "yy", kWon},
      {{2, 4, 7}, "___", kPending},
      {{2, 4, 7}, "n__", kPending},
      {{2, 4, 7}, "y__", kPending},
      {{2, 4, 7}, "nn_", kLost},
      {{2, 4, 7}, "yn_", kPending},
      {{2, 4, 7}, "yy_", kWon},
      {{2, 4, 7}, "yyn", kWon},
      {{2, 4, 7}, "nyn", kLost},
      {{1, 2, 3, 4, 5, 6, 7}, "yyny___", kPending},
      {{1, 2, 3, 4, 5, 6, 7}, "_yy_nyn", kPending},
      {{1, 2, 3, 4, 5, 6, 7}, "yyny_ny", kWon},
      {{1, 2, 3, 4, 5, 6, 7}, "yy_nynn", kPending},
      {{1, 2, 3, 4, 5, 6, 7}, "yynynnn", kLost},
  };
  for (const MajorityVoteCase& tc : cases) {
    const MajorityConfig c = majority(tc.cfg);
    SCOPED_TRACE(c.to_string() + " votes=" + tc.votes);
    const auto votes = make_votes(tc.cfg, tc.votes);
    EXPECT_EQ(c.vote_result(votes), tc.want);
    EXPECT_EQ(JointConfig(c, MajorityConfig()).vote_result(votes), tc.want);
    EXPECT_EQ(JointConfig(c, c).vote_result(votes), tc.want);
  }
}

TEST(MajorityConfig, VoteResultIgnoresNonVoters) {
  const MajorityConfig c = majority({1, 2, 3});
  EXPECT_EQ(c.vote_result({{1, true}, {4, true}, {5, true}}), VoteResult::kPending);
  EXPECT_EQ(c.vote_result({{1, false}, {2, false}, {4, true}}), VoteResult::kLost);
}

struct JointVoteCase {
  std::vector<NodeId> cfg;
  std::vector<NodeId> cfgj;  // empty: the zero outgoing half
  std::string votes;
  VoteResult want;
};

TEST(JointConfig, VoteResult) {
  using enum VoteResult;
  const std::vector<JointVoteCase> cases = {
      {{}, {}, "", kWon},  // the empty joint config wins every vote
      {{1}, {}, "_", kPending},
      {{1}, {}, "y", kWon},
      {{1}, {}, "n", kLost},
      {{1}, {1}, "_", kPending},
      {{1}, {1}, "y", kWon},
      {{1}, {1}, "n", kLost},
      {{1}, {2}, "__", kPending},
      {{1}, {2}, "y_", kPending},
      {{1}, {2}, "yy", kWon},
      {{1}, {2}, "yn", kLost},
      {{1}, {2}, "n_", kLost},
      {{1}, {2}, "nn", kLost},
      {{1}, {2}, "ny", kLost},
      {{1, 2}, {3, 4}, "____", kPending},
      {{1, 2}, {3, 4}, "y___", kPending},
      {{1, 2}, {3, 4}, "yy__", kPending},
      {{1, 2}, {3, 4}, "yyn_", kLost},
      {{1, 2}, {3, 4}, "yynn", kLost},
      {{1, 2}, {3, 4}, "yyyn", kLost},
      {{1, 2}, {3, 4}, "yyyy", kWon},
      {{1, 2}, {2, 3}, "___", kPending},
      {{1, 2}, {2, 3}, "_n_", kLost},
      {{1, 2}, {2, 3}, "yy_", kPending},
      {{1, 2}, {2, 3}, "yyn", kLost},
      {{1, 2}, {2, 3}, "yyy", kWon},
      {{1, 2}, {1, 2}, "__", kPending},
      {{1, 2}, {1, 2}, "y_", kPending},
      {{1, 2}, {1, 2}, "yn", kLost},
      {{1, 2}, {1, 2}, "n_", kLost},
      {{1, 2}, {1, 2}, "nn", kLost},
      {{1, 2, 3}, {2, 3, 4}, "____", kPending},
      {{1, 2, 3}, {2, 3, 4}, "_n__", kPending},
      {{1, 2, 3}, {2, 3, 4}, "_nn_", kLost},
      {{1, 2, 3}, {2, 3, 4}, "_yy_", kWon},
      {{1, 2, 3}, {2, 3, 4}, "yy__", kPending},
      {{1, 2, 3}, {2, 3, 4}, "yyn_", kPending},
      {{1, 2, 3}, {2, 3, 4}, "yynn", kLost},
      {{1, 2, 3}, {2, 3, 4}, "yyny", kWon},
  };
  for (const JointVoteCase& tc : cases) {
    const JointConfig c(majority(tc.cfg), majority(tc.cfgj));
    SCOPED_TRACE(c.to_string() + " votes=" + tc.votes);
    const auto votes = make_votes(voter_order(tc.cfg, tc.cfgj), tc.votes);
    EXPECT_EQ(c.vote_result(votes), tc.want);
    EXPECT_EQ(JointConfig(c.outgoing(), c.incoming()).vote_result(votes), tc.want);
  }
}

TEST(VoteResult, ToString) {
  EXPECT_STREQ(to_string(VoteResult::kPending), "VotePending");
  EXPECT_STREQ(to_string(VoteResult::kLost), "VoteLost");
  EXPECT_STREQ(to_string(VoteResult::kWon), "VoteWon");
}

TEST(MajorityConfig, ToStringAndAccessors) {
  EXPECT_EQ(MajorityConfig().to_string(), "()");
  const MajorityConfig c = majority({3, 1, 20});
  EXPECT_EQ(c.to_string(), "(1 3 20)");
  EXPECT_EQ(c.sorted(), (std::vector<NodeId>{1, 3, 20}));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_TRUE(c.contains(20));
  EXPECT_FALSE(c.contains(2));
}

TEST(JointConfig, ToStringIdsAndJoint) {
  JointConfig c(majority({1, 2, 3}), MajorityConfig());
  EXPECT_FALSE(c.joint());
  EXPECT_EQ(c.to_string(), "(1 2 3)");
  c.outgoing() = majority({1, 4});
  EXPECT_TRUE(c.joint());
  EXPECT_EQ(c.to_string(), "(1 2 3)&&(1 4)");
  EXPECT_EQ(c.ids(), (std::set<NodeId>{1, 2, 3, 4}));
  EXPECT_TRUE(c.contains(4));
  EXPECT_FALSE(c.contains(5));
  // An empty incoming half still prints as "()".
  EXPECT_EQ(JointConfig(MajorityConfig(), majority({7})).to_string(), "()&&(7)");
}

TEST(MajorityConfig, Describe) {
  const MapAckIndexer none({});
  EXPECT_EQ(MajorityConfig().describe(none), "<empty majority quorum>");
  EXPECT_EQ(majority({1}).describe(none),
            "     idx\n"
            "?      0    (id=1)\n");
  EXPECT_EQ(majority({1, 2, 3}).describe(MapAckIndexer({{1, 12}, {2, 5}})),
            "       idx\n"
            "xx>     12    (id=1)\n"
            "x>       5    (id=2)\n"
            "?        0    (id=3)\n");
  // A row tied with the row before it (by index, then id) gets no bar.
  EXPECT_EQ(
      majority({1, 2, 3, 4, 5}).describe(MapAckIndexer({{1, 101}, {2, 104}, {3, 103}, {4, 103}})),
      "         idx\n"
      "x>       101    (id=1)\n"
      "xxxx>    104    (id=2)\n"
      "xx>      103    (id=3)\n"
      ">        103    (id=4)\n"
      "?          0    (id=5)\n");
  EXPECT_EQ(majority({1, 2, 3}).describe(MapAckIndexer({{1, 5}, {2, 5}, {3, 12}})),
            "       idx\n"
            ">        5    (id=1)\n"
            ">        5    (id=2)\n"
            "xx>     12    (id=3)\n");
}

TEST(JointConfig, DescribeCoversTheUnion) {
  const JointConfig c(majority({1, 2, 3}), majority({1, 4, 5}));
  EXPECT_EQ(c.describe(MapAckIndexer({{1, 100}, {2, 100}, {3, 99}, {4, 99}, {5, 98}})),
            "         idx\n"
            "xxx>     100    (id=1)\n"
            ">        100    (id=2)\n"
            "x>        99    (id=3)\n"
            ">         99    (id=4)\n"
            ">         98    (id=5)\n");
  EXPECT_EQ(JointConfig().describe(MapAckIndexer({})), "<empty majority quorum>");
}

TEST(MapAckIndexer, DistinguishesAbsentFromZero) {
  const MapAckIndexer l({{1, 0}, {2, 7}});
  EXPECT_EQ(l.acked_index(1), std::optional<uint64_t>(0));
  EXPECT_EQ(l.acked_index(2), std::optional<uint64_t>(7));
  EXPECT_EQ(l.acked_index(3), std::nullopt);
}

}  // namespace
}  // namespace etcd::raft::quorum
