#include "server/corruption.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <sstream>

#include "server/errors.h"
#include "server/test_util.h"
#include "storage/backend/schema.h"

namespace etcd::server {
namespace {

class FakeHost : public CorruptionHost {
 public:
  MemberId member_id() override { return MemberId(0x8e9e05c52164694dULL); }
  bool is_leader() override { return true; }
  std::vector<PeerHashKV> peer_hashes(MainRev) override { return peers; }
  Status linearizable_barrier() override { return Status::ok(); }
  void raise_corrupt_alarm(MemberId member) override { alarms.push_back(member.value()); }
  std::vector<PeerHashKV> peers;
  std::vector<uint64_t> alarms;
};

class CorruptionTest : public ::testing::Test {
 protected:
  CorruptionTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)),
        logger_(log::Level::kInfo, {sink_}, [] { return int64_t{0}; }) {}

  void SetUp() override {
    dir_ = testing_util::fresh_test_dir("corruption");
    backend_ = testing_util::open_test_backend(dir_, clock_);
    ASSERT_NE(backend_, nullptr);
    store_ = std::make_unique<mvcc::KVStore>(*backend_);
    ASSERT_TRUE(store_->restore().is_ok());
    // revisions 2..4: a=1, b=2, a=3; 5: delete b.
    put("a", "1");
    put("b", "2");
    put("a", "3");
    {
      auto w = store_->write();
      const std::string b = "b";
      EXPECT_EQ(w->delete_range(mvcc::KeyRange{b, ""}), 1);
    }
    checker_ = std::make_unique<CorruptionChecker>(*store_, host_, logger_);
  }
  void TearDown() override {
    checker_.reset();
    store_.reset();
    backend_->close();
    std::filesystem::remove_all(dir_);
  }
  void put(const std::string& k, const std::string& v) {
    auto w = store_->write();
    w->put(k, v, 0);
  }
  // Writes straight into the key bucket, behind the store's back.
  void raw_put(Revision rev, const mvccpb::KeyValue& kv) {
    backend::BatchTx tx = backend_->batch_tx();
    ASSERT_TRUE(
        tx.put(backend::Bucket::kKey, backend::revision_key(rev), kv.SerializeAsString()).is_ok());
  }
  PeerHashKV peer(uint32_t hash, int64_t compact_rev) {
    PeerHashKV p;
    p.id = MemberId(0x91bc3c398fb3c146ULL);
    p.endpoints = {"http://127.0.0.1:2380"};
    etcdserverpb::HashKVResponse r;
    r.mutable_header()->set_member_id(p.id.value());
    r.mutable_header()->set_revision(store_->rev().value());
    r.set_hash(hash);
    r.set_compact_revision(compact_rev);
    p.resp = r;
    return p;
  }

  std::filesystem::path dir_;
  env::ManualClock clock_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  log::Logger logger_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<mvcc::KVStore> store_;
  FakeHost host_;
  std::unique_ptr<CorruptionChecker> checker_;
};

TEST_F(CorruptionTest, CleanStorePasses) {
  EXPECT_TRUE(checker_->verify_local().is_ok());
  Status st = checker_->initial_check(std::chrono::milliseconds(7000));
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_NE(log_.str().find("\"msg\":\"starting initial corruption check\","
                            "\"local-member-id\":\"8e9e05c52164694d\",\"timeout\":\"7s\""),
            std::string::npos)
      << log_.str();
  EXPECT_NE(log_.str().find("\"msg\":\"initial corruption checking passed; no corruption\","
                            "\"local-member-id\":\"8e9e05c52164694d\""),
            std::string::npos);
  EXPECT_TRUE(checker_->periodic_check().is_ok());
  EXPECT_TRUE(host_.alarms.empty());
  EXPECT_NE(log_.str().find("\"msg\":\"finished peer corruption check\","
                            "\"number-of-peers-checked\":0"),
            std::string::npos);
}

TEST_F(CorruptionTest, CleanAfterCompaction) {
  ASSERT_TRUE(store_->compact(MainRev(4)).is_ok());
  EXPECT_TRUE(checker_->verify_local().is_ok());
}

TEST_F(CorruptionTest, MissingLiveRevisionIsFound) {
  {
    backend::BatchTx tx = backend_->batch_tx();
    tx.del(backend::Bucket::kKey, backend::revision_key(Revision{4, 0}));  // a=3
  }
  Status st = checker_->verify_local();
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_EQ(st.message(), "key \"a\" at revision {4 0} is in the index but not in the backend");
  st = checker_->initial_check(std::chrono::milliseconds(1000));
  EXPECT_EQ(st.message(),
            "8e9e05c52164694d found data inconsistency in its own backend (key \"a\" at revision "
            "{4 0} is in the index but not in the backend)");
  EXPECT_TRUE(checker_->periodic_check().is_ok());
  EXPECT_EQ(host_.alarms, std::vector<uint64_t>{0x8e9e05c52164694dULL});
  EXPECT_NE(log_.str().find("found data inconsistency in the local backend"), std::string::npos);
}

TEST_F(CorruptionTest, WrongModRevisionIsFound) {
  mvccpb::KeyValue kv;
  kv.set_key("a");
  kv.set_value("3");
  kv.set_create_revision(2);
  kv.set_mod_revision(9);  // stored under revision 4
  kv.set_version(2);
  raw_put(Revision{4, 0}, kv);
  EXPECT_EQ(checker_->verify_local().message(),
            "revision {4 0} of key \"a\" records mod_revision 9");
}

TEST_F(CorruptionTest, KeyMismatchIsFound) {
  mvccpb::KeyValue kv;
  kv.set_key("z");
  kv.set_value("3");
  kv.set_create_revision(2);
  kv.set_mod_revision(4);
  kv.set_version(2);
  raw_put(Revision{4, 0}, kv);
  EXPECT_EQ(checker_->verify_local().message(),
            "revision {4 0} is indexed under key \"a\" but the backend holds key \"z\"");
}

TEST_F(CorruptionTest, UndecodableRecordIsFound) {
  {
    backend::BatchTx tx = backend_->batch_tx();
    ASSERT_TRUE(
        tx.put(backend::Bucket::kKey, backend::revision_key(Revision{3, 0}), "\xff\xff").is_ok());
  }
  EXPECT_EQ(checker_->verify_local().message(), "revision {3 0} does not decode");
}

TEST_F(CorruptionTest, PeerWithSameCompactionAndOtherHashFailsTheInitialCheck) {
  auto h = store_->hash_by_rev(MainRev(0));
  ASSERT_TRUE(h.is_ok());
  host_.peers = {peer(h->hash, h->compact_rev.value())};
  EXPECT_TRUE(checker_->initial_check(std::chrono::milliseconds(1000)).is_ok());
  host_.peers = {
      peer(h->hash + 1, h->compact_rev.value() + 4)};  // another compaction: only a warning
  EXPECT_TRUE(checker_->initial_check(std::chrono::milliseconds(1000)).is_ok());
  EXPECT_NE(log_.str().find("found different compact revision values from remote peer"),
            std::string::npos);
  host_.peers = {peer(h->hash + 1, h->compact_rev.value())};
  Status st = checker_->initial_check(std::chrono::milliseconds(1000));
  EXPECT_EQ(st.message(), "8e9e05c52164694d found data inconsistency with peers");
  EXPECT_NE(log_.str().find("found different hash values from remote peer"), std::string::npos);
}

TEST_F(CorruptionTest, PeriodicCheckRaisesTheAlarmForAPeerMismatch) {
  auto h = store_->hash_by_rev(MainRev(0));
  ASSERT_TRUE(h.is_ok());
  host_.peers = {peer(h->hash + 1, h->compact_rev.value()),
                 peer(h->hash + 2, h->compact_rev.value())};
  EXPECT_TRUE(checker_->periodic_check().is_ok());
  // One alarm, for member 0 (which copy is bad is not known), as etcd's.
  EXPECT_EQ(host_.alarms, std::vector<uint64_t>{0});
  EXPECT_NE(log_.str().find("same compact revision then hashes must match"), std::string::npos);
  EXPECT_NE(log_.str().find("\"number-of-peers-checked\":2"), std::string::npos);
}

TEST_F(CorruptionTest, PeriodicCheckRaisesTheAlarmForAFollowerAhead) {
  auto h = store_->hash_by_rev(MainRev(0));
  ASSERT_TRUE(h.is_ok());
  PeerHashKV p = peer(h->hash, h->compact_rev.value());
  p.resp->mutable_header()->set_revision(store_->rev().value() + 1);
  host_.peers = {p};
  EXPECT_TRUE(checker_->periodic_check().is_ok());
  EXPECT_EQ(host_.alarms, std::vector<uint64_t>{0});
  EXPECT_NE(log_.str().find("revision from follower must be less than or equal to leader's"),
            std::string::npos);
}

}  // namespace
}  // namespace etcd::server
