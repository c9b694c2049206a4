// Behaviour tests of the Raft state machine through the RawNode API, on a
// small in-memory network that delivers messages until quiet.
#include "raft/rawnode.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

namespace etcd::raft {
namespace {

struct Node {
  std::unique_ptr<MemoryStorage> storage = std::make_unique<MemoryStorage>();
  std::unique_ptr<RawNode> raw;
  std::vector<std::string> applied;  // data of applied normal entries
  std::vector<ReadState> read_states;
};

// Nodes 1..n bootstrapped as voters of one group. Messages are delivered
// in FIFO order; `drop` filters them.
class Network {
 public:
  explicit Network(int n, bool pre_vote = true, bool check_quorum = true,
                   std::vector<NodeId> learners = {}) {
    std::vector<NodeId> voters;
    for (int i = 1; i <= n; ++i) voters.push_back(static_cast<NodeId>(i));
    raftpb::ConfState cs;
    for (NodeId id : voters) cs.add_voters(id);
    for (NodeId id : learners) cs.add_learners(id);
    std::vector<NodeId> all = voters;
    all.insert(all.end(), learners.begin(), learners.end());
    for (NodeId id : all) {
      auto& node = nodes_[id];
      raftpb::Snapshot snap;
      snap.mutable_metadata()->set_index(1);
      snap.mutable_metadata()->set_term(1);
      *snap.mutable_metadata()->mutable_conf_state() = cs;
      EXPECT_TRUE(node.storage->apply_snapshot(snap).is_ok());
      raftpb::HardState hs;
      hs.set_term(1);
      hs.set_commit(1);
      node.storage->set_hard_state(hs);
      Config c;
      c.id = id;
      c.election_tick = 10;
      c.heartbeat_tick = 1;
      c.storage = node.storage.get();
      c.pre_vote = pre_vote;
      c.check_quorum = check_quorum;
      c.max_inflight_msgs = 256;
      c.seed = 42;
      auto raw = RawNode::create(c);
      EXPECT_TRUE(raw.is_ok());
      node.raw = std::move(raw).value();
    }
  }

  RawNode& node(NodeId id) { return *nodes_.at(id).raw; }
  Raft& raft(NodeId id) { return nodes_.at(id).raw->raft(); }
  MemoryStorage& storage(NodeId id) { return *nodes_.at(id).storage; }
  const std::vector<std::string>& applied(NodeId id) { return nodes_.at(id).applied; }
  const std::vector<ReadState>& read_states(NodeId id) { return nodes_.at(id).read_states; }

  void isolate(NodeId id) { isolated_.insert(id); }
  void heal() { isolated_.clear(); }
  bool reachable(NodeId from, NodeId to) const {
    return isolated_.count(from) == 0 && isolated_.count(to) == 0;
  }

  // Processes every node's Ready and delivers messages until none are left.
  void stabilize() {
    for (int round = 0; round < 1000; ++round) {
      bool progress = false;
      for (auto& [id, node] : nodes_) {
        while (node.raw->has_ready()) {
          progress = true;
          handle_ready(id, node);
        }
      }
      while (!queue_.empty()) {
        progress = true;
        raftpb::Message m = std::move(queue_.front());
        queue_.pop_front();
        if (!reachable(m.from(), m.to()) || nodes_.count(m.to()) == 0) continue;
        (void)nodes_.at(m.to()).raw->step(m);
      }
      if (!progress) return;
    }
    FAIL() << "network did not stabilize";
  }

  void tick_all(int n) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) node.raw->tick();
      stabilize();
    }
  }

  NodeId leader() {
    for (auto& [id, node] : nodes_) {
      if (node.raw->raft().state() == StateType::kLeader && isolated_.count(id) == 0) return id;
    }
    return kNone;
  }

  std::map<NodeId, Node>& nodes() { return nodes_; }

 private:
  void handle_ready(NodeId, Node& node) {
    Ready rd = node.raw->ready();
    if (!is_empty_snap(rd.snapshot)) {
      EXPECT_TRUE(node.storage->apply_snapshot(rd.snapshot).is_ok());
    }
    EXPECT_TRUE(node.storage->append(rd.entries).is_ok());
    if (!is_empty_hard_state(rd.hard_state)) node.storage->set_hard_state(rd.hard_state);
    for (auto& m : rd.messages) queue_.push_back(std::move(m));
    node.read_states.insert(node.read_states.end(), rd.read_states.begin(), rd.read_states.end());
    for (const auto& e : rd.committed_entries) {
      if (e.type() == raftpb::EntryNormal && !e.data().empty()) node.applied.push_back(e.data());
      if (e.type() == raftpb::EntryConfChange) {
        raftpb::ConfChange cc;
        ASSERT_TRUE(cc.ParseFromString(e.data()));
        node.raw->apply_conf_change(cc);
      } else if (e.type() == raftpb::EntryConfChangeV2) {
        raftpb::ConfChangeV2 cc;
        ASSERT_TRUE(cc.ParseFromString(e.data()));
        node.raw->apply_conf_change(cc);
      }
    }
    node.raw->advance(rd);
  }

  std::map<NodeId, Node> nodes_;
  std::deque<raftpb::Message> queue_;
  std::set<NodeId> isolated_;
};

TEST(Raft, ElectsALeaderAndReplicates) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  ASSERT_EQ(net.leader(), 1u);
  EXPECT_EQ(net.raft(2).lead(), 1u);
  EXPECT_EQ(net.raft(1).term(), 2u);
  ASSERT_TRUE(net.node(1).propose("a").is_ok());
  ASSERT_TRUE(net.node(2).propose("b").is_ok());  // forwarded to the leader
  net.stabilize();
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(net.applied(id), (std::vector<std::string>{"a", "b"})) << id;
  }
}

TEST(Raft, ElectionByTimeout) {
  Network net(5);
  net.tick_all(25);
  NodeId l = net.leader();
  ASSERT_NE(l, kNone);
  int leaders = 0;
  for (auto& [id, n] : net.nodes()) leaders += n.raw->raft().state() == StateType::kLeader;
  EXPECT_EQ(leaders, 1);
}

TEST(Raft, MinorityCannotCommitAndIsOverwritten) {
  Network net(5);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  ASSERT_TRUE(net.node(1).propose("before").is_ok());
  net.stabilize();
  // Leader 1 and node 2 on one side, 3 4 5 on the other.
  net.isolate(1);
  net.isolate(2);
  ASSERT_TRUE(net.node(1).propose("lost").is_ok());
  net.stabilize();
  EXPECT_EQ(net.raft(1).raft_log().committed(), net.raft(1).raft_log().last_index() - 1);
  net.heal();
  net.isolate(1);
  net.isolate(2);
  // The majority elects a new leader once its lease expired, and commits.
  net.tick_all(30);
  NodeId l = net.leader();
  ASSERT_TRUE(l >= 3) << l;
  ASSERT_TRUE(net.node(l).propose("after").is_ok());
  net.stabilize();
  net.heal();
  net.tick_all(3);
  for (NodeId id : {1, 2, 3, 4, 5}) {
    EXPECT_EQ(net.applied(id), (std::vector<std::string>{"before", "after"})) << id;
  }
}

TEST(Raft, ProposalWithoutLeaderIsDropped) {
  Network net(3);
  Status s = net.node(2).propose("x");
  EXPECT_TRUE(is_proposal_dropped(s)) << s.to_string();
}

TEST(Raft, PreVoteKeepsRejoiningNodeFromDisrupting) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  uint64_t term = net.raft(1).term();
  net.isolate(3);
  for (int i = 0; i < 50; ++i) net.node(3).tick();  // campaigns alone, in pre-vote
  net.stabilize();
  EXPECT_EQ(net.raft(3).term(), term);  // pre-vote never raised its term
  net.heal();
  net.tick_all(5);
  EXPECT_EQ(net.leader(), 1u);
  EXPECT_EQ(net.raft(1).term(), term);
}

TEST(Raft, CheckQuorumStepsDownIsolatedLeader) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  net.isolate(1);
  for (int i = 0; i < 25; ++i) {
    net.node(1).tick();
    net.stabilize();
  }
  EXPECT_EQ(net.raft(1).state(), StateType::kFollower);
}

TEST(Raft, ReadIndexOnLeaderAndFollower) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  net.node(1).read_index("r1");
  net.node(2).read_index("r2");
  net.stabilize();
  std::map<NodeId, std::vector<ReadState>> got{{1, net.read_states(1)}, {2, net.read_states(2)}};
  uint64_t commit = net.raft(1).raft_log().committed();
  ASSERT_EQ(got[1].size(), 1u);
  EXPECT_EQ(got[1][0], (ReadState{commit, "r1"}));
  ASSERT_EQ(got[2].size(), 1u);
  EXPECT_EQ(got[2][0], (ReadState{commit, "r2"}));
}

TEST(Raft, LeaderTransfer) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  net.node(1).transfer_leader(3);
  net.stabilize();
  EXPECT_EQ(net.leader(), 3u);
  EXPECT_EQ(net.raft(1).lead(), 3u);
}

TEST(Raft, LearnerReplicatesButDoesNotVote) {
  Network net(2, true, true, {3});
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  ASSERT_TRUE(net.node(1).propose("x").is_ok());
  net.stabilize();
  EXPECT_EQ(net.applied(3), std::vector<std::string>{"x"});
  EXPECT_TRUE(net.raft(3).is_learner());
  // A learner never campaigns.
  for (int i = 0; i < 50; ++i) net.node(3).tick();
  EXPECT_EQ(net.raft(3).state(), StateType::kFollower);
  // Promote it.
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeAddNode);
  cc.set_node_id(3);
  ASSERT_TRUE(net.node(1).propose_conf_change(cc).is_ok());
  net.stabilize();
  EXPECT_FALSE(net.raft(3).is_learner());
  EXPECT_EQ(net.raft(1).tracker().config.voters.to_string(), "(1 2 3)");
}

TEST(Raft, SnapshotCatchUp) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  net.isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.node(1).propose("v" + std::to_string(i)).is_ok());
  net.stabilize();
  // Compact the leader's log past what node 3 has.
  uint64_t applied = net.raft(1).raft_log().applied();
  raftpb::ConfState cs = net.raft(1).tracker().conf_state();
  ASSERT_TRUE(net.storage(1).create_snapshot(Index(applied), &cs, "snapdata").is_ok());
  ASSERT_TRUE(net.storage(1).compact(Index(applied)).is_ok());
  net.heal();
  net.tick_all(3);
  // The leader sent a snapshot; report it finished.
  net.node(1).report_snapshot(3, SnapshotStatus::kFinish);
  net.tick_all(3);
  EXPECT_EQ(net.raft(3).raft_log().committed(), net.raft(1).raft_log().committed());
  auto snap = net.storage(3).snapshot();
  EXPECT_EQ(snap->data(), "snapdata");
}

TEST(Raft, RemovingTheLeader) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  raftpb::ConfChange cc;
  cc.set_type(raftpb::ConfChangeRemoveNode);
  cc.set_node_id(1);
  ASSERT_TRUE(net.node(1).propose_conf_change(cc).is_ok());
  net.stabilize();
  EXPECT_EQ(net.raft(2).tracker().config.voters.to_string(), "(2 3)");
  // The removed leader drops further proposals.
  EXPECT_TRUE(is_proposal_dropped(net.node(1).propose("x")));
  // The others elect a new leader after the timeout.
  net.isolate(1);
  net.tick_all(30);
  NodeId l = net.leader();
  EXPECT_TRUE(l == 2 || l == 3) << l;
}

TEST(Raft, FastBacktrackingOfALongDivergentLog) {
  Network net(3);
  ASSERT_TRUE(net.node(1).campaign().is_ok());
  net.stabilize();
  // Node 1 leads alone and appends 100 uncommitted entries.
  net.isolate(1);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(net.node(1).propose("stale").is_ok());
  net.stabilize();
  net.heal();
  net.isolate(1);
  net.tick_all(30);
  NodeId l = net.leader();
  ASSERT_TRUE(l == 2 || l == 3) << l;
  ASSERT_TRUE(net.node(l).propose("fresh").is_ok());
  net.stabilize();
  net.heal();
  // Count rejections node 1 sends while catching up: one per divergent
  // term, not one per entry.
  int rejects = 0;
  for (int i = 0; i < 10; ++i) {
    for (auto& [id, n] : net.nodes()) n.raw->tick();
    for (auto& m : net.raft(1).msgs()) rejects += m.type() == raftpb::MsgAppResp && m.reject();
    net.stabilize();
  }
  EXPECT_EQ(net.raft(1).raft_log().last_index(), net.raft(l).raft_log().last_index());
  EXPECT_EQ(net.applied(1), std::vector<std::string>{"fresh"});
  EXPECT_LE(rejects, 3);
}

TEST(Raft, ConfigValidation) {
  MemoryStorage s;
  Config c;
  c.storage = &s;
  EXPECT_FALSE(RawNode::create(c).is_ok());  // id 0
  c.id = 1;
  c.election_tick = 1;
  EXPECT_FALSE(RawNode::create(c).is_ok());
  c.election_tick = 10;
  c.read_only_option = ReadOnlyOption::kLeaseBased;
  c.check_quorum = false;
  EXPECT_FALSE(RawNode::create(c).is_ok());
}

TEST(Raft, BootstrapSingleNodeCommitsItsOwnProposals) {
  MemoryStorage s;
  Config c;
  c.id = 1;
  c.storage = &s;
  auto raw = RawNode::create(c);
  ASSERT_TRUE(raw.is_ok());
  RawNode& n = **raw;
  ASSERT_TRUE(n.bootstrap(std::vector<NodeId>{1}).is_ok());
  std::vector<std::string> applied;
  auto drain = [&] {
    while (n.has_ready()) {
      Ready rd = n.ready();
      EXPECT_TRUE(s.append(rd.entries).is_ok());
      if (!is_empty_hard_state(rd.hard_state)) s.set_hard_state(rd.hard_state);
      for (const auto& e : rd.committed_entries) {
        if (e.type() == raftpb::EntryNormal && !e.data().empty()) applied.push_back(e.data());
        if (e.type() == raftpb::EntryConfChange) {
          raftpb::ConfChange cc;
          ASSERT_TRUE(cc.ParseFromString(e.data()));
          n.apply_conf_change(cc);
        }
      }
      n.advance(rd);
    }
  };
  drain();  // the bootstrap configuration must be applied before campaigning
  ASSERT_TRUE(n.campaign().is_ok());
  drain();
  EXPECT_EQ(n.raft().state(), StateType::kLeader);
  ASSERT_TRUE(n.propose("solo").is_ok());
  drain();
  EXPECT_EQ(applied, std::vector<std::string>{"solo"});
  EXPECT_EQ(n.status().commit, Index(3));  // the conf change, the empty entry, "solo"
}

}  // namespace
}  // namespace etcd::raft
