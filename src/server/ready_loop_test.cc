// The Ready loop and the raft storage under it, over the simulated
// filesystem: what is durable when messages leave and entries are applied,
// recovery after crashes, local snapshots, and the two recovery repairs.
#include "server/ready_loop.h"

#include <gtest/gtest.h>

#include "env/sim_file_system.h"

namespace etcd::server {
namespace {

constexpr const char* kWal = "/wal";
constexpr const char* kSnap = "/snap";

// Records each message with the WAL's last index when it was sent.
struct RecordingTransport final : Transport {
  const RaftStorage* storage = nullptr;
  struct Sent {
    raftpb::Message m;
    uint64_t wal_last_index;
  };
  std::vector<Sent> sent;
  void send(std::vector<raftpb::Message> msgs) override {
    for (auto& m : msgs) sent.push_back({std::move(m), storage->wal->last_index().value()});
  }
};

RaftStorageOptions options() {
  RaftStorageOptions o;
  o.wal.segment_size_bytes = 16 * 1024;
  return o;
}

class ReadyLoopTest : public ::testing::Test {
 protected:
  // A member of `voters` (1 is us), bootstrapped or recovered from fs_.
  void start(const std::vector<raft::NodeId>& voters, bool fresh) {
    auto rs = fresh ? RaftStorage::create(fs_, kWal, kSnap, "meta", options())
                    : RaftStorage::open(fs_, kWal, kSnap, options());
    ASSERT_TRUE(rs.is_ok()) << rs.status().to_string();
    raft::Config c;
    c.id = 1;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.pre_vote = false;  // campaigns write their term at once
    c.storage = rs->log.get();
    auto raw = raft::RawNode::create(c);
    ASSERT_TRUE(raw.is_ok());
    if (fresh) {
      ASSERT_TRUE((*raw)->bootstrap(voters).is_ok());
    }
    ReadyLoop::Hooks hooks;
    hooks.apply = [this](ApplyBatch b) {
      for (auto& e : b.entries) {
        // Applied only once durable in the WAL.
        EXPECT_LE(e.index(), loop_->storage().wal->last_index().value());
        applied_.push_back(e);
        if (e.type() == raftpb::EntryConfChange) {
          raftpb::ConfChange cc;
          ASSERT_TRUE(cc.ParseFromString(e.data()));
          loop_->node().apply_conf_change(cc);
        }
      }
    };
    loop_ = std::make_unique<ReadyLoop>(std::move(rs).value(), std::move(raw).value(), transport_,
                                        std::move(hooks));
    transport_.storage = &loop_->storage();
  }
  // Campaigns a lone voter into leadership.
  void lead() {
    loop_->drain();  // applies the bootstrap configuration first
    ASSERT_TRUE(loop_->node().campaign().is_ok());
    loop_->drain();
    ASSERT_EQ(loop_->node().raft().state(), raft::StateType::kLeader);
  }
  void crash() {
    fs_.crash(rng_);
    loop_.reset();
  }

 public:
  // What a follower writes for a leader's snapshot at (index, term): the
  // file, then its WAL marker.
  static void save_received_snapshot(RaftStorage& rs, uint64_t index, uint64_t term) {
    raftpb::Snapshot snap;
    snap.mutable_metadata()->set_index(index);
    snap.mutable_metadata()->set_term(term);
    snap.mutable_metadata()->mutable_conf_state()->add_voters(1);
    ASSERT_TRUE(rs.snapshotter->save(snap).is_ok());
    ASSERT_TRUE(rs.wal->save_snapshot(wal::WalSnapshot{Index(index), Term(term)}).is_ok());
  }

 protected:
  std::vector<std::string> payloads() const {
    std::vector<std::string> out;
    for (const auto& e : applied_) {
      if (e.type() == raftpb::EntryNormal && !e.data().empty()) out.push_back(e.data());
    }
    return out;
  }

  env::SimFileSystem fs_;
  Rng rng_{7};
  RecordingTransport transport_;
  std::unique_ptr<ReadyLoop> loop_;
  std::vector<raftpb::Entry> applied_;
};

TEST_F(ReadyLoopTest, CommittedEntriesAreDurableBeforeTheyAreApplied) {
  start({1}, true);
  lead();
  ASSERT_TRUE(loop_->node().propose("a").is_ok());
  ASSERT_TRUE(loop_->node().propose("b").is_ok());
  loop_->drain();
  EXPECT_EQ(payloads(), (std::vector<std::string>{"a", "b"}));
  // A crash right after loses nothing that was applied.
  crash();
  applied_.clear();
  start({1}, false);
  lead();
  EXPECT_EQ(payloads(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(loop_->storage().metadata, "meta");
}

TEST_F(ReadyLoopTest, ALeaderAppendsBeforeItsWriteAFollowerAnswersAfterIt) {
  start({1, 2}, true);
  loop_->drain();
  // Win the election with 2's vote.
  ASSERT_TRUE(loop_->node().campaign().is_ok());
  loop_->drain();
  for (const auto& s : transport_.sent) {
    // The vote request carries a term that is durable first.
    if (s.m.type() == raftpb::MsgVote) {
      EXPECT_EQ(s.wal_last_index, 2u);
    }
  }
  raftpb::Message vote;
  vote.set_type(raftpb::MsgVoteResp);
  vote.set_from(2);
  vote.set_to(1);
  vote.set_term(loop_->node().raft().term());
  ASSERT_TRUE(loop_->node().step(vote).is_ok());
  transport_.sent.clear();
  loop_->drain();
  ASSERT_EQ(loop_->node().raft().state(), raft::StateType::kLeader);
  // The leader's empty entry (index 3) went out in a MsgApp before the WAL
  // held it.
  bool early_append = false;
  for (const auto& s : transport_.sent) {
    if (s.m.type() == raftpb::MsgApp && s.m.entries_size() > 0) {
      early_append |= s.wal_last_index < s.m.entries(0).index();
    }
  }
  EXPECT_TRUE(early_append);

  // As a follower of 2 in a later term, its append response leaves only
  // once the entries are in its WAL.
  raftpb::Message app;
  app.set_type(raftpb::MsgApp);
  app.set_from(2);
  app.set_to(1);
  app.set_term(loop_->node().raft().term() + 1);
  app.set_index(3);
  app.set_log_term(loop_->node().raft().term());
  auto* e = app.add_entries();
  e->set_index(4);
  e->set_term(app.term());
  e->set_data("x");
  transport_.sent.clear();
  ASSERT_TRUE(loop_->node().step(app).is_ok());
  loop_->drain();
  bool answered = false;
  for (const auto& s : transport_.sent) {
    if (s.m.type() == raftpb::MsgAppResp) {
      answered = true;
      EXPECT_GE(s.wal_last_index, 4u);
    }
  }
  EXPECT_TRUE(answered);
}

TEST_F(ReadyLoopTest, ALocalSnapshotCompactsTheLogAndRecoveryStartsFromIt) {
  start({1}, true);
  lead();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(loop_->node().propose("p" + std::to_string(i)).is_ok());
  loop_->drain();
  const uint64_t applied = applied_.back().index();
  raftpb::ConfState cs;
  cs.add_voters(1);
  ASSERT_TRUE(loop_->snapshot(applied, cs, "state", 10).is_ok());
  EXPECT_EQ(loop_->storage().log->first_index()->value(), applied - 10 + 1);
  // Not newer than the stored one: skipped.
  EXPECT_FALSE(loop_->snapshot(applied, cs, "state", 10).is_ok());
  crash();
  start({1}, false);
  EXPECT_EQ(loop_->storage().snapshot.metadata().index(), applied);
  EXPECT_EQ(loop_->storage().snapshot.data(), "state");
  EXPECT_GE(loop_->storage().hard_state.commit(), applied);
}

TEST_F(ReadyLoopTest, ASnapshotFileWhoseWalMarkerWasLostIsSkipped) {
  start({1}, true);
  lead();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(loop_->node().propose("p").is_ok());
  loop_->drain();
  raftpb::ConfState cs;
  cs.add_voters(1);
  ASSERT_TRUE(loop_->snapshot(3, cs, "at3", 0).is_ok());
  // A snapshot file at 6 whose WAL marker never made it (a crash between
  // the two writes).
  raftpb::Snapshot orphan;
  orphan.mutable_metadata()->set_index(6);
  orphan.mutable_metadata()->set_term(loop_->node().raft().term());
  *orphan.mutable_metadata()->mutable_conf_state() = cs;
  ASSERT_TRUE(loop_->storage().snapshotter->save(orphan).is_ok());
  ASSERT_TRUE(loop_->storage().wal->sync().is_ok());
  crash();
  start({1}, false);
  EXPECT_EQ(loop_->storage().snapshot.metadata().index(), 3u);
  EXPECT_EQ(loop_->storage().snapshot.data(), "at3");
  EXPECT_EQ(loop_->storage().log->last_index()->value(), 7u);
}

TEST_F(ReadyLoopTest, ACommitIndexBehindTheSnapshotIsRaisedToIt) {
  // What a crash leaves when a follower's hard state after a received
  // snapshot is lost: the marker at 20, an older hard state (commit 2).
  auto rs = RaftStorage::create(fs_, kWal, kSnap, "", options());
  ASSERT_TRUE(rs.is_ok());
  raftpb::HardState hs;
  hs.set_term(2);
  hs.set_vote(2);
  hs.set_commit(2);
  ASSERT_TRUE(rs->wal->save(hs, {}, true).is_ok());
  save_received_snapshot(*rs, 20, 2);
  rs->wal.reset();
  fs_.crash(rng_);
  auto reopened = RaftStorage::open(fs_, kWal, kSnap, options());
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  EXPECT_EQ(reopened->hard_state.commit(), 20u);
  EXPECT_EQ(reopened->hard_state.vote(), 2u);
  raft::Config c;
  c.id = 1;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.storage = reopened->log.get();
  auto raw = raft::RawNode::create(c);  // Raft refused a commit below 20
  ASSERT_TRUE(raw.is_ok());
  EXPECT_EQ((*raw)->raft().raft_log().committed(), 20u);
}

// A follower whose WAL holds entries 1.. of `terms`, then a leader's
// snapshot at (index, term) that Raft installed in place of that log, then
// the hard state after it; returns the raft log recovered from that WAL.
std::unique_ptr<raft::MemoryStorage> recover_after_replacing_snapshot(
    env::SimFileSystem& fs, const std::vector<uint64_t>& terms, uint64_t index, uint64_t term) {
  auto rs = RaftStorage::create(fs, kWal, kSnap, "", options());
  EXPECT_TRUE(rs.is_ok());
  if (!rs.is_ok()) return nullptr;
  raftpb::HardState hs;
  hs.set_term(terms.back());
  hs.set_commit(1);
  std::vector<raftpb::Entry> ents(terms.size());
  for (size_t i = 0; i < terms.size(); ++i) {
    ents[i].set_index(i + 1);
    ents[i].set_term(terms[i]);
  }
  EXPECT_TRUE(rs->wal->save(hs, ents, true).is_ok());
  ReadyLoopTest::save_received_snapshot(*rs, index, term);
  hs.set_term(std::max(term, terms.back()));
  hs.set_commit(index);
  EXPECT_TRUE(rs->wal->save(hs, {}, true).is_ok());
  rs->wal.reset();
  auto reopened = RaftStorage::open(fs, kWal, kSnap, options());
  EXPECT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  return reopened.is_ok() ? std::move(reopened->log) : nullptr;
}

TEST_F(ReadyLoopTest, EntriesOfALogReplacedByAReceivedSnapshotStayDiscarded) {
  // The follower's log 1..5 at term 1; then a leader's snapshot at 3, term
  // 2 replaces it (Raft drops the whole log). The WAL still holds 4/1 and
  // 5/1 before the snapshot's marker: they must not come back.
  auto log = recover_after_replacing_snapshot(fs_, {1, 1, 1, 1, 1}, 3, 2);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_index()->value(), 3u);
  EXPECT_EQ(log->term(Index(3))->value(), 2u);
}

TEST_F(ReadyLoopTest, ALaterTermSuffixOfAReplacedLogStaysDiscarded) {
  // Raft's figure 8: the follower holds 2@3 and 3@3 from a deposed leader
  // of term 3; the leader's snapshot at 2@2 does not match its log, so Raft
  // replaces the whole log. 3@3 is of a later term than the snapshot and
  // must not come back either.
  auto log = recover_after_replacing_snapshot(fs_, {1, 3, 3}, 2, 2);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_index()->value(), 2u);
  EXPECT_EQ(log->term(Index(2))->value(), 2u);
}

TEST_F(ReadyLoopTest, ACrashAtTheFsyncOfAReadyRecovers) {
  start({1, 2}, true);
  loop_->drain();
  fs_.crash_at_sync(1);
  ASSERT_TRUE(loop_->node().campaign().is_ok());
  loop_->drain();  // the vote Ready: written, then "killed" at its fsync
  ASSERT_TRUE(fs_.crash_point_passed());
  // The process died there: the simulator drops what it sends after the
  // crash point, so here only what left before it counts.
  crash();
  start({1, 2}, false);
  // Whatever of the write survived, the WAL reads back.
  EXPECT_LE(loop_->storage().hard_state.term(), 2u);
  EXPECT_EQ(loop_->storage().log->last_index()->value(), 2u);
}

}  // namespace
}  // namespace etcd::server
