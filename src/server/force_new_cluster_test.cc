// --force-new-cluster: the member ids a log knows, the conf changes that
// leave one member, the rewrite of a restarted member's raft storage, and
// the bootstrap that applies it (and ignores it for a new member).
#include "server/force_new_cluster.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <sstream>

#include "env/posix_file_system.h"
#include "server/bootstrap.h"
#include "server/membership_applier.h"
#include "server/test_util.h"

namespace etcd::server {
namespace {

raftpb::Entry conf_entry(uint64_t index, uint64_t term, raftpb::ConfChangeType type, uint64_t id,
                         const std::string& context = "") {
  raftpb::ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(id);
  cc.set_context(context);
  raftpb::Entry e;
  e.set_type(raftpb::EntryConfChange);
  e.set_index(index);
  e.set_term(term);
  e.set_data(cc.SerializeAsString());
  return e;
}

raftpb::Entry normal_entry(uint64_t index, uint64_t term, const std::string& data) {
  raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

raftpb::ConfChange conf_change_of(const raftpb::Entry& e) {
  EXPECT_EQ(e.type(), raftpb::EntryConfChange);
  raftpb::ConfChange cc;
  EXPECT_TRUE(cc.ParseFromString(e.data()));
  return cc;
}

std::string member_context(uint64_t id, const std::string& url) {
  Member m;
  m.id = MemberId(id);
  m.peer_urls = {url};
  return m.to_json();
}

TEST(ForceNewCluster, MemberIdsFromTheSnapshotVotersAndTheLogsConfChanges) {
  EXPECT_TRUE(member_ids_in_log(nullptr, {}).empty());
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->mutable_conf_state()->add_voters(0x30);
  snap.mutable_metadata()->mutable_conf_state()->add_voters(0x10);
  snap.mutable_metadata()->mutable_conf_state()->add_learners(0x99);  // not counted (etcd)
  EXPECT_EQ(member_ids_in_log(&snap, {}), (std::vector<uint64_t>{0x10, 0x30}));
  std::vector<raftpb::Entry> ents = {
      conf_entry(11, 2, raftpb::ConfChangeAddNode, 0x20),
      normal_entry(12, 2, "x"),
      conf_entry(13, 2, raftpb::ConfChangeRemoveNode, 0x30),
      conf_entry(14, 2, raftpb::ConfChangeAddLearnerNode, 0x05),
      conf_entry(15, 2, raftpb::ConfChangeUpdateNode, 0x40),
  };
  EXPECT_EQ(member_ids_in_log(&snap, ents), (std::vector<uint64_t>{0x05, 0x10, 0x20}));
  EXPECT_EQ(member_ids_in_log(nullptr, ents), (std::vector<uint64_t>{0x05, 0x20}));
}

TEST(ForceNewCluster, ConfChangesRemoveTheOthersAndAddSelfFirstWhenMissing) {
  auto ents = standalone_conf_changes({1, 2, 3}, MemberId(2), 7, 40);
  ASSERT_EQ(ents.size(), 2u);
  EXPECT_EQ(ents[0].index(), 41u);
  EXPECT_EQ(ents[0].term(), 7u);
  EXPECT_EQ(ents[1].index(), 42u);
  EXPECT_EQ(ents[1].term(), 7u);
  auto cc = conf_change_of(ents[0]);
  EXPECT_EQ(cc.type(), raftpb::ConfChangeRemoveNode);
  EXPECT_EQ(cc.node_id(), 1u);
  EXPECT_EQ(cc.id(), 0u);
  EXPECT_TRUE(cc.context().empty());
  EXPECT_EQ(conf_change_of(ents[1]).node_id(), 3u);

  ents = standalone_conf_changes({1, 3}, MemberId(2), 7, 40);
  ASSERT_EQ(ents.size(), 3u);
  cc = conf_change_of(ents[0]);
  EXPECT_EQ(cc.type(), raftpb::ConfChangeAddNode);
  EXPECT_EQ(cc.node_id(), 2u);
  // etcd's context: the member with the default peer URL, Go's JSON.
  EXPECT_EQ(cc.context(), R"({"id":2,"peerURLs":["http://localhost:2380"]})");
  EXPECT_EQ(conf_change_of(ents[1]).node_id(), 1u);
  EXPECT_EQ(conf_change_of(ents[2]).node_id(), 3u);
  EXPECT_EQ(ents[2].index(), 43u);

  EXPECT_TRUE(standalone_conf_changes({2}, MemberId(2), 7, 40).empty());
}

class ForceNewClusterStorageTest : public ::testing::Test {
 protected:
  ForceNewClusterStorageTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {}
  void SetUp() override { dir_ = testing_util::fresh_test_dir("force_new_cluster"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string wal_dir() const { return (dir_ / "wal").string(); }
  std::string snap_dir() const { return (dir_ / "snap").string(); }
  RaftStorageOptions options() {
    RaftStorageOptions o;
    o.logger = &logger_;
    return o;
  }
  RaftStorage reopen() {
    auto rs = RaftStorage::open(fs_, wal_dir(), snap_dir(), options());
    EXPECT_TRUE(rs.is_ok()) << rs.status().to_string();
    return std::move(rs).value();
  }
  static std::vector<raftpb::Entry> all_entries(const RaftStorage& rs) {
    auto first = rs.log->first_index();
    auto last = rs.log->last_index();
    auto ents = rs.log->entries(*first, Index(last->value() + 1), UINT64_MAX);
    EXPECT_TRUE(ents.is_ok());
    return *ents;
  }

  std::filesystem::path dir_;
  env::PosixFileSystem fs_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  log::Logger logger_;
};

TEST_F(ForceNewClusterStorageTest, UncommittedEntriesGoAndTheRemovalsAreCommittedAndSaved) {
  {
    auto rs = RaftStorage::create(fs_, wal_dir(), snap_dir(), "meta", options());
    ASSERT_TRUE(rs.is_ok());
    std::vector<raftpb::Entry> ents = {
        conf_entry(1, 1, raftpb::ConfChangeAddNode, 0xa, member_context(0xa, "http://a:2380")),
        conf_entry(2, 1, raftpb::ConfChangeAddNode, 0xb, member_context(0xb, "http://b:2380")),
        conf_entry(3, 1, raftpb::ConfChangeAddNode, 0xc, member_context(0xc, "http://c:2380")),
        normal_entry(4, 2, "put"),
        normal_entry(5, 2, "put"),
        normal_entry(6, 3, "uncommitted"),
        conf_entry(7, 3, raftpb::ConfChangeRemoveNode, 0xb),  // uncommitted: not counted
    };
    raftpb::HardState hs;
    hs.set_term(3);
    hs.set_vote(0xb);
    hs.set_commit(5);
    ASSERT_TRUE(rs->wal->save(hs, ents, true).is_ok());
    ASSERT_TRUE(rs->wal->close().is_ok());
  }
  {
    RaftStorage rs = reopen();
    ASSERT_EQ(rs.log->last_index()->value(), 7u);
    ASSERT_TRUE(force_new_cluster(rs, MemberId(0xa), 0x1234, logger_).is_ok());
    auto ents = all_entries(rs);
    ASSERT_EQ(ents.size(), 7u);
    EXPECT_EQ(ents[4].data(), "put");
    for (int i : {5, 6}) {
      auto cc = conf_change_of(ents[i]);
      EXPECT_EQ(cc.type(), raftpb::ConfChangeRemoveNode);
      EXPECT_EQ(ents[i].term(), 3u);  // the hard state's term
      EXPECT_EQ(ents[i].index(), static_cast<uint64_t>(i + 1));
    }
    EXPECT_EQ(conf_change_of(ents[5]).node_id(), 0xbu);
    EXPECT_EQ(conf_change_of(ents[6]).node_id(), 0xcu);
    EXPECT_EQ(rs.hard_state.commit(), 7u);
    EXPECT_EQ(rs.hard_state.term(), 3u);
    EXPECT_EQ(rs.log->initial_state()->hard_state.commit(), 7u);
    ASSERT_TRUE(rs.wal->close().is_ok());
    const std::string log = log_.str();
    EXPECT_NE(log.find(R"("msg":"discarding uncommitted WAL entries","entry-index":6,)"
                       R"("commit-index-from-wal":5,"number-of-discarded-entries":2)"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(R"("msg":"forcing restart member","cluster-id":"1234",)"
                       R"("local-member-id":"a","commit-index":7)"),
              std::string::npos)
        << log;
  }
  // Durable: a plain restart reads the removals, committed, in place of
  // the discarded entries.
  RaftStorage rs = reopen();
  auto ents = all_entries(rs);
  ASSERT_EQ(ents.size(), 7u);
  EXPECT_EQ(conf_change_of(ents[5]).node_id(), 0xbu);
  EXPECT_EQ(conf_change_of(ents[6]).node_id(), 0xcu);
  EXPECT_EQ(rs.hard_state.commit(), 7u);
  EXPECT_EQ(member_ids_in_log(nullptr, ents), (std::vector<uint64_t>{0xa}));
  ASSERT_TRUE(rs.wal->close().is_ok());
}

TEST_F(ForceNewClusterStorageTest, FromASnapshotThatDoesNotNameThisMember) {
  {
    auto rs = RaftStorage::create(fs_, wal_dir(), snap_dir(), "meta", options());
    ASSERT_TRUE(rs.is_ok());
    raftpb::Snapshot snap;
    snap.mutable_metadata()->set_index(20);
    snap.mutable_metadata()->set_term(4);
    snap.mutable_metadata()->mutable_conf_state()->add_voters(0xb);
    snap.mutable_metadata()->mutable_conf_state()->add_voters(0xc);
    snap.set_data("v2");
    ASSERT_TRUE(std::filesystem::create_directories(snap_dir()));
    ASSERT_TRUE(rs->snapshotter->save(snap).is_ok());
    ASSERT_TRUE(rs->wal->save_snapshot(wal::WalSnapshot{Index(20), Term(4)}).is_ok());
    raftpb::HardState hs;
    hs.set_term(4);
    hs.set_commit(21);
    ASSERT_TRUE(
        rs->wal->save(hs, std::vector<raftpb::Entry>{normal_entry(21, 4, "put")}, true).is_ok());
    ASSERT_TRUE(rs->wal->close().is_ok());
  }
  RaftStorage rs = reopen();
  ASSERT_TRUE(force_new_cluster(rs, MemberId(0xd), 1, logger_).is_ok());
  auto ents = all_entries(rs);
  ASSERT_EQ(ents.size(), 4u);
  EXPECT_EQ(ents[0].index(), 21u);
  auto add = conf_change_of(ents[1]);
  EXPECT_EQ(add.type(), raftpb::ConfChangeAddNode);
  EXPECT_EQ(add.node_id(), 0xdu);
  EXPECT_EQ(add.context(), R"({"id":13,"peerURLs":["http://localhost:2380"]})");
  EXPECT_EQ(conf_change_of(ents[2]).node_id(), 0xbu);
  EXPECT_EQ(conf_change_of(ents[3]).node_id(), 0xcu);
  EXPECT_EQ(rs.hard_state.commit(), 24u);
  EXPECT_EQ(rs.log->snapshot()->metadata().index(), 20u);
  EXPECT_EQ(log_.str().find("discarding uncommitted WAL entries"), std::string::npos);
  ASSERT_TRUE(rs.wal->close().is_ok());
}

class ForceNewClusterBootstrapTest : public ForceNewClusterStorageTest {
 protected:
  void SetUp() override {
    ForceNewClusterStorageTest::SetUp();
    cfg_.name = "infra1";
    cfg_.data_dir = (dir_ / "infra1.etcd").string();
    cfg_.heartbeat_interval_ms = 100;
    cfg_.election_timeout_ms = 1000;
    cfg_.initial_advertise_peer_urls = {"http://127.0.0.1:2380"};
    cfg_.initial_cluster = "infra1=http://127.0.0.1:2380";
    cfg_.initial_cluster_state = "new";
    cfg_.initial_cluster_token = "etcd-cluster";
  }
  Result<Bootstrapped> boot() { return bootstrap(cfg_, fs_, logger_, clock_); }
  static void close(Bootstrapped& b) {
    b.node.reset();
    if (b.raft.wal) (void)b.raft.wal->close();
    b.lessor.reset();
    b.kv.reset();
    b.backend->close();
  }

  config::ServerConfig cfg_;
  env::ManualClock clock_{1795282200123};
};

TEST_F(ForceNewClusterBootstrapTest, ANewMemberIgnoresTheFlag) {
  cfg_.force_new_cluster = true;
  auto b = boot();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_FALSE(b->restarted);
  EXPECT_EQ(b->node->raft().raft_log().last_index(), 1u);  // the bootstrap's own add
  EXPECT_EQ(log_.str().find("forcing restart member"), std::string::npos);
  close(*b);
}

TEST_F(ForceNewClusterBootstrapTest, ARestartedMemberOfThreeAppliesTheRemovals) {
  MemberId self;
  const MemberId other1(0x1111), other2(0x2222);
  {
    // A member of three that applied the three adds and a put.
    auto b = boot();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    self = b->membership->local_id();
    std::vector<raftpb::Entry> ents = {
        conf_entry(1, 1, raftpb::ConfChangeAddNode, self.value(),
                   member_context(self.value(), "http://127.0.0.1:2380")),
        conf_entry(2, 1, raftpb::ConfChangeAddNode, other1.value(),
                   member_context(other1.value(), "http://127.0.0.1:2381")),
        conf_entry(3, 1, raftpb::ConfChangeAddNode, other2.value(),
                   member_context(other2.value(), "http://127.0.0.1:2382")),
    };
    MembershipApplier applier(*b->membership, *b->backend, logger_);
    for (const auto& e : ents) {
      applier.apply_conf_change(conf_change_of(e), {Index(e.index()), Term(e.term())}, false);
    }
    EXPECT_EQ(b->membership->members().size(), 3u);
    raftpb::HardState hs;
    hs.set_term(2);
    hs.set_commit(3);
    ASSERT_TRUE(b->raft.wal->save(hs, ents, true).is_ok());
    b->backend->force_commit();
    close(*b);
  }
  cfg_.force_new_cluster = true;
  log_.str("");
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    EXPECT_TRUE(b->restarted);
    EXPECT_EQ(b->raft.hard_state.commit(), 5u);
    EXPECT_EQ(b->node->raft().raft_log().last_index(), 5u);
    EXPECT_EQ(b->node->raft().raft_log().committed(), 5u);
    EXPECT_NE(log_.str().find(R"("msg":"forcing restart member")"), std::string::npos);
    EXPECT_EQ(log_.str().find(R"("msg":"restarting local member")"), std::string::npos);
    // What the apply loop does with the committed removals: the members
    // bucket keeps this member alone.
    auto ents = b->raft.log->entries(Index(4), Index(6), UINT64_MAX);
    ASSERT_TRUE(ents.is_ok());
    ASSERT_EQ(ents->size(), 2u);
    MembershipApplier applier(*b->membership, *b->backend, logger_);
    raftpb::ConfState cs;
    for (const auto& e : *ents) {
      auto out =
          applier.apply_conf_change(conf_change_of(e), {Index(e.index()), Term(e.term())}, false);
      EXPECT_TRUE(out.status.is_ok()) << out.status.to_string();
      cs = out.conf_state;
    }
    ASSERT_EQ(cs.voters_size(), 1);
    EXPECT_EQ(cs.voters(0), self.value());
    b->backend->force_commit();
    close(*b);
  }
  // The flag off again: a plain restart with the one member, from the WAL
  // and the backend.
  cfg_.force_new_cluster = false;
  auto b = boot();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->raft.hard_state.commit(), 5u);
  ASSERT_EQ(b->membership->members().size(), 1u);
  EXPECT_EQ(b->membership->members()[0].id, self);
  EXPECT_TRUE(b->membership->is_removed(other1));
  EXPECT_TRUE(b->membership->is_removed(other2));
  EXPECT_EQ(b->voters_at_start, 1u);
  close(*b);
}

}  // namespace
}  // namespace etcd::server
