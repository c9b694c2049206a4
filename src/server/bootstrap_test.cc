// Bootstrap of a data dir: a new member, a restart, and the dirs it must
// refuse (half-made, not named in --initial-cluster, a damaged WAL).
#include "server/bootstrap.h"

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/encoding.h"
#include "env/posix_file_system.h"
#include "server/test_util.h"
#include "server/wal_metadata.h"
#include "storage/wal/wal.h"

namespace etcd::server {
namespace {

class BootstrapTest : public ::testing::Test {
 protected:
  BootstrapTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {}

  void SetUp() override {
    dir_ = testing_util::fresh_test_dir("bootstrap");
    cfg_.name = "infra1";
    cfg_.data_dir = (dir_ / "infra1.etcd").string();
    cfg_.heartbeat_interval_ms = 100;
    cfg_.election_timeout_ms = 1000;
    cfg_.initial_advertise_peer_urls = {"http://127.0.0.1:2380"};
    cfg_.initial_cluster = "infra1=http://127.0.0.1:2380";
    cfg_.initial_cluster_state = "new";
    cfg_.initial_cluster_token = "etcd-cluster";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<Bootstrapped> boot() { return bootstrap(cfg_, fs_, logger_, clock_); }
  static void close(Bootstrapped& b) {
    b.node.reset();
    if (b.raft.wal) (void)b.raft.wal->close();
    b.lessor.reset();
    b.kv.reset();
    b.backend->close();
  }

  // A new member's data dir, stopped; its WAL replaced by one (nothing but
  // the head records) whose metadata record is `metadata`. Returns the
  // member and cluster ids the data dir was made with.
  std::pair<MemberId, uint64_t> data_dir_with_wal_metadata(
      const std::function<std::string(MemberId, uint64_t)>& metadata) {
    auto b = boot();
    EXPECT_TRUE(b.is_ok()) << b.status().to_string();
    if (!b.is_ok()) return {};
    std::pair<MemberId, uint64_t> ids{b->membership->local_id(), b->membership->cluster_id()};
    close(*b);
    const auto wal_dir = dir_ / "infra1.etcd/member/wal";
    std::filesystem::remove_all(wal_dir);
    auto w = wal::Wal::create(fs_, wal_dir.string(), metadata(ids.first, ids.second));
    EXPECT_TRUE(w.is_ok()) << w.status().to_string();
    if (w.is_ok()) {
      EXPECT_TRUE((*w)->close().is_ok());
    }
    return ids;
  }

  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::filesystem::path dir_;
  config::ServerConfig cfg_;
  env::PosixFileSystem fs_;
  env::ManualClock clock_{1795282200123};
  log::Logger logger_;
};

TEST_F(BootstrapTest, ANewMemberThenARestart) {
  MemberId id;
  uint64_t cluster = 0;
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    EXPECT_FALSE(b->restarted);
    EXPECT_EQ(b->voters_at_start, 1u);
    ASSERT_NE(b->node, nullptr);
    id = b->membership->local_id();
    cluster = b->membership->cluster_id();
    EXPECT_NE(id.value(), 0u);
    EXPECT_TRUE(std::filesystem::exists(dir_ / "infra1.etcd/member/wal"));
    EXPECT_TRUE(std::filesystem::exists(dir_ / "infra1.etcd/member/snap/db"));
    // The bootstrap configuration is in the raft log, to be applied.
    EXPECT_EQ(b->node->raft().raft_log().last_index(), 1u);
    close(*b);
  }
  auto b = boot();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_TRUE(b->restarted);
  EXPECT_EQ(b->membership->local_id(), id);  // from the WAL's metadata
  EXPECT_EQ(b->membership->cluster_id(), cluster);
  // Nothing ran: the bootstrap entries never reached the WAL.
  EXPECT_EQ(b->raft.log->last_index()->value(), 0u);
  close(*b);
}

// The bootstrap entry is etcd 3.4's, byte for byte: a gogoproto ConfChange
// whose context is the member's JSON in Go's field order, name included.
TEST_F(BootstrapTest, TheBootstrapConfChangeIsEtcds) {
  auto b = boot();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  const MemberId id = b->membership->local_id();
  auto ents = b->node->raft().raft_log().all_entries();
  ASSERT_EQ(ents.size(), 1u);
  const std::string ctx = "{\"id\":" + std::to_string(id.value()) +
                          ",\"peerURLs\":[\"http://127.0.0.1:2380\"],\"name\":\"infra1\"}";
  std::string want = std::string("\x08\x00\x10\x00\x18", 5);
  append_varint(&want, id.value());
  want += '\x22';
  append_varint(&want, ctx.size());
  want += ctx;
  EXPECT_EQ(ents[0].type(), raftpb::EntryConfChange);
  EXPECT_EQ(ents[0].data(), want);
  close(*b);
}

TEST_F(BootstrapTest, ANameMissingFromTheInitialClusterIsRefused) {
  cfg_.name = "infra9";
  auto b = boot();
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().message(),
            "couldn't find local name \"infra9\" in the initial cluster configuration");
  cfg_.name = "infra1";
  cfg_.initial_advertise_peer_urls = {"http://127.0.0.1:9999"};
  b = boot();
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("missing from --initial-advertise-peer-urls"),
            std::string::npos);
}

TEST_F(BootstrapTest, AHalfMadeDataDirIsRefusedAndLeftAlone) {
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok());
    {
      backend::BatchTx tx = b->backend->batch_tx();
      tx.set_consistent_index({Index(5), Term(1)});
    }
    b->backend->force_commit();
    close(*b);
  }
  std::filesystem::remove_all(dir_ / "infra1.etcd/member/wal");
  auto b = boot();
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(b.status().message().find("is half-made"), std::string::npos) << b.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "infra1.etcd/member/wal"));
}

// A WAL and a raft snapshot past index 0 but no db: the v3 data up to the
// snapshot exists nowhere else, so the start is refused and no empty db made.
TEST_F(BootstrapTest, AMissingDbWithASnapshotIsRefused) {
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    close(*b);
  }
  const auto snap = dir_ / "infra1.etcd/member/snap";
  std::filesystem::remove(snap / "db");
  // Without a snapshot a missing db is a member that has applied nothing.
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    close(*b);
  }
  std::filesystem::remove(snap / "db");
  std::ofstream(snap / "0000000000000002-0000000000000066.snap") << "x";
  auto b = boot();
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kFailedPrecondition);
  const std::string& msg = b.status().message();
  EXPECT_NE(msg.find("failed to find database snapshot file"), std::string::npos) << msg;
  EXPECT_NE(msg.find((snap / "db").string() + " is missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at index 102"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(snap / "db"));
}

TEST_F(BootstrapTest, ADamagedWalIsDataLoss) {
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok());
    // Some records after the first segment's header.
    raftpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(1);
    std::vector<raftpb::Entry> ents(3);
    for (int i = 0; i < 3; ++i) {
      ents[i].set_index(2 + i);
      ents[i].set_term(1);
      ents[i].set_data(std::string(100, 'x'));
    }
    ASSERT_TRUE(b->raft.wal->save(hs, ents, true).is_ok());
    close(*b);
  }
  std::filesystem::path seg;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "infra1.etcd/member/wal")) {
    seg = e.path();
  }
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);  // inside the first entry's data, not the tail
    f.write("\xff\xff\xff\xff", 4);
  }
  auto b = boot();
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kDataLoss) << b.status().to_string();
}

TEST_F(BootstrapTest, TheWalMetadataIsEtcdsProtobuf) {
  {
    auto b = boot();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    EXPECT_EQ(b->raft.metadata,
              wal_metadata(b->membership->local_id(), b->membership->cluster_id()));
    close(*b);
  }
  auto b = boot();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(log_.str().find("JSON form"), std::string::npos) << log_.str();
  close(*b);
}

TEST_F(BootstrapTest, ADataDirOfAnEarlierBuildRestartsWithItsJsonMetadata) {
  auto [id, cluster] = data_dir_with_wal_metadata([](MemberId m, uint64_t c) {
    return nlohmann::json{{"member_id", m.value()}, {"cluster_id", c}}.dump();
  });
  auto b = boot();
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->membership->local_id(), id);
  EXPECT_EQ(b->membership->cluster_id(), cluster);
  EXPECT_NE(log_.str().find(R"("msg":"WAL metadata is in the JSON form of earlier builds)"),
            std::string::npos)
      << log_.str();
  close(*b);
}

TEST_F(BootstrapTest, UnreadableWalMetadataIsDataLoss) {
  data_dir_with_wal_metadata([](MemberId, uint64_t) { return std::string("garbage"); });
  auto b = boot();
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kDataLoss);
  EXPECT_EQ(b.status().message(), "WAL metadata is not readable");
}

}  // namespace
}  // namespace etcd::server
